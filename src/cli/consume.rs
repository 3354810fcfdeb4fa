//! `ringbus consume TOPIC`: print events, one per line.

use std::io::Write;
use std::time::{Duration, Instant};

use super::CliError;
use crate::client::{Consumer, ConsumerConfig, Record, StartFrom};

#[derive(clap::Args, Debug)]
pub struct ConsumeArgs {
    pub topic: String,
    /// Read only this partition (all partitions when omitted).
    #[arg(long)]
    pub partition: Option<u32>,
    /// earliest, latest or an offset; with --group the default is the
    /// group's committed offset, otherwise earliest.
    #[arg(long)]
    pub from: Option<String>,
    /// Consumer group whose committed offsets are read and updated.
    #[arg(long)]
    pub group: Option<String>,
    /// Stop after this many events.
    #[arg(long)]
    pub max_events: Option<u64>,
    /// Stop when no event arrives for this many milliseconds.
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    /// value prints the value; json prints partition, offset, timestamp_ms,
    /// key, value and headers as one object.
    #[arg(long, value_parser = ["value", "json"], default_value = "value")]
    pub output: String,
}

fn parse_from(text: &str) -> Result<StartFrom, CliError> {
    match text {
        "earliest" => Ok(StartFrom::Earliest),
        "latest" => Ok(StartFrom::Latest),
        offset => offset.parse().map(StartFrom::Offset).map_err(|_| {
            CliError::Usage(format!(
                "--from '{offset}' is not earliest, latest or an offset"
            ))
        }),
    }
}

fn text(bytes: &Option<bytes::Bytes>) -> serde_json::Value {
    match bytes {
        Some(bytes) => serde_json::Value::String(String::from_utf8_lossy(bytes).into_owned()),
        None => serde_json::Value::Null,
    }
}

fn print(out: &mut impl Write, record: &Record, json: bool) -> std::io::Result<()> {
    if !json {
        out.write_all(record.value.as_deref().unwrap_or_default())?;
        return out.write_all(b"\n");
    }
    let headers: serde_json::Map<String, serde_json::Value> = record
        .headers
        .iter()
        .map(|(name, value)| (name.clone(), text(value)))
        .collect();
    let object = serde_json::json!({
        "partition": record.partition,
        "offset": record.offset,
        "timestamp_ms": record.timestamp_ms,
        "key": text(&record.key),
        "value": text(&record.value),
        "headers": headers,
    });
    writeln!(out, "{object}")
}

pub fn run(broker: &str, args: ConsumeArgs) -> Result<(), CliError> {
    let start = match (&args.from, &args.group) {
        (Some(from), _) => parse_from(from)?,
        (None, Some(_)) => StartFrom::Committed,
        (None, None) => StartFrom::Earliest,
    };
    let config = ConsumerConfig {
        group: args.group.clone(),
        start,
        ..ConsumerConfig::default()
    };
    let partitions = args.partition.map(|p| vec![p]);
    let mut consumer = Consumer::connect(broker, &args.topic, partitions, config)?;
    let json = args.output == "json";
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut printed = 0u64;
    let mut next_offsets = std::collections::BTreeMap::new();
    let idle_limit = args.timeout_ms.map(Duration::from_millis);
    let mut last_event = Instant::now();
    'outer: loop {
        let records = consumer.poll(Duration::from_millis(100))?;
        if records.is_empty() {
            if idle_limit.is_some_and(|limit| last_event.elapsed() >= limit) {
                break;
            }
            continue;
        }
        last_event = Instant::now();
        for record in &records {
            if args.max_events.is_some_and(|max| printed >= max) {
                break 'outer;
            }
            print(&mut out, record, json)
                .map_err(|err| CliError::Runtime(format!("cannot write output: {err}")))?;
            printed += 1;
            next_offsets.insert(record.partition, record.offset + 1);
        }
        if args.max_events.is_some_and(|max| printed >= max) {
            break;
        }
    }
    out.flush()
        .map_err(|err| CliError::Runtime(format!("cannot write output: {err}")))?;
    if args.group.is_some() {
        consumer.commit_offsets(next_offsets)?;
    }
    Ok(())
}
