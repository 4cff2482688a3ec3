//! The HTTP middleware under load (issue 16; results in BENCHMARKS.md, "HTTP middleware").
//!
//! `cargo bench -p wimse-ect --features axum --bench http` (`--features axum,ring` for ring's
//! ECDSA). A plain binary (no criterion): it prints its tables to stdout and asserts nothing
//! about time.
//!
//! **What is measured.** A small axum handler answering the request's `jti` as text, at 1, 8
//! and 64 concurrent clients (keep-alive connections of hyper's http1 client, one per client,
//! each sending its requests one after the other):
//! * `EctLayer`: `GET /ect` behind [`EctLayer`] with its defaults (two verification threads
//!   per core, 1024 queued) and a fixed clock `|| NOW`;
//! * `no layer`: `GET /plain`, the same handler and the same request (its `Execution-Context`
//!   field included) outside the layer: nothing is verified, this is the cost of HTTP, axum
//!   and the client alone;
//! * `EctLayer without HTTP`: the layer's service around a trivial inner service, called
//!   in-process by concurrent tasks (no socket, no hyper, no axum): the layer's own cost, its
//!   queue, its verification threads and `Verifier::verify_inline`;
//! * at 64 connections only, `EctLayer, in_flight = cores` (`EctLayer::concurrency`: one
//!   verification thread per core instead of two).
//!
//! Without HTTP: the bare ECDSA verification of each token's signature over its signing input
//! `segment0.segment1` (SHA-256 included) by p256 (`ecdsa::VerifyingKey::verify`) and by ring
//! (`UnparsedPublicKey::verify`), and the library's `Verifier::verify` and
//! `Verifier::verify_inline` (what the layer calls), each on one thread (time per
//! verification) and on one thread per core (wall / count, i.e. 1 / verifications per second),
//! before and after the HTTP part. **The baseline is the bare ECDSA verification by the
//! backend this build uses** (p256; ring with `--features ring`) on one thread per core,
//! measured right before and right after the `EctLayer` run at 64 connections; the faster of
//! the two is used, which makes the target stricter.
//!
//! **The target** (issue 16): at 64 connections the layer's time per request (1 / requests per
//! second) is at most 1.3x the baseline's time per verification, and no request starves: p99
//! within 10x p50 in every configuration.
//!
//! **The flood**: 64 connections send tokens to `/ect` while a 65th connection sends requests
//! without an `Execution-Context` field to `/open`, a route behind the same layer with
//! [`MissingField::Allow`], one every [`PROBE_INTERVAL`]; its p50/p99 are compared with the
//! same requests to an idle server.
//!
//! **How.** Loopback only (127.0.0.1, an ephemeral port, `TCP_NODELAY` on both sides); server
//! and clients in one process on one multi-thread tokio runtime (a worker per core), so the
//! load generator shares the cores with the server. Every configuration has a fresh server (or
//! layer) and tokens of its own, all signed before anything is timed (one fixed key, unique
//! `jti`s, `iat = NOW`): each request carries a token never verified before. Each client makes
//! two untimed warm-up requests (with tokens of their own), then all clients start together;
//! every request's latency is recorded (from sending the request to the last byte of the
//! answer), and the rate is the requests answered over the wall time from the common start to
//! the last answer. Each configuration is bounded: at most [`CONFIG_BUDGET`] of sending, every
//! request within [`REQUEST_TIMEOUT`]. The CPU time of this process's threads
//! (`/proc/self/task/*/schedstat`) and the machine's busy time (`/proc/stat`) are read around
//! each configuration: the CPU per request, and the share other processes took.
//!
//! `ECT_BENCH_HTTP_REQUESTS` (default 5000) sets the requests per configuration and the
//! verifications of each measurement without HTTP; `ECT_BENCH_HTTP_PROBES` (default 300) the
//! requests of the 65th connection.
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use axum::serve::ListenerExt;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use p256::ecdsa::signature::Verifier as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Barrier, oneshot};
use tower::{Layer as _, Service as _};
use wimse_ect::{
    DEFAULT_QUEUED, EctBuilder, EctLayer, EctService, KeySet, MissingField, Policy, SigningKey,
    VerifiedRequest, Verifier, sha256_b64url,
};

const NOW: u64 = 1_772_000_000;
const AUD: &str = "spiffe://example.org/verifier";
const ISS: &str = "spiffe://example.org/agent-a";
const WID: &str = "b7e0c1d2-3f4a-4b5c-8d6e-7f8091a2b3c4";
/// What the handler answers when the request carries no verified token.
const NO_JTI: &str = "00000000-0000-0000-0000-000000000000";
const CONNECTIONS: [usize; 3] = [1, 8, 64];
const FLOOD_CONNECTIONS: usize = 64;
const WARMUP_PER_CLIENT: usize = 2;
/// The flood's tokens, in multiples of the requests per configuration.
const FLOOD_FACTOR: usize = 3;
/// The longest a configuration keeps sending.
const CONFIG_BUDGET: Duration = Duration::from_secs(10);
/// The bound on one request and its answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// How long the flood runs before the 65th connection starts.
const FLOOD_RAMP: Duration = Duration::from_millis(300);
/// The 65th connection sends one request every this often (or right after the previous
/// answer, if that took longer), so that its requests sample the whole flood.
const PROBE_INTERVAL: Duration = Duration::from_millis(2);
/// The target: layer time per request over the baseline's time per verification.
const TARGET_RATIO: f64 = 1.3;
/// The target: p99 over p50.
const TARGET_TAIL: f64 = 10.0;

/// A signed token with its `jti` and its decoded signature.
struct Signed {
    jti: String,
    token: String,
    /// The length of the signing input `segment0.segment1`, the token's first bytes.
    input_len: usize,
    signature: [u8; 64],
}

impl Signed {
    fn signing_input(&self) -> &[u8] {
        &self.token.as_bytes()[..self.input_len]
    }
}

fn env_count(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .unwrap_or_else(|| panic!("{name}={v}: expected a positive integer")),
        Err(_) => default,
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn key() -> SigningKey {
    SigningKey::from_scalar_bytes("bench-agent", &[7u8; 32]).expect("a scalar in 1..n")
}

fn verifier() -> Verifier {
    let keys = KeySet::from_keys([key().trusted(Some(ISS))]).expect("one key");
    Verifier::new(keys, Policy::new(AUD)).expect("SPEC.md's defaults")
}

/// `count` root tokens with `jti`s `{prefix}-…-{i}`, signed on every core.
fn sign_all(prefix: usize, count: usize) -> Vec<Signed> {
    let key = key();
    let threads = cores();
    let per = count.div_ceil(threads).max(1);
    let mut all: Vec<Signed> = Vec::with_capacity(count);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..count)
            .step_by(per)
            .map(|first| {
                let key = &key;
                s.spawn(move || {
                    (first..(first + per).min(count))
                        .map(|i| sign_one(key, format!("{prefix:08x}-0000-4000-8000-{i:012x}")))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            all.extend(h.join().expect("signing thread"));
        }
    });
    all
}

fn sign_one(key: &SigningKey, jti: String) -> Signed {
    let token = EctBuilder::new(ISS, "summarize")
        .audience(AUD)
        .jti(jti.clone())
        .wid(WID)
        .issued_at(NOW)
        .expires_at(NOW + 600)
        .inp_hash(sha256_b64url(b"the task's input"))
        .out_hash(sha256_b64url(b"the task's output"))
        .sign(key)
        .expect("a valid token");
    let (input, signature) = token.rsplit_once('.').expect("a compact JWS");
    let signature = wimse_ect::base64url::decode(signature.as_bytes())
        .expect("base64url")
        .try_into()
        .expect("64 bytes");
    Signed {
        input_len: input.len(),
        jti,
        token,
        signature,
    }
}

// ---------------------------------------------------------------------------------------------
// Verification without HTTP.

/// Runs `f` over every token, split across `threads` threads; the wall time.
fn timed_parallel(tokens: &[Signed], threads: usize, f: &(dyn Fn(&Signed) + Sync)) -> Duration {
    let per = tokens.len().div_ceil(threads);
    let start = Instant::now();
    std::thread::scope(|s| {
        for chunk in tokens.chunks(per) {
            s.spawn(move || chunk.iter().for_each(f));
        }
    });
    start.elapsed()
}

/// Time per verification, single-threaded and with one thread per core (wall / count).
#[derive(Clone, Copy)]
struct Bare {
    single: Duration,
    parallel: Duration,
}

fn per_item(total: Duration, n: usize) -> Duration {
    total / u32::try_from(n).expect("fewer than 2^32")
}

/// The ways of verifying without HTTP: bare ECDSA by p256 and by ring, `Verifier::verify`,
/// `Verifier::verify_inline`.
const WAYS: [&str; 4] = ["p256", "ring", "verify", "verify_inline"];

/// Time per verification (wall / count) of `way` over every token on `threads` threads; a
/// fresh verifier, so every token is new to it (replay protection on).
fn bare(way: &str, tokens: &[Signed], threads: usize) -> Duration {
    let p256_key = *key().verifying_key();
    let sec1 = p256_key.to_sec1_point(false).as_bytes().to_vec();
    let v = verifier();
    let f: Box<dyn Fn(&Signed) + Sync + '_> = match way {
        "p256" => Box::new(|t: &Signed| {
            let sig = p256::ecdsa::Signature::from_slice(&t.signature).expect("r, s in 1..n");
            p256_key
                .verify(t.signing_input(), &sig)
                .expect("a valid signature");
        }),
        "ring" => Box::new(|t: &Signed| {
            ring::signature::UnparsedPublicKey::new(
                &ring::signature::ECDSA_P256_SHA256_FIXED,
                &sec1,
            )
            .verify(t.signing_input(), &t.signature)
            .expect("a valid signature");
        }),
        "verify" => Box::new(|t: &Signed| {
            v.verify(&t.token, NOW).expect("a valid token");
        }),
        _ => Box::new(|t: &Signed| {
            v.verify_inline(&[&t.token], NOW).expect("a valid token");
        }),
    };
    per_item(timed_parallel(tokens, threads, &*f), tokens.len())
}

/// Every way, one thread then one thread per core.
fn bare_all(tokens: &[Signed]) -> BTreeMap<&'static str, Bare> {
    let mut out = BTreeMap::new();
    for way in WAYS {
        let single = bare(way, tokens, 1);
        out.insert(
            way,
            Bare {
                single,
                parallel: single,
            },
        );
    }
    if cores() > 1 {
        for way in WAYS {
            out.get_mut(way).expect("measured").parallel = bare(way, tokens, cores());
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Thread hand-offs, the unit of the layer's overhead.

/// Round trips of each hand-off measurement, one at a time.
const HANDOFFS: u32 = 20_000;

/// Per round trip: wall time, this process's CPU time (seconds) and context switches.
struct Handoff {
    wall: f64,
    cpu: f64,
    switches: f64,
}

fn handoff(wall: Duration, c0: &Cpu, c1: &Cpu) -> Handoff {
    let usage = cpu_between(c0, c1);
    let n = f64::from(HANDOFFS);
    Handoff {
        wall: wall.as_secs_f64() / n,
        cpu: usage.ours / n,
        switches: usage.switches as f64 / n,
    }
}

/// A round trip between two OS threads over std channels, each blocking until the other
/// answers: two wake-ups of a sleeping thread.
fn ping_pong() -> Handoff {
    let (to_echo, from_main) = std::sync::mpsc::channel::<u32>();
    let (to_main, from_echo) = std::sync::mpsc::channel::<u32>();
    let echo = std::thread::spawn(move || {
        for n in from_main {
            if to_main.send(n).is_err() {
                break;
            }
        }
    });
    let (t0, c0) = (Instant::now(), cpu());
    for n in 0..HANDOFFS {
        to_echo.send(n).expect("the echo thread");
        from_echo.recv().expect("the echo thread");
    }
    let (wall, c1) = (t0.elapsed(), cpu());
    drop(to_echo);
    echo.join().expect("the echo thread");
    handoff(wall, &c0, &c1)
}

/// `spawn_blocking` of an empty closure, awaited by one task: the layer's hand-off to a
/// blocking thread and back, without the verification.
fn spawn_blocking_round_trip(runtime: &tokio::runtime::Runtime) -> Handoff {
    runtime.block_on(async {
        for _ in 0..100 {
            tokio::task::spawn_blocking(|| ()).await.expect("nothing");
        }
        let (t0, c0) = (Instant::now(), cpu());
        for _ in 0..HANDOFFS {
            tokio::task::spawn_blocking(|| ()).await.expect("nothing");
        }
        let (wall, c1) = (t0.elapsed(), cpu());
        handoff(wall, &c0, &c1)
    })
}

// ---------------------------------------------------------------------------------------------
// The server.

/// The handler: the verified request's `jti`, or [`NO_JTI`] without one.
async fn task(ect: Option<VerifiedRequest>) -> String {
    match ect {
        Some(ect) => ect.claims().jti.clone(),
        None => NO_JTI.to_owned(),
    }
}

/// A running server, stopped (gracefully) by [`Server::stop`].
struct Server {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// `/ect` and `/open` behind a fresh layer (`MissingField::Allow`, so `/open` without a
    /// field passes; `in_flight` verifications at once, default one per core), `/plain`
    /// outside it.
    async fn start(in_flight: Option<usize>) -> Server {
        let mut layer = EctLayer::new(Arc::new(verifier()), || NOW).missing(MissingField::Allow);
        if let Some(n) = in_flight {
            layer = layer.concurrency(n, DEFAULT_QUEUED);
        }
        let router = Router::new()
            .route("/ect", get(task))
            .route("/open", get(task))
            .layer(layer)
            .route("/plain", get(task));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
                .expect("the server runs");
        });
        Server { addr, stop, task }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        // Every client connection is closed by then; bounded anyway.
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The clients.

/// Where an HTTP client sends its requests and what it expects back.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Route {
    /// `/ect` with a token: answers its `jti`.
    Layer,
    /// `/plain` with a token (not verified): answers [`NO_JTI`].
    Plain,
    /// `/open` without a field: answers [`NO_JTI`].
    Open,
}

impl Route {
    fn path(self) -> &'static str {
        match self {
            Route::Layer => "/ect",
            Route::Plain => "/plain",
            Route::Open => "/open",
        }
    }
}

/// The inner service of the layer called without HTTP: answers the verified `jti`, like
/// [`task`].
#[derive(Clone)]
struct Echo;

impl tower::Service<http::Request<()>> for Echo {
    type Response = http::Response<String>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<http::Response<String>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<()>) -> Self::Future {
        let jti = request
            .extensions()
            .get::<VerifiedRequest>()
            .map_or_else(|| NO_JTI.to_owned(), |v| v.claims().jti.clone());
        std::future::ready(Ok(http::Response::new(jti)))
    }
}

/// What the clients of a run talk to.
#[derive(Clone)]
enum Target {
    /// A server on loopback: one keep-alive connection per client.
    Http(SocketAddr, Route),
    /// A fresh layer's service around [`Echo`], called in-process: no socket, hyper or axum.
    Direct(EctService<Echo>),
}

enum Client {
    Http(SendRequest<Empty<Bytes>>, Route),
    Direct(EctService<Echo>),
}

/// One client's work: the tokens (indices into the run's list; `None`: no field).
struct Work {
    warmup: Vec<Option<usize>>,
    requests: Vec<Option<usize>>,
    /// Waited on after the warm-up, by every client of the run and its coordinator.
    start: Arc<Barrier>,
    /// Stops sending when set.
    stop: Arc<AtomicBool>,
    /// Set when this client stops sending (the flood thinning out).
    done: Option<Arc<AtomicBool>>,
    /// Sends request `n` no earlier than `n` times this after the start (`None`: at once).
    pace: Option<Duration>,
}

#[derive(Default)]
struct Outcome {
    /// Latency of every answered request, in nanoseconds.
    latencies: Vec<u64>,
    /// Errors by kind (a status and code, a wrong body, a transport error).
    errors: BTreeMap<String, usize>,
    /// Requests not sent (budget over, stopped, or the connection broke).
    unsent: usize,
}

async fn connect(addr: SocketAddr) -> SendRequest<Empty<Bytes>> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    let io = hyper_util::rt::TokioIo::new(stream);
    let (sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .expect("handshake");
    tokio::spawn(conn);
    sender
}

fn nanos_since(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Sets the request's `Execution-Context` field to `token` (no inline parent), if any.
fn attach<B>(request: &mut http::Request<B>, token: Option<&Signed>) {
    if let Some(t) = token {
        wimse_ect::http::attach(request, &t.token, &[] as &[&str]).expect("a compact token");
    }
}

/// One request; its latency, or the error's kind.
async fn request(client: &mut Client, token: Option<&Signed>) -> Result<u64, String> {
    let expected = match (&*client, token) {
        (Client::Http(_, Route::Layer) | Client::Direct(_), Some(t)) => t.jti.as_str(),
        _ => NO_JTI,
    };
    let (status, body, latency) = match client {
        Client::Http(sender, route) => {
            let mut req = http::Request::get(route.path())
                .header(http::header::HOST, "localhost")
                .body(Empty::<Bytes>::new())
                .expect("a request");
            attach(&mut req, token);
            let started = Instant::now();
            let answer = tokio::time::timeout(REQUEST_TIMEOUT, async {
                sender
                    .ready()
                    .await
                    .map_err(|e| format!("transport: {e}"))?;
                let response = sender
                    .send_request(req)
                    .await
                    .map_err(|e| format!("transport: {e}"))?;
                let status = response.status();
                let body = response
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| format!("transport: {e}"))?
                    .to_bytes();
                Ok::<_, String>((status, body))
            })
            .await;
            let latency = nanos_since(started);
            let (status, body) = answer.map_err(|_| "timeout".to_owned())??;
            (status, body, latency)
        }
        Client::Direct(service) => {
            let mut req = http::Request::new(());
            attach(&mut req, token);
            let started = Instant::now();
            let answer = tokio::time::timeout(REQUEST_TIMEOUT, async {
                let Ok(()) = std::future::poll_fn(|cx| service.poll_ready(cx)).await;
                let Ok(response) = service.call(req).await;
                response
            })
            .await;
            let latency = nanos_since(started);
            let response = answer.map_err(|_| "timeout".to_owned())?;
            (
                response.status(),
                Bytes::from(response.into_body()),
                latency,
            )
        }
    };
    if status != http::StatusCode::OK {
        let code = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
            .unwrap_or_default();
        return Err(format!("{} {code}", status.as_u16()));
    }
    if body != expected.as_bytes() {
        return Err("wrong body".to_owned());
    }
    Ok(latency)
}

async fn client(target: Target, tokens: Arc<Vec<Signed>>, work: Work) -> Outcome {
    let mut client = match target {
        Target::Http(addr, route) => Client::Http(connect(addr).await, route),
        Target::Direct(service) => Client::Direct(service),
    };
    let mut out = Outcome::default();
    for i in &work.warmup {
        if let Err(e) = request(&mut client, i.map(|i| &tokens[i])).await {
            panic!("warm-up request: {e}");
        }
    }
    work.start.wait().await;
    let started = tokio::time::Instant::now();
    let deadline = Instant::now() + CONFIG_BUDGET;
    out.latencies.reserve(work.requests.len());
    for (n, i) in work.requests.iter().enumerate() {
        if let Some(pace) = work.pace {
            let n = u32::try_from(n).expect("fewer than 2^32 requests");
            tokio::time::sleep_until(started + pace * n).await;
        }
        if work.stop.load(Ordering::Relaxed) || Instant::now() >= deadline {
            out.unsent = work.requests.len() - n;
            break;
        }
        match request(&mut client, i.map(|i| &tokens[i])).await {
            Ok(latency) => out.latencies.push(latency),
            Err(e) => {
                let broken = e.starts_with("transport") || e == "timeout";
                *out.errors.entry(e).or_default() += 1;
                if broken {
                    out.unsent = work.requests.len() - n - 1;
                    break;
                }
            }
        }
    }
    if let Some(done) = &work.done {
        done.store(true, Ordering::Relaxed);
    }
    out
}

/// CPU time of each thread of this process (nanoseconds, by thread id, from
/// `/proc/self/task/*/schedstat`) and the busy time of the whole machine (`/proc/stat`, in
/// USER_HZ ticks of 10 ms).
struct Cpu {
    /// By thread id: CPU nanoseconds, and context switches (voluntary and not).
    threads: HashMap<u32, (u64, u64)>,
    machine: u64,
}

fn cpu() -> Cpu {
    let mut threads = HashMap::new();
    for entry in std::fs::read_dir("/proc/self/task").into_iter().flatten() {
        let Ok(entry) = entry else { continue };
        let Some(tid) = entry.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        let schedstat = std::fs::read_to_string(entry.path().join("schedstat")).unwrap_or_default();
        let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        let switches = status
            .lines()
            .filter(|l| l.contains("ctxt_switches:"))
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum();
        if let Some(ns) = schedstat
            .split_whitespace()
            .next()
            .and_then(|f| f.parse().ok())
        {
            threads.insert(tid, (ns, switches));
        }
    }
    let all = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = all
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
    let machine = [0, 1, 2, 5, 6, 7]
        .iter()
        .map(|&i| fields.get(i).copied().unwrap_or(0))
        .sum();
    Cpu { threads, machine }
}

/// Between two readings: this process's CPU seconds and context switches (threads that ended
/// in between are not counted), and the other processes' CPU seconds.
struct Usage {
    ours: f64,
    switches: u64,
    others: f64,
}

fn cpu_between(a: &Cpu, b: &Cpu) -> Usage {
    let (mut ns, mut switches) = (0, 0);
    for (tid, &(n, s)) in &b.threads {
        let (n0, s0) = a.threads.get(tid).copied().unwrap_or((0, 0));
        ns += n.saturating_sub(n0);
        switches += s.saturating_sub(s0);
    }
    let ours = ns as f64 / 1e9;
    let machine = b.machine.saturating_sub(a.machine) as f64 / 100.0;
    Usage {
        ours,
        switches,
        others: (machine - ours).max(0.0),
    }
}

/// The measured result of one configuration.
struct Run {
    label: String,
    clients: usize,
    latencies: Vec<u64>,
    errors: BTreeMap<String, usize>,
    unsent: usize,
    wall: Duration,
    /// This process's CPU seconds, and the other processes' CPU seconds, during the run.
    cpu_ours: f64,
    /// This process's context switches during the run.
    switches: u64,
    cpu_others: f64,
}

impl Run {
    fn answered(&self) -> usize {
        self.latencies.len()
    }

    fn rps(&self) -> f64 {
        self.answered() as f64 / self.wall.as_secs_f64()
    }

    /// Wall time per request, 1 / rate, in seconds.
    fn per_request(&self) -> f64 {
        self.wall.as_secs_f64() / self.answered().max(1) as f64
    }

    fn cpu_per_request(&self) -> f64 {
        self.cpu_ours / self.answered().max(1) as f64
    }

    fn percentile(&self, p: f64) -> Duration {
        percentile(&self.latencies, p)
    }

    fn tail(&self) -> f64 {
        self.percentile(99.0).as_secs_f64() / self.percentile(50.0).as_secs_f64()
    }
}

/// Nearest-rank percentile of unsorted nanosecond samples.
fn percentile(samples: &[u64], p: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Duration::from_nanos(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// `clients` clients sharing `requests` requests (client `k` takes requests `k`,
/// `k + clients`, …, token `i` for request `i`, or no token), after warm-up requests with
/// tokens of their own from `requests` on.
fn works(
    clients: usize,
    requests: usize,
    with_token: bool,
    start: &Arc<Barrier>,
    stop: &Arc<AtomicBool>,
    done: Option<&Arc<AtomicBool>>,
) -> Vec<Work> {
    (0..clients)
        .map(|k| Work {
            warmup: (0..WARMUP_PER_CLIENT)
                .map(|j| with_token.then_some(requests + k * WARMUP_PER_CLIENT + j))
                .collect(),
            requests: (k..requests)
                .step_by(clients)
                .map(|i| with_token.then_some(i))
                .collect(),
            start: Arc::clone(start),
            stop: Arc::clone(stop),
            done: done.cloned(),
            pace: None,
        })
        .collect()
}

/// The 65th connection's work: `probes` requests without a field, paced.
fn probe_work(probes: usize, start: &Arc<Barrier>, stop: &Arc<AtomicBool>) -> Vec<Work> {
    let mut work = works(1, probes, false, start, stop, None);
    work[0].pace = Some(PROBE_INTERVAL);
    work
}

fn spawn_clients(
    target: &Target,
    tokens: &Arc<Vec<Signed>>,
    works: Vec<Work>,
) -> Vec<tokio::task::JoinHandle<Outcome>> {
    works
        .into_iter()
        .map(|w| tokio::spawn(client(target.clone(), Arc::clone(tokens), w)))
        .collect()
}

/// Every client of `tasks` started after `start`; joined.
async fn measure(
    label: String,
    clients: usize,
    tasks: Vec<tokio::task::JoinHandle<Outcome>>,
    start: Arc<Barrier>,
) -> Run {
    start.wait().await;
    let (t0, c0) = (Instant::now(), cpu());
    let mut outcomes = Vec::with_capacity(tasks.len());
    for t in tasks {
        outcomes.push(t.await.expect("a client"));
    }
    let (wall, c1) = (t0.elapsed(), cpu());
    collect(label, clients, outcomes, wall, &c0, &c1)
}

fn collect(
    label: String,
    clients: usize,
    outcomes: Vec<Outcome>,
    wall: Duration,
    c0: &Cpu,
    c1: &Cpu,
) -> Run {
    let usage = cpu_between(c0, c1);
    let mut r = Run {
        label,
        clients,
        latencies: Vec::new(),
        errors: BTreeMap::new(),
        unsent: 0,
        wall,
        cpu_ours: usage.ours,
        switches: usage.switches,
        cpu_others: usage.others,
    };
    for o in outcomes {
        r.latencies.extend(o.latencies);
        for (k, v) in o.errors {
            *r.errors.entry(k).or_default() += v;
        }
        r.unsent += o.unsent;
    }
    r
}

/// A configuration of the requests table.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `/plain`: the handler without the layer.
    NoLayer,
    /// `/ect`: the handler behind the layer (defaults).
    Layer,
    /// The layer's service called in-process, without HTTP.
    Direct,
    /// `/ect` behind a layer with one verification thread per core.
    LayerWide,
}

impl Kind {
    fn label(self) -> String {
        match self {
            Kind::NoLayer => "no layer".into(),
            Kind::Layer => "EctLayer".into(),
            Kind::Direct => "EctLayer without HTTP".into(),
            Kind::LayerWide => format!("EctLayer, in_flight {}", cores()),
        }
    }
}

/// The requests table: at each connection count no layer, the layer and the layer without
/// HTTP, then at 64 the layer with more verifications in flight.
fn configurations() -> Vec<(usize, Kind)> {
    let mut all: Vec<(usize, Kind)> = CONNECTIONS
        .iter()
        .flat_map(|&c| [(c, Kind::NoLayer), (c, Kind::Layer), (c, Kind::Direct)])
        .collect();
    all.push((64, Kind::LayerWide));
    all
}

/// One of [`configurations`] on a fresh server or layer, with its own tokens.
async fn configuration(
    clients: usize,
    kind: Kind,
    tokens: &Arc<Vec<Signed>>,
    requests: usize,
) -> Run {
    let wide = (kind == Kind::LayerWide).then(cores);
    let server = Server::start(wide).await;
    let target = match kind {
        Kind::NoLayer => Target::Http(server.addr, Route::Plain),
        Kind::Layer | Kind::LayerWide => Target::Http(server.addr, Route::Layer),
        Kind::Direct => {
            let layer = EctLayer::new(Arc::new(verifier()), || NOW);
            Target::Direct(layer.layer(Echo))
        }
    };
    let start = Arc::new(Barrier::new(clients + 1));
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = spawn_clients(
        &target,
        tokens,
        works(clients, requests, true, &start, &stop, None),
    );
    let run = measure(kind.label(), clients, tasks, start).await;
    server.stop().await;
    run
}

/// The 65th connection's requests without a field on an idle server, then during a flood of
/// [`FLOOD_CONNECTIONS`] connections sending `flood_requests` tokens: (idle probe, probe under
/// the flood, the flood).
async fn flood(tokens: &Arc<Vec<Signed>>, flood_requests: usize, probes: usize) -> [Run; 3] {
    let idle = {
        let server = Server::start(None).await;
        let target = Target::Http(server.addr, Route::Open);
        let start = Arc::new(Barrier::new(2));
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = spawn_clients(&target, tokens, probe_work(probes, &start, &stop));
        let r = measure("no field, idle server".into(), 1, tasks, start).await;
        server.stop().await;
        r
    };

    let server = Server::start(None).await;
    // The probe stops when the first flood connection runs out of tokens (the flood thins).
    let thinning = Arc::new(AtomicBool::new(false));
    let probe_start = Arc::new(Barrier::new(2));
    let probe = spawn_clients(
        &Target::Http(server.addr, Route::Open),
        tokens,
        probe_work(probes, &probe_start, &thinning),
    );

    let flood_start = Arc::new(Barrier::new(FLOOD_CONNECTIONS + 1));
    let stop_flood = Arc::new(AtomicBool::new(false));
    let flood_tasks = spawn_clients(
        &Target::Http(server.addr, Route::Layer),
        tokens,
        works(
            FLOOD_CONNECTIONS,
            flood_requests,
            true,
            &flood_start,
            &stop_flood,
            Some(&thinning),
        ),
    );
    flood_start.wait().await;
    let (f0, fc0) = (Instant::now(), cpu());
    tokio::time::sleep(FLOOD_RAMP).await;
    let mut probe = measure("no field, during the flood".into(), 1, probe, probe_start).await;
    probe.cpu_ours = f64::NAN;
    if thinning.load(Ordering::Relaxed) {
        probe.label.push_str(" (the flood ran out of tokens first)");
    }
    stop_flood.store(true, Ordering::Relaxed);
    let mut outcomes = Vec::new();
    for t in flood_tasks {
        outcomes.push(t.await.expect("a flood connection"));
    }
    let (fwall, fc1) = (f0.elapsed(), cpu());
    server.stop().await;
    let flood = collect(
        "EctLayer, the flood".into(),
        FLOOD_CONNECTIONS,
        outcomes,
        fwall,
        &fc0,
        &fc1,
    );
    [idle, probe, flood]
}

// ---------------------------------------------------------------------------------------------
// Output.

fn us(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

fn print_runs(runs: &[&Run]) {
    println!(
        "| configuration | clients | answered | errors | unsent | wall (s) | req/s | µs/req (1/rate) | p50 (µs) | p99 (µs) | max (µs) | p99/p50 | CPU µs/req | switches/req | others' CPU |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in runs {
        let errors: usize = r.errors.values().sum();
        // /proc/stat counts in 10 ms ticks: meaningless over short runs.
        let others = if r.wall >= Duration::from_millis(500) {
            format!(
                "{:.0} %",
                100.0 * r.cpu_others / (r.wall.as_secs_f64() * cores() as f64)
            )
        } else {
            "–".to_owned()
        };
        // The probe during the flood shares the process with the flood: no CPU of its own.
        let (cpu, switches) = if r.cpu_ours.is_nan() {
            ("–".to_owned(), "–".to_owned())
        } else {
            let n = r.answered().max(1) as f64;
            (
                format!("{:.0}", r.cpu_per_request() * 1e6),
                format!("{:.1}", r.switches as f64 / n),
            )
        };
        println!(
            "| {} | {} | {} | {} | {} | {:.2} | {:.0} | {:.1} | {} | {} | {} | {:.2} | {cpu} | {switches} | {others} |",
            r.label,
            r.clients,
            r.answered(),
            errors,
            r.unsent,
            r.wall.as_secs_f64(),
            r.rps(),
            r.per_request() * 1e6,
            us(r.percentile(50.0)),
            us(r.percentile(99.0)),
            us(r.percentile(100.0)),
            r.tail(),
        );
    }
    for r in runs {
        for (kind, n) in &r.errors {
            println!("  errors in \"{}\" ({}): {n} x {kind}", r.label, r.clients);
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; this binary takes no arguments of its own.
    let requests = env_count("ECT_BENCH_HTTP_REQUESTS", 5000);
    let probes = env_count("ECT_BENCH_HTTP_PROBES", 300);
    let flood_requests = FLOOD_FACTOR * requests;
    let backend = if cfg!(feature = "ring") {
        "ring"
    } else {
        "p256"
    };
    let threads = cores();
    println!(
        "HTTP middleware benchmark: {requests} requests per configuration, {probes} probes, {threads} cores, ES256 backend of this build: {backend}"
    );

    // Every configuration its own tokens: the timed ones, then the warm-up ones.
    let t = Instant::now();
    let warm = FLOOD_CONNECTIONS * WARMUP_PER_CLIENT;
    let sets: Vec<Arc<Vec<Signed>>> = (1..=configurations().len())
        .map(|i| Arc::new(sign_all(i, requests + warm)))
        .collect();
    let flood_set = Arc::new(sign_all(0x100, flood_requests + warm));
    let bare_set = sign_all(0x200, requests);
    println!(
        "signed {} tokens ({} bytes each) in {:.1} s (not timed)",
        sets.iter().map(|s| s.len()).sum::<usize>() + flood_set.len() + bare_set.len(),
        bare_set[0].token.len(),
        t.elapsed().as_secs_f64()
    );

    let before = bare_all(&bare_set);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let handoffs = [
        ("std threads, channel ping-pong", ping_pong()),
        (
            "tokio `spawn_blocking(|| ())` awaited",
            spawn_blocking_round_trip(&runtime),
        ),
    ];
    // The layer at 64 connections (the target's configuration) is bracketed by the
    // baseline, measured right before and right after it.
    let mut table = Vec::new();
    let mut bracket = Vec::new();
    for ((clients, kind), tokens) in configurations().into_iter().zip(&sets) {
        let target = kind == Kind::Layer && clients == 64;
        if target {
            bracket.push(bare(backend, &bare_set, threads));
        }
        table.push(runtime.block_on(configuration(clients, kind, tokens, requests)));
        if target {
            bracket.push(bare(backend, &bare_set, threads));
        }
    }
    let [idle, probe, flood] = runtime.block_on(flood(&flood_set, flood_requests, probes));
    drop(runtime);

    let after = bare_all(&bare_set);

    println!();
    println!(
        "### Verification without HTTP ({requests} fresh tokens; µs per verification = wall / count)"
    );
    println!();
    println!(
        "| | 1 thread, before | 1 thread, after | {threads} threads, before | {threads} threads, after | {threads} threads: verifications/s (faster run) |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, label) in [
        ("p256", "bare ECDSA, p256 `VerifyingKey::verify`"),
        ("ring", "bare ECDSA, ring `UnparsedPublicKey::verify`"),
        ("verify", "`Verifier::verify`"),
        (
            "verify_inline",
            "`Verifier::verify_inline` (what the layer calls)",
        ),
    ] {
        let (b, a) = (before[name], after[name]);
        println!(
            "| {label} | {} | {} | {} | {} | {:.0} |",
            us(b.single),
            us(a.single),
            us(b.parallel),
            us(a.parallel),
            1.0 / b.parallel.min(a.parallel).as_secs_f64()
        );
    }
    let single = |name: &str| before[name].single.min(after[name].single).as_secs_f64();
    let parallel = |name: &str| {
        before[name]
            .parallel
            .min(after[name].parallel)
            .as_secs_f64()
    };
    println!();
    println!(
        "library over bare {backend} ECDSA (faster runs): 1 thread verify {:.3}x, verify_inline {:.3}x; {threads} threads verify {:.3}x, verify_inline {:.3}x",
        single("verify") / single(backend),
        single("verify_inline") / single(backend),
        parallel("verify") / parallel(backend),
        parallel("verify_inline") / parallel(backend),
    );

    println!();
    println!("thread hand-offs ({HANDOFFS} round trips, one at a time), per round trip:");
    for (what, h) in &handoffs {
        println!(
            "  {what}: {:.1} µs wall, {:.1} µs CPU, {:.1} context switches",
            h.wall * 1e6,
            h.cpu * 1e6,
            h.switches
        );
    }
    println!();
    println!(
        "### Requests (each configuration a fresh server or layer and tokens of its own; clients = connections, or concurrent callers without HTTP)"
    );
    println!();
    print_runs(&table.iter().collect::<Vec<_>>());
    println!();
    println!(
        "### The 65th connection: requests without a field to `/open` (behind the layer, MissingField::Allow)"
    );
    println!();
    print_runs(&[&idle, &probe, &flood]);

    // The verdict.
    let baseline = bracket.iter().min().expect("measured").as_secs_f64();
    let at = |label: &str, c: usize| {
        table
            .iter()
            .find(|r| r.label == label && r.clients == c)
            .expect("a configuration")
    };
    let (layer, plain, direct, wide) = (
        at(&Kind::Layer.label(), 64),
        at(&Kind::NoLayer.label(), 64),
        at(&Kind::Direct.label(), 64),
        at(&Kind::LayerWide.label(), 64),
    );
    let ratio = layer.per_request() / baseline;
    println!();
    println!("### Target");
    println!();
    println!(
        "baseline: bare {backend} ECDSA on {threads} threads right before / right after the EctLayer run at 64 connections: {} / {} µs per verification; the faster, {:.1} µs, is the baseline (whole-run before / after: {} / {} µs)",
        us(bracket[0]),
        us(bracket[1]),
        baseline * 1e6,
        us(before[backend].parallel),
        us(after[backend].parallel),
    );
    println!(
        "EctLayer at 64 connections: {:.1} µs per request = {ratio:.2}x the baseline (target ≤ {TARGET_RATIO}x): {}",
        layer.per_request() * 1e6,
        if ratio <= TARGET_RATIO {
            "met"
        } else {
            "MISSED"
        }
    );
    for (r, what) in [
        (
            plain,
            "no layer at 64 connections (HTTP, axum and the client)",
        ),
        (
            direct,
            "EctLayer without HTTP, 64 concurrent callers (queue, verification threads, verify_inline)",
        ),
        (
            wide,
            "EctLayer with one verification thread per core, 64 connections",
        ),
    ] {
        println!(
            "{what}: {:.1} µs per request = {:.2}x the baseline",
            r.per_request() * 1e6,
            r.per_request() / baseline
        );
    }
    println!(
        "CPU per request of this process at 64: EctLayer {:.0} µs, no layer {:.0} µs, EctLayer without HTTP {:.0} µs; bare {backend} ECDSA, 1 thread: {:.0} µs",
        layer.cpu_per_request() * 1e6,
        plain.cpu_per_request() * 1e6,
        direct.cpu_per_request() * 1e6,
        single(backend) * 1e6,
    );
    let all: Vec<&Run> = table.iter().chain([&idle, &probe, &flood]).collect();
    let worst = table
        .iter()
        .chain([&flood])
        .max_by(|a, b| a.tail().total_cmp(&b.tail()))
        .expect("runs");
    println!(
        "p99/p50, worst configuration of the requests table and the flood: {:.2} ({}, {}) (target ≤ {TARGET_TAIL}): {}",
        worst.tail(),
        worst.label,
        worst.clients,
        if worst.tail() <= TARGET_TAIL {
            "met"
        } else {
            "MISSED"
        }
    );
    println!(
        "no-field requests during the flood ({} answered): p50 {} µs, p99 {} µs, max {} µs, against {} / {} / {} µs on the idle server; the flood's own p50: {} µs ({:.0}x the probe's p99)",
        probe.answered(),
        us(probe.percentile(50.0)),
        us(probe.percentile(99.0)),
        us(probe.percentile(100.0)),
        us(idle.percentile(50.0)),
        us(idle.percentile(99.0)),
        us(idle.percentile(100.0)),
        us(flood.percentile(50.0)),
        flood.percentile(50.0).as_secs_f64() / probe.percentile(99.0).as_secs_f64(),
    );
    let errors: usize = all.iter().map(|r| r.errors.values().sum::<usize>()).sum();
    let unsent: usize = table.iter().map(|r| r.unsent).sum();
    println!("errors in all configurations: {errors}; requests of the table left unsent: {unsent}");
}
