//! Verifier settings: [`Policy`] with SPEC.md's defaults, the accepted ranges, and the `ECT_*`
//! environment variables.

use std::ffi::OsString;

use crate::claims::DEFAULT_MAX_PAR;
use crate::dag::{ANCESTOR_BUDGET_RANGE, DagValidator, SKEW_RANGE};
use crate::error::{ConfigError, check_range};
use crate::header::Algorithm;
use crate::jws::DEFAULT_MAX_TOKEN_BYTES;
use crate::profile::{DRAFT_00, Profile};

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
    /// See [`crate::MemoryReplayCache`] for what happens when it is full.
    Enabled {
        /// Maximum live entries; `None` is bounded by expiry only.
        max_entries: Option<usize>,
    },
    /// No replay check. Only for one-shot verification of a single token (the CLI) or when
    /// the caller checks replay itself, e.g. against a ledger.
    Disabled,
}

/// Verifier settings. Start from [`Policy::new`] (SPEC.md's defaults) and change fields;
/// [`crate::Verifier::new`] checks every value and refuses out-of-range ones.
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
    /// DAG validation settings for [`crate::Verifier::accept`] (SPEC.md §7; default strict, 30 s
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

    /// Checks every setting; [`crate::Verifier::new`] calls this.
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
}
