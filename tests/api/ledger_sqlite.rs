//! `SqliteLedger` (feature `sqlite`): what is particular to the SQLite backend. The same
//! entries and hashes as `MemoryLedger` for the same tokens, case-insensitive lookup, exact
//! referrers, rejections that leave nothing, reopening, group commit through `accept_batch`,
//! races between threads and between two handles on one file (two processes), the
//! append-only triggers, tampering found by `verify_chain`, and files that are not ledgers.
//!
//! Every database lives in a fresh `tempfile::tempdir()`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier, LazyLock};
use std::thread;

use crate::common::*;
use wimse_ect::{
    Accepted, ChainHash, CreateMode, DagValidator, EctBuilder, EctStore, Error, KeySet, Ledger,
    LedgerAudit, LedgerEntry, MemoryLedger, Policy, RawEntry, Result, SigningKey, SqliteLedger,
    Verifier,
};

/// Agent A's key, derived once.
static KEY: LazyLock<SigningKey> = LazyLock::new(key_a);
/// The trusted keys, for audits.
static KEYS: LazyLock<KeySet> = LazyLock::new(trusted_keys);

/// The workflow id of the scoped tokens.
const WID: &str = "0b5c3a1e-7d2f-4c1a-9e8b-2f6d4a3c1b00";

/// A signed token for task `jti` issued at `iat` in scope `wid` with `par` = `parents`.
fn tok_in(wid: Option<&str>, jti: &str, iat: u64, parents: &[&str]) -> String {
    let mut b = parents.iter().fold(ect(jti, iat), |b, p| b.parent(*p));
    if let Some(w) = wid {
        b = b.wid(w);
    }
    b.sign(&KEY).expect("valid claims")
}

/// A signed token for task `jti` without `wid`.
fn tok(jti: &str, iat: u64, parents: &[&str]) -> String {
    tok_in(None, jti, iat, parents)
}

fn partial_policy() -> Policy {
    policy_with(DagValidator::partial())
}

fn db(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("ledger.sqlite")
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn accept_ok<L: Ledger>(v: &Verifier, ledger: &L, token: &str, now: u64) -> Accepted {
    v.accept(token, now, ledger)
        .unwrap_or_else(|e| panic!("expected acceptance, got {e:?}"))
}

/// `(len, head, entries)`: what must not change when a token is refused.
fn state<L: Ledger>(ledger: &L) -> (u64, ChainHash, Vec<Arc<LedgerEntry>>) {
    (
        ledger.len().unwrap(),
        ledger.head().unwrap(),
        ledger.entries().unwrap(),
    )
}

/// Five tokens: three roots (one in scope `WID`), a child of two of them, a grandchild.
fn five_tokens() -> Vec<String> {
    vec![
        tok(&id(1), T0, &[]),
        tok(&id(2), T0, &[]),
        tok(&id(3), T0 + 10, &[&id(1), &id(2)]),
        tok_in(Some(WID), &id(4), T0, &[]),
        tok(&id(5), T0 + 20, &[&id(3)]),
    ]
}

// ---------------------------------------------------------------------------------------------
// Basics: the same chain as MemoryLedger
// ---------------------------------------------------------------------------------------------

#[test]
fn entries_and_hashes_equal_the_memory_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = SqliteLedger::open(db(&dir)).unwrap();
    let memory = MemoryLedger::new();
    let v = verifier();
    let vm = verifier();
    assert_eq!(ledger.path(), db(&dir));
    assert_eq!(ledger.len(), Ok(0));
    assert_eq!(ledger.is_empty(), Ok(true));
    assert_eq!(ledger.head(), Ok(ChainHash::GENESIS));
    assert_eq!(ledger.entries(), Ok(Vec::new()));
    assert_eq!(ledger.entry(0), Ok(None));
    assert_eq!(ledger.read(0, 10), Ok(Vec::new()));
    assert_eq!(ledger.verify_chain(), Ok(()));

    let tokens = five_tokens();
    let mut prev = ChainHash::GENESIS;
    for (i, t) in tokens.iter().enumerate() {
        let at = NOW + i as u64;
        let a = accept_ok(&v, &ledger, t, at);
        let m = accept_ok(&vm, &memory, t, at);
        assert_eq!(a, m);
        assert_eq!(a.entry.seq(), i as u64);
        assert_eq!(a.entry.accepted_at(), at);
        assert_eq!(a.entry.prev(), prev);
        assert_eq!(a.entry.hash(), ChainHash::of_entry(i as u64, at, &prev, t));
        assert_eq!(ledger.len(), Ok(i as u64 + 1));
        assert_eq!(ledger.head(), Ok(a.entry.hash()));
        prev = a.entry.hash();
    }
    let entries = ledger.entries().unwrap();
    assert_eq!(entries, memory.entries());
    assert_eq!(entries.len(), 5);
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.ect().token(), tokens[i]);
        assert_eq!(ledger.entry(i as u64).unwrap().as_ref(), Some(e));
    }
    assert_eq!(ledger.head(), Ok(memory.head()));
    assert_eq!(ledger.is_empty(), Ok(false));
    assert_eq!(ledger.entry(5), Ok(None));
    assert_eq!(ledger.entry(u64::MAX), Ok(None));
    assert_eq!(
        ledger.read(1, 2).unwrap(),
        Ledger::read(&memory, 1, 2).unwrap()
    );
    assert_eq!(ledger.read(3, 100).unwrap().len(), 2);
    assert_eq!(ledger.read(5, 100), Ok(Vec::new()));
    assert_eq!(ledger.read(u64::MAX, 100), Ok(Vec::new()));
    assert_eq!(ledger.read(0, 0), Ok(Vec::new()));
    assert_eq!(ledger.verify_chain(), Ok(()));

    let report = ledger.validate_all(v.policy(), Some(&*KEYS));
    assert!(report.is_valid(), "{report:?}");
    assert_eq!(report.entries, 5);
}

#[test]
fn lookup_is_ascii_case_insensitive_in_its_scope() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = SqliteLedger::open(db(&dir)).unwrap();
    let v = verifier();
    let plain = tok(&id(0xab), T0, &[]);
    let scoped = tok_in(Some(WID), &id(0xcd), T0, &[]);
    accept_ok(&v, &ledger, &plain, NOW);
    accept_ok(&v, &ledger, &scoped, NOW);

    let upper = |s: &str| s.to_ascii_uppercase();
    let get =
        |wid: Option<&str>, jti: &str| ledger.get(wid, jti).unwrap().map(|e| e.token().to_owned());
    assert_eq!(get(None, &id(0xab)), Some(plain.clone()));
    assert_eq!(get(None, &upper(&id(0xab))), Some(plain.clone()));
    assert_eq!(get(Some(WID), &id(0xab)), None);
    assert_eq!(get(Some(""), &id(0xab)), None);
    assert_eq!(get(Some(WID), &id(0xcd)), Some(scoped.clone()));
    assert_eq!(get(Some(&upper(WID)), &upper(&id(0xcd))), Some(scoped));
    assert_eq!(get(None, &id(0xcd)), None);
    assert_eq!(get(None, &id(0xef)), None);

    // The same task id in another letter case is the same task (ECT-DAG-1).
    let shouted = tok(&upper(&id(0xab)), T0, &[]);
    assert_eq!(
        v.accept(&shouted, NOW, &ledger).unwrap_err(),
        Error::DuplicateJti(upper(&id(0xab)))
    );
    assert_eq!(ledger.len(), Ok(2));
}

#[test]
fn referrers_are_exact_and_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = SqliteLedger::open(db(&dir)).unwrap();
    let memory = MemoryLedger::new();
    let v = verifier_with(partial_policy());
    let vm = verifier_with(partial_policy());
    let p = id(0x10);
    // Children of the missing P arrive first (partial mode), one naming P in upper case and
    // twice; a token naming P in another scope and one naming something else do not count.
    let c1 = tok(&id(0x11), T0 + 10, &[&p]);
    let c2 = tok(&id(0x12), T0 + 10, &[&id(0x20), &p.to_ascii_uppercase()]);
    let other_scope = tok_in(Some(WID), &id(0x13), T0 + 10, &[&p]);
    let unrelated = tok(&id(0x14), T0 + 10, &[&id(0x20)]);
    let c3 = tok(&id(0x15), T0 + 10, &[&p, &id(0x21)]);
    for t in [&c1, &c2, &other_scope, &unrelated, &c3] {
        let a = accept_ok(&v, &ledger, t, NOW);
        assert_eq!(a, accept_ok(&vm, &memory, t, NOW));
    }
    let tokens = |list: Result<Vec<Arc<wimse_ect::StoredEct>>>| -> Vec<String> {
        list.unwrap().iter().map(|e| e.token().to_owned()).collect()
    };
    assert_eq!(
        tokens(ledger.referrers(None, &p, 10)),
        [c1.clone(), c2.clone(), c3.clone()]
    );
    assert_eq!(
        tokens(ledger.referrers(None, &p.to_ascii_uppercase(), 10)),
        [c1.clone(), c2.clone(), c3.clone()]
    );
    assert_eq!(
        tokens(ledger.referrers(None, &p, 2)),
        [c1.clone(), c2.clone()]
    );
    assert_eq!(tokens(ledger.referrers(None, &p, 0)), Vec::<String>::new());
    assert_eq!(tokens(ledger.referrers(Some(WID), &p, 10)), [other_scope]);
    assert_eq!(
        tokens(ledger.referrers(None, &id(0x20), 10)),
        [c2.clone(), unrelated]
    );
    assert_eq!(
        tokens(ledger.referrers(None, &id(0x99), 10)),
        Vec::<String>::new()
    );
    assert_eq!(
        tokens(ledger.referrers(Some(""), &p, 10)),
        Vec::<String>::new()
    );

    // The late parent itself: checked against its three children, accepted; the list stays.
    let parent = tok(&p, T0, &[]);
    let a = accept_ok(&v, &ledger, &parent, NOW + 1);
    assert_eq!(a, accept_ok(&vm, &memory, &parent, NOW + 1));
    assert_eq!(a.entry.seq(), 5);
    assert_eq!(tokens(ledger.referrers(None, &p, 10)), [c1, c2, c3]);
    for (wid, jti) in [(None, &p), (None, &id(0x20)), (Some(WID), &p)] {
        assert_eq!(
            ledger.referrers(wid, jti, 10).unwrap(),
            memory.referrers(wid, jti, 10)
        );
    }
    assert_eq!(ledger.entries().unwrap(), memory.entries());
    let report = ledger.validate_all(v.policy(), Some(&*KEYS));
    assert!(report.is_valid(), "{report:?}");

    // A late parent that breaks a rule in the other direction (issued after its children
    // beyond the skew) is refused and leaves nothing.
    let q = id(0x20);
    let late = tok(&q, T0 + 10 + 31, &[]);
    let before = state(&ledger);
    let err = v.accept(&late, NOW + 2, &ledger).unwrap_err();
    assert_eq!(err.code(), "dag.temporal_order");
    assert_eq!(state(&ledger), before);
}

// ---------------------------------------------------------------------------------------------
// Rejections leave nothing
// ---------------------------------------------------------------------------------------------

/// A token signed by the attacker, a duplicate, and (strict mode) a token with a missing
/// parent: each refused with its exact error, the ledger unchanged.
fn refused(v: &Verifier, ledger: &SqliteLedger, expect_len: u64) {
    let before = state(ledger);
    assert_eq!(before.0, expect_len);
    let bad_sig = EctBuilder::new(ISS_A, EXEC_ACT)
        .audience(AUD)
        .jti(id(0x30))
        .issued_at(T0)
        .expires_at(T0 + LIFETIME)
        .sign(&SigningKey::from_scalar_bytes(KID_A, &[0x44; 32]).unwrap())
        .unwrap();
    assert_eq!(
        v.accept(&bad_sig, NOW, ledger).unwrap_err().code(),
        "sig.invalid"
    );
    assert_eq!(state(ledger), before);
    let orphan = tok(&id(0x31), T0, &[&id(0x32)]);
    assert_eq!(
        v.accept(&orphan, NOW, ledger).unwrap_err(),
        Error::ParentMissing(id(0x32))
    );
    assert_eq!(state(ledger), before);
    if expect_len > 0 {
        let duplicate = tok(&id(1), T0 + 1, &[]);
        assert_eq!(
            v.accept(&duplicate, NOW, ledger).unwrap_err(),
            Error::DuplicateJti(id(1))
        );
        assert_eq!(state(ledger), before);
    }
    // A batch of refused tokens only.
    let results = v.accept_batch(&[&orphan, &bad_sig], NOW, ledger);
    assert_eq!(results[0], Err(Error::ParentMissing(id(0x32))));
    assert_eq!(results[1].as_ref().unwrap_err().code(), "sig.invalid");
    assert_eq!(state(ledger), before);
}

#[test]
fn a_refused_token_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = SqliteLedger::open(db(&dir)).unwrap();
    let v = verifier();
    refused(&v, &ledger, 0);
    accept_ok(&v, &ledger, &tok(&id(1), T0, &[]), NOW);
    accept_ok(&v, &ledger, &tok(&id(2), T0, &[&id(1)]), NOW);
    refused(&v, &ledger, 2);
    assert_eq!(ledger.verify_chain(), Ok(()));
}

#[test]
fn on_first_append_creates_nothing_until_a_token_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let path = db(&dir);
    let ledger = SqliteLedger::open_with(&path, CreateMode::OnFirstAppend).unwrap();
    let v = verifier();
    assert_eq!(state(&ledger), (0, ChainHash::GENESIS, Vec::new()));
    assert_eq!(ledger.get(None, &id(1)), Ok(None));
    assert_eq!(ledger.referrers(None, &id(1), 5), Ok(Vec::new()));
    assert_eq!(ledger.verify_chain(), Ok(()));
    refused(&v, &ledger, 0);
    assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));

    let a = accept_ok(&v, &ledger, &tok(&id(1), T0, &[]), NOW);
    assert_eq!(a.entry.seq(), 0);
    assert!(path.is_file());
    refused(&v, &ledger, 1);
    drop(ledger);
    let reopened = SqliteLedger::open_with(&path, CreateMode::OnFirstAppend).unwrap();
    assert_eq!(reopened.entries().unwrap(), [a.entry]);

    // A missing directory fails at open.
    let err = SqliteLedger::open_with(dir.path().join("no/such.sqlite"), CreateMode::OnFirstAppend)
        .unwrap_err();
    assert_eq!(err.code(), "ledger.io");
    assert!(err.message().contains("cannot create"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Reopening, batches
// ---------------------------------------------------------------------------------------------

#[test]
fn reopen_keeps_everything_and_appends_continue() {
    let dir = tempfile::tempdir().unwrap();
    let path = db(&dir);
    let v = verifier();
    let tokens = five_tokens();
    let before = {
        let ledger = SqliteLedger::open(&path).unwrap();
        for t in &tokens[..3] {
            accept_ok(&v, &ledger, t, NOW);
        }
        state(&ledger)
    };
    let ledger = SqliteLedger::open(&path).unwrap();
    assert_eq!(state(&ledger), before);
    assert_eq!(ledger.verify_chain(), Ok(()));
    // A fresh verifier (a restarted process): the ledger, not a replay cache, refuses the
    // duplicate.
    let v2 = verifier();
    assert_eq!(
        v2.accept(&tokens[0], NOW, &ledger).unwrap_err(),
        Error::DuplicateJti(id(1))
    );
    let a = accept_ok(&v2, &ledger, &tokens[3], NOW + 5);
    assert_eq!(a.entry.seq(), 3);
    assert_eq!(a.entry.prev(), before.1);
    let b = accept_ok(&v2, &ledger, &tokens[4], NOW + 6);
    assert_eq!(b.entry.seq(), 4);
    assert_eq!(ledger.len(), Ok(5));
    assert_eq!(ledger.head(), Ok(b.entry.hash()));
    assert_eq!(ledger.verify_chain(), Ok(()));
    assert_eq!(ledger.entries().unwrap()[..3], before.2[..]);
}

#[test]
fn accept_batch_matches_one_by_one_accepts() {
    let root = tok(&id(1), T0, &[]);
    let tokens = vec![
        root.clone(),
        // Names a parent earlier in the same batch.
        tok(&id(2), T0 + 1, &[&id(1)]),
        // A duplicate of the first token, and another token with the same jti.
        root.clone(),
        tok(&id(1), T0 + 2, &[]),
        // A missing parent (strict mode).
        tok(&id(3), T0, &[&id(9)]),
        "garbage".to_owned(),
        tok(&id(4), T0 + 3, &[&id(2), &id(1)]),
        tok_in(Some(WID), &id(1), T0, &[]),
    ];
    let dir = tempfile::tempdir().unwrap();
    let batched = SqliteLedger::open(dir.path().join("batch.sqlite")).unwrap();
    let single = SqliteLedger::open(dir.path().join("single.sqlite")).unwrap();
    let memory = MemoryLedger::new();
    let batch_results = verifier().accept_batch(&tokens, NOW, &batched);
    let v = verifier();
    let single_results: Vec<Result<Accepted>> =
        tokens.iter().map(|t| v.accept(t, NOW, &single)).collect();
    let memory_results = verifier().accept_batch(&tokens, NOW, &memory);
    assert_eq!(batch_results, single_results);
    assert_eq!(batch_results, memory_results);
    let seqs: Vec<std::result::Result<u64, &str>> = batch_results
        .iter()
        .map(|r| match r {
            Ok(a) => Ok(a.entry.seq()),
            Err(e) => Err(e.code()),
        })
        .collect();
    assert_eq!(
        seqs,
        [
            Ok(0),
            Ok(1),
            Err("dag.duplicate_jti"),
            Err("dag.duplicate_jti"),
            Err("dag.parent_missing"),
            Err("jws.malformed"),
            Ok(2),
            Ok(3),
        ]
    );
    assert_eq!(batched.entries().unwrap(), single.entries().unwrap());
    assert_eq!(batched.entries().unwrap(), memory.entries());
    assert_eq!(batched.head(), Ok(memory.head()));
    assert_eq!(batched.verify_chain(), Ok(()));

    // A batch appended to a ledger that already has entries continues its chain.
    let more = [tok(&id(5), T0, &[&id(4)]), tok(&id(6), T0, &[])];
    let r = verifier().accept_batch(&more, NOW + 1, &batched);
    let m = verifier().accept_batch(&more, NOW + 1, &memory);
    assert_eq!(r, m);
    assert_eq!(r[1].as_ref().unwrap().entry.seq(), 5);
    assert_eq!(batched.entries().unwrap(), memory.entries());
}

// ---------------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------------

const THREADS: usize = 8;

#[test]
fn racing_threads_accept_one_token_once() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = SqliteLedger::open(db(&dir)).unwrap();
    let token = tok(&id(1), T0, &[]);
    let v = verifier();
    let barrier = Barrier::new(THREADS);
    let results: Vec<Result<Accepted>> = thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let (v, ledger, token, barrier) = (&v, &ledger, &token, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    v.accept(token, NOW, ledger)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let winners: Vec<&Accepted> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert_eq!(winners[0].entry.seq(), 0);
    for r in &results {
        if let Err(e) = r {
            assert_eq!(*e, Error::DuplicateJti(id(1)));
        }
    }
    assert_eq!(ledger.len(), Ok(1));
    assert_eq!(ledger.verify_chain(), Ok(()));
}

/// Two handles on one file, each with its own verifier and replay cache (two processes),
/// four threads each, every thread presenting the same 24 tokens (singly and in batches) in
/// its own order: each token is accepted exactly once, the sequence numbers have no gap, and
/// both handles see the same verified chain.
#[test]
fn two_handles_on_one_file_accept_each_token_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = db(&dir);
    let handles = [
        SqliteLedger::open(&path).unwrap(),
        SqliteLedger::open(&path).unwrap(),
    ];
    let verifiers = [verifier(), verifier()];
    let tokens: Vec<String> = (0..24).map(|i| tok(&id(100 + i), T0, &[])).collect();
    let barrier = Barrier::new(THREADS);
    let results: Vec<Vec<Result<Accepted>>> = thread::scope(|s| {
        let joins: Vec<_> = (0..THREADS)
            .map(|t| {
                let (ledger, v) = (&handles[t % 2], &verifiers[t % 2]);
                let mut mine: Vec<&String> = tokens.iter().collect();
                mine.rotate_left(t * 3);
                if t % 4 == 3 {
                    mine.reverse();
                }
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    if t % 2 == 0 {
                        mine.iter().map(|tk| v.accept(tk, NOW, ledger)).collect()
                    } else {
                        mine.chunks(5)
                            .flat_map(|c| v.accept_batch(c, NOW, ledger))
                            .collect::<Vec<_>>()
                    }
                })
            })
            .collect();
        joins.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut accepted: Vec<(u64, String)> = Vec::new();
    for r in results.iter().flatten() {
        match r {
            Ok(a) => accepted.push((a.entry.seq(), a.entry.ect().jti().to_owned())),
            Err(e) => assert_eq!(e.code(), "dag.duplicate_jti", "{e:?}"),
        }
    }
    accepted.sort();
    assert_eq!(accepted.len(), tokens.len());
    let seqs: Vec<u64> = accepted.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, (0..tokens.len() as u64).collect::<Vec<_>>());
    let mut jtis: Vec<&str> = accepted.iter().map(|(_, j)| j.as_str()).collect();
    jtis.sort();
    jtis.dedup();
    assert_eq!(jtis.len(), tokens.len());
    for h in &handles {
        assert_eq!(h.len(), Ok(tokens.len() as u64));
        assert_eq!(h.verify_chain(), Ok(()));
    }
    assert_eq!(handles[0].entries().unwrap(), handles[1].entries().unwrap());
    assert_eq!(handles[0].head(), handles[1].head());
}

// ---------------------------------------------------------------------------------------------
// Append-only triggers, tampering, foreign files
// ---------------------------------------------------------------------------------------------

/// A ledger of three entries at `path`.
fn three_entries(path: &Path) -> SqliteLedger {
    let ledger = SqliteLedger::open(path).unwrap();
    let v = verifier();
    accept_ok(&v, &ledger, &tok(&id(1), T0, &[]), NOW);
    accept_ok(&v, &ledger, &tok(&id(2), T0, &[&id(1)]), NOW);
    accept_ok(&v, &ledger, &tok(&id(3), T0, &[&id(2)]), NOW);
    ledger
}

#[test]
fn triggers_refuse_update_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let path = db(&dir);
    let ledger = three_entries(&path);
    let before = state(&ledger);
    let other = rusqlite::Connection::open(&path).unwrap();
    for (sql, message) in [
        (
            "UPDATE ect_entries SET at = at + 1 WHERE seq = 1",
            "ect_entries is append-only: UPDATE refused",
        ),
        (
            "DELETE FROM ect_entries WHERE seq = 2",
            "ect_entries is append-only: DELETE refused",
        ),
        (
            "UPDATE ect_parents SET parent = 'x'",
            "ect_parents is append-only: UPDATE refused",
        ),
        (
            "DELETE FROM ect_parents",
            "ect_parents is append-only: DELETE refused",
        ),
    ] {
        let err = other.execute(sql, []).unwrap_err();
        assert_eq!(err.to_string(), message, "{sql}");
    }
    // The storage's own uniqueness (the writer stores the pair lower-cased).
    let err = other
        .execute(
            "INSERT INTO ect_entries (seq, at, prev, hash, token, wid, jti) \
             SELECT 3, at, prev, hash, token, wid, jti FROM ect_entries WHERE seq = 0",
            [],
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "UNIQUE constraint failed: ect_entries.wid, ect_entries.jti"
    );
    assert_eq!(state(&ledger), before);
    assert_eq!(ledger.verify_chain(), Ok(()));
}

#[test]
fn an_edited_row_breaks_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = db(&dir);
    let ledger = three_entries(&path);
    let v = verifier();
    let report = ledger.validate_all(v.policy(), Some(&*KEYS));
    assert!(report.is_valid(), "{report:?}");
    let other = rusqlite::Connection::open(&path).unwrap();
    other
        .execute_batch(
            "DROP TRIGGER ect_entries_no_update; \
             UPDATE ect_entries SET at = at + 1 WHERE seq = 1;",
        )
        .unwrap();
    let err = ledger.verify_chain().unwrap_err();
    assert_eq!(err, Error::LedgerChain("entry 1 has a wrong hash".into()));
    assert_eq!(err.code(), "ledger.chain");
    // Lookups of the edited entry fail closed too.
    let err = ledger.get(None, &id(2)).unwrap_err();
    assert_eq!(err.code(), "ledger.chain");
    assert_eq!(ledger.entry(1).unwrap_err().code(), "ledger.chain");
    assert_eq!(
        ledger.referrers(None, &id(1), 5).unwrap_err().code(),
        "ledger.chain"
    );
    assert_eq!(
        v.accept(tok(&id(4), T0, &[&id(2)]), NOW, &ledger)
            .unwrap_err()
            .code(),
        "ledger.chain"
    );
    assert!(!ledger.validate_all(v.policy(), Some(&*KEYS)).is_valid());

    // A removed middle row: a gap in the sequence numbers.
    other
        .execute_batch(
            "DROP TRIGGER ect_entries_no_delete; PRAGMA foreign_keys = OFF; \
             DELETE FROM ect_entries WHERE seq = 1;",
        )
        .unwrap();
    assert_eq!(
        ledger.verify_chain(),
        Err(Error::LedgerChain("entry 1 has sequence number 2".into()))
    );
}

#[test]
fn files_that_are_not_ledgers_are_refused_unchanged() {
    let dir = tempfile::tempdir().unwrap();

    let garbage = dir.path().join("garbage.sqlite");
    let bytes = b"this is not an SQLite database, just text\n".repeat(200);
    std::fs::write(&garbage, &bytes).unwrap();
    let err = SqliteLedger::open(&garbage).unwrap_err();
    assert_eq!(err.code(), "ledger.io");
    assert!(err.message().contains("file is not a database"), "{err}");
    assert_eq!(std::fs::read(&garbage).unwrap(), bytes);

    let foreign = dir.path().join("foreign.sqlite");
    {
        let c = rusqlite::Connection::open(&foreign).unwrap();
        c.execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);")
            .unwrap();
    }
    let bytes = std::fs::read(&foreign).unwrap();
    for mode in [CreateMode::OnOpen, CreateMode::OnFirstAppend] {
        let err = SqliteLedger::open_with(&foreign, mode).unwrap_err();
        assert_eq!(err.code(), "ledger.io");
        assert!(
            err.message()
                .contains("is not a wimse-ect SQLite ledger: application_id is 0x0"),
            "{err}"
        );
    }
    assert_eq!(std::fs::read(&foreign).unwrap(), bytes);
    assert_eq!(names(dir.path()), ["foreign.sqlite", "garbage.sqlite"]);

    // A ledger of a schema version this library does not read.
    let newer = dir.path().join("newer.sqlite");
    drop(SqliteLedger::open(&newer).unwrap());
    rusqlite::Connection::open(&newer)
        .unwrap()
        .pragma_update(None, "user_version", 3)
        .unwrap();
    let err = SqliteLedger::open(&newer).unwrap_err();
    assert_eq!(err.code(), "ledger.io");
    assert!(
        err.message().contains(
            "schema version (user_version) 3, this library reads version 2 (and upgrades version 1)"
        ),
        "{err}"
    );

    // A directory; an empty file is given the schema.
    assert_eq!(
        SqliteLedger::open(dir.path()).unwrap_err().code(),
        "ledger.io"
    );
    let empty = dir.path().join("empty.sqlite");
    std::fs::write(&empty, b"").unwrap();
    let ledger = SqliteLedger::open(&empty).unwrap();
    accept_ok(&verifier(), &ledger, &tok(&id(1), T0, &[]), NOW);
    assert_eq!(ledger.len(), Ok(1));
}

#[test]
fn debug_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = SqliteLedger::open(db(&dir)).unwrap();
    assert_eq!(
        format!("{ledger:?}"),
        format!("SqliteLedger {{ path: {:?}, .. }}", db(&dir))
    );
}

/// `RawEntry` values read back equal the entries' own.
#[test]
fn read_returns_the_stored_fields() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = three_entries(&db(&dir));
    let raws: Vec<RawEntry> = ledger.entries().unwrap().iter().map(|e| e.raw()).collect();
    assert_eq!(ledger.read(0, 10).unwrap(), raws);
    assert_eq!(ledger.read(1, 1).unwrap(), raws[1..2]);
}

/// Handles opened with `CreateMode::OnFirstAppend` on a path that does not exist yet, as
/// processes started together would: each handle's first append races to create the file.
/// A handle whose first token is refused by the ledger's checks (a missing parent) while it
/// created the file removes it only while it is still empty, and the others, finding the path changed under their write
/// lock, open it again before checking anything. In the end: one file, each token accepted
/// once, a gap-free sequence, an intact chain. Repeated, since the interleavings differ.
#[test]
fn handles_racing_to_create_the_file_share_one_ledger() {
    for round in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let path = db(&dir);
        let handles: Vec<SqliteLedger> = (0..4)
            .map(|_| SqliteLedger::open_with(&path, CreateMode::OnFirstAppend).unwrap())
            .collect();
        let tokens: Vec<String> = (0..12).map(|i| tok(&id(900 + i), T0, &[])).collect();
        let orphan = tok(&id(999), T0, &[&id(998)]);
        let barrier = Barrier::new(handles.len());
        let results: Vec<Vec<Result<Accepted>>> = thread::scope(|s| {
            let joins: Vec<_> = handles
                .iter()
                .enumerate()
                .map(|(h, ledger)| {
                    let (barrier, tokens, orphan) = (&barrier, &tokens, &orphan);
                    s.spawn(move || {
                        let v = verifier();
                        barrier.wait();
                        let mut out = Vec::new();
                        if h % 2 == 1 {
                            // A first append that appends nothing.
                            out.push(v.accept(orphan, NOW, ledger));
                        }
                        out.extend(tokens.iter().map(|t| v.accept(t, NOW, ledger)));
                        out
                    })
                })
                .collect();
            joins.into_iter().map(|j| j.join().unwrap()).collect()
        });
        let mut seqs = Vec::new();
        for r in results.iter().flatten() {
            match r {
                Ok(a) => seqs.push(a.entry.seq()),
                Err(e) => assert!(
                    ["dag.duplicate_jti", "dag.parent_missing"].contains(&e.code()),
                    "round {round}: {e:?}"
                ),
            }
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (0..12).collect::<Vec<u64>>(), "round {round}");
        for ledger in &handles {
            assert_eq!(ledger.len(), Ok(12), "round {round}");
            assert_eq!(ledger.verify_chain(), Ok(()), "round {round}");
        }
        drop(handles);
        let reopened = SqliteLedger::open(&path).unwrap();
        assert_eq!(reopened.len(), Ok(12), "round {round}");
    }
}

/// A ledger written before profile `draft-01` (schema version 1: no `ect_entries_by_jti`, no
/// `ect_parent_scopes`, no `ect_profile`) is upgraded when opened: its existing parent rows are
/// indexed and it records profile `draft-00` (the only one before); it then answers the
/// workflow-consistency lookups exactly and refuses to be opened as `draft-01`.
#[test]
fn a_version_1_ledger_is_upgraded_when_opened() {
    use wimse_ect::{DRAFT_00, DRAFT_01, Profile};
    let dir = tempfile::tempdir().unwrap();
    let path = db(&dir);
    let (w1, w2) = (wid(1), wid(2));
    let v = verifier_with(partial_policy());
    let open = |profile: Profile| SqliteLedger::open_profile(&path, CreateMode::OnOpen, profile);
    {
        let ledger = open(DRAFT_00).unwrap();
        accept_ok(&v, &ledger, &tok_in(Some(&w1), &id(1), T0, &[]), NOW);
        // Names a parent held nowhere yet (partial mode).
        accept_ok(&v, &ledger, &tok_in(Some(&w2), &id(2), T0, &[&id(3)]), NOW);
    }
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "DROP TABLE ect_parent_scopes; DROP TABLE ect_profile; \
             DROP INDEX ect_entries_by_jti; PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    assert_eq!(
        open(DRAFT_01).map(|_| ()),
        Err(Error::LedgerProfile {
            ledger: "draft-00",
            verifier: "draft-01",
        })
    );
    let ledger = open(DRAFT_00).unwrap();
    let c = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = c
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    let profile: String = c
        .query_row("SELECT profile FROM ect_profile", [], |r| r.get(0))
        .unwrap();
    assert_eq!((version, profile.as_str()), (2, "draft-00"));
    assert_upgraded_lookups(&ledger, &w1, &w2);
}

/// A database ledger records its profile: a process of another profile cannot open it, so
/// the two never mix tokens in one ledger.
#[test]
fn a_ledger_refuses_to_open_under_another_profile() {
    use wimse_ect::{DRAFT_00, DRAFT_01};
    let dir = tempfile::tempdir().unwrap();
    let path = db(&dir);
    drop(SqliteLedger::open_profile(&path, CreateMode::OnOpen, DRAFT_01).unwrap());
    let before = std::fs::read(&path).unwrap();
    for mode in [CreateMode::OnOpen, CreateMode::OnFirstAppend] {
        assert_eq!(
            SqliteLedger::open_profile(&path, mode, DRAFT_00).map(|_| ()),
            Err(Error::LedgerProfile {
                ledger: "draft-01",
                verifier: "draft-00",
            })
        );
    }
    assert_eq!(
        SqliteLedger::open(&path).map(|_| ()).unwrap_err().code(),
        "ledger.profile"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let reopened = SqliteLedger::open_profile(&path, CreateMode::OnOpen, DRAFT_01).unwrap();
    assert_eq!(reopened.len(), Ok(0));
}
