//! [`MemoryLedger`]: the hash chain in memory.

use std::sync::{Arc, RwLock};

use crate::error::Result;
use crate::ledger::chain::{Chain, LedgerEntry};
use crate::ledger::{read_lock, sealed, write_lock};
use crate::store::{EctStore, StoredEct};

/// The in-memory ledger: `Send + Sync`, O(1) lookup, appends serialized under one lock.
#[derive(Debug, Default)]
pub struct MemoryLedger {
    chain: RwLock<Chain>,
}

impl MemoryLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
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

impl sealed::Append for MemoryLedger {
    fn append_admitted(
        &self,
        ect: StoredEct,
        at: u64,
        admit: &mut dyn FnMut(&dyn EctStore, &StoredEct) -> Result<()>,
    ) -> Result<Arc<LedgerEntry>> {
        let mut chain = write_lock(&self.chain);
        let entry = chain.admit(ect, at, admit)?;
        Ok(chain.push(entry))
    }
}

chain_backed!(MemoryLedger);
