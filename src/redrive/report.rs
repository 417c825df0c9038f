//! What a redrive did, per dead-letter topic: the dead letters examined, republished
//! (or, in a dry run, that would be), still failing by reason, and records that are
//! not hookbridge dead letters; printed when the run ends, and as a progress line
//! while it runs.

use std::collections::BTreeMap;
use std::fmt;

/// What became of one examined record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Republished to its event topic and acknowledged.
    Republished,
    /// Would be republished (dry run).
    WouldRepublish,
    /// Still not an event under today's config (a dead-letter reason), or refused by
    /// the event topic for good (`message-too-large`); it stays on its topic.
    StillFailing(&'static str),
    /// Not a dead letter hookbridge wrote; left alone.
    Unreadable,
}

/// The counts of one topic, or of all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Records read from the topic.
    pub examined: u64,
    /// Republished (or would be, in a dry run).
    pub republished: u64,
    /// Still failing, by reason.
    pub still_failing: BTreeMap<&'static str, u64>,
    /// Not hookbridge dead letters.
    pub unreadable: u64,
}

impl Tally {
    /// Counts one outcome.
    pub fn add(&mut self, outcome: Outcome) {
        self.examined += 1;
        match outcome {
            Outcome::Republished | Outcome::WouldRepublish => self.republished += 1,
            Outcome::StillFailing(reason) => *self.still_failing.entry(reason).or_default() += 1,
            Outcome::Unreadable => self.unreadable += 1,
        }
    }

    /// The sum of `self` and `other`.
    fn merged(mut self, other: &Tally) -> Tally {
        self.examined += other.examined;
        self.republished += other.republished;
        self.unreadable += other.unreadable;
        for (reason, n) in &other.still_failing {
            *self.still_failing.entry(reason).or_default() += n;
        }
        self
    }

    /// How many are still failing, whatever the reason.
    pub fn failing(&self) -> u64 {
        self.still_failing.values().sum()
    }

    fn describe(&self, dry_run: bool) -> String {
        let mut parts = vec![format!("{} examined", self.examined)];
        if self.examined > 0 {
            let verb = if dry_run {
                "would republish"
            } else {
                "republished"
            };
            parts.push(format!("{verb} {}", self.republished));
            let reasons: Vec<String> = self
                .still_failing
                .iter()
                .map(|(reason, n)| format!("{reason} {n}"))
                .collect();
            parts.push(match reasons.as_slice() {
                [] => "still failing 0".into(),
                _ => format!("still failing {} ({})", self.failing(), reasons.join(", ")),
            });
            if self.unreadable > 0 {
                parts.push(format!("not dead letters {}", self.unreadable));
            }
        }
        parts.join(", ")
    }
}

/// A whole run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Whether nothing was published or committed.
    pub dry_run: bool,
    /// The dead-letter topics of the config, each with its counts (`None`: the topic
    /// does not exist).
    pub topics: BTreeMap<String, Option<Tally>>,
}

impl Report {
    /// Counts `outcome` for `topic`.
    pub fn add(&mut self, topic: &str, outcome: Outcome) {
        self.topics
            .entry(topic.to_string())
            .or_default()
            .get_or_insert_with(Tally::default)
            .add(outcome);
    }

    /// Every topic's counts together.
    pub fn total(&self) -> Tally {
        self.topics
            .values()
            .flatten()
            .fold(Tally::default(), Tally::merged)
    }

    /// The progress line: `examined N of M, republished …`.
    pub fn progress(&self, planned: u64) -> String {
        let total = self.total();
        let verb = if self.dry_run {
            "would republish"
        } else {
            "republished"
        };
        format!(
            "redrive: examined {} of {planned}, {verb} {}, still failing {}",
            total.examined,
            total.republished,
            total.failing()
        )
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .topics
            .keys()
            .map(String::len)
            .max()
            .unwrap_or(0)
            .max(5);
        for (topic, tally) in &self.topics {
            match tally {
                Some(tally) => writeln!(f, "{topic:width$}  {}", tally.describe(self.dry_run))?,
                None => writeln!(f, "{topic:width$}  no such topic")?,
            }
        }
        let dry = if self.dry_run {
            " (dry run: nothing published or committed)"
        } else {
            ""
        };
        write!(
            f,
            "{:width$}  {}{dry}",
            "total",
            self.total().describe(self.dry_run)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_counts_per_topic_and_in_total() {
        let mut report = Report::default();
        report.topics.insert("dl.test".into(), None);
        report
            .topics
            .insert("dl.quiet".into(), Some(Tally::default()));
        for outcome in [
            Outcome::Republished,
            Outcome::Republished,
            Outcome::StillFailing("invalid-json"),
            Outcome::StillFailing("missing-site"),
            Outcome::StillFailing("invalid-json"),
            Outcome::Unreadable,
        ] {
            report.add("dl.production", outcome);
        }
        assert_eq!(
            report.to_string(),
            "dl.production  6 examined, republished 2, still failing 3 (invalid-json 2, missing-site 1), not dead letters 1\n\
             dl.quiet       0 examined\n\
             dl.test        no such topic\n\
             total          6 examined, republished 2, still failing 3 (invalid-json 2, missing-site 1), not dead letters 1"
        );
        assert_eq!(
            report.progress(10),
            "redrive: examined 6 of 10, republished 2, still failing 3"
        );
    }

    #[test]
    fn a_dry_run_says_what_it_would_do() {
        let mut report = Report {
            dry_run: true,
            ..Report::default()
        };
        report.add("dl", Outcome::WouldRepublish);
        assert_eq!(
            report.to_string(),
            "dl     1 examined, would republish 1, still failing 0\n\
             total  1 examined, would republish 1, still failing 0 (dry run: nothing published or committed)"
        );
    }
}
