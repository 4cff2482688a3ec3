//! Arbitrary accept operations into a MemoryLedger and the naive model ledger: same results, chain verifies, rejections change nothing.
//! The oracle is `wimse_ect_conformance::fuzz::dag_bytes` (TARGETS entry `dag`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| wimse_ect_conformance::fuzz::dag_bytes(data));
