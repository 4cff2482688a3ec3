//! Valid workflows are accepted token by token, in order (ECT-DAG-1..6 pass, ECT-LED-1..4 hold,
//! ECT-RPL-1 scopes by `wid`), through every delivery, in both profiles (SPEC.md §10: each
//! generated workflow is `draft-00` or `draft-01`, so the cases split between the profiles
//! rather than doubling).

use proptest::prelude::*;
use wimse_ect::http::DEFAULT_MAX_FIELD_BYTES;
use wimse_ect_conformance::testing::{Delivery, LedgerKind, Workflow, valid_token, valid_workflow};

use crate::config;

/// Runs `wf` and checks that every step was accepted with exactly its claims, every parent
/// verified and none missing, and (for ledgers) that the whole-ledger audit finds nothing.
fn accepted_in_order(wf: &Workflow) -> Result<(), TestCaseError> {
    let report = wf
        .run()
        .map_err(|e| TestCaseError::fail(format!("harness error {e}")))?;
    if let Some(r) = &report.rejection {
        return Err(TestCaseError::fail(format!(
            "{}: valid step {:?} rejected: {}",
            r.error.rule(),
            r.at,
            r.error
        )));
    }
    prop_assert_eq!(report.accepted.len(), wf.steps.len());
    for (i, (step, got)) in wf.steps.iter().zip(&report.accepted).enumerate() {
        prop_assert_eq!(&got.claims, &step.claims, "step {} claims", i);
        let parents = if wf.delivery == Delivery::Standalone {
            Vec::new()
        } else {
            step.claims.par.clone()
        };
        prop_assert_eq!(
            &got.dag.verified_parents,
            &parents,
            "ECT-DAG-2: step {} parents",
            i
        );
        prop_assert!(
            got.dag.missing_parents.is_empty(),
            "step {} missing parents",
            i
        );
    }
    if matches!(wf.delivery, Delivery::Ledger(_) | Delivery::Store) {
        let audit = report.audit.expect("a ledger or store run is audited");
        prop_assert!(
            audit.is_valid(),
            "ECT-LED-4 / audit findings: {:?}",
            audit.findings
        );
        prop_assert_eq!(audit.entries, wf.steps.len() as u64);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn ect_dag_led_valid_workflow_is_accepted_in_order_into_a_memory_ledger(wf in valid_workflow()) {
        accepted_in_order(&wf)?;
    }

    #[test]
    fn ect_dag_http_valid_workflow_is_accepted_inline_with_parents(mut wf in valid_workflow()) {
        wf.delivery = Delivery::Inline;
        // A step whose parents' tokens do not fit in one Execution-Context field (ECT-HTTP-4)
        // cannot be sent inline; such workflows (many parents with large ext) are skipped.
        let fits = (0..wf.steps.len()).all(|i| wf.field_lines(i)[0].len() <= DEFAULT_MAX_FIELD_BYTES);
        prop_assume!(fits);
        accepted_in_order(&wf)?;
    }

    #[test]
    fn ect_dag_valid_workflow_is_accepted_into_an_accumulating_token_store(mut wf in valid_workflow()) {
        wf.delivery = Delivery::Store;
        accepted_in_order(&wf)?;
    }

    #[test]
    fn ect_dag_2_partial_mode_accepts_a_valid_workflow_identically(mut wf in valid_workflow()) {
        wf.policy.dag.mode = wimse_ect::DagMode::Partial;
        accepted_in_order(&wf)?;
    }
}

proptest! {
    #![proptest_config(config(12))]

    #[test]
    fn ect_led_1_4_valid_workflow_is_accepted_into_a_file_ledger_and_reopens(mut wf in valid_workflow()) {
        wf.delivery = Delivery::Ledger(LedgerKind::File);
        accepted_in_order(&wf)?;
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn ect_clm_time_valid_token_at_the_limits_verifies_on_its_own(wf in valid_token()) {
        accepted_in_order(&wf)?;
    }
}
