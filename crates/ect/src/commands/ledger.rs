//! `ect ledger append|verify|show`: a hash-chained audit ledger (SPEC.md §8) in a file, an
//! SQLite database or a PostgreSQL database (`--ledger`, [`crate::backends`]).
//!
//! A ledger that cannot be opened, read or written, or does not verify, is an operational
//! error (exit 2), never a verdict on a token.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use serde_json::{Value, json};
use wimse_ect::{
    Accepted, AuditReport, ChainHash, ConfigError, Error, FileLedger, KeyResolver, LedgerAudit,
    LedgerEntry, Profile, Tail, Verifier, audit_file,
};

use crate::args::{AcceptArgs, DagArgs, Format, TokenPolicyArgs};
use crate::backends::{LedgerLocation, OpenLedger};
use crate::dot::{DotNode, workflow_dot};
use crate::io::{
    EXIT_INVALID, EXIT_OK, accept_verifier, accepted_node, error_json, io_error, ledger_policy,
    load_jwks, read_token,
};

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
    location: &LedgerLocation,
    args: &AcceptArgs,
    stream: bool,
    token: &str,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, ConfigError> {
    if stream && token != "-" {
        return Err(ConfigError::new(
            "--stream reads the tokens from stdin: give `-` as TOKEN",
        ));
    }
    let verifier = accept_verifier(args)?;
    let single = if stream {
        None
    } else {
        Some(read_token(token, verifier.policy(), stdin)?)
    };
    // A file or SQLite ledger is created by the first accepted token, not before: a rejected
    // token, or an error before the append, leaves no file behind.
    let opened = location.open_for_append(verifier.policy().profile)?;
    let ledger = opened.ledger();
    // What followed a ledger file's last `\n` is repaired by the first accepted append only
    // (`wimse_ect::_documentation::crash_recovery`): said once, when that append happens, or
    // at the end if none did.
    let file_tail = match (&opened, location) {
        (OpenLedger::File(file), LedgerLocation::File(path)) => Some((path.as_path(), file.tail())),
        _ => None,
    };
    let mut tail_reported = false;
    let mut all_ok = true;
    let mut accept = |token: &[u8], out: &mut dyn Write| -> Result<(), ConfigError> {
        let accepted = verifier.accept(token, args.now, ledger);
        if accepted.is_ok()
            && !tail_reported
            && let Some((path, tail)) = file_tail
        {
            warn_tail(err, path, tail, true)?;
            tail_reported = true;
        }
        let report = match accepted {
            Ok(accepted) => append_report(&verifier, &accepted),
            // The token may be fine; the storage failed. Nothing was appended.
            Err(e @ (Error::LedgerIo(_) | Error::ReplayUnavailable(_))) => {
                return Err(location.error(&e));
            }
            Err(e) => {
                all_ok = false;
                json!({ "valid": false, "error": error_json(&e) })
            }
        };
        writeln!(out, "{report}").map_err(io_error)?;
        out.flush().map_err(io_error)
    };
    match single {
        Some(token) => accept(&token, out)?,
        None => {
            for line in BufReader::new(stdin).lines() {
                let line = line.map_err(io_error)?;
                let line = line.trim_end_matches('\r');
                if !line.is_empty() {
                    accept(line.as_bytes(), out)?;
                }
            }
        }
    }
    if !tail_reported && let Some((path, tail)) = file_tail {
        warn_tail(err, path, tail, false)?;
    }
    Ok(if all_ok { EXIT_OK } else { EXIT_INVALID })
}

/// The JSON line of an appended token.
fn append_report(verifier: &Verifier, accepted: &Accepted) -> Value {
    json!({
        "valid": true,
        "seq": accepted.entry.seq(),
        "hash": accepted.entry.hash().to_string(),
        "claims": accepted.entry.ect().claims().to_json(&verifier.policy().profile),
        "missing_parents": accepted.dag.missing_parents,
    })
}

/// `ect ledger verify`.
#[allow(clippy::too_many_arguments)]
pub fn verify(
    location: &LedgerLocation,
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
    let keys = keys.as_ref().map(|k| k as &dyn KeyResolver);
    let (report, tail) = match location {
        LedgerLocation::File(path) => {
            let (report, tail) = audit_file(path, &policy, keys).map_err(|e| location.error(&e))?;
            warn_tail(err, path, tail, false)?;
            (report, tail)
        }
        _ => (audit_database(location, &policy, keys)?, None),
    };
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

/// The whole-ledger audit of a database ledger, read page by page. A read that fails is an
/// operational error (exit 2), not a finding.
fn audit_database(
    location: &LedgerLocation,
    policy: &wimse_ect::Policy,
    keys: Option<&dyn KeyResolver>,
) -> Result<AuditReport, ConfigError> {
    let ledger = location.open_database(policy.profile)?;
    let report = ledger.validate_all(policy, keys);
    if let Some(f) = report
        .findings
        .iter()
        .find(|f| matches!(f.error, Error::LedgerIo(_)))
    {
        return Err(location.error(&f.error));
    }
    Ok(report)
}

/// Every entry of the ledger, checked: a file read whole and verified, or a database's entries
/// whose chain verifies.
fn read_entries(
    location: &LedgerLocation,
    profile: Profile,
    err: &mut dyn Write,
) -> Result<Vec<std::sync::Arc<LedgerEntry>>, ConfigError> {
    match location {
        LedgerLocation::File(path) => {
            let (ledger, tail) =
                FileLedger::read_profile(path, profile).map_err(|e| location.error(&e))?;
            warn_tail(err, path, tail, false)?;
            Ok(ledger.entries())
        }
        _ => {
            let ledger = location.open_database(profile)?;
            ledger.verify_chain().map_err(|e| location.error(&e))?;
            ledger.entries().map_err(|e| location.error(&e))
        }
    }
}

/// `ect ledger show`: the entries read under the profile of `--profile` (else
/// `$ECT_PROFILE`, else `draft-00`); each JSON line names the parents as the profile does
/// (`par`, or `pred` in draft-01).
pub fn show(
    location: &LedgerLocation,
    profile: Option<&str>,
    format: Format,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, ConfigError> {
    let profile = crate::io::profile(profile)?;
    let entries = read_entries(location, profile, err)?;
    match format {
        Format::Json => {
            let names = &profile.claims;
            for e in &entries {
                let c = e.ect().claims();
                let mut line = serde_json::Map::new();
                line.insert("seq".into(), e.seq().into());
                line.insert("at".into(), e.accepted_at().into());
                line.insert("hash".into(), e.hash().to_string().into());
                line.insert(names.jti.into(), c.jti.clone().into());
                line.insert(names.wid.into(), json!(c.wid));
                line.insert(names.exec_act.into(), c.exec_act.clone().into());
                line.insert(names.par.into(), json!(c.par));
                let line = Value::Object(line);
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
