//! The cost of a replay record (ECT-RPL-1) per token: the in-memory baseline against
//! `RedisReplayCache` (feature `redis`), one `SET … NX` round trip per token, and batches of
//! 64 and 256 in one round trip each (`check_and_record_batch`, one `EVAL`), measured in the
//! same run (BENCHMARKS.md, "Shared state").
//!
//! `cargo bench -p wimse-ect --features redis --bench redis` against the server named by
//! `ECT_TEST_REDIS_URL` (`.ci/servers start DIR; source DIR/env`); without it the benchmark
//! prints why and does nothing. Every token is a fresh key (a replay would measure the
//! refusal, not the record), under a key prefix of this run only; each round's records are
//! deleted after it, outside the timing, so the server's size stays that of one round.
//!
//! For comparison it also times the same records as a plain pipeline of `SET … NX PX` on a
//! raw connection (what the batch would cost without its one-reply script; see
//! `RedisReplayCache`'s documentation for why it is a script).
//!
//! Each variant runs `ROUNDS` timed rounds after one warm-up round, the variants taking turns
//! within each round; it prints the median and
//! the minimum time per token and the ratios of the medians. Run as a test
//! (`cargo test --benches`, no `--bench` argument) it runs one short round of each.

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wimse_ect::{MemoryReplayCache, RedisReplayCache, ReplayCache, ReplayKey};

/// The caller's clock for every record (any value works: records live `expires_at - now`).
const NOW: u64 = 1_772_000_000;
/// Records live 30 s at most: each round's records are deleted right after it (untimed),
/// so the shared server never holds more than one round's; the expiry is the backstop.
const LIFETIME: u64 = 30;
/// Timed rounds per variant (after one warm-up round).
const ROUNDS: usize = 15;

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

/// A variant: its name, the tokens it records per round, and how it records them (each must
/// be accepted).
type Variant<'a> = (
    &'static str,
    usize,
    Box<dyn FnMut(&[(ReplayKey, u64)]) + 'a>,
);

/// One warm-up round, then `rounds` rounds in which every variant records its count of fresh
/// tokens, the variants taking turns within each round (so a load that comes and goes on a
/// shared machine weighs on all of them alike). Returns each variant's sorted times per token
/// (ns).
fn measure(
    keys: &mut Keys,
    rounds: usize,
    variants: &mut [Variant<'_>],
    mut delete: impl FnMut(&[(ReplayKey, u64)]),
) -> Vec<Vec<f64>> {
    for (_, n, record) in variants.iter_mut() {
        let items = keys.take((*n).min(1_000));
        record(&items);
        delete(&items);
    }
    let mut times = vec![Vec::with_capacity(rounds); variants.len()];
    for _ in 0..rounds {
        for (i, (_, n, record)) in variants.iter_mut().enumerate() {
            let items = keys.take(*n);
            let start = Instant::now();
            record(&items);
            times[i].push(start.elapsed().as_nanos() as f64 / items.len() as f64);
            delete(&items);
        }
    }
    for t in &mut times {
        t.sort_by(f64::total_cmp);
    }
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

    // For comparison: the same records as a plain pipeline of `SET … NX PX` (what the batch
    // would be without its script), on a raw connection of the redis crate.
    let con = std::cell::RefCell::new(
        redis::Client::open(url.as_str())
            .expect("the URL parses")
            .get_connection_with_timeout(Duration::from_secs(5))
            .expect("the Redis server answers"),
    );
    let batched = |batch: usize| {
        let redis = &redis;
        Box::new(move |items: &[(ReplayKey, u64)]| {
            for chunk in items.chunks(batch) {
                for r in black_box(redis.check_and_record_batch(chunk, NOW)) {
                    r.expect("fresh key");
                }
            }
        })
    };
    let pipelined = |batch: usize| {
        let (redis, con) = (&redis, &con);
        Box::new(move |items: &[(ReplayKey, u64)]| {
            for chunk in items.chunks(batch) {
                let mut pipe = redis::pipe();
                for (key, expires_at) in chunk {
                    pipe.cmd("SET")
                        .arg(redis.redis_key(key))
                        .arg(1)
                        .arg("NX")
                        .arg("PX")
                        .arg((expires_at - NOW) * 1000);
                }
                let replies: Vec<redis::Value> =
                    pipe.query(&mut *con.borrow_mut()).expect("pipeline");
                for r in black_box(replies) {
                    assert_eq!(r, redis::Value::Okay, "fresh key");
                }
            }
        })
    };
    let mut variants: Vec<Variant<'_>> = vec![
        (
            "MemoryReplayCache::check_and_record",
            sizes.memory,
            Box::new(|items| {
                // A fresh cache per round: its size stays that of one round.
                let cache = MemoryReplayCache::new();
                for (key, expires_at) in items {
                    black_box(cache.check_and_record(key, *expires_at, NOW)).expect("fresh key");
                }
            }),
        ),
        (
            "RedisReplayCache::check_and_record",
            sizes.single,
            Box::new(|items| {
                for (key, expires_at) in items {
                    black_box(redis.check_and_record(key, *expires_at, NOW)).expect("fresh key");
                }
            }),
        ),
        (
            "check_and_record_batch, 64 per batch",
            sizes.batched,
            batched(64),
        ),
        (
            "check_and_record_batch, 256 per batch",
            sizes.batched,
            batched(256),
        ),
        (
            "raw pipeline of SETs, 64 per batch",
            sizes.batched,
            pipelined(64),
        ),
        (
            "raw pipeline of SETs, 256 per batch",
            sizes.batched,
            pipelined(256),
        ),
    ];
    // Deletes a round's records from Redis, outside the timing (`UNLINK`, pipelined).
    let mut cleaner = redis::Client::open(url.as_str())
        .expect("the URL parses")
        .get_connection_with_timeout(Duration::from_secs(5))
        .expect("the Redis server answers");
    let delete = |items: &[(ReplayKey, u64)]| {
        for chunk in items.chunks(1_000) {
            let mut unlink = redis::cmd("UNLINK");
            for (key, _) in chunk {
                unlink.arg(redis.redis_key(key));
            }
            let _: i64 = unlink.query(&mut cleaner).expect("UNLINK");
        }
    };
    let times = measure(&mut keys, rounds, &mut variants, delete);
    let [memory, single, batch64, batch256, pipe64, pipe256] = &times[..] else {
        unreachable!("six variants")
    };
    let rows: Vec<_> = variants
        .iter()
        .zip(&times)
        .map(|((name, n, _), t)| (*name, t, *n))
        .collect();
    let base = median(memory);
    println!(
        "replay record per token ({rounds} interleaved rounds after a warm-up; median, minimum; \
         tokens per round)"
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
        "  single / batched: {:.1}x (64 per batch), {:.1}x (256 per batch)",
        median(single) / median(batch64),
        median(single) / median(batch256),
    );
    println!(
        "  batched (script) / raw pipeline: {:.2}x (64 per batch), {:.2}x (256 per batch)",
        median(batch64) / median(pipe64),
        median(batch256) / median(pipe256),
    );
    println!(
        "  throughput: single {:.0} tokens/s, 64 per batch {:.0} tokens/s, 256 per batch {:.0} tokens/s",
        1e9 / median(single),
        1e9 / median(batch64),
        1e9 / median(batch256),
    );
}
