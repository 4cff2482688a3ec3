//! `ect demo --http`: the three-agent workflow of `examples/three_agents/` over loopback HTTP,
//! run as the real binary. The transcript is fixed (keys, task ids and clocks are; port numbers
//! are never printed), so its lines are asserted exactly, in order.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wimse_ect::ChainHash;

const ROOT: &str = "0b7e3c52-6f1d-4a8e-b9c3-5d2f7a1e4b60";
const CHILD: &str = "9a4d2f81-3c6e-4b7d-8e1a-6f5c0d3b2a97";
const A: &str = "spiffe://example.org/agent-a";
const B: &str = "spiffe://example.org/agent-b";
const C: &str = "spiffe://example.org/agent-c";

/// `ect demo --http`, killed if it runs longer than a minute (the demo bounds itself to 30 s).
fn demo_http() -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ect"))
        .current_dir(crate::repo_root())
        .args(["demo", "--http"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ect");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("ect demo --http ran longer than 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// The lines from the one equal to `first` up to the next empty line (excluded).
fn block<'t>(lines: &[&'t str], first: &str) -> Vec<&'t str> {
    let start = lines
        .iter()
        .position(|l| *l == first)
        .unwrap_or_else(|| panic!("no line {first:?}"));
    lines[start..]
        .iter()
        .take_while(|l| !l.is_empty())
        .copied()
        .collect()
}

/// The field line's comment for one token: `(own: jti ..., iss ..., exec_act ...)`.
fn field_line(line: &str, role: &str, jti: &str, iss: &str, act: &str) {
    let (wire, comment) = line
        .strip_prefix("    Execution-Context: ")
        .and_then(|l| l.split_once("  "))
        .unwrap_or_else(|| panic!("not a field line: {line:?}"));
    assert!(
        wire.starts_with("eyJ") && wire.contains("...") && wire.ends_with(" bytes)"),
        "{wire}"
    );
    assert_eq!(
        comment,
        format!("({role}: jti {jti}, iss {iss}, exec_act {act})")
    );
}

/// The pretty-printed claims in `lines`, from the line after `label` to the closing brace.
fn claims_after(lines: &[&str], label: &str) -> Value {
    let start = lines.iter().position(|l| *l == label).expect(label) + 1;
    let end = start + lines[start..].iter().position(|l| *l == "    }").unwrap();
    serde_json::from_str(&lines[start..=end].join("\n")).unwrap()
}

#[test]
fn demo_http_prints_the_three_hops_the_audit_and_a_refusal() {
    let o = demo_http();
    let stderr = String::from_utf8(o.stderr.clone()).unwrap();
    assert_eq!((o.status.code(), stderr.as_str()), (Some(0), ""));
    let text = String::from_utf8(o.stdout.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "== ECT demo --http: three agents over loopback HTTP (profile draft-00)"
    );
    // No port number is printed: the only address is the unnumbered 127.0.0.1.
    assert!(!text.contains("127.0.0.1:"), "{text}");

    // Hop 1: A's root token, naming B and C, to B; B's layer verifies it.
    let hop1 = block(&lines, "hop 1: agent-a -> agent-b");
    assert_eq!(hop1.len(), 25, "{}", hop1.join("\n"));
    assert_eq!(
        hop1[1],
        "  agent-a does fetch_customer_record and signs the root token (par = []). Its aud names agent-b"
    );
    assert_eq!(
        hop1[3],
        "  included (ECT-AUD-1), and agent-a knows the plan (agent-b, then agent-c)."
    );
    assert_eq!(
        claims_after(&hop1, "  new token (agent-a's root):"),
        json!({
            "aud": [B, C],
            "exec_act": "fetch_customer_record",
            "exp": 1_772_000_600,
            "iat": 1_772_000_000,
            "inp_hash": wimse_ect::sha256_b64url(b"customer 4711"),
            "iss": A,
            "jti": ROOT,
            "out_hash": wimse_ect::sha256_b64url(br#"{"customer":4711,"tier":"gold"}"#),
            "par": [],
            "wid": "3f1c6a2e-8d4b-4e7a-9c1f-2b5d8e0a7c64",
        })
    );
    assert_eq!(
        hop1[20],
        "  request: POST /task, 1 Execution-Context field line (own token first, then inline parents):"
    );
    field_line(hop1[21], "own", ROOT, A, "fetch_customer_record");
    assert_eq!(
        hop1[22..],
        [
            r#"  body: {"customer":4711,"tier":"gold"} (its sha256 is the root's out_hash)"#,
            "  verdict: agent-b's EctLayer verified it at now+2 (verify_inline): signature, claims, times,",
            &format!(
                "  aud contains agent-b, par [], first use of jti {ROOT} (ECT-RPL-1); the handler runs."
            ),
        ][..]
    );

    // Hop 2: B's child, with A's token inline, to C; C's layer accepts both.
    let hop2 = block(&lines, "hop 2: agent-b -> agent-c");
    assert_eq!(hop2.len(), 25, "{}", hop2.join("\n"));
    assert_eq!(
        claims_after(&hop2, "  new token (agent-b's child):"),
        json!({
            "aud": C,
            "exec_act": "score_customer_risk",
            "exp": 1_772_000_603,
            "iat": 1_772_000_003,
            "inp_hash": wimse_ect::sha256_b64url(br#"{"customer":4711,"tier":"gold"}"#),
            "iss": B,
            "jti": CHILD,
            "out_hash": wimse_ect::sha256_b64url(br#"{"customer":4711,"risk":"low"}"#),
            "par": [ROOT],
            "wid": "3f1c6a2e-8d4b-4e7a-9c1f-2b5d8e0a7c64",
        })
    );
    assert_eq!(
        hop2[18],
        "  request: POST /task, 2 Execution-Context field lines (own token first, then inline parents):"
    );
    field_line(hop2[19], "own", CHILD, B, "score_customer_risk");
    field_line(hop2[20], "parent", ROOT, A, "fetch_customer_record");
    // The parent travels as it was received: the same field line as in hop 1.
    assert_eq!(hop2[20], hop1[21].replace("(own:", "(parent:"));
    assert_eq!(
        hop2[21..],
        [
            r#"  body: {"customer":4711,"risk":"low"} (its sha256 is the child's out_hash)"#,
            "  verdict: agent-c's EctLayer accepted it at now+5 (accept_inline). The inline parent and the",
            &format!(
                "  own token pass every check, aud containing agent-c included (inline parent: agent-a's task {ROOT});"
            ),
            &format!(
                "  the own token's par is checked against it (ECT-DAG-2..6): verified parents [{ROOT}], missing []."
            ),
        ][..]
    );

    // Hop 3: C's ledger holds both; then the answers travel back.
    let hop3 = block(&lines, "hop 3: agent-c -> its ledger");
    assert_eq!(hop3.len(), 7, "{}", hop3.join("\n"));
    let entry = |line: &str, prefix: &str| -> String {
        let hash = line
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("{line:?} does not start with {prefix:?}"));
        assert_eq!(
            ChainHash::parse(hash).map(|h| h.to_string()),
            Some(hash.to_owned())
        );
        hash.to_owned()
    };
    entry(
        hop3[3],
        &format!("    seq 0: {ROOT} fetch_customer_record (agent-a), par [], at 1772000005, hash "),
    );
    let head = entry(
        hop3[4],
        &format!(
            "    seq 1: {CHILD} score_customer_risk (agent-b), par [{ROOT}], at 1772000005, hash "
        ),
    );
    assert_eq!(
        hop3[5..],
        [
            format!("  ledger: 2 entries, head {head}"),
            "  agent-c checks the body against agent-b's out_hash (equal) and answers.".to_owned(),
        ]
    );
    let c_answer = format!(r#"{{"entries":2,"recorded":"{CHILD}","seq":1}}"#);
    assert_eq!(
        block(&lines, "The answers, back along the hops:")[1..],
        [
            format!("  hop 2, agent-c -> agent-b: 200 OK {c_answer}"),
            format!(
                r#"  hop 1, agent-b -> agent-a: 200 OK {{"agent_c":{c_answer},"exec_act":"score_customer_risk","task":"{CHILD}"}}"#
            ),
        ]
    );

    // The audit of C's ledger, then one refusal over HTTP.
    let rest = block(
        &lines,
        "Audit of agent-c's ledger: verify_chain: every hash of the 2 entries recomputes. validate_all",
    );
    assert_eq!(
        rest[1],
        format!("(signatures, times, DAG rules, audience {C}): 0 findings. Head: {head}")
    );
    let refusal = block(
        &lines,
        "Refusal: the request of hop 2 replayed to agent-c (the same field lines and body):",
    );
    assert_eq!(refusal.len(), 3, "{}", refusal.join("\n"));
    let body: Value = serde_json::from_str(
        refusal[1]
            .strip_prefix("  answer: 403 Forbidden ")
            .expect("a 403"),
    )
    .unwrap();
    assert_eq!(
        (&body["error"]["code"], &body["error"]["rule"]),
        (&json!("dag.duplicate_jti"), &json!("ECT-DAG-1"))
    );
    assert!(body["error"]["message"].as_str().unwrap().contains(CHILD));
    assert_eq!(
        refusal[2],
        "  agent-c's handler did not run; its ledger still holds 2 entries, head unchanged."
    );
    assert_eq!(
        lines.last(),
        Some(&"agent-b and agent-c stopped (graceful shutdown).")
    );

    // Reproducible: the same transcript on every run.
    assert_eq!(demo_http().stdout, o.stdout);
}

#[test]
fn demo_help_documents_http() {
    let o = Command::new(env!("CARGO_BIN_EXE_ect"))
        .args(["demo", "--help"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let help = String::from_utf8(o.stdout).unwrap();
    assert!(help.contains("--http"), "{help}");
    assert!(help.contains("Three agents over loopback HTTP"), "{help}");
}
