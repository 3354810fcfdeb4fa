//! `ringbus stats`: reads `/metrics` from the control plane and prints a
//! one-screen summary per shard, per topic and the largest consumer lags.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::CliError;
use crate::metrics::text::{find, parse, Sample};

#[derive(clap::Args, Debug)]
pub struct StatsArgs {
    /// Control-plane HTTP address, HOST:PORT.
    #[arg(long, env = "RINGBUS_HTTP", default_value = "127.0.0.1:8081")]
    pub http: String,
    /// Consumer-lag rows shown, largest first.
    #[arg(long, default_value_t = 10)]
    pub lag_rows: usize,
}

/// How long the scrape may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

pub fn run(args: StatsArgs) -> Result<(), CliError> {
    let text = get_metrics(&args.http).map_err(|err| {
        CliError::Runtime(format!("cannot read http://{}/metrics: {err}", args.http))
    })?;
    let samples =
        parse(&text).map_err(|err| CliError::Runtime(format!("invalid /metrics text: {err}")))?;
    let mut out = std::io::stdout().lock();
    print_summary(&mut out, &samples, args.lag_rows)
        .map_err(|err| CliError::Runtime(format!("cannot write to stdout: {err}")))
}

fn get_metrics(addr: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(HTTP_TIMEOUT))?;
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response.split_whitespace().nth(1).unwrap_or("");
    if status != "200" {
        let line = response.lines().next().unwrap_or("no response");
        return Err(std::io::Error::other(format!(
            "unexpected response: {line}"
        )));
    }
    Ok(response
        .split_once("\r\n\r\n")
        .map_or("", |(_, body)| body)
        .to_string())
}

/// Values of one label over the samples named `name`, sorted.
fn label_values<'a>(samples: &'a [Sample], name: &str, label: &str) -> BTreeSet<&'a str> {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter_map(|s| s.label(label))
        .collect()
}

/// Writes the summary of parsed `/metrics` samples.
pub fn print_summary(
    out: &mut impl Write,
    samples: &[Sample],
    lag_rows: usize,
) -> std::io::Result<()> {
    let get = |name: &str, labels: &[(&str, &str)]| find(samples, name, labels).unwrap_or(0.0);
    writeln!(
        out,
        "{:<6}{:>4}{:>7}{:>14}{:>14}{:>14}{:>14}{:>18}{:>12}{:>12}",
        "SHARD",
        "UP",
        "CONNS",
        "RECORDS_IN",
        "BYTES_IN",
        "RECORDS_OUT",
        "BYTES_OUT",
        "PRODUCE_P50/P99",
        "FETCH_P99",
        "FSYNC_P99"
    )?;
    let mut shards: Vec<&str> = label_values(samples, "ringbus_shard_up", "shard")
        .into_iter()
        .collect();
    shards.sort_by_key(|shard| shard.parse::<usize>().unwrap_or(usize::MAX));
    for shard in shards {
        let by_shard = [("shard", shard)];
        let quantile = |what: &str, q: &str| {
            get(
                &format!("ringbus_{what}_latency_us"),
                &[("shard", shard), ("quantile", q)],
            )
        };
        writeln!(
            out,
            "{:<6}{:>4}{:>7}{:>14}{:>14}{:>14}{:>14}{:>18}{:>12}{:>12}",
            shard,
            get("ringbus_shard_up", &by_shard),
            get("ringbus_shard_connections", &by_shard),
            get("ringbus_shard_records_in_total", &by_shard),
            get("ringbus_shard_bytes_in_total", &by_shard),
            get("ringbus_shard_records_out_total", &by_shard),
            get("ringbus_shard_bytes_out_total", &by_shard),
            format!(
                "{}/{}",
                quantile("produce", "0.5"),
                quantile("produce", "0.99")
            ),
            quantile("fetch", "0.99"),
            quantile("fsync", "0.99"),
        )?;
    }
    writeln!(out, "latencies in µs\n")?;
    writeln!(
        out,
        "{:<24}{:>14}{:>14}{:>14}{:>14}{:>12}",
        "TOPIC", "RECORDS_IN", "BYTES_IN", "RECORDS_OUT", "BYTES_OUT", "REJECTED"
    )?;
    for topic in label_values(samples, "ringbus_topic_records_in_total", "topic") {
        let by_topic = [("topic", topic)];
        writeln!(
            out,
            "{:<24}{:>14}{:>14}{:>14}{:>14}{:>12}",
            topic,
            get("ringbus_topic_records_in_total", &by_topic),
            get("ringbus_topic_bytes_in_total", &by_topic),
            get("ringbus_topic_records_out_total", &by_topic),
            get("ringbus_topic_bytes_out_total", &by_topic),
            get("ringbus_schema_rejections_total", &by_topic),
        )?;
    }
    print_lag(out, samples, lag_rows)
}

fn print_lag(out: &mut impl Write, samples: &[Sample], lag_rows: usize) -> std::io::Result<()> {
    let mut lags: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.name == "ringbus_consumer_lag")
        .collect();
    lags.sort_by(|a, b| b.value.total_cmp(&a.value));
    writeln!(
        out,
        "\n{:<24}{:<24}{:>10}{:>14}",
        "GROUP", "TOPIC", "PARTITION", "LAG"
    )?;
    for lag in lags.iter().take(lag_rows) {
        writeln!(
            out,
            "{:<24}{:<24}{:>10}{:>14}",
            lag.label("group").unwrap_or(""),
            lag.label("topic").unwrap_or(""),
            lag.label("partition").unwrap_or(""),
            lag.value
        )?;
    }
    if lags.len() > lag_rows {
        writeln!(
            out,
            "({} more; --lag-rows sets how many are shown)",
            lags.len() - lag_rows
        )?;
    }
    Ok(())
}
