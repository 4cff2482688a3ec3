//! Raw bytes into the compact, JSON, header and claims parsers (never panics; round trips).
//! The oracle is `wimse_ect_conformance::fuzz::parse` (TARGETS entry `parse`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| wimse_ect_conformance::fuzz::parse(data));
