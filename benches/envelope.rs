//! Cost of turning a verified body into a Kafka record (`envelope::Settings::build`:
//! format detection, conversion, lenient JSON, site lookup, CloudEvents encoding),
//! against parsing the same JSON into a `serde_json::Value` — the least a generic
//! pipeline does with a JSON body — as the in-run baseline.
//!
//! `cargo bench --bench envelope -- --warm-up-time 1 --measurement-time 3`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or benchmark that cannot set up fails loudly"
)]

mod support;

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use hookbridge::body::Body;
use hookbridge::envelope::{Incoming, Mode, Settings, SitePointers, data_limit, form, xml};
use hookbridge::everbright::{Environment, Event};

/// (name, content type, body, strict JSON of the same payload for the baseline)
fn cases() -> Vec<(&'static str, &'static str, Vec<u8>, Vec<u8>)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let read = |p: &str| std::fs::read(format!("{dir}/{p}")).unwrap();
    let milestone = read("json/milestone-status-change.json");
    let strict_milestone = String::from_utf8(milestone.clone())
        .unwrap()
        .replace(":True", ":true")
        .replace(":False", ":false")
        .into_bytes();
    let contract = read("json/contract-status-change.json");
    vec![
        (
            "json-strict",
            "application/json",
            contract.clone(),
            contract,
        ),
        (
            "json-python-literals",
            "application/json",
            milestone,
            strict_milestone.clone(),
        ),
        (
            "xml",
            "application/xml",
            read("xml/milestone-status-change.xml"),
            strict_milestone.clone(),
        ),
        (
            "form",
            "application/x-www-form-urlencoded",
            read("form/milestone-status-change.txt"),
            strict_milestone,
        ),
    ]
}

fn settings(mode: Mode) -> Settings {
    Settings {
        mode,
        lenient_literals: true,
        site_pointers: SitePointers::default(),
        xml: xml::XmlOptions::default(),
        form: form::FormOptions::default(),
        max_data_bytes: data_limit(1 << 20),
    }
}

fn build(s: &Settings, content_type: &str, body: &[u8]) {
    // A fresh body each time, as a request has: its digest is computed in the build.
    let body = Body::new(bytes::Bytes::copy_from_slice(body));
    let incoming = Incoming {
        id: uuid::Uuid::now_v7(),
        event: Event::MilestoneStatusChange,
        environment: Environment::Production,
        credential: "engine-hmac",
        organization: Some("acme-solar"),
        content_type: Some(content_type),
        body: black_box(&body),
        received: UNIX_EPOCH + Duration::from_secs(1_764_000_000),
        trace: None,
    };
    black_box(s.build(&incoming));
}

fn parse_value(json: &[u8]) {
    black_box(serde_json::from_slice::<serde_json::Value>(black_box(json)).unwrap());
}

fn bench(c: &mut Criterion) {
    let structured = settings(Mode::Structured);
    let mut group = c.benchmark_group("envelope");
    for (name, content_type, body, strict) in cases() {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(BenchmarkId::new("serde_json-value", name), |b| {
            b.iter(|| parse_value(&strict))
        });
        group.bench_function(BenchmarkId::new("build", name), |b| {
            b.iter(|| build(&structured, content_type, &body))
        });
    }
    group.finish();
}

fn paired_ratios() {
    let structured = settings(Mode::Structured);
    let binary = settings(Mode::Binary);
    println!(
        "\npaired ratios to serde_json::Value parsing of the same payload (median of {} rounds):",
        support::ROUNDS
    );
    for (name, content_type, body, strict) in cases() {
        let baseline = || parse_value(&strict);
        let s = support::paired_ratio(20, &baseline, &|| build(&structured, content_type, &body));
        let b = support::paired_ratio(20, &baseline, &|| build(&binary, content_type, &body));
        println!(
            "  {name:>22} ({:>5} B): structured {s:.2}  binary {b:.2}",
            body.len()
        );
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    if support::benchmarking() {
        paired_ratios();
    }
}
