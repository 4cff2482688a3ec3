//! The append-only, hash-chained audit ledger (SPEC.md §8, the draft's §9): the [`Ledger`]
//! trait, its contract, and its implementations.
//!
//! The rules and an example are on [`Ledger`], the entry hash on [`ChainHash`], the file format
//! and crash recovery on [`FileLedger`] (where users of the crate read them).
//!
//! * `hash`: the entry hash and the link rule (ECT-LED-4);
//! * `line`: the file line format, and what a crash can leave after the last `\n`;
//! * `chain`: the in-memory state both ledgers keep, and [`LedgerEntry`];
//! * `memory`: [`MemoryLedger`]; `file`: [`FileLedger`];
//! * `sqlite` (feature `sqlite`), `postgres` (feature `postgres`): the database ledgers.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::error::Result;
use crate::store::{EctStore, StoredEct};

/// The in-memory ledgers' accessors (which cannot fail) as inherent methods, and [`EctStore`]
/// and [`Ledger`] on top of them, for a type with a `with_chain` method giving read access to
/// its [`chain::Chain`] and an `append_to_chain` method. Defined before the modules that use it
/// (textual scope).
macro_rules! chain_backed {
    ($ledger:ty) => {
        impl $ledger {
            /// Number of entries: [`Ledger::len`](crate::Ledger::len), which cannot fail here.
            pub fn len(&self) -> u64 {
                self.with_chain(|c| c.len())
            }

            /// Whether the ledger has no entry.
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// The newest entry's hash: [`Ledger::head`](crate::Ledger::head), which cannot
            /// fail here.
            pub fn head(&self) -> $crate::ledger::ChainHash {
                self.with_chain(|c| c.head())
            }

            /// The entry with sequence number `seq`: [`Ledger::entry`](crate::Ledger::entry),
            /// which cannot fail here.
            pub fn entry(&self, seq: u64) -> Option<std::sync::Arc<$crate::ledger::LedgerEntry>> {
                let i = usize::try_from(seq).ok()?;
                self.with_chain(|c| c.entry(i))
            }

            /// A snapshot of every entry, in sequence order:
            /// [`Ledger::entries`](crate::Ledger::entries), which cannot fail here.
            pub fn entries(&self) -> Vec<std::sync::Arc<$crate::ledger::LedgerEntry>> {
                self.with_chain($crate::ledger::chain::Chain::all_entries)
            }

            /// The token with this `jti` in this scope:
            /// [`EctStore::get`](crate::EctStore::get), which cannot fail here.
            pub fn get(
                &self,
                wid: Option<&str>,
                jti: &str,
            ) -> Option<std::sync::Arc<$crate::store::StoredEct>> {
                self.with_chain(|c| c.get_token(wid, jti))
            }

            /// [`EctStore::referrers`](crate::EctStore::referrers), which cannot fail here.
            pub fn referrers(
                &self,
                wid: Option<&str>,
                jti: &str,
                limit: usize,
            ) -> Vec<std::sync::Arc<$crate::store::StoredEct>> {
                self.with_chain(|c| c.referrers_of(wid, jti, limit))
            }

            /// ECT-LED-4: recomputes the whole hash chain:
            /// [`Ledger::verify_chain`](crate::Ledger::verify_chain).
            pub fn verify_chain(&self) -> $crate::error::Result<()> {
                self.with_chain($crate::ledger::chain::Chain::verify)
            }
        }

        impl $crate::store::EctStore for $ledger {
            fn get(
                &self,
                wid: Option<&str>,
                jti: &str,
            ) -> $crate::error::Result<Option<std::sync::Arc<$crate::store::StoredEct>>> {
                Ok(<$ledger>::get(self, wid, jti))
            }

            fn referrers(
                &self,
                wid: Option<&str>,
                jti: &str,
                limit: usize,
            ) -> $crate::error::Result<Vec<std::sync::Arc<$crate::store::StoredEct>>> {
                Ok(<$ledger>::referrers(self, wid, jti, limit))
            }

            fn get_elsewhere(
                &self,
                wid: Option<&str>,
                jti: &str,
            ) -> $crate::error::Result<Option<std::sync::Arc<$crate::store::StoredEct>>> {
                self.with_chain(|c| c.get_elsewhere(wid, jti))
            }

            fn referrer_elsewhere(
                &self,
                wid: Option<&str>,
                jti: &str,
            ) -> $crate::error::Result<Option<std::sync::Arc<$crate::store::StoredEct>>> {
                self.with_chain(|c| c.referrer_elsewhere(wid, jti))
            }
        }

        impl $crate::ledger::Ledger for $ledger {
            fn append(
                &self,
                candidates: Vec<$crate::store::StoredEct>,
                at: u64,
                admission: &mut $crate::ledger::Admission<'_>,
            ) -> Vec<$crate::error::Result<std::sync::Arc<$crate::ledger::LedgerEntry>>> {
                self.append_to_chain(candidates, at, admission)
            }

            fn len(&self) -> $crate::error::Result<u64> {
                Ok(<$ledger>::len(self))
            }

            fn head(&self) -> $crate::error::Result<$crate::ledger::ChainHash> {
                Ok(<$ledger>::head(self))
            }

            fn entry(
                &self,
                seq: u64,
            ) -> $crate::error::Result<Option<std::sync::Arc<$crate::ledger::LedgerEntry>>> {
                Ok(<$ledger>::entry(self, seq))
            }

            fn read(
                &self,
                from: u64,
                limit: usize,
            ) -> $crate::error::Result<Vec<$crate::ledger::RawEntry>> {
                Ok(self.with_chain(|c| c.raw_range(from, limit)))
            }

            fn verify_chain(&self) -> $crate::error::Result<()> {
                <$ledger>::verify_chain(self)
            }

            fn profile(&self) -> $crate::profile::Profile {
                self.with_chain($crate::ledger::chain::Chain::profile)
            }
        }
    };
}

mod admission;
mod chain;
mod file;
mod hash;
mod line;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use admission::Admission;
pub use chain::LedgerEntry;
pub(crate) use file::read_regular_file;
pub use file::{CreateMode, FileLedger};
pub use hash::{ChainHash, HASH_DOMAIN};
pub(crate) use line::split_lines;
pub use line::{RawEntry, Tail, TornTail};
pub use memory::MemoryLedger;
#[cfg(feature = "postgres")]
pub use postgres::PostgresLedger;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteLedger;

/// An append-only, hash-chained audit ledger (SPEC.md §8): [`MemoryLedger`], [`FileLedger`],
/// and with their features `SqliteLedger` (`sqlite`) and `PostgresLedger` (`postgres`).
///
/// * ECT-LED-1: entries are only ever appended; entry `n` has sequence number `n` (from 0).
/// * ECT-LED-2: a ledger is an [`EctStore`]: lookup by `jti` in its `wid` scope.
/// * ECT-LED-3: the only way in is [`crate::Verifier::accept`] (or `accept_batch`), which
///   appends a token after §7 and §6 passed, atomically with those checks; a rejected token
///   changes nothing.
/// * ECT-LED-4: each entry carries the hash of the previous one; [`Ledger::verify_chain`]
///   recomputes every hash.
///
/// ```
/// use wimse_ect::{EctBuilder, KeySet, Ledger, LedgerAudit, MemoryLedger, Policy, SigningKey, Verifier};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let now = 1_772_000_000;
/// let key = SigningKey::from_scalar_bytes("agent-a", &[1; 32])?;
/// let keys = KeySet::from_keys([key.trusted(Some("spiffe://example.org/a"))])?;
/// let verifier = Verifier::new(keys, Policy::new("spiffe://example.org/b"))?;
/// let ledger = MemoryLedger::new(); // or FileLedger::open("ledger.jsonl")?
///
/// let task = |jti: &str, parents: &[&str]| {
///     let mut b = EctBuilder::new("spiffe://example.org/a", "step")
///         .audience("spiffe://example.org/b")
///         .jti(jti)
///         .issued_at(now)
///         .expires_at(now + 600);
///     for p in parents {
///         b = b.parent(*p);
///     }
///     b.sign(&key)
/// };
/// let (root, child) = (
///     "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
///     "6ba7b811-9dad-11d1-80b4-00c04fd430c8",
/// );
/// verifier.accept(&task(root, &[])?, now, &ledger)?;
/// let accepted = verifier.accept(&task(child, &[root])?, now + 1, &ledger)?;
/// assert_eq!(accepted.entry.seq(), 1);
/// assert_eq!(accepted.dag.verified_parents, [root]);
///
/// // A task whose parent the ledger does not hold is refused (strict mode, the default),
/// // and a refused token leaves the ledger as it was.
/// let head = ledger.head();
/// let orphan = task("6ba7b812-9dad-11d1-80b4-00c04fd430c8", &["6ba7b813-9dad-11d1-80b4-00c04fd430c8"])?;
/// let err = verifier.accept(&orphan, now + 2, &ledger).unwrap_err();
/// assert_eq!((err.code(), err.rule()), ("dag.parent_missing", "ECT-DAG-2"));
/// assert_eq!((ledger.len(), ledger.head()), (2, head));
///
/// // The hash chain, and a whole-ledger audit (linear in entries and par links).
/// ledger.verify_chain()?;
/// assert!(ledger.validate_all(verifier.policy(), None).is_valid());
/// # Ok(())
/// # }
/// ```
///
/// A hash chain detects a changed, removed or reordered entry, and any entry appended after a
/// removed tail. It cannot by itself detect that the newest entries were cut off: compare
/// [`Ledger::head`] with a copy kept elsewhere for that (`ect ledger verify --head`).
///
/// # The contract of a backend
///
/// The trait is open: a storage backend outside this crate implements it (and [`EctStore`]),
/// and proves it with the conformance kit's contract suite
/// (`wimse_ect_conformance::contract::ledger_contract`), which the ledgers of this crate pass.
/// Every backend keeps these promises, whatever the number of threads, processes or hosts
/// appending to the same ledger:
///
/// 1. **One atomic admit against one consistent view.** For each candidate of
///    [`Ledger::append`], the DAG check and the replay record ([`Admission::check`]) and the
///    append happen as one step: no other append, from this process or another, lands
///    between the check and the write, and the view the check reads holds every entry
///    acknowledged before (a lock, `BEGIN IMMEDIATE`, a locked head row). So of N concurrent
///    appends of one `(wid, jti)`, exactly one succeeds (ECT-DAG-1, ECT-RPL-1), and the entries
///    form one total order: sequence numbers without gaps, each `prev` the previous `hash`.
/// 2. **Durable before acknowledged.** An `Ok` entry is on stable storage (fsynced, committed
///    with synchronous commit) before `append` returns it, so a crash or `kill -9` just after
///    never loses it; for a batch, the results are returned after the one commit.
/// 3. **A rejection changes nothing.** A candidate whose check fails leaves no trace; a write
///    or commit that fails leaves the ledger as it was and fails every candidate it would have
///    made durable (the verifier then withdraws their replay records).
/// 4. **Fail closed.** A backend that cannot answer (a server down, a timeout, a read error)
///    returns an error (`ledger.io`), from every method, never an acceptance, an empty view
///    or a short list.
/// 5. **Uniqueness in storage too.** `(wid, jti)` is unique in the stored entries (ASCII
///    case-insensitively: `UNIQUE` on the lower-cased pair), so even a bug in the admit step
///    cannot store a task twice.
pub trait Ledger: EctStore + Send + Sync {
    /// Appends `candidates` in order, at acceptance time `at`, each only if
    /// `admission.check(i, view, &candidates[i])` passes against the view including the
    /// candidates appended before it; returns one result per candidate, in order. See the
    /// trait's contract: atomic per candidate, durable before any `Ok` is returned (one commit
    /// for the whole call is allowed and is what "group commit" means), and an error for
    /// every candidate whose entry did not become durable.
    fn append(
        &self,
        candidates: Vec<StoredEct>,
        at: u64,
        admission: &mut Admission<'_>,
    ) -> Vec<Result<Arc<LedgerEntry>>>;

    /// Number of entries.
    fn len(&self) -> Result<u64>;

    /// Whether the ledger has no entry.
    fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// The hash of the newest entry ([`ChainHash::GENESIS`] when empty).
    fn head(&self) -> Result<ChainHash>;

    /// At most `limit` entries as stored, from sequence number `from` on, in order (fewer at
    /// the end of the ledger): the page every reader streams through (the chain check, the
    /// whole-ledger audit, `ect ledger show`), so no reader holds the whole ledger in memory.
    fn read(&self, from: u64, limit: usize) -> Result<Vec<RawEntry>>;

    /// The profile whose claim names the ledger reads its tokens under (default `draft-00`,
    /// which every backend written before profile `draft-01` reads). A verifier refuses to
    /// append through a ledger of another profile (`ledger.profile`).
    fn profile(&self) -> crate::profile::Profile {
        crate::profile::DRAFT_00
    }

    /// The entry with sequence number `seq`, checked against its own hash.
    fn entry(&self, seq: u64) -> Result<Option<Arc<LedgerEntry>>> {
        match self.read(seq, 1)?.pop() {
            Some(raw) => Ok(Some(Arc::new(LedgerEntry::from_raw_in(
                &raw,
                &self.profile(),
            )?))),
            None => Ok(None),
        }
    }

    /// Every entry, in sequence order (the whole ledger in memory: prefer [`Ledger::read`] in
    /// pages, or [`stream_entries`], for a large one).
    fn entries(&self) -> Result<Vec<Arc<LedgerEntry>>> {
        stream_entries(self)
            .map(|raw| LedgerEntry::from_raw_in(&raw?, &self.profile()).map(Arc::new))
            .collect()
    }

    /// ECT-LED-4: recomputes the whole hash chain, streaming it page by page; `ledger.chain`
    /// on any mismatch.
    fn verify_chain(&self) -> Result<()> {
        let mut prev = ChainHash::GENESIS;
        for (n, raw) in (0u64..).zip(stream_entries(self)) {
            let raw = raw?;
            if let Some(error) = raw.link().error_at(n, Some(&prev)) {
                return Err(error);
            }
            prev = raw.hash;
        }
        if prev != self.head()? {
            return Err(crate::error::Error::LedgerChain(
                "the head is not the last entry's hash".into(),
            ));
        }
        Ok(())
    }
}

/// How many entries [`stream_entries`] reads at a time.
pub const STREAM_PAGE: usize = 1024;

/// Every entry of `ledger` as stored, in order, read [`STREAM_PAGE`] entries at a time: the entries
/// there were when the first page was read (an append-only ledger's prefix, a consistent
/// snapshot however many appends happen meanwhile). A read error is the last item.
pub fn stream_entries<L: Ledger + ?Sized>(
    ledger: &L,
) -> impl Iterator<Item = Result<RawEntry>> + '_ {
    let mut end = None;
    let mut next = 0u64;
    let mut page: std::vec::IntoIter<RawEntry> = Vec::new().into_iter();
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed {
            return None;
        }
        if let Some(raw) = page.next() {
            return Some(Ok(raw));
        }
        let end = match end {
            Some(end) => end,
            None => match ledger.len() {
                Ok(len) => *end.insert(len),
                Err(e) => {
                    failed = true;
                    return Some(Err(e));
                }
            },
        };
        if next >= end {
            return None;
        }
        let want = usize::try_from(end - next)
            .unwrap_or(usize::MAX)
            .min(STREAM_PAGE);
        match ledger.read(next, want) {
            Ok(entries) if entries.is_empty() => {
                failed = true;
                Some(Err(crate::error::Error::LedgerIo(format!(
                    "the ledger holds {end} entries but none could be read from {next} on"
                ))))
            }
            Ok(entries) => {
                next += entries.len() as u64;
                page = entries.into_iter();
                page.next().map(Ok)
            }
            Err(e) => {
                failed = true;
                Some(Err(e))
            }
        }
    })
}

/// `Ok` when a database ledger that records profile `held` is opened under `asked`;
/// `ledger.profile` for another known profile, `ledger.io` (naming `ledger`) for an unknown one.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn check_recorded_profile(
    held: &str,
    asked: crate::profile::Profile,
    ledger: &str,
) -> Result<()> {
    match crate::profile::Profile::from_name(held) {
        Some(p) if p == asked => Ok(()),
        Some(p) => Err(crate::error::Error::LedgerProfile {
            ledger: p.name,
            verifier: asked.name,
        }),
        None => Err(crate::error::Error::LedgerIo(format!(
            "{ledger} records an unknown profile {held:?}"
        ))),
    }
}

pub(crate) fn read_lock<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    // No code path panics while holding the lock, so a poisoned lock still holds
    // consistent data.
    lock.read().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn write_lock<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}
