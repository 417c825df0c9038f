//! Properties over every layout: sign→verify round trips, single-byte tampering, and
//! the edges of the time window.

use proptest::prelude::*;

use super::super::wire::{decode_tag, encode_tag};
use super::*;

/// Every layout a credential can have: each preset, and custom ones over encodings,
/// prefixes and with or without a timestamp.
fn any_settings() -> impl Strategy<Value = HmacSettings> {
    let key = proptest::collection::vec(any::<u8>(), 1..48);
    let custom = (
        key.clone(),
        prop_oneof![Just(Encoding::Hex), Just(Encoding::Base64)],
        prop_oneof![Just(""), Just("sha256="), Just("v1 ")],
        any::<bool>(),
        proptest::option::of("[a-z0-9]{1,12}"),
    )
        .prop_map(|(key, encoding, prefix, timestamped, client_id)| {
            let mut s = HmacSettings::new(SecretSet::single(Secret::new(key)));
            s.encoding = encoding;
            s.signature_prefix = prefix.to_owned();
            s.timestamp_header = timestamped.then(|| HeaderName::from_static("x-timestamp"));
            s.client_id = client_id;
            s
        });
    let standard = key.clone().prop_map(|key| {
        let secret = format!("whsec_{}", STANDARD.encode(key));
        let mut s = HmacSettings::new(SecretSet::single(Secret::new(secret)));
        s.preset = Some(Preset::StandardWebhooks);
        s
    });
    let github = key.prop_map(|key| {
        let mut s = HmacSettings::new(SecretSet::single(Secret::new(key)));
        s.preset = Some(Preset::Github);
        s
    });
    prop_oneof![custom, standard, github]
}

fn timestamped(hmac: &Hmac) -> bool {
    !matches!(
        hmac.layout,
        Layout::Single {
            timestamp_header: None,
            ..
        }
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn sign_then_verify_round_trips(
        settings in any_settings(),
        body in proptest::collection::vec(any::<u8>(), 0..512),
        seconds in 0u64..4_000_000_000,
    ) {
        let hmac = Hmac::new(settings).unwrap();
        let now = at(seconds) + Duration::from_millis(seconds % 1000);
        let headers = with_signed(&body, &hmac, now);
        let signed = hmac.verify(&headers, &body, now).unwrap();
        prop_assert_eq!(signed.signed_at, timestamped(&hmac).then(|| at(seconds)));
    }

    #[test]
    fn a_flipped_body_byte_fails(
        settings in any_settings(),
        body in proptest::collection::vec(any::<u8>(), 1..512),
        index in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let hmac = Hmac::new(settings).unwrap();
        let headers = with_signed(&body, &hmac, at(1_700_000_000));
        let mut tampered = body.clone();
        let i = index.index(body.len());
        tampered[i] ^= flip;
        prop_assert_eq!(hmac.verify(&headers, &tampered, at(1_700_000_000)), Err(HmacError::BadSignature));
    }

    #[test]
    fn a_flipped_signature_byte_fails(
        settings in any_settings(),
        body in proptest::collection::vec(any::<u8>(), 0..256),
        index in 0usize..32,
        flip in 1u8..=255,
    ) {
        let hmac = Hmac::new(settings).unwrap();
        let now = at(1_700_000_000);
        let mut headers = with_signed(&body, &hmac, now);
        let name = hmac.selector_header().clone();
        let text = headers[&name].to_str().unwrap().to_owned();
        let (head, encoded) = match &hmac.layout {
            Layout::Single { prefix, .. } => (prefix.clone(), &text[prefix.len()..]),
            Layout::StandardWebhooks { .. } => ("v1,".to_owned(), &text[3..]),
        };
        let encoding = match &hmac.layout {
            Layout::Single { encoding, .. } => *encoding,
            Layout::StandardWebhooks { .. } => Encoding::Base64,
        };
        let mut tag = decode_tag(encoding, encoded).unwrap();
        tag[index] ^= flip;
        let forged = format!("{head}{}", encode_tag(encoding, &tag));
        headers.insert(name, HeaderValue::from_str(&forged).unwrap());
        prop_assert_eq!(hmac.verify(&headers, &body, now), Err(HmacError::BadSignature));
    }

    #[test]
    fn timestamps_pass_at_the_tolerance_and_fail_past_it(
        settings in any_settings().prop_filter("timestamped", |s| {
            s.preset == Some(Preset::StandardWebhooks) || (s.preset.is_none() && s.timestamp_header.is_some())
        }),
        tolerance_seconds in 1u64..3600,
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut settings = settings;
        settings.tolerance = Duration::from_secs(tolerance_seconds);
        let hmac = Hmac::new(settings).unwrap();
        let signed_at = at(1_700_000_000);
        let headers = with_signed(&body, &hmac, signed_at);
        let tolerance = Duration::from_secs(tolerance_seconds);
        let second = Duration::from_secs(1);
        prop_assert!(hmac.verify(&headers, &body, signed_at + tolerance).is_ok());
        prop_assert!(hmac.verify(&headers, &body, signed_at - tolerance).is_ok());
        prop_assert_eq!(hmac.verify(&headers, &body, signed_at + tolerance + second), Err(HmacError::TimestampOutOfRange));
        prop_assert_eq!(hmac.verify(&headers, &body, signed_at - tolerance - second), Err(HmacError::TimestampOutOfRange));
    }
}
