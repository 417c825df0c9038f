//! One event, one id, one record: requests that carry the same event are answered by
//! one publication.
//!
//! An event is named by its [`EventKey`] (credential, event, the sender's message id or
//! signed time, the body's SHA-256), from which the CloudEvents id derives, so that
//! every replica and every retry gives an event the same id. The [`Cache`]
//! single-flights the copies of an event that arrive together, remembers the answer for
//! the window, whatever the scheme, and shares its capacity fairly between the
//! credentials ([`Owner`]s) that fill it. This module holds no policy about windows or what an answer is: the
//! pipeline decides both.

mod cache;
mod key;

pub use cache::{Cache, Claim, Owner, Seen, Waiter};
pub use key::EventKey;
