//! `ringbus produce TOPIC`: one event per line of standard input.

use std::collections::BTreeMap;
use std::io::BufRead;

use super::CliError;
use crate::client::{Producer, ProducerConfig};

#[derive(clap::Args, Debug)]
pub struct ProduceArgs {
    pub topic: String,
    /// Use this field of each JSON line as the event key.
    #[arg(long)]
    pub key_field: Option<String>,
    /// Send every event to this partition instead of partitioning by key.
    #[arg(long)]
    pub partition: Option<u32>,
    /// Set the `schema_id` header of each event to this registry id.
    #[arg(long)]
    pub schema_id: Option<u32>,
}

/// Extracts `field` from a JSON line as key bytes; strings give their text,
/// other values their JSON text.
fn key_of(line: &str, field: &str, line_number: usize) -> Result<Vec<u8>, CliError> {
    let value: serde_json::Value = serde_json::from_str(line).map_err(|err| {
        CliError::Runtime(format!(
            "line {line_number} is not valid JSON, so --key-field cannot apply: {err}"
        ))
    })?;
    match value.get(field) {
        Some(serde_json::Value::String(text)) => Ok(text.as_bytes().to_vec()),
        Some(other) => Ok(other.to_string().into_bytes()),
        None => Err(CliError::Runtime(format!(
            "line {line_number} has no field '{field}' for --key-field"
        ))),
    }
}

pub fn run(broker: &str, args: ProduceArgs) -> Result<(), CliError> {
    let mut producer = Producer::connect(broker, ProducerConfig::default())?;
    let partitions = producer.partitions(&args.topic)?;
    if let Some(partition) = args.partition {
        if partition >= partitions {
            return Err(CliError::Usage(format!(
                "--partition {partition} does not exist in topic '{}', which has partitions 0..{partitions}",
                args.topic
            )));
        }
    }
    let schema_header = args.schema_id.map(|id| id.to_string());
    let mut count = 0u64;
    for (index, line) in std::io::stdin().lock().lines().enumerate() {
        let line =
            line.map_err(|err| CliError::Runtime(format!("cannot read standard input: {err}")))?;
        if line.is_empty() {
            continue;
        }
        let key = match &args.key_field {
            Some(field) => Some(key_of(&line, field, index + 1)?),
            None => None,
        };
        let headers: Vec<(&str, &[u8])> = schema_header
            .iter()
            .map(|id| ("schema_id", id.as_bytes()))
            .collect();
        match args.partition {
            Some(partition) => producer.send_to(
                &args.topic,
                partition,
                key.as_deref(),
                line.as_bytes(),
                &headers,
            )?,
            None => {
                producer.send(&args.topic, key.as_deref(), line.as_bytes(), &headers)?;
            }
        }
        count += 1;
    }
    // Each partition's batches are separate requests, so one partition's
    // rejection leaves the others' acknowledged events stored.
    let acked = producer.flush().map_err(|err| {
        let stored: Vec<String> = producer
            .acked_so_far()
            .iter()
            .map(|((_, partition), reply)| {
                format!("partition {partition} up to offset {}", reply.last_offset)
            })
            .collect();
        let err = CliError::from(err);
        if stored.is_empty() {
            return err;
        }
        CliError::Runtime(format!(
            "{err}; events already acknowledged stay stored: {}",
            stored.join(", ")
        ))
    })?;
    let last: BTreeMap<u32, u64> = acked
        .into_iter()
        .map(|((_, p), reply)| (p, reply.last_offset))
        .collect();
    let noun = if count == 1 { "event" } else { "events" };
    println!("produced {count} {noun} to {}", args.topic);
    for (partition, offset) in last {
        println!("partition {partition}: last offset {offset}");
    }
    Ok(())
}
