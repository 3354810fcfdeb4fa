//! The command line: `serve` runs the broker; the other commands are a
//! client of it.

mod consume;
mod dlq;
mod produce;
mod schema;
mod stats;
mod topic;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::client::ClientError;
use crate::config::Config;

/// A command failure; usage errors exit with 2, everything else with 1.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Runtime(String),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Runtime(_) => 1,
        }
    }
}

impl From<ClientError> for CliError {
    fn from(err: ClientError) -> Self {
        match err {
            ClientError::Usage(message) => CliError::Usage(message),
            other => CliError::Runtime(other.to_string()),
        }
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "ringbus",
    version,
    about = "Single-node thread-per-core event broker"
)]
pub struct Cli {
    /// Broker address for client commands.
    #[arg(
        long,
        global = true,
        env = "RINGBUS_BROKER",
        default_value = "127.0.0.1:9292"
    )]
    pub broker: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the broker.
    Serve(ServeArgs),
    /// Create, list, describe and delete topics.
    #[command(subcommand)]
    Topic(topic::TopicCommand),
    /// Produce one event per line of standard input.
    Produce(produce::ProduceArgs),
    /// Print events of a topic, one per line.
    Consume(consume::ConsumeArgs),
    /// Print a summary of the broker's metrics (from its HTTP /metrics).
    Stats(stats::StatsArgs),
    /// Register, read and check schemas in the broker's registry.
    #[command(subcommand)]
    Schema(schema::SchemaCommand),
    /// List, show, redrive and purge dead-letter entries.
    #[command(subcommand)]
    Dlq(dlq::DlqCommandArgs),
    /// Report that an event failed, so the broker retries or dead-letters it.
    Fail(dlq::FailArgs),
}

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Configuration file (TOML); built-in defaults when omitted.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Data directory; overrides broker.data_dir.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Main listener HOST:PORT; overrides broker.listen.
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// Control-plane HTTP listener HOST:PORT; overrides http.listen.
    #[arg(long)]
    pub http_listen: Option<std::net::SocketAddr>,
    /// Shard threads; overrides broker.shards (0 = one per core).
    #[arg(long)]
    pub shards: Option<usize>,
    /// First per-shard port; overrides broker.shard_port_base (0 = free ports).
    #[arg(long)]
    pub shard_port_base: Option<u16>,
}

/// Runs one command.
pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Topic(command) => topic::run(&cli.broker, command),
        Command::Produce(args) => produce::run(&cli.broker, args),
        Command::Consume(args) => consume::run(&cli.broker, args),
        Command::Stats(args) => stats::run(args),
        Command::Schema(command) => schema::run(&cli.broker, command),
        Command::Dlq(command) => dlq::run(&cli.broker, command),
        Command::Fail(args) => dlq::run_fail(&cli.broker, args),
    }
}

fn serve(args: ServeArgs) -> Result<(), CliError> {
    let mut config = match &args.config {
        Some(path) => Config::load(path).map_err(|err| CliError::Usage(err.to_string()))?,
        None => Config::default(),
    };
    if let Some(dir) = args.data_dir {
        config.broker.data_dir = dir;
    }
    if let Some(listen) = args.listen {
        config.broker.listen = listen;
    }
    if let Some(listen) = args.http_listen {
        config.http.listen = listen;
    }
    if let Some(shards) = args.shards {
        config.broker.shards = shards;
    }
    if let Some(base) = args.shard_port_base {
        config.broker.shard_port_base = base;
    }
    config
        .validate()
        .map_err(|err| CliError::Usage(err.to_string()))?;
    init_tracing(&config.log.level);
    tracing::info!(target: "ringbus", config = ?config, "starting");
    crate::server::run(config).map_err(|err| CliError::Runtime(err.to_string()))
}

fn init_tracing(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
