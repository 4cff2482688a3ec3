//! The `ect` command-line tool: argument parsing and printing around the `wimse-ect` library and
//! the `wimse-ect-conformance` kit.
//!
//! Contract (README.md, "CLI"): `ect verify` exits 0 and prints
//! `{"valid":true,"claims":{...}}` for a valid token, exits 1 and prints
//! `{"valid":false,"error":{"code":...,"rule":...,"message":...}}` for an invalid one, and exits
//! 2 with a message on stderr for usage and configuration errors.
//!
//! `ect dag` and `ect ledger append|verify|show` follow the same 0/1/2 convention (the CLI
//! reference, `wimse_ect::_documentation::cli`); a ledger file that cannot be read or does not
//! verify is an operational error (2), never a verdict on a token.
//!
//! The modules: [`args`] the clap definitions, [`backends`] where `--ledger` and `--replay`
//! point, [`commands`] one module per command and the
//! dispatcher [`commands::run`], [`demo`] the steps of `ect demo`, [`io`] the helpers shared by
//! several commands, [`dot`] the Graphviz drawings.
#![forbid(unsafe_code)]

mod args;
mod backends;
mod commands;
mod demo;
mod dot;
mod io;

/// Runs the tool with the process's arguments and standard streams.
fn main() -> std::process::ExitCode {
    let code = commands::run(
        std::env::args_os(),
        &mut std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    std::process::ExitCode::from(code)
}
