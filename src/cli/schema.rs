//! `ringbus schema ...`: the schema registry over the native protocol.

use std::path::PathBuf;

use clap::Subcommand;

use super::CliError;
use crate::client::Client;

#[derive(Subcommand, Debug)]
pub enum SchemaCommand {
    /// Register the schema in a file under a subject; prints its id and version.
    Register {
        subject: String,
        #[arg(long)]
        file: PathBuf,
        /// avro, protobuf or json.
        #[arg(long = "type", default_value = "avro")]
        schema_type: String,
    },
    /// Print one version of a subject (the latest by default).
    Get {
        subject: String,
        /// A version number or `latest`.
        #[arg(long)]
        version: Option<String>,
    },
    /// List the subjects that have live versions.
    List,
    /// Test the schema in a file against a subject at its compatibility level.
    Check {
        subject: String,
        #[arg(long)]
        file: PathBuf,
        /// avro, protobuf or json.
        #[arg(long = "type", default_value = "avro")]
        schema_type: String,
    },
    /// Print the compatibility level of a subject (or the global one), or set it.
    Config {
        subject: Option<String>,
        /// NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL or FULL_TRANSITIVE.
        #[arg(long)]
        level: Option<String>,
    },
}

pub fn run(broker: &str, command: SchemaCommand) -> Result<(), CliError> {
    let mut client = Client::connect(broker)?;
    match command {
        SchemaCommand::Register {
            subject,
            file,
            schema_type,
        } => {
            let text = read(&file)?;
            let registered =
                client.register_schema(&subject, &schema_type.to_uppercase(), &text)?;
            println!(
                "registered {subject} version {} (id {})",
                registered.version, registered.id
            );
        }
        SchemaCommand::Get { subject, version } => {
            let found = client.get_schema(&subject, version.as_deref())?;
            println!(
                "subject {} version {} id {} type {}",
                found.subject, found.version, found.id, found.schema_type
            );
            println!("{}", found.schema);
        }
        SchemaCommand::List => {
            for subject in client.list_subjects()? {
                println!("{subject}");
            }
        }
        SchemaCommand::Check {
            subject,
            file,
            schema_type,
        } => {
            let text = read(&file)?;
            let result = client.check_schema(&subject, &schema_type.to_uppercase(), &text, None)?;
            if !result.compatible {
                let details = result.messages.join("\n  ");
                return Err(CliError::Runtime(format!(
                    "the schema in {} is incompatible with subject {subject}:\n  {details}",
                    file.display()
                )));
            }
            println!("compatible with {subject}");
        }
        SchemaCommand::Config { subject, level } => {
            let level = client.schema_level(subject.as_deref(), level.as_deref())?;
            println!("{}: {level}", subject.as_deref().unwrap_or("global"));
        }
    }
    Ok(())
}

fn read(file: &PathBuf) -> Result<String, CliError> {
    std::fs::read_to_string(file).map_err(|err| {
        CliError::Usage(format!("cannot read schema file {}: {err}", file.display()))
    })
}
