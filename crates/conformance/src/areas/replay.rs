//! ECT-RPL-1: replay of a `jti` within its scope (`(wid, jti)`, or `jti` alone without `wid`),
//! in mode `verify`: the tokens of `before` are verified first by the same verifier (replay
//! protection on), all at [`NOW`]. RPL-1 is the last check, so a token with another defect
//! reports that defect even when its `jti` was seen. (Mode `ledger` would report
//! `dag.duplicate_jti` first; see the `dag` vectors.)

use serde_json::{Map, Value};

use crate::build::*;

/// Agent A's claims for task `uuid(n)`, with `wid` [`uuid`]`(w)` when `w` is given.
fn task_claims(n: u32, wid: Option<u32>) -> Map<String, Value> {
    let mut c = claims(&uuid(n));
    if let Some(w) = wid {
        c.insert("wid".into(), uuid(w).into());
    }
    c
}

/// Agent A's token for task `uuid(n)`, with `wid` [`uuid`]`(w)` when `w` is given.
fn task(n: u32, wid: Option<u32>) -> String {
    sign_a(&task_claims(n, wid))
}

/// Agent A's token for task `uuid(n)` (no `wid`) with one claim changed.
fn task_with(n: u32, name: &str, value: Value) -> String {
    let mut c = task_claims(n, None);
    c.insert(name.into(), value);
    sign_a(&c)
}

/// The vectors, in order.
pub fn vectors() -> Vec<V> {
    let r = ["ECT-RPL-1"];
    vec![
        V::token("replay/first-presentation", "a token presented for the first time", &r, task(1, None))
            .verify_after(vec![])
            .valid(),
        V::token("replay/same-token", "the same token presented twice", &r, task(1, None))
            .verify_after(vec![task(1, None)])
            .invalid("replay.jti"),
        V::token("replay/same-jti-other-token", "another token (other exec_act, re-signed) with a jti already accepted", &r, task_with(1, "exec_act", "other_action".into()))
            .verify_after(vec![task(1, None)])
            .invalid("replay.jti"),
        V::token("replay/same-jti-other-times", "another token with the same jti, issued 10 s later and expiring later", &r, {
            let mut c = task_claims(1, None);
            c.insert("iat".into(), (NOW - 50).into());
            c.insert("exp".into(), (NOW + 700).into());
            sign_a(&c)
        })
        .verify_after(vec![task(1, None)])
        .invalid("replay.jti"),
        V::token("replay/same-jti-other-issuer", "agent B's token with a jti agent A already used (the scope ignores iss)", &r, {
            let mut c = task_claims(1, None);
            c.insert("iss".into(), ISS_B.into());
            sign(&header("agent-b"), &c, &key_b())
        })
        .verify_after(vec![task(1, None)])
        .invalid("replay.jti"),
        V::token("replay/same-wid", "the same jti in the same wid, presented twice", &r, task(1, Some(100)))
            .verify_after(vec![task(1, Some(100))])
            .invalid("replay.jti"),
        V::token("replay/among-others", "three tokens accepted, then the second again", &r, task(2, None))
            .verify_after(vec![task(1, None), task(2, None), task(3, None)])
            .invalid("replay.jti"),
        V::token("replay/other-jti", "a different token (other jti) accepted before", &r, task(2, None))
            .verify_after(vec![task(1, None)])
            .valid(),
        V::token("replay/other-wid", "the same jti in wid 100, then in wid 101: different scopes", &r, task(1, Some(101)))
            .verify_after(vec![task(1, Some(100))])
            .valid(),
        V::token("replay/wid-after-none", "the same jti without wid, then with wid 100: different scopes", &r, task(1, Some(100)))
            .verify_after(vec![task(1, None)])
            .valid(),
        V::token("replay/none-after-wid", "the same jti with wid 100, then without wid: different scopes", &r, task(1, None))
            .verify_after(vec![task(1, Some(100))])
            .valid(),
        V::token("replay/jti-used-as-wid", "a token whose wid equals the jti of an accepted token, with another jti", &r, task(2, Some(1)))
            .verify_after(vec![task(1, None)])
            .valid(),
        V::token("replay/after-expired-check", "a seen jti whose new token is expired: ECT-TIME-2 is reported, replay is checked last", &["ECT-RPL-1", "ECT-TIME-2"], {
            let mut c = task_claims(1, None);
            c.insert("iat".into(), (NOW - 700).into());
            c.insert("exp".into(), (NOW - 30).into());
            sign_a(&c)
        })
        .verify_after(vec![task(1, None)])
        .invalid("time.expired"),
        V::token("replay/after-aud-check", "a seen jti whose new token names another audience: aud.mismatch, not replay", &["ECT-RPL-1", "ECT-AUD-1"], task_with(1, "aud", "spiffe://example.org/other".into()))
            .verify_after(vec![task(1, None)])
            .invalid("aud.mismatch"),
        V::token("replay/jti-case", "a jti accepted in lower case, then the same UUID in upper case: UUIDs compare case-insensitively (ECT-CLM-5), so a replay", &r, sign_a(&claims(&uuid(0xabc).to_uppercase())))
            .verify_after(vec![task(0xabc, None)])
            .invalid("replay.jti")
            .alt_code("claims.jti")
            .flag("UppercaseUuid"),
        V::token("replay/wid-case", "a (wid, jti) accepted with wid in lower case, then with the same wid in upper case: the same scope (ECT-CLM-5), so a replay", &r, {
            let mut c = task_claims(0xabc, None);
            c.insert("wid".into(), uuid(0xdef).to_uppercase().into());
            sign_a(&c)
        })
        .verify_after(vec![task(0xabc, Some(0xdef))])
        .invalid("replay.jti")
        .alt_code("claims.wid")
        .flag("UppercaseUuid"),
    ]
}
