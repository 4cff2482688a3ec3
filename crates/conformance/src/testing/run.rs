//! Presents a workflow to the reference implementation and records what happened.

use std::path::Path;
use std::sync::Arc;

use super::workflow::{Delivery, LedgerKind, Step, Workflow};
use wimse_ect::AuditReport;
use wimse_ect::Claims;
use wimse_ect::DagOutcome;
use wimse_ect::Error;
use wimse_ect::KeySet;
use wimse_ect::MemoryReplayCache;
use wimse_ect::TokenStore;
use wimse_ect::http::{DEFAULT_MAX_FIELD_BYTES, parse_field_values};
use wimse_ect::{ChainHash, CreateMode, FileLedger, Ledger, LedgerAudit, MemoryLedger, RawEntry};
use wimse_ect::{ReplayProtection, Verifier};

/// Where a workflow was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Loading the trusted key set (ECT-KEY-3).
    KeySet,
    /// Presenting step `i` (0-based).
    Step(usize),
    /// Reopening the ledger file after the last step (ECT-LED-3, ECT-LED-4).
    LedgerReopen,
}

/// A rejection, and whether it left the verifier's state as it was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// Where.
    pub at: Stage,
    /// The error.
    pub error: Error,
    /// `None` when the ledger (length, head, file bytes) and the replay cache (entry count)
    /// are exactly as before the rejected operation; otherwise what changed.
    pub changed: Option<String>,
}

/// An accepted step: what the verifier returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptedStep {
    /// The verified claims.
    pub claims: Claims,
    /// The DAG outcome (empty for [`Delivery::Standalone`]).
    pub dag: DagOutcome,
}

/// The outcome of [`Workflow::run`].
#[derive(Clone, Debug)]
pub struct RunReport {
    /// Every accepted step, in order.
    pub accepted: Vec<AcceptedStep>,
    /// The first rejection; the run stops there.
    pub rejection: Option<Rejection>,
    /// For [`Delivery::Ledger`] and [`Delivery::Store`] runs that accepted every step: the
    /// whole-ledger audit ([`LedgerAudit::validate_all`] with the workflow's keys) after the
    /// last step, after the reopen for a file ledger, and of the accepted tokens chained afresh
    /// ([`chained`]) for a store.
    pub audit: Option<AuditReport>,
}

/// The outcome of [`Workflow::run_each`]: every step presented, refused or not.
#[derive(Clone, Debug)]
pub struct EachReport {
    /// Each step's result, in order: the DAG outcome when it was accepted, the error when not.
    pub results: Vec<Result<DagOutcome, Error>>,
    /// The steps whose refusal changed the verifier's state (the store or ledger: length,
    /// head, file bytes; the replay cache: entry count), with what changed. Empty when every
    /// refusal left everything as it was.
    pub changed: Vec<(usize, String)>,
    /// The whole-store audit under the workflow's policy and keys after the last step: of the
    /// ledger ([`LedgerAudit::validate_all`]; a file ledger after it was closed and reopened), or
    /// for [`Delivery::Store`] of the accepted tokens chained afresh ([`chained`]).
    pub audit: AuditReport,
}

/// The accepted tokens as the entries of a ledger built from them, each with its acceptance
/// time: `seq` from 0, a fresh hash chain. The audit input for a [`Delivery::Store`] run.
pub fn chained(accepted: &[(String, u64)]) -> Vec<wimse_ect::Result<RawEntry>> {
    let mut prev = ChainHash::GENESIS;
    accepted
        .iter()
        .enumerate()
        .map(|(seq, (token, at))| {
            let hash = ChainHash::of_entry(seq as u64, *at, &prev, token);
            let raw = RawEntry {
                seq: seq as u64,
                at: *at,
                prev,
                hash,
                token: token.clone(),
            };
            prev = hash;
            Ok(raw)
        })
        .collect()
}

/// The verifier-side state a rejection must not change.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Snapshot {
    ledger_len: u64,
    head: ChainHash,
    file: Option<Vec<u8>>,
    replay_entries: usize,
}

enum Sink {
    Memory(MemoryLedger),
    File(FileLedger, tempfile::TempDir),
    None,
}

impl Sink {
    fn ledger(&self) -> Option<&dyn Ledger> {
        match self {
            Sink::Memory(l) => Some(l),
            Sink::File(l, _) => Some(l),
            Sink::None => None,
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))
}

impl Workflow {
    /// Presents every step in order to a fresh reference verifier built from `jwks` and
    /// `policy` (with its own replay cache), as `delivery` says, stopping at the first
    /// rejection. Before each step it records the ledger's length, head and file bytes and the
    /// replay cache's size, and reports in [`Rejection::changed`] anything a rejection altered.
    ///
    /// `Err` is a problem of the harness itself (an invalid policy, a temporary file that could
    /// not be written), never a verdict.
    pub fn run(&self) -> Result<RunReport, String> {
        let mut report = RunReport {
            accepted: Vec::new(),
            rejection: None,
            audit: None,
        };
        let jwks = serde_json::to_vec(&self.jwks).expect("a JSON value serializes");
        let keys = match KeySet::from_jwks_json(&jwks) {
            Ok(keys) => keys,
            Err(error) => {
                report.rejection = Some(Rejection {
                    at: Stage::KeySet,
                    error,
                    changed: None,
                });
                return Ok(report);
            }
        };
        let cache = Arc::new(match self.policy.replay {
            ReplayProtection::Enabled {
                max_entries: Some(n),
            } => MemoryReplayCache::with_max_entries(n),
            _ => MemoryReplayCache::new(),
        });
        let verifier = Verifier::new(keys.clone(), self.policy.clone())
            .map_err(|e| format!("invalid policy: {e}"))?
            .with_replay_cache(cache.clone());
        // Inline parents are verified (§2–§6) but not recorded for replay: they were presented
        // before, and the store is what they are needed for.
        let mut parent_policy = self.policy.clone();
        parent_policy.replay = ReplayProtection::Disabled;
        let parent_verifier =
            Verifier::new(keys.clone(), parent_policy).map_err(|e| format!("{e}"))?;

        let mut store = TokenStore::new();
        let mut kept: Vec<(String, u64)> = Vec::new();
        let sink = match self.delivery {
            Delivery::Ledger(LedgerKind::Memory) => {
                Sink::Memory(MemoryLedger::with_profile(self.policy.profile))
            }
            Delivery::Ledger(LedgerKind::File) => {
                let dir = tempfile::Builder::new()
                    .prefix("wimse-ect-workflow-")
                    .tempdir()
                    .map_err(|e| format!("temporary directory: {e}"))?;
                let ledger = self
                    .open_ledger(&dir.path().join("ledger.jsonl"))
                    .map_err(|e| format!("opening a new ledger: {e}"))?;
                Sink::File(ledger, dir)
            }
            Delivery::Inline | Delivery::Standalone | Delivery::Store => Sink::None,
        };
        let snapshot = |store: &TokenStore| -> Result<Snapshot, String> {
            let ledger = sink.ledger();
            Ok(Snapshot {
                ledger_len: match ledger {
                    Some(l) => l.len().map_err(|e| format!("ledger length: {e}"))?,
                    None => store.len() as u64,
                },
                head: match ledger {
                    Some(l) => l.head().map_err(|e| format!("ledger head: {e}"))?,
                    None => ChainHash::GENESIS,
                },
                file: match &sink {
                    Sink::File(l, _) => Some(read(l.path())?),
                    _ => None,
                },
                replay_entries: cache.len(),
            })
        };

        for (i, step) in self.steps.iter().enumerate() {
            let before = snapshot(&store)?;
            let result = match &sink {
                Sink::Memory(l) => verifier.accept(&step.token, step.now, l).map(accepted),
                Sink::File(l, _) => verifier.accept(&step.token, step.now, l).map(accepted),
                Sink::None if self.delivery == Delivery::Inline => {
                    self.deliver_inline(i, step, &verifier, &parent_verifier)
                }
                Sink::None if self.delivery == Delivery::Store => {
                    deliver_to_store(step, &verifier, &mut store, &mut kept)
                }
                Sink::None => verifier
                    .verify(&step.token, step.now)
                    .map(|v| AcceptedStep {
                        claims: v.claims().clone(),
                        dag: DagOutcome::default(),
                    }),
            };
            match result {
                Ok(outcome) => report.accepted.push(outcome),
                Err(error) => {
                    let after = snapshot(&store)?;
                    report.rejection = Some(Rejection {
                        at: Stage::Step(i),
                        error,
                        changed: describe_change(&before, &after),
                    });
                    return Ok(report);
                }
            }
        }

        match sink {
            Sink::Memory(ledger) => {
                report.audit = Some(ledger.validate_all(&self.policy, Some(&keys)));
            }
            Sink::File(ledger, dir) => {
                let path = ledger.path().to_owned();
                let (len, head) = (ledger.len(), ledger.head());
                drop(ledger);
                if let Some(tamper) = &self.tamper {
                    let bytes = tamper.apply(&read(&path)?)?;
                    std::fs::write(&path, &bytes).map_err(|e| format!("writing: {e}"))?;
                }
                let before = read(&path)?;
                match self.open_ledger(&path) {
                    Ok(reopened) => {
                        if (reopened.len(), reopened.head()) != (len, head) {
                            return Err(format!(
                                "the reopened ledger has {} entries and head {}, not {len} and {head}",
                                reopened.len(),
                                reopened.head()
                            ));
                        }
                        report.audit = Some(reopened.validate_all(&self.policy, Some(&keys)));
                    }
                    Err(error) => {
                        let after = read(&path)?;
                        report.rejection = Some(Rejection {
                            at: Stage::LedgerReopen,
                            error,
                            changed: (before != after)
                                .then(|| "the ledger file changed".to_owned()),
                        });
                    }
                }
                drop(dir);
            }
            Sink::None if self.delivery == Delivery::Store => {
                report.audit = Some(wimse_ect::audit(&chained(&kept), &self.policy, Some(&keys)));
            }
            Sink::None => {}
        }
        Ok(report)
    }

    /// Presents every step in order, like [`Workflow::run`], but does not stop at a refusal:
    /// each step's result is recorded, and the run goes on with the next. For workflows whose
    /// steps are not all meant to be accepted ([`super::workflow_with_late_parents`]).
    ///
    /// Deliveries: [`Delivery::Ledger`] (a file ledger is closed and reopened before the
    /// audit, and must come back with the same length and head) and [`Delivery::Store`]. `Err`
    /// for the others, and for problems of the harness itself, never for a verdict.
    pub fn run_each(&self) -> Result<EachReport, String> {
        let jwks = serde_json::to_vec(&self.jwks).expect("a JSON value serializes");
        let keys = KeySet::from_jwks_json(&jwks).map_err(|e| format!("key set: {e}"))?;
        let cache = Arc::new(MemoryReplayCache::new());
        let verifier = Verifier::new(keys.clone(), self.policy.clone())
            .map_err(|e| format!("invalid policy: {e}"))?
            .with_replay_cache(cache.clone());
        let mut results = Vec::with_capacity(self.steps.len());
        let mut changed = Vec::new();
        let mut note = |i: usize, before: Snapshot, after: Snapshot| {
            if let Some(what) = describe_change(&before, &after) {
                changed.push((i, what));
            }
        };
        let audit = match self.delivery {
            Delivery::Ledger(kind) => {
                let dir = tempfile::Builder::new()
                    .prefix("wimse-ect-workflow-each-")
                    .tempdir()
                    .map_err(|e| format!("temporary directory: {e}"))?;
                let path = dir.path().join("ledger.jsonl");
                let memory = MemoryLedger::with_profile(self.policy.profile);
                let mut file = None;
                let ledger: &dyn Ledger = match kind {
                    LedgerKind::Memory => &memory,
                    LedgerKind::File => file.insert(
                        self.open_ledger(&path)
                            .map_err(|e| format!("opening a new ledger: {e}"))?,
                    ),
                };
                let snapshot = || -> Result<Snapshot, String> {
                    Ok(Snapshot {
                        ledger_len: ledger.len().map_err(|e| format!("ledger length: {e}"))?,
                        head: ledger.head().map_err(|e| format!("ledger head: {e}"))?,
                        file: match kind {
                            LedgerKind::File => Some(read(&path)?),
                            LedgerKind::Memory => None,
                        },
                        replay_entries: cache.len(),
                    })
                };
                for (i, step) in self.steps.iter().enumerate() {
                    let before = snapshot()?;
                    let result = verifier
                        .accept(&step.token, step.now, ledger)
                        .map(|a| a.dag);
                    if result.is_err() {
                        note(i, before, snapshot()?);
                    }
                    results.push(result);
                }
                match kind {
                    LedgerKind::Memory => ledger.validate_all(&self.policy, Some(&keys)),
                    LedgerKind::File => {
                        let (len, head) = (
                            ledger.len().map_err(|e| format!("ledger length: {e}"))?,
                            ledger.head().map_err(|e| format!("ledger head: {e}"))?,
                        );
                        drop(file.take());
                        let reopened = self
                            .open_ledger(&path)
                            .map_err(|e| format!("reopening the ledger: {e}"))?;
                        if (reopened.len(), reopened.head()) != (len, head) {
                            return Err(format!(
                                "the reopened ledger has {} entries and head {}, not {len} and {head}",
                                reopened.len(),
                                reopened.head()
                            ));
                        }
                        reopened.validate_all(&self.policy, Some(&keys))
                    }
                }
            }
            Delivery::Store => {
                let mut store = TokenStore::new();
                let mut kept: Vec<(String, u64)> = Vec::new();
                let snapshot = |store: &TokenStore| Snapshot {
                    ledger_len: store.len() as u64,
                    head: ChainHash::GENESIS,
                    file: None,
                    replay_entries: cache.len(),
                };
                for step in &self.steps {
                    let before = snapshot(&store);
                    let result = deliver_to_store(step, &verifier, &mut store, &mut kept);
                    if result.is_err() {
                        note(results.len(), before, snapshot(&store));
                    }
                    results.push(result.map(|a| a.dag));
                }
                wimse_ect::audit(&chained(&kept), &self.policy, Some(&keys))
            }
            Delivery::Inline | Delivery::Standalone => {
                return Err(format!("run_each does not present {:?}", self.delivery));
            }
        };
        Ok(EachReport {
            results,
            changed,
            audit,
        })
    }

    /// Opens (or creates) the ledger file at `path` under the workflow's profile (a ledger
    /// reads its tokens back under its own profile's claim names).
    fn open_ledger(&self, path: &Path) -> wimse_ect::Result<FileLedger> {
        FileLedger::open_profile(path, CreateMode::OnOpen, self.policy.profile)
    }

    /// The `Execution-Context` field lines of step `i` for [`Delivery::Inline`]: the step's
    /// own [`Step::field_lines`], or by default one line holding the step's token and then the
    /// tokens of its parents presented earlier in the workflow (ECT-HTTP-2).
    pub fn field_lines(&self, i: usize) -> Vec<String> {
        let step = &self.steps[i];
        if let Some(lines) = &step.field_lines {
            return lines.clone();
        }
        let scope = step.claims.wid.as_deref();
        let mut tokens = vec![step.token.as_str()];
        for p in &step.claims.par {
            // The parent in any letter case (ECT-CLM-5), presented before step i.
            if let Some(j) = self.find(scope, p).filter(|&j| j < i) {
                tokens.push(&self.steps[j].token);
            }
        }
        // Joined as ECT-HTTP-2 says, without checking the tokens: a sender that does not
        // check is what a receiver must withstand.
        vec![tokens.join(", ")]
    }

    /// [`Delivery::Inline`]: sends step `i` as an `Execution-Context` field and checks it the
    /// way a receiving agent would.
    fn deliver_inline(
        &self,
        i: usize,
        step: &Step,
        verifier: &Verifier,
        parent_verifier: &Verifier,
    ) -> wimse_ect::Result<AcceptedStep> {
        let lines = self.field_lines(i);
        let tokens =
            parse_field_values(lines.iter().map(|l| l.as_bytes()), DEFAULT_MAX_FIELD_BYTES)?;
        let (own, parents) = tokens
            .split_first()
            .ok_or_else(|| Error::HttpMalformed("no token".into()))?;
        let mut store = TokenStore::new();
        for parent in parents {
            store.insert(parent_verifier.verify(parent, step.now)?);
        }
        verifier
            .verify_in(own, step.now, &store)
            .map(|(v, dag)| AcceptedStep {
                claims: v.claims().clone(),
                dag,
            })
    }
}

/// [`Delivery::Store`]: `verify_in` against the tokens accepted so far; an accepted token is
/// added to `store` and to `kept` (with its step's `now`, for the audit).
fn deliver_to_store(
    step: &Step,
    verifier: &Verifier,
    store: &mut TokenStore,
    kept: &mut Vec<(String, u64)>,
) -> wimse_ect::Result<AcceptedStep> {
    let (verified, dag) = verifier.verify_in(&step.token, step.now, &*store)?;
    let claims = verified.claims().clone();
    kept.push((verified.token().to_owned(), step.now));
    store.insert(verified);
    Ok(AcceptedStep { claims, dag })
}

fn accepted(a: wimse_ect::Accepted) -> AcceptedStep {
    AcceptedStep {
        claims: a.entry.ect().claims().clone(),
        dag: a.dag,
    }
}

fn describe_change(before: &Snapshot, after: &Snapshot) -> Option<String> {
    let mut changes = Vec::new();
    if (before.ledger_len, before.head) != (after.ledger_len, after.head) {
        changes.push(format!(
            "ledger went from {} entries (head {}) to {} (head {})",
            before.ledger_len, before.head, after.ledger_len, after.head
        ));
    }
    if before.file != after.file {
        changes.push("the ledger file changed".to_owned());
    }
    if before.replay_entries != after.replay_entries {
        changes.push(format!(
            "the replay cache went from {} to {} entries",
            before.replay_entries, after.replay_entries
        ));
    }
    (!changes.is_empty()).then(|| changes.join("; "))
}
