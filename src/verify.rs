//! The verifier: SPEC.md §2–§6 in SPEC.md's order of checks, configured by a [`Policy`].

use std::ffi::OsString;
use std::sync::Arc;

use crate::claims::{ClaimLimits, Claims, DEFAULT_MAX_PAR, UncheckedClaims};
use crate::dag::{ANCESTOR_BUDGET_RANGE, DagOutcome, DagValidator, SKEW_RANGE};
use crate::error::{ConfigError, Error, Result, check_range};
use crate::header::{Algorithm, Header};
use crate::json::parse_object;
use crate::jws::{DEFAULT_MAX_TOKEN_BYTES, split};
use crate::keys::{KeyResolver, KeySet};
use crate::ledger::{Ledger, LedgerEntry};
use crate::profile::{DRAFT_00, Profile};
use crate::replay::{MemoryReplayCache, ReplayCache, ReplayKey};
use crate::store::{EctStore, StoredEct};

/// Default clock leeway in seconds (SPEC.md §6).
pub const DEFAULT_LEEWAY_SECONDS: u64 = 30;
/// Default maximum age of `iat` in seconds (SPEC.md §6).
pub const DEFAULT_MAX_IAT_AGE_SECONDS: u64 = 900;

/// Accepted range of [`Policy::leeway_seconds`].
pub const LEEWAY_RANGE: std::ops::RangeInclusive<u64> = 0..=600;
/// Accepted range of [`Policy::max_iat_age_seconds`].
pub const MAX_IAT_AGE_RANGE: std::ops::RangeInclusive<u64> = 1..=86_400;
/// Accepted range of [`Policy::max_par`].
pub const MAX_PAR_RANGE: std::ops::RangeInclusive<usize> = 0..=10_000;
/// Accepted range of [`Policy::max_token_bytes`].
pub const MAX_TOKEN_BYTES_RANGE: std::ops::RangeInclusive<usize> = 256..=1_048_576;
/// Accepted range of a replay cache's maximum entry count.
pub const REPLAY_CACHE_SIZE_RANGE: std::ops::RangeInclusive<usize> = 1..=100_000_000;

/// Environment variable for [`Policy::audience`].
pub const ENV_AUDIENCE: &str = "ECT_AUDIENCE";
/// Environment variable for [`Policy::leeway_seconds`].
pub const ENV_LEEWAY_SECONDS: &str = "ECT_LEEWAY_SECONDS";
/// Environment variable for [`Policy::max_iat_age_seconds`].
pub const ENV_MAX_IAT_AGE_SECONDS: &str = "ECT_MAX_IAT_AGE_SECONDS";
/// Environment variable for [`Policy::max_par`].
pub const ENV_MAX_PAR: &str = "ECT_MAX_PAR";
/// Environment variable for [`Policy::max_token_bytes`].
pub const ENV_MAX_TOKEN_BYTES: &str = "ECT_MAX_TOKEN_BYTES";
/// Environment variable for the maximum entry count of the in-memory replay cache.
pub const ENV_REPLAY_CACHE_SIZE: &str = "ECT_REPLAY_CACHE_SIZE";
/// Environment variable for [`DagValidator::skew_seconds`].
pub const ENV_SKEW_SECONDS: &str = "ECT_SKEW_SECONDS";
/// Environment variable for [`DagValidator::ancestor_budget`].
pub const ENV_ANCESTOR_BUDGET: &str = "ECT_ANCESTOR_BUDGET";

/// Whether the verifier refuses a `jti` it has already accepted (ECT-RPL-1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayProtection {
    /// Record accepted tokens in an in-memory cache (the default), optionally bounded.
    /// See [`MemoryReplayCache`] for what happens when it is full.
    Enabled {
        /// Maximum live entries; `None` is bounded by expiry only.
        max_entries: Option<usize>,
    },
    /// No replay check. Only for one-shot verification of a single token (the CLI) or when
    /// the caller checks replay itself, e.g. against a ledger.
    Disabled,
}

/// Verifier settings. Start from [`Policy::new`] (SPEC.md's defaults) and change fields;
/// [`Verifier::new`] checks every value and refuses out-of-range ones.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// This verifier's own identifier, which must appear in `aud` (ECT-AUD-1). Required.
    pub audience: String,
    /// Clock leeway in seconds for ECT-TIME-2 and ECT-TIME-3 (default 30, range 0..=600).
    pub leeway_seconds: u64,
    /// Maximum age of `iat` in seconds for ECT-TIME-4 (default 900, range 1..=86400).
    pub max_iat_age_seconds: u64,
    /// Maximum number of `par` elements for ECT-CLM-10 (default 100, range 0..=10000).
    pub max_par: usize,
    /// Maximum token length in bytes for ECT-JWS-1 (default 65536, range 256..=1048576).
    pub max_token_bytes: usize,
    /// Allowed `alg` values for ECT-HDR-2 (default exactly ES256; must not be empty).
    pub algorithms: Vec<Algorithm>,
    /// Replay protection for ECT-RPL-1 (default enabled, unbounded but expiring).
    pub replay: ReplayProtection,
    /// The draft revision whose claim names and `typ` are used (default `draft-00`).
    pub profile: Profile,
    /// DAG validation settings for [`Verifier::accept`] (SPEC.md §7; default strict, 30 s
    /// skew, ancestor budget 10 000).
    pub dag: DagValidator,
}

impl Policy {
    /// SPEC.md's defaults for a verifier whose identifier is `audience`.
    pub fn new(audience: impl Into<String>) -> Self {
        Policy {
            audience: audience.into(),
            leeway_seconds: DEFAULT_LEEWAY_SECONDS,
            max_iat_age_seconds: DEFAULT_MAX_IAT_AGE_SECONDS,
            max_par: DEFAULT_MAX_PAR,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            algorithms: vec![Algorithm::Es256],
            replay: ReplayProtection::Enabled { max_entries: None },
            profile: DRAFT_00,
            dag: DagValidator::new(),
        }
    }

    /// The defaults, overridden by the `ECT_*` environment variables that are set.
    ///
    /// `audience` (e.g. a command-line flag) wins over `ECT_AUDIENCE`; with neither, this is a
    /// configuration error. Variables: `ECT_AUDIENCE`, `ECT_LEEWAY_SECONDS`,
    /// `ECT_MAX_IAT_AGE_SECONDS`, `ECT_MAX_PAR`, `ECT_MAX_TOKEN_BYTES`, `ECT_REPLAY_CACHE_SIZE`,
    /// `ECT_SKEW_SECONDS`, `ECT_ANCESTOR_BUDGET`.
    /// A set variable that is not a decimal integer in its range is an error naming it, never a
    /// silent default.
    pub fn from_env(audience: Option<&str>) -> Result<Self, ConfigError> {
        Self::from_vars(audience, |name| std::env::var_os(name))
    }

    /// Like [`Policy::from_env`], reading variables through `lookup` (for tests and embedders).
    pub fn from_vars(
        audience: Option<&str>,
        lookup: impl Fn(&str) -> Option<OsString>,
    ) -> Result<Self, ConfigError> {
        let text = |name: &str| -> Result<Option<String>, ConfigError> {
            lookup(name)
                .map(|v| {
                    v.into_string()
                        .map_err(|_| ConfigError::new(format!("{name} is not valid UTF-8")))
                })
                .transpose()
        };
        let number = |name: &str, range: std::ops::RangeInclusive<u64>| {
            text(name)?
                .map(|v| match v.parse::<u64>() {
                    Ok(n) if range.contains(&n) => Ok(n),
                    _ => Err(ConfigError::new(format!(
                        "{name}={v:?} is not an integer in {}..={}",
                        range.start(),
                        range.end()
                    ))),
                })
                .transpose()
        };
        let as_usize =
            |r: &std::ops::RangeInclusive<usize>| (*r.start() as u64)..=(*r.end() as u64);

        let audience = match audience {
            Some(a) => a.to_owned(),
            None => text(ENV_AUDIENCE)?.ok_or_else(|| {
                ConfigError::new(format!(
                    "no audience: the verifier's own identifier is required (flag or {ENV_AUDIENCE})"
                ))
            })?,
        };
        let mut policy = Policy::new(audience);
        if let Some(v) = number(ENV_LEEWAY_SECONDS, LEEWAY_RANGE)? {
            policy.leeway_seconds = v;
        }
        if let Some(v) = number(ENV_MAX_IAT_AGE_SECONDS, MAX_IAT_AGE_RANGE)? {
            policy.max_iat_age_seconds = v;
        }
        if let Some(v) = number(ENV_MAX_PAR, as_usize(&MAX_PAR_RANGE))? {
            policy.max_par = v as usize;
        }
        if let Some(v) = number(ENV_MAX_TOKEN_BYTES, as_usize(&MAX_TOKEN_BYTES_RANGE))? {
            policy.max_token_bytes = v as usize;
        }
        if let Some(v) = number(ENV_REPLAY_CACHE_SIZE, as_usize(&REPLAY_CACHE_SIZE_RANGE))? {
            policy.replay = ReplayProtection::Enabled {
                max_entries: Some(v as usize),
            };
        }
        if let Some(v) = number(ENV_SKEW_SECONDS, SKEW_RANGE)? {
            policy.dag.skew_seconds = v;
        }
        if let Some(v) = number(ENV_ANCESTOR_BUDGET, as_usize(&ANCESTOR_BUDGET_RANGE))? {
            policy.dag.ancestor_budget = v as usize;
        }
        policy.validate()?;
        Ok(policy)
    }

    /// Checks every setting; [`Verifier::new`] calls this.
    pub fn validate(&self) -> Result<(), ConfigError> {
        // ECT-AUD-1: a verifier without an identifier is a configuration error, not a pass.
        if self.audience.is_empty() {
            return Err(ConfigError::new("audience must be a non-empty string"));
        }
        check_range("leeway_seconds", self.leeway_seconds, LEEWAY_RANGE)?;
        check_range(
            "max_iat_age_seconds",
            self.max_iat_age_seconds,
            MAX_IAT_AGE_RANGE,
        )?;
        check_range("max_par", self.max_par, MAX_PAR_RANGE)?;
        check_range(
            "max_token_bytes",
            self.max_token_bytes,
            MAX_TOKEN_BYTES_RANGE,
        )?;
        if self.algorithms.is_empty() {
            return Err(ConfigError::new("the algorithm allowlist is empty"));
        }
        if let ReplayProtection::Enabled {
            max_entries: Some(n),
        } = self.replay
        {
            check_range("replay max_entries", n, REPLAY_CACHE_SIZE_RANGE)?;
        }
        self.dag.check()
    }
}

/// A token that passed every check. The only way to reach checked claims.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedEct {
    token: String,
    header: Header,
    claims: Claims,
}

impl VerifiedEct {
    /// The compact token exactly as presented.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The checked header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The checked claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The token id (`jti`), which is also the task id.
    pub fn jti(&self) -> &str {
        &self.claims.jti
    }

    /// Token, header and claims, by value.
    pub fn into_parts(self) -> (String, Header, Claims) {
        (self.token, self.header, self.claims)
    }
}

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
        let outcome = self.policy.dag.validate(verified.claims(), store)?;
        self.record(&verified, now)?;
        Ok((verified, outcome))
    }

    /// ECT-RPL-1: records a token that passed every other check.
    fn record(&self, verified: &VerifiedEct, now: u64) -> Result<()> {
        if let Some(cache) = &self.replay {
            let claims = verified.claims();
            let expires_at = claims.exp.saturating_add(self.policy.leeway_seconds);
            cache.check_and_record(&ReplayKey::of(claims), expires_at, now)?;
        }
        Ok(())
    }

    /// The acceptance pipeline (SPEC.md §1): verifies `token` at time `now` (§2–§6 except
    /// ECT-RPL-1), checks it against `ledger` with `policy.dag` (§7), appends it to `ledger`
    /// (§8) and records it in the replay cache (ECT-RPL-1).
    ///
    /// The DAG check, the replay record and the append happen atomically under the ledger's
    /// write lock, so of N concurrent accepts of one `jti` exactly one succeeds (the others
    /// fail `dag.duplicate_jti`). A rejection leaves the ledger and the replay cache as they
    /// were: the replay record is made after every check passed and is withdrawn if the
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
        self.admit(verified, now, ledger)
    }

    /// [`Verifier::verify`] of every token in `tokens`, with the same results, in the same
    /// order, as calling it on each token in turn, but with the checks that depend on nothing
    /// but the token (SPEC.md §2–§6 except ECT-RPL-1: decoding, the ES256 signature, claims,
    /// time, audience) spread across rayon's thread pool. The replay checks (ECT-RPL-1) then
    /// run one token at a time in input order, so a token repeated within the batch is
    /// accepted once, at its first position, exactly as in sequential calls.
    ///
    /// Use [`rayon::ThreadPool::install`] to choose the threads; by default all cores.
    pub fn verify_batch<T: AsRef<[u8]> + Sync>(
        &self,
        tokens: &[T],
        now: u64,
    ) -> Vec<Result<VerifiedEct>> {
        self.stateless_batch(tokens, now)
            .into_iter()
            .map(|checked| {
                let verified = checked?;
                self.record(&verified, now)?;
                Ok(verified)
            })
            .collect()
    }

    /// [`Verifier::accept`] of every token in `tokens` into `ledger`, in order, with the same
    /// results as calling it on each token in turn: the checks that depend on nothing but the
    /// token run in parallel first (as in [`Verifier::verify_batch`]); the DAG rules, the
    /// replay record and the append then run one token at a time in input order, so a token
    /// may name a parent accepted earlier in the same batch.
    pub fn accept_batch<T: AsRef<[u8]> + Sync, L: Ledger + ?Sized>(
        &self,
        tokens: &[T],
        now: u64,
        ledger: &L,
    ) -> Vec<Result<Accepted>> {
        self.stateless_batch(tokens, now)
            .into_iter()
            .map(|checked| self.admit(checked?, now, ledger))
            .collect()
    }

    /// SPEC.md §2–§6 except ECT-RPL-1 for each token, in parallel, results in input order.
    fn stateless_batch<T: AsRef<[u8]> + Sync>(
        &self,
        tokens: &[T],
        now: u64,
    ) -> Vec<Result<VerifiedEct>> {
        use rayon::prelude::*;
        tokens
            .par_iter()
            .map(|t| self.verify_stateless(t.as_ref(), now))
            .collect()
    }

    /// The stateful end of [`Verifier::accept`] for a token that passed SPEC.md §2–§6 except
    /// ECT-RPL-1 at `now`: DAG rules, replay record and append, atomically.
    fn admit<L: Ledger + ?Sized>(
        &self,
        verified: VerifiedEct,
        now: u64,
        ledger: &L,
    ) -> Result<Accepted> {
        let replay_key = ReplayKey::of(verified.claims());
        let expires_at = verified
            .claims()
            .exp
            .saturating_add(self.policy.leeway_seconds);
        let ect = StoredEct::from(verified);
        let mut outcome = None;
        let mut recorded = false;
        let result = ledger.append_admitted(ect, now, &mut |store, ect| {
            // SPEC.md §7: ECT-DAG-1..6 against the ledger's current contents.
            outcome = Some(self.policy.dag.validate(ect.claims(), store)?);
            // ECT-RPL-1: last.
            if let Some(cache) = &self.replay {
                cache.check_and_record(&replay_key, expires_at, now)?;
                recorded = true;
            }
            Ok(())
        });
        match result {
            Ok(entry) => Ok(Accepted {
                entry,
                dag: outcome.expect("admitted tokens were checked"),
            }),
            Err(e) => {
                if recorded && let Some(cache) = &self.replay {
                    cache.forget(&replay_key);
                }
                Err(e)
            }
        }
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

/// SPEC.md §2–§6 except ECT-RPL-1, in SPEC.md's order.
///
/// * `keys: None` skips the signature rules (ECT-KEY-1, ECT-SIG-1, ECT-SIG-2, ECT-KEY-2), for
///   audits of stored tokens whose keys are not at hand.
/// * `now: None` skips the rules relative to a verifier (ECT-TIME-2..4, ECT-AUD-1), for
///   reading back a ledger's own entries.
pub(crate) fn check_token(
    p: &Policy,
    keys: Option<&dyn KeyResolver>,
    token: &[u8],
    now: Option<u64>,
) -> Result<VerifiedEct> {
    // ECT-JWS-1 (size), ECT-JWS-2 (three ASCII segments), ECT-JWS-3 (base64url, all three).
    let compact = split(token, p.max_token_bytes)?;
    // ECT-JWS-4, ECT-JWS-5 on the header.
    let header_json = parse_object(&compact.header)?;
    // ECT-HDR-1 (typ), ECT-HDR-2 (alg), ECT-HDR-3 (crit), ECT-HDR-4 (kid). ECT-HDR-5: no
    // other header parameter is read, so an embedded jwk/jku/x5u/x5c is never used.
    let header = Header::parse(&header_json, &p.profile, &p.algorithms)?;
    let key = match keys {
        Some(keys) => {
            // ECT-KEY-1: kid resolves through the verifier's own trusted keys.
            let key = keys
                .resolve(header.kid())
                .ok_or_else(|| Error::KeyUnknown(header.kid().to_owned()))?;
            // ECT-SIG-1 (64-byte r||s, 0 < r, s < n), ECT-SIG-2 (ECDSA over segment0.segment1).
            key.verify_signature(compact.signing_input, &compact.signature)?;
            Some(key)
        }
        None => None,
    };
    // ECT-JWS-4, ECT-JWS-5 on the payload, only now that the signature verified.
    let payload = parse_object(&compact.payload)?;
    // ECT-CLM-1 (required claims), ECT-CLM-2 with ECT-TIME-5 (JSON types).
    let unchecked = UncheckedClaims::parse(payload, &p.profile)?;
    // ECT-KEY-2: a key bound to an issuer signs only that issuer's tokens.
    if let Some(bound) = key.and_then(|k| k.issuer())
        && bound != unchecked.iss
    {
        return Err(Error::KeyIssuerMismatch {
            expected: bound.to_owned(),
            found: unchecked.iss.clone(),
        });
    }
    // ECT-CLM-3 .. ECT-CLM-13, in order.
    let claims = unchecked.check(&ClaimLimits { max_par: p.max_par })?;
    // ECT-TIME-1: exp > iat.
    if claims.exp <= claims.iat {
        return Err(Error::ExpBeforeIat);
    }
    if let Some(now) = now {
        // ECT-TIME-2: expired iff now >= exp + leeway.
        if now >= claims.exp.saturating_add(p.leeway_seconds) {
            return Err(Error::Expired);
        }
        // ECT-TIME-3: issued in the future iff iat > now + leeway.
        if claims.iat > now.saturating_add(p.leeway_seconds) {
            return Err(Error::NotYetValid);
        }
        // ECT-TIME-4: too old iff now - iat > max_iat_age.
        if now.saturating_sub(claims.iat) > p.max_iat_age_seconds {
            return Err(Error::TooOld);
        }
        // ECT-TIME-6: nbf, when present, honoured: not yet valid iff nbf > now + leeway.
        if claims
            .nbf
            .is_some_and(|nbf| nbf > now.saturating_add(p.leeway_seconds))
        {
            return Err(Error::NotBefore);
        }
        // ECT-AUD-1: this verifier's identifier is in aud (exact string comparison).
        if !claims.aud.contains(&p.audience) {
            return Err(Error::AudienceMismatch);
        }
    }
    let token = String::from_utf8(token.to_vec()).expect("ECT-JWS-2 checked ASCII");
    Ok(VerifiedEct {
        token,
        header,
        claims,
    })
}

/// Parses a token read back from a ledger's own hash-chained file: the structural and claim
/// rules under the widest limits, without signature, time or audience (the token passed all
/// of them when it was appended; its keys and its time are not at hand now).
pub(crate) fn parse_stored_token(token: &str) -> Result<Claims> {
    let mut widest = Policy::new("-");
    widest.max_par = *MAX_PAR_RANGE.end();
    widest.max_token_bytes = *MAX_TOKEN_BYTES_RANGE.end();
    Ok(check_token(&widest, None, token.as_bytes(), None)?.claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.into())
    }

    #[test]
    fn env_overrides() {
        let p = Policy::from_vars(
            None,
            vars(&[
                ("ECT_AUDIENCE", "spiffe://v"),
                ("ECT_LEEWAY_SECONDS", "5"),
                ("ECT_MAX_IAT_AGE_SECONDS", "60"),
                ("ECT_MAX_PAR", "3"),
                ("ECT_MAX_TOKEN_BYTES", "4096"),
                ("ECT_REPLAY_CACHE_SIZE", "10"),
            ]),
        )
        .unwrap();
        assert_eq!(p.audience, "spiffe://v");
        assert_eq!(p.leeway_seconds, 5);
        assert_eq!(p.max_iat_age_seconds, 60);
        assert_eq!(p.max_par, 3);
        assert_eq!(p.max_token_bytes, 4096);
        assert_eq!(
            p.replay,
            ReplayProtection::Enabled {
                max_entries: Some(10)
            }
        );
        // The explicit audience wins over the variable.
        let p = Policy::from_vars(Some("flag"), vars(&[("ECT_AUDIENCE", "env")])).unwrap();
        assert_eq!(p.audience, "flag");
        assert_eq!(p, Policy::new("flag"));
    }

    #[test]
    fn env_errors_name_the_variable() {
        for (name, value) in [
            ("ECT_LEEWAY_SECONDS", "abc"),
            ("ECT_LEEWAY_SECONDS", "-1"),
            ("ECT_LEEWAY_SECONDS", "601"),
            ("ECT_LEEWAY_SECONDS", ""),
            ("ECT_LEEWAY_SECONDS", " 5"),
            ("ECT_MAX_IAT_AGE_SECONDS", "0"),
            ("ECT_MAX_PAR", "10001"),
            ("ECT_MAX_TOKEN_BYTES", "100"),
            ("ECT_REPLAY_CACHE_SIZE", "0"),
            ("ECT_REPLAY_CACHE_SIZE", "99999999999999999999999"),
        ] {
            let err = Policy::from_vars(Some("a"), vars(&[(name, value)])).unwrap_err();
            assert!(
                err.message().starts_with(name),
                "{name}={value}: {}",
                err.message()
            );
        }
        let err = Policy::from_vars(None, vars(&[])).unwrap_err();
        assert!(err.message().contains("ECT_AUDIENCE"));
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
