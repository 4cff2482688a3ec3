//! The `ect` binary's tests, one test binary: every command's contract (exit status, JSON on
//! stdout, messages on stderr) in [`commands`], the conformance harness against real and
//! deliberately broken adapters in [`harness`], and many `ect` processes sharing one SQLite or
//! PostgreSQL ledger or one Redis replay cache in [`shared`], and `ect demo --http` (three agents
//! over loopback HTTP) in [`demo_http`], and `--profile`/`$ECT_PROFILE` of the token and ledger
//! commands in [`profiles`].

mod commands;
mod demo_http;
mod harness;
mod profiles;
mod shared;

use std::path::{Path, PathBuf};

/// The repository's top directory, where `ect` runs in these tests (as from a checkout: its
/// defaults, such as `vectors/`, are relative to it).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
