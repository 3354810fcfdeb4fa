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
            settings,
        } => {
            let mut config: Vec<(String, String)> = Vec::new();
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
