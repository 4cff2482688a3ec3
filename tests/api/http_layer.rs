//! `EctLayer` and the axum extractor on real servers (axum on 127.0.0.1, ephemeral ports) and a
//! real client (hyper): SPEC.md §9 over sockets. Every server is stopped at the end of its
//! test, and every request is bounded in time ([`TIMEOUT`]).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use wimse_ect::http::{DEFAULT_MAX_FIELD_BYTES, attach};
use wimse_ect::{
    Claims, DagValidator, EctBuilder, EctLayer, Error, MemoryLedger, MissingField, Policy,
    VerifiedRequest, Verifier,
};

use crate::common::{AUD, ISS_A, ISS_B, NOW, attacker_key, key_a, key_b, trusted_keys};

/// A refusal as the client sees it: status, code, rule.
type Refusal<'a> = (u16, &'a str, &'a str);

/// The bound on one request and its answer.
const TIMEOUT: Duration = Duration::from_secs(20);
const WID: &str = "3f1c6a2e-8d4b-4e7a-9c1f-2b5d8e0a7c64";

/// A running server on 127.0.0.1, stopped (gracefully) when dropped.
struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn serve(router: Router) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    Server {
        addr,
        stop: Some(stop),
    }
}

/// An answer: status, `Retry-After` if any, and the body (JSON when it parses, else a string).
#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: Value,
}

impl Answer {
    /// The refusal's `(status, code, rule)`.
    fn refusal(&self) -> Refusal<'_> {
        let e = &self.body["error"];
        (
            self.status,
            e["code"].as_str().unwrap_or("(none)"),
            e["rule"].as_str().unwrap_or("(none)"),
        )
    }
}

/// GET `/` carrying `request`'s field lines, on a new connection.
async fn send_request(addr: SocketAddr, request: http::Request<()>) -> Answer {
    tokio::time::timeout(TIMEOUT, async {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let io = hyper_util::rt::TokioIo::new(stream);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
        tokio::spawn(conn);
        let (parts, ()) = request.into_parts();
        let mut request = http::Request::from_parts(parts, Empty::<Bytes>::new());
        *request.uri_mut() = "/".parse().unwrap();
        request
            .headers_mut()
            .insert("host", http::HeaderValue::from_static("localhost"));
        let response = sender.send_request(request).await.unwrap();
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        if status != 200 {
            assert_eq!(response.headers()["content-type"], "application/json");
        }
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into()));
        Answer {
            status,
            retry_after,
            body,
        }
    })
    .await
    .expect("the server answers in time")
}

/// GET `/` with exactly these field lines.
async fn send(addr: SocketAddr, lines: &[&str]) -> Answer {
    let mut request = http::Request::new(());
    for line in lines {
        request
            .headers_mut()
            .append("execution-context", line.parse().unwrap());
    }
    send_request(addr, request).await
}

/// GET `/` with `token` and its inline parents, as a client attaches them.
async fn send_ect(addr: SocketAddr, token: &str, parents: &[&str]) -> Answer {
    let mut request = http::Request::new(());
    attach(&mut request, token, parents).unwrap();
    send_request(addr, request).await
}

/// What the handlers saw.
type Seen = Arc<Mutex<Vec<VerifiedRequest>>>;

/// The handler: records the request and answers its `jti`, verified and missing parents.
async fn handler(State(seen): State<Seen>, ect: VerifiedRequest) -> axum::Json<Value> {
    let body = json!({
        "jti": ect.claims().jti,
        "verified": ect.verified_parents(),
        "missing": ect.missing_parents(),
    });
    seen.lock().unwrap().push(ect);
    axum::Json(body)
}

/// A server whose `/` is [`handler`] behind `layer`.
async fn server(layer: EctLayer) -> (Server, Seen) {
    let seen = Seen::default();
    let router = Router::new()
        .route("/", get(handler))
        .with_state(seen.clone())
        .layer(layer);
    (serve(router).await, seen)
}

fn verifier(policy: Policy) -> Arc<Verifier> {
    Arc::new(Verifier::new(trusted_keys(), policy).unwrap())
}

/// A layer for [`AUD`] at [`NOW`], strict DAG.
fn layer() -> EctLayer {
    EctLayer::new(verifier(Policy::new(AUD)), || NOW)
}

fn jti(n: u32) -> String {
    format!("6ba7b810-9dad-11d1-80b4-{n:012x}")
}

/// Agent A's root task `n`, for [`AUD`].
fn root(n: u32) -> EctBuilder {
    EctBuilder::new(ISS_A, "fetch_data")
        .audience(AUD)
        .wid(WID)
        .jti(jti(n))
        .issued_at(NOW - 10)
        .expires_at(NOW + 600)
}

/// Agent B's task `n`, a child of `parents`.
fn child(n: u32, parents: &[u32]) -> EctBuilder {
    let mut b = EctBuilder::new(ISS_B, "summarize")
        .audience(AUD)
        .wid(WID)
        .jti(jti(n))
        .issued_at(NOW)
        .expires_at(NOW + 600);
    for p in parents {
        b = b.parent(jti(*p));
    }
    b
}

fn claims_of(builder: &EctBuilder) -> Claims {
    builder.build().unwrap()
}

/// A chain A → B → C accepted hop by hop: B checks A's root alone, C accepts B's child with
/// A's root inline into its ledger, then a grandchild naming both; each handler sees exactly
/// the claims that were signed, and C's ledger holds the three tokens in order.
#[tokio::test]
async fn a_chain_is_accepted_hop_by_hop() {
    let (b, seen_b) = server(layer()).await;
    let ledger = Arc::new(MemoryLedger::new());
    let (c, seen_c) = server(layer().ledger(ledger.clone())).await;

    let root_builder = root(1);
    let root_token = root_builder.sign(&key_a()).unwrap();
    let answer = send_ect(b.addr, &root_token, &[] as &[&str]).await;
    assert_eq!(
        (answer.status, answer.body),
        (200, json!({"jti": jti(1), "verified": [], "missing": []}))
    );

    let child_builder = child(2, &[1]);
    let child_token = child_builder.sign(&key_b()).unwrap();
    let answer = send_ect(c.addr, &child_token, &[&root_token]).await;
    assert_eq!(
        (answer.status, answer.body),
        (
            200,
            json!({"jti": jti(2), "verified": [jti(1)], "missing": []})
        )
    );

    let grandchild_builder = child(3, &[1, 2]);
    let grandchild = grandchild_builder.sign(&key_b()).unwrap();
    // Both parents are in C's ledger already; sending them inline again appends nothing twice.
    let answer = send_ect(c.addr, &grandchild, &[&child_token, &root_token]).await;
    assert_eq!(
        (answer.status, answer.body),
        (
            200,
            json!({"jti": jti(3), "verified": [jti(1), jti(2)], "missing": []})
        )
    );

    let seen_b = seen_b.lock().unwrap();
    assert_eq!(seen_b.len(), 1);
    assert_eq!(seen_b[0].claims(), &claims_of(&root_builder));
    assert_eq!(seen_b[0].ect().token(), root_token);
    assert!(seen_b[0].parents().is_empty());
    assert_eq!(seen_b[0].entry(), None);
    let seen_c = seen_c.lock().unwrap();
    let claims: Vec<&Claims> = seen_c.iter().map(VerifiedRequest::claims).collect();
    assert_eq!(
        claims,
        [&claims_of(&child_builder), &claims_of(&grandchild_builder)]
    );
    let parents: Vec<Vec<&str>> = seen_c
        .iter()
        .map(|s| s.parents().iter().map(|p| p.token()).collect())
        .collect();
    assert_eq!(
        parents,
        [vec![root_token.as_str()], vec![&child_token, &root_token]]
    );
    let held: Vec<String> = ledger
        .entries()
        .iter()
        .map(|e| e.ect().token().to_owned())
        .collect();
    assert_eq!(held, [root_token, child_token, grandchild]);
    let seqs: Vec<Option<u64>> = seen_c.iter().map(|s| s.entry().map(|e| e.seq())).collect();
    assert_eq!(seqs, [Some(1), Some(2)]);
    ledger.verify_chain().unwrap();
}

/// Every refusal class: status 403 and the JSON code and rule of SPEC.md; the handler never
/// runs, and the ledger and replay cache keep nothing of a refused request.
#[tokio::test]
async fn each_refusal_class_has_its_status_and_code() {
    let ledger = Arc::new(MemoryLedger::new());
    let (s, seen) = server(layer().ledger(ledger.clone())).await;
    let (inline, seen_inline) = server(layer()).await;
    let ok = root(1).sign(&key_a()).unwrap();

    let expired = root(2)
        .issued_at(NOW - 700)
        .expires_at(NOW - 31)
        .sign(&key_a())
        .unwrap();
    let mut bad_signature = root(3).sign(&key_a()).unwrap();
    let last = bad_signature.pop().unwrap();
    bad_signature.push(if last == 'A' { 'B' } else { 'A' });
    let unknown_key = root(4).sign(&attacker_key()).unwrap();
    let orphan = child(5, &[99]).sign(&key_b()).unwrap();
    let too_large = "a".repeat(DEFAULT_MAX_FIELD_BYTES + 1);
    let cases: Vec<(&str, Vec<&str>, Refusal)> = vec![
        (
            "expired",
            vec![&expired],
            (403, "time.expired", "ECT-TIME-2"),
        ),
        (
            "bad signature",
            vec![&bad_signature],
            (403, "sig.invalid", "ECT-SIG-2"),
        ),
        (
            "unknown key",
            vec![&unknown_key],
            (403, "key.unknown", "ECT-KEY-1"),
        ),
        (
            "malformed field",
            vec!["a.b.c,,d.e.f"],
            (403, "http.malformed", "ECT-HTTP-3"),
        ),
        (
            "a bad byte",
            vec!["a.b.c;d"],
            (403, "http.malformed", "ECT-HTTP-3"),
        ),
        (
            "too large",
            vec![&too_large],
            (403, "http.too_large", "ECT-HTTP-4"),
        ),
        (
            "missing parent, strict",
            vec![&orphan],
            (403, "dag.parent_missing", "ECT-DAG-2"),
        ),
        (
            "a bad inline parent",
            vec![&orphan, &expired],
            (403, "time.expired", "ECT-TIME-2"),
        ),
        ("no field", vec![], (403, "http.missing", "ECT-HTTP-1")),
    ];
    for (what, lines, expected) in &cases {
        for addr in [s.addr, inline.addr] {
            let answer = send(addr, lines).await;
            assert_eq!(answer.refusal(), *expected, "{what}");
            assert_eq!(answer.retry_after, None, "{what}");
            let message = answer.body["error"]["message"].as_str().unwrap();
            assert!(!message.is_empty() && !message.contains("ECT-"), "{what}");
        }
    }
    assert!(seen.lock().unwrap().is_empty());
    assert!(seen_inline.lock().unwrap().is_empty());
    assert_eq!(ledger.len(), 0);

    // Replay: accepted once, then refused; with a ledger the ledger sees it first (DAG-1).
    assert_eq!(send(inline.addr, &[&ok]).await.status, 200);
    assert_eq!(
        send(inline.addr, &[&ok]).await.refusal(),
        (403, "replay.jti", "ECT-RPL-1")
    );
    assert_eq!(send(s.addr, &[&ok]).await.status, 200);
    assert_eq!(
        send(s.addr, &[&ok]).await.refusal(),
        (403, "dag.duplicate_jti", "ECT-DAG-1")
    );
    assert_eq!(ledger.len(), 1);
}

/// Partial mode (SPEC.md §6.3): a missing parent is accepted and listed as missing, never as
/// verified; strict mode refuses the same request (above).
#[tokio::test]
async fn partial_mode_lists_missing_parents() {
    let mut policy = Policy::new(AUD);
    policy.dag = DagValidator::partial();
    let (s, seen) = server(EctLayer::new(verifier(policy), || NOW)).await;
    let parent = root(1).sign(&key_a()).unwrap();
    let token = child(2, &[1, 99]).sign(&key_b()).unwrap();
    let answer = send_ect(s.addr, &token, &[&parent]).await;
    assert_eq!(
        (answer.status, answer.body),
        (
            200,
            json!({"jti": jti(2), "verified": [jti(1)], "missing": [jti(99)]})
        )
    );
    assert_eq!(seen.lock().unwrap()[0].missing_parents(), [jti(99)]);
}

/// `MissingField::Allow` lets a request without the field through, without a verified ECT
/// (`Option<VerifiedRequest>` is `None`), and still refuses a bad field; the extractor
/// without the layer refuses like the layer: 403, `http.missing`.
#[tokio::test]
async fn missing_field_allow_and_the_extractor_without_a_layer() {
    async fn optional(ect: Option<VerifiedRequest>) -> String {
        ect.map_or_else(|| "none".to_owned(), |e| e.claims().jti.clone())
    }
    let allowing = Router::new()
        .route("/", get(optional))
        .layer(layer().missing(MissingField::Allow));
    let allowing = serve(allowing).await;
    let answer = send(allowing.addr, &[]).await;
    assert_eq!((answer.status, answer.body), (200, json!("none")));
    let token = root(1).sign(&key_a()).unwrap();
    let answer = send(allowing.addr, &[&token]).await;
    assert_eq!((answer.status, answer.body), (200, Value::String(jti(1))));
    assert_eq!(
        send(allowing.addr, &[""]).await.refusal(),
        (403, "http.malformed", "ECT-HTTP-3")
    );

    let bare = Router::new()
        .route("/", get(handler))
        .with_state(Seen::default());
    let bare = serve(bare).await;
    let token = root(2).sign(&key_a()).unwrap();
    assert_eq!(
        send(bare.addr, &[&token]).await.refusal(),
        (403, "http.missing", "ECT-HTTP-1")
    );
}

/// What cannot answer gives 503 with `Retry-After`, never a pass: a ledger that went away
/// (`ledger.io`), a replay cache that cannot be reached (`replay.unavailable`), a full bounded
/// replay cache (`replay.full`).
#[tokio::test]
async fn a_store_that_cannot_answer_gives_503() {
    let flaky = Arc::new(crate::contracts::Flaky {
        inner: MemoryLedger::new(),
        broken: true.into(),
    });
    let (s, seen) = server(layer().ledger(flaky.clone()).retry_after(7)).await;
    let token = root(1).sign(&key_a()).unwrap();
    let answer = send(s.addr, &[&token]).await;
    assert_eq!(answer.refusal(), (503, "ledger.io", "ECT-LED-1"));
    assert_eq!(answer.retry_after.as_deref(), Some("7"));

    let mut policy = Policy::new(AUD);
    policy.replay = wimse_ect::ReplayProtection::Enabled {
        max_entries: Some(1),
    };
    let (full, _) = server(EctLayer::new(verifier(policy), || NOW)).await;
    assert_eq!(send(full.addr, &[&token]).await.status, 200);
    let other = root(2).sign(&key_a()).unwrap();
    let answer = send(full.addr, &[&other]).await;
    assert_eq!(answer.refusal(), (503, "replay.full", "ECT-RPL-1"));
    assert_eq!(answer.retry_after.as_deref(), Some("1"));

    // A shared replay cache that went away (the open trait; a Redis server that stopped
    // answering gives the same error: tests/api/replay_redis.rs).
    struct Down;
    impl wimse_ect::ReplayCache for Down {
        fn check_and_record(
            &self,
            _key: &wimse_ect::ReplayKey,
            _expires_at: u64,
            _now: u64,
        ) -> wimse_ect::Result<()> {
            Err(Error::ReplayUnavailable("the cache went away".into()))
        }
        fn forget(&self, _key: &wimse_ect::ReplayKey) {}
    }
    let v = Verifier::new(trusted_keys(), Policy::new(AUD))
        .unwrap()
        .with_replay_cache(Arc::new(Down));
    let (down, _) = server(EctLayer::new(Arc::new(v), || NOW)).await;
    let answer = send(down.addr, &[&token]).await;
    assert_eq!(answer.refusal(), (503, "replay.unavailable", "ECT-RPL-1"));
    assert_eq!(
        answer.body["error"]["message"],
        "the replay cache cannot answer, so the token is refused: the cache went away"
    );
    assert!(seen.lock().unwrap().is_empty());
}

/// The bounded queue: with one verification in flight and none queued, a second request while
/// the first is being verified is refused at once with 503 `http.overloaded`; once the first is
/// done, the next is served.
#[tokio::test]
async fn a_full_queue_refuses_with_503() {
    // The clock is read inside the turn: blocking it holds the only turn.
    let (entered_tx, entered_rx) = std::sync::mpsc::channel::<()>();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let gate = Mutex::new((entered_tx, release_rx));
    let clock = move || {
        let gate = gate.lock().unwrap();
        // Only the first call is waited for.
        let _ = gate.0.send(());
        gate.1.recv_timeout(TIMEOUT).unwrap();
        NOW
    };
    let layer = EctLayer::new(verifier(Policy::new(AUD)), clock).concurrency(1, 0);
    let (s, _) = server(layer).await;
    let first = root(1).sign(&key_a()).unwrap();
    let second = root(2).sign(&key_a()).unwrap();
    let addr = s.addr;
    let pending = tokio::spawn(async move { send(addr, &[&first]).await });
    tokio::task::spawn_blocking(move || entered_rx.recv_timeout(TIMEOUT).unwrap())
        .await
        .unwrap();
    let answer = send(s.addr, &[&second]).await;
    assert_eq!(answer.refusal(), (503, "http.overloaded", "ECT-HTTP-5"));
    assert_eq!(answer.retry_after.as_deref(), Some("1"));
    release_tx.send(()).unwrap();
    assert_eq!(pending.await.unwrap().status, 200);
    release_tx.send(()).unwrap();
    assert_eq!(send(s.addr, &[&second]).await.status, 200);
}

/// The field's bound (ECT-HTTP-4) at its default, 65536 bytes: a request carrying its own token
/// and 64 inline parents in exactly 65536 bytes is accepted with every parent verified; the same
/// tokens one byte longer (one space of optional whitespace more) are refused, `http.too_large`.
#[tokio::test]
async fn sixty_four_inline_parents_at_the_limit() {
    let (s, seen) = server(layer()).await;
    let pad = |n: usize| {
        let mut ext = Map::new();
        ext.insert("pad".into(), Value::String("x".repeat(n)));
        ext
    };
    let ids: Vec<u32> = (1..=64).collect();
    let own_empty = child(100, &ids).sign(&key_b()).unwrap().len();
    let parent_empty = root(1).sign(&key_a()).unwrap().len();
    // The combined value is the lines joined with ", " (ECT-HTTP-4). Pad the parents to fill
    // all but about 300 bytes, then find the own token's padding that reaches the limit
    // exactly (base64url lengths skip every fourth value, so try a few parent paddings too).
    let per_parent = (DEFAULT_MAX_FIELD_BYTES - 2 * 64 - own_empty - 300) / 64;
    let parent_pad = (per_parent - parent_empty - 20) * 3 / 4;
    let parents: Vec<String> = (1..=64)
        .map(|n| root(n).ext(pad(parent_pad)).sign(&key_a()).unwrap())
        .collect();
    let mut found = None;
    'search: for extra in 0..3 {
        let mut parents_try = parents.clone();
        parents_try[0] = root(1).ext(pad(parent_pad + extra)).sign(&key_a()).unwrap();
        let base: usize = parents_try.iter().map(String::len).sum::<usize>() + 2 * 64;
        for n in 0..400 {
            let own = child(100, &ids).ext(pad(n)).sign(&key_b()).unwrap();
            if own.len() + base == DEFAULT_MAX_FIELD_BYTES {
                found = Some((own, parents_try));
                break 'search;
            }
        }
    }
    let (own, parents) = found.expect("a padding that reaches the limit exactly");
    let mut all = vec![own.clone()];
    all.extend(parents.iter().cloned());
    let combined = all.iter().map(String::len).sum::<usize>() + 2 * 64;
    assert_eq!(combined, DEFAULT_MAX_FIELD_BYTES);

    let refs: Vec<&str> = parents.iter().map(String::as_str).collect();
    let answer = send_ect(s.addr, &own, &refs).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let expected: Vec<String> = ids.iter().map(|&n| jti(n)).collect();
    assert_eq!(answer.body["verified"], json!(expected));
    assert_eq!(seen.lock().unwrap()[0].parents().len(), 64);

    // One byte more: the own token and the first parent on one line, with one space more than
    // the ", " lines are joined with (optional whitespace inside a line counts; at its ends
    // it is not part of the field value, RFC 9110 §5.5).
    let mut request = http::Request::new(());
    attach(&mut request, &own, &refs).unwrap();
    let mut values: Vec<String> = request
        .headers()
        .get_all("execution-context")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let first = values.remove(0);
    values[0] = format!("{first},  {}", values[0]);
    let lines: Vec<&str> = values.iter().map(String::as_str).collect();
    let (fresh, _) = server(layer()).await;
    assert_eq!(
        send(fresh.addr, &lines).await.refusal(),
        (403, "http.too_large", "ECT-HTTP-4")
    );
    let answer = send(fresh.addr, &lines).await;
    assert_eq!(
        answer.body["error"]["message"],
        json!(format!(
            "Execution-Context is {} bytes, limit is {}",
            DEFAULT_MAX_FIELD_BYTES + 1,
            DEFAULT_MAX_FIELD_BYTES
        ))
    );
}

/// Two server instances sharing one Redis replay cache and one PostgreSQL ledger (as two
/// instances behind a load balancer): the same request sent to both at once is accepted by
/// exactly one; without a ledger, the shared replay cache alone does the same.
///
/// The synchronous PostgreSQL client runs its own runtime, so the schema is made and dropped
/// outside the servers' runtime; the ledgers themselves are used (and dropped) by the layer.
#[cfg(all(feature = "redis", feature = "postgres"))]
#[test]
fn two_instances_sharing_redis_and_postgres_accept_a_token_once() {
    let (Some(redis), Some(schema)) = (
        crate::servers::redis_url(),
        crate::ledger_postgres::Schema::new("http_two_instances"),
    ) else {
        return;
    };
    let prefix = format!("ect-http-test-{}:", std::process::id());
    let instance = |with_ledger: bool| {
        let cache = wimse_ect::RedisReplayCache::connect(&redis)
            .unwrap()
            .with_prefix(&prefix);
        let v = Verifier::new(trusted_keys(), Policy::new(AUD))
            .unwrap()
            .with_replay_cache(Arc::new(cache));
        let layer = EctLayer::new(Arc::new(v), || NOW);
        if with_ledger {
            layer.ledger(Arc::new(schema.ledger()))
        } else {
            layer
        }
    };
    let layers = [
        instance(true),
        instance(true),
        instance(false),
        instance(false),
    ];
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(two_instances(layers));
    drop(runtime);
    use wimse_ect::Ledger;
    let ledger = schema.ledger();
    assert_eq!(ledger.len().unwrap(), 16);
    ledger.verify_chain().unwrap();
}

#[cfg(all(feature = "redis", feature = "postgres"))]
async fn two_instances([one, two, three, four]: [EctLayer; 4]) {
    let (one, seen_one) = server(one).await;
    let (two, seen_two) = server(two).await;

    for round in 0..8u32 {
        let parent = root(1000 + round).sign(&key_a()).unwrap();
        let token = child(2000 + round, &[1000 + round]).sign(&key_b()).unwrap();
        let parents = [parent.as_str()];
        let (a, b) = tokio::join!(
            send_ect(one.addr, &token, &parents),
            send_ect(two.addr, &token, &parents)
        );
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(statuses, [200, 403], "round {round}: {a:?} {b:?}");
        let refused = if a.status == 403 { &a } else { &b };
        let (_, code, _) = refused.refusal();
        assert!(
            code == "dag.duplicate_jti" || code == "replay.jti",
            "round {round}: {code}"
        );
    }
    assert_eq!(
        seen_one.lock().unwrap().len() + seen_two.lock().unwrap().len(),
        8
    );

    // No ledger: the replay cache alone decides.
    let (three, _) = server(three).await;
    let (four, _) = server(four).await;
    for round in 0..8u32 {
        let token = root(3000 + round).sign(&key_a()).unwrap();
        let (a, b) = tokio::join!(
            send_ect(three.addr, &token, &[] as &[&str]),
            send_ect(four.addr, &token, &[] as &[&str])
        );
        let mut refusals = [a.refusal(), b.refusal()];
        refusals.sort();
        assert_eq!(
            refusals[1],
            (403, "replay.jti", "ECT-RPL-1"),
            "round {round}"
        );
        assert_eq!(refusals[0].0, 200, "round {round}");
    }
}

/// The error of a refused request through the library, for the doc: the refusal type maps
/// errors to statuses as the layer does.
#[test]
fn refusal_statuses() {
    use wimse_ect::EctRefusal;
    for (error, status) in [
        (Error::Expired, 403),
        (Error::HttpMissing, 403),
        (Error::HttpOverloaded, 503),
        (Error::LedgerIo("x".into()), 503),
        (Error::ReplayUnavailable("x".into()), 503),
        (Error::ReplayCacheFull, 503),
        (Error::Replay, 403),
    ] {
        let refusal = EctRefusal::new(error.clone());
        assert_eq!(refusal.status().as_u16(), status, "{error:?}");
        let response: http::Response<String> = refusal.into_response();
        assert_eq!(
            response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap()),
            (status == 503).then_some("1")
        );
        let body: Value = serde_json::from_str(response.body()).unwrap();
        assert_eq!(body["error"]["code"], error.code());
        assert_eq!(body["error"]["rule"], error.rule());
    }
}
