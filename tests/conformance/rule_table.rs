//! The rule table in `src/rules.rs` against SPEC.md, `CODES.md` and the `Error` type.

use std::collections::BTreeSet;

use wimse_ect::Error;
use wimse_ect_conformance::rules::{EXTENSION_CODES, RULES, Status, markdown};

#[test]
fn codes_md_is_generated_from_the_table() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/CODES.md"))
        .expect("CODES.md exists");
    assert_eq!(
        committed,
        markdown(),
        "CODES.md is out of date: run `cargo run -- codes > CODES.md`"
    );
}

/// `(id, codes)` of every rule row of SPEC.md, in order. Codes in parentheses (SPEC.md's way of
/// saying "reported as another rule's code" or "no code") are not the rule's own.
fn spec_rules(spec: &str) -> Vec<(String, Vec<String>)> {
    spec.lines()
        .filter(|l| l.starts_with("| ECT-"))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let last = cells.last().unwrap();
            let codes = if last.starts_with('(') {
                vec![]
            } else {
                last.split('`')
                    .enumerate()
                    .filter(|(i, _)| i % 2 == 1)
                    .map(|(_, c)| c.to_owned())
                    .collect()
            };
            (cells[0].to_owned(), codes)
        })
        .collect()
}

#[test]
fn table_matches_spec_md() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/SPEC.md");
    let Ok(spec) = std::fs::read_to_string(path) else {
        eprintln!("{path} not present: comparison skipped, the table alone is checked");
        return;
    };
    let ours: Vec<(String, Vec<String>)> = RULES
        .iter()
        .map(|r| {
            (
                r.id.to_owned(),
                r.codes.iter().map(|c| (*c).to_owned()).collect(),
            )
        })
        .collect();
    assert_eq!(ours, spec_rules(&spec));
}

#[test]
fn ids_are_unique() {
    let ids: BTreeSet<&str> = RULES.iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), RULES.len());
}

/// Every error the crate can return names a rule of the table and one of its codes (or a
/// documented extension code).
#[test]
fn every_error_maps_to_the_table() {
    let samples = [
        Error::TooLarge { len: 2, max: 1 },
        Error::Malformed(String::new()),
        Error::Base64 { segment: 0 },
        Error::Json(String::new()),
        Error::DuplicateMember(String::new()),
        Error::Typ(String::new()),
        Error::Alg(String::new()),
        Error::Crit,
        Error::Kid,
        Error::KeyUnknown(String::new()),
        Error::KeyIssuerMismatch {
            expected: String::new(),
            found: String::new(),
        },
        Error::KeySet(String::new()),
        Error::SignatureEncoding(String::new()),
        Error::SignatureInvalid,
        Error::ClaimMissing("iss"),
        Error::ClaimType("iss"),
        Error::NumericDate("iat"),
        Error::Iss,
        Error::Aud,
        Error::Jti,
        Error::Wid,
        Error::ExecAct,
        Error::Par(String::new()),
        Error::ParSelf,
        Error::ParTooLong { len: 2, max: 1 },
        Error::Hash("inp_hash"),
        Error::ExtSize(4097),
        Error::ExtDepth,
        Error::Pol(String::new()),
        Error::ExpBeforeIat,
        Error::Expired,
        Error::NotYetValid,
        Error::TooOld,
        Error::NotBefore,
        Error::AudienceMismatch,
        Error::Replay,
        Error::ReplayCacheFull,
        Error::DuplicateJti(String::new()),
        Error::ParentMissing(String::new()),
        Error::TemporalOrder {
            parent: String::new(),
            parent_iat: 2,
            child_iat: 1,
        },
        Error::LateParentTemporalOrder {
            child: String::new(),
            parent_iat: 2,
            child_iat: 1,
        },
        Error::Cycle(String::new()),
        Error::AncestorBudget(1),
        Error::ParentPolicy {
            parent: String::new(),
            decision: wimse_ect::PolicyDecision::Rejected,
        },
        Error::LateParentPolicy {
            child: String::new(),
            decision: wimse_ect::PolicyDecision::PendingHumanReview,
        },
        Error::WorkflowMismatch {
            parent: String::new(),
            held_in: None,
        },
        Error::LateWorkflowMismatch {
            child: String::new(),
            child_wid: Some(String::new()),
        },
        Error::LedgerProfile {
            ledger: "draft-00",
            verifier: "draft-01",
        },
        Error::LedgerDuplicate(String::new()),
        Error::LedgerChain(String::new()),
        Error::LedgerIo(String::new()),
        Error::HttpMalformed(String::new()),
        Error::HttpTooLarge { len: 2, max: 1 },
    ];
    let mut rules_hit = BTreeSet::new();
    for e in &samples {
        let in_table = RULES
            .iter()
            .any(|r| r.id == e.rule() && r.codes.contains(&e.code()));
        let extension = EXTENSION_CODES
            .iter()
            .any(|(code, rule, _)| *code == e.code() && *rule == e.rule());
        assert!(
            in_table || extension,
            "{:?} -> ({}, {})",
            e,
            e.code(),
            e.rule()
        );
        rules_hit.insert(e.rule());
    }
    // Every implemented rule with a code has an error that reports it.
    let codes_hit: BTreeSet<&str> = samples.iter().map(Error::code).collect();
    for r in RULES {
        if r.status == Status::Implemented && !r.codes.is_empty() {
            // ECT-P01-1, -3 and -4 are ECT-HDR-1, ECT-CLM-12 and ECT-CLM-13 under draft-01's
            // names: codes are profile-independent (SPEC.md §10) and so is the rule an error
            // reports, so those errors report the draft-00 rule; every code of theirs must
            // still be produced.
            let renamed = ["ECT-P01-1", "ECT-P01-3", "ECT-P01-4"].contains(&r.id);
            assert!(
                rules_hit.contains(r.id)
                    || (renamed && r.codes.iter().all(|c| codes_hit.contains(c))),
                "no error reports {}",
                r.id
            );
        }
    }
}

/// Which rules each profile has (SPEC.md §10): ECT-P01-* only in `draft-01`, ECT-HDR-1 only in
/// `draft-00`, every other rule in both; `rules_for` keeps SPEC.md's order.
#[test]
fn rules_for_each_profile() {
    use wimse_ect_conformance::rules::rules_for;
    use wimse_ect_conformance::vector::ProfileName;
    let ids = |p| rules_for(p).iter().map(|r| r.id).collect::<Vec<_>>();
    let d00 = ids(ProfileName::Draft00);
    let d01 = ids(ProfileName::Draft01);
    assert_eq!(d00.len(), RULES.len() - 5);
    assert_eq!(d01.len(), RULES.len() - 1);
    assert!(d00.contains(&"ECT-HDR-1") && !d01.contains(&"ECT-HDR-1"));
    let p01: Vec<&str> = RULES
        .iter()
        .map(|r| r.id)
        .filter(|id| id.starts_with("ECT-P01-"))
        .collect();
    assert_eq!(
        p01,
        [
            "ECT-P01-1",
            "ECT-P01-2",
            "ECT-P01-3",
            "ECT-P01-4",
            "ECT-P01-5"
        ]
    );
    for id in &p01 {
        assert!(d01.contains(id) && !d00.contains(id), "{id}");
    }
    fn common(v: &[&'static str]) -> Vec<&'static str> {
        v.iter()
            .copied()
            .filter(|id| *id != "ECT-HDR-1" && !id.starts_with("ECT-P01-"))
            .collect()
    }
    assert_eq!(common(&d00), common(&d01));
    for p in ProfileName::ALL {
        let positions: Vec<usize> = rules_for(p)
            .iter()
            .map(|r| RULES.iter().position(|x| x.id == r.id).expect("in RULES"))
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{p}");
    }
    // Every rule of this crate is implemented now, both profiles' included.
    assert!(RULES.iter().all(|r| r.status == Status::Implemented));
}
