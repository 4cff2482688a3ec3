//! `ect ledger append|verify|show`: a file-backed, hash-chained audit ledger (SPEC.md §8).
//!
//! A ledger file that cannot be read or does not verify is an operational error (exit 2),
//! never a verdict on a token.

use std::io::{Read, Write};
use std::path::Path;

use serde_json::{Value, json};
use wimse_ect::{ChainHash, ConfigError, CreateMode, Error, FileLedger, Tail, audit_file};

use crate::args::{AcceptArgs, DagArgs, Format, TokenPolicyArgs};
use crate::dot::{DotNode, workflow_dot};
use crate::io::{
    EXIT_INVALID, EXIT_OK, accept_verifier, accepted_node, error_json, io_error, ledger_policy,
    load_jwks, read_token,
};

/// A ledger that cannot be opened or read is an operational error (exit 2), not a verdict.
fn ledger_error(path: &Path, e: &Error) -> ConfigError {
    ConfigError::new(format!("ledger {}: {e}", path.display()))
}

/// Warns on stderr about what follows a ledger file's last `\n`
/// (`wimse_ect::_documentation::crash_recovery`): a torn final line, or a last line without its
/// `\n`. `repaired`: whether an accepted append repaired it (cut the torn line off, appended
/// the newline) before its entry.
fn warn_tail(
    err: &mut dyn Write,
    path: &Path,
    tail: Option<Tail>,
    repaired: bool,
) -> Result<(), ConfigError> {
    let what = match tail {
        None => return Ok(()),
        Some(Tail::Torn(t)) => format!(
            "torn final line at offset {} (length {} bytes), left by an interrupted write and never acknowledged: {}",
            t.offset,
            t.len,
            if repaired {
                "cut off the file before the new entry"
            } else {
                "ignored, the file is unchanged"
            }
        ),
        Some(Tail::MissingNewline { offset, len }) => format!(
            "the last line (offset {offset}, length {len} bytes) has no final newline: {}",
            if repaired {
                "it is a complete entry: the newline was added before the new entry"
            } else {
                "read as a line, the file is unchanged"
            }
        ),
    };
    writeln!(err, "ect: warning: ledger {}: {what}", path.display()).map_err(io_error)
}

/// `ect ledger append`.
pub fn append(
    path: &Path,
    args: &AcceptArgs,
    token: &str,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, ConfigError> {
    let verifier = accept_verifier(args)?;
    let token = read_token(token, verifier.policy(), stdin)?;
    // The file is created by the first accepted token, not before: a rejected token, or an
    // error before the append, leaves no file behind.
    let ledger = FileLedger::open_with(path, CreateMode::OnFirstAppend)
        .map_err(|e| ledger_error(path, &e))?;
    let accepted = verifier.accept(&token, args.now, &ledger);
    // The end of the file is repaired by an accepted append only
    // (`wimse_ect::_documentation::crash_recovery`).
    warn_tail(err, path, ledger.tail(), accepted.is_ok())?;
    let (status, report) = match accepted {
        Ok(accepted) => (
            EXIT_OK,
            json!({
                "valid": true,
                "seq": accepted.entry.seq(),
                "hash": accepted.entry.hash().to_string(),
                "claims": accepted.entry.ect().claims().to_json(&verifier.policy().profile),
                "missing_parents": accepted.dag.missing_parents,
            }),
        ),
        // The token may be fine; the storage failed. Nothing was appended.
        Err(e @ Error::LedgerIo(_)) => return Err(ledger_error(path, &e)),
        Err(e) => (
            EXIT_INVALID,
            json!({ "valid": false, "error": error_json(&e) }),
        ),
    };
    writeln!(out, "{report}").map_err(io_error)?;
    Ok(status)
}

/// `ect ledger verify`.
pub fn verify(
    path: &Path,
    jwks: Option<&Path>,
    token_policy: &TokenPolicyArgs,
    dag: &DagArgs,
    head: Option<&str>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, ConfigError> {
    let policy = ledger_policy(token_policy, dag, None)?;
    let keys = jwks.map(load_jwks).transpose()?;
    let expected_head = head
        .map(|h| {
            ChainHash::parse(h).ok_or_else(|| {
                ConfigError::new(format!(
                    "--head {h:?} is not an unpadded base64url SHA-256 hash"
                ))
            })
        })
        .transpose()?;
    let (report, tail) = audit_file(
        path,
        &policy,
        keys.as_ref().map(|k| k as &dyn wimse_ect::KeyResolver),
    )
    .map_err(|e| ledger_error(path, &e))?;
    warn_tail(err, path, tail, false)?;
    // An empty ledger's head is the genesis value, as `Ledger::head` says.
    let actual_head = if report.entries == 0 {
        Some(ChainHash::GENESIS)
    } else {
        report.head
    };
    let head_matches = expected_head.map(|h| actual_head == Some(h));
    let valid = report.is_valid() && head_matches != Some(false);
    let findings: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            json!({
                "seq": f.seq,
                "jti": f.jti,
                "code": f.error.code(),
                "rule": f.error.rule(),
                "message": f.error.message(),
            })
        })
        .collect();
    let missing: Vec<Value> = report
        .missing_parents
        .iter()
        .map(|m| json!({ "seq": m.seq, "parent": m.parent }))
        .collect();
    let mut result = json!({
        "valid": valid,
        "entries": report.entries,
        "head": report.head.map(|h| h.to_string()),
        "findings": findings,
        "missing_parents": missing,
        "torn_tail": tail.and_then(|t| t.torn()).map(|t| json!({ "offset": t.offset, "len": t.len })),
        "missing_newline": match tail {
            Some(Tail::MissingNewline { offset, len }) => json!({ "offset": offset, "len": len }),
            _ => Value::Null,
        },
    });
    if let Some(matches) = head_matches {
        result["head_matches"] = matches.into();
    }
    writeln!(out, "{result}").map_err(io_error)?;
    Ok(if valid { EXIT_OK } else { EXIT_INVALID })
}

/// `ect ledger show`.
pub fn show(
    path: &Path,
    format: Format,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, ConfigError> {
    let (ledger, tail) = FileLedger::read(path).map_err(|e| ledger_error(path, &e))?;
    warn_tail(err, path, tail, false)?;
    let entries = ledger.entries();
    match format {
        Format::Json => {
            for e in &entries {
                let c = e.ect().claims();
                let line = json!({
                    "seq": e.seq(),
                    "at": e.accepted_at(),
                    "hash": e.hash().to_string(),
                    "jti": c.jti,
                    "wid": c.wid,
                    "exec_act": c.exec_act,
                    "par": c.par,
                });
                writeln!(out, "{line}").map_err(io_error)?;
            }
        }
        Format::Dot => {
            let nodes: Vec<DotNode> = entries.iter().map(|e| accepted_node(e.ect())).collect();
            out.write_all(workflow_dot(&nodes).as_bytes())
                .map_err(io_error)?;
        }
    }
    Ok(EXIT_OK)
}
