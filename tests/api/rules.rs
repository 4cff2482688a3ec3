//! One positive and at least one negative test for every rule of SPEC.md §2–§6 and §9 (the
//! DAG and ledger rules of §7 and §8 are in `dag.rs` and `ledger.rs`; the coverage check at
//! the end of this file covers all of them).
//!
//! Every negative token is validly signed (`wimse_ect::sign_raw`) and breaks exactly one rule,
//! so that SPEC.md's order of checks makes the intended rule the one reported. Every test
//! asserts the exact code and rule id, or the exact accepted value.

use std::sync::Arc;

use crate::common::*;
use serde_json::{Map, Value, json};
use wimse_ect::base64url::{decode as b64_decode, encode as b64_encode};
use wimse_ect::http::{
    DEFAULT_MAX_FIELD_BYTES, FIELD_NAME, REJECTION_STATUS, format_field_value, parse_field_values,
};
use wimse_ect::{
    Algorithm, Audience, Claims, Error, KeySet, MemoryReplayCache, Policy, PolicyClaims,
    PolicyDecision, ReplayProtection, SigningKey, VerifiedEct, Verifier, sha256_b64url, sign_raw,
};
use wimse_ect_conformance::testing::der_signature;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Verifies with a fresh default verifier at `now`, expecting acceptance.
fn accept_at(token: &str, now: u64) -> VerifiedEct {
    accept_by(&verifier(), token, now)
}

fn accept(token: &str) -> VerifiedEct {
    accept_at(token, NOW)
}

fn accept_by(v: &Verifier, token: &str, now: u64) -> VerifiedEct {
    v.verify(token, now)
        .unwrap_or_else(|e| panic!("expected acceptance, got {e}"))
}

/// Verifies with `v` at `now`, expecting rejection; returns `(code, rule)`.
fn reject_by(v: &Verifier, token: impl AsRef<[u8]>, now: u64) -> (&'static str, &'static str) {
    error_by(v, token, now).pair()
}

fn error_by(v: &Verifier, token: impl AsRef<[u8]>, now: u64) -> Error {
    match v.verify(token, now) {
        Ok(ok) => panic!("expected rejection, accepted {:?}", ok.claims()),
        Err(e) => e,
    }
}

/// Verifies with a fresh default verifier at `now`, expecting rejection.
fn reject_at(token: impl AsRef<[u8]>, now: u64) -> (&'static str, &'static str) {
    reject_by(&verifier(), token, now)
}

fn reject(token: impl AsRef<[u8]>) -> (&'static str, &'static str) {
    reject_at(token, NOW)
}

fn error(token: impl AsRef<[u8]>) -> Error {
    error_by(&verifier(), token, NOW)
}

trait Pair {
    fn pair(&self) -> (&'static str, &'static str);
}

impl Pair for Error {
    fn pair(&self) -> (&'static str, &'static str) {
        (self.code(), self.rule())
    }
}

/// `claims(NOW)` edited by `edit`, under `header(KID_A)`, signed with `key_a()`.
fn claims_token(edit: impl FnOnce(&mut Map<String, Value>)) -> String {
    let mut c = claims(NOW);
    edit(&mut c);
    sign_json(&header(KID_A), &c, &key_a())
}

/// `header(KID_A)` edited by `edit`, over `claims(NOW)`, signed with `key_a()`.
fn header_token(edit: impl FnOnce(&mut Map<String, Value>)) -> String {
    let mut h = header(KID_A);
    edit(&mut h);
    sign_json(&h, &claims(NOW), &key_a())
}

/// `claims(NOW)` with claim `name` set to the raw JSON text `raw`, signed with `key_a()`.
fn raw_claim_token(name: &str, raw: &str) -> String {
    let payload = json_with_raw_member(&claims(NOW), name, raw);
    let h = serde_json::to_vec(&header(KID_A)).unwrap();
    sign_raw(&h, &payload, &key_a())
}

/// Compact JSON of `map` with the raw member text `member` (e.g. `"a":1`) appended.
fn append_raw(map: &Map<String, Value>, member: &str) -> Vec<u8> {
    let text = serde_json::to_string(map).unwrap();
    format!("{},{member}}}", &text[..text.len() - 1]).into_bytes()
}

/// Raw header bytes and raw payload bytes signed with `key_a()`.
fn raw_token(header: &[u8], payload: &[u8]) -> String {
    sign_raw(header, payload, &key_a())
}

fn header_bytes() -> Vec<u8> {
    serde_json::to_vec(&header(KID_A)).unwrap()
}

fn payload_bytes() -> Vec<u8> {
    serde_json::to_vec(&claims(NOW)).unwrap()
}

/// The claims `claims(NOW)` verifies to.
fn expected() -> Claims {
    Claims {
        iss: ISS_A.into(),
        aud: Audience::One(AUD.into()),
        iat: NOW,
        exp: NOW + LIFETIME,
        nbf: None,
        jti: JTI.into(),
        exec_act: EXEC_ACT.into(),
        par: vec![],
        wid: None,
        inp_hash: None,
        out_hash: None,
        ext: None,
        pol: None,
    }
}

fn segments(token: &str) -> (String, String, String) {
    let mut it = token.split('.').map(str::to_owned);
    let s = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
    assert_eq!(it.next(), None);
    s
}

/// The token with its signature segment replaced by `signature` (base64url).
fn with_signature(token: &str, signature: &[u8]) -> String {
    let (h, p, _) = segments(token);
    format!("{h}.{p}.{}", b64_encode(signature))
}

fn signature_of(token: &str) -> [u8; 64] {
    let (_, _, s) = segments(token);
    b64_decode(s.as_bytes()).unwrap().try_into().unwrap()
}

fn uuid(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012x}")
}

fn parents(n: usize) -> Value {
    Value::Array((0..n).map(|i| Value::String(uuid(i))).collect())
}

/// Unpadded base64url length of `n` bytes.
fn b64_len(n: usize) -> usize {
    (n * 4).div_ceil(3)
}

/// A valid token (apart from its length) of exactly `target` bytes, padded through an ignored
/// header parameter and an ignored claim.
fn token_of_len(target: usize) -> String {
    for header_pad in 0..3 {
        let mut h = header(KID_A);
        h.insert("x-pad".into(), "y".repeat(header_pad).into());
        let h_len = b64_len(serde_json::to_vec(&h).unwrap().len());
        let mut c = claims(NOW);
        c.insert("pad".into(), "".into());
        let p0 = serde_json::to_vec(&c).unwrap().len();
        // 86 characters of signature, two dots.
        for k in 0..target {
            let len = h_len + 1 + b64_len(p0 + k) + 1 + 86;
            if len == target {
                c.insert("pad".into(), "x".repeat(k).into());
                let t = sign_json(&h, &c, &key_a());
                assert_eq!(t.len(), target);
                return t;
            }
            if len > target {
                break;
            }
        }
    }
    panic!("no padding reaches {target} bytes")
}

// ---------------------------------------------------------------------------------------------
// §2 Compact serialization
// ---------------------------------------------------------------------------------------------

#[test]
fn ect_jws_1_max_token_bytes_default_boundary() {
    // Exactly 65536 bytes (the default limit) and otherwise valid: accepted.
    let t = token_of_len(65536);
    let v = accept(&t);
    assert_eq!(v.token(), t);
    assert_eq!(v.claims(), &expected());
    // 65537 bytes: refused before anything else.
    let t = token_of_len(65537);
    assert_eq!(reject(&t), ("jws.too_large", "ECT-JWS-1"));
    assert_eq!(
        error(&t),
        Error::TooLarge {
            len: 65537,
            max: 65536
        }
    );
}

#[test]
fn ect_jws_1_max_token_bytes_configured() {
    let mut p = Policy::new(AUD);
    p.max_token_bytes = 1024;
    let t = token_of_len(1024);
    assert_eq!(accept_by(&verifier_with(p.clone()), &t, NOW).jti(), JTI);
    let t = token_of_len(1025);
    assert_eq!(
        reject_by(&verifier_with(p.clone()), &t, NOW),
        ("jws.too_large", "ECT-JWS-1")
    );
    // Size comes first: an over-long input of garbage is still jws.too_large (ECT-JWS-1).
    let garbage = " ".repeat(1025);
    assert_eq!(
        reject_by(&verifier_with(p), &garbage, NOW),
        ("jws.too_large", "ECT-JWS-1")
    );
}

#[test]
fn ect_jws_2_three_ascii_segments() {
    let t = valid_token();
    assert_eq!(accept(&t).claims(), &expected());
    let (h, p, s) = segments(&t);
    let broken = [
        format!("{h}.{p}"),                        // two segments
        format!("{h}.{p}.{s}."),                   // four, last empty
        format!("{h}.{p}.{s}.{s}"),                // four
        format!("{h}.{p}.{s}.{s}.{s}"),            // five: JWE shape
        format!("{h}..{s}"),                       // empty payload segment
        format!(".{p}.{s}"),                       // empty header segment
        format!("{h}.{p}."),                       // empty signature segment
        format!(" {t}"),                           // leading space
        format!("{t}\n"),                          // trailing newline
        format!("{t}\r\n"),                        // trailing CRLF
        format!("{t}\x0b"),                        // vertical tab
        format!("{h}.{p}\x0c.{s}"),                // form feed
        format!("{h}.\t{p}.{s}"),                  // tab inside
        format!("{h}.{p} .{s}"),                   // space inside
        format!("{h}.{p}.{}é", &s[..s.len() - 1]), // non-ASCII
        format!(r#"{{"protected":"{h}","payload":"{p}","signature":"{s}"}}"#), // JSON serialization
    ];
    for b in broken {
        assert_eq!(reject(&b), ("jws.malformed", "ECT-JWS-2"), "{b:?}");
    }
}

#[test]
fn ect_jws_3_strict_base64url() {
    let t = valid_token();
    let (h, p, s) = segments(&t);
    // The valid token's segments decode to exactly the signed bytes.
    assert_eq!(b64_decode(h.as_bytes()).unwrap(), header_bytes());
    assert_eq!(b64_decode(p.as_bytes()).unwrap(), payload_bytes());
    assert_eq!(accept(&t).header().kid(), KID_A);

    // Non-canonical trailing bits: the signature is 64 bytes = 86 characters, whose last
    // character carries 4 unused bits that must be zero.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let last = *s.as_bytes().last().unwrap();
    let idx = ALPHABET.iter().position(|&c| c == last).unwrap();
    assert_eq!(idx & 0x0f, 0);
    let non_canonical = format!("{h}.{p}.{}{}", &s[..85], ALPHABET[idx | 1] as char);

    let broken = [
        format!("{h}=.{p}.{s}"),          // padding, segment 0
        format!("{h}.{p}=.{s}"),          // padding, segment 1
        format!("{h}.{p}.{s}=="),         // padding, segment 2
        format!("{h}.{p}.+{}", &s[1..]),  // '+'
        format!("{h}./{}.{s}", &p[1..]),  // '/'
        format!("{h}.{p}.{}*", &s[..85]), // other character
        format!("{h}.{p}.{s}AAA"),        // length ≡ 1 (mod 4)
        non_canonical,                    // NonCanonicalBase64 (decision: rejected)
    ];
    for b in broken {
        assert_eq!(reject(&b), ("jws.base64", "ECT-JWS-3"), "{b:?}");
    }
    assert_eq!(error(format!("{h}.{p}=.{s}")), Error::Base64 { segment: 1 });
}

#[test]
fn ect_jws_4_utf8_json_objects() {
    // Insignificant whitespace in the header and a surrogate pair in an ignored claim: valid.
    let h = br#"{ "alg" : "ES256" , "kid" : "agent-a" , "typ" : "wimse-exec+jwt" }"#;
    let p = json_with_raw_member(&claims(NOW), "note", r#""\ud83d\ude00""#);
    let v = accept(&raw_token(h, &p));
    assert_eq!(v.header().kid(), KID_A);
    assert_eq!(v.claims(), &expected());

    let hb = header_bytes();
    let pb = payload_bytes();
    let with_bom = |b: &[u8]| [&b"\xEF\xBB\xBF"[..], b].concat();
    let trailing = |b: &[u8]| [b, &b" x"[..]].concat();
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let cases: Vec<(Vec<u8>, Vec<u8>)> =
        vec![
        // Header.
        (b"not json".to_vec(), pb.clone()),
        (b"[]".to_vec(), pb.clone()),
        (b"\"wimse-exec+jwt\"".to_vec(), pb.clone()),
        (with_bom(&hb), pb.clone()),
        (trailing(&hb), pb.clone()),
        (
            b"{\"alg\":\"ES256\",\"kid\":\"agent-a\",\"typ\":\"wimse-exec+jwt\",\"x\":\"\xff\"}"
                .to_vec(),
            pb.clone(),
        ),
        (json_with_raw_member(&header(KID_A), "x", r#""\ud800""#), pb.clone()),
        // Payload (parsed after the signature verified).
        (hb.clone(), b"not json".to_vec()),
        (hb.clone(), b"[]".to_vec()),
        (hb.clone(), with_bom(&pb)),
        (hb.clone(), trailing(&pb)),
        (hb.clone(), [&pb[..pb.len() - 1], &b",\"x\":\"\xc3\x28\"}"[..]].concat()),
        (hb.clone(), json_with_raw_member(&claims(NOW), "note", r#""\udc00""#)),
        (hb.clone(), json_with_raw_member(&claims(NOW), "note", &deep)),
    ];
    for (h, p) in cases {
        let t = raw_token(&h, &p);
        assert_eq!(
            reject(&t),
            ("jws.json", "ECT-JWS-4"),
            "{:?} / {:?}",
            String::from_utf8_lossy(&h),
            String::from_utf8_lossy(&p)
        );
    }
}

#[test]
fn ect_jws_5_duplicate_member_names() {
    // The same name in different objects is not a duplicate.
    let t = claims_token(|c| {
        c.insert(
            "ext".into(),
            json!({ "iss": "x", "jti": "y", "o": { "iss": 1 } }),
        );
    });
    let v = accept(&t);
    assert_eq!(
        v.claims().ext,
        Some(obj(json!({ "iss": "x", "jti": "y", "o": { "iss": 1 } })))
    );

    let hb = header_bytes();
    let pb = payload_bytes();
    let dup_header = br#"{"alg":"ES256","kid":"agent-a","typ":"wimse-exec+jwt","kid":"agent-a"}"#;
    let cases: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (dup_header.to_vec(), pb.clone()),
        (
            append_raw(&header(KID_A), r#""\u0074yp":"wimse-exec+jwt""#),
            pb.clone(),
        ),
        (
            hb.clone(),
            append_raw(&claims(NOW), r#""iss":"spiffe://example.org/agent-a""#),
        ),
        (
            hb.clone(),
            append_raw(&claims(NOW), r#""\u0069ss":"spiffe://example.org/agent-a""#),
        ),
        (
            hb.clone(),
            append_raw(
                &claims(NOW),
                r#""wid":"f47ac10b-58cc-4372-a567-0e02b2c3d479","wid":"f47ac10b-58cc-4372-a567-0e02b2c3d479""#,
            ),
        ),
        (
            hb.clone(),
            json_with_raw_member(&claims(NOW), "ext", r#"{"a":1,"a":1}"#),
        ),
        (
            hb.clone(),
            json_with_raw_member(&claims(NOW), "note", r#"[{"q":{"z":1,"z":2}}]"#),
        ),
    ];
    for (h, p) in cases {
        let t = raw_token(&h, &p);
        assert_eq!(
            reject(&t),
            ("jws.duplicate_member", "ECT-JWS-5"),
            "{:?} / {:?}",
            String::from_utf8_lossy(&h),
            String::from_utf8_lossy(&p)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// §3 JOSE header
// ---------------------------------------------------------------------------------------------

#[test]
fn ect_hdr_1_typ() {
    for typ in [
        "wimse-exec+jwt",
        "application/wimse-exec+jwt",
        "Application/WIMSE-Exec+JWT", // TypCase: accepted
        "WIMSE-EXEC+JWT",
    ] {
        let t = header_token(|h| {
            h.insert("typ".into(), typ.into());
        });
        let v = accept(&t);
        assert_eq!(v.header().typ(), typ);
        assert_eq!(v.claims(), &expected());
    }
    let bad: Vec<Option<Value>> = vec![
        None,
        Some(json!(1)),
        Some(json!(null)),
        Some(json!(["wimse-exec+jwt"])),
        Some(json!("JWT")),
        Some(json!("exec+jwt")), // Draft01Typ: rejected in draft-00
        Some(json!("text/wimse-exec+jwt")),
        Some(json!("wimse-exec+jwt; charset=utf-8")),
        Some(json!(" wimse-exec+jwt")),
        Some(json!("application/application/wimse-exec+jwt")),
        Some(json!("")),
    ];
    for typ in bad {
        let t = header_token(|h| match &typ {
            None => {
                h.remove("typ");
            }
            Some(v) => {
                h.insert("typ".into(), v.clone());
            }
        });
        assert_eq!(reject(&t), ("header.typ", "ECT-HDR-1"), "{typ:?}");
    }
}

#[test]
fn ect_hdr_2_alg_allowlist() {
    let v = accept(&valid_token());
    assert_eq!(v.header().alg(), Algorithm::Es256);
    let bad: Vec<Option<Value>> = vec![
        None,
        Some(json!("none")),
        Some(json!("None")),
        Some(json!("NONE")),
        Some(json!("HS256")),
        Some(json!("HS512")),
        Some(json!("es256")),
        Some(json!("ES384")),
        Some(json!("RS256")),
        Some(json!("EdDSA")),
        Some(json!("")),
        Some(json!(["ES256"])),
        Some(json!(null)),
    ];
    for alg in bad {
        let t = header_token(|h| match &alg {
            None => {
                h.remove("alg");
            }
            Some(v) => {
                h.insert("alg".into(), v.clone());
            }
        });
        assert_eq!(reject(&t), ("header.alg", "ECT-HDR-2"), "{alg:?}");
    }
    // Checked before any key is looked up: an unknown kid does not change the answer.
    let t = sign_json(
        &obj(json!({"alg": "none", "kid": "no-such-key", "typ": TYP})),
        &claims(NOW),
        &key_a(),
    );
    assert_eq!(reject(&t), ("header.alg", "ECT-HDR-2"));
}

#[test]
fn ect_hdr_3_no_crit() {
    assert_eq!(accept(&valid_token()).header().typ(), TYP);
    for crit in [
        json!([]),
        json!(["b64"]),
        json!(["exp"]),
        json!("b64"),
        json!(null),
    ] {
        let t = header_token(|h| {
            h.insert("crit".into(), crit.clone());
            if crit == json!(["b64"]) {
                h.insert("b64".into(), json!(false));
            }
        });
        assert_eq!(reject(&t), ("header.crit", "ECT-HDR-3"), "{crit}");
    }
}

#[test]
fn ect_hdr_4_kid() {
    assert_eq!(accept(&valid_token()).header().kid(), KID_A);
    let bad: Vec<Option<Value>> = vec![
        None,
        Some(json!("")),
        Some(json!(7)),
        Some(json!(null)),
        Some(json!(["agent-a"])),
    ];
    for kid in bad {
        let t = header_token(|h| match &kid {
            None => {
                h.remove("kid");
            }
            Some(v) => {
                h.insert("kid".into(), v.clone());
            }
        });
        assert_eq!(reject(&t), ("header.kid", "ECT-HDR-4"), "{kid:?}");
    }
}

#[test]
fn ect_hdr_5_embedded_keys_ignored() {
    // Extra jwk/jku/x5u/x5c/x5t and unknown parameters on a token signed by the trusted key:
    // accepted, and the key used is the trusted one.
    let t = header_token(|h| {
        h.insert("jku".into(), "https://attacker.example/jwks.json".into());
        h.insert("x5u".into(), "https://attacker.example/cert.pem".into());
        h.insert("x5c".into(), json!(["MIIBszCCAVmgAwIBAgIUQ"]));
        h.insert("x5t".into(), "dGVzdA".into());
        h.insert(
            "jwk".into(),
            Value::Object(attacker_key().to_public_jwk(None)),
        );
        h.insert("cty".into(), "JWT".into());
        h.insert("x-unknown".into(), json!({"a": [1, 2]}));
    });
    let v = accept(&t);
    assert_eq!(v.header().kid(), KID_A);
    assert_eq!(v.claims(), &expected());

    // The attack: the attacker's key embedded as `jwk`, the token signed by the attacker, `kid`
    // naming a trusted key. The embedded key is never used: sig.invalid under ECT-SIG-2.
    let mut h = header(KID_A);
    h.insert(
        "jwk".into(),
        Value::Object(attacker_key().to_public_jwk(None)),
    );
    let t = sign_json(&h, &claims(NOW), &attacker_key());
    assert_eq!(reject(&t), ("sig.invalid", "ECT-SIG-2"));
    // Same with jku/x5u pointing at the attacker.
    let mut h = header(KID_A);
    h.insert("jku".into(), "https://attacker.example/jwks.json".into());
    h.insert("x5u".into(), "https://attacker.example/cert.pem".into());
    let t = sign_json(&h, &claims(NOW), &attacker_key());
    assert_eq!(reject(&t), ("sig.invalid", "ECT-SIG-2"));
    // With the attacker's own kid the embedded key does not make it trusted (ECT-KEY-1).
    let mut h = header(KID_ATTACKER);
    h.insert(
        "jwk".into(),
        Value::Object(attacker_key().to_public_jwk(None)),
    );
    let t = sign_json(&h, &claims(NOW), &attacker_key());
    assert_eq!(reject(&t), ("key.unknown", "ECT-KEY-1"));
}

// ---------------------------------------------------------------------------------------------
// §4 Key resolution and signature
// ---------------------------------------------------------------------------------------------

#[test]
fn ect_key_1_kid_resolves_in_trusted_set() {
    // Both trusted keys resolve.
    assert_eq!(accept(&valid_token()).header().kid(), KID_A);
    let mut c = claims(NOW);
    c.insert("iss".into(), ISS_B.into());
    let v = accept(&sign_json(&header(KID_B), &c, &key_b()));
    assert_eq!(v.header().kid(), KID_B);
    assert_eq!(v.claims().iss, ISS_B);

    for kid in [
        "agent-c",
        "AGENT-A",
        "agent-a ",
        "./agent-a",
        "../keys/agent-a",
        "https://example.org/keys/agent-a",
        KID_ATTACKER,
    ] {
        let t = header_token(|h| {
            h.insert("kid".into(), kid.into());
        });
        assert_eq!(reject(&t), ("key.unknown", "ECT-KEY-1"), "{kid}");
    }
    // An untrusted signer with its own kid.
    let t = sign_json(&header(KID_ATTACKER), &claims(NOW), &attacker_key());
    assert_eq!(error(&t), Error::KeyUnknown(KID_ATTACKER.into()));
}

#[test]
fn ect_key_2_issuer_binding() {
    // key_b is bound to ISS_B.
    let b_token = |edit: &dyn Fn(&mut Map<String, Value>)| {
        let mut c = claims(NOW);
        c.insert("iss".into(), ISS_B.into());
        edit(&mut c);
        sign_json(&header(KID_B), &c, &key_b())
    };
    let v = accept(&b_token(&|_| {}));
    assert_eq!(
        v.claims(),
        &Claims {
            iss: ISS_B.into(),
            ..expected()
        }
    );
    // Key bound to B, token says A.
    let t = b_token(&|c| {
        c.insert("iss".into(), ISS_A.into());
    });
    assert_eq!(reject(&t), ("key.issuer_mismatch", "ECT-KEY-2"));
    assert_eq!(
        error(&t),
        Error::KeyIssuerMismatch {
            expected: ISS_B.into(),
            found: ISS_A.into()
        }
    );
    // Exact string comparison.
    let t = b_token(&|c| {
        c.insert("iss".into(), format!("{ISS_B}/").into());
    });
    assert_eq!(reject(&t), ("key.issuer_mismatch", "ECT-KEY-2"));
    // After CLM-2 and before CLM-3: empty iss with a bound key is an issuer mismatch...
    let t = b_token(&|c| {
        c.insert("iss".into(), "".into());
    });
    assert_eq!(reject(&t), ("key.issuer_mismatch", "ECT-KEY-2"));
    // ...while with the unbound key it reaches ECT-CLM-3.
    let t = claims_token(|c| {
        c.insert("iss".into(), "".into());
    });
    assert_eq!(reject(&t), ("claims.iss", "ECT-CLM-3"));
    // A wrong JSON type is found first (ECT-CLM-2), and a missing iss too (ECT-CLM-1).
    let t = b_token(&|c| {
        c.insert("iss".into(), json!(7));
    });
    assert_eq!(reject(&t), ("claims.type", "ECT-CLM-2"));
    let t = b_token(&|c| {
        c.remove("iss");
    });
    assert_eq!(reject(&t), ("claims.missing", "ECT-CLM-1"));
    // Before the later claim rules: wrong issuer and a bad jti is an issuer mismatch.
    let t = b_token(&|c| {
        c.insert("iss".into(), ISS_A.into());
        c.insert("jti".into(), "not-a-uuid".into());
    });
    assert_eq!(reject(&t), ("key.issuer_mismatch", "ECT-KEY-2"));
    // The unbound key accepts any issuer.
    let t = claims_token(|c| {
        c.insert("iss".into(), ISS_B.into());
    });
    assert_eq!(accept(&t).claims().iss, ISS_B);
}

/// An edit of a JWK, for the ECT-KEY-3 refusals.
type JwkEdit = Box<dyn Fn(&mut Map<String, Value>)>;

#[test]
fn ect_key_3_jwks_loading() {
    // A valid JWKS: both keys, B bound through `iss`; tokens verify against it.
    let jwks = json!({ "keys": [
        Value::Object(key_a().to_public_jwk(None)),
        Value::Object(key_b().to_public_jwk(Some(ISS_B))),
    ]});
    let set = KeySet::from_jwks_json(&serde_json::to_vec(&jwks).unwrap()).unwrap();
    assert_eq!(set, trusted_keys());
    assert_eq!(set.len(), 2);
    let v = Verifier::new(set, Policy::new(AUD)).unwrap();
    assert_eq!(accept_by(&v, &valid_token(), NOW).claims(), &expected());
    let mut c = claims(NOW);
    c.insert("iss".into(), ISS_A.into());
    let t = sign_json(&header(KID_B), &c, &key_b());
    assert_eq!(reject_by(&v, &t, NOW), ("key.issuer_mismatch", "ECT-KEY-2"));
    // Minimal JWK: kty, crv, x, y, kid.
    let full = key_a().to_public_jwk(None);
    let minimal = json!({"keys": [{
        "kty": "EC", "crv": "P-256", "x": full["x"], "y": full["y"], "kid": "m"
    }]});
    let set = KeySet::from_jwks_json(&serde_json::to_vec(&minimal).unwrap()).unwrap();
    assert_eq!(set.len(), 1);

    let load = |edit: &dyn Fn(&mut Map<String, Value>)| {
        let mut jwk = key_a().to_public_jwk(None);
        edit(&mut jwk);
        KeySet::from_jwks_json(&serde_json::to_vec(&json!({ "keys": [jwk] })).unwrap())
    };
    let x = b64_decode(full["x"].as_str().unwrap().as_bytes()).unwrap();
    let y = b64_decode(full["y"].as_str().unwrap().as_bytes()).unwrap();
    let mut y_flipped = y.clone();
    y_flipped[31] ^= 1;
    let edits: Vec<(&str, JwkEdit)> = vec![
        (
            "oct key",
            Box::new(|j| {
                j.clear();
                j.insert("kty".into(), "oct".into());
                j.insert("k".into(), b64_encode(&[7u8; 32]).into());
                j.insert("kid".into(), KID_A.into());
            }),
        ),
        (
            "kty oct with EC members",
            Box::new(|j| {
                j.insert("kty".into(), "oct".into());
            }),
        ),
        (
            "kty RSA",
            Box::new(|j| {
                j.insert("kty".into(), "RSA".into());
            }),
        ),
        (
            "kty missing",
            Box::new(|j| {
                j.remove("kty");
            }),
        ),
        (
            "crv P-384",
            Box::new(|j| {
                j.insert("crv".into(), "P-384".into());
            }),
        ),
        (
            "crv secp256k1",
            Box::new(|j| {
                j.insert("crv".into(), "secp256k1".into());
            }),
        ),
        (
            "crv lower case",
            Box::new(|j| {
                j.insert("crv".into(), "p-256".into());
            }),
        ),
        (
            "crv missing",
            Box::new(|j| {
                j.remove("crv");
            }),
        ),
        (
            "d present",
            Box::new(|j| {
                j.insert("d".into(), b64_encode(&[0x11; 32]).into());
            }),
        ),
        (
            "x 31 bytes",
            Box::new(|j| {
                j.insert("x".into(), b64_encode(&[1u8; 31]).into());
            }),
        ),
        (
            "x 33 bytes",
            Box::new(|j| {
                j.insert("x".into(), b64_encode(&[1u8; 33]).into());
            }),
        ),
        ("y 31 bytes", {
            let y31 = b64_encode(&y[1..]);
            Box::new(move |j| {
                j.insert("y".into(), y31.clone().into());
            })
        }),
        ("x padded", {
            let padded = format!("{}=", full["x"].as_str().unwrap());
            Box::new(move |j| {
                j.insert("x".into(), padded.clone().into());
            })
        }),
        (
            "x missing",
            Box::new(|j| {
                j.remove("x");
            }),
        ),
        (
            "y not a string",
            Box::new(|j| {
                j.insert("y".into(), json!(1));
            }),
        ),
        ("off-curve point", {
            let bad = b64_encode(&y_flipped);
            Box::new(move |j| {
                j.insert("y".into(), bad.clone().into());
            })
        }),
        ("x = y", {
            let xs = b64_encode(&x);
            Box::new(move |j| {
                j.insert("y".into(), xs.clone().into());
            })
        }),
        (
            "all-zero coordinates (no affine identity)",
            Box::new(|j| {
                j.insert("x".into(), b64_encode(&[0u8; 32]).into());
                j.insert("y".into(), b64_encode(&[0u8; 32]).into());
            }),
        ),
        (
            "coordinates >= p",
            Box::new(|j| {
                j.insert("x".into(), b64_encode(&[0xffu8; 32]).into());
                j.insert("y".into(), b64_encode(&[0xffu8; 32]).into());
            }),
        ),
        (
            "kid missing",
            Box::new(|j| {
                j.remove("kid");
            }),
        ),
        (
            "kid empty",
            Box::new(|j| {
                j.insert("kid".into(), "".into());
            }),
        ),
        (
            "alg HS256",
            Box::new(|j| {
                j.insert("alg".into(), "HS256".into());
            }),
        ),
        (
            "use enc",
            Box::new(|j| {
                j.insert("use".into(), "enc".into());
            }),
        ),
        (
            "iss empty",
            Box::new(|j| {
                j.insert("iss".into(), "".into());
            }),
        ),
        (
            "iss not a string",
            Box::new(|j| {
                j.insert("iss".into(), json!(["a"]));
            }),
        ),
    ];
    for (what, edit) in edits {
        let err = load(&*edit).unwrap_err();
        assert_eq!(
            (err.code(), err.rule()),
            ("key.invalid", "ECT-KEY-3"),
            "{what}"
        );
    }
    let a = serde_json::to_string(&key_a().to_public_jwk(None)).unwrap();
    for text in [
        "".to_string(),
        "[]".to_string(),
        r#"{"keys":[]}"#.to_string(),
        r#"{"keys":{}}"#.to_string(),
        r#"{"keys":[1]}"#.to_string(),
        r#"{"keys":[],"keys":[]}"#.to_string(),
        format!(r#"{{"keys":[{a},{a}]}}"#), // duplicate kid
    ] {
        let err = KeySet::from_jwks_json(text.as_bytes()).unwrap_err();
        assert_eq!(
            (err.code(), err.rule()),
            ("key.invalid", "ECT-KEY-3"),
            "{text}"
        );
    }
    let err = KeySet::from_keys([key_a().trusted(None), key_a().trusted(Some(ISS_A))]).unwrap_err();
    assert_eq!((err.code(), err.rule()), ("key.invalid", "ECT-KEY-3"));
    // One public key under two kids (decision KeySetStrictness): refused, whatever the bindings,
    // both through the JWKS loader and through from_keys.
    let mut twin = key_a().to_public_jwk(Some(ISS_B));
    twin.insert("kid".into(), "agent-a-again".into());
    let twice =
        json!({ "keys": [Value::Object(key_a().to_public_jwk(Some(ISS_A))), Value::Object(twin)] });
    let err = KeySet::from_jwks_json(&serde_json::to_vec(&twice).unwrap()).unwrap_err();
    assert_eq!(
        err,
        Error::KeySet(format!(
            "kid \"agent-a-again\" is the same public key as kid {KID_A:?}"
        ))
    );
    assert_eq!((err.code(), err.rule()), ("key.invalid", "ECT-KEY-3"));
    let same_scalar = SigningKey::from_scalar_bytes("other-kid", &[0xa1; 32]).unwrap();
    let first = SigningKey::from_scalar_bytes("first-kid", &[0xa1; 32]).unwrap();
    let err = KeySet::from_keys([first.trusted(None), same_scalar.trusted(None)]).unwrap_err();
    assert_eq!((err.code(), err.rule()), ("key.invalid", "ECT-KEY-3"));
    let err = SigningKey::from_scalar_bytes("k", &N).unwrap_err();
    assert_eq!((err.code(), err.rule()), ("key.invalid", "ECT-KEY-3"));
}

#[test]
fn ect_sig_1_signature_encoding() {
    let t = valid_token();
    let sig = signature_of(&t);
    assert_eq!(accept(&with_signature(&t, &sig)).claims(), &expected());
    let (r, s) = (&sig[..32], &sig[32..]);
    let zero = [0u8; 32];
    let r_plus_n_ish = [0xffu8; 32];
    let mut long = sig.to_vec();
    long.push(0);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("63 bytes", sig[..63].to_vec()),
        ("65 bytes", long),
        ("65 bytes, leading zero", [&[0u8][..], &sig[..]].concat()),
        ("32 bytes", r.to_vec()),
        ("128 bytes", [&sig[..], &sig[..]].concat()),
        ("DER", der_signature(&sig)),
        ("r = 0", [&zero[..], s].concat()),
        ("s = 0", [r, &zero[..]].concat()),
        ("r = n", [&N[..], s].concat()),
        ("s = n", [r, &N[..]].concat()),
        ("r > n", [&r_plus_n_ish[..], s].concat()),
        ("s > n", [r, &r_plus_n_ish[..]].concat()),
        ("all zero (CVE-2022-21449)", vec![0u8; 64]),
    ];
    for (what, bytes) in cases {
        let b = with_signature(&t, &bytes);
        assert_eq!(reject(&b), ("sig.invalid", "ECT-SIG-1"), "{what}");
    }
    let der_len = der_signature(&sig).len();
    assert_eq!(
        error(with_signature(&t, &der_signature(&sig))),
        Error::SignatureEncoding(format!("{der_len} bytes, expected 64 (r||s)"))
    );
}

#[test]
fn ect_sig_2_ecdsa_verification() {
    let t = valid_token();
    let (h, p, s) = segments(&t);
    assert_eq!(accept(&t).claims(), &expected());

    // High-S twin (s' = n - s) of the valid signature: valid ECDSA, accepted (flag HighS).
    let sig = signature_of(&t);
    let high = high_s_twin(&sig);
    assert_ne!(&high[..], &sig[..]);
    let twin = with_signature(&t, &high);
    let v = accept(&twin);
    assert_eq!(v.token(), twin);
    assert_eq!(v.claims(), &expected());

    // Tampered payload under the old signature.
    let mut c = claims(NOW);
    c.insert("exec_act".into(), "delete_everything".into());
    let p2 = b64_encode(&serde_json::to_vec(&c).unwrap());
    assert_eq!(
        reject(format!("{h}.{p2}.{s}")),
        ("sig.invalid", "ECT-SIG-2")
    );
    // Tampered header under the old signature (kid still the same).
    let mut hm = header(KID_A);
    hm.insert("x".into(), 1.into());
    let h2 = b64_encode(&serde_json::to_vec(&hm).unwrap());
    assert_eq!(
        reject(format!("{h2}.{p}.{s}")),
        ("sig.invalid", "ECT-SIG-2")
    );
    // Another trusted key's signature under kid A.
    let t = sign_json(&header(KID_A), &claims(NOW), &key_b());
    assert_eq!(reject(&t), ("sig.invalid", "ECT-SIG-2"));
    assert_eq!(error(&t), Error::SignatureInvalid);
    // r and s swapped; r of one token with s of another; signature of another token.
    let swapped = [&sig[32..], &sig[..32]].concat();
    assert_eq!(
        reject(with_signature(&valid_token(), &swapped)),
        ("sig.invalid", "ECT-SIG-2")
    );
    let other = signature_of(&claims_token(|c| {
        c.insert("x".into(), 1.into());
    }));
    let mixed = [&sig[..32], &other[32..]].concat();
    assert_eq!(
        reject(with_signature(&valid_token(), &mixed)),
        ("sig.invalid", "ECT-SIG-2")
    );
    assert_eq!(
        reject(with_signature(&valid_token(), &other)),
        ("sig.invalid", "ECT-SIG-2")
    );
    // The signature covers the exact segment bytes: the same header JSON re-encoded with
    // different whitespace is another signing input.
    let h3 = b64_encode(br#"{"alg":"ES256", "kid":"agent-a","typ":"wimse-exec+jwt"}"#);
    assert_eq!(
        reject(format!("{h3}.{p}.{s}")),
        ("sig.invalid", "ECT-SIG-2")
    );
}

// ---------------------------------------------------------------------------------------------
// §5 Claims
// ---------------------------------------------------------------------------------------------

const REQUIRED: [&str; 7] = ["iss", "aud", "iat", "exp", "jti", "exec_act", "par"];

#[test]
fn ect_clm_1_required_claims_present() {
    // Only the required claims: accepted.
    assert_eq!(accept(&valid_token()).claims(), &expected());
    for name in REQUIRED {
        let t = claims_token(|c| {
            c.remove(name);
        });
        assert_eq!(reject(&t), ("claims.missing", "ECT-CLM-1"), "{name}");
        assert_eq!(error(&t), Error::ClaimMissing(name));
    }
    // Present as null is a type error, never "absent".
    for name in REQUIRED {
        let t = claims_token(|c| {
            c.insert(name.into(), Value::Null);
        });
        assert_eq!(reject(&t), ("claims.type", "ECT-CLM-2"), "{name}");
    }
    // Optional claims may be absent; an empty payload misses iss first.
    let t = raw_token(&header_bytes(), b"{}");
    assert_eq!(error(&t), Error::ClaimMissing("iss"));
}

#[test]
fn ect_clm_2_claim_types() {
    // All types right, with aud as an array, every optional claim, nbf, and unknown claims
    // (sub, anything) of any type: accepted, unknown claims ignored.
    let wid = "f47ac10b-58cc-4372-a567-0e02b2c3d479";
    let parent = "0190a2b4-7c1d-7e3f-8a9b-0c1d2e3f4a5b";
    let t = claims_token(|c| {
        c.insert("aud".into(), json!(["spiffe://example.org/other", AUD]));
        c.insert("par".into(), json!([parent]));
        c.insert("wid".into(), wid.into());
        c.insert("inp_hash".into(), sha256_b64url(b"test").into());
        c.insert("out_hash".into(), sha256_b64url(b"foo").into());
        c.insert("ext".into(), json!({"k": "v"}));
        c.insert("pol".into(), "policy-1".into());
        c.insert("pol_decision".into(), "approved".into());
        c.insert("sub".into(), json!(5));
        c.insert("nbf".into(), json!(NOW - 5));
        c.insert("unknown".into(), json!({"x": [null]}));
    });
    let v = accept(&t);
    assert_eq!(
        v.claims(),
        &Claims {
            aud: Audience::Many(vec!["spiffe://example.org/other".into(), AUD.into()]),
            par: vec![parent.into()],
            wid: Some(wid.into()),
            inp_hash: Some("n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg".into()),
            out_hash: Some("LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564".into()),
            ext: Some(obj(json!({"k": "v"}))),
            pol: Some(PolicyClaims {
                pol: "policy-1".into(),
                decision: PolicyDecision::Approved
            }),
            nbf: Some(NOW - 5),
            ..expected()
        }
    );

    let wrong: Vec<(&'static str, Value)> = vec![
        ("iss", json!(1)),
        ("iss", json!(["spiffe://example.org/agent-a"])),
        ("aud", json!(1)),
        ("aud", json!({"a": AUD})),
        ("aud", json!([AUD, 1])),
        ("aud", json!([null])),
        ("iat", json!("1772000000")),
        ("iat", json!(true)),
        ("exp", json!([1772000600])),
        ("jti", json!(5)),
        ("jti", json!([JTI])),
        ("exec_act", json!([])),
        ("exec_act", json!(false)),
        ("par", json!("00000000-0000-4000-8000-000000000000")),
        ("par", json!([1])),
        ("par", json!({})),
        ("wid", json!(1)),
        ("wid", json!(null)),
        ("inp_hash", json!(1)),
        ("out_hash", json!(true)),
        ("out_hash", json!(null)),
        ("ext", json!([])),
        ("ext", json!("{}")),
        ("ext", json!(null)),
        ("pol", json!(1)),
        ("pol_decision", json!(["approved"])),
    ];
    for (name, value) in wrong {
        let t = claims_token(|c| {
            c.insert(name.into(), value.clone());
            // pol/pol_decision: give the other one a valid value so CLM-13 is not what fails.
            if name == "pol" {
                c.insert("pol_decision".into(), "approved".into());
            }
            if name == "pol_decision" {
                c.insert("pol".into(), "policy-1".into());
            }
        });
        assert_eq!(reject(&t), ("claims.type", "ECT-CLM-2"), "{name}: {value}");
        assert_eq!(error(&t), Error::ClaimType(name), "{name}: {value}");
    }
}

#[test]
fn ect_clm_3_iss_non_empty() {
    let t = claims_token(|c| {
        c.insert("iss".into(), "urn:example:agent".into());
    });
    assert_eq!(accept(&t).claims().iss, "urn:example:agent");
    let t = claims_token(|c| {
        c.insert("iss".into(), "x".into());
    });
    assert_eq!(accept(&t).claims().iss, "x");
    let t = claims_token(|c| {
        c.insert("iss".into(), "".into());
    });
    assert_eq!(reject(&t), ("claims.iss", "ECT-CLM-3"));
}

#[test]
fn ect_clm_4_aud_non_empty() {
    let t = claims_token(|c| {
        c.insert("aud".into(), json!([AUD]));
    });
    assert_eq!(accept(&t).claims().aud, Audience::Many(vec![AUD.into()]));
    for aud in [json!(""), json!([]), json!([AUD, ""]), json!([""])] {
        let t = claims_token(|c| {
            c.insert("aud".into(), aud.clone());
        });
        assert_eq!(reject(&t), ("claims.aud", "ECT-CLM-4"), "{aud}");
    }
}

#[test]
fn ect_clm_5_jti_uuid_syntax() {
    for jti in [
        "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
        "6BA7B810-9DAD-11D1-80B4-00C04FD430C8", // UppercaseUuid: accepted
        "6Ba7b810-9dAd-11d1-80b4-00c04fd430C8",
        "00000000-0000-0000-0000-000000000000", // nil
        "ffffffff-ffff-ffff-ffff-ffffffffffff", // max
        "f47ac10b-58cc-4372-a567-0e02b2c3d479", // v4
        "0190a2b4-7c1d-7e3f-8a9b-0c1d2e3f4a5b", // v7
        "12345678-1234-0234-f234-123456789abc", // version 0, odd variant: any version
    ] {
        let t = claims_token(|c| {
            c.insert("jti".into(), jti.into());
        });
        let v = accept(&t);
        assert_eq!(v.jti(), jti);
        assert_eq!(
            v.claims(),
            &Claims {
                jti: jti.into(),
                ..expected()
            }
        );
    }
    for jti in [
        "",
        "{6ba7b810-9dad-11d1-80b4-00c04fd430c8}",
        "urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8",
        "6ba7b8109dad11d180b400c04fd430c8",
        "6ba7b810-9dad-11d1-80b4-00c04fd430cg",
        "6ba7b810-9dad-11d1-80b4_00c04fd430c8",
        "6ba7b810-9dad-11d1-80b400c04fd430c8-",
        "6ba7b810-9dad-11d1-80b4-00c04fd430c",
        "6ba7b810-9dad-11d1-80b4-00c04fd430c80",
        " 6ba7b810-9dad-11d1-80b4-00c04fd430c8",
        "6ba7b810-9dad-11d1-80b4-00c04fd430c8\n",
        "6ba7b810-9dad-11d1-80b4-00c04fd430c８",
        "task-1",
    ] {
        let t = claims_token(|c| {
            c.insert("jti".into(), jti.into());
        });
        assert_eq!(reject(&t), ("claims.jti", "ECT-CLM-5"), "{jti:?}");
    }
}

#[test]
fn ect_clm_6_wid_uuid_syntax() {
    let wid = "F47AC10B-58CC-4372-A567-0E02B2C3D479";
    let t = claims_token(|c| {
        c.insert("wid".into(), wid.into());
    });
    assert_eq!(
        accept(&t).claims(),
        &Claims {
            wid: Some(wid.into()),
            ..expected()
        }
    );
    for wid in [
        "",
        "workflow-1",
        "{f47ac10b-58cc-4372-a567-0e02b2c3d479}",
        "urn:uuid:f47ac10b-58cc-4372-a567-0e02b2c3d479",
        "f47ac10b58cc4372a5670e02b2c3d479",
    ] {
        let t = claims_token(|c| {
            c.insert("wid".into(), wid.into());
        });
        assert_eq!(reject(&t), ("claims.wid", "ECT-CLM-6"), "{wid:?}");
    }
}

#[test]
fn ect_clm_7_exec_act_non_empty() {
    let t = claims_token(|c| {
        c.insert("exec_act".into(), "a".into());
    });
    assert_eq!(accept(&t).claims().exec_act, "a");
    let t = claims_token(|c| {
        c.insert("exec_act".into(), "".into());
    });
    assert_eq!(reject(&t), ("claims.exec_act", "ECT-CLM-7"));
}

#[test]
fn ect_clm_8_par_elements_uuids_no_duplicates() {
    let lower = "0190a2b4-7c1d-7e3f-8a9b-0c1d2e3f4a5b";
    let upper = "0190A2B4-7C1D-7E3F-8A9B-0C1D2E3F4A5B";
    // Two parents, in either case (ECT-CLM-5: upper-case hex is accepted).
    for par in [vec![uuid(1), uuid(2)], vec![upper.into(), uuid(2)]] {
        let t = claims_token(|c| {
            c.insert("par".into(), json!(par));
        });
        assert_eq!(
            accept(&t).claims(),
            &Claims {
                par: par.clone(),
                ..expected()
            }
        );
    }
    for par in [
        json!(["not-a-uuid"]),
        json!([uuid(1), ""]),
        json!([format!("urn:uuid:{}", uuid(1))]),
        json!([uuid(1), uuid(1)]), // DuplicateParent: rejected
        json!([lower, uuid(2), lower]),
        // ECT-CLM-5: the same UUID in two letter cases is one parent, listed twice.
        json!([lower, upper]),
        json!([upper, uuid(2), "0190a2b4-7C1D-7e3f-8A9B-0c1d2e3f4a5b"]),
    ] {
        let t = claims_token(|c| {
            c.insert("par".into(), par.clone());
        });
        assert_eq!(reject(&t), ("claims.par", "ECT-CLM-8"), "{par}");
    }
}

#[test]
fn ect_clm_9_par_not_self() {
    // ECT-CLM-5: UUIDs compare case-insensitively, so the upper-case spelling of the token's
    // own jti is the token itself, and an upper-case jti is named by its lower-case spelling.
    let upper_jti = claims_token(|c| {
        c.insert("jti".into(), JTI.to_uppercase().into());
        c.insert("par".into(), json!([uuid(1), JTI]));
    });
    assert_eq!(reject(&upper_jti), ("claims.par_self", "ECT-CLM-9"));
    for par in [
        json!([JTI]),
        json!([uuid(1), JTI]),
        json!([JTI.to_uppercase(), uuid(1)]),
    ] {
        let t = claims_token(|c| {
            c.insert("par".into(), par.clone());
        });
        assert_eq!(reject(&t), ("claims.par_self", "ECT-CLM-9"), "{par}");
    }
}

#[test]
fn ect_clm_10_par_length_limit() {
    // Default max_par = 100; an empty par (root task) is fine too.
    assert_eq!(accept(&valid_token()).claims().par, Vec::<String>::new());
    let t = claims_token(|c| {
        c.insert("par".into(), parents(100));
    });
    let v = accept(&t);
    assert_eq!(v.claims().par.len(), 100);
    assert_eq!(v.claims().par[99], uuid(99));
    let t = claims_token(|c| {
        c.insert("par".into(), parents(101));
    });
    assert_eq!(reject(&t), ("claims.par_too_long", "ECT-CLM-10"));
    assert_eq!(error(&t), Error::ParTooLong { len: 101, max: 100 });

    // Configured max_par = 2.
    let mut p = Policy::new(AUD);
    p.max_par = 2;
    let t = claims_token(|c| {
        c.insert("par".into(), parents(2));
    });
    assert_eq!(
        accept_by(&verifier_with(p.clone()), &t, NOW).claims().par,
        vec![uuid(0), uuid(1)]
    );
    let t = claims_token(|c| {
        c.insert("par".into(), parents(3));
    });
    assert_eq!(
        reject_by(&verifier_with(p.clone()), &t, NOW),
        ("claims.par_too_long", "ECT-CLM-10")
    );
    // Configured max_par = 0: only root tasks.
    p.max_par = 0;
    assert_eq!(
        accept_by(&verifier_with(p.clone()), &valid_token(), NOW).claims(),
        &expected()
    );
    let t = claims_token(|c| {
        c.insert("par".into(), parents(1));
    });
    assert_eq!(
        error_by(&verifier_with(p), &t, NOW),
        Error::ParTooLong { len: 1, max: 0 }
    );
}

#[test]
fn ect_clm_11_hash_format() {
    // Known answers from SPEC.md.
    let test = "n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg";
    let foo = "LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564";
    assert_eq!(sha256_b64url(b"test"), test);
    assert_eq!(sha256_b64url(b"foo"), foo);
    let t = claims_token(|c| {
        c.insert("inp_hash".into(), test.into());
        c.insert("out_hash".into(), foo.into());
    });
    assert_eq!(
        accept(&t).claims(),
        &Claims {
            inp_hash: Some(test.into()),
            out_hash: Some(foo.into()),
            ..expected()
        }
    );
    let hex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let bad = [
        format!("sha-256:{test}"), // LegacyHashPrefix
        format!("sha256:{test}"),
        format!("{test}="),
        test[..42].to_string(),
        format!("{test}A"),
        format!("{}h", &test[..42]), // non-canonical trailing bits
        test.replace('-', "+"),
        foo.replace('_', "/"),
        hex.to_string(),
        b64_encode(&[0u8; 31]),
        b64_encode(&[0u8; 33]),
        String::new(),
    ];
    for (name, other) in [("inp_hash", "out_hash"), ("out_hash", "inp_hash")] {
        for h in &bad {
            let t = claims_token(|c| {
                c.insert(other.into(), foo.into());
                c.insert(name.into(), h.clone().into());
            });
            assert_eq!(reject(&t), ("claims.hash", "ECT-CLM-11"), "{name}={h:?}");
            assert_eq!(error(&t), Error::Hash(name));
        }
    }
}

#[test]
fn ect_clm_12_ext_limits() {
    // Exactly 4096 bytes compact: {"k":"xxx..."} is 8 + len bytes.
    let ext4096 = obj(json!({ "k": "x".repeat(4088) }));
    assert_eq!(serde_json::to_vec(&ext4096).unwrap().len(), 4096);
    let t = claims_token(|c| {
        c.insert("ext".into(), Value::Object(ext4096.clone()));
    });
    assert_eq!(accept(&t).claims().ext, Some(ext4096));
    let ext4097 = obj(json!({ "k": "x".repeat(4089) }));
    assert_eq!(serde_json::to_vec(&ext4097).unwrap().len(), 4097);
    let t = claims_token(|c| {
        c.insert("ext".into(), Value::Object(ext4097));
    });
    assert_eq!(reject(&t), ("claims.ext_size", "ECT-CLM-12"));
    assert_eq!(error(&t), Error::ExtSize(4097));
    // Insignificant whitespace in the token does not count: the re-serialization is measured.
    let spaced = format!("{{ \"k\" : \"{}\" }}", "x".repeat(4088));
    let t = raw_claim_token("ext", &spaced);
    assert_eq!(
        accept(&t).claims().ext,
        Some(obj(json!({ "k": "x".repeat(4088) })))
    );

    // Depth 5 (ext itself is 1), objects and arrays.
    for ext in [
        json!({"a": {"b": {"c": {"d": {}}}}}),
        json!({"a": [[[["x"]]]]}),
        json!({"a": [{"b": [{}]}], "z": 1}),
    ] {
        let t = claims_token(|c| {
            c.insert("ext".into(), ext.clone());
        });
        assert_eq!(accept(&t).claims().ext, Some(obj(ext.clone())));
    }
    for ext in [
        json!({"a": {"b": {"c": {"d": {"e": {}}}}}}),
        json!({"a": [[[[[]]]]]}),
        json!({"ok": 1, "a": [{"b": [{"c": []}]}]}),
    ] {
        let t = claims_token(|c| {
            c.insert("ext".into(), ext.clone());
        });
        assert_eq!(reject(&t), ("claims.ext_depth", "ECT-CLM-12"), "{ext}");
    }
}

#[test]
fn ect_clm_13_pol_pair() {
    for (raw, decision) in [
        ("approved", PolicyDecision::Approved),
        ("rejected", PolicyDecision::Rejected),
        ("pending_human_review", PolicyDecision::PendingHumanReview),
    ] {
        let t = claims_token(|c| {
            c.insert("pol".into(), "policy-1".into());
            c.insert("pol_decision".into(), raw.into());
        });
        assert_eq!(
            accept(&t).claims(),
            &Claims {
                pol: Some(PolicyClaims {
                    pol: "policy-1".into(),
                    decision
                }),
                ..expected()
            }
        );
    }
    let cases: Vec<(Option<&str>, Option<&str>)> = vec![
        (Some("policy-1"), None),
        (None, Some("approved")),
        (Some(""), Some("approved")),
        (Some("policy-1"), Some("Approved")),
        (Some("policy-1"), Some("approve")),
        (Some("policy-1"), Some("")),
        (Some("policy-1"), Some("pending")),
        (Some("policy-1"), Some(" approved")),
    ];
    for (pol, decision) in cases {
        let t = claims_token(|c| {
            if let Some(p) = pol {
                c.insert("pol".into(), p.into());
            }
            if let Some(d) = decision {
                c.insert("pol_decision".into(), d.into());
            }
        });
        assert_eq!(
            reject(&t),
            ("claims.pol", "ECT-CLM-13"),
            "{pol:?} {decision:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// §6 Time, audience, replay
// ---------------------------------------------------------------------------------------------

fn timed_token(iat: u64, exp: u64) -> String {
    claims_token(|c| {
        c.insert("iat".into(), iat.into());
        c.insert("exp".into(), exp.into());
    })
}

#[test]
fn ect_time_1_exp_after_iat() {
    let t = timed_token(NOW, NOW + 1);
    let v = accept(&t);
    assert_eq!((v.claims().iat, v.claims().exp), (NOW, NOW + 1));
    for exp in [NOW, NOW - 1, 0] {
        let t = timed_token(NOW, exp);
        assert_eq!(reject(&t), ("time.exp_before_iat", "ECT-TIME-1"), "{exp}");
    }
}

#[test]
fn ect_time_2_expiry_with_leeway() {
    // exp = NOW + 600, leeway 30: invalid iff now >= exp + 30.
    let t = valid_token();
    let exp = NOW + LIFETIME;
    assert_eq!(accept_at(&t, exp + 29).claims(), &expected());
    assert_eq!(accept_at(&t, exp).claims(), &expected());
    assert_eq!(reject_at(&t, exp + 30), ("time.expired", "ECT-TIME-2"));
    assert_eq!(reject_at(&t, exp + 31), ("time.expired", "ECT-TIME-2"));
    // With leeway 0: now == exp is expired, exp - 1 is not.
    let mut p = Policy::new(AUD);
    p.leeway_seconds = 0;
    assert_eq!(
        accept_by(&verifier_with(p.clone()), &t, exp - 1,).jti(),
        JTI
    );
    assert_eq!(
        reject_by(&verifier_with(p), &t, exp),
        ("time.expired", "ECT-TIME-2")
    );
}

#[test]
fn ect_time_3_not_issued_in_future() {
    // now = NOW; invalid iff iat > now + 30.
    let t = timed_token(NOW + 30, NOW + 600);
    assert_eq!(accept_at(&t, NOW).claims().iat, NOW + 30);
    let t = timed_token(NOW + 31, NOW + 600);
    assert_eq!(reject_at(&t, NOW), ("time.not_yet_valid", "ECT-TIME-3"));
    // With leeway 0.
    let mut p = Policy::new(AUD);
    p.leeway_seconds = 0;
    let t = timed_token(NOW, NOW + 600);
    assert_eq!(
        accept_by(&verifier_with(p.clone()), &t, NOW).claims().iat,
        NOW
    );
    let t = timed_token(NOW + 1, NOW + 600);
    assert_eq!(
        reject_by(&verifier_with(p), &t, NOW),
        ("time.not_yet_valid", "ECT-TIME-3")
    );
}

#[test]
fn ect_time_4_max_iat_age() {
    // max_iat_age 900: invalid iff now - iat > 900. exp far enough not to expire first.
    let t = timed_token(NOW, NOW + 2000);
    assert_eq!(accept_at(&t, NOW + 900).claims().exp, NOW + 2000);
    assert_eq!(reject_at(&t, NOW + 901), ("time.too_old", "ECT-TIME-4"));
    // Configured max_iat_age 60.
    let mut p = Policy::new(AUD);
    p.max_iat_age_seconds = 60;
    assert_eq!(
        accept_by(&verifier_with(p.clone()), &t, NOW + 60).jti(),
        JTI
    );
    assert_eq!(
        reject_by(&verifier_with(p), &t, NOW + 61),
        ("time.too_old", "ECT-TIME-4")
    );
}

#[test]
fn ect_time_5_numeric_date_range() {
    const MAX: u64 = (1 << 53) - 1;
    // Upper bound: exp = 2^53 - 1 (iat below it, so that exp > iat).
    let t = timed_token(MAX - 600, MAX);
    let v = accept_at(&t, MAX - 600);
    assert_eq!((v.claims().iat, v.claims().exp), (MAX - 600, MAX));
    // Lower bound: iat = 0.
    let t = timed_token(0, 600);
    assert_eq!(
        (accept_at(&t, 0).claims().iat, accept_at(&t, 0).claims().exp),
        (0, 600)
    );

    // Numbers out of range or not integers: claims.type under ECT-TIME-5.
    for (name, raw) in [
        ("exp", "9007199254740992"), // 2^53
        ("iat", "9007199254740992"),
        ("exp", "18446744073709551615"), // u64::MAX
        ("exp", "18446744073709551616"), // 2^64
        ("iat", "-1"),
        ("iat", "-1772000000"),
        ("iat", "1772000000.5"), // FractionalNumericDate
        ("iat", "1772000000.0"),
        ("iat", "1.7e9"),
        ("exp", "1.7726E9"),
        ("iat", "-0"),
        ("nbf", "-1"),
        ("nbf", "9007199254740992"),
        ("nbf", "1772000000.5"),
    ] {
        let t = raw_claim_token(name, raw);
        assert_eq!(reject(&t), ("claims.type", "ECT-TIME-5"), "{name}={raw}");
        assert_eq!(error(&t), Error::NumericDate(name), "{name}={raw}");
    }
    // Not numbers at all: claims.type under ECT-CLM-2.
    for (name, raw) in [
        ("iat", r#""1772000000""#),
        ("exp", r#""1772000600""#),
        ("iat", "true"),
        ("exp", "null"),
        ("iat", "[1772000000]"),
        ("nbf", r#""1772000000""#),
        ("nbf", "null"),
    ] {
        let t = raw_claim_token(name, raw);
        assert_eq!(reject(&t), ("claims.type", "ECT-CLM-2"), "{name}={raw}");
    }
}

#[test]
fn ect_time_6_not_before_honoured() {
    let with_nbf = |nbf: u64| {
        claims_token(|c| {
            c.insert("nbf".into(), nbf.into());
        })
    };
    // Boundary at now + leeway (30 s): nbf = now + 30 is accepted, nbf = now + 31 is not.
    for nbf in [0, NOW - 600, NOW, NOW + 30] {
        assert_eq!(accept(&with_nbf(nbf)).claims().nbf, Some(nbf), "nbf={nbf}");
    }
    for nbf in [NOW + 31, NOW + 100_000, (1 << 53) - 1] {
        assert_eq!(
            error(with_nbf(nbf)),
            Error::NotBefore,
            "nbf={nbf}: ECT-TIME-6"
        );
        assert_eq!(reject(with_nbf(nbf)), ("time.not_yet_valid", "ECT-TIME-6"));
    }
    // The same token becomes valid once now + leeway reaches nbf.
    assert_eq!(
        accept_at(&with_nbf(NOW + 31), NOW + 1).claims().nbf,
        Some(NOW + 31)
    );
    // Without nbf the claim is absent.
    assert_eq!(accept(&valid_token()).claims().nbf, None);
    // Checked after ECT-TIME-4 and before ECT-AUD-1 (SPEC.md's order).
    let too_old = claims_token(|c| {
        c.insert("iat".into(), (NOW - 901).into());
        c.insert("nbf".into(), (NOW + 31).into());
    });
    assert_eq!(reject(&too_old), ("time.too_old", "ECT-TIME-4"));
    let wrong_aud = claims_token(|c| {
        c.insert("nbf".into(), (NOW + 31).into());
        c.insert("aud".into(), "spiffe://example.org/other".into());
    });
    assert_eq!(reject(&wrong_aud), ("time.not_yet_valid", "ECT-TIME-6"));
}

#[test]
fn ect_aud_1_audience_match() {
    let t = valid_token();
    assert_eq!(accept(&t).claims().aud, Audience::One(AUD.into()));
    let t = claims_token(|c| {
        c.insert(
            "aud".into(),
            json!(["spiffe://example.org/x", AUD, "spiffe://example.org/y"]),
        );
    });
    assert_eq!(
        accept(&t).claims().aud,
        Audience::Many(vec![
            "spiffe://example.org/x".into(),
            AUD.into(),
            "spiffe://example.org/y".into()
        ])
    );
    for aud in [
        json!("spiffe://example.org/other"),
        json!(AUD.to_uppercase()),
        json!(format!("{AUD}/")),
        json!(&AUD[..AUD.len() - 1]),
        json!(["spiffe://example.org/x", "spiffe://example.org/y"]),
        json!([format!(" {AUD}")]),
    ] {
        let t = claims_token(|c| {
            c.insert("aud".into(), aud.clone());
        });
        assert_eq!(reject(&t), ("aud.mismatch", "ECT-AUD-1"), "{aud}");
    }
    // A verifier without an identifier is a configuration error, not a pass.
    let err = Verifier::new(trusted_keys(), Policy::new("")).unwrap_err();
    assert_eq!(err.message(), "audience must be a non-empty string");
}

#[test]
fn ect_rpl_1_replay() {
    let v = verifier();
    let t = valid_token();
    assert_eq!(accept_by(&v, &t, NOW).claims(), &expected());
    // Second presentation, later.
    assert_eq!(reject_by(&v, &t, NOW + 1), ("replay.jti", "ECT-RPL-1"));
    assert_eq!(error_by(&v, &t, NOW + 2), Error::Replay);
    // Another token (another signature, other claims) with the same jti and no wid: replay.
    let t2 = claims_token(|c| {
        c.insert("exec_act".into(), "other".into());
    });
    assert_eq!(reject_by(&v, &t2, NOW + 3), ("replay.jti", "ECT-RPL-1"));
    // The high-S twin of the accepted token is the same jti: replay.
    let sig = signature_of(&t);
    let twin = with_signature(&t, &high_s_twin(&sig));
    assert_eq!(reject_by(&v, &twin, NOW + 4), ("replay.jti", "ECT-RPL-1"));
}

#[test]
fn ect_rpl_1_scope_is_wid_and_jti() {
    let v = verifier();
    let w1 = "f47ac10b-58cc-4372-a567-0e02b2c3d479";
    let w2 = "0190a2b4-7c1d-7e3f-8a9b-0c1d2e3f4a5b";
    let with_wid = |wid: &str| {
        claims_token(|c| {
            c.insert("wid".into(), wid.into());
        })
    };
    // Same jti in three scopes (no wid, w1, w2): three distinct tasks.
    assert_eq!(accept_by(&v, &valid_token(), NOW).claims().wid, None);
    assert_eq!(
        accept_by(&v, &with_wid(w1), NOW).claims().wid,
        Some(w1.to_string())
    );
    assert_eq!(
        accept_by(&v, &with_wid(w2), NOW).claims().wid,
        Some(w2.to_string())
    );
    // Each again: replay; and (ECT-CLM-5: UUIDs compare case-insensitively) the upper-case
    // spelling of a wid or jti is the same scope and task, so a replay too.
    let upper_jti = |wid: Option<&str>| {
        claims_token(|c| {
            c.insert("jti".into(), JTI.to_uppercase().into());
            if let Some(w) = wid {
                c.insert("wid".into(), w.into());
            }
        })
    };
    for t in [
        valid_token(),
        with_wid(w1),
        with_wid(w2),
        with_wid(&w1.to_uppercase()),
        upper_jti(None),
        upper_jti(Some(&w2.to_uppercase())),
    ] {
        assert_eq!(reject_by(&v, &t, NOW + 1), ("replay.jti", "ECT-RPL-1"));
    }
}

#[test]
fn ect_rpl_1_rejected_tokens_record_nothing() {
    let v = verifier();
    let t = valid_token();
    // Presented too early (ECT-TIME-3): rejected, nothing recorded.
    assert_eq!(
        reject_by(&v, &t, NOW - 31),
        ("time.not_yet_valid", "ECT-TIME-3")
    );
    // Same jti, wrong audience: rejected, nothing recorded.
    let wrong_aud = claims_token(|c| {
        c.insert("aud".into(), "spiffe://example.org/other".into());
    });
    assert_eq!(
        reject_by(&v, &wrong_aud, NOW),
        ("aud.mismatch", "ECT-AUD-1")
    );
    // Same jti, bad signature: rejected, nothing recorded.
    let forged = sign_json(&header(KID_A), &claims(NOW), &key_b());
    assert_eq!(reject_by(&v, &forged, NOW), ("sig.invalid", "ECT-SIG-2"));
    // The valid presentation is accepted, once.
    assert_eq!(accept_by(&v, &t, NOW).claims(), &expected());
    assert_eq!(reject_by(&v, &t, NOW), ("replay.jti", "ECT-RPL-1"));
}

#[test]
fn ect_rpl_1_bounded_cache_full() {
    let mut p = Policy::new(AUD);
    p.replay = ReplayProtection::Enabled {
        max_entries: Some(1),
    };
    let v = verifier_with(p);
    let first = valid_token();
    let second = claims_token(|c| {
        c.insert("jti".into(), uuid(2).into());
    });
    assert_eq!(accept_by(&v, &first, NOW).jti(), JTI);
    // Full: a new token is refused rather than a live entry forgotten.
    assert_eq!(reject_by(&v, &second, NOW), ("replay.full", "ECT-RPL-1"));
    assert_eq!(error_by(&v, &second, NOW), Error::ReplayCacheFull);
    // The live entry is still remembered.
    assert_eq!(reject_by(&v, &first, NOW + 1), ("replay.jti", "ECT-RPL-1"));
    // Once the first token's window (exp + leeway) is over, there is room again; the second
    // token (iat NOW + 700) is then valid and accepted.
    let later = claims_token(|c| {
        c.insert("jti".into(), uuid(3).into());
        c.insert("iat".into(), (NOW + 700).into());
        c.insert("exp".into(), (NOW + 1300).into());
    });
    assert_eq!(accept_by(&v, &later, NOW + 700).jti(), uuid(3));
    // Disabled replay protection: the same token twice is accepted.
    let mut p = Policy::new(AUD);
    p.replay = ReplayProtection::Disabled;
    let v = verifier_with(p);
    assert_eq!(accept_by(&v, &first, NOW).jti(), JTI);
    assert_eq!(accept_by(&v, &first, NOW).jti(), JTI);
}

// ---------------------------------------------------------------------------------------------
// §9 HTTP transport
// ---------------------------------------------------------------------------------------------

fn parse(lines: &[&str]) -> wimse_ect::Result<Vec<String>> {
    parse_field_values(lines.iter().map(|l| l.as_bytes()), DEFAULT_MAX_FIELD_BYTES)
}

#[test]
fn ect_http_1_field_name_and_single_value() {
    assert_eq!(FIELD_NAME, "Execution-Context");
    assert!(FIELD_NAME.eq_ignore_ascii_case("execution-context"));
    assert!(FIELD_NAME.eq_ignore_ascii_case("EXECUTION-CONTEXT"));
    let t = valid_token();
    assert_eq!(parse(&[&t]), Ok(vec![t.clone()]));
    assert_eq!(accept(&parse(&[&t]).unwrap()[0]).claims(), &expected());
    // A value that is not one compact ECT: the field parses, the token does not verify.
    let not_ect = parse(&["abc.def"]).unwrap();
    assert_eq!(not_ect, vec!["abc.def".to_string()]);
    assert_eq!(reject(&not_ect[0]), ("jws.malformed", "ECT-JWS-2"));
    // No field line at all: no ECT.
    assert_eq!(parse(&[]), Ok(vec![]));
}

#[test]
fn ect_http_2_lines_and_lists_combine_in_order() {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(parse(&["a.b.c,d.e.f"]), Ok(s(&["a.b.c", "d.e.f"])));
    assert_eq!(parse(&["a.b.c , d.e.f"]), Ok(s(&["a.b.c", "d.e.f"])));
    assert_eq!(parse(&["a.b.c\t,\td.e.f"]), Ok(s(&["a.b.c", "d.e.f"])));
    assert_eq!(parse(&[" a.b.c "]), Ok(s(&["a.b.c"])));
    assert_eq!(
        parse(&["a.b.c", "d.e.f, g.h.i", "\tj.k.l"]),
        Ok(s(&["a.b.c", "d.e.f", "g.h.i", "j.k.l"]))
    );
    assert_eq!(parse(&["g.h.i", "a.b.c"]), Ok(s(&["g.h.i", "a.b.c"])));
    // Duplicates are passed through (replay is the verifier's job).
    assert_eq!(parse(&["a.b.c", "a.b.c"]), Ok(s(&["a.b.c", "a.b.c"])));
    // The formatter writes the list form.
    assert_eq!(
        format_field_value(&["a.b.c", "d.e.f", "g.h.i"]),
        Ok("a.b.c, d.e.f, g.h.i".to_string())
    );
    // Other separators are not list syntax (ECT-HTTP-3).
    let e = parse(&["a.b.c;d.e.f"]).unwrap_err();
    assert_eq!((e.code(), e.rule()), ("http.malformed", "ECT-HTTP-3"));
}

#[test]
fn ect_http_3_malformed_values() {
    let t = valid_token();
    assert_eq!(
        parse(&[&format!("{t}, {t}")]),
        Ok(vec![t.clone(), t.clone()])
    );
    for lines in [
        &[""][..],
        &[" "],
        &["\t"],
        &["a.b.c,"],
        &[",a.b.c"],
        &["a.b.c,,d.e.f"],
        &["a.b.c, ,d.e.f"],
        &["a.b.c", ""],
        &["a.b c"],
        &["a.b+c"],
        &["a.b/c"],
        &["a.b.c="],
        &["a.b.c;x"],
        &["\"a.b.c\""],
        &["a.b.c\r\n"],
        &["Bearer a.b.c"],
        &["a.b.é"],
    ] {
        let e = parse(lines).unwrap_err();
        assert_eq!(
            (e.code(), e.rule()),
            ("http.malformed", "ECT-HTTP-3"),
            "{lines:?}"
        );
    }
    for tokens in [&[][..], &[""], &["a,b"], &["a b"], &["a.b.c="]] {
        let e = format_field_value(tokens).unwrap_err();
        assert_eq!(
            (e.code(), e.rule()),
            ("http.malformed", "ECT-HTTP-3"),
            "{tokens:?}"
        );
    }
}

#[test]
fn ect_http_4_field_size_bound() {
    assert_eq!(DEFAULT_MAX_FIELD_BYTES, 65536);
    let max = "a".repeat(65536);
    assert_eq!(parse(&[&max]), Ok(vec![max.clone()]));
    let over = "a".repeat(65537);
    let e = parse(&[&over]).unwrap_err();
    assert_eq!((e.code(), e.rule()), ("http.too_large", "ECT-HTTP-4"));
    assert_eq!(
        e,
        Error::HttpTooLarge {
            len: 65537,
            max: 65536
        }
    );
    // Lines combine with ", " for the bound.
    assert_eq!(
        parse_field_values([&b"abcd"[..], b"ef"], 8),
        Ok(vec!["abcd".to_string(), "ef".to_string()])
    );
    let e = parse_field_values([&b"abcd"[..], b"efg"], 8).unwrap_err();
    assert_eq!((e.code(), e.rule()), ("http.too_large", "ECT-HTTP-4"));
    assert_eq!(e, Error::HttpTooLarge { len: 9, max: 8 });
    // The bound is checked first: too large and malformed is http.too_large.
    let e = parse_field_values([&b"a b c d e"[..]], 8).unwrap_err();
    assert_eq!((e.code(), e.rule()), ("http.too_large", "ECT-HTTP-4"));
}

#[test]
fn ect_http_5_rejection_status() {
    assert_eq!(REJECTION_STATUS, 403);
    // Not the 401 of earlier draft text.
    assert_ne!(REJECTION_STATUS, 401);
}

#[test]
fn ect_http_round_trip_tokens_from_header_verify() {
    let parent = valid_token();
    let child = claims_token(|c| {
        c.insert("jti".into(), uuid(7).into());
        c.insert("par".into(), json!([JTI]));
    });
    let sibling = claims_token(|c| {
        c.insert("jti".into(), uuid(8).into());
        c.insert("aud".into(), json!([AUD]));
    });
    let one_line = format_field_value(&[&parent, &child]).unwrap();
    let lines = [one_line.as_str(), sibling.as_str()];
    let tokens = parse(&lines).unwrap();
    assert_eq!(tokens, vec![parent.clone(), child.clone(), sibling.clone()]);
    let v = verifier();
    let jtis: Vec<String> = tokens
        .iter()
        .map(|t| accept_by(&v, t, NOW).jti().to_owned())
        .collect();
    assert_eq!(jtis, vec![JTI.to_string(), uuid(7), uuid(8)]);
    // Sent again, each one is a replay (ECT-RPL-1).
    for t in parse(&lines).unwrap() {
        assert_eq!(reject_by(&v, &t, NOW), ("replay.jti", "ECT-RPL-1"));
    }
}

// ---------------------------------------------------------------------------------------------
// Order of checks (SPEC.md §6, end)
// ---------------------------------------------------------------------------------------------

#[test]
fn order_of_checks_for_multi_defect_tokens() {
    let bad_typ_header = |h: &mut Map<String, Value>| {
        h.insert("typ".into(), "JWT".into());
    };
    // Too large and malformed: ECT-JWS-1 first.
    let mut p = Policy::new(AUD);
    p.max_token_bytes = 256;
    assert_eq!(
        reject_by(&verifier_with(p), format!("{} x", "a".repeat(300)), NOW),
        ("jws.too_large", "ECT-JWS-1")
    );
    // Bad base64 in the signature segment and a header that is not JSON: JWS-3 checks all
    // three segments before the header is parsed.
    let t = raw_token(b"not json", &payload_bytes());
    let (h, p, s) = segments(&t);
    assert_eq!(
        reject(format!("{h}.{p}.+{}", &s[1..])),
        ("jws.base64", "ECT-JWS-3")
    );
    // Duplicate header member and bad typ: JWS-5 before HDR-1.
    let t = raw_token(
        br#"{"alg":"ES256","kid":"agent-a","typ":"JWT","typ":"JWT"}"#,
        &payload_bytes(),
    );
    assert_eq!(reject(&t), ("jws.duplicate_member", "ECT-JWS-5"));
    // Bad typ and bad signature: header.typ.
    let mut hm = header(KID_A);
    bad_typ_header(&mut hm);
    let t = sign_json(&hm, &claims(NOW), &key_b());
    assert_eq!(reject(&t), ("header.typ", "ECT-HDR-1"));
    // Bad typ and bad alg: HDR-1 before HDR-2.
    let t = header_token(|h| {
        bad_typ_header(h);
        h.insert("alg".into(), "none".into());
    });
    assert_eq!(reject(&t), ("header.typ", "ECT-HDR-1"));
    // Bad alg and crit: HDR-2 before HDR-3.
    let t = header_token(|h| {
        h.insert("alg".into(), "HS256".into());
        h.insert("crit".into(), json!(["b64"]));
    });
    assert_eq!(reject(&t), ("header.alg", "ECT-HDR-2"));
    // crit and no kid: HDR-3 before HDR-4.
    let t = header_token(|h| {
        h.insert("crit".into(), json!([]));
        h.remove("kid");
    });
    assert_eq!(reject(&t), ("header.crit", "ECT-HDR-3"));
    // Unknown kid and a malformed signature: KEY-1 before SIG-1.
    let t = sign_json(&header("nobody"), &claims(NOW), &key_a());
    assert_eq!(
        reject(with_signature(&t, &[0u8; 64])),
        ("key.unknown", "ECT-KEY-1")
    );
    // Bad signature and bad claims / bad payload JSON: sig.invalid (payload parsed only after
    // the signature verified).
    let t = claims_token(|c| {
        c.insert("jti".into(), "nope".into());
        c.remove("aud");
    });
    let t = with_signature(&t, &signature_of(&valid_token()));
    assert_eq!(reject(&t), ("sig.invalid", "ECT-SIG-2"));
    let t = raw_token(&header_bytes(), b"{not json");
    let t = with_signature(&t, &signature_of(&valid_token()));
    assert_eq!(reject(&t), ("sig.invalid", "ECT-SIG-2"));
    let t = raw_token(&header_bytes(), br#"{"iss":1,"iss":2}"#);
    let t = with_signature(&t, &signature_of(&valid_token()));
    assert_eq!(reject(&t), ("sig.invalid", "ECT-SIG-2"));
    // Missing claim and wrong type of another: claims.missing (CLM-1 before CLM-2), whatever
    // the member order.
    let t = claims_token(|c| {
        c.insert("iss".into(), json!(1));
        c.remove("par");
    });
    assert_eq!(reject(&t), ("claims.missing", "ECT-CLM-1"));
    // Wrong type and a bad value of an earlier claim: CLM-2 before CLM-3.
    let t = claims_token(|c| {
        c.insert("iss".into(), "".into());
        c.insert("ext".into(), json!([]));
    });
    assert_eq!(reject(&t), ("claims.type", "ECT-CLM-2"));
    // Out-of-range exp and a bad jti: TIME-5 is part of CLM-2.
    let t = claims_token(|c| {
        c.insert("exp".into(), json!(-5));
        c.insert("jti".into(), "nope".into());
    });
    assert_eq!(reject(&t), ("claims.type", "ECT-TIME-5"));
    // Claim value rules in order: jti before wid before exec_act before par ...
    let t = claims_token(|c| {
        c.insert("jti".into(), "nope".into());
        c.insert("wid".into(), "nope".into());
    });
    assert_eq!(reject(&t), ("claims.jti", "ECT-CLM-5"));
    let t = claims_token(|c| {
        c.insert("wid".into(), "nope".into());
        c.insert("exec_act".into(), "".into());
    });
    assert_eq!(reject(&t), ("claims.wid", "ECT-CLM-6"));
    let t = claims_token(|c| {
        c.insert("par".into(), parents(101));
        c.insert("inp_hash".into(), "x".into());
    });
    assert_eq!(reject(&t), ("claims.par_too_long", "ECT-CLM-10"));
    let t = claims_token(|c| {
        c.insert("ext".into(), json!({"k": "x".repeat(5000)}));
        c.insert("pol".into(), "".into());
    });
    assert_eq!(reject(&t), ("claims.ext_size", "ECT-CLM-12"));
    // A claim error and a time error: claims first.
    let t = claims_token(|c| {
        c.insert("pol".into(), "p".into());
        c.insert("exp".into(), NOW.into());
    });
    assert_eq!(reject(&t), ("claims.pol", "ECT-CLM-13"));
    // exp <= iat and expired: TIME-1 first.
    let t = timed_token(NOW, NOW);
    assert_eq!(
        reject_at(&t, NOW + 10_000),
        ("time.exp_before_iat", "ECT-TIME-1")
    );
    // Expired and wrong audience: time.expired.
    let t = claims_token(|c| {
        c.insert("aud".into(), "spiffe://example.org/other".into());
    });
    assert_eq!(
        reject_at(&t, NOW + LIFETIME + 30),
        ("time.expired", "ECT-TIME-2")
    );
    // Expired and too old: TIME-2 before TIME-4.
    assert_eq!(
        reject_at(valid_token(), NOW + 1000),
        ("time.expired", "ECT-TIME-2")
    );
    // Issued in the future and wrong audience: TIME-3 before AUD-1.
    assert_eq!(
        reject_at(&t, NOW - 31),
        ("time.not_yet_valid", "ECT-TIME-3")
    );
    // Too old and wrong audience: TIME-4 before AUD-1.
    let t = claims_token(|c| {
        c.insert("aud".into(), "spiffe://example.org/other".into());
        c.insert("exp".into(), (NOW + 2000).into());
    });
    assert_eq!(reject_at(&t, NOW + 901), ("time.too_old", "ECT-TIME-4"));
    // Wrong audience and a replay: aud.mismatch (RPL-1 last). Two verifiers share a cache.
    let cache = Arc::new(MemoryReplayCache::new());
    let v1 = verifier().with_replay_cache(cache.clone());
    let v2 = verifier_with(Policy::new("spiffe://example.org/elsewhere"))
        .with_replay_cache(cache.clone());
    let t = valid_token();
    assert_eq!(accept_by(&v1, &t, NOW).jti(), JTI);
    assert_eq!(reject_by(&v2, &t, NOW), ("aud.mismatch", "ECT-AUD-1"));
    assert_eq!(reject_by(&v1, &t, NOW), ("replay.jti", "ECT-RPL-1"));
    assert_eq!(cache.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Coverage of SPEC.md's rule ids by this file
// ---------------------------------------------------------------------------------------------

const FAMILIES: [&str; 11] = [
    "JWS", "HDR", "KEY", "SIG", "CLM", "TIME", "AUD", "RPL", "DAG", "LED", "HTTP",
];
const SECTIONS: [u32; 8] = [2, 3, 4, 5, 6, 7, 8, 9];
/// Families whose tests live in tests/api/dag.rs and tests/api/ledger.rs (SPEC.md §7 and §8).
const DAG_LEDGER_FAMILIES: [&str; 2] = ["DAG", "LED"];

// BEGIN FALLBACK IDS (removed from the searched text by `every_rule_id_is_tested`)
const FALLBACK_IDS: [&str; 51] = [
    "ECT-JWS-1",
    "ECT-JWS-2",
    "ECT-JWS-3",
    "ECT-JWS-4",
    "ECT-JWS-5",
    "ECT-HDR-1",
    "ECT-HDR-2",
    "ECT-HDR-3",
    "ECT-HDR-4",
    "ECT-HDR-5",
    "ECT-KEY-1",
    "ECT-KEY-2",
    "ECT-KEY-3",
    "ECT-SIG-1",
    "ECT-SIG-2",
    "ECT-CLM-1",
    "ECT-CLM-2",
    "ECT-CLM-3",
    "ECT-CLM-4",
    "ECT-CLM-5",
    "ECT-CLM-6",
    "ECT-CLM-7",
    "ECT-CLM-8",
    "ECT-CLM-9",
    "ECT-CLM-10",
    "ECT-CLM-11",
    "ECT-CLM-12",
    "ECT-CLM-13",
    "ECT-TIME-1",
    "ECT-TIME-2",
    "ECT-TIME-3",
    "ECT-TIME-4",
    "ECT-TIME-5",
    "ECT-TIME-6",
    "ECT-AUD-1",
    "ECT-RPL-1",
    "ECT-DAG-1",
    "ECT-DAG-2",
    "ECT-DAG-3",
    "ECT-DAG-4",
    "ECT-DAG-5",
    "ECT-DAG-6",
    "ECT-LED-1",
    "ECT-LED-2",
    "ECT-LED-3",
    "ECT-LED-4",
    "ECT-HTTP-1",
    "ECT-HTTP-2",
    "ECT-HTTP-3",
    "ECT-HTTP-4",
    "ECT-HTTP-5",
];
// END FALLBACK IDS

/// Rule ids `ECT-(JWS|HDR|KEY|SIG|CLM|TIME|AUD|RPL|DAG|LED|HTTP)-<digits>` from the first cell
/// of the table rows of SPEC.md sections 2–9.
fn spec_rule_ids(spec: &str) -> Vec<String> {
    let mut section = 0u32;
    let mut ids = Vec::new();
    for line in spec.lines() {
        if let Some(title) = line.strip_prefix("## ") {
            section = title
                .split('.')
                .next()
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or(0);
            continue;
        }
        let Some(row) = line.strip_prefix('|') else {
            continue;
        };
        let cell = row.split('|').next().unwrap_or("").trim();
        let Some(rest) = cell.strip_prefix("ECT-") else {
            continue;
        };
        let Some((family, number)) = rest.split_once('-') else {
            continue;
        };
        if SECTIONS.contains(&section)
            && FAMILIES.contains(&family)
            && !number.is_empty()
            && number.bytes().all(|b| b.is_ascii_digit())
        {
            ids.push(cell.to_owned());
        }
    }
    ids
}

/// Whether `id` (e.g. `ECT-CLM-1`) occurs in `text` as itself (not as a prefix of
/// `ECT-CLM-10`), either as written or in test-name form (`ect_clm_1_...`).
fn mentions(text: &str, id: &str) -> bool {
    let snake = id.to_ascii_lowercase().replace('-', "_");
    [id.to_owned(), snake].iter().any(|needle| {
        text.match_indices(needle.as_str()).any(|(i, _)| {
            !text[i + needle.len()..]
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_digit())
        })
    })
}

#[test]
fn every_rule_id_is_tested() {
    let source = include_str!("rules.rs");
    // The fallback list must not satisfy the check by itself: cut it out.
    let begin = concat!("// BEGIN ", "FALLBACK IDS");
    let end = concat!("// END ", "FALLBACK IDS");
    let (before, rest) = source.split_once(begin).expect("begin marker");
    let (_, after) = rest.split_once(end).expect("end marker");
    let searched = format!("{before}{after}");

    let spec_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/SPEC.md");
    let ids: Vec<String> = match std::fs::read_to_string(&spec_path) {
        Ok(spec) => {
            let ids = spec_rule_ids(&spec);
            // The extraction found at least the rules this file was written against.
            for id in FALLBACK_IDS {
                assert!(ids.iter().any(|x| x == id), "{id} not found in SPEC.md");
            }
            ids
        }
        Err(_) => FALLBACK_IDS.iter().map(|s| s.to_string()).collect(),
    };
    // SPEC.md §7 and §8 (DAG, LED) are tested in their own files.
    let dag_ledger = concat!(include_str!("dag.rs"), include_str!("ledger.rs"));
    let is_dag_ledger = |id: &str| {
        DAG_LEDGER_FAMILIES.iter().any(|f| {
            id.strip_prefix("ECT-")
                .and_then(|r| r.strip_prefix(f))
                .is_some_and(|r| r.starts_with('-'))
        })
    };
    let missing: Vec<&String> = ids
        .iter()
        .filter(|id| {
            let text = if is_dag_ledger(id) {
                dag_ledger
            } else {
                searched.as_str()
            };
            !mentions(text, id)
        })
        .collect();
    assert!(missing.is_empty(), "rule ids without a test: {missing:?}");
}
