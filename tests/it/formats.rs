//! Every body EverBright can send: JSON, XML and form-urlencoded land as the same
//! CloudEvent; custom routes; captured headers.

use http::StatusCode;

use crate::support::{self, Broker, Endpoints, Server, consume, credential, fixture, post};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_milestone_sample_as_json_xml_and_form_lands_as_the_same_event() {
    let broker = Broker::start();
    let server = Server::start(&support::config(&broker, "", credential::none("open"))).await;
    let url = server.url("/everbright/milestone-status-change");
    let bodies = [
        (
            "application/json",
            fixture("json/milestone-status-change.json"),
        ),
        (
            "application/xml",
            fixture("xml/milestone-status-change.xml"),
        ),
        (
            "application/x-www-form-urlencoded",
            fixture("form/milestone-status-change.txt"),
        ),
    ];
    let mut ids = Vec::new();
    for (content_type, body) in &bodies {
        let answer = post(&url, &[("content-type", content_type)], body.clone()).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "{content_type}: {:?}",
            answer.body
        );
        ids.push(answer.json()["id"].as_str().unwrap().to_string());
    }
    let records = consume(&broker, "everbright.production.milestone-status-change", 3).await;
    assert_eq!(records.len(), 3);
    let by_id = |id: &str| {
        records
            .iter()
            .map(|r| r.json())
            .find(|ce| ce["id"] == id)
            .unwrap()
    };
    let (json, xml, form) = (by_id(&ids[0]), by_id(&ids[1]), by_id(&ids[2]));
    for ce in [&xml, &form] {
        for attribute in ["subject", "siteid", "quoteid", "status", "type", "source"] {
            assert_eq!(ce[attribute], json[attribute], "{attribute}");
        }
        assert_eq!(ce["datacontenttype"], "application/json");
        // Equivalent data: the same structure and identifiers (XML text stays text).
        for pointer in [
            "/site",
            "/quote",
            "/uuid",
            "/milestone_definition",
            "/tasks/1/sub_tasks/0/data/documents/0/uuid",
            "/comments/1/comment",
        ] {
            assert_eq!(
                ce["data"].pointer(pointer),
                json["data"].pointer(pointer),
                "{pointer}"
            );
        }
    }
    assert_eq!(xml["originalcontenttype"], "application/xml");
    assert_eq!(
        form["originalcontenttype"],
        "application/x-www-form-urlencoded"
    );
    assert!(json.get("originalcontenttype").is_none());
    let keys: Vec<_> = records.iter().map(|r| r.key.clone().unwrap()).collect();
    assert!(
        keys.iter()
            .all(|k| k == "157802b4-99aa-4437-b250-934df337766a")
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_converts_in_each_format() {
    let broker = Broker::start();
    let server = Server::start(&support::config(&broker, "", credential::none("open"))).await;
    let slugs: Vec<String> = hookbridge::everbright::Event::ALL
        .iter()
        .map(|e| e.slug().to_string())
        .collect();
    for slug in &slugs {
        for (dir, ext) in [("xml", "xml"), ("form", "txt")] {
            // No Content-Type: the format is sniffed from the body.
            let answer = post(
                &server.url(&format!("/everbright/{slug}")),
                &[],
                fixture(&format!("{dir}/{slug}.{ext}")),
            )
            .await;
            assert_eq!(
                answer.status,
                StatusCode::OK,
                "{dir} {slug}: {:?}",
                answer.body
            );
        }
    }
    for slug in &slugs {
        let records = consume(&broker, &format!("everbright.production.{slug}"), 2).await;
        assert_eq!(records.len(), 2, "{slug}");
        assert_eq!(
            records[0].key, records[1].key,
            "{slug}: same site from XML and form"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_routes_and_captured_headers() {
    let broker = Broker::start();
    let rest = format!(
        "[routes]\n\"/hooks/sighten/milestones\" = \"milestone-status-change\"\n[payload]\ncapture_headers = [\"X-Tenant\", \"X-Request-Id\"]\n{}",
        credential::none("open")
    );
    for (mode, topic_prefix) in [("structured", "s"), ("binary", "b")] {
        let toml = support::config(&broker, "", &rest).replace(
            "ack_timeout = \"3s\"",
            &format!("ack_timeout = \"3s\"\nenvelope = \"{mode}\"\ntopic_template = \"{topic_prefix}.{{environment}}.{{event}}\""),
        );
        let server = Server::start(&toml).await;
        let answer = post(
            &server.url("/hooks/sighten/milestones"),
            &[
                ("x-tenant", "acme-west"),
                ("X-Request-Id", "r-1"),
                ("x-other", "no"),
            ],
            support::payload(support::SITE),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{mode}");
        assert_eq!(
            answer.json()["topic"],
            format!("{topic_prefix}.production.milestone-status-change")
        );
        assert_eq!(
            post(&server.url("/hooks/sighten/milestone"), &[], "{}")
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        let records = consume(
            &broker,
            &format!("{topic_prefix}.production.milestone-status-change"),
            1,
        )
        .await;
        assert_eq!(records.len(), 1, "{mode}");
        let headers = &records[0].headers;
        assert_eq!(headers["x-tenant"], "acme-west", "{mode}");
        assert_eq!(headers["x-request-id"], "r-1", "{mode}");
        assert!(!headers.contains_key("x-other"), "{mode}");
        server.stop().await;
    }
}

#[test]
fn capturing_a_credential_header_fails_check_config() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hookbridge.toml");
    std::fs::write(
        &path,
        "[kafka]\nbrokers = \"b:9092\"\n[payload]\ncapture_headers = [\"X-Signature\", \"Authorization\"]\n[[credentials]]\nname = \"h\"\nscheme = \"hmac-sha256\"\nclient_secret = \"s\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hookbridge"))
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("payload.capture_headers[0]: x-signature carries credentials"),
        "{stderr}"
    );
    assert!(
        stderr.contains("payload.capture_headers[1]: authorization carries credentials"),
        "{stderr}"
    );
}
