//! SPEC.md §8 (audit ledger): ECT-LED-1..4 on `MemoryLedger` (and `FileLedger` in a temporary
//! directory where the acceptance pipeline or concurrency is concerned), the whole-ledger audit
//! (`audit`, `Ledger::validate_all`), and concurrent acceptance.
//!
//! File corruption of `FileLedger` (torn tails, edited bytes on disk) is covered separately in
//! tests/api/ledger_file.rs; here the tampering is done on `RawEntry` values given to `audit`.
//!
//! Time model: tokens are accepted at `NOW` (or a few seconds later) unless a test says
//! otherwise; `iat` values lie in `(NOW - 630, NOW + 30]` so that the per-token time rules
//! pass with the defaults.

use std::path::Path;
use std::sync::{Arc, Barrier, LazyLock};
use std::thread;

use crate::common::*;
use wimse_ect::{
    Accepted, AuditReport, ChainHash, DagValidator, EctBuilder, Error, FileLedger, KeyResolver,
    KeySet, Ledger, LedgerAudit, LedgerEntry, MemoryLedger, MemoryReplayCache, MissingParent,
    Policy, PolicyDecision, RawEntry, Result, SigningKey, Verifier, audit,
};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Agent A's key, derived once.
static KEY: LazyLock<SigningKey> = LazyLock::new(key_a);
/// The trusted keys, for audits.
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

fn strict_policy() -> Policy {
    policy_with(DagValidator::new())
}

fn partial_policy() -> Policy {
    policy_with(DagValidator::partial())
}

fn accept_ok<L: Ledger>(v: &Verifier, ledger: &L, token: &str, now: u64) -> Accepted {
    v.accept(token, now, ledger)
        .unwrap_or_else(|e| panic!("expected acceptance, got {e:?}"))
}

fn pair(e: &Error) -> (&'static str, &'static str) {
    (e.code(), e.rule())
}

/// Each entry as a `RawEntry`, the input of `audit`.
fn raws_of(entries: &[Arc<LedgerEntry>]) -> Vec<RawEntry> {
    entries
        .iter()
        .map(|e| RawEntry {
            seq: e.seq(),
            at: e.accepted_at(),
            prev: e.prev(),
            hash: e.hash(),
            token: e.ect().token().to_owned(),
        })
        .collect()
}

/// Raw entries with a valid hash chain holding `tokens`, each accepted at `at`.
fn chained(tokens: &[&str], at: u64) -> Vec<RawEntry> {
    let mut prev = ChainHash::GENESIS;
    tokens
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let seq = i as u64;
            let hash = ChainHash::of_entry(seq, at, &prev, t);
            let raw = RawEntry {
                seq,
                at,
                prev,
                hash,
                token: t.to_string(),
            };
            prev = hash;
            raw
        })
        .collect()
}

fn audit_raws(raws: &[RawEntry], policy: &Policy, keys: Option<&dyn KeyResolver>) -> AuditReport {
    let input: Vec<Result<RawEntry>> = raws.iter().cloned().map(Ok).collect();
    audit(&input, policy, keys)
}

/// Findings as `(seq, jti, error)`.
fn findings(r: &AuditReport) -> Vec<(u64, Option<String>, Error)> {
    r.findings
        .iter()
        .map(|f| (f.seq, f.jti.clone(), f.error.clone()))
        .collect()
}

/// Findings as `(seq, code, rule)`, for errors whose message is not part of the contract.
fn finding_codes(r: &AuditReport) -> Vec<(u64, &'static str, &'static str)> {
    r.findings
        .iter()
        .map(|f| (f.seq, f.error.code(), f.error.rule()))
        .collect()
}

/// The file content a ledger with these entries must have.
fn file_bytes(entries: &[Arc<LedgerEntry>]) -> Vec<u8> {
    entries
        .iter()
        .flat_map(|e| format!("{}\n", e.to_line()).into_bytes())
        .collect()
}

fn write_lines(path: &Path, raws: &[RawEntry]) {
    let text: String = raws.iter().map(|r| format!("{}\n", r.to_line())).collect();
    std::fs::write(path, text).expect("write ledger file");
}

// ---------------------------------------------------------------------------------------------
// ECT-LED-1: append-only, sequence numbers in append order
// ---------------------------------------------------------------------------------------------

/// Five tokens (three roots, a child of two of them, a grandchild), accepted at NOW + i.
fn five_tokens() -> Vec<String> {
    vec![
        tok(&id(1), T0, &[]),
        tok(&id(2), T0, &[]),
        tok(&id(3), T0 + 10, &[&id(1), &id(2)]),
        tok(&id(4), T0, &[]),
        tok(&id(5), T0 + 20, &[&id(3)]),
    ]
}

fn check_led_1<L: Ledger>(ledger: &L, tokens: &[String]) {
    let v = verifier();
    assert_eq!(ledger.len().unwrap(), 0);
    assert!(ledger.is_empty().unwrap());
    assert_eq!(ledger.head().unwrap(), ChainHash::GENESIS);
    assert_eq!(ledger.entries().unwrap().len(), 0);
    assert_eq!(ledger.entry(0).unwrap(), None);
    assert_eq!(ledger.verify_chain(), Ok(()));

    let mut snapshot = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        let a = accept_ok(&v, ledger, t, NOW + i as u64);
        assert_eq!(a.entry.seq(), i as u64);
        assert_eq!(a.entry.accepted_at(), NOW + i as u64);
        assert_eq!(ledger.len().unwrap(), i as u64 + 1);
        assert_eq!(ledger.head().unwrap(), a.entry.hash());
        if i == 2 {
            snapshot = ledger.entries().unwrap();
        }
    }
    // A snapshot is not affected by later appends, and its entries are unchanged.
    let entries = ledger.entries().unwrap();
    assert_eq!(snapshot.len(), 3);
    assert_eq!(snapshot[..], entries[..3]);
    assert_eq!(entries.len(), tokens.len());
    assert!(!ledger.is_empty().unwrap());
    let mut prev = ChainHash::GENESIS;
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.seq(), i as u64);
        assert_eq!(ledger.entry(i as u64).unwrap().as_ref(), Some(e));
        assert_eq!(e.ect().token(), tokens[i]);
        assert_eq!(e.prev(), prev);
        assert_eq!(
            e.hash(),
            ChainHash::of_entry(i as u64, NOW + i as u64, &prev, &tokens[i])
        );
        prev = e.hash();
    }
    assert_eq!(entries[0].prev(), ChainHash::GENESIS);
    assert_eq!(ledger.head().unwrap(), prev);
    assert_eq!(ledger.entry(tokens.len() as u64).unwrap(), None);
    assert_eq!(ledger.entry(u64::MAX).unwrap(), None);
    assert_eq!(ledger.verify_chain(), Ok(()));
}

#[test]
fn ect_led_1_sequence_numbers_and_chain_links_memory() {
    check_led_1(&MemoryLedger::new(), &five_tokens());
}

#[test]
fn ect_led_1_file_ledger_matches_memory_ledger() {
    let tokens = five_tokens();
    let memory = MemoryLedger::new();
    check_led_1(&memory, &tokens);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.jsonl");
    {
        let file = FileLedger::open(&path).unwrap();
        assert_eq!(file.torn_tail(), None);
        check_led_1(&file, &tokens);
        // Same tokens at the same times: the same entries, byte for byte.
        assert_eq!(file.entries(), memory.entries());
        assert_eq!(file.head(), memory.head());
        assert_eq!(std::fs::read(&path).unwrap(), file_bytes(&memory.entries()));
    }
    // Reopened: the same entries.
    let reopened = FileLedger::open(&path).unwrap();
    assert_eq!(reopened.entries(), memory.entries());
    assert_eq!(reopened.head(), memory.head());
}

#[test]
fn ect_led_1_entry_line_is_canonical() {
    let ledger = MemoryLedger::new();
    let token = tok(&id(1), T0, &[]);
    let a = accept_ok(&verifier(), &ledger, &token, NOW);
    let hash = ChainHash::of_entry(0, NOW, &ChainHash::GENESIS, &token);
    assert_eq!(
        a.entry.to_line(),
        format!(
            r#"{{"seq":0,"at":{NOW},"prev":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","hash":"{hash}","token":"{token}"}}"#
        )
    );
    let raw = RawEntry::parse_line(a.entry.to_line().as_bytes()).unwrap();
    assert_eq!(raw, raws_of(&ledger.entries())[0]);
    assert_eq!(raw.expected_hash(), hash);
    assert_eq!(ChainHash::parse(&hash.to_string()), Some(hash));
}

// ---------------------------------------------------------------------------------------------
// ECT-LED-2: lookup by jti in scope
// ---------------------------------------------------------------------------------------------

#[test]
fn ect_led_2_lookup_in_scope_returns_the_stored_token() {
    let ledger = MemoryLedger::new();
    let v = verifier();
    // Ids with hex letters, so that their upper-case forms differ.
    let (j, k) = (id(0xab1), id(0xab2));
    let (w1, w2) = (wid(0xcd1), wid(0xcd2));
    assert_ne!(j.to_uppercase(), j);
    assert_ne!(w1.to_uppercase(), w1);
    let plain = tok(&j, T0, &[]);
    let in_w1 = sign(&ect(&j, T0 + 1).wid(&w1));
    let k_in_w1 = sign(&ect(&k, T0 + 2).wid(&w1).parent(&j));
    for t in [&plain, &in_w1, &k_in_w1] {
        accept_ok(&v, &ledger, t, NOW);
    }
    let got = ledger.get(None, &j).unwrap();
    assert_eq!(got.token(), plain);
    assert_eq!(got.jti(), j);
    assert_eq!(got.wid(), None);
    assert_eq!(*got.claims(), ect(&j, T0).build().unwrap());
    assert_eq!(got, *ledger.entry(0).unwrap().ect());

    let got = ledger.get(Some(&w1), &j).unwrap();
    assert_eq!(got.token(), in_w1);
    assert_eq!(got.wid(), Some(w1.as_str()));
    let got = ledger.get(Some(&w1), &k).unwrap();
    assert_eq!(got.token(), k_in_w1);
    assert_eq!(got.claims().par, vec![j.clone()]);

    // Other scopes miss.
    assert_eq!(ledger.get(Some(&w2), &j), None);
    assert_eq!(ledger.get(None, &k), None);
    assert_eq!(ledger.get(Some(&w1), &id(0xab3)), None);
    assert_eq!(ledger.get(Some(""), &j), None);
    // ECT-CLM-5: identifiers compare case-insensitively; the stored token keeps its bytes.
    assert_eq!(ledger.get(None, &j.to_uppercase()).unwrap().token(), plain);
    assert_eq!(
        ledger
            .get(Some(&w1.to_uppercase()), &k.to_uppercase())
            .unwrap()
            .token(),
        k_in_w1
    );
    assert_eq!(ledger.get(Some(&w2.to_uppercase()), &j), None);
}

#[test]
fn ect_led_2_lookup_after_reopening_a_file_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.jsonl");
    let w = wid(1);
    let a = tok(&id(1), T0, &[]);
    let b = sign(&ect(&id(1), T0).wid(&w));
    {
        let ledger = FileLedger::open(&path).unwrap();
        accept_ok(&verifier(), &ledger, &a, NOW);
        accept_ok(&verifier(), &ledger, &b, NOW);
    }
    let ledger = FileLedger::open(&path).unwrap();
    assert_eq!(ledger.get(None, &id(1)).unwrap().token(), a);
    assert_eq!(ledger.get(Some(&w), &id(1)).unwrap().token(), b);
    assert_eq!(ledger.get(Some(&wid(2)), &id(1)), None);
    let (copy, torn) = FileLedger::read(&path).unwrap();
    assert_eq!(torn, None);
    assert_eq!(copy.get(Some(&w), &id(1)).unwrap().token(), b);
}

// ---------------------------------------------------------------------------------------------
// ECT-LED-3: only accepted tokens are appended; a rejection changes nothing; duplicates
// ---------------------------------------------------------------------------------------------

type Snapshot = (
    u64,
    ChainHash,
    Vec<Arc<LedgerEntry>>,
    usize,
    Option<Vec<u8>>,
);

fn snapshot<L: Ledger>(ledger: &L, cache: &MemoryReplayCache, file: Option<&Path>) -> Snapshot {
    (
        ledger.len().unwrap(),
        ledger.head().unwrap(),
        ledger.entries().unwrap(),
        cache.len(),
        file.map(|p| std::fs::read(p).unwrap()),
    )
}

/// Every kind of rejection leaves the ledger (and its file) and the replay cache unchanged.
fn check_rejections_change_nothing<L: Ledger>(ledger: &L, file: Option<&Path>) {
    let cache = Arc::new(MemoryReplayCache::new());
    let strict = verifier_with(strict_policy()).with_replay_cache(cache.clone());
    let mut tight = DagValidator::partial();
    tight.ancestor_budget = 1;
    let partial = verifier_with(policy_with(tight)).with_replay_cache(cache.clone());
    let roomy = verifier_with(partial_policy()).with_replay_cache(cache.clone());

    // The ledger: R; Pr (rejected); A -> X (missing); C1 <- C2; B -> Y (missing).
    let (r, pr, a, x, c1, c2, b, y) = (id(1), id(2), id(3), id(4), id(5), id(6), id(7), id(8));
    let setup = [
        tok(&r, T0, &[]),
        sign(&ect(&pr, T0).policy("spend-limit", PolicyDecision::Rejected)),
        tok(&a, T0, &[&x]),
        tok(&c1, T0, &[]),
        tok(&c2, T0, &[&c1]),
        tok(&b, T0, &[&y]),
    ];
    for t in &setup {
        accept_ok(&partial, ledger, t, NOW);
    }
    assert_eq!(cache.len(), setup.len());

    // A token first seen through verify() by another verifier sharing the cache.
    let seen = tok(&id(20), T0, &[]);
    verifier()
        .with_replay_cache(cache.clone())
        .verify(&seen, NOW)
        .unwrap();

    let mut bad_signature = claims(T0);
    bad_signature.insert("jti".into(), id(21).into());
    let cases: Vec<(&str, &Verifier, String, u64, Error)> = vec![
        (
            "bad signature",
            &strict,
            sign_json(&header(KID_A), &bad_signature, &key_b()),
            NOW,
            Error::SignatureInvalid,
        ),
        (
            "expired",
            &strict,
            tok(&id(22), T0, &[]),
            T0 + LIFETIME + 30,
            Error::Expired,
        ),
        (
            "audience mismatch",
            &strict,
            sign(&ect(&id(23), T0).audience("spiffe://example.org/other")),
            NOW,
            Error::AudienceMismatch,
        ),
        (
            "DAG-1",
            &strict,
            tok(&r, T0 + 1, &[]),
            NOW,
            Error::DuplicateJti(r.clone()),
        ),
        (
            "DAG-2",
            &strict,
            tok(&id(24), T0, &[&r, &id(99)]),
            NOW,
            Error::ParentMissing(id(99)),
        ),
        (
            "DAG-3",
            &strict,
            tok(&id(25), T0 - 31, &[&r]),
            NOW,
            Error::TemporalOrder {
                parent: r.clone(),
                parent_iat: T0,
                child_iat: T0 - 31,
            },
        ),
        (
            "DAG-4",
            &roomy,
            tok(&x, T0, &[&a]),
            NOW,
            Error::Cycle(a.clone()),
        ),
        (
            "DAG-5",
            &partial,
            tok(&y, T0, &[&c2]),
            NOW,
            Error::AncestorBudget(1),
        ),
        (
            "DAG-6",
            &strict,
            tok(&id(26), T0, &[&pr]),
            NOW,
            Error::ParentPolicy {
                parent: pr.clone(),
                decision: PolicyDecision::Rejected,
            },
        ),
        ("replay", &strict, seen.clone(), NOW, Error::Replay),
    ];
    for (name, v, token, now, expected) in &cases {
        let before = snapshot(ledger, &cache, file);
        assert_eq!(
            v.accept(token, *now, ledger).map(|a| a.entry.seq()),
            Err(expected.clone()),
            "{name}"
        );
        assert_eq!(snapshot(ledger, &cache, file), before, "{name}");
    }
    assert_eq!(cache.len(), setup.len() + 1);

    // The ledger still works: the next accepted token gets the next sequence number, and every
    // rejected jti is still free.
    let next = accept_ok(&strict, ledger, &tok(&id(24), T0, &[&r]), NOW);
    assert_eq!(next.entry.seq(), setup.len() as u64);
    for jti in [id(21), id(22), id(23), id(25), id(26), x, y] {
        assert_eq!(ledger.get(None, &jti).unwrap(), None, "{jti}");
    }
    // The rejected DAG-2 token's missing parent was not recorded as referenced.
    assert_eq!(ledger.referrers(None, &id(99), usize::MAX).unwrap(), vec![]);
    assert_eq!(ledger.verify_chain(), Ok(()));
    if let Some(path) = file {
        assert_eq!(
            std::fs::read(path).unwrap(),
            file_bytes(&ledger.entries().unwrap())
        );
    }
}

#[test]
fn ect_led_3_rejections_leave_memory_ledger_unchanged() {
    check_rejections_change_nothing(&MemoryLedger::new(), None);
}

#[test]
fn ect_led_3_rejections_leave_file_ledger_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.jsonl");
    let ledger = FileLedger::open(&path).unwrap();
    check_rejections_change_nothing(&ledger, Some(&path));
}

#[test]
fn ect_led_3_audit_reports_duplicate_jti() {
    let j = id(1);
    let first = tok(&j, T0, &[]);
    let second = tok(&j, T0 + 1, &[]);
    let other_scope = sign(&ect(&j, T0 + 2).wid(wid(1)));
    let raws = chained(&[&first, &other_scope, &second, &first], NOW);
    let report = audit_raws(&raws, &strict_policy(), keys());
    // Entries 2 and 3 repeat entry 0's (no-wid, jti); entry 1 is in another scope.
    assert_eq!(
        findings(&report),
        vec![
            (2, Some(j.clone()), Error::LedgerDuplicate(j.clone())),
            (3, Some(j.clone()), Error::LedgerDuplicate(j.clone())),
        ]
    );
    assert_eq!(
        pair(&report.findings[0].error),
        ("ledger.duplicate", "ECT-LED-3")
    );
    assert_eq!(report.entries, 4);
    assert_eq!(report.head, Some(raws[3].hash));
    assert!(!report.is_valid());
}

#[test]
fn ect_led_3_file_ledger_refuses_a_file_with_a_duplicate() {
    let j = id(1);
    let raws = chained(&[&tok(&j, T0, &[]), &tok(&j, T0 + 1, &[])], NOW);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.jsonl");
    write_lines(&path, &raws);
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        FileLedger::open(&path).map(|l| l.len()),
        Err(Error::LedgerDuplicate(j.clone()))
    );
    assert_eq!(
        FileLedger::read(&path).map(|(l, _)| l.len()),
        Err(Error::LedgerDuplicate(j.clone()))
    );
    // Refusing the file leaves it untouched.
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}

// ---------------------------------------------------------------------------------------------
// ECT-LED-4: tamper evidence and the whole-ledger audit
// ---------------------------------------------------------------------------------------------

/// A real ledger of four roots, accepted at NOW .. NOW + 3, and its raw entries.
fn four_roots() -> (MemoryLedger, Vec<RawEntry>) {
    let ledger = MemoryLedger::new();
    let v = verifier();
    for i in 0..4u64 {
        accept_ok(&v, &ledger, &tok(&id(i + 1), T0 + i, &[]), NOW + i);
    }
    let raws = raws_of(&ledger.entries());
    (ledger, raws)
}

fn chain_error(msg: &str) -> Error {
    Error::LedgerChain(msg.to_owned())
}

#[test]
fn ect_led_4_real_ledger_verifies() {
    let (ledger, raws) = four_roots();
    assert_eq!(ledger.verify_chain(), Ok(()));
    let report = audit_raws(&raws, &strict_policy(), keys());
    assert_eq!(report.findings.len(), 0);
    assert_eq!(report.missing_parents.len(), 0);
    assert_eq!(report.entries, 4);
    assert_eq!(report.head, Some(ledger.head()));
    assert!(report.is_valid());
    assert_eq!(ledger.validate_all(&strict_policy(), keys()), report);
}

#[test]
fn ect_led_4_audit_detects_an_edited_token() {
    let (_, mut raws) = four_roots();
    // Another valid token in place of entry 1, hashes untouched.
    raws[1].token = tok(&id(9), T0, &[]);
    let report = audit_raws(&raws, &strict_policy(), keys());
    assert_eq!(
        findings(&report),
        vec![(1, Some(id(9)), chain_error("entry 1 has a wrong hash"))]
    );
    assert_eq!(
        pair(&report.findings[0].error),
        ("ledger.chain", "ECT-LED-4")
    );
    // An edited acceptance time likewise.
    let (_, mut raws) = four_roots();
    raws[3].at += 1;
    assert_eq!(
        finding_codes(&audit_raws(&raws, &strict_policy(), keys())),
        vec![(3, "ledger.chain", "ECT-LED-4")]
    );
}

#[test]
fn ect_led_4_audit_detects_a_wrong_prev_and_a_wrong_seq() {
    let (_, mut raws) = four_roots();
    raws[2].prev = raws[0].hash;
    assert_eq!(
        findings(&audit_raws(&raws, &strict_policy(), keys())),
        vec![(
            2,
            Some(id(3)),
            chain_error("entry 2 does not link to the previous entry's hash")
        )]
    );
    let (_, mut raws) = four_roots();
    raws[2].seq = 7;
    assert_eq!(
        findings(&audit_raws(&raws, &strict_policy(), keys())),
        vec![(2, Some(id(3)), chain_error("entry 2 has sequence number 7"))]
    );
    // A wrong prev with the hash recomputed over it: the next entry no longer links.
    let (_, mut raws) = four_roots();
    raws[2].prev = ChainHash([7; 32]);
    raws[2].hash = raws[2].expected_hash();
    assert_eq!(
        finding_codes(&audit_raws(&raws, &strict_policy(), keys())),
        vec![
            (2, "ledger.chain", "ECT-LED-4"),
            (3, "ledger.chain", "ECT-LED-4")
        ]
    );
}

#[test]
fn ect_led_4_audit_detects_reordered_and_removed_entries() {
    let (_, mut raws) = four_roots();
    raws.swap(1, 2);
    assert_eq!(
        findings(&audit_raws(&raws, &strict_policy(), keys())),
        vec![
            (1, Some(id(3)), chain_error("entry 1 has sequence number 2")),
            (2, Some(id(2)), chain_error("entry 2 has sequence number 1")),
            // The entry after the swapped pair links to the hash of the one now before it.
            (
                3,
                Some(id(4)),
                chain_error("entry 3 does not link to the previous entry's hash")
            ),
        ]
    );
    // A removed middle entry.
    let (_, mut raws) = four_roots();
    raws.remove(1);
    assert_eq!(
        finding_codes(&audit_raws(&raws, &strict_policy(), keys())),
        vec![
            (1, "ledger.chain", "ECT-LED-4"),
            (2, "ledger.chain", "ECT-LED-4")
        ]
    );
    // Removed and renumbered: the gap in the chain is still found.
    for (i, r) in raws.iter_mut().enumerate() {
        r.seq = i as u64;
    }
    assert_eq!(
        findings(&audit_raws(&raws, &strict_policy(), keys())),
        vec![
            (
                1,
                Some(id(3)),
                chain_error("entry 1 does not link to the previous entry's hash")
            ),
            (2, Some(id(4)), chain_error("entry 2 has a wrong hash")),
        ]
    );
    // A removed first entry.
    let (_, mut raws) = four_roots();
    raws.remove(0);
    let codes = finding_codes(&audit_raws(&raws, &strict_policy(), keys()));
    assert_eq!(codes.len(), 3);
    assert!(codes.iter().all(|c| c.1 == "ledger.chain"));
}

#[test]
fn ect_led_4_audit_reports_every_bad_entry() {
    let (r, pr) = (id(1), id(5));
    let mut forged = claims(T0);
    forged.insert("jti".into(), id(4).into());
    let tokens = [
        // 0: fine.
        tok(&r, T0, &[]),
        // 1: wrong audience (ECT-AUD-1).
        sign(&ect(&id(2), T0).audience("spiffe://example.org/other")),
        // 2: fine, a child of 0.
        tok(&id(3), T0 + 1, &[&r]),
        // 3: signed with B's key under A's kid (ECT-SIG-2, only checked with keys).
        sign_json(&header(KID_A), &forged, &key_b()),
        // 4: expired at the acceptance time NOW (ECT-TIME-2).
        tok(&id(6), NOW - 700, &[]),
        // 5: a rejected task, fine itself; 6: its child (ECT-DAG-6).
        sign(&ect(&pr, T0).policy("p", PolicyDecision::Rejected)),
        tok(&id(7), T0 + 2, &[&pr]),
        // 7: fine, a child of 2.
        tok(&id(8), T0 + 3, &[&id(3)]),
    ];
    let refs: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let raws = chained(&refs, NOW);
    let with_keys = audit_raws(&raws, &strict_policy(), keys());
    assert_eq!(
        finding_codes(&with_keys),
        vec![
            (1, "aud.mismatch", "ECT-AUD-1"),
            (3, "sig.invalid", "ECT-SIG-2"),
            (4, "time.expired", "ECT-TIME-2"),
            (6, "dag.parent_policy", "ECT-DAG-6"),
        ]
    );
    assert_eq!(
        with_keys.findings[3].error,
        Error::ParentPolicy {
            parent: pr.clone(),
            decision: PolicyDecision::Rejected,
        }
    );
    assert_eq!(with_keys.findings[0].jti, None);
    assert_eq!(with_keys.findings[3].jti, Some(id(7)));
    // Without keys the signature is not checked: the three other findings remain.
    let without_keys = audit_raws(&raws, &strict_policy(), None);
    assert_eq!(
        finding_codes(&without_keys),
        vec![
            (1, "aud.mismatch", "ECT-AUD-1"),
            (4, "time.expired", "ECT-TIME-2"),
            (6, "dag.parent_policy", "ECT-DAG-6"),
        ]
    );
    assert_eq!(without_keys.entries, 8);
}

#[test]
fn ect_led_4_audit_reports_planted_cycles_on_their_members() {
    // Raw entries with a valid chain: A <-> B (a 2-cycle), C descends from it, D is a root;
    // E -> F -> G -> E (a 3-cycle), H descends from it.
    let (a, b, c, d, e, f, g, h) = (id(1), id(2), id(3), id(4), id(5), id(6), id(7), id(8));
    let tokens = [
        tok(&a, T0, &[&b]),
        tok(&b, T0, &[&a]),
        tok(&c, T0, &[&a]),
        tok(&d, T0, &[]),
        tok(&e, T0, &[&f]),
        tok(&f, T0, &[&g]),
        tok(&g, T0, &[&e]),
        tok(&h, T0, &[&g, &d]),
    ];
    let refs: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let raws = chained(&refs, NOW);
    let cycle =
        |seq: u64, jti: &str, via: &str| (seq, Some(jti.to_owned()), Error::Cycle(via.to_owned()));
    let missing = |seq: u64, jti: &str, p: &str| {
        (
            seq,
            Some(jti.to_owned()),
            Error::ParentMissing(p.to_owned()),
        )
    };

    // Partial mode allows a parent accepted after its child: only the cycles are findings.
    let report = audit_raws(&raws, &partial_policy(), keys());
    assert_eq!(
        findings(&report),
        vec![
            cycle(0, &a, &b),
            cycle(1, &b, &a),
            cycle(4, &e, &f),
            cycle(5, &f, &g),
            cycle(6, &g, &e),
        ]
    );
    assert_eq!(report.missing_parents.len(), 0);
    assert_eq!(pair(&report.findings[0].error), ("dag.cycle", "ECT-DAG-4"));
    // Strict mode: a parent must be an earlier entry (DAG-2), reported before DAG-4.
    let report = audit_raws(&raws, &strict_policy(), keys());
    assert_eq!(
        findings(&report),
        vec![
            missing(0, &a, &b),
            cycle(0, &a, &b),
            cycle(1, &b, &a),
            missing(4, &e, &f),
            cycle(4, &e, &f),
            missing(5, &f, &g),
            cycle(5, &f, &g),
            cycle(6, &g, &e),
        ]
    );

    // A ledger file holding such a cycle still loads (the chain is valid), and validate_all
    // reports the same.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.jsonl");
    write_lines(&path, &raws);
    let (loaded, torn) = FileLedger::read(&path).unwrap();
    assert_eq!(torn, None);
    assert_eq!(loaded.verify_chain(), Ok(()));
    assert_eq!(
        loaded.validate_all(&partial_policy(), keys()),
        audit_raws(&raws, &partial_policy(), keys())
    );
}

#[test]
fn ect_led_4_strict_and_partial_missing_parents() {
    // A real ledger accepted in partial mode.
    let ledger = MemoryLedger::new();
    let v = verifier_with(partial_policy());
    let (r, m1, m2, m3) = (id(1), id(11), id(12), id(13));
    accept_ok(&v, &ledger, &tok(&r, T0, &[]), NOW);
    accept_ok(&v, &ledger, &tok(&id(2), T0, &[&m1, &r, &m2]), NOW);
    accept_ok(&v, &ledger, &tok(&id(3), T0, &[&m3]), NOW);

    let report = ledger.validate_all(&partial_policy(), keys());
    assert!(report.is_valid());
    let mp = |seq: u64, parent: &str| MissingParent {
        seq,
        parent: parent.to_owned(),
    };
    assert_eq!(
        report.missing_parents,
        vec![mp(1, &m1), mp(1, &m2), mp(2, &m3)]
    );

    // Strict: each child's first missing parent is a finding; nothing is listed as missing.
    let report = ledger.validate_all(&strict_policy(), keys());
    assert_eq!(
        findings(&report),
        vec![
            (1, Some(id(2)), Error::ParentMissing(m1.clone())),
            (2, Some(id(3)), Error::ParentMissing(m3.clone())),
        ]
    );
    assert_eq!(report.missing_parents.len(), 0);

    // A parent accepted after its child: allowed in partial mode (and not missing), a
    // finding in strict mode.
    let raws = chained(&[&tok(&id(2), T0, &[&r]), &tok(&r, T0, &[])], NOW);
    let report = audit_raws(&raws, &partial_policy(), keys());
    assert_eq!(
        (report.findings.len(), report.missing_parents.len()),
        (0, 0)
    );
    assert_eq!(
        findings(&audit_raws(&raws, &strict_policy(), keys())),
        vec![(0, Some(id(2)), Error::ParentMissing(r.clone()))]
    );
}

#[test]
fn ect_led_4_audit_skew_findings() {
    // Accepted with the default skew (30 s), at the boundary.
    let ledger = MemoryLedger::new();
    let v = verifier();
    let c = NOW - 100;
    accept_ok(&v, &ledger, &tok(&id(1), c + 30, &[]), NOW);
    accept_ok(&v, &ledger, &tok(&id(2), c, &[&id(1)]), NOW);
    assert!(ledger.validate_all(&strict_policy(), keys()).is_valid());
    // Audited with a smaller skew: the child is a finding.
    let mut tighter = DagValidator::new();
    tighter.skew_seconds = 29;
    let report = ledger.validate_all(&policy_with(tighter), keys());
    assert_eq!(
        findings(&report),
        vec![(
            1,
            Some(id(2)),
            Error::TemporalOrder {
                parent: id(1),
                parent_iat: c + 30,
                child_iat: c,
            }
        )]
    );
    // Several DAG findings on one entry come in rule order: DAG-3 before DAG-6.
    let raws = chained(
        &[
            &sign(&ect(&id(1), c).policy("p", PolicyDecision::PendingHumanReview)),
            &tok(&id(2), c + 31, &[]),
            &tok(&id(3), c, &[&id(1), &id(2)]),
        ],
        NOW,
    );
    assert_eq!(
        findings(&audit_raws(&raws, &strict_policy(), keys())),
        vec![
            (
                2,
                Some(id(3)),
                Error::TemporalOrder {
                    parent: id(2),
                    parent_iat: c + 31,
                    child_iat: c,
                }
            ),
            (
                2,
                Some(id(3)),
                Error::ParentPolicy {
                    parent: id(1),
                    decision: PolicyDecision::PendingHumanReview,
                }
            ),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------------

const THREADS: usize = 8;
const PER_THREAD: usize = 8;

/// Thread `t`'s chain of `PER_THREAD` tokens, each naming the previous one, signed up front.
fn thread_chains() -> Vec<Vec<(String, String)>> {
    (0..THREADS as u64)
        .map(|t| {
            let jtis: Vec<String> = (0..PER_THREAD as u64)
                .map(|i| id(1000 * (t + 1) + i))
                .collect();
            jtis.iter()
                .enumerate()
                .map(|(i, j)| {
                    let par: Vec<&str> = if i == 0 { vec![] } else { vec![&jtis[i - 1]] };
                    (j.clone(), tok(j, T0 + i as u64, &par))
                })
                .collect()
        })
        .collect()
}

/// Accepts every thread's chain in parallel (in order within a thread); returns each
/// thread's sequence numbers.
fn accept_chains<L: Ledger>(
    v: &Verifier,
    ledger: &L,
    chains: &[Vec<(String, String)>],
) -> Vec<Vec<u64>> {
    let barrier = Barrier::new(chains.len());
    thread::scope(|s| {
        let handles: Vec<_> = chains
            .iter()
            .map(|chain| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    chain
                        .iter()
                        .map(|(_, t)| accept_ok(v, ledger, t, NOW).entry.seq())
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn check_parallel_appends<L: Ledger>(ledger: &L) {
    let chains = thread_chains();
    let v = verifier();
    let seqs = accept_chains(&v, ledger, &chains);
    let total = (THREADS * PER_THREAD) as u64;
    assert_eq!(ledger.len().unwrap(), total);
    // Sequence numbers are exactly 0..total, each used once.
    let mut all: Vec<u64> = seqs.iter().flatten().copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..total).collect::<Vec<u64>>());
    for (chain, seqs) in chains.iter().zip(&seqs) {
        // Within a thread, append order is kept.
        assert!(seqs.windows(2).all(|w| w[0] < w[1]));
        for ((jti, token), seq) in chain.iter().zip(seqs) {
            assert_eq!(ledger.get(None, jti).unwrap().unwrap().token(), token);
            assert_eq!(ledger.entry(*seq).unwrap().unwrap().ect().token(), token);
        }
    }
    for (i, e) in ledger.entries().unwrap().iter().enumerate() {
        assert_eq!(e.seq(), i as u64);
    }
    assert_eq!(ledger.verify_chain(), Ok(()));
    assert!(ledger.validate_all(&strict_policy(), keys()).is_valid());
}

#[test]
fn concurrent_distinct_tokens_memory_ledger() {
    check_parallel_appends(&MemoryLedger::new());
}

#[test]
fn concurrent_distinct_tokens_file_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.jsonl");
    let (head, entries) = {
        let ledger = FileLedger::open(&path).unwrap();
        check_parallel_appends(&ledger);
        assert_eq!(std::fs::read(&path).unwrap(), file_bytes(&ledger.entries()));
        (ledger.head(), ledger.entries())
    };
    let reopened = FileLedger::open(&path).unwrap();
    assert_eq!(reopened.torn_tail(), None);
    assert_eq!(reopened.head(), head);
    assert_eq!(reopened.entries(), entries);
}

/// Accepts `tokens[i]` on thread `i`, all starting together.
fn race<L: Ledger>(v: &Verifier, ledger: &L, tokens: &[String]) -> Vec<Result<Accepted>> {
    let barrier = Barrier::new(tokens.len());
    thread::scope(|s| {
        let handles: Vec<_> = tokens
            .iter()
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    v.accept(t, NOW, ledger)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Exactly one acceptance, every other result exactly `dag.duplicate_jti`; returns the winner.
fn single_winner<L: Ledger>(ledger: &L, tokens: &[String], jti: &str) -> String {
    let cache = Arc::new(MemoryReplayCache::new());
    let v = verifier().with_replay_cache(cache.clone());
    let results = race(&v, ledger, tokens);
    let winners: Vec<usize> = (0..results.len()).filter(|&i| results[i].is_ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for r in &results {
        if let Err(e) = r {
            assert_eq!(*e, Error::DuplicateJti(jti.to_owned()));
        }
    }
    let winner = &results[winners[0]].as_ref().unwrap().entry;
    assert_eq!(winner.seq(), 0);
    assert_eq!(winner.ect().token(), tokens[winners[0]]);
    assert_eq!(ledger.len().unwrap(), 1);
    assert_eq!(
        ledger.get(None, jti).unwrap().unwrap().token(),
        tokens[winners[0]]
    );
    assert_eq!(cache.len(), 1);
    assert_eq!(ledger.verify_chain(), Ok(()));
    tokens[winners[0]].clone()
}

#[test]
fn concurrent_same_token_exactly_one_accepted() {
    let token = tok(&id(1), T0, &[]);
    let tokens = vec![token.clone(); 2 * THREADS];
    assert_eq!(single_winner(&MemoryLedger::new(), &tokens, &id(1)), token);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.jsonl");
    {
        let ledger = FileLedger::open(&path).unwrap();
        assert_eq!(single_winner(&ledger, &tokens, &id(1)), token);
    }
    assert_eq!(FileLedger::open(&path).unwrap().len(), 1);
}

#[test]
fn concurrent_same_jti_different_tokens_exactly_one_accepted() {
    let tokens: Vec<String> = (0..2 * THREADS as u64)
        .map(|i| tok(&id(1), T0 + i, &[]))
        .collect();
    single_winner(&MemoryLedger::new(), &tokens, &id(1));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.jsonl");
    let winner = {
        let ledger = FileLedger::open(&path).unwrap();
        single_winner(&ledger, &tokens, &id(1))
    };
    let reopened = FileLedger::open(&path).unwrap();
    assert_eq!(reopened.len(), 1);
    assert_eq!(reopened.get(None, &id(1)).unwrap().token(), winner);
}

// ---------------------------------------------------------------------------------------------
// Late parents (SPEC.md §7): accepting one token at a time never builds a ledger that its own
// audit rejects
// ---------------------------------------------------------------------------------------------

/// Partial mode, a file ledger: children C1 (iat T0) and C2 name the missing P. Each late P
/// that breaks a rule in the other direction is refused with the file byte for byte unchanged;
/// the valid P is accepted; the reopened ledger audits clean.
#[test]
fn late_parents_keep_the_file_ledger_auditable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.jsonl");
    let policy = partial_policy();
    let v = verifier_with(policy.clone());
    let (p, c1, c2, d) = (id(1), id(2), id(3), id(4));
    {
        let ledger = FileLedger::open(&path).unwrap();
        accept_ok(&v, &ledger, &tok(&c1, T0, &[&p]), NOW);
        accept_ok(&v, &ledger, &tok(&c2, T0 + 5, &[&p]), NOW);
        accept_ok(&v, &ledger, &tok(&d, T0, &[&c2]), NOW);
        let refused = [
            // ECT-DAG-6 the other way: P rejected, pending.
            (
                sign(&ect(&p, T0).policy("limit", PolicyDecision::Rejected)),
                ("dag.parent_policy", "ECT-DAG-6"),
            ),
            (
                sign(&ect(&p, T0).policy("limit", PolicyDecision::PendingHumanReview)),
                ("dag.parent_policy", "ECT-DAG-6"),
            ),
            // ECT-DAG-3 the other way: P.iat = C1.iat + 31.
            (tok(&p, T0 + 31, &[]), ("dag.temporal_order", "ECT-DAG-3")),
            // ECT-DAG-4: P naming D closes P -> D -> C2 -> P.
            (tok(&p, T0, &[&d]), ("dag.cycle", "ECT-DAG-4")),
        ];
        for (token, expected) in &refused {
            let before = std::fs::read(&path).unwrap();
            let (len, head) = (ledger.len(), ledger.head());
            let e = v.accept(token, NOW, &ledger).unwrap_err();
            assert_eq!(pair(&e), *expected, "{e}");
            assert_eq!((ledger.len(), ledger.head()), (len, head));
            assert_eq!(std::fs::read(&path).unwrap(), before);
        }
        assert_eq!(findings(&ledger.validate_all(&policy, keys())), vec![]);
        // A valid late P: issued at C1.iat + 30 (the boundary), approved, no parent.
        let ok = sign(&ect(&p, T0 + 30).policy("limit", PolicyDecision::Approved));
        accept_ok(&v, &ledger, &ok, NOW);
    }
    let reopened = FileLedger::open(&path).unwrap();
    assert_eq!(reopened.len(), 4);
    let report = reopened.validate_all(&policy, keys());
    assert_eq!(findings(&report), vec![]);
    assert_eq!(report.missing_parents, vec![]);
}
