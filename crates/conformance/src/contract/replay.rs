//! The replay-cache contract's checks.

use std::sync::Barrier;
use std::thread;

use wimse_ect::{Error, ReplayCache, ReplayKey};

const NOW: u64 = 1_772_000_000;

fn key(wid: Option<&str>, jti: &str) -> ReplayKey {
    ReplayKey {
        wid: wid.map(str::to_owned),
        jti: jti.to_owned(),
    }
}

pub(super) fn run<C: ReplayCache>(fresh: &dyn Fn() -> C) {
    records_once_per_scope(&fresh());
    remembers_until_expiry(&fresh());
    forget_withdraws_one_record(&fresh());
    batch_equals_one_by_one(&fresh(), &fresh());
    concurrent_exactly_once(&fresh());
}

/// The first record of a key is `Ok`, the second a replay; the scope's parts stay apart.
fn records_once_per_scope(c: &dyn ReplayCache) {
    let keys = [
        key(None, "a-1"),
        key(Some("w-1"), "a-1"),
        key(Some("w-2"), "a-1"),
        key(Some("w-1a"), "-1"),
        key(Some(""), "a-1"),
    ];
    for k in &keys {
        assert_eq!(
            c.check_and_record(k, NOW + 600, NOW),
            Ok(()),
            "first record of {k:?}"
        );
    }
    for k in &keys {
        assert_eq!(
            c.check_and_record(k, NOW + 600, NOW + 1),
            Err(Error::Replay),
            "second record of {k:?}"
        );
    }
}

/// A record is a replay for every `now` before its expiry (forgetting it afterwards is
/// allowed, so nothing is asserted then).
fn remembers_until_expiry(c: &dyn ReplayCache) {
    let k = key(Some("w"), "expiry");
    assert_eq!(c.check_and_record(&k, NOW + 60, NOW), Ok(()));
    for now in [NOW, NOW + 1, NOW + 30, NOW + 59] {
        assert_eq!(
            c.check_and_record(&k, NOW + 60, now),
            Err(Error::Replay),
            "a live record at now = NOW + {}",
            now - NOW
        );
    }
}

/// `forget` removes exactly the record named, and the key can be recorded again.
fn forget_withdraws_one_record(c: &dyn ReplayCache) {
    let (k1, k2) = (key(None, "forget-1"), key(None, "forget-2"));
    c.check_and_record(&k1, NOW + 600, NOW).expect("first");
    c.check_and_record(&k2, NOW + 600, NOW).expect("second");
    c.forget(&k1);
    assert_eq!(c.check_and_record(&k2, NOW + 600, NOW), Err(Error::Replay));
    assert_eq!(c.check_and_record(&k1, NOW + 600, NOW), Ok(()));
    assert_eq!(c.check_and_record(&k1, NOW + 600, NOW), Err(Error::Replay));
}

/// The batch gives the results of one call per item, in order.
fn batch_equals_one_by_one(batched: &dyn ReplayCache, single: &dyn ReplayCache) {
    batched
        .check_and_record(&key(None, "b-0"), NOW + 600, NOW)
        .expect("recorded before the batch");
    single
        .check_and_record(&key(None, "b-0"), NOW + 600, NOW)
        .expect("recorded before the items");
    let items: Vec<(ReplayKey, u64)> = ["b-1", "b-2", "b-1", "b-0", "b-3", "b-3"]
        .iter()
        .map(|j| (key(Some("w"), j), NOW + 600))
        .collect();
    let mut items = items;
    items[3].0 = key(None, "b-0");
    let want: Vec<_> = items
        .iter()
        .map(|(k, e)| single.check_and_record(k, *e, NOW))
        .collect();
    assert_eq!(
        want,
        [
            Ok(()),
            Ok(()),
            Err(Error::Replay),
            Err(Error::Replay),
            Ok(()),
            Err(Error::Replay)
        ]
    );
    assert_eq!(batched.check_and_record_batch(&items, NOW), want);
    assert_eq!(batched.check_and_record_batch(&[], NOW), []);
}

/// Of 16 threads recording one key at once, exactly one succeeds.
fn concurrent_exactly_once(c: &dyn ReplayCache) {
    for round in 0..5 {
        let k = key(Some("race"), &format!("round-{round}"));
        let barrier = Barrier::new(16);
        let results: Vec<_> = thread::scope(|s| {
            let joins: Vec<_> = (0..16)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        c.check_and_record(&k, NOW + 600, NOW)
                    })
                })
                .collect();
            joins.into_iter().map(|j| j.join().unwrap()).collect()
        });
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "round {round}: {results:?}"
        );
        assert!(
            results
                .iter()
                .all(|r| r.is_ok() || *r == Err(Error::Replay)),
            "{results:?}"
        );
    }
}
