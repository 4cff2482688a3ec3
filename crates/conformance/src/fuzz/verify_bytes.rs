//! The `verify_bytes` target: raw bytes into [`wimse_ect::Verifier::verify`] and into the model
//! ([`model::verify`]) under SPEC.md's default settings, in each profile (SPEC.md §10): the same
//! verdict and code (any rule of §2–§6), or on acceptance the same claims.

use super::common::{FuzzProfile, Settings, assert_agree, keys};
use crate::model;
use crate::testing::NOW;

/// Raw bytes into [`Verifier::verify`](wimse_ect::Verifier::verify) (replay protection off,
/// SPEC.md's default settings, [`trusted_keys`](super::trusted_keys), [`NOW`],
/// [`AUDIENCE`](crate::testing::AUDIENCE)) and into [`model::verify`] with the same keys and
/// settings, once under each profile (`draft-00`, `draft-01`): the same code, or on
/// acceptance the same claims.
pub fn verify_bytes(data: &[u8]) {
    for profile in [FuzzProfile::Draft00, FuzzProfile::Draft01] {
        let settings = Settings {
            profile,
            ..Settings::default()
        };
        let p = profile.profile();
        let got = settings
            .verifier(false)
            .verify(data, NOW)
            .map(|v| v.claims().to_json(&p))
            .map_err(|e| e.code());
        let want = model::verify(data, &keys().model, &settings.model());
        assert_agree(data, got, want, &p, "");
    }
}
