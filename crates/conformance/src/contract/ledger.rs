//! The ledger contract's checks besides the state machine, and the backends of the two
//! in-process ledgers.

use std::sync::{Arc, Barrier};
use std::thread;

use tempfile::TempDir;
use wimse_ect::{
    AuditReport, CreateMode, DRAFT_00, DRAFT_01, DagValidator, EctBuilder, EctStore, Error,
    FileLedger, KeyResolver, Ledger, LedgerAudit, LedgerEntry, MemoryLedger, MemoryReplayCache,
    Policy, PolicyDecision, Profile, Tail, Verifier, audit_file,
};

use super::LedgerBackend;
use super::machine::{AUD, EXEC_ACT, ISS, NOW, signing_key, tamper, verifier};

/// [`MemoryLedger`]: "reopening" rebuilds it from its entries' lines.
#[derive(Debug)]
pub struct MemoryBackend;

impl LedgerBackend for MemoryBackend {
    type Ledger = MemoryLedger;
    type Place = TempDir;
    const NAME: &'static str = "MemoryLedger";

    fn create_in(profile: Profile) -> (MemoryLedger, TempDir) {
        (MemoryLedger::with_profile(profile), temp_dir("memory"))
    }

    fn reopen(ledger: MemoryLedger, place: &TempDir) -> MemoryLedger {
        let text: String = ledger
            .entries()
            .iter()
            .map(|e| e.to_line() + "\n")
            .collect();
        let path = place.path().join("rebuilt.jsonl");
        std::fs::write(&path, text).expect("write the entries' lines");
        let (rebuilt, tail) = FileLedger::read_profile(&path, ledger.profile())
            .expect("a memory ledger's lines read back as a ledger");
        assert_eq!(
            tail, None,
            "complete lines leave nothing after the last newline"
        );
        rebuilt
    }
}

/// [`FileLedger`] in a temporary directory (one handle at a time: its exclusive lock).
#[derive(Debug)]
pub struct FileBackend;

/// The ledger file of a [`FileBackend`] place.
const LEDGER_FILE: &str = "ledger.jsonl";

impl LedgerBackend for FileBackend {
    type Ledger = FileLedger;
    type Place = TempDir;
    const NAME: &'static str = "FileLedger";

    fn create_in(profile: Profile) -> (FileLedger, TempDir) {
        let dir = temp_dir("file");
        let ledger =
            FileLedger::open_profile(dir.path().join(LEDGER_FILE), CreateMode::OnOpen, profile)
                .expect("create a new ledger file");
        (ledger, dir)
    }

    fn reopen(ledger: FileLedger, place: &TempDir) -> FileLedger {
        // Dropping releases the file's exclusive lock, so it can be opened again.
        let profile = ledger.profile();
        drop(ledger);
        let reopened =
            FileLedger::open_profile(place.path().join(LEDGER_FILE), CreateMode::OnOpen, profile)
                .expect("reopen the ledger file");
        assert_eq!(reopened.tail(), None, "every acknowledged line is complete");
        reopened
    }

    fn line_file(ledger: &FileLedger, _: &TempDir) -> Option<Vec<u8>> {
        Some(std::fs::read(ledger.path()).expect("read the ledger file"))
    }

    fn audit_storage(
        ledger: &FileLedger,
        _: &TempDir,
        policy: &Policy,
        keys: &dyn KeyResolver,
    ) -> Option<(AuditReport, Option<Tail>)> {
        Some(audit_file(ledger.path(), policy, Some(keys)).expect("audit the ledger file"))
    }
}

fn temp_dir(kind: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(&format!("wimse-ect-contract-{kind}-"))
        .tempdir()
        .expect("a temporary directory")
}

/// A task id from a number (`00000000-0000-4000-8000-<n>`).
fn id(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

/// A workflow id from a number.
fn wid(n: u64) -> String {
    format!("77777777-0000-4000-8000-{n:012x}")
}

/// A token for `AUD`, issued at `iat`, live 600 s.
fn token(jti: &str, wid: Option<&str>, par: &[&str], iat: u64) -> String {
    build(jti, wid, par, iat, None)
}

fn build(
    jti: &str,
    wid: Option<&str>,
    par: &[&str],
    iat: u64,
    decision: Option<PolicyDecision>,
) -> String {
    build_in(DRAFT_00, jti, wid, par, iat, decision)
}

/// A token of `profile` for `AUD`, issued at `iat`, live 600 s, with parents `par` and
/// optionally a policy decision.
fn build_in(
    profile: Profile,
    jti: &str,
    wid: Option<&str>,
    par: &[&str],
    iat: u64,
    decision: Option<PolicyDecision>,
) -> String {
    let mut b = EctBuilder::new(ISS, EXEC_ACT)
        .profile(profile)
        .audience(AUD)
        .jti(jti)
        .issued_at(iat)
        .expires_at(iat + 600);
    if let Some(w) = wid {
        b = b.wid(w);
    }
    for p in par {
        b = b.parent(*p);
    }
    if let Some(d) = decision {
        b = b.policy("spiffe://example.org/policy/contract", d);
    }
    b.sign(signing_key()).expect("the builder signs")
}

/// What a ledger and a replay cache look like from outside.
type State = (u64, wimse_ect::ChainHash, Vec<Arc<LedgerEntry>>, usize);

fn state<L: Ledger>(ledger: &L, cache: &MemoryReplayCache) -> State {
    (
        ledger.len().expect("len"),
        ledger.head().expect("head"),
        ledger.entries().expect("entries"),
        cache.len(),
    )
}

/// 8 threads race one token into one handle; then, when the backend can open the ledger
/// twice, 4 handles race the same 24 tokens (each its own verifier and replay cache, as
/// separate processes would have).
pub(super) fn concurrent_exactly_once<B: LedgerBackend>() {
    let (ledger, place) = B::create();
    let v = verifier();
    let t = token(&id(1), None, &[], NOW);
    let barrier = Barrier::new(8);
    let results: Vec<_> = thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    v.accept(&t, NOW, &ledger)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let winners = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(
        winners,
        1,
        "{}: one token raced by 8 threads: {results:?}",
        B::NAME
    );
    for r in &results {
        if let Err(e) = r {
            assert_eq!(*e, Error::DuplicateJti(id(1)), "{}: the losers", B::NAME);
        }
    }
    assert_eq!(ledger.len(), Ok(1), "{}", B::NAME);

    let Some(first) = B::open_again(&place) else {
        return;
    };
    let mut handles = vec![first];
    for _ in 1..4 {
        handles.push(B::open_again(&place).expect("a ledger opened once opens again"));
    }
    let w = wid(1);
    let tokens: Vec<(String, String)> = (100..124)
        .map(|n| {
            let jti = id(n);
            // Half of them in a workflow, each naming the token accepted before the race.
            let t = if n % 2 == 0 {
                token(&jti, Some(&w), &[], NOW)
            } else {
                token(&jti, None, &[&id(1)], NOW)
            };
            (jti, t)
        })
        .collect();
    let barrier = Barrier::new(handles.len());
    let outcomes: Vec<Vec<(String, Result<u64, Error>)>> = thread::scope(|s| {
        let joins: Vec<_> = handles
            .iter()
            .enumerate()
            .map(|(h, handle)| {
                let (barrier, tokens) = (&barrier, &tokens);
                s.spawn(move || {
                    let v = verifier();
                    barrier.wait();
                    (0..tokens.len())
                        .map(|k| {
                            let (jti, t) = &tokens[(k + 7 * h) % tokens.len()];
                            let r = v.accept(t, NOW, handle).map(|a| a.entry.seq());
                            (jti.clone(), r)
                        })
                        .collect()
                })
            })
            .collect();
        joins.into_iter().map(|j| j.join().unwrap()).collect()
    });
    let mut seqs = Vec::new();
    for (jti, _) in &tokens {
        let wins: Vec<u64> = outcomes
            .iter()
            .flatten()
            .filter(|(j, r)| j == jti && r.is_ok())
            .map(|(_, r)| *r.as_ref().unwrap())
            .collect();
        assert_eq!(
            wins.len(),
            1,
            "{}: {jti} accepted {} times",
            B::NAME,
            wins.len()
        );
        seqs.extend(wins);
        for (_, r) in outcomes.iter().flatten().filter(|(j, _)| j == jti) {
            if let Err(e) = r {
                assert_eq!(*e, Error::DuplicateJti(jti.clone()), "{}: {jti}", B::NAME);
            }
        }
    }
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=24).collect::<Vec<u64>>(),
        "{}: gap-free sequence",
        B::NAME
    );
    for handle in &handles {
        assert_eq!(
            handle.len(),
            Ok(25),
            "{}: every handle sees every entry",
            B::NAME
        );
        assert_eq!(handle.verify_chain(), Ok(()), "{}", B::NAME);
    }
    let report = ledger.validate_all(v.policy(), Some(v.keys()));
    assert!(report.is_valid(), "{}: {report:?}", B::NAME);
    drop(handles);
    drop(ledger);
    drop(place);
}

/// Every acknowledged entry is there after a reopen, and appends continue after it.
pub(super) fn reopen_keeps_every_entry<B: LedgerBackend>() {
    let (ledger, place) = B::create();
    let v = verifier();
    let w = wid(2);
    let mut accepted = Vec::new();
    for n in 0..12u64 {
        let parents: Vec<String> = if n == 0 {
            vec![]
        } else {
            vec![id(200 + n - 1)]
        };
        let parents: Vec<&str> = parents.iter().map(String::as_str).collect();
        let t = token(&id(200 + n), Some(&w), &parents, NOW + n);
        accepted.push(v.accept(&t, NOW + n, &ledger).expect("a valid chain").entry);
    }
    let before = ledger.entries().expect("entries");
    assert_eq!(
        before,
        accepted,
        "{}: entries are the acknowledged ones",
        B::NAME
    );
    let ledger = B::reopen(ledger, &place);
    assert_eq!(
        ledger.entries().as_ref(),
        Ok(&before),
        "{}: after reopen",
        B::NAME
    );
    assert_eq!(ledger.head(), Ok(before[11].hash()), "{}: head", B::NAME);
    let next = token(&id(300), Some(&w), &[&id(211)], NOW + 20);
    let entry = v
        .accept(&next, NOW + 20, &ledger)
        .expect("appends continue")
        .entry;
    assert_eq!(
        (entry.seq(), entry.prev()),
        (12, before[11].hash()),
        "{}",
        B::NAME
    );
    assert_eq!(ledger.verify_chain(), Ok(()), "{}", B::NAME);
    drop(ledger);
    drop(place);
}

/// One token per kind of refusal: each leaves the ledger and the replay cache unchanged.
pub(super) fn rejections_change_nothing<B: LedgerBackend>() {
    let (ledger, place) = B::create();
    let cache = Arc::new(MemoryReplayCache::new());
    let strict = verifier().with_replay_cache(cache.clone());
    let mut partial_policy = strict.policy().clone();
    partial_policy.dag = DagValidator::partial();
    let partial = Verifier::new(strict.keys().clone(), partial_policy)
        .expect("a valid policy")
        .with_replay_cache(cache.clone());

    let (root, refused, late_child, late_parent) = (id(400), id(401), id(402), id(403));
    strict
        .accept(token(&root, None, &[], NOW), NOW, &ledger)
        .expect("a root");
    strict
        .accept(
            build(&refused, None, &[], NOW, Some(PolicyDecision::Rejected)),
            NOW,
            &ledger,
        )
        .expect("a refused task is itself accepted");
    // A child accepted in partial mode before its parent, which arrives too late (ECT-DAG-3
    // in the other direction).
    partial
        .accept(
            token(&late_child, None, &[&late_parent], NOW - 100),
            NOW,
            &ledger,
        )
        .expect("partial mode lists the parent as missing");
    // A token the replay cache holds but the ledger does not (verified elsewhere first).
    let replayed = token(&id(404), None, &[], NOW);
    strict.verify(&replayed, NOW).expect("verified once");

    let rejections: Vec<(&str, String, &Verifier, &str)> = vec![
        (
            "forged signature",
            tamper(&token(&id(410), None, &[], NOW)),
            &strict,
            "sig.invalid",
        ),
        (
            "expired",
            token(&id(411), None, &[], NOW - 2000),
            &strict,
            "time.expired",
        ),
        (
            "duplicate",
            token(&root, None, &[], NOW + 1),
            &strict,
            "dag.duplicate_jti",
        ),
        (
            "missing parent",
            token(&id(412), None, &[&id(499)], NOW),
            &strict,
            "dag.parent_missing",
        ),
        (
            "parent issued later",
            token(&id(413), None, &[&root], NOW - 100),
            &strict,
            "dag.temporal_order",
        ),
        (
            "refused parent",
            token(&id(414), None, &[&refused], NOW),
            &strict,
            "dag.parent_policy",
        ),
        (
            "late parent",
            token(&late_parent, None, &[], NOW),
            &partial,
            "dag.temporal_order",
        ),
        ("replay", replayed, &strict, "replay.jti"),
    ];
    for (what, t, v, code) in rejections {
        let before = (state(&ledger, &cache), B::line_file(&ledger, &place));
        let err = v.accept(&t, NOW + 1, &ledger).expect_err(what);
        assert_eq!(err.code(), code, "{}: {what}: {err}", B::NAME);
        assert_eq!(
            (state(&ledger, &cache), B::line_file(&ledger, &place)),
            before,
            "{}: a rejected token ({what}) changed the ledger or the replay cache",
            B::NAME
        );
    }
    assert_eq!(ledger.len(), Ok(3), "{}", B::NAME);
    assert_eq!(ledger.verify_chain(), Ok(()), "{}", B::NAME);
    drop(ledger);
    drop(place);
}

/// `accept_batch` (one append call, one commit) gives the verdicts and entries of one
/// `accept` per token.
pub(super) fn batch_equals_one_by_one<B: LedgerBackend>() {
    let (ledger, place) = B::create();
    let (a, b, c) = (id(500), id(501), id(502));
    let tokens = vec![
        token(&a, None, &[], NOW),
        token(&b, None, &[&a], NOW),
        token(&a, None, &[], NOW),
        tamper(&token(&id(503), None, &[], NOW)),
        token(&id(504), None, &[&id(599)], NOW),
        token(&c, None, &[&b, &a], NOW),
        token(&b, Some(&wid(5)), &[], NOW),
    ];
    let outline = |r: &Result<wimse_ect::Accepted, Error>| match r {
        Ok(acc) => Ok((acc.entry.seq(), acc.entry.hash(), acc.dag.clone())),
        Err(e) => Err(e.clone()),
    };
    let reference = MemoryLedger::new();
    let one_by_one = verifier();
    let want: Vec<_> = tokens
        .iter()
        .map(|t| outline(&one_by_one.accept(t, NOW, &reference)))
        .collect();
    let got: Vec<_> = verifier()
        .accept_batch(&tokens, NOW, &ledger)
        .iter()
        .map(outline)
        .collect();
    assert_eq!(
        got,
        want,
        "{}: accept_batch against one accept per token",
        B::NAME
    );
    assert_eq!(
        ledger.entries().expect("entries"),
        reference.entries(),
        "{}: the batch's entries",
        B::NAME
    );
    drop(ledger);
    drop(place);
}

/// A verifier of profile `draft-01` (else [`verifier`]'s settings), strict or partial.
fn draft_01_verifier(partial: bool) -> Verifier {
    let base = verifier();
    let mut policy = base.policy().clone();
    policy.profile = DRAFT_01;
    if partial {
        policy.dag = DagValidator::partial();
    }
    Verifier::new(base.keys().clone(), policy).expect("a valid policy")
}

/// A `draft-01` token (`pred`, `exec+jwt`) for `AUD`, issued at `iat`, live 600 s.
fn token_01(jti: &str, wid: Option<&str>, pred: &[&str], iat: u64) -> String {
    build_in(DRAFT_01, jti, wid, pred, iat, None)
}

/// Profile `draft-01` (ECT-P01-5): a ledger of that profile finds a task held under another
/// workflow, in both directions and both modes, with the exact error, before and after a
/// reopen, and a refusal changes nothing; a ledger and a verifier of different profiles refuse
/// to work together (`ledger.profile`), changing nothing.
pub(super) fn workflow_consistency<B: LedgerBackend>() {
    let (ledger, place) = B::create_in(DRAFT_01);
    assert_eq!(
        ledger.profile(),
        DRAFT_01,
        "{}: the ledger's profile",
        B::NAME
    );
    let (strict, partial) = (draft_01_verifier(false), draft_01_verifier(true));
    let (w1, w2) = (wid(71), wid(72));
    let (a, b, c, d, e) = (id(700), id(701), id(702), id(703), id(704));
    let accept = |v: &Verifier, t: &str, l: &B::Ledger| v.accept(t, NOW, l).map(|_| ());

    // A root of workflow 1 and its child in the same workflow.
    accept(&strict, &token_01(&a, Some(&w1), &[], NOW - 5), &ledger).expect("a root");
    accept(&strict, &token_01(&b, Some(&w1), &[&a], NOW - 4), &ledger).expect("same workflow");
    let before = ledger.entries().expect("entries");

    // A child in workflow 2, or without a wid, naming `a` (held in workflow 1 only): refused
    // in both modes, naming where `a` is.
    let mismatch = Error::WorkflowMismatch {
        parent: a.clone(),
        held_in: Some(w1.clone()),
    };
    for v in [&strict, &partial] {
        for scope in [Some(w2.as_str()), None] {
            let t = token_01(&c, scope, &[&a], NOW);
            assert_eq!(
                accept(v, &t, &ledger),
                Err(mismatch.clone()),
                "{}: a parent held in another workflow ({scope:?})",
                B::NAME
            );
        }
    }
    assert_eq!(
        ledger.entries().as_ref(),
        Ok(&before),
        "{}: unchanged",
        B::NAME
    );

    // Partial mode: `d` in workflow 2 names `e`, missing everywhere: accepted. `e` arriving
    // in workflow 1 would put `d`'s parent in another workflow: refused, naming `d`.
    accept(&partial, &token_01(&d, Some(&w2), &[&e], NOW), &ledger).expect("a missing parent");
    let before = ledger.entries().expect("entries");
    assert_eq!(
        accept(&partial, &token_01(&e, Some(&w1), &[], NOW - 3), &ledger),
        Err(Error::LateWorkflowMismatch {
            child: d.clone(),
            child_wid: Some(w2.clone()),
        }),
        "{}: a late parent in another workflow",
        B::NAME
    );
    assert_eq!(
        ledger.entries().as_ref(),
        Ok(&before),
        "{}: unchanged",
        B::NAME
    );

    // The indexes survive a reopen; `e` in workflow 2 is a late parent in the right one.
    let ledger = B::reopen(ledger, &place);
    assert_eq!(ledger.profile(), DRAFT_01, "{}: reopened profile", B::NAME);
    assert_eq!(
        accept(&strict, &token_01(&c, Some(&w2), &[&a], NOW), &ledger),
        Err(mismatch),
        "{}: after reopen",
        B::NAME
    );
    assert_eq!(
        ledger
            .get_elsewhere(Some(&w2), &a.to_uppercase())
            .map(|t| t.map(|t| t.jti().to_owned())),
        Ok(Some(a.clone())),
        "{}: ASCII case-insensitive lookup",
        B::NAME
    );
    assert_eq!(ledger.get_elsewhere(Some(&w1), &a), Ok(None), "{}", B::NAME);
    assert_eq!(
        ledger
            .referrer_elsewhere(Some(&w1), &e)
            .map(|t| t.map(|t| t.jti().to_owned())),
        Ok(Some(d.clone())),
        "{}",
        B::NAME
    );
    assert_eq!(
        ledger.referrer_elsewhere(Some(&w2), &e),
        Ok(None),
        "{}",
        B::NAME
    );
    accept(&partial, &token_01(&e, Some(&w2), &[], NOW - 3), &ledger)
        .expect("a late parent in its child's workflow");
    // The audit in partial mode (a parent accepted after its child is allowed there).
    let report = ledger.validate_all(partial.policy(), Some(partial.keys()));
    assert_eq!(report.findings, [], "{}: the audit agrees", B::NAME);

    // Profiles do not mix: a draft-00 verifier on this ledger, a draft-01 verifier on a
    // draft-00 ledger.
    let before = ledger.entries().expect("entries");
    assert_eq!(
        verifier()
            .accept(token(&id(705), None, &[], NOW), NOW, &ledger)
            .map(|_| ()),
        Err(Error::LedgerProfile {
            ledger: DRAFT_01.name,
            verifier: DRAFT_00.name,
        }),
        "{}",
        B::NAME
    );
    assert_eq!(
        ledger.entries().as_ref(),
        Ok(&before),
        "{}: unchanged",
        B::NAME
    );
    let (old, old_place) = B::create();
    assert_eq!(
        accept(&strict, &token_01(&id(706), None, &[], NOW), &old),
        Err(Error::LedgerProfile {
            ledger: DRAFT_00.name,
            verifier: DRAFT_01.name,
        }),
        "{}",
        B::NAME
    );
    assert_eq!(old.len(), Ok(0), "{}: nothing appended", B::NAME);
    drop((old, old_place, ledger, place));
}
