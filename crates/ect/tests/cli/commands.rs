//! The `ect` binary against DESIGN.md's CLI contract: exit 0/1/2, JSON with `code` and `rule`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::ect;

use serde_json::{Value, json};
use tempfile::TempDir;

const NOW: u64 = 1_772_000_000;
const ISS: &str = "spiffe://example.org/agent-a";
const AUD: &str = "spiffe://example.org/agent-b";
const JTI: &str = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";

fn json_out(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&o.stdout)
        )
    })
}

/// A temporary directory with string paths for command-line arguments.
struct Dir(TempDir);

impl Dir {
    fn new(name: &str) -> Dir {
        Dir(tempfile::Builder::new()
            .prefix(&format!("wimse-ect-cli-{name}-"))
            .tempdir()
            .unwrap())
    }
    fn path(&self, file: &str) -> String {
        self.0.path().join(file).to_str().unwrap().to_owned()
    }
}

/// `ect create` with agent A's key file and the fixed issuer and audience.
fn create(key: &str, exec_act: &str, jti: &str, iat: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "create",
        "--key",
        key,
        "--iss",
        ISS,
        "--aud",
        AUD,
        "--exec-act",
        exec_act,
        "--jti",
        jti,
        "--iat",
        iat,
    ];
    args.extend_from_slice(extra);
    ect(&args, None, &[])
}

/// keygen with an issuer binding, then a token created at NOW.
fn setup(dir: &Dir) -> (String, String) {
    let key = dir.path("a.jwk");
    let jwks = dir.path("trusted.jwks");
    let o = ect(
        &[
            "keygen",
            "--kid",
            "agent-a",
            "--iss",
            ISS,
            "--private",
            &key,
            "--jwks",
            &jwks,
        ],
        None,
        &[],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let o = create(&key, "fetch", JTI, &NOW.to_string(), &["--ttl", "600"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let token = String::from_utf8(o.stdout).unwrap().trim_end().to_owned();
    (jwks, token)
}

fn verify(jwks: &str, now: u64, token: &str) -> Output {
    verify_with(jwks, now, &[], token, &[])
}

/// `ect verify --jwks JWKS --audience AUD --now NOW EXTRA... TOKEN` with `envs` set.
fn verify_with(jwks: &str, now: u64, extra: &[&str], token: &str, envs: &[(&str, &str)]) -> Output {
    let now = now.to_string();
    let mut args = vec!["verify", "--jwks", jwks, "--audience", AUD, "--now", &now];
    args.extend_from_slice(extra);
    args.push(token);
    ect(&args, None, envs)
}

#[test]
fn valid_token_exits_0_with_claims() {
    let dir = Dir::new("valid");
    let (jwks, token) = setup(&dir);
    let o = verify(&jwks, NOW + 10, &token);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        json_out(&o),
        json!({"valid": true, "claims": {
            "iss": ISS, "aud": AUD, "iat": NOW, "exp": NOW + 600, "jti": JTI,
            "exec_act": "fetch", "par": []
        }})
    );
    // The same token from stdin, with a trailing newline.
    let o = ect(
        &[
            "verify",
            "--jwks",
            &jwks,
            "--audience",
            AUD,
            "--now",
            &(NOW + 10).to_string(),
            "-",
        ],
        Some(format!("{token}\n").as_bytes()),
        &[],
    );
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(json_out(&o)["claims"]["jti"], JTI);
}

#[test]
fn expired_token_exits_1() {
    let dir = Dir::new("expired");
    let (jwks, token) = setup(&dir);
    // exp + leeway = NOW + 630: expired exactly there (ECT-TIME-2), valid one second before.
    assert_eq!(verify(&jwks, NOW + 629, &token).status.code(), Some(0));
    let o = verify(&jwks, NOW + 630, &token);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        json_out(&o),
        json!({"valid": false, "error": {
            "code": "time.expired", "rule": "ECT-TIME-2", "message": "token has expired"
        }})
    );
    // --leeway moves the boundary.
    let o = verify_with(&jwks, NOW + 600, &["--leeway", "0"], &token, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(json_out(&o)["error"]["code"], "time.expired");
}

#[test]
fn bad_signature_exits_1() {
    let dir = Dir::new("badsig");
    let (jwks, token) = setup(&dir);
    // Flip the first character of the signature to another base64url character.
    let sig_start = token.rfind('.').unwrap() + 1;
    let mut bytes = token.into_bytes();
    bytes[sig_start] = if bytes[sig_start] == b'A' { b'B' } else { b'A' };
    let token = String::from_utf8(bytes).unwrap();
    let o = verify(&jwks, NOW + 10, &token);
    assert_eq!(o.status.code(), Some(1));
    let out = json_out(&o);
    assert_eq!(out["valid"], false);
    assert_eq!(out["error"]["code"], "sig.invalid");
    assert!(
        matches!(
            out["error"]["rule"].as_str(),
            Some("ECT-SIG-1" | "ECT-SIG-2")
        ),
        "{out}"
    );
}

#[test]
fn configuration_errors_exit_2() {
    let dir = Dir::new("config");
    let (jwks, token) = setup(&dir);
    // No audience (neither flag nor ECT_AUDIENCE).
    let o = ect(
        &["verify", "--jwks", &jwks, "--now", "1", &token],
        None,
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("ECT_AUDIENCE"));
    assert!(o.stdout.is_empty());
    // The audience from the environment works.
    let o = ect(
        &[
            "verify",
            "--jwks",
            &jwks,
            "--now",
            &(NOW + 1).to_string(),
            &token,
        ],
        None,
        &[("ECT_AUDIENCE", AUD)],
    );
    assert_eq!(o.status.code(), Some(0));
    // A bad environment value is named, never silently replaced by a default.
    let o = verify_with(&jwks, 1, &[], &token, &[("ECT_LEEWAY_SECONDS", "ten")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("ECT_LEEWAY_SECONDS"));
    // A flag out of range.
    let o = verify_with(&jwks, 1, &["--leeway", "100000"], &token, &[]);
    assert_eq!(o.status.code(), Some(2));
    // A key set holding a symmetric (oct) key: refused at load (ECT-KEY-3).
    let bad = dir.path("bad.jwks");
    std::fs::write(
        &bad,
        r#"{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"agent-a"}]}"#,
    )
    .unwrap();
    let o = verify(&bad, NOW, &token);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("kty"));
    // Missing argument: clap's usage error.
    assert_eq!(ect(&["verify"], None, &[]).status.code(), Some(2));
}

#[test]
fn env_overrides_apply_when_flags_absent() {
    let dir = Dir::new("env");
    let (jwks, token) = setup(&dir);
    let o = verify_with(
        &jwks,
        NOW + 600,
        &[],
        &token,
        &[("ECT_LEEWAY_SECONDS", "0")],
    );
    assert_eq!(json_out(&o)["error"]["code"], "time.expired");
    let o = verify_with(
        &jwks,
        NOW + 61,
        &[],
        &token,
        &[("ECT_MAX_IAT_AGE_SECONDS", "60")],
    );
    assert_eq!(json_out(&o)["error"]["code"], "time.too_old");
}

#[test]
fn create_refuses_bad_claims() {
    let dir = Dir::new("create");
    let (_, _) = setup(&dir);
    let key = dir.path("a.jwk");
    let o = create(&key, "x", "not-a-uuid", "1", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("claims.jti"));
}

#[test]
fn keygen_refuses_duplicate_kid_and_existing_private_file() {
    let dir = Dir::new("keygen");
    let (jwks, _) = setup(&dir);
    let o = ect(&["keygen", "--kid", "agent-a", "--jwks", &jwks], None, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("duplicate kid"));
    let o = ect(
        &[
            "keygen",
            "--kid",
            "agent-c",
            "--private",
            &dir.path("a.jwk"),
        ],
        None,
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(Path::new(&dir.path("a.jwk")).exists());
}

#[test]
fn demo_exits_0() {
    let o = ect(&["demo"], None, &[]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("6. The auditor verifies the child at now+7: valid."));
}

// ---------------------------------------------------------------------------------------------
// `ect dag` and `ect ledger` (SPEC.md §7, §8). Tokens are built with the library (fast, fixed
// keys); the commands run as the real binary.

use wimse_ect::{ChainHash, EctBuilder, KeySet, PolicyDecision, SigningKey};

const ROOT: &str = "10000000-0000-4000-8000-000000000001";
const LEFT: &str = "20000000-0000-4000-8000-000000000002";
const RIGHT: &str = "30000000-0000-4000-8000-000000000003";
const JOIN: &str = "40000000-0000-4000-8000-000000000004";
const GONE: &str = "50000000-0000-4000-8000-000000000005";
const ORPHAN: &str = "60000000-0000-4000-8000-000000000006";
const DENIED: &str = "70000000-0000-4000-8000-000000000007";
const BLOCKED: &str = "80000000-0000-4000-8000-000000000008";
const EARLY: &str = "90000000-0000-4000-8000-000000000009";
const EDGE: &str = "a0000000-0000-4000-8000-00000000000a";
const LATE: &str = "b0000000-0000-4000-8000-00000000000b";
const STRANGER: &str = "c0000000-0000-4000-8000-00000000000c";
const WID: &str = "d0000000-0000-4000-8000-00000000000d";

fn agent_key() -> SigningKey {
    SigningKey::from_scalar_bytes("agent-a", &[0x42; 32]).unwrap()
}

/// A key no JWKS of these tests trusts, except `other.jwks`.
fn other_key() -> SigningKey {
    SigningKey::from_scalar_bytes("agent-z", &[0x43; 32]).unwrap()
}

/// Writes a JWKS trusting `key` for ISS.
fn write_jwks(dir: &Dir, name: &str, key: &SigningKey) -> String {
    let path = dir.path(name);
    let set = KeySet::from_keys([key.trusted(Some(ISS))]).unwrap();
    std::fs::write(&path, set.to_jwks().to_string()).unwrap();
    path
}

/// A token of agent A for AUD, `exp = iat + 600`.
/// A directory with a JWKS trusting the agent, a ledger path (not created) and two tokens:
/// the root `plan` and its child `flight`.
struct LedgerFixture {
    dir: Dir,
    jwks: String,
    ledger: String,
    root: String,
    left: String,
}

impl LedgerFixture {
    fn new(name: &str) -> Self {
        let dir = Dir::new(name);
        let jwks = write_jwks(&dir, "t.jwks", &agent_key());
        let ledger = dir.path("audit.ledger");
        LedgerFixture {
            dir,
            jwks,
            ledger,
            root: token(ROOT, "plan", NOW, &[]),
            left: token(LEFT, "flight", NOW + 1, &[ROOT]),
        }
    }
}

fn token(jti: &str, exec_act: &str, iat: u64, par: &[&str]) -> String {
    token_with(&agent_key(), jti, exec_act, iat, par, |b| b)
}

fn token_with(
    key: &SigningKey,
    jti: &str,
    exec_act: &str,
    iat: u64,
    par: &[&str],
    more: impl FnOnce(EctBuilder) -> EctBuilder,
) -> String {
    let mut b = EctBuilder::new(ISS, exec_act)
        .audience(AUD)
        .jti(jti)
        .issued_at(iat)
        .expires_at(iat + 600);
    for p in par {
        b = b.parent(*p);
    }
    more(b).sign(key).unwrap()
}

/// Each stdout line as JSON.
fn json_lines(o: &Output) -> Vec<Value> {
    String::from_utf8(o.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn stderr_text(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// `ect dag --jwks JWKS --audience AUD --now NOW+10 EXTRA... TOKENS`.
fn dag(jwks: &str, extra: &[&str], tokens: &str, stdin: Option<&[u8]>) -> Output {
    dag_env(jwks, extra, tokens, stdin, &[])
}

fn dag_env(
    jwks: &str,
    extra: &[&str],
    tokens: &str,
    stdin: Option<&[u8]>,
    envs: &[(&str, &str)],
) -> Output {
    let now = (NOW + 10).to_string();
    let mut args = vec!["dag", "--jwks", jwks, "--audience", AUD, "--now", &now];
    args.extend_from_slice(extra);
    args.push(tokens);
    ect(&args, stdin, envs)
}

/// Writes `lines` (joined with "\n") to a file and runs `ect dag` on it.
fn dag_lines(dir: &Dir, jwks: &str, extra: &[&str], lines: &[&str]) -> Output {
    let file = dir.path("tokens.txt");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    dag(jwks, extra, &file, None)
}

/// `ect ledger append --ledger LEDGER --jwks JWKS --audience AUD --now NOW EXTRA... TOKEN`.
fn append(ledger: &str, jwks: &str, now: u64, extra: &[&str], token: &str) -> Output {
    append_stdin(ledger, jwks, now, extra, token, None)
}

fn append_stdin(
    ledger: &str,
    jwks: &str,
    now: u64,
    extra: &[&str],
    token: &str,
    stdin: Option<&[u8]>,
) -> Output {
    let now = now.to_string();
    let mut args = vec![
        "ledger",
        "append",
        "--ledger",
        ledger,
        "--jwks",
        jwks,
        "--audience",
        AUD,
        "--now",
        &now,
    ];
    args.extend_from_slice(extra);
    args.push(token);
    ect(&args, stdin, &[])
}

/// `ect ledger verify --ledger LEDGER --audience AUD EXTRA...`.
fn ledger_verify(ledger: &str, extra: &[&str]) -> Output {
    let mut args = vec!["ledger", "verify", "--ledger", ledger, "--audience", AUD];
    args.extend_from_slice(extra);
    ect(&args, None, &[])
}

fn ledger_show(ledger: &str, extra: &[&str]) -> Output {
    let mut args = vec!["ledger", "show", "--ledger", ledger];
    args.extend_from_slice(extra);
    ect(&args, None, &[])
}

/// The canonical ledger line of an entry (SPEC.md §8 file format), with its `\n`.
fn ledger_line(seq: u64, at: u64, prev: &ChainHash, token: &str) -> (String, ChainHash) {
    let hash = ChainHash::of_entry(seq, at, prev, token);
    (
        format!(
            "{{\"seq\":{seq},\"at\":{at},\"prev\":\"{prev}\",\"hash\":\"{hash}\",\"token\":\"{token}\"}}\n"
        ),
        hash,
    )
}

fn accepted_line(line: u64, jti: &str, seq: u64, missing: &[&str]) -> Value {
    json!({"line": line, "valid": true, "jti": jti, "seq": seq, "missing_parents": missing})
}

fn rejected_line(line: u64, jti: Option<&str>, code: &str, rule: &str, message: &str) -> Value {
    json!({"line": line, "valid": false, "jti": jti,
           "error": {"code": code, "rule": rule, "message": message}})
}

fn claims_json(jti: &str, exec_act: &str, iat: u64, par: &[&str]) -> Value {
    json!({"iss": ISS, "aud": AUD, "iat": iat, "exp": iat + 600, "jti": jti,
           "exec_act": exec_act, "par": par})
}

/// Checks a DOT text's structure (always) and, when Graphviz's `dot` is on PATH, that it
/// renders with `dot -Tsvg` into `nodes` nodes and `edges` edges.
fn check_dot(text: &str, nodes: usize, missing: usize, edges: usize) {
    assert!(text.starts_with("digraph workflow {\n"), "{text}");
    assert!(text.ends_with("\n}\n"), "{text}");
    let body: Vec<&str> = text
        .lines()
        .skip(1)
        .take(text.lines().count() - 2)
        .collect();
    let (mut node_lines, mut missing_lines, mut edge_lines) = (0, 0, 0);
    for line in &body {
        assert!(line.starts_with("  ") && line.ends_with(';'), "{line:?}");
        // Quotes balance and every backslash starts one of our escapes: `\"`, `\\`, `\n`.
        let mut quotes = 0;
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => quotes += 1,
                '\\' => assert!(
                    matches!(chars.next(), Some('"' | '\\' | 'n')),
                    "bad escape in {line:?}"
                ),
                c => assert!(!c.is_control(), "control character in {line:?}"),
            }
        }
        assert_eq!(quotes % 2, 0, "{line:?}");
        let id = line.trim_start().split(' ').next().unwrap();
        if line.contains(" -> ") {
            edge_lines += 1;
        } else if id.starts_with('m') && line.contains(" [label=\"missing\\n") {
            missing_lines += 1;
        } else if id.starts_with('t') && line.contains(" [label=\"") {
            node_lines += 1;
        }
    }
    assert_eq!(
        (node_lines, missing_lines, edge_lines),
        (nodes, missing, edges),
        "{text}"
    );
    assert_eq!(body.len(), 2 + nodes + missing + edges, "{text}");

    let has_dot = Command::new("dot").arg("-V").output().is_ok();
    if !has_dot {
        eprintln!("Graphviz `dot` is not on PATH: checked the DOT structure only");
        return;
    }
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr_text(&o));
    assert_eq!(stderr_text(&o), "", "dot warned");
    let svg = String::from_utf8(o.stdout).unwrap();
    assert_eq!(
        svg.matches("class=\"node\"").count(),
        nodes + missing,
        "{svg}"
    );
    assert_eq!(svg.matches("class=\"edge\"").count(), edges, "{svg}");
}

#[test]
fn dag_accepts_a_workflow_in_order_exit_0() {
    let dir = Dir::new("dag-ok");
    let jwks = write_jwks(&dir, "t.jwks", &agent_key());
    let root = token(ROOT, "plan", NOW, &[]);
    let left = token(LEFT, "flight", NOW + 1, &[ROOT]);
    let right = token(RIGHT, "hotel", NOW + 1, &[ROOT]);
    let join = token(JOIN, "send", NOW + 2, &[LEFT, RIGHT]);
    // CRLF line ends, empty lines (also a lone "\r") skipped, no final newline. Line numbers
    // are the file's.
    let text = format!("{root}\r\n\n{left}\n\r\n{right}\n{join}");
    let file = dir.path("tokens.txt");
    std::fs::write(&file, &text).unwrap();
    let expected = vec![
        accepted_line(1, ROOT, 0, &[]),
        accepted_line(3, LEFT, 1, &[]),
        accepted_line(5, RIGHT, 2, &[]),
        accepted_line(6, JOIN, 3, &[]),
    ];
    let o = dag(&jwks, &[], &file, None);
    assert_eq!((o.status.code(), stderr_text(&o)), (Some(0), String::new()));
    assert_eq!(json_lines(&o), expected);
    // The same from stdin.
    let o = dag(&jwks, &[], "-", Some(text.as_bytes()));
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(json_lines(&o), expected);
    // No token at all: nothing to reject.
    let o = dag(&jwks, &[], "-", Some(b"\n\r\n"));
    assert_eq!((o.status.code(), o.stdout.len()), (Some(0), 0));
}

/// Over 512 lines, so `ect dag` works in several chunks (their signatures checked in
/// parallel): a chain whose every link names the line before, across chunk boundaries; a
/// repeated token; a line over the size limit (counted, not kept) and one at the limit with a
/// `\r`. Results are those of accepting the lines one by one, in order.
#[test]
fn dag_many_lines_in_chunks_and_over_long_lines() {
    let dir = Dir::new("dag-chunks");
    let jwks = write_jwks(&dir, "t.jwks", &agent_key());
    let jti = |i: usize| format!("00000000-0000-4000-8000-{i:012x}");
    let mut lines = Vec::new();
    let mut expected = Vec::new();
    for i in 0..1100 {
        let par = if i == 0 { vec![] } else { vec![jti(i - 1)] };
        let par: Vec<&str> = par.iter().map(String::as_str).collect();
        let t = token(&jti(i), "step", NOW, &par);
        if i == 700 {
            // The previous token again: a duplicate in the middle of a chunk.
            lines.push(lines.last().cloned().unwrap());
            expected.push(rejected_line(
                lines.len() as u64,
                Some(&jti(i - 1)),
                "dag.duplicate_jti",
                "ECT-DAG-1",
                &format!(
                    "a token with jti \"{}\" is already in the store (same scope)",
                    jti(i - 1)
                ),
            ));
        }
        if i == 900 {
            lines.push("a".repeat(70_000) + "\r");
            expected.push(rejected_line(
                lines.len() as u64,
                None,
                "jws.too_large",
                "ECT-JWS-1",
                "token is 70000 bytes, limit is 65536",
            ));
            lines.push("b".repeat(65_536) + "\r");
            expected.push(rejected_line(
                lines.len() as u64,
                None,
                "jws.malformed",
                "ECT-JWS-2",
                "not a JWS compact serialization: 1 segments, expected 3",
            ));
        }
        lines.push(t);
        // Rejected lines take no `seq`: token i is entry i.
        expected.push(accepted_line(lines.len() as u64, &jti(i), i as u64, &[]));
    }
    let o = dag_lines(
        &dir,
        &jwks,
        &[],
        &lines.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!((o.status.code(), stderr_text(&o)), (Some(1), String::new()));
    let got = json_lines(&o);
    // Line by line, so that a failure shows the first difference, not 1100 lines.
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g, e, "output line {}", i + 1);
    }
    assert_eq!(got.len(), expected.len());
}

#[test]
fn dag_rejections_exit_1_with_codes_and_change_nothing() {
    let dir = Dir::new("dag-bad");
    let jwks = write_jwks(&dir, "t.jwks", &agent_key());
    let root = token(ROOT, "plan", NOW, &[]);
    let orphan = token(ORPHAN, "orphan", NOW + 1, &[GONE]);
    let early = token(EARLY, "early", NOW - 31, &[ROOT]);
    let edge = token(EDGE, "edge", NOW - 30, &[ROOT]);
    let denied = token_with(&agent_key(), DENIED, "approve", NOW + 2, &[ROOT], |b| {
        b.policy("pay-v1", PolicyDecision::Rejected)
    });
    let blocked = token(BLOCKED, "charge", NOW + 3, &[DENIED]);
    let expired = token(LATE, "late", NOW - 700, &[]);
    let stranger = token_with(&other_key(), STRANGER, "x", NOW, &[], |b| b);
    let after = token(RIGHT, "after", NOW + 4, &[ROOT]);
    let o = dag_lines(
        &dir,
        &jwks,
        &[],
        &[
            &root, &root, &orphan, &early, &edge, &denied, &blocked, "garbage", &expired,
            &stranger, &after,
        ],
    );
    assert_eq!((o.status.code(), stderr_text(&o)), (Some(1), String::new()));
    let dup_msg = format!("a token with jti \"{ROOT}\" is already in the store (same scope)");
    assert_eq!(
        json_lines(&o),
        vec![
            accepted_line(1, ROOT, 0, &[]),
            rejected_line(2, Some(ROOT), "dag.duplicate_jti", "ECT-DAG-1", &dup_msg),
            rejected_line(
                3,
                Some(ORPHAN),
                "dag.parent_missing",
                "ECT-DAG-2",
                &format!("parent \"{GONE}\" is not in the store")
            ),
            rejected_line(
                4,
                Some(EARLY),
                "dag.temporal_order",
                "ECT-DAG-3",
                &format!(
                    "parent \"{ROOT}\" has iat {NOW}, later than the child's iat {} plus the allowed skew",
                    NOW - 31
                )
            ),
            // parent.iat == child.iat + skew: valid at the boundary.
            accepted_line(5, EDGE, 1, &[]),
            // A token whose own decision is "rejected" is itself valid.
            accepted_line(6, DENIED, 2, &[]),
            rejected_line(
                7,
                Some(BLOCKED),
                "dag.parent_policy",
                "ECT-DAG-6",
                &format!(
                    "parent \"{DENIED}\" has pol_decision \"rejected\", which allows no dependent task"
                )
            ),
            rejected_line(
                8,
                None,
                "jws.malformed",
                "ECT-JWS-2",
                "not a JWS compact serialization: 1 segments, expected 3"
            ),
            rejected_line(
                9,
                Some(LATE),
                "time.expired",
                "ECT-TIME-2",
                "token has expired"
            ),
            // The jti of a rejected token is what its payload claims, unverified.
            rejected_line(
                10,
                Some(STRANGER),
                "key.unknown",
                "ECT-KEY-1",
                "no trusted key with kid \"agent-z\""
            ),
            // Rejections appended nothing: the next accepted token is seq 3.
            accepted_line(11, RIGHT, 3, &[]),
        ]
    );

    // --skew (and ECT_SKEW_SECONDS) move the ECT-DAG-3 boundary.
    let o = dag_lines(&dir, &jwks, &["--skew", "31"], &[&root, &early]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(json_lines(&o)[1], accepted_line(2, EARLY, 1, &[]));
    let file = dir.path("tokens.txt");
    let o = dag_env(&jwks, &[], &file, None, &[("ECT_SKEW_SECONDS", "31")]);
    assert_eq!(o.status.code(), Some(0));
    let o = dag_env(
        &jwks,
        &["--skew", "30"],
        &file,
        None,
        &[("ECT_SKEW_SECONDS", "31")],
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(json_lines(&o)[1]["error"]["code"], "dag.temporal_order");
}

#[test]
fn dag_partial_mode_lists_missing_parents_and_walks_for_cycles() {
    let dir = Dir::new("dag-partial");
    let jwks = write_jwks(&dir, "t.jwks", &agent_key());
    let orphan = token(ORPHAN, "orphan", NOW, &[GONE, ROOT]);
    let root = token(ROOT, "plan", NOW, &[]);
    // Strict: refused. Partial: accepted, both parents listed as missing (in par order).
    let o = dag_lines(&dir, &jwks, &[], &[&orphan]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(json_lines(&o)[0]["error"]["code"], "dag.parent_missing");
    let o = dag_lines(&dir, &jwks, &["--partial"], &[&orphan, &root]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        json_lines(&o),
        vec![
            accepted_line(1, ORPHAN, 0, &[GONE, ROOT]),
            // ROOT arrives late; it is named by ORPHAN, so the ancestor walk runs (no cycle).
            accepted_line(2, ROOT, 1, &[]),
        ]
    );

    // ECT-DAG-4: LEFT names RIGHT (missing, accepted in partial mode); RIGHT names LEFT.
    let left = token(LEFT, "a", NOW, &[RIGHT]);
    let right = token(RIGHT, "b", NOW, &[LEFT]);
    let o = dag_lines(&dir, &jwks, &["--partial"], &[&left, &right]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        json_lines(&o),
        vec![
            accepted_line(1, LEFT, 0, &[RIGHT]),
            rejected_line(
                2,
                Some(RIGHT),
                "dag.cycle",
                "ECT-DAG-4",
                &format!("following par through \"{LEFT}\" leads back to this token")
            ),
        ]
    );

    // ECT-DAG-5: WAITING names JOIN before it exists; JOIN names LEFT and RIGHT, which both
    // name ROOT. JOIN's checks count WAITING, then the edges RIGHT -> ROOT and LEFT -> ROOT
    // (ROOT visited once): 3 lookups, more than --ancestor-budget 2.
    let root = token(ROOT, "plan", NOW, &[]);
    let r1 = token(LEFT, "a", NOW, &[ROOT]);
    let r2 = token(RIGHT, "b", NOW, &[ROOT]);
    let waiting = token(ORPHAN, "waits", NOW, &[JOIN]);
    let join = token(JOIN, "join", NOW, &[LEFT, RIGHT]);
    let lines = [root.as_str(), &r1, &r2, &waiting, &join];
    let o = dag_lines(
        &dir,
        &jwks,
        &["--partial", "--ancestor-budget", "2"],
        &lines,
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        json_lines(&o)[4],
        rejected_line(
            5,
            Some(JOIN),
            "dag.budget",
            "ECT-DAG-5",
            "the DAG checks would make more than 2 lookups (the ancestor budget)"
        )
    );
    let o = dag_lines(
        &dir,
        &jwks,
        &["--partial", "--ancestor-budget", "3"],
        &lines,
    );
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(json_lines(&o)[4], accepted_line(5, JOIN, 4, &[]));
}

#[test]
fn dag_usage_and_configuration_errors_exit_2() {
    let dir = Dir::new("dag-config");
    let jwks = write_jwks(&dir, "t.jwks", &agent_key());
    let file = dir.path("tokens.txt");
    std::fs::write(&file, token(ROOT, "plan", NOW, &[]) + "\n").unwrap();
    let now = (NOW + 10).to_string();
    let exit2 = |o: Output, needle: &str| {
        assert_eq!(o.status.code(), Some(2), "{}", stderr_text(&o));
        assert!(o.stdout.is_empty());
        assert!(stderr_text(&o).contains(needle), "{}", stderr_text(&o));
    };
    // No audience (neither flag nor ECT_AUDIENCE); then from the environment it works.
    let args = ["dag", "--jwks", &jwks, "--now", &now, &file];
    exit2(ect(&args, None, &[]), "ECT_AUDIENCE");
    let o = ect(&args, None, &[("ECT_AUDIENCE", AUD)]);
    assert_eq!(o.status.code(), Some(0));
    // Unreadable files.
    exit2(
        dag("/nonexistent.jwks", &[], &file, None),
        "ect: cannot read /nonexistent.jwks",
    );
    exit2(
        dag(&jwks, &[], "/nonexistent-tokens", None),
        "ect: cannot read /nonexistent-tokens",
    );
    // A bad key set, bad values, a bad environment variable.
    let bad = dir.path("bad.jwks");
    std::fs::write(&bad, r#"{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"a"}]}"#).unwrap();
    exit2(dag(&bad, &[], &file, None), "kty");
    exit2(dag(&jwks, &["--skew", "3601"], &file, None), "skew_seconds");
    exit2(
        dag(&jwks, &["--ancestor-budget", "0"], &file, None),
        "ancestor_budget",
    );
    exit2(
        dag_env(&jwks, &[], &file, None, &[("ECT_ANCESTOR_BUDGET", "many")]),
        "ECT_ANCESTOR_BUDGET",
    );
    exit2(dag(&jwks, &["--format", "svg"], &file, None), "--format");
    exit2(ect(&["dag", "--jwks", &jwks], None, &[]), "--now");
}

#[test]
fn dag_dot_output_marks_rejected_and_missing_and_renders() {
    let dir = Dir::new("dag-dot");
    let jwks = write_jwks(&dir, "t.jwks", &agent_key());
    // exec_act is attacker-controlled text: quotes, backslashes, a newline, a DOT injection.
    let root = token(ROOT, "plan \"trip\"\\", NOW, &[]);
    let left = token(LEFT, "flight\nbooking\"];evil->x;", NOW + 1, &[ROOT, GONE]);
    let denied = token_with(&agent_key(), DENIED, "approve", NOW + 2, &[ROOT], |b| {
        b.policy("pay-v1", PolicyDecision::Rejected)
    });
    let blocked = token(BLOCKED, "charge", NOW + 3, &[DENIED]);
    let o = dag_lines(
        &dir,
        &jwks,
        &["--partial", "--format", "dot"],
        &[&root, &left, &root, "garbage", &denied, &blocked],
    );
    assert_eq!((o.status.code(), stderr_text(&o)), (Some(1), String::new()));
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(
        text,
        r#"digraph workflow {
  rankdir=TB;
  node [shape=box, fontname="Helvetica"];
  t0 [label="plan \"trip\"\\\n10000000"];
  t1 [label="flight\nbooking\"];evil->x;\n20000000"];
  t2 [label="plan \"trip\"\\\n10000000\nrejected: dag.duplicate_jti", color=red, fontcolor=red, style=dashed];
  t3 [label="(unreadable token)\nrejected: jws.malformed", color=red, fontcolor=red, style=dashed];
  t4 [label="approve\n70000000"];
  t5 [label="charge\n80000000\nrejected: dag.parent_policy", color=red, fontcolor=red, style=dashed];
  m0 [label="missing\n50000000", color=grey, fontcolor=grey, style=dashed];
  t0 -> t1;
  m0 -> t1 [color=grey, style=dashed];
  t0 -> t4;
  t4 -> t5 [color=red, style=dashed];
}
"#
    );
    check_dot(&text, 6, 1, 4);
    // Deterministic.
    let o = dag(
        &jwks,
        &["--partial", "--format", "dot"],
        &dir.path("tokens.txt"),
        None,
    );
    assert_eq!(String::from_utf8(o.stdout).unwrap(), text);
}

#[test]
fn ledger_append_creates_the_file_and_chains_entries() {
    let LedgerFixture {
        dir: _dir,
        jwks,
        ledger,
        root,
        left,
    } = LedgerFixture::new("ledger-append");
    let orphan = token(ORPHAN, "orphan", NOW + 2, &[GONE]);

    let o = append(&ledger, &jwks, NOW + 10, &[], &root);
    assert_eq!((o.status.code(), stderr_text(&o)), (Some(0), String::new()));
    let (line0, h0) = ledger_line(0, NOW + 10, &ChainHash::GENESIS, &root);
    assert_eq!(
        json_out(&o),
        json!({"valid": true, "seq": 0, "hash": h0.to_string(),
               "claims": claims_json(ROOT, "plan", NOW, &[]), "missing_parents": []})
    );
    assert_eq!(std::fs::read_to_string(&ledger).unwrap(), line0);

    // From stdin, one trailing newline dropped.
    let o = append_stdin(
        &ledger,
        &jwks,
        NOW + 11,
        &[],
        "-",
        Some(format!("{left}\n").as_bytes()),
    );
    assert_eq!(o.status.code(), Some(0));
    let (line1, h1) = ledger_line(1, NOW + 11, &h0, &left);
    assert_eq!(
        json_out(&o),
        json!({"valid": true, "seq": 1, "hash": h1.to_string(),
               "claims": claims_json(LEFT, "flight", NOW + 1, &[ROOT]), "missing_parents": []})
    );
    let both = line0.clone() + &line1;
    assert_eq!(std::fs::read_to_string(&ledger).unwrap(), both);

    // Rejections exit 1 and leave the file byte for byte unchanged (ECT-LED-3).
    let o = append(&ledger, &jwks, NOW + 12, &[], &root);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        json_out(&o),
        json!({"valid": false, "error": {"code": "dag.duplicate_jti", "rule": "ECT-DAG-1",
               "message": format!("a token with jti \"{ROOT}\" is already in the store (same scope)")}})
    );
    let o = append(&ledger, &jwks, NOW + 12, &[], &orphan);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(json_out(&o)["error"]["code"], "dag.parent_missing");
    let o = append(&ledger, &jwks, NOW + 700, &[], &token(RIGHT, "r", NOW, &[]));
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(json_out(&o)["error"]["code"], "time.expired");
    assert_eq!(std::fs::read_to_string(&ledger).unwrap(), both);

    // Partial mode: accepted, the missing parent listed.
    let o = append(&ledger, &jwks, NOW + 13, &["--partial"], &orphan);
    assert_eq!(o.status.code(), Some(0));
    let (line2, h2) = ledger_line(2, NOW + 13, &h1, &orphan);
    assert_eq!(
        json_out(&o),
        json!({"valid": true, "seq": 2, "hash": h2.to_string(),
               "claims": claims_json(ORPHAN, "orphan", NOW + 2, &[GONE]),
               "missing_parents": [GONE]})
    );
    assert_eq!(std::fs::read_to_string(&ledger).unwrap(), both + &line2);
}

/// The names in `dir`, sorted.
fn dir_listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// Regression: `ect ledger append` created the ledger file before it checked the token, so a
/// rejected token (exit 1) on a path that did not exist left an empty file behind. A rejected
/// token now changes nothing on disk: no file, no directory entry. An operational error
/// (exit 2) creates nothing either. Only an accepted token creates the file.
#[test]
fn ledger_append_with_a_rejected_token_on_a_missing_path_creates_no_file() {
    let LedgerFixture {
        dir,
        jwks,
        ledger,
        root,
        left: _,
    } = LedgerFixture::new("ledger-rejected-missing");
    let top = Path::new(&ledger).parent().unwrap().to_owned();
    let before = dir_listing(&top);
    assert_eq!(before, ["t.jwks"]);
    let other = write_jwks(&dir, "other.jwks", &other_key());
    let before = dir_listing(&top);

    let expired = token(RIGHT, "r", NOW, &[]);
    let orphan = token(ORPHAN, "orphan", NOW + 2, &[GONE]);
    let rejections: [(&str, u64, &str, &str); 4] = [
        (jwks.as_str(), NOW + 700, expired.as_str(), "time.expired"),
        (
            jwks.as_str(),
            NOW + 10,
            orphan.as_str(),
            "dag.parent_missing",
        ),
        (other.as_str(), NOW + 10, root.as_str(), "key.unknown"),
        (jwks.as_str(), NOW + 10, "not-a-token", "jws.malformed"),
    ];
    for (keys, now, token, code) in rejections {
        let o = append(&ledger, keys, now, &[], token);
        assert_eq!(o.status.code(), Some(1), "{code}: {}", stderr_text(&o));
        assert_eq!(json_out(&o)["error"]["code"], code);
        assert_eq!(stderr_text(&o), "", "{code}");
        assert!(
            !Path::new(&ledger).exists(),
            "{code}: a rejected token created {ledger}"
        );
        assert_eq!(dir_listing(&top), before, "{code}");
    }

    // An operational error (the directory does not exist): exit 2, nothing created.
    let nested = dir.path("no-such-dir/audit.ledger");
    let o = append(&nested, &jwks, NOW + 10, &[], &root);
    assert_eq!(o.status.code(), Some(2), "{}", stderr_text(&o));
    assert!(
        stderr_text(&o).starts_with(&format!("ect: ledger {nested}: ledger.io (ECT-LED-1): ")),
        "{}",
        stderr_text(&o)
    );
    assert_eq!(dir_listing(&top), before);

    // An accepted token creates the file, with exactly its entry.
    let o = append(&ledger, &jwks, NOW + 10, &[], &root);
    assert_eq!((o.status.code(), stderr_text(&o)), (Some(0), String::new()));
    assert_eq!(json_out(&o)["seq"], 0);
    let (line0, _) = ledger_line(0, NOW + 10, &ChainHash::GENESIS, &root);
    assert_eq!(std::fs::read_to_string(&ledger).unwrap(), line0);
    let mut after = before.clone();
    after.push("audit.ledger".to_owned());
    after.sort();
    assert_eq!(dir_listing(&top), after);
}

#[test]
fn ledger_append_warns_about_and_cuts_a_torn_tail() {
    let LedgerFixture {
        dir: _dir,
        jwks,
        ledger,
        root,
        left,
    } = LedgerFixture::new("ledger-torn");
    assert_eq!(
        append(&ledger, &jwks, NOW + 10, &[], &root).status.code(),
        Some(0)
    );
    let (line0, h0) = ledger_line(0, NOW + 10, &ChainHash::GENESIS, &root);
    // A crash in the middle of writing the next line.
    let torn = "{\"seq\":1,\"at\":17";
    std::fs::write(&ledger, line0.clone() + torn).unwrap();
    let warning = |action: &str| {
        format!(
            "ect: warning: ledger {ledger}: torn final line at offset {} (length {} bytes), left by an interrupted write and never acknowledged: {action}\n",
            line0.len(),
            torn.len()
        )
    };

    // A rejected token (here: a replay of the root, dag.duplicate_jti) changes nothing, not
    // even the torn tail: only an accepted append repairs the file.
    let o = append(&ledger, &jwks, NOW + 11, &[], &root);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(json_out(&o)["error"]["code"], "dag.duplicate_jti");
    assert_eq!(stderr_text(&o), warning("ignored, the file is unchanged"));
    assert_eq!(
        std::fs::read_to_string(&ledger).unwrap(),
        line0.clone() + torn
    );

    let o = append(&ledger, &jwks, NOW + 11, &[], &left);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        stderr_text(&o),
        warning("cut off the file before the new entry")
    );
    assert_eq!(json_out(&o)["seq"], 1);
    let (line1, _) = ledger_line(1, NOW + 11, &h0, &left);
    assert_eq!(std::fs::read_to_string(&ledger).unwrap(), line0 + &line1);
}

/// Regression: a last entry that lost only its final `\n` was cut off by `ect ledger append`
/// as a torn tail. It is an entry: `verify` and `show` read it and report the missing newline
/// without changing the file; `append` keeps it, adds the newline and says so on stderr.
#[test]
fn ledger_commands_keep_a_complete_last_entry_without_its_newline() {
    let LedgerFixture {
        dir: _dir,
        jwks,
        ledger,
        root,
        left,
    } = LedgerFixture::new("ledger-newline");
    let (line0, h0) = ledger_line(0, NOW + 10, &ChainHash::GENESIS, &root);
    let (line1, h1) = ledger_line(1, NOW + 11, &h0, &left);
    let stripped = line0.clone() + line1.trim_end_matches('\n');
    std::fs::write(&ledger, &stripped).unwrap();
    let (offset, len) = (line0.len(), line1.len() - 1);
    let warning = |action: &str| {
        format!(
            "ect: warning: ledger {ledger}: the last line (offset {offset}, length {len} bytes) has no final newline: {action}\n"
        )
    };

    let o = ledger_verify(&ledger, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr_text(&o));
    assert_eq!(
        json_out(&o),
        json!({"valid": true, "entries": 2, "head": h1.to_string(), "findings": [],
               "missing_parents": [], "torn_tail": null,
               "missing_newline": {"offset": offset, "len": len}})
    );
    assert_eq!(
        stderr_text(&o),
        warning("read as a line, the file is unchanged")
    );
    let o = ledger_show(&ledger, &[]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(json_lines(&o).len(), 2);
    assert_eq!(
        stderr_text(&o),
        warning("read as a line, the file is unchanged")
    );
    assert_eq!(std::fs::read_to_string(&ledger).unwrap(), stripped);

    // A rejected token leaves the file as it is.
    let o = append(&ledger, &jwks, NOW + 12, &[], &left);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr_text(&o),
        warning("read as a line, the file is unchanged")
    );
    assert_eq!(std::fs::read_to_string(&ledger).unwrap(), stripped);

    let right = token(RIGHT, "r", NOW + 2, &[]);
    let o = append(&ledger, &jwks, NOW + 12, &[], &right);
    assert_eq!(o.status.code(), Some(0), "{}", stderr_text(&o));
    assert_eq!(
        stderr_text(&o),
        warning("it is a complete entry: the newline was added before the new entry")
    );
    assert_eq!(json_out(&o)["seq"], 2);
    let (line2, _) = ledger_line(2, NOW + 12, &h1, &right);
    assert_eq!(
        std::fs::read_to_string(&ledger).unwrap(),
        line0 + &line1 + &line2
    );
}

#[test]
fn ledger_operational_errors_exit_2() {
    let LedgerFixture {
        dir,
        jwks,
        ledger,
        root,
        left,
    } = LedgerFixture::new("ledger-errors");
    let exit2 = |o: &Output, prefix: &str| {
        assert_eq!(o.status.code(), Some(2), "{}", stderr_text(o));
        assert!(o.stdout.is_empty());
        assert!(stderr_text(o).starts_with(prefix), "{}", stderr_text(o));
    };

    // Configuration errors come first: no ledger file is created.
    let bad = dir.path("bad.jwks");
    std::fs::write(&bad, "{\"keys\":[]}").unwrap();
    exit2(
        &append(&ledger, &bad, NOW, &[], &root),
        &format!("ect: {bad}: "),
    );
    exit2(
        &ect(
            &[
                "ledger", "append", "--ledger", &ledger, "--jwks", &jwks, "--now", "1", &root,
            ],
            None,
            &[],
        ),
        "ect: no audience",
    );
    assert!(!Path::new(&ledger).exists());

    // A damaged ledger (an edited entry): append and show refuse it, the file is untouched.
    assert_eq!(
        append(&ledger, &jwks, NOW + 10, &[], &root).status.code(),
        Some(0)
    );
    let damaged = std::fs::read_to_string(&ledger).unwrap().replace(
        &format!("\"at\":{}", NOW + 10),
        &format!("\"at\":{}", NOW + 11),
    );
    std::fs::write(&ledger, &damaged).unwrap();
    let broken = format!(
        "ect: ledger {ledger}: ledger.chain (ECT-LED-4): ledger hash chain broken: line 1: entry 0 has a wrong hash\n"
    );
    let o = append(&ledger, &jwks, NOW + 12, &[], &left);
    exit2(&o, &broken);
    assert_eq!(stderr_text(&o), broken);
    let o = ledger_show(&ledger, &[]);
    exit2(&o, &broken);
    assert_eq!(std::fs::read_to_string(&ledger).unwrap(), damaged);
    // ledger verify reports the damage as a finding instead (exit 1).
    let o = ledger_verify(&ledger, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        json_out(&o)["findings"],
        json!([{"seq": 0, "jti": ROOT, "code": "ledger.chain", "rule": "ECT-LED-4",
                "message": "ledger hash chain broken: entry 0 has a wrong hash"}])
    );

    // Missing files, a directory, a bad --head.
    let missing = dir.path("missing.ledger");
    exit2(
        &ledger_show(&missing, &[]),
        &format!("ect: ledger {missing}: ledger.io (ECT-LED-1): "),
    );
    exit2(
        &ledger_verify(&missing, &[]),
        &format!("ect: ledger {missing}: ledger.io (ECT-LED-1): "),
    );
    let sub = dir.path("sub");
    std::fs::create_dir(&sub).unwrap();
    exit2(
        &append(&sub, &jwks, NOW, &[], &root),
        &format!("ect: ledger {sub}: ledger.io (ECT-LED-1): "),
    );
    exit2(
        &ledger_verify(&ledger, &["--head", "not-a-hash"]),
        "ect: --head \"not-a-hash\" is not an unpadded base64url SHA-256 hash",
    );
    exit2(
        &ledger_verify(&ledger, &["--skew", "100000"]),
        "ect: skew_seconds",
    );
    exit2(&ledger_show(&ledger, &["--format", "xml"]), "error:");
    exit2(&ect(&["ledger"], None, &[]), "Work with");
}

#[test]
fn ledger_verify_reports_findings_missing_parents_head_and_torn_tail() {
    let dir = Dir::new("ledger-verify");
    let jwks = write_jwks(&dir, "t.jwks", &agent_key());
    let other = write_jwks(&dir, "other.jwks", &other_key());
    let ledger = dir.path("audit.ledger");
    let root = token(ROOT, "plan", NOW, &[]);
    let orphan = token(ORPHAN, "orphan", NOW + 1, &[GONE]);

    // An empty ledger: valid, no head; its head is the genesis value.
    std::fs::write(&ledger, "").unwrap();
    let o = ledger_verify(&ledger, &["--head", &ChainHash::GENESIS.to_string()]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        json_out(&o),
        json!({"valid": true, "entries": 0, "head": null, "findings": [], "missing_parents": [],
               "torn_tail": null, "missing_newline": null, "head_matches": true})
    );

    assert_eq!(
        append(&ledger, &jwks, NOW + 10, &[], &root).status.code(),
        Some(0)
    );
    let o = append(&ledger, &jwks, NOW + 11, &["--partial"], &orphan);
    assert_eq!(o.status.code(), Some(0));
    let head = json_out(&o)["hash"].as_str().unwrap().to_owned();

    // Strict: the missing parent is a finding.
    let o = ledger_verify(&ledger, &[]);
    assert_eq!((o.status.code(), stderr_text(&o)), (Some(1), String::new()));
    assert_eq!(
        json_out(&o),
        json!({"valid": false, "entries": 2, "head": head,
               "findings": [{"seq": 1, "jti": ORPHAN, "code": "dag.parent_missing",
                             "rule": "ECT-DAG-2",
                             "message": format!("parent \"{GONE}\" is not in the store")}],
               "missing_parents": [], "torn_tail": null, "missing_newline": null})
    );
    // Partial: listed, valid; with the right keys the signatures are checked too.
    let clean = json!({"valid": true, "entries": 2, "head": head, "findings": [],
                       "missing_parents": [{"seq": 1, "parent": GONE}], "torn_tail": null,
                       "missing_newline": null});
    let o = ledger_verify(&ledger, &["--partial"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(json_out(&o), clean);
    let o = ledger_verify(&ledger, &["--partial", "--jwks", &jwks]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(json_out(&o), clean);
    // Keys that do not include the signer's: every entry fails ECT-KEY-1.
    let o = ledger_verify(&ledger, &["--partial", "--jwks", &other]);
    assert_eq!(o.status.code(), Some(1));
    // A token that fails its rules has no checked claims: `jti` is null, and no DAG finding.
    let unknown = |seq: u64| {
        json!({"seq": seq, "jti": null, "code": "key.unknown", "rule": "ECT-KEY-1",
               "message": "no trusted key with kid \"agent-a\""})
    };
    assert_eq!(json_out(&o)["findings"], json!([unknown(0), unknown(1)]));
    // The audience is checked at each entry's acceptance time (ECT-AUD-1).
    let o = ect(
        &[
            "ledger",
            "verify",
            "--ledger",
            &ledger,
            "--audience",
            "spiffe://x",
            "--partial",
        ],
        None,
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(json_out(&o)["findings"][0]["code"], "aud.mismatch");

    // --head: a match, and a mismatch (e.g. the newest entries were cut off).
    let o = ledger_verify(&ledger, &["--partial", "--head", &head]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(json_out(&o)["head_matches"], true);
    let o = ledger_verify(
        &ledger,
        &["--partial", "--head", &ChainHash::GENESIS.to_string()],
    );
    assert_eq!(o.status.code(), Some(1));
    let mut mismatch = clean.clone();
    mismatch["valid"] = false.into();
    mismatch["head_matches"] = false.into();
    assert_eq!(json_out(&o), mismatch);

    // A torn tail: reported in the JSON and on stderr, not audited, the file not changed.
    let intact = std::fs::read_to_string(&ledger).unwrap();
    std::fs::write(&ledger, intact.clone() + "{\"seq\":2").unwrap();
    let o = ledger_verify(&ledger, &["--partial"]);
    assert_eq!(o.status.code(), Some(0));
    let mut torn = clean.clone();
    torn["torn_tail"] = json!({"offset": intact.len(), "len": 8});
    assert_eq!(json_out(&o), torn);
    assert_eq!(
        stderr_text(&o),
        format!(
            "ect: warning: ledger {ledger}: torn final line at offset {} (length 8 bytes), left by an interrupted write and never acknowledged: ignored, the file is unchanged\n",
            intact.len()
        )
    );
    assert_eq!(
        std::fs::read_to_string(&ledger).unwrap(),
        intact + "{\"seq\":2"
    );
}

#[test]
fn ledger_show_prints_entries_as_json_lines_or_dot() {
    let dir = Dir::new("ledger-show");
    let jwks = write_jwks(&dir, "t.jwks", &agent_key());
    let ledger = dir.path("audit.ledger");
    let root = token(ROOT, "plan", NOW, &[]);
    let left = token(LEFT, "flight \"A\"", NOW + 1, &[ROOT, GONE]);
    let scoped = token_with(&agent_key(), RIGHT, "scoped", NOW + 2, &[], |b| b.wid(WID));
    assert_eq!(
        append(&ledger, &jwks, NOW + 10, &[], &root).status.code(),
        Some(0)
    );
    assert_eq!(
        append(&ledger, &jwks, NOW + 11, &["--partial"], &left)
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        append(&ledger, &jwks, NOW + 12, &[], &scoped).status.code(),
        Some(0)
    );
    let (_, h0) = ledger_line(0, NOW + 10, &ChainHash::GENESIS, &root);
    let (_, h1) = ledger_line(1, NOW + 11, &h0, &left);
    let (_, h2) = ledger_line(2, NOW + 12, &h1, &scoped);

    let o = ledger_show(&ledger, &[]);
    assert_eq!((o.status.code(), stderr_text(&o)), (Some(0), String::new()));
    assert_eq!(
        json_lines(&o),
        vec![
            json!({"seq": 0, "at": NOW + 10, "hash": h0.to_string(), "jti": ROOT, "wid": null,
                   "exec_act": "plan", "par": []}),
            json!({"seq": 1, "at": NOW + 11, "hash": h1.to_string(), "jti": LEFT, "wid": null,
                   "exec_act": "flight \"A\"", "par": [ROOT, GONE]}),
            json!({"seq": 2, "at": NOW + 12, "hash": h2.to_string(), "jti": RIGHT, "wid": WID,
                   "exec_act": "scoped", "par": []}),
        ]
    );

    let o = ledger_show(&ledger, &["--format", "dot"]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(
        text,
        r#"digraph workflow {
  rankdir=TB;
  node [shape=box, fontname="Helvetica"];
  t0 [label="plan\n10000000"];
  t1 [label="flight \"A\"\n20000000"];
  t2 [label="scoped\n30000000"];
  m0 [label="missing\n50000000", color=grey, fontcolor=grey, style=dashed];
  t0 -> t1;
  m0 -> t1 [color=grey, style=dashed];
}
"#
    );
    check_dot(&text, 3, 1, 2);

    // A torn tail is reported, ignored, and left in place (show only reads).
    let intact = std::fs::read_to_string(&ledger).unwrap();
    std::fs::write(&ledger, intact.clone() + "{").unwrap();
    let o = ledger_show(&ledger, &[]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(json_lines(&o).len(), 3);
    assert_eq!(
        stderr_text(&o),
        format!(
            "ect: warning: ledger {ledger}: torn final line at offset {} (length 1 bytes), left by an interrupted write and never acknowledged: ignored, the file is unchanged\n",
            intact.len()
        )
    );
    assert_eq!(std::fs::read_to_string(&ledger).unwrap(), intact + "{");
}

#[test]
fn demo_prints_the_dag_and_ledger_steps() {
    let o = ect(&["demo"], None, &[]);
    assert_eq!((o.status.code(), stderr_text(&o)), (Some(0), String::new()));
    let text = String::from_utf8(o.stdout).unwrap();
    let start = text
        .find("== DAG validation and the audit ledger")
        .expect("DAG section");
    // The earlier steps are unchanged and come first.
    assert!(text[..start].contains(
        "8. The child verified at now+700 (after exp + leeway): time.expired (ECT-TIME-2).\n"
    ));
    let section: Vec<&str> = text[start..].lines().collect();
    let (root, left, right, join, gone) = (
        "1e5a7c3d-2b4f-4a6e-8d9c-0f1b3a5c7e92",
        "2f6b8d4e-3c5a-4b7f-9e0d-1a2c4b6d8f03",
        "3a7c9e5f-4d6b-4c8a-8f1e-2b3d5c7e9a14",
        "4b8d0f6a-5e7c-4d9b-9a2f-3c4e6d8f0b25",
        "6d0f2b8c-7a9e-4fbd-9c4b-5e6a8f0b2d47",
    );
    let expected = [
        "== DAG validation and the audit ledger (SPEC.md §7, §8)".to_owned(),
        String::new(),
        "9. Four tasks of workflow 7c2e9b14-5a3f-4d8e-a1b6-3e9f0c2d4b75 accepted in order into a MemoryLedger (strict DAG mode) at now+30:".to_owned(),
        format!("   seq 0: {root} plan_trip (agent-a), par []"),
        format!("   seq 1: {left} book_flight (agent-b), par [{root}]"),
        format!("   seq 2: {right} book_hotel (agent-a), par [{root}]"),
        format!("   seq 3: {join} send_itinerary (agent-b), par [{left}, {right}]"),
        "10. The root presented again: dag.duplicate_jti (ECT-DAG-1); the ledger still holds 4 entries.".to_owned(),
        format!("11. A task naming parent {gone}, which the ledger does not hold:"),
        "    strict mode refuses it: dag.parent_missing (ECT-DAG-2);".to_owned(),
        format!("    partial mode accepts it into a second ledger as seq 0, missing parents [{gone}], verified parents []."),
        "12. A task whose own pol_decision is \"rejected\" is recorded as seq 4; its child is refused: dag.parent_policy (ECT-DAG-6).".to_owned(),
        "13. verify_chain: every hash of the 5 entries recomputes. validate_all (signatures, times, DAG rules): 0 findings.".to_owned(),
    ];
    assert_eq!(section.len(), expected.len() + 1, "{}", &text[start..]);
    assert_eq!(section[..expected.len()], expected);
    let head = section[expected.len()]
        .strip_prefix("14. Ledger head (hash of entry 4): ")
        .expect("head line");
    assert_eq!(head.len(), 43);
    assert_eq!(
        ChainHash::parse(head).map(|h| h.to_string()),
        Some(head.to_owned())
    );
    // Deterministic: fixed keys, RFC 6979 signatures, fixed times.
    assert_eq!(ect(&["demo"], None, &[]).stdout, text.into_bytes());
}

// ---------------------------------------------------------------------------------------------
// ect vectors, ect conformance
// ---------------------------------------------------------------------------------------------

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn vectors_export_then_check_then_a_change_is_found() {
    let dir = Dir::new("vectors");
    let out = dir.path("v");
    let o = ect(&["vectors", "export", "--out", &out], None, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).starts_with("wrote "));
    let o = ect(&["vectors", "check", "--dir", &out], None, &[]);
    assert_eq!(
        (o.status.code(), stdout(&o)),
        (Some(0), format!("{out}: up to date\n"))
    );
    // One byte changed in one file, one extra file: both reported, exit 1.
    let time = Path::new(&out).join("time.json");
    let text = std::fs::read_to_string(&time)
        .unwrap()
        .replacen("exp", "exq", 1);
    std::fs::write(&time, text).unwrap();
    std::fs::write(Path::new(&out).join("extra.json"), "{}").unwrap();
    let o = ect(&["vectors", "check", "--dir", &out], None, &[]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(text.contains("extra.json is not generated"), "{text}");
    assert!(text.contains("time.json differs"), "{text}");
}

/// The per-profile summary lines (`draft-00: N passed, 0 failed`) of a table: the passes of
/// each profile, in order.
fn profile_passes(text: &str) -> Vec<(String, usize)> {
    text.lines()
        .filter_map(|l| {
            let (profile, rest) = l.split_once(": ")?;
            let passed = rest.strip_suffix(" passed, 0 failed")?;
            Some((profile.to_owned(), passed.parse().ok()?))
        })
        .collect()
}

#[test]
fn conformance_of_the_reference_over_the_committed_vectors() {
    let o = ect(&["conformance"], None, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let text = stdout(&o);
    // Each profile's section ends with its line; then the profiles run, then the total.
    let per_profile = profile_passes(&text);
    let names: Vec<&str> = per_profile.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(names, ["draft-00", "draft-01"], "{text}");
    assert!(
        per_profile.iter().all(|(_, n)| *n >= 300),
        "{per_profile:?}"
    );
    let total: usize = per_profile.iter().map(|(_, n)| n).sum();
    let tail: Vec<&str> = text.lines().rev().take(2).collect();
    assert_eq!(
        tail,
        [
            format!("{total} passed, 0 failed").as_str(),
            "profiles: draft-00, draft-01 (every profile passes); total:"
        ]
    );
    // JSON: the same counts, per profile too; Markdown: a matrix row per rule.
    let o = ect(&["conformance", "--format", "json"], None, &[]);
    let doc = json_out(&o);
    assert_eq!(
        (doc["passed"].as_u64(), doc["failed"].as_u64()),
        (Some(total as u64), Some(0))
    );
    for (profile, passed) in &per_profile {
        let p = &doc["profiles"][profile.as_str()];
        assert_eq!(
            (
                p["passed"].as_u64(),
                &p["ok"],
                &p["protocol_notes"]["count"]
            ),
            (Some(*passed as u64), &json!(true), &json!(0))
        );
        assert_eq!(p["rules"]["ECT-SIG-1"]["failed"], json!(0));
    }
    assert!(
        doc["profiles"]["draft-01"]["rules"]["ECT-P01-5"]["passed"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "{}",
        doc["profiles"]["draft-01"]["rules"]
    );
    assert_eq!(
        (&doc["scoring"], &doc["ok"]),
        (&json!("strict"), &json!(true))
    );
    let o = ect(&["conformance", "--format", "markdown"], None, &[]);
    assert!(stdout(&o).contains("| ECT-DAG-4 |"));
    assert!(stdout(&o).contains("## Profile draft-01 (`vectors/draft-01`)"));
    // --profile selects one; $ECT_PROFILE does not.
    let o = ect(
        &["conformance", "--profile", "draft-01"],
        None,
        &[("ECT_PROFILE", "draft-00")],
    );
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    assert_eq!(profile_passes(&text), [per_profile[1].clone()]);
    assert_eq!(
        text.lines().last().unwrap(),
        format!("{} passed, 0 failed", per_profile[1].1)
    );
    let o = ect(&["conformance"], None, &[("ECT_PROFILE", "draft-01")]);
    assert_eq!(profile_passes(&stdout(&o)), per_profile);
}

#[test]
fn conformance_xfails_are_strict() {
    let dir = Dir::new("xfails");
    let xfails = dir.path("xfails.json");
    // The reference passes time/expired/at-boundary: listing it as an expected failure fails.
    std::fs::write(
        &xfails,
        r#"{"xfails": {"time/expired/at-boundary": "claimed"}}"#,
    )
    .unwrap();
    let o = ect(&["conformance", "--xfails", &xfails], None, &[]);
    assert_eq!(o.status.code(), Some(1));
    let unexpected = "FAIL time/expired/at-boundary (ECT-TIME-2) [unexpected pass]: passed, but listed as an expected failure (claimed)\n";
    assert_eq!(stdout(&o).matches(unexpected).count(), 1);
    // That form names draft-00's: the draft-01 run alone passes.
    let o = ect(
        &["conformance", "--xfails", &xfails, "--profile", "draft-01"],
        None,
        &[],
    );
    assert_eq!(o.status.code(), Some(0));
    // Per profile: listed for draft-01, it fails draft-01 only.
    std::fs::write(
        &xfails,
        r#"{"profiles": {"draft-01": {"time/expired/at-boundary": "claimed"}}}"#,
    )
    .unwrap();
    let o = ect(&["conformance", "--xfails", &xfails], None, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o).matches(unexpected).count(), 1);
    let doc = json_out(&ect(
        &["conformance", "--xfails", &xfails, "--format", "json"],
        None,
        &[],
    ));
    assert_eq!(
        (
            &doc["profiles"]["draft-00"]["failed"],
            &doc["profiles"]["draft-01"]["failures"]["unexpected_pass"]
        ),
        (&json!(0), &json!(1))
    );
    // A reason is required; an unreadable file is a usage error.
    std::fs::write(&xfails, r#"{"xfails": {"time/expired/at-boundary": ""}}"#).unwrap();
    assert_eq!(
        ect(&["conformance", "--xfails", &xfails], None, &[])
            .status
            .code(),
        Some(2)
    );
    let missing = dir.path("missing.json");
    assert_eq!(
        ect(&["conformance", "--xfails", &missing], None, &[])
            .status
            .code(),
        Some(2)
    );
}

/// `--ledger sqlite:PATH`: a rejected token creates nothing; accepted tokens create the
/// database and chain entries exactly like the file ledger (same sequence numbers and hashes);
/// `ledger verify` and `show` read it; `$ECT_LEDGER` is the fallback of `--ledger`.
#[test]
fn ledger_commands_work_on_an_sqlite_ledger() {
    let LedgerFixture {
        dir,
        jwks,
        ledger: file,
        root,
        left,
    } = LedgerFixture::new("ledger-sqlite");
    let top = Path::new(&file).parent().unwrap().to_owned();
    let db = dir.path("audit.sqlite");
    let sqlite = format!("sqlite:{db}");
    let before = dir_listing(&top);

    let orphan = token(ORPHAN, "orphan", NOW + 2, &[GONE]);
    let o = append(&sqlite, &jwks, NOW + 10, &[], &orphan);
    assert_eq!(o.status.code(), Some(1), "{}", stderr_text(&o));
    assert_eq!(json_out(&o)["error"]["code"], "dag.parent_missing");
    assert_eq!(dir_listing(&top), before, "a rejected token created files");

    for (i, t) in [&root, &left].into_iter().enumerate() {
        let by_file = append(&file, &jwks, NOW + 10, &[], t);
        let by_env = ect(
            &[
                "ledger",
                "append",
                "--jwks",
                &jwks,
                "--audience",
                AUD,
                "--now",
                "1772000010",
                t,
            ],
            None,
            &[("ECT_LEDGER", &sqlite)],
        );
        assert_eq!(by_env.status.code(), Some(0), "{}", stderr_text(&by_env));
        assert_eq!(json_out(&by_env), json_out(&by_file), "entry {i}");
    }
    let o = ledger_verify(&sqlite, &["--jwks", &jwks]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr_text(&o));
    let report = json_out(&o);
    assert_eq!(
        (report["valid"].clone(), report["entries"].clone()),
        (true.into(), 2.into())
    );
    assert_eq!(report["head"], json_out(&ledger_verify(&file, &[]))["head"]);
    let shown = ledger_show(&sqlite, &[]);
    assert_eq!(shown.status.code(), Some(0));
    assert_eq!(shown.stdout, ledger_show(&file, &[]).stdout);

    // A database that does not exist is not an empty ledger.
    let missing = format!("sqlite:{}", dir.path("missing.sqlite"));
    for o in [ledger_verify(&missing, &[]), ledger_show(&missing, &[])] {
        assert_eq!(o.status.code(), Some(2));
        assert!(
            stderr_text(&o).starts_with(&format!("ect: ledger {missing}: ledger.io")),
            "{}",
            stderr_text(&o)
        );
    }
}

/// Locations that are no ledger, no ledger at all, unreachable servers and `--stream` without
/// `-` are usage or operational errors (exit 2) with a message, nothing on stdout; a password
/// in a URL is never printed.
#[test]
fn shared_state_locations_that_do_not_work_exit_2() {
    let LedgerFixture {
        dir: _dir,
        jwks,
        ledger: _,
        root,
        left: _,
    } = LedgerFixture::new("ledger-locations");
    let cases: [(&[&str], &str); 6] = [
        (
            &["ledger", "append", "--ledger", "mysql://u:secret@h/db"],
            "ect: --ledger mysql://u:***@h/db: unknown scheme \"mysql\" (a file path, sqlite:PATH or a postgres:// URL)\n",
        ),
        (
            &["ledger", "append", "--ledger", "sqlite:"],
            "ect: --ledger sqlite: needs a path (sqlite:PATH)\n",
        ),
        (
            &["ledger", "append"],
            "ect: no ledger: give --ledger (a file path, sqlite:PATH or a postgres:// URL) or set ECT_LEDGER\n",
        ),
        (
            &[
                "ledger",
                "append",
                "--ledger",
                "postgres://ect:secret@127.0.0.1:1/x",
            ],
            "ect: ledger postgres://ect:***@127.0.0.1:1/x: ledger.io (ECT-LED-1): ",
        ),
        (
            &[
                "ledger",
                "append",
                "--ledger",
                "x.ledger",
                "--replay",
                "redis://:secret@127.0.0.1:1/",
            ],
            "ect: replay cache redis://:***@127.0.0.1:1/: replay.unavailable (ECT-RPL-1): ",
        ),
        (
            &[
                "ledger",
                "append",
                "--ledger",
                "x.ledger",
                "--replay",
                "http://h/",
            ],
            "ect: --replay http://h/: not a redis:// URL\n",
        ),
    ];
    for (args, message) in cases {
        let mut args = args.to_vec();
        args.extend([
            "--jwks",
            &jwks,
            "--audience",
            AUD,
            "--now",
            "1772000010",
            &root,
        ]);
        let o = ect(&args, None, &[]);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert_eq!(o.stdout, b"", "{args:?}");
        let err = stderr_text(&o);
        assert!(err.starts_with(message), "{args:?}: {err}");
        assert!(!err.contains("secret"), "{err}");
    }
    let o = verify_with(
        &jwks,
        NOW,
        &["--replay", "redis://127.0.0.1:1/"],
        &root,
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr_text(&o).starts_with("ect: replay cache redis://127.0.0.1:1/: replay.unavailable"),
        "{}",
        stderr_text(&o)
    );
    let o = verify_with(
        &jwks,
        NOW,
        &[],
        &root,
        &[("ECT_REPLAY", "redis://127.0.0.1:1/")],
    );
    assert_eq!(
        o.status.code(),
        Some(2),
        "$ECT_REPLAY is the fallback of --replay"
    );
    let o = verify_with(&jwks, NOW, &["--stream"], &root, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr_text(&o),
        "ect: --stream reads the tokens from stdin: give `-` as TOKEN\n"
    );
}

/// `verify --stream`: one verdict per line, in order, a repeated token refused as a replay
/// (the stream keeps its replay records in memory); exit 1 when any was invalid.
#[test]
fn verify_stream_answers_each_line() {
    let LedgerFixture {
        dir: _dir,
        jwks,
        ledger: _,
        root,
        left,
    } = LedgerFixture::new("verify-stream");
    let input = format!("{root}\n\n{left}\r\n{root}\nnot-a-token\n");
    let now = NOW.to_string();
    let stream = |input: &str| {
        ect(
            &[
                "verify",
                "--jwks",
                &jwks,
                "--audience",
                AUD,
                "--now",
                &now,
                "--stream",
                "-",
            ],
            Some(input.as_bytes()),
            &[],
        )
    };
    let o = stream(&input);
    assert_eq!(o.status.code(), Some(1), "{}", stderr_text(&o));
    let verdicts: Vec<(Value, Value)> = json_lines(&o)
        .iter()
        .map(|v| (v["valid"].clone(), v["error"]["code"].clone()))
        .collect();
    assert_eq!(
        verdicts,
        [
            (true.into(), Value::Null),
            (true.into(), Value::Null),
            (false.into(), "replay.jti".into()),
            (false.into(), "jws.malformed".into()),
        ]
    );
    let o = stream(&format!("{root}\n{left}\n"));
    assert_eq!(o.status.code(), Some(0));
}
