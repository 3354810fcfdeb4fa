//! A parser of Prometheus text exposition format 0.0.4, for `ringbus stats`
//! and tests. It checks the line grammar (comments, metric names, label
//! sets with escapes, values) and returns the samples.

/// One sample line: `name{label="value",...} value [timestamp]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    /// Returns the value of label `key`.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Checks that every `(key, value)` in `labels` is on this sample.
    pub fn has_labels(&self, labels: &[(&str, &str)]) -> bool {
        labels
            .iter()
            .all(|(key, value)| self.label(key) == Some(value))
    }
}

/// Returns the value of the first sample named `name` with `labels`.
pub fn find(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| s.name == name && s.has_labels(labels))
        .map(|s| s.value)
}

/// Parses a whole exposition; the error names the line number and why.
pub fn parse(text: &str) -> Result<Vec<Sample>, String> {
    let mut samples = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            check_comment(comment).map_err(|reason| format!("line {line_number}: {reason}"))?;
            continue;
        }
        let sample = parse_sample(line)
            .map_err(|reason| format!("line {line_number}: {reason}: {line:?}"))?;
        samples.push(sample);
    }
    Ok(samples)
}

fn check_comment(comment: &str) -> Result<(), String> {
    let mut words = comment.split_whitespace();
    match words.next() {
        Some("TYPE") => {
            let name = words.next().ok_or("TYPE without a metric name")?;
            check_name(name)?;
            match words.next() {
                Some("counter" | "gauge" | "summary" | "histogram" | "untyped") => Ok(()),
                other => Err(format!("invalid metric type {other:?}")),
            }
        }
        Some("HELP") => check_name(words.next().ok_or("HELP without a metric name")?),
        _ => Ok(()),
    }
}

fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':');
    if first_valid && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
        Ok(())
    } else {
        Err(format!("invalid metric name {name:?}"))
    }
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("missing value")?;
    let name = &line[..name_end];
    check_name(name)?;
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after_brace) = rest.strip_prefix('{') {
        let (parsed, tail) = parse_labels(after_brace)?;
        labels = parsed;
        rest = tail;
    }
    let mut fields = rest.split_whitespace();
    let value = fields.next().ok_or("missing value")?;
    let value = parse_value(value)?;
    if let Some(timestamp) = fields.next() {
        timestamp
            .parse::<i64>()
            .map_err(|_| format!("invalid timestamp {timestamp:?}"))?;
    }
    if fields.next().is_some() {
        return Err("extra fields after the value".into());
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

fn parse_value(text: &str) -> Result<f64, String> {
    match text {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => text.parse().map_err(|_| format!("invalid value {text:?}")),
    }
}

/// Label names and values of one sample, in order.
type Labels = Vec<(String, String)>;

/// Parses `key="value",...}` and returns the labels and the text after `}`.
fn parse_labels(mut text: &str) -> Result<(Labels, &str), String> {
    let mut labels = Vec::new();
    loop {
        text = text.trim_start();
        if let Some(rest) = text.strip_prefix('}') {
            return Ok((labels, rest));
        }
        let (key, after_key) = text.split_once("=\"").ok_or("label without =\"")?;
        let key = key.trim();
        check_name(key)?;
        let (value, after_value) = unescape_until_quote(after_key)?;
        labels.push((key.to_string(), value));
        text = after_value.trim_start();
        text = text.strip_prefix(',').unwrap_or(text);
    }
}

fn unescape_until_quote(text: &str) -> Result<(String, &str), String> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((index, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &text[index + 1..])),
            '\\' => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, '\\')) => value.push('\\'),
                Some((_, '"')) => value.push('"'),
                other => {
                    return Err(format!(
                        "invalid escape {:?} in a label value",
                        other.map(|o| o.1)
                    ))
                }
            },
            c => value.push(c),
        }
    }
    Err("unterminated label value".into())
}
