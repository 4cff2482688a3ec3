//! The in-memory state both ledgers keep ([`Chain`]: entries, the `(wid, jti)` index with each
//! stored token's children, and the head), and [`LedgerEntry`], an entry as a ledger hands it
//! out.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::check::parse_stored_token;
use crate::error::{Error, Result};
use crate::ledger::admission::Admission;
use crate::ledger::hash::{ChainHash, Link};
use crate::ledger::line::{RawEntry, Tail, line, split_lines};
use crate::profile::Profile;
use crate::store::{
    EctStore, FirstScopes, KeyView, ScopeKey, StoredEct, first, lookup, same_parts,
};

/// One ledger entry: a token accepted at time `at`, linked to its predecessor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerEntry {
    seq: u64,
    at: u64,
    prev: ChainHash,
    hash: ChainHash,
    ect: Arc<StoredEct>,
}

impl LedgerEntry {
    /// The sequence number: this entry's position, from 0 (ECT-LED-1).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// When the token was accepted (the `now` given to [`crate::Verifier::accept`]).
    pub fn accepted_at(&self) -> u64 {
        self.at
    }

    /// The previous entry's hash ([`ChainHash::GENESIS`] for entry 0).
    pub fn prev(&self) -> ChainHash {
        self.prev
    }

    /// This entry's hash.
    pub fn hash(&self) -> ChainHash {
        self.hash
    }

    /// The stored token.
    pub fn ect(&self) -> &Arc<StoredEct> {
        &self.ect
    }

    /// The canonical file line, without the final `\n`.
    pub fn to_line(&self) -> String {
        line(self.seq, self.at, &self.prev, &self.hash, self.ect.token())
    }

    /// A new entry: `ect` accepted at `at` as entry `seq`, linked to `prev` (the previous
    /// entry's hash, [`ChainHash::GENESIS`] for entry 0), its hash computed (ECT-LED-4). What a
    /// [`crate::Ledger`] backend stores for a candidate that passed
    /// [`crate::Admission::check`].
    pub fn new(seq: u64, at: u64, prev: ChainHash, ect: Arc<StoredEct>) -> Self {
        let hash = ChainHash::of_entry(seq, at, &prev, ect.token());
        LedgerEntry {
            seq,
            at,
            prev,
            hash,
            ect,
        }
    }

    /// An entry read back from a backend's storage: its recorded hash must be the hash of its
    /// fields (else `ledger.chain`), and its token must parse (else `ledger.chain`). The link
    /// to the previous entry is checked by [`crate::Ledger::verify_chain`].
    ///
    /// The token's signature is not checked again: it was checked when the entry was
    /// appended, and the hash chain, not this function, is the tamper evidence.
    ///
    /// The token is read under profile `draft-00`; [`LedgerEntry::from_raw_in`] takes another.
    pub fn from_raw(raw: &RawEntry) -> Result<Self> {
        Self::from_raw_in(raw, &crate::profile::DRAFT_00)
    }

    /// [`LedgerEntry::from_raw`] with the token read under `profile`'s claim names.
    pub fn from_raw_in(raw: &RawEntry, profile: &Profile) -> Result<Self> {
        if raw.expected_hash() != raw.hash {
            return Err(Error::LedgerChain(format!(
                "entry {}: the recorded hash is not the hash of the entry",
                raw.seq
            )));
        }
        let claims = parse_stored_token(&raw.token, profile).map_err(|e| {
            Error::LedgerChain(format!(
                "entry {}: the stored token does not parse: {e}",
                raw.seq
            ))
        })?;
        Ok(LedgerEntry {
            seq: raw.seq,
            at: raw.at,
            prev: raw.prev,
            hash: raw.hash,
            ect: Arc::new(StoredEct::new(raw.token.clone(), claims)),
        })
    }

    /// The entry as its chained fields (what a backend stores).
    pub fn raw(&self) -> RawEntry {
        RawEntry {
            seq: self.seq,
            at: self.at,
            prev: self.prev,
            hash: self.hash,
            token: self.ect.token().to_owned(),
        }
    }
}

/// The in-memory state every ledger keeps: entries, the `(wid, jti)` index with each stored
/// token's children, the referrers of parents not (yet) stored, and the chain head.
///
/// Memory (BENCHMARKS.md, "Memory (issue 7)"): an entry is kept as a [`Record`] (its `seq` is
/// its position and its `prev` the previous record's hash, so neither is stored), and the
/// index holds the stored token itself, keyed by its own `wid` and `jti`, so no copy of the
/// identifiers is made. [`LedgerEntry`] values are built when asked for.
///
/// [`EctStore::referrers`] is exact (SPEC.md §7, "Late parents"): `index` maps each stored
/// token to the stored tokens naming it as a parent, and `dangling` maps each `(wid, jti)`
/// that some stored token names but no entry holds to those tokens; both lists are in entry
/// order. When the named token arrives, its list moves from `dangling` to its index entry.
///
/// A chain of a profile with workflow consistency (`draft-01`, ECT-P01-5) also keeps
/// `elsewhere`: the first scopes of each `jti` and of each parent, so that
/// [`EctStore::get_elsewhere`] and [`EctStore::referrer_elsewhere`] are O(1). A `draft-00`
/// chain does not pay for it, and answers those two with `ledger.profile`.
#[derive(Debug, Default)]
pub(crate) struct Chain {
    entries: Vec<Record>,
    index: HashMap<Scoped, Vec<Arc<StoredEct>>>,
    dangling: HashMap<ScopeKey, Vec<Arc<StoredEct>>>,
    head: ChainHash,
    profile: Profile,
    elsewhere: Option<Box<Elsewhere>>,
}

/// The indexes of [`EctStore::get_elsewhere`] and [`EctStore::referrer_elsewhere`].
#[derive(Debug, Default)]
struct Elsewhere {
    by_jti: FirstScopes,
    by_parent: FirstScopes,
}

/// What a ledger keeps of an entry: the rest is implied by its position.
#[derive(Debug)]
struct Record {
    at: u64,
    hash: ChainHash,
    ect: Arc<StoredEct>,
}

/// A stored token as an index key: hashed and compared by its `(wid, jti)` scope.
#[derive(Debug)]
struct Scoped(Arc<StoredEct>);

impl KeyView for Scoped {
    fn parts(&self) -> (Option<&str>, &str) {
        (self.0.wid(), self.0.jti())
    }
}

// `Hash` and `Eq` agree with the borrowed view's, as `Borrow` requires.
impl Hash for Scoped {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.hash_key(state);
    }
}

impl PartialEq for Scoped {
    fn eq(&self, other: &Self) -> bool {
        same_parts(self.parts(), other.parts())
    }
}

impl Eq for Scoped {}

impl<'a> Borrow<dyn KeyView + 'a> for Scoped {
    fn borrow(&self) -> &(dyn KeyView + 'a) {
        self
    }
}

impl EctStore for Chain {
    fn get(&self, wid: Option<&str>, jti: &str) -> Result<Option<Arc<StoredEct>>> {
        Ok(self.get_token(wid, jti))
    }

    fn referrers(&self, wid: Option<&str>, jti: &str, limit: usize) -> Result<Vec<Arc<StoredEct>>> {
        Ok(self.referrers_of(wid, jti, limit))
    }

    fn get_elsewhere(&self, wid: Option<&str>, jti: &str) -> Result<Option<Arc<StoredEct>>> {
        Ok(self.elsewhere()?.by_jti.outside(wid, jti))
    }

    fn referrer_elsewhere(&self, wid: Option<&str>, jti: &str) -> Result<Option<Arc<StoredEct>>> {
        Ok(self.elsewhere()?.by_parent.outside(wid, jti))
    }
}

impl Chain {
    /// An empty chain whose tokens are read under `profile`.
    pub(crate) fn new(profile: Profile) -> Self {
        Chain {
            profile,
            elsewhere: profile.workflow_consistency.then(Box::default),
            ..Chain::default()
        }
    }

    /// The profile the chain's tokens are read under.
    pub(crate) fn profile(&self) -> Profile {
        self.profile
    }

    /// The `_elsewhere` indexes, or `ledger.profile` for a chain of a profile without
    /// workflow consistency (fail closed: never `Ok(None)`).
    fn elsewhere(&self) -> Result<&Elsewhere> {
        self.elsewhere.as_deref().ok_or(Error::LedgerProfile {
            ledger: self.profile.name,
            verifier: "a profile with workflow consistency (ECT-P01-5)",
        })
    }

    /// [`EctStore::get`], which cannot fail in memory.
    pub(crate) fn get_token(&self, wid: Option<&str>, jti: &str) -> Option<Arc<StoredEct>> {
        self.index
            .get_key_value(&(wid, jti) as &dyn KeyView)
            .map(|(s, _)| Arc::clone(&s.0))
    }

    /// [`EctStore::referrers`], which cannot fail in memory.
    pub(crate) fn referrers_of(
        &self,
        wid: Option<&str>,
        jti: &str,
        limit: usize,
    ) -> Vec<Arc<StoredEct>> {
        let key = &(wid, jti) as &dyn KeyView;
        match self.index.get(key) {
            Some(children) => first(Some(children), limit),
            None => first(lookup(&self.dangling, wid, jti), limit),
        }
    }

    /// Number of entries.
    pub(crate) fn len(&self) -> u64 {
        self.entries.len() as u64
    }

    /// The newest entry's hash ([`ChainHash::GENESIS`] when empty).
    pub(crate) fn head(&self) -> ChainHash {
        self.head
    }

    /// The hash entry `seq` links to: the previous entry's ([`ChainHash::GENESIS`] for 0).
    fn prev_of(&self, seq: usize) -> ChainHash {
        seq.checked_sub(1)
            .map_or(ChainHash::GENESIS, |p| self.entries[p].hash)
    }

    /// Entry `seq` as a [`LedgerEntry`].
    pub(crate) fn entry(&self, seq: usize) -> Option<Arc<LedgerEntry>> {
        let r = self.entries.get(seq)?;
        Some(Arc::new(LedgerEntry {
            seq: seq as u64,
            at: r.at,
            prev: self.prev_of(seq),
            hash: r.hash,
            ect: Arc::clone(&r.ect),
        }))
    }

    /// Every entry as a [`LedgerEntry`], in sequence order.
    pub(crate) fn all_entries(&self) -> Vec<Arc<LedgerEntry>> {
        (0..self.entries.len())
            .filter_map(|i| self.entry(i))
            .collect()
    }

    /// At most `limit` entries from `from` on, as stored ([`crate::Ledger::read`]).
    pub(crate) fn raw_range(&self, from: u64, limit: usize) -> Vec<RawEntry> {
        let Ok(from) = usize::try_from(from) else {
            return Vec::new();
        };
        let end = from.saturating_add(limit).min(self.entries.len());
        (from..end)
            .map(|seq| {
                let r = &self.entries[seq];
                RawEntry {
                    seq: seq as u64,
                    at: r.at,
                    prev: self.prev_of(seq),
                    hash: r.hash,
                    token: r.ect.token().to_owned(),
                }
            })
            .collect()
    }

    /// The entry `ect` would become if appended at time `at`.
    fn next_entry(&self, ect: StoredEct, at: u64) -> LedgerEntry {
        LedgerEntry::new(self.entries.len() as u64, at, self.head, Arc::new(ect))
    }

    /// ECT-LED-4: checks that `raw` is the next link of the chain.
    fn check_link(&self, raw: &RawEntry) -> Result<()> {
        match raw
            .link()
            .error_at(self.entries.len() as u64, Some(&self.head))
        {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// ECT-LED-3: refuses a `jti` already present in its scope.
    fn check_unique(&self, ect: &StoredEct) -> Result<()> {
        match self.get_token(ect.wid(), ect.jti()) {
            Some(_) => Err(Error::LedgerDuplicate(ect.jti().to_owned())),
            None => Ok(()),
        }
    }

    /// The admission step of both ledgers, under their write lock: runs the admission
    /// checks of candidate `index` on the current contents and `ect`, refuses a duplicate
    /// (ECT-LED-3), and returns the entry `ect` becomes. Changes nothing.
    pub(crate) fn admit(
        &self,
        index: usize,
        ect: StoredEct,
        at: u64,
        admission: &mut Admission<'_>,
    ) -> Result<LedgerEntry> {
        admission.check(index, self, &ect)?;
        self.check_unique(&ect)?;
        Ok(self.next_entry(ect, at))
    }

    /// Appends an entry that passed [`Chain::check_link`] and [`Chain::check_unique`], and
    /// returns it. Keeps [`EctStore::referrers`] exact: the new token is added to the list of
    /// each of its parents (an index entry when the parent is stored, a `dangling` list
    /// otherwise), and the tokens that named the new token before it arrived become its
    /// children.
    pub(crate) fn push(&mut self, entry: LedgerEntry) -> Arc<LedgerEntry> {
        let ect = &entry.ect;
        let wid = ect.wid();
        for parent in &ect.claims().par {
            match self.index.get_mut(&(wid, parent.as_str()) as &dyn KeyView) {
                Some(children) => children.push(Arc::clone(ect)),
                None => self
                    .dangling
                    .entry(ScopeKey::new(wid, parent))
                    .or_default()
                    .push(Arc::clone(ect)),
            }
        }
        if let Some(elsewhere) = &mut self.elsewhere {
            for parent in &ect.claims().par {
                elsewhere.by_parent.note(parent, ect);
            }
            elsewhere.by_jti.note(ect.jti(), ect);
        }
        let children = self
            .dangling
            .remove(&(wid, ect.jti()) as &dyn KeyView)
            .unwrap_or_default();
        self.index.insert(Scoped(Arc::clone(ect)), children);
        self.head = entry.hash;
        self.entries.push(Record {
            at: entry.at,
            hash: entry.hash,
            ect: Arc::clone(ect),
        });
        Arc::new(entry)
    }

    /// ECT-LED-4: recomputes every link and hash.
    pub(crate) fn verify(&self) -> Result<()> {
        let mut prev = ChainHash::GENESIS;
        for (i, r) in self.entries.iter().enumerate() {
            let link = Link {
                seq: i as u64,
                at: r.at,
                prev: &prev,
                hash: &r.hash,
                token: r.ect.token(),
            };
            if let Some(error) = link.error_at(i as u64, Some(&prev)) {
                return Err(error);
            }
            prev = r.hash;
        }
        if prev != self.head {
            return Err(Error::LedgerChain(
                "the head is not the last entry's hash".into(),
            ));
        }
        Ok(())
    }

    /// Reads a ledger file's content: every line, the last one even without its `\n`, must be
    /// the next valid entry; a torn final segment is returned, not read (see [`split_lines`]).
    pub(crate) fn load(bytes: &[u8], profile: Profile) -> Result<(Chain, Option<Tail>)> {
        let (lines, tail) = split_lines(bytes);
        let mut chain = Chain::new(profile);
        for (i, line) in lines.enumerate() {
            let at_line = |e: Error| match e {
                Error::LedgerChain(why) => Error::LedgerChain(format!("line {}: {why}", i + 1)),
                other => other,
            };
            let raw = RawEntry::parse_line(line).map_err(at_line)?;
            chain.check_link(&raw).map_err(at_line)?;
            let claims = parse_stored_token(&raw.token, &profile).map_err(|e| {
                Error::LedgerChain(format!(
                    "line {}: the stored token does not parse: {e}",
                    i + 1
                ))
            })?;
            let ect = StoredEct::new(raw.token, claims);
            chain.check_unique(&ect)?;
            chain.push(LedgerEntry {
                seq: raw.seq,
                at: raw.at,
                prev: raw.prev,
                hash: raw.hash,
                ect: Arc::new(ect),
            });
        }
        Ok((chain, tail))
    }
}
