//! `--profile draft-00|draft-01` and `$ECT_PROFILE` on `ect create`, `verify`, `dag` and
//! `ledger` (SPEC.md §10): a draft-01 round trip through each command, the variable honoured,
//! the flag winning over it, an unknown value a usage error (exit 2, the message naming where
//! it came from), and a token or ledger of one profile refused under the other with its exact
//! code.

use std::process::Output;

use crate::ect;

use serde_json::{Value, json};
use tempfile::TempDir;
use wimse_ect::{KeySet, SigningKey, base64url, sign_raw};

const NOW: u64 = 1_772_000_000;
const ISS: &str = "spiffe://example.org/agent-a";
const AUD: &str = "spiffe://example.org/agent-b";
const ROOT: &str = "10000000-0000-4000-8000-000000000001";
const CHILD: &str = "20000000-0000-4000-8000-000000000002";
const STRAY: &str = "30000000-0000-4000-8000-000000000003";
const WID: &str = "d0000000-0000-4000-8000-00000000000d";
const OTHER_WID: &str = "e0000000-0000-4000-8000-00000000000e";

const UNKNOWN_FLAG: &str =
    "ect: --profile \"draft-02\": unknown profile (use draft-00 or draft-01)\n";
const UNKNOWN_VAR: &str =
    "ect: ECT_PROFILE \"Draft-01\": unknown profile (use draft-00 or draft-01)\n";

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// stdout as one JSON value per line.
fn json_lines(o: &Output) -> Vec<Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The only JSON line of stdout.
fn json_line(o: &Output) -> Value {
    let mut lines = json_lines(o);
    assert_eq!(lines.len(), 1, "{}{}", stdout(o), stderr(o));
    lines.remove(0)
}

/// Exit 2 with exactly `message` on stderr and nothing on stdout.
fn assert_usage(o: &Output, message: &str) {
    assert_eq!(
        (o.status.code(), stdout(o).as_str(), stderr(o).as_str()),
        (Some(2), "", message)
    );
}

/// A temporary directory holding agent A's private key (`a.jwk`) and a JWK Set trusting it
/// for ISS (`t.jwks`).
struct Fixture {
    dir: TempDir,
    key: SigningKey,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::Builder::new()
            .prefix("wimse-ect-cli-profiles-")
            .tempdir()
            .unwrap();
        let key = SigningKey::from_scalar_bytes("agent-a", &[0x51; 32]).unwrap();
        std::fs::write(
            dir.path().join("a.jwk"),
            Value::Object(key.to_private_jwk()).to_string(),
        )
        .unwrap();
        let set = KeySet::from_keys([key.trusted(Some(ISS))]).unwrap();
        std::fs::write(dir.path().join("t.jwks"), set.to_jwks().to_string()).unwrap();
        Fixture { dir, key }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }

    fn jwks(&self) -> String {
        self.path("t.jwks")
    }

    /// `ect create` of a task at NOW (600 s lifetime) with `extra` flags and `envs`.
    fn create(&self, jti: &str, extra: &[&str], envs: &[(&str, &str)]) -> Output {
        let key = self.path("a.jwk");
        let iat = NOW.to_string();
        let mut args = vec![
            "create",
            "--key",
            &key,
            "--iss",
            ISS,
            "--aud",
            AUD,
            "--exec-act",
            "step",
            "--jti",
            jti,
            "--iat",
            &iat,
            "--ttl",
            "600",
        ];
        args.extend_from_slice(extra);
        ect(&args, None, envs)
    }

    /// The token `ect create` prints (it must succeed).
    fn token(&self, jti: &str, extra: &[&str]) -> String {
        let o = self.create(jti, extra, &[]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        stdout(&o).trim_end().to_owned()
    }

    /// A token signed by agent A with exactly this header `typ` and these claims.
    fn raw(&self, typ: &str, claims: Value) -> String {
        let header = json!({"alg": "ES256", "typ": typ, "kid": "agent-a"}).to_string();
        sign_raw(header.as_bytes(), claims.to_string().as_bytes(), &self.key)
    }

    /// `ect verify` at NOW + 10.
    fn verify(&self, extra: &[&str], token: &str, envs: &[(&str, &str)]) -> Output {
        let jwks = self.jwks();
        let now = (NOW + 10).to_string();
        let mut args = vec!["verify", "--jwks", &jwks, "--audience", AUD, "--now", &now];
        args.extend_from_slice(extra);
        args.push(token);
        ect(&args, None, envs)
    }

    /// `ect dag` at NOW + 10 over `tokens`, one per line on stdin.
    fn dag(&self, extra: &[&str], tokens: &[&str], envs: &[(&str, &str)]) -> Output {
        let jwks = self.jwks();
        let now = (NOW + 10).to_string();
        let mut args = vec!["dag", "--jwks", &jwks, "--audience", AUD, "--now", &now];
        args.extend_from_slice(extra);
        args.push("-");
        let input = tokens.join("\n") + "\n";
        ect(&args, Some(input.as_bytes()), envs)
    }

    /// `ect ledger append` of `token` into `ledger` at NOW + 10.
    fn append(&self, ledger: &str, extra: &[&str], token: &str, envs: &[(&str, &str)]) -> Output {
        let jwks = self.jwks();
        let now = (NOW + 10).to_string();
        let mut args = vec![
            "ledger",
            "append",
            "--ledger",
            ledger,
            "--jwks",
            &jwks,
            "--audience",
            AUD,
            "--now",
            &now,
        ];
        args.extend_from_slice(extra);
        args.push(token);
        ect(&args, None, envs)
    }
}

/// The decoded header and payload of a compact token.
fn parts(token: &str) -> (Value, Value) {
    let mut segments = token.split('.');
    let mut decode = || {
        let bytes = base64url::decode(segments.next().unwrap().as_bytes()).unwrap();
        serde_json::from_slice::<Value>(&bytes).unwrap()
    };
    (decode(), decode())
}

/// The claims of a draft-01 task as the builder writes them (and `ect verify` prints them).
fn draft01_claims(jti: &str, pred: &[&str], more: Value) -> Value {
    let mut claims = json!({"iss": ISS, "aud": AUD, "iat": NOW, "exp": NOW + 600, "jti": jti,
                            "exec_act": "step", "pred": pred});
    for (k, v) in more.as_object().unwrap() {
        claims[k] = v.clone();
    }
    claims
}

fn error(o: &Output) -> (Option<i32>, Value) {
    let line = json_line(o);
    assert_eq!(line["valid"], false, "{line}");
    (o.status.code(), line["error"].clone())
}

fn code_rule_message(code: &str, rule: &str, message: &str) -> Value {
    json!({"code": code, "rule": rule, "message": message})
}

// create and verify
// ---------------------------------------------------------------------------------------------

#[test]
fn create_writes_draft_01_names_and_verify_reads_them_only_under_draft_01() {
    let f = Fixture::new();
    let token = f.token(
        CHILD,
        &[
            "--profile",
            "draft-01",
            "--wid",
            WID,
            "--pred",
            ROOT,
            "--ext",
            r#"{"k":1}"#,
            "--pol",
            "p-1",
            "--pol-decision",
            "approved",
        ],
    );
    let (header, payload) = parts(&token);
    assert_eq!(
        header,
        json!({"alg": "ES256", "typ": "exec+jwt", "kid": "agent-a"})
    );
    let expected = draft01_claims(
        CHILD,
        &[ROOT],
        json!({"wid": WID, "ect_ext": {"k": 1, "pol": "p-1", "pol_decision": "approved"}}),
    );
    assert_eq!(payload, expected);
    // Under draft-01: valid, the claims printed with draft-01's names.
    let o = f.verify(&["--profile", "draft-01"], &token, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json_line(&o), json!({"valid": true, "claims": expected}));
    // Under draft-00 (the default): `exec+jwt` is not draft-00's typ (ECT-HDR-1, flag
    // Draft01Typ: the reference rejects).
    let o = f.verify(&[], &token, &[]);
    assert_eq!(
        error(&o),
        (
            Some(1),
            code_rule_message(
                "header.typ",
                "ECT-HDR-1",
                "bad typ: \"exec+jwt\" is not \"wimse-exec+jwt\""
            )
        )
    );
}

#[test]
fn a_token_of_one_profile_lacks_a_required_claim_under_the_other() {
    let f = Fixture::new();
    // draft-01 claims under the legacy typ, which both profiles accept: draft-00 finds no
    // `par`.
    let token = f.raw("wimse-exec+jwt", draft01_claims(ROOT, &[], json!({})));
    assert_eq!(
        f.verify(&["--profile", "draft-01"], &token, &[])
            .status
            .code(),
        Some(0)
    );
    let o = f.verify(&[], &token, &[]);
    assert_eq!(
        error(&o),
        (
            Some(1),
            code_rule_message(
                "claims.missing",
                "ECT-CLM-1",
                "required claim \"par\" is missing"
            )
        )
    );
    // A draft-00 token (par, wimse-exec+jwt) under draft-01: no `pred`.
    let token = f.token(ROOT, &[]);
    assert_eq!(f.verify(&[], &token, &[]).status.code(), Some(0));
    let o = f.verify(&["--profile", "draft-01"], &token, &[]);
    assert_eq!(
        error(&o),
        (
            Some(1),
            code_rule_message(
                "claims.missing",
                "ECT-CLM-1",
                "required claim \"pred\" is missing"
            )
        )
    );
}

#[test]
fn create_and_verify_take_ect_profile_and_the_flag_wins() {
    let f = Fixture::new();
    let env01 = [("ECT_PROFILE", "draft-01")];
    let env00 = [("ECT_PROFILE", "draft-00")];
    // create: the variable selects draft-01; --profile draft-00 wins over it.
    let o = f.create(ROOT, &[], &env01);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let t01 = stdout(&o).trim_end().to_owned();
    assert_eq!(parts(&t01).0["typ"], "exec+jwt");
    assert_eq!(parts(&t01).1["pred"], json!([]));
    let o = f.create(ROOT, &["--profile", "draft-00"], &env01);
    let t00 = stdout(&o).trim_end().to_owned();
    assert_eq!(parts(&t00).0["typ"], "wimse-exec+jwt");
    assert_eq!(parts(&t00).1["par"], json!([]));
    // An empty variable is unset: draft-00.
    let o = f.create(ROOT, &[], &[("ECT_PROFILE", "")]);
    assert_eq!(stdout(&o).trim_end(), t00);
    // verify: the same.
    assert_eq!(f.verify(&[], &t01, &env01).status.code(), Some(0));
    assert_eq!(f.verify(&[], &t00, &env00).status.code(), Some(0));
    let o = f.verify(&["--profile", "draft-00"], &t01, &env01);
    assert_eq!(error(&o).1["code"], "header.typ");
    let o = f.verify(&["--profile", "draft-01"], &t00, &env00);
    assert_eq!(error(&o).1["code"], "claims.missing");
    // Unknown values: usage errors naming the flag or the variable. With the flag given, the
    // variable is not read at all.
    assert_usage(
        &f.create(ROOT, &["--profile", "draft-02"], &[]),
        UNKNOWN_FLAG,
    );
    assert_usage(
        &f.create(ROOT, &[], &[("ECT_PROFILE", "Draft-01")]),
        UNKNOWN_VAR,
    );
    assert_usage(
        &f.verify(&["--profile", "draft-02"], &t00, &[]),
        UNKNOWN_FLAG,
    );
    assert_usage(
        &f.verify(&[], &t00, &[("ECT_PROFILE", "Draft-01")]),
        UNKNOWN_VAR,
    );
    let o = f.verify(
        &["--profile", "draft-00"],
        &t00,
        &[("ECT_PROFILE", "Draft-01")],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn create_refuses_the_policy_given_twice_in_draft_01() {
    let f = Fixture::new();
    let o = f.create(
        ROOT,
        &[
            "--profile",
            "draft-01",
            "--ext",
            r#"{"pol":"a","pol_decision":"approved"}"#,
            "--pol",
            "b",
            "--pol-decision",
            "approved",
        ],
        &[],
    );
    assert_usage(
        &o,
        "ect: --pol and an --ext holding pol or pol_decision: give the policy once\n",
    );
    // The policy inside --ext alone is draft-01's policy (ECT-P01-4).
    let token = f.token(
        ROOT,
        &[
            "--profile",
            "draft-01",
            "--ect-ext",
            r#"{"pol":"a","pol_decision":"rejected"}"#,
        ],
    );
    assert_eq!(
        parts(&token).1["ect_ext"],
        json!({"pol": "a", "pol_decision": "rejected"})
    );
    // In draft-00 the same --ext is an ordinary extension object next to --pol.
    let token = f.token(
        ROOT,
        &[
            "--ext",
            r#"{"pol":"a"}"#,
            "--pol",
            "b",
            "--pol-decision",
            "approved",
        ],
    );
    let payload = parts(&token).1;
    assert_eq!(
        (&payload["ext"], &payload["pol"], &payload["pol_decision"]),
        (&json!({"pol": "a"}), &json!("b"), &json!("approved"))
    );
}

// dag
// ---------------------------------------------------------------------------------------------

#[test]
fn dag_accepts_a_draft_01_workflow_and_refuses_a_parent_of_another_workflow() {
    let f = Fixture::new();
    let d01 = ["--profile", "draft-01"];
    let root = f.token(ROOT, &["--profile", "draft-01", "--wid", WID]);
    let child = f.token(
        CHILD,
        &["--profile", "draft-01", "--wid", WID, "--pred", ROOT],
    );
    // A task of another workflow naming ROOT (ECT-P01-5).
    let stray = f.token(
        STRAY,
        &["--profile", "draft-01", "--wid", OTHER_WID, "--pred", ROOT],
    );
    let o = f.dag(&d01, &[&root, &child, &stray], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let mismatch = json!({"line": 3, "valid": false, "jti": STRAY, "error": code_rule_message(
        "dag.workflow_mismatch",
        "ECT-P01-5",
        &format!("parent \"{ROOT}\" is not in this workflow; the store holds it under wid \"{WID}\""),
    )});
    assert_eq!(
        json_lines(&o),
        [
            json!({"line": 1, "valid": true, "jti": ROOT, "seq": 0, "missing_parents": []}),
            json!({"line": 2, "valid": true, "jti": CHILD, "seq": 1, "missing_parents": []}),
            mismatch.clone(),
        ]
    );
    // Partial mode too: the parent is not missing, it is in the wrong workflow.
    let o = f.dag(
        &["--profile", "draft-01", "--partial"],
        &[&root, &stray],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    let mut partial = mismatch.clone();
    partial["line"] = json!(2);
    assert_eq!(json_lines(&o)[1], partial);
    // The variable selects the profile; the flag wins over it; draft-00 refuses every line.
    let o = f.dag(&[], &[&root, &child], &[("ECT_PROFILE", "draft-01")]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let o = f.dag(
        &["--profile", "draft-00"],
        &[&root, &child],
        &[("ECT_PROFILE", "draft-01")],
    );
    assert_eq!(o.status.code(), Some(1));
    let codes: Vec<Value> = json_lines(&o)
        .iter()
        .map(|l| l["error"]["code"].clone())
        .collect();
    assert_eq!(codes, [json!("header.typ"), json!("header.typ")]);
    assert_usage(
        &f.dag(&["--profile", "draft-02"], &[&root], &[]),
        UNKNOWN_FLAG,
    );
    assert_usage(
        &f.dag(&[], &[&root], &[("ECT_PROFILE", "Draft-01")]),
        UNKNOWN_VAR,
    );
}

#[test]
fn dag_dot_names_the_draft_01_parents() {
    let f = Fixture::new();
    let root = f.token(ROOT, &["--profile", "draft-01"]);
    let child = f.token(CHILD, &["--profile", "draft-01", "--pred", ROOT]);
    let o = f.dag(
        &["--profile", "draft-01", "--format", "dot"],
        &[&root, &child],
        &[],
    );
    assert_eq!(o.status.code(), Some(0));
    // The edge comes from the child's `pred`.
    assert_eq!(
        stdout(&o),
        "digraph workflow {\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\"];\n  \
         t0 [label=\"step\\n10000000\"];\n  t1 [label=\"step\\n20000000\"];\n  t0 -> t1;\n}\n"
    );
}

// ledger
// ---------------------------------------------------------------------------------------------

#[test]
fn ledger_append_verify_and_show_a_draft_01_ledger_file() {
    let f = Fixture::new();
    let ledger = f.path("audit.ledger");
    let root = f.token(ROOT, &["--profile", "draft-01", "--wid", WID]);
    let child = f.token(
        CHILD,
        &["--profile", "draft-01", "--wid", WID, "--pred", ROOT],
    );
    let o = f.append(&ledger, &["--profile", "draft-01"], &root, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let line = json_line(&o);
    assert_eq!(
        (&line["valid"], &line["seq"], &line["claims"]),
        (
            &json!(true),
            &json!(0),
            &draft01_claims(ROOT, &[], json!({"wid": WID}))
        )
    );
    // The variable selects draft-01 for the second append.
    let o = f.append(&ledger, &[], &child, &[("ECT_PROFILE", "draft-01")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json_line(&o)["seq"], 1);
    // A task of another workflow naming ROOT: refused, the file unchanged.
    let before = std::fs::read(&ledger).unwrap();
    let stray = f.token(
        STRAY,
        &["--profile", "draft-01", "--wid", OTHER_WID, "--pred", ROOT],
    );
    let o = f.append(&ledger, &["--profile", "draft-01"], &stray, &[]);
    assert_eq!(error(&o).1["code"], "dag.workflow_mismatch");
    assert_eq!(std::fs::read(&ledger).unwrap(), before);
    // Read under draft-00 (the flag winning over the variable), the file's tokens do not
    // parse: an operational error (exit 2), nothing appended.
    let o = f.append(
        &ledger,
        &["--profile", "draft-00"],
        &f.token(STRAY, &[]),
        &[("ECT_PROFILE", "draft-01")],
    );
    assert_eq!((o.status.code(), stdout(&o).as_str()), (Some(2), ""));
    assert!(
        stderr(&o).starts_with(&format!("ect: ledger {ledger}: ")),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(&ledger).unwrap(), before);
    // verify and show under draft-01.
    let o = ect(
        &[
            "ledger",
            "verify",
            "--ledger",
            &ledger,
            "--jwks",
            &f.jwks(),
            "--audience",
            AUD,
            "--profile",
            "draft-01",
        ],
        None,
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let report = json_line(&o);
    assert_eq!(
        (&report["valid"], &report["entries"], &report["findings"]),
        (&json!(true), &json!(2), &json!([]))
    );
    let o = ect(
        &["ledger", "show", "--ledger", &ledger],
        None,
        &[("ECT_PROFILE", "draft-01")],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let shown: Vec<(Value, Value)> = json_lines(&o)
        .iter()
        .map(|l| (l["jti"].clone(), l["pred"].clone()))
        .collect();
    assert_eq!(
        shown,
        [(json!(ROOT), json!([])), (json!(CHILD), json!([ROOT]))]
    );
    assert!(json_lines(&o).iter().all(|l| l.get("par").is_none()));
    // verify and show under draft-00: the file does not read.
    let o = ect(
        &["ledger", "verify", "--ledger", &ledger, "--audience", AUD],
        None,
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let report = json_line(&o);
    let findings: Vec<(Value, Value)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["seq"].clone(), f["code"].clone()))
        .collect();
    assert_eq!(
        (&report["valid"], findings),
        (
            &json!(false),
            vec![
                (json!(0), json!("header.typ")),
                (json!(1), json!("header.typ"))
            ]
        )
    );
    let o = ect(
        &[
            "ledger",
            "show",
            "--ledger",
            &ledger,
            "--profile",
            "draft-00",
        ],
        None,
        &[("ECT_PROFILE", "draft-01")],
    );
    assert_eq!((o.status.code(), stdout(&o).as_str()), (Some(2), ""));
    // Unknown values.
    assert_usage(
        &f.append(&ledger, &["--profile", "draft-02"], &root, &[]),
        UNKNOWN_FLAG,
    );
    assert_usage(
        &f.append(&ledger, &[], &root, &[("ECT_PROFILE", "Draft-01")]),
        UNKNOWN_VAR,
    );
    assert_usage(
        &ect(
            &[
                "ledger",
                "verify",
                "--ledger",
                &ledger,
                "--audience",
                AUD,
                "--profile",
                "draft-02",
            ],
            None,
            &[],
        ),
        UNKNOWN_FLAG,
    );
    assert_usage(
        &ect(
            &["ledger", "show", "--ledger", &ledger],
            None,
            &[("ECT_PROFILE", "Draft-01")],
        ),
        UNKNOWN_VAR,
    );
    assert_eq!(std::fs::read(&ledger).unwrap(), before);
}

/// An SQLite ledger under draft-01: appended, audited and shown with the profile's names.
#[test]
fn an_sqlite_ledger_under_draft_01() {
    let f = Fixture::new();
    let location = format!("sqlite:{}", f.path("ledger.db"));
    let root = f.token(ROOT, &["--profile", "draft-01", "--wid", WID]);
    let child = f.token(
        CHILD,
        &["--profile", "draft-01", "--wid", WID, "--pred", ROOT],
    );
    let stray = f.token(
        STRAY,
        &["--profile", "draft-01", "--wid", OTHER_WID, "--pred", ROOT],
    );
    let d01 = [("ECT_PROFILE", "draft-01")];
    for (token, seq) in [(&root, 0), (&child, 1)] {
        let o = f.append(&location, &[], token, &d01);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(json_line(&o)["seq"], seq);
    }
    let o = f.append(&location, &["--profile", "draft-01"], &stray, &[]);
    assert_eq!(error(&o).1["code"], "dag.workflow_mismatch");
    let o = ect(
        &[
            "ledger",
            "verify",
            "--ledger",
            &location,
            "--audience",
            AUD,
            "--jwks",
            &f.jwks(),
        ],
        None,
        &d01,
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(json_line(&o)["entries"], 2);
    let o = ect(
        &[
            "ledger",
            "show",
            "--ledger",
            &location,
            "--profile",
            "draft-01",
        ],
        None,
        &[],
    );
    let shown: Vec<(Value, Value)> = json_lines(&o)
        .iter()
        .map(|l| (l["jti"].clone(), l["pred"].clone()))
        .collect();
    assert_eq!(
        shown,
        [(json!(ROOT), json!([])), (json!(CHILD), json!([ROOT]))]
    );
    // Read under draft-00 the stored tokens do not parse: exit 2.
    let o = ect(&["ledger", "show", "--ledger", &location], None, &[]);
    assert_eq!(
        (o.status.code(), stdout(&o).as_str()),
        (Some(2), ""),
        "{}",
        stderr(&o)
    );
}
