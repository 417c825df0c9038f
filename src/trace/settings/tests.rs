use std::collections::HashMap;

use super::*;

fn read(vars: &[(&str, &str)]) -> Result<Option<Settings>, Problems> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::from_env(&|name| map.get(name).cloned())
}

fn on(vars: &[(&str, &str)]) -> Settings {
    read(vars).unwrap().expect("tracing on")
}

fn problems(vars: &[(&str, &str)]) -> Vec<(&'static str, String)> {
    read(vars)
        .unwrap_err()
        .0
        .into_iter()
        .map(|p| (p.variable, p.message))
        .collect()
}

const BASE: (&str, &str) = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318");

#[test]
fn off_unless_an_endpoint_or_the_otlp_exporter_is_named() {
    assert_eq!(read(&[]).unwrap(), None);
    // Without an endpoint, other variables are not even read.
    assert_eq!(read(&[("OTEL_TRACES_SAMPLER", "nonsense")]).unwrap(), None);
    assert_eq!(
        on(&[("OTEL_TRACES_EXPORTER", "otlp")]).endpoint,
        DEFAULT_ENDPOINT
    );
    assert!(read(&[BASE]).unwrap().is_some());
}

#[test]
fn none_and_sdk_disabled_turn_it_off_whatever_else_is_set() {
    assert_eq!(
        read(&[BASE, ("OTEL_TRACES_EXPORTER", "none")]).unwrap(),
        None
    );
    assert_eq!(read(&[BASE, ("OTEL_SDK_DISABLED", "TRUE")]).unwrap(), None);
    assert!(
        read(&[BASE, ("OTEL_SDK_DISABLED", "false")])
            .unwrap()
            .is_some()
    );
    assert_eq!(
        problems(&[BASE, ("OTEL_SDK_DISABLED", "yes")]),
        [("OTEL_SDK_DISABLED", "must be true or false".to_string())]
    );
    assert_eq!(
        problems(&[("OTEL_TRACES_EXPORTER", "zipkin")])[0].0,
        "OTEL_TRACES_EXPORTER"
    );
}

#[test]
fn the_base_endpoint_gets_the_traces_path_and_the_signal_endpoint_is_kept_as_it_is() {
    assert_eq!(on(&[BASE]).endpoint, "http://collector:4318/v1/traces");
    let trailing = (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "https://collector:4318/otlp/",
    );
    assert_eq!(
        on(&[trailing]).endpoint,
        "https://collector:4318/otlp/v1/traces"
    );
    let signal = (
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "http://other:9999/custom",
    );
    assert_eq!(on(&[BASE, signal]).endpoint, "http://other:9999/custom");
    for bad in ["collector:4318", "grpc://collector:4317", "http://"] {
        let found = problems(&[("OTEL_EXPORTER_OTLP_ENDPOINT", bad)]);
        assert_eq!(found[0].0, "OTEL_EXPORTER_OTLP_ENDPOINT", "{bad}");
    }
}

#[test]
fn only_http_protobuf_is_offered() {
    assert!(read(&[BASE, ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")]).is_ok());
    for protocol in ["grpc", "http/json"] {
        let found = problems(&[BASE, ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)]);
        assert_eq!(found[0].0, "OTEL_EXPORTER_OTLP_PROTOCOL");
        assert!(found[0].1.contains("http/protobuf"), "{}", found[0].1);
    }
    // The signal's own variable wins over the general one.
    let settings = read(&[
        BASE,
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
    ]);
    assert!(settings.is_ok());
}

#[test]
fn samplers_follow_the_specification_names() {
    let sampler = |name: &str, arg: Option<&str>| {
        let mut vars = vec![BASE, ("OTEL_TRACES_SAMPLER", name)];
        vars.extend(arg.map(|a| ("OTEL_TRACES_SAMPLER_ARG", a)));
        on(&vars).sampler
    };
    assert_eq!(on(&[BASE]).sampler, Sampler::ParentBased(Root::AlwaysOn));
    assert_eq!(sampler("always_on", None), Sampler::AlwaysOn);
    assert_eq!(sampler("always_off", None), Sampler::AlwaysOff);
    assert_eq!(sampler("traceidratio", Some("0.25")), Sampler::Ratio(0.25));
    assert_eq!(sampler("traceidratio", None), Sampler::Ratio(1.0));
    assert_eq!(
        sampler("parentbased_always_off", None),
        Sampler::ParentBased(Root::AlwaysOff)
    );
    assert_eq!(
        sampler("parentbased_traceidratio", Some("0.1")),
        Sampler::ParentBased(Root::Ratio(0.1))
    );
    let found = problems(&[
        BASE,
        ("OTEL_TRACES_SAMPLER", "traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
    ]);
    assert_eq!(found[0].0, "OTEL_TRACES_SAMPLER_ARG");
    let found = problems(&[BASE, ("OTEL_TRACES_SAMPLER", "jaeger_remote")]);
    assert_eq!(found[0].0, "OTEL_TRACES_SAMPLER");
}

#[test]
fn the_service_name_comes_from_its_variable_then_the_resource_attributes() {
    assert_eq!(on(&[BASE]).service_name, DEFAULT_SERVICE_NAME);
    let attributes = (
        "OTEL_RESOURCE_ATTRIBUTES",
        "service.name=bridge,deployment.environment.name=prod%20eu, k8s.pod.name=hb-0",
    );
    let settings = on(&[BASE, attributes]);
    assert_eq!(settings.service_name, "bridge");
    assert_eq!(
        settings.resource,
        [
            (
                "deployment.environment.name".to_string(),
                "prod eu".to_string()
            ),
            ("k8s.pod.name".to_string(), "hb-0".to_string()),
        ]
    );
    let named = on(&[BASE, attributes, ("OTEL_SERVICE_NAME", "hookbridge-eu")]);
    assert_eq!(named.service_name, "hookbridge-eu");
    let found = problems(&[BASE, ("OTEL_RESOURCE_ATTRIBUTES", "novalue")]);
    assert_eq!(found[0].0, "OTEL_RESOURCE_ATTRIBUTES");
}

#[test]
fn headers_are_decoded_and_never_shown() {
    let headers = (
        "OTEL_EXPORTER_OTLP_HEADERS",
        "x-api-key=s3cr3t%3D%3D, x-team=bridge",
    );
    let settings = on(&[BASE, headers]);
    assert_eq!(
        settings.headers,
        [
            ("x-api-key".to_string(), "s3cr3t==".to_string()),
            ("x-team".to_string(), "bridge".to_string()),
        ]
    );
    assert!(!format!("{settings:?}").contains("s3cr3t"));
    let bad = ("OTEL_EXPORTER_OTLP_HEADERS", "bad header=s3cr3t");
    let message = read(&[BASE, bad]).unwrap_err().to_string();
    assert!(message.contains("OTEL_EXPORTER_OTLP_HEADERS"), "{message}");
    assert!(!message.contains("s3cr3t"), "{message}");
}

#[test]
fn timeouts_compression_and_batching_are_read_and_checked() {
    let settings = on(&[
        BASE,
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
        ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "64"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "512"),
    ]);
    assert_eq!(settings.timeout, Duration::from_millis(2500));
    assert!(settings.gzip);
    assert_eq!(settings.batch.schedule_delay, Duration::from_millis(100));
    assert_eq!(settings.batch.max_queue_size, 64);
    // A batch is never larger than the queue.
    assert_eq!(settings.batch.max_export_batch_size, 64);
    let found = problems(&[
        BASE,
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "0"),
    ]);
    let variables: Vec<&str> = found.iter().map(|(v, _)| *v).collect();
    assert_eq!(
        variables,
        [
            "OTEL_EXPORTER_OTLP_TIMEOUT",
            "OTEL_EXPORTER_OTLP_COMPRESSION",
            "OTEL_BSP_MAX_QUEUE_SIZE"
        ]
    );
}

#[test]
fn certificate_files_are_read_and_a_key_needs_its_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, b"-----BEGIN CERTIFICATE-----").unwrap();
    let ca = ca.to_str().unwrap();
    let settings = on(&[BASE, ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca)]);
    assert_eq!(
        settings.certificate.as_deref(),
        Some(&b"-----BEGIN CERTIFICATE-----"[..])
    );
    let found = problems(&[
        BASE,
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem"),
    ]);
    assert_eq!(found[0].0, "OTEL_EXPORTER_OTLP_CERTIFICATE");
    let found = problems(&[BASE, ("OTEL_EXPORTER_OTLP_CLIENT_KEY", ca)]);
    assert_eq!(found[0].0, "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE");
}

#[test]
fn every_problem_is_reported_at_once() {
    let found = problems(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "nope"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_TRACES_SAMPLER", "sometimes"),
    ]);
    assert_eq!(found.len(), 3, "{found:?}");
}

#[test]
fn the_shown_endpoint_leaves_out_user_information() {
    let settings = on(&[(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "https://user:s3cr3t@collector.example:4318/v1/traces",
    )]);
    assert_eq!(
        settings.shown_endpoint(),
        "https://collector.example:4318/v1/traces"
    );
}
