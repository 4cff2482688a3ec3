//! The `parse` target: raw bytes into the compact layer (ECT-JWS-1..3), the strict JSON layer
//! (ECT-JWS-4, ECT-JWS-5), the header parser (ECT-HDR-1..4) and the claims parser
//! (ECT-CLM-1..13); nothing panics, and whatever parses re-serializes and parses again to the
//! same value.

use serde_json::{Map, Value};

use super::common::{known_claims, show};
use wimse_ect::base64url::encode as b64_encode;
use wimse_ect::jws::{DEFAULT_MAX_TOKEN_BYTES, split};
use wimse_ect::parse_object;
use wimse_ect::{Algorithm, Header};
use wimse_ect::{Claims, DEFAULT_MAX_PAR};
use wimse_ect::{PROFILES, Profile};

/// Raw bytes into the compact layer ([`split`]), the strict JSON layer ([`parse_object`]), the
/// header parser and the claims parser. Never panics; whatever parses re-serializes and
/// parses again to the same value:
///
/// * `split`: ECT-JWS-1 comes first (limit `len` passes, `len - 1` fails); an accepted token is
///   exactly the unpadded base64url of its three decoded parts (so the encoding is canonical)
///   and splits again to the same parts; the signing input is the bytes before the second dot.
/// * `parse_object`, on the input itself and on the decoded header and payload: an accepted
///   object is what serde_json makes of the same bytes (no duplicate was missed), and its
///   compact serialization parses back to it; a `jws.json` rejection is one serde_json makes
///   too; no other code.
/// * The header parser (ECT-HDR-1..4) on every parsed object: an accepted header rebuilt from
///   its `alg`, `typ` and `kid` parses to the same header, `kid` is the object's, no `crit`.
/// * The claims parser (ECT-CLM-1..13) on every parsed object: accepted claims serialize
///   ([`Claims::to_json`]) to exactly the object's claim members and parse back to the same
///   claims; a rejection has a `claims.*` code.
pub fn parse(data: &[u8]) {
    assert_floats_exact();
    json_layer(data);
    compact_layer(data);
}

fn compact_layer(data: &[u8]) {
    // No size limit here; ECT-JWS-1 is checked first and only counts bytes.
    let compact = split(data, data.len());
    let limited = split(data, DEFAULT_MAX_TOKEN_BYTES);
    if data.len() > DEFAULT_MAX_TOKEN_BYTES {
        assert_eq!(limited.map_err(|e| e.code()).err(), Some("jws.too_large"));
    } else {
        assert!(limited == compact, "the limit changed the result");
    }
    if !data.is_empty() {
        assert_eq!(
            split(data, data.len() - 1).map_err(|e| e.code()).err(),
            Some("jws.too_large")
        );
    }
    let c = match compact {
        Ok(c) => c,
        Err(e) => {
            assert!(
                matches!(e.code(), "jws.malformed" | "jws.base64"),
                "split: unexpected {e:?}"
            );
            return;
        }
    };
    let again = format!(
        "{}.{}.{}",
        b64_encode(&c.header),
        b64_encode(&c.payload),
        b64_encode(&c.signature)
    );
    assert_eq!(
        again.as_bytes(),
        data,
        "an accepted token is the canonical encoding of its parts"
    );
    let second_dot = data
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'.')
        .nth(1)
        .map(|(i, _)| i)
        .expect("three segments");
    assert_eq!(c.signing_input, &data[..second_dot]);
    assert!(split(again.as_bytes(), data.len()).as_ref() == Ok(&c));
    json_layer(&c.header);
    json_layer(&c.payload);
}

fn json_layer(bytes: &[u8]) {
    let serde_view = serde_json::from_slice::<Map<String, Value>>(bytes);
    match parse_object(bytes) {
        Ok(map) => {
            assert_eq!(
                serde_view.as_ref().ok(),
                Some(&map),
                "serde_json reads {:?} differently",
                show(bytes)
            );
            let text = serde_json::to_vec(&map).expect("a map serializes");
            let back = parse_object(&text).expect("a serialized map parses");
            assert_eq!(
                back,
                map,
                "{:?} re-serialized as {:?} parses to another value",
                show(bytes),
                show(&text)
            );
            header_layer(&map);
            claims_layer(&map);
        }
        Err(e) => match e.code() {
            "jws.json" => assert!(
                serde_view.is_err(),
                "parse_object refused {:?} ({e:?}), serde_json read it",
                show(bytes)
            ),
            "jws.duplicate_member" => {}
            other => panic!("parse_object: unexpected code {other}"),
        },
    }
}

/// Floats must round-trip exactly: this crate's serde_json has `float_roundtrip` in every
/// build, so a re-serialized object parses to the same value and `ext`'s size (ECT-CLM-12)
/// never depends on the build. Without the feature, `2.2250738585072011e-308` parsed as
/// `2.2250738585072014e-308` (`fuzz/regressions/parse/float-reparse-*`).
/// Checked once per process, not per input.
fn assert_floats_exact() {
    static CHECKED: std::sync::Once = std::sync::Once::new();
    CHECKED.call_once(|| {
        for text in ["2.2250738585072011e-308", "9.688888888888889e83"] {
            assert_eq!(
                serde_json::from_str::<f64>(text).ok(),
                text.parse::<f64>().ok(),
                "serde_json without float_roundtrip"
            );
        }
    });
}

fn header_layer(map: &Map<String, Value>) {
    for profile in &PROFILES {
        header_layer_in(map, profile);
    }
}

fn header_layer_in(map: &Map<String, Value>, profile: &Profile) {
    let parsed = Header::parse(map, profile, &[Algorithm::Es256]);
    let header = match parsed {
        Ok(h) => h,
        Err(e) => {
            assert!(e.code().starts_with("header."), "header: {e:?}");
            return;
        }
    };
    assert_eq!(map.get("kid"), Some(&Value::from(header.kid())));
    assert_eq!(map.get("typ"), Some(&Value::from(header.typ())));
    assert!(!map.contains_key("crit"));
    let mut rebuilt = Map::new();
    rebuilt.insert("alg".into(), header.alg().name().into());
    rebuilt.insert("typ".into(), header.typ().into());
    rebuilt.insert("kid".into(), header.kid().into());
    let text = serde_json::to_vec(&rebuilt).expect("serializes");
    let back = parse_object(&text).expect("a rebuilt header is JSON");
    assert_eq!(
        Header::parse(&back, profile, &[Algorithm::Es256]),
        Ok(header.clone())
    );
    // The builder's header for the same kid is a valid header with the same alg and kid.
    let built = parse_object(&Header::to_json(header.kid(), profile)).expect("JSON");
    let built = Header::parse(&built, profile, &[Algorithm::Es256]).expect("valid");
    assert_eq!((built.alg(), built.kid()), (header.alg(), header.kid()));
}

fn claims_layer(map: &Map<String, Value>) {
    for profile in &PROFILES {
        claims_layer_in(map, profile);
    }
}

fn claims_layer_in(map: &Map<String, Value>, profile: &Profile) {
    let claims = match Claims::parse(map.clone(), profile, DEFAULT_MAX_PAR) {
        Ok(c) => c,
        Err(e) => {
            assert!(e.code().starts_with("claims."), "claims: {e:?}");
            return;
        }
    };
    let json = claims.to_json(profile);
    assert_eq!(
        json,
        known_claims(map.clone(), profile),
        "to_json is the payload's claim members"
    );
    let text = serde_json::to_vec(&json).expect("serializes");
    let back = parse_object(&text).expect("serialized claims are JSON");
    let again = match Claims::parse(back, profile, DEFAULT_MAX_PAR) {
        Ok(c) => c,
        Err(e) => panic!("serialized claims are refused: {e:?}"),
    };
    assert_eq!(
        again.to_json(profile),
        json,
        "claims changed on re-serialization"
    );
    assert_eq!(again, claims);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz::verify_structured::tests::render;

    #[test]
    fn parse_oracle_on_known_inputs() {
        for input in [
            &b"e30.e30.AAAA"[..],
            b"{\"a\":1.5e300,\"b\":[-0,1e-7]}",
            b"{\"a\":1,\"a\":2}",
            b"\xef\xbb\xbf{}",
            b"",
            b"...",
        ] {
            parse(input);
        }
        parse(&render(b""));
    }
}
