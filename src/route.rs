//! URL path → event: `{path_prefix}/{event slug}`, plus exact `[routes]` paths.
//!
//! Matching is exact on the path (the query string is ignored): no trailing-slash
//! folding, no case folding, no percent-decoding, so what a route accepts is exactly
//! what is configured.

use std::collections::HashMap;

use crate::everbright::Event;

/// Resolves request paths to events.
#[derive(Debug, Clone)]
pub struct Router {
    paths: HashMap<String, Event>,
}

impl Router {
    /// The built-in routes under `path_prefix` (`""` for the root) and the custom
    /// `routes`, which the config has checked do not collide with them.
    pub fn new(path_prefix: &str, routes: &[(String, Event)]) -> Router {
        let builtin = Event::ALL
            .into_iter()
            .map(|e| (format!("{path_prefix}/{}", e.slug()), e));
        let custom = routes.iter().cloned();
        Router {
            paths: builtin.chain(custom).collect(),
        }
    }

    /// The event for `path`, if any.
    pub fn route(&self, path: &str) -> Option<Event> {
        self.paths.get(path).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_builtin_and_custom_paths_exactly() {
        let r = Router::new(
            "/everbright",
            &[(
                "/hooks/sighten/milestones".into(),
                Event::MilestoneStatusChange,
            )],
        );
        assert_eq!(
            r.route("/everbright/site-archived"),
            Some(Event::SiteArchived)
        );
        assert_eq!(
            r.route("/hooks/sighten/milestones"),
            Some(Event::MilestoneStatusChange)
        );
        assert_eq!(r.route("/everbright/site-archived/"), None);
        assert_eq!(r.route("/everbright/Site-Archived"), None);
        assert_eq!(r.route("/everbright/"), None);
        assert_eq!(r.route("/site-archived"), None);
        let root = Router::new("", &[]);
        assert_eq!(
            root.route("/stage-transition"),
            Some(Event::StageTransition)
        );
    }
}
