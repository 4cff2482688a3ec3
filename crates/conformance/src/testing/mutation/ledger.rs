//! SPEC.md §8, the audit ledger: [`Tamper`], a change to a ledger file between two opens, and
//! the cases of ECT-LED-3 (`Mutation::LedgerDuplicate`: a correctly chained duplicate entry) and
//! ECT-LED-4 (`LedgerChain`: an edited, removed or swapped entry), found when the file is
//! reopened.

use super::{Mutation, Mutator};
use crate::testing::Stage;
use wimse_ect::RawEntry;

/// A change to a ledger file between two opens (ECT-LED-3, ECT-LED-4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tamper {
    /// Appends a copy of entry `of`'s token as a new, correctly chained entry: a duplicate
    /// `jti` the chain itself cannot reveal (ECT-LED-3).
    DuplicateEntry {
        /// The entry whose token is appended again.
        of: usize,
    },
    /// Changes the acceptance time of entry `line` without fixing its hash.
    EditTime {
        /// 0-based entry index.
        line: usize,
    },
    /// Changes one character of entry `line`'s token.
    EditToken {
        /// 0-based entry index.
        line: usize,
    },
    /// Removes entry `line`, which is not the last one.
    RemoveLine {
        /// 0-based entry index.
        line: usize,
    },
    /// Swaps entries `line` and `line + 1`.
    SwapLines {
        /// 0-based entry index.
        line: usize,
    },
}

impl Tamper {
    /// The ledger file `bytes` after the change. `Err` when the file has too few entries.
    pub fn apply(&self, bytes: &[u8]) -> Result<Vec<u8>, String> {
        let mut lines: Vec<Vec<u8>> = bytes
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        let n = lines.len();
        let raw = |i: usize| -> Result<RawEntry, String> {
            let line = lines.get(i).ok_or(format!("no entry {i} of {n}"))?;
            RawEntry::parse_line(line).map_err(|e| e.to_string())
        };
        match *self {
            Tamper::DuplicateEntry { of } => {
                let copy = raw(of)?;
                let last = raw(n.checked_sub(1).ok_or("an empty ledger")?)?;
                let mut entry = RawEntry {
                    seq: n as u64,
                    at: last.at,
                    prev: last.hash,
                    hash: last.hash,
                    token: copy.token,
                };
                entry.hash = entry.expected_hash();
                lines.push(entry.to_line().into_bytes());
            }
            Tamper::EditTime { line } => {
                let mut entry = raw(line)?;
                entry.at ^= 1;
                lines[line] = entry.to_line().into_bytes();
            }
            Tamper::EditToken { line } => {
                let mut entry = raw(line)?;
                let last = entry.token.pop().ok_or("an empty token")?;
                entry.token.push(if last == 'A' { 'B' } else { 'A' });
                lines[line] = entry.to_line().into_bytes();
            }
            Tamper::RemoveLine { line } if line + 1 < n => {
                lines.remove(line);
            }
            Tamper::SwapLines { line } if line + 1 < n => lines.swap(line, line + 1),
            Tamper::RemoveLine { .. } | Tamper::SwapLines { .. } => {
                return Err(format!("{self:?} needs more than {n} entries"));
            }
        }
        let mut out = Vec::with_capacity(bytes.len() + 1024);
        for line in lines {
            out.extend_from_slice(&line);
            out.push(b'\n');
        }
        Ok(out)
    }
}

impl Mutator {
    pub(super) fn ledger_file(&mut self, m: Mutation) -> Stage {
        let t = self.target();
        let n = t + 1;
        let tamper = if m == Mutation::LedgerDuplicate {
            Tamper::DuplicateEntry {
                of: self.rng.below(n),
            }
        } else {
            match self.rng.below(4) {
                1 if n >= 2 => Tamper::RemoveLine {
                    line: self.rng.below(n - 1),
                },
                2 if n >= 2 => Tamper::SwapLines {
                    line: self.rng.below(n - 1),
                },
                3 => Tamper::EditToken {
                    line: self.rng.below(n),
                },
                _ => Tamper::EditTime {
                    line: self.rng.below(n),
                },
            }
        };
        self.describe(format!("{tamper:?}"));
        self.wf.tamper = Some(tamper);
        Stage::LedgerReopen
    }
}
