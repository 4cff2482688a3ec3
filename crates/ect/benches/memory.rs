//! Memory measurements (issue 7, item 4; see BENCHMARKS.md, "Memory (issue 7)").
//!
//! `cargo bench --bench memory` prints one line per metric, each with its target:
//!
//! * **ledger entry**: heap growth of a [`MemoryLedger`] per accepted entry (10k entries
//!   through [`Verifier::accept`], replay protection off so only the ledger grows), against the
//!   token's compact length (target <= 2x); the same for a [`FileLedger`] opened on the file of
//!   those entries (it keeps the same in-memory state) and for [`FileLedger::read`].
//! * **replay entry**: heap growth of a [`MemoryReplayCache`] per live entry recorded through
//!   [`ReplayCache::check_and_record`], against `128 + len(jti) + len(wid)`.
//! * **replay stream**: the live heap of a [`MemoryReplayCache`] at 10 checkpoints while
//!   1,000,000 distinct keys pass through it (100 per second, each live 60 s); flat means the
//!   last checkpoint is within a small factor of the first steady-state one.
//! * **ect dag peak RSS**: the release `ect dag` binary over a file of 100k valid tokens (a
//!   chain), measured by `/usr/bin/time -f %M` (the kernel's `ru_maxrss` of the child), against
//!   the file size (target <= 3x). The file is signed once and cached under the target dir.
//!
//! Heap bytes are counted by [`Counting`], a global allocator wrapping the system one that
//! adds up the sizes requested and released (exact and deterministic; allocator overhead per
//! block is not included). Run without `--bench` (e.g. `cargo test --benches`), the sizes are
//! small and the `ect dag` run is skipped, so the code is exercised quickly.

use std::alloc::{GlobalAlloc, Layout, System};
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use serde_json::{Map, Value};
use wimse_ect::{
    EctBuilder, FileLedger, KeySet, Ledger, MemoryLedger, MemoryReplayCache, Policy, ReplayCache,
    ReplayKey, ReplayProtection, SigningKey, Verifier,
};

/// Counts the bytes currently allocated through the global allocator.
///
/// `unsafe` is needed here (and only here, in the benchmark, not in the library, which forbids
/// it): implementing [`GlobalAlloc`] is an unsafe trait impl. Every method forwards to
/// [`System`] with the caller's arguments unchanged, so it upholds exactly the contract the
/// caller upholds; the only addition is an atomic counter update.
struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method delegates to `System` with the same arguments (see above).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            CURRENT.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            CURRENT.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
            CURRENT.fetch_add(new_size, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Bytes currently allocated on the heap.
fn heap() -> usize {
    CURRENT.load(Ordering::Relaxed)
}

const NOW: u64 = 1_772_000_000;
const AUD: &str = "spiffe://example.org/verifier";
const ISS: &str = "spiffe://example.org/agent";
const KID: &str = "memory-bench-agent";
const WID: &str = "5f0c6a1e-2b3d-4e8f-9a7b-1c2d3e4f5a6b";
/// Bumped whenever the cached workflow file's tokens change.
const FILE_VERSION: u32 = 1;

fn signing_key() -> SigningKey {
    SigningKey::from_scalar_bytes(KID, &[0x24; 32]).expect("valid scalar")
}

fn jti(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012x}")
}

/// A typical task token: `wid`, `inp_hash`, `out_hash`, a small `ext`, and 1–3 parents (the
/// previous tokens of the chain; token 0 is the root).
fn typical_token(key: &SigningKey, i: usize, max_parents: usize) -> String {
    token(key, i, max_parents, true)
}

/// [`typical_token`], optionally without `ext`.
fn token(key: &SigningKey, i: usize, max_parents: usize, with_ext: bool) -> String {
    let mut ext = Map::new();
    ext.insert("region".into(), Value::from("eu-west-1"));
    ext.insert("attempt".into(), Value::from(1 + (i % 3) as u64));
    let mut b = EctBuilder::new(ISS, "summarize_document")
        .audience(AUD)
        .jti(jti(i))
        .wid(WID)
        .inp_hash(wimse_ect::sha256_b64url(format!("input {i}").as_bytes()))
        .out_hash(wimse_ect::sha256_b64url(format!("output {i}").as_bytes()))
        .issued_at(NOW)
        .expires_at(NOW + 600);
    if with_ext {
        b = b.ext(ext);
    }
    let parents = (i % max_parents + 1).min(i);
    for p in i - parents..i {
        b = b.parent(jti(p));
    }
    b.sign(key).expect("a valid token")
}

fn verifier(replay: bool) -> Verifier {
    let keys = KeySet::from_keys([signing_key().trusted(Some(ISS))]).expect("one key");
    let mut policy = Policy::new(AUD);
    if !replay {
        policy.replay = ReplayProtection::Disabled;
    }
    Verifier::new(keys, policy).expect("valid policy")
}

fn scratch() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("memory-bench");
    fs::create_dir_all(&dir).expect("create the scratch directory");
    dir
}

/// One metric line: `metric: X B/entry <what> = R.RRx <unit> (target <= T): met|MISSED`.
fn ratio_line(metric: &str, per_entry: f64, what: &str, ratio: f64, unit: &str, target: f64) {
    let verdict = if ratio <= target { "met" } else { "MISSED" };
    println!(
        "{metric}: {per_entry:.1} B/entry {what} = {ratio:.2}x {unit} (target <= {target}x): {verdict}"
    );
}

/// Accepts `tokens` into a fresh [`MemoryLedger`] (replay protection off, so only the ledger
/// grows) and prints its heap growth per entry against the tokens' average length. Returns
/// the ledger and that average.
fn accept_all(metric: &str, what: &str, tokens: &[String]) -> (MemoryLedger, f64) {
    let n = tokens.len();
    let avg_len = tokens.iter().map(String::len).sum::<usize>() as f64 / n as f64;
    let verifier = verifier(false);
    let before = heap();
    let ledger = MemoryLedger::new();
    for t in tokens {
        verifier.accept(t, NOW, &ledger).expect("accepted");
    }
    let memory = (heap() - before) as f64 / n as f64;
    assert_eq!(ledger.len(), n as u64);
    ratio_line(
        metric,
        memory,
        &format!("for a {avg_len:.1} B token ({what})"),
        memory / avg_len,
        "compact length",
        2.0,
    );
    (ledger, avg_len)
}

/// (a) Bytes per ledger entry, for typical tokens without `ext` (for comparison: `ext` is
/// decoded into a `serde_json::Map`, whose first B-tree node is the largest single cost).
fn ledger_entry_without_ext(n: usize) {
    let key = signing_key();
    let tokens: Vec<String> = (0..n).map(|i| token(&key, i, 3, false)).collect();
    accept_all(
        "ledger entry (MemoryLedger, accept, no ext)",
        "the same tokens without ext",
        &tokens,
    );
}

/// (a) Bytes per ledger entry.
fn ledger_entry(n: usize) {
    let key = signing_key();
    let started = Instant::now();
    let tokens: Vec<String> = (0..n).map(|i| typical_token(&key, i, 3)).collect();
    eprintln!(
        "signed {n} tokens in {:.1} s (not measured)",
        started.elapsed().as_secs_f64()
    );
    let (ledger, avg_len) = accept_all(
        "ledger entry (MemoryLedger, accept)",
        &format!("average of {n}, 1-3 parents, wid, inp/out_hash, ext"),
        &tokens,
    );

    let path = scratch().join(format!("ledger-{n}.jsonl"));
    let mut file = fs::File::create(&path).expect("create the ledger file");
    for e in ledger.entries() {
        writeln!(file, "{}", e.to_line()).expect("write");
    }
    drop(file);
    drop(ledger);

    // Heap growth per entry while `load` holds the ledger it loaded from the file.
    let loaded = |metric: &str, load: &dyn Fn() -> Box<dyn Ledger>| {
        let before = heap();
        let ledger = load();
        let memory = (heap() - before) as f64 / n as f64;
        assert_eq!(ledger.len(), Ok(n as u64));
        ratio_line(
            metric,
            memory,
            &format!("for a {avg_len:.1} B token"),
            memory / avg_len,
            "compact length",
            2.0,
        );
    };
    loaded("ledger entry (FileLedger::read)", &|| {
        Box::new(FileLedger::read(&path).expect("a valid ledger").0)
    });
    loaded("ledger entry (FileLedger::open)", &|| {
        Box::new(FileLedger::open(&path).expect("a valid ledger"))
    });
}

fn replay_key(i: u64) -> ReplayKey {
    ReplayKey {
        wid: Some(WID.to_owned()),
        jti: format!("00000000-0000-4000-8000-{i:012x}"),
    }
}

/// (b) Bytes per live replay-cache entry.
fn replay_entry(n: u64) {
    let keys: Vec<ReplayKey> = (0..n).map(replay_key).collect();
    let ids = (keys[0].jti.len() + WID.len()) as f64;
    let before = heap();
    let cache = MemoryReplayCache::new();
    for k in &keys {
        cache.check_and_record(k, NOW + 600, NOW).expect("fresh");
    }
    let memory = (heap() - before) as f64 / n as f64;
    assert_eq!(cache.len(), n as usize);
    ratio_line(
        "replay entry (MemoryReplayCache)",
        memory,
        &format!(
            "for jti {} B + wid {} B (average of {n})",
            keys[0].jti.len(),
            WID.len()
        ),
        memory / (128.0 + ids),
        &format!("of 128 + len(jti) + len(wid) = {} B", 128.0 + ids),
        1.0,
    );
}

/// (c) The live heap of a replay cache under a stream of distinct expiring tokens.
fn replay_stream(n: u64) {
    const PER_SECOND: u64 = 100;
    const LIFETIME: u64 = 60;
    let before = heap();
    let cache = MemoryReplayCache::new();
    let mut points = Vec::new();
    for i in 0..n {
        let now = NOW + i / PER_SECOND;
        cache
            .check_and_record(&replay_key(i), now + LIFETIME, now)
            .expect("fresh");
        if (i + 1) % (n / 10) == 0 {
            points.push((i + 1, cache.len(), heap() - before));
        }
    }
    println!(
        "replay stream: {n} distinct keys, {PER_SECOND}/s, each live {LIFETIME} s (at most {} live)",
        PER_SECOND * LIFETIME
    );
    for (i, live, bytes) in &points {
        println!("  after {i:>8} keys: {live:>5} live entries, {bytes:>8} B live heap");
    }
    let first = points[0].2 as f64;
    let last = points[points.len() - 1].2 as f64;
    let max = points.iter().map(|p| p.2).max().expect("points") as f64;
    println!(
        "replay stream: last / first checkpoint = {:.3}x, max / first = {:.3}x (flat: target a small factor, e.g. <= 1.5x)",
        last / first,
        max / first
    );
}

/// (d) Peak RSS of `ect dag` over a file of `n` valid tokens (typical tokens, with or
/// without their small `ext`).
fn dag_rss(n: usize, with_ext: bool) {
    let dir = scratch();
    let variant = if with_ext { "" } else { "-noext" };
    let tokens = dir.join(format!("dag-chain{variant}-{n}-v{FILE_VERSION}.txt"));
    let jwks = dir.join(format!("dag-chain-v{FILE_VERSION}.jwks"));
    let keys = KeySet::from_keys([signing_key().trusted(Some(ISS))]).expect("one key");
    fs::write(&jwks, keys.to_jwks().to_string()).expect("write the jwks");
    if !tokens.exists() {
        let key = signing_key();
        let started = Instant::now();
        let partial = tokens.with_extension("partial");
        let mut out = std::io::BufWriter::new(fs::File::create(&partial).expect("create"));
        for i in 0..n {
            // A chain: one parent each, so every token is accepted in strict mode.
            writeln!(out, "{}", token(&key, i, 1, with_ext)).expect("write");
        }
        out.into_inner().expect("flush").sync_all().expect("sync");
        fs::rename(&partial, &tokens).expect("rename");
        eprintln!(
            "signed {n} tokens for the dag file in {:.1} s (cached at {})",
            started.elapsed().as_secs_f64(),
            tokens.display()
        );
    }
    let size = fs::metadata(&tokens).expect("the token file").len();
    let time = Path::new("/usr/bin/time");
    if !time.exists() {
        println!("ect dag peak RSS: skipped (/usr/bin/time not found)");
        return;
    }
    let started = Instant::now();
    let output = Command::new(time)
        .args(["-f", "%M"])
        .arg(env!("CARGO_BIN_EXE_ect"))
        .arg("dag")
        .arg("--jwks")
        .arg(&jwks)
        .args([
            "--audience",
            AUD,
            "--now",
            &NOW.to_string(),
            "--format",
            "json",
        ])
        .arg(&tokens)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run ect dag");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "ect dag failed: {stderr}");
    let kib: u64 = stderr
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no maxrss from /usr/bin/time: {stderr}"));
    let rss = kib * 1024;
    println!(
        "ect dag peak RSS: {:.1} MiB for a {:.1} MiB file of {n} tokens{} = {:.2}x file size (target <= 3x): {} ({:.0} s)",
        rss as f64 / 1048576.0,
        size as f64 / 1048576.0,
        if with_ext { "" } else { " without ext" },
        rss as f64 / size as f64,
        if rss <= 3 * size { "met" } else { "MISSED" },
        started.elapsed().as_secs_f64()
    );
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let run = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    if run("ledger") {
        ledger_entry(if full { 10_000 } else { 100 });
        ledger_entry_without_ext(if full { 10_000 } else { 100 });
    }
    if run("replay") {
        replay_entry(if full { 100_000 } else { 1_000 });
        replay_stream(if full { 1_000_000 } else { 10_000 });
    }
    if full && run("dag") {
        dag_rss(100_000, true);
        dag_rss(100_000, false);
    }
}
