//! Run summary of a load test, and its latency histogram written as an
//! HdrHistogram percentile distribution (`.hgrm`) and as an SVG chart.
//!
//! Latencies are recorded in µs. MB means 10^6 bytes.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::json;

/// Percentile steps per halving of the distance to 100 %, the value wrk2 uses.
const TICKS_PER_HALF_DISTANCE: u32 = 5;
/// Divisor from the histogram's µs to the `.hgrm` file's ms, the unit wrk2
/// prints its µs histogram in.
const HGRM_US_PER_UNIT: f64 = 1_000.0;

/// Latency percentiles of a run, in µs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LatencyUs {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub p9999: u64,
    pub max: u64,
}

/// Outcome of one load run.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Run kind, such as `produce` or `consume`.
    pub mode: String,
    pub messages: u64,
    pub bytes: u64,
    pub elapsed_s: f64,
    pub latency_us: LatencyUs,
    pub errors: u64,
}

impl Summary {
    /// Summarizes a run from its latency histogram (µs) and counters.
    pub fn new(
        mode: &str,
        latency_us: &Histogram<u64>,
        messages: u64,
        bytes: u64,
        elapsed: Duration,
        errors: u64,
    ) -> Self {
        let at = |quantile: f64| latency_us.value_at_quantile(quantile);
        Self {
            mode: mode.to_owned(),
            messages,
            bytes,
            elapsed_s: elapsed.as_secs_f64(),
            latency_us: LatencyUs {
                p50: at(0.5),
                p90: at(0.9),
                p99: at(0.99),
                p999: at(0.999),
                p9999: at(0.9999),
                max: latency_us.max(),
            },
            errors,
        }
    }

    /// Returns messages per second, or 0 for a run of no measurable length.
    pub fn msgs_per_s(&self) -> f64 {
        per_second(self.messages as f64, self.elapsed_s)
    }

    /// Returns megabytes (10^6 bytes) per second, or 0 for a run of no
    /// measurable length.
    pub fn mb_per_s(&self) -> f64 {
        per_second(self.bytes as f64 / 1e6, self.elapsed_s)
    }

    /// Writes the summary for a person to read.
    pub fn print_text(&self, out: &mut impl Write) -> io::Result<()> {
        let latency = &self.latency_us;
        writeln!(
            out,
            "{}: {} messages, {} bytes in {:.3} s",
            self.mode, self.messages, self.bytes, self.elapsed_s
        )?;
        writeln!(
            out,
            "  throughput  {:.1} msg/s, {:.2} MB/s",
            self.msgs_per_s(),
            self.mb_per_s()
        )?;
        writeln!(
            out,
            "  latency µs  p50 {}  p90 {}  p99 {}  p99.9 {}  p99.99 {}  max {}",
            latency.p50, latency.p90, latency.p99, latency.p999, latency.p9999, latency.max
        )?;
        writeln!(out, "  errors      {}", self.errors)
    }

    /// Returns the summary as a JSON object with the keys `mode`, `messages`,
    /// `bytes`, `elapsed_s`, `msgs_per_s`, `mb_per_s`, `latency_us` and `errors`.
    pub fn to_json(&self) -> serde_json::Value {
        let latency = &self.latency_us;
        json!({
            "mode": self.mode,
            "messages": self.messages,
            "bytes": self.bytes,
            "elapsed_s": self.elapsed_s,
            "msgs_per_s": self.msgs_per_s(),
            "mb_per_s": self.mb_per_s(),
            "latency_us": {
                "p50": latency.p50,
                "p90": latency.p90,
                "p99": latency.p99,
                "p999": latency.p999,
                "p9999": latency.p9999,
                "max": latency.max,
            },
            "errors": self.errors,
        })
    }
}

fn per_second(amount: f64, elapsed_s: f64) -> f64 {
    if elapsed_s > 0.0 {
        amount / elapsed_s
    } else {
        0.0
    }
}

/// Writes the percentile distribution of a µs histogram to `path` in the
/// text format of HdrHistogram's Java `outputPercentileDistribution`, with
/// values in ms.
pub fn write_hgrm(latency_us: &Histogram<u64>, path: &Path) -> io::Result<()> {
    let mut text = Vec::new();
    write_hgrm_to(latency_us, &mut text)?;
    std::fs::write(path, text).map_err(|e| with_path(e, path))
}

/// Writes the percentile distribution of a µs histogram in the `.hgrm`
/// format: one row per percentile step, then the mean, deviation, maximum,
/// count and bucket layout.
pub fn write_hgrm_to(latency_us: &Histogram<u64>, out: &mut impl Write) -> io::Result<()> {
    let digits = usize::from(latency_us.sigfig());
    writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    )?;
    let mut total_count = 0;
    for step in latency_us.iter_quantiles(TICKS_PER_HALF_DISTANCE) {
        total_count += step.count_since_last_iteration();
        let value = step.value_iterated_to() as f64 / HGRM_US_PER_UNIT;
        let quantile = step.quantile_iterated_to();
        write!(out, "{value:12.digits$} {quantile:2.12} {total_count:10}")?;
        if quantile < 1.0 {
            write!(out, " {:14.2}", 1.0 / (1.0 - quantile))?;
        }
        writeln!(out)?;
    }
    let mean = latency_us.mean() / HGRM_US_PER_UNIT;
    let deviation = latency_us.stdev() / HGRM_US_PER_UNIT;
    let max = latency_us.max() as f64 / HGRM_US_PER_UNIT;
    let sub_buckets = sub_bucket_count(latency_us.sigfig());
    writeln!(
        out,
        "#[Mean    = {mean:12.digits$}, StdDeviation   = {deviation:12.digits$}]"
    )?;
    writeln!(
        out,
        "#[Max     = {max:12.digits$}, Total count    = {:12}]",
        latency_us.len()
    )?;
    writeln!(
        out,
        "#[Buckets = {:12}, SubBuckets     = {sub_buckets:12}]",
        latency_us.buckets()
    )
}

/// Returns HdrHistogram's sub-bucket count for a precision of `sigfig`
/// significant digits: the power of two at or above 2 * 10^sigfig.
fn sub_bucket_count(sigfig: u8) -> u64 {
    (2 * 10u64.pow(u32::from(sigfig))).next_power_of_two()
}

/// Writes an SVG line chart of latency (µs) by percentile to `path`. The
/// percentile is on a log axis of 1/(1-percentile), so each added nine of
/// the tail gets as much room as the median.
pub fn write_svg_plot(latency_us: &Histogram<u64>, path: &Path) -> io::Result<()> {
    std::fs::write(path, svg_plot(latency_us)).map_err(|e| with_path(e, path))
}

/// Chart layout in SVG user units.
const WIDTH: f64 = 800.0;
const HEIGHT: f64 = 480.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;
/// Y axis divisions.
const Y_TICKS: u32 = 5;

/// Returns the SVG chart of a µs histogram.
pub fn svg_plot(latency_us: &Histogram<u64>) -> String {
    let points = plot_points(latency_us);
    // At least 99.9 % on the x axis, and every finite percentile step.
    let decades = points.iter().map(|p| p.0).fold(3.0_f64, f64::max).ceil();
    let y_max = nice_ceiling(latency_us.max());
    let x_of = |decade: f64| LEFT + decade / decades * (WIDTH - LEFT - RIGHT);
    let y_of = |value: f64| HEIGHT - BOTTOM - value / y_max * (HEIGHT - TOP - BOTTOM);

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="24" text-anchor="middle" font-size="16">Latency by percentile ({} samples)</text>"#,
        WIDTH / 2.0,
        latency_us.len()
    );
    for decade in 0..=decades as u32 {
        let x = x_of(f64::from(decade));
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{}" stroke="#ddd"/><text x="{x:.1}" y="{}" text-anchor="middle">{}</text>"##,
            HEIGHT - BOTTOM,
            HEIGHT - BOTTOM + 18.0,
            percentile_label(decade)
        );
    }
    for tick in 0..=Y_TICKS {
        let value = y_max * f64::from(tick) / f64::from(Y_TICKS);
        let y = y_of(value);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{value}</text>"##,
            WIDTH - RIGHT,
            LEFT - 8.0,
            y + 4.0
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">Percentile</text>"#,
        (LEFT + WIDTH - RIGHT) / 2.0,
        HEIGHT - 16.0
    );
    let _ = writeln!(
        svg,
        r#"<text x="20" y="{}" text-anchor="middle" transform="rotate(-90 20 {})">Latency (µs)</text>"#,
        (TOP + HEIGHT - BOTTOM) / 2.0,
        (TOP + HEIGHT - BOTTOM) / 2.0
    );
    let mut line = String::new();
    for &(decade, value) in &points {
        let _ = write!(line, "{:.1},{:.1} ", x_of(decade), y_of(value as f64));
    }
    let _ = writeln!(
        svg,
        r##"<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="{}"/>"##,
        line.trim_end()
    );
    svg.push_str("</svg>\n");
    svg
}

/// Returns `(log10(1/(1-percentile)), latency µs)` for each percentile
/// step. The 100 % step, infinitely far right, is drawn at the last finite
/// step's position.
fn plot_points(latency_us: &Histogram<u64>) -> Vec<(f64, u64)> {
    let mut points: Vec<(f64, u64)> = Vec::new();
    for step in latency_us.iter_quantiles(TICKS_PER_HALF_DISTANCE) {
        let quantile = step.quantile_iterated_to();
        let decade = if quantile < 1.0 {
            (1.0 / (1.0 - quantile)).log10()
        } else {
            points.last().map_or(0.0, |p| p.0)
        };
        points.push((decade, step.value_iterated_to()));
    }
    points
}

/// Labels the x position `decade`: 0%, 90%, 99%, 99.9% and so on.
fn percentile_label(decade: u32) -> String {
    match decade {
        0 => "0%".to_owned(),
        1 => "90%".to_owned(),
        2 => "99%".to_owned(),
        _ => format!("99.{}%", "9".repeat(decade as usize - 2)),
    }
}

/// Rounds up to a multiple of a power of ten whose fifth is a round number,
/// for a readable axis.
fn nice_ceiling(value: u64) -> f64 {
    let value = value.max(1) as f64;
    let power = 10f64.powf(value.log10().floor());
    let step = [1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
        .into_iter()
        .find(|m| m * power >= value)
        .unwrap_or(10.0);
    step * power
}

fn with_path(error: io::Error, path: &Path) -> io::Error {
    io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}

#[cfg(test)]
mod tests;
