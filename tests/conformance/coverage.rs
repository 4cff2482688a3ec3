//! Every coded SPEC.md rule of each profile has a mutation that runs in that profile, and
//! every mutation a property.

use std::collections::BTreeSet;

use wimse_ect_conformance::rules::{EXTENSION_CODES, RULES, Status, rules_for};
use wimse_ect_conformance::testing::Mutation;
use wimse_ect_conformance::vector::ProfileName;

use crate::mutations::PROPERTIES;

/// ECT-P01-2 renames `par` to `pred` and has no code of its own (SPEC.md §10: "as the rules
/// it renames"); its mutation (a `par`-only token) breaks ECT-CLM-1 under the new name, so
/// `claims.missing` is the code demanded for it.
const P01_2: (&str, &str) = ("ECT-P01-2", "claims.missing");

/// `(rule, code)` pairs of `profile`'s rules (`src/rules.rs`, checked against SPEC.md by
/// tests/rule_table.rs), among the implemented ones, that no mutation applying in `profile`
/// breaks.
fn uncovered(profile: ProfileName) -> Vec<(&'static str, &'static str)> {
    let mutated: BTreeSet<(&str, &str)> = Mutation::ALL
        .iter()
        .filter(|m| m.applies_in(&profile.profile()))
        .map(|m| (m.rule(), m.code()))
        .collect();
    let mut demanded: Vec<(&str, &str)> = rules_for(profile)
        .into_iter()
        .filter(|r| r.status == Status::Implemented)
        .flat_map(|r| r.codes.iter().map(move |c| (r.id, *c)))
        .collect();
    if rules_for(profile).iter().any(|r| r.id == P01_2.0) {
        demanded.push(P01_2);
    }
    demanded
        .into_iter()
        .filter(|pair| !mutated.contains(pair))
        .collect()
}

#[test]
fn every_coded_rule_has_a_mutation() {
    for profile in ProfileName::ALL {
        assert_eq!(
            uncovered(profile),
            Vec::<(&str, &str)>::new(),
            "coded rules of {profile} without a mutation"
        );
    }
    // Both profiles have their own rules, so the check above is not vacuous for either.
    assert!(
        Mutation::ALL
            .iter()
            .any(|m| m.profiles() == [wimse_ect::DRAFT_00])
    );
    assert!(
        Mutation::ALL
            .iter()
            .any(|m| m.profiles() == [wimse_ect::DRAFT_01])
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
        // ECT-P01-2 has no code of its own (see P01_2).
        let p01_2 = (rule.id, m.code()) == P01_2;
        assert!(
            rule.codes.contains(&m.code()) || extension || hdr5 || p01_2,
            "{m:?}: {} is not a code of {}",
            m.code(),
            rule.id
        );
        // A mutation runs only in profiles that have its rule.
        for p in m.profiles() {
            let name = ProfileName::parse(p.name).expect("a known profile");
            assert!(
                rule.in_profile(name),
                "{m:?} runs in {name}, which has no {}",
                rule.id
            );
        }
    }
}

#[test]
fn every_mutation_has_a_property() {
    assert_eq!(PROPERTIES, Mutation::ALL);
}
