//! Integration tests: hookbridge on real sockets against a real Kafka-protocol broker
//! (tansu), with records read back by a real Kafka consumer.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test that cannot set up fails loudly"
)]

mod support;

mod admin;
mod auth;
mod cluster;
mod contract;
mod dedup;
mod doubt;
mod formats;
mod guards;
mod hostile;
mod limits;
mod logs;
mod outage;
mod publish;
mod ratelimit;
mod redrive;
mod reload;
mod secure;
mod shutdown;
mod signed;
mod spool;
mod spooling;
mod topic_limits;
mod traces;
