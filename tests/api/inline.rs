//! `Verifier::verify_inline` and `Verifier::accept_inline`: a request's own token with its
//! parents inline (SPEC.md §9, the vectors' inline convention), without HTTP.

use std::sync::Arc;

use wimse_ect::{DagOutcome, EctBuilder, Error, MemoryLedger, MemoryReplayCache, Policy, Verifier};

use crate::common::{AUD, ISS_A, ISS_B, NOW, key_a, key_b, trusted_keys};

const WID: &str = "3f1c6a2e-8d4b-4e7a-9c1f-2b5d8e0a7c64";

fn jti(n: u32) -> String {
    format!("6ba7b810-9dad-11d1-80b4-{n:012x}")
}

fn token(n: u32, parents: &[u32], iat: u64) -> String {
    let mut b = EctBuilder::new(if parents.is_empty() { ISS_A } else { ISS_B }, "step")
        .audience(AUD)
        .wid(WID)
        .jti(jti(n))
        .issued_at(iat)
        .expires_at(iat + 600);
    for p in parents {
        b = b.parent(jti(*p));
    }
    let key = if parents.is_empty() { key_a() } else { key_b() };
    b.sign(&key).unwrap()
}

fn verifier_and_cache(policy: Policy) -> (Verifier, Arc<MemoryReplayCache>) {
    let cache = Arc::new(MemoryReplayCache::new());
    let v = Verifier::new(trusted_keys(), policy)
        .unwrap()
        .with_replay_cache(cache.clone());
    (v, cache)
}

#[test]
fn no_token_is_http_missing_and_too_many_parents_is_malformed_before_any_check() {
    let (v, _) = verifier_and_cache(Policy::new(AUD));
    let none: [&str; 0] = [];
    assert_eq!(v.verify_inline(&none, NOW), Err(Error::HttpMissing));
    let ledger = MemoryLedger::new();
    assert_eq!(
        v.accept_inline(&none, NOW, &ledger),
        Err(Error::HttpMissing)
    );

    let mut policy = Policy::new(AUD);
    policy.max_par = 2;
    let (v, _) = verifier_and_cache(policy);
    // Not even tokens: the count is refused before anything is decoded.
    let tokens = ["a.b.c", "d.e.f", "g.h.i", "j.k.l"];
    let expected = Err(Error::HttpMalformed(
        "3 inline parent tokens, more than max_par (2) a token may name".into(),
    ));
    assert_eq!(v.verify_inline(&tokens, NOW), expected);
    assert_eq!(v.accept_inline(&tokens, NOW, &ledger), expected);
    assert_eq!(
        v.verify_inline(&tokens[..3], NOW).unwrap_err().code(),
        "jws.base64"
    );
}

#[test]
fn verify_inline_checks_the_dag_against_the_parents_and_records_only_the_own_token() {
    let (v, cache) = verifier_and_cache(Policy::new(AUD));
    let root = token(1, &[], NOW - 5);
    let own = token(2, &[1], NOW);
    // A parent given twice counts once.
    let verified = v.verify_inline(&[&own, &root, &root], NOW).unwrap();
    assert_eq!(verified.claims().jti, jti(2));
    assert_eq!(verified.parents().len(), 1);
    assert_eq!(verified.parents()[0].token(), root);
    assert_eq!(
        verified.dag(),
        &DagOutcome {
            verified_parents: vec![jti(1)],
            missing_parents: vec![],
        }
    );
    assert_eq!(verified.entry(), None);
    assert_eq!(cache.len(), 1);
    // The parent was not recorded: it can be presented as a request of its own.
    assert_eq!(v.verify_inline(&[&root], NOW).unwrap().claims().jti, jti(1));
    // A bad parent refuses the request, and nothing is recorded.
    let orphan = token(3, &[9], NOW);
    let expired = token(9, &[], NOW - 800);
    assert_eq!(
        v.verify_inline(&[&orphan, &expired], NOW),
        Err(Error::Expired)
    );
    assert_eq!(cache.len(), 2);

    // The child token a handler builds names the request's task, in its workflow.
    let child = verified
        .child(ISS_A, "next")
        .audience(AUD)
        .issued_at(NOW)
        .expires_at(NOW + 60)
        .build()
        .unwrap();
    assert_eq!(child.par, [jti(2)]);
    assert!(wimse_ect::is_uuid(&child.jti) && child.jti != jti(2));
    assert_eq!(child.wid.as_deref(), Some(WID));
    assert_eq!(verified.inline_parents(), [own.as_str()]);
    #[cfg(feature = "http")]
    {
        let mut request = http::Request::new(());
        verified.attach_child(&mut request, "c.h.ild").unwrap();
        let lines: Vec<&str> = request
            .headers()
            .get_all("execution-context")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(lines, ["c.h.ild", own.as_str()]);
    }
}

#[test]
fn accept_inline_appends_the_new_parents_then_the_token() {
    let (v, cache) = verifier_and_cache(Policy::new(AUD));
    let ledger = MemoryLedger::new();
    let root = token(1, &[], NOW - 5);
    let child = token(2, &[1], NOW);
    let sibling = token(3, &[1], NOW);
    let accepted = v.accept_inline(&[&child, &root], NOW, &ledger).unwrap();
    assert_eq!(accepted.entry().map(|e| e.seq()), Some(1));
    // The parent is held now: sent again inline, it is not appended twice.
    let accepted = v.accept_inline(&[&sibling, &root], NOW, &ledger).unwrap();
    assert_eq!(accepted.entry().map(|e| e.seq()), Some(2));
    let held: Vec<String> = ledger
        .entries()
        .iter()
        .map(|e| e.ect().token().to_owned())
        .collect();
    assert_eq!(held, [root.clone(), child, sibling]);
    assert_eq!(cache.len(), 3);
    ledger.verify_chain().unwrap();

    // Another token under a held parent's jti is a duplicate, and nothing changes.
    let forged_root = token(1, &[], NOW - 4);
    let nephew = token(4, &[1], NOW);
    let head = ledger.head();
    assert_eq!(
        v.accept_inline(&[&nephew, &forged_root], NOW, &ledger),
        Err(Error::DuplicateJti(jti(1)))
    );
    assert_eq!((ledger.len(), ledger.head(), cache.len()), (3, head, 3));
}

/// A request refused by a DAG rule writes nothing: not even its new parents, which passed.
#[test]
fn accept_inline_refused_by_a_dag_rule_appends_no_parent() {
    let (v, cache) = verifier_and_cache(Policy::new(AUD));
    let ledger = MemoryLedger::new();
    let root = token(1, &[], NOW);
    // Issued more than the skew (30 s) before its parent: ECT-DAG-3.
    let early = token(2, &[1], NOW - 31);
    assert_eq!(
        v.accept_inline(&[&early, &root], NOW, &ledger),
        Err(Error::TemporalOrder {
            parent: jti(1),
            parent_iat: NOW,
            child_iat: NOW - 31,
        })
    );
    assert_eq!((ledger.len(), cache.len()), (0, 0));
    // A missing grandparent in strict mode refuses the parent, before anything is written.
    let parent = token(5, &[4], NOW);
    let own = token(6, &[5], NOW);
    assert_eq!(
        v.accept_inline(&[&own, &parent], NOW, &ledger),
        Err(Error::ParentMissing(jti(4)))
    );
    assert_eq!((ledger.len(), cache.len()), (0, 0));
}

/// In strict mode a ledger holds every ancestor: a grandparent the ledger lacks must come
/// inline too, and the new parents are appended parents first, whatever the field's order.
#[test]
fn accept_inline_appends_inline_ancestors_parents_first() {
    let (v, cache) = verifier_and_cache(Policy::new(AUD));
    let ledger = MemoryLedger::new();
    let grandparent = token(1, &[], NOW - 10);
    let parent = token(2, &[1], NOW - 5);
    let own = token(3, &[2], NOW);
    // Without the grandparent the parent cannot go into a strict ledger: nothing is written.
    assert_eq!(
        v.accept_inline(&[&own, &parent], NOW, &ledger),
        Err(Error::ParentMissing(jti(1)))
    );
    assert_eq!((ledger.len(), cache.len()), (0, 0));
    // With it, listed after the parent that names it.
    let accepted = v
        .accept_inline(&[&own, &parent, &grandparent], NOW, &ledger)
        .unwrap();
    assert_eq!(accepted.verified_parents(), [jti(2)]);
    let held: Vec<String> = ledger
        .entries()
        .iter()
        .map(|e| e.ect().token().to_owned())
        .collect();
    assert_eq!(held, [grandparent, parent, own]);
    ledger.verify_chain().unwrap();
}
