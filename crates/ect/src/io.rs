//! Helpers shared by several commands: the exit statuses, reading files, loading the signing
//! key and the JWK Set, writing the private key file, reading a token argument or stdin, the
//! JSON of an error, and for the DAG and ledger commands the policy and verifier built from
//! their flags and the drawing node of an accepted token.

use std::io::{Read, Write};
use std::path::Path;

use serde_json::{Value, json};
use wimse_ect::{ConfigError, DagMode, Error, KeySet, Policy, Profile, SigningKey, Verifier};

use crate::args::{AcceptArgs, DagArgs, TokenPolicyArgs};
use crate::dot::{DotNode, NodeStatus};

/// Exit status: success, or a valid token.
pub const EXIT_OK: u8 = 0;
/// Exit status: the token is invalid.
pub const EXIT_INVALID: u8 = 1;
/// Exit status: usage or configuration error.
pub const EXIT_USAGE: u8 = 2;

/// The variable `--profile` falls back to (`create`, `verify`, `dag`, `ledger`).
pub const ENV_PROFILE: &str = "ECT_PROFILE";

/// The profile of `--profile` (`draft-00` or `draft-01`), else `$ECT_PROFILE`, else
/// `draft-00`. An unknown name, from either, is a usage error; an empty `$ECT_PROFILE` counts
/// as unset, as the tool's other variables (`$ECT_LEDGER`, `$ECT_REPLAY`) do.
pub fn profile(arg: Option<&str>) -> Result<Profile, ConfigError> {
    profile_from(arg, std::env::var_os(ENV_PROFILE))
}

/// [`profile`] with the variable's value given.
fn profile_from(
    arg: Option<&str>,
    var: Option<std::ffi::OsString>,
) -> Result<Profile, ConfigError> {
    let (source, name) = match arg {
        Some(name) => ("--profile".to_owned(), name.to_owned()),
        None => match var.filter(|v| !v.is_empty()) {
            None => return Ok(wimse_ect::DRAFT_00),
            Some(v) => (
                ENV_PROFILE.to_owned(),
                v.into_string()
                    .map_err(|_| ConfigError::new(format!("{ENV_PROFILE} is not valid UTF-8")))?,
            ),
        },
    };
    // Names are compared exactly, as vectors spell them (`draft-01`, not `Draft-01`).
    Profile::from_name(&name).ok_or_else(|| {
        let known: Vec<&str> = wimse_ect::PROFILES.iter().map(|p| p.name).collect();
        ConfigError::new(format!(
            "{source} {name:?}: unknown profile (use {})",
            known.join(" or ")
        ))
    })
}

/// An error writing the output (or reading the input) of a command.
pub fn io_error(e: std::io::Error) -> ConfigError {
    ConfigError::new(format!("I/O error: {e}"))
}

/// The bytes of a file, or a configuration error naming it.
pub fn read_file(path: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path)
        .map_err(|e| ConfigError::new(format!("cannot read {}: {e}", path.display())))
}

/// The private JWK file of `ect create --key`.
pub fn load_signing_key(path: &Path) -> Result<SigningKey, ConfigError> {
    SigningKey::from_jwk_json(&read_file(path)?)
        .map_err(|e| ConfigError::new(format!("{}: {e}", path.display())))
}

/// A JWK Set file of trusted keys (`--jwks`).
pub fn load_jwks(path: &Path) -> Result<KeySet, ConfigError> {
    KeySet::from_jwks_json(&read_file(path)?)
        .map_err(|e| ConfigError::new(format!("{}: {e}", path.display())))
}

/// Writes the private JWK of `ect keygen --private` to a new file (never over an existing one;
/// mode 0600 on Unix).
pub fn write_private(path: &Path, text: &str) -> Result<(), ConfigError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| ConfigError::new(format!("cannot create {}: {e}", path.display())))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .map_err(io_error)
}

/// The token argument, or with `-` the token read from stdin (one trailing newline dropped).
pub fn read_token(
    token: &str,
    policy: &Policy,
    stdin: &mut dyn Read,
) -> Result<Vec<u8>, ConfigError> {
    if token != "-" {
        return Ok(token.as_bytes().to_vec());
    }
    let mut bytes = Vec::new();
    // Read at most a few bytes past the limit (room for "\r\n"): a longer token fails
    // ECT-JWS-1 anyway.
    let limit = policy.max_token_bytes as u64 + 3;
    stdin
        .take(limit)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    strip_one_newline(&mut bytes);
    Ok(bytes)
}

/// `{"code":...,"rule":...,"message":...}` for an error.
pub fn error_json(e: &Error) -> Value {
    json!({ "code": e.code(), "rule": e.rule(), "message": e.message() })
}

/// Drops one trailing `\n` or `\r\n`.
fn strip_one_newline(bytes: &mut Vec<u8>) {
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
}

/// The token rule settings from `ECT_*` variables and flags (`ect verify`, the DAG and ledger
/// commands).
pub fn token_policy(args: &TokenPolicyArgs) -> Result<Policy, ConfigError> {
    // Flags win over ECT_* variables, which win over SPEC.md's defaults.
    let mut policy = Policy::from_env(args.audience.as_deref())?;
    policy.profile = profile(args.profile.as_deref())?;
    if let Some(v) = args.leeway {
        policy.leeway_seconds = v;
    }
    if let Some(v) = args.max_iat_age {
        policy.max_iat_age_seconds = v;
    }
    if let Some(v) = args.max_par {
        policy.max_par = v;
    }
    Ok(policy)
}

/// The policy of the ledger commands: `ECT_*` variables, then flags, then the DAG settings.
pub fn ledger_policy(
    args: &TokenPolicyArgs,
    dag: &DagArgs,
    ancestor_budget: Option<usize>,
) -> Result<Policy, ConfigError> {
    let mut policy = token_policy(args)?;
    if dag.partial {
        policy.dag.mode = DagMode::Partial;
    }
    if let Some(v) = dag.skew {
        policy.dag.skew_seconds = v;
    }
    if let Some(v) = ancestor_budget {
        policy.dag.ancestor_budget = v;
    }
    policy.validate()?;
    Ok(policy)
}

/// The verifier of `ect dag` and `ect ledger append`. Replay protection is the shared cache of
/// `--replay` (or `$ECT_REPLAY`), else the library's default (a fresh cache per process; the
/// ledger itself refuses a repeated `jti`).
pub fn accept_verifier(args: &AcceptArgs) -> Result<Verifier, ConfigError> {
    let policy = ledger_policy(&args.token_policy, &args.dag, args.ancestor_budget)?;
    let verifier = Verifier::new(load_jwks(&args.jwks)?, policy)?;
    Ok(
        match crate::backends::replay_cache(args.replay.as_deref())? {
            Some(cache) => verifier.with_replay_cache(cache),
            None => verifier,
        },
    )
}

/// A node of the drawing for a stored (accepted) token.
pub fn accepted_node(ect: &wimse_ect::StoredEct) -> DotNode {
    let c = ect.claims();
    DotNode {
        jti: Some(c.jti.clone()),
        wid: c.wid.clone(),
        exec_act: Some(c.exec_act.clone()),
        par: c.par.clone(),
        status: NodeStatus::Accepted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_over_the_variable_which_wins_over_draft_00() {
        let var = |v: &str| Some(std::ffi::OsString::from(v));
        let name =
            |r: Result<Profile, ConfigError>| r.map(|p| p.name).map_err(|e| e.message().to_owned());
        assert_eq!(name(profile_from(None, None)), Ok("draft-00"));
        assert_eq!(name(profile_from(None, var(""))), Ok("draft-00"));
        assert_eq!(name(profile_from(None, var("draft-01"))), Ok("draft-01"));
        assert_eq!(
            name(profile_from(Some("draft-00"), var("draft-01"))),
            Ok("draft-00")
        );
        assert_eq!(
            name(profile_from(Some("draft-01"), var("nonsense"))),
            Ok("draft-01")
        );
        assert_eq!(
            name(profile_from(Some("Draft-01"), None)),
            Err("--profile \"Draft-01\": unknown profile (use draft-00 or draft-01)".to_owned())
        );
        assert_eq!(
            name(profile_from(None, var("draft-02"))),
            Err("ECT_PROFILE \"draft-02\": unknown profile (use draft-00 or draft-01)".to_owned())
        );
    }

    #[test]
    fn newline_stripping() {
        let mut v = b"abc\r\n".to_vec();
        strip_one_newline(&mut v);
        assert_eq!(v, b"abc");
        let mut v = b"abc\n\n".to_vec();
        strip_one_newline(&mut v);
        assert_eq!(v, b"abc\n");
    }
}
