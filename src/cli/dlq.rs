//! `ringbus dlq ...` (operator commands over dead-letter entries) and
//! `ringbus fail ...` (report a failed event from a script).

use clap::{Subcommand, ValueEnum};

use super::CliError;
use crate::client::Client;
use crate::protocol::dlq::{DlqCommand, FailRequest};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RedriveTarget {
    /// The topic the events first came from.
    Source,
    /// The topic's retry topic.
    Retry,
}

#[derive(Subcommand, Debug)]
pub enum DlqCommandArgs {
    /// List dead-letter entries of a topic, one per line.
    List {
        topic: String,
        /// pending, retried, poison, redriven or purged; every state but purged when omitted.
        #[arg(long)]
        state: Option<String>,
        /// Maximum entries to print; 0 prints all.
        #[arg(long, default_value_t = 0)]
        limit: u32,
        /// text, or json for one JSON object per line and nothing else on stdout.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },
    /// Show every record of the dead-letter entry of one source event.
    Show {
        topic: String,
        /// Offset of the event in TOPIC.
        offset: u64,
        #[arg(long, default_value_t = 0)]
        partition: u32,
    },
    /// Re-publish entries with a new redrive generation and the attempt count reset.
    Redrive {
        topic: String,
        /// State of the entries to redrive.
        #[arg(long, default_value = "poison")]
        state: String,
        #[arg(long, value_enum, default_value_t = RedriveTarget::Source)]
        to: RedriveTarget,
        /// Records per second per partition; 0 puts no limit.
        #[arg(long, default_value_t = 0)]
        rate_per_s: u32,
        /// Count the entries that would be redriven and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Mark entries purged, so they no longer count or list.
    Purge {
        topic: String,
        /// Only entries in this state; every state when omitted.
        #[arg(long)]
        state: Option<String>,
        /// Only entries whose last failure is before this time, in ms since the epoch.
        #[arg(long)]
        before_ms: Option<i64>,
    },
}

#[derive(clap::Args, Debug)]
pub struct FailArgs {
    /// Topic the event was read from: a topic with a retry policy or its .retry topic.
    pub topic: String,
    #[arg(long)]
    pub partition: u32,
    #[arg(long)]
    pub offset: u64,
    #[arg(long)]
    pub reason: String,
    /// Reason class, such as timeout or schema; `error` when omitted.
    #[arg(long)]
    pub class: Option<String>,
}

pub fn run_fail(broker: &str, args: FailArgs) -> Result<(), CliError> {
    let mut client = Client::connect(broker)?;
    let reply = client.fail(&FailRequest {
        topic: args.topic.clone(),
        partition: args.partition,
        offset: args.offset,
        reason: args.reason,
        class: args.class.unwrap_or_default(),
    })?;
    let what = if reply.changed {
        "recorded"
    } else {
        "already recorded"
    };
    println!(
        "{what}: {}/{} offset {} attempt {} state {} next_due_ms {} (dlq offset {})",
        args.topic,
        args.partition,
        args.offset,
        reply.attempt,
        reply.state,
        reply.next_due_ms,
        reply.dlq_offset
    );
    Ok(())
}

pub fn run(broker: &str, command: DlqCommandArgs) -> Result<(), CliError> {
    let mut client = Client::connect(broker)?;
    match command {
        DlqCommandArgs::List {
            topic,
            state,
            limit,
            output,
        } => {
            let reply = client.dlq(&DlqCommand::List {
                topic,
                state: state.unwrap_or_default(),
                limit,
            })?;
            let mut out = std::io::stdout().lock();
            for entry in &reply.entries {
                let line = match output {
                    OutputFormat::Json => entry.to_string(),
                    OutputFormat::Text => text_line(entry),
                };
                // A closed pipe (`| head`) ends the listing quietly.
                if std::io::Write::write_all(&mut out, format!("{line}\n").as_bytes()).is_err() {
                    return Ok(());
                }
            }
            if output == OutputFormat::Text && (reply.entries.len() as u64) < reply.matched {
                eprintln!("{} of {} entries shown", reply.entries.len(), reply.matched);
            }
        }
        DlqCommandArgs::Show {
            topic,
            offset,
            partition,
        } => {
            let reply = client.dlq(&DlqCommand::Show {
                topic,
                partition,
                offset,
            })?;
            for entry in &reply.entries {
                let value: serde_json::Value = serde_json::from_str(entry).unwrap_or_default();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&value).unwrap_or_else(|_| entry.clone())
                );
            }
        }
        DlqCommandArgs::Redrive {
            topic,
            state,
            to,
            rate_per_s,
            dry_run,
        } => {
            let to = match to {
                RedriveTarget::Source => "source",
                RedriveTarget::Retry => "retry",
            };
            let reply = client.dlq(&DlqCommand::Redrive {
                topic: topic.clone(),
                state,
                to: to.to_owned(),
                rate_per_s,
                dry_run,
            })?;
            if dry_run {
                println!("would redrive {} entries of {topic} to {to}", reply.matched);
            } else {
                println!(
                    "redrove {} of {} entries of {topic} to {to}",
                    reply.changed, reply.matched
                );
            }
        }
        DlqCommandArgs::Purge {
            topic,
            state,
            before_ms,
        } => {
            let reply = client.dlq(&DlqCommand::Purge {
                topic: topic.clone(),
                state: state.unwrap_or_default(),
                before_ms: before_ms.unwrap_or(0),
            })?;
            println!("purged {} entries of {topic}", reply.changed);
        }
    }
    Ok(())
}

/// Formats one entry as a text line: position, state, attempt, class and reason.
fn text_line(entry_json: &str) -> String {
    let Ok(entry) = serde_json::from_str::<serde_json::Value>(entry_json) else {
        return entry_json.to_owned();
    };
    // Reasons may hold tabs or newlines; escaping them keeps one entry on
    // one line.
    let field = |name: &str| match &entry[name] {
        serde_json::Value::String(text) => text.escape_debug().to_string(),
        other => other.to_string(),
    };
    format!(
        "{}/{}@{} gen {}\t{}\tattempt {}\t{}\t{}",
        field("source_topic"),
        field("source_partition"),
        field("source_offset"),
        field("redrive_generation"),
        field("state"),
        field("attempt"),
        field("class"),
        field("reason")
    )
}
