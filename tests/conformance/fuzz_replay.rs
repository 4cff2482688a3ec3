//! Replays the fuzz targets' inputs through the same oracle functions on stable, without
//! libFuzzer (`wimse_ect_conformance::fuzz::TARGETS`): every seed made from the vectors of
//! both profiles, `vectors/` and `vectors/draft-01/` (as
//! `cargo run --example seed_corpora` writes them) and every committed input under
//! `fuzz/regressions/<target>/`. A finding of the nightly fuzz run (fuzz/nightly.sh) is
//! minimized and committed there, so it is checked on every `cargo test` from then on.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use wimse_ect_conformance::fuzz::{Seed, TARGETS, seeds};
use wimse_ect_conformance::harness::load;
use wimse_ect_conformance::profile_dir;
use wimse_ect_conformance::vector::ProfileName;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn oracle(target: &str) -> fn(&[u8]) {
    TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .unwrap_or_else(|| panic!("no fuzz target {target:?}"))
        .1
}

/// Runs every input, collecting failures instead of stopping at the first.
fn run_all(inputs: &[(String, &'static str, Vec<u8>)]) -> Vec<String> {
    let mut failures = Vec::new();
    for (origin, target, data) in inputs {
        let run = oracle(target);
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| run(data))) {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let why: String = why.chars().take(600).collect();
            failures.push(format!("{target} <- {origin}: {why}"));
        }
    }
    failures
}

#[test]
fn seeds_from_vectors() {
    let all: Vec<Seed> = seeds(&root().join("vectors")).expect("vectors/ reads");
    for (target, _) in TARGETS {
        assert!(
            all.iter().any(|s| s.target == *target),
            "no seed for {target}"
        );
    }
    // Seeds come from every profile's vectors, and the structured targets get draft-01 cases.
    for profile in ProfileName::ALL {
        let ids: Vec<String> = load(&profile_dir(&root().join("vectors"), profile))
            .expect("the profile's vectors load")
            .into_iter()
            .map(|l| l.vector.id)
            .collect();
        assert!(
            all.iter()
                .any(|s| s.target == "verify_bytes" && ids.contains(&s.origin)),
            "no verify_bytes seed from {profile}'s vectors"
        );
    }
    for target in ["verify_structured", "dag"] {
        assert_eq!(
            all.iter()
                .filter(|s| s.target == target && s.origin == "fixed draft-01")
                .count(),
            4,
            "{target}"
        );
    }
    let inputs: Vec<(String, &'static str, Vec<u8>)> = all
        .into_iter()
        .map(|s| (s.origin, s.target, s.data))
        .collect();
    let failures = run_all(&inputs);
    assert!(
        failures.is_empty(),
        "{} of {} seeds fail:\n{}",
        failures.len(),
        inputs.len(),
        failures.join("\n")
    );
}

/// Every file under `fuzz/regressions/<target>/` except README files and dotfiles.
fn regressions(dir: &Path) -> Vec<(String, &'static str, Vec<u8>)> {
    let mut out = Vec::new();
    for (target, _) in TARGETS {
        let Ok(entries) = std::fs::read_dir(dir.join(target)) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.map(|e| e.expect("readable").path()).collect();
        files.sort();
        for path in files {
            let name = path.file_name().expect("a file name").to_string_lossy();
            if name.starts_with('.') || name.ends_with(".md") || !path.is_file() {
                continue;
            }
            let data = std::fs::read(&path).expect("readable");
            out.push((format!("{target}/{name}"), *target, data));
        }
    }
    out
}

#[test]
fn committed_regressions() {
    let dir = root().join("fuzz").join("regressions");
    for (target, _) in TARGETS {
        assert!(
            dir.join(target).is_dir(),
            "fuzz/regressions/{target}/ is missing"
        );
    }
    let inputs = regressions(&dir);
    let failures = run_all(&inputs);
    assert!(
        failures.is_empty(),
        "{} of {} regression inputs fail:\n{}",
        failures.len(),
        inputs.len(),
        failures.join("\n")
    );
}

#[test]
fn seed_corpora_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    let n = wimse_ect_conformance::fuzz::seed_corpora(&root().join("vectors"), &a).unwrap();
    assert_eq!(
        wimse_ect_conformance::fuzz::seed_corpora(&root().join("vectors"), &b).unwrap(),
        n
    );
    let mut count = 0;
    for (target, _) in TARGETS {
        let list = |d: &Path| {
            let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(d.join(target))
                .unwrap()
                .map(|e| {
                    let p = e.unwrap().path();
                    let name = p.file_name().unwrap().to_string_lossy().into_owned();
                    (name, std::fs::read(&p).unwrap())
                })
                .collect();
            v.sort();
            v
        };
        let (la, lb) = (list(&a), list(&b));
        assert_eq!(la, lb, "{target}");
        for (name, data) in &la {
            assert_eq!(name.len(), 64, "hex SHA-256 names");
            assert_eq!(*name, sha256_hex(data));
        }
        count += la.len();
    }
    assert_eq!(count, n);
}

fn sha256_hex(data: &[u8]) -> String {
    // The base64url SHA-256 the crate exposes, re-encoded as hex.
    let b64 = wimse_ect::sha256_b64url(data);
    let bytes = wimse_ect::base64url::decode(b64.as_bytes()).unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
