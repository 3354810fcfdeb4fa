//! The `ringbus` binary: the broker (`ringbus serve`) and its command-line
//! client. Exit status: 0 on success, 1 on a runtime error, 2 on a usage
//! error. Every error is one line on standard error.

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::Parser;

fn main() -> ExitCode {
    let cli = match ringbus::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err)
            if matches!(
                err.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) =>
        {
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            // clap adds usage and tip lines; the first line names the problem.
            let rendered = err.render().to_string();
            let first = rendered.lines().next().unwrap_or("invalid arguments");
            let first = first.trim_start_matches("error: ");
            eprintln!("error: {first} (see --help)");
            return ExitCode::from(2);
        }
    };
    match ringbus::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let message = err.to_string().replace('\n', " ");
            eprintln!("error: {message}");
            ExitCode::from(err.exit_code())
        }
    }
}
