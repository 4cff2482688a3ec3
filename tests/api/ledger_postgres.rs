//! `PostgresLedger` (feature `postgres`) against a real server (`ECT_TEST_POSTGRES_URL`, see
//! [`crate::servers`]): the same entries as `MemoryLedger`, case-insensitive and exact lookups,
//! rejections that change nothing, durability across connections, group commit, concurrent
//! appends from many connections, the append-only triggers, tampering caught by the hash chain,
//! failing closed when the connection is killed, and connection errors.
//!
//! Every test skips (passes without running) when the variable is unset, except under
//! `CI=true`; each runs in its own fresh schema (selected through the URL's
//! `options=-csearch_path%3D<schema>`), dropped at the end.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, LazyLock};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::*;
use postgres::{Client, NoTls};
use wimse_ect::{
    Accepted, DagValidator, EctBuilder, EctStore, Error, KeyResolver, KeySet, Ledger, LedgerAudit,
    MemoryLedger, MemoryReplayCache, Policy, PostgresLedger, Result, SigningKey, Verifier,
};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

static KEY: LazyLock<SigningKey> = LazyLock::new(key_a);
static KEYS: LazyLock<KeySet> = LazyLock::new(trusted_keys);

fn keys() -> Option<&'static dyn KeyResolver> {
    Some(&*KEYS as &dyn KeyResolver)
}

fn sign(b: &EctBuilder) -> String {
    b.sign(&KEY).expect("valid claims")
}

/// A signed token for task `jti` issued at `iat` with `par` = `parents`.
fn tok(jti: &str, iat: u64, parents: &[&str]) -> String {
    sign(&parents.iter().fold(ect(jti, iat), |b, p| b.parent(*p)))
}

/// The same in workflow `w`.
fn wtok(w: &str, jti: &str, iat: u64, parents: &[&str]) -> String {
    sign(
        &parents
            .iter()
            .fold(ect(jti, iat).wid(w), |b, p| b.parent(*p)),
    )
}

fn strict_policy() -> Policy {
    policy_with(DagValidator::new())
}

fn partial_policy() -> Policy {
    policy_with(DagValidator::partial())
}

fn accept_ok<L: Ledger + ?Sized>(v: &Verifier, ledger: &L, token: &str, now: u64) -> Accepted {
    v.accept(token, now, ledger)
        .unwrap_or_else(|e| panic!("expected acceptance, got {e:?}"))
}

/// `url` with its user replaced by `user` (`postgres://user@host/...`).
fn with_user(url: &str, user: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a postgres:// URL");
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    format!("{scheme}://{user}@{host}")
}

/// `url` with one more query parameter.
fn with_param(url: &str, param: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{param}")
}

/// A fresh schema for one test, dropped (with everything in it) when the value is dropped.
pub(crate) struct Schema {
    /// The server's URL as given (user `ect`, the database's owner).
    base: String,
    /// The schema's name.
    name: String,
    /// The URL of a connection whose `search_path` is the schema, named `name` in
    /// `pg_stat_activity` (its `application_name`).
    url: String,
}

impl Schema {
    /// A new schema, or `None` when there is no server to test against.
    pub(crate) fn new(test: &str) -> Option<Schema> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let base = crate::servers::postgres_url()?;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("ect_test_{}_{n}_{test}", std::process::id());
        let url = with_param(
            &with_param(&base, &format!("options=-csearch_path%3D{name}")),
            &format!("application_name={name}"),
        );
        let schema = Schema { base, name, url };
        schema
            .client()
            .batch_execute(&format!("CREATE SCHEMA {}", schema.name))
            .expect("create the test schema");
        Some(schema)
    }

    /// A raw connection (user `ect`) with the schema as its `search_path`, as psql would be.
    fn client(&self) -> Client {
        let url = with_param(
            &self.base,
            &format!("options=-csearch_path%3D{}", self.name),
        );
        Client::connect(&url, NoTls).expect("connect")
    }

    /// A raw connection as the superuser `postgres`, the schema as its `search_path`.
    fn superuser(&self) -> Client {
        let url = with_param(
            &with_user(&self.base, "postgres"),
            &format!("options=-csearch_path%3D{}", self.name),
        );
        Client::connect(&url, NoTls).expect("connect as postgres")
    }

    /// A new ledger handle (its own connection) on the schema.
    pub(crate) fn ledger(&self) -> PostgresLedger {
        PostgresLedger::connect(&self.url).expect("connect the ledger")
    }

    /// A handle of `profile` on the ledger in this schema.
    pub(crate) fn ledger_in(&self, profile: wimse_ect::Profile) -> PostgresLedger {
        PostgresLedger::connect_profile(&self.url, profile).expect("connect the ledger")
    }

    /// How many connections of the ledger handles (named after the schema) are open.
    fn connections(&self) -> i64 {
        self.superuser()
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                &[&self.name],
            )
            .expect("count the ledger's connections")
            .get(0)
    }

    /// `(entries, parent rows, head len)` as stored.
    fn counts(&self) -> (i64, i64, i64) {
        let row = self
            .client()
            .query_one(
                "SELECT (SELECT count(*) FROM ect_ledger_entries), \
                 (SELECT count(*) FROM ect_ledger_parents), \
                 (SELECT len FROM ect_ledger_head)",
                &[],
            )
            .expect("count rows");
        (row.get(0), row.get(1), row.get(2))
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let drop = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        if let Err(e) = self.client().batch_execute(&drop) {
            eprintln!("could not drop test schema {}: {e}", self.name);
        }
    }
}

/// The observable state of a ledger: length, head, every entry as stored.
fn state<L: Ledger + ?Sized>(ledger: &L) -> (u64, wimse_ect::ChainHash, Vec<wimse_ect::RawEntry>) {
    (
        ledger.len().unwrap(),
        ledger.head().unwrap(),
        ledger.read(0, usize::MAX).unwrap(),
    )
}

/// The error of a result that must be one.
fn err<T: std::fmt::Debug>(r: Result<T>) -> Error {
    r.expect_err("expected an error")
}

// ---------------------------------------------------------------------------------------------
// Entries, lookups, rejections
// ---------------------------------------------------------------------------------------------

/// The same tokens accepted into a `PostgresLedger` and a `MemoryLedger` give the same entries
/// (sequence numbers, times, hashes), head and length; the chain and the audit pass.
#[test]
fn basics_equal_the_memory_ledger() {
    let Some(schema) = Schema::new("basics") else {
        return;
    };
    let ledger = schema.ledger();
    let memory = MemoryLedger::new();
    assert_eq!(ledger.len(), Ok(0));
    assert_eq!(ledger.is_empty(), Ok(true));
    assert_eq!(ledger.head(), Ok(wimse_ect::ChainHash::GENESIS));
    assert_eq!(ledger.verify_chain(), Ok(()));
    let w = wid(1);
    let tokens = [
        tok(&id(1), T0, &[]),
        tok(&id(2), T0 + 1, &[&id(1)]),
        wtok(&w, &id(1), T0 + 2, &[]),
        wtok(&w, &id(3), T0 + 3, &[&id(1)]),
        tok(&id(4), T0 + 4, &[&id(1), &id(2)]),
    ];
    let (vp, vm) = (verifier(), verifier());
    for (i, t) in tokens.iter().enumerate() {
        let now = NOW + i as u64;
        let a = accept_ok(&vp, &ledger, t, now);
        let b = accept_ok(&vm, &memory, t, now);
        assert_eq!(a.entry, b.entry);
        assert_eq!(a.dag, b.dag);
        assert_eq!(a.entry.seq(), i as u64);
    }
    assert_eq!(state(&ledger), state(&memory));
    assert_eq!(ledger.entries().unwrap(), memory.entries());
    for seq in 0..tokens.len() as u64 {
        assert_eq!(ledger.entry(seq).unwrap(), memory.entry(seq));
    }
    assert_eq!(ledger.entry(5), Ok(None));
    assert_eq!(ledger.entry(u64::MAX), Ok(None));
    assert_eq!(ledger.read(3, 10).unwrap(), memory.read(3, 10).unwrap());
    assert_eq!(ledger.read(5, 10), Ok(vec![]));
    assert_eq!(ledger.read(0, 0), Ok(vec![]));
    assert_eq!(ledger.read(u64::MAX, 1), Ok(vec![]));
    assert_eq!(ledger.verify_chain(), Ok(()));
    assert!(ledger.validate_all(&strict_policy(), keys()).is_valid());
    // Scopes are kept apart: the same jti with and without a wid.
    assert_eq!(
        ledger.get(None, &id(1)).unwrap().unwrap().token(),
        tokens[0]
    );
    assert_eq!(
        ledger.get(Some(&w), &id(1)).unwrap().unwrap().token(),
        tokens[2]
    );
    assert_eq!(ledger.get(Some(&w), &id(2)), Ok(None));
    assert_eq!(ledger.get(Some(&wid(2)), &id(1)), Ok(None));
    // One entry row per token, one parent row per par element.
    assert_eq!(schema.counts(), (5, 4, 5));
}

/// ECT-CLM-5: identifiers compare ASCII case-insensitively, and the stored token keeps its
/// own bytes; a second spelling of a stored task is a duplicate.
#[test]
fn get_is_case_insensitive() {
    let Some(schema) = Schema::new("case") else {
        return;
    };
    let ledger = schema.ledger();
    let (w, j) = (
        "ABCDEF00-0000-4000-8000-00000000000A",
        "6BA7B810-9DAD-11D1-80B4-00C04FD430C8",
    );
    let token = wtok(w, j, T0, &[]);
    accept_ok(&verifier(), &ledger, &token, NOW);
    for (wq, jq) in [
        (w.to_owned(), j.to_owned()),
        (w.to_ascii_lowercase(), j.to_ascii_lowercase()),
        (w.to_owned(), j.to_ascii_lowercase()),
    ] {
        let got = ledger.get(Some(&wq), &jq).unwrap().expect("found");
        assert_eq!(got.token(), token);
        assert_eq!(got.jti(), j);
    }
    assert_eq!(ledger.get(None, j), Ok(None));
    let lower = wtok(
        &w.to_ascii_lowercase(),
        &j.to_ascii_lowercase(),
        T0 + 1,
        &[],
    );
    let e = err(verifier().accept(&lower, NOW, &ledger));
    assert_eq!(e.code(), "dag.duplicate_jti");
    // A child naming the parent in the other case finds it.
    let child = wtok(w, &id(9), T0 + 2, &[&j.to_ascii_lowercase()]);
    accept_ok(&verifier(), &ledger, &child, NOW);
    let refs = ledger
        .referrers(Some(&w.to_ascii_lowercase()), j, 10)
        .unwrap();
    assert_eq!(refs.len(), 1);
    assert_eq!(refs[0].token(), child);
    assert_eq!(ledger.len(), Ok(2));
}

/// `referrers` is exact and in entry order, whether or not the named task is stored (partial
/// mode: children before their parent), and cut to `limit`.
#[test]
fn referrers_exact_and_ordered() {
    let Some(schema) = Schema::new("referrers") else {
        return;
    };
    let ledger = schema.ledger();
    let memory = MemoryLedger::new();
    let (vp, vm) = (
        verifier_with(partial_policy()),
        verifier_with(partial_policy()),
    );
    let (p, other) = (id(100), id(200));
    let w = wid(7);
    let tokens = [
        tok(&id(1), T0, &[&p]),
        tok(&id(2), T0 + 1, &[&other]),
        tok(&id(3), T0 + 2, &[&p, &other]),
        wtok(&w, &id(4), T0 + 3, &[&p]),
        tok(&id(5), T0 + 4, &[&p]),
        // The late parent arrives: its children were stored before it.
        tok(&p, T0 - 10, &[]),
        tok(&id(6), T0 + 5, &[&p]),
    ];
    for t in &tokens {
        let a = accept_ok(&vp, &ledger, t, NOW);
        let b = accept_ok(&vm, &memory, t, NOW);
        assert_eq!(a.entry, b.entry);
    }
    let jtis = |v: Vec<Arc<wimse_ect::StoredEct>>| -> Vec<String> {
        v.iter().map(|e| e.jti().to_owned()).collect()
    };
    assert_eq!(
        jtis(ledger.referrers(None, &p, 100).unwrap()),
        [id(1), id(3), id(5), id(6)]
    );
    assert_eq!(jtis(ledger.referrers(None, &p, 2).unwrap()), [id(1), id(3)]);
    assert_eq!(ledger.referrers(None, &p, 0), Ok(vec![]));
    assert_eq!(jtis(ledger.referrers(Some(&w), &p, 100).unwrap()), [id(4)]);
    assert_eq!(
        jtis(ledger.referrers(None, &other, usize::MAX).unwrap()),
        [id(2), id(3)]
    );
    assert_eq!(ledger.referrers(None, &id(1), 10), Ok(vec![]));
    for (wq, j) in [
        (None, &p),
        (Some(w.as_str()), &p),
        (None, &other),
        (None, &id(9)),
    ] {
        for limit in [0, 1, 3, 100] {
            assert_eq!(
                ledger.referrers(wq, j, limit).unwrap(),
                memory.referrers(wq, j, limit),
                "{wq:?} {j} {limit}"
            );
        }
    }
    assert_eq!(state(&ledger), state(&memory));
    assert!(ledger.validate_all(&partial_policy(), keys()).is_valid());
}

/// A refused token (bad signature, duplicate, missing parent) changes nothing: length, head,
/// entries and row counts.
#[test]
fn rejections_change_nothing() {
    let Some(schema) = Schema::new("rejections") else {
        return;
    };
    let ledger = schema.ledger();
    let v = verifier();
    accept_ok(&v, &ledger, &tok(&id(1), T0, &[]), NOW);
    accept_ok(&v, &ledger, &tok(&id(2), T0 + 1, &[&id(1)]), NOW);
    let before = (state(&ledger), schema.counts());
    let mut forged = claims(T0);
    forged.insert("jti".into(), id(3).into());
    let cases = [
        (sign_json(&header(KID_A), &forged, &key_b()), "sig.invalid"),
        (tok(&id(1), T0 + 2, &[]), "dag.duplicate_jti"),
        (tok(&id(4), T0 + 3, &[&id(99)]), "dag.parent_missing"),
    ];
    for (token, code) in &cases {
        let e = err(v.accept(token, NOW, &ledger));
        assert_eq!(e.code(), *code, "{e:?}");
        assert_eq!((state(&ledger), schema.counts()), before);
    }
    // The same in a batch between accepted tokens: only those are appended.
    let batch = [
        tok(&id(5), T0 + 4, &[]),
        cases[0].0.clone(),
        cases[1].0.clone(),
        cases[2].0.clone(),
        tok(&id(6), T0 + 5, &[&id(5)]),
    ];
    let results = v.accept_batch(&batch, NOW, &ledger);
    let codes: Vec<&str> = results
        .iter()
        .map(|r| r.as_ref().map_or_else(|e| e.code(), |_| "ok"))
        .collect();
    assert_eq!(
        codes,
        [
            "ok",
            "sig.invalid",
            "dag.duplicate_jti",
            "dag.parent_missing",
            "ok"
        ]
    );
    assert_eq!(results[4].as_ref().unwrap().entry.seq(), 3);
    assert_eq!(schema.counts(), (4, 2, 4));
    assert_eq!(ledger.verify_chain(), Ok(()));
}

/// A second connection on the same schema sees the same entries, and appends continue at the
/// next sequence number from either; a handle dropped and connected again sees them too.
#[test]
fn reopen_sees_every_entry_and_appends_continue() {
    let Some(schema) = Schema::new("reopen") else {
        return;
    };
    let v = verifier();
    let first = schema.ledger();
    for i in 0..3 {
        accept_ok(&v, &first, &tok(&id(i + 1), T0 + i, &[]), NOW);
    }
    let before = state(&first);
    let second = schema.ledger();
    assert_eq!(state(&second), before);
    assert_eq!(second.entries().unwrap(), first.entries().unwrap());
    let a = accept_ok(&v, &second, &tok(&id(10), T0, &[&id(1)]), NOW + 1);
    assert_eq!(a.entry.seq(), 3);
    assert_eq!(a.entry.prev(), before.1);
    assert_eq!(first.len(), Ok(4));
    let b = accept_ok(&v, &first, &tok(&id(11), T0, &[&id(10)]), NOW + 2);
    assert_eq!(b.entry.seq(), 4);
    assert_eq!(b.entry.prev(), a.entry.hash());
    let after = state(&first);
    drop((first, second));
    let third = schema.ledger();
    assert_eq!(state(&third), after);
    assert_eq!(third.verify_chain(), Ok(()));
    assert!(third.validate_all(&strict_policy(), keys()).is_valid());
}

/// Group commit keeps the verdicts: `accept_batch` equals one `accept` per token, entries
/// included (a parent earlier in the batch, a duplicate within it, a refused token).
#[test]
fn accept_batch_equals_one_by_one() {
    let (Some(one), Some(batch)) = (Schema::new("one_by_one"), Schema::new("batch")) else {
        return;
    };
    let (l1, l2) = (one.ledger(), batch.ledger());
    let tokens: Vec<String> = vec![
        tok(&id(1), T0, &[]),
        tok(&id(2), T0 + 1, &[&id(1)]),
        tok(&id(2), T0 + 2, &[&id(1)]),
        tok(&id(3), T0 + 3, &[&id(7)]),
        sign(&ect(&id(4), T0).audience("spiffe://example.org/other")),
        tok(&id(5), T0 + 4, &[&id(1), &id(2)]),
    ];
    let (v1, v2) = (verifier(), verifier());
    let singles: Vec<Result<Accepted>> = tokens.iter().map(|t| v1.accept(t, NOW, &l1)).collect();
    let batched = v2.accept_batch(&tokens, NOW, &l2);
    assert_eq!(batched.len(), singles.len());
    for (a, b) in singles.iter().zip(&batched) {
        match (a, b) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a.entry, b.entry);
                assert_eq!(a.dag, b.dag);
            }
            (Err(a), Err(b)) => assert_eq!(a, b),
            _ => panic!("different verdicts: {a:?} / {b:?}"),
        }
    }
    assert_eq!(state(&l1), state(&l2));
    assert_eq!(l2.len(), Ok(3));
    assert_eq!(one.counts(), batch.counts());
    // An empty batch appends nothing.
    assert!(v2.accept_batch::<String, _>(&[], NOW, &l2).is_empty());
    assert_eq!(l2.len(), Ok(3));
}

// ---------------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------------

/// 8 threads, each with its own connection (as 8 processes would), race the same token: one
/// acceptance, the others exactly `dag.duplicate_jti`.
#[test]
fn racing_connections_accept_a_token_once() {
    let Some(schema) = Schema::new("race") else {
        return;
    };
    const THREADS: usize = 8;
    let ledgers: Vec<PostgresLedger> = (0..THREADS).map(|_| schema.ledger()).collect();
    let token = tok(&id(1), T0, &[]);
    let cache = Arc::new(MemoryReplayCache::new());
    let v = verifier().with_replay_cache(cache.clone());
    let barrier = Barrier::new(THREADS);
    let results: Vec<Result<Accepted>> = thread::scope(|s| {
        let handles: Vec<_> = ledgers
            .iter()
            .map(|ledger| {
                let (barrier, v, token) = (&barrier, &v, &token);
                s.spawn(move || {
                    barrier.wait();
                    v.accept(token, NOW, ledger)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let winners = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(winners, 1, "{results:?}");
    for r in &results {
        if let Err(e) = r {
            assert_eq!(*e, Error::DuplicateJti(id(1)));
        }
    }
    assert_eq!(cache.len(), 1);
    assert_eq!(schema.counts(), (1, 0, 1));
    assert_eq!(ledgers[3].verify_chain(), Ok(()));

    // Separate verifiers (separate replay caches, as separate processes have): the database
    // alone decides.
    let token = tok(&id(2), T0, &[]);
    let results: Vec<Result<Accepted>> = thread::scope(|s| {
        let handles: Vec<_> = ledgers
            .iter()
            .map(|ledger| {
                let (barrier, token) = (&barrier, &token);
                s.spawn(move || {
                    let v = verifier();
                    barrier.wait();
                    v.accept(token, NOW, ledger)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| *e == Error::DuplicateJti(id(2)))
    );
    assert_eq!(schema.counts(), (2, 0, 2));
}

/// 4 connections append distinct tokens in parallel: sequence numbers 0..n without a gap, each
/// connection's appends in its order, an intact chain and a valid audit.
#[test]
fn parallel_connections_append_without_gaps() {
    let Some(schema) = Schema::new("parallel") else {
        return;
    };
    const CONNECTIONS: u64 = 4;
    const PER: u64 = 25;
    let ledgers: Vec<PostgresLedger> = (0..CONNECTIONS).map(|_| schema.ledger()).collect();
    let v = verifier();
    let barrier = Barrier::new(CONNECTIONS as usize);
    let seqs: Vec<Vec<u64>> = thread::scope(|s| {
        let handles: Vec<_> = ledgers
            .iter()
            .enumerate()
            .map(|(c, ledger)| {
                let (barrier, v) = (&barrier, &v);
                let c = c as u64;
                s.spawn(move || {
                    // Each connection a chain of its own: every token names the previous one.
                    let tokens: Vec<String> = (0..PER)
                        .map(|i| {
                            let j = id(1000 * (c + 1) + i);
                            let p = id(1000 * (c + 1) + i.saturating_sub(1));
                            let par: Vec<&str> = if i == 0 { vec![] } else { vec![&p] };
                            tok(&j, T0 + i, &par)
                        })
                        .collect();
                    barrier.wait();
                    tokens
                        .iter()
                        .map(|t| accept_ok(v, ledger, t, NOW).entry.seq())
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let n = CONNECTIONS * PER;
    let mut all: Vec<u64> = seqs.iter().flatten().copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..n).collect::<Vec<u64>>());
    assert!(seqs.iter().all(|s| s.windows(2).all(|w| w[0] < w[1])));
    for ledger in &ledgers {
        assert_eq!(ledger.len(), Ok(n));
    }
    assert_eq!(ledgers[0].verify_chain(), Ok(()));
    assert!(ledgers[1].validate_all(&strict_policy(), keys()).is_valid());
    let n = n as i64;
    assert_eq!(schema.counts(), (n, n - CONNECTIONS as i64, n));
}

/// Connections made at once to an empty schema create it once (the advisory lock).
#[test]
fn concurrent_connects_create_the_schema_once() {
    let Some(schema) = Schema::new("connects") else {
        return;
    };
    let barrier = Barrier::new(4);
    let ledgers: Vec<PostgresLedger> = thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (barrier, url) = (&barrier, &schema.url);
                s.spawn(move || {
                    barrier.wait();
                    PostgresLedger::connect(url)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().expect("connect"))
            .collect()
    });
    for l in &ledgers {
        assert_eq!(l.len(), Ok(0));
    }
    let heads: i64 = schema
        .client()
        .query_one("SELECT count(*) FROM ect_ledger_head", &[])
        .unwrap()
        .get(0);
    assert_eq!(heads, 1);
}

// ---------------------------------------------------------------------------------------------
// Triggers and tampering
// ---------------------------------------------------------------------------------------------

/// UPDATE, DELETE and TRUNCATE through a plain client are refused by the triggers, even for the
/// tables' owner; the head row cannot be deleted or truncated.
#[test]
fn triggers_refuse_changes() {
    let Some(schema) = Schema::new("triggers") else {
        return;
    };
    let ledger = schema.ledger();
    let v = verifier();
    accept_ok(&v, &ledger, &tok(&id(1), T0, &[]), NOW);
    accept_ok(&v, &ledger, &tok(&id(2), T0 + 1, &[&id(1)]), NOW);
    let before = (state(&ledger), schema.counts());
    let mut client = schema.client();
    for sql in [
        "UPDATE ect_ledger_entries SET at = at + 1 WHERE seq = 0",
        "UPDATE ect_ledger_entries SET token = token",
        "DELETE FROM ect_ledger_entries WHERE seq = 1",
        "TRUNCATE ect_ledger_entries CASCADE",
        "UPDATE ect_ledger_parents SET parent = 'x'",
        "DELETE FROM ect_ledger_parents",
        "TRUNCATE ect_ledger_parents",
        "DELETE FROM ect_ledger_head",
        "TRUNCATE ect_ledger_head",
    ] {
        let e = client.batch_execute(sql).expect_err(sql);
        let db = e.as_db_error().unwrap_or_else(|| panic!("{sql}: {e}"));
        assert_eq!(
            db.code(),
            &postgres::error::SqlState::RAISE_EXCEPTION,
            "{sql}: {db}"
        );
        assert!(
            db.message().starts_with("the ECT ledger is append-only"),
            "{sql}: {db}"
        );
    }
    assert_eq!((state(&ledger), schema.counts()), before);
}

/// An entry edited behind the triggers' back (the superuser disables them) is caught by the
/// hash chain: `verify_chain` fails with `ledger.chain`, the audit is invalid, and reading the
/// entry fails its own hash check.
#[test]
fn tampering_is_caught_by_the_hash_chain() {
    let Some(schema) = Schema::new("tamper") else {
        return;
    };
    let ledger = schema.ledger();
    let v = verifier();
    for i in 0..3 {
        accept_ok(&v, &ledger, &tok(&id(i + 1), T0 + i, &[]), NOW);
    }
    assert_eq!(ledger.verify_chain(), Ok(()));
    let mut su = schema.superuser();
    su.batch_execute(
        "ALTER TABLE ect_ledger_entries DISABLE TRIGGER ALL; \
         UPDATE ect_ledger_entries SET at = at + 1 WHERE seq = 1; \
         ALTER TABLE ect_ledger_entries ENABLE TRIGGER ALL",
    )
    .expect("tamper as the superuser");
    let e = err(ledger.verify_chain());
    assert_eq!(e.code(), "ledger.chain", "{e:?}");
    let report = ledger.validate_all(&strict_policy(), keys());
    assert!(!report.is_valid());
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.seq == 1 && f.error.code() == "ledger.chain"),
        "{report:?}"
    );
    assert_eq!(err(ledger.entry(1)).code(), "ledger.chain");
    // A removed last entry (the head left as it was) is caught too.
    su.batch_execute(
        "ALTER TABLE ect_ledger_entries DISABLE TRIGGER ALL; \
         UPDATE ect_ledger_entries SET at = at - 1 WHERE seq = 1; \
         DELETE FROM ect_ledger_entries WHERE seq = 2; \
         ALTER TABLE ect_ledger_entries ENABLE TRIGGER ALL",
    )
    .expect("tamper as the superuser");
    assert_eq!(err(ledger.verify_chain()).code(), "ledger.chain");
    assert!(!ledger.validate_all(&strict_policy(), keys()).is_valid());
}

/// The head row moved back over stored entries (which the application role's `UPDATE` on it
/// allows) is caught by `verify_chain`, and appends then fail without appending.
#[test]
fn a_head_moved_back_is_caught() {
    let Some(schema) = Schema::new("head_back") else {
        return;
    };
    let ledger = schema.ledger();
    let v = verifier();
    for i in 0..3 {
        accept_ok(&v, &ledger, &tok(&id(i + 1), T0 + i, &[]), NOW);
    }
    schema
        .client()
        .batch_execute(
            "UPDATE ect_ledger_head SET len = 1, \
             hash = (SELECT hash FROM ect_ledger_entries WHERE seq = 0)",
        )
        .expect("move the head back");
    let e = err(ledger.verify_chain());
    assert_eq!(
        e,
        Error::LedgerChain("entries are stored beyond the head".into())
    );
    let before = schema.counts();
    let e = err(v.accept(tok(&id(9), T0, &[]), NOW, &ledger));
    assert_eq!(e.code(), "ledger.io", "{e:?}");
    assert_eq!(schema.counts(), before);
}

// ---------------------------------------------------------------------------------------------
// Failing closed
// ---------------------------------------------------------------------------------------------

/// The ledger's backend is terminated: the next accept is exactly `ledger.io` and appends
/// nothing; the one after connects again and succeeds. Reads fail closed the same way.
#[test]
fn a_killed_connection_fails_closed_then_reconnects() {
    let Some(schema) = Schema::new("killed") else {
        return;
    };
    let ledger = schema.ledger();
    let cache = Arc::new(MemoryReplayCache::new());
    let v = verifier().with_replay_cache(cache.clone());
    accept_ok(&v, &ledger, &tok(&id(1), T0, &[]), NOW);
    let before = (state(&ledger), schema.counts());
    let mut su = schema.superuser();
    let kill = |su: &mut Client| {
        let pids: Vec<i32> = su
            .query(
                "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
                &[&schema.name],
            )
            .expect("find the ledger's backend")
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(pids.len(), 1);
        let killed: bool = su
            .query_one("SELECT pg_terminate_backend($1, 5000)", &[&pids[0]])
            .expect("terminate")
            .get(0);
        assert!(killed);
    };
    kill(&mut su);
    let token = tok(&id(2), T0 + 1, &[&id(1)]);
    let e = err(v.accept(&token, NOW, &ledger));
    assert_eq!(e.code(), "ledger.io", "{e:?}");
    assert_eq!(schema.counts(), before.1);
    assert_eq!(
        cache.len(),
        1,
        "no replay record is kept for a refused token"
    );
    let a = accept_ok(&v, &ledger, &token, NOW);
    assert_eq!(a.entry.seq(), 1);
    assert_eq!(a.entry.prev(), before.0.1);

    // A batch: every token fails, nothing appended.
    kill(&mut su);
    let batch = [tok(&id(3), T0, &[]), tok(&id(4), T0, &[])];
    let results = v.accept_batch(&batch, NOW, &ledger);
    assert!(
        results.iter().all(|r| matches!(r, Err(Error::LedgerIo(_)))),
        "{results:?}"
    );
    assert_eq!(ledger.len(), Ok(2));

    // Reads: the call that finds the connection dead fails, the next one reconnects.
    kill(&mut su);
    assert_eq!(err(ledger.get(None, &id(1))).code(), "ledger.io");
    assert!(ledger.get(None, &id(1)).unwrap().is_some());
    kill(&mut su);
    assert_eq!(err(ledger.referrers(None, &id(1), 10)).code(), "ledger.io");
    assert_eq!(ledger.referrers(None, &id(1), 10).unwrap().len(), 1);
    kill(&mut su);
    assert_eq!(err(ledger.len()).code(), "ledger.io");
    assert_eq!(ledger.len(), Ok(2));
    kill(&mut su);
    assert_eq!(err(ledger.read(0, 10)).code(), "ledger.io");
    assert_eq!(ledger.read(0, 10).unwrap().len(), 2);
    kill(&mut su);
    assert_eq!(err(ledger.entry(0)).code(), "ledger.io");
    assert_eq!(ledger.entry(0).unwrap().unwrap().seq(), 0);
    kill(&mut su);
    assert_eq!(err(ledger.verify_chain()).code(), "ledger.io");
    assert_eq!(ledger.verify_chain(), Ok(()));
    assert_eq!(schema.counts(), (2, 1, 2));
}

/// A URL that does not parse, and a server that does not answer, are `ledger.io` from
/// `connect`, within the connect timeout, and the message never shows the password.
#[test]
fn connection_errors_are_ledger_io() {
    let Some(schema) = Schema::new("connect_errors") else {
        return;
    };
    for url in [
        "postgres://ect:hunter2@127.0.0.1:1/ect",
        "postgres://ect:hunter2@127.0.0.1:notaport/ect",
        "postgres://ect:hunter2@127.0.0.1/ect?bogus_option=1",
        "host=127.0.0.1 password=hunter2 port=1 user=ect",
        "host=127.0.0.1 password=hunter2 nonsense",
        "postgres//ect:hunter2@127.0.0.1/ect",
        // Not routable: no answer, so the connect timeout (5 s) ends the wait.
        "postgres://ect:hunter2@192.0.2.1:5432/ect",
        "",
    ] {
        let start = Instant::now();
        let e = err(PostgresLedger::connect(url));
        assert!(start.elapsed() < Duration::from_secs(10), "{url}");
        assert_eq!(e.code(), "ledger.io", "{url}: {e:?}");
        let text = format!("{e} {e:?}");
        assert!(!text.contains("hunter2"), "{url}: {text}");
    }
    // A Debug of a connected ledger does not show a password either.
    let l = PostgresLedger::connect(&with_param(&schema.url, "password=hunter2")).unwrap();
    assert!(!format!("{l:?}").contains("hunter2"));
}

// ---------------------------------------------------------------------------------------------
// Privileges
// ---------------------------------------------------------------------------------------------

/// A login role for one test, dropped (with its privileges) at the end.
struct Role<'a> {
    schema: &'a Schema,
    name: String,
}

impl Drop for Role<'_> {
    fn drop(&mut self) {
        let sql = format!("DROP OWNED BY {0}; DROP ROLE {0}", self.name);
        if let Err(e) = self.schema.superuser().batch_execute(&sql) {
            eprintln!("could not drop test role {}: {e}", self.name);
        }
    }
}

/// The grants the documentation gives are enough for an application role to append and read
/// once the owner created the schema; the application role cannot create it, and cannot
/// change an entry.
#[test]
fn the_documented_grants_are_enough() {
    let (Some(schema), Some(empty)) = (Schema::new("grants"), Schema::new("grants_empty")) else {
        return;
    };
    // The owner creates the schema by connecting once.
    drop(schema.ledger());
    let role = Role {
        schema: &schema,
        name: format!("ect_test_app_{}", std::process::id()),
    };
    schema
        .superuser()
        .batch_execute(&format!("CREATE ROLE {} LOGIN", role.name))
        .expect("create the role");
    schema
        .client()
        .batch_execute(&format!(
            "GRANT USAGE ON SCHEMA {0} TO {1}; GRANT USAGE ON SCHEMA {2} TO {1}; \
             GRANT SELECT, INSERT ON ect_ledger_entries, ect_ledger_parents, ect_ledger_parent_scopes \
             TO {1}; GRANT SELECT ON ect_ledger_profile TO {1}; \
             GRANT SELECT, UPDATE ON ect_ledger_head TO {1}",
            schema.name, role.name, empty.name
        ))
        .expect("grant");
    let app_url = |s: &Schema| {
        with_param(
            &with_user(&s.base, &role.name),
            &format!("options=-csearch_path%3D{}", s.name),
        )
    };
    let ledger = PostgresLedger::connect(&app_url(&schema)).expect("connect as the app role");
    let v = verifier();
    accept_ok(&v, &ledger, &tok(&id(1), T0, &[]), NOW);
    accept_ok(&v, &ledger, &tok(&id(2), T0 + 1, &[&id(1)]), NOW);
    assert_eq!(
        err(v.accept(tok(&id(1), T0 + 2, &[]), NOW, &ledger)).code(),
        "dag.duplicate_jti"
    );
    assert_eq!(ledger.referrers(None, &id(1), 10).unwrap().len(), 1);
    assert_eq!(ledger.verify_chain(), Ok(()));
    assert_eq!(schema.counts(), (2, 1, 2));
    let mut app = Client::connect(&app_url(&schema), NoTls).expect("connect");
    let e = app
        .batch_execute("UPDATE ect_ledger_entries SET at = 0")
        .expect_err("no UPDATE privilege");
    assert_eq!(
        e.code(),
        Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE)
    );
    // In a schema without the tables, the application role cannot create them.
    let e = err(PostgresLedger::connect(&app_url(&empty)));
    assert_eq!(e.code(), "ledger.io", "{e:?}");
}

/// A ledger dropped on a tokio worker thread (the last handle of a server's `EctLayer`, when
/// the server stops) closes its connection without panicking: the synchronous client runs
/// its own runtime, which cannot be started inside another one.
#[test]
fn a_ledger_dropped_on_an_async_worker_does_not_panic() {
    let Some(schema) = Schema::new("drop_on_worker") else {
        return;
    };
    let ledger = schema.ledger();
    assert_eq!(ledger.len(), Ok(0));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dropped = runtime.block_on(async move { tokio::spawn(async move { drop(ledger) }).await });
    assert!(dropped.is_ok(), "{dropped:?}");
    drop(runtime);
    // The connection closes, on another thread, soon after.
    let deadline = Instant::now() + Duration::from_secs(10);
    while schema.connections() > 0 {
        assert!(Instant::now() < deadline, "the connection is still open");
        thread::sleep(Duration::from_millis(20));
    }
}

/// A ledger created before profile `draft-01` (no `ect_ledger_parent_scopes`,
/// `ect_ledger_entries_by_jti` or `ect_ledger_profile`) gets them when its owner connects,
/// filled from the existing parent rows and recording profile `draft-00` (the only one
/// before); it then answers the workflow-consistency lookups exactly and refuses `draft-01`.
#[test]
fn an_older_schema_is_upgraded_when_its_owner_connects() {
    use wimse_ect::{DRAFT_00, DRAFT_01};
    let Some(schema) = Schema::new("upgrade") else {
        return;
    };
    let (w1, w2) = (wid(1), wid(2));
    let v = verifier_with(partial_policy());
    {
        let ledger = schema.ledger_in(DRAFT_00);
        accept_ok(&v, &ledger, &wtok(&w1, &id(1), T0, &[]), NOW);
        // Names a parent held nowhere yet (partial mode).
        accept_ok(&v, &ledger, &wtok(&w2, &id(2), T0, &[&id(3)]), NOW);
    }
    schema
        .client()
        .batch_execute(
            "DROP TABLE ect_ledger_parent_scopes; DROP TABLE ect_ledger_profile; \
             DROP INDEX ect_ledger_entries_by_jti;",
        )
        .expect("make it look like an older ledger");
    assert_eq!(
        PostgresLedger::connect_profile(&schema.url, DRAFT_01).map(|_| ()),
        Err(Error::LedgerProfile {
            ledger: "draft-00",
            verifier: "draft-01",
        })
    );
    let ledger = schema.ledger_in(DRAFT_00);
    let mut client = schema.client();
    let rows: i64 = client
        .query_one("SELECT count(*) FROM ect_ledger_parent_scopes", &[])
        .expect("the table is back")
        .get(0);
    let profile: String = client
        .query_one("SELECT profile FROM ect_ledger_profile", &[])
        .expect("the profile is recorded")
        .get(0);
    assert_eq!((rows, profile.as_str()), (1, "draft-00"));
    assert_upgraded_lookups(&ledger, &w1, &w2);
}

/// The ledger records its profile: a process of another profile cannot connect, so the two
/// never mix tokens in one ledger.
#[test]
fn a_ledger_refuses_a_connection_under_another_profile() {
    use wimse_ect::{DRAFT_00, DRAFT_01};
    let Some(schema) = Schema::new("profile") else {
        return;
    };
    drop(schema.ledger_in(DRAFT_01));
    assert_eq!(
        PostgresLedger::connect_profile(&schema.url, DRAFT_00).map(|_| ()),
        Err(Error::LedgerProfile {
            ledger: "draft-01",
            verifier: "draft-00",
        })
    );
    assert_eq!(
        PostgresLedger::connect(&schema.url)
            .map(|_| ())
            .unwrap_err()
            .code(),
        "ledger.profile"
    );
    assert_eq!(schema.ledger_in(DRAFT_01).len(), Ok(0));
}
