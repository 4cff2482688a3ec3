//! The append-only, hash-chained audit ledger (SPEC.md §8, the draft's §9): the [`Ledger`]
//! trait and its two implementations.
//!
//! The rules and an example are on [`Ledger`], the entry hash on [`ChainHash`], the file format
//! and crash recovery on [`FileLedger`] (where users of the crate read them).
//!
//! * `hash`: the entry hash and the link rule (ECT-LED-4);
//! * `line`: the file line format, and what a crash can leave after the last `\n`;
//! * `chain`: the in-memory state both ledgers keep, and [`LedgerEntry`];
//! * `memory`: [`MemoryLedger`]; `file`: [`FileLedger`].

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::error::Result;
use crate::store::{EctStore, StoredEct};

/// [`EctStore`] and [`Ledger`] for a type with a `with_chain` method giving read access to its
/// [`chain::Chain`] (both ledgers). Defined before the modules that use it (textual scope).
macro_rules! chain_backed {
    ($ledger:ty) => {
        impl $crate::store::EctStore for $ledger {
            fn get(
                &self,
                wid: Option<&str>,
                jti: &str,
            ) -> Option<std::sync::Arc<$crate::store::StoredEct>> {
                self.with_chain(|c| c.get(wid, jti))
            }

            fn referrers(
                &self,
                wid: Option<&str>,
                jti: &str,
                limit: usize,
            ) -> Vec<std::sync::Arc<$crate::store::StoredEct>> {
                self.with_chain(|c| c.referrers(wid, jti, limit))
            }
        }

        impl $crate::ledger::Ledger for $ledger {
            fn len(&self) -> u64 {
                self.with_chain(|c| c.len())
            }

            fn head(&self) -> $crate::ledger::ChainHash {
                self.with_chain(|c| c.head())
            }

            fn entry(&self, seq: u64) -> Option<std::sync::Arc<$crate::ledger::LedgerEntry>> {
                let i = usize::try_from(seq).ok()?;
                self.with_chain(|c| c.entry(i))
            }

            fn entries(&self) -> Vec<std::sync::Arc<$crate::ledger::LedgerEntry>> {
                self.with_chain($crate::ledger::chain::Chain::all_entries)
            }

            fn verify_chain(&self) -> $crate::error::Result<()> {
                self.with_chain($crate::ledger::chain::Chain::verify)
            }

            fn raw_entries(&self) -> Vec<$crate::error::Result<$crate::ledger::RawEntry>> {
                // A snapshot taken under the read lock, without building `LedgerEntry`s.
                self.with_chain($crate::ledger::chain::Chain::raw_entries)
            }
        }
    };
}

mod chain;
mod file;
mod hash;
mod line;
mod memory;

pub use chain::LedgerEntry;
pub(crate) use file::read_regular_file;
pub use file::{CreateMode, FileLedger};
pub use hash::{ChainHash, HASH_DOMAIN};
pub(crate) use line::split_lines;
pub use line::{RawEntry, Tail, TornTail};
pub use memory::MemoryLedger;

pub(crate) mod sealed {
    use super::*;

    /// The append step of the acceptance pipeline; crate-private so that nothing but
    /// [`crate::Verifier::accept`] can append (ECT-LED-3).
    pub trait Append {
        /// Atomically (under the ledger's write lock): runs `admit` on the current contents
        /// and `ect`; if it passes, makes `ect` the next entry, persists it, and returns it.
        /// Nothing changes when `admit` or the write fails.
        fn append_admitted(
            &self,
            ect: StoredEct,
            at: u64,
            admit: &mut dyn FnMut(&dyn EctStore, &StoredEct) -> Result<()>,
        ) -> Result<Arc<LedgerEntry>>;
    }
}

/// An append-only, hash-chained audit ledger (SPEC.md §8): [`MemoryLedger`] or [`FileLedger`].
///
/// * ECT-LED-1: entries are only ever appended; entry `n` has sequence number `n` (from 0).
/// * ECT-LED-2: a ledger is an [`EctStore`]: lookup by `jti` in its `wid` scope is O(1).
/// * ECT-LED-3: the only way in is [`crate::Verifier::accept`], which appends a token after §7
///   and §6 passed, atomically with those checks; a rejected token changes nothing.
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
/// Tokens enter only through [`crate::Verifier::accept`]. The trait is sealed: other storage
/// backends belong in this crate, where the append path can be held to ECT-LED-3.
///
/// A hash chain detects a changed, removed or reordered entry, and any entry appended after a
/// removed tail. It cannot by itself detect that the newest entries were cut off: compare
/// [`Ledger::head`] with a copy kept elsewhere for that (`ect ledger verify --head`).
pub trait Ledger: EctStore + Send + Sync + sealed::Append {
    /// Number of entries.
    fn len(&self) -> u64;

    /// Whether the ledger has no entry.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The hash of the newest entry ([`ChainHash::GENESIS`] when empty).
    fn head(&self) -> ChainHash;

    /// The entry with sequence number `seq`.
    fn entry(&self, seq: u64) -> Option<Arc<LedgerEntry>>;

    /// A snapshot of every entry, in sequence order.
    fn entries(&self) -> Vec<Arc<LedgerEntry>>;

    /// ECT-LED-4: recomputes the whole hash chain; `ledger.chain` on any mismatch.
    fn verify_chain(&self) -> Result<()>;

    /// A snapshot of every entry as stored, in sequence order, each as its chained fields (or
    /// why it could not be read): the input of the whole-ledger audit
    /// ([`crate::LedgerAudit::validate_all`], [`crate::audit()`]).
    fn raw_entries(&self) -> Vec<Result<RawEntry>> {
        self.entries().iter().map(|e| Ok(e.raw())).collect()
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
