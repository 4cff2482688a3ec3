//! The commands of `ect`, one module each, and the dispatcher [`run`] that parses the arguments
//! and calls the command.
//!
//! Every command returns its exit status ([`EXIT_OK`], or [`EXIT_INVALID`] for a verdict
//! against a token or a ledger) or a [`ConfigError`], which [`run`] prints on stderr and turns
//! into [`EXIT_USAGE`].
//!
//! [`EXIT_INVALID`]: crate::io::EXIT_INVALID
//! [`ConfigError`]: wimse_ect::ConfigError

mod codes;
mod conformance;
mod create;
mod dag;
mod keygen;
mod ledger;
mod vectors;
mod verify;

use std::io::{Read, Write};

use clap::Parser;

use crate::args::{Cli, Command, LedgerCommand, TokenPolicyArgs};
use crate::backends::LedgerLocation;
use crate::demo;
use crate::io::{EXIT_OK, EXIT_USAGE};

/// Runs the tool with the given arguments (the first is the program name) and streams; returns
/// the exit status.
pub fn run<I, T>(args: I, stdin: &mut dyn Read, out: &mut dyn Write, err: &mut dyn Write) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let status = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let text = e.render().to_string();
            let _ = if status == EXIT_OK {
                out.write_all(text.as_bytes())
            } else {
                err.write_all(text.as_bytes())
            };
            return status;
        }
    };
    let result = match cli.command {
        Command::Keygen {
            kid,
            iss,
            private,
            jwks,
        } => keygen::run(
            &kid,
            iss.as_deref(),
            private.as_deref(),
            jwks.as_deref(),
            out,
        ),
        Command::Verify {
            jwks,
            audience,
            now,
            leeway,
            max_iat_age,
            max_par,
            profile,
            replay,
            stream,
            token,
        } => verify::run(
            &jwks,
            &TokenPolicyArgs {
                audience,
                leeway,
                max_iat_age,
                max_par,
                profile,
            },
            now,
            replay.as_deref(),
            stream,
            &token,
            stdin,
            out,
        ),
        Command::Create(args) => create::run(args, out),
        Command::Dag {
            accept,
            format,
            tokens,
        } => dag::run(&accept, format, &tokens, stdin, out),
        Command::Ledger { command } => match command {
            LedgerCommand::Append {
                ledger,
                accept,
                stream,
                token,
            } => LedgerLocation::from_arg(ledger.as_deref()).and_then(|location| {
                ledger::append(&location, &accept, stream, &token, stdin, out, err)
            }),
            LedgerCommand::Verify {
                ledger,
                jwks,
                token_policy,
                dag,
                head,
            } => LedgerLocation::from_arg(ledger.as_deref()).and_then(|location| {
                ledger::verify(
                    &location,
                    jwks.as_deref(),
                    &token_policy,
                    &dag,
                    head.as_deref(),
                    out,
                    err,
                )
            }),
            LedgerCommand::Show {
                ledger,
                profile,
                format,
            } => LedgerLocation::from_arg(ledger.as_deref())
                .and_then(|location| ledger::show(&location, profile.as_deref(), format, out, err)),
        },
        Command::Demo { http: false } => demo::run(out),
        Command::Demo { http: true } => demo::run_http(out),
        Command::Codes => codes::run(out),
        Command::Vectors { command } => vectors::run(command, out),
        Command::Conformance(args) => conformance::run(&args, out, err),
    };
    match result {
        Ok(status) => status,
        Err(e) => {
            let _ = writeln!(err, "ect: {}", e.message());
            EXIT_USAGE
        }
    }
}

/// [`run`] with `args` after the program name and `stdin` as the input: (exit status, stdout,
/// stderr).
#[cfg(test)]
pub fn run_args(args: &[&str], stdin: &[u8]) -> (u8, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut input = stdin;
    let status = run(
        std::iter::once("ect").chain(args.iter().copied()),
        &mut input,
        &mut out,
        &mut err,
    );
    (
        status,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_exit_2() {
        let (status, _, err) = run_args(&["verify"], b"");
        assert_eq!(status, 2);
        assert!(err.contains("--jwks"));
        let (status, _, err) = run_args(
            &[
                "verify",
                "--jwks",
                "/nonexistent.jwks",
                "--audience",
                "a",
                "--now",
                "1",
                "x",
            ],
            b"",
        );
        assert_eq!(status, 2);
        assert!(
            err.starts_with("ect: cannot read /nonexistent.jwks"),
            "{err}"
        );
    }
}
