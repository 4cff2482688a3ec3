//! The `ect` binary against DESIGN.md's CLI contract: exit 0/1/2, JSON with `code` and `rule`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

const NOW: u64 = 1_772_000_000;
const ISS: &str = "spiffe://example.org/agent-a";
const AUD: &str = "spiffe://example.org/agent-b";
const JTI: &str = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";

fn ect(args: &[&str], stdin: Option<&[u8]>, envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ect"));
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in [
        "ECT_AUDIENCE",
        "ECT_LEEWAY_SECONDS",
        "ECT_MAX_IAT_AGE_SECONDS",
        "ECT_MAX_PAR",
        "ECT_MAX_TOKEN_BYTES",
        "ECT_REPLAY_CACHE_SIZE",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(envs.iter().copied());
    let mut child = cmd.spawn().expect("run ect");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.unwrap_or_default())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn json_out(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&o.stdout)
        )
    })
}

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("ect-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }
    fn path(&self, file: &str) -> String {
        self.0.join(file).to_str().unwrap().to_owned()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
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
