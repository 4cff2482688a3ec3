//! `ect keygen`: a new P-256 key, its private JWK to a file or stdout, its public JWK added to a
//! JWK Set file.

use std::io::Write;
use std::path::Path;

use serde_json::Value;
use wimse_ect::{ConfigError, KeySet, SigningKey};

use crate::io::{EXIT_OK, io_error, load_jwks, write_private};

/// `ect keygen`.
pub fn run(
    kid: &str,
    iss: Option<&str>,
    private: Option<&Path>,
    jwks: Option<&Path>,
    out: &mut dyn Write,
) -> Result<u8, ConfigError> {
    let key = SigningKey::generate(kid)?;
    if let Some(path) = jwks {
        let mut set = if path.exists() {
            load_jwks(path)?
        } else {
            KeySet::new()
        };
        set.insert(key.trusted(iss))
            .map_err(|e| ConfigError::new(format!("{}: {e}", path.display())))?;
        let text = serde_json::to_string_pretty(&set.to_jwks()).expect("JSON serializes");
        std::fs::write(path, text + "\n")
            .map_err(|e| ConfigError::new(format!("cannot write {}: {e}", path.display())))?;
    }
    let private_jwk =
        serde_json::to_string_pretty(&Value::Object(key.to_private_jwk())).expect("serializes");
    match private {
        Some(path) => write_private(path, &private_jwk)?,
        None => writeln!(out, "{private_jwk}").map_err(io_error)?,
    }
    Ok(EXIT_OK)
}
