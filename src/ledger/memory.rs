//! [`MemoryLedger`]: the hash chain in memory.

use std::sync::{Arc, RwLock};

use crate::error::Result;
use crate::ledger::chain::{Chain, LedgerEntry};
use crate::ledger::{Admission, read_lock, write_lock};
use crate::store::StoredEct;

/// The in-memory ledger: `Send + Sync`, O(1) lookup, appends serialized under one lock.
#[derive(Debug, Default)]
pub struct MemoryLedger {
    chain: RwLock<Chain>,
}

impl MemoryLedger {
    /// An empty ledger of profile `draft-00`.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty ledger of `profile`: a verifier appends through it only with the same
    /// profile (`ledger.profile` otherwise). A `draft-01` ledger keeps the indexes of
    /// workflow consistency (ECT-P01-5).
    pub fn with_profile(profile: crate::profile::Profile) -> Self {
        Self::from_chain(Chain::new(profile))
    }

    /// A ledger holding `chain` (a file's content read by [`crate::FileLedger::read`]).
    pub(crate) fn from_chain(chain: Chain) -> Self {
        MemoryLedger {
            chain: RwLock::new(chain),
        }
    }

    fn with_chain<R>(&self, f: impl FnOnce(&Chain) -> R) -> R {
        f(&read_lock(&self.chain))
    }
}

impl MemoryLedger {
    /// [`crate::Ledger::append`]: each candidate admitted and pushed under the write lock.
    fn append_to_chain(
        &self,
        candidates: Vec<StoredEct>,
        at: u64,
        admission: &mut Admission<'_>,
    ) -> Vec<Result<Arc<LedgerEntry>>> {
        let mut chain = write_lock(&self.chain);
        candidates
            .into_iter()
            .enumerate()
            .map(|(i, ect)| {
                let entry = chain.admit(i, ect, at, admission)?;
                Ok(chain.push(entry))
            })
            .collect()
    }
}

chain_backed!(MemoryLedger);
