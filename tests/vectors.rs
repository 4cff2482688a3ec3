//! The committed spec vectors (`vectors/`): up to date with the generator, valid against their
//! schema, free of data errors, covering every coded rule both ways, passed by the reference,
//! and the harness's handling of external implementations (timeouts, crashes, garbage,
//! strict expected failures).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use wimse_ect::conformance::harness::{self, External, Loaded, Reference, Status, Xfails};
use wimse_ect::conformance::vector::{VectorFile, Verdict};
use wimse_ect::conformance::{self, NOTES};
use wimse_ect::rules::RULES;

const DIR: &str = "vectors";

fn files() -> Vec<(String, VectorFile)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(DIR).expect("vectors/ exists") {
        let name = entry.expect("a directory entry").file_name();
        let name = name.to_string_lossy().into_owned();
        if name.ends_with(".json") && name != "schema.json" {
            let text = std::fs::read_to_string(Path::new(DIR).join(&name)).expect("readable");
            let file: VectorFile = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{name} does not parse: {e}"));
            out.push((name, file));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn loaded() -> Vec<Loaded> {
    harness::load(Path::new(DIR)).expect("vectors load")
}

#[test]
fn committed_vectors_equal_a_fresh_generation() {
    let differences = conformance::check(Path::new(DIR)).expect("generation succeeds");
    assert_eq!(
        differences,
        Vec::<String>::new(),
        "run `cargo run -- vectors export`"
    );
}

#[test]
fn generation_is_deterministic() {
    assert_eq!(conformance::rendered(), conformance::rendered());
}

#[test]
fn every_file_validates_against_the_committed_schema() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(DIR).join("schema.json")).expect("schema.json"),
    )
    .expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    for (name, _) in files() {
        let text = std::fs::read_to_string(Path::new(DIR).join(&name)).expect("readable");
        let instance: Value = serde_json::from_str(&text).expect("JSON");
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert_eq!(errors, Vec::<String>::new(), "{name}");
    }
    // The schema rejects what it should: a vector without `result`.
    let (_, file) = &files()[0];
    let mut broken = serde_json::to_value(file).expect("serializes");
    broken["vectors"][0]
        .as_object_mut()
        .expect("a vector")
        .remove("result");
    assert!(!validator.is_valid(&broken));
}

#[test]
fn data_lint_finds_nothing() {
    let mut problems = Vec::new();
    let mut ids = BTreeSet::new();
    let mut tc_ids = BTreeSet::new();
    // Serialized case → (id, result, code).
    let mut inputs: BTreeMap<String, (String, Verdict, Option<String>)> = BTreeMap::new();
    let known_rules: BTreeSet<&str> = RULES.iter().map(|r| r.id).collect();
    for (name, file) in files() {
        for v in &file.vectors {
            let at = format!("{name} {}", v.id);
            if !ids.insert(v.id.clone()) {
                problems.push(format!("{at}: duplicate id"));
            }
            if !tc_ids.insert(v.tc_id) {
                problems.push(format!("{at}: duplicate tcId {}", v.tc_id));
            }
            let input = serde_json::to_string(&v.case).expect("serializes");
            if let Some((other, result, code)) = inputs.get(&input)
                && (*result != v.result || *code != v.code)
            {
                problems.push(format!("{at}: same input as {other}, different result"));
            }
            inputs.insert(input, (v.id.clone(), v.result, v.code.clone()));
            match v.result {
                Verdict::Acceptable if v.flags.is_empty() => {
                    problems.push(format!("{at}: acceptable without a flag"));
                }
                Verdict::Acceptable if v.reference.is_none() || v.code.is_none() => {
                    problems.push(format!("{at}: acceptable without reference or code"));
                }
                Verdict::Invalid if v.code.is_none() => {
                    problems.push(format!("{at}: invalid without a code"));
                }
                Verdict::Valid if v.code.is_some() => {
                    problems.push(format!("{at}: valid with a code"));
                }
                _ => {}
            }
            for flag in &v.flags {
                if !file.notes.contains_key(flag) {
                    problems.push(format!("{at}: flag {flag} missing from the notes"));
                }
            }
            if v.rules.is_empty() {
                problems.push(format!("{at}: no rule"));
            }
            for r in &v.rules {
                if !known_rules.contains(r.as_str()) {
                    problems.push(format!("{at}: unknown rule {r}"));
                }
            }
        }
        for flag in file.notes.keys() {
            if !NOTES.iter().any(|(f, _)| f == flag) {
                problems.push(format!("{name}: note {flag} is not a known flag"));
            }
        }
    }
    assert_eq!(problems, Vec::<String>::new());
}

/// Rules whose every rejection SPEC.md itself marks as a flagged choice (`acceptable`), with the
/// flag: their rejecting side is covered by `acceptable` vectors whose reference verdict is
/// `invalid`, since an `invalid` vector would contradict SPEC.md.
const FLAGGED_REJECTIONS: &[(&str, &str)] = &[
    ("ECT-JWS-5", "DuplicateMember"),
    ("ECT-CLM-12", "ExtLimits"),
];

#[test]
fn every_coded_rule_has_a_valid_and_an_invalid_vector() {
    let mut valid = BTreeSet::new();
    let mut invalid = BTreeSet::new();
    // (rule, flag) of acceptable vectors the reference rejects.
    let mut flagged = BTreeSet::new();
    for l in loaded() {
        let v = &l.vector;
        for r in &v.rules {
            match v.result {
                Verdict::Valid => {
                    valid.insert(r.clone());
                }
                // An invalid vector covers the rules whose code it expects (a vector that also
                // lists rules to show the order of checks does not cover those).
                Verdict::Invalid
                    if RULES.iter().any(|x| {
                        x.id == r && v.code.as_deref().is_some_and(|c| x.codes.contains(&c))
                    }) =>
                {
                    invalid.insert(r.clone());
                }
                Verdict::Invalid => {}
                Verdict::Acceptable if v.reference == Some(Verdict::Invalid) => {
                    for f in &v.flags {
                        flagged.insert((r.clone(), f.clone()));
                    }
                }
                Verdict::Acceptable => {}
            }
        }
    }
    let mut missing = Vec::new();
    for r in RULES.iter().filter(|r| !r.codes.is_empty()) {
        if !valid.contains(r.id) {
            missing.push(format!("{} has no valid vector", r.id));
        }
        match FLAGGED_REJECTIONS.iter().find(|(id, _)| *id == r.id) {
            Some((id, flag)) => {
                if invalid.contains(r.id) {
                    missing.push(format!(
                        "{id} has an invalid vector: SPEC.md flags it {flag}"
                    ));
                }
                if !flagged.contains(&((*id).to_owned(), (*flag).to_owned())) {
                    missing.push(format!(
                        "{id} has no acceptable vector rejected by the reference"
                    ));
                }
            }
            None if !invalid.contains(r.id) => {
                missing.push(format!("{} has no invalid vector", r.id));
            }
            None => {}
        }
    }
    assert_eq!(missing, Vec::<String>::new());
}

#[test]
fn there_are_at_least_300_vectors() {
    let n = loaded().len();
    assert!(n >= 300, "{n} vectors");
}

#[test]
fn the_reference_passes_every_vector() {
    let report = harness::run(&loaded(), &mut Reference, &Xfails::default());
    let failures: Vec<_> = report
        .cases
        .iter()
        .filter(|c| matches!(c.status, Status::Fail(_)))
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(
        report.summary(),
        format!("{} passed, 0 failed", report.cases.len())
    );
}

// ---------------------------------------------------------------------------------------------
// The harness with external implementations (tiny shell programs).
// ---------------------------------------------------------------------------------------------

/// The first `n` vectors.
fn first(n: usize) -> Vec<Loaded> {
    loaded().into_iter().take(n).collect()
}

fn external(script: &str, timeout_ms: u64) -> External {
    External::new(script, Duration::from_millis(timeout_ms))
}

#[test]
fn garbage_crash_and_hang_each_fail_their_case_and_the_run_goes_on() {
    let vectors = first(3);
    // Answers garbage to every line.
    let report = harness::run(
        &vectors,
        &mut external("while read l; do echo 'not json'; done", 5_000),
        &Xfails::default(),
    );
    assert_eq!((report.passed(), report.failed()), (0, 3));
    assert!(
        matches!(&report.cases[0].status, Status::Fail(w) if w.starts_with("not an answer line"))
    );
    // Exits at once: every case fails as a crash (the program is restarted each time).
    let report = harness::run(&vectors, &mut external("exit 3", 5_000), &Xfails::default());
    assert_eq!(report.failed(), 3);
    assert!(matches!(&report.cases[2].status, Status::Fail(w) if w.contains("exited")));
    // Hangs: each case times out.
    let report = harness::run(&vectors, &mut external("sleep 30", 200), &Xfails::default());
    assert_eq!(report.failed(), 3);
    assert!(
        matches!(&report.cases[0].status, Status::Fail(w) if w.starts_with("no answer within"))
    );
}

/// A shell program answering every case with `result` (and the case's id).
fn answering(result: &str) -> String {
    format!(
        r#"while read l; do id=$(printf '%s' "$l" | sed 's/^{{"id":"\([^"]*\)".*/\1/'); printf '{{"id":"%s","result":"{result}","code":"unmapped"}}\n' "$id"; done"#
    )
}

#[test]
fn answers_are_judged_by_verdict_and_code_with_strict_expected_failures() {
    let vectors = loaded();
    let valid = vectors
        .iter()
        .find(|l| l.vector.result == Verdict::Valid)
        .expect("a valid vector")
        .clone();
    let invalid = vectors
        .iter()
        .find(|l| l.vector.result == Verdict::Invalid)
        .expect("an invalid vector")
        .clone();
    let both = vec![valid.clone(), invalid.clone()];
    // "valid" to everything: the valid vector passes, the invalid one fails.
    let report = harness::run(
        &both,
        &mut external(&answering("valid"), 5_000),
        &Xfails::default(),
    );
    assert_eq!((report.passed(), report.failed()), (1, 1));
    // "invalid"/unmapped to everything: the invalid one passes with a note.
    let report = harness::run(
        &both,
        &mut external(&answering("invalid"), 5_000),
        &Xfails::default(),
    );
    assert_eq!((report.passed(), report.failed()), (1, 1));
    assert!(matches!(&report.cases[1].status, Status::Pass(Some(n)) if n.starts_with("unmapped")));
    // Skips are neither passed nor failed.
    let report = harness::run(
        &both,
        &mut external(&answering("skip"), 5_000),
        &Xfails::default(),
    );
    assert_eq!(
        (report.passed(), report.failed(), report.skipped()),
        (0, 0, 2)
    );
    // Expected failures: a listed failure is expected, a listed pass and an unknown id fail.
    let xfails = Xfails(BTreeMap::from([
        (invalid.vector.id.clone(), "answers valid".to_owned()),
        (valid.vector.id.clone(), "claimed to fail".to_owned()),
        ("no/such/vector".to_owned(), "stale".to_owned()),
    ]));
    let report = harness::run(&both, &mut external(&answering("valid"), 5_000), &xfails);
    assert_eq!(report.xfailed(), 1);
    assert_eq!(report.failed(), 2);
    assert_eq!(report.unknown_xfails, vec!["no/such/vector".to_owned()]);
    assert!(matches!(&report.cases[0].status, Status::Fail(w) if w.starts_with("unexpected pass")));
}
