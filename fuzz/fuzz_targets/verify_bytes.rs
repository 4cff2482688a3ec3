//! Raw bytes into Verifier::verify and the model: same verdict and code.
//! The oracle is `wimse_ect_conformance::fuzz::verify_bytes` (TARGETS entry `verify_bytes`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| wimse_ect_conformance::fuzz::verify_bytes(data));
