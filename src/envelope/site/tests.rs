use super::*;

fn doc(json: &str) -> Document<'_> {
    Document::parse(json).unwrap()
}

fn pointers(list: &[&str]) -> Vec<Pointer> {
    list.iter().map(|p| Pointer::parse(p).unwrap()).collect()
}

const SITE: &str = "157802b4-99aa-4437-b250-934df337766a";

#[test]
fn pointers_parse_per_rfc_6901() {
    let p = Pointer::parse("/a~1b/c~0d/0").unwrap();
    assert_eq!(p.segments, ["a/b", "c~d", "0"]);
    assert!(Pointer::parse("site").is_err());
    assert!(Pointer::parse("").is_err());
    assert!(Pointer::parse("/a~2").is_err());
    assert!(Pointer::parse("/a~").is_err());
}

#[test]
fn default_pointers_fall_back_in_order() {
    let defaults = SitePointers::default();
    let milestone = defaults.get(Event::MilestoneStatusChange);
    let cases = [
        (format!(r#"{{"site":"{SITE}"}}"#), "/site"),
        (
            format!(r#"{{"site":{{"uuid":"{SITE}","name":"x"}}}}"#),
            "/site/uuid",
        ),
        (format!(r#"{{"site":null,"site_id":"{SITE}"}}"#), "/site_id"),
        (
            format!(r#"{{"site_uuid":"{}"}}"#, SITE.to_uppercase()),
            "/site_uuid",
        ),
    ];
    for (json, via) in &cases {
        assert_eq!(
            doc(json).uuid(milestone),
            Found::Uuid(SITE.into()),
            "via {via}"
        );
    }
    let archived = format!(r#"{{"uuid":"{SITE}","archived":true}}"#);
    assert_eq!(doc(&archived).uuid(milestone), Found::Missing);
    assert_eq!(
        doc(&archived).uuid(defaults.get(Event::SiteArchived)),
        Found::Uuid(SITE.into())
    );
}

#[test]
fn invalid_and_missing_sites_are_told_apart() {
    let p = SitePointers::default();
    let p = p.get(Event::StageTransition);
    assert_eq!(doc(r#"{"site":"not-a-uuid"}"#).uuid(p), Found::Invalid);
    assert_eq!(
        doc(r#"{"site":"00000000-0000-0000-0000-000000000000"}"#).uuid(p),
        Found::Invalid
    );
    assert_eq!(doc(r#"{"site":12}"#).uuid(p), Found::Missing);
    assert_eq!(doc(r#"["site"]"#).uuid(p), Found::Missing);
    assert_eq!(doc(r#""just a string""#).uuid(p), Found::Missing);
    // A later valid pointer wins over an earlier invalid string.
    let later = format!(r#"{{"site":"nope","site_id":"{SITE}"}}"#);
    assert_eq!(doc(&later).uuid(p), Found::Uuid(SITE.into()));
}

#[test]
fn uuids_are_normalised_to_lowercase_hyphenated() {
    let p = pointers(&["/s"]);
    let simple = SITE.replace('-', "");
    for form in [
        SITE.to_uppercase(),
        simple,
        format!("{{{SITE}}}"),
        format!("urn:uuid:{SITE}"),
    ] {
        let json = format!(r#"{{"s":"{form}"}}"#);
        assert_eq!(doc(&json).uuid(&p), Found::Uuid(SITE.into()), "{form}");
    }
}

#[test]
fn pointers_descend_arrays_escaped_keys_and_duplicates() {
    let json = format!(
        r#"{{"jobs":[{{"x":1}},{{"site/ref":"{SITE}"}}],"k\"ey":"v","dup":"first","dup":"last"}}"#
    );
    let d = doc(&json);
    assert_eq!(
        d.uuid(&pointers(&["/jobs/1/site~1ref"])),
        Found::Uuid(SITE.into())
    );
    assert_eq!(
        d.string(&Pointer::parse("/k\"ey").unwrap()).as_deref(),
        Some("v")
    );
    assert_eq!(
        d.string(&Pointer::parse("/dup").unwrap()).as_deref(),
        Some("last")
    );
    assert!(d.get(&Pointer::parse("/jobs/01").unwrap()).is_none());
    assert!(d.get(&Pointer::parse("/jobs/9").unwrap()).is_none());
    assert!(d.get(&Pointer::parse("/jobs/x").unwrap()).is_none());
}

#[test]
fn parse_validates_the_whole_document() {
    for bad in [
        r#"{"a":1"#,
        r#"{"a":1} x"#,
        r#"{"a":[1,}"#,
        r#"[1,2"#,
        "",
        "True",
        r#"{"a":"\x"}"#,
    ] {
        assert!(Document::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn status_is_the_top_level_string_only() {
    assert_eq!(
        doc(r#"{"status":"SIGN"}"#).status().as_deref(),
        Some("SIGN")
    );
    assert_eq!(doc(r#"{"status":3}"#).status(), None);
    assert_eq!(doc(r#"{"task":{"status":"X"}}"#).status(), None);
}

/// Every JSON fixture yields the site, quote and status its README table lists.
#[test]
fn fixtures_match_their_expectation_table() {
    let table = include_str!("../../../tests/fixtures/json/README.md");
    let rows: Vec<Vec<&str>> = table
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| slug"))
        .map(|l| l.trim_matches('|').split('|').map(str::trim).collect())
        .collect();
    assert_eq!(rows.len(), 13);
    let defaults = SitePointers::default();
    for row in rows {
        let [slug, file, _via, site, quote, status] = row[..] else {
            panic!("bad row {row:?}")
        };
        let event = Event::from_slug(slug).unwrap();
        let path = format!("{}/tests/fixtures/json/{file}", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(&path).unwrap();
        let text = match super::super::lenient::rewrite(&bytes) {
            Some(fixed) if serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_err() => {
                String::from_utf8(fixed).unwrap()
            }
            _ => String::from_utf8(bytes).unwrap(),
        };
        let d = doc(&text);
        assert_eq!(
            d.uuid(defaults.get(event)),
            Found::Uuid(site.into()),
            "{slug}"
        );
        let want_quote = (quote != "none").then(|| quote.to_string());
        let got_quote = match d.uuid(defaults.quote()) {
            Found::Uuid(q) => Some(q),
            _ => None,
        };
        assert_eq!(got_quote, want_quote, "{slug}");
        assert_eq!(
            d.status().as_deref(),
            (status != "none").then_some(status),
            "{slug}"
        );
    }
}
