//! The `ect` command-line tool: argument parsing and printing around the `wimse-ect` library and
//! the `wimse-ect-conformance` kit.
#![forbid(unsafe_code)]

mod cli;
mod dot;

fn main() -> std::process::ExitCode {
    cli::main()
}
