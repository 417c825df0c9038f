//! `/metrics` read as the Prometheus text format: one sample by metric name and exact
//! label set, so `{reason="bad-secret"} 4` cannot be matched by `… 40` or by a sample
//! that carries one more label.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use http::StatusCode;

/// One scrape.
pub struct Scrape {
    text: String,
    samples: Vec<Sample>,
}

#[derive(Debug, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Scrapes `url` (an admin listener's `/metrics`), asserting a 200.
pub async fn scrape(url: &str) -> Scrape {
    let answer = super::get(url).await;
    assert_eq!(answer.status, StatusCode::OK, "GET {url}");
    let text = String::from_utf8(answer.body.to_vec()).expect("metrics are UTF-8");
    Scrape::parse(text)
}

/// Scrapes `url` until the sample `name{labels}` exists and `done` holds for its value,
/// failing the test after `within`. Returns the value.
pub async fn wait_for(
    url: &str,
    name: &str,
    labels: &[(&str, &str)],
    within: Duration,
    done: impl Fn(f64) -> bool,
) -> f64 {
    let deadline = Instant::now() + within;
    loop {
        let scrape = scrape(url).await;
        if let Some(value) = scrape.get(name, labels).filter(|v| done(*v)) {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{name}{labels:?} did not reach the expected value within {within:?}; last scrape:\n{scrape}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Scrape {
    /// Parses a text exposition, failing the test on a line it cannot read.
    pub fn parse(text: String) -> Scrape {
        let samples = text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| sample(l).unwrap_or_else(|| panic!("not a Prometheus sample: {l:?}")))
            .collect();
        Scrape { text, samples }
    }

    /// The value of sample `name` whose labels are exactly `labels` (in any order).
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let labels: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.samples
            .iter()
            .find(|s| s.name == name && s.labels == labels)
            .map(|s| s.value)
    }

    /// Like [`Scrape::get`], failing the test when there is no such sample.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels)
            .unwrap_or_else(|| panic!("no sample {name}{labels:?} in\n{self}"))
    }

    /// The `# TYPE` declared for metric family `name` (`counter`, `gauge`…).
    pub fn kind(&self, name: &str) -> Option<&str> {
        self.text.lines().find_map(|l| {
            let rest = l.strip_prefix("# TYPE ")?;
            let (family, kind) = rest.split_once(' ')?;
            (family == name).then_some(kind.trim())
        })
    }
}

impl fmt::Display for Scrape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// `name{label="value",…} value [timestamp]`, label values with `\\`, `\"` and `\n`
/// escapes.
fn sample(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' ']).unwrap_or(line.len());
    let (name, mut rest) = line.split_at(name_end);
    let is_name = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    let mut labels = BTreeMap::new();
    if let Some(inner) = rest.strip_prefix('{') {
        rest = inner;
        loop {
            rest = rest.trim_start_matches(',');
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let (key, after) = rest.split_once("=\"").filter(|(k, _)| is_name(k))?;
            let (value, after) = quoted(after)?;
            labels.insert(key.to_string(), value);
            rest = after;
        }
    }
    let mut fields = rest.split_whitespace();
    let value = fields.next()?.parse().ok()?;
    // An optional timestamp, then nothing.
    if fields.nth(1).is_some() || !is_name(name) {
        return None;
    }
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// The rest of a label value after its opening quote: the unescaped value and what
/// follows the closing quote.
fn quoted(text: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &text[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => value.push('\n'),
                escaped => value.push(escaped),
            },
            c => value.push(c),
        }
    }
    None
}

#[test]
fn samples_are_found_by_name_and_exact_labels() {
    let scrape = Scrape::parse(
        [
            "# HELP hookbridge_auth_failures_total Requests refused with 401, by reason.",
            "# TYPE hookbridge_auth_failures_total counter",
            r#"hookbridge_auth_failures_total{reason="bad-secret"} 40"#,
            r#"hookbridge_auth_failures_total{reason="bad-secret",extra="x"} 4"#,
            r#"weird{b="a \"quoted\", \\ value\n",a="}"} 2 1700000000000"#,
            "hookbridge_inflight_requests 0",
            r#"hookbridge_http_request_duration_seconds_bucket{event="x",le="+Inf"} 3"#,
        ]
        .join("\n"),
    );
    let by = |name, labels| scrape.get(name, labels);
    let reason = [("reason", "bad-secret")];
    assert_eq!(by("hookbridge_auth_failures_total", &reason), Some(40.0));
    let two = [("extra", "x"), ("reason", "bad-secret")];
    assert_eq!(by("hookbridge_auth_failures_total", &two), Some(4.0));
    assert_eq!(by("hookbridge_auth_failures_total", &[]), None);
    assert_eq!(by("hookbridge_auth_failures", &reason), None);
    let weird = [("a", "}"), ("b", "a \"quoted\", \\ value\n")];
    assert_eq!(by("weird", &weird), Some(2.0));
    assert_eq!(by("hookbridge_inflight_requests", &[]), Some(0.0));
    let bucket = [("event", "x"), ("le", "+Inf")];
    let buckets = "hookbridge_http_request_duration_seconds_bucket";
    assert_eq!(by(buckets, &bucket), Some(3.0));
    assert_eq!(
        scrape.kind("hookbridge_auth_failures_total"),
        Some("counter")
    );
    assert_eq!(scrape.kind("hookbridge_auth_failures"), None);
    for bad in [
        "name{a=\"1\" 2",
        "name",
        "{a=\"1\"} 2",
        "name 1 2 3",
        "name x",
        "name{a b=\"1\"} 2",
    ] {
        assert_eq!(sample(bad), None, "{bad:?}");
    }
}
