//! Profile `draft-01` (SPEC.md §10) through the public API: for each rule ECT-P01-1 … ECT-P01-5
//! a passing case and an exactly failing one, the builder's output, the profile boundary
//! (a token of one profile under a verifier of the other), and the audit.

use serde_json::{Map, Value, json};
use wimse_ect::{
    DRAFT_00, DRAFT_01, DagValidator, EctBuilder, Error, MemoryLedger, Policy, PolicyDecision,
    Profile, TokenStore, Verifier, audit, base64url,
};

use crate::common::*;

/// A verifier of `profile`, strict or partial, over [`trusted_keys`].
fn verifier_of(profile: Profile, dag: DagValidator) -> Verifier {
    let mut policy: Policy = policy_with(dag);
    policy.profile = profile;
    verifier_with(policy)
}

fn v01() -> Verifier {
    verifier_of(DRAFT_01, DagValidator::new())
}

/// A draft-01 verifier without replay protection, for verifying one claim set many ways.
fn stateless01() -> Verifier {
    let mut policy = policy_with(DagValidator::new());
    policy.profile = DRAFT_01;
    policy.replay = wimse_ect::ReplayProtection::Disabled;
    verifier_with(policy)
}

/// A draft-01 builder for task `jti` issued at `iat`.
fn ect01(jti: &str, iat: u64) -> EctBuilder {
    ect(jti, iat).profile(DRAFT_01)
}

/// Valid draft-01 claims of agent A (`pred` empty), issued at `NOW`.
fn claims01() -> Map<String, Value> {
    let mut c = claims(NOW);
    let pred = c.remove("par").expect("par");
    c.insert("pred".into(), pred);
    c
}

/// A token signed by agent A with `typ` and `payload`.
fn signed(typ: &str, payload: &Map<String, Value>) -> String {
    let mut h = header(KID_A);
    h.insert("typ".into(), typ.into());
    sign_json(&h, payload, &key_a())
}

/// The verdict's code, or `"ok"`.
fn code(r: Result<wimse_ect::VerifiedEct, Error>) -> &'static str {
    r.map_or_else(|e| e.code(), |_| "ok")
}

/// The decoded header and payload of a compact token.
fn decoded(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let mut part = || {
        let bytes = base64url::decode(parts.next().unwrap().as_bytes()).unwrap();
        serde_json::from_slice::<Value>(&bytes).unwrap()
    };
    (part(), part())
}

/// The builder writes `exec+jwt`, `pred`, `ect_ext` with the policy members inside it, and no
/// top-level `par`, `ext`, `pol` or `pol_decision`.
#[test]
fn the_builder_writes_the_draft_01_names() {
    let mut ext = Map::new();
    ext.insert("region".into(), "eu".into());
    let token = ect01(&id(2), NOW)
        .parent(id(1))
        .ext(ext)
        .policy("spiffe://example.org/policy/p", PolicyDecision::Approved)
        .sign(&key_a())
        .unwrap();
    let (header, payload) = decoded(&token);
    assert_eq!(header["typ"], "exec+jwt");
    assert_eq!(payload["pred"], json!([id(1)]));
    assert_eq!(
        payload["ect_ext"],
        json!({"region": "eu", "pol": "spiffe://example.org/policy/p", "pol_decision": "approved"})
    );
    for gone in ["par", "ext", "pol", "pol_decision"] {
        assert_eq!(payload.get(gone), None, "{gone}");
    }
}

/// ECT-P01-1: `exec+jwt` and the legacy `wimse-exec+jwt`, each with `application/` and in
/// another case, pass; anything else is `header.typ`. A draft-00 verifier refuses `exec+jwt`.
#[test]
fn p01_1_typ() {
    let payload = claims01();
    for typ in [
        "exec+jwt",
        "application/exec+jwt",
        "EXEC+JWT",
        "wimse-exec+jwt",
        "application/wimse-exec+jwt",
        "Wimse-Exec+JWT",
    ] {
        assert_eq!(
            code(v01().verify(signed(typ, &payload), NOW)),
            "ok",
            "{typ}"
        );
    }
    for typ in ["JWT", "exec", "wimse+jwt", "application/jwt", "exec+jwt "] {
        assert_eq!(
            v01().verify(signed(typ, &payload), NOW).unwrap_err(),
            Error::Typ(format!("{typ:?} is not \"exec+jwt\"")),
            "{typ}"
        );
    }
    assert_eq!(
        code(verifier().verify(signed("exec+jwt", &claims(NOW)), NOW)),
        "header.typ"
    );
}

/// ECT-P01-2: `pred` is the parent list (ECT-CLM-1/2/8/9/10 read it); a token with `par` and
/// no `pred` lacks a required claim; `par` next to `pred` is ignored. Each profile refuses
/// the other's parent claim as missing.
#[test]
fn p01_2_pred() {
    let v = stateless01();
    let mut both = claims01();
    both.insert("par".into(), json!(["not a UUID", 7]));
    assert_eq!(code(v.verify(signed("exec+jwt", &both), NOW)), "ok");

    let mut par_only = claims(NOW);
    par_only.insert("par".into(), json!([]));
    assert_eq!(
        v.verify(signed("exec+jwt", &par_only), NOW).unwrap_err(),
        Error::ClaimMissing("pred")
    );
    assert_eq!(
        verifier()
            .verify(signed("wimse-exec+jwt", &claims01()), NOW)
            .unwrap_err(),
        Error::ClaimMissing("par")
    );
    // The renamed claim keeps every rule and code of `par`.
    let mut wrong_type = claims01();
    wrong_type.insert("pred".into(), json!("not an array"));
    assert_eq!(
        v.verify(signed("exec+jwt", &wrong_type), NOW).unwrap_err(),
        Error::ClaimType("pred")
    );
    let mut own = claims01();
    own.insert("pred".into(), json!([JTI]));
    assert_eq!(
        v.verify(signed("exec+jwt", &own), NOW).unwrap_err(),
        Error::ParSelf
    );
}

/// ECT-P01-3: `ect_ext` at the limits passes; one byte or one level more is refused with the
/// exact code; a top-level `ext`, even of another type, is ignored.
#[test]
fn p01_3_ect_ext_limits() {
    let v = stateless01();
    let with_ext = |ext: Value| {
        let mut c = claims01();
        c.insert("ect_ext".into(), ext);
        signed("exec+jwt", &c)
    };
    // {"p":"…"} is 8 bytes around the string.
    assert_eq!(
        code(v.verify(with_ext(json!({"p": "x".repeat(4088)})), NOW)),
        "ok"
    );
    assert_eq!(
        v.verify(with_ext(json!({"p": "x".repeat(4089)})), NOW)
            .unwrap_err(),
        Error::ExtSize(4097)
    );
    assert_eq!(
        code(v.verify(with_ext(json!({"a": {"b": {"c": {"d": {}}}}})), NOW)),
        "ok"
    );
    assert_eq!(
        v.verify(with_ext(json!({"a": {"b": {"c": {"d": {"e": {}}}}}})), NOW)
            .unwrap_err(),
        Error::ExtDepth
    );
    assert_eq!(
        v.verify(with_ext(json!("not an object")), NOW).unwrap_err(),
        Error::ClaimType("ect_ext")
    );
    let mut top = claims01();
    top.insert("ext".into(), json!("not an object"));
    assert_eq!(code(v.verify(signed("exec+jwt", &top), NOW)), "ok");
}

/// ECT-P01-4: the policy members inside `ect_ext` follow ECT-CLM-13 (`claims.pol`); top-level
/// `pol` and `pol_decision`, even invalid, are ignored; a parent's `ect_ext.pol_decision`
/// blocks dependants (ECT-DAG-6).
#[test]
fn p01_4_policy_inside_ect_ext() {
    let v = stateless01();
    let with_ext = |ext: Value| {
        let mut c = claims01();
        c.insert("ect_ext".into(), ext);
        signed("exec+jwt", &c)
    };
    let ok = v
        .verify(
            with_ext(json!({"pol": "p", "pol_decision": "approved"})),
            NOW,
        )
        .unwrap();
    assert_eq!(
        ok.claims()
            .pol
            .as_ref()
            .map(|p| (p.pol.as_str(), p.decision)),
        Some(("p", PolicyDecision::Approved))
    );
    for (ext, message) in [
        (
            json!({"pol": "p", "pol_decision": "maybe"}),
            "unknown ect_ext.pol_decision \"maybe\"",
        ),
        (
            json!({"pol": "", "pol_decision": "approved"}),
            "ect_ext.pol is empty",
        ),
        (
            json!({"pol": "p"}),
            "ect_ext.pol and ect_ext.pol_decision must appear together",
        ),
        (
            json!({"pol": 1, "pol_decision": "approved"}),
            "ect_ext.pol is not a string",
        ),
    ] {
        assert_eq!(
            v.verify(with_ext(ext.clone()), NOW).unwrap_err(),
            Error::Pol(message.into()),
            "{ext}"
        );
    }
    let mut top = claims01();
    top.insert("pol".into(), json!(""));
    top.insert("pol_decision".into(), json!(7));
    let ignored = v.verify(signed("exec+jwt", &top), NOW).unwrap();
    assert_eq!(ignored.claims().pol, None);

    // ECT-DAG-6 reads ect_ext.pol_decision.
    let parent = ect01(&id(1), T0)
        .policy("p", PolicyDecision::Rejected)
        .sign(&key_a())
        .unwrap();
    let child = ect01(&id(2), T0 + 1).parent(id(1)).sign(&key_a()).unwrap();
    let ledger = MemoryLedger::with_profile(DRAFT_01);
    let v = v01();
    v.accept(&parent, NOW, &ledger).unwrap();
    assert_eq!(
        v.accept(&child, NOW, &ledger).map(|_| ()),
        Err(Error::ParentPolicy {
            parent: id(1),
            decision: PolicyDecision::Rejected,
        })
    );
}

/// ECT-P01-5: a `pred` element held only under another workflow is refused in strict and
/// partial mode (not missing); in the same workflow it passes; the late direction too; and the
/// whole-store audit reports what acceptance would have refused. A draft-00 verifier treats
/// the same parent as missing.
#[test]
fn p01_5_workflow_consistency() {
    let (w1, w2) = (wid(1), wid(2));
    let parent = ect01(&id(1), T0).wid(&w1).sign(&key_a()).unwrap();
    let mut store = TokenStore::new();
    store.insert(v01().verify(&parent, NOW).unwrap());
    let same = ect01(&id(2), T0 + 1)
        .wid(&w1)
        .parent(id(1))
        .sign(&key_a())
        .unwrap();
    let (_, outcome) = v01().verify_in(&same, NOW, &store).unwrap();
    assert_eq!(outcome.verified_parents, [id(1)]);

    let mismatch = Error::WorkflowMismatch {
        parent: id(1),
        held_in: Some(w1.clone()),
    };
    for dag in [DagValidator::new(), DagValidator::partial()] {
        let v = verifier_of(DRAFT_01, dag);
        let other = ect01(&id(3), T0 + 1)
            .wid(&w2)
            .parent(id(1))
            .sign(&key_a())
            .unwrap();
        assert_eq!(
            v.verify_in(&other, NOW, &store).map(|_| ()),
            Err(mismatch.clone())
        );
        let none = ect01(&id(4), T0 + 1).parent(id(1)).sign(&key_a()).unwrap();
        assert_eq!(
            v.verify_in(&none, NOW, &store).map(|_| ()),
            Err(mismatch.clone())
        );
        assert_eq!(mismatch.code(), "dag.workflow_mismatch");
        assert_eq!(mismatch.rule(), "ECT-P01-5");
    }
    // The same tokens under draft-00: the parent is merely missing in the child's scope.
    let other00 = ect(&id(3), T0 + 1)
        .wid(&w2)
        .parent(id(1))
        .sign(&key_a())
        .unwrap();
    let parent00 = ect(&id(1), T0).wid(&w1).sign(&key_a()).unwrap();
    let mut store00 = TokenStore::new();
    store00.insert(verifier().verify(&parent00, NOW).unwrap());
    assert_eq!(
        verifier().verify_in(&other00, NOW, &store00).map(|_| ()),
        Err(Error::ParentMissing(id(1)))
    );

    // Late direction: a stored child of workflow 2 named id(9) while it was missing.
    let partial = verifier_of(DRAFT_01, DagValidator::partial());
    let ledger = MemoryLedger::with_profile(DRAFT_01);
    let child = ect01(&id(8), T0 + 1)
        .wid(&w2)
        .parent(id(9))
        .sign(&key_a())
        .unwrap();
    partial.accept(&child, NOW, &ledger).unwrap();
    let late_wrong = ect01(&id(9), T0).wid(&w1).sign(&key_a()).unwrap();
    assert_eq!(
        partial.accept(&late_wrong, NOW, &ledger).map(|_| ()),
        Err(Error::LateWorkflowMismatch {
            child: id(8),
            child_wid: Some(w2.clone()),
        })
    );
    assert_eq!(ledger.len(), 1);
    let late_right = ect01(&id(9), T0).wid(&w2).sign(&key_a()).unwrap();
    partial.accept(&late_right, NOW, &ledger).unwrap();

    // The audit of a ledger filled from elsewhere reports the mismatch in either order.
    let elsewhere = MemoryLedger::with_profile(DRAFT_01);
    let lax = verifier_of(DRAFT_01, DagValidator::partial());
    lax.accept(
        ect01(&id(20), T0).wid(&w1).sign(&key_a()).unwrap(),
        NOW,
        &elsewhere,
    )
    .unwrap();
    let entries: Vec<_> = elsewhere.entries().iter().map(|e| Ok(e.raw())).collect();
    let mut lines = entries;
    // An entry of workflow 2 naming id(20), appended without the checks (a copied file).
    let bad = ect01(&id(21), T0 + 1)
        .wid(&w2)
        .parent(id(20))
        .sign(&key_a())
        .unwrap();
    let other_ledger = MemoryLedger::with_profile(DRAFT_01);
    lax.accept(&bad, NOW, &other_ledger).unwrap();
    let mut raw = other_ledger.entries()[0].raw();
    raw.seq = 1;
    raw.prev = lines[0].as_ref().unwrap().hash;
    raw.hash = wimse_ect::ChainHash::of_entry(raw.seq, raw.at, &raw.prev, &raw.token);
    lines.push(Ok(raw));
    let report = audit(&lines, lax.policy(), None);
    assert_eq!(
        report
            .findings
            .iter()
            .map(|f| (f.seq, f.error.clone()))
            .collect::<Vec<_>>(),
        [(
            1,
            Error::WorkflowMismatch {
                parent: id(20),
                held_in: Some(w1.clone()),
            }
        )]
    );
    // The same ledger audited as draft-00 is another profile's: its tokens fail there.
    let mut as_00 = lax.policy().clone();
    as_00.profile = DRAFT_00;
    let typ = Error::Typ("\"exec+jwt\" is not \"wimse-exec+jwt\"".into());
    let findings = audit(&lines, &as_00, None).findings;
    assert_eq!(
        findings
            .iter()
            .map(|f| (f.seq, f.error.clone()))
            .collect::<Vec<_>>(),
        [(0, typ.clone()), (1, typ)]
    );
}

/// A ledger reads tokens under one profile; a verifier of another is refused before anything
/// is checked or recorded (`ledger.profile`).
#[test]
fn ledgers_and_verifiers_of_different_profiles_refuse_each_other() {
    let ledger = MemoryLedger::new();
    let token = ect01(&id(1), T0).sign(&key_a()).unwrap();
    let v = v01();
    let e = v.accept(&token, NOW, &ledger).map(|_| ()).unwrap_err();
    assert_eq!(
        e,
        Error::LedgerProfile {
            ledger: "draft-00",
            verifier: "draft-01",
        }
    );
    assert_eq!(e.code(), "ledger.profile");
    assert_eq!(ledger.len(), 0);
    // Nothing was recorded for replay: the same token is accepted by a matching ledger.
    v.accept(&token, NOW, &MemoryLedger::with_profile(DRAFT_01))
        .unwrap();
}

/// `Profile::from_name` knows exactly the two profiles, spelled exactly.
#[test]
fn profiles_by_name() {
    assert_eq!(Profile::from_name("draft-00"), Some(DRAFT_00));
    assert_eq!(Profile::from_name("draft-01"), Some(DRAFT_01));
    assert_eq!(Profile::from_name("Draft-01"), None);
    assert_eq!(Profile::from_name("draft-02"), None);
    assert_eq!(DRAFT_01.to_string(), "draft-01");
}

/// SPEC.md §7 "Cost" under `draft-01`: accepting a token makes one `get` for ECT-DAG-1 and one
/// per `pred` element, one `get_elsewhere` per element the scope does not hold, one
/// `referrers` and one `referrer_elsewhere`: O(|pred|) lookups, whatever the store holds.
#[test]
fn workflow_consistency_keeps_acceptance_o_of_pred_lookups() {
    use std::cell::Cell;
    use std::sync::Arc;
    use wimse_ect::{EctStore, Result, StoredEct};

    struct Counting {
        inner: TokenStore,
        calls: Cell<[usize; 4]>,
    }
    impl Counting {
        fn bump(&self, i: usize) {
            let mut c = self.calls.get();
            c[i] += 1;
            self.calls.set(c);
        }
    }
    impl EctStore for Counting {
        fn get(&self, wid: Option<&str>, jti: &str) -> Result<Option<Arc<StoredEct>>> {
            self.bump(0);
            EctStore::get(&self.inner, wid, jti)
        }
        fn referrers(
            &self,
            wid: Option<&str>,
            jti: &str,
            limit: usize,
        ) -> Result<Vec<Arc<StoredEct>>> {
            self.bump(1);
            EctStore::referrers(&self.inner, wid, jti, limit)
        }
        fn get_elsewhere(&self, wid: Option<&str>, jti: &str) -> Result<Option<Arc<StoredEct>>> {
            self.bump(2);
            EctStore::get_elsewhere(&self.inner, wid, jti)
        }
        fn referrer_elsewhere(
            &self,
            wid: Option<&str>,
            jti: &str,
        ) -> Result<Option<Arc<StoredEct>>> {
            self.bump(3);
            EctStore::referrer_elsewhere(&self.inner, wid, jti)
        }
    }

    // 10 roots in workflow 0, and 400 tokens in 40 other workflows naming missing tasks.
    let stateless = stateless01();
    let partial = {
        let mut policy = policy_with(DagValidator::partial());
        policy.profile = DRAFT_01;
        policy.replay = wimse_ect::ReplayProtection::Disabled;
        verifier_with(policy)
    };
    let mut inner = TokenStore::new();
    let w0 = wid(0);
    for r in 0..10 {
        inner.insert(
            stateless
                .verify(ect01(&id(r), T0).wid(&w0).sign(&key_a()).unwrap(), NOW)
                .unwrap(),
        );
    }
    for n in 0..400u64 {
        let w = wid(1 + n % 40);
        let t = ect01(&id(1000 + n), T0 + 1)
            .wid(&w)
            .parent(id(9000 + n))
            .sign(&key_a())
            .unwrap();
        inner.insert(partial.verify(t, NOW).unwrap());
    }
    let store = Counting {
        inner,
        calls: Cell::new([0; 4]),
    };
    // Five parents in its own workflow 0 and five it does not hold (missing everywhere).
    let mut b = ect01(&id(5000), T0 + 2).wid(&w0);
    for p in (0..5).map(id).chain((20..25).map(id)) {
        b = b.parent(p);
    }
    let (_, outcome) = partial
        .verify_in(b.sign(&key_a()).unwrap(), NOW, &store)
        .unwrap();
    assert_eq!(outcome.missing_parents.len(), 5);
    assert_eq!(store.calls.get(), [1 + 10, 1, 5, 1]);
}
