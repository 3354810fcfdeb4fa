fn main() {
    println!("loadgen: see issue");
}
