//! The conformance suite, one test binary:
//!
//! * the property-based suite: generated valid workflows must be accepted, and every mutation
//!   (one per coded SPEC.md rule, `wimse_ect_conformance::testing::Mutation`) must be rejected
//!   at the expected step with exactly the expected code, changing nothing ([`batch`],
//!   [`coverage`], [`generators`], [`late_parents`], [`mutations`], [`tokens`], [`workflows`];
//!   the ledgers' state machine is part of the kit's contract suite, run by `tests/api/contracts.rs`);
//! * the spec vectors: the committed files equal a fresh generation, pass their schema and lint,
//!   cover every rule ([`vectors`]); the reference's verdict on each is snapshotted
//!   ([`snapshots`]); the independent model agrees with each ([`model`]); `jsonwebtoken`'s
//!   divergences are documented ([`differential_vectors`]);
//! * the fuzz seeds and committed regressions replayed through the oracles ([`fuzz_replay`]);
//! * the rule table against SPEC.md and `CODES.md` ([`rule_table`]).
//!
//! Case counts: each property has a default chosen so that the whole `cargo test` stays well
//! under 5 minutes on 2 cores; the environment variable `PROPTEST_CASES` overrides every one of
//! them (nightly: `PROPTEST_CASES=2000 cargo test --release -p wimse-ect --test conformance`).
//! Failing cases are saved under `tests/proptest-regressions/` and replayed first on the next run.

mod batch;
mod coverage;
mod differential_vectors;
mod fuzz_replay;
mod generators;
mod late_parents;
mod model;
mod mutations;
mod rule_table;
mod snapshots;
mod tokens;
mod vectors;
mod workflows;

use proptest::test_runner::Config;

/// Default case count, raised by the environment variable PROPTEST_CASES (nightly runs).
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The proptest configuration of every property here: `default` cases unless
/// `PROPTEST_CASES` says otherwise; failures persist in tests/proptest-regressions/ (proptest's
/// default location for this test crate).
fn config(default: u32) -> Config {
    Config::with_cases(cases(default))
}
