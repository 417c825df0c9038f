//! Integration tests: hookbridge on real sockets against a real Kafka-protocol broker
//! (tansu), with records read back by a real Kafka consumer.

mod support;

mod admin;
mod auth;
mod formats;
mod limits;
mod logs;
mod outage;
mod publish;
mod reload;
mod sasl;
mod shutdown;
mod signed;
