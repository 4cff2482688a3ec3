//! [`Admission`]: the verifier's checks, handed to a ledger backend's append.

use crate::error::Result;
use crate::store::{EctStore, StoredEct};

/// The stateful checks of one acceptance ([`crate::Verifier::accept`] or
/// [`crate::Verifier::accept_batch`]), handed to [`Ledger::append`](crate::Ledger::append): the DAG rules (SPEC.md §7)
/// and the replay record (ECT-RPL-1) of each candidate, against the view of the ledger the
/// backend passes in.
///
/// Only the verifier makes one, so no code can append a token that did not pass every check
/// (ECT-LED-3), even through a backend written outside this crate.
pub struct Admission<'a> {
    check: &'a mut (dyn FnMut(usize, &dyn EctStore, &StoredEct) -> Result<()> + 'a),
}

impl std::fmt::Debug for Admission<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admission").finish_non_exhaustive()
    }
}

impl<'a> Admission<'a> {
    pub(crate) fn new(
        check: &'a mut (dyn FnMut(usize, &dyn EctStore, &StoredEct) -> Result<()> + 'a),
    ) -> Self {
        Admission { check }
    }

    /// Runs the stateful checks of candidate `index` (its position in the `candidates` given
    /// to [`Ledger::append`](crate::Ledger::append)) against `view`: the ledger's contents, including the candidates
    /// of this call appended before it, as one consistent view that no other writer can
    /// change until this call's entries are durable or abandoned.
    ///
    /// `Ok`: append `ect` as the next entry. `Err`: refuse it and append nothing for it; the
    /// error is that candidate's result. Call it exactly once per candidate, in order, and
    /// before any byte of its entry is written.
    pub fn check(&mut self, index: usize, view: &dyn EctStore, ect: &StoredEct) -> Result<()> {
        (self.check)(index, view, ect)
    }
}
