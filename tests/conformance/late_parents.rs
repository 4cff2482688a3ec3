//! SPEC.md §7, "Late parents": a store built by accepting tokens one at a time, in any mode,
//! never holds a state that the whole-store audit rejects.
//!
//! Over workflows with missing and late parents (`workflow_with_late_parents`: tokens
//! presented before their parents, parents that never come, late parents that would break
//! ECT-DAG-3, -4 or -6 against children presented earlier), in strict and in partial mode,
//! through a memory ledger, a file ledger (closed and reopened before the audit) and a
//! `TokenStore` accumulating what `verify_in` accepted: every step is presented, refused or
//! not, and
//! * the audit of what was accepted, under the same policy and keys, finds nothing;
//! * every refusal left the store (length, head, file bytes) and the replay cache unchanged;
//! * the three deliveries give every step the same verdict, and so does the independent model
//!   (`wimse_ect_conformance::model::ModelLedger`), code for code.
//!
//! In both profiles (SPEC.md §10): each case is a pair of workflows, one per profile (12 pairs
//! by default, the 24 workflows of before `draft-01`). The workflows cross workflows too
//! (late parents presented under another `wid`, parents naming a task of another
//! workflow), so in `draft-01` ECT-P01-5 (`dag.workflow_mismatch`) refuses tokens in both
//! directions, and the audit, under the same profile, must still find nothing.

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use wimse_ect::{DRAFT_00, DRAFT_01, DagMode, Error, Policy};
use wimse_ect_conformance::model::{ModelLedger, ModelSettings, keys_from_jwks};
use wimse_ect_conformance::testing::{
    Delivery, LedgerKind, Workflow, workflow_with_late_parents_in,
};
use wimse_ect_conformance::vector::ProfileName;

use crate::config;

/// The model's settings for `policy` at `now`.
fn model_settings(policy: &Policy, now: u64) -> ModelSettings {
    let mut s = ModelSettings::defaults(now, &policy.audience);
    s.leeway = policy.leeway_seconds;
    s.max_iat_age = policy.max_iat_age_seconds;
    s.max_par = policy.max_par;
    s.max_token_bytes = policy.max_token_bytes;
    s.skew = policy.dag.skew_seconds;
    s.ancestor_budget = policy.dag.ancestor_budget;
    s.partial = policy.dag.mode == DagMode::Partial;
    s.profile = ProfileName::parse(policy.profile.name).expect("a known profile");
    s
}

/// Each step's verdict through the model ledger: `Ok` or the code.
fn model_verdicts(wf: &Workflow) -> Vec<Result<(), &'static str>> {
    let keys = keys_from_jwks(&wf.jwks).expect("the workflow's key set");
    let mut ledger = ModelLedger::new();
    wf.steps
        .iter()
        .map(|step| {
            ledger.accept(
                step.token.as_bytes(),
                &keys,
                &model_settings(&wf.policy, step.now),
            )
        })
        .collect()
}

/// Runs `wf` in `mode` through every delivery and checks the invariant; returns the codes of
/// the refusals (for the generator's coverage test).
fn check(mut wf: Workflow, mode: DagMode) -> Result<Vec<Error>, TestCaseError> {
    wf.policy.dag.mode = mode;
    let want = model_verdicts(&wf);
    let mut refusals = Vec::new();
    for delivery in [
        Delivery::Ledger(LedgerKind::Memory),
        Delivery::Ledger(LedgerKind::File),
        Delivery::Store,
    ] {
        wf.delivery = delivery;
        let report = wf
            .run_each()
            .map_err(|e| TestCaseError::fail(format!("harness error: {e}")))?;
        prop_assert_eq!(
            &report.audit.findings,
            &Vec::new(),
            "{:?}, {:?}: what was accepted one token at a time fails the audit",
            mode,
            delivery
        );
        prop_assert_eq!(
            &report.changed,
            &Vec::new(),
            "{:?}: a refusal changed the state",
            delivery
        );
        let got: Vec<Result<(), &'static str>> = report
            .results
            .iter()
            .map(|r| r.as_ref().map(|_| ()).map_err(|e| e.code()))
            .collect();
        prop_assert_eq!(
            &got,
            &want,
            "{:?}, {:?}: verifier (left) and model (right)",
            mode,
            delivery
        );
        let accepted = got.iter().filter(|r| r.is_ok()).count() as u64;
        prop_assert_eq!(report.audit.entries, accepted);
        if delivery == Delivery::Store {
            refusals.extend(report.results.into_iter().filter_map(Result::err));
        }
    }
    Ok(refusals)
}

proptest! {
    #![proptest_config(config(12))]

    #[test]
    fn ect_dag_late_parents_keep_the_ledger_auditable(
        wf00 in workflow_with_late_parents_in(DRAFT_00),
        wf01 in workflow_with_late_parents_in(DRAFT_01),
    ) {
        for wf in [wf00, wf01] {
            check(wf.clone(), DagMode::Partial)?;
            check(wf, DagMode::Strict)?;
        }
    }
}

/// The generator does produce what the property is about: in partial mode, over a fixed
/// sample of each profile, late parents refused for each of ECT-DAG-3, -4 and -6 against their
/// stored children, and tokens accepted with missing parents; in `draft-01`, tokens refused by
/// ECT-P01-5 in both directions, in partial and in strict mode.
#[test]
fn late_parent_workflows_exercise_every_reverse_rule() {
    for profile in [DRAFT_00, DRAFT_01] {
        exercised_in(profile);
    }
}

fn exercised_in(profile: wimse_ect::Profile) {
    let mut runner = TestRunner::deterministic();
    let strategy = workflow_with_late_parents_in(profile);
    let mut seen = BTreeSet::new();
    for _ in 0..40 {
        let wf = strategy.new_tree(&mut runner).expect("a value").current();
        assert_eq!(wf.policy.profile, profile);
        let strict = check(wf.clone(), DagMode::Strict).expect("the invariant holds");
        for e in strict {
            if let Error::WorkflowMismatch { .. } = e {
                seen.insert("strict P01-5");
            }
        }
        let refusals = check(wf.clone(), DagMode::Partial).expect("the invariant holds");
        for e in refusals {
            seen.insert(match e {
                Error::LateParentTemporalOrder { .. } => "late DAG-3",
                Error::Cycle(_) => "DAG-4",
                Error::LateParentPolicy { .. } => "late DAG-6",
                Error::WorkflowMismatch { .. } => "P01-5",
                Error::LateWorkflowMismatch { .. } => "late P01-5",
                _ => "other",
            });
        }
        let mut wf = wf;
        wf.policy.dag.mode = DagMode::Partial;
        wf.delivery = Delivery::Ledger(LedgerKind::Memory);
        let report = wf.run_each().expect("runs");
        if report
            .results
            .iter()
            .any(|r| r.as_ref().is_ok_and(|o| !o.missing_parents.is_empty()))
        {
            seen.insert("missing parent accepted");
        }
    }
    let mut expected = vec![
        "late DAG-3",
        "DAG-4",
        "late DAG-6",
        "missing parent accepted",
    ];
    if profile.workflow_consistency {
        expected.extend(["P01-5", "late P01-5", "strict P01-5"]);
    } else {
        for never in ["P01-5", "late P01-5", "strict P01-5"] {
            assert!(!seen.contains(never), "{profile}: {never} (seen {seen:?})");
        }
    }
    for what in expected {
        assert!(
            seen.contains(what),
            "{profile}: never seen: {what} (seen {seen:?})"
        );
    }
}
