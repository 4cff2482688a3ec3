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

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The repository's top directory, where `ect` runs in these tests (as from a checkout: its
/// defaults, such as `vectors/`, are relative to it).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `ect` with every `ECT_*` variable of the tool removed, then `envs` set.
pub(crate) fn ect(args: &[&str], stdin: Option<&[u8]>, envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ect"));
    cmd.current_dir(crate::repo_root())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in [
        "ECT_PROFILE",
        "ECT_AUDIENCE",
        "ECT_LEEWAY_SECONDS",
        "ECT_MAX_IAT_AGE_SECONDS",
        "ECT_MAX_PAR",
        "ECT_MAX_TOKEN_BYTES",
        "ECT_REPLAY_CACHE_SIZE",
        "ECT_SKEW_SECONDS",
        "ECT_ANCESTOR_BUDGET",
        "ECT_LEDGER",
        "ECT_REPLAY",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(envs.iter().copied());
    let mut child = cmd.spawn().expect("run ect");
    // A command that stops before reading its input (a usage error) closes the pipe first.
    match child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.unwrap_or_default())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("writing stdin: {e}"),
        _ => {}
    }
    child.wait_with_output().unwrap()
}
