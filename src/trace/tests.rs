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
