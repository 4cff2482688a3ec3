//! `ect verify`: verifies one token (from the argument or stdin) and prints the verdict as JSON.

use std::io::{Read, Write};
use std::path::Path;

use serde_json::json;
use wimse_ect::{ConfigError, ReplayProtection, Verifier};

use crate::args::TokenPolicyArgs;
use crate::io::{self, EXIT_INVALID, EXIT_OK, error_json, io_error, load_jwks, read_token};

/// `ect verify`.
pub fn run(
    jwks: &Path,
    token_policy: &TokenPolicyArgs,
    now: u64,
    token: &str,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
) -> Result<u8, ConfigError> {
    let mut policy = io::token_policy(token_policy)?;
    // One token per process: nothing to remember between verifications.
    policy.replay = ReplayProtection::Disabled;
    let verifier = Verifier::new(load_jwks(jwks)?, policy)?;
    let token = read_token(token, verifier.policy(), stdin)?;
    let (status, report) = match verifier.verify(&token, now) {
        Ok(verified) => (
            EXIT_OK,
            json!({
                "valid": true,
                "claims": verified.claims().to_json(&verifier.policy().profile),
            }),
        ),
        Err(e) => (
            EXIT_INVALID,
            json!({ "valid": false, "error": error_json(&e) }),
        ),
    };
    writeln!(out, "{report}").map_err(io_error)?;
    Ok(status)
}
