//! `Verifier::verify_batch` and `Verifier::accept_batch` give exactly the results of
//! `verify`/`accept` called on each token in turn, for valid workflows and for every mutation
//! (one broken rule each), on one thread and on several, in either profile (the generated
//! workflow's; a mutation that does not apply in it moves the workflow to one it applies in).

use proptest::prelude::*;
use proptest::sample::select;
use wimse_ect::{KeySet, MemoryLedger, Verifier};
use wimse_ect_conformance::testing::{Mutation, Workflow, valid_workflow};

use crate::config;

/// A fresh verifier for `wf` (its own replay cache), or `None` when the key set is refused
/// (ECT-KEY-3 mutations: nothing to verify).
fn verifier(wf: &Workflow) -> Option<Verifier> {
    let jwks = serde_json::to_vec(&wf.jwks).expect("serializes");
    let keys = KeySet::from_jwks_json(&jwks).ok()?;
    Some(Verifier::new(keys, wf.policy.clone()).expect("generated policies are valid"))
}

/// The workflow's steps as runs of consecutive steps sharing one `now`: a batch has one `now`.
fn batches(wf: &Workflow) -> Vec<(u64, Vec<&str>)> {
    let mut out: Vec<(u64, Vec<&str>)> = Vec::new();
    for step in &wf.steps {
        match out.last_mut() {
            Some((now, tokens)) if *now == step.now => tokens.push(&step.token),
            _ => out.push((step.now, vec![&step.token])),
        }
    }
    out
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool")
}

/// Every step of `wf` through `accept_batch` (on `threads` threads) and through `accept` one by
/// one, each into its own ledger with its own replay cache: the same results and the same
/// ledger lines. Every step is presented, also after a rejection.
fn accept_batch_agrees(wf: &Workflow, threads: usize) -> Result<(), TestCaseError> {
    let (Some(batch_verifier), Some(one_verifier)) = (verifier(wf), verifier(wf)) else {
        return Ok(());
    };
    let profile = wf.policy.profile;
    let (batch_ledger, one_ledger) = (
        MemoryLedger::with_profile(profile),
        MemoryLedger::with_profile(profile),
    );
    for (now, tokens) in batches(wf) {
        let got =
            pool(threads).install(|| batch_verifier.accept_batch(&tokens, now, &batch_ledger));
        let want: Vec<_> = tokens
            .iter()
            .map(|t| one_verifier.accept(t, now, &one_ledger))
            .collect();
        prop_assert_eq!(got, want);
    }
    let lines = |l: &MemoryLedger| l.entries().iter().map(|e| e.to_line()).collect::<Vec<_>>();
    prop_assert_eq!(lines(&batch_ledger), lines(&one_ledger));
    Ok(())
}

/// The same for `verify_batch` against `verify` (replay cache on, no ledger).
fn verify_batch_agrees(wf: &Workflow, threads: usize) -> Result<(), TestCaseError> {
    let (Some(batch_verifier), Some(one_verifier)) = (verifier(wf), verifier(wf)) else {
        return Ok(());
    };
    for (now, tokens) in batches(wf) {
        let got = pool(threads).install(|| batch_verifier.verify_batch(&tokens, now));
        let want: Vec<_> = tokens.iter().map(|t| one_verifier.verify(t, now)).collect();
        prop_assert_eq!(got, want);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(24))]

    #[test]
    fn accept_batch_is_accept_in_order(wf in valid_workflow(), threads in 1usize..=3) {
        accept_batch_agrees(&wf, threads)?;
    }

    #[test]
    fn accept_batch_is_accept_in_order_for_every_mutation(
        wf in valid_workflow(),
        m in select(Mutation::ALL),
        seed in any::<u64>(),
        threads in 1usize..=3,
    ) {
        accept_batch_agrees(&m.apply(&wf, seed).workflow, threads)?;
    }

    #[test]
    fn verify_batch_is_verify_in_order(
        wf in valid_workflow(),
        m in select(Mutation::ALL),
        seed in any::<u64>(),
        threads in 1usize..=3,
    ) {
        verify_batch_agrees(&wf, threads)?;
        verify_batch_agrees(&m.apply(&wf, seed).workflow, threads)?;
    }
}

/// A token repeated within one batch is accepted at its first position only: ECT-RPL-1 runs
/// in input order after the parallel part.
#[test]
fn verify_batch_replay_within_a_batch() {
    let wf = proptest::strategy::ValueTree::current(
        &valid_workflow()
            .new_tree(&mut proptest::test_runner::TestRunner::deterministic())
            .expect("a workflow"),
    );
    let v = verifier(&wf).expect("valid key set");
    let step = &wf.steps[0];
    let tokens = [
        step.token.as_str(),
        step.token.as_str(),
        step.token.as_str(),
    ];
    let got: Vec<Result<(), &str>> = pool(2)
        .install(|| v.verify_batch(&tokens, step.now))
        .into_iter()
        .map(|r| r.map(|_| ()).map_err(|e| e.code()))
        .collect();
    assert_eq!(got, vec![Ok(()), Err("replay.jti"), Err("replay.jti")]);
}
