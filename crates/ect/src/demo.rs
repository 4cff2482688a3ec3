//! `ect demo`: a two-agent workflow, then DAG validation and the audit ledger, step by step
//! with fixed keys and times, so that the transcript is reproducible. `ect demo --http`: the
//! three-agent workflow over loopback HTTP of `examples/three_agents/` ([`workflow`], the
//! example's own file).

use std::io::Write;

use serde_json::{Map, Value};
use wimse_ect::{
    ConfigError, EctBuilder, Error, KeySet, LedgerAudit, MemoryLedger, Policy, PolicyDecision,
    SigningKey, Verifier,
};

use crate::io::{EXIT_OK, io_error};

/// `ect demo`.
pub fn run(out: &mut dyn Write) -> Result<u8, ConfigError> {
    demo_steps(out).map(|()| EXIT_OK).map_err(|e| match e {
        DemoError::Io(e) => io_error(e),
        DemoError::Ect(e) => ConfigError::new(format!("demo failed: {e}")),
        DemoError::Config(e) => e,
    })
}

// The three-agent workflow over loopback HTTP: the same file the example
// `examples/three_agents` runs (its documentation is its own).
#[path = "../../../examples/three_agents/workflow.rs"]
mod workflow;

/// `ect demo --http`: [`workflow::run`] on a tokio runtime of its own; a failure is exit 2 with
/// the reason on stderr (after the transcript up to that point).
pub fn run_http(out: &mut dyn Write) -> Result<u8, ConfigError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| ConfigError::new(format!("demo --http: a tokio runtime: {e}")))?;
    runtime
        .block_on(workflow::run(out))
        .map(|()| EXIT_OK)
        .map_err(|e| ConfigError::new(format!("demo --http failed: {e}")))
}

/// What stops the demo: an output error, an unexpected library error or a wrong outcome.
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

/// The demo's first part: two agents, one workflow, and three rejections.
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
    use crate::commands::run_args;

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
}
