//! `[[credentials]]`: one table per EverBright credential.

use std::collections::HashMap;
use std::time::Duration;

use http::HeaderName;

use super::read::{Ctx, Section};
use super::{Config, sections::unknown_event};
use crate::auth::basic::BasicSettings;
use crate::auth::header::HeaderSettings;
use crate::auth::hmac::{Encoding, Hmac, HmacSettings, Preset};
use crate::auth::sigv4::{SigV4, SigV4Settings, SigV4SettingsError};
use crate::auth::{Credential, Scheme, SecretSet};
use crate::everbright::{Environment, Event, EventSet};
use crate::limit::Rate;

/// Headers that carry credentials whatever the config says: never captured.
const ALWAYS_SECRET_HEADERS: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];

/// The credentials, and the `rate_limit` of those that have one.
pub(super) fn read(root: &mut Section<'_, '_, '_>) -> (Vec<Credential>, Vec<(String, Rate)>) {
    let ctx = root.ctx;
    let Some(value) = root.get("credentials") else {
        ctx.error(
            "credentials",
            "at least one [[credentials]] table is required (use scheme = \"none\" to accept unauthenticated webhooks)",
        );
        return (Vec::new(), Vec::new());
    };
    let Some(items) = value.as_array() else {
        ctx.error(
            "credentials",
            "expected an array of tables ([[credentials]])",
        );
        return (Vec::new(), Vec::new());
    };
    if items.is_empty() {
        ctx.error("credentials", "at least one credential is required");
    }
    let mut out = Vec::with_capacity(items.len());
    let mut rates = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("credentials[{i}]");
        match item.as_table() {
            Some(table) => {
                if let Some((credential, rate)) = credential(Section::new(ctx, path, Some(table))) {
                    rates.extend(rate.map(|r| (credential.name.clone(), r)));
                    out.push(credential);
                }
            }
            None => ctx.error(path, "expected a table"),
        }
    }
    (out, rates)
}

fn credential(mut s: Section<'_, '_, '_>) -> Option<(Credential, Option<Rate>)> {
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
    let rate_limit = s.rate("rate_limit");
    let scheme = s
        .required_string("scheme")
        .and_then(|name| scheme(&mut s, name));
    s.finish();
    let credential = Credential {
        name: name?.to_string(),
        environment: environment?,
        organization,
        events,
        scheme: scheme?,
    };
    Some((credential, rate_limit))
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
        "hmac-sha256" => hmac(s).map(Scheme::Hmac),
        "aws-sigv4" => sigv4(s).map(Scheme::SigV4),
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

/// How far a signed time may be from the clock, by default.
const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

fn hmac(s: &mut Section<'_, '_, '_>) -> Option<Hmac> {
    let client_id = s.string("client_id").map(str::to_string);
    let secret = secret(s, "client_secret");
    let client_id_header = header_name(s, "client_id_header", Some("x-client-id"));
    let tolerance = s.duration("tolerance", DEFAULT_TOLERANCE);
    let preset = match s.string("preset") {
        None => None,
        Some("standard-webhooks") => Some(Preset::StandardWebhooks),
        Some("github") => Some(Preset::Github),
        Some(other) => {
            s.error(
                "preset",
                format!("expected \"standard-webhooks\" or \"github\", found {other:?}"),
            );
            None
        }
    };
    // A preset fixes these; setting them too would be ambiguous.
    let preset_fields = [
        "signature_header",
        "encoding",
        "signature_prefix",
        "timestamp_header",
    ];
    if preset.is_some() {
        for key in preset_fields {
            if s.get(key).is_some() {
                s.error(key, "cannot be combined with `preset`, which sets it");
            }
        }
    }
    let signature_header = header_name(s, "signature_header", Some("x-signature"));
    let encoding = match s.string("encoding").unwrap_or("hex") {
        "hex" => Encoding::Hex,
        "base64" => Encoding::Base64,
        other => {
            s.error(
                "encoding",
                format!("expected \"hex\" or \"base64\", found {other:?}"),
            );
            Encoding::Hex
        }
    };
    let signature_prefix = s.string("signature_prefix").unwrap_or("").to_string();
    let timestamp_header = match s.get("timestamp_header") {
        Some(_) => Some(header_name(s, "timestamp_header", None)?),
        None => None,
    };
    let settings = HmacSettings {
        client_id,
        client_secret: secret?,
        signature_header: signature_header?,
        client_id_header: client_id_header?,
        encoding,
        signature_prefix,
        timestamp_header,
        tolerance,
        preset,
    };
    Hmac::new(settings)
        .inspect_err(|e| s.error(settings_error_key(e.reason()), e.to_string()))
        .ok()
}

fn settings_error_key(reason: &str) -> &'static str {
    match reason {
        "invalid-client-id" => "client_id",
        "invalid-signature-prefix" => "signature_prefix",
        _ => "client_secret",
    }
}

fn sigv4(s: &mut Section<'_, '_, '_>) -> Option<SigV4> {
    let access_key_id = s.required_string("access_key_id").map(str::to_string);
    let secret_access_key = secret(s, "secret_access_key");
    let region = s.required_string("region").map(str::to_string);
    let service = s.required_string("service").map(str::to_string);
    let tolerance = s.duration("tolerance", DEFAULT_TOLERANCE);
    let settings = SigV4Settings {
        access_key_id: access_key_id?,
        secret_access_key: secret_access_key?,
        region: region?,
        service: service?,
        tolerance,
    };
    SigV4::new(settings)
        .inspect_err(|e| {
            let key = match e {
                SigV4SettingsError::InvalidAccessKeyId => "access_key_id",
                SigV4SettingsError::InvalidRegion => "region",
                SigV4SettingsError::InvalidService => "service",
                SigV4SettingsError::EmptySecret { .. } => "secret_access_key",
            };
            s.error(key, e.to_string());
        })
        .ok()
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
        Some(value) => {
            let name = s
                .get("name")
                .and_then(toml::Value::as_str)
                .unwrap_or_default();
            s.ctx.secret_set(&path, value, name)
        }
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
        Scheme::Hmac(_) => "client ids (or, without client ids, signature headers)",
        Scheme::SigV4(_) => "access key ids",
    }
}
