//! Criterion benchmark of the adversarial partial-mode stream of SPEC.md §7 "Cost"
//! (`wimse_ect_conformance::testing::stream::late_reference_stream`): 99 roots, early tokens each naming
//! 100 of the chain's `jti`s before they exist, then a chain whose tokens each name the 99
//! roots and their predecessor (100 parents). Every chain token is named by a stored token, so
//! each needs the acyclicity walk; before the budget counted lookups, the walk of chain token
//! `i` made about `100 i` lookups and the stream cost grew 4x per doubling of the chain.
//!
//! Target (BENCHMARKS.md, "Partial mode"): the time per token at chain 1600 within 1.5x of
//! the time per token at chain 800, measured in one run.
//!
//! Groups (`cargo bench --bench partial`):
//! * `partial_accept/{800,1600}`: the whole stream through `Verifier::accept` into a fresh
//!   `MemoryLedger` (ES256 verification and the DAG rules, partial mode, SPEC.md defaults);
//!   throughput in tokens, so criterion reports the time per token.
//! * `partial_dag/{800,1600}`: the DAG part alone: `DagValidator::validate` of each token's
//!   claims (verified once, before timing) against a `TokenStore` of the tokens accepted so
//!   far, and the insertion of each accepted one. The ES256 cost (~0.3 ms per token) would
//!   otherwise hide the growth.
//!
//! At the end it prints, for both groups, the per-token ratio 1600 / 800 of criterion's
//! estimates and the median of paired ratios (the two sizes timed back to back in each round,
//! which a shared machine's drift affects less), and, counted outside any timing, the store
//! lookups the DAG rules made per token (`get`s plus stored children returned by
//! `referrers`): their maximum, which SPEC.md bounds by `1 + max_par + ancestor_budget`, and
//! their mean. (The budget counts more than these: a `par` element leading to a token the walk
//! already visited costs one of the budget but is answered from the walk's own visited set.)
//! Run as a test (`cargo test --benches`) it checks one iteration of each, counts included.

mod common;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use common::mean;
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use wimse_ect::{
    Claims, DRAFT_00, DagValidator, EctStore, MemoryLedger, ReplayProtection, StoredEct,
    TokenStore, Verifier,
};
use wimse_ect_conformance::testing::stream::{Stream, late_reference_stream};

/// The two chain lengths compared.
const SIZES: [usize; 2] = [800, 1600];

/// A stream, signed once, with its tokens verified once (for the DAG-only group).
struct Prepared {
    stream: Stream,
    verified: Vec<StoredEct>,
}

fn prepared(chain: usize) -> &'static Prepared {
    static CELLS: [OnceLock<Prepared>; 2] = [OnceLock::new(), OnceLock::new()];
    let i = SIZES
        .iter()
        .position(|&n| n == chain)
        .expect("a benchmarked size");
    CELLS[i].get_or_init(|| {
        let stream = late_reference_stream(chain, true);
        let mut policy = stream.policy.clone();
        policy.replay = ReplayProtection::Disabled;
        let v = Verifier::new(stream.keys.clone(), policy).expect("valid policy");
        let verified = stream
            .tokens
            .iter()
            .map(|t| StoredEct::from(v.verify(t, stream.now).expect("a valid token")))
            .collect();
        Prepared { stream, verified }
    })
}

/// The whole stream through `accept` into a fresh ledger; returns the number accepted.
fn accept_all(p: &Prepared) -> usize {
    let s = &p.stream;
    let v = Verifier::new(s.keys.clone(), s.policy.clone()).expect("valid policy");
    let ledger = MemoryLedger::new();
    s.tokens
        .iter()
        .filter(|t| v.accept(black_box(t), s.now, &ledger).is_ok())
        .count()
}

/// The DAG rules over the whole stream against a growing `TokenStore`; returns the number
/// accepted.
fn dag_all(p: &Prepared, dag: &DagValidator) -> usize {
    let mut store = TokenStore::new();
    let mut accepted = 0;
    for ect in &p.verified {
        if dag
            .validate(&DRAFT_00, black_box(ect.claims()), &store)
            .is_ok()
        {
            store.insert(ect.clone());
            accepted += 1;
        }
    }
    accepted
}

/// A store counting the lookups the DAG rules make: `get`s and stored children returned.
struct Counting<'a> {
    store: &'a TokenStore,
    lookups: Cell<usize>,
}

impl EctStore for Counting<'_> {
    fn get(&self, wid: Option<&str>, jti: &str) -> wimse_ect::Result<Option<Arc<StoredEct>>> {
        self.lookups.set(self.lookups.get() + 1);
        Ok(self.store.get(wid, jti))
    }

    fn referrers(
        &self,
        wid: Option<&str>,
        jti: &str,
        limit: usize,
    ) -> wimse_ect::Result<Vec<Arc<StoredEct>>> {
        let found = self.store.referrers(wid, jti, limit);
        self.lookups.set(self.lookups.get() + found.len());
        Ok(found)
    }

    fn get_elsewhere(
        &self,
        wid: Option<&str>,
        jti: &str,
    ) -> wimse_ect::Result<Option<Arc<StoredEct>>> {
        self.lookups.set(self.lookups.get() + 1);
        EctStore::get_elsewhere(self.store, wid, jti)
    }

    fn referrer_elsewhere(
        &self,
        wid: Option<&str>,
        jti: &str,
    ) -> wimse_ect::Result<Option<Arc<StoredEct>>> {
        self.lookups.set(self.lookups.get() + 1);
        EctStore::referrer_elsewhere(self.store, wid, jti)
    }
}

/// Per token of the stream (untimed): the lookups made, and whether it was accepted.
fn counts(p: &Prepared, dag: &DagValidator) -> Vec<(usize, bool)> {
    let mut store = TokenStore::new();
    p.verified
        .iter()
        .map(|ect| {
            let claims: &Claims = ect.claims();
            let counting = Counting {
                store: &store,
                lookups: Cell::new(0),
            };
            let ok = dag.validate(&DRAFT_00, claims, &counting).is_ok();
            let n = counting.lookups.get();
            if ok {
                store.insert(ect.clone());
            }
            (n, ok)
        })
        .collect()
}

fn groups(c: &mut Criterion) {
    let dag = prepared(SIZES[0]).stream.policy.dag.clone();
    stream_group(c, "partial_accept", accept_all);
    stream_group(c, "partial_dag", |p| dag_all(p, &dag));
}

/// One criterion group timing `run` over the whole stream of every size in [`SIZES`].
fn stream_group<R>(c: &mut Criterion, name: &str, run: impl Fn(&Prepared) -> R) {
    let mut g = c.benchmark_group(name);
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    for n in SIZES {
        let p = prepared(n);
        g.throughput(Throughput::Elements(p.stream.tokens.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), p, |b, p| b.iter(|| run(p)));
    }
    g.finish();
}

fn time(f: impl FnOnce() -> usize) -> Duration {
    let started = Instant::now();
    black_box(f());
    started.elapsed()
}

/// The median and quartiles of `rounds` paired per-token ratios 1600 / 800.
fn paired(label: &str, rounds: usize, run: impl Fn(&Prepared) -> usize) {
    let (a, b) = (prepared(SIZES[0]), prepared(SIZES[1]));
    let per_token = |p: &Prepared| time(|| run(p)).as_secs_f64() / p.stream.tokens.len() as f64;
    let mut ratios: Vec<f64> = (0..rounds)
        .map(|_| {
            let small = per_token(a);
            per_token(b) / small
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    let q = |f: f64| ratios[((ratios.len() - 1) as f64 * f).round() as usize];
    println!(
        "paired ratio {label} per token {} / {}: median {:.3} (quartiles {:.3}..{:.3}, {rounds} rounds; target <= 1.5)",
        SIZES[1],
        SIZES[0],
        q(0.5),
        q(0.25),
        q(0.75)
    );
}

fn report(started: SystemTime, bench: bool) {
    let dag = prepared(SIZES[0]).stream.policy.dag.clone();
    println!();
    for n in SIZES {
        let p = prepared(n);
        let c = counts(p, &dag);
        let accepted = c.iter().filter(|(_, ok)| *ok).count();
        let max = c.iter().map(|(n, _)| *n).max().unwrap_or(0);
        let total: usize = c.iter().map(|(n, _)| *n).sum();
        let bound = 1 + p.stream.policy.max_par + dag.ancestor_budget;
        assert!(max <= bound, "{max} lookups for one token, bound {bound}");
        assert_eq!(accept_all(p), accepted, "accept and the DAG rules agree");
        println!(
            "chain {n}: {} tokens, {accepted} accepted, {} refused (dag.budget); store lookups per token: max {max} (bound 1 + max_par + budget = {bound}), mean {:.1}",
            c.len(),
            c.len() - accepted,
            total as f64 / c.len() as f64
        );
    }
    if !bench {
        return;
    }
    let mut m = BTreeMap::new();
    for group in ["partial_accept", "partial_dag"] {
        for n in SIZES {
            if let Some(ns) = mean(group, &n.to_string(), started) {
                m.insert((group, n), ns / prepared(n).stream.tokens.len() as f64);
            }
        }
    }
    for group in ["partial_accept", "partial_dag"] {
        if let (Some(a), Some(b)) = (m.get(&(group, SIZES[0])), m.get(&(group, SIZES[1]))) {
            println!(
                "ratio {group} per token {} / {}: {:.1} µs / {:.1} µs = {:.3} (target <= 1.5)",
                SIZES[1],
                SIZES[0],
                b / 1e3,
                a / 1e3,
                b / a
            );
        }
    }
    paired("partial_accept", 5, accept_all);
    paired("partial_dag", 10, |p| dag_all(p, &dag));
}

fn main() {
    let started = SystemTime::now();
    let bench = std::env::args().any(|a| a == "--bench");
    let mut c = Criterion::default().configure_from_args();
    groups(&mut c);
    c.final_summary();
    report(started, bench);
}
