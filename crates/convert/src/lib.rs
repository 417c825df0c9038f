//! hookbridge's body converters: EverBright webhooks sent as XML or
//! form-urlencoded become JSON, so that consumers see the same CloudEvents as
//! for JSON bodies.
//!
//! - [`format`]: which of JSON, XML and form a body is (Content-Type, else sniffing);
//! - [`xml`]: XML → JSON (the layout Python frameworks emit for dicts and lists);
//! - [`form`]: `application/x-www-form-urlencoded` → JSON (bracket and dot notation).
//!
//! Pure and bounded: no I/O, streaming parsers, limits on depth and size, and
//! refusals (never guesses) for hostile or malformed input. It is a crate of its
//! own so that it can be fuzzed without building the Kafka client.

pub mod form;
pub mod format;
mod tree;
pub mod xml;
