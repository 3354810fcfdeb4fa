//! `ringbus topic ...`: topic administration.

use clap::Subcommand;

use super::CliError;
use crate::client::Client;

#[derive(Subcommand, Debug)]
pub enum TopicCommand {
    /// Create a topic.
    Create {
        name: String,
        /// Partition count; topic_defaults.partitions when omitted.
        #[arg(long)]
        partitions: Option<u32>,
        /// always, interval or none.
        #[arg(long)]
        durability: Option<String>,
        /// Delete closed segments older than this many milliseconds (0 keeps them).
        #[arg(long)]
        retention_ms: Option<u64>,
        /// Delete the oldest closed segments while a partition is larger than this (0 = no bound).
        #[arg(long)]
        retention_bytes: Option<u64>,
        /// Close a segment at this size.
        #[arg(long)]
        segment_bytes: Option<u64>,
        /// Schema check on produce: none, schema_id or payload.
        #[arg(long)]
        validation: Option<String>,
        /// Registry subject that produced schema ids must belong to (default TOPIC-value).
        #[arg(long)]
        subject: Option<String>,
        #[command(flatten)]
        retry: Box<RetryFlags>,
        /// Any other topic setting as KEY=VALUE; repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        settings: Vec<String>,
    },
    /// List topics with their partition counts.
    List,
    /// Show a topic's partitions, owners, offsets and settings.
    Describe { name: String },
    /// Delete a topic and its data.
    Delete { name: String },
}

/// Retry policy settings; a topic with `--max-attempts` of 1 or more gets
/// `NAME.retry` and `NAME.dlq` topics.
#[derive(clap::Args, Debug)]
pub struct RetryFlags {
    /// Deliveries an event gets, the first included; enables fail and retries.
    #[arg(long)]
    max_attempts: Option<u32>,
    /// Delay after the first failure, in ms.
    #[arg(long)]
    initial_backoff_ms: Option<u64>,
    /// Factor applied to the delay after each further failure (at least 1.0).
    #[arg(long)]
    backoff_multiplier: Option<f64>,
    /// Ceiling on the delay before jitter, in ms.
    #[arg(long)]
    max_backoff_ms: Option<u64>,
    /// Fraction (0.0 to 1.0) by which jitter may move a delay either way.
    #[arg(long)]
    jitter: Option<f64>,
    /// Comma-separated reason classes that make an event poison at once.
    #[arg(long)]
    non_retryable_classes: Option<String>,
}

impl RetryFlags {
    fn pairs(&self) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        let mut push = |key: &str, value: Option<String>| {
            if let Some(value) = value {
                pairs.push((key.to_owned(), value));
            }
        };
        push("max_attempts", self.max_attempts.map(|v| v.to_string()));
        push(
            "initial_backoff_ms",
            self.initial_backoff_ms.map(|v| v.to_string()),
        );
        push(
            "backoff_multiplier",
            self.backoff_multiplier.map(|v| format!("{v:?}")),
        );
        push("max_backoff_ms", self.max_backoff_ms.map(|v| v.to_string()));
        push("jitter", self.jitter.map(|v| format!("{v:?}")));
        push("non_retryable_classes", self.non_retryable_classes.clone());
        pairs
    }
}

pub fn run(broker: &str, command: TopicCommand) -> Result<(), CliError> {
    let mut client = Client::connect(broker)?;
    match command {
        TopicCommand::Create {
            name,
            partitions,
            durability,
            retention_ms,
            retention_bytes,
            segment_bytes,
            validation,
            subject,
            retry,
            settings,
        } => {
            let mut config: Vec<(String, String)> = retry.pairs();
            if let Some(value) = durability {
                config.push(("durability".into(), value));
            }
            if let Some(value) = validation {
                config.push(("validation".into(), value));
            }
            if let Some(value) = subject {
                config.push(("subject".into(), value));
            }
            for (key, value) in [
                ("retention_ms", retention_ms),
                ("retention_bytes", retention_bytes),
                ("segment_bytes", segment_bytes),
            ] {
                if let Some(value) = value {
                    config.push((key.into(), value.to_string()));
                }
            }
            for setting in settings {
                let (key, value) = setting.split_once('=').ok_or_else(|| {
                    CliError::Usage(format!("--set '{setting}' is not KEY=VALUE"))
                })?;
                config.push((key.trim().into(), value.trim().into()));
            }
            let pairs: Vec<(&str, &str)> = config
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let id = client.create_topic(&name, partitions.unwrap_or(0), &pairs)?;
            let metadata = client.metadata(&[&name])?;
            let count = metadata
                .topics
                .first()
                .map_or(0, |t| t.partition_shards.len());
            println!("created topic {name} (id {id}, {count} partitions)");
        }
        TopicCommand::List => {
            let metadata = client.metadata(&[])?;
            for topic in metadata.topics {
                println!(
                    "{}\t{} partitions",
                    topic.name,
                    topic.partition_shards.len()
                );
            }
        }
        TopicCommand::Describe { name } => describe(&mut client, &name)?,
        TopicCommand::Delete { name } => {
            client.delete_topic(&name)?;
            println!("deleted topic {name}");
        }
    }
    Ok(())
}

fn describe(client: &mut Client, name: &str) -> Result<(), CliError> {
    let metadata = client.metadata(&[name])?;
    let topic = &metadata.topics[0];
    println!("topic {} (id {})", topic.name, topic.topic_id);
    for (key, value) in &topic.config {
        println!("  {key} = {value}");
    }
    for (partition, shard) in topic.partition_shards.iter().enumerate() {
        let partition = partition as u32;
        let earliest = client.list_offsets(name, partition, -2)?;
        let latest = client.list_offsets(name, partition, -1)?;
        let port = metadata
            .shard_ports
            .get(*shard as usize)
            .copied()
            .unwrap_or(0);
        println!(
            "  partition {partition}: shard {shard} (port {port}), offsets {earliest}..{latest}"
        );
    }
    Ok(())
}
