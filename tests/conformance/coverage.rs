//! Every coded SPEC.md rule has a mutation, and every mutation a property.

use std::collections::BTreeSet;

use wimse_ect_conformance::rules::{EXTENSION_CODES, RULES, Status};
use wimse_ect_conformance::testing::Mutation;

use crate::mutations::PROPERTIES;

/// `(rule, code)` pairs of SPEC.md's table (`src/rules.rs`, checked against SPEC.md by
/// tests/rule_table.rs) that no mutation breaks, among the rules this crate implements (the
/// planned `draft-01` rules have no mutation yet).
fn uncovered() -> Vec<(&'static str, &'static str)> {
    let mutated: BTreeSet<(&str, &str)> =
        Mutation::ALL.iter().map(|m| (m.rule(), m.code())).collect();
    RULES
        .iter()
        .filter(|r| r.status == Status::Implemented)
        .flat_map(|r| r.codes.iter().map(move |c| (r.id, *c)))
        .filter(|pair| !mutated.contains(pair))
        .collect()
}

#[test]
fn every_coded_rule_has_a_mutation() {
    assert_eq!(
        uncovered(),
        Vec::<(&str, &str)>::new(),
        "coded rules without a mutation"
    );
}

#[test]
fn every_mutation_breaks_a_spec_rule_with_its_code() {
    for m in Mutation::ALL {
        let rule = RULES
            .iter()
            .find(|r| r.id == m.rule())
            .unwrap_or_else(|| panic!("{m:?} names {}, not a SPEC.md rule", m.rule()));
        let extension = EXTENSION_CODES
            .iter()
            .any(|(code, id, _)| *code == m.code() && *id == rule.id);
        // ECT-HDR-5 names its code only in parentheses (the failure shows as ECT-SIG-2).
        let hdr5 = rule.id == "ECT-HDR-5" && m.code() == "sig.invalid";
        assert!(
            rule.codes.contains(&m.code()) || extension || hdr5,
            "{m:?}: {} is not a code of {}",
            m.code(),
            rule.id
        );
    }
}

#[test]
fn every_mutation_has_a_property() {
    assert_eq!(PROPERTIES, Mutation::ALL);
}
