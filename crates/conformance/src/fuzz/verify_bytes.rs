//! The `verify_bytes` target: raw bytes into [`wimse_ect::Verifier::verify`] and into the model
//! ([`model::verify`]) under SPEC.md's default settings: the same verdict and code (any rule
//! of §2–§6), or on acceptance the same claims.

use super::common::{Settings, assert_agree, keys};
use crate::model;
use crate::testing::NOW;
use wimse_ect::DRAFT_00;

/// Raw bytes into [`Verifier::verify`](wimse_ect::Verifier::verify) (replay protection off,
/// SPEC.md's default settings, [`trusted_keys`](super::trusted_keys), [`NOW`],
/// [`AUDIENCE`](crate::testing::AUDIENCE)) and into [`model::verify`] with the same keys and
/// settings: the same code, or on acceptance the same claims.
pub fn verify_bytes(data: &[u8]) {
    let settings = Settings::default();
    let got = settings
        .verifier(false)
        .verify(data, NOW)
        .map(|v| v.claims().to_json(&DRAFT_00))
        .map_err(|e| e.code());
    let want = model::verify(data, &keys().model, &settings.model());
    assert_agree(data, got, want, "");
}
