//! Documentation only, no code: the decisions and the design of this crate, rendered with its
//! API documentation (the pattern of jiff's `_documentation`).
//!
//! * [`decisions`]: SPEC.md's order of checks, and every decision the library takes where
//!   SPEC.md is silent (tokens, replay, the DAG, the audit).
//! * [`crash_recovery`]: the file ledger's entry hash and line format, crash recovery, how a
//!   ledger file is created, symbolic links, `ledger.io`.
//! * [`design`]: the design, as questions and answers (why a workspace, why no JWT crate, why
//!   `now` is a parameter, why `LedgerAudit` is outside the ledger, the features).
//! * [`cli`]: the `ect` command line, every command with examples.
//! * [`http`]: ECTs over HTTP: the inline convention, `EctLayer` (feature `tower`) and the
//!   axum extractor (feature `axum`), refusals and their statuses, the client side, and the
//!   decisions taken where SPEC.md is silent.
//! * [`shared_state`]: many verifiers, one truth: which ledger and replay cache to pick, their
//!   contracts, the SQLite, PostgreSQL and Redis backends, and testing against real servers.
//!
//! The library's guide is the [crate documentation](crate). The spec vectors, the harness
//! protocol and the decisions they make are in `vectors/README.md`; the proptest generators in
//! the documentation of the conformance kit (`crates/conformance`); fuzzing in
//! `fuzz/README.md`; the module map and how to add a rule in `CONTRIBUTING.md`.

pub mod cli;
pub mod crash_recovery;
pub mod decisions;
pub mod design;
pub mod http;
pub mod shared_state;
