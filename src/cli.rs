//! The `ect` command-line tool (the binary is a thin wrapper around [`main`] / [`run`]).
//!
//! Contract (README.md, DESIGN.md): `ect verify` exits 0 and prints
//! `{"valid":true,"claims":{...}}` for a valid token, exits 1 and prints
//! `{"valid":false,"error":{"code":...,"rule":...,"message":...}}` for an invalid one, and exits
//! 2 with a message on stderr for usage and configuration errors.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use serde_json::{Map, Value, json};

use crate::{
    ConfigError, EctBuilder, Error, KeySet, Policy, PolicyDecision, ReplayProtection, SigningKey,
    Verifier, random_uuid,
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
    /// Run a two-agent workflow step by step with fixed keys and times.
    Demo,
    /// Print the table of rule ids and error codes (the content of CODES.md).
    Codes,
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
        Command::Demo => demo(out).map(|()| EXIT_OK),
        Command::Codes => out
            .write_all(crate::rules::markdown().as_bytes())
            .map(|()| EXIT_OK)
            .map_err(io_error),
    };
    match result {
        Ok(status) => status,
        Err(e) => {
            let _ = writeln!(err, "ect: {}", e.message());
            EXIT_USAGE
        }
    }
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
    let token = if token == "-" {
        let mut bytes = Vec::new();
        // Read at most one byte past the limit: a longer token fails ECT-JWS-1 anyway.
        let limit = verifier.policy().max_token_bytes as u64 + 3;
        stdin
            .take(limit)
            .read_to_end(&mut bytes)
            .map_err(io_error)?;
        strip_one_newline(&mut bytes);
        bytes
    } else {
        token.as_bytes().to_vec()
    };
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
fn rejected(result: crate::Result<crate::VerifiedEct>) -> Result<Error, DemoError> {
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
        .inp_hash(crate::sha256_b64url(input))
        .out_hash(crate::sha256_b64url(output))
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
        pretty(verified_root.claims().to_json(&crate::DRAFT_00))
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
        .inp_hash(crate::sha256_b64url(output))
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
        pretty(verified_child.claims().to_json(&crate::DRAFT_00))
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
