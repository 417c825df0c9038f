//! The JSON log line: one object per event, `{"timestamp","level", fields…,"target"}`,
//! written straight into the line buffer.
//!
//! It writes what `tracing-subscriber`'s JSON format writes with `flatten_event` (the
//! same keys, values and timestamp format), at a fraction of the cost: no serde
//! serializer and no `io::Write` adaptor re-checking UTF-8 per piece. The per-request
//! line is the one log line written at every request, so its cost shows in the
//! instruction budget (docs/performance.md). Floats are written in their shortest
//! form, non-finite ones as `null`. Spans are not written: hookbridge opens none.
//!
//! This module decides nothing about levels, filters or where lines go (`main` does).

use std::fmt::{self, Write};
use std::time::SystemTime;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::json_text;

/// The JSON line format (see the module documentation).
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        // Built in a local String (plain pushes, no dynamic dispatch per piece), then
        // handed to the writer whole.
        let meta = event.metadata();
        let mut line = String::with_capacity(LINE_CAPACITY);
        write!(
            line,
            "{{\"timestamp\":\"{}\",\"level\":\"{}\"",
            humantime::format_rfc3339_micros(SystemTime::now()),
            meta.level()
        )?;
        event.record(&mut Fields(&mut line));
        line.push_str(",\"target\":");
        string(&mut line, meta.target());
        line.push_str("}\n");
        writer.write_str(&line)
    }
}

/// Room for a request's line without growing.
const LINE_CAPACITY: usize = 512;

/// Writes each field as `,"name":value`.
struct Fields<'l>(&'l mut String);

impl Fields<'_> {
    fn name(&mut self, field: &Field) -> &mut String {
        self.0.push(',');
        string(self.0, field.name());
        self.0.push(':');
        self.0
    }
}

impl Visit for Fields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        let out = self.name(field);
        if value.is_finite() {
            let _ = write!(out, "{value}");
        } else {
            out.push_str("null");
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        let out = self.name(field);
        if value < 0 {
            out.push('-');
        }
        integer(out, value.unsigned_abs());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        integer(self.name(field), value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.name(field)
            .push_str(if value { "true" } else { "false" });
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        string(self.name(field), value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let out = self.name(field);
        out.push('"');
        // Writing into a String cannot fail.
        let _ = write!(Escaped(out), "{value:?}");
        out.push('"');
    }
}

/// `value` in decimal.
fn integer(out: &mut String, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    for &digit in &digits[start..] {
        out.push(char::from(digit));
    }
}

/// `text` as a JSON string.
fn string(out: &mut String, text: &str) {
    json_text::push_str(out, text);
}

/// `text`, escaped for the inside of a JSON string.
fn escape(out: &mut String, text: &str) {
    json_text::push_escaped(out, text);
}

/// Escapes what a `Debug` implementation writes.
struct Escaped<'o>(&'o mut String);

impl Write for Escaped<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        escape(self.0, text);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Captured {
            self.clone()
        }
    }

    /// The lines `emit` logs, through `JsonLines` and through tracing-subscriber's own
    /// JSON format.
    fn both(emit: impl Fn()) -> (String, String) {
        let ours = Captured::default();
        let theirs = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(ours.clone())
            .event_format(JsonLines)
            .finish();
        tracing::subscriber::with_default(subscriber, &emit);
        let subscriber = tracing_subscriber::fmt()
            .with_writer(theirs.clone())
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .finish();
        tracing::subscriber::with_default(subscriber, &emit);
        let text = |c: Captured| String::from_utf8(c.0.lock().unwrap().clone()).unwrap();
        (text(ours), text(theirs))
    }

    #[test]
    fn lines_hold_what_the_tracing_subscriber_json_format_holds() {
        let (ours, theirs) = both(|| {
            let error = std::io::Error::other("broken \"pipe\"");
            tracing::warn!(
                event = "milestone-status-change",
                status = 401_u16,
                offset = -3_i64,
                zero = 0_u64,
                largest = u64::MAX,
                smallest = i64::MIN,
                duration_ms = 0.127,
                deduplicated = false,
                detail = %error,
                quoted = "tab\there \"and\" \\ line\nbreak \u{1} é",
                "webhook refused"
            );
            tracing::info!(nan = f64::NAN, "odd number");
        });
        let parse = |text: &str| -> Vec<serde_json::Value> {
            text.lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        };
        let (mut ours, mut theirs) = (parse(&ours), parse(&theirs));
        assert_eq!(ours.len(), 2);
        for (a, b) in ours.iter_mut().zip(theirs.iter_mut()) {
            // Taken a few microseconds apart; the format is the same.
            let (ta, tb) = (a["timestamp"].take(), b["timestamp"].take());
            assert_eq!(ta.as_str().unwrap().len(), tb.as_str().unwrap().len());
            assert!(ta.as_str().unwrap().ends_with('Z'));
        }
        assert_eq!(ours, theirs);
        assert_eq!(ours[0]["duration_ms"], 0.127);
        assert_eq!(ours[0]["detail"], "broken \"pipe\"");
    }
}
