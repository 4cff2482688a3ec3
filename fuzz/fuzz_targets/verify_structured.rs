//! An Arbitrary token description, rendered and signed by a trusted key: verifier and model agree.
//! The oracle is `wimse_ect_conformance::fuzz::verify_structured_bytes` (TARGETS entry `verify_structured`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| wimse_ect_conformance::fuzz::verify_structured_bytes(data));
