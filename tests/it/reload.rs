//! Live reload: rotating a mounted secret while serving, refusing a bad config, and
//! SIGHUP.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use http::StatusCode;

use hookbridge::reload::POLL_INTERVAL;

use crate::support::credential::{self, file};
use crate::support::{self, Broker, Endpoints, Process, Server, Signal, post};

/// Publishes a new version of a Kubernetes-style secret volume: files in a fresh
/// directory, then `..data` swapped to it atomically (what the kubelet does).
fn publish_secret(dir: &Path, version: u32, files: &[(&str, &str)]) {
    let target = dir.join(format!("..v{version}"));
    std::fs::create_dir(&target).unwrap();
    for (name, value) in files {
        std::fs::write(target.join(name), format!("{value}\n")).unwrap();
        let link = dir.join(name);
        if !link.exists() {
            symlink(Path::new("..data").join(name), &link).unwrap();
        }
    }
    let tmp = dir.join("..data_tmp");
    symlink(format!("..v{version}"), &tmp).unwrap();
    std::fs::rename(&tmp, dir.join("..data")).unwrap();
}

const RELOADS: &str = "hookbridge_config_reloads_total";

async fn reloads(hookbridge: &impl Endpoints, result: &str) -> f64 {
    hookbridge
        .metrics()
        .await
        .value(RELOADS, &[("result", result)])
}

async fn wait_for_reloads(hookbridge: &impl Endpoints, result: &str, count: f64) {
    let labels = [("result", result)];
    hookbridge
        .wait_for_metric(RELOADS, &labels, |n| n >= count)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_a_mounted_secret_while_serving_fails_no_request() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets");
    std::fs::create_dir(&secrets).unwrap();
    publish_secret(&secrets, 1, &[("current", "key-a"), ("previous", "key-a")]);
    let toml = support::config(
        &broker,
        "",
        credential::header(
            "engine",
            [file("secrets/current"), file("secrets/previous")],
        ),
    );
    let path = dir.path().join("hookbridge.toml");
    std::fs::write(&path, &toml).unwrap();
    let config = hookbridge::config::Config::load(&path, Arc::new(|_: &str| None)).unwrap();
    let server = Server::start_config(config).await;
    let url = server.url("/everbright/stage-transition");

    // EverBright keeps sending, with whichever key it has been given.
    let use_new_key = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let sender = {
        let (url, use_new_key, stop, sent) =
            (url.clone(), use_new_key.clone(), stop.clone(), sent.clone());
        tokio::spawn(async move {
            let mut failures = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let key = if use_new_key.load(Ordering::SeqCst) {
                    "key-b"
                } else {
                    "key-a"
                };
                let answer =
                    post(&url, &[("x-api-key", key)], support::payload(support::SITE)).await;
                if answer.status != StatusCode::OK {
                    failures.push((key, answer.status));
                }
                sent.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            failures
        })
    };

    // Step 1: the new key becomes current, the old one stays accepted.
    publish_secret(&secrets, 2, &[("current", "key-b"), ("previous", "key-a")]);
    wait_for_reloads(&server, "success", 1.0).await;
    use_new_key.store(true, Ordering::SeqCst);
    // Step 2: the old key is removed.
    publish_secret(&secrets, 3, &[("current", "key-b"), ("previous", "key-b")]);
    wait_for_reloads(&server, "success", 2.0).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    let failures = sender.await.unwrap();
    assert!(
        failures.is_empty(),
        "requests failed during rotation: {failures:?}"
    );
    assert!(sent.load(Ordering::SeqCst) > 20, "the sender kept sending");

    let old = post(
        &url,
        &[("x-api-key", "key-a")],
        support::payload(support::SITE),
    )
    .await;
    assert_eq!(
        old.status,
        StatusCode::UNAUTHORIZED,
        "the removed key is refused"
    );
    let new = post(
        &url,
        &[("x-api-key", "key-b")],
        support::payload(support::SITE),
    )
    .await;
    assert_eq!(new.status, StatusCode::OK);

    // A broken config is refused and counted; the running one keeps serving.
    std::fs::write(
        &path,
        toml.replace("scheme = \"header\"", "scheme = \"hedaer\""),
    )
    .unwrap();
    wait_for_reloads(&server, "failure", 1.0).await;
    let still = post(
        &url,
        &[("x-api-key", "key-b")],
        support::payload(support::SITE),
    )
    .await;
    assert_eq!(still.status, StatusCode::OK);
    assert_eq!(reloads(&server, "success").await, 2.0);
    server.stop().await;
}

/// SIGHUP alone reloads: the file stays unchanged, so the file poll has nothing to
/// react to and only the signal can move the success counter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_an_unchanged_config_file() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hookbridge.toml");
    let credentials = credential::header("engine", "key");
    let toml = support::config(&broker, support::EPHEMERAL_PORTS, credentials);
    std::fs::write(&path, toml).unwrap();
    let mut hookbridge = Process::serve(&path).await;

    // A full poll interval with the file unchanged: no reload.
    tokio::time::sleep(POLL_INTERVAL + Duration::from_millis(500)).await;
    assert_eq!(reloads(&hookbridge, "success").await, 0.0);

    hookbridge.signal(Signal::Hup).await;
    wait_for_reloads(&hookbridge, "success", 1.0).await;
    assert_eq!(
        reloads(&hookbridge, "success").await,
        1.0,
        "one reload per SIGHUP"
    );
    assert_eq!(reloads(&hookbridge, "failure").await, 0.0);
    assert!(hookbridge.is_running(), "SIGHUP must not stop hookbridge");
    hookbridge.terminate().await;
}
