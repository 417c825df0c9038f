//! The topics' own size limits: does every record hookbridge may produce fit?
//!
//! A topic refuses record batches above its `max.message.bytes` (Apache Kafka's
//! default: 1,048,588 bytes), whatever librdkafka allows. hookbridge accepts bodies up
//! to `server.max_body_bytes`, whose largest record is `kafka.max_record_bytes`; when a
//! topic's limit is below that, some webhooks would be refused at request time (413).
//! [`check`] asks the cluster for each topic's effective limit (DescribeConfigs; for a
//! topic that does not exist yet, the broker's `message.max.bytes`, which an
//! auto-created topic inherits) and [`Limit::finding`] says which fall short. Callers
//! decide what to do with the findings: warn (the publisher), fail (`check-config
//! --kafka`). Compression may let a large JSON body through a smaller limit, but
//! nothing guarantees it, so the comparison is with the uncompressed size.

use std::fmt;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use crate::config::Kafka;

/// One topic's effective record limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// The topic.
    pub topic: String,
    /// Its `max.message.bytes`.
    pub max_message_bytes: usize,
    /// Where the figure comes from.
    pub source: Source,
}

/// Where a [`Limit`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The topic's own configuration (set on the topic, or the broker's default).
    Topic,
    /// The topic does not exist yet: the broker's `message.max.bytes`, which an
    /// auto-created topic inherits.
    NotCreated,
}

impl Limit {
    /// The warning for this topic when records of up to `max_record_bytes` do not fit.
    pub fn finding(&self, max_record_bytes: usize) -> Option<Finding> {
        (self.max_message_bytes < max_record_bytes).then(|| Finding {
            limit: self.clone(),
            max_record_bytes,
        })
    }
}

/// A topic whose limit is below the largest record hookbridge may produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The topic and its limit.
    pub limit: Limit,
    /// The largest record hookbridge may produce (`kafka.max_record_bytes`).
    pub max_record_bytes: usize,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let subject = format!("topic {}", self.limit.topic);
        f.write_str(&sentence(
            &subject,
            "takes",
            &self.limit,
            self.max_record_bytes,
        ))
    }
}

/// "{subject} {verb} records up to … bytes …, but …: raise …".
fn sentence(subject: &str, verb: &str, limit: &Limit, max_record_bytes: usize) -> String {
    let created = match limit.source {
        Source::Topic => "",
        Source::NotCreated => " (not created yet: the broker's message.max.bytes)",
    };
    format!(
        "{subject} {verb} records up to {} bytes{created}, but server.max_body_bytes allows records up to {max_record_bytes} bytes: raise max.message.bytes, or lower server.max_body_bytes",
        limit.max_message_bytes
    )
}

/// The findings as few lines as they allow: one per limit and source, naming its
/// topics (a cluster whose topics are auto-created gives them all the same limit).
pub fn summary(findings: &[Finding]) -> Vec<String> {
    let mut groups: Vec<(&Finding, Vec<&str>)> = Vec::new();
    for finding in findings {
        let same = |(first, _): &&mut (&Finding, Vec<&str>)| {
            first.limit.max_message_bytes == finding.limit.max_message_bytes
                && first.limit.source == finding.limit.source
        };
        match groups.iter_mut().find(same) {
            Some((_, topics)) => topics.push(&finding.limit.topic),
            None => groups.push((finding, vec![&finding.limit.topic])),
        }
    }
    groups
        .into_iter()
        .map(|(first, topics)| match topics.as_slice() {
            [_] => first.to_string(),
            _ => format!(
                "{} ({})",
                sentence(
                    &format!("{} topics", topics.len()),
                    "take",
                    &first.limit,
                    first.max_record_bytes
                ),
                topics.join(", ")
            ),
        })
        .collect()
}

/// The topics of `topics` whose limit is below `kafka.max_record_bytes`, asked of the
/// cluster `kafka` configures (for `check-config --kafka`).
pub async fn findings(kafka: &Kafka, topics: &[String]) -> Result<Vec<Finding>, KafkaError> {
    let limits = check(&super::kafka::client_config(kafka), topics).await?;
    Ok(limits
        .iter()
        .filter_map(|l| l.finding(kafka.max_record_bytes))
        .collect())
}

/// How long the whole lookup may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The effective limit of each of `topics`, asked of the cluster `config` reaches.
pub async fn check(config: &ClientConfig, topics: &[String]) -> Result<Vec<Limit>, KafkaError> {
    let admin: AdminClient<DefaultClientContext> = config.create()?;
    let options = AdminOptions::new().request_timeout(Some(TIMEOUT));
    let specifiers: Vec<ResourceSpecifier<'_>> =
        topics.iter().map(|t| ResourceSpecifier::Topic(t)).collect();
    let results = admin.describe_configs(&specifiers, &options).await?;
    let mut limits = Vec::with_capacity(topics.len());
    let mut missing = Vec::new();
    for (topic, result) in topics.iter().zip(results) {
        // A topic that does not exist is an error in some brokers' answers, and a
        // resource without entries in Apache Kafka 4's.
        match result.map(|r| max_message_bytes(&r, "max.message.bytes")) {
            Ok(Some(bytes)) => limits.push(Limit {
                topic: topic.clone(),
                max_message_bytes: bytes,
                source: Source::Topic,
            }),
            Ok(None) | Err(RDKafkaErrorCode::UnknownTopicOrPartition) => {
                missing.push(topic.clone());
            }
            Err(code) => return Err(KafkaError::AdminOp(code)),
        }
    }
    if !missing.is_empty() {
        let default = broker_default(&admin, &options).await?;
        limits.extend(missing.into_iter().map(|topic| Limit {
            topic,
            max_message_bytes: default,
            source: Source::NotCreated,
        }));
    }
    Ok(limits)
}

/// The `message.max.bytes` of a broker the client knows: what new topics get.
async fn broker_default(
    admin: &AdminClient<DefaultClientContext>,
    options: &AdminOptions,
) -> Result<usize, KafkaError> {
    let metadata = admin.inner().fetch_metadata(None, TIMEOUT)?;
    let broker = metadata
        .brokers()
        .first()
        .map(|b| b.id())
        .ok_or(KafkaError::AdminOp(RDKafkaErrorCode::BrokerNotAvailable))?;
    let results = admin
        .describe_configs(&[ResourceSpecifier::Broker(broker)], options)
        .await?;
    results
        .into_iter()
        .next()
        .ok_or(KafkaError::AdminOp(RDKafkaErrorCode::BrokerNotAvailable))?
        .map_err(KafkaError::AdminOp)
        .and_then(|resource| {
            max_message_bytes(&resource, "message.max.bytes")
                .ok_or(KafkaError::AdminOp(RDKafkaErrorCode::InvalidConfig))
        })
}

fn max_message_bytes(resource: &rdkafka::admin::ConfigResource, name: &str) -> Option<usize> {
    resource.get(name)?.value.as_deref()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(bytes: usize, source: Source) -> Limit {
        Limit {
            topic: "everbright.production.site-archived".into(),
            max_message_bytes: bytes,
            source,
        }
    }

    #[test]
    fn a_limit_below_the_largest_record_is_a_finding_that_says_what_to_do() {
        assert_eq!(limit(1_594_712, Source::Topic).finding(1_594_712), None);
        let finding = limit(1_048_588, Source::Topic)
            .finding(1_594_712)
            .expect("too small");
        assert_eq!(
            finding.to_string(),
            "topic everbright.production.site-archived takes records up to 1048588 bytes, but server.max_body_bytes allows records up to 1594712 bytes: raise max.message.bytes, or lower server.max_body_bytes"
        );
        let unborn = limit(1_048_588, Source::NotCreated).finding(1_594_712);
        assert!(
            unborn
                .expect("too small")
                .to_string()
                .contains("(not created yet: the broker's message.max.bytes)")
        );
    }

    #[test]
    fn findings_of_one_limit_make_one_line() {
        let finding = |topic: &str, bytes: usize, source: Source| {
            Limit {
                topic: topic.into(),
                max_message_bytes: bytes,
                source,
            }
            .finding(1_594_712)
            .expect("too small")
        };
        let lines = summary(&[
            finding("a", 1_048_588, Source::NotCreated),
            finding("b", 65_536, Source::Topic),
            finding("c", 1_048_588, Source::NotCreated),
        ]);
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].starts_with("2 topics take records up to 1048588 bytes (not created yet"),
            "{}",
            lines[0]
        );
        assert!(lines[0].ends_with("(a, c)"), "{}", lines[0]);
        assert!(
            lines[1].starts_with("topic b takes records up to 65536 bytes, but"),
            "{}",
            lines[1]
        );
    }
}
