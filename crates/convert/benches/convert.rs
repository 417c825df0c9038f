//! Cost of `xml::to_json` and `form::to_json`, against parsing the same
//! payload as strict JSON into a `serde_json::Value` — the least a generic
//! pipeline does with a JSON body — as the in-run baseline.
//!
//! Cases: EverBright's realistic `milestone-status-change` fixture (~4 KB)
//! and a synthetic ~64 KB body of many list items, so that per-document
//! overhead and per-node cost both show.
//!
//! `cargo bench -p hookbridge-convert -- --warm-up-time 1 --measurement-time 3`
//!
//! After criterion's report, a paired run prints ratios to the baseline:
//! the machines are shared and noisy, so absolute times say little, while
//! short batches of baseline and work alternated back to back see the same
//! load. It only runs under `cargo bench` (`--bench`), so that
//! `cargo test --benches` stays a quick smoke test.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or benchmark that cannot set up fails loudly"
)]

use std::fmt::Write as _;
use std::hint::black_box;

// The workspace's one implementation of paired ratios (shared with hookbridge's benches).
#[path = "../../../benches/support/mod.rs"]
mod support;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use hookbridge_convert::{form, xml};

/// Input bytes per batch in a paired run: long enough for the clock, short
/// enough that load changes rarely fall inside one round.
const BATCH_BYTES: usize = 128 * 1024;

/// Size the synthetic cases grow to.
const SYNTHETIC_BYTES: usize = 64 * 1024;

#[derive(Clone, Copy)]
enum Converter {
    Xml,
    Form,
}

struct Case {
    name: &'static str,
    converter: Converter,
    body: Vec<u8>,
    /// Strict JSON of the same payload, for the baseline.
    json: Vec<u8>,
}

fn fixture(path: &str) -> Vec<u8> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures");
    std::fs::read(format!("{dir}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn cases() -> Vec<Case> {
    // The JSON fixture carries the Python literals EverBright sends; the
    // baseline parses the strict JSON of the same payload.
    let milestone = String::from_utf8(fixture("json/milestone-status-change.json"))
        .expect("the fixture is UTF-8")
        .replace(":True", ":true")
        .replace(":False", ":false")
        .into_bytes();
    let (synthetic_xml, synthetic_form, synthetic_json) = synthetic();
    vec![
        Case {
            name: "xml-milestone",
            converter: Converter::Xml,
            body: fixture("xml/milestone-status-change.xml"),
            json: milestone.clone(),
        },
        Case {
            name: "form-milestone",
            converter: Converter::Form,
            body: fixture("form/milestone-status-change.txt"),
            json: milestone,
        },
        Case {
            name: "xml-64k",
            converter: Converter::Xml,
            body: synthetic_xml,
            json: synthetic_json.clone(),
        },
        Case {
            name: "form-64k",
            converter: Converter::Form,
            body: synthetic_form,
            json: synthetic_json,
        },
    ]
}

/// One payload of many list items written three ways: DRF-style XML, a
/// bracket-notation form and JSON. The values are what the converters
/// produce with default options (all strings), with escapes in each syntax.
fn synthetic() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<root><site>5a0c7e1f</site><tasks>",
    );
    let mut form = String::from("site=5a0c7e1f");
    let mut json = String::from(r#"{"site":"5a0c7e1f","tasks":["#);
    let mut i = 0;
    while xml.len() < SYNTHETIC_BYTES {
        let uuid = format!("{i:08x}-9d54-4f6c-b45a-1524e67bf8d6");
        write!(
            xml,
            "<list-item><id>{i}</id><uuid>{uuid}</uuid>\
             <label>Task {i} &amp; signoff</label><done>False</done><notes>None</notes>\
             <assigned_to><email>ops{i}@example.com</email><first_name>Generic</first_name>\
             </assigned_to><tags><list-item>install</list-item><list-item>review</list-item>\
             </tags></list-item>"
        )
        .expect("writing to a String");
        let t = format!("&tasks[{i}]");
        write!(
            form,
            "{t}[id]={i}{t}[uuid]={uuid}{t}[label]=Task+{i}+%26+signoff{t}[done]=False\
             {t}[notes]=None{t}[assigned_to][email]=ops{i}%40example.com\
             {t}[assigned_to][first_name]=Generic{t}[tags][]=install{t}[tags][]=review"
        )
        .expect("writing to a String");
        if i > 0 {
            json.push(',');
        }
        write!(
            json,
            r#"{{"id":"{i}","uuid":"{uuid}","label":"Task {i} & signoff","done":"False","notes":"None","assigned_to":{{"email":"ops{i}@example.com","first_name":"Generic"}},"tags":["install","review"]}}"#
        )
        .expect("writing to a String");
        i += 1;
    }
    xml.push_str("</tasks></root>");
    json.push_str("]}");
    (xml.into_bytes(), form.into_bytes(), json.into_bytes())
}

fn convert(converter: Converter, body: &[u8]) -> Vec<u8> {
    match converter {
        Converter::Xml => xml::to_json(black_box(body), &xml::XmlOptions::default()).unwrap(),
        Converter::Form => form::to_json(black_box(body), &form::FormOptions::default()).unwrap(),
    }
}

fn parse_value(json: &[u8]) -> serde_json::Value {
    serde_json::from_slice(black_box(json)).unwrap()
}

/// The synthetic JSON must say what the converters say, or the baseline
/// measures another payload.
fn check(case: &Case) {
    if case.name.ends_with("-64k") {
        let converted = parse_value(&convert(case.converter, &case.body));
        assert_eq!(converted, parse_value(&case.json), "{}", case.name);
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("convert");
    for case in cases() {
        check(&case);
        group.throughput(Throughput::Bytes(case.body.len() as u64));
        group.bench_function(BenchmarkId::new("serde_json-value", case.name), |b| {
            b.iter(|| black_box(parse_value(&case.json)))
        });
        group.bench_function(BenchmarkId::new("to_json", case.name), |b| {
            b.iter(|| black_box(convert(case.converter, &case.body)))
        });
    }
    group.finish();
}

fn paired_ratios() {
    println!(
        "\npaired ratios to serde_json::Value parsing of the same payload (median of {} rounds):",
        support::ROUNDS
    );
    for case in cases() {
        let batch = (BATCH_BYTES / case.body.len()).max(1);
        let ratio = support::paired_ratio(
            batch,
            &|| {
                black_box(parse_value(&case.json));
            },
            &|| {
                black_box(convert(case.converter, &case.body));
            },
        );
        println!(
            "  {:>15} ({:>6} B, JSON {:>6} B): {ratio:.2}",
            case.name,
            case.body.len(),
            case.json.len()
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
