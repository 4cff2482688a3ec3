//! ECT-RPL-1 under contention: check-and-record is atomic, so of N concurrent presentations of
//! one token exactly one is accepted and the others are `replay.jti`.

use std::sync::{Arc, Barrier, OnceLock};

use wimse_ect::{EctBuilder, KeySet, MemoryReplayCache, Policy, SigningKey, Verifier};

const THREADS: usize = 8;
const ROUNDS: usize = 200;
const NOW: u64 = 1_772_000_000;
const AUD: &str = "spiffe://example.org/verifier";
const ISS: &str = "spiffe://example.org/agent-a";

fn key() -> SigningKey {
    SigningKey::from_scalar_bytes("agent-a", &[0x3c; 32]).unwrap()
}

fn keys() -> KeySet {
    KeySet::from_keys([key().trusted(Some(ISS))]).unwrap()
}

fn uuid(n: usize) -> String {
    format!("{n:08x}-1111-4111-8111-111111111111")
}

fn token(jti: &str, wid: Option<&str>) -> String {
    let mut b = EctBuilder::new(ISS, "race")
        .audience(AUD)
        .jti(jti)
        .issued_at(NOW)
        .expires_at(NOW + 600);
    if let Some(w) = wid {
        b = b.wid(w);
    }
    b.sign(&key()).unwrap()
}

/// The race tokens, one per round with distinct `jti`s (`uuid(round)`), signed once and shared
/// by the tests (each test uses its own verifier and cache).
fn round_tokens() -> &'static [String] {
    static TOKENS: OnceLock<Vec<String>> = OnceLock::new();
    TOKENS.get_or_init(|| fresh_tokens(ROUNDS, 0))
}

/// Signs `n` tokens with distinct `jti`s, on two threads (signing costs a few ms in debug).
fn fresh_tokens(n: usize, offset: usize) -> Vec<String> {
    std::thread::scope(|s| {
        let halves: Vec<_> = [0..n / 2, n / 2..n]
            .into_iter()
            .map(|range| {
                s.spawn(move || {
                    range
                        .map(|i| token(&uuid(offset + i), None))
                        .collect::<Vec<String>>()
                })
            })
            .collect();
        halves.into_iter().flat_map(|h| h.join().unwrap()).collect()
    })
}

/// Runs `rounds` races: in round `r`, thread `t` presents `tokens_for(r, t)` to
/// `verifiers[t % verifiers.len()]`, all threads released together by a barrier. Returns, per
/// round, each thread's outcome: `Ok(jti)` or `Err((code, rule))`.
#[allow(clippy::type_complexity)]
fn race(
    verifiers: &[Verifier],
    rounds: usize,
    tokens_for: impl Fn(usize, usize) -> String + Sync,
) -> Vec<Vec<Result<String, (&'static str, &'static str)>>> {
    let barrier = Barrier::new(THREADS);
    let per_thread: Vec<Vec<_>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (barrier, tokens_for) = (&barrier, &tokens_for);
                let verifier = &verifiers[t % verifiers.len()];
                s.spawn(move || {
                    (0..rounds)
                        .map(|r| {
                            let token = tokens_for(r, t);
                            barrier.wait();
                            verifier
                                .verify(&token, NOW + 1)
                                .map(|v| v.jti().to_owned())
                                .map_err(|e| (e.code(), e.rule()))
                        })
                        .collect()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    (0..rounds)
        .map(|r| {
            per_thread
                .iter()
                .map(|outcomes| outcomes[r].clone())
                .collect()
        })
        .collect()
}

/// Exactly one `Ok` (for `jti`) and `THREADS - 1` replays.
fn assert_one_winner(
    round: usize,
    outcomes: &[Result<String, (&'static str, &'static str)>],
    jti: &str,
) {
    let winners: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(winners, [jti], "round {round}: {outcomes:?}");
    let replays = outcomes
        .iter()
        .filter(|o| **o == Err(("replay.jti", "ECT-RPL-1")))
        .count();
    assert_eq!(replays, THREADS - 1, "round {round}: {outcomes:?}");
}

#[test]
fn eight_threads_one_verifier() {
    let verifier = Verifier::new(keys(), Policy::new(AUD)).unwrap();
    let tokens = round_tokens();
    let results = race(std::slice::from_ref(&verifier), ROUNDS, |r, _| {
        tokens[r].clone()
    });
    assert_eq!(results.len(), ROUNDS);
    for (r, outcomes) in results.iter().enumerate() {
        assert_one_winner(r, outcomes, &uuid(r));
    }
    // Every token stays recorded: a late ninth presentation is a replay too.
    for (r, t) in tokens.iter().enumerate().step_by(50) {
        let err = verifier.verify(t, NOW + 2).unwrap_err();
        assert_eq!(err.code(), "replay.jti", "round {r}");
    }
}

#[test]
fn eight_threads_two_verifiers_sharing_a_cache() {
    let cache = Arc::new(MemoryReplayCache::new());
    let verifiers = [
        Verifier::new(keys(), Policy::new(AUD))
            .unwrap()
            .with_replay_cache(cache.clone()),
        Verifier::new(keys(), Policy::new(AUD))
            .unwrap()
            .with_replay_cache(cache.clone()),
    ];
    let tokens = round_tokens();
    // Threads 0, 2, 4, 6 use the first verifier, 1, 3, 5, 7 the second.
    let results = race(&verifiers, ROUNDS, |r, _| tokens[r].clone());
    let mut wins_per_verifier = [0usize; 2];
    for (r, outcomes) in results.iter().enumerate() {
        assert_one_winner(r, outcomes, &uuid(r));
        let winner = outcomes.iter().position(Result::is_ok).unwrap();
        wins_per_verifier[winner % 2] += 1;
    }
    println!("shared cache: wins per verifier {wins_per_verifier:?}");
    // One entry per round, none expired (now is well before exp + leeway).
    assert_eq!(cache.len(), ROUNDS);
}

#[test]
fn same_jti_in_two_workflows_is_two_scopes() {
    // ECT-RPL-1 scope is (wid, jti): threads 0..4 present the token of workflow A, 4..8 the
    // token of workflow B, both with the same jti. Exactly one of each is accepted.
    const SCOPE_ROUNDS: usize = 25;
    let verifier = Verifier::new(keys(), Policy::new(AUD)).unwrap();
    let pairs: Vec<[String; 2]> = (0..SCOPE_ROUNDS)
        .map(|r| {
            let jti = uuid(20_000 + r);
            [
                token(&jti, Some(&uuid(30_000 + r))),
                token(&jti, Some(&uuid(40_000 + r))),
            ]
        })
        .collect();
    let results = race(std::slice::from_ref(&verifier), SCOPE_ROUNDS, |r, t| {
        pairs[r][t / 4].clone()
    });
    for (r, outcomes) in results.iter().enumerate() {
        let jti = uuid(20_000 + r);
        for half in outcomes.chunks(THREADS / 2) {
            let wins = half
                .iter()
                .filter(|o| o.as_deref() == Ok(jti.as_str()))
                .count();
            let replays = half
                .iter()
                .filter(|o| **o == Err(("replay.jti", "ECT-RPL-1")))
                .count();
            assert_eq!((wins, replays), (1, 3), "round {r}: {outcomes:?}");
        }
    }
}
