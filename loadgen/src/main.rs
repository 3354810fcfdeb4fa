//! `loadgen`: load generator for ringbus. See `loadgen --help`.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use loadgen::args::Args;
use loadgen::progress::Progress;
use loadgen::report::{write_hgrm, write_svg_plot};
use loadgen::run::run;
use loadgen::shared::Counters;

fn main() -> ExitCode {
    let args = Args::parse();
    let counters = Arc::new(Counters::default());
    let progress = std::io::stdout()
        .is_terminal()
        .then(|| Progress::start(counters.clone()));
    let outcome = run(&args, counters);
    drop(progress);
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(err) => {
            eprintln!("loadgen: error: {err}");
            return ExitCode::from(2);
        }
    };
    let mut stdout = std::io::stdout().lock();
    if let Err(err) = outcome.summary.print_text(&mut stdout) {
        eprintln!("loadgen: cannot write the summary: {err}");
        return ExitCode::FAILURE;
    }
    if let Err(err) = write_outputs(&args, &outcome) {
        eprintln!("loadgen: error: {err}");
        return ExitCode::FAILURE;
    }
    for failure in &outcome.failures {
        eprintln!("loadgen: error: {failure}");
    }
    if outcome.summary.errors > 0 {
        eprintln!(
            "loadgen: error: {} events failed; the messages above say why",
            outcome.summary.errors
        );
    }
    if outcome.failures.is_empty() && outcome.summary.errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn write_outputs(args: &Args, outcome: &loadgen::run::Outcome) -> std::io::Result<()> {
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&outcome.summary.to_json())
            .expect("JSON value serializes");
        std::fs::write(path, text + "\n")
            .map_err(|err| std::io::Error::new(err.kind(), format!("{}: {err}", path.display())))?;
    }
    if let Some(path) = &args.hgrm {
        write_hgrm(&outcome.latency_us, path)?;
    }
    if let Some(path) = &args.plot {
        write_svg_plot(&outcome.latency_us, path)?;
    }
    Ok(())
}
