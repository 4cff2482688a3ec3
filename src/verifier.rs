//! The stateful verifier: [`Verifier::verify`] (the stateless check, then ECT-RPL-1),
//! [`Verifier::verify_in`] (with the DAG rules against a store), [`Verifier::accept`] (the
//! acceptance pipeline into a ledger) and their batch forms.

use std::sync::Arc;

use crate::check::{VerifiedEct, check_token};
use crate::dag::DagOutcome;
use crate::error::{ConfigError, Error, Result};
use crate::keys::{KeyResolver, KeySet};
use crate::ledger::{Admission, Ledger, LedgerEntry};
use crate::policy::{Policy, ReplayProtection};
use crate::replay::{MemoryReplayCache, ReplayCache, ReplayKey};
use crate::store::{EctStore, StoredEct};

/// A token accepted into a ledger by [`Verifier::accept`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The new ledger entry.
    pub entry: Arc<LedgerEntry>,
    /// The DAG result: verified parents and, in partial mode, missing ones.
    pub dag: DagOutcome,
}

/// Verifies ECTs against a trusted key set and a [`Policy`].
pub struct Verifier<K: KeyResolver = KeySet> {
    keys: K,
    policy: Policy,
    replay: Option<Arc<dyn ReplayCache>>,
}

impl<K: KeyResolver> std::fmt::Debug for Verifier<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("policy", &self.policy)
            .field("replay", &self.replay.is_some())
            .finish_non_exhaustive()
    }
}

impl<K: KeyResolver> Verifier<K> {
    /// A verifier; refuses an invalid policy. With replay protection enabled it owns a fresh
    /// [`MemoryReplayCache`].
    pub fn new(keys: K, policy: Policy) -> Result<Self, ConfigError> {
        policy.validate()?;
        let replay: Option<Arc<dyn ReplayCache>> = match policy.replay {
            ReplayProtection::Enabled { max_entries: None } => {
                Some(Arc::new(MemoryReplayCache::new()))
            }
            ReplayProtection::Enabled {
                max_entries: Some(n),
            } => Some(Arc::new(MemoryReplayCache::with_max_entries(n))),
            ReplayProtection::Disabled => None,
        };
        Ok(Verifier {
            keys,
            policy,
            replay,
        })
    }

    /// Uses `cache` for ECT-RPL-1 (e.g. one shared by several verifiers), enabling replay
    /// protection if the policy disabled it.
    pub fn with_replay_cache(mut self, cache: Arc<dyn ReplayCache>) -> Self {
        self.replay = Some(cache);
        self
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The trusted keys.
    pub fn keys(&self) -> &K {
        &self.keys
    }

    /// Verifies `token` at time `now` (seconds since the epoch; this library never reads a
    /// clock), running SPEC.md's checks in SPEC.md's order and recording the token in the
    /// replay cache last. A rejected token records nothing.
    pub fn verify(&self, token: impl AsRef<[u8]>, now: u64) -> Result<VerifiedEct> {
        let verified = self.verify_stateless(token.as_ref(), now)?;
        // ECT-RPL-1: last, atomically, only for a token that passed everything else.
        self.record(&verified, now)?;
        Ok(verified)
    }

    /// Verifies `token` and checks it against `store` without appending it anywhere: for a
    /// token whose parents arrived with it (for example a [`crate::TokenStore`] of parent
    /// tokens verified first). Runs §2–§6 except ECT-RPL-1, then ECT-DAG-1..6 with
    /// `policy.dag`, then ECT-RPL-1 last; a rejected token records nothing.
    pub fn verify_in<S: EctStore + ?Sized>(
        &self,
        token: impl AsRef<[u8]>,
        now: u64,
        store: &S,
    ) -> Result<(VerifiedEct, DagOutcome)> {
        let verified = self.verify_stateless(token.as_ref(), now)?;
        let outcome = self
            .policy
            .dag
            .validate(&self.policy.profile, verified.claims(), store)?;
        self.record(&verified, now)?;
        Ok((verified, outcome))
    }

    /// ECT-RPL-1: records a token that passed every other check.
    fn record(&self, verified: &VerifiedEct, now: u64) -> Result<()> {
        if let Some(cache) = &self.replay {
            let claims = verified.claims();
            cache.check_and_record(&ReplayKey::of(claims), self.expiry(claims.exp), now)?;
        }
        Ok(())
    }

    /// The acceptance pipeline (SPEC.md §1): verifies `token` at time `now` (§2–§6 except
    /// ECT-RPL-1), checks it against `ledger` with `policy.dag` (§7), appends it to `ledger`
    /// (§8) and records it in the replay cache (ECT-RPL-1).
    ///
    /// The DAG check, the replay record and the append happen atomically (under the ledger's
    /// write lock, or in one database transaction: [`Ledger`], "The contract of a backend"),
    /// so of N concurrent accepts of one `jti`, from any number of threads or processes
    /// sharing the ledger, exactly one succeeds (the others fail `dag.duplicate_jti`). A
    /// rejection leaves the ledger and the replay cache as they were: the replay record is made after every check passed and is withdrawn if the
    /// append itself then fails (`ledger.io`), so the cache never remembers a token the ledger
    /// does not hold, and a token whose replay record fails is never appended.
    pub fn accept<L: Ledger + ?Sized>(
        &self,
        token: impl AsRef<[u8]>,
        now: u64,
        ledger: &L,
    ) -> Result<Accepted> {
        // SPEC.md §2–§6, every check before ECT-RPL-1.
        let verified = self.verify_stateless(token.as_ref(), now)?;
        self.admit(vec![verified], now, ledger)
            .pop()
            .expect("one result per token")
    }

    /// [`Verifier::verify`] of every token in `tokens`, with the same results, in the same
    /// order, as calling it on each token in turn, but with the checks that depend on nothing
    /// but the token (SPEC.md §2–§6 except ECT-RPL-1: decoding, the ES256 signature, claims,
    /// time, audience) spread across rayon's thread pool with the cargo feature `rayon` (one
    /// token after another without it). The replay checks (ECT-RPL-1) then run in input order
    /// as one [`ReplayCache::check_and_record_batch`] (one round trip to a shared cache), so a
    /// token repeated within the batch is accepted once, at its first position, exactly as in
    /// sequential calls. The results never depend on the feature.
    ///
    /// With `rayon`, `rayon::ThreadPool::install` chooses the threads; by default all cores.
    pub fn verify_batch<T: AsRef<[u8]> + Sync>(
        &self,
        tokens: &[T],
        now: u64,
    ) -> Vec<Result<VerifiedEct>> {
        let mut results = self.stateless_batch(tokens, now);
        let Some(cache) = &self.replay else {
            return results;
        };
        let passed: Vec<usize> = (0..results.len()).filter(|&i| results[i].is_ok()).collect();
        let records: Vec<(ReplayKey, u64)> = passed
            .iter()
            .map(|&i| {
                let claims = results[i].as_ref().expect("passed").claims();
                (ReplayKey::of(claims), self.expiry(claims.exp))
            })
            .collect();
        let mut recorded = cache.check_and_record_batch(&records, now);
        if recorded.len() != records.len() {
            // A cache that does not answer for every record has not recorded them: fail closed.
            let why = format!(
                "the replay cache answered {} of {} records",
                recorded.len(),
                records.len()
            );
            recorded = vec![Err(Error::ReplayUnavailable(why)); records.len()];
        }
        for (i, r) in passed.into_iter().zip(recorded) {
            if let Err(e) = r {
                results[i] = Err(e);
            }
        }
        results
    }

    /// [`Verifier::accept`] of every token in `tokens` into `ledger`, in order, with the same
    /// verdicts as calling it on each token in turn: the checks that depend on nothing but the
    /// token run in parallel first (as in [`Verifier::verify_batch`]); the DAG rules, the
    /// replay record and the append then run one token at a time in input order, in one
    /// [`Ledger::append`] call, so a token may name a parent accepted earlier in the same
    /// batch and a database ledger commits the batch once (group commit). Every result is
    /// returned after that commit; if it fails, every token of the batch that passed its
    /// checks gets the storage error and its replay record is withdrawn.
    pub fn accept_batch<T: AsRef<[u8]> + Sync, L: Ledger + ?Sized>(
        &self,
        tokens: &[T],
        now: u64,
        ledger: &L,
    ) -> Vec<Result<Accepted>> {
        let checked = self.stateless_batch(tokens, now);
        let mut results: Vec<Option<Result<Accepted>>> = Vec::with_capacity(checked.len());
        let mut candidates = Vec::new();
        let mut positions = Vec::new();
        for (i, c) in checked.into_iter().enumerate() {
            match c {
                Ok(verified) => {
                    candidates.push(verified);
                    positions.push(i);
                    results.push(None);
                }
                Err(e) => results.push(Some(Err(e))),
            }
        }
        for (pos, accepted) in positions
            .into_iter()
            .zip(self.admit(candidates, now, ledger))
        {
            results[pos] = Some(accepted);
        }
        results
            .into_iter()
            .map(|r| r.expect("every token has a result"))
            .collect()
    }

    /// SPEC.md §2–§6 except ECT-RPL-1 for each token, results in input order: in parallel with
    /// the cargo feature `rayon`, one after another without it.
    fn stateless_batch<T: AsRef<[u8]> + Sync>(
        &self,
        tokens: &[T],
        now: u64,
    ) -> Vec<Result<VerifiedEct>> {
        let check = |t: &T| self.verify_stateless(t.as_ref(), now);
        #[cfg(feature = "rayon")]
        {
            use rayon::prelude::*;
            tokens.par_iter().map(check).collect()
        }
        #[cfg(not(feature = "rayon"))]
        {
            tokens.iter().map(check).collect()
        }
    }

    /// `exp + leeway`: until when a token's replay record must live.
    fn expiry(&self, exp: u64) -> u64 {
        exp.saturating_add(self.policy.leeway_seconds)
    }

    /// The stateful end of [`Verifier::accept`] and [`Verifier::accept_batch`] for tokens
    /// that passed SPEC.md §2–§6 except ECT-RPL-1 at `now`: for each, in order, the DAG rules
    /// and the replay record, atomically with its append ([`Ledger::append`]). The replay
    /// record of a token whose entry did not become durable is withdrawn.
    pub(crate) fn admit<L: Ledger + ?Sized>(
        &self,
        verified: Vec<VerifiedEct>,
        now: u64,
        ledger: &L,
    ) -> Vec<Result<Accepted>> {
        if verified.is_empty() {
            return Vec::new();
        }
        // The ledger reads its tokens back under its own profile: appending another
        // profile's tokens would store what it cannot read. Nothing is checked or recorded.
        if let Err(e) = self.same_profile(ledger) {
            return verified.iter().map(|_| Err(e.clone())).collect();
        }
        let replay: Vec<(ReplayKey, u64)> = verified
            .iter()
            .map(|v| (ReplayKey::of(v.claims()), self.expiry(v.claims().exp)))
            .collect();
        let candidates: Vec<StoredEct> = verified.into_iter().map(StoredEct::from).collect();
        let n = candidates.len();
        let mut outcomes: Vec<Option<DagOutcome>> = vec![None; n];
        let mut recorded = vec![false; n];
        let results = {
            let mut check = |i: usize, store: &dyn EctStore, ect: &StoredEct| -> Result<()> {
                let (key, expires_at) = replay.get(i).ok_or_else(|| {
                    Error::LedgerIo(format!("the ledger admitted candidate {i} of {n}"))
                })?;
                // SPEC.md §7: ECT-DAG-1..6 against the ledger's current contents.
                outcomes[i] = Some(self.policy.dag.validate(
                    &self.policy.profile,
                    ect.claims(),
                    store,
                )?);
                // ECT-RPL-1: last.
                if let Some(cache) = &self.replay {
                    cache.check_and_record(key, *expires_at, now)?;
                    recorded[i] = true;
                }
                Ok(())
            };
            let mut admission = Admission::new(&mut check);
            ledger.append(candidates, now, &mut admission)
        };
        let mut results: Vec<Result<Accepted>> = results
            .into_iter()
            .zip(outcomes)
            .map(|(r, outcome)| {
                let entry = r?;
                let dag = outcome.ok_or_else(|| {
                    Error::LedgerIo(format!(
                        "the ledger appended entry {} without checking it",
                        entry.seq()
                    ))
                })?;
                Ok(Accepted { entry, dag })
            })
            .collect();
        // A backend that returned fewer results than candidates failed the rest.
        while results.len() < n {
            results.push(Err(Error::LedgerIo(
                "the ledger returned no result for this token".into(),
            )));
        }
        results.truncate(n);
        if let Some(cache) = &self.replay {
            for (i, r) in results.iter().enumerate() {
                if r.is_err() && recorded[i] {
                    cache.forget(&replay[i].0);
                }
            }
        }
        results
    }

    /// `ledger.profile` unless `ledger` reads tokens under this verifier's profile.
    pub(crate) fn same_profile<L: Ledger + ?Sized>(&self, ledger: &L) -> Result<()> {
        let held = ledger.profile();
        if held != self.policy.profile {
            return Err(Error::LedgerProfile {
                ledger: held.name,
                verifier: self.policy.profile.name,
            });
        }
        Ok(())
    }

    /// Every check except ECT-RPL-1. Crate-internal: a public way to skip the replay check
    /// would be a trap.
    pub(crate) fn verify_stateless(&self, token: &[u8], now: u64) -> Result<VerifiedEct> {
        check_token(
            &self.policy,
            Some(&self.keys as &dyn KeyResolver),
            token,
            Some(now),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CreateMode, EctBuilder, FileLedger, KeySet, SigningKey};

    const NOW: u64 = 1_772_000_000;
    const AUD: &str = "spiffe://example.org/b";

    /// A failed append (a partial line written, then an I/O error) is `ledger.io`; the file is
    /// cut back to its last acknowledged entry, the ledger and the replay cache are unchanged,
    /// and the same token is accepted once the storage works again (so its replay record was
    /// withdrawn).
    #[test]
    fn a_failed_write_changes_nothing() {
        let key = SigningKey::from_scalar_bytes("a", &[7; 32]).unwrap();
        let keys = KeySet::from_keys([key.trusted(None)]).unwrap();
        let cache = Arc::new(MemoryReplayCache::new());
        let verifier = Verifier::new(keys, Policy::new(AUD))
            .unwrap()
            .with_replay_cache(cache.clone());
        let token = |jti: &str| {
            EctBuilder::new("spiffe://example.org/a", "step")
                .audience(AUD)
                .jti(jti)
                .issued_at(NOW)
                .expires_at(NOW + 600)
                .sign(&key)
                .unwrap()
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("failing.jsonl");
        let ledger = FileLedger::open(&path).unwrap();
        let first = token("6ba7b810-9dad-11d1-80b4-00c04fd430c8");
        verifier.accept(&first, NOW, &ledger).unwrap();
        let before = std::fs::read(&path).unwrap();
        let head = ledger.head();

        let second = token("6ba7b811-9dad-11d1-80b4-00c04fd430c8");
        for cut in [0, 1, 40, usize::MAX] {
            ledger.fail_writes_after(Some(cut));
            let err = verifier.accept(&second, NOW, &ledger).unwrap_err();
            assert_eq!(err.code(), "ledger.io");
            assert!(err.message().ends_with("injected write failure"), "{err}");
            assert_eq!((ledger.len(), ledger.head()), (1, head));
            assert_eq!(cache.len(), 1);
            assert_eq!(std::fs::read(&path).unwrap(), before);
        }

        ledger.fail_writes_after(None);
        let accepted = verifier.accept(&second, NOW, &ledger).unwrap();
        assert_eq!(accepted.entry.seq(), 1);
        assert_eq!(cache.len(), 2);
        drop(ledger);
        let reopened = FileLedger::open(&path).unwrap();
        assert_eq!((reopened.len(), reopened.torn_tail()), (2, None));
    }

    /// `CreateMode::OnFirstAppend`: a first append whose write fails removes the file it
    /// created, so the failure leaves nothing behind; the next append creates it again.
    #[test]
    fn a_failed_first_append_removes_the_file_it_created() {
        let key = SigningKey::from_scalar_bytes("a", &[7; 32]).unwrap();
        let keys = KeySet::from_keys([key.trusted(None)]).unwrap();
        let verifier = Verifier::new(keys, Policy::new(AUD)).unwrap();
        let token = EctBuilder::new("spiffe://example.org/a", "step")
            .audience(AUD)
            .jti("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
            .issued_at(NOW)
            .expires_at(NOW + 600)
            .sign(&key)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lazy.jsonl");
        let ledger = FileLedger::open_with(&path, CreateMode::OnFirstAppend).unwrap();
        for cut in [0, 10] {
            ledger.fail_writes_after(Some(cut));
            let err = verifier.accept(&token, NOW, &ledger).unwrap_err();
            assert_eq!(err.code(), "ledger.io");
            assert!(err.message().ends_with("injected write failure"), "{err}");
            assert_eq!(ledger.len(), 0);
            assert!(!path.exists(), "cut {cut}");
        }
        ledger.fail_writes_after(None);
        let accepted = verifier.accept(&token, NOW, &ledger).unwrap();
        let mut line = accepted.entry.to_line().into_bytes();
        line.push(b'\n');
        assert_eq!(std::fs::read(&path).unwrap(), line);
    }

    #[test]
    fn policy_validation() {
        let keys = KeySet::new();
        assert!(Verifier::new(keys.clone(), Policy::new("a")).is_ok());
        let mut p = Policy::new("");
        assert_eq!(
            Verifier::new(keys.clone(), p.clone())
                .unwrap_err()
                .message(),
            "audience must be a non-empty string"
        );
        p.audience = "a".into();
        p.algorithms.clear();
        assert_eq!(
            Verifier::new(keys.clone(), p).unwrap_err().message(),
            "the algorithm allowlist is empty"
        );
        let mut p = Policy::new("a");
        p.leeway_seconds = 601;
        assert_eq!(
            Verifier::new(keys, p).unwrap_err().message(),
            "leeway_seconds = 601 is outside 0..=600"
        );
    }
}
