#!/usr/bin/env bash
# Reproduces the figures in BENCHMARKS.md: the machine, its loopback TCP and
# disk references (iperf3, fio), then loadgen cases against a release broker
# on 127.0.0.1. Each case runs 3 times and the run with the median events/s
# is reported. Raw JSON and the result tables go to $OUT (target/bench).
#
# Usage: benches/run.sh            (needs apt-get for iperf3, fio and jq)
# Environment: RUN_S measured seconds per run (3), WARMUP_S (1),
#              SHARDS broker shards (0 = one per core), OUT output folder.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-target/bench}
RUN_S=${RUN_S:-3}
WARMUP_S=${WARMUP_S:-1}
SHARDS=${SHARDS:-0}
RUNS=3
mkdir -p "$OUT"
rm -f "$OUT"/*.json "$OUT"/*.note "$OUT"/*.txt
WORK=$(mktemp -d /tmp/ringbus-bench.XXXXXX)
BROKER_PID=""
IPERF_PID=""

cleanup() {
    if [ -n "$BROKER_PID" ]; then kill "$BROKER_PID" 2>/dev/null || true; wait "$BROKER_PID" 2>/dev/null || true; fi
    if [ -n "$IPERF_PID" ]; then kill "$IPERF_PID" 2>/dev/null || true; wait "$IPERF_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }

install_tools() {
    local missing=()
    for tool in iperf3 fio jq; do command -v "$tool" >/dev/null || missing+=("$tool"); done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing ${missing[*]} with apt-get"
        DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >/dev/null
    fi
}

build() {
    log "building release binaries"
    if command -v flock >/dev/null; then
        flock /tmp/ringbus-cargo.lock cargo build --release -p ringbus -p loadgen --bins
    else
        cargo build --release -p ringbus -p loadgen --bins
    fi
}

machine() {
    {
        echo "cores: $(nproc)"
        echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
        echo "kernel: $(uname -r)"
        echo "memory: $(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
        echo "filesystem: $(df -T "$WORK" | awk 'NR==2 {print $2 " on " $1}')"
        echo "rustc: $(rustc --version)"
        echo "load average at start (1, 5, 15 min): $(cut -d' ' -f1-3 /proc/loadavg)"
    } > "$OUT/machine.txt"
    cat "$OUT/machine.txt" >&2
}

# Median of three numbers on stdin, one a line.
median() { sort -g | sed -n 2p; }

references() {
    log "loopback TCP bandwidth (iperf3, 5 s x $RUNS)"
    iperf3 -s -B 127.0.0.1 -p 5299 >/dev/null 2>&1 &
    IPERF_PID=$!
    sleep 0.5
    for i in $(seq $RUNS); do
        iperf3 -c 127.0.0.1 -p 5299 -t 5 -J | jq '.end.sum_received.bits_per_second / 8'
    done | median > "$OUT/ref-loopback-bytes-per-s.txt"
    kill "$IPERF_PID"; wait "$IPERF_PID" 2>/dev/null || true; IPERF_PID=""

    log "disk sequential write (fio, 1 GiB, O_DIRECT and fdatasync, x $RUNS)"
    for i in $(seq $RUNS); do
        fio --name=direct --filename="$WORK/fio.dat" --rw=write --bs=1M --size=1G --direct=1 \
            --ioengine=psync --output-format=json | jq '.jobs[0].write.bw_bytes'
        rm -f "$WORK/fio.dat"
    done | median > "$OUT/ref-disk-direct-bytes-per-s.txt"
    for i in $(seq $RUNS); do
        fio --name=fdatasync --filename="$WORK/fio.dat" --rw=write --bs=1M --size=1G --direct=0 \
            --fdatasync=1 --ioengine=psync --output-format=json | jq '.jobs[0].write.bw_bytes'
        rm -f "$WORK/fio.dat"
    done | median > "$OUT/ref-disk-fdatasync-bytes-per-s.txt"
}

start_broker() {
    log "starting the broker"
    cat > "$WORK/ringbus.toml" <<TOML
[broker]
data_dir = "$WORK/data"
listen = "127.0.0.1:0"
shard_port_base = 0
shards = $SHARDS
[http]
listen = "127.0.0.1:0"
[log]
level = "warn"
TOML
    target/release/ringbus serve --config "$WORK/ringbus.toml" 2> "$OUT/broker.log" &
    BROKER_PID=$!
    for _ in $(seq 200); do
        [ -f "$WORK/data/ringbus.addr" ] && break
        sleep 0.05
    done
    MAIN=$(jq -r .main "$WORK/data/ringbus.addr")
    HTTP=$(jq -r .http "$WORK/data/ringbus.addr")
    for _ in $(seq 200); do
        curl -sf "http://$HTTP/ready" >/dev/null 2>&1 && return
        sleep 0.05
    done
    echo "broker not ready; see $OUT/broker.log" >&2
    exit 1
}

loadgen() { target/release/loadgen --broker "$MAIN" --http "$HTTP" "$@"; }
delete_topic() { target/release/ringbus --broker "$MAIN" topic delete "$1" >/dev/null; }

# run_case NAME MODE ARGS...: three runs, each on a fresh topic, then the
# median run by $MEDIAN_BY (events/s unless set) is copied to NAME.json.
run_case() {
    local name=$1 mode=$2
    shift 2
    log "case $name"
    for i in $(seq $RUNS); do
        # loadgen exits 1 when any event failed; the run's JSON still counts
        # them under "errors", so the benchmark goes on and the table shows it.
        loadgen "$mode" --topic "$name-$i" --json "$OUT/$name-$i.json" "$@" > "$OUT/$name-$i.txt" ||
            log "case $name run $i: loadgen exited with status $?"
        delete_topic "$name-$i"
    done
    pick_median "$name"
}

pick_median() {
    local name=$1 key=${MEDIAN_BY:-.msgs_per_s}
    jq -s "sort_by($key) | .[1]" "$OUT/$name"-[0-9].json > "$OUT/$name.json"
}

produce_cases() {
    local timed=(--duration-s "$RUN_S" --warmup-s "$WARMUP_S")
    for size in 100 1024; do
        for partitions in 1 8; do
            run_case "produce-${size}B-p${partitions}-none" produce --partitions "$partitions" \
                --durability none --message-bytes "$size" "${timed[@]}"
            run_case "produce-${size}B-p${partitions}-always" produce --partitions "$partitions" \
                --durability always --producers 8 --message-bytes "$size" "${timed[@]}"
        done
    done
}

# Fills one topic, then reads it from the earliest offset three times.
consume_case() {
    local size=$1 messages=$2 name="consume-${1}B"
    log "case $name (filling $messages events)"
    loadgen produce --topic "$name" --partitions 8 --durability none --message-bytes "$size" \
        --messages "$messages" > /dev/null
    for i in $(seq $RUNS); do
        loadgen consume --topic "$name" --messages "$messages" --json "$OUT/$name-$i.json" > "$OUT/$name-$i.txt" ||
            log "case $name run $i: loadgen exited with status $?"
    done
    delete_topic "$name"
    pick_median "$name"
}

# The e2e maximum is that of the e2e load itself (producer and consumer on
# the same two cores), as OpenMessaging Benchmark finds a workload's maximum
# rate before its latency runs. The fixed-rate runs use a 0.5 ms linger:
# the 1 ms default alone would put p99 at about 1 ms.
e2e_case() {
    local max rate timed=(--duration-s "$RUN_S" --warmup-s "$WARMUP_S")
    run_case "e2e-100B-p1-max" e2e --partitions 1 --durability none --message-bytes 100 "${timed[@]}"
    max=$(jq .msgs_per_s "$OUT/e2e-100B-p1-max.json")
    rate=$(jq -n "$max / 2 | floor")
    echo "$rate" > "$OUT/e2e-rate.txt"
    MEDIAN_BY=.latency_us.p99 run_case "e2e-100B-p1-half" e2e --partitions 1 --durability none \
        --message-bytes 100 --rate "$rate" --linger-ms 0.5 "${timed[@]}"
}

validated_cases() {
    local schema=loadgen/schemas/orders_schema.avsc timed=(--duration-s "$RUN_S" --warmup-s "$WARMUP_S")
    run_case "orders-plain" produce --partitions 1 --durability none --schema "$schema" \
        --validation none "${timed[@]}"
    run_case "orders-validated" produce --partitions 1 --durability none --schema "$schema" \
        --validation payload "${timed[@]}" 2> "$OUT/orders-validated.err"
    if grep -q "returned 404" "$OUT/orders-validated.err"; then
        echo "no registry API" > "$OUT/orders-validated.note"
    fi
}

install_tools
build
machine
references
start_broker
produce_cases
consume_case 100 5000000
consume_case 1024 1000000
e2e_case
validated_cases
echo "load average at end (1, 5, 15 min): $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"
python3 benches/tables.py "$OUT" > "$OUT/results.md"
cat "$OUT/results.md"
