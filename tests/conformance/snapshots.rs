//! Snapshots of the reference implementation's verdict on every vector: result, code, rule and
//! decoded claims (or split tokens, or missing parents), one snapshot per vector file. Any
//! behaviour change shows as a reviewed diff of `tests/snapshots/`.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use wimse_ect_conformance::reference::evaluate;
use wimse_ect_conformance::vector::VectorFile;

#[test]
fn reference_verdicts_on_every_vector_file() {
    // The snapshots keep the name and place they had when this test was its own binary
    // (`tests/snapshots.rs`): `tests/snapshots/snapshots__<test>@<file>.snap`.
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    let _bound = settings.bind_to_scope();
    insta::glob!("../../vectors", "*.json", |path| {
        if let Some(verdicts) = verdicts(path) {
            insta::assert_json_snapshot!(
                "snapshots__reference_verdicts_on_every_vector_file",
                verdicts
            );
        }
    });
    // Profile draft-01's files (`vectors/draft-01/`): `snapshots__draft_01_verdicts@<file>`.
    insta::glob!("../../vectors/draft-01", "*.json", |path| {
        if let Some(verdicts) = verdicts(path) {
            insta::assert_json_snapshot!("snapshots__draft_01_verdicts", verdicts);
        }
    });
}

/// The reference's verdict on every vector of the file at `path`, by id (`None` for the
/// schema).
fn verdicts(path: &std::path::Path) -> Option<BTreeMap<String, Value>> {
    if path.file_name().is_some_and(|n| n == "schema.json") {
        return None;
    }
    let text = std::fs::read_to_string(path).expect("readable");
    let file: VectorFile = serde_json::from_str(&text).expect("a vector file");
    let verdicts = file
        .vectors
        .iter()
        .map(|v| {
            let o = evaluate(&v.case).expect("a well-formed case");
            let mut entry = json!({ "result": o.result });
            if let Some(e) = &o.error {
                entry["code"] = json!(e.code());
                entry["rule"] = json!(e.rule());
            }
            if let Some(c) = o.claims {
                entry["claims"] = c;
            }
            if !o.missing_parents.is_empty() {
                entry["missing_parents"] = json!(o.missing_parents);
            }
            if let Some(t) = o.tokens {
                entry["tokens"] = json!(t.len());
            }
            (v.id.clone(), entry)
        })
        .collect();
    Some(verdicts)
}
