//! `[[credentials]]`: one table per EverBright credential.

use std::collections::HashMap;

use http::HeaderName;

use super::read::{Ctx, Section};
use super::{Config, sections::unknown_event};
use crate::auth::basic::BasicSettings;
use crate::auth::header::HeaderSettings;
use crate::auth::{Credential, Scheme, SecretSet};
use crate::everbright::{Environment, Event, EventSet};

/// Headers that carry credentials whatever the config says: never captured.
const ALWAYS_SECRET_HEADERS: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];

pub(super) fn read(root: &mut Section<'_, '_, '_>) -> Vec<Credential> {
    let ctx = root.ctx;
    let Some(value) = root.get("credentials") else {
        ctx.error(
            "credentials",
            "at least one [[credentials]] table is required (use scheme = \"none\" to accept unauthenticated webhooks)",
        );
        return Vec::new();
    };
    let Some(items) = value.as_array() else {
        ctx.error(
            "credentials",
            "expected an array of tables ([[credentials]])",
        );
        return Vec::new();
    };
    if items.is_empty() {
        ctx.error("credentials", "at least one credential is required");
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let path = format!("credentials[{i}]");
        match item.as_table() {
            Some(table) => out.extend(credential(Section::new(ctx, path, Some(table)))),
            None => ctx.error(path, "expected a table"),
        }
    }
    out
}

fn credential(mut s: Section<'_, '_, '_>) -> Option<Credential> {
    let name = s.required_string("name");
    if let Some(n) = name
        && (n.is_empty()
            || n.len() > 63
            || !n
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
    {
        s.error(
            "name",
            format!("{n:?} must be 1-63 characters of a-z, 0-9 and '-'"),
        );
    }
    let env = s.string("environment").unwrap_or("production");
    let environment = Environment::from_name(env);
    if environment.is_none() {
        s.error(
            "environment",
            format!("expected \"production\" or \"test\", found {env:?}"),
        );
    }
    let organization = s.string("organization").map(str::to_string);
    let events = match s.get("events") {
        None => EventSet::ALL,
        Some(_) => {
            let listed = s.strings("events");
            if listed.is_empty() {
                s.error(
                    "events",
                    "must list at least one event (omit the key for all 13)",
                );
            }
            listed
                .into_iter()
                .filter_map(|(path, slug)| {
                    Event::from_slug(slug).or_else(|| {
                        s.ctx.error(path, unknown_event(slug));
                        None
                    })
                })
                .collect()
        }
    };
    let scheme = s
        .required_string("scheme")
        .and_then(|name| scheme(&mut s, name));
    s.finish();
    Some(Credential {
        name: name?.to_string(),
        environment: environment?,
        organization,
        events,
        scheme: scheme?,
    })
}

fn scheme(s: &mut Section<'_, '_, '_>, name: &str) -> Option<Scheme> {
    match name {
        "none" => Some(Scheme::None),
        "header" => {
            let header = header_name(s, "header", None);
            let value = secret(s, "value");
            Some(Scheme::Header(HeaderSettings {
                header: header?,
                prefix: String::new(),
                value: value?,
            }))
        }
        "token" => {
            let header = header_name(s, "header", Some("authorization"));
            let prefix = s.string("prefix").unwrap_or("Bearer ").to_string();
            let value = secret(s, "value");
            Some(Scheme::Token(HeaderSettings {
                header: header?,
                prefix,
                value: value?,
            }))
        }
        "basic" => {
            let username = s.required_string("username");
            if username.is_some_and(|u| u.contains(':') || u.is_empty()) {
                s.error("username", "must be non-empty and must not contain ':'");
            }
            let password = secret(s, "password");
            Some(Scheme::Basic(BasicSettings {
                username: username?.to_string(),
                password: password?,
            }))
        }
        "hmac-sha256" | "aws-sigv4" => {
            s.error(
                "scheme",
                format!("{name:?} is not available in this build yet"),
            );
            None
        }
        other => {
            s.error(
                "scheme",
                format!(
                    "unknown scheme {other:?}; expected one of: none, header, token, basic, hmac-sha256, aws-sigv4"
                ),
            );
            None
        }
    }
}

fn header_name(
    s: &mut Section<'_, '_, '_>,
    key: &'static str,
    default: Option<&str>,
) -> Option<HeaderName> {
    let text = match default {
        Some(d) => s.string(key).unwrap_or(d),
        None => s.required_string(key)?,
    };
    HeaderName::try_from(text)
        .inspect_err(|_| s.error(key, format!("invalid header name {text:?}")))
        .ok()
}

fn secret(s: &mut Section<'_, '_, '_>, key: &'static str) -> Option<SecretSet> {
    let path = s.key(key);
    match s.get(key) {
        Some(value) => s.ctx.secret_set(&path, value),
        None => {
            s.error(key, "is required");
            None
        }
    }
}

/// Rules across credentials: unique names, no two credentials a request could not
/// tell apart, no credential header among the captured headers.
pub(super) fn cross_check(ctx: &Ctx<'_>, config: &Config) {
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut by_selector: HashMap<_, Vec<usize>> = HashMap::new();
    for (i, c) in config.credentials.iter().enumerate() {
        if let Some(first) = names.insert(&c.name, i) {
            ctx.error(
                format!("credentials[{i}].name"),
                format!("{:?} is already used by credentials[{first}]", c.name),
            );
        }
        for selector in c.selectors() {
            let others = by_selector.entry(selector).or_default();
            for &j in others.iter() {
                let other = &config.credentials[j];
                if j != i && other.events.overlaps(c.events) {
                    ctx.error(
                        format!("credentials[{i}]"),
                        format!(
                            "cannot be told apart from credentials[{j}] ({:?}) for some events: give them different {}, or disjoint `events`",
                            other.name,
                            distinguishing(&c.scheme)
                        ),
                    );
                }
            }
            if !others.contains(&i) {
                others.push(i);
            }
        }
    }

    let secret_headers: Vec<HeaderName> = config
        .credentials
        .iter()
        .flat_map(Credential::auth_headers)
        .collect();
    for (i, h) in config.payload.capture_headers.iter().enumerate() {
        if ALWAYS_SECRET_HEADERS.contains(&h.as_str()) || secret_headers.contains(h) {
            ctx.error(
                format!("payload.capture_headers[{i}]"),
                format!("{h} carries credentials and can never be captured"),
            );
        }
    }
}

fn distinguishing(scheme: &Scheme) -> &'static str {
    match scheme {
        Scheme::None => "events (only one `none` credential may take an event)",
        Scheme::Header(_) | Scheme::Token(_) => "secret values",
        Scheme::Basic(_) => "usernames",
    }
}
