//! Criterion benchmarks of the acceptance pipeline and the ledger audit (see BENCHMARKS.md for
//! the method, the shapes and the recorded results).
//!
//! The targets: appending a token costs O(|par|) store lookups, so the time per append
//! into a ledger of 100k entries is within 2x of the time per append into a ledger of 1k; and
//! `validate_all` is linear, so its time per entry is about the same at 1k and 100k. Speed
//! targets are checked by these benchmarks as ratios measured in one run, never by timing
//! assertions in tests.
//!
//! Groups (`cargo bench --bench ledger`; filter with e.g. `-- chain` or `-- validate_all`):
//! * `accept/{shape}/{N}`: one [`Verifier::accept`] (ES256 verification, DAG rules, replay
//!   record, append) into a [`MemoryLedger`] that already holds between `N - N/10` and `N - 1`
//!   entries; the time per iteration is the time per append.
//! * `dag_check/{shape}/{N}`: the DAG part alone, [`DagValidator::validate`] of the next
//!   token against the same ledgers (each token is then accepted outside the timed part).
//!   Outside the timed part it also asserts that the check made exactly `1 + |par|` lookups
//!   and one `referrers` query.
//! * `validate_all/{shape}/{N}`: [`Ledger::validate_all`] of a ledger of exactly `N` entries
//!   (keys `None`); the time per iteration is for the whole ledger.
//! * `timer/instant_pair`: the cost of the `Instant::now()`/`elapsed()` pair `dag_check`
//!   puts around each call, to subtract from its numbers.
//!
//! Every token is signed once per shape, before any timed code (100k ES256 signatures per
//! shape: about 30 s each on the 2-core reference machine). Ledgers are built through the public API: a canonical ledger file is
//! written for each prefix needed and read back with [`FileLedger::read`] (no ES256 work), and
//! a check at start-up proves that such a ledger equals one built by [`Verifier::accept`].
//! Run without `--bench` (as `cargo test --benches` does), only the 1k size is used.

use std::cell::Cell;
use std::fs::{self, File};
use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput};
use wimse_ect::{
    ChainHash, Claims, DRAFT_00, DagValidator, EctBuilder, EctStore, FileLedger, KeySet,
    LedgerAudit, MemoryLedger, MemoryReplayCache, Policy, RawEntry, ReplayCache, ReplayKey,
    SigningKey, StoredEct, Verifier,
};

/// The fixed "current time": every token is issued at `NOW`, expires at `NOW + 600` and is
/// accepted at `NOW`, so ECT-TIME-2..4 and ECT-DAG-3 pass for all of them.
const NOW: u64 = 1_772_000_000;
const LIFETIME: u64 = 600;
const AUD: &str = "spiffe://example.org/verifier";
const ISS: &str = "spiffe://example.org/agent";
const KID: &str = "bench-agent";
/// Ledger sizes.
const SIZES: [usize; 3] = [1_000, 10_000, 100_000];
/// The fan-in shape's layer: `LAYER - 1` roots, then one join.
const LAYER: usize = 100;

/// The DAG shapes. Both have E ≈ V `par` links, so the DAG work per token is comparable
/// across sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// Token `i` has `par = [i - 1]` (token 0 is the root): one long path.
    Chain,
    /// Layers of 100 tokens: 99 roots (`par = []`), then a join whose `par` is the previous
    /// layer's join (if any) followed by this layer's 99 roots (100 parents, the default
    /// `max_par`; 99 in the first layer).
    FanIn,
}

impl Shape {
    const ALL: [Shape; 2] = [Shape::Chain, Shape::FanIn];

    fn name(self) -> &'static str {
        match self {
            Shape::Chain => "chain",
            Shape::FanIn => "fan-in",
        }
    }

    /// The indices of token `i`'s parents, in `par` order.
    fn parents(self, i: usize) -> Vec<usize> {
        match self {
            Shape::Chain => i.checked_sub(1).into_iter().collect(),
            Shape::FanIn => {
                let pos = i % LAYER;
                if pos < LAYER - 1 {
                    return Vec::new();
                }
                let first_root = i - pos;
                let mut par = Vec::with_capacity(LAYER);
                if first_root > 0 {
                    par.push(first_root - 1);
                }
                par.extend(first_root..i);
                par
            }
        }
    }
}

/// The deterministic `jti` of token `i` (a version-4-shaped UUID).
fn jti(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012x}")
}

fn signing_key() -> SigningKey {
    SigningKey::from_scalar_bytes(KID, &[0x42; 32]).expect("valid scalar")
}

fn policy() -> Policy {
    // SPEC.md's defaults: strict DAG mode, replay protection enabled.
    Policy::new(AUD)
}

/// A verifier with SPEC.md's defaults and `cache` as its replay cache.
fn verifier(cache: MemoryReplayCache) -> Verifier {
    let keys = KeySet::from_keys([signing_key().trusted(Some(ISS))]).expect("one key");
    Verifier::new(keys, policy())
        .expect("valid policy")
        .with_replay_cache(Arc::new(cache))
}

/// The sizes run: all three under `cargo bench`, only 1k in criterion's test mode.
fn sizes() -> &'static [usize] {
    static SIZES_RUN: OnceLock<Vec<usize>> = OnceLock::new();
    SIZES_RUN.get_or_init(|| {
        if std::env::args().any(|a| a == "--bench") {
            SIZES.to_vec()
        } else {
            SIZES[..1].to_vec()
        }
    })
}

/// A signed token of a shape and its claims.
struct Presigned {
    token: String,
    claims: Claims,
}

/// Every token of `shape` up to the largest size, signed once (outside any timed code).
fn presigned(shape: Shape) -> &'static [Presigned] {
    static CHAIN: OnceLock<Vec<Presigned>> = OnceLock::new();
    static FAN_IN: OnceLock<Vec<Presigned>> = OnceLock::new();
    let cell = match shape {
        Shape::Chain => &CHAIN,
        Shape::FanIn => &FAN_IN,
    };
    cell.get_or_init(|| {
        let n = *sizes().last().expect("a size");
        let started = Instant::now();
        let key = signing_key();
        let tokens: Vec<Presigned> = (0..n)
            .map(|i| {
                let mut builder = EctBuilder::new(ISS, "step")
                    .audience(AUD)
                    .jti(jti(i))
                    .issued_at(NOW)
                    .expires_at(NOW + LIFETIME);
                for p in shape.parents(i) {
                    builder = builder.parent(jti(p));
                }
                Presigned {
                    token: builder.sign(&key).expect("a valid token"),
                    claims: builder.build().expect("valid claims"),
                }
            })
            .collect();
        eprintln!(
            "signed {n} {} tokens in {:.1} s (not timed)",
            shape.name(),
            started.elapsed().as_secs_f64()
        );
        check_file_equals_accept(shape, &tokens);
        tokens
    })
}

/// The per-run scratch directory for the ledger files (random name, created exclusively under
/// cargo's target tmp dir, removed at the end of `main`).
static SCRATCH: OnceLock<tempfile::TempDir> = OnceLock::new();

fn scratch_dir() -> &'static Path {
    SCRATCH
        .get_or_init(|| {
            tempfile::Builder::new()
                .prefix("ledger-bench-")
                .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
                .expect("create the scratch directory")
        })
        .path()
}

/// Writes the canonical ledger file of `tokens`, each accepted at `NOW`.
fn write_ledger(path: &Path, tokens: &[Presigned]) {
    let mut out = BufWriter::new(File::create(path).expect("create a ledger file"));
    let mut prev = ChainHash::GENESIS;
    for (seq, p) in tokens.iter().enumerate() {
        let seq = seq as u64;
        let hash = ChainHash::of_entry(seq, NOW, &prev, &p.token);
        let raw = RawEntry {
            seq,
            at: NOW,
            prev,
            hash,
            token: p.token.clone(),
        };
        writeln!(out, "{}", raw.to_line()).expect("write a ledger line");
        prev = hash;
    }
    out.flush().expect("flush a ledger file");
}

/// The ledger file holding the first `n` tokens of `shape` (written once per run).
fn ledger_file(shape: Shape, n: usize) -> PathBuf {
    let path = scratch_dir().join(format!("{}-{n}.jsonl", shape.name()));
    if !path.exists() {
        let partial = path.with_extension("partial");
        write_ledger(&partial, &presigned(shape)[..n]);
        fs::rename(&partial, &path).expect("rename a ledger file");
    }
    path
}

/// Reads a ledger file into a [`MemoryLedger`] (chain and token syntax checked, no ES256).
fn load(shape: Shape, n: usize) -> MemoryLedger {
    let (ledger, torn) = FileLedger::read(ledger_file(shape, n)).expect("a valid ledger file");
    assert_eq!(torn, None);
    assert_eq!(ledger.len(), n as u64);
    ledger
}

/// A replay cache holding `tokens`, as after accepting them.
fn replay_cache_of(tokens: &[Presigned]) -> MemoryReplayCache {
    let cache = MemoryReplayCache::new();
    let leeway = policy().leeway_seconds;
    for p in tokens {
        cache
            .check_and_record(&ReplayKey::of(&p.claims), p.claims.exp + leeway, NOW)
            .expect("distinct jtis");
    }
    cache
}

/// Proves that the file route builds the ledger [`Verifier::accept`] builds: the first 1000
/// tokens accepted one by one give exactly the lines [`write_ledger`] writes.
fn check_file_equals_accept(shape: Shape, tokens: &[Presigned]) {
    let n = tokens.len().min(1_000);
    let accepted = MemoryLedger::new();
    let v = verifier(MemoryReplayCache::new());
    for p in &tokens[..n] {
        v.accept(&p.token, NOW, &accepted)
            .expect("a shaped token is accepted");
    }
    let path = scratch_dir().join(format!("{}-check-{n}.jsonl", shape.name()));
    write_ledger(&path, &tokens[..n]);
    let written = fs::read_to_string(&path).expect("read the check file");
    fs::remove_file(&path).expect("remove the check file");
    let lines: Vec<&str> = written.lines().collect();
    let expected: Vec<String> = accepted.entries().iter().map(|e| e.to_line()).collect();
    assert_eq!(lines.len(), n);
    assert!(
        lines.iter().eq(expected.iter()),
        "file route differs from accept"
    );
}

/// A store that counts the lookups the DAG rules make in a ledger (outside the timed part).
struct Counting<'a> {
    ledger: &'a MemoryLedger,
    gets: Cell<usize>,
    referrers: Cell<usize>,
}

impl EctStore for Counting<'_> {
    fn get(&self, wid: Option<&str>, jti: &str) -> wimse_ect::Result<Option<Arc<StoredEct>>> {
        self.gets.set(self.gets.get() + 1);
        Ok(self.ledger.get(wid, jti))
    }

    fn referrers(
        &self,
        wid: Option<&str>,
        jti: &str,
        limit: usize,
    ) -> wimse_ect::Result<Vec<Arc<StoredEct>>> {
        self.referrers.set(self.referrers.get() + 1);
        Ok(self.ledger.referrers(wid, jti, limit))
    }

    fn get_elsewhere(
        &self,
        wid: Option<&str>,
        jti: &str,
    ) -> wimse_ect::Result<Option<Arc<StoredEct>>> {
        self.gets.set(self.gets.get() + 1);
        self.ledger.get_elsewhere(wid, jti)
    }

    fn referrer_elsewhere(
        &self,
        wid: Option<&str>,
        jti: &str,
    ) -> wimse_ect::Result<Option<Arc<StoredEct>>> {
        self.referrers.set(self.referrers.get() + 1);
        self.ledger.referrer_elsewhere(wid, jti)
    }
}

/// A ledger that holds between `base = n - n/10` and `n - 1` entries of a shape, and the
/// verifier whose replay cache holds the same tokens. When it reaches `n` entries it is
/// rebuilt at `base` (outside the timed part), so every timed append lands in a ledger of
/// about `n` entries.
struct Window {
    shape: Shape,
    n: usize,
    base: usize,
    ledger: MemoryLedger,
    verifier: Verifier,
    next: usize,
}

impl Window {
    fn new(shape: Shape, n: usize) -> Self {
        let base = n - n / 10;
        let tokens = presigned(shape);
        Window {
            shape,
            n,
            base,
            ledger: load(shape, base),
            verifier: verifier(replay_cache_of(&tokens[..base])),
            next: base,
        }
    }

    /// Rebuilds the ledger at `base` entries when it is full. Not timed.
    fn refill_if_full(&mut self) {
        if self.next == self.n {
            let tokens = presigned(self.shape);
            self.ledger = load(self.shape, self.base);
            self.verifier = verifier(replay_cache_of(&tokens[..self.base]));
            self.next = self.base;
        }
    }

    /// `iters` consecutive `accept`s, timed in runs between refills.
    fn time_accepts(&mut self, iters: u64) -> Duration {
        let tokens = presigned(self.shape);
        let mut total = Duration::ZERO;
        let mut left = iters as usize;
        while left > 0 {
            self.refill_if_full();
            let k = left.min(self.n - self.next);
            let run = &tokens[self.next..self.next + k];
            let started = Instant::now();
            for p in run {
                black_box(
                    self.verifier
                        .accept(&p.token, NOW, &self.ledger)
                        .expect("a shaped token is accepted"),
                );
            }
            total += started.elapsed();
            self.next += k;
            left -= k;
        }
        total
    }

    /// `iters` DAG checks of the next token, each followed by its (untimed) `accept`.
    fn time_dag_checks(&mut self, dag: &DagValidator, iters: u64) -> Duration {
        let tokens = presigned(self.shape);
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            self.refill_if_full();
            let p = &tokens[self.next];
            let started = Instant::now();
            let ok = black_box(dag.validate(&DRAFT_00, black_box(&p.claims), &self.ledger)).is_ok();
            total += started.elapsed();
            assert!(ok, "a shaped token passes the DAG rules");
            // O(|par|): exactly one lookup for ECT-DAG-1, one per parent (ECT-DAG-2) and one
            // `referrers` query (late parents, ECT-DAG-4), whatever the ledger's size. Not
            // timed.
            let counting = Counting {
                ledger: &self.ledger,
                gets: Cell::new(0),
                referrers: Cell::new(0),
            };
            assert!(dag.validate(&DRAFT_00, &p.claims, &counting).is_ok());
            assert_eq!(
                (counting.gets.get(), counting.referrers.get()),
                (1 + p.claims.par.len(), 1)
            );
            self.verifier
                .accept(&p.token, NOW, &self.ledger)
                .expect("a shaped token is accepted");
            self.next += 1;
        }
        total
    }
}

/// A group timing one append per iteration. `seconds` is wall-clock time, untimed work
/// included (criterion plans iterations from the wall-clock time of `iter_custom`).
fn append_group<'a>(
    c: &'a mut Criterion,
    name: &str,
    seconds: u64,
) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(seconds))
        .throughput(Throughput::Elements(1));
    group
}

/// `accept/{shape}/{N}`: the whole acceptance pipeline, per append.
fn bench_accept(c: &mut Criterion) {
    let mut group = append_group(c, "accept", 5);
    for shape in Shape::ALL {
        for &n in sizes() {
            let mut window = None;
            group.bench_function(BenchmarkId::new(shape.name(), n), |b| {
                let w = window.get_or_insert_with(|| Window::new(shape, n));
                b.iter_custom(|iters| w.time_accepts(iters));
            });
        }
    }
    group.finish();
}

/// `dag_check/{shape}/{N}`: ECT-DAG-1..6 of the next token against the ledger, per append.
fn bench_dag_check(c: &mut Criterion) {
    let dag = policy().dag;
    // Each timed check (about 1 µs) is followed by an untimed accept (about 300 µs): give it
    // more wall-clock time, so that enough checks (and fan-in joins) are measured.
    let mut group = append_group(c, "dag_check", 10);
    for shape in Shape::ALL {
        for &n in sizes() {
            let mut window = None;
            group.bench_function(BenchmarkId::new(shape.name(), n), |b| {
                let w = window.get_or_insert_with(|| Window::new(shape, n));
                b.iter_custom(|iters| w.time_dag_checks(&dag, iters));
            });
        }
    }
    group.finish();
}

/// `validate_all/{shape}/{N}`: the whole-ledger audit of `N` entries, per audit.
fn bench_validate_all(c: &mut Criterion) {
    let policy = policy();
    let mut group = c.benchmark_group("validate_all");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1));
    for shape in Shape::ALL {
        for &n in sizes() {
            // Ten samples of at least one audit each: about 1 s per audit at 100k.
            let seconds = if n >= 100_000 { 15 } else { 5 };
            group
                .measurement_time(Duration::from_secs(seconds))
                .throughput(Throughput::Elements(n as u64));
            let mut ledger = None;
            group.bench_function(BenchmarkId::new(shape.name(), n), |b| {
                let ledger = ledger.get_or_insert_with(|| {
                    let ledger = load(shape, n);
                    let report = ledger.validate_all(&policy, None);
                    assert!(report.is_valid(), "{:?}", report.findings.first());
                    assert_eq!(report.entries, n as u64);
                    ledger
                });
                b.iter(|| ledger.validate_all(&policy, None));
            });
        }
    }
    group.finish();
}

/// `timer/instant_pair`: what `dag_check` adds to each measured call.
fn bench_timer(c: &mut Criterion) {
    let mut group = c.benchmark_group("timer");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    group.bench_function("instant_pair", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let started = Instant::now();
                black_box(());
                total += started.elapsed();
            }
            total
        });
    });
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_accept(&mut c);
    bench_dag_check(&mut c);
    bench_validate_all(&mut c);
    bench_timer(&mut c);
    c.final_summary();
    // The ledger files (a few hundred MB at 100k) are only for this run (a static is never
    // dropped, so the directory is removed here).
    if let Some(dir) = SCRATCH.get() {
        fs::remove_dir_all(dir.path()).expect("remove the scratch directory");
    }
}
