use super::*;

const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[test]
fn a_valid_traceparent_is_read_back_as_it_was_written() {
    let context = Context::parse(PARENT, Some("vendor=value")).expect("valid");
    assert_eq!(context.traceparent, PARENT);
    assert_eq!(context.tracestate.as_deref(), Some("vendor=value"));
    assert_eq!(Context::parse(PARENT, None).unwrap().tracestate, None);
}

#[test]
fn an_invalid_traceparent_is_no_context() {
    for bad in [
        "",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "zz-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
    ] {
        assert_eq!(Context::parse(bad, None), None, "{bad}");
    }
}

/// A tracer whose root spans are not sampled, exporting nowhere.
fn unsampled_roots() -> Tracer {
    let sampler = opentelemetry_sdk::trace::Sampler::ParentBased(Box::new(
        opentelemetry_sdk::trace::Sampler::AlwaysOff,
    ));
    Tracer::new(&SdkTracerProvider::builder().with_sampler(sampler).build())
}

fn request(headers: &http::HeaderMap) -> Request<'_> {
    Request {
        method: &http::Method::POST,
        version: http::Version::HTTP_11,
        route: Some("/everbright/site-archived"),
        path: "/everbright/site-archived",
        headers,
        peer: None,
        client: None,
        received: std::time::SystemTime::now(),
    }
}

#[test]
fn the_record_carries_the_callers_trace_and_sampling_decision() {
    let tracer = unsampled_roots();
    let mut headers = http::HeaderMap::new();
    headers.insert(TRACEPARENT, PARENT.parse().unwrap());
    headers.insert(TRACESTATE, "vendor=value".parse().unwrap());
    let server = tracer.server(&request(&headers));
    let producer = server.producer(uuid::Uuid::nil(), "everbright.site-archived");
    let context = producer.context().clone();
    let fields: Vec<&str> = context.traceparent.split('-').collect();
    assert_eq!(
        fields[1], "4bf92f3577b34da6a3ce929d0e0e4736",
        "the caller's trace"
    );
    assert_ne!(fields[2], "00f067aa0ba902b7", "the producer span's own id");
    assert_eq!(fields[3], "01", "sampled, as the caller decided");
    assert_eq!(context.tracestate.as_deref(), Some("vendor=value"));
    producer.acked(0, 1);
    server.end(&Outcome::default());
}

#[test]
fn an_unsampled_trace_still_gives_its_record_a_valid_context() {
    let tracer = unsampled_roots();
    let headers = http::HeaderMap::new();
    let server = tracer.server(&request(&headers));
    let producer = server.producer(uuid::Uuid::nil(), "everbright.site-archived");
    let context = producer.context().clone();
    assert!(context.traceparent.ends_with("-00"), "{context:?}");
    assert_eq!(Context::parse(&context.traceparent, None), Some(context));
    producer.failed("ack-timeout");
    server.end(&Outcome::default());
}
