//! `PostgresLedger` appends per second (BENCHMARKS.md, "Shared state"): one client process,
//! four client processes appending to the same ledger at once, and `accept_batch` (batches of
//! 256, one commit each) with one process.
//!
//! `cargo bench -p wimse-ect --features postgres --bench postgres` with
//! `ECT_TEST_POSTGRES_URL` set (`.ci/servers start DIR; source DIR/env`); without it the bench
//! prints why and exits. Run without `--bench` (as `cargo test --benches` does) it makes a short
//! smoke run.
//!
//! Each measurement uses a fresh schema of the server's database (dropped afterwards). The
//! clients are real OS processes: this binary runs itself again (`std::env::current_exe()`)
//! with `ECT_BENCH_PG_CLIENT` set. Each client signs its own `N` distinct tokens, connects, says
//! `ready`, waits for a line on its stdin (so that all clients start together), accepts its
//! tokens one [`Verifier::accept`] at a time (or in batches of 256 with
//! [`Verifier::accept_batch`]), and prints its count and elapsed time. The throughput of a run
//! is the total number of appends divided by the longest client's elapsed time.
//!
//! Before them it measures [`Verifier::verify`] alone (no ledger, one thread: the CPU cost
//! of a token before any storage) and the commit floor: one-row `INSERT`s, each committed synchronously,
//! on one connection, which bounds what one process can do (each append commits once) and
//! shows how fast the disk flushes during this run.
//!
//! Environment: `ECT_BENCH_PG_N` appends per client (default 2000; 64 in a smoke run).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};
use wimse_ect::{EctBuilder, KeySet, Ledger, Policy, PostgresLedger, SigningKey, Verifier};

const URL_VAR: &str = "ECT_TEST_POSTGRES_URL";
const CLIENT_VAR: &str = "ECT_BENCH_PG_CLIENT";
const NOW: u64 = 1_772_000_000;
const ISS: &str = "spiffe://example.org/bench-agent";
const AUD: &str = "spiffe://example.org/bench-verifier";
const BATCH: usize = 256;

fn key() -> SigningKey {
    SigningKey::from_scalar_bytes("bench", &[0x42; 32]).expect("valid scalar")
}

fn verifier() -> Verifier {
    let keys = KeySet::from_keys([key().trusted(Some(ISS))]).expect("one key");
    Verifier::new(keys, Policy::new(AUD)).expect("valid policy")
}

/// Client `client`'s `n` distinct root tokens.
fn tokens(client: u64, n: u64) -> Vec<String> {
    let key = key();
    (0..n)
        .map(|i| {
            EctBuilder::new(ISS, "bench")
                .audience(AUD)
                .jti(format!("00000000-0000-4000-8000-{:04x}{:08x}", client, i))
                .issued_at(NOW - 10)
                .expires_at(NOW + 600)
                .sign(&key)
                .expect("valid claims")
        })
        .collect()
}

/// `url` with one more query parameter.
fn with_param(url: &str, param: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{param}")
}

/// A client process: `ECT_BENCH_PG_CLIENT=<index>:<n>:<single|batch>`, the ledger's URL in
/// `ECT_BENCH_PG_LEDGER`.
fn client(spec: &str) {
    let mut parts = spec.split(':');
    let index: u64 = parts.next().and_then(|p| p.parse().ok()).expect("index");
    let n: u64 = parts.next().and_then(|p| p.parse().ok()).expect("count");
    let batch = parts.next() == Some("batch");
    let url = std::env::var("ECT_BENCH_PG_LEDGER").expect("ECT_BENCH_PG_LEDGER");
    let tokens = tokens(index, n);
    let v = verifier();
    let ledger = PostgresLedger::connect(&url).expect("connect");
    println!("ready");
    std::io::stdout().flush().expect("stdout");
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).expect("stdin");
    let start = Instant::now();
    let mut ok = 0u64;
    if batch {
        for chunk in tokens.chunks(BATCH) {
            ok += v
                .accept_batch(chunk, NOW, &ledger)
                .iter()
                .filter(|r| r.is_ok())
                .count() as u64;
        }
    } else {
        for t in &tokens {
            v.accept(t, NOW, &ledger).expect("accepted");
            ok += 1;
        }
    }
    let elapsed = start.elapsed();
    println!("{ok} {}", elapsed.as_nanos());
}

/// A fresh schema, dropped on drop.
struct Schema {
    base: String,
    name: String,
}

impl Schema {
    fn new(base: &str, tag: &str) -> Schema {
        let name = format!("ect_bench_{}_{tag}", std::process::id());
        let mut c = Client::connect(base, NoTls).expect("connect to the server");
        c.batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
        ))
        .expect("create the schema");
        Schema {
            base: base.to_owned(),
            name,
        }
    }

    fn url(&self) -> String {
        with_param(
            &self.base,
            &format!("options=-csearch_path%3D{}", self.name),
        )
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Ok(mut c) = Client::connect(&self.base, NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

/// One run: `processes` clients of `n` appends each into a fresh schema. Returns the total
/// appends and the longest client's elapsed time.
fn run(base: &str, tag: &str, processes: u64, n: u64, batch: bool) -> (u64, Duration) {
    let schema = Schema::new(base, tag);
    let url = schema.url();
    // The schema is created once, before the clients connect.
    drop(PostgresLedger::connect(&url).expect("create the ledger"));
    let exe = std::env::current_exe().expect("current_exe");
    let mode = if batch { "batch" } else { "single" };
    let mut children: Vec<(Child, BufReader<std::process::ChildStdout>)> = (0..processes)
        .map(|i| {
            let mut child = Command::new(&exe)
                .env(CLIENT_VAR, format!("{i}:{n}:{mode}"))
                .env("ECT_BENCH_PG_LEDGER", &url)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("spawn a client");
            let out = BufReader::new(child.stdout.take().expect("stdout"));
            (child, out)
        })
        .collect();
    for (_, out) in &mut children {
        let mut line = String::new();
        out.read_line(&mut line).expect("ready");
        assert_eq!(line.trim(), "ready", "a client failed to start");
    }
    for (child, _) in &mut children {
        writeln!(child.stdin.as_mut().expect("stdin")).expect("go");
    }
    let mut total = 0;
    let mut longest = Duration::ZERO;
    for (mut child, mut out) in children {
        let mut line = String::new();
        out.read_line(&mut line).expect("result");
        let status = child.wait().expect("wait");
        assert!(status.success(), "a client failed: {status}");
        let mut parts = line.split_whitespace();
        let count: u64 = parts.next().and_then(|p| p.parse().ok()).expect("count");
        let nanos: u64 = parts.next().and_then(|p| p.parse().ok()).expect("nanos");
        total += count;
        longest = longest.max(Duration::from_nanos(nanos));
    }
    let ledger = PostgresLedger::connect(&url).expect("reconnect");
    assert_eq!(ledger.len().expect("len"), total);
    ledger.verify_chain().expect("an intact chain");
    (total, longest)
}

/// The commit floor: `n` one-row `INSERT`s, each its own transaction with a synchronous commit,
/// on one connection (the same server, the same disk): the appends/s no single process can
/// exceed, since every append makes one commit durable.
fn commit_floor(base: &str, n: u64) -> f64 {
    let schema = Schema::new(base, "floor");
    let mut c = Client::connect(&schema.url(), NoTls).expect("connect");
    c.batch_execute("SET synchronous_commit = on; CREATE TABLE floor (i BIGINT PRIMARY KEY)")
        .expect("create the table");
    let insert = c.prepare("INSERT INTO floor VALUES ($1)").expect("prepare");
    let start = Instant::now();
    for i in 0..n {
        c.execute(&insert, &[&(i as i64)]).expect("insert");
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    if let Ok(spec) = std::env::var(CLIENT_VAR) {
        client(&spec);
        return;
    }
    let base = match std::env::var(URL_VAR) {
        Ok(url) if !url.is_empty() => url,
        _ => {
            println!(
                "postgres bench skipped: {URL_VAR} is not set (.ci/servers start DIR; source DIR/env)"
            );
            return;
        }
    };
    let full = std::env::args().any(|a| a == "--bench");
    let n: u64 = std::env::var("ECT_BENCH_PG_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 2000 } else { 64 });
    let rate = |(total, t): (u64, Duration)| total as f64 / t.as_secs_f64();

    let verify = {
        let (v, tokens) = (verifier(), tokens(99, n));
        let start = Instant::now();
        for t in &tokens {
            v.verify(t, NOW).expect("valid");
        }
        n as f64 / start.elapsed().as_secs_f64()
    };
    println!("postgres/verify only:        {verify:>8.0} tokens/s (no ledger, 1 thread)");
    let floor = commit_floor(&base, n);
    println!("postgres/commit floor:       {floor:>8.0} commits/s (one-row INSERT, 1 connection)");
    let one = rate(run(&base, "one", 1, n, false));
    println!("postgres/accept/1 process:   {one:>8.0} appends/s ({n} appends)");
    let four = rate(run(&base, "four", 4, n, false));
    println!(
        "postgres/accept/4 processes: {four:>8.0} appends/s ({} appends, {n} per process)",
        4 * n
    );
    println!("postgres/accept/ratio 4:1:   {:>8.2}", four / one);
    println!(
        "postgres/accept/1 process / commit floor: {:.2}",
        one / floor
    );
    let batch_n = n.max(BATCH as u64).div_ceil(BATCH as u64) * BATCH as u64;
    let batch = rate(run(&base, "batch", 1, batch_n, true));
    println!("postgres/accept_batch/{BATCH}/1 process: {batch:>8.0} appends/s ({batch_n} appends)");
}
