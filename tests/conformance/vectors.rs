//! The committed spec vectors (`vectors/`): up to date with the generator, valid against their
//! schema, free of data errors, covering every coded rule both ways, passed by the reference,
//! and the harness's handling of external implementations (timeouts, crashes, garbage,
//! strict expected failures).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use wimse_ect_conformance::build::DRAFT_01_TC_OFFSET;
use wimse_ect_conformance::harness::{
    self, External, Failure, Loaded, Options, Reference, Scoring, Status, Xfails,
};
use wimse_ect_conformance::reference::evaluate;
use wimse_ect_conformance::rules::{self, EXTENSION_CODES, RULES};
use wimse_ect_conformance::vector::{ProfileName, VectorFile, Verdict};
use wimse_ect_conformance::{self as conformance, NOTES};

const DIR: &str = "vectors";

/// Every vector file of every profile: `(name, file)`, the name relative to `vectors/`
/// (`claims.json`, `draft-01/claims.json`), each profile's files in name order.
fn files() -> Vec<(String, VectorFile)> {
    ProfileName::ALL
        .into_iter()
        .flat_map(profile_files)
        .collect()
}

/// The vector files of profile `p`, named relative to `vectors/`.
fn profile_files(p: ProfileName) -> Vec<(String, VectorFile)> {
    let dir = conformance::profile_dir(Path::new(DIR), p);
    let prefix = match p {
        ProfileName::Draft00 => "",
        ProfileName::Draft01 => "draft-01/",
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("the profile's directory exists") {
        let name = entry.expect("a directory entry").file_name();
        let name = name.to_string_lossy().into_owned();
        if name.ends_with(".json") && name != "schema.json" {
            let text = std::fs::read_to_string(dir.join(&name)).expect("readable");
            let file: VectorFile = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{prefix}{name} does not parse: {e}"));
            out.push((format!("{prefix}{name}"), file));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Every vector of every profile, loaded the way the harness loads a profile.
fn loaded() -> Vec<Loaded> {
    ProfileName::ALL
        .into_iter()
        .flat_map(profile_loaded)
        .collect()
}

/// The vectors of profile `p`, loaded by the harness.
fn profile_loaded(p: ProfileName) -> Vec<Loaded> {
    harness::load(&conformance::profile_dir(Path::new(DIR), p)).expect("vectors load")
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
    let names: Vec<String> = files().into_iter().map(|(name, _)| name).collect();
    assert!(
        names.iter().any(|n| n.starts_with("draft-01/")),
        "{names:?}"
    );
    for name in names {
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
    // ... and an empty `alt_codes`, or one code twice.
    for alt in [json!([]), json!(["time.too_old", "time.too_old"])] {
        let mut broken = serde_json::to_value(file).expect("serializes");
        broken["vectors"][0]["alt_codes"] = alt.clone();
        assert!(!validator.is_valid(&broken), "{alt}");
    }
}

#[test]
fn data_lint_finds_nothing() {
    let mut problems = Vec::new();
    let mut ids = BTreeSet::new();
    let mut tc_ids = BTreeSet::new();
    // Serialized case → (id, result, codes).
    let mut inputs: BTreeMap<String, (String, Verdict, Vec<String>)> = BTreeMap::new();
    let known_rules: BTreeSet<&str> = RULES.iter().map(|r| r.id).collect();
    // SPEC.md's codes, and the codes it leaves to the implementation (`key.invalid`, ...).
    let known_codes: BTreeSet<&str> = RULES
        .iter()
        .flat_map(|r| r.codes.iter().copied())
        .chain(EXTENSION_CODES.iter().map(|(code, _, _)| *code))
        .collect();
    for (name, file) in files() {
        // Each file is of the profile of its directory, and so is each of its cases.
        let profile = if name.starts_with("draft-01/") {
            ProfileName::Draft01
        } else {
            ProfileName::Draft00
        };
        if (file.profile.as_str(), file.spec.as_str()) != (profile.as_str(), profile.profile().spec)
        {
            problems.push(format!(
                "{name}: profile {} spec {}",
                file.profile, file.spec
            ));
        }
        for v in &file.vectors {
            let at = format!("{name} {}", v.id);
            if v.case.settings.profile != profile {
                problems.push(format!(
                    "{at}: settings.profile {}",
                    v.case.settings.profile
                ));
            }
            // An id is unique within its profile (the same id in both profiles is the same
            // check under each profile's names); a tcId across both.
            if !ids.insert((profile, v.id.clone())) {
                problems.push(format!("{at}: duplicate id"));
            }
            if !tc_ids.insert(v.tc_id) {
                problems.push(format!("{at}: duplicate tcId {}", v.tc_id));
            }
            let input = serde_json::to_string(&v.case).expect("serializes");
            let codes: Vec<String> = v.code.iter().chain(&v.alt_codes).cloned().collect();
            if let Some((other, result, other_codes)) = inputs.get(&input)
                && (*result != v.result || *other_codes != codes)
            {
                problems.push(format!("{at}: same input as {other}, different result"));
            }
            inputs.insert(input, (v.id.clone(), v.result, codes.clone()));
            // Several acceptable codes (SPEC.md: a defect read as two rule failures): only
            // beside `code`, each a SPEC.md code, none twice (`code` included).
            if !v.alt_codes.is_empty() && v.code.is_none() {
                problems.push(format!("{at}: alt_codes without code"));
            }
            for (i, c) in codes.iter().enumerate() {
                if !known_codes.contains(c.as_str()) {
                    problems.push(format!("{at}: {c} is not a SPEC.md code"));
                }
                if codes[..i].contains(c) {
                    problems.push(format!("{at}: code {c} listed twice"));
                }
            }
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
                } else if !RULES.iter().any(|x| x.id == r && x.in_profile(profile)) {
                    problems.push(format!("{at}: rule {r} is not one of {profile}"));
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

/// Rules whose every rejection SPEC.md itself marks as a flagged choice (`acceptable`) in
/// profile `p`, with the flag: their rejecting side is covered by `acceptable` vectors whose
/// reference verdict is `invalid`, since an `invalid` vector would contradict SPEC.md. In
/// `draft-01` ECT-CLM-12's limits are MUST (ECT-P01-3: `invalid` vectors, no flag), and the
/// policy claims, inside `ect_ext`, are checked as a choice (ECT-P01-4, flag `ExtPolicy`), which
/// ECT-CLM-13 and ECT-DAG-6 read there.
fn flagged_rejections(p: ProfileName) -> &'static [(&'static str, &'static str)] {
    match p {
        ProfileName::Draft00 => &[
            ("ECT-JWS-5", "DuplicateMember"),
            ("ECT-CLM-12", "ExtLimits"),
            ("ECT-TIME-6", "NotBefore"),
        ],
        ProfileName::Draft01 => &[
            ("ECT-JWS-5", "DuplicateMember"),
            ("ECT-CLM-13", "ExtPolicy"),
            ("ECT-TIME-6", "NotBefore"),
            ("ECT-DAG-6", "ExtPolicy"),
            ("ECT-P01-4", "ExtPolicy"),
        ],
    }
}

/// Every coded rule of each profile (`rules_for`) has a valid and an invalid vector in that
/// profile's files; ECT-P01-2, which has no code of its own (it renames `par`), needs a valid
/// and an invalid vector too.
#[test]
fn every_coded_rule_has_a_valid_and_an_invalid_vector() {
    let mut missing = Vec::new();
    for p in ProfileName::ALL {
        missing.extend(coverage_gaps(p, &profile_loaded(p)));
    }
    assert_eq!(missing, Vec::<String>::new());
}

/// What `vectors` (profile `p`'s) lack to cover `p`'s rules both ways.
fn coverage_gaps(p: ProfileName, vectors: &[Loaded]) -> Vec<String> {
    let mut valid = BTreeSet::new();
    let mut invalid = BTreeSet::new();
    // Rules without a code of their own listed by an invalid vector.
    let mut invalid_uncoded = BTreeSet::new();
    // (rule, flag) of acceptable vectors the reference rejects.
    let mut flagged = BTreeSet::new();
    for l in vectors {
        let v = &l.vector;
        assert_eq!(v.case.settings.profile, p, "{}", v.id);
        for r in &v.rules {
            match v.result {
                Verdict::Valid => {
                    valid.insert(r.clone());
                }
                // An invalid vector covers the rules whose code it expects, every acceptable
                // code included (a vector that also lists rules to show the order of checks does
                // not cover those, nor does one that another reading rejects under another
                // rule).
                Verdict::Invalid
                    if RULES.iter().any(|x| {
                        x.id == r
                            && v.code.as_deref().is_some_and(|c| x.codes.contains(&c))
                            && v.alt_codes.iter().all(|c| x.codes.contains(&c.as_str()))
                    }) =>
                {
                    invalid.insert(r.clone());
                }
                Verdict::Invalid => {
                    if RULES.iter().any(|x| x.id == r && x.codes.is_empty()) {
                        invalid_uncoded.insert(r.clone());
                    }
                }
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
    let flagged_rules = flagged_rejections(p);
    for r in rules::rules_for(p)
        .into_iter()
        .filter(|r| r.status == rules::Status::Implemented)
    {
        if r.codes.is_empty() {
            if r.id == "ECT-P01-2" {
                if !valid.contains(r.id) {
                    missing.push(format!("{p}: {} has no valid vector", r.id));
                }
                if !invalid_uncoded.contains(r.id) {
                    missing.push(format!("{p}: {} has no invalid vector", r.id));
                }
            }
            continue;
        }
        if !valid.contains(r.id) {
            missing.push(format!("{p}: {} has no valid vector", r.id));
        }
        match flagged_rules.iter().find(|(id, _)| *id == r.id) {
            Some((id, flag)) => {
                if invalid.contains(r.id) {
                    missing.push(format!(
                        "{p}: {id} has an invalid vector: SPEC.md flags it {flag}"
                    ));
                }
                if !flagged.contains(&((*id).to_owned(), (*flag).to_owned())) {
                    missing.push(format!(
                        "{p}: {id} has no acceptable vector rejected by the reference"
                    ));
                }
            }
            None if !invalid.contains(r.id) => {
                missing.push(format!("{p}: {} has no invalid vector", r.id));
            }
            None => {}
        }
    }
    missing
}

/// The coverage check is not vacuous: with a rule taken out of every `draft-01` vector's
/// rules, that rule shows as uncovered both ways, and nothing else does.
#[test]
fn the_coverage_check_sees_a_missing_rule() {
    let p = ProfileName::Draft01;
    let all = profile_loaded(p);
    assert_eq!(coverage_gaps(p, &all), Vec::<String>::new());
    let without = |rule: &str| -> Vec<Loaded> {
        all.iter()
            .cloned()
            .map(|mut l| {
                l.vector.rules.retain(|r| r != rule);
                l
            })
            .collect()
    };
    assert_eq!(
        coverage_gaps(p, &without("ECT-P01-5")),
        [
            "draft-01: ECT-P01-5 has no valid vector",
            "draft-01: ECT-P01-5 has no invalid vector"
        ]
    );
    assert_eq!(
        coverage_gaps(p, &without("ECT-P01-2")),
        [
            "draft-01: ECT-P01-2 has no valid vector",
            "draft-01: ECT-P01-2 has no invalid vector"
        ]
    );
    // A rule whose rejections are flagged (ECT-P01-4, ExtPolicy) misses its acceptable side.
    assert_eq!(
        coverage_gaps(p, &without("ECT-P01-4")),
        [
            "draft-01: ECT-P01-4 has no valid vector",
            "draft-01: ECT-P01-4 has no acceptable vector rejected by the reference"
        ]
    );
    // draft-00's files cover draft-00's rules (ECT-HDR-1 included, no ECT-P01-*).
    assert_eq!(
        coverage_gaps(ProfileName::Draft00, &profile_loaded(ProfileName::Draft00)),
        Vec::<String>::new()
    );
}

/// `tcId`s are unique across both profiles' files, and stable: a `draft-01` vector whose id is
/// also a `draft-00` vector's has the `draft-00` `tcId` + 100000; a `draft-01`-only vector is
/// numbered by its position like every other (above 100000).
#[test]
fn tc_ids_are_unique_across_profiles_and_draft_01_adds_100000() {
    assert_eq!(DRAFT_01_TC_OFFSET, 100_000);
    let of = |p| -> BTreeMap<String, u32> {
        profile_loaded(p)
            .into_iter()
            .map(|l| (l.vector.id, l.vector.tc_id))
            .collect()
    };
    let d00 = of(ProfileName::Draft00);
    let d01 = of(ProfileName::Draft01);
    let mut shared = 0;
    for (id, tc) in &d01 {
        assert!(*tc > DRAFT_01_TC_OFFSET, "{id} {tc}");
        if let Some(tc00) = d00.get(id) {
            assert_eq!(*tc, tc00 + DRAFT_01_TC_OFFSET, "{id}");
            shared += 1;
        }
    }
    assert!(d00.values().all(|tc| *tc < DRAFT_01_TC_OFFSET));
    // The whole catalogue carries over but for the vectors only draft-00 has.
    let only_00: Vec<&String> = d00.keys().filter(|id| !d01.contains_key(*id)).collect();
    assert_eq!(
        only_00,
        [
            "claims/profile/draft-01-claims-beside-par",
            "claims/profile/draft-01-token"
        ]
    );
    assert_eq!(shared, d00.len() - 2);
    let all: Vec<u32> = d00.values().chain(d01.values()).copied().collect();
    let unique: BTreeSet<u32> = all.iter().copied().collect();
    assert_eq!(unique.len(), all.len());
    // Some well-known pairs, spelled out.
    for (id, tc) in [
        ("jws/size/at-limit", 1001),
        ("header/typ/draft-01", 2006),
        ("claims/ext/size-over-max", d00["claims/ext/size-over-max"]),
    ] {
        assert_eq!((d00[id], d01[id]), (tc, tc + 100_000), "{id}");
    }
    assert_eq!(d01["profile/typ/exec-jwt"], 112_001);
}

/// Where the two profiles differ on a vector the catalogue shares (SPEC.md §10), exactly.
#[test]
fn the_shared_catalogue_differs_where_the_profiles_differ() {
    let by_id = |p| -> BTreeMap<String, wimse_ect_conformance::vector::Vector> {
        profile_loaded(p)
            .into_iter()
            .map(|l| (l.vector.id.clone(), l.vector))
            .collect()
    };
    let d00 = by_id(ProfileName::Draft00);
    let d01 = by_id(ProfileName::Draft01);
    let verdict = |v: &wimse_ect_conformance::vector::Vector| {
        (v.result, v.code.clone(), v.reference, v.rules.clone())
    };
    let s = |x: &str| Some(x.to_owned());
    let r = |x: &[&str]| x.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    // ECT-P01-1: exec+jwt is draft-01's own value.
    assert_eq!(
        verdict(&d00["header/typ/draft-01"]),
        (
            Verdict::Acceptable,
            s("header.typ"),
            Some(Verdict::Invalid),
            r(&["ECT-HDR-1"])
        )
    );
    assert_eq!(
        verdict(&d01["header/typ/draft-01"]),
        (Verdict::Valid, None, None, r(&["ECT-P01-1"]))
    );
    // ECT-P01-3: the limits are MUST.
    assert_eq!(
        verdict(&d00["claims/ext/size-over-max"]),
        (
            Verdict::Acceptable,
            s("claims.ext_size"),
            Some(Verdict::Invalid),
            r(&["ECT-CLM-12"])
        )
    );
    assert_eq!(
        verdict(&d01["claims/ext/size-over-max"]),
        (
            Verdict::Invalid,
            s("claims.ext_size"),
            None,
            r(&["ECT-CLM-12", "ECT-P01-3"])
        )
    );
    // ECT-P01-4: the policy claims inside ect_ext, checked as a choice.
    assert_eq!(
        verdict(&d00["claims/pol/without-decision"]),
        (Verdict::Invalid, s("claims.pol"), None, r(&["ECT-CLM-13"]))
    );
    assert_eq!(
        verdict(&d01["claims/pol/without-decision"]),
        (
            Verdict::Acceptable,
            s("claims.pol"),
            Some(Verdict::Invalid),
            r(&["ECT-CLM-13", "ECT-P01-4"])
        )
    );
    // ECT-P01-5: a parent of another workflow is not missing but in the wrong workflow.
    assert_eq!(
        verdict(&d00["dag/scope/parent-in-other-wid"]),
        (
            Verdict::Invalid,
            s("dag.parent_missing"),
            None,
            r(&["ECT-DAG-2"])
        )
    );
    assert_eq!(
        verdict(&d01["dag/scope/parent-in-other-wid"]),
        (
            Verdict::Invalid,
            s("dag.workflow_mismatch"),
            None,
            r(&["ECT-DAG-2", "ECT-P01-5"])
        )
    );
    // The draft-01 tokens carry draft-01's names.
    let payload = |v: &wimse_ect_conformance::vector::Vector| -> Value {
        serde_json::from_str(
            v.intermediate
                .as_ref()
                .and_then(|i| i.payload.as_deref())
                .expect("a payload"),
        )
        .expect("JSON")
    };
    let header = |v: &wimse_ect_conformance::vector::Vector| -> Value {
        serde_json::from_str(
            v.intermediate
                .as_ref()
                .and_then(|i| i.header.as_deref())
                .expect("a header"),
        )
        .expect("JSON")
    };
    let v00 = &d00["claims/pol/approved"];
    let v01 = &d01["claims/pol/approved"];
    assert_eq!(header(v00)["typ"], "wimse-exec+jwt");
    assert_eq!(header(v01)["typ"], "exec+jwt");
    assert_eq!(payload(v00)["par"], json!([]));
    assert_eq!(payload(v00)["pol"], "policy-1");
    assert_eq!(payload(v01)["pred"], json!([]));
    assert_eq!(payload(v01)["ect_ext"]["pol"], "policy-1");
    assert_eq!(payload(v01)["ect_ext"]["pol_decision"], "approved");
    for name in ["par", "ext", "pol", "pol_decision"] {
        assert!(payload(v01).get(name).is_none(), "{name}");
    }
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
        .filter(|c| matches!(c.status, Status::Fail(..)))
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(
        report.summary(),
        format!("{} passed, 0 failed", report.cases.len())
    );
    assert!(report.ok());
    // Strict scoring: no pass carries a note (every code matched, every http split compared).
    assert!(report.cases.iter().all(|c| c.status == Status::Pass(None)));
}

/// `claims/numeric-date/iat-negative-zero` lists `time.too_old` as its alternative code: the
/// same token with `iat` read as the integer 0 is rejected with exactly that code under the
/// vector's settings (TIME-1 and TIME-2 pass: `exp` is in the future).
#[test]
fn the_integer_reading_of_negative_zero_gives_the_alternative_code() {
    let (_, file) = files()
        .into_iter()
        .find(|(name, _)| name == "claims.json")
        .expect("claims.json");
    let v = file
        .vectors
        .iter()
        .find(|v| v.id == "claims/numeric-date/iat-negative-zero")
        .expect("the vector");
    assert_eq!(
        (v.result, v.code.as_deref(), v.alt_codes.as_slice()),
        (
            Verdict::Invalid,
            Some("claims.type"),
            &["time.too_old".to_owned()][..]
        )
    );
    let intermediate = v.intermediate.as_ref().expect("intermediate values");
    let payload = intermediate.payload.as_deref().expect("a payload");
    assert_eq!(payload.matches("\"iat\":-0,").count(), 1, "{payload}");
    let key = serde_json::to_vec(&file.keys["agent-a"]).expect("serializes");
    let key = wimse_ect::SigningKey::from_jwk_json(&key).expect("the vector's key");
    let mut case = v.case.clone();
    case.token = Some(wimse_ect::sign_raw(
        intermediate.header.as_deref().expect("a header").as_bytes(),
        payload.replace("\"iat\":-0,", "\"iat\":0,").as_bytes(),
        &key,
    ));
    let outcome = evaluate(&case).expect("a well-formed case");
    assert_eq!(
        outcome.error.map(|e| (e.code(), e.rule())),
        Some(("time.too_old", "ECT-TIME-4"))
    );
    // And the vector's own token, for the record: the float reading.
    let outcome = evaluate(&v.case).expect("a well-formed case");
    assert_eq!(
        outcome.error.map(|e| (e.code(), e.rule())),
        Some(("claims.type", "ECT-TIME-5"))
    );
}

// ---------------------------------------------------------------------------------------------
// The harness with external implementations (tiny shell programs). More, through the CLI and
// with adapters that answer right, in tests/harness.rs.
// ---------------------------------------------------------------------------------------------

/// The first `n` vectors.
fn first(n: usize) -> Vec<Loaded> {
    loaded().into_iter().take(n).collect()
}

fn external(script: &str, timeout_ms: u64) -> External {
    External::new(script, Duration::from_millis(timeout_ms))
}

fn failure(report: &harness::Report, i: usize) -> (Failure, &str) {
    match &report.cases[i].status {
        Status::Fail(f, why) => (*f, why.as_str()),
        other => panic!("case {i} did not fail: {other:?}"),
    }
}

#[test]
fn garbage_crash_and_hang_each_fail_their_case_and_the_run_goes_on() {
    let vectors = first(3);
    // Answers garbage to every line: ignored (protocol notes), so every case times out.
    let report = harness::run(
        &vectors,
        &mut external("while read l; do echo 'not json'; done", 300),
        &Xfails::default(),
    );
    assert_eq!((report.passed(), report.failed()), (0, 3));
    assert_eq!(report.failed_by(Failure::TimedOut), 3);
    assert_eq!(report.protocol.not_an_answer, 3);
    assert_eq!(report.protocol.notes[0].line, "not json");
    assert_eq!(report.protocol.notes[0].awaiting, vectors[0].vector.id);
    // Exits at once: every case fails as a crash (the program is restarted each time).
    let report = harness::run(&vectors, &mut external("exit 3", 5_000), &Xfails::default());
    assert_eq!(report.failed_by(Failure::Crashed), 3);
    let (_, why) = failure(&report, 2);
    assert!(why.contains("exited"), "{why}");
    // Hangs: each case times out.
    let report = harness::run(&vectors, &mut external("sleep 30", 200), &Xfails::default());
    assert_eq!(report.failed_by(Failure::TimedOut), 3);
    let (_, why) = failure(&report, 0);
    assert!(why.starts_with("no answer within 0.2 s"), "{why}");
}

/// A shell program answering every case with `result` and `unmapped` (and the case's id).
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
    assert_eq!(report.failed_by(Failure::WrongVerdict), 1);
    // "invalid"/unmapped to everything: both fail, the invalid one as unmapped.
    let report = harness::run(
        &both,
        &mut external(&answering("invalid"), 5_000),
        &Xfails::default(),
    );
    assert_eq!((report.passed(), report.failed()), (0, 2));
    assert_eq!(failure(&report, 0).0, Failure::WrongVerdict);
    assert_eq!(failure(&report, 1).0, Failure::Unmapped);
    assert!(!report.ok());
    // Verdict-only: the unmapped rejection passes, with a note saying the code was not
    // compared.
    let options = Options {
        scoring: Scoring::VerdictOnly,
        ..Options::default()
    };
    let report = harness::run_with(
        &both,
        &mut external(&answering("invalid"), 5_000),
        &Xfails::default(),
        &options,
        &mut std::io::sink(),
    );
    assert_eq!((report.passed(), report.failed()), (1, 1));
    assert!(
        matches!(&report.cases[1].status, Status::Pass(Some(n)) if n.starts_with("code unmapped not compared (verdict-only)"))
    );
    // Skips are neither passed nor failed, and a run without a pass is not ok.
    let report = harness::run(
        &both,
        &mut external(&answering("skip"), 5_000),
        &Xfails::default(),
    );
    assert_eq!(
        (report.passed(), report.failed(), report.skipped()),
        (0, 0, 2)
    );
    assert!(!report.ok());
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
    let (f, why) = failure(&report, 0);
    assert_eq!(f, Failure::UnexpectedPass);
    assert_eq!(
        why,
        "passed, but listed as an expected failure (claimed to fail)"
    );
}

#[test]
fn a_malformed_answer_for_the_awaited_case_is_a_protocol_error() {
    let vectors = first(2);
    // Right id, a `result` that is not one of the three.
    let script = r#"while read l; do id=$(printf '%s' "$l" | sed 's/^{"id":"\([^"]*\)".*/\1/'); printf '{"id":"%s","result":"maybe"}\n' "$id"; done"#;
    let report = harness::run(&vectors, &mut external(script, 5_000), &Xfails::default());
    assert_eq!(report.failed_by(Failure::Crashed), 2);
    let (_, why) = failure(&report, 0);
    assert!(
        why.starts_with("protocol error: a malformed answer"),
        "{why}"
    );
    assert_eq!(report.protocol.count(), 0);
}

#[test]
fn a_program_that_never_reads_stdin_cannot_block_the_runner() {
    // The biggest case lines (tokens at the 64 KiB limit) fill a pipe that nobody reads.
    let mut vectors = loaded();
    vectors
        .sort_by_key(|l| std::cmp::Reverse(serde_json::to_string(&l.vector.case).unwrap().len()));
    vectors.truncate(3);
    let started = std::time::Instant::now();
    let report = harness::run(&vectors, &mut external("sleep 30", 300), &Xfails::default());
    assert_eq!(report.failed_by(Failure::TimedOut), 3);
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn a_restart_kills_what_the_adapter_started() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    // Starts a background sleeper, records its pid, never answers.
    let script = format!(
        "sleep 30 & echo $! >> '{}'; while read l; do :; done",
        pids.display()
    );
    let report = harness::run(&first(2), &mut external(&script, 300), &Xfails::default());
    assert_eq!(report.failed_by(Failure::TimedOut), 2);
    let pids = std::fs::read_to_string(&pids).unwrap();
    let pids: Vec<&str> = pids.lines().collect();
    assert_eq!(
        pids.len(),
        2,
        "one program per case (restarted after the timeout)"
    );
    for pid in pids {
        let alive = || {
            std::process::Command::new("kill")
                .args(["-0", pid])
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap()
                .success()
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while alive() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!alive(), "sleeper {pid} outlived its adapter");
    }
}

#[test]
fn progress_and_the_first_ignored_line_go_to_the_log() {
    let vectors = first(2);
    let script = r#"echo 'hello from the adapter'; while read l; do id=$(printf '%s' "$l" | sed 's/^{"id":"\([^"]*\)".*/\1/'); printf '{"id":"%s","result":"skip"}\n' "$id"; done"#;
    let options = Options {
        progress_every: Duration::ZERO,
        ..Options::default()
    };
    let mut log = Vec::new();
    let report = harness::run_with(
        &vectors,
        &mut external(script, 5_000),
        &Xfails::default(),
        &options,
        &mut log,
    );
    assert_eq!(report.skipped(), 2);
    let log = String::from_utf8(log).unwrap();
    // A "waiting" line appears only when a progress tick falls while an answer is awaited,
    // which depends on the machine's load: such lines are checked for their form, the others
    // exactly.
    let (waiting, lines): (Vec<&str>, Vec<&str>) = log
        .lines()
        .partition(|l| l.contains(" cases done, waiting "));
    for w in &waiting {
        assert!(
            w.starts_with("ect conformance: 0/2 cases done, waiting ")
                || w.starts_with("ect conformance: 1/2 cases done, waiting "),
            "{w}"
        );
    }
    assert_eq!(
        lines,
        [
            format!(
                "ect conformance: ignored a stdout line (not an answer) while awaiting {}: hello \
                 from the adapter (every such line is counted under \"protocol notes\" in the \
                 report)",
                vectors[0].vector.id
            )
            .as_str(),
            "ect conformance: 1/2 cases done",
            "ect conformance: 2/2 cases done",
            "ect conformance: 2/2 cases done",
        ]
    );
}
