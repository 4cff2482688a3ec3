//! The reference implementation's answer to a [`Case`]: this crate's verifier, key loader,
//! `Execution-Context` parser and ledger reader.

use serde_json::Value;

use super::vector::{AnswerResult, Case, DagModeSetting, Kind, Mode, Settings};
use wimse_ect::Claims;
use wimse_ect::DagMode;
use wimse_ect::Error;
use wimse_ect::KeySet;
use wimse_ect::TokenStore;
use wimse_ect::http::parse_field_values;
use wimse_ect::{FileLedger, MemoryLedger};
use wimse_ect::{Policy, ReplayProtection, Verifier};

/// What the reference implementation made of a case.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Accepted or rejected (never `skip`).
    pub result: AnswerResult,
    /// The rejection, if any.
    pub error: Option<Error>,
    /// `token` cases that were accepted: the verified claims as JSON, and the parents a
    /// partial-mode check listed as missing.
    pub claims: Option<Value>,
    /// Missing parents (partial mode), in `par` order.
    pub missing_parents: Vec<String>,
    /// `http` cases that parsed: the tokens.
    pub tokens: Option<Vec<String>>,
}

impl Outcome {
    fn accepted() -> Self {
        Outcome {
            result: AnswerResult::Valid,
            error: None,
            claims: None,
            missing_parents: Vec::new(),
            tokens: None,
        }
    }

    fn rejected(error: Error) -> Self {
        Outcome {
            result: AnswerResult::Invalid,
            error: Some(error),
            ..Self::accepted()
        }
    }

    /// The error code of a rejection.
    pub fn code(&self) -> Option<&'static str> {
        self.error.as_ref().map(Error::code)
    }
}

/// The policy a case's settings describe.
pub fn policy(s: &Settings) -> Policy {
    let mut p = Policy::new(s.audience.clone());
    p.profile = s.profile.profile();
    p.leeway_seconds = s.leeway;
    p.max_iat_age_seconds = s.max_iat_age;
    p.max_par = s.max_par;
    p.max_token_bytes = s.max_token_bytes;
    p.dag.skew_seconds = s.skew;
    p.dag.ancestor_budget = s.ancestor_budget;
    p.dag.mode = match s.dag {
        DagModeSetting::Strict => DagMode::Strict,
        DagModeSetting::Partial => DagMode::Partial,
    };
    p
}

/// Evaluates `case` with the reference implementation. `Err` means the case itself is broken
/// (settings out of range, a `before` or `store` token that is not accepted), not a verdict.
pub fn evaluate(case: &Case) -> Result<Outcome, String> {
    let jwks = serde_json::to_vec(&case.jwks).expect("a JSON value serializes");
    let keys = KeySet::from_jwks_json(&jwks);
    match case.kind {
        Kind::Jwks => Ok(match keys {
            Ok(_) => Outcome::accepted(),
            Err(e) => Outcome::rejected(e),
        }),
        Kind::Http => {
            let lines = case.field_lines.iter().map(|l| l.as_bytes());
            Ok(
                match parse_field_values(lines, case.settings.max_field_bytes) {
                    Ok(tokens) => Outcome {
                        tokens: Some(tokens),
                        ..Outcome::accepted()
                    },
                    Err(e) => Outcome::rejected(e),
                },
            )
        }
        Kind::Ledger => {
            let text = case
                .ledger
                .as_deref()
                .ok_or("a ledger case without `ledger`")?;
            read_ledger(text.as_bytes(), case.settings.profile.profile())
        }
        Kind::Token => {
            let keys = keys.map_err(|e| format!("the trusted key set does not load: {e}"))?;
            let token = case
                .token
                .as_deref()
                .ok_or("a token case without `token`")?;
            verify_token(case, keys, token)
        }
    }
}

/// Writes the vector's file into a fresh temporary directory and reads it with
/// [`FileLedger::read_profile`], the API a user calls. The directory comes from `tempfile`: a random
/// name, created exclusively, so no other local user can have prepared it (a predictable,
/// reused directory let anyone plant a symlink `ledger.jsonl` and have this write through it).
fn read_ledger(bytes: &[u8], profile: wimse_ect::Profile) -> Result<Outcome, String> {
    let dir = tempfile::Builder::new()
        .prefix("wimse-ect-vector-")
        .tempdir()
        .map_err(|e| format!("temporary directory: {e}"))?;
    let path = dir.path().join("ledger.jsonl");
    std::fs::write(&path, bytes).map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(match FileLedger::read_profile(&path, profile) {
        Ok(_) => Outcome::accepted(),
        Err(e) => Outcome::rejected(e),
    })
}

fn verify_token(case: &Case, keys: KeySet, token: &str) -> Result<Outcome, String> {
    let s = &case.settings;
    let policy = policy(s);
    let verifier =
        Verifier::new(keys.clone(), policy.clone()).map_err(|e| format!("settings: {e}"))?;
    let setup = |i: usize, e: Error| format!("`before`/`store` token {i} is not accepted: {e}");
    // The verified claims and the missing parents, or the rejection.
    let result: Result<(Claims, Vec<String>), Error> = match case.mode.unwrap_or(Mode::Verify) {
        Mode::Verify => {
            for (i, t) in case.before.iter().enumerate() {
                verifier.verify(t, s.now).map_err(|e| setup(i, e))?;
            }
            verifier
                .verify(token, s.now)
                .map(|v| (v.claims().clone(), Vec::new()))
        }
        Mode::Ledger => {
            let ledger = MemoryLedger::with_profile(policy.profile);
            for (i, t) in case.before.iter().enumerate() {
                verifier
                    .accept(t, s.now, &ledger)
                    .map_err(|e| setup(i, e))?;
            }
            verifier
                .accept(token, s.now, &ledger)
                .map(|a| (a.entry.ect().claims().clone(), a.dag.missing_parents))
        }
        Mode::Store => {
            let mut store_policy = policy.clone();
            store_policy.replay = ReplayProtection::Disabled;
            let store_verifier =
                Verifier::new(keys, store_policy).map_err(|e| format!("settings: {e}"))?;
            let mut store = TokenStore::new();
            for (i, t) in case.store.iter().enumerate() {
                store.insert(store_verifier.verify(t, s.now).map_err(|e| setup(i, e))?);
            }
            verifier
                .verify_in(token, s.now, &store)
                .map(|(v, dag)| (v.claims().clone(), dag.missing_parents))
        }
    };
    Ok(match result {
        Ok((claims, missing_parents)) => Outcome {
            claims: Some(Value::Object(claims.to_json(&policy.profile))),
            missing_parents,
            ..Outcome::accepted()
        },
        Err(e) => Outcome::rejected(e),
    })
}
