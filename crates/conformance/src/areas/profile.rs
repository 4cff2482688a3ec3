//! Profile `draft-01`'s own vectors (SPEC.md §10, ECT-P01-1..5): what the regenerated
//! catalogue cannot show because it only renames `draft-00`'s cases. Every vector here is in
//! `draft-01`'s files only ([`V::only`]), written exactly ([`V::exact`]: the tokens carry
//! `draft-01`'s names as written, never renamed): both `typ` values and their forms, tokens
//! with `par` only or `par` beside `pred`, a top-level `ext` (ignored) and `ect_ext` at and
//! over its MUST limits, the policy claims inside `ect_ext` (and ignored at the top level),
//! workflow consistency in strict and partial mode, in modes `ledger` and `store`, both
//! directions, and a `draft-00` token under a `draft-01` verifier.

use serde_json::{Map, Value, json};

use crate::build::*;
use crate::vector::{DagModeSetting, ProfileName, Settings, Verdict};

/// The workflows (`wid` [`uuid`]`(w)`) of the workflow-consistency vectors.
const W1: u32 = 100;
const W2: u32 = 101;

/// Agent A's claims for task [`uuid`]`(n)` under `draft-01`'s names: `pred` the tasks
/// [`uuid`]`(p)` of `pred`, `wid` [`uuid`]`(w)` when given, issued 60 s before [`NOW`] ([`claims`]).
fn claims01(n: u32, pred: &[u32], wid: Option<u32>) -> Map<String, Value> {
    let mut c = claims(&uuid(n));
    c.remove("par");
    let pred: Vec<String> = pred.iter().map(|p| uuid(*p)).collect();
    c.insert("pred".into(), json!(pred));
    if let Some(w) = wid {
        c.insert("wid".into(), uuid(w).into());
    }
    c
}

/// Agent A's token for exactly `payload` under `typ` `exec+jwt`.
fn tok(payload: &Map<String, Value>) -> String {
    sign_as_is(&header("agent-a"), payload, &key_a())
}

/// Agent A's token for exactly `payload` under `typ` `t`.
fn tok_typ(t: &str, payload: &Map<String, Value>) -> String {
    let mut h = header("agent-a");
    h.insert("typ".into(), t.into());
    sign_as_is(&h, payload, &key_a())
}

/// Task `n`'s token ([`claims01`]).
fn task(n: u32, pred: &[u32], wid: Option<u32>) -> String {
    tok(&claims01(n, pred, wid))
}

/// Task `n`'s claims changed by `edit`, signed.
fn with(n: u32, edit: impl FnOnce(&mut Map<String, Value>)) -> String {
    let mut c = claims01(n, &[], None);
    edit(&mut c);
    tok(&c)
}

/// Task `n` ([`claims01`]) with `ect_ext` holding `ext`.
fn task_ext(n: u32, pred: &[u32], ext: Value) -> String {
    let mut c = claims01(n, pred, None);
    c.insert("ect_ext".into(), ext);
    tok(&c)
}

/// An `ect_ext` object `{"pol": .., "pol_decision": ..}` with the members given.
fn policy(pol: Option<Value>, decision: Option<Value>) -> Value {
    let mut m = Map::new();
    if let Some(p) = pol {
        m.insert("pol".into(), p);
    }
    if let Some(d) = decision {
        m.insert("pol_decision".into(), d);
    }
    Value::Object(m)
}

/// An object `{"k": "xx…"}` of exactly `bytes` bytes compact, plus the members `extra` (their
/// size included).
fn sized(bytes: usize, extra: &[(&str, &str)]) -> Value {
    let mut m = Map::new();
    for (k, v) in extra {
        m.insert((*k).into(), (*v).into());
    }
    m.insert("k".into(), "".into());
    let base = serde_json::to_string(&m).expect("serializes").len();
    m.insert("k".into(), "x".repeat(bytes - base).into());
    let v = Value::Object(m);
    assert_eq!(serde_json::to_string(&v).expect("serializes").len(), bytes);
    v
}

/// An object nested `depth` objects deep (the outer one counts 1): `{"a":{"a":…{}}}`.
fn deep(depth: usize) -> Value {
    let mut v = json!({});
    for _ in 1..depth {
        v = json!({ "a": v });
    }
    v
}

/// Partial DAG mode.
fn partial(s: &mut Settings) {
    s.dag = DagModeSetting::Partial;
}

/// A vector of `draft-01`'s own: only in its files, taken as written.
fn own(v: V) -> V {
    v.only(ProfileName::Draft01).exact()
}

/// The vectors, in order.
pub fn vectors() -> Vec<V> {
    let mut v = typ_vectors();
    v.extend(pred_vectors());
    v.extend(ext_vectors());
    v.extend(policy_vectors());
    v.extend(workflow_vectors());
    v.extend(cross_profile_vectors());
    v.into_iter().map(own).collect()
}

/// ECT-P01-1: both `typ` values, their `application/` forms and case variants.
fn typ_vectors() -> Vec<V> {
    let p1 = ["ECT-P01-1"];
    let root = claims01(1, &[], None);
    let t = |id: &str, desc: &str, typ: &str| V::token(id, desc, &p1, tok_typ(typ, &root));
    let case = |id: &str, desc: &str, typ: &str| {
        t(id, desc, typ).acceptable("header.typ", Verdict::Valid, "TypCase")
    };
    let bad = |id: &str, desc: &str, typ: &str| t(id, desc, typ).invalid("header.typ");
    vec![
        t(
            "profile/typ/exec-jwt",
            "typ \"exec+jwt\" (preferred)",
            "exec+jwt",
        )
        .valid(),
        t(
            "profile/typ/application-exec-jwt",
            "typ \"application/exec+jwt\"",
            "application/exec+jwt",
        )
        .valid(),
        t(
            "profile/typ/legacy",
            "typ \"wimse-exec+jwt\" (legacy, accepted)",
            "wimse-exec+jwt",
        )
        .valid(),
        t(
            "profile/typ/legacy-application",
            "typ \"application/wimse-exec+jwt\" (legacy, accepted)",
            "application/wimse-exec+jwt",
        )
        .valid(),
        case("profile/typ/case-upper", "typ \"EXEC+JWT\"", "EXEC+JWT"),
        case(
            "profile/typ/case-application",
            "typ \"Application/Exec+JWT\"",
            "Application/Exec+JWT",
        ),
        case(
            "profile/typ/legacy-case-upper",
            "typ \"WIMSE-EXEC+JWT\" (legacy value, upper case)",
            "WIMSE-EXEC+JWT",
        ),
        bad(
            "profile/typ/parameter",
            "typ \"exec+jwt; charset=utf-8\" (media-type parameter)",
            "exec+jwt; charset=utf-8",
        ),
        bad(
            "profile/typ/double-prefix",
            "typ \"application/application/exec+jwt\"",
            "application/application/exec+jwt",
        ),
        bad(
            "profile/typ/leading-space",
            "typ \" exec+jwt\"",
            " exec+jwt",
        ),
        bad("profile/typ/no-suffix", "typ \"exec\"", "exec"),
        bad("profile/typ/json-suffix", "typ \"exec+json\"", "exec+json"),
        bad(
            "profile/typ/ect-prefix",
            "typ \"ect+jwt\" (neither value)",
            "ect+jwt",
        ),
        bad(
            "profile/typ/other-prefix",
            "typ \"text/exec+jwt\"",
            "text/exec+jwt",
        ),
        bad("profile/typ/jwt", "typ \"JWT\"", "JWT"),
    ]
}

/// ECT-P01-2: `pred`, and `par` without or beside it.
fn pred_vectors() -> Vec<V> {
    let p2 = ["ECT-P01-2"];
    let m2 = ["ECT-CLM-1", "ECT-P01-2"];
    let d2 = ["ECT-DAG-2", "ECT-P01-2"];
    let par_only = |pars: &[u32]| {
        with(1, |c| {
            c.remove("pred");
            let par: Vec<String> = pars.iter().map(|p| uuid(*p)).collect();
            c.insert("par".into(), json!(par));
        })
    };
    vec![
        V::token(
            "profile/pred/root",
            "pred [] (a root task)",
            &p2,
            task(1, &[], None),
        )
        .valid(),
        V::token(
            "profile/pred/par-only-root",
            "par [] and no pred: the required claim pred is missing",
            &m2,
            par_only(&[]),
        )
        .invalid("claims.missing"),
        V::token(
            "profile/pred/par-only-parents",
            "par [2] and no pred: the required claim pred is missing",
            &m2,
            par_only(&[2]),
        )
        .invalid("claims.missing"),
        V::token(
            "profile/pred/par-beside-pred",
            "pred [] beside par \"not-a-list\": par is an unknown claim, ignored",
            &p2,
            with(1, |c| {
                c.insert("par".into(), "not-a-list".into());
            }),
        )
        .valid(),
        V::token(
            "profile/pred/par-self-beside-pred",
            "pred [] beside par holding the token's own jti: par is ignored",
            &p2,
            with(1, |c| {
                c.insert("par".into(), json!([uuid(1)]));
            }),
        )
        .valid(),
        V::token(
            "profile/pred/pred-string",
            "pred is a string, not an array",
            &["ECT-CLM-2", "ECT-P01-2"],
            with(1, |c| {
                c.insert("pred".into(), uuid(2).into());
            }),
        )
        .invalid("claims.type"),
        V::token(
            "profile/pred/pred-self",
            "pred [jti]",
            &["ECT-CLM-9", "ECT-P01-2"],
            with(1, |c| {
                c.insert("pred".into(), json!([uuid(1)]));
            }),
        )
        .invalid("claims.par_self"),
        V::token(
            "profile/pred/resolves-in-ledger",
            "pred [1] with 1 in the ledger",
            &d2,
            task(2, &[1], None),
        )
        .ledger_after(vec![task(1, &[], None)])
        .valid(),
        V::token(
            "profile/pred/missing-in-ledger",
            "pred [1], 1 never accepted (strict mode)",
            &d2,
            task(2, &[1], None),
        )
        .ledger_after(vec![task(3, &[], None)])
        .invalid("dag.parent_missing"),
        V::token(
            "profile/pred/par-not-an-edge",
            "pred [] beside par [1], 1 never accepted (strict mode): par is not a parent",
            &d2,
            with(2, |c| {
                c.insert("par".into(), json!([uuid(1)]));
            }),
        )
        .ledger_after(vec![task(3, &[], None)])
        .valid(),
    ]
}

/// ECT-P01-3: `ect_ext` at and over its MUST limits; a top-level `ext` is ignored.
fn ext_vectors() -> Vec<V> {
    let p3 = ["ECT-CLM-12", "ECT-P01-3"];
    let top = ["ECT-P01-3"];
    vec![
        V::token(
            "profile/ext/top-level-string",
            "a top-level ext \"x\" (not an object): an unknown claim, ignored",
            &top,
            with(1, |c| {
                c.insert("ext".into(), "x".into());
            }),
        )
        .valid(),
        V::token(
            "profile/ext/top-level-over-limits",
            "a top-level ext of 5000 bytes, nested 7 deep: an unknown claim, ignored",
            &top,
            with(1, |c| {
                c.insert(
                    "ext".into(),
                    json!({"a": deep(6), "k": "x".repeat(5000)}),
                );
            }),
        )
        .valid(),
        V::token(
            "profile/ext/top-level-beside-ect-ext",
            "ect_ext {} beside a top-level ext of 5000 bytes: only ect_ext is checked",
            &top,
            with(1, |c| {
                c.insert("ect_ext".into(), json!({}));
                c.insert("ext".into(), json!({"k": "x".repeat(5000)}));
            }),
        )
        .valid(),
        V::token(
            "profile/ext/size-at-max",
            "ect_ext of exactly 4096 bytes compact",
            &p3,
            task_ext(1, &[], sized(4096, &[])),
        )
        .flag("Boundary")
        .valid(),
        V::token(
            "profile/ext/size-over-max",
            "ect_ext of 4097 bytes compact: over the MUST limit",
            &p3,
            task_ext(1, &[], sized(4097, &[])),
        )
        .flag("Boundary")
        .invalid("claims.ext_size"),
        V::token(
            "profile/ext/depth-at-max",
            "ect_ext nested 5 objects deep",
            &p3,
            task_ext(1, &[], deep(5)),
        )
        .flag("Boundary")
        .valid(),
        V::token(
            "profile/ext/depth-over-max",
            "ect_ext nested 6 objects deep: over the MUST limit",
            &p3,
            task_ext(1, &[], deep(6)),
        )
        .flag("Boundary")
        .invalid("claims.ext_depth"),
        V::token(
            "profile/ext/size-at-max-with-policy",
            "ect_ext with pol and pol_decision approved, 4096 bytes in all",
            &["ECT-CLM-12", "ECT-P01-3", "ECT-P01-4"],
            task_ext(
                1,
                &[],
                sized(4096, &[("pol", "policy-1"), ("pol_decision", "approved")]),
            ),
        )
        .flag("Boundary")
        .valid(),
        V::token(
            "profile/ext/size-over-max-with-policy",
            "ect_ext with pol and pol_decision approved, 4097 bytes in all: the policy members count",
            &["ECT-CLM-12", "ECT-P01-3", "ECT-P01-4"],
            task_ext(
                1,
                &[],
                sized(4097, &[("pol", "policy-1"), ("pol_decision", "approved")]),
            ),
        )
        .flag("Boundary")
        .invalid("claims.ext_size"),
    ]
}

/// ECT-P01-4: the policy claims inside `ect_ext` (checked, flag `ExtPolicy`), ignored at the top
/// level.
fn policy_vectors() -> Vec<V> {
    let p4 = ["ECT-CLM-13", "ECT-P01-4"];
    let d6 = ["ECT-DAG-6", "ECT-P01-4"];
    let top = ["ECT-P01-4"];
    let s = |x: &str| Some(json!(x));
    let inside = |pol, decision| task_ext(1, &[], policy(pol, decision));
    let bad = |id: &str, desc: &str, token: String| {
        V::token(id, desc, &p4, token).acceptable("claims.pol", Verdict::Invalid, "ExtPolicy")
    };
    let top_level = |pol: Option<Value>, decision: Option<Value>| {
        with(1, |c| {
            if let Some(p) = pol {
                c.insert("pol".into(), p);
            }
            if let Some(d) = decision {
                c.insert("pol_decision".into(), d);
            }
        })
    };
    let parent_with = |decision: &str, top: bool| {
        let mut c = claims01(1, &[], None);
        if top {
            c.insert("pol".into(), "spending-limit".into());
            c.insert("pol_decision".into(), decision.into());
        } else {
            c.insert("ect_ext".into(), policy(s("spending-limit"), s(decision)));
        }
        tok(&c)
    };
    vec![
        V::token(
            "profile/policy/approved",
            "ect_ext {pol, pol_decision approved}",
            &p4,
            inside(s("policy-1"), s("approved")),
        )
        .valid(),
        V::token(
            "profile/policy/with-other-members",
            "ect_ext {pol, pol_decision rejected, other members}",
            &p4,
            task_ext(
                1,
                &[],
                json!({"pol": "policy-1", "pol_decision": "rejected", "trace": {"id": 7}}),
            ),
        )
        .valid(),
        bad(
            "profile/policy/without-decision",
            "ect_ext.pol without ect_ext.pol_decision",
            inside(s("policy-1"), None),
        ),
        bad(
            "profile/policy/decision-without-pol",
            "ect_ext.pol_decision approved without ect_ext.pol",
            inside(None, s("approved")),
        ),
        bad(
            "profile/policy/empty-pol",
            "ect_ext.pol \"\" with pol_decision approved",
            inside(s(""), s("approved")),
        ),
        bad(
            "profile/policy/unknown-decision",
            "ect_ext.pol_decision \"maybe\"",
            inside(s("policy-1"), s("maybe")),
        ),
        bad(
            "profile/policy/pol-not-a-string",
            "ect_ext.pol is the number 1 (pol_decision approved)",
            inside(Some(json!(1)), s("approved")),
        ),
        bad(
            "profile/policy/decision-not-a-string",
            "ect_ext.pol_decision is null",
            inside(s("policy-1"), Some(Value::Null)),
        ),
        V::token(
            "profile/policy/top-level-ignored",
            "top-level pol without pol_decision: unknown claims, ignored",
            &top,
            top_level(s("policy-1"), None),
        )
        .valid(),
        V::token(
            "profile/policy/top-level-invalid-ignored",
            "top-level pol 7 and pol_decision \"maybe\": unknown claims, ignored",
            &top,
            top_level(Some(json!(7)), s("maybe")),
        )
        .valid(),
        V::token(
            "profile/policy/rejected-parent",
            "the parent's ect_ext.pol_decision is rejected",
            &d6,
            task(2, &[1], None),
        )
        .ledger_after(vec![parent_with("rejected", false)])
        .acceptable("dag.parent_policy", Verdict::Invalid, "ExtPolicy"),
        V::token(
            "profile/policy/pending-parent",
            "the parent's ect_ext.pol_decision is pending_human_review",
            &d6,
            task(2, &[1], None),
        )
        .in_store(vec![parent_with("pending_human_review", false)])
        .acceptable("dag.parent_policy", Verdict::Invalid, "ExtPolicy"),
        V::token(
            "profile/policy/approved-parent",
            "the parent's ect_ext.pol_decision is approved",
            &d6,
            task(2, &[1], None),
        )
        .ledger_after(vec![parent_with("approved", false)])
        .valid(),
        V::token(
            "profile/policy/top-level-rejected-parent",
            "the parent has a top-level pol_decision rejected: not a claim in draft-01, ignored",
            &["ECT-DAG-6", "ECT-P01-4"],
            task(2, &[1], None),
        )
        .ledger_after(vec![parent_with("rejected", true)])
        .valid(),
    ]
}

/// ECT-P01-5: workflow consistency, element by element, strict and partial mode, modes `ledger`
/// and `store`, a parent arriving late.
fn workflow_vectors() -> Vec<V> {
    let p5 = ["ECT-DAG-2", "ECT-P01-5"];
    let mismatch = |id: &str, desc: &str, token: String| {
        V::token(id, desc, &p5, token).invalid("dag.workflow_mismatch")
    };
    let ok = |id: &str, desc: &str, token: String| V::token(id, desc, &p5, token).valid();
    vec![
        // Mode ledger, strict and partial.
        mismatch(
            "profile/workflow/ledger-strict-other-wid",
            "strict mode: the parent was accepted in workflow 100, the child is in 101",
            task(2, &[1], Some(W2)),
        )
        .ledger_after(vec![task(1, &[], Some(W1))]),
        mismatch(
            "profile/workflow/ledger-partial-other-wid",
            "partial mode: the parent was accepted in workflow 100, the child is in 101 (not missing: in the wrong workflow)",
            task(2, &[1], Some(W2)),
        )
        .ledger_after(vec![task(1, &[], Some(W1))])
        .settings(partial)
        .flag("PartialMode"),
        mismatch(
            "profile/workflow/ledger-partial-parent-without-wid",
            "partial mode: the parent has no wid, the child is in workflow 100",
            task(2, &[1], Some(W1)),
        )
        .ledger_after(vec![task(1, &[], None)])
        .settings(partial)
        .flag("PartialMode"),
        mismatch(
            "profile/workflow/ledger-partial-child-without-wid",
            "partial mode: the parent is in workflow 100, the child has no wid",
            task(2, &[1], None),
        )
        .ledger_after(vec![task(1, &[], Some(W1))])
        .settings(partial)
        .flag("PartialMode"),
        mismatch(
            "profile/workflow/ledger-second-element",
            "strict mode: pred [1, 3], 1 in the child's workflow 100, 3 in workflow 101",
            task(2, &[1, 3], Some(W1)),
        )
        .ledger_after(vec![task(1, &[], Some(W1)), task(3, &[], Some(W2))]),
        mismatch(
            "profile/workflow/ledger-partial-after-missing",
            "partial mode: pred [4, 3], 4 missing everywhere, 3 in workflow 101; the child is in 100",
            task(2, &[4, 3], Some(W1)),
        )
        .ledger_after(vec![task(3, &[], Some(W2))])
        .settings(partial)
        .flag("PartialMode"),
        ok(
            "profile/workflow/ledger-same-wid",
            "strict mode: parent and child both in workflow 100",
            task(2, &[1], Some(W1)),
        )
        .ledger_after(vec![task(1, &[], Some(W1))]),
        ok(
            "profile/workflow/ledger-partial-same-wid",
            "partial mode: parent and child both in workflow 100",
            task(2, &[1], Some(W1)),
        )
        .ledger_after(vec![task(1, &[], Some(W1))])
        .settings(partial)
        .flag("PartialMode"),
        ok(
            "profile/workflow/ledger-both-without-wid",
            "strict mode: parent and child both without wid",
            task(2, &[1], None),
        )
        .ledger_after(vec![task(1, &[], None)]),
        ok(
            "profile/workflow/ledger-partial-missing-everywhere",
            "partial mode: the parent is held under no workflow at all: missing, accepted and listed",
            task(2, &[1], Some(W1)),
        )
        .ledger_after(vec![task(3, &[], Some(W2))])
        .settings(partial)
        .flag("PartialMode"),
        ok(
            "profile/workflow/ledger-same-jti-both-workflows",
            "the jti 1 is held in workflows 100 and 101; the child in 101 names it: it resolves in its own workflow",
            task(2, &[1], Some(W2)),
        )
        .ledger_after(vec![task(1, &[], Some(W1)), task(1, &[], Some(W2))]),
        // Mode store.
        mismatch(
            "profile/workflow/store-strict-other-wid",
            "strict mode: the store holds the parent in workflow 100, the child is in 101",
            task(2, &[1], Some(W2)),
        )
        .in_store(vec![task(1, &[], Some(W1))]),
        mismatch(
            "profile/workflow/store-partial-other-wid",
            "partial mode: the store holds the parent in workflow 100, the child is in 101",
            task(2, &[1], Some(W2)),
        )
        .in_store(vec![task(1, &[], Some(W1))])
        .settings(partial)
        .flag("PartialMode"),
        mismatch(
            "profile/workflow/store-partial-parent-without-wid",
            "partial mode: the store holds the parent without wid, the child is in workflow 100",
            task(2, &[1], Some(W1)),
        )
        .in_store(vec![task(1, &[], None)])
        .settings(partial)
        .flag("PartialMode"),
        ok(
            "profile/workflow/store-same-wid",
            "strict mode: the store holds the parent in the child's workflow 100",
            task(2, &[1], Some(W1)),
        )
        .in_store(vec![task(1, &[], Some(W1))]),
        // The late direction: a stored token of another workflow already names the new one.
        mismatch(
            "profile/workflow/late-ledger-partial",
            "partial mode: 2 (workflow 101) accepted naming the missing 1; then 1 arrives in workflow 100",
            task(1, &[], Some(W1)),
        )
        .ledger_after(vec![task(2, &[1], Some(W2))])
        .settings(partial)
        .flag("PartialMode"),
        mismatch(
            "profile/workflow/late-ledger-partial-without-wid",
            "partial mode: 2 (no wid) accepted naming the missing 1; then 1 arrives in workflow 100",
            task(1, &[], Some(W1)),
        )
        .ledger_after(vec![task(2, &[1], None)])
        .settings(partial)
        .flag("PartialMode"),
        mismatch(
            "profile/workflow/late-store",
            "the store holds 2 (workflow 101) naming 1; the token 1 is in workflow 100",
            task(1, &[], Some(W1)),
        )
        .in_store(vec![task(2, &[1], Some(W2))]),
        ok(
            "profile/workflow/late-ledger-partial-same-wid",
            "partial mode: 2 (workflow 100) accepted naming the missing 1; then 1 arrives in workflow 100",
            task(1, &[], Some(W1)),
        )
        .ledger_after(vec![task(2, &[1], Some(W1))])
        .settings(partial)
        .flag("PartialMode"),
    ]
}

/// A `draft-00` token under a `draft-01` verifier.
fn cross_profile_vectors() -> Vec<V> {
    let mut draft00 = claims(&uuid(1));
    draft00.insert("ext".into(), json!({"k": "v"}));
    vec![
        V::token(
            "profile/cross/draft-00-token",
            "a draft-00 token (typ wimse-exec+jwt, par [], ext) under a draft-01 verifier: pred is missing",
            &["ECT-CLM-1", "ECT-P01-2"],
            tok_typ(TYP, &draft00),
        )
        .invalid("claims.missing"),
        V::token(
            "profile/cross/draft-00-token-with-pred",
            "a draft-00 token (typ wimse-exec+jwt, par [], ext over 4096 bytes, top-level pol without pol_decision) that also carries pred []: accepted, the draft-00 claims ignored",
            &["ECT-P01-2", "ECT-P01-3", "ECT-P01-4"],
            {
                let mut c = claims(&uuid(1));
                c.insert("pred".into(), json!([]));
                c.insert("ext".into(), json!({"k": "x".repeat(5000)}));
                c.insert("pol".into(), "policy-1".into());
                tok_typ(TYP, &c)
            },
        )
        .valid(),
    ]
}
