//! Fuzzing oracles: plain functions that panic on a finding, so that
//! libFuzzer (the `fuzz/` crate) reports it and `cargo test` (tests/conformance/fuzz_replay.rs) replays
//! the same input on stable without libFuzzer.
//!
//! | target | input | finding |
//! |---|---|---|
//! | [`parse`](fn@parse) | raw bytes | a panic in the compact, JSON, header or claims parser; a value that does not survive re-serialization; serde_json disagreeing with the strict JSON layer |
//! | [`verify_bytes`](fn@verify_bytes) | raw bytes | [`wimse_ect::Verifier::verify`] and [`model::verify`](crate::model::verify) differ in verdict, code or claims |
//! | [`verify_structured`](fn@verify_structured) | a [`TokenDesc`] | the same, on near-valid tokens signed by a trusted key |
//! | [`dag`](fn@dag) | [`DagOps`] | [`wimse_ect::Verifier::accept`] into a [`MemoryLedger`](wimse_ect::MemoryLedger) and [`model::ModelLedger`](crate::model::ModelLedger) differ; the chain does not verify; a rejection changed the ledger |
//! | [`http_header`](fn@http_header) | field lines | a panic; a naive reading of ECT-HTTP-2..4 disagrees; formatting what parsed does not give it back |
//!
//! [`TARGETS`] maps each target name to the function libFuzzer calls with raw bytes;
//! [`seeds`](fn@seeds) and [`seed_corpora`] derive seed inputs from the committed vectors.
//!
//! Every oracle uses fixed keys ([`trusted_keys`]), [`NOW`](crate::testing::NOW) and
//! [`AUDIENCE`](crate::testing::AUDIENCE), and fresh state per input, so an input's outcome
//! never depends on what ran before it.
//!
//! One module per target (`parse`, `verify_bytes`, `verify_structured`, `dag`,
//! `http_header`), what several share in `common` (keys, settings, verdicts), the seed corpora
//! in `seeds`; everything public is re-exported here.

mod common;
mod dag;
mod http_header;
mod parse;
mod seeds;
mod verify_bytes;
mod verify_structured;

pub use common::{Decision, FuzzProfile, model_keys, trusted_keys};
pub use dag::{AcceptOp, DagIat, DagOp, DagOps, DagSigner, dag, dag_bytes};
pub use http_header::http_header;
pub use parse::parse;
pub use seeds::{Seed, seed_corpora, seeds};
pub use verify_bytes::verify_bytes;
pub use verify_structured::{
    Anchor, BadSignature, BaseClaims, ClaimEdit, ClaimName, Edge, EditOp, EncodingEdit, ExpChoice,
    ExtChoice, Few, HashForm, HeaderEdit, HeaderName, IatChoice, Json, Key, Rare, RawNum,
    SettingsDesc, Text, TextEdit, TextKind, TokenDesc, UuidForm, verify_structured,
    verify_structured_bytes,
};

/// An oracle on raw fuzzer bytes: returns, or panics on a finding.
pub type Oracle = fn(&[u8]);

/// The fuzz targets: name (the `fuzz/fuzz_targets/<name>.rs` file and the corpus directory)
/// and the function that takes libFuzzer's raw bytes.
pub const TARGETS: &[(&str, Oracle)] = &[
    ("parse", parse),
    ("verify_bytes", verify_bytes),
    ("verify_structured", verify_structured_bytes),
    ("dag", dag_bytes),
    ("http_header", http_header),
];
