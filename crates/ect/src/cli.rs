//! The `ect` command-line tool (the binary is a thin wrapper around [`main`] / [`run`]).
//!
//! Contract (README.md, DESIGN.md): `ect verify` exits 0 and prints
//! `{"valid":true,"claims":{...}}` for a valid token, exits 1 and prints
//! `{"valid":false,"error":{"code":...,"rule":...,"message":...}}` for an invalid one, and exits
//! 2 with a message on stderr for usage and configuration errors.
//!
//! `ect dag` and `ect ledger append|verify|show` follow the same 0/1/2 convention (README.md,
//! "DAG and ledger commands"); a ledger file that cannot be read or does not verify is an
//! operational error (2), never a verdict on a token.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::{Map, Value, json};

use crate::dot::{DotNode, NodeStatus, workflow_dot};
use wimse_ect::{
    ChainHash, ConfigError, CreateMode, DagMode, EctBuilder, Error, FileLedger, KeySet, Ledger,
    LedgerAudit, MemoryLedger, Policy, PolicyDecision, ReplayProtection, SigningKey, Tail,
    Verifier, audit_file, random_uuid,
};

/// Exit status: success, or a valid token.
pub const EXIT_OK: u8 = 0;
/// Exit status: the token is invalid.
pub const EXIT_INVALID: u8 = 1;
/// Exit status: usage or configuration error.
pub const EXIT_USAGE: u8 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "ect",
    version,
    about = "Create and verify WIMSE Execution Context Tokens (profile draft-00)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Generate a P-256 key: private JWK to --private (or stdout), public key added to --jwks.
    Keygen {
        /// Key id written into tokens (`kid`).
        #[arg(long)]
        kid: String,
        /// Bind the public key to this issuer in the JWKS (`iss` member, ECT-KEY-2).
        #[arg(long)]
        iss: Option<String>,
        /// Write the private JWK here (created with mode 0600) instead of stdout.
        #[arg(long)]
        private: Option<PathBuf>,
        /// Add the public JWK to this JWK Set file, creating it if absent.
        #[arg(long)]
        jwks: Option<PathBuf>,
    },
    /// Create and sign an ECT; prints the compact token.
    Create {
        /// Private JWK file (from `ect keygen`).
        #[arg(long)]
        key: PathBuf,
        /// Issuer (`iss`).
        #[arg(long)]
        iss: String,
        /// Audience (`aud`); repeat for an array.
        #[arg(long, required = true)]
        aud: Vec<String>,
        /// Action performed (`exec_act`).
        #[arg(long)]
        exec_act: String,
        /// Parent task id (`par`); repeat for several.
        #[arg(long)]
        par: Vec<String>,
        /// Token/task id (`jti`); default a random UUID v4.
        #[arg(long)]
        jti: Option<String>,
        /// Workflow id (`wid`).
        #[arg(long)]
        wid: Option<String>,
        /// Issued-at, Unix seconds; default the system clock.
        #[arg(long)]
        iat: Option<u64>,
        /// Lifetime in seconds (`exp = iat + ttl`).
        #[arg(long, default_value_t = 300, conflicts_with = "exp")]
        ttl: u64,
        /// Expiration, Unix seconds (instead of --ttl).
        #[arg(long)]
        exp: Option<u64>,
        /// `inp_hash` (base64url SHA-256).
        #[arg(long)]
        inp_hash: Option<String>,
        /// `out_hash` (base64url SHA-256).
        #[arg(long)]
        out_hash: Option<String>,
        /// `ext` as a JSON object.
        #[arg(long)]
        ext: Option<String>,
        /// Policy id (`pol`); requires --pol-decision.
        #[arg(long, requires = "pol_decision")]
        pol: Option<String>,
        /// `pol_decision`: approved, rejected or pending_human_review.
        #[arg(long, requires = "pol")]
        pol_decision: Option<String>,
    },
    /// Verify one ECT; exit 0 valid, 1 invalid, 2 usage/configuration error.
    Verify {
        /// Trusted keys, RFC 7517 JWK Set (optional `iss` per key binds it to an issuer).
        #[arg(long)]
        jwks: PathBuf,
        /// This verifier's identifier (must be in `aud`); default $ECT_AUDIENCE.
        #[arg(long)]
        audience: Option<String>,
        /// Current time, Unix seconds.
        #[arg(long)]
        now: u64,
        /// Clock leeway in seconds; default $ECT_LEEWAY_SECONDS or 30.
        #[arg(long)]
        leeway: Option<u64>,
        /// Maximum iat age in seconds; default $ECT_MAX_IAT_AGE_SECONDS or 900.
        #[arg(long)]
        max_iat_age: Option<u64>,
        /// Maximum `par` length; default $ECT_MAX_PAR or 100.
        #[arg(long)]
        max_par: Option<usize>,
        /// The compact token, or `-` to read it from stdin (one trailing newline is dropped).
        token: String,
    },
    /// Accept a file of tokens, one per line, in order into a fresh in-memory ledger (SPEC.md
    /// §7); exit 0 all accepted, 1 any rejected, 2 usage/configuration error.
    Dag {
        #[command(flatten)]
        accept: AcceptArgs,
        /// Output: one JSON object per token line, or a Graphviz digraph.
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
        /// File with one compact token per line, or `-` for stdin (empty lines are skipped,
        /// a trailing CR is dropped).
        tokens: String,
    },
    /// Work with a file-backed, hash-chained audit ledger (SPEC.md §8).
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// Run a two-agent workflow step by step with fixed keys and times.
    Demo,
    /// Print the table of rule ids and error codes (the content of CODES.md).
    Codes,
    /// Generate the spec vectors, or check the committed ones.
    Vectors {
        #[command(subcommand)]
        command: VectorsCommand,
    },
    /// Run every vector against the reference implementation or, with --impl, against an
    /// external one speaking the JSON-lines protocol (README, "Test your implementation");
    /// exit 0 when nothing failed and at least one case passed, 1 otherwise.
    Conformance(ConformanceArgs),
}

/// The arguments of `ect conformance`.
#[derive(Args, Debug)]
struct ConformanceArgs {
    /// The vectors directory.
    #[arg(long, default_value = "vectors")]
    vectors: PathBuf,
    /// The implementation's command, run with `sh -c`; without it, the reference.
    #[arg(long = "impl")]
    implementation: Option<String>,
    /// Expected failures `{"xfails": {"<id>": "<reason>"}}`; strict: a listed vector that
    /// passes fails the run.
    #[arg(long)]
    xfails: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    format: ReportFormat,
    /// Seconds to wait for each answer of an external implementation.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    /// Score verdicts only: a rejection passes whatever its error code (for an
    /// implementation that has not mapped its errors to SPEC.md's codes yet). Every
    /// output states it.
    #[arg(long)]
    verdict_only: bool,
}

#[derive(Subcommand, Debug)]
enum VectorsCommand {
    /// Write the vector files, their schema and README into DIR (exit 0).
    Export {
        /// The directory.
        #[arg(long, default_value = "vectors")]
        out: PathBuf,
    },
    /// Compare DIR with a fresh generation; exit 1 listing the differences, 0 when identical.
    Check {
        /// The directory.
        #[arg(long, default_value = "vectors")]
        dir: PathBuf,
    },
}

/// Output format of `ect conformance`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ReportFormat {
    /// A per-rule table, the failures, and the summary line `N passed, N failed`.
    Table,
    /// One JSON document.
    Json,
    /// A Markdown results matrix by rule.
    Markdown,
}

#[derive(Subcommand, Debug)]
enum LedgerCommand {
    /// Verify one token and append it to the ledger file (created by the first accepted
    /// token; a rejected token changes nothing); exit 0 appended, 1 rejected, 2
    /// usage/configuration error or a broken ledger file. An accepted token first repairs the
    /// file's end (cuts a torn final line off, adds a missing final newline); what was found
    /// is said on stderr.
    Append {
        /// The ledger file.
        #[arg(long)]
        ledger: PathBuf,
        #[command(flatten)]
        accept: AcceptArgs,
        /// The compact token, or `-` to read it from stdin (one trailing newline is dropped).
        token: String,
    },
    /// Audit the ledger file without changing it; exit 0 clean, 1 findings or head mismatch,
    /// 2 usage/configuration error or unreadable file.
    Verify {
        /// The ledger file.
        #[arg(long)]
        ledger: PathBuf,
        /// Trusted keys: when given, every entry's signature is checked too.
        #[arg(long)]
        jwks: Option<PathBuf>,
        #[command(flatten)]
        token_policy: TokenPolicyArgs,
        #[command(flatten)]
        dag: DagArgs,
        /// The expected head (the newest entry's hash, unpadded base64url), kept elsewhere: a
        /// mismatch reveals a ledger whose newest entries were cut off.
        #[arg(long)]
        head: Option<String>,
    },
    /// Print the ledger's entries (the file must verify); exit 0, or 2 if it does not.
    Show {
        /// The ledger file.
        #[arg(long)]
        ledger: PathBuf,
        /// Output: one JSON object per entry, or a Graphviz digraph.
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
    },
}

/// Output format of `ect dag` and `ect ledger show`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// One JSON object per line.
    Json,
    /// A Graphviz digraph (render with `dot -Tsvg`).
    Dot,
}

/// The token rule settings (flags win over `ECT_*` variables, which win over the defaults).
#[derive(Args, Debug)]
struct TokenPolicyArgs {
    /// This verifier's identifier (must be in `aud`); default $ECT_AUDIENCE.
    #[arg(long)]
    audience: Option<String>,
    /// Clock leeway in seconds; default $ECT_LEEWAY_SECONDS or 30.
    #[arg(long)]
    leeway: Option<u64>,
    /// Maximum iat age in seconds; default $ECT_MAX_IAT_AGE_SECONDS or 900.
    #[arg(long)]
    max_iat_age: Option<u64>,
    /// Maximum `par` length; default $ECT_MAX_PAR or 100.
    #[arg(long)]
    max_par: Option<usize>,
}

/// The DAG settings common to accepting and auditing.
#[derive(Args, Debug)]
struct DagArgs {
    /// Partial DAG mode: a parent the ledger does not hold is listed as missing instead of
    /// rejected (ECT-DAG-2).
    #[arg(long)]
    partial: bool,
    /// Allowed clock skew between parent and child iat (ECT-DAG-3); default
    /// $ECT_SKEW_SECONDS or 30.
    #[arg(long)]
    skew: Option<u64>,
}

/// What accepting tokens into a ledger needs: keys, time, token and DAG settings.
#[derive(Args, Debug)]
struct AcceptArgs {
    /// Trusted keys, RFC 7517 JWK Set (optional `iss` per key binds it to an issuer).
    #[arg(long)]
    jwks: PathBuf,
    /// Current time, Unix seconds (also the acceptance time recorded in the ledger).
    #[arg(long)]
    now: u64,
    #[command(flatten)]
    token_policy: TokenPolicyArgs,
    #[command(flatten)]
    dag: DagArgs,
    /// Maximum number of lookups the late-parent checks and the acyclicity walk may make
    /// (ECT-DAG-5: each stored child and each par element examined); default
    /// $ECT_ANCESTOR_BUDGET or 10000.
    #[arg(long)]
    ancestor_budget: Option<usize>,
}

/// Runs the tool with the process's arguments and standard streams.
pub fn main() -> std::process::ExitCode {
    let code = run(
        std::env::args_os(),
        &mut std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    std::process::ExitCode::from(code)
}

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
        } => keygen(
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
            token,
        } => verify(
            &jwks,
            audience.as_deref(),
            now,
            (leeway, max_iat_age, max_par),
            &token,
            stdin,
            out,
        ),
        Command::Create {
            key,
            iss,
            aud,
            exec_act,
            par,
            jti,
            wid,
            iat,
            ttl,
            exp,
            inp_hash,
            out_hash,
            ext,
            pol,
            pol_decision,
        } => (|| {
            let signing_key = load_signing_key(&key)?;
            let iat = match iat {
                Some(iat) => iat,
                None => std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_err(|_| ConfigError::new("system clock is before 1970"))?
                    .as_secs(),
            };
            let mut b = EctBuilder::new(iss, exec_act)
                .jti(match jti {
                    Some(jti) => jti,
                    None => random_uuid()?,
                })
                .issued_at(iat)
                .expires_at(exp.unwrap_or(iat.saturating_add(ttl)));
            b = if aud.len() == 1 {
                b.audience(aud[0].clone())
            } else {
                b.audiences(aud)
            };
            for p in par {
                b = b.parent(p);
            }
            if let Some(wid) = wid {
                b = b.wid(wid);
            }
            if let Some(h) = inp_hash {
                b = b.inp_hash(h);
            }
            if let Some(h) = out_hash {
                b = b.out_hash(h);
            }
            if let Some(ext) = ext {
                match serde_json::from_str::<Value>(&ext) {
                    Ok(Value::Object(map)) => b = b.ext(map),
                    _ => return Err(ConfigError::new("--ext must be a JSON object")),
                }
            }
            if let (Some(pol), Some(decision)) = (pol, pol_decision) {
                let d = PolicyDecision::parse(&decision).ok_or_else(|| {
                    ConfigError::new(format!(
                        "--pol-decision {decision:?}: use approved, rejected or pending_human_review"
                    ))
                })?;
                b = b.policy(pol, d);
            }
            let token = b
                .sign(&signing_key)
                .map_err(|e| ConfigError::new(format!("refusing to create the token: {e}")))?;
            writeln!(out, "{token}").map_err(io_error)?;
            Ok(EXIT_OK)
        })(),
        Command::Dag {
            accept,
            format,
            tokens,
        } => dag(&accept, format, &tokens, stdin, out),
        Command::Ledger { command } => match command {
            LedgerCommand::Append {
                ledger,
                accept,
                token,
            } => ledger_append(&ledger, &accept, &token, stdin, out, err),
            LedgerCommand::Verify {
                ledger,
                jwks,
                token_policy,
                dag,
                head,
            } => ledger_verify(
                &ledger,
                jwks.as_deref(),
                &token_policy,
                &dag,
                head.as_deref(),
                out,
                err,
            ),
            LedgerCommand::Show { ledger, format } => ledger_show(&ledger, format, out, err),
        },
        Command::Demo => demo(out).map(|()| EXIT_OK),
        Command::Codes => out
            .write_all(wimse_ect_conformance::rules::markdown().as_bytes())
            .map(|()| EXIT_OK)
            .map_err(io_error),
        Command::Vectors { command } => vectors(command, out),
        Command::Conformance(args) => conformance(&args, out, err),
    };
    match result {
        Ok(status) => status,
        Err(e) => {
            let _ = writeln!(err, "ect: {}", e.message());
            EXIT_USAGE
        }
    }
}

/// `ect vectors export|check`.
fn vectors(command: VectorsCommand, out: &mut dyn Write) -> Result<u8, ConfigError> {
    match command {
        VectorsCommand::Export { out: dir } => {
            let n = wimse_ect_conformance::export(&dir).map_err(ConfigError::new)?;
            writeln!(out, "wrote {n} vectors to {}", dir.display()).map_err(io_error)?;
            Ok(EXIT_OK)
        }
        VectorsCommand::Check { dir } => {
            let differences = wimse_ect_conformance::check(&dir).map_err(ConfigError::new)?;
            for d in &differences {
                writeln!(out, "{}: {d}", dir.display()).map_err(io_error)?;
            }
            if differences.is_empty() {
                writeln!(out, "{}: up to date", dir.display()).map_err(io_error)?;
                Ok(EXIT_OK)
            } else {
                writeln!(out, "run `ect vectors export --out {}`", dir.display())
                    .map_err(io_error)?;
                Ok(EXIT_INVALID)
            }
        }
    }
}

/// `ect conformance`.
fn conformance(
    args: &ConformanceArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, ConfigError> {
    use wimse_ect_conformance::harness::{self, External, Options, Reference, Scoring, Xfails};
    let ConformanceArgs {
        vectors: dir,
        implementation,
        xfails,
        format,
        timeout,
        verdict_only,
    } = args;
    let (implementation, xfails, timeout) =
        (implementation.as_deref(), xfails.as_deref(), *timeout);
    let vectors = harness::load(dir).map_err(ConfigError::new)?;
    if vectors.is_empty() {
        return Err(ConfigError::new(format!("no vectors in {}", dir.display())));
    }
    let xfails = match xfails {
        Some(path) => Xfails::load(path).map_err(ConfigError::new)?,
        None => Xfails::default(),
    };
    // try_from: a timeout too long for a Duration (1e300) is a usage error, not a panic.
    let timeout = match std::time::Duration::try_from_secs_f64(timeout) {
        Ok(t) if timeout > 0.0 => t,
        _ => {
            return Err(ConfigError::new(
                "--timeout must be a positive number of seconds",
            ));
        }
    };
    let options = Options {
        scoring: if *verdict_only {
            Scoring::VerdictOnly
        } else {
            Scoring::Strict
        },
        ..Options::default()
    };
    let report = match implementation {
        Some(cmd) => harness::run_with(
            &vectors,
            &mut External::new(cmd, timeout),
            &xfails,
            &options,
            err,
        ),
        None => harness::run_with(&vectors, &mut Reference, &xfails, &options, err),
    };
    let format = match *format {
        ReportFormat::Table => harness::Format::Table,
        ReportFormat::Json => harness::Format::Json,
        ReportFormat::Markdown => harness::Format::Markdown,
    };
    out.write_all(harness::render(&report, format).as_bytes())
        .map_err(io_error)?;
    // A run in which no case passed shows nothing about the implementation: it fails even
    // when nothing failed (everything skipped, or failed as expected).
    Ok(if report.ok() { EXIT_OK } else { EXIT_INVALID })
}

fn io_error(e: std::io::Error) -> ConfigError {
    ConfigError::new(format!("I/O error: {e}"))
}

fn read_file(path: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path)
        .map_err(|e| ConfigError::new(format!("cannot read {}: {e}", path.display())))
}

fn load_signing_key(path: &Path) -> Result<SigningKey, ConfigError> {
    SigningKey::from_jwk_json(&read_file(path)?)
        .map_err(|e| ConfigError::new(format!("{}: {e}", path.display())))
}

fn load_jwks(path: &Path) -> Result<KeySet, ConfigError> {
    KeySet::from_jwks_json(&read_file(path)?)
        .map_err(|e| ConfigError::new(format!("{}: {e}", path.display())))
}

fn keygen(
    kid: &str,
    iss: Option<&str>,
    private: Option<&Path>,
    jwks: Option<&Path>,
    out: &mut dyn Write,
) -> Result<u8, ConfigError> {
    let key = SigningKey::generate(kid)?;
    if let Some(path) = jwks {
        let mut set = if path.exists() {
            load_jwks(path)?
        } else {
            KeySet::new()
        };
        set.insert(key.trusted(iss))
            .map_err(|e| ConfigError::new(format!("{}: {e}", path.display())))?;
        let text = serde_json::to_string_pretty(&set.to_jwks()).expect("JSON serializes");
        std::fs::write(path, text + "\n")
            .map_err(|e| ConfigError::new(format!("cannot write {}: {e}", path.display())))?;
    }
    let private_jwk =
        serde_json::to_string_pretty(&Value::Object(key.to_private_jwk())).expect("serializes");
    match private {
        Some(path) => write_private(path, &private_jwk)?,
        None => writeln!(out, "{private_jwk}").map_err(io_error)?,
    }
    Ok(EXIT_OK)
}

fn write_private(path: &Path, text: &str) -> Result<(), ConfigError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| ConfigError::new(format!("cannot create {}: {e}", path.display())))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .map_err(io_error)
}

fn verify(
    jwks: &Path,
    audience: Option<&str>,
    now: u64,
    (leeway, max_iat_age, max_par): (Option<u64>, Option<u64>, Option<usize>),
    token: &str,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
) -> Result<u8, ConfigError> {
    // Flags win over ECT_* variables, which win over SPEC.md's defaults.
    let mut policy = Policy::from_env(audience)?;
    if let Some(v) = leeway {
        policy.leeway_seconds = v;
    }
    if let Some(v) = max_iat_age {
        policy.max_iat_age_seconds = v;
    }
    if let Some(v) = max_par {
        policy.max_par = v;
    }
    // One token per process: nothing to remember between verifications.
    policy.replay = ReplayProtection::Disabled;
    let verifier = Verifier::new(load_jwks(jwks)?, policy)?;
    let token = read_token(token, verifier.policy(), stdin)?;
    let (status, report) = match verifier.verify(&token, now) {
        Ok(verified) => (
            EXIT_OK,
            json!({
                "valid": true,
                "claims": verified.claims().to_json(&verifier.policy().profile),
            }),
        ),
        Err(e) => (
            EXIT_INVALID,
            json!({ "valid": false, "error": error_json(&e) }),
        ),
    };
    writeln!(out, "{report}").map_err(io_error)?;
    Ok(status)
}

/// The token argument, or with `-` the token read from stdin (one trailing newline dropped).
fn read_token(token: &str, policy: &Policy, stdin: &mut dyn Read) -> Result<Vec<u8>, ConfigError> {
    if token != "-" {
        return Ok(token.as_bytes().to_vec());
    }
    let mut bytes = Vec::new();
    // Read at most a few bytes past the limit (room for "\r\n"): a longer token fails
    // ECT-JWS-1 anyway.
    let limit = policy.max_token_bytes as u64 + 3;
    stdin
        .take(limit)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    strip_one_newline(&mut bytes);
    Ok(bytes)
}

/// `{"code":...,"rule":...,"message":...}` for an error.
pub fn error_json(e: &Error) -> Value {
    json!({ "code": e.code(), "rule": e.rule(), "message": e.message() })
}

fn strip_one_newline(bytes: &mut Vec<u8>) {
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
}

/// The policy of the ledger commands: `ECT_*` variables, then flags, then the DAG settings.
fn ledger_policy(
    args: &TokenPolicyArgs,
    dag: &DagArgs,
    ancestor_budget: Option<usize>,
) -> Result<Policy, ConfigError> {
    let mut policy = Policy::from_env(args.audience.as_deref())?;
    if let Some(v) = args.leeway {
        policy.leeway_seconds = v;
    }
    if let Some(v) = args.max_iat_age {
        policy.max_iat_age_seconds = v;
    }
    if let Some(v) = args.max_par {
        policy.max_par = v;
    }
    if dag.partial {
        policy.dag.mode = DagMode::Partial;
    }
    if let Some(v) = dag.skew {
        policy.dag.skew_seconds = v;
    }
    if let Some(v) = ancestor_budget {
        policy.dag.ancestor_budget = v;
    }
    policy.validate()?;
    Ok(policy)
}

/// The verifier of `ect dag` and `ect ledger append`. Replay protection is the library's
/// default (a fresh cache per process; the ledger itself refuses a repeated `jti`).
fn accept_verifier(args: &AcceptArgs) -> Result<Verifier, ConfigError> {
    let policy = ledger_policy(&args.token_policy, &args.dag, args.ancestor_budget)?;
    Verifier::new(load_jwks(&args.jwks)?, policy)
}

/// What a token says about itself, read without any check: for reporting rejected tokens.
/// Every field is `None` (or empty) when the token or the member cannot be read.
#[derive(Default)]
struct Unverified {
    jti: Option<String>,
    wid: Option<String>,
    exec_act: Option<String>,
    par: Vec<String>,
}

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

/// A node of the drawing for a stored (accepted) token.
fn accepted_node(ect: &wimse_ect::StoredEct) -> DotNode {
    let c = ect.claims();
    DotNode {
        jti: Some(c.jti.clone()),
        wid: c.wid.clone(),
        exec_act: Some(c.exec_act.clone()),
        par: c.par.clone(),
        status: NodeStatus::Accepted,
    }
}

/// Lines `ect dag` verifies at once: the signature checks of one chunk run in parallel
/// ([`Verifier::accept_batch`]), and at most one chunk of the input is held in memory.
const DAG_CHUNK_LINES: usize = 512;

fn dag(
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
    let ledger = MemoryLedger::new();
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

/// A ledger that cannot be opened or read is an operational error (exit 2), not a verdict.
fn ledger_error(path: &Path, e: &Error) -> ConfigError {
    ConfigError::new(format!("ledger {}: {e}", path.display()))
}

/// Warns on stderr about what follows a ledger file's last `\n` (README, "Crash recovery"):
/// a torn final line, or a last line without its `\n`. `repaired`: whether an accepted append
/// repaired it (cut the torn line off, appended the newline) before its entry.
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

fn ledger_append(
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
    // The end of the file is repaired by an accepted append only (README, "Crash recovery").
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

fn ledger_verify(
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

fn ledger_show(
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

fn demo(out: &mut dyn Write) -> Result<(), ConfigError> {
    demo_steps(out).map_err(|e| match e {
        DemoError::Io(e) => io_error(e),
        DemoError::Ect(e) => ConfigError::new(format!("demo failed: {e}")),
        DemoError::Config(e) => e,
    })
}

enum DemoError {
    Io(std::io::Error),
    Ect(Error),
    Config(ConfigError),
}

impl From<std::io::Error> for DemoError {
    fn from(e: std::io::Error) -> Self {
        DemoError::Io(e)
    }
}
impl From<Error> for DemoError {
    fn from(e: Error) -> Self {
        DemoError::Ect(e)
    }
}
impl From<ConfigError> for DemoError {
    fn from(e: ConfigError) -> Self {
        DemoError::Config(e)
    }
}

/// The error of a step the demo expects to be rejected.
fn rejected(result: wimse_ect::Result<wimse_ect::VerifiedEct>) -> Result<Error, DemoError> {
    match result {
        Ok(v) => Err(DemoError::Config(ConfigError::new(format!(
            "demo expected a rejection, but {} verified",
            v.jti()
        )))),
        Err(e) => Ok(e),
    }
}

fn demo_steps(out: &mut dyn Write) -> Result<(), DemoError> {
    const A: &str = "spiffe://example.org/agent-a";
    const B: &str = "spiffe://example.org/agent-b";
    const AUDITOR: &str = "spiffe://example.org/auditor";
    const WID: &str = "3f1c6a2e-8d4b-4e7a-9c1f-2b5d8e0a7c64";
    const ROOT: &str = "0b7e3c52-6f1d-4a8e-b9c3-5d2f7a1e4b60";
    const CHILD: &str = "9a4d2f81-3c6e-4b7d-8e1a-6f5c0d3b2a97";
    let now: u64 = 1_772_000_000;
    let pretty = |map: Map<String, Value>| {
        serde_json::to_string_pretty(&Value::Object(map)).expect("serializes")
    };

    writeln!(
        out,
        "== ECT demo: two agents, one workflow (profile draft-00)"
    )?;
    writeln!(
        out,
        "Fixed keys and times (now = {now}) so the output is reproducible.\n"
    )?;
    let key_a = SigningKey::from_scalar_bytes("agent-a-key", &[0xA1; 32])?;
    let key_b = SigningKey::from_scalar_bytes("agent-b-key", &[0xB2; 32])?;
    let trusted = || KeySet::from_keys([key_a.trusted(Some(A)), key_b.trusted(Some(B))]);
    writeln!(
        out,
        "1. Keys: {A} signs with kid {:?}, {B} with kid {:?}.",
        key_a.kid(),
        key_b.kid()
    )?;
    writeln!(
        out,
        "   Every verifier trusts both, each key bound to its issuer (ECT-KEY-2).\n"
    )?;

    let input = b"customer 4711";
    let output = b"{\"customer\":4711,\"tier\":\"gold\"}";
    let root = EctBuilder::new(A, "fetch_customer_record")
        .audience(B)
        .jti(ROOT)
        .wid(WID)
        .issued_at(now)
        .expires_at(now + 600)
        .inp_hash(wimse_ect::sha256_b64url(input))
        .out_hash(wimse_ect::sha256_b64url(output))
        .sign(&key_a)?;
    writeln!(
        out,
        "2. Agent A does the root task and creates an ECT for agent B (par = []):"
    )?;
    writeln!(out, "   {root}\n")?;

    let verifier_b = Verifier::new(trusted()?, Policy::new(B))?;
    let verified_root = verifier_b.verify(&root, now + 2)?;
    writeln!(out, "3. Agent B verifies it at now+2: valid. Claims:")?;
    writeln!(
        out,
        "{}\n",
        pretty(verified_root.claims().to_json(&wimse_ect::DRAFT_00))
    )?;

    let replay = rejected(verifier_b.verify(&root, now + 3))?;
    writeln!(
        out,
        "4. The same token presented to B again is refused: {} ({}).\n",
        replay.code(),
        replay.rule()
    )?;

    let child = EctBuilder::new(B, "score_customer_risk")
        .audience(AUDITOR)
        .jti(CHILD)
        .wid(WID)
        .parent(verified_root.jti())
        .issued_at(now + 5)
        .expires_at(now + 605)
        .inp_hash(wimse_ect::sha256_b64url(output))
        .policy("risk-policy-v1", PolicyDecision::Approved)
        .sign(&key_b)?;
    writeln!(
        out,
        "5. Agent B does the next task and creates a child ECT naming the root in par:"
    )?;
    writeln!(out, "   {child}\n")?;

    let verifier_auditor = Verifier::new(trusted()?, Policy::new(AUDITOR))?;
    let verified_child = verifier_auditor.verify(&child, now + 7)?;
    writeln!(
        out,
        "6. The auditor verifies the child at now+7: valid. Claims:"
    )?;
    writeln!(
        out,
        "{}\n",
        pretty(verified_child.claims().to_json(&wimse_ect::DRAFT_00))
    )?;

    let mut tampered = child.clone().into_bytes();
    let dot = child.find('.').expect("three segments") + 5;
    tampered[dot] = if tampered[dot] == b'A' { b'B' } else { b'A' };
    let bad = rejected(verifier_auditor.verify(&tampered, now + 8))?;
    writeln!(
        out,
        "7. One changed payload character: {} ({}), {}.",
        bad.code(),
        bad.rule(),
        bad.message()
    )?;
    let late =
        rejected(Verifier::new(trusted()?, Policy::new(AUDITOR))?.verify(&child, now + 700))?;
    writeln!(
        out,
        "8. The child verified at now+700 (after exp + leeway): {} ({}).\n",
        late.code(),
        late.rule()
    )?;
    writeln!(
        out,
        "Workflow {WID}: {ROOT} (fetch_customer_record, {A}) -> {CHILD} (score_customer_risk, {B})"
    )?;
    demo_dag_steps(out, &key_a, &key_b, &trusted()?, now)
}

/// The error of an acceptance the demo expects to be refused.
fn refused(result: wimse_ect::Result<wimse_ect::Accepted>) -> Result<Error, DemoError> {
    match result {
        Ok(a) => Err(DemoError::Config(ConfigError::new(format!(
            "demo expected a refusal, but {} was accepted",
            a.entry.ect().jti()
        )))),
        Err(e) => Ok(e),
    }
}

/// The demo's second part: DAG validation and the audit ledger (SPEC.md §7, §8).
fn demo_dag_steps(
    out: &mut dyn Write,
    key_a: &SigningKey,
    key_b: &SigningKey,
    trusted: &KeySet,
    now: u64,
) -> Result<(), DemoError> {
    const A: &str = "spiffe://example.org/agent-a";
    const B: &str = "spiffe://example.org/agent-b";
    const LEDGER: &str = "spiffe://example.org/ledger";
    const WID: &str = "7c2e9b14-5a3f-4d8e-a1b6-3e9f0c2d4b75";
    const ROOT: &str = "1e5a7c3d-2b4f-4a6e-8d9c-0f1b3a5c7e92";
    const LEFT: &str = "2f6b8d4e-3c5a-4b7f-9e0d-1a2c4b6d8f03";
    const RIGHT: &str = "3a7c9e5f-4d6b-4c8a-8f1e-2b3d5c7e9a14";
    const JOIN: &str = "4b8d0f6a-5e7c-4d9b-9a2f-3c4e6d8f0b25";
    const ORPHAN: &str = "5c9e1a7b-6f8d-4eac-8b3a-4d5f7e9a1c36";
    const GONE: &str = "6d0f2b8c-7a9e-4fbd-9c4b-5e6a8f0b2d47";
    const DENIED: &str = "7e1a3c9d-8b0f-4ace-8d5c-6f7b9a1c3e58";
    const BLOCKED: &str = "8f2b4d0e-9c1a-4bdf-9e6d-7a8c0b2d4f69";
    let base = now + 20;
    let at = base + 10;
    // Every task of this workflow is recorded for the ledger service.
    let task = |agent: &str, act: &str, jti: &str, iat: u64, par: &[&str]| {
        let mut b = EctBuilder::new(agent, act)
            .audience(LEDGER)
            .jti(jti)
            .wid(WID)
            .issued_at(iat)
            .expires_at(iat + 600);
        for p in par {
            b = b.parent(*p);
        }
        b
    };
    let name = |agent: &str| agent.rsplit('/').next().unwrap_or(agent).to_owned();

    writeln!(
        out,
        "\n== DAG validation and the audit ledger (SPEC.md §7, §8)\n"
    )?;
    let ledger = MemoryLedger::new();
    let verifier = Verifier::new(trusted.clone(), Policy::new(LEDGER))?;
    writeln!(
        out,
        "9. Four tasks of workflow {WID} accepted in order into a MemoryLedger (strict DAG mode) at now+30:"
    )?;
    let root = task(A, "plan_trip", ROOT, base, &[]).sign(key_a)?;
    let diamond = [
        (A, root.clone()),
        (
            B,
            task(B, "book_flight", LEFT, base + 1, &[ROOT]).sign(key_b)?,
        ),
        (
            A,
            task(A, "book_hotel", RIGHT, base + 1, &[ROOT]).sign(key_a)?,
        ),
        (
            B,
            task(B, "send_itinerary", JOIN, base + 2, &[LEFT, RIGHT]).sign(key_b)?,
        ),
    ];
    for (agent, token) in &diamond {
        let accepted = verifier.accept(token, at, &ledger)?;
        let c = accepted.entry.ect().claims();
        writeln!(
            out,
            "   seq {}: {} {} ({}), par [{}]",
            accepted.entry.seq(),
            c.jti,
            c.exec_act,
            name(agent),
            c.par.join(", ")
        )?;
    }

    let dup = refused(verifier.accept(&root, at + 1, &ledger))?;
    writeln!(
        out,
        "10. The root presented again: {} ({}); the ledger still holds {} entries.",
        dup.code(),
        dup.rule(),
        ledger.len()
    )?;

    let orphan = task(B, "audit_expenses", ORPHAN, base + 3, &[GONE]).sign(key_b)?;
    let missing = refused(verifier.accept(&orphan, at + 2, &ledger))?;
    writeln!(
        out,
        "11. A task naming parent {GONE}, which the ledger does not hold:"
    )?;
    writeln!(
        out,
        "    strict mode refuses it: {} ({});",
        missing.code(),
        missing.rule()
    )?;
    let mut partial_policy = Policy::new(LEDGER);
    partial_policy.dag = wimse_ect::DagValidator::partial();
    let partial_ledger = MemoryLedger::new();
    let accepted =
        Verifier::new(trusted.clone(), partial_policy)?.accept(&orphan, at + 2, &partial_ledger)?;
    writeln!(
        out,
        "    partial mode accepts it into a second ledger as seq {}, missing parents [{}], verified parents [{}].",
        accepted.entry.seq(),
        accepted.dag.missing_parents.join(", "),
        accepted.dag.verified_parents.join(", ")
    )?;

    let denied = task(A, "approve_payment", DENIED, base + 4, &[JOIN])
        .policy("payment-policy-v1", PolicyDecision::Rejected)
        .sign(key_a)?;
    let entry = verifier.accept(&denied, at + 3, &ledger)?.entry;
    let blocked = task(B, "charge_card", BLOCKED, base + 5, &[DENIED]).sign(key_b)?;
    let policy_err = refused(verifier.accept(&blocked, at + 4, &ledger))?;
    writeln!(
        out,
        "12. A task whose own pol_decision is \"rejected\" is recorded as seq {}; its child is refused: {} ({}).",
        entry.seq(),
        policy_err.code(),
        policy_err.rule()
    )?;

    ledger.verify_chain()?;
    let report = ledger.validate_all(verifier.policy(), Some(verifier.keys()));
    if !report.is_valid() {
        return Err(DemoError::Config(ConfigError::new(format!(
            "demo ledger audit found {:?}",
            report.findings
        ))));
    }
    writeln!(
        out,
        "13. verify_chain: every hash of the {} entries recomputes. validate_all (signatures, times, DAG rules): {} findings.",
        ledger.len(),
        report.findings.len()
    )?;
    writeln!(
        out,
        "14. Ledger head (hash of entry {}): {}",
        ledger.len() - 1,
        ledger.head()
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_args(args: &[&str], stdin: &[u8]) -> (u8, String, String) {
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

    #[test]
    fn demo_runs() {
        let (status, out, err) = run_args(&["demo"], b"");
        assert_eq!((status, err.as_str()), (0, ""));
        assert!(out.contains("3. Agent B verifies it at now+2: valid."));
        assert!(out.contains(
            "4. The same token presented to B again is refused: replay.jti (ECT-RPL-1)."
        ));
        assert!(out.contains("6. The auditor verifies the child at now+7: valid."));
        assert!(out.contains("7. One changed payload character: sig.invalid (ECT-SIG-2)"));
        assert!(out.contains(
            "8. The child verified at now+700 (after exp + leeway): time.expired (ECT-TIME-2)."
        ));
        // Deterministic: RFC 6979 signatures and fixed times.
        assert_eq!(run_args(&["demo"], b"").1, out);
    }

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

    #[test]
    fn newline_stripping() {
        let mut v = b"abc\r\n".to_vec();
        strip_one_newline(&mut v);
        assert_eq!(v, b"abc");
        let mut v = b"abc\n\n".to_vec();
        strip_one_newline(&mut v);
        assert_eq!(v, b"abc\n");
    }
}
