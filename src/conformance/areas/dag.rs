//! Vectors of this area (see `files()` in the parent module).

use crate::conformance::build::*;

/// The vectors, in order.
pub fn vectors() -> Vec<V> {
    vec![V::token("placeholder/valid", "placeholder", &["ECT-JWS-1"], valid_token())]
}
