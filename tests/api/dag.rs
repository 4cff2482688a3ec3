//! SPEC.md §7 (DAG validation): at least one passing and one failing test for each of
//! ECT-DAG-1..6, the late-parent checks (a token checked against the stored children that
//! named it first, SPEC.md §7 "Late parents") and what the budget counts ("Cost"), plus the
//! order of checks when several DAG rules fail at once.
//!
//! Each rule is exercised through the acceptance pipeline (`Verifier::accept` into a
//! `MemoryLedger`), and where it makes sense through `Verifier::verify_in` with a `TokenStore`
//! and through `DagValidator::validate` directly. Every failure asserts the exact `Error` value
//! (which names the parent concerned), and every rejection by `accept` is checked to leave the
//! ledger unchanged.
//!
//! Time model: every token is accepted at `NOW` unless a test says otherwise; `iat` values lie
//! in `(NOW - 630, NOW + 30]` so that the per-token time rules (ECT-TIME-2..4 with the default
//! leeway 30 s, lifetime 600 s, maximum age 900 s) pass.

use std::sync::{Arc, LazyLock};

use crate::common::*;
use wimse_ect::{
    Accepted, Claims, DRAFT_00, DagMode, DagOutcome, DagValidator, EctBuilder, EctStore, Error,
    KeyResolver, LedgerAudit, MemoryLedger, MemoryReplayCache, Policy, PolicyDecision,
    ReplayProtection, SigningKey, StoredEct, TokenStore, Verifier,
};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Agent A's key, derived once.
static KEY: LazyLock<SigningKey> = LazyLock::new(key_a);

/// `ect(jti, iat)` with `par` = `parents`.
fn with_parents(jti: &str, iat: u64, parents: &[&str]) -> EctBuilder {
    parents.iter().fold(ect(jti, iat), |b, p| b.parent(*p))
}

fn sign(b: &EctBuilder) -> String {
    b.sign(&KEY).expect("valid claims")
}

/// A signed token for task `jti` issued at `iat` with `par` = `parents`.
fn tok(jti: &str, iat: u64, parents: &[&str]) -> String {
    sign(&with_parents(jti, iat, parents))
}

/// The claims a verifier would see for `b`.
fn claims_of(b: &EctBuilder) -> Claims {
    b.build().expect("valid claims")
}

/// A verifier (replay protection on, its own cache) with these DAG settings.
fn verifier_dag(dag: DagValidator) -> Verifier {
    verifier_with(policy_with(dag))
}

fn strict() -> Verifier {
    verifier_dag(DagValidator::new())
}

fn partial() -> Verifier {
    verifier_dag(DagValidator::partial())
}

fn dag(mode: DagMode, skew_seconds: u64, ancestor_budget: usize) -> DagValidator {
    let mut d = DagValidator::new();
    d.mode = mode;
    d.skew_seconds = skew_seconds;
    d.ancestor_budget = ancestor_budget;
    d
}

/// Accepts `token` at `NOW`, expecting success; checks the new entry holds exactly `token`.
fn accept_ok(v: &Verifier, ledger: &MemoryLedger, token: &str) -> Accepted {
    accept_ok_at(v, ledger, token, NOW)
}

fn accept_ok_at(v: &Verifier, ledger: &MemoryLedger, token: &str, now: u64) -> Accepted {
    let before = ledger.len();
    let accepted = v
        .accept(token, now, ledger)
        .unwrap_or_else(|e| panic!("expected acceptance, got {e:?}"));
    assert_eq!(accepted.entry.seq(), before);
    assert_eq!(accepted.entry.ect().token(), token);
    assert_eq!(ledger.len(), before + 1);
    accepted
}

/// Accepts `token` at `NOW`, expecting rejection; checks the ledger did not change.
fn reject(v: &Verifier, ledger: &MemoryLedger, token: &str) -> Error {
    reject_at(v, ledger, token, NOW)
}

fn reject_at(v: &Verifier, ledger: &MemoryLedger, token: &str, now: u64) -> Error {
    let (len, head, entries) = (ledger.len(), ledger.head(), ledger.entries());
    let e = match v.accept(token, now, ledger) {
        Ok(a) => panic!("expected rejection, accepted entry {}", a.entry.seq()),
        Err(e) => e,
    };
    assert_eq!(
        (ledger.len(), ledger.head(), ledger.entries()),
        (len, head, entries)
    );
    e
}

/// `token` verified on its own (no replay cache, no DAG) at `NOW`, ready for a `TokenStore`.
fn stored(token: &str) -> StoredEct {
    let mut policy = Policy::new(AUD);
    policy.replay = ReplayProtection::Disabled;
    let v = verifier_with(policy);
    StoredEct::from(v.verify(token, NOW).expect("valid token"))
}

fn store_of(tokens: &[&str]) -> TokenStore {
    let mut store = TokenStore::new();
    for t in tokens {
        assert!(store.insert(stored(t)));
    }
    store
}

/// `verify_in` at `NOW` with a fresh verifier, expecting success.
fn verify_in_ok(d: DagValidator, token: &str, store: &TokenStore) -> DagOutcome {
    let (verified, outcome) = verifier_dag(d)
        .verify_in(token, NOW, store)
        .unwrap_or_else(|e| panic!("expected acceptance, got {e:?}"));
    assert_eq!(verified.token(), token);
    outcome
}

fn verify_in_err(d: DagValidator, token: &str, store: &TokenStore) -> Error {
    match verifier_dag(d).verify_in(token, NOW, store) {
        Ok((v, _)) => panic!("expected rejection, accepted {}", v.jti()),
        Err(e) => e,
    }
}

fn outcome(verified: &[&str], missing: &[&str]) -> (Vec<String>, Vec<String>) {
    (
        verified.iter().map(|s| s.to_string()).collect(),
        missing.iter().map(|s| s.to_string()).collect(),
    )
}

fn parts(o: &DagOutcome) -> (Vec<String>, Vec<String>) {
    (o.verified_parents.clone(), o.missing_parents.clone())
}

/// The `jti`s of the stored tokens naming `jti` as a parent in scope `wid`, oldest first
/// ([`EctStore::referrers`] with no practical limit).
fn referrers(store: &impl EctStore, wid: Option<&str>, jti: &str) -> Vec<String> {
    store
        .referrers(wid, jti, usize::MAX)
        .unwrap()
        .iter()
        .map(|t| t.jti().to_owned())
        .collect()
}

fn pair(e: &Error) -> (&'static str, &'static str) {
    (e.code(), e.rule())
}

// ---------------------------------------------------------------------------------------------
// ECT-DAG-1: uniqueness of jti in its scope
// ---------------------------------------------------------------------------------------------

#[test]
fn ect_dag_1_duplicate_jti_in_same_scope_fails() {
    let ledger = MemoryLedger::new();
    let v = strict();
    let j = id(1);
    let first = tok(&j, T0, &[]);
    accept_ok(&v, &ledger, &first);

    // Another token with the same jti (another iat, so other bytes).
    let e = reject(&v, &ledger, &tok(&j, T0 + 1, &[]));
    assert_eq!(e, Error::DuplicateJti(j.clone()));
    assert_eq!(pair(&e), ("dag.duplicate_jti", "ECT-DAG-1"));
    // The very same token again: DAG-1, which runs before the replay check (ECT-RPL-1).
    assert_eq!(reject(&v, &ledger, &first), Error::DuplicateJti(j.clone()));

    // The same inside one wid scope.
    let w = wid(1);
    accept_ok(&v, &ledger, &sign(&ect(&id(2), T0).wid(&w)));
    let e = reject(&v, &ledger, &sign(&ect(&id(2), T0 + 5).wid(&w)));
    assert_eq!(e, Error::DuplicateJti(id(2)));
    assert_eq!(ledger.len(), 2);
    assert_eq!(ledger.get(None, &j).unwrap().token(), first);
}

#[test]
fn ect_dag_1_same_jti_in_another_scope_passes() {
    let ledger = MemoryLedger::new();
    let v = strict();
    let j = id(1);
    let (w1, w2) = (wid(1), wid(2));
    let no_wid = tok(&j, T0, &[]);
    let in_w1 = sign(&ect(&j, T0 + 1).wid(&w1));
    let in_w2 = sign(&ect(&j, T0 + 2).wid(&w2));
    // wid vs no wid, and two different wids: three scopes, three tokens.
    for t in [&in_w1, &no_wid, &in_w2] {
        let a = accept_ok(&v, &ledger, t);
        assert_eq!(parts(&a.dag), outcome(&[], &[]));
    }
    assert_eq!(ledger.len(), 3);
    assert_eq!(ledger.get(None, &j).unwrap().token(), no_wid);
    assert_eq!(ledger.get(Some(&w1), &j).unwrap().token(), in_w1);
    assert_eq!(ledger.get(Some(&w2), &j).unwrap().token(), in_w2);
    assert_eq!(ledger.get(Some(&wid(3)), &j), None);
}

#[test]
fn ect_dag_1_verify_in_and_validate() {
    let j = id(1);
    let w = wid(1);
    let store = store_of(&[&tok(&j, T0, &[]), &sign(&ect(&id(2), T0).wid(&w))]);
    let dup = ect(&j, T0 + 1);
    assert_eq!(
        verify_in_err(DagValidator::new(), &sign(&dup), &store),
        Error::DuplicateJti(j.clone())
    );
    assert_eq!(
        DagValidator::new().validate(&DRAFT_00, &claims_of(&dup), &store),
        Err(Error::DuplicateJti(j.clone()))
    );
    // id(2) exists only in scope w: no duplicate in the no-wid scope or in another wid.
    for b in [ect(&id(2), T0), ect(&id(2), T0).wid(wid(2))] {
        let o = verify_in_ok(DagValidator::new(), &sign(&b), &store);
        assert_eq!(o, DagOutcome::default());
        assert_eq!(
            DagValidator::new().validate(&DRAFT_00, &claims_of(&b), &store),
            Ok(DagOutcome::default())
        );
    }
    // And in scope w it is a duplicate.
    let b = ect(&id(2), T0 + 3).wid(&w);
    assert_eq!(
        DagValidator::new().validate(&DRAFT_00, &claims_of(&b), &store),
        Err(Error::DuplicateJti(id(2)))
    );
}

/// ECT-CLM-5: UUIDs compare ASCII case-insensitively everywhere, so DAG uniqueness (DAG-1),
/// parent lookup (DAG-2) and the cycle walk (DAG-4) treat `ABC…` and `abc…` as one task, in
/// one scope whatever the spelling of its `wid`. Stored tokens keep their bytes.
#[test]
fn ect_dag_1_2_4_uuids_compare_case_insensitively() {
    let ledger = MemoryLedger::new();
    let v = strict();
    let (lower, upper) = (id(0xabc), id(0xabc).to_uppercase());
    let (w, w_upper) = (wid(0xdef), wid(0xdef).to_uppercase());
    let root = tok(&lower, T0, &[]);
    accept_ok(&v, &ledger, &root);
    // ECT-DAG-1: the upper-case spelling of a stored jti is a duplicate.
    let e = reject(&v, &ledger, &tok(&upper, T0 + 1, &[]));
    assert_eq!(e, Error::DuplicateJti(upper.clone()));
    assert_eq!(pair(&e), ("dag.duplicate_jti", "ECT-DAG-1"));
    // ECT-DAG-2: a parent named in upper case resolves to the stored lower-case token; the
    // outcome spells it as the child's par does.
    let child = accept_ok(&v, &ledger, &tok(&id(0xbcd), T0, &[&upper]));
    assert_eq!(parts(&child.dag), outcome(&[&upper], &[]));
    assert_eq!(ledger.get(None, &upper).unwrap().token(), root);
    // The same within a wid written in two cases: one scope.
    let in_w = sign(&ect(&id(0xcde), T0).wid(&w));
    accept_ok(&v, &ledger, &in_w);
    let e = reject(&v, &ledger, &sign(&ect(&id(0xcde), T0 + 2).wid(&w_upper)));
    assert_eq!(e, Error::DuplicateJti(id(0xcde)));
    let b = with_parents(&id(0xdea), T0, &[&id(0xcde).to_uppercase()]).wid(&w_upper);
    let acc = accept_ok(&v, &ledger, &sign(&b));
    assert_eq!(parts(&acc.dag), outcome(&[&id(0xcde).to_uppercase()], &[]));
    assert_eq!(ledger.len(), 4);

    // ECT-DAG-4: A names the missing X in upper case (partial mode); X in lower case naming A
    // closes the cycle A -> X -> A.
    let ledger = MemoryLedger::new();
    let v = partial();
    let (a, x) = (id(0xa1), id(0xb2));
    accept_ok(&v, &ledger, &tok(&a, T0, &[&x.to_uppercase()]));
    let e = reject(&v, &ledger, &tok(&x, T0, &[&a]));
    assert_eq!(e, Error::Cycle(a.clone()));
    assert_eq!(pair(&e), ("dag.cycle", "ECT-DAG-4"));
    assert_eq!(ledger.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// ECT-DAG-2: parent existence (strict and partial)
// ---------------------------------------------------------------------------------------------

#[test]
fn ect_dag_2_all_parents_present_pass() {
    let ledger = MemoryLedger::new();
    let v = strict();
    let (p1, p2, p3) = (id(1), id(2), id(3));
    for p in [&p1, &p2, &p3] {
        accept_ok(&v, &ledger, &tok(p, T0, &[]));
    }
    let a = accept_ok(&v, &ledger, &tok(&id(9), T0 + 10, &[&p3, &p1, &p2]));
    // In par order, not store order.
    assert_eq!(parts(&a.dag), outcome(&[&p3, &p1, &p2], &[]));
    // A root task has no parents to check.
    let a = accept_ok(&v, &ledger, &tok(&id(10), T0, &[]));
    assert_eq!(a.dag, DagOutcome::default());
}

#[test]
fn ect_dag_2_strict_missing_parent_is_named() {
    let ledger = MemoryLedger::new();
    let v = strict();
    let (p1, m, p3) = (id(1), id(2), id(3));
    accept_ok(&v, &ledger, &tok(&p1, T0, &[]));
    accept_ok(&v, &ledger, &tok(&p3, T0, &[]));
    // The 2nd of 3 parents is missing: the error names exactly that one.
    let child = with_parents(&id(9), T0 + 10, &[&p1, &m, &p3]);
    let e = reject(&v, &ledger, &sign(&child));
    assert_eq!(e, Error::ParentMissing(m.clone()));
    assert_eq!(pair(&e), ("dag.parent_missing", "ECT-DAG-2"));
    // Two missing: the first in par order is reported.
    let e = reject(
        &v,
        &ledger,
        &tok(&id(9), T0 + 10, &[&p1, &id(5), &p3, &id(4)]),
    );
    assert_eq!(e, Error::ParentMissing(id(5)));
    // A rejected child leaves no trace: no dangling reference was recorded.
    assert_eq!(referrers(&ledger, None, &m), Vec::<String>::new());

    // The same through verify_in and validate against a TokenStore.
    let store = store_of(&[&tok(&p1, T0, &[]), &tok(&p3, T0, &[])]);
    assert_eq!(
        verify_in_err(DagValidator::new(), &sign(&child), &store),
        Error::ParentMissing(m.clone())
    );
    assert_eq!(
        DagValidator::new().validate(&DRAFT_00, &claims_of(&child), &store),
        Err(Error::ParentMissing(m.clone()))
    );
}

#[test]
fn ect_dag_2_partial_lists_missing_parents_in_par_order() {
    let ledger = MemoryLedger::new();
    let v = partial();
    let (p1, m, p3) = (id(1), id(2), id(3));
    accept_ok(&v, &ledger, &tok(&p1, T0, &[]));
    accept_ok(&v, &ledger, &tok(&p3, T0, &[]));

    let child = with_parents(&id(9), T0 + 10, &[&p1, &m, &p3]);
    let a = accept_ok(&v, &ledger, &sign(&child));
    assert_eq!(parts(&a.dag), outcome(&[&p1, &p3], &[&m]));
    // The missing parent is still missing (never verified, never stored).
    assert_eq!(ledger.get(None, &m), None);
    assert_eq!(referrers(&ledger, None, &m), [id(9)]);

    // Several missing ones, interleaved: both lists keep par order.
    let (m1, m2) = (id(21), id(20));
    let a = accept_ok(&v, &ledger, &tok(&id(10), T0 + 10, &[&m1, &p3, &m2, &p1]));
    assert_eq!(parts(&a.dag), outcome(&[&p3, &p1], &[&m1, &m2]));
    // All missing.
    let a = accept_ok(&v, &ledger, &tok(&id(11), T0 + 10, &[&m2, &m1]));
    assert_eq!(parts(&a.dag), outcome(&[], &[&m2, &m1]));

    // verify_in and validate give the same outcome.
    let store = store_of(&[&tok(&p1, T0, &[]), &tok(&p3, T0, &[])]);
    let o = verify_in_ok(DagValidator::partial(), &sign(&child), &store);
    assert_eq!(parts(&o), outcome(&[&p1, &p3], &[&m]));
    let o = DagValidator::partial()
        .validate(&DRAFT_00, &claims_of(&child), &store)
        .unwrap();
    assert_eq!(parts(&o), outcome(&[&p1, &p3], &[&m]));
}

#[test]
fn ect_dag_2_parent_in_another_scope_is_missing() {
    let ledger = MemoryLedger::new();
    let (s, p) = (strict(), partial());
    let (w1, w2) = (wid(1), wid(2));
    let parent = id(1);
    accept_ok(&s, &ledger, &sign(&ect(&parent, T0).wid(&w1)));

    // Child in another wid.
    let in_w2 = sign(&ect(&id(2), T0 + 10).wid(&w2).parent(&parent));
    assert_eq!(
        reject(&s, &ledger, &in_w2),
        Error::ParentMissing(parent.clone())
    );
    // Child without wid (the no-wid scope).
    let no_wid = tok(&id(3), T0 + 10, &[&parent]);
    assert_eq!(
        reject(&s, &ledger, &no_wid),
        Error::ParentMissing(parent.clone())
    );
    // Partial: accepted, the other scope's token listed as missing, not as verified.
    for t in [&in_w2, &no_wid] {
        let a = accept_ok(&p, &ledger, t);
        assert_eq!(parts(&a.dag), outcome(&[], &[&parent]));
    }
    // Child in the same wid: found.
    let a = accept_ok(
        &s,
        &ledger,
        &sign(&ect(&id(4), T0 + 10).wid(&w1).parent(&parent)),
    );
    assert_eq!(parts(&a.dag), outcome(&[&parent], &[]));

    // A no-wid parent is not visible from a wid scope either.
    let store = store_of(&[&tok(&parent, T0, &[])]);
    let b = ect(&id(5), T0 + 10).wid(&w1).parent(&parent);
    assert_eq!(
        DagValidator::new().validate(&DRAFT_00, &claims_of(&b), &store),
        Err(Error::ParentMissing(parent.clone()))
    );
    let o = verify_in_ok(DagValidator::partial(), &sign(&b), &store);
    assert_eq!(parts(&o), outcome(&[], &[&parent]));
}

// ---------------------------------------------------------------------------------------------
// ECT-DAG-3: temporal order with skew
// ---------------------------------------------------------------------------------------------

/// Accepts a parent issued at `child_iat + delta` and a child issued at `child_iat` with
/// `par` = [parent], both at `NOW`, with DAG setting `d`. Returns the child's result.
fn temporal(d: DagValidator, child_iat: u64, delta: u64) -> (String, Result<Accepted, Error>) {
    let ledger = MemoryLedger::new();
    let v = verifier_dag(d);
    let parent = id(1);
    accept_ok(&v, &ledger, &tok(&parent, child_iat + delta, &[]));
    let child = tok(&id(2), child_iat, &[&parent]);
    let result = v.accept(&child, NOW, &ledger);
    assert_eq!(ledger.len(), if result.is_ok() { 2 } else { 1 });
    (parent, result)
}

#[test]
fn ect_dag_3_default_skew_boundary() {
    let c = NOW - 100;
    // parent.iat == child.iat + 30: valid (equality at the boundary).
    let (parent, r) = temporal(DagValidator::new(), c, 30);
    assert_eq!(parts(&r.unwrap().dag), outcome(&[&parent], &[]));
    // A parent issued before its child: valid.
    let (_, r) = temporal(DagValidator::new(), c, 0);
    assert!(r.is_ok());
    // One second more: dag.temporal_order naming the parent and both iats.
    let (parent, r) = temporal(DagValidator::new(), c, 31);
    let e = r.unwrap_err();
    assert_eq!(
        e,
        Error::TemporalOrder {
            parent,
            parent_iat: c + 31,
            child_iat: c,
        }
    );
    assert_eq!(pair(&e), ("dag.temporal_order", "ECT-DAG-3"));
}

#[test]
fn ect_dag_3_configured_skew_boundary() {
    for skew in [0u64, 1, 300] {
        let c = NOW - 400;
        let d = dag(DagMode::Strict, skew, 10_000);
        let (parent, r) = temporal(d.clone(), c, skew);
        assert_eq!(
            parts(&r.unwrap().dag),
            outcome(&[&parent], &[]),
            "skew {skew}"
        );
        let (parent, r) = temporal(d, c, skew + 1);
        assert_eq!(
            r.unwrap_err(),
            Error::TemporalOrder {
                parent,
                parent_iat: c + skew + 1,
                child_iat: c,
            },
            "skew {skew}"
        );
    }
}

#[test]
fn ect_dag_3_boundary_near_now_respects_time_3() {
    // The child itself must pass ECT-TIME-3 (iat <= now + leeway), so at the upper end of the
    // time window the DAG-3 boundary is reached with a parent issued in the (allowed) future.
    let ledger = MemoryLedger::new();
    let v = strict();
    // parent.iat = NOW + 30 = child.iat + 30, all accepted at NOW: both at their boundaries.
    accept_ok(&v, &ledger, &tok(&id(1), NOW + 30, &[]));
    let a = accept_ok(&v, &ledger, &tok(&id(2), NOW, &[&id(1)]));
    assert_eq!(parts(&a.dag), outcome(&[&id(1)], &[]));
    // A parent issued at NOW + 31 fails ECT-TIME-3 at NOW, so accept it at NOW + 1; the child
    // issued at NOW then breaks DAG-3 by one second.
    let late = tok(&id(3), NOW + 31, &[]);
    assert_eq!(
        pair(&reject(&v, &ledger, &late)),
        ("time.not_yet_valid", "ECT-TIME-3")
    );
    accept_ok_at(&v, &ledger, &late, NOW + 1);
    let e = reject_at(&v, &ledger, &tok(&id(4), NOW, &[&id(3)]), NOW + 1);
    assert_eq!(
        e,
        Error::TemporalOrder {
            parent: id(3),
            parent_iat: NOW + 31,
            child_iat: NOW,
        }
    );
}

#[test]
fn ect_dag_3_first_offending_parent_in_par_order() {
    let c = NOW - 200;
    let parents = [
        tok(&id(1), c - 10, &[]),
        tok(&id(2), c + 40, &[]),
        tok(&id(3), c + 50, &[]),
        tok(&id(4), c + 30, &[]),
    ];
    let refs: Vec<&str> = parents.iter().map(String::as_str).collect();
    let store = store_of(&refs);
    let bad = with_parents(&id(9), c, &[&id(1), &id(3), &id(2)]);
    let expected = Error::TemporalOrder {
        parent: id(3),
        parent_iat: c + 50,
        child_iat: c,
    };
    assert_eq!(
        DagValidator::new().validate(&DRAFT_00, &claims_of(&bad), &store),
        Err(expected.clone())
    );
    assert_eq!(
        verify_in_err(DagValidator::new(), &sign(&bad), &store),
        expected
    );
    let good = with_parents(&id(9), c, &[&id(4), &id(1)]);
    let o = verify_in_ok(DagValidator::new(), &sign(&good), &store);
    assert_eq!(parts(&o), outcome(&[&id(4), &id(1)], &[]));
}

// ---------------------------------------------------------------------------------------------
// ECT-DAG-4: acyclicity
// ---------------------------------------------------------------------------------------------

#[test]
fn ect_dag_4_strict_accept_cannot_create_a_cycle() {
    let ledger = MemoryLedger::new();
    let v = strict();
    let (a, x) = (id(1), id(2));
    // A names X before X exists: strict refuses, and records no dangling reference.
    assert_eq!(
        reject(&v, &ledger, &tok(&a, T0 + 10, &[&x])),
        Error::ParentMissing(x.clone())
    );
    assert_eq!(referrers(&ledger, None, &x), Vec::<String>::new());
    // The other way round: X first, then A naming X. A stored token's children are its
    // referrers too.
    accept_ok(&v, &ledger, &tok(&x, T0, &[]));
    accept_ok(&v, &ledger, &tok(&a, T0 + 10, &[&x]));
    assert_eq!(referrers(&ledger, None, &x), vec![a.clone()]);
    // Closing the loop would need a second X naming A: that is a duplicate (ECT-DAG-1).
    assert_eq!(
        reject(&v, &ledger, &tok(&x, T0 + 20, &[&a])),
        Error::DuplicateJti(x.clone())
    );
    // Every par link points to an earlier entry, so nothing is referenced before it exists.
    let entries = ledger.entries();
    for e in &entries {
        for p in &e.ect().claims().par {
            let parent_seq = entries.iter().position(|o| o.ect().jti() == p).unwrap() as u64;
            assert!(parent_seq < e.seq());
        }
    }
    assert_eq!(referrers(&ledger, None, &id(3)), Vec::<String>::new());
    assert!(
        ledger
            .validate_all(v.policy(), Some(v.keys() as &dyn KeyResolver))
            .is_valid()
    );
}

#[test]
fn ect_dag_4_partial_accept_closing_a_cycle_fails() {
    let ledger = MemoryLedger::new();
    let v = partial();
    let (a, x) = (id(1), id(2));
    // A names X, which is missing: accepted in partial mode, X now referenced.
    let acc = accept_ok(&v, &ledger, &tok(&a, T0, &[&x]));
    assert_eq!(parts(&acc.dag), outcome(&[], &[&x]));
    assert_eq!(referrers(&ledger, None, &x), vec![a.clone()]);
    // X naming A would close the cycle A -> X -> A.
    let e = reject(&v, &ledger, &tok(&x, T0, &[&a]));
    assert_eq!(e, Error::Cycle(a.clone()));
    assert_eq!(pair(&e), ("dag.cycle", "ECT-DAG-4"));
    assert_eq!(ledger.len(), 1);

    // A longer loop: C names the missing Y, D names C; Y naming D would close Y -> D -> C -> Y.
    let (c, d, y) = (id(3), id(4), id(5));
    accept_ok(&v, &ledger, &tok(&c, T0, &[&y]));
    accept_ok(&v, &ledger, &tok(&d, T0, &[&c]));
    // The error names the stored token whose par names the new jti: C.
    assert_eq!(
        reject(&v, &ledger, &tok(&y, T0, &[&d])),
        Error::Cycle(c.clone())
    );
    // A referenced Y whose ancestors do not lead back to it passes.
    let other = id(6);
    accept_ok(&v, &ledger, &tok(&other, T0, &[]));
    let acc = accept_ok(&v, &ledger, &tok(&y, T0, &[&other]));
    assert_eq!(parts(&acc.dag), outcome(&[&other], &[]));
}

#[test]
fn ect_dag_4_token_store_holding_descendants_of_the_new_token() {
    let (a, b, x) = (id(1), id(2), id(3));
    // The store holds A (par [X]) and B (par [A]), received from elsewhere.
    let store = store_of(&[&tok(&a, T0, &[&x]), &tok(&b, T0, &[&a])]);
    assert_eq!(referrers(&store, None, &x), vec![a.clone()]);
    for par in [&a, &b] {
        let new = with_parents(&x, T0, &[par]);
        assert_eq!(
            verify_in_err(DagValidator::new(), &sign(&new), &store),
            Error::Cycle(a.clone())
        );
        assert_eq!(
            DagValidator::partial().validate(&DRAFT_00, &claims_of(&new), &store),
            Err(Error::Cycle(a.clone()))
        );
    }
    // X without par, or with an unrelated parent, is fine although referenced.
    let root = tok(&id(4), T0, &[]);
    let store2 = store_of(&[&tok(&a, T0, &[&x]), &root]);
    let o = verify_in_ok(DagValidator::new(), &tok(&x, T0, &[&id(4)]), &store2);
    assert_eq!(parts(&o), outcome(&[&id(4)], &[]));
}

#[test]
fn ect_dag_4_planted_cycle_not_reaching_the_new_token_passes() {
    // A TokenStore can hold anything, including P -> Q -> P. ECT-DAG-4 is about the NEW
    // token: "following par links from the new token never reaches its own jti". A new token
    // N naming P reaches P and Q, never N, so the rule holds for N and the check passes. (The
    // planted cycle itself is a fault of the store; the whole-ledger audit reports it on its
    // members, see tests/api/ledger.rs.) The walk must also terminate on such a cycle.
    let (p, q, n) = (id(1), id(2), id(3));
    let store = store_of(&[&tok(&p, T0, &[&q]), &tok(&q, T0, &[&p])]);
    let new = with_parents(&n, T0 + 10, &[&p]);
    // No stored token names N: the walk is skipped.
    assert_eq!(referrers(&store, None, &n), Vec::<String>::new());
    let o = verify_in_ok(DagValidator::new(), &sign(&new), &store);
    assert_eq!(parts(&o), outcome(&[&p], &[]));
    // With a stored child R of N, the walk runs: it visits P and Q once each, does not loop,
    // and finds no link to N. Lookups: R, then the edges P -> Q and Q -> P.
    let r = id(4);
    let walked = store_of(&[
        &tok(&p, T0, &[&q]),
        &tok(&q, T0, &[&p]),
        &tok(&r, T0 + 10, &[&n]),
    ]);
    assert_eq!(referrers(&walked, None, &n), vec![r.clone()]);
    assert_eq!(
        dag(DagMode::Strict, 30, 3).validate(&DRAFT_00, &claims_of(&new), &walked),
        Ok(DagOutcome {
            verified_parents: vec![p.clone()],
            missing_parents: vec![],
        })
    );
    assert_eq!(
        dag(DagMode::Strict, 30, 2).validate(&DRAFT_00, &claims_of(&new), &walked),
        Err(Error::AncestorBudget(2))
    );
}

// ---------------------------------------------------------------------------------------------
// ECT-DAG-5: ancestor budget
// ---------------------------------------------------------------------------------------------

/// The length of the chains in the budget tests.
const K: usize = 5;

/// Accepts (partial mode) a chain C1 <- C2 <- ... <- CK where C1's par names the missing X.
/// Returns (ledger, chain jtis, X).
fn dangling_chain() -> (MemoryLedger, Vec<String>, String) {
    let ledger = MemoryLedger::new();
    let v = partial();
    let x = id(100);
    let chain: Vec<String> = (1..=K as u64).map(id).collect();
    for (i, c) in chain.iter().enumerate() {
        let parent = if i == 0 { &x } else { &chain[i - 1] };
        accept_ok(&v, &ledger, &tok(c, T0 + i as u64, &[parent]));
    }
    assert_eq!(referrers(&ledger, None, &x), [chain[0].clone()]);
    (ledger, chain, x)
}

#[test]
fn ect_dag_5_budget_exhausted_before_the_cycle_is_found() {
    let (ledger, chain, x) = dangling_chain();
    // X names CK. Lookups: X's stored child C1, then the edges CK -> C(K-1), ..., C2 -> C1,
    // and only the K-th edge, C1 -> X, closes the cycle: 1 + K in all.
    let token = tok(&x, T0 + 10, &[&chain[K - 1]]);
    let e = reject(&verifier_dag(dag(DagMode::Partial, 30, K)), &ledger, &token);
    assert_eq!(e, Error::AncestorBudget(K));
    assert_eq!(pair(&e), ("dag.budget", "ECT-DAG-5"));
    // The same in strict mode (all of X's parents exist).
    let e = reject(&verifier_dag(dag(DagMode::Strict, 30, 1)), &ledger, &token);
    assert_eq!(e, Error::AncestorBudget(1));
    // With budget K + 1 the walk reaches the edge C1 -> X: dag.cycle naming C1.
    let e = reject(
        &verifier_dag(dag(DagMode::Partial, 30, K + 1)),
        &ledger,
        &token,
    );
    assert_eq!(e, Error::Cycle(chain[0].clone()));
}

#[test]
fn ect_dag_5_referenced_token_not_closing_a_cycle() {
    let ledger = MemoryLedger::new();
    let v = partial();
    let x = id(100);
    // R names the missing X: X is referenced.
    accept_ok(&v, &ledger, &tok(&id(99), T0, &[&x]));
    // A plain chain D1 <- ... <- DK.
    let chain: Vec<String> = (1..=K as u64).map(id).collect();
    for (i, c) in chain.iter().enumerate() {
        let par: Vec<&str> = if i == 0 { vec![] } else { vec![&chain[i - 1]] };
        accept_ok(&v, &ledger, &tok(c, T0 + i as u64, &par));
    }
    let token = tok(&x, T0 + 10, &[&chain[K - 1]]);
    // Lookups: X's stored child R, then the K - 1 edges DK -> ... -> D1: K, not K - 1.
    assert_eq!(
        reject(
            &verifier_dag(dag(DagMode::Partial, 30, K - 1)),
            &ledger,
            &token
        ),
        Error::AncestorBudget(K - 1)
    );
    // Within budget it passes: no ancestor names X.
    let a = accept_ok(&verifier_dag(dag(DagMode::Partial, 30, K)), &ledger, &token);
    assert_eq!(parts(&a.dag), outcome(&[&chain[K - 1]], &[]));
}

#[test]
fn ect_dag_5_counts_every_edge_and_visits_each_ancestor_once() {
    // Diamond: L and R both name Root; N names L and R; C, stored, names N (so the walk
    // runs). Lookups: C, then R -> Root, then L -> Root (Root already visited, not walked
    // again, but the edge is counted): 3.
    let (root, l, r, n, c) = (id(1), id(2), id(3), id(4), id(5));
    let store = store_of(&[
        &tok(&root, T0, &[]),
        &tok(&l, T0, &[&root]),
        &tok(&r, T0, &[&root]),
        &tok(&c, T0, &[&n]),
    ]);
    let new = with_parents(&n, T0, &[&l, &r]);
    let o = dag(DagMode::Strict, 30, 3)
        .validate(&DRAFT_00, &claims_of(&new), &store)
        .unwrap();
    assert_eq!(parts(&o), outcome(&[&l, &r], &[]));
    assert_eq!(
        dag(DagMode::Strict, 30, 2).validate(&DRAFT_00, &claims_of(&new), &store),
        Err(Error::AncestorBudget(2))
    );
    // The parents' own lookups (ECT-DAG-2) are not counted: with budget 1 the stored child
    // fits, the first edge does not.
    assert_eq!(
        dag(DagMode::Strict, 30, 1).validate(&DRAFT_00, &claims_of(&new), &store),
        Err(Error::AncestorBudget(1))
    );
}

#[test]
fn ect_dag_5_long_plain_chain_beyond_budget_is_accepted() {
    // See ECT-DAG-4 in src/dag.rs: with no dangling reference to the new jti the walk cannot
    // return to it, so it is skipped and the budget does not limit the chain's length.
    const BUDGET: usize = 3;
    const LEN: usize = 12;
    let d = dag(DagMode::Strict, 30, BUDGET);
    let v = verifier_dag(d.clone());
    let ledger = MemoryLedger::new();
    let chain: Vec<String> = (1..=LEN as u64).map(id).collect();
    let tokens: Vec<String> = chain
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let par: Vec<&str> = if i == 0 { vec![] } else { vec![&chain[i - 1]] };
            tok(c, T0 + i as u64, &par)
        })
        .collect();
    for t in &tokens {
        accept_ok(&v, &ledger, t);
    }
    let tip = tok(&id(50), T0 + 20, &[&chain[LEN - 1]]);
    let a = accept_ok(&v, &ledger, &tip);
    assert_eq!(parts(&a.dag), outcome(&[&chain[LEN - 1]], &[]));
    assert_eq!(ledger.len(), LEN as u64 + 1);

    // The same through verify_in with a TokenStore (exact referrers): accepted.
    let refs: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let store = store_of(&refs);
    let o = verify_in_ok(d.clone(), &tip, &store);
    assert_eq!(parts(&o), outcome(&[&chain[LEN - 1]], &[]));
    // Only a stored child of the tip makes the walk run, and then the budget counts: the
    // child and the LEN - 1 edges of the chain, LEN lookups.
    let tip_claims = claims_of(&with_parents(&id(50), T0 + 20, &[&chain[LEN - 1]]));
    let mut with_child = refs.clone();
    let child = tok(&id(51), T0 + 20, &[&id(50)]);
    with_child.push(&child);
    let store = store_of(&with_child);
    assert_eq!(
        d.validate(&DRAFT_00, &tip_claims, &store),
        Err(Error::AncestorBudget(BUDGET))
    );
    assert_eq!(
        dag(DagMode::Strict, 30, LEN - 1).validate(&DRAFT_00, &tip_claims, &store),
        Err(Error::AncestorBudget(LEN - 1))
    );
    assert!(
        dag(DagMode::Strict, 30, LEN)
            .validate(&DRAFT_00, &tip_claims, &store)
            .is_ok()
    );
}

// ---------------------------------------------------------------------------------------------
// ECT-DAG-6: parent policy decision
// ---------------------------------------------------------------------------------------------

#[test]
fn ect_dag_6_parent_policy() {
    let ledger = MemoryLedger::new();
    let v = strict();
    let (approved, rejected, pending, none) = (id(1), id(2), id(3), id(4));
    let parents = [
        sign(&ect(&approved, T0).policy("spend-limit", PolicyDecision::Approved)),
        sign(&ect(&rejected, T0).policy("spend-limit", PolicyDecision::Rejected)),
        sign(&ect(&pending, T0).policy("spend-limit", PolicyDecision::PendingHumanReview)),
        tok(&none, T0, &[]),
    ];
    // A rejected or pending task is itself accepted: only dependents are refused.
    for t in &parents {
        accept_ok(&v, &ledger, t);
    }
    let e = reject(&v, &ledger, &tok(&id(10), T0 + 1, &[&rejected]));
    assert_eq!(
        e,
        Error::ParentPolicy {
            parent: rejected.clone(),
            decision: PolicyDecision::Rejected,
        }
    );
    assert_eq!(pair(&e), ("dag.parent_policy", "ECT-DAG-6"));
    assert_eq!(
        reject(&v, &ledger, &tok(&id(10), T0 + 1, &[&pending])),
        Error::ParentPolicy {
            parent: pending.clone(),
            decision: PolicyDecision::PendingHumanReview,
        }
    );
    // The first offending parent in par order.
    assert_eq!(
        reject(
            &v,
            &ledger,
            &tok(&id(10), T0 + 1, &[&approved, &pending, &rejected])
        ),
        Error::ParentPolicy {
            parent: pending.clone(),
            decision: PolicyDecision::PendingHumanReview,
        }
    );
    // Approved and absent decisions pass.
    let a = accept_ok(&v, &ledger, &tok(&id(10), T0 + 1, &[&approved, &none]));
    assert_eq!(parts(&a.dag), outcome(&[&approved, &none], &[]));

    // verify_in and validate.
    let refs: Vec<&str> = parents.iter().map(String::as_str).collect();
    let store = store_of(&refs);
    let b = with_parents(&id(11), T0 + 1, &[&none, &rejected]);
    let expected = Error::ParentPolicy {
        parent: rejected.clone(),
        decision: PolicyDecision::Rejected,
    };
    assert_eq!(
        verify_in_err(DagValidator::new(), &sign(&b), &store),
        expected
    );
    assert_eq!(
        DagValidator::partial().validate(&DRAFT_00, &claims_of(&b), &store),
        Err(expected)
    );
    let b = with_parents(&id(11), T0 + 1, &[&none, &approved]);
    let o = verify_in_ok(DagValidator::new(), &sign(&b), &store);
    assert_eq!(parts(&o), outcome(&[&none, &approved], &[]));
}

// ---------------------------------------------------------------------------------------------
// Order of checks
// ---------------------------------------------------------------------------------------------

#[test]
fn order_dag_1_before_dag_2() {
    let ledger = MemoryLedger::new();
    let v = strict();
    accept_ok(&v, &ledger, &tok(&id(1), T0, &[]));
    assert_eq!(
        reject(&v, &ledger, &tok(&id(1), T0 + 1, &[&id(2)])),
        Error::DuplicateJti(id(1))
    );
}

#[test]
fn order_dag_2_before_dag_3() {
    let c = NOW - 200;
    let late = id(1);
    let missing = id(2);
    let ledger = MemoryLedger::new();
    accept_ok(&strict(), &ledger, &tok(&late, c + 31, &[]));
    // par = [late parent (DAG-3), missing parent (DAG-2)]: rule-major order, DAG-2 first.
    let child = tok(&id(9), c, &[&late, &missing]);
    assert_eq!(
        reject(&strict(), &ledger, &child),
        Error::ParentMissing(missing.clone())
    );
    // In partial mode the missing parent is no error, so DAG-3 is reported.
    let expected = Error::TemporalOrder {
        parent: late.clone(),
        parent_iat: c + 31,
        child_iat: c,
    };
    assert_eq!(reject(&partial(), &ledger, &child), expected);
}

#[test]
fn order_dag_3_before_dag_6() {
    let c = NOW - 200;
    let ledger = MemoryLedger::new();
    let v = strict();
    accept_ok(
        &v,
        &ledger,
        &sign(&ect(&id(1), c).policy("p", PolicyDecision::Rejected)),
    );
    accept_ok(&v, &ledger, &tok(&id(2), c + 31, &[]));
    // par = [rejected parent (DAG-6), late parent (DAG-3)]: DAG-3 first.
    assert_eq!(
        reject(&v, &ledger, &tok(&id(9), c, &[&id(1), &id(2)])),
        Error::TemporalOrder {
            parent: id(2),
            parent_iat: c + 31,
            child_iat: c,
        }
    );
}

#[test]
fn order_dag_3_before_dag_4_and_dag_4_before_dag_6() {
    let ledger = MemoryLedger::new();
    let v = partial();
    let (a, x) = (id(1), id(2));
    // A: rejected policy, names the missing X, issued late.
    accept_ok(
        &v,
        &ledger,
        &sign(
            &ect(&a, NOW - 100)
                .parent(&x)
                .policy("p", PolicyDecision::Rejected),
        ),
    );
    // X naming A closes a cycle, and A is rejected: DAG-4 before DAG-6.
    assert_eq!(
        reject(&v, &ledger, &tok(&x, NOW - 100, &[&a])),
        Error::Cycle(a.clone())
    );
    // Issued more than skew before A as well: DAG-3 before DAG-4.
    assert_eq!(
        reject(&v, &ledger, &tok(&x, NOW - 200, &[&a])),
        Error::TemporalOrder {
            parent: a.clone(),
            parent_iat: NOW - 100,
            child_iat: NOW - 200,
        }
    );
}

#[test]
fn order_dag_5_before_dag_6() {
    let (ledger, chain, x) = dangling_chain();
    let v = partial();
    let rejected = id(50);
    accept_ok(
        &v,
        &ledger,
        &sign(&ect(&rejected, T0).policy("p", PolicyDecision::Rejected)),
    );
    let token = tok(&x, T0 + 10, &[&rejected, &chain[K - 1]]);
    assert_eq!(
        reject(&verifier_dag(dag(DagMode::Partial, 30, 2)), &ledger, &token),
        Error::AncestorBudget(2)
    );
}

#[test]
fn order_token_rules_before_dag_and_dag_before_replay() {
    let ledger = MemoryLedger::new();
    let v = strict();
    accept_ok(&v, &ledger, &tok(&id(1), T0, &[]));
    // Expired and naming a missing parent: ECT-TIME-2 (§6 runs before §7).
    let expired = tok(&id(2), NOW - 700, &[&id(99)]);
    assert_eq!(
        pair(&reject(&v, &ledger, &expired)),
        ("time.expired", "ECT-TIME-2")
    );
    // Wrong audience and a duplicate jti: ECT-AUD-1.
    let other_aud = sign(&ect(&id(1), T0 + 1).audience("spiffe://example.org/other"));
    assert_eq!(
        pair(&reject(&v, &ledger, &other_aud)),
        ("aud.mismatch", "ECT-AUD-1")
    );
    // A token already seen by the same verifier (its replay cache holds it) and naming a
    // missing parent: DAG-2, because ECT-RPL-1 runs last.
    let seen = tok(&id(3), T0, &[&id(98)]);
    let cache = Arc::new(MemoryReplayCache::new());
    let shared = partial().with_replay_cache(cache.clone());
    shared.verify(&seen, NOW).unwrap();
    let strict_shared = strict().with_replay_cache(cache.clone());
    assert_eq!(
        reject(&strict_shared, &ledger, &seen),
        Error::ParentMissing(id(98))
    );
    // Once DAG passes, the replay is reported.
    assert_eq!(
        pair(&reject(&shared, &ledger, &seen)),
        ("replay.jti", "ECT-RPL-1")
    );
    assert_eq!(cache.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Late parents (SPEC.md §7, "Late parents"): a token that a stored child already names
// ---------------------------------------------------------------------------------------------

/// The whole-ledger audit of `ledger` under `v`'s policy (with its keys) finds nothing.
fn audits_clean(v: &Verifier, ledger: &MemoryLedger) {
    let report = ledger.validate_all(v.policy(), Some(v.keys() as &dyn KeyResolver));
    assert_eq!(report.findings, vec![]);
}

#[test]
fn ect_dag_6_late_parent_with_a_blocking_decision_is_refused() {
    for decision in [PolicyDecision::Rejected, PolicyDecision::PendingHumanReview] {
        let ledger = MemoryLedger::new();
        let v = partial();
        let (p, c, d) = (id(1), id(2), id(3));
        // C and D name P, which is missing: accepted in partial mode.
        accept_ok(&v, &ledger, &tok(&c, T0, &[&p]));
        accept_ok(&v, &ledger, &tok(&d, T0, &[&p]));
        // P arrives with a decision that allows no dependent task: it already has two.
        let late = sign(&ect(&p, T0).policy("spend-limit", decision));
        let e = reject(&v, &ledger, &late);
        assert_eq!(pair(&e), ("dag.parent_policy", "ECT-DAG-6"));
        // The error names the first stored child (in the order stored).
        assert_eq!(
            e,
            Error::LateParentPolicy {
                child: c.clone(),
                decision,
            }
        );
        assert_eq!(
            e.message(),
            format!(
                "this token has pol_decision {:?}, which allows no dependent task, and the stored token {c:?} already names it as a parent",
                decision.as_str()
            )
        );
        audits_clean(&v, &ledger);
        // An approved P is accepted, and the ledger still audits clean.
        let ok = sign(&ect(&p, T0).policy("spend-limit", PolicyDecision::Approved));
        accept_ok(&v, &ledger, &ok);
        audits_clean(&v, &ledger);
    }
}

#[test]
fn ect_dag_6_late_parent_in_a_token_store() {
    // A store filled from elsewhere (strict mode): C names P, and P arrives rejected.
    let (p, c) = (id(1), id(2));
    let store = store_of(&[&tok(&c, T0, &[&p])]);
    let late = sign(&ect(&p, T0).policy("spend-limit", PolicyDecision::Rejected));
    for mode in [DagMode::Strict, DagMode::Partial] {
        let e = verify_in_err(dag(mode, 30, 10_000), &late, &store);
        assert_eq!(pair(&e), ("dag.parent_policy", "ECT-DAG-6"));
        assert_eq!(
            e,
            Error::LateParentPolicy {
                child: c.clone(),
                decision: PolicyDecision::Rejected,
            }
        );
    }
}

#[test]
fn ect_dag_3_late_parent_issued_after_its_stored_child_is_refused() {
    let c_iat = NOW - 200;
    let (p, c) = (id(1), id(2));
    for skew in [30, 0] {
        let ledger = MemoryLedger::new();
        let v = verifier_dag(dag(DagMode::Partial, skew, 10_000));
        accept_ok(&v, &ledger, &tok(&c, c_iat, &[&p]));
        // P.iat = C.iat + skew + 1: the same rule as for a parent present first.
        let e = reject(&v, &ledger, &tok(&p, c_iat + skew + 1, &[]));
        assert_eq!(pair(&e), ("dag.temporal_order", "ECT-DAG-3"));
        assert_eq!(
            e,
            Error::LateParentTemporalOrder {
                child: c.clone(),
                parent_iat: c_iat + skew + 1,
                child_iat: c_iat,
            }
        );
        assert!(e.to_string().contains(&c), "{e}");
        audits_clean(&v, &ledger);
        // At the boundary, P.iat = C.iat + skew, it is accepted.
        accept_ok(&v, &ledger, &tok(&p, c_iat + skew, &[]));
        audits_clean(&v, &ledger);
    }
}

#[test]
fn ect_dag_4_late_parent_closing_a_cycle_through_its_descendants_is_refused() {
    let ledger = MemoryLedger::new();
    let v = partial();
    let (p, c, d, e2, root) = (id(1), id(2), id(3), id(4), id(5));
    // C names the missing P; D names C; E names D.
    accept_ok(&v, &ledger, &tok(&c, T0, &[&p]));
    accept_ok(&v, &ledger, &tok(&d, T0, &[&c]));
    accept_ok(&v, &ledger, &tok(&e2, T0, &[&d]));
    accept_ok(&v, &ledger, &tok(&root, T0, &[]));
    // P naming E (or D, or C) would close P -> E -> D -> C -> P.
    for via in [&e2, &d, &c] {
        let err = reject(&v, &ledger, &tok(&p, T0, &[&root, via]));
        assert_eq!(pair(&err), ("dag.cycle", "ECT-DAG-4"));
        // The error names the stored child of P on the cycle.
        assert_eq!(err, Error::Cycle(c.clone()));
        audits_clean(&v, &ledger);
    }
    // P naming only the unrelated root is accepted.
    accept_ok(&v, &ledger, &tok(&p, T0, &[&root]));
    audits_clean(&v, &ledger);
}

#[test]
fn ect_dag_5_budget_counts_every_edge_of_the_walk() {
    // One stored ancestor with five parents, none of which is stored: the walk visits a
    // single token but makes five lookups, plus one for the stored child of X.
    let ms: Vec<String> = (10..15).map(id).collect();
    let m: Vec<&str> = ms.iter().map(String::as_str).collect();
    let (a, c, x) = (id(1), id(2), id(3));
    let build = |budget: usize| {
        let ledger = MemoryLedger::new();
        let v = verifier_dag(dag(DagMode::Partial, 30, budget));
        accept_ok(&v, &ledger, &tok(&a, T0, &m));
        accept_ok(&v, &ledger, &tok(&c, T0, &[&x]));
        (ledger, v)
    };
    let token = tok(&x, T0, &[&a]);
    let (ledger, v) = build(5);
    let e = reject(&v, &ledger, &token);
    assert_eq!(pair(&e), ("dag.budget", "ECT-DAG-5"));
    assert_eq!(e, Error::AncestorBudget(5));
    // Exactly at the budget: 1 child + 5 edges = 6 lookups.
    let (ledger, v) = build(6);
    accept_ok(&v, &ledger, &token);
    audits_clean(&v, &ledger);
}

#[test]
fn ect_dag_5_budget_counts_every_stored_child() {
    // Four stored tokens name the missing X; X arrives as a root. Examining its four
    // children costs four lookups.
    let x = id(1);
    let build = |budget: usize| {
        let ledger = MemoryLedger::new();
        let v = verifier_dag(dag(DagMode::Partial, 30, budget));
        for c in 2..6 {
            accept_ok(&v, &ledger, &tok(&id(c), T0, &[&x]));
        }
        (ledger, v)
    };
    let token = tok(&x, T0, &[]);
    let (ledger, v) = build(3);
    assert_eq!(reject(&v, &ledger, &token), Error::AncestorBudget(3));
    let (ledger, v) = build(4);
    accept_ok(&v, &ledger, &token);
    audits_clean(&v, &ledger);
}

#[test]
fn order_late_parent_checks() {
    let c_iat = NOW - 300;
    let (p, c, late_parent, rejected) = (id(1), id(2), id(3), id(4));
    let v = partial();
    let ledger = MemoryLedger::new();
    // C names the missing P; D names C. Present: a parent issued late, a rejected parent.
    accept_ok(&v, &ledger, &tok(&c, c_iat, &[&p]));
    accept_ok(&v, &ledger, &tok(&id(5), c_iat, &[&c]));
    accept_ok(&v, &ledger, &tok(&late_parent, c_iat + 200, &[]));
    accept_ok(
        &v,
        &ledger,
        &sign(&ect(&rejected, c_iat).policy("p", PolicyDecision::Rejected)),
    );
    let p_with = |iat: u64, par: &[&str], decision: Option<PolicyDecision>| {
        let b = with_parents(&p, iat, par);
        sign(&match decision {
            Some(d) => b.policy("p", d),
            None => b,
        })
    };
    let all = Some(PolicyDecision::Rejected);
    // DAG-3 for the parents comes before DAG-3 for the stored children.
    assert_eq!(
        reject(&v, &ledger, &p_with(c_iat + 31, &[&late_parent], all)),
        Error::TemporalOrder {
            parent: late_parent.clone(),
            parent_iat: c_iat + 200,
            child_iat: c_iat + 31,
        }
    );
    // DAG-3 for the children before DAG-4 (P naming D closes a cycle) and DAG-6.
    assert_eq!(
        reject(&v, &ledger, &p_with(c_iat + 31, &[&id(5), &rejected], all)),
        Error::LateParentTemporalOrder {
            child: c.clone(),
            parent_iat: c_iat + 31,
            child_iat: c_iat,
        }
    );
    // DAG-4 before DAG-6 for the parents and for the children.
    assert_eq!(
        reject(&v, &ledger, &p_with(c_iat, &[&rejected, &id(5)], all)),
        Error::Cycle(c.clone())
    );
    // DAG-6 for the parents before DAG-6 for the children.
    assert_eq!(
        reject(&v, &ledger, &p_with(c_iat, &[&rejected], all)),
        Error::ParentPolicy {
            parent: rejected.clone(),
            decision: PolicyDecision::Rejected,
        }
    );
    assert_eq!(
        reject(&v, &ledger, &p_with(c_iat, &[], all)),
        Error::LateParentPolicy {
            child: c.clone(),
            decision: PolicyDecision::Rejected,
        }
    );
    audits_clean(&v, &ledger);
    accept_ok(&v, &ledger, &p_with(c_iat, &[], None));
    audits_clean(&v, &ledger);
}

#[test]
fn order_late_parent_too_many_children_after_dag_3() {
    // Three stored children name X, budget 2: DAG-3 is checked on the first two (oldest
    // first), then the third one is over the budget (ECT-DAG-5).
    let x = id(1);
    let ledger = MemoryLedger::new();
    let v = verifier_dag(dag(DagMode::Partial, 30, 2));
    accept_ok(&v, &ledger, &tok(&id(2), T0 + 40, &[&x]));
    accept_ok(&v, &ledger, &tok(&id(3), T0, &[&x]));
    accept_ok(&v, &ledger, &tok(&id(4), T0 - 100, &[&x]));
    // X at T0 + 31: too late for the second child.
    assert_eq!(
        reject(&v, &ledger, &tok(&x, T0 + 31, &[])),
        Error::LateParentTemporalOrder {
            child: id(3),
            parent_iat: T0 + 31,
            child_iat: T0,
        }
    );
    // X at T0: fine for the first two; the third is beyond the budget, although X is also
    // too late for it.
    assert_eq!(
        reject(&v, &ledger, &tok(&x, T0, &[])),
        Error::AncestorBudget(2)
    );
    audits_clean(&v, &ledger);
}
