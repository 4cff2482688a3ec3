//! The cost of a replay record (ECT-RPL-1) per token: the in-memory baseline against
//! `RedisReplayCache` (feature `redis`), one `SET … NX` round trip per token and pipelined
//! batches of 64 and 256 (`check_and_record_batch`), measured in the same run
//! (BENCHMARKS.md, "Shared state").
//!
//! `cargo bench -p wimse-ect --features redis --bench redis` against the server named by
//! `ECT_TEST_REDIS_URL` (`.ci/servers start DIR; source DIR/env`); without it the benchmark
//! prints why and does nothing. Every token is a fresh key (a replay would measure the
//! refusal, not the record), under a key prefix of this run only, recorded for 60 s.
//!
//! Each variant runs `ROUNDS` timed rounds after one warm-up round; it prints the median and
//! the minimum time per token and the ratios of the medians. Run as a test
//! (`cargo test --benches`, no `--bench` argument) it runs one short round of each.

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wimse_ect::{MemoryReplayCache, RedisReplayCache, ReplayCache, ReplayKey};

/// The caller's clock for every record (any value works: records live `expires_at - now`).
const NOW: u64 = 1_772_000_000;
/// Records live 60 s, so a run leaves nothing behind for long.
const LIFETIME: u64 = 60;
/// Timed rounds per variant (after one warm-up round).
const ROUNDS: usize = 7;

/// How many tokens one round of each variant records, full run and test run.
struct Sizes {
    memory: usize,
    single: usize,
    batched: usize,
}

const FULL: Sizes = Sizes {
    memory: 100_000,
    single: 4_000,
    batched: 25_600,
};
const QUICK: Sizes = Sizes {
    memory: 1_000,
    single: 100,
    batched: 512,
};

/// Distinct replay keys: `jti` from a counter shared by the whole run, in one workflow.
struct Keys {
    next: u64,
}

impl Keys {
    fn take(&mut self, n: usize) -> Vec<(ReplayKey, u64)> {
        (0..n)
            .map(|_| {
                self.next += 1;
                let key = ReplayKey {
                    wid: Some("77777777-0000-4000-8000-000000000001".to_owned()),
                    jti: format!("{:08x}-0000-4000-8000-{:012x}", self.next >> 48, self.next),
                };
                (key, NOW + LIFETIME)
            })
            .collect()
    }
}

/// Time per token of recording `items` with `record`, which must accept every one.
fn time_per_token(items: &[(ReplayKey, u64)], record: impl FnOnce(&[(ReplayKey, u64)])) -> f64 {
    let start = Instant::now();
    record(items);
    start.elapsed().as_nanos() as f64 / items.len() as f64
}

/// One warm-up and `rounds` timed rounds of `n` fresh tokens; returns the sorted times per
/// token (ns).
fn measure(
    keys: &mut Keys,
    n: usize,
    rounds: usize,
    mut round: impl FnMut(&[(ReplayKey, u64)]),
) -> Vec<f64> {
    round(&keys.take(n.min(1_000)));
    let mut times: Vec<f64> = (0..rounds)
        .map(|_| {
            let items = keys.take(n);
            time_per_token(&items, &mut round)
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times
}

fn median(sorted: &[f64]) -> f64 {
    sorted[sorted.len() / 2]
}

/// A time per token, in ns below 10 µs and in µs above.
fn show(ns: f64) -> String {
    if ns < 10_000.0 {
        format!("{ns:.0} ns")
    } else {
        format!("{:.1} µs", ns / 1000.0)
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (sizes, rounds) = if full { (FULL, ROUNDS) } else { (QUICK, 1) };
    let Some(url) = std::env::var("ECT_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        println!(
            "skipped: ECT_TEST_REDIS_URL is not set, so no Redis server to measure \
             (.ci/servers start DIR; source DIR/env)"
        );
        return;
    };
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_nanos();
    let prefix = format!("ect-bench:{}-{nanos}:", std::process::id());
    let redis = RedisReplayCache::connect(&url)
        .expect("the Redis server answers")
        .with_timeout(Duration::from_secs(5))
        .with_prefix(&prefix);
    let mut keys = Keys { next: 0 };

    let memory = measure(&mut keys, sizes.memory, rounds, |items| {
        // A fresh cache per round: its size stays that of one round.
        let cache = MemoryReplayCache::new();
        for (key, expires_at) in items {
            black_box(cache.check_and_record(key, *expires_at, NOW)).expect("fresh key");
        }
    });
    let single = measure(&mut keys, sizes.single, rounds, |items| {
        for (key, expires_at) in items {
            black_box(redis.check_and_record(key, *expires_at, NOW)).expect("fresh key");
        }
    });
    let batched = |batch: usize, keys: &mut Keys| {
        measure(keys, sizes.batched, rounds, |items| {
            for chunk in items.chunks(batch) {
                for r in black_box(redis.check_and_record_batch(chunk, NOW)) {
                    r.expect("fresh key");
                }
            }
        })
    };
    let batch64 = batched(64, &mut keys);
    let batch256 = batched(256, &mut keys);

    let rows = [
        ("MemoryReplayCache::check_and_record", &memory, sizes.memory),
        ("RedisReplayCache::check_and_record", &single, sizes.single),
        (
            "check_and_record_batch, 64 per batch",
            &batch64,
            sizes.batched,
        ),
        (
            "check_and_record_batch, 256 per batch",
            &batch256,
            sizes.batched,
        ),
    ];
    let base = median(&memory);
    println!(
        "replay record per token ({rounds} rounds after a warm-up; median, minimum; tokens per round)"
    );
    for (name, times, n) in rows {
        println!(
            "  {name:<40} {:>10} {:>10}  x{:>8.1} memory  ({n} tokens)",
            show(median(times)),
            show(times[0]),
            median(times) / base,
        );
    }
    println!(
        "  single / pipelined: {:.1}x (64 per batch), {:.1}x (256 per batch)",
        median(&single) / median(&batch64),
        median(&single) / median(&batch256),
    );
    println!(
        "  throughput: single {:.0} tokens/s, 64 per batch {:.0} tokens/s, 256 per batch {:.0} tokens/s",
        1e9 / median(&single),
        1e9 / median(&batch64),
        1e9 / median(&batch256),
    );
}
