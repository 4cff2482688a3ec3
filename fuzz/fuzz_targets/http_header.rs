//! Execution-Context field lines into the header parser: never panics; formatting what parsed gives it back.
//! The oracle is `wimse_ect_conformance::fuzz::http_header` (TARGETS entry `http_header`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| wimse_ect_conformance::fuzz::http_header(data));
