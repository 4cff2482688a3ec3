//! Robustness: random inputs and random single-byte mutations of a valid token never panic, and
//! every rejection carries a SPEC.md error code and rule id. A deterministic PRNG (SplitMix64,
//! fixed seeds) makes every run identical; a failure message names the offending input.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use serde_json::{Value, json};
use wimse_ect::base64url::encode as b64_encode;
use wimse_ect::http::parse_field_values;
use wimse_ect::{
    EctBuilder, Error, KeySet, Policy, PolicyDecision, ReplayProtection, SigningKey, Verifier,
    parse_object, sha256_b64url, sign_raw,
};

/// Every token error code of SPEC.md §2–§6 (the codes `Verifier::verify` may return).
const SPEC_CODES: &[&str] = &[
    // §2 compact serialization
    "jws.too_large",
    "jws.malformed",
    "jws.base64",
    "jws.json",
    "jws.duplicate_member",
    // §3 JOSE header
    "header.typ",
    "header.alg",
    "header.crit",
    "header.kid",
    // §4 key resolution and signature
    "key.unknown",
    "key.issuer_mismatch",
    "sig.invalid",
    // §5 claims
    "claims.missing",
    "claims.type",
    "claims.iss",
    "claims.aud",
    "claims.jti",
    "claims.wid",
    "claims.exec_act",
    "claims.par",
    "claims.par_self",
    "claims.par_too_long",
    "claims.hash",
    "claims.ext_size",
    "claims.ext_depth",
    "claims.pol",
    // §6 time, audience, replay
    "time.exp_before_iat",
    "time.expired",
    "time.not_yet_valid",
    "time.too_old",
    "aud.mismatch",
    "replay.jti",
];

const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const NOW: u64 = 1_772_000_000;
const AUD: &str = "spiffe://example.org/verifier";
const ISS: &str = "spiffe://example.org/agent-a";
const KID: &str = "agent-a";

/// SplitMix64: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform-ish in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.byte()).collect()
    }
    fn pick(&mut self, alphabet: &[u8]) -> u8 {
        alphabet[self.below(alphabet.len())]
    }
    fn chars_from(&mut self, alphabet: &[u8], len: usize) -> Vec<u8> {
        (0..len).map(|_| self.pick(alphabet)).collect()
    }
}

fn key() -> SigningKey {
    SigningKey::from_scalar_bytes(KID, &[0x5a; 32]).unwrap()
}

/// A verifier without replay protection, so that `Ok` always means "this token verifies".
fn verifier() -> Verifier {
    let keys = KeySet::from_keys([key().trusted(Some(ISS))]).unwrap();
    let mut policy = Policy::new(AUD);
    policy.replay = ReplayProtection::Disabled;
    Verifier::new(keys, policy).unwrap()
}

fn valid_token() -> String {
    let mut ext = serde_json::Map::new();
    ext.insert("k".into(), json!({"n": [1, 2, 3]}));
    EctBuilder::new(ISS, "robustness")
        .audiences([AUD, "spiffe://example.org/other"])
        .jti("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
        .issued_at(NOW)
        .expires_at(NOW + 600)
        .parent("6ba7b811-9dad-11d1-80b4-00c04fd430c8")
        .wid("6ba7b812-9dad-11d1-80b4-00c04fd430c8")
        .inp_hash(sha256_b64url(b"in"))
        .ext(ext)
        .policy("pol", PolicyDecision::Approved)
        .sign(&key())
        .unwrap()
}

fn show(input: &[u8]) -> String {
    match std::str::from_utf8(input) {
        Ok(s) if s.len() <= 400 => format!("{s:?}"),
        _ => format!(
            "{} bytes, hex {:02x?}",
            input.len(),
            &input[..input.len().min(200)]
        ),
    }
}

/// Runs `f`, turning a panic into a test failure that names the input.
fn no_panic<T>(what: &str, input: &[u8], f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|_| panic!("{what} panicked on input {}", show(input)))
}

/// Asserts that `err` has one of `codes` and a rule id starting with `rule_prefix`.
fn check_error(what: &str, input: &[u8], err: &Error, codes: &[&str], rule_prefix: &str) {
    assert!(
        codes.contains(&err.code()),
        "{what}: code {} not allowed, input {}",
        err.code(),
        show(input)
    );
    assert!(
        err.rule().starts_with(rule_prefix),
        "{what}: rule {} for input {}",
        err.rule(),
        show(input)
    );
}

fn verify_outcome(v: &Verifier, input: &[u8]) -> Option<&'static str> {
    match no_panic("Verifier::verify", input, || v.verify(input, NOW + 5)) {
        Ok(_) => None,
        Err(e) => {
            check_error("Verifier::verify", input, &e, SPEC_CODES, "ECT-");
            Some(e.code())
        }
    }
}

#[test]
fn random_inputs_to_the_verifier() {
    let v = verifier();
    let mut rng = Rng(0x5eed_0001);
    let header = b64_encode(br#"{"alg":"ES256","kid":"agent-a","typ":"wimse-exec+jwt"}"#);
    let mut histogram: BTreeMap<&str, usize> = BTreeMap::new();
    const N: usize = 10_000;
    // Plain random byte strings: nearly all stop at ECT-JWS-2 (non-ASCII) or ECT-JWS-3.
    let mut plain: BTreeMap<&str, usize> = BTreeMap::new();
    for _ in 0..N {
        let len = rng.below(300);
        let input = rng.bytes(len);
        let code = verify_outcome(&v, &input)
            .unwrap_or_else(|| panic!("random input verified: {}", show(&input)));
        *plain.entry(code).or_default() += 1;
    }
    println!("plain random bytes ({N}): {plain:?}");
    assert_eq!(plain.values().sum::<usize>(), N);
    // Random strings shaped to get further: alphabets, segment structure, a valid header.
    for i in 0..N {
        // Case 4 reaches the ECDSA check (about 3 ms in a debug build): one input in 20.
        let input: Vec<u8> = match i % 20 {
            // Arbitrary bytes.
            0 | 6 | 12 | 18 => {
                let len = rng.below(200);
                rng.bytes(len)
            }
            // base64url characters and dots.
            1 | 7 | 13 | 19 => {
                let len = rng.below(300);
                rng.chars_from(
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.",
                    len,
                )
            }
            // Three random base64url segments.
            2 | 8 | 14 => {
                let mut parts = Vec::new();
                for _ in 0..3 {
                    let len = 1 + rng.below(90);
                    parts.push(rng.chars_from(B64URL, len));
                }
                parts.join(&b'.')
            }
            // Three well-formed segments of random bytes.
            3 | 9 | 15 => {
                let (a, b, c) = (rng.below(80), rng.below(200), rng.below(80));
                let parts = [rng.bytes(a + 1), rng.bytes(b + 1), rng.bytes(c + 1)];
                parts
                    .iter()
                    .map(|p| b64_encode(p))
                    .collect::<Vec<_>>()
                    .join(".")
                    .into_bytes()
            }
            // A valid header, random payload and a random 64-byte signature.
            4 => {
                let len = 1 + rng.below(300);
                format!(
                    "{header}.{}.{}",
                    b64_encode(&rng.bytes(len)),
                    b64_encode(&rng.bytes(64))
                )
                .into_bytes()
            }
            // Random JSON-ish header text.
            _ => {
                let len = 1 + rng.below(80);
                let h = rng.chars_from(br#"{}[]":,. ataeglkidpyESw0123-+"#, len);
                format!("{}.e30.{}", b64_encode(&h), b64_encode(&rng.bytes(64))).into_bytes()
            }
        };
        let outcome = verify_outcome(&v, &input);
        let code = outcome.unwrap_or_else(|| panic!("random input verified: {}", show(&input)));
        *histogram.entry(code).or_default() += 1;
    }
    // A few oversized inputs: ECT-JWS-1 before anything else.
    for len in [65_537, 100_000] {
        let input = rng.bytes(len);
        assert_eq!(verify_outcome(&v, &input), Some("jws.too_large"));
        *histogram.entry("jws.too_large").or_default() += 1;
    }
    println!("shaped random inputs ({N} + 2 oversized): {histogram:?}");
    for code in [
        "jws.malformed",
        "jws.base64",
        "jws.json",
        "sig.invalid",
        "jws.too_large",
    ] {
        assert!(
            histogram.contains_key(code),
            "{code} never hit: {histogram:?}"
        );
    }
}

/// One random single-byte edit of `token`; never a no-op.
///
/// The position is drawn per segment: half the edits land in the header (each header edit
/// exercises a different early check: JSON, typ, alg, crit, kid, key lookup), a quarter in the
/// payload and a quarter in the signature. Every payload or signature edit that stays valid
/// base64url ends in the ECDSA check (about 3 ms each in a debug build), so drawing positions
/// uniformly over the bytes would spend most of the time on one code path.
fn mutate(rng: &mut Rng, token: &[u8]) -> (Vec<u8>, &'static str) {
    let dots: Vec<usize> = (0..token.len()).filter(|&i| token[i] == b'.').collect();
    let segments = [
        0..dots[0] + 1,
        dots[0] + 1..dots[1] + 1,
        dots[1] + 1..token.len(),
    ];
    loop {
        let mut m = token.to_vec();
        let segment = match rng.below(4) {
            0 | 1 => &segments[0],
            2 => &segments[1],
            _ => &segments[2],
        };
        let pos = segment.start + rng.below(segment.len());
        let kind = match rng.below(10) {
            // Half the mutations stay in the base64url alphabet, so deeper layers are reached.
            0..=4 => {
                if m[pos] == b'.' {
                    continue;
                }
                m[pos] = rng.pick(B64URL);
                "b64 char"
            }
            5 => {
                m[pos] = rng.byte();
                "any byte"
            }
            6 => {
                m[pos] ^= 1 << rng.below(8);
                "bit flip"
            }
            7 => {
                m.remove(pos);
                "delete"
            }
            8 => {
                m.insert(pos, rng.pick(B64URL));
                "insert b64 char"
            }
            _ => {
                m.insert(pos, rng.pick(b".=+/ \t\n\0"));
                "insert special"
            }
        };
        if m != token {
            return (m, kind);
        }
    }
}

#[test]
fn single_byte_mutations_of_a_valid_token() {
    let v = verifier();
    let token = valid_token();
    assert!(v.verify(&token, NOW + 5).is_ok(), "the base token verifies");
    let sig_start = token.rfind('.').unwrap() + 1;
    let mut rng = Rng(0x5eed_0002);
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    let mut sig_segment_mutations = 0;
    const N: usize = 10_000;
    let mutations: Vec<(Vec<u8>, &str)> = (0..N)
        .map(|_| {
            let (m, kind) = mutate(&mut rng, token.as_bytes());
            *kinds.entry(kind).or_default() += 1;
            if m.len() == token.len() && m[..sig_start] == token.as_bytes()[..sig_start] {
                sig_segment_mutations += 1;
            }
            (m, kind)
        })
        .collect();
    // Most mutations reach the ECDSA check (about 3 ms each in a debug build), so the work is
    // split over two threads; the mutations themselves are fixed above.
    let histograms: Vec<BTreeMap<&str, usize>> = std::thread::scope(|s| {
        let workers: Vec<_> = mutations
            .chunks(N.div_ceil(2))
            .map(|chunk| {
                let v = &v;
                s.spawn(move || {
                    let mut histogram: BTreeMap<&str, usize> = BTreeMap::new();
                    for (m, kind) in chunk {
                        // A mutation of the header or payload breaks the signature; one of the
                        // signature segment changes the decoded signature (strict base64url
                        // refuses non-canonical trailing bits, so no two encodings decode
                        // alike). No mutated token may verify.
                        let code = verify_outcome(v, m).unwrap_or_else(|| {
                            panic!("mutated token ({kind}) verified: {}", show(m))
                        });
                        *histogram.entry(code).or_default() += 1;
                    }
                    histogram
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let mut histogram: BTreeMap<&str, usize> = BTreeMap::new();
    for h in histograms {
        for (code, n) in h {
            *histogram.entry(code).or_default() += n;
        }
    }
    println!("mutations ({N}): kinds {kinds:?}");
    println!(
        "mutations ({N}): {sig_segment_mutations} in the signature segment; codes {histogram:?}"
    );
    assert_eq!(histogram.values().sum::<usize>(), N);
    for code in [
        "jws.malformed",
        "jws.base64",
        "jws.json",
        "sig.invalid",
        "header.typ",
    ] {
        assert!(
            histogram.contains_key(code),
            "{code} never hit: {histogram:?}"
        );
    }
    assert!(
        histogram.len() >= 5,
        "too few distinct codes: {histogram:?}"
    );
}

/// Single-byte edits of the decoded header or payload JSON, re-signed with the trusted key, so
/// that the JSON, header, claim, time and audience layers see well-signed garbage.
#[test]
fn resigned_mutations_reach_the_claim_layers() {
    let v = verifier();
    let k = key();
    let token = valid_token();
    let parts: Vec<&str> = token.split('.').collect();
    let header = wimse_ect::base64url::decode(parts[0].as_bytes()).unwrap();
    let payload = wimse_ect::base64url::decode(parts[1].as_bytes()).unwrap();
    let mut rng = Rng(0x5eed_0003);
    let mut histogram: BTreeMap<&str, usize> = BTreeMap::new();
    let json_chars: &[u8] = br#"{}[]":,0123456789-abcdefxyz.\ "#;
    const N: usize = 600;
    for i in 0..N {
        let (mut h, mut p) = (header.clone(), payload.clone());
        let target = if i % 4 == 0 { &mut h } else { &mut p };
        let pos = rng.below(target.len());
        match rng.below(4) {
            0 => target[pos] = rng.byte(),
            1 => {
                target.remove(pos);
            }
            2 => target.insert(pos, rng.pick(json_chars)),
            _ => target[pos] = rng.pick(json_chars),
        }
        let signed = sign_raw(&h, &p, &k);
        let code = verify_outcome(&v, signed.as_bytes()).unwrap_or("ok");
        *histogram.entry(code).or_default() += 1;
    }
    println!("re-signed JSON mutations ({N}): {histogram:?}");
    for code in ["jws.json", "header.typ", "claims.missing", "claims.type"] {
        assert!(
            histogram.contains_key(code),
            "{code} never hit: {histogram:?}"
        );
    }
    assert!(
        histogram.len() >= 8,
        "too few distinct codes: {histogram:?}"
    );
}

#[test]
fn random_http_field_values() {
    let mut rng = Rng(0x5eed_0004);
    let alphabet: &[u8] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_., \t,,;=\"";
    let mut histogram: BTreeMap<&str, usize> = BTreeMap::new();
    for i in 0..10_000 {
        let lines: Vec<Vec<u8>> = (0..rng.below(4))
            .map(|_| {
                let len = rng.below(60);
                if i % 3 == 0 {
                    rng.bytes(len)
                } else {
                    rng.chars_from(alphabet, len)
                }
            })
            .collect();
        let max = if i % 10 == 0 { rng.below(64) } else { 65536 };
        let all = lines.join(&b'|');
        let outcome = no_panic("parse_field_values", &all, || {
            parse_field_values(lines.iter().map(Vec::as_slice), max)
        });
        match outcome {
            Ok(tokens) => {
                for t in &tokens {
                    assert!(
                        !t.is_empty()
                            && t.bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
                        "bad element {t:?} from {}",
                        show(&all)
                    );
                }
                *histogram.entry("ok").or_default() += 1;
            }
            Err(e) => {
                check_error(
                    "parse_field_values",
                    &all,
                    &e,
                    &["http.malformed", "http.too_large"],
                    "ECT-HTTP-",
                );
                *histogram.entry(e.code()).or_default() += 1;
            }
        }
    }
    println!("http field values (10000): {histogram:?}");
    assert_eq!(
        histogram.len(),
        3,
        "ok, malformed and too_large all seen: {histogram:?}"
    );
}

#[test]
fn random_jwks() {
    let mut rng = Rng(0x5eed_0005);
    let jwks = serde_json::to_vec(&json!({ "keys": [key().to_public_jwk(Some(ISS))] })).unwrap();
    assert!(KeySet::from_jwks_json(&jwks).is_ok());
    let mut histogram: BTreeMap<&str, usize> = BTreeMap::new();
    for i in 0..10_000 {
        let input = match i % 3 {
            0 => {
                let len = rng.below(200);
                rng.bytes(len)
            }
            // One-byte edits of a valid JWK Set: reach the ECT-KEY-3 member checks and p256's
            // point decoding.
            _ => {
                let mut m = jwks.clone();
                let pos = rng.below(m.len());
                if i % 3 == 1 {
                    m[pos] = rng.pick(B64URL);
                } else {
                    m[pos] = rng.byte();
                }
                m
            }
        };
        match no_panic("KeySet::from_jwks_json", &input, || {
            KeySet::from_jwks_json(&input)
        }) {
            Ok(set) => {
                assert_eq!(set.len(), 1);
                *histogram.entry("ok").or_default() += 1;
            }
            Err(e) => {
                check_error(
                    "KeySet::from_jwks_json",
                    &input,
                    &e,
                    &["key.invalid"],
                    "ECT-KEY-3",
                );
                *histogram.entry(e.code()).or_default() += 1;
            }
        }
    }
    println!("JWKS inputs (10000): {histogram:?}");
    assert!(histogram["key.invalid"] > 9_000);
}

/// Random JSON text: objects with member names from a tiny set (so duplicates occur), nested
/// arrays and objects, numbers in several syntaxes, strings with escapes.
fn random_json(rng: &mut Rng, depth: usize, out: &mut String) {
    const STRINGS: &[&str] = &[
        r#""a""#,
        r#""b""#,
        r#""\u0061""#,
        r#""\ud83d\ude00""#,
        r#""\ud800""#,
        r#""x\"y""#,
        r#""ü""#,
        r#""""#,
    ];
    const SCALARS: &[&str] = &[
        "0",
        "-1",
        "1.5",
        "1e3",
        "9007199254740993",
        "-0",
        "true",
        "false",
        "null",
    ];
    match if depth == 0 {
        2 + rng.below(2)
    } else {
        rng.below(4)
    } {
        0 => {
            out.push('{');
            for i in 0..rng.below(4) {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(STRINGS[rng.below(3)]);
                out.push(':');
                random_json(rng, depth - 1, out);
            }
            out.push('}');
        }
        1 => {
            out.push('[');
            for i in 0..rng.below(4) {
                if i > 0 {
                    out.push(',');
                }
                random_json(rng, depth - 1, out);
            }
            out.push(']');
        }
        2 => out.push_str(STRINGS[rng.below(STRINGS.len())]),
        _ => out.push_str(SCALARS[rng.below(SCALARS.len())]),
    }
}

#[test]
fn random_json_objects() {
    let mut rng = Rng(0x5eed_0006);
    let mut histogram: BTreeMap<&str, usize> = BTreeMap::new();
    for i in 0..10_000 {
        let input = if i % 4 == 0 {
            let len = rng.below(120);
            rng.bytes(len)
        } else {
            // A random object, then (two times in three) one random byte edit.
            let mut text = String::from("{\"top\":");
            random_json(&mut rng, 4, &mut text);
            text.push('}');
            let mut bytes = text.into_bytes();
            if i % 4 != 1 {
                let pos = rng.below(bytes.len());
                bytes[pos] = if rng.below(2) == 0 {
                    rng.byte()
                } else {
                    rng.pick(br#"{}[]":, \"#)
                };
            }
            bytes
        };
        match no_panic("parse_object", &input, || parse_object(&input)) {
            Ok(map) => {
                // Whatever is accepted survives a round trip unchanged.
                let again = parse_object(&serde_json::to_vec(&map).unwrap()).unwrap();
                assert_eq!(Value::Object(again), Value::Object(map));
                *histogram.entry("ok").or_default() += 1;
            }
            Err(e) => {
                check_error(
                    "parse_object",
                    &input,
                    &e,
                    &["jws.json", "jws.duplicate_member"],
                    "ECT-JWS-",
                );
                *histogram.entry(e.code()).or_default() += 1;
            }
        }
    }
    println!("JSON inputs (10000): {histogram:?}");
    assert_eq!(
        histogram.len(),
        3,
        "ok, jws.json and jws.duplicate_member: {histogram:?}"
    );
}
