//! The three-agent workflow over loopback HTTP, shared by the example
//! (`cargo run --release --example three_agents --features axum`) and `ect demo --http` (the
//! CLI includes this file as a module).
//!
//! Agent A is a client; agents B and C are axum servers on 127.0.0.1 (ephemeral ports), each
//! behind its own [`EctLayer`] and [`Verifier`] whose audience is its own SPIFFE id:
//!
//! 1. A does the root task and calls B with the root ECT.
//! 2. B's layer verifies it ([`Verifier::verify_inline`]); B's handler does its task, signs a
//!    child ECT ([`VerifiedRequest::child`]) and calls C with it, A's token inline as its parent.
//! 3. C's layer accepts both into C's ledger ([`Verifier::accept_inline`]); C's handler
//!    answers with the ledger's sequence number and head.
//!
//! Then C's ledger is audited, and the request of hop 2 is replayed to C: refused, 403.
//!
//! Keys, task ids and every clock are fixed, so the transcript is the same on every run (ES256
//! signatures are deterministic, RFC 6979); port numbers are never printed. The handlers write
//! their part of the transcript into a shared [`Log`], which [`run`] prints.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http_body_util::{BodyExt, Full};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use wimse_ect::http::{FIELD_NAME, attach};
use wimse_ect::{
    Claims, EctBuilder, EctLayer, KeySet, LedgerAudit, MemoryLedger, Policy, SigningKey,
    VerifiedRequest, Verifier,
};

const A: &str = "spiffe://example.org/agent-a";
const B: &str = "spiffe://example.org/agent-b";
const C: &str = "spiffe://example.org/agent-c";
/// The workflow's id, and the tasks' ids (fixed, for a reproducible transcript).
const WID: &str = "3f1c6a2e-8d4b-4e7a-9c1f-2b5d8e0a7c64";
const ROOT: &str = "0b7e3c52-6f1d-4a8e-b9c3-5d2f7a1e4b60";
const CHILD: &str = "9a4d2f81-3c6e-4b7d-8e1a-6f5c0d3b2a97";
/// The time A does its task; B's layer reads `NOW + 2`, C's `NOW + 5` (fixed clocks).
const NOW: u64 = 1_772_000_000;
const B_NOW: u64 = NOW + 2;
const C_NOW: u64 = NOW + 5;
/// The path both servers serve.
const PATH: &str = "/task";
/// The bound on the whole workflow, servers included.
const LIMIT: Duration = Duration::from_secs(30);

/// Runs the workflow and prints its transcript to `out`; an error says what went wrong (the
/// transcript up to that point is printed first). Bounded by [`LIMIT`].
pub async fn run(out: &mut dyn Write) -> Result<(), String> {
    let log = Log::default();
    let result = match tokio::time::timeout(LIMIT, workflow(&log)).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "the workflow did not finish within {} s",
            LIMIT.as_secs()
        )),
    };
    log.print(out)?;
    result
}

/// The transcript, written by A (this function's caller side) and by B's and C's handlers, in
/// the order things happen.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn line(&self, line: impl Into<String>) {
        self.0.lock().expect("log lock").push(line.into());
    }

    /// Claims as indented, pretty-printed JSON.
    fn claims(&self, claims: &Claims) {
        let json = serde_json::Value::Object(claims.to_json(&wimse_ect::DRAFT_00));
        let text = serde_json::to_string_pretty(&json).expect("claims serialize");
        for line in text.lines() {
            self.line(format!("    {line}"));
        }
    }

    /// The `Execution-Context` field lines of a request, as on the wire (abbreviated), each
    /// with the claims of its token; `tokens` are the tokens attached, own token first.
    fn field_lines<T>(
        &self,
        request: &http::Request<T>,
        tokens: &[(&str, &Claims)],
    ) -> Result<(), String> {
        let lines: Vec<&[u8]> = request
            .headers()
            .get_all(FIELD_NAME)
            .iter()
            .map(|v| v.as_bytes())
            .collect();
        if lines.len() != tokens.len() {
            return Err(format!(
                "{} field lines for {} tokens",
                lines.len(),
                tokens.len()
            ));
        }
        self.line(format!(
            "  request: POST {PATH}, {} {FIELD_NAME} field line{} (own token first, then inline parents):",
            lines.len(),
            if lines.len() == 1 { "" } else { "s" }
        ));
        for (i, (line, (token, claims))) in lines.iter().zip(tokens).enumerate() {
            if *line != token.as_bytes() {
                return Err(format!("field line {i} is not the token attached"));
            }
            let role = if i == 0 { "own" } else { "parent" };
            self.line(format!(
                "    {FIELD_NAME}: {}  ({role}: jti {}, iss {}, exec_act {})",
                abbreviate(token),
                claims.jti,
                claims.iss,
                claims.exec_act
            ));
        }
        Ok(())
    }

    fn print(&self, out: &mut dyn Write) -> Result<(), String> {
        let lines = std::mem::take(&mut *self.0.lock().expect("log lock"));
        for line in lines {
            writeln!(out, "{line}").map_err(|e| format!("writing the transcript: {e}"))?;
        }
        out.flush()
            .map_err(|e| format!("writing the transcript: {e}"))
    }
}

/// A compact token's start and end, and its length.
fn abbreviate(token: &str) -> String {
    match (token.get(..24), token.get(token.len().saturating_sub(8)..)) {
        (Some(head), Some(tail)) if token.len() > 40 => {
            format!("{head}...{tail} ({} bytes)", token.len())
        }
        _ => token.to_owned(),
    }
}

/// An error's text after `what` went wrong.
fn ctx<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// The name at the end of a SPIFFE id (`agent-b`).
fn name(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

/// The workflow: keys, the two servers, the three hops, the audit, one refusal, shutdown.
async fn workflow(log: &Log) -> Result<(), String> {
    let key_a = SigningKey::from_scalar_bytes("agent-a-key", &[0xA1; 32]).map_err(ctx("key A"))?;
    let key_b = SigningKey::from_scalar_bytes("agent-b-key", &[0xB2; 32]).map_err(ctx("key B"))?;

    log.line("== ECT demo --http: three agents over loopback HTTP (profile draft-00)");
    log.line(format!(
        "Fixed keys, task ids and clocks (now = {NOW}), so the output is reproducible. agent-b and agent-c"
    ));
    log.line(
        "are axum servers on 127.0.0.1 (ephemeral ports, not shown), each behind its own EctLayer and Verifier.",
    );
    log.line("");
    log.line(format!(
        "Keys: {A} signs with kid {:?}, {B} with kid {:?}.",
        key_a.kid(),
        key_b.kid()
    ));
    log.line(
        "agent-b trusts agent-a's key; agent-c trusts both; each key is bound to its issuer (ECT-KEY-2).",
    );
    log.line(format!(
        "agent-b's layer: audience {B}, clock now+2, verify_inline (the DAG against the inline parents)."
    ));
    log.line(format!(
        "agent-c's layer: audience {C}, clock now+5, accept_inline into a MemoryLedger."
    ));

    // Agent C: a ledger behind its layer.
    let keys_c = KeySet::from_keys([key_a.trusted(Some(A)), key_b.trusted(Some(B))])
        .map_err(ctx("agent-c's keys"))?;
    let verifier_c = Arc::new(Verifier::new(keys_c, Policy::new(C)).map_err(ctx("agent-c"))?);
    let ledger = Arc::new(MemoryLedger::new());
    let agent_c = Arc::new(AgentC {
        ledger: Arc::clone(&ledger),
        log: log.clone(),
        calls: AtomicUsize::new(0),
    });
    let layer_c = EctLayer::new(Arc::clone(&verifier_c), || C_NOW).ledger(ledger.clone());
    let router_c = Router::new()
        .route(PATH, post(agent_c_task))
        .with_state(Arc::clone(&agent_c))
        .layer(layer_c);
    let server_c = Server::start(router_c).await?;

    // Agent B: verifies against the inline parents only, and calls C.
    let keys_b = KeySet::from_keys([key_a.trusted(Some(A))]).map_err(ctx("agent-b's keys"))?;
    let verifier_b = Arc::new(Verifier::new(keys_b, Policy::new(B)).map_err(ctx("agent-b"))?);
    let agent_b = Arc::new(AgentB {
        key: key_b,
        c: server_c.addr,
        log: log.clone(),
        sent: Mutex::new(None),
    });
    let router_b = Router::new()
        .route(PATH, post(agent_b_task))
        .with_state(Arc::clone(&agent_b))
        .layer(EctLayer::new(verifier_b, || B_NOW));
    let server_b = Server::start(router_b).await?;

    // Hop 1: agent A does the root task and calls B.
    let input = b"customer 4711";
    let record = br#"{"customer":4711,"tier":"gold"}"#;
    // Every token that travels inline is verified by its receiver with every check, the
    // audience included (ECT-AUD-1): C checks A's token too, so A's token names both B and C.
    // A knows the plan (B, then C).
    let root = EctBuilder::new(A, "fetch_customer_record")
        .audiences([B, C])
        .jti(ROOT)
        .wid(WID)
        .issued_at(NOW)
        .expires_at(NOW + 600)
        .inp_hash(wimse_ect::sha256_b64url(input))
        .out_hash(wimse_ect::sha256_b64url(record));
    let root_claims = root.build().map_err(ctx("agent-a's root claims"))?;
    let root_token = root.sign(&key_a).map_err(ctx("agent-a signs"))?;
    log.line("");
    log.line("hop 1: agent-a -> agent-b");
    log.line(
        "  agent-a does fetch_customer_record and signs the root token (par = []). Its aud names agent-b",
    );
    log.line(
        "  and agent-c: every inline token is verified by its receiver with all checks, the audience",
    );
    log.line("  included (ECT-AUD-1), and agent-a knows the plan (agent-b, then agent-c).");
    log.line("  new token (agent-a's root):");
    log.claims(&root_claims);
    let mut request = new_request(record.to_vec())?;
    attach(&mut request, &root_token, &[] as &[&str]).map_err(ctx("agent-a attaches"))?;
    log.field_lines(&request, &[(&root_token, &root_claims)])?;
    log.line(format!(
        "  body: {} (its sha256 is the root's out_hash)",
        String::from_utf8_lossy(record)
    ));
    let answer = send(server_b.addr, request).await?;
    log.line(format!(
        "  hop 1, agent-b -> agent-a: {} {}",
        answer.status, answer.body
    ));
    if answer.status != StatusCode::OK {
        return Err(format!(
            "agent-b answered {}: {}",
            answer.status, answer.body
        ));
    }

    // The audit of C's ledger (SPEC.md §8).
    ledger
        .verify_chain()
        .map_err(ctx("agent-c's ledger chain"))?;
    let report = ledger.validate_all(verifier_c.policy(), Some(verifier_c.keys()));
    if !report.is_valid() {
        return Err(format!(
            "the audit of agent-c's ledger found {:?}",
            report.findings
        ));
    }
    log.line("");
    log.line(format!(
        "Audit of agent-c's ledger: verify_chain: every hash of the {} entries recomputes. validate_all",
        ledger.len()
    ));
    log.line(format!(
        "(signatures, times, DAG rules, audience {C}): {} findings. Head: {}",
        report.findings.len(),
        ledger.head()
    ));

    // One refusal: hop 2's request, captured, replayed to C.
    let (tokens, body) = agent_b
        .sent
        .lock()
        .expect("sent lock")
        .clone()
        .ok_or("agent-b sent nothing to agent-c")?;
    let head = ledger.head();
    let calls = agent_c.calls.load(Ordering::SeqCst);
    let mut request = new_request(body)?;
    attach(&mut request, &tokens[0], &tokens[1..]).map_err(ctx("replay"))?;
    let answer = send(server_c.addr, request).await?;
    log.line("");
    log.line("Refusal: the request of hop 2 replayed to agent-c (the same field lines and body):");
    log.line(format!("  answer: {} {}", answer.status, answer.body));
    if answer.status != StatusCode::FORBIDDEN {
        return Err(format!(
            "agent-c answered {} to a replay: {}",
            answer.status, answer.body
        ));
    }
    if ledger.len() != 2 || ledger.head() != head || agent_c.calls.load(Ordering::SeqCst) != calls {
        return Err("the refused replay changed agent-c's ledger or reached its handler".into());
    }
    log.line(format!(
        "  agent-c's handler did not run; its ledger still holds {} entries, head unchanged.",
        ledger.len()
    ));

    server_b.stop().await?;
    server_c.stop().await?;
    log.line("");
    log.line("agent-b and agent-c stopped (graceful shutdown).");
    Ok(())
}

/// Agent B's state: its key, C's address, the transcript, and the tokens and body it sent to
/// C (for the replay at the end).
struct AgentB {
    key: SigningKey,
    c: SocketAddr,
    log: Log,
    sent: Mutex<Option<(Vec<String>, Vec<u8>)>>,
}

/// Agent B's task: only reached with a request its layer verified.
async fn agent_b_task(
    State(b): State<Arc<AgentB>>,
    verified: VerifiedRequest,
    body: Bytes,
) -> Response {
    match agent_b_steps(&b, &verified, body).await {
        Ok(answer) => answer,
        Err(why) => {
            b.log.line(format!("  agent-b fails: {why}"));
            (StatusCode::BAD_GATEWAY, why).into_response()
        }
    }
}

async fn agent_b_steps(
    b: &AgentB,
    verified: &VerifiedRequest,
    body: Bytes,
) -> Result<Response, String> {
    let log = &b.log;
    let parent = verified.claims();
    log.line(
        "  verdict: agent-b's EctLayer verified it at now+2 (verify_inline): signature, claims, times,",
    );
    log.line(format!(
        "  aud contains agent-b, par [{}], first use of jti {} (ECT-RPL-1); the handler runs.",
        parent.par.join(", "),
        parent.jti
    ));

    // B's task: it takes A's output as its input, and checks it against the root's out_hash.
    let inp_hash = wimse_ect::sha256_b64url(&body);
    if parent.out_hash.as_deref() != Some(inp_hash.as_str()) {
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            "the body is not the output the root token names (out_hash)",
        )
            .into_response());
    }
    let output = br#"{"customer":4711,"risk":"low"}"#;
    // The child: a fresh task of the same workflow whose parent is A's task. `child` draws a
    // random jti; the demo fixes it so its transcript is reproducible.
    let child = verified
        .child(B, "score_customer_risk")
        .jti(CHILD)
        .audience(C)
        .issued_at(NOW + 3)
        .expires_at(NOW + 603)
        .inp_hash(inp_hash)
        .out_hash(wimse_ect::sha256_b64url(output));
    let child_claims = child.build().map_err(|e| format!("child claims: {e}"))?;
    let child_token = child.sign(&b.key).map_err(|e| format!("signing: {e}"))?;

    log.line("");
    log.line("hop 2: agent-b -> agent-c");
    log.line(
        "  agent-b checks its input against the root's out_hash (equal), does score_customer_risk and",
    );
    log.line(
        "  signs a child token: verified.child(...), so par = [the root's jti] and the root's wid.",
    );
    log.line("  new token (agent-b's child):");
    log.claims(&child_claims);
    let mut request = new_request(output.to_vec())?;
    // The child first, then the request's own token as its inline parent
    // (`http::attach(&mut request, &child_token, &verified.inline_parents())`).
    verified
        .attach_child(&mut request, &child_token)
        .map_err(|e| format!("attaching: {e}"))?;
    log.field_lines(
        &request,
        &[
            (&child_token, &child_claims),
            (verified.ect().token(), parent),
        ],
    )?;
    log.line(format!(
        "  body: {} (its sha256 is the child's out_hash)",
        String::from_utf8_lossy(output)
    ));
    let tokens: Vec<String> = std::iter::once(child_token.clone())
        .chain(verified.inline_parents().map(str::to_owned))
        .collect();
    *b.sent.lock().expect("sent lock") = Some((tokens, output.to_vec()));

    let answer = send(b.c, request).await?;
    log.line("");
    log.line("The answers, back along the hops:");
    log.line(format!(
        "  hop 2, agent-c -> agent-b: {} {}",
        answer.status, answer.body
    ));
    if answer.status != StatusCode::OK {
        return Err(format!(
            "agent-c answered {}: {}",
            answer.status, answer.body
        ));
    }
    let c_answer: serde_json::Value =
        serde_json::from_str(&answer.body).map_err(|e| format!("agent-c's answer: {e}"))?;
    let body = serde_json::json!({
        "task": child_claims.jti,
        "exec_act": child_claims.exec_act,
        "agent_c": c_answer,
    });
    Ok(json_response(StatusCode::OK, body.to_string()))
}

/// Agent C's state: its ledger (the one its layer accepts into), the transcript, and how many
/// times its handler ran.
struct AgentC {
    ledger: Arc<MemoryLedger>,
    log: Log,
    calls: AtomicUsize,
}

/// Agent C's task: only reached once its layer accepted the request's tokens into the ledger.
async fn agent_c_task(
    State(c): State<Arc<AgentC>>,
    verified: VerifiedRequest,
    body: Bytes,
) -> Response {
    c.calls.fetch_add(1, Ordering::SeqCst);
    let log = &c.log;
    let claims = verified.claims();
    let parents: Vec<String> = verified
        .parents()
        .iter()
        .map(|p| format!("{}'s task {}", name(&p.claims().iss), p.jti()))
        .collect();
    log.line(
        "  verdict: agent-c's EctLayer accepted it at now+5 (accept_inline). The inline parent and the",
    );
    log.line(format!(
        "  own token pass every check, aud containing agent-c included (inline parent: {});",
        parents.join(", ")
    ));
    log.line(format!(
        "  the own token's par is checked against it (ECT-DAG-2..6): verified parents [{}], missing [{}].",
        verified.verified_parents().join(", "),
        verified.missing_parents().join(", ")
    ));

    log.line("");
    log.line("hop 3: agent-c -> its ledger");
    log.line(
        "  The layer appended the inline parent the ledger did not hold, then the own token, in one",
    );
    log.line("  append call, so the ledger that names a task also holds its parents:");
    for entry in c.ledger.entries() {
        let held = entry.ect().claims();
        log.line(format!(
            "    seq {}: {} {} ({}), par [{}], at {}, hash {}",
            entry.seq(),
            held.jti,
            held.exec_act,
            name(&held.iss),
            held.par.join(", "),
            entry.accepted_at(),
            entry.hash()
        ));
    }
    log.line(format!(
        "  ledger: {} entries, head {}",
        c.ledger.len(),
        c.ledger.head()
    ));
    // C's task: record the decision; its input must be what B's token names.
    if claims.out_hash.as_deref() != Some(wimse_ect::sha256_b64url(&body).as_str()) {
        log.line("  the body is not what the token's out_hash names: 422");
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            "the body is not the output the token names (out_hash)",
        )
            .into_response();
    }
    log.line("  agent-c checks the body against agent-b's out_hash (equal) and answers.");
    let seq = verified.entry().map(|entry| entry.seq());
    let body = serde_json::json!({
        "recorded": claims.jti,
        "seq": seq,
        "entries": c.ledger.len(),
    });
    json_response(StatusCode::OK, body.to_string())
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(CONTENT_TYPE, "application/json")], body).into_response()
}

/// A running server on 127.0.0.1: stopped gracefully by [`Server::stop`], or when dropped (an
/// early error, the timeout).
struct Server {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(router: Router) -> Result<Server, String> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("binding 127.0.0.1:0: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("local address: {e}"))?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    // A message, or the sender dropped: stop either way.
                    let _ = stopped.await;
                })
                .await
        });
        Ok(Server { addr, stop, task })
    }

    /// Stops accepting, lets open connections finish, and waits for the server task.
    async fn stop(self) -> Result<(), String> {
        let _ = self.stop.send(());
        self.task
            .await
            .map_err(|e| format!("server task: {e}"))?
            .map_err(|e| format!("server: {e}"))
    }
}

/// A POST of `body` to [`PATH`], without its `Execution-Context` field yet.
fn new_request(body: Vec<u8>) -> Result<http::Request<Full<Bytes>>, String> {
    http::Request::builder()
        .method(http::Method::POST)
        .uri(PATH)
        .header(http::header::HOST, "127.0.0.1")
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("request: {e}"))
}

/// An answer: status and body.
struct Answer {
    status: StatusCode,
    body: String,
}

/// Sends `request` to `addr` on a new HTTP/1.1 connection (hyper), reads the answer, and closes
/// the connection.
async fn send(addr: SocketAddr, request: http::Request<Full<Bytes>>) -> Result<Answer, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connecting: {e}"))?;
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let connection = tokio::spawn(connection);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("answer body: {e}"))?
        .to_bytes();
    // No more requests on this connection: it closes, and its task ends.
    drop(sender);
    connection
        .await
        .map_err(|e| format!("connection task: {e}"))?
        .map_err(|e| format!("connection: {e}"))?;
    Ok(Answer {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}
