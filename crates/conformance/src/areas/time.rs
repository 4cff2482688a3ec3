//! SPEC.md §6: ECT-TIME-1..4 boundaries, ECT-AUD-1, and ECT-TIME-6 (`nbf`, appended last).
//! (ECT-TIME-5, the NumericDate syntax, is in `claims`.) Defaults: leeway 30 s, maximum age
//! 900 s, `now` = [`NOW`].

use serde_json::{Value, json};

use crate::vector::Verdict;

use crate::build::*;

/// Agent A's token for [`uuid`]`(1)` with `iat` and `exp` set.
fn at(iat: u64, exp: u64) -> String {
    let mut c = claims(&uuid(1));
    c.insert("iat".into(), iat.into());
    c.insert("exp".into(), exp.into());
    sign_a(&c)
}

/// Agent A's token for [`uuid`]`(1)` with `aud` set.
fn aud(aud: serde_json::Value) -> String {
    let mut c = claims(&uuid(1));
    c.insert("aud".into(), aud);
    sign_a(&c)
}

/// Agent A's token for [`uuid`]`(1)` with `nbf` set, and `extra` members set too.
fn nbf(nbf: Value, extra: &[(&str, Value)]) -> String {
    let mut c = claims(&uuid(1));
    c.insert("nbf".into(), nbf);
    for (name, value) in extra {
        c.insert((*name).into(), value.clone());
    }
    sign_a(&c)
}

/// The vectors, in order.
pub fn vectors() -> Vec<V> {
    let t1 = ["ECT-TIME-1"];
    let t2 = ["ECT-TIME-2"];
    let t3 = ["ECT-TIME-3"];
    let t4 = ["ECT-TIME-4"];
    let a1 = ["ECT-AUD-1"];
    let t6 = ["ECT-TIME-6"];
    let t5_t6 = ["ECT-TIME-5", "ECT-TIME-6"];
    let c2_t6 = ["ECT-CLM-2", "ECT-TIME-6"];
    vec![
        V::token(
            "time/exp-after-iat/by-one",
            "exp = iat + 1",
            &t1,
            at(NOW - 10, NOW - 9 + 30),
        )
        .valid(),
        V::token(
            "time/exp-equals-iat",
            "exp = iat (not expired with leeway)",
            &t1,
            at(NOW, NOW),
        )
        .invalid("time.exp_before_iat")
        .flag("Boundary"),
        V::token(
            "time/exp-before-iat",
            "exp one second before iat",
            &t1,
            at(NOW, NOW - 1),
        )
        .invalid("time.exp_before_iat"),
        V::token(
            "time/expired/one-second-before",
            "now = exp + leeway - 1",
            &t2,
            at(NOW - 100, NOW - 29),
        )
        .valid()
        .flag("Boundary"),
        V::token(
            "time/expired/at-boundary",
            "now = exp + leeway: expired",
            &t2,
            at(NOW - 100, NOW - 30),
        )
        .invalid("time.expired")
        .flag("Boundary"),
        V::token(
            "time/expired/long-ago",
            "expired ten minutes ago",
            &t2,
            at(NOW - 890, NOW - 600),
        )
        .invalid("time.expired"),
        V::token(
            "time/expired/zero-leeway",
            "now = exp with leeway 0: expired",
            &t2,
            at(NOW - 100, NOW),
        )
        .invalid("time.expired")
        .settings(|s| s.leeway = 0)
        .flag("Boundary"),
        V::token(
            "time/future/at-leeway",
            "iat = now + leeway",
            &t3,
            at(NOW + 30, NOW + 600),
        )
        .valid()
        .flag("Boundary"),
        V::token(
            "time/future/beyond-leeway",
            "iat = now + leeway + 1",
            &t3,
            at(NOW + 31, NOW + 600),
        )
        .invalid("time.not_yet_valid")
        .flag("Boundary"),
        V::token(
            "time/future/zero-leeway",
            "iat = now + 1 with leeway 0",
            &t3,
            at(NOW + 1, NOW + 600),
        )
        .invalid("time.not_yet_valid")
        .settings(|s| s.leeway = 0)
        .flag("Boundary"),
        V::token(
            "time/age/at-maximum",
            "now - iat = max_iat_age",
            &t4,
            at(NOW - 900, NOW + 600),
        )
        .valid()
        .flag("Boundary"),
        V::token(
            "time/age/beyond-maximum",
            "now - iat = max_iat_age + 1",
            &t4,
            at(NOW - 901, NOW + 600),
        )
        .invalid("time.too_old")
        .flag("Boundary"),
        V::token(
            "time/age/configured",
            "now - iat = 61 with max_iat_age 60",
            &t4,
            at(NOW - 61, NOW + 600),
        )
        .invalid("time.too_old")
        .settings(|s| s.max_iat_age = 60),
        V::token(
            "aud/string",
            "aud is the verifier's identifier",
            &a1,
            aud(json!(AUD)),
        )
        .valid(),
        V::token(
            "aud/array-member",
            "aud array containing the verifier",
            &a1,
            aud(json!(["spiffe://example.org/other", AUD])),
        )
        .valid(),
        V::token(
            "aud/other",
            "aud names another verifier",
            &a1,
            aud(json!("spiffe://example.org/other")),
        )
        .invalid("aud.mismatch"),
        V::token(
            "aud/array-without",
            "aud array without the verifier",
            &a1,
            aud(json!(["spiffe://example.org/other"])),
        )
        .invalid("aud.mismatch"),
        V::token(
            "aud/case",
            "aud differs in case only (exact comparison)",
            &a1,
            aud(json!(AUD.to_uppercase())),
        )
        .invalid("aud.mismatch"),
        V::token(
            "aud/trailing-slash",
            "aud with a trailing slash",
            &a1,
            aud(json!(format!("{AUD}/"))),
        )
        .invalid("aud.mismatch"),
        // ECT-TIME-6: nbf, when present, is honoured (RFC 7519 §4.1.5); an implementation that
        // ignores it (the draft does not mention nbf) accepts: NotBefore.
        V::token(
            "time/nbf/at-now-plus-leeway",
            "nbf = now + leeway",
            &t6,
            nbf(json!(NOW + 30), &[]),
        )
        .valid()
        .flag("NotBefore")
        .flag("Boundary"),
        V::token(
            "time/nbf/one-second-over",
            "nbf = now + leeway + 1",
            &t6,
            nbf(json!(NOW + 31), &[]),
        )
        .acceptable("time.not_yet_valid", Verdict::Invalid, "NotBefore")
        .flag("Boundary"),
        V::token(
            "time/nbf/past",
            "nbf a minute before now, before iat",
            &t6,
            nbf(json!(NOW - 120), &[]),
        )
        .valid()
        .flag("NotBefore"),
        V::token(
            "time/nbf/zero",
            "nbf 0",
            &t6,
            nbf(json!(0), &[]),
        )
        .valid()
        .flag("NotBefore"),
        V::token(
            "time/nbf/negative",
            "nbf -1: not a NumericDate in 0..=2^53-1",
            &t5_t6,
            nbf(json!(-1), &[]),
        )
        .acceptable("claims.type", Verdict::Invalid, "NotBefore"),
        V::token(
            "time/nbf/fraction",
            "nbf 1771999000.5",
            &t5_t6,
            nbf(json!(1_771_999_000.5), &[]),
        )
        .acceptable("claims.type", Verdict::Invalid, "NotBefore")
        .flag("FractionalNumericDate"),
        V::token(
            "time/nbf/over-2-53",
            "nbf 2^53",
            &t5_t6,
            nbf(json!(1u64 << 53), &[]),
        )
        .acceptable("claims.type", Verdict::Invalid, "NotBefore")
        .flag("Boundary"),
        V::token(
            "time/nbf/string",
            "nbf a numeric string",
            &c2_t6,
            nbf(json!(NOW.to_string()), &[]),
        )
        .acceptable("claims.type", Verdict::Invalid, "NotBefore"),
        V::token(
            "time/nbf/null",
            "nbf null",
            &c2_t6,
            nbf(Value::Null, &[]),
        )
        .acceptable("claims.type", Verdict::Invalid, "NotBefore"),
        V::token(
            "time/nbf/after-too-old",
            "iat older than the maximum age and nbf in the future: ECT-TIME-4 is checked first",
            &["ECT-TIME-4", "ECT-TIME-6"],
            nbf(json!(NOW + 3600), &[("iat", json!(NOW - 901))]),
        )
        .invalid("time.too_old")
        .flag("NotBefore"),
        V::token(
            "time/nbf/before-audience",
            "nbf in the future and aud without the verifier: ECT-TIME-6 is checked before ECT-AUD-1 (an implementation ignoring nbf reports aud.mismatch)",
            &["ECT-TIME-6", "ECT-AUD-1"],
            nbf(json!(NOW + 3600), &[("aud", json!("spiffe://example.org/other"))]),
        )
        .invalid("time.not_yet_valid")
        .alt_code("aud.mismatch")
        .flag("NotBefore"),
    ]
}
