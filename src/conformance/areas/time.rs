//! SPEC.md §6: ECT-TIME-1..4 boundaries and ECT-AUD-1. (ECT-TIME-5, the NumericDate syntax,
//! is in `claims`.) Defaults: leeway 30 s, maximum age 900 s, `now` = [`NOW`].

use serde_json::json;

use crate::conformance::build::*;

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

/// The vectors, in order.
pub fn vectors() -> Vec<V> {
    let t1 = ["ECT-TIME-1"];
    let t2 = ["ECT-TIME-2"];
    let t3 = ["ECT-TIME-3"];
    let t4 = ["ECT-TIME-4"];
    let a1 = ["ECT-AUD-1"];
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
    ]
}
