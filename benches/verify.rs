//! Criterion benchmarks of verification throughput (issue 7; BENCHMARKS.md records a run).
//! Every result is read as a ratio against a baseline measured in the same run, printed at
//! the end of the run (`ratio ...` lines); absolute times on a shared machine are noise.
//!
//! Groups (`cargo bench --bench verify`; filter with e.g. `-- verify/`):
//! * `verify/p256`: the bare `p256` `VerifyingKey::verify` of a typical token's signature over
//!   its signing input (key and signature already decoded): the ECDSA floor.
//! * `verify/ect`: [`Verifier::verify`] of the same kind of token, everything included:
//!   SPEC.md §2–§6 and the replay record (ECT-RPL-1), each iteration a distinct token.
//! * `verify/ect_stateless`: the same with replay protection disabled (what jsonwebtoken does).
//! * `verify/jsonwebtoken`: `jsonwebtoken` 11 decoding the same tokens with ES256 (it checks
//!   signature, `exp`, `aud`, `iss` presence and nothing of the ECT claims).
//! * `accept/ledger_100k`: [`Verifier::accept`] of the same tokens into a [`MemoryLedger`]
//!   that already holds 100k entries (1k outside `cargo bench`), against `verify/ect`.
//! * `batch/threads_1`, `batch/threads_all`: [`Verifier::verify_batch`] of 256 tokens on a
//!   one-thread rayon pool and on one thread per core.
//! * `end_to_end/conformance`: the in-process conformance run over `vectors/` (what
//!   `ect conformance` does), and `end_to_end/vectors_export`: generating and writing every
//!   vector file (`ect vectors export`), each also as a cost per vector in ECDSA verifications.
//!
//! At the end, `paired ratio` lines repeat the four targets' ratios measured in interleaved
//! rounds (each round times both sides on the same tokens), which is steadier on a shared
//! machine than dividing two estimates measured minutes apart.
//!
//! A typical token: `inp_hash`, `out_hash`, `wid`, a small `ext`, three parents. The tokens
//! are issued at the real current time (jsonwebtoken reads the system clock), which the
//! benchmark passes to this crate's verifier as `now`; the library itself never reads a clock.

mod common;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::mean;
use criterion::{Criterion, SamplingMode, Throughput};
use p256::ecdsa::signature::Verifier as _;
use rayon::prelude::*;
use serde_json::{Map, Value, json};
use wimse_ect::{
    ChainHash, EctBuilder, FileLedger, KeySet, MemoryLedger, Policy, RawEntry, ReplayProtection,
    SigningKey, Verifier,
};
use wimse_ect_conformance::harness::{Reference, Xfails, load, run};

const AUD: &str = "spiffe://example.org/verifier";
const ISS: &str = "spiffe://example.org/agent";
const KID: &str = "bench-agent";
/// Distinct measured tokens; when they run out the verifier (and ledger) start afresh,
/// outside the timed part.
const POOL: usize = 20_000;
/// Tokens per `verify_batch` call.
const BATCH: usize = 256;

/// The benchmark's "now": the real time at start-up, so that jsonwebtoken (which reads the
/// system clock) sees valid tokens.
fn now() -> u64 {
    static NOW: OnceLock<u64> = OnceLock::new();
    *NOW.get_or_init(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs()
    })
}

/// The prefilled ledger size: 100k under `cargo bench`, 1k in criterion's test mode.
fn ledger_size() -> usize {
    if std::env::args().any(|a| a == "--bench") {
        100_000
    } else {
        1_000
    }
}

fn signing_key() -> SigningKey {
    SigningKey::from_scalar_bytes(KID, &[0x42; 32]).expect("valid scalar")
}

fn keys() -> KeySet {
    KeySet::from_keys([signing_key().trusted(Some(ISS))]).expect("one key")
}

fn verifier(replay: bool) -> Verifier {
    let mut policy = Policy::new(AUD);
    if !replay {
        policy.replay = ReplayProtection::Disabled;
    }
    Verifier::new(keys(), policy).expect("valid policy")
}

fn jti(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012x}")
}

/// The workflow every token belongs to (parents are looked up in the child's `wid`).
const WID: &str = "6ba7b810-9dad-41d1-80b4-00c04fd430c8";

/// The prefilled ledger's token `i`: a root of workflow [`WID`], issued at `now()`.
fn filler(i: usize) -> String {
    EctBuilder::new(ISS, "prefill")
        .audience(AUD)
        .jti(jti(i))
        .wid(WID)
        .issued_at(now())
        .expires_at(now() + 600)
        .sign(&signing_key())
        .expect("a valid token")
}

/// Measured token `i`: a typical token with three parents from the prefilled ledger.
fn typical(i: usize, parents: usize) -> String {
    let hash = |label: &str| {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(format!("{label}-{i}"));
        <base64ct::Base64UrlUnpadded as base64ct::Encoding>::encode_string(&digest)
    };
    let mut ext = Map::new();
    ext.insert("tool".into(), json!("search"));
    ext.insert("tokens".into(), json!(1234));
    let mut b = EctBuilder::new(ISS, "summarize_results")
        .audience(AUD)
        .jti(jti(1_000_000 + i))
        .wid(WID)
        .issued_at(now())
        .expires_at(now() + 600)
        .inp_hash(hash("in"))
        .out_hash(hash("out"))
        .ext(ext);
    for k in 1..=3 {
        b = b.parent(jti((i * 7 + k * 131) % parents));
    }
    b.sign(&signing_key()).expect("a valid token")
}

/// The measured tokens, signed once (in parallel, not timed).
fn pool() -> &'static [String] {
    static POOL_TOKENS: OnceLock<Vec<String>> = OnceLock::new();
    POOL_TOKENS.get_or_init(|| {
        let started = Instant::now();
        let n = ledger_size();
        let tokens: Vec<String> = (0..POOL).into_par_iter().map(|i| typical(i, n)).collect();
        eprintln!(
            "signed {POOL} typical tokens ({} bytes each) in {:.1} s (not timed)",
            tokens[0].len(),
            started.elapsed().as_secs_f64()
        );
        tokens
    })
}

/// The prefilled ledger's file (canonical lines, every entry accepted at `now()`), written
/// once per run under cargo's target tmp dir (random name, created exclusively, removed at the
/// end of `main`).
static LEDGER_FILE: OnceLock<PathBuf> = OnceLock::new();

fn ledger_file() -> &'static Path {
    LEDGER_FILE.get_or_init(|| {
        let started = Instant::now();
        let n = ledger_size();
        let tokens: Vec<String> = (0..n).into_par_iter().map(filler).collect();
        let mut text = String::new();
        let mut prev = ChainHash::GENESIS;
        for (seq, token) in tokens.into_iter().enumerate() {
            let seq = seq as u64;
            let hash = ChainHash::of_entry(seq, now(), &prev, &token);
            let raw = RawEntry {
                seq,
                at: now(),
                prev,
                hash,
                token,
            };
            text.push_str(&raw.to_line());
            text.push('\n');
            prev = hash;
        }
        let mut file = tempfile::Builder::new()
            .prefix("verify-bench-")
            .suffix(".jsonl")
            .tempfile_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("create the ledger file");
        std::io::Write::write_all(&mut file, text.as_bytes()).expect("write the ledger file");
        // Kept until the end of `main` (the benches read it by path).
        let (_, path) = file.keep().expect("keep the ledger file");
        eprintln!(
            "wrote a {n}-entry ledger in {:.1} s (not timed)",
            started.elapsed().as_secs_f64()
        );
        path
    })
}

/// A [`MemoryLedger`] holding the prefilled entries (read from the file: no ES256).
fn prefilled() -> MemoryLedger {
    let (ledger, torn) = FileLedger::read(ledger_file()).expect("a valid ledger file");
    assert_eq!(torn, None);
    assert_eq!(ledger.len(), ledger_size() as u64);
    ledger
}

/// Times `iters` calls of `step(state, token)` over distinct pool tokens, starting afresh
/// with `fresh()` (not timed) whenever the pool runs out.
fn over_pool<S>(iters: u64, fresh: impl Fn() -> S, step: impl Fn(&S, &str)) -> Duration {
    let tokens = pool();
    let mut total = Duration::ZERO;
    let mut left = iters as usize;
    while left > 0 {
        let state = fresh();
        let n = left.min(tokens.len());
        let started = Instant::now();
        for t in &tokens[..n] {
            step(&state, t);
        }
        total += started.elapsed();
        left -= n;
    }
    total
}

/// jsonwebtoken's decoding key and validation for the benchmark's tokens: ES256, audience
/// [`AUD`], `exp`/`iss`/`aud` required, leeway 30 s (as this crate's default).
fn jsonwebtoken_setup() -> (jsonwebtoken::DecodingKey, jsonwebtoken::Validation) {
    let jwk = signing_key().to_public_jwk(None);
    let coordinate = |n: &str| jwk[n].as_str().expect("a coordinate").to_owned();
    let decoding =
        jsonwebtoken::DecodingKey::from_ec_components(&coordinate("x"), &coordinate("y"))
            .expect("EC key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[AUD]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    validation.leeway = 30;
    (decoding, validation)
}

/// A token's signing input and its signature, decoded for the bare p256 call.
fn ecdsa_parts(token: &str) -> (Vec<u8>, p256::ecdsa::Signature) {
    let dot = token.rfind('.').expect("three segments");
    let sig = <base64ct::Base64UrlUnpadded as base64ct::Encoding>::decode_vec(&token[dot + 1..])
        .expect("base64url");
    (
        token.as_bytes()[..dot].to_vec(),
        p256::ecdsa::Signature::from_slice(&sig).expect("64 bytes"),
    )
}

fn verify_group(c: &mut Criterion) {
    let tokens = pool();
    let mut g = c.benchmark_group("verify");
    g.throughput(Throughput::Elements(1));

    // The ECDSA floor: the first token's signature over its signing input.
    let (signing_input, signature) = ecdsa_parts(&tokens[0]);
    let key = *signing_key().verifying_key();
    g.bench_function("p256", |b| {
        b.iter(|| {
            black_box(&key)
                .verify(black_box(&signing_input), black_box(&signature))
                .expect("valid")
        })
    });

    let t = now();
    g.bench_function("ect", |b| {
        b.iter_custom(|iters| {
            over_pool(
                iters,
                || verifier(true),
                |v, token| {
                    black_box(v.verify(black_box(token), t).expect("valid"));
                },
            )
        })
    });
    let stateless = verifier(false);
    g.bench_function("ect_stateless", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % tokens.len();
            black_box(stateless.verify(black_box(&tokens[i]), t).expect("valid"))
        })
    });

    let (decoding, validation) = jsonwebtoken_setup();
    g.bench_function("jsonwebtoken", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % tokens.len();
            black_box(
                jsonwebtoken::decode::<Value>(black_box(&tokens[i]), &decoding, &validation)
                    .expect("valid"),
            )
        })
    });
    g.finish();
}

fn accept_group(c: &mut Criterion) {
    let t = now();
    let mut g = c.benchmark_group("accept");
    g.throughput(Throughput::Elements(1));
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(20);
    prefilled(); // write the file before timing starts
    g.bench_function("ledger_100k", |b| {
        b.iter_custom(|iters| {
            over_pool(
                iters,
                || (verifier(true), prefilled()),
                |(v, ledger), token| {
                    black_box(v.accept(black_box(token), t, ledger).expect("accepted"));
                },
            )
        })
    });
    g.finish();
}

fn batch_group(c: &mut Criterion) {
    let t = now();
    let tokens = &pool()[..BATCH];
    let v = verifier(false);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut g = c.benchmark_group("batch");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(20);
    for (name, n) in [("threads_1", 1), ("threads_all", threads)] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .expect("a thread pool");
        g.bench_function(name, |b| {
            b.iter(|| {
                let results = pool.install(|| v.verify_batch(black_box(tokens), t));
                assert!(results.iter().all(Result::is_ok));
                black_box(results)
            })
        });
    }
    g.finish();
}

fn end_to_end_group(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let vectors = load(&root.join("vectors")).expect("vectors/ loads");
    let mut g = c.benchmark_group("end_to_end");
    g.sample_size(10);
    g.throughput(Throughput::Elements(vectors.len() as u64));
    g.bench_function("conformance", |b| {
        b.iter(|| {
            let report = run(&vectors, &mut Reference, &Xfails::default());
            assert_eq!(report.failed(), 0);
            black_box(report)
        })
    });
    let out = tempfile::Builder::new()
        .prefix("verify-bench-vectors-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("create the export directory");
    g.bench_function("vectors_export", |b| {
        b.iter(|| black_box(wimse_ect_conformance::export(out.path()).expect("export")))
    });
    g.finish();
    VECTORS.set(vectors.len()).expect("set once");
}

static VECTORS: OnceLock<usize> = OnceLock::new();

/// Prints each ratio of this run against its target.
fn print_ratios(started: SystemTime) {
    let mut m = BTreeMap::new();
    for (group, name) in [
        ("verify", "p256"),
        ("verify", "ect"),
        ("verify", "ect_stateless"),
        ("verify", "jsonwebtoken"),
        ("accept", "ledger_100k"),
        ("batch", "threads_1"),
        ("batch", "threads_all"),
        ("end_to_end", "conformance"),
        ("end_to_end", "vectors_export"),
    ] {
        if let Some(ns) = mean(group, name, started) {
            m.insert(format!("{group}/{name}"), ns);
        }
    }
    let ratio = |label: &str, a: &str, b: &str, target: &str| {
        if let (Some(x), Some(y)) = (m.get(a), m.get(b)) {
            println!("ratio {label}: {a} / {b} = {:.3} (target {target})", x / y);
        }
    };
    println!();
    ratio("verify vs ECDSA", "verify/ect", "verify/p256", "<= 1.15");
    ratio(
        "stateless verify vs ECDSA",
        "verify/ect_stateless",
        "verify/p256",
        "-",
    );
    ratio(
        "verify vs jsonwebtoken",
        "verify/ect",
        "verify/jsonwebtoken",
        "<= 1.0",
    );
    ratio(
        "accept (100k ledger) vs verify",
        "accept/ledger_100k",
        "verify/ect",
        "<= 1.10",
    );
    ratio(
        "batch speed-up",
        "batch/threads_1",
        "batch/threads_all",
        ">= 1.8 on 2 cores",
    );
    if let Some(n) = VECTORS.get() {
        for name in ["conformance", "vectors_export"] {
            if let (Some(x), Some(y)) = (m.get(&format!("end_to_end/{name}")), m.get("verify/p256"))
            {
                println!(
                    "ratio {name} per vector vs ECDSA: {:.3} ms total, {:.2} ECDSA verifications per vector ({n} vectors)",
                    x / 1e6,
                    x / *n as f64 / y
                );
            }
        }
    }
}

/// A paired measurement: `rounds` rounds, each timing `a` then `b` (each over the same
/// inputs), and the median and quartiles of the per-round ratios `a / b`. The machine's speed
/// drifts over minutes on a shared host; within one round both sides see the same machine, so
/// these ratios are steadier than ratios of two criterion estimates measured minutes apart.
fn paired(
    label: &str,
    target: &str,
    rounds: usize,
    mut round: impl FnMut(usize) -> (Duration, Duration),
) {
    let mut ratios: Vec<f64> = (0..rounds)
        .map(|r| {
            let (a, b) = round(r);
            a.as_secs_f64() / b.as_secs_f64()
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    let q = |f: f64| ratios[((ratios.len() - 1) as f64 * f).round() as usize];
    println!(
        "paired ratio {label}: median {:.3} (quartiles {:.3}..{:.3}, {rounds} rounds; target {target})",
        q(0.5),
        q(0.25),
        q(0.75)
    );
}

/// Times `f` once.
fn time(f: impl FnOnce()) -> Duration {
    let started = Instant::now();
    f();
    started.elapsed()
}

/// The paired ratios of the targets (see [`paired`]). Skipped in criterion's test mode and
/// when a filter is given (a filtered run measures only part of the groups).
fn paired_ratios() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") || args.iter().skip(1).any(|a| !a.starts_with('-')) {
        return;
    }
    let t = now();
    let tokens = pool();
    const N: usize = 20;
    // `verify` of each token (all valid and new to `v`), timed.
    let verify_all = |v: &Verifier, tokens: &[String], t: u64| {
        time(|| {
            for tok in tokens {
                black_box(v.verify(black_box(tok), t).expect("valid"));
            }
        })
    };
    println!();

    // Full verify (replay on, distinct tokens) against the bare ECDSA call on the same tokens.
    let decoded: Vec<(Vec<u8>, p256::ecdsa::Signature)> =
        tokens.iter().map(|tok| ecdsa_parts(tok)).collect();
    let key = *signing_key().verifying_key();
    let rounds = tokens.len() / N;
    let v = verifier(true);
    paired("verify vs ECDSA", "<= 1.15", rounds, |r| {
        let range = r * N..(r + 1) * N;
        let a = verify_all(&v, &tokens[range.clone()], t);
        let b = time(|| {
            for (input, sig) in &decoded[range] {
                black_box(&key)
                    .verify(black_box(input), black_box(sig))
                    .expect("valid");
            }
        });
        (a, b)
    });

    // Full verify against jsonwebtoken on the same tokens.
    let (decoding, validation) = jsonwebtoken_setup();
    let v = verifier(true);
    paired("verify vs jsonwebtoken", "<= 1.0", rounds, |r| {
        let range = r * N..(r + 1) * N;
        let a = verify_all(&v, &tokens[range.clone()], t);
        let b = time(|| {
            for tok in &tokens[range] {
                black_box(
                    jsonwebtoken::decode::<Value>(black_box(tok), &decoding, &validation)
                        .expect("valid"),
                );
            }
        });
        (a, b)
    });

    // accept into the 100k-entry ledger against verify, the same tokens for both.
    let (v, accepting, ledger) = (verifier(true), verifier(true), prefilled());
    paired("accept (100k ledger) vs verify", "<= 1.10", rounds, |r| {
        let range = r * N..(r + 1) * N;
        let b = verify_all(&v, &tokens[range.clone()], t);
        let a = time(|| {
            for tok in &tokens[range] {
                black_box(
                    accepting
                        .accept(black_box(tok), t, &ledger)
                        .expect("accepted"),
                );
            }
        });
        (a, b)
    });

    // verify_batch on one thread against all cores.
    let batch = &tokens[..BATCH];
    let stateless = verifier(false);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a pool");
    let all = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a pool");
    paired(
        &format!("batch speed-up, 1 vs {threads} threads"),
        ">= 1.8 on 2 cores",
        30,
        |_| {
            let a = time(|| {
                black_box(one.install(|| stateless.verify_batch(black_box(batch), t)));
            });
            let b = time(|| {
                black_box(all.install(|| stateless.verify_batch(black_box(batch), t)));
            });
            (a, b)
        },
    );
}

fn main() {
    let started = SystemTime::now();
    let mut c = Criterion::default().configure_from_args();
    verify_group(&mut c);
    accept_group(&mut c);
    batch_group(&mut c);
    end_to_end_group(&mut c);
    c.final_summary();
    print_ratios(started);
    paired_ratios();
    if let Some(path) = LEDGER_FILE.get() {
        std::fs::remove_file(path).expect("remove the ledger file");
    }
}
