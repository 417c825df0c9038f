use super::*;

fn answered(health: &Health, at: Instant) {
    health.probed(Some("127.0.0.1:9092/1"), Some("cluster-a".into()), at);
}

#[test]
fn a_producer_nobody_used_is_ready_while_the_broker_answers() {
    let health = Health::default();
    let producer = health.producer();
    let t = Instant::now();
    assert_eq!(
        health.readiness(&producer, t),
        Readiness::BrokerUnreachable {
            unreachable: Vec::new()
        }
    );
    answered(&health, t);
    assert_eq!(health.readiness(&producer, t), Readiness::Ready);
    assert_eq!(
        health.readiness(&producer, t + READY_WITHIN),
        Readiness::BrokerUnreachable {
            unreachable: Vec::new()
        }
    );
    assert_eq!(health.verdict(&producer, t + READY_WITHIN), None);
}

#[test]
fn failures_while_the_broker_answers_mean_stuck_and_an_ack_clears_them() {
    let health = Health::default();
    let producer = health.producer();
    let t = Instant::now();
    answered(&health, t);
    for i in 0..STUCK_AFTER {
        assert_eq!(
            health.readiness(&producer, t),
            Readiness::Ready,
            "after {i} failures"
        );
        health.failed(&producer, "t", ErrorKind::AckTimeout, t);
    }
    assert_eq!(
        health.readiness(&producer, t),
        Readiness::NotAcknowledging {
            unreachable: Vec::new()
        }
    );
    // Not before the broker answered after the failures began, and not at once.
    assert_eq!(health.verdict(&producer, t + REPLACE_AFTER), None);
    answered(&health, t + Duration::from_millis(10));
    assert_eq!(
        health.verdict(&producer, t + Duration::from_millis(10)),
        None
    );
    assert_eq!(
        health.verdict(&producer, t + REPLACE_AFTER),
        Some(Replace::Stuck)
    );
    health.acked(&producer);
    assert_eq!(
        health.readiness(&producer, t + REPLACE_AFTER),
        Readiness::Ready
    );
    assert_eq!(health.verdict(&producer, t + REPLACE_AFTER), None);
}

#[test]
fn only_failures_that_say_records_do_not_get_through_count() {
    let health = Health::default();
    let producer = health.producer();
    let t = Instant::now();
    answered(&health, t);
    for kind in ErrorKind::ALL {
        let counts = kind.is_outage();
        if kind == ErrorKind::Fenced {
            continue;
        }
        let fresh = health.producer();
        for _ in 0..STUCK_AFTER {
            health.failed(&fresh, "t", kind, t);
        }
        assert_eq!(
            !health.readiness(&fresh, t).is_ready(),
            counts,
            "{kind:?} after {STUCK_AFTER} failures"
        );
    }
    assert!(health.readiness(&producer, t).is_ready());
}

#[test]
fn a_fencing_replaces_at_once_and_the_old_producer_is_forgotten() {
    let health = Health::default();
    let old = health.producer();
    let t = Instant::now();
    answered(&health, t);
    health.failed(&old, "t", ErrorKind::Fenced, t);
    assert!(!health.readiness(&old, t).is_ready());
    assert_eq!(health.verdict(&old, t), Some(Replace::Fenced));
    health.replaced(t);
    let fresh = health.producer();
    assert_eq!(health.verdict(&fresh, t), None);
    // The old producer's queued records time out later: late news.
    for _ in 0..STUCK_AFTER {
        health.failed(&old, "t", ErrorKind::TimedOut, t);
    }
    assert_eq!(health.readiness(&fresh, t), Readiness::Ready);
    assert_eq!(health.verdict(&fresh, t + REPLACE_AFTER), None);
}

#[test]
fn replacements_without_an_ack_back_off_and_an_ack_resets_them() {
    let health = Health::default();
    let mut t = Instant::now();
    let stuck = |health: &Health, at: Instant| {
        let producer = health.producer();
        for _ in 0..STUCK_AFTER {
            health.failed(&producer, "t", ErrorKind::TimedOut, at);
        }
        health.probed(
            Some("127.0.0.1:9092/1"),
            None,
            at + Duration::from_millis(1),
        );
        producer
    };
    let mut waits = Vec::new();
    for _ in 0..8 {
        let producer = stuck(&health, t);
        let mut now = t + REPLACE_AFTER;
        while health.verdict(&producer, now).is_none() {
            now += Duration::from_millis(250);
            assert!(now < t + REPLACE_BACKOFF_MAX * 2, "never replaced");
        }
        waits.push(now.saturating_duration_since(t));
        health.replaced(now);
        t = now;
    }
    // 1 s, then 2, 4, 8, 16, 32, 60, 60: no storm.
    let secs: Vec<u64> = waits.iter().map(|w| w.as_secs()).collect();
    assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60]);
    let producer = stuck(&health, t);
    health.acked(&producer);
    let producer = stuck(&health, t);
    assert_eq!(
        health.verdict(&producer, t + REPLACE_AFTER),
        Some(Replace::Stuck)
    );
}

#[test]
fn readiness_names_credentials_certificates_rights_and_unreachable_brokers() {
    let health = Health::default();
    let producer = health.producer();
    let t = Instant::now();
    health.client_error(ErrorKind::Authentication, None, t);
    assert_eq!(
        health.readiness(&producer, t),
        Readiness::AuthenticationFailed
    );
    health.client_error(ErrorKind::Tls, None, t);
    assert_eq!(health.readiness(&producer, t), Readiness::TlsFailed);
    assert_eq!(
        health.readiness(&producer, t + READY_WITHIN),
        Readiness::TlsFailed
    );
    assert_eq!(
        health.readiness(&producer, t + DOWN_FOR),
        Readiness::BrokerUnreachable {
            unreachable: Vec::new()
        }
    );
    answered(&health, t);
    health.client_error(ErrorKind::Transport, Some("127.0.0.1:9093/2"), t);
    health.client_error(ErrorKind::Transport, Some("127.0.0.1:9094/3"), t);
    for _ in 0..STUCK_AFTER {
        health.failed(&producer, "t", ErrorKind::TimedOut, t);
    }
    let readiness = health.readiness(&producer, t);
    assert_eq!(
        readiness.reason(),
        "records not acknowledged; cannot connect to 127.0.0.1:9093/2, 127.0.0.1:9094/3"
    );
    let fatal = health.producer();
    fatal.fenced(ErrorKind::Authorization);
    assert_eq!(health.readiness(&fatal, t), Readiness::NotAuthorized);
}

#[test]
fn a_topic_that_refuses_records_is_a_warning_not_unreadiness() {
    let health = Health::default();
    let producer = health.producer();
    let t = Instant::now();
    answered(&health, t);
    for _ in 0..10 {
        health.failed(
            &producer,
            "everbright.production.site-archived",
            ErrorKind::UnknownTopic,
            t,
        );
    }
    assert_eq!(health.readiness(&producer, t), Readiness::Ready);
    assert_eq!(
        health.warnings(t),
        ["topic everbright.production.site-archived refuses records: unknown-topic"]
    );
    assert!(health.warnings(t + READY_WITHIN * 12).is_empty());
}

#[test]
fn another_cluster_id_is_reported_once() {
    let health = Health::default();
    let t = Instant::now();
    let by = Some("127.0.0.1:9092/1");
    assert!(!health.probed(by, Some("a".into()), t));
    assert!(!health.probed(by, Some("a".into()), t));
    assert!(!health.probed(None, None, t));
    assert!(health.probed(by, Some("b".into()), t));
    assert!(!health.probed(by, Some("b".into()), t));
}

#[tokio::test]
async fn a_fencing_wakes_the_supervisor() {
    let health = Health::default();
    let producer = health.producer();
    producer.failed(ErrorKind::Fenced, Instant::now());
    tokio::time::timeout(Duration::from_secs(1), health.fenced())
        .await
        .expect("woken");
}

#[test]
fn no_replacement_while_a_broker_refuses_connections_and_a_revived_one_gets_time() {
    let health = Health::default();
    let producer = health.producer();
    let t = Instant::now();
    for _ in 0..STUCK_AFTER {
        health.failed(&producer, "t", ErrorKind::TimedOut, t);
    }
    // Two of three brokers down; the third answers metadata but cannot take writes.
    health.client_error(ErrorKind::Transport, Some("sasl_ssl://127.0.0.1:9093/2"), t);
    health.client_error(ErrorKind::Transport, Some("127.0.0.1:9094/3"), t);
    let survivor = Some("127.0.0.1:9092/1");
    for s in 1..60 {
        let now = t + Duration::from_secs(s);
        health.probed(survivor, None, now);
        assert_eq!(health.verdict(&producer, now), None, "after {s} s");
    }
    // Without fresh connection failures for DOWN_FOR, they no longer hold it back.
    let later = t + DOWN_FOR;
    health.probed(survivor, None, later);
    assert_eq!(health.verdict(&producer, later), Some(Replace::Stuck));

    // A single broker that restarted: once it answers again, it has REPLACE_AFTER to
    // acknowledge what was queued before the producer counts as stuck.
    let health = Health::default();
    let producer = health.producer();
    for _ in 0..STUCK_AFTER {
        health.failed(&producer, "t", ErrorKind::TimedOut, t);
    }
    health.client_error(ErrorKind::Transport, Some("127.0.0.1:9092/bootstrap"), t);
    let back = t + Duration::from_secs(3);
    health.probed(Some("127.0.0.1:9092/111"), None, back);
    assert_eq!(health.verdict(&producer, back), None);
    assert_eq!(
        health.verdict(&producer, back + REPLACE_AFTER),
        Some(Replace::Stuck)
    );
}

#[test]
fn broker_addresses_ignore_protocol_and_id() {
    assert_eq!(
        address_of("sasl_ssl://kafka-0.kafka:9093/2"),
        "kafka-0.kafka:9093"
    );
    assert_eq!(address_of("127.0.0.1:9092/bootstrap"), "127.0.0.1:9092");
    assert_eq!(address_of("127.0.0.1:9092"), "127.0.0.1:9092");
}
