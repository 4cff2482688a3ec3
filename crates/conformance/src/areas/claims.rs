//! SPEC.md §5: the claims. Presence (ECT-CLM-1), JSON types (ECT-CLM-2) with the NumericDate
//! syntax of `iat`/`exp` (ECT-TIME-5), and the value rules ECT-CLM-3..13, each with accepted and
//! refused values, plus unknown claims (ignored) and a few tokens with two defects whose code
//! SPEC.md's order of checks decides. Tokens are agent A's ([`claims`]) with one claim changed.

use serde_json::{Map, Value, json};

use crate::build::*;
use crate::vector::Verdict;
use wimse_ect::base64url::encode as b64_encode;
use wimse_ect::sign_raw;

/// Agent A's token for [`uuid`]`(1)` with its claims changed by `edit`.
fn with(edit: impl FnOnce(&mut Map<String, Value>)) -> String {
    let mut c = claims(&uuid(1));
    edit(&mut c);
    sign_a(&c)
}

/// Agent A's token for [`uuid`]`(1)` with claim `name` set to `value`.
fn set(name: &str, value: Value) -> String {
    with(|c| {
        c.insert(name.into(), value);
    })
}

/// Agent A's token for [`uuid`]`(1)` without claim `name`.
fn without(name: &str) -> String {
    with(|c| {
        c.remove(name);
    })
}

/// Agent A's token for [`uuid`]`(1)` with claim `name` written as the raw JSON text `text`
/// (for number syntax `serde_json` would not produce, such as `-0` or `1.772e9`).
fn raw(name: &str, text: &str) -> String {
    const MARK: &str = "@@raw@@";
    let mut c = claims(&uuid(1));
    c.insert(name.into(), MARK.into());
    let payload = serde_json::to_string(&to_profile(&c))
        .expect("serializes")
        .replace(&format!("\"{MARK}\""), text);
    sign_raw(
        &serde_json::to_vec(&header("agent-a")).expect("serializes"),
        payload.as_bytes(),
        &key_a(),
    )
}

/// Agent A's token for task `jti` (instead of [`uuid`]`(1)`).
fn jti(value: &str) -> String {
    set("jti", value.into())
}

/// Agent A's token for [`uuid`]`(1)` with parents `par`.
fn par(parents: &[&str]) -> String {
    set("par", json!(parents))
}

/// Agent A's token for [`uuid`]`(1)` with `pol` and `pol_decision` set.
fn pol(p: &str, decision: &str) -> String {
    with(|c| {
        c.insert("pol".into(), p.into());
        c.insert("pol_decision".into(), decision.into());
    })
}

/// A policy claim of the wrong JSON type: `claims.type` (ECT-CLM-2) in `draft-00`; in
/// `draft-01` the claim is a member of `ect_ext`, where a non-string is ECT-CLM-13's
/// `claims.pol` (SPEC.md §10, ECT-P01-4; `acceptable`, flag `ExtPolicy`, once adapted).
fn policy_type(v: V) -> V {
    if draft01() {
        v.rules(&["ECT-CLM-13"]).invalid("claims.pol")
    } else {
        v.invalid("claims.type")
    }
}

/// A trusted key set with agent A's key bound to no issuer (so ECT-KEY-2 passes any `iss`).
fn unbound() -> Value {
    json!({"keys": [Value::Object(key_a().to_public_jwk(None))]})
}

/// Parents [`uuid`]`(100 + i)` for `i` in `0..n`.
fn parents(n: u32) -> Vec<String> {
    (0..n).map(|i| uuid(100 + i)).collect()
}

/// A token with `n` distinct parents.
fn n_parents(n: u32) -> String {
    set("par", json!(parents(n)))
}

/// An `ext` object whose compact JSON is exactly `bytes` long: `{"k":"aaa..."}` (ASCII).
fn ext_of_size(bytes: usize) -> Value {
    let filler = "a".repeat(bytes - r#"{"k":""}"#.len());
    let ext = json!({ "k": filler });
    assert_eq!(
        serde_json::to_string(&ext).expect("serializes").len(),
        bytes
    );
    ext
}

/// Agent A's token whose `ext` is written as the raw text `{"n":<number>,"k":"aaa..."}`, with
/// the filler chosen so that `ext` as serde_json writes it back (`written` standing for the
/// number) is exactly `bytes` long.
fn ext_number_of_size(number: &str, written: &str, bytes: usize) -> String {
    let filler = "a".repeat(bytes - format!(r#"{{"n":{written},"k":""}}"#).len());
    let text = format!(r#"{{"n":{number},"k":"{filler}"}}"#);
    let parsed: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(
        serde_json::to_string(&parsed).expect("serializes").len(),
        bytes,
        "{number} is written as {written}"
    );
    raw("ext", &text)
}

/// An `ext` object nested `depth` objects deep (`ext` itself is depth 1): `{"a":{"a":{}}}`.
fn ext_of_depth(depth: usize) -> Value {
    let mut v = json!({});
    for _ in 1..depth {
        v = json!({ "a": v });
    }
    v
}

/// A base64url SHA-256 digest (the form `inp_hash`/`out_hash` take) of `data`.
fn digest(data: &[u8]) -> String {
    wimse_ect::sha256_b64url(data)
}

/// `digest` with its last character's two unused low bits set to 01 (non-canonical).
fn non_canonical(digest: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let last = *digest.as_bytes().last().expect("non-empty");
    let i = ALPHABET.iter().position(|&c| c == last).expect("base64url");
    assert_eq!(i & 3, 0, "a canonical 43-character digest");
    format!("{}{}", &digest[..digest.len() - 1], ALPHABET[i | 1] as char)
}

/// `digest` with its character at `at` replaced by `c`.
fn replace_char(digest: &str, at: usize, c: char) -> String {
    let mut s: Vec<char> = digest.chars().collect();
    s[at] = c;
    s.into_iter().collect()
}

/// Lower-case hex of the SHA-256 digest of `data`.
fn hex_digest(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The vectors, in order.
pub fn vectors() -> Vec<V> {
    let c1 = ["ECT-CLM-1"];
    let c2 = ["ECT-CLM-2"];
    let t5 = ["ECT-TIME-5"];
    let c3 = ["ECT-CLM-3"];
    let c4 = ["ECT-CLM-4"];
    let c5 = ["ECT-CLM-5"];
    let c6 = ["ECT-CLM-6"];
    let c7 = ["ECT-CLM-7"];
    let c8 = ["ECT-CLM-8"];
    let c9 = ["ECT-CLM-9"];
    let c10 = ["ECT-CLM-10"];
    let c11 = ["ECT-CLM-11"];
    let c12 = ["ECT-CLM-12"];
    let c13 = ["ECT-CLM-13"];
    let h = digest(b"claims/input");
    let o = digest(b"claims/output");
    let mut v = vec![
        // ECT-CLM-1: required claims.
        V::token(
            "claims/required/all-present",
            "exactly the seven required claims",
            &c1,
            valid_token(),
        )
        .valid(),
    ];
    for name in ["iss", "aud", "iat", "exp", "jti", "exec_act", "par"] {
        v.push(
            V::token(
                &format!("claims/required/missing-{}", name.replace('_', "-")),
                &format!("{name} is absent"),
                &c1,
                without(name),
            )
            .invalid("claims.missing"),
        );
    }
    v.extend([
        V::token(
            "claims/required/missing-before-type",
            "iss absent and aud a number: ECT-CLM-1 comes first",
            &["ECT-CLM-1", "ECT-CLM-2"],
            with(|c| {
                c.remove("iss");
                c.insert("aud".into(), 1.into());
            }),
        )
        .invalid("claims.missing"),
        // ECT-CLM-2: types.
        V::token(
            "claims/type/aud-array",
            "aud an array of strings",
            &c2,
            set("aud", json!([AUD])),
        )
        .valid(),
        V::token(
            "claims/type/optional-strings",
            "wid, inp_hash, out_hash, ext, pol, pol_decision with their types",
            &c2,
            with(|c| {
                c.insert("wid".into(), uuid(9).into());
                c.insert("inp_hash".into(), h.clone().into());
                c.insert("out_hash".into(), o.clone().into());
                c.insert("ext".into(), json!({"k": "v"}));
                c.insert("pol".into(), "policy-1".into());
                c.insert("pol_decision".into(), "approved".into());
            }),
        )
        .valid(),
        V::token(
            "claims/type/iss-number",
            "iss is a number",
            &c2,
            set("iss", json!(1)),
        )
        .invalid("claims.type"),
        V::token(
            "claims/type/iss-null",
            "iss is null (present, not absent)",
            &c2,
            set("iss", Value::Null),
        )
        .invalid("claims.type"),
        V::token(
            "claims/type/aud-number",
            "aud is a number",
            &c2,
            set("aud", json!(1)),
        )
        .invalid("claims.type"),
        V::token(
            "claims/type/aud-number-array",
            "aud is [1]",
            &c2,
            set("aud", json!([1])),
        )
        .invalid("claims.type"),
        V::token(
            "claims/type/aud-mixed-array",
            "aud is [AUD, 1]",
            &c2,
            set("aud", json!([AUD, 1])),
        )
        .invalid("claims.type"),
        V::token(
            "claims/type/aud-object",
            "aud is {}",
            &c2,
            set("aud", json!({})),
        )
        .invalid("claims.type"),
        V::token(
            "claims/type/aud-null",
            "aud is null",
            &c2,
            set("aud", Value::Null),
        )
        .invalid("claims.type"),
        V::token(
            "claims/type/iat-string",
            "iat is the string \"1771999940\"",
            &c2,
            set("iat", json!((NOW - 60).to_string())),
        )
        .invalid("claims.type"),
        V::token(
            "claims/type/exp-string",
            "exp is the string \"1772000600\"",
            &c2,
            set("exp", json!((NOW + 600).to_string())),
        )
        .invalid("claims.type"),
        V::token(
            "claims/type/iat-null",
            "iat is null",
            &c2,
            set("iat", Value::Null),
        )
        .invalid("claims.type"),
        V::token(
            "claims/type/exp-bool",
            "exp is true",
            &c2,
            set("exp", json!(true)),
        )
        .invalid("claims.type"),
        V::token(
            "claims/type/jti-number",
            "jti is a number",
            &c2,
            set("jti", json!(1)),
        )
        .invalid("claims.type"),
        V::token(
            "claims/type/exec-act-array",
            "exec_act is [\"fetch_data\"]",
            &c2,
            set("exec_act", json!([EXEC_ACT])),
        )
        .invalid("claims.type"),
        V::token(
            "claims/type/par-string",
            "par is a string UUID, not an array",
            &c2,
            set("par", json!(uuid(2))),
        )
        .invalid("claims.type"),
        V::token(
            "claims/type/par-number-array",
            "par is [1]",
            &c2,
            set("par", json!([1])),
        )
        .invalid("claims.type"),
        V::token(
            "claims/type/par-null",
            "par is null",
            &c2,
            set("par", Value::Null),
        )
        .invalid("claims.type"),
        V::token(
            "claims/type/wid-number",
            "wid is a number",
            &c2,
            set("wid", json!(1)),
        )
        .invalid("claims.type"),
        V::token(
            "claims/type/wid-null",
            "wid is null (present, not absent)",
            &c2,
            set("wid", Value::Null),
        )
        .invalid("claims.type"),
        V::token(
            "claims/type/inp-hash-number",
            "inp_hash is a number",
            &c2,
            set("inp_hash", json!(1)),
        )
        .invalid("claims.type"),
        V::token(
            "claims/type/out-hash-array",
            "out_hash is []",
            &c2,
            set("out_hash", json!([])),
        )
        .invalid("claims.type"),
        V::token(
            "claims/type/ext-array",
            "ext is an array",
            &c2,
            set("ext", json!([{"k": "v"}])),
        )
        .invalid("claims.type"),
        V::token(
            "claims/type/ext-string",
            "ext is a string of JSON",
            &c2,
            set("ext", json!("{\"k\":\"v\"}")),
        )
        .invalid("claims.type"),
        V::token(
            "claims/type/pol-number",
            "pol is a number (pol_decision approved)",
            &c2,
            with(|c| {
                c.insert("pol".into(), 1.into());
                c.insert("pol_decision".into(), "approved".into());
            }),
        )
        .pipe(policy_type),
        V::token(
            "claims/type/pol-decision-bool",
            "pol_decision is true (pol policy-1)",
            &c2,
            with(|c| {
                c.insert("pol".into(), "policy-1".into());
                c.insert("pol_decision".into(), true.into());
            }),
        )
        .pipe(policy_type),
        V::token(
            "claims/type/before-issuer",
            "iss a number under a bound key: ECT-CLM-2 comes before ECT-KEY-2",
            &["ECT-CLM-2", "ECT-KEY-2"],
            set("iss", json!(7)),
        )
        .invalid("claims.type"),
        // ECT-TIME-5: NumericDate syntax and range.
        V::token(
            "claims/numeric-date/exp-max",
            "exp = 2^53 - 1",
            &t5,
            set("exp", json!(9_007_199_254_740_991u64)),
        )
        .valid()
        .flag("Boundary"),
        V::token(
            "claims/numeric-date/exp-over-max",
            "exp = 2^53",
            &t5,
            set("exp", json!(9_007_199_254_740_992u64)),
        )
        .invalid("claims.type")
        .flag("Boundary"),
        V::token(
            "claims/numeric-date/exp-over-u64",
            "exp = 2^64 (beyond 64-bit integers)",
            &t5,
            raw("exp", "18446744073709551616"),
        )
        .invalid("claims.type"),
        V::token(
            "claims/numeric-date/iat-negative",
            "iat = -1",
            &t5,
            set("iat", json!(-1)),
        )
        .invalid("claims.type"),
        V::token(
            "claims/numeric-date/iat-negative-zero",
            "iat = -0: a float in JSON parsers that keep the sign (claims.type), the integer 0 \
             in others (then too old: time.too_old)",
            &t5,
            raw("iat", "-0"),
        )
        .invalid("claims.type")
        .alt_code("time.too_old")
        .flag("NegativeZero"),
        V::token(
            "claims/numeric-date/iat-fraction",
            "iat = 1772000000.5",
            &t5,
            raw("iat", "1772000000.5"),
        )
        .acceptable("claims.type", Verdict::Invalid, "FractionalNumericDate"),
        V::token(
            "claims/numeric-date/iat-exponent",
            "iat = 1.772e9 (exponent syntax, an integer value)",
            &t5,
            raw("iat", "1.772e9"),
        )
        .acceptable("claims.type", Verdict::Invalid, "FractionalNumericDate"),
        V::token(
            "claims/numeric-date/iat-point-zero",
            "iat = 1772000000.0 (an integer value written with a fraction)",
            &t5,
            raw("iat", "1772000000.0"),
        )
        .acceptable("claims.type", Verdict::Invalid, "FractionalNumericDate"),
        V::token(
            "claims/numeric-date/exp-fraction",
            "exp = 1772000600.5",
            &t5,
            raw("exp", "1772000600.5"),
        )
        .acceptable("claims.type", Verdict::Invalid, "FractionalNumericDate"),
        // ECT-CLM-3: iss (under a key bound to no issuer, so ECT-KEY-2 does not decide first).
        V::token(
            "claims/iss/any-string",
            "iss \"agent-x\" (not a URI) under an unbound key",
            &c3,
            set("iss", json!("agent-x")),
        )
        .valid()
        .with_jwks(unbound()),
        V::token(
            "claims/iss/empty",
            "iss \"\" under an unbound key",
            &c3,
            set("iss", json!("")),
        )
        .invalid("claims.iss")
        .with_jwks(unbound()),
        V::token(
            "claims/iss/empty-before-jti",
            "iss \"\" and jti not a UUID: ECT-CLM-3 comes first",
            &["ECT-CLM-3", "ECT-CLM-5"],
            with(|c| {
                c.insert("iss".into(), "".into());
                c.insert("jti".into(), "task-1".into());
            }),
        )
        .invalid("claims.iss")
        .with_jwks(unbound()),
        // ECT-CLM-4: aud.
        V::token(
            "claims/aud/array-two",
            "aud [other, AUD]",
            &c4,
            set("aud", json!(["spiffe://example.org/other", AUD])),
        )
        .valid(),
        V::token(
            "claims/aud/empty-string",
            "aud \"\" (ECT-CLM-4 comes before ECT-AUD-1)",
            &c4,
            set("aud", json!("")),
        )
        .invalid("claims.aud"),
        V::token(
            "claims/aud/empty-array",
            "aud []",
            &c4,
            set("aud", json!([])),
        )
        .invalid("claims.aud"),
        V::token(
            "claims/aud/array-empty-string",
            "aud [\"\"]",
            &c4,
            set("aud", json!([""])),
        )
        .invalid("claims.aud"),
        V::token(
            "claims/aud/array-with-empty",
            "aud [AUD, \"\"]",
            &c4,
            set("aud", json!([AUD, ""])),
        )
        .invalid("claims.aud"),
        // ECT-CLM-5: jti.
        V::token(
            "claims/jti/v4",
            "jti a version 4 UUID",
            &c5,
            jti("f47ac10b-58cc-4372-a567-0e02b2c3d479"),
        )
        .valid(),
        V::token(
            "claims/jti/v1",
            "jti a version 1 UUID",
            &c5,
            jti("6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
        )
        .valid(),
        V::token(
            "claims/jti/v7",
            "jti a version 7 UUID",
            &c5,
            jti("01890a5d-ac96-774b-bcce-b302099a8057"),
        )
        .valid(),
        V::token(
            "claims/jti/unknown-version",
            "jti with version nibble f and variant bits 0 (any version)",
            &c5,
            jti("6ba7b810-9dad-f1d1-00b4-00c04fd430c8"),
        )
        .valid(),
        V::token(
            "claims/jti/nil",
            "jti the nil UUID",
            &c5,
            jti("00000000-0000-0000-0000-000000000000"),
        )
        .valid(),
        V::token(
            "claims/jti/max",
            "jti the max UUID",
            &c5,
            jti("ffffffff-ffff-ffff-ffff-ffffffffffff"),
        )
        .valid(),
        V::token(
            "claims/jti/upper-case",
            "jti in upper-case hex",
            &c5,
            jti("F47AC10B-58CC-4372-A567-0E02B2C3D479"),
        )
        .acceptable("claims.jti", Verdict::Valid, "UppercaseUuid"),
        V::token(
            "claims/jti/braces",
            "jti in braces",
            &c5,
            jti("{f47ac10b-58cc-4372-a567-0e02b2c3d479}"),
        )
        .invalid("claims.jti"),
        V::token(
            "claims/jti/urn",
            "jti with urn:uuid: prefix",
            &c5,
            jti("urn:uuid:f47ac10b-58cc-4372-a567-0e02b2c3d479"),
        )
        .invalid("claims.jti"),
        V::token(
            "claims/jti/no-hyphens",
            "jti as 32 hex digits without hyphens",
            &c5,
            jti("f47ac10b58cc4372a5670e02b2c3d479"),
        )
        .invalid("claims.jti"),
        V::token(
            "claims/jti/non-hex",
            "jti with g in the last group",
            &c5,
            jti("f47ac10b-58cc-4372-a567-0e02b2c3d47g"),
        )
        .invalid("claims.jti"),
        V::token(
            "claims/jti/too-short",
            "jti with 11 digits in the last group",
            &c5,
            jti("f47ac10b-58cc-4372-a567-0e02b2c3d47"),
        )
        .invalid("claims.jti"),
        V::token(
            "claims/jti/too-long",
            "jti with 13 digits in the last group",
            &c5,
            jti("f47ac10b-58cc-4372-a567-0e02b2c3d4790"),
        )
        .invalid("claims.jti"),
        V::token(
            "claims/jti/hyphen-moved",
            "jti 36 characters with hyphens in the wrong places",
            &c5,
            jti("f47ac10b5-8cc-4372-a567-0e02b2c3d479"),
        )
        .invalid("claims.jti"),
        V::token(
            "claims/jti/surrounding-space",
            "jti with a leading space",
            &c5,
            jti(" f47ac10b-58cc-4372-a567-0e02b2c3d479"),
        )
        .invalid("claims.jti"),
        V::token("claims/jti/empty", "jti \"\"", &c5, jti("")).invalid("claims.jti"),
        V::token("claims/jti/free-text", "jti task-1", &c5, jti("task-1")).invalid("claims.jti"),
        // ECT-CLM-6: wid.
        V::token(
            "claims/wid/uuid",
            "wid a UUID",
            &c6,
            set("wid", json!(uuid(9))),
        )
        .valid(),
        V::token(
            "claims/wid/upper-case",
            "wid in upper-case hex",
            &c6,
            set("wid", json!(uuid(9).to_uppercase())),
        )
        .acceptable("claims.wid", Verdict::Valid, "UppercaseUuid"),
        V::token(
            "claims/wid/free-text",
            "wid workflow-1",
            &c6,
            set("wid", json!("workflow-1")),
        )
        .invalid("claims.wid"),
        V::token("claims/wid/empty", "wid \"\"", &c6, set("wid", json!(""))).invalid("claims.wid"),
        V::token(
            "claims/wid/urn",
            "wid with urn:uuid: prefix",
            &c6,
            set("wid", json!(format!("urn:uuid:{}", uuid(9)))),
        )
        .invalid("claims.wid"),
        // ECT-CLM-7: exec_act.
        V::token(
            "claims/exec-act/one-char",
            "exec_act \"a\"",
            &c7,
            set("exec_act", json!("a")),
        )
        .valid(),
        V::token(
            "claims/exec-act/empty",
            "exec_act \"\"",
            &c7,
            set("exec_act", json!("")),
        )
        .invalid("claims.exec_act"),
        // ECT-CLM-8: par elements.
        V::token(
            "claims/par/one",
            "par with one UUID (no store in mode verify)",
            &c8,
            par(&[&uuid(2)]),
        )
        .valid(),
        V::token(
            "claims/par/two",
            "par with two distinct UUIDs",
            &c8,
            par(&[&uuid(2), &uuid(3)]),
        )
        .valid(),
        V::token(
            "claims/par/upper-case",
            "a parent in upper-case hex",
            &c8,
            par(&[&uuid(2).to_uppercase()]),
        )
        .acceptable("claims.par", Verdict::Valid, "UppercaseUuid"),
        V::token(
            "claims/par/not-uuid",
            "a parent task-0",
            &c8,
            par(&["task-0"]),
        )
        .invalid("claims.par"),
        V::token(
            "claims/par/second-not-uuid",
            "the second parent has a urn:uuid: prefix",
            &c8,
            par(&[&uuid(2), &format!("urn:uuid:{}", uuid(3))]),
        )
        .invalid("claims.par"),
        V::token("claims/par/empty-string", "par [\"\"]", &c8, par(&[""])).invalid("claims.par"),
        V::token(
            "claims/par/duplicate",
            "the same parent listed twice",
            &c8,
            par(&[&uuid(2), &uuid(2)]),
        )
        .acceptable("claims.par", Verdict::Invalid, "DuplicateParent"),
        // ECT-CLM-9: par does not contain jti.
        V::token(
            "claims/par-self/absent",
            "par [other] without the own jti",
            &c9,
            par(&[&uuid(2)]),
        )
        .valid(),
        V::token("claims/par-self/only", "par [jti]", &c9, par(&[&uuid(1)]))
            .invalid("claims.par_self"),
        V::token(
            "claims/par-self/second",
            "par [other, jti]",
            &c9,
            par(&[&uuid(2), &uuid(1)]),
        )
        .invalid("claims.par_self"),
        V::token(
            "claims/par-self/other-case",
            "par holds the own jti in upper case: the same UUID (ECT-CLM-5), so the token itself",
            &c9,
            par(&[&uuid(1).to_uppercase()]),
        )
        .invalid("claims.par_self")
        .alt_code("claims.par")
        .flag("UppercaseUuid"),
        // ECT-CLM-10: par length.
        V::token(
            "claims/par-length/root",
            "par [] (a root task)",
            &c10,
            par(&[]),
        )
        .valid(),
        V::token(
            "claims/par-length/at-max",
            "3 parents with max_par 3",
            &c10,
            n_parents(3),
        )
        .valid()
        .settings(|s| s.max_par = 3)
        .flag("Boundary"),
        V::token(
            "claims/par-length/over-max",
            "4 parents with max_par 3",
            &c10,
            n_parents(4),
        )
        .invalid("claims.par_too_long")
        .settings(|s| s.max_par = 3)
        .flag("Boundary"),
        V::token(
            "claims/par-length/default-max",
            "100 parents (default max_par 100)",
            &c10,
            n_parents(100),
        )
        .valid()
        .flag("Boundary"),
        V::token(
            "claims/par-length/default-over",
            "101 parents (default max_par 100)",
            &c10,
            n_parents(101),
        )
        .invalid("claims.par_too_long")
        .flag("Boundary"),
        V::token(
            "claims/par-length/zero-max-root",
            "par [] with max_par 0",
            &c10,
            par(&[]),
        )
        .valid()
        .settings(|s| s.max_par = 0)
        .flag("Boundary"),
        V::token(
            "claims/par-length/zero-max-one",
            "1 parent with max_par 0",
            &c10,
            n_parents(1),
        )
        .invalid("claims.par_too_long")
        .settings(|s| s.max_par = 0)
        .flag("Boundary"),
        // ECT-CLM-11: inp_hash / out_hash.
        V::token(
            "claims/hash/inp",
            "inp_hash 43 characters of base64url SHA-256",
            &c11,
            set("inp_hash", json!(h)),
        )
        .valid(),
        V::token(
            "claims/hash/out",
            "out_hash 43 characters of base64url SHA-256",
            &c11,
            set("out_hash", json!(o)),
        )
        .valid(),
        V::token(
            "claims/hash/42-chars",
            "inp_hash of 42 characters (31 bytes)",
            &c11,
            set("inp_hash", json!(b64_encode(&[0x5a; 31]))),
        )
        .invalid("claims.hash"),
        V::token(
            "claims/hash/44-chars",
            "inp_hash of 44 characters (33 bytes)",
            &c11,
            set("inp_hash", json!(b64_encode(&[0x5a; 33]))),
        )
        .invalid("claims.hash"),
        V::token(
            "claims/hash/truncated",
            "inp_hash missing its last character",
            &c11,
            set("inp_hash", json!(h[..42])),
        )
        .invalid("claims.hash"),
        V::token(
            "claims/hash/padded",
            "inp_hash with = padding (44 characters)",
            &c11,
            set("inp_hash", json!(format!("{h}="))),
        )
        .invalid("claims.hash"),
        V::token(
            "claims/hash/plus",
            "inp_hash with + (standard base64 alphabet)",
            &c11,
            set("inp_hash", json!(replace_char(&h, 0, '+'))),
        )
        .invalid("claims.hash"),
        V::token(
            "claims/hash/slash",
            "out_hash with / (standard base64 alphabet)",
            &c11,
            set("out_hash", json!(replace_char(&o, 0, '/'))),
        )
        .invalid("claims.hash"),
        V::token(
            "claims/hash/non-canonical",
            "inp_hash whose last character has non-zero unused bits",
            &c11,
            set("inp_hash", json!(non_canonical(&h))),
        )
        .acceptable("claims.hash", Verdict::Invalid, "NonCanonicalBase64"),
        V::token(
            "claims/hash/legacy-prefix",
            "inp_hash sha-256:<base64url>",
            &c11,
            set("inp_hash", json!(format!("sha-256:{h}"))),
        )
        .invalid("claims.hash")
        .flag("LegacyHashPrefix"),
        V::token(
            "claims/hash/hex",
            "out_hash as 64 hex digits",
            &c11,
            set("out_hash", json!(hex_digest(b"claims/output"))),
        )
        .invalid("claims.hash"),
        V::token(
            "claims/hash/empty",
            "out_hash \"\"",
            &c11,
            set("out_hash", json!("")),
        )
        .invalid("claims.hash"),
        // ECT-CLM-12: ext limits.
        V::token("claims/ext/empty", "ext {}", &c12, set("ext", json!({}))).valid(),
        V::token(
            "claims/ext/size-at-max",
            "ext of exactly 4096 bytes compact (ASCII)",
            &c12,
            set("ext", ext_of_size(4096)),
        )
        .valid()
        .flag("ExtLimits")
        .flag("Boundary"),
        V::token(
            "claims/ext/size-over-max",
            "ext of 4097 bytes compact (ASCII)",
            &c12,
            set("ext", ext_of_size(4097)),
        )
        .acceptable("claims.ext_size", Verdict::Invalid, "ExtLimits")
        .flag("Boundary"),
        V::token(
            "claims/ext/depth-at-max",
            "ext nested 5 objects deep (ext itself is 1)",
            &c12,
            set("ext", ext_of_depth(5)),
        )
        .valid()
        .flag("ExtLimits")
        .flag("Boundary"),
        V::token(
            "claims/ext/depth-over-max",
            "ext nested 6 objects deep",
            &c12,
            set("ext", ext_of_depth(6)),
        )
        .acceptable("claims.ext_depth", Verdict::Invalid, "ExtLimits")
        .flag("Boundary"),
        V::token(
            "claims/ext/array-depth-at-max",
            "ext {\"a\":[[[[1]]]]}: arrays count, scalars do not (depth 5)",
            &c12,
            set("ext", json!({"a": [[[[1]]]]})),
        )
        .valid()
        .flag("ExtLimits")
        .flag("Boundary"),
        V::token(
            "claims/ext/array-depth-over-max",
            "ext {\"a\":[[[[[1]]]]]} (depth 6)",
            &c12,
            set("ext", json!({"a": [[[[[1]]]]]})),
        )
        .acceptable("claims.ext_depth", Verdict::Invalid, "ExtLimits")
        .flag("Boundary"),
        V::token(
            "claims/ext/size-before-depth",
            "ext over 4096 bytes and 6 deep: the size is checked first",
            &c12,
            set(
                "ext",
                json!({"a": {"b": {"c": {"d": {"e": {}}}}}, "k": "a".repeat(4100)}),
            ),
        )
        .acceptable("claims.ext_size", Verdict::Invalid, "ExtLimits"),
        // ECT-CLM-13: pol and pol_decision.
        V::token(
            "claims/pol/approved",
            "pol with pol_decision approved",
            &c13,
            pol("policy-1", "approved"),
        )
        .valid(),
        V::token(
            "claims/pol/rejected",
            "pol with pol_decision rejected",
            &c13,
            pol("policy-1", "rejected"),
        )
        .valid(),
        V::token(
            "claims/pol/pending",
            "pol with pol_decision pending_human_review",
            &c13,
            pol("policy-1", "pending_human_review"),
        )
        .valid(),
        V::token(
            "claims/pol/without-decision",
            "pol without pol_decision",
            &c13,
            set("pol", json!("policy-1")),
        )
        .invalid("claims.pol"),
        V::token(
            "claims/pol/decision-without-pol",
            "pol_decision without pol",
            &c13,
            set("pol_decision", json!("approved")),
        )
        .invalid("claims.pol"),
        V::token(
            "claims/pol/empty",
            "pol \"\" with pol_decision approved",
            &c13,
            pol("", "approved"),
        )
        .invalid("claims.pol"),
        V::token(
            "claims/pol/decision-upper-case",
            "pol_decision APPROVED",
            &c13,
            pol("policy-1", "APPROVED"),
        )
        .invalid("claims.pol"),
        V::token(
            "claims/pol/decision-other",
            "pol_decision approve",
            &c13,
            pol("policy-1", "approve"),
        )
        .invalid("claims.pol"),
        V::token(
            "claims/pol/decision-empty",
            "pol_decision \"\"",
            &c13,
            pol("policy-1", ""),
        )
        .invalid("claims.pol"),
        // Unknown claims are ignored.
        V::token(
            "claims/unknown/sub",
            "sub present (ignored)",
            &c2,
            set("sub", json!("spiffe://example.org/user")),
        )
        .valid(),
        // nbf is not an unknown claim any more (ECT-TIME-6); the ids stay.
        V::token(
            "claims/unknown/nbf-future",
            "nbf an hour after now: honoured (ECT-TIME-6)",
            &["ECT-TIME-6"],
            set("nbf", json!(NOW + 3600)),
        )
        .acceptable("time.not_yet_valid", Verdict::Invalid, "NotBefore"),
        V::token(
            "claims/unknown/nbf-string",
            "nbf a string: typed like iat by an implementation that honours nbf",
            &["ECT-CLM-2", "ECT-TIME-6"],
            set("nbf", json!("tomorrow")),
        )
        .acceptable("claims.type", Verdict::Invalid, "NotBefore"),
        V::token(
            "claims/unknown/custom",
            "a custom claim holding an object",
            &c2,
            set("x-custom", json!({"a": [1, 2, {"b": null}]})),
        )
        .valid(),
        // ECT-CLM-12: ext's size counts numbers as serde_json writes them (`wimse_ect::_documentation::decisions`).
        V::token(
            "claims/ext/size-counts-written-form",
            "ext written with spaces and 1.50000 (over 4096 bytes as sent), exactly 4096 bytes compact",
            &c12,
            {
                let filler = "a".repeat(4096 - r#"{"f":1.5,"k":""}"#.len());
                raw("ext", &format!(r#"{{ "f" : 1.50000 , "k" : "{filler}" }}"#))
            },
        )
        .valid()
        .flag("ExtLimits")
        .flag("NumberFormat")
        .flag("Boundary"),
        V::token(
            "claims/ext/float-shortest-at-max",
            "ext holding 2.2250738585072011e-308, written back as 2.225073858507201e-308: exactly 4096 bytes",
            &c12,
            ext_number_of_size("2.2250738585072011e-308", "2.225073858507201e-308", 4096),
        )
        .valid()
        .flag("ExtLimits")
        .flag("NumberFormat")
        .flag("Boundary"),
        V::token(
            "claims/ext/float-shortest-over-max",
            "ext holding 2.2250738585072011e-308: 4097 bytes as written back",
            &c12,
            ext_number_of_size("2.2250738585072011e-308", "2.225073858507201e-308", 4097),
        )
        .acceptable("claims.ext_size", Verdict::Invalid, "ExtLimits")
        .flag("NumberFormat")
        .flag("Boundary"),
        V::token(
            "claims/ext/big-integer-at-max",
            "ext holding an 84-digit integer, read as an f64 and written back as 9.688888888888889e+83: exactly 4096 bytes",
            &c12,
            ext_number_of_size(
                &format!("96{}", "8".repeat(82)),
                "9.688888888888889e+83",
                4096,
            ),
        )
        .valid()
        .flag("ExtLimits")
        .flag("NumberFormat")
        .flag("Boundary"),
        // ECT-CLM-5: UUIDs compare case-insensitively, in duplicate and self parents too.
        V::token(
            "claims/par/duplicate-other-case",
            "the same parent twice, once in upper case: one UUID listed twice",
            &["ECT-CLM-8", "ECT-CLM-5"],
            par(&[&uuid(2), &uuid(2).to_uppercase()]),
        )
        .acceptable("claims.par", Verdict::Invalid, "DuplicateParent")
        .flag("UppercaseUuid"),
        V::token(
            "claims/par-self/upper-case-jti",
            "jti in upper case, par holding it in lower case: the token itself",
            &["ECT-CLM-9", "ECT-CLM-5"],
            with(|c| {
                c.insert("jti".into(), uuid(1).to_uppercase().into());
                c.insert("par".into(), json!([uuid(1)]));
            }),
        )
        .invalid("claims.par_self")
        .alt_code("claims.jti")
        .flag("UppercaseUuid"),
    ]);
    v.extend(draft01_tokens());
    v
}

/// `draft-01` tokens under a `draft-00` verifier (in `draft-00`'s files only; SPEC.md §10). The
/// `typ` `exec+jwt` alone is already `acceptable` (`Draft01Typ`, `header/typ/draft-01`), so
/// these carry the `typ` both profiles accept, `wimse-exec+jwt`, and differ in the claims.
fn draft01_tokens() -> Vec<V> {
    use crate::vector::ProfileName;
    let draft01 = |edit: &dyn Fn(&mut Map<String, Value>)| {
        let mut c = claims(&uuid(1));
        c.remove("par");
        c.insert("pred".into(), json!([]));
        edit(&mut c);
        sign_as_is(&header("agent-a"), &c, &key_a())
    };
    vec![
        V::token(
            "claims/profile/draft-01-token",
            "a draft-01 token (pred [], no par) with typ wimse-exec+jwt under a draft-00 verifier: par is missing",
            &["ECT-CLM-1"],
            draft01(&|_| {}),
        )
        .invalid("claims.missing")
        .only(ProfileName::Draft00),
        V::token(
            "claims/profile/draft-01-claims-beside-par",
            "par [] beside draft-01's claims (pred [2], ect_ext of 5000 bytes holding pol without pol_decision): unknown claims, ignored by a draft-00 verifier",
            &["ECT-CLM-1", "ECT-CLM-12", "ECT-CLM-13"],
            draft01(&|c| {
                c.insert("par".into(), json!([]));
                c.insert("pred".into(), json!([uuid(2)]));
                c.insert(
                    "ect_ext".into(),
                    json!({"pol": "policy-1", "k": "x".repeat(5000)}),
                );
            }),
        )
        .valid()
        .only(ProfileName::Draft00),
    ]
}
