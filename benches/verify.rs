//! Cost of verifying a signed webhook, against a bare SHA-256 of the same body as the
//! in-run baseline (so ratios hold across machines): HMAC (timestamped), SigV4 with the
//! signing keys cached, and SigV4 deriving its keys (a fresh verifier each time).
//!
//! After criterion's report, a paired run alternates short batches of the baseline and
//! each verifier and prints the median per-round ratio: on a shared machine, load from
//! other processes then hits both sides of a ratio alike.
//!
//! `cargo bench --bench verify -- --warm-up-time 1 --measurement-time 3`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or benchmark that cannot set up fails loudly"
)]

mod support;

use std::hint::black_box;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group};
use hookbridge::auth::hmac::{Hmac, HmacSettings};
use hookbridge::auth::sigv4::{Authorization, SigV4, SigV4Settings};
use hookbridge::auth::{Secret, SecretSet};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use sha2::{Digest, Sha256};

const SIZES: [usize; 2] = [2 * 1024, 10 * 1024];

/// A JSON-looking body of `size` bytes.
fn body(size: usize) -> Vec<u8> {
    let record =
        br#"{"uuid":"4f1c2b9e-0d7a-4c1e-9a55-3be0f6a2c9d1","status":"APPROVED","site":"b3c1"},"#;
    record.iter().copied().cycle().take(size).collect()
}

fn sigv4_settings() -> SigV4Settings {
    SigV4Settings {
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: SecretSet::single(Secret::new(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        )),
        region: "us-east-1".into(),
        service: "execute-api".into(),
        tolerance: Duration::from_secs(300),
    }
}

/// Signed requests of one body size, ready to verify.
struct Fixture {
    body: Vec<u8>,
    hmac: Hmac,
    hmac_headers: HeaderMap,
    sigv4: SigV4,
    sigv4_headers: HeaderMap,
    uri: Uri,
    now: SystemTime,
}

impl Fixture {
    fn new(size: usize) -> Self {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let body = body(size);
        let secret = SecretSet::single(Secret::new("s3cr3t-s3cr3t-s3cr3t"));
        let mut hmac_settings = HmacSettings::new(secret);
        hmac_settings.timestamp_header = Some(HeaderName::from_static("x-timestamp"));
        let hmac = Hmac::new(hmac_settings).unwrap();
        let hmac_headers = hmac.sign(&body, now).into_iter().collect();

        let sigv4 = SigV4::new(sigv4_settings()).unwrap();
        let absolute: Uri = "https://hooks.example.com/everbright/milestone-status-change"
            .parse()
            .unwrap();
        let mut sigv4_headers = HeaderMap::new();
        sigv4_headers.insert("content-type", HeaderValue::from_static("application/json"));
        sigv4_headers.insert("content-length", HeaderValue::from(size));
        for (name, value) in sigv4.sign(&Method::POST, &absolute, &sigv4_headers, &body, now) {
            sigv4_headers.insert(name, value);
        }
        sigv4_headers.insert(
            "user-agent",
            HeaderValue::from_static("EverBright-Webhooks/1.0"),
        );
        let uri = absolute.path_and_query().unwrap().as_str().parse().unwrap();
        Fixture {
            body,
            hmac,
            hmac_headers,
            sigv4,
            sigv4_headers,
            uri,
            now,
        }
    }

    fn sha256(&self) {
        black_box(Sha256::digest(black_box(&self.body)));
    }

    fn hmac(&self) {
        let headers = black_box(&self.hmac_headers);
        black_box(
            self.hmac
                .verify(headers, black_box(&self.body), self.now)
                .unwrap(),
        );
    }

    fn sigv4_with(&self, verifier: &SigV4) {
        let headers = black_box(&self.sigv4_headers);
        let auth = Authorization::parse(headers).unwrap().unwrap();
        // A fresh body each time, as a request has: its digest is computed in verify.
        let body = hookbridge::body::Body::from(black_box(&self.body).clone());
        black_box(
            verifier
                .verify(&auth, &Method::POST, &self.uri, headers, &body, self.now)
                .unwrap(),
        );
    }

    fn sigv4(&self) {
        self.sigv4_with(&self.sigv4);
    }

    fn sigv4_uncached_keys(&self) {
        self.sigv4_with(&SigV4::new(sigv4_settings()).unwrap());
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify");
    for size in SIZES {
        let f = Fixture::new(size);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::new("sha256", size), |b| b.iter(|| f.sha256()));
        group.bench_function(BenchmarkId::new("hmac", size), |b| b.iter(|| f.hmac()));
        group.bench_function(BenchmarkId::new("sigv4", size), |b| b.iter(|| f.sigv4()));
        group.bench_function(BenchmarkId::new("sigv4-uncached-keys", size), |b| {
            b.iter_batched(
                || SigV4::new(sigv4_settings()).unwrap(),
                |fresh| f.sigv4_with(&fresh),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn paired(f: &Fixture, work: fn(&Fixture)) -> f64 {
    support::paired_ratio(40, &|| f.sha256(), &|| work(f))
}

fn paired_ratios() {
    println!(
        "\npaired ratios to SHA-256 of the same body (median of {} rounds):",
        support::ROUNDS
    );
    for size in SIZES {
        let f = Fixture::new(size);
        println!(
            "  {:>5} B: hmac {:.2}  sigv4 {:.2}  sigv4-uncached-keys {:.2}",
            size,
            paired(&f, Fixture::hmac),
            paired(&f, Fixture::sigv4),
            paired(&f, Fixture::sigv4_uncached_keys),
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
