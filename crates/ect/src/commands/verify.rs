//! `ect verify`: verifies one token (from the argument or stdin), or with `--stream` one per
//! line of stdin, and prints each verdict as a JSON line.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use serde_json::json;
use wimse_ect::{ConfigError, Error, ReplayProtection, Verifier};

use crate::args::TokenPolicyArgs;
use crate::backends::replay_cache;
use crate::io::{self, EXIT_INVALID, EXIT_OK, error_json, io_error, load_jwks, read_token};

/// `ect verify`.
#[allow(clippy::too_many_arguments)]
pub fn run(
    jwks: &Path,
    token_policy: &TokenPolicyArgs,
    now: u64,
    replay: Option<&str>,
    stream: bool,
    token: &str,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
) -> Result<u8, ConfigError> {
    if stream && token != "-" {
        return Err(ConfigError::new(
            "--stream reads the tokens from stdin: give `-` as TOKEN",
        ));
    }
    let mut policy = io::token_policy(token_policy)?;
    // One token per process without a shared cache: nothing to remember between
    // verifications. A stream remembers its own tokens.
    if !stream {
        policy.replay = ReplayProtection::Disabled;
    }
    let mut verifier = Verifier::new(load_jwks(jwks)?, policy)?;
    if let Some(cache) = replay_cache(replay)? {
        verifier = verifier.with_replay_cache(cache);
    }
    let mut all_valid = true;
    let mut verify = |token: &[u8], out: &mut dyn Write| -> Result<(), ConfigError> {
        let report = match verifier.verify(token, now) {
            Ok(verified) => json!({
                "valid": true,
                "claims": verified.claims().to_json(&verifier.policy().profile),
            }),
            // A replay cache that cannot answer is an operational error: no verdict.
            Err(e @ Error::ReplayUnavailable(_)) => {
                return Err(ConfigError::new(format!("replay cache: {e}")));
            }
            Err(e) => {
                all_valid = false;
                json!({ "valid": false, "error": error_json(&e) })
            }
        };
        writeln!(out, "{report}").map_err(io_error)?;
        out.flush().map_err(io_error)
    };
    if stream {
        for line in BufReader::new(stdin).lines() {
            let line = line.map_err(io_error)?;
            let line = line.trim_end_matches('\r');
            if !line.is_empty() {
                verify(line.as_bytes(), out)?;
            }
        }
    } else {
        let token = read_token(token, verifier.policy(), stdin)?;
        verify(&token, out)?;
    }
    Ok(if all_valid { EXIT_OK } else { EXIT_INVALID })
}
