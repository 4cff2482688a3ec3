//! The simple model (`wimse_ect_conformance::model`) against every `token` vector of both
//! profiles (`vectors/` for `draft-00`, `vectors/draft-01/` for `draft-01`,
//! `wimse_ect_conformance::profile_dir`), each under the profile its settings name:
//! the model must give each vector's expected result (for an `acceptable` vector, the
//! reference's choice) with exactly its code, and for an accepted token exactly the claims the
//! reference returns. The fuzzers compare the model with the verifier, so any disagreement
//! here is a bug in one of them.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use wimse_ect_conformance::harness::{Loaded, load};
use wimse_ect_conformance::model::{
    ModelLedger, ModelSettings, ModelVerifier, keys_from_jwks, verify_in_store,
};
use wimse_ect_conformance::profile_dir;
use wimse_ect_conformance::reference::evaluate;
use wimse_ect_conformance::vector::{Case, Kind, Mode, ProfileName, Vector, Verdict};

/// Each profile's vector directory and its loaded vectors. A profile whose directory is
/// missing or holds no vector fails the test: it is never skipped.
fn every_profile() -> Vec<(ProfileName, PathBuf, Vec<Loaded>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors");
    ProfileName::ALL
        .into_iter()
        .map(|p| {
            let dir = profile_dir(&root, p);
            assert!(dir.is_dir(), "{p}: {} is missing", dir.display());
            let vectors = load(&dir).unwrap_or_else(|e| panic!("{p}: {e}"));
            assert!(!vectors.is_empty(), "{p}: no vectors in {}", dir.display());
            for l in &vectors {
                assert_eq!(
                    l.vector.case.settings.profile, p,
                    "{}: in {}'s directory",
                    l.vector.id, p
                );
            }
            (p, dir, vectors)
        })
        .collect()
}

/// Runs a token vector's case through the model in the vector's mode: the claims of the
/// accepted token, or the error code. `Err(Err(why))` when a `before` token is refused.
type ModelResult = Result<Option<Map<String, Value>>, &'static str>;

fn run_model(case: &Case) -> Result<ModelResult, String> {
    let keys = keys_from_jwks(&case.jwks).ok_or("the model does not load the key set")?;
    let s = ModelSettings::from(&case.settings);
    let token = case.token.as_deref().ok_or("no token")?.as_bytes();
    let refused = |i: usize, code: &str| format!("`before` token {i} refused: {code}");
    Ok(match case.mode.unwrap_or(Mode::Verify) {
        Mode::Verify => {
            let mut verifier = ModelVerifier::new();
            for (i, t) in case.before.iter().enumerate() {
                verifier
                    .verify(t.as_bytes(), &keys, &s)
                    .map_err(|code| refused(i, code))?;
            }
            verifier.verify(token, &keys, &s).map(Some)
        }
        Mode::Ledger => {
            let mut ledger = ModelLedger::new();
            for (i, t) in case.before.iter().enumerate() {
                ledger
                    .accept(t.as_bytes(), &keys, &s)
                    .map_err(|code| refused(i, code))?;
            }
            // The ledger returns no claims; they are compared through `verify` below.
            ledger.accept(token, &keys, &s).map(|()| None)
        }
        Mode::Store => {
            let store: Vec<&[u8]> = case.store.iter().map(|t| t.as_bytes()).collect();
            verify_in_store(token, &store, &keys, &s).map(Some)
        }
    })
}

/// The expected outcome of a vector: `None` for accepted, the code for rejected.
fn expected(v: &Vector) -> Option<&str> {
    let verdict = match v.result {
        Verdict::Acceptable => v
            .reference
            .expect("an acceptable vector names the reference"),
        other => other,
    };
    match verdict {
        Verdict::Valid => None,
        _ => Some(v.code.as_deref().expect("a rejection has a code")),
    }
}

#[test]
fn model_agrees_with_every_token_vector() {
    for (profile, dir, vectors) in every_profile() {
        model_agrees_with(profile, &dir, &vectors);
    }
}

fn model_agrees_with(profile: ProfileName, dir: &Path, vectors: &[Loaded]) {
    let mut disagreements = Vec::new();
    let mut checked = 0;
    for loaded in vectors.iter().filter(|l| l.vector.case.kind == Kind::Token) {
        let v = &loaded.vector;
        checked += 1;
        let got = match run_model(&v.case) {
            Ok(got) => got,
            Err(why) => {
                disagreements.push(format!("{}: {why}", v.id));
                continue;
            }
        };
        let want = expected(v);
        match (&got, want) {
            (Err(code), Some(want)) if *code == want => {}
            (Ok(claims), None) => {
                // Accepted as expected: the claims are the reference's.
                let reference = evaluate(&v.case).unwrap().claims;
                if let Some(claims) = claims
                    && Some(Value::Object(claims.clone())) != reference
                {
                    disagreements.push(format!(
                        "{}: claims {claims:?}, reference {reference:?}",
                        v.id
                    ));
                }
            }
            _ => disagreements.push(format!(
                "{}: model {}, expected {}",
                v.id,
                got.map_or_else(|c| format!("invalid {c}"), |_| "valid".to_owned()),
                want.map_or_else(|| "valid".to_owned(), |c| format!("invalid {c}"))
            )),
        }
    }
    assert!(
        checked > 400,
        "{profile}: only {checked} token vectors in {}",
        dir.display()
    );
    assert_eq!(
        disagreements.len(),
        0,
        "{profile}: {} of {checked} token vectors disagree:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}

#[test]
fn model_keys_follow_the_key_set_rules() {
    // Every key set of a token vector loads; the `jwks` vectors the reference accepts load,
    // the ones it refuses do not.
    let mut disagreements = Vec::new();
    let all: Vec<Loaded> = every_profile()
        .into_iter()
        .flat_map(|(_, _, v)| v)
        .collect();
    for loaded in &all {
        let v = &loaded.vector;
        let loads = keys_from_jwks(&v.case.jwks).is_some();
        let want = match v.case.kind {
            Kind::Token => true,
            Kind::Jwks => expected(v).is_none(),
            _ => continue,
        };
        if loads != want {
            disagreements.push(format!("{}: loads {loads}, expected {want}", v.id));
        }
    }
    assert_eq!(disagreements, Vec::<String>::new());
}
