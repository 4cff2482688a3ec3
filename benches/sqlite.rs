//! `SqliteLedger` (BENCHMARKS.md, "Shared state"): its own timer, several repetitions, the
//! median, and ratios measured in the same run.
//!
//! 1. Per token, over 2000 fresh tokens signed once up front (untimed), every verifier with
//!    replay protection disabled so that only verification and the ledger are measured:
//!    (a) `verify_batch` alone, (b) `accept_batch` into a fresh `SqliteLedger`, (c) `accept`
//!    one token at a time into a fresh `SqliteLedger` (one commit each). (a) and (b) run in
//!    batches of 256 (for (b): one commit per batch, group commit). Prints µs per token and
//!    the ratios (b)/(a) and (c)/(b).
//! 2. Scale, only when `ECT_BENCH_SQLITE_ENTRIES` is set (for example `1000000`; CI's
//!    `cargo bench --no-run` only compiles it): a ledger of 10 000 entries and one of that
//!    many, each built with `accept_batch` in batches of `CHUNK` tokens signed in parallel on
//!    rayon's threads; then, at each size, a fresh verifier process (this binary again, with
//!    `ECT_BENCH_SQLITE_PROBE` set) opens the ledger and makes 200 single `accept`s: their time
//!    and that process's resident set (VmRSS) after them, what a verifier appending to a
//!    ledger of that size costs, without the memory the building process kept; and the
//!    ratios large/10k.
//!
//! Tokens form chains of 8 (each names the previous one as its parent), so every append also
//! writes an `ect_parents` row and the DAG check looks a parent up.
//!
//! `cargo bench -p wimse-ect --features sqlite,rayon --bench sqlite`

use std::path::Path;
use std::time::{Duration, Instant};

use rayon::prelude::*;
use wimse_ect::{
    EctBuilder, KeySet, Ledger, Policy, ReplayProtection, SigningKey, SqliteLedger, Verifier,
};

const NOW: u64 = 1_772_000_000;
const ISS: &str = "spiffe://example.org/agent-a";
const AUD: &str = "spiffe://example.org/verifier";
/// Tokens of part 1.
const TOKENS: u64 = 2000;
/// The group-commit batch of part 1.
const BATCH: usize = 256;
/// Repetitions of part 1.
const REPS: usize = 5;
/// Tokens signed and accepted at a time while a scale ledger is built.
const CHUNK: u64 = 10_000;
/// Single appends timed at each size.
const PROBES: u64 = 200;
/// The small size of part 2.
const SMALL: u64 = 10_000;

fn key() -> SigningKey {
    SigningKey::from_scalar_bytes("agent-a", &[0x11; 32]).expect("valid scalar")
}

fn verifier() -> Verifier {
    let mut policy = Policy::new(AUD);
    policy.replay = ReplayProtection::Disabled;
    Verifier::new(KeySet::from_keys([key().trusted(None)]).unwrap(), policy).unwrap()
}

/// Task `n`'s id: a UUID.
fn jti(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

/// Task `n`, naming task `n - 1` as its parent unless `n` starts a chain of 8.
fn token(key: &SigningKey, n: u64) -> String {
    let mut b = EctBuilder::new(ISS, "step")
        .audience(AUD)
        .jti(jti(n))
        .issued_at(NOW)
        .expires_at(NOW + 600);
    if !n.is_multiple_of(8) {
        b = b.parent(jti(n - 1));
    }
    b.sign(key).expect("valid claims")
}

/// Tokens `from..to`, signed on rayon's threads.
fn sign_range(key: &SigningKey, from: u64, to: u64) -> Vec<String> {
    (from..to).into_par_iter().map(|n| token(key, n)).collect()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn micros_per(d: Duration, n: u64) -> f64 {
    d.as_secs_f64() * 1e6 / n as f64
}

/// The process's resident set, in KiB (`VmRSS` of `/proc/self/status`; 0 elsewhere).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn fresh_ledger(dir: &Path, name: &str) -> SqliteLedger {
    SqliteLedger::open(dir.join(name)).expect("open the ledger")
}

/// Part 1: verification alone, group commit, one commit per token.
fn per_token() {
    let key = key();
    let tokens = sign_range(&key, 0, TOKENS);
    let v = verifier();
    let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
    for rep in 0..REPS {
        let t = Instant::now();
        for batch in tokens.chunks(BATCH) {
            for r in v.verify_batch(batch, NOW) {
                r.expect("verifies");
            }
        }
        a.push(micros_per(t.elapsed(), TOKENS));

        let dir = tempfile::tempdir().unwrap();
        let ledger = fresh_ledger(dir.path(), "batch.sqlite");
        let t = Instant::now();
        for batch in tokens.chunks(BATCH) {
            for r in v.accept_batch(batch, NOW, &ledger) {
                r.expect("accepted");
            }
        }
        b.push(micros_per(t.elapsed(), TOKENS));
        assert_eq!(ledger.len().unwrap(), TOKENS);

        let ledger = fresh_ledger(dir.path(), "single.sqlite");
        let t = Instant::now();
        for tk in &tokens {
            v.accept(tk, NOW, &ledger).expect("accepted");
        }
        c.push(micros_per(t.elapsed(), TOKENS));
        assert_eq!(ledger.len().unwrap(), TOKENS);
        ledger.verify_chain().expect("chain");
        println!(
            "  rep {rep}: (a) {:.1}  (b) {:.1}  (c) {:.1} µs/token",
            a[rep], b[rep], c[rep]
        );
    }
    let (a, b, c) = (median(a), median(b), median(c));
    println!("part 1: {TOKENS} tokens, batches of {BATCH}, median of {REPS} repetitions");
    println!("  (a) verify_batch alone:              {a:8.1} µs/token");
    println!("  (b) accept_batch, SqliteLedger:      {b:8.1} µs/token");
    println!("  (c) accept one at a time, SqliteLedger: {c:8.1} µs/token");
    println!(
        "  (b)/(a) = {:.3} (target <= 1.25: {})",
        b / a,
        if b / a <= 1.25 { "met" } else { "missed" }
    );
    println!("  (c)/(b) = {:.2}", c / b);
}

/// One size of part 2: builds a ledger of `size` entries in `dir`, then times `PROBES`
/// single appends. Returns (build seconds, µs per single append, VmRSS KiB after).
fn at_size(dir: &Path, size: u64, key: &SigningKey, v: &Verifier) -> (f64, f64, u64) {
    let ledger = fresh_ledger(dir, &format!("ledger-{size}.sqlite"));
    let start = Instant::now();
    let mut next = 0;
    while next < size {
        let end = (next + CHUNK).min(size);
        let tokens = sign_range(key, next, end);
        for r in v.accept_batch(&tokens, NOW, &ledger) {
            r.expect("accepted");
        }
        next = end;
        if next.is_multiple_of(100_000) {
            let s = start.elapsed().as_secs_f64();
            println!(
                "    {next} entries, {s:.0} s, {:.0} entries/s, VmRSS {} KiB",
                next as f64 / s,
                rss_kib()
            );
        }
    }
    let build = start.elapsed().as_secs_f64();
    assert_eq!(ledger.len().unwrap(), size);
    drop(ledger);
    // The build leaves the database's pages dirty in the OS page cache; flush them first so
    // that the probes' fsyncs do not wait behind that write-back.
    let _ = std::process::Command::new("sync").status();
    let db = dir.join(format!("ledger-{size}.sqlite"));
    let out = std::process::Command::new(std::env::current_exe().expect("this benchmark"))
        .env(PROBE_VAR, format!("{size}:{}", db.display()))
        .output()
        .expect("run the probe process");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("the probe prints ASCII");
    let (per_append, rss) = text
        .trim()
        .split_once(' ')
        .expect("the probe prints `µs KiB`");
    (
        build,
        per_append.parse().expect("µs per append"),
        rss.parse().expect("KiB"),
    )
}

/// The variable that makes this binary the probe process of part 2: `SIZE:PATH`.
const PROBE_VAR: &str = "ECT_BENCH_SQLITE_PROBE";

/// The probe process: opens the ledger of `size` entries at `path`, signs `PROBES` fresh tokens
/// (untimed), times their single `accept`s, and prints `<µs per append> <VmRSS KiB>`.
fn probe(spec: &str) {
    let (size, path) = spec.split_once(':').expect("SIZE:PATH");
    let size: u64 = size.parse().expect("a size");
    let key = key();
    let v = verifier();
    let ledger = SqliteLedger::open(path).expect("open the built ledger");
    assert_eq!(ledger.len().unwrap(), size);
    // Fresh tokens beyond every size built, one chain each so that each names no parent.
    let probes: Vec<String> = (0..PROBES)
        .map(|i| token(&key, 1 << 40 | (size << 12) | (i * 8)))
        .collect();
    let t = Instant::now();
    for tk in &probes {
        v.accept(tk, NOW, &ledger).expect("accepted");
    }
    println!("{:.1} {}", micros_per(t.elapsed(), PROBES), rss_kib());
}

/// Part 2: 10k entries against `large`.
fn scale(large: u64) {
    let key = key();
    let v = verifier();
    let dir = tempfile::tempdir().unwrap();
    println!("part 2: scale, built in batches of {CHUNK}");
    let mut rows = Vec::new();
    for size in [SMALL, large] {
        println!("  building {size} entries");
        let (build, per_append, rss) = at_size(dir.path(), size, &key, &v);
        let file = std::fs::metadata(dir.path().join(format!("ledger-{size}.sqlite")))
            .map(|m| m.len())
            .unwrap_or(0);
        println!(
            "  {size:>8} entries: built in {build:.1} s ({:.0} entries/s), database {:.1} MiB; \
             verifier process: single append {per_append:.0} µs, VmRSS {rss} KiB",
            size as f64 / build,
            file as f64 / (1 << 20) as f64
        );
        rows.push((per_append, rss));
    }
    let time = rows[1].0 / rows[0].0;
    let rss = rows[1].1 as f64 / rows[0].1 as f64;
    println!(
        "  {large}/{SMALL}: single append time {time:.2}x (target <= 1.5: {}), VmRSS {rss:.2}x \
         (target <= 1.2: {})",
        if time <= 1.5 { "met" } else { "missed" },
        if rss <= 1.2 { "met" } else { "missed" }
    );
}

fn main() {
    if let Ok(spec) = std::env::var(PROBE_VAR) {
        probe(&spec);
        return;
    }
    // `cargo bench` passes `--bench`; a filter or other flags are not used here.
    println!(
        "SqliteLedger benchmark, {} rayon threads",
        rayon::current_num_threads()
    );
    per_token();
    match std::env::var("ECT_BENCH_SQLITE_ENTRIES") {
        Ok(n) => scale(
            n.parse()
                .expect("ECT_BENCH_SQLITE_ENTRIES is a number of entries"),
        ),
        Err(_) => println!("part 2 (scale) skipped: set ECT_BENCH_SQLITE_ENTRIES, e.g. 1000000"),
    }
}
