//! Standard Webhooks interoperability with the reference Python package
//! (`standardwebhooks` on PyPI): what it signs verifies here, and what we sign verifies
//! there.
//!
//! Needs `python3` and the package in `$HOOKBRIDGE_PYTHONPATH` (default `.tools/py`,
//! relative to the crate root). Install it with `scripts/install-tools.sh`, i.e.
//! `python3 -m pip install --target .tools/py standardwebhooks`. Without them these tests
//! fail with that instruction; they never skip.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test or benchmark that cannot set up fails loudly"
)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hookbridge::auth::hmac::{Hmac, HmacError, HmacSettings, Preset};
use hookbridge::auth::{Secret, SecretSet};
use http::{HeaderMap, HeaderValue};

const INSTALL: &str = "run scripts/install-tools.sh \
     (python3 -m pip install --target .tools/py standardwebhooks)";

fn python_path() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let configured =
        std::env::var_os("HOOKBRIDGE_PYTHONPATH").unwrap_or_else(|| ".tools/py".into());
    let path = root.join(configured);
    assert!(
        path.join("standardwebhooks").is_dir(),
        "the standardwebhooks package is not in {} (HOOKBRIDGE_PYTHONPATH): {INSTALL}",
        path.display()
    );
    path
}

/// Runs the helper script with `args`, feeding `input`; returns its stdout.
fn python(args: &[&str], input: &str) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/standardwebhooks_vectors.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .args(args)
        .env("PYTHONPATH", python_path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}): install Python 3, then {INSTALL}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{} {args:?} failed ({}): {}\nIf the package is missing: {INSTALL}",
        script.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn standard_webhooks(secrets: &[&str]) -> Hmac {
    let set = SecretSet::new(secrets.iter().map(|s| Secret::new(*s)).collect()).unwrap();
    let mut settings = HmacSettings::new(set);
    settings.preset = Some(Preset::StandardWebhooks);
    Hmac::new(settings).unwrap()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn the_reference_package_reproduces_the_spec_vector() {
    let payload = STANDARD.encode(br#"{"test": 2432232314}"#);
    let line = format!(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\tmsg_p5jXN8AQM9LWM0D4loKWxJek\t1614265330\t{payload}\n"
    );
    assert_eq!(
        python(&["sign-stdin"], &line).trim(),
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    );
}

#[test]
fn messages_signed_by_the_reference_package_verify() {
    let now = unix_now();
    let output = python(&["sign", "200", "20240601", &now.to_string()], "");
    let mut checked = 0;
    for line in output.lines() {
        let [secret, id, timestamp, payload, signature] =
            <[&str; 5]>::try_from(line.split('\t').collect::<Vec<_>>()).unwrap();
        let body = STANDARD.decode(payload).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("webhook-id", HeaderValue::from_str(id).unwrap());
        headers.insert(
            "webhook-timestamp",
            HeaderValue::from_str(timestamp).unwrap(),
        );
        headers.insert(
            "webhook-signature",
            HeaderValue::from_str(signature).unwrap(),
        );
        let at = UNIX_EPOCH + Duration::from_secs(now);

        // Rotation: the signing secret is the second of two accepted ones.
        let hmac = standard_webhooks(&["whsec_b2xkLXNlY3JldC1vbGQtc2VjcmV0", secret]);
        let signed = hmac
            .verify(&headers, &body, at)
            .unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(format!("v1,{}", STANDARD.encode(signed.tag)), signature);

        let mut tampered = body.clone();
        tampered.push(b' ');
        assert_eq!(
            hmac.verify(&headers, &tampered, at),
            Err(HmacError::BadSignature)
        );
        checked += 1;
    }
    assert_eq!(checked, 200);
}

#[test]
fn messages_signed_here_verify_with_the_reference_package() {
    let now = UNIX_EPOCH + Duration::from_secs(unix_now());
    let alphabet: Vec<char> = "ab{}[]\":,. \\\n\t\u{e9}\u{20ac}\u{2603}\u{1F600}"
        .chars()
        .collect();
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut input = String::new();
    let mut expected = Vec::new();
    for i in 0..100 {
        let key: Vec<u8> = (0..16 + i % 48).map(|_| next() as u8).collect();
        let secret = format!("whsec_{}", STANDARD.encode(&key));
        let payload: String = (0..next() % 300)
            .map(|_| alphabet[next() as usize % alphabet.len()])
            .collect();
        let signer = standard_webhooks(&[&secret]);
        let headers: HeaderMap = signer.sign(payload.as_bytes(), now).into_iter().collect();
        let field = |name: &str| headers[name].to_str().unwrap().to_owned();
        let sent = if i % 10 == 9 {
            format!("{payload}!")
        } else {
            payload
        };
        input.push_str(&format!(
            "{secret}\t{}\t{}\t{}\t{}\n",
            field("webhook-id"),
            field("webhook-timestamp"),
            STANDARD.encode(sent.as_bytes()),
            field("webhook-signature"),
        ));
        expected.push(if i % 10 == 9 { "refused" } else { "ok" });
    }
    let output = python(&["verify"], &input);
    let verdicts: Vec<&str> = output
        .lines()
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(verdicts, expected);
}
