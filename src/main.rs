//! The `ringbus` binary: the broker (`ringbus serve`) and its command-line
//! client. Exit status: 0 on success, 1 on a runtime error, 2 on a usage
//! error.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = ringbus::cli::Cli::parse();
    match ringbus::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
