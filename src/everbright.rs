//! What EverBright sends: its 13 webhook events and its two environments.
//!
//! One EverBright webhook carries exactly one event, and the body never names it: the
//! event is known from the URL the webhook posts to. The slug of each event is both
//! that URL segment and the Kafka topic suffix, so it is part of the public contract.

use std::fmt;

/// An EverBright webhook event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Event {
    /// Contract Recipient Status Change.
    ContractRecipientStatusChange,
    /// Contract Status Change.
    ContractStatusChange,
    /// Change Order Status Change.
    ChangeOrderStatusChange,
    /// Homeowners Signed Contract.
    HomeownersSignedContract,
    /// Milestone Comment Created.
    MilestoneCommentCreated,
    /// Milestone Status Change.
    MilestoneStatusChange,
    /// Task Comment Created.
    TaskCommentCreated,
    /// Qualification Update.
    QualificationUpdate,
    /// Site Archived.
    SiteArchived,
    /// Stage Transition.
    StageTransition,
    /// Proposal Action.
    ProposalAction,
    /// Invoice Status Change.
    InvoiceStatusChange,
    /// Workflow Status Change.
    WorkflowStatusChange,
}

impl Event {
    /// Every event, in EverBright's documented order.
    pub const ALL: [Event; 13] = [
        Event::ContractRecipientStatusChange,
        Event::ContractStatusChange,
        Event::ChangeOrderStatusChange,
        Event::HomeownersSignedContract,
        Event::MilestoneCommentCreated,
        Event::MilestoneStatusChange,
        Event::TaskCommentCreated,
        Event::QualificationUpdate,
        Event::SiteArchived,
        Event::StageTransition,
        Event::ProposalAction,
        Event::InvoiceStatusChange,
        Event::WorkflowStatusChange,
    ];

    /// The URL segment and topic suffix, e.g. `milestone-status-change`.
    pub const fn slug(self) -> &'static str {
        match self {
            Event::ContractRecipientStatusChange => "contract-recipient-status-change",
            Event::ContractStatusChange => "contract-status-change",
            Event::ChangeOrderStatusChange => "change-order-status-change",
            Event::HomeownersSignedContract => "homeowners-signed-contract",
            Event::MilestoneCommentCreated => "milestone-comment-created",
            Event::MilestoneStatusChange => "milestone-status-change",
            Event::TaskCommentCreated => "task-comment-created",
            Event::QualificationUpdate => "qualification-update",
            Event::SiteArchived => "site-archived",
            Event::StageTransition => "stage-transition",
            Event::ProposalAction => "proposal-action",
            Event::InvoiceStatusChange => "invoice-status-change",
            Event::WorkflowStatusChange => "workflow-status-change",
        }
    }

    /// The event whose slug is `slug`, exactly (slugs are lowercase).
    pub fn from_slug(slug: &str) -> Option<Event> {
        Event::ALL.into_iter().find(|e| e.slug() == slug)
    }

    /// The CloudEvents `type`: `everbright.{slug}`.
    pub const fn cloudevents_type(self) -> &'static str {
        match self {
            Event::ContractRecipientStatusChange => "everbright.contract-recipient-status-change",
            Event::ContractStatusChange => "everbright.contract-status-change",
            Event::ChangeOrderStatusChange => "everbright.change-order-status-change",
            Event::HomeownersSignedContract => "everbright.homeowners-signed-contract",
            Event::MilestoneCommentCreated => "everbright.milestone-comment-created",
            Event::MilestoneStatusChange => "everbright.milestone-status-change",
            Event::TaskCommentCreated => "everbright.task-comment-created",
            Event::QualificationUpdate => "everbright.qualification-update",
            Event::SiteArchived => "everbright.site-archived",
            Event::StageTransition => "everbright.stage-transition",
            Event::ProposalAction => "everbright.proposal-action",
            Event::InvoiceStatusChange => "everbright.invoice-status-change",
            Event::WorkflowStatusChange => "everbright.workflow-status-change",
        }
    }

    const fn bit(self) -> u16 {
        1 << self as u16
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

/// A set of events, e.g. the events a credential may deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventSet(u16);

impl EventSet {
    /// All 13 events.
    pub const ALL: EventSet = EventSet((1 << Event::ALL.len()) - 1);

    /// No event.
    pub const EMPTY: EventSet = EventSet(0);

    /// Whether `event` is in the set.
    pub const fn contains(self, event: Event) -> bool {
        self.0 & event.bit() != 0
    }

    /// The set with `event` added.
    #[must_use]
    pub const fn with(self, event: Event) -> EventSet {
        EventSet(self.0 | event.bit())
    }

    /// Whether the two sets share an event.
    pub const fn overlaps(self, other: EventSet) -> bool {
        self.0 & other.0 != 0
    }

    /// The events in the set, in documented order.
    pub fn iter(self) -> impl Iterator<Item = Event> {
        Event::ALL.into_iter().filter(move |e| self.contains(*e))
    }
}

impl FromIterator<Event> for EventSet {
    fn from_iter<I: IntoIterator<Item = Event>>(iter: I) -> Self {
        iter.into_iter().fold(EventSet::EMPTY, EventSet::with)
    }
}

/// EverBright's environments: production ("Engine") and test ("Onboard").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Environment {
    /// EverBright Engine.
    Production,
    /// EverBright Onboard.
    Test,
}

impl Environment {
    /// Both environments.
    pub const ALL: [Environment; 2] = [Environment::Production, Environment::Test];

    /// `production` or `test`: the config value and the topic segment.
    pub const fn as_str(self) -> &'static str {
        match self {
            Environment::Production => "production",
            Environment::Test => "test",
        }
    }

    /// Parses the config value.
    pub fn from_name(name: &str) -> Option<Environment> {
        Environment::ALL.into_iter().find(|e| e.as_str() == name)
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for e in Event::ALL {
            assert_eq!(Event::from_slug(e.slug()), Some(e));
            assert!(seen.insert(e.slug()));
        }
        assert_eq!(Event::from_slug("Milestone-Status-Change"), None);
    }

    #[test]
    fn every_cloudevents_type_is_the_prefixed_slug() {
        for e in Event::ALL {
            assert_eq!(e.cloudevents_type(), format!("everbright.{}", e.slug()));
        }
    }

    #[test]
    fn event_sets() {
        let s: EventSet = [Event::SiteArchived, Event::ProposalAction]
            .into_iter()
            .collect();
        assert!(s.contains(Event::SiteArchived));
        assert!(!s.contains(Event::StageTransition));
        assert_eq!(EventSet::ALL.iter().count(), 13);
        assert!(s.overlaps(EventSet::ALL));
        assert!(!s.overlaps(EventSet::EMPTY.with(Event::StageTransition)));
    }
}
