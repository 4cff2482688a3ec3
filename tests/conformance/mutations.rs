//! One property per mutation, named after the rule it breaks: the mutated workflow is
//! rejected at the expected step with exactly the expected code and rule, every earlier step
//! is accepted, and the rejection leaves the ledger and the replay cache unchanged.
//!
//! Profiles (SPEC.md §10): each property case is a pair of mutated workflows, one in each
//! profile the mutation applies in (`Mutation::profiles`: both, or twice the one), so every
//! mutation is checked in every profile on every run, and the number of workflows per
//! mutation stays what it was before `draft-01` (12 pairs: 24 workflows).

use proptest::prelude::*;
use wimse_ect::Profile;
use wimse_ect_conformance::testing::{Case, Mutation, Stage, case_in};

use crate::config;

/// Default cases per mutation: pairs of workflows of up to 12 tokens each, plus what the
/// mutation adds.
const CASES: u32 = 12;

/// A case of `m` in each profile it applies in, or two in its only one.
fn cases(m: Mutation) -> impl Strategy<Value = Vec<Case>> {
    let ps: &[Profile] = m.profiles();
    let (a, b) = (ps[0], *ps.last().expect("a mutation applies somewhere"));
    (case_in(m, a), case_in(m, b)).prop_map(|(a, b)| vec![a, b])
}

/// Checks one mutated case; every failure message starts with the rule that was not enforced.
fn check(case: &Case) -> Result<(), TestCaseError> {
    let m = case.mutation;
    let what = format!(
        "{} ({}) not enforced as expected in {}",
        m.rule(),
        m.code(),
        case.workflow.policy.profile
    );
    let report = case
        .workflow
        .run()
        .map_err(|e| TestCaseError::fail(format!("{what}: harness error {e}")))?;
    let Some(rejection) = &report.rejection else {
        return Err(TestCaseError::fail(format!(
            "{what}: accepted {} of {} steps, no rejection [{}]",
            report.accepted.len(),
            case.workflow.steps.len(),
            case.description
        )));
    };
    let e = &rejection.error;
    prop_assert_eq!(
        (rejection.at, e.code(), e.rule()),
        (case.expected.at, case.expected.code, case.expected.rule),
        "{}: got {} [{}]",
        what,
        e,
        case.description
    );
    let earlier = match case.expected.at {
        Stage::Step(i) => i,
        Stage::KeySet => 0,
        Stage::LedgerReopen => case.workflow.steps.len(),
    };
    prop_assert_eq!(
        report.accepted.len(),
        earlier,
        "{}: an earlier step was rejected [{}]",
        what,
        case.description
    );
    prop_assert_eq!(
        &rejection.changed,
        &None,
        "{}: the rejection changed state [{}]",
        what,
        case.description
    );
    Ok(())
}

macro_rules! mutation_properties {
    ($($name:ident => $m:ident,)*) => {
        proptest! {
            #![proptest_config(config(CASES))]
            $(
                #[test]
                fn $name(cases in cases(Mutation::$m)) {
                    for case in &cases {
                        check(case)?;
                    }
                }
            )*
        }

        /// The mutations with a property, in SPEC.md's order.
        pub const PROPERTIES: &[Mutation] = &[$(Mutation::$m),*];
    };
}

mutation_properties! {
    ect_jws_1_token_over_the_limit_is_rejected => TooLarge,
    ect_jws_2_malformed_compact_serialization_is_rejected => Malformed,
    ect_jws_3_bad_base64url_is_rejected => Base64,
    ect_jws_4_non_json_header_or_payload_is_rejected => Json,
    ect_jws_5_duplicate_member_is_rejected => DuplicateMember,
    ect_hdr_1_wrong_typ_is_rejected => Typ,
    ect_hdr_2_disallowed_alg_is_rejected => Alg,
    ect_hdr_3_crit_is_rejected => Crit,
    ect_hdr_4_bad_kid_is_rejected => Kid,
    ect_hdr_5_embedded_key_is_never_used => EmbeddedKey,
    ect_key_1_unknown_kid_is_rejected => KeyUnknown,
    ect_key_2_issuer_mismatch_is_rejected => IssuerMismatch,
    ect_key_3_invalid_trusted_key_is_refused => KeySetInvalid,
    ect_sig_1_bad_signature_encoding_is_rejected => SignatureEncoding,
    ect_sig_2_bad_signature_is_rejected => SignatureInvalid,
    ect_clm_1_missing_claim_is_rejected => ClaimMissing,
    ect_clm_2_wrong_claim_type_is_rejected => ClaimType,
    ect_time_5_bad_numeric_date_is_rejected => NumericDate,
    ect_clm_3_empty_iss_is_rejected => IssEmpty,
    ect_clm_4_empty_aud_element_is_rejected => AudEmptyElement,
    ect_clm_5_bad_jti_is_rejected => Jti,
    ect_clm_6_bad_wid_is_rejected => Wid,
    ect_clm_7_empty_exec_act_is_rejected => ExecAct,
    ect_clm_8_bad_par_element_is_rejected => Par,
    ect_clm_9_self_parent_is_rejected => ParSelf,
    ect_clm_10_par_over_max_par_is_rejected => ParTooLong,
    ect_clm_11_bad_hash_is_rejected => Hash,
    ect_clm_12_ext_over_4096_bytes_is_rejected => ExtSize,
    ect_clm_12_ext_deeper_than_5_is_rejected => ExtDepth,
    ect_clm_13_bad_policy_claims_are_rejected => Pol,
    ect_time_1_exp_not_after_iat_is_rejected => ExpBeforeIat,
    ect_time_2_expired_token_is_rejected => Expired,
    ect_time_3_future_token_is_rejected => NotYetValid,
    ect_time_4_old_token_is_rejected => TooOld,
    ect_time_6_token_before_nbf_is_rejected => NotBefore,
    ect_aud_1_other_audience_is_rejected => AudienceMismatch,
    ect_rpl_1_replay_is_rejected => Replay,
    ect_rpl_1_full_replay_cache_refuses => ReplayCacheFull,
    ect_dag_1_duplicate_jti_is_rejected => DuplicateJti,
    ect_dag_2_missing_parent_is_rejected => ParentMissing,
    ect_dag_3_child_before_parent_is_rejected => TemporalOrder,
    ect_dag_4_cycle_is_rejected => Cycle,
    ect_dag_5_budget_exhaustion_is_an_error => AncestorBudget,
    ect_dag_6_child_of_refused_parent_is_rejected => ParentPolicy,
    ect_led_3_duplicate_entry_is_detected => LedgerDuplicate,
    ect_led_4_tampered_ledger_is_detected => LedgerChain,
    ect_http_3_malformed_field_is_rejected => HttpMalformed,
    ect_http_4_oversized_field_is_rejected => HttpTooLarge,
    ect_p01_1_typ_neither_exec_jwt_nor_legacy_is_rejected => P01Typ,
    ect_p01_2_par_instead_of_pred_is_a_missing_claim => P01Pred,
    ect_p01_3_ect_ext_over_4096_bytes_is_invalid => P01ExtSize,
    ect_p01_3_ect_ext_deeper_than_5_is_invalid => P01ExtDepth,
    ect_p01_4_bad_policy_member_in_ect_ext_is_rejected => P01ExtPolicy,
    ect_p01_5_pred_of_another_workflow_is_refused => P01WorkflowMismatch,
}
