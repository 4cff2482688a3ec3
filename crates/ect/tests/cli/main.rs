//! The `ect` binary's tests, one test binary: every command's contract (exit status, JSON on
//! stdout, messages on stderr) in [`commands`], and the conformance harness against real and
//! deliberately broken adapters in [`harness`].

mod commands;
mod harness;

use std::path::{Path, PathBuf};

/// The repository's top directory, where `ect` runs in these tests (as from a checkout: its
/// defaults, such as `vectors/`, are relative to it).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
