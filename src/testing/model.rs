//! A simple, independent model of SPEC.md §2–§8 for fuzzing (stub: to be written).

use serde_json::{Map, Value};

/// A trusted key as the model sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelKey {
    /// The `kid`.
    pub kid: String,
    /// The public key as an uncompressed SEC1 point (65 bytes, `0x04 ‖ x ‖ y`).
    pub sec1: Vec<u8>,
    /// The issuer the key is bound to (ECT-KEY-2), if any.
    pub iss: Option<String>,
}

/// The verifier settings the model checks with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelSettings {
    /// The verifier's clock.
    pub now: u64,
    /// The verifier's identifier.
    pub audience: String,
    /// Leeway in seconds.
    pub leeway: u64,
    /// Maximum `iat` age in seconds.
    pub max_iat_age: u64,
    /// Maximum `par` length.
    pub max_par: usize,
    /// Maximum token length.
    pub max_token_bytes: usize,
    /// DAG skew in seconds.
    pub skew: u64,
    /// Ancestor budget.
    pub ancestor_budget: usize,
    /// Partial DAG mode.
    pub partial: bool,
}

/// SPEC.md §2–§6 except ECT-RPL-1: the claims, or the error code.
pub fn verify(
    _token: &[u8],
    _keys: &[ModelKey],
    _s: &ModelSettings,
) -> Result<Map<String, Value>, &'static str> {
    todo!("model")
}
