//! Tests of the run summary, the `.hgrm` output parsed back, and the SVG chart.

use std::collections::BTreeSet;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::{percentile_label, svg_plot, write_hgrm, write_hgrm_to, write_svg_plot, Summary};

/// Histogram of 1..=10,000 µs, each recorded once, plus one 250 ms outlier.
fn sample_histogram() -> Histogram<u64> {
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    for latency_us in 1..=10_000 {
        histogram.record(latency_us).unwrap();
    }
    histogram.record(250_000).unwrap();
    histogram
}

fn sample_summary() -> Summary {
    let histogram = sample_histogram();
    Summary::new(
        "produce",
        &histogram,
        1_000,
        3_000_000,
        Duration::from_secs(2),
        4,
    )
}

/// One row of an `.hgrm` file.
#[derive(Debug)]
struct Row {
    value_ms: f64,
    percentile: f64,
    total_count: u64,
    inverse: Option<f64>,
}

/// Parses the rows and the footer fields (`Mean`, `Max`, `Total count` and
/// so on) of an `.hgrm` text.
fn parse_hgrm(text: &str) -> (Vec<Row>, Vec<(String, f64)>) {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"]
    );
    assert_eq!(lines.next(), Some(""), "a blank line follows the header");
    let mut rows = Vec::new();
    let mut footer = Vec::new();
    for line in lines {
        if let Some(fields) = line.strip_prefix("#[").and_then(|l| l.strip_suffix(']')) {
            for field in fields.split(", ") {
                let (key, value) = field.split_once('=').unwrap();
                footer.push((key.trim().to_owned(), value.trim().parse().unwrap()));
            }
            continue;
        }
        let columns: Vec<&str> = line.split_whitespace().collect();
        assert!(columns.len() == 3 || columns.len() == 4, "row {line:?}");
        rows.push(Row {
            value_ms: columns[0].parse().unwrap(),
            percentile: columns[1].parse().unwrap(),
            total_count: columns[2].parse().unwrap(),
            inverse: columns.get(3).map(|c| c.parse().unwrap()),
        });
    }
    (rows, footer)
}

fn footer_value(footer: &[(String, f64)], key: &str) -> f64 {
    footer.iter().find(|(k, _)| k == key).unwrap().1
}

#[test]
fn summary_percentiles_and_rates() {
    let summary = sample_summary();
    let latency = &summary.latency_us;
    assert!(
        (4_990..=5_010).contains(&latency.p50),
        "p50 {}",
        latency.p50
    );
    assert!(
        (8_990..=9_010).contains(&latency.p90),
        "p90 {}",
        latency.p90
    );
    assert!(
        (9_890..=9_910).contains(&latency.p99),
        "p99 {}",
        latency.p99
    );
    assert!(
        (9_980..=10_010).contains(&latency.p999),
        "p99.9 {}",
        latency.p999
    );
    assert!(
        (249_000..=251_000).contains(&latency.max),
        "max {}",
        latency.max
    );
    assert_eq!(summary.msgs_per_s(), 500.0);
    assert_eq!(summary.mb_per_s(), 1.5);
    assert_eq!(summary.errors, 4);
}

#[test]
fn zero_elapsed_gives_zero_rates() {
    let histogram = Histogram::<u64>::new(3).unwrap();
    let summary = Summary::new("consume", &histogram, 10, 10, Duration::ZERO, 0);
    assert_eq!(summary.msgs_per_s(), 0.0);
    assert_eq!(summary.mb_per_s(), 0.0);
    assert_eq!(summary.latency_us.max, 0);
}

#[test]
fn json_has_exact_keys() {
    let json = sample_summary().to_json();
    let keys: BTreeSet<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let expected = [
        "mode",
        "messages",
        "bytes",
        "elapsed_s",
        "msgs_per_s",
        "mb_per_s",
        "latency_us",
        "errors",
    ];
    assert_eq!(keys, expected.into_iter().collect());
    let latency = json["latency_us"].as_object().unwrap();
    let latency_keys: BTreeSet<&str> = latency.keys().map(String::as_str).collect();
    let expected = ["p50", "p90", "p99", "p999", "p9999", "max"];
    assert_eq!(latency_keys, expected.into_iter().collect());
    assert_eq!(json["mode"], "produce");
    assert_eq!(json["messages"], 1_000);
    assert_eq!(json["bytes"], 3_000_000);
    assert_eq!(json["elapsed_s"], 2.0);
    assert_eq!(json["msgs_per_s"], 500.0);
    assert_eq!(json["mb_per_s"], 1.5);
    assert_eq!(json["errors"], 4);
    assert!(latency.values().all(|v| v.is_u64()));
}

#[test]
fn text_names_every_figure() {
    let mut out = Vec::new();
    sample_summary().print_text(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    for expected in [
        "produce", "msg/s", "MB/s", "p50", "p99.9 ", "p99.99", "max", "errors",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from {text}");
    }
    assert!(text.contains("500.0 msg/s"), "{text}");
    assert!(text.contains("1.50 MB/s"), "{text}");
}

#[test]
fn hgrm_parses_back() {
    let histogram = sample_histogram();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latency.hgrm");
    write_hgrm(&histogram, &path).unwrap();
    let (rows, footer) = parse_hgrm(&std::fs::read_to_string(&path).unwrap());

    assert!(rows.len() > 50, "{} rows", rows.len());
    for pair in rows.windows(2) {
        assert!(pair[0].value_ms <= pair[1].value_ms, "{pair:?}");
        assert!(pair[0].percentile <= pair[1].percentile, "{pair:?}");
        assert!(pair[0].total_count <= pair[1].total_count, "{pair:?}");
    }
    let (last, finite) = rows.split_last().unwrap();
    assert_eq!(last.percentile, 1.0);
    assert_eq!(last.total_count, histogram.len());
    assert!(last.inverse.is_none(), "the 100% row has no 1/(1-p) column");
    assert_eq!(last.value_ms, histogram.max() as f64 / 1_000.0);
    for row in finite {
        let inverse = row.inverse.unwrap();
        let expected = 1.0 / (1.0 - row.percentile);
        assert!(
            (inverse - expected).abs() <= 0.01 * expected.max(1.0),
            "{row:?}"
        );
    }
    let median = rows.iter().find(|r| r.percentile >= 0.5).unwrap();
    assert!((4.99..=5.01).contains(&median.value_ms), "{median:?}");

    assert_eq!(footer_value(&footer, "Total count"), histogram.len() as f64);
    assert_eq!(
        footer_value(&footer, "Max"),
        histogram.max() as f64 / 1_000.0
    );
    let mean_ms = footer_value(&footer, "Mean");
    assert!(
        (mean_ms - histogram.mean() / 1_000.0).abs() < 0.001,
        "{mean_ms}"
    );
    assert_eq!(footer_value(&footer, "SubBuckets"), 2_048.0);
    assert_eq!(
        footer_value(&footer, "Buckets"),
        f64::from(histogram.buckets())
    );
}

#[test]
fn empty_hgrm_has_footer_only() {
    let histogram = Histogram::<u64>::new(3).unwrap();
    let mut out = Vec::new();
    write_hgrm_to(&histogram, &mut out).unwrap();
    let (rows, footer) = parse_hgrm(&String::from_utf8(out).unwrap());
    assert!(rows.is_empty());
    assert_eq!(footer_value(&footer, "Total count"), 0.0);
}

#[test]
fn svg_traces_every_percentile_step() {
    let histogram = sample_histogram();
    let svg = svg_plot(&histogram);
    assert!(svg.starts_with("<svg "));
    assert!(svg.ends_with("</svg>\n"));
    assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
    for label in ["0%", "90%", "99%", "99.9%", "Latency (µs)"] {
        assert!(svg.contains(&format!(">{label}<")), "{label} missing");
    }

    let points_start = svg.find("points=\"").unwrap() + "points=\"".len();
    let points_end = points_start + svg[points_start..].find('"').unwrap();
    let points: Vec<(f64, f64)> = svg[points_start..points_end]
        .split(' ')
        .map(|point| {
            let (x, y) = point.split_once(',').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect();
    let mut hgrm = Vec::new();
    write_hgrm_to(&histogram, &mut hgrm).unwrap();
    let (rows, _) = parse_hgrm(&String::from_utf8(hgrm).unwrap());
    assert_eq!(points.len(), rows.len());
    for pair in points.windows(2) {
        assert!(pair[0].0 <= pair[1].0, "x goes back: {pair:?}");
        assert!(pair[0].1 >= pair[1].1, "latency goes down: {pair:?}");
    }
    let within_chart = points
        .iter()
        .all(|&(x, y)| (0.0..=800.0).contains(&x) && (0.0..=480.0).contains(&y));
    assert!(within_chart);
}

#[test]
fn svg_file_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latency.svg");
    write_svg_plot(&sample_histogram(), &path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("<polyline"));
    let missing = dir.path().join("no/such/dir/latency.svg");
    let error = write_svg_plot(&sample_histogram(), &missing).unwrap_err();
    assert!(error.to_string().contains("no/such/dir"), "{error}");
}

#[test]
fn percentile_labels() {
    assert_eq!(percentile_label(0), "0%");
    assert_eq!(percentile_label(1), "90%");
    assert_eq!(percentile_label(2), "99%");
    assert_eq!(percentile_label(3), "99.9%");
    assert_eq!(percentile_label(5), "99.999%");
}
