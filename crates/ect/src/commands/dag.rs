//! `ect dag`: accepts a file of tokens, one per line, in order into a fresh in-memory ledger
//! (SPEC.md §7) and prints one JSON verdict per line or a Graphviz drawing.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use serde_json::{Value, json};
use wimse_ect::{ConfigError, Error, MemoryLedger, Policy};

use crate::args::{AcceptArgs, Format};
use crate::dot::{DotNode, NodeStatus, workflow_dot};
use crate::io::{EXIT_INVALID, EXIT_OK, accept_verifier, accepted_node, error_json, io_error};

/// What a token says about itself, read without any check: for reporting rejected tokens.
/// Every field is `None` (or empty) when the token or the member cannot be read.
#[derive(Default)]
struct Unverified {
    jti: Option<String>,
    wid: Option<String>,
    exec_act: Option<String>,
    par: Vec<String>,
}

/// Reads what `token` claims about itself (see [`Unverified`]).
fn read_unverified(token: &[u8], policy: &Policy) -> Unverified {
    let Ok(compact) = wimse_ect::jws::split(token, policy.max_token_bytes) else {
        return Unverified::default();
    };
    let Ok(map) = wimse_ect::parse_object(&compact.payload) else {
        return Unverified::default();
    };
    let names = &policy.profile.claims;
    let text = |name: &str| map.get(name).and_then(Value::as_str).map(str::to_owned);
    Unverified {
        jti: text(names.jti),
        wid: text(names.wid),
        exec_act: text(names.exec_act),
        par: map
            .get(names.par)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Lines `ect dag` verifies at once: the signature checks of one chunk run in parallel
/// ([`Verifier::accept_batch`]), and at most one chunk of the input is held in memory.
///
/// [`Verifier::accept_batch`]: wimse_ect::Verifier::accept_batch
const DAG_CHUNK_LINES: usize = 512;

/// `ect dag`.
pub fn run(
    args: &AcceptArgs,
    format: Format,
    tokens: &str,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
) -> Result<u8, ConfigError> {
    let verifier = accept_verifier(args)?;
    let mut input: Box<dyn BufRead + '_> = if tokens == "-" {
        Box::new(BufReader::new(stdin))
    } else {
        let path = Path::new(tokens);
        let file = std::fs::File::open(path)
            .map_err(|e| ConfigError::new(format!("cannot read {}: {e}", path.display())))?;
        Box::new(BufReader::new(file))
    };
    let max = verifier.policy().max_token_bytes;
    // The ledger reads its tokens under the verifier's profile (`--profile`).
    let ledger = MemoryLedger::with_profile(verifier.policy().profile);
    let mut status = EXIT_OK;
    let mut nodes = Vec::new();
    let mut number = 0;
    loop {
        // The next chunk: (line number, the token, or the length of a line over the limit).
        let mut chunk: Vec<(usize, Result<Vec<u8>, usize>)> = Vec::new();
        while chunk.len() < DAG_CHUNK_LINES {
            let Some(line) = read_token_line(&mut *input, max).map_err(io_error)? else {
                break;
            };
            number += 1;
            if line != Ok(Vec::new()) {
                chunk.push((number, line));
            }
        }
        if chunk.is_empty() {
            break;
        }
        let fitting: Vec<&[u8]> = chunk
            .iter()
            .filter_map(|(_, l)| l.as_deref().ok())
            .collect();
        let mut results = verifier
            .accept_batch(&fitting, args.now, &ledger)
            .into_iter();
        for (line_number, line) in &chunk {
            let (result, token) = match line {
                Ok(token) => (results.next().expect("one result per token"), &token[..]),
                // ECT-JWS-1, the first check, counts bytes only: the line was not kept.
                Err(len) => (Err(Error::TooLarge { len: *len, max }), &[][..]),
            };
            // A shared replay cache that cannot answer (`--replay`) is an operational error:
            // no verdict, as in `verify` and `ledger append`.
            if let Err(e @ Error::ReplayUnavailable(_)) = &result {
                return Err(wimse_ect::ConfigError::new(format!("replay cache: {e}")));
            }
            if result.is_err() {
                status = EXIT_INVALID;
            }
            match format {
                Format::Json => {
                    let report = match result {
                        Ok(accepted) => json!({
                            "line": line_number,
                            "valid": true,
                            "jti": accepted.entry.ect().jti(),
                            "seq": accepted.entry.seq(),
                            "missing_parents": accepted.dag.missing_parents,
                        }),
                        Err(e) => json!({
                            "line": line_number,
                            "valid": false,
                            "jti": read_unverified(token, verifier.policy()).jti,
                            "error": error_json(&e),
                        }),
                    };
                    writeln!(out, "{report}").map_err(io_error)?;
                }
                Format::Dot => nodes.push(match result {
                    Ok(accepted) => accepted_node(accepted.entry.ect()),
                    Err(e) => {
                        let claimed = read_unverified(token, verifier.policy());
                        DotNode {
                            jti: claimed.jti,
                            wid: claimed.wid,
                            exec_act: claimed.exec_act,
                            par: claimed.par,
                            status: NodeStatus::Rejected(e.code().to_owned()),
                        }
                    }
                }),
            }
        }
    }
    if format == Format::Dot {
        out.write_all(workflow_dot(&nodes).as_bytes())
            .map_err(io_error)?;
    }
    Ok(status)
}

/// The next line of `input` without its `\n` and a final `\r`, or `None` at the end. A line
/// longer than `max` bytes is not kept: `Err(its length)`, so that a huge line costs no
/// memory.
fn read_token_line(
    input: &mut dyn BufRead,
    max: usize,
) -> std::io::Result<Option<Result<Vec<u8>, usize>>> {
    let mut kept = Vec::new();
    let mut len = 0usize;
    let mut last = None;
    loop {
        let available = input.fill_buf()?;
        if available.is_empty() {
            if len == 0 {
                return Ok(None);
            }
            break;
        }
        let (part, done) = match available.iter().position(|&b| b == b'\n') {
            Some(at) => (&available[..at], true),
            None => (available, false),
        };
        // Keep one byte beyond `max`, for a `\r` that will be dropped.
        let room = (max + 1).saturating_sub(kept.len()).min(part.len());
        kept.extend_from_slice(&part[..room]);
        len += part.len();
        if let Some(&b) = part.last() {
            last = Some(b);
        }
        let consumed = part.len() + usize::from(done);
        input.consume(consumed);
        if done {
            break;
        }
    }
    if last == Some(b'\r') {
        len -= 1;
        kept.truncate(len.min(kept.len()));
    }
    Ok(Some(if len > max { Err(len) } else { Ok(kept) }))
}
