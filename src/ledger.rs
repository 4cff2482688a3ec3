//! The append-only, hash-chained audit ledger (SPEC.md §8, the draft's §9).
//!
//! * ECT-LED-1: entries are only ever appended; entry `n` has sequence number `n` (from 0).
//! * ECT-LED-2: a ledger is an [`EctStore`]: lookup by `jti` in its `wid` scope is O(1).
//! * ECT-LED-3: the only way in is [`crate::Verifier::accept`], which appends a token after §7
//!   and §6 passed, atomically with those checks; a rejected token changes nothing.
//! * ECT-LED-4: each entry carries the hash of the previous one; [`Ledger::verify_chain`]
//!   recomputes every hash.
//!
//! ```
//! use wimse_ect::{EctBuilder, KeySet, Ledger, MemoryLedger, Policy, SigningKey, Verifier};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let now = 1_772_000_000;
//! let key = SigningKey::from_scalar_bytes("agent-a", &[1; 32])?;
//! let keys = KeySet::from_keys([key.trusted(Some("spiffe://example.org/a"))])?;
//! let verifier = Verifier::new(keys, Policy::new("spiffe://example.org/b"))?;
//! let ledger = MemoryLedger::new(); // or FileLedger::open("ledger.jsonl")?
//!
//! let task = |jti: &str, parents: &[&str]| {
//!     let mut b = EctBuilder::new("spiffe://example.org/a", "step")
//!         .audience("spiffe://example.org/b")
//!         .jti(jti)
//!         .issued_at(now)
//!         .expires_at(now + 600);
//!     for p in parents {
//!         b = b.parent(*p);
//!     }
//!     b.sign(&key)
//! };
//! let (root, child) = (
//!     "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
//!     "6ba7b811-9dad-11d1-80b4-00c04fd430c8",
//! );
//! verifier.accept(&task(root, &[])?, now, &ledger)?;
//! let accepted = verifier.accept(&task(child, &[root])?, now + 1, &ledger)?;
//! assert_eq!(accepted.entry.seq(), 1);
//! assert_eq!(accepted.dag.verified_parents, [root]);
//!
//! // A task whose parent the ledger does not hold is refused (strict mode, the default),
//! // and a refused token leaves the ledger as it was.
//! let head = ledger.head();
//! let orphan = task("6ba7b812-9dad-11d1-80b4-00c04fd430c8", &["6ba7b813-9dad-11d1-80b4-00c04fd430c8"])?;
//! let err = verifier.accept(&orphan, now + 2, &ledger).unwrap_err();
//! assert_eq!((err.code(), err.rule()), ("dag.parent_missing", "ECT-DAG-2"));
//! assert_eq!((ledger.len(), ledger.head()), (2, head));
//!
//! // The hash chain, and a whole-ledger audit (linear in entries and par links).
//! ledger.verify_chain()?;
//! assert!(ledger.validate_all(verifier.policy(), None).is_valid());
//! # Ok(())
//! # }
//! ```
//!
//! # Entry hash (format `wimse-ect-ledger-v1`)
//!
//! `hash = SHA-256("wimse-ect-ledger-v1\n" || seq || at || prev || token)`, where `seq` and `at`
//! (the acceptance time, the `now` given to `accept`) are 8-byte big-endian integers, `prev` is
//! the previous entry's 32-byte hash (32 zero bytes for entry 0) and `token` is the compact
//! token's ASCII bytes. All fields but the last have fixed lengths, so the encoding is
//! injective.
//!
//! # File format
//!
//! One JSON object per line, each line ending with `\n`, members in this order and nothing
//! else, hashes in unpadded base64url:
//!
//! ```text
//! {"seq":0,"at":1772000000,"prev":"AAAA…","hash":"…","token":"eyJ…"}
//! ```
//!
//! A line that differs in any byte from this canonical form is corruption (`ledger.chain`).
//! A final segment without its `\n` is a write cut short by a crash: it was never
//! acknowledged (acknowledgement follows the `fsync` of the whole line), so it is reported
//! ([`FileLedger::torn_tail`]) and dropped, and every earlier entry is kept.
//!
//! A hash chain detects a changed, removed or reordered entry, and any entry appended after a
//! removed tail. It cannot by itself detect that the newest entries were cut off: compare
//! [`Ledger::head`] with a copy kept elsewhere for that (`ect ledger verify --head`).

use std::borrow::Borrow;
use std::collections::HashMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};
use crate::json::parse_object;
use crate::jws::{b64_decode, b64_encode};
use crate::store::{EctStore, KeyView, ScopeKey, StoredEct, first, lookup};
use crate::verify::{Policy, parse_stored_token};

/// The domain-separation prefix of every entry hash.
pub const HASH_DOMAIN: &[u8] = b"wimse-ect-ledger-v1\n";

/// A SHA-256 value of the hash chain (ECT-LED-4). Displayed as unpadded base64url.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ChainHash(pub [u8; 32]);

impl ChainHash {
    /// The `prev` of entry 0: 32 zero bytes.
    pub const GENESIS: ChainHash = ChainHash([0; 32]);

    /// Parses the unpadded base64url form of a 32-byte hash.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = b64_decode(text.as_bytes())?;
        Some(ChainHash(bytes.try_into().ok()?))
    }

    /// The hash of an entry (see the module documentation).
    pub fn of_entry(seq: u64, at: u64, prev: &ChainHash, token: &str) -> Self {
        let mut h = Sha256::new();
        h.update(HASH_DOMAIN);
        h.update(seq.to_be_bytes());
        h.update(at.to_be_bytes());
        h.update(prev.0);
        h.update(token.as_bytes());
        ChainHash(h.finalize().into())
    }
}

impl fmt::Display for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&b64_encode(&self.0))
    }
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainHash({self})")
    }
}

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

    fn raw(&self) -> RawEntry {
        RawEntry {
            seq: self.seq,
            at: self.at,
            prev: self.prev,
            hash: self.hash,
            token: self.ect.token().to_owned(),
        }
    }
}

/// The chained fields of an entry, borrowed from a [`LedgerEntry`] or a [`RawEntry`].
pub(crate) struct Link<'a> {
    seq: u64,
    at: u64,
    prev: &'a ChainHash,
    hash: &'a ChainHash,
    token: &'a str,
}

impl Link<'_> {
    /// ECT-LED-4: why this entry is not the link expected at `position` after `expected_prev`
    /// (`None` when the previous entry is unreadable, so only `seq` and `hash` are checked).
    pub(crate) fn error_at(
        &self,
        position: u64,
        expected_prev: Option<&ChainHash>,
    ) -> Option<Error> {
        let why = if self.seq != position {
            format!("entry {position} has sequence number {}", self.seq)
        } else if expected_prev.is_some_and(|p| p != self.prev) {
            format!("entry {position} does not link to the previous entry's hash")
        } else if *self.hash != ChainHash::of_entry(self.seq, self.at, self.prev, self.token) {
            format!("entry {position} has a wrong hash")
        } else {
            return None;
        };
        Some(Error::LedgerChain(why))
    }
}

fn line(seq: u64, at: u64, prev: &ChainHash, hash: &ChainHash, token: &str) -> String {
    let token = serde_json::Value::String(token.to_owned());
    format!(r#"{{"seq":{seq},"at":{at},"prev":"{prev}","hash":"{hash}","token":{token}}}"#)
}

/// A ledger line parsed into its fields but not checked against the chain, the token not
/// parsed: the input of [`crate::audit()`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawEntry {
    /// The `seq` member.
    pub seq: u64,
    /// The `at` member (acceptance time).
    pub at: u64,
    /// The `prev` member.
    pub prev: ChainHash,
    /// The `hash` member.
    pub hash: ChainHash,
    /// The `token` member.
    pub token: String,
}

impl RawEntry {
    /// Parses one line (without its `\n`). Anything but the canonical form is `ledger.chain`.
    pub fn parse_line(line_bytes: &[u8]) -> Result<Self> {
        let bad = |why: &str| Error::LedgerChain(format!("not a ledger entry: {why}"));
        let map = parse_object(line_bytes).map_err(|e| bad(&e.message()))?;
        let uint = |name: &str| map.get(name).and_then(|v| v.as_u64());
        let text = |name: &str| map.get(name).and_then(|v| v.as_str());
        let hash = |name: &str| text(name).and_then(ChainHash::parse);
        let raw = RawEntry {
            seq: uint("seq").ok_or_else(|| bad("seq"))?,
            at: uint("at").ok_or_else(|| bad("at"))?,
            prev: hash("prev").ok_or_else(|| bad("prev"))?,
            hash: hash("hash").ok_or_else(|| bad("hash"))?,
            token: text("token").ok_or_else(|| bad("token"))?.to_owned(),
        };
        if raw.to_line().as_bytes() != line_bytes {
            return Err(bad("not in canonical form"));
        }
        Ok(raw)
    }

    /// The canonical line, without the final `\n`.
    pub fn to_line(&self) -> String {
        line(self.seq, self.at, &self.prev, &self.hash, &self.token)
    }

    /// The hash this entry should carry, recomputed from its fields.
    pub fn expected_hash(&self) -> ChainHash {
        ChainHash::of_entry(self.seq, self.at, &self.prev, &self.token)
    }

    pub(crate) fn link(&self) -> Link<'_> {
        Link {
            seq: self.seq,
            at: self.at,
            prev: &self.prev,
            hash: &self.hash,
            token: &self.token,
        }
    }
}

/// A final line cut short by a crash, found and dropped when a ledger file was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TornTail {
    /// Byte offset where the incomplete line starts (the length of the intact part).
    pub offset: u64,
    /// Length of the incomplete line in bytes.
    pub len: u64,
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
#[derive(Debug, Default)]
struct Chain {
    entries: Vec<Record>,
    index: HashMap<Scoped, Vec<Arc<StoredEct>>>,
    dangling: HashMap<ScopeKey, Vec<Arc<StoredEct>>>,
    head: ChainHash,
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
        self.parts().hash(state);
    }
}

impl PartialEq for Scoped {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for Scoped {}

impl<'a> Borrow<dyn KeyView + 'a> for Scoped {
    fn borrow(&self) -> &(dyn KeyView + 'a) {
        self
    }
}

impl EctStore for Chain {
    fn get(&self, wid: Option<&str>, jti: &str) -> Option<Arc<StoredEct>> {
        self.index
            .get_key_value(&(wid, jti) as &dyn KeyView)
            .map(|(s, _)| Arc::clone(&s.0))
    }

    fn referrers(&self, wid: Option<&str>, jti: &str, limit: usize) -> Vec<Arc<StoredEct>> {
        let key = &(wid, jti) as &dyn KeyView;
        match self.index.get(key) {
            Some(children) => first(Some(children), limit),
            None => first(lookup(&self.dangling, wid, jti), limit),
        }
    }
}

impl Chain {
    /// The hash entry `seq` links to: the previous entry's ([`ChainHash::GENESIS`] for 0).
    fn prev_of(&self, seq: usize) -> ChainHash {
        seq.checked_sub(1)
            .map_or(ChainHash::GENESIS, |p| self.entries[p].hash)
    }

    /// Entry `seq` as a [`LedgerEntry`].
    fn entry(&self, seq: usize) -> Option<Arc<LedgerEntry>> {
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
    fn all_entries(&self) -> Vec<Arc<LedgerEntry>> {
        (0..self.entries.len())
            .filter_map(|i| self.entry(i))
            .collect()
    }

    /// Every entry as the input of [`crate::audit()`], without building [`LedgerEntry`]s.
    fn raw_entries(&self) -> Vec<Result<RawEntry>> {
        let mut prev = ChainHash::GENESIS;
        let mut raw = Vec::with_capacity(self.entries.len());
        for (seq, r) in self.entries.iter().enumerate() {
            raw.push(Ok(RawEntry {
                seq: seq as u64,
                at: r.at,
                prev,
                hash: r.hash,
                token: r.ect.token().to_owned(),
            }));
            prev = r.hash;
        }
        raw
    }

    /// The entry `ect` would become if appended at time `at`.
    fn next_entry(&self, ect: StoredEct, at: u64) -> LedgerEntry {
        let seq = self.entries.len() as u64;
        let hash = ChainHash::of_entry(seq, at, &self.head, ect.token());
        LedgerEntry {
            seq,
            at,
            prev: self.head,
            hash,
            ect: Arc::new(ect),
        }
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
        match self.get(ect.wid(), ect.jti()) {
            Some(_) => Err(Error::LedgerDuplicate(ect.jti().to_owned())),
            None => Ok(()),
        }
    }

    /// The admission step of both ledgers, under their write lock: runs `admit` on the
    /// current contents and `ect`, refuses a duplicate (ECT-LED-3), and returns the entry
    /// `ect` becomes. Changes nothing.
    fn admit(
        &self,
        ect: StoredEct,
        at: u64,
        admit: &mut dyn FnMut(&dyn EctStore, &StoredEct) -> Result<()>,
    ) -> Result<LedgerEntry> {
        admit(self, &ect)?;
        self.check_unique(&ect)?;
        Ok(self.next_entry(ect, at))
    }

    /// Appends an entry that passed [`Chain::check_link`] and [`Chain::check_unique`], and
    /// returns it. Keeps [`EctStore::referrers`] exact: the new token is added to the list of
    /// each of its parents (an index entry when the parent is stored, a `dangling` list
    /// otherwise), and the tokens that named the new token before it arrived become its
    /// children.
    fn push(&mut self, entry: LedgerEntry) -> Arc<LedgerEntry> {
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
    fn verify(&self) -> Result<()> {
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

    /// Reads a ledger file's content: every complete line must be the next valid entry; a
    /// final line without `\n` is returned as a torn tail.
    fn load(bytes: &[u8]) -> Result<(Chain, Option<TornTail>)> {
        let (lines, torn) = split_lines(bytes);
        let mut chain = Chain::default();
        for (i, line) in lines.enumerate() {
            let at_line = |e: Error| match e {
                Error::LedgerChain(why) => Error::LedgerChain(format!("line {}: {why}", i + 1)),
                other => other,
            };
            let raw = RawEntry::parse_line(line).map_err(at_line)?;
            chain.check_link(&raw).map_err(at_line)?;
            let claims = parse_stored_token(&raw.token).map_err(|e| {
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
        Ok((chain, torn))
    }
}

/// Splits a ledger file into its complete lines (without their `\n`) and the torn final
/// segment, if the file does not end with `\n`.
pub(crate) fn split_lines(bytes: &[u8]) -> (impl Iterator<Item = &[u8]>, Option<TornTail>) {
    let intact = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let torn = (intact < bytes.len()).then(|| TornTail {
        offset: intact as u64,
        len: (bytes.len() - intact) as u64,
    });
    // `split` yields one more, empty, piece after the final `\n`; `take` leaves it out.
    let count = bytes[..intact].iter().filter(|&&b| b == b'\n').count();
    (bytes[..intact].split(|&b| b == b'\n').take(count), torn)
}

mod sealed {
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

/// An append-only, hash-chained audit ledger: [`MemoryLedger`] or [`FileLedger`].
///
/// Tokens enter only through [`crate::Verifier::accept`]. The trait is sealed: other storage
/// backends belong in this crate, where the append path can be held to ECT-LED-3.
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

    /// Whole-ledger audit: see [`crate::audit()`]. Linear in entries plus `par` links.
    fn validate_all(
        &self,
        policy: &Policy,
        keys: Option<&dyn crate::KeyResolver>,
    ) -> crate::audit::AuditReport {
        let raw: Vec<Result<RawEntry>> = self.entries().iter().map(|e| Ok(e.raw())).collect();
        crate::audit::audit(&raw, policy, keys)
    }
}

fn read_lock<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    // No code path panics while holding the lock, so a poisoned lock still holds
    // consistent data.
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write_lock<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

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

/// [`EctStore`] and [`Ledger`] for a type with a `with_chain` method giving read access.
macro_rules! chain_backed {
    ($ledger:ty) => {
        impl EctStore for $ledger {
            fn get(&self, wid: Option<&str>, jti: &str) -> Option<Arc<StoredEct>> {
                self.with_chain(|c| c.get(wid, jti))
            }

            fn referrers(&self, wid: Option<&str>, jti: &str, limit: usize) -> Vec<Arc<StoredEct>> {
                self.with_chain(|c| c.referrers(wid, jti, limit))
            }
        }

        impl Ledger for $ledger {
            fn len(&self) -> u64 {
                self.with_chain(|c| c.entries.len() as u64)
            }

            fn head(&self) -> ChainHash {
                self.with_chain(|c| c.head)
            }

            fn entry(&self, seq: u64) -> Option<Arc<LedgerEntry>> {
                let i = usize::try_from(seq).ok()?;
                self.with_chain(|c| c.entry(i))
            }

            fn entries(&self) -> Vec<Arc<LedgerEntry>> {
                self.with_chain(Chain::all_entries)
            }

            fn verify_chain(&self) -> Result<()> {
                self.with_chain(Chain::verify)
            }

            fn validate_all(
                &self,
                policy: &Policy,
                keys: Option<&dyn crate::KeyResolver>,
            ) -> crate::audit::AuditReport {
                // A snapshot taken under the read lock, audited outside it.
                let raw = self.with_chain(Chain::raw_entries);
                crate::audit::audit(&raw, policy, keys)
            }
        }
    };
}

chain_backed!(MemoryLedger);

/// The file-backed ledger: the in-memory ledger plus a file of canonical lines (see the module
/// documentation), the CLI's default.
///
/// * Each append writes one line and `fsync`s it before it is acknowledged.
/// * [`FileLedger::open`] verifies the whole chain; a final line cut short by a crash is
///   reported by [`FileLedger::torn_tail`] and cut off the file; any other damage (an edited,
///   removed or reordered entry) is a `ledger.chain` error and the file is left untouched.
/// * The file is locked exclusively while open, so two processes cannot interleave appends.
/// * If a write fails, the file is cut back to its last acknowledged entry; if even that
///   fails, the ledger refuses every further append (`ledger.io`) until reopened.
#[derive(Debug)]
pub struct FileLedger {
    path: PathBuf,
    torn_tail: Option<TornTail>,
    state: RwLock<FileState>,
}

#[derive(Debug)]
struct FileState {
    chain: Chain,
    file: LockedFile,
    len: u64,
    broken: Option<String>,
    /// Fault injection for the unit tests: write this many bytes of the next line, then fail.
    #[cfg(test)]
    fail_after: Option<usize>,
}

impl FileState {
    /// Appends `bytes` and waits until they are on disk.
    fn write_durably(&self, bytes: &[u8]) -> std::io::Result<()> {
        #[cfg(test)]
        if let Some(n) = self.fail_after {
            (&self.file.0).write_all(&bytes[..n.min(bytes.len())])?;
            return Err(std::io::Error::other("injected write failure"));
        }
        (&self.file.0).write_all(bytes)?;
        self.file.sync_data()
    }
}

/// The ledger file while this process holds its exclusive lock.
///
/// Dropping it unlocks explicitly rather than relying on the close: a child process forked
/// meanwhile (by any thread) shares the open file description until it calls `exec`, and with
/// it the lock, so a plain close could leave the file locked against this process's own next
/// open. An explicit unlock releases it for every copy.
#[derive(Debug)]
struct LockedFile(File);

impl Drop for LockedFile {
    fn drop(&mut self) {
        // Nothing to do on failure: closing the last copy releases the lock anyway.
        let _ = self.0.unlock();
    }
}

impl std::ops::Deref for LockedFile {
    type Target = File;

    fn deref(&self) -> &File {
        &self.0
    }
}

fn io_error(path: &Path, what: &str, e: std::io::Error) -> Error {
    Error::LedgerIo(format!("{what} {}: {e}", path.display()))
}

impl FileLedger {
    /// Opens the ledger file at `path`, creating it if absent, and verifies it.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let existed = path.exists();
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| io_error(&path, "cannot open", e))?;
        ensure_regular_file(&file, &path)?;
        file.try_lock().map_err(|e| {
            Error::LedgerIo(format!(
                "{} is in use by another process: {e}",
                path.display()
            ))
        })?;
        let mut file = LockedFile(file);
        if !existed {
            sync_parent_dir(&path)?;
        }
        let mut bytes = Vec::new();
        file.0
            .read_to_end(&mut bytes)
            .map_err(|e| io_error(&path, "cannot read", e))?;
        let (chain, torn_tail) = Chain::load(&bytes)?;
        let mut len = bytes.len() as u64;
        if let Some(torn) = torn_tail {
            file.set_len(torn.offset)
                .and_then(|()| file.sync_all())
                .map_err(|e| io_error(&path, "cannot drop the torn final line of", e))?;
            len = torn.offset;
        }
        Ok(FileLedger {
            path,
            torn_tail,
            state: RwLock::new(FileState {
                chain,
                file,
                len,
                broken: None,
                #[cfg(test)]
                fail_after: None,
            }),
        })
    }

    /// Reads and verifies the ledger file at `path` without changing it (a torn final line is
    /// reported, not cut off), into an in-memory copy. For inspection while no other process
    /// holds the file open.
    pub fn read(path: impl AsRef<Path>) -> Result<(MemoryLedger, Option<TornTail>)> {
        let path = path.as_ref();
        let bytes = read_regular_file(path)?;
        let (chain, torn) = Chain::load(&bytes)?;
        Ok((
            MemoryLedger {
                chain: RwLock::new(chain),
            },
            torn,
        ))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The incomplete final line found and cut off by [`FileLedger::open`], if any.
    pub fn torn_tail(&self) -> Option<TornTail> {
        self.torn_tail
    }

    fn with_chain<R>(&self, f: impl FnOnce(&Chain) -> R) -> R {
        f(&read_lock(&self.state).chain)
    }
}

/// Refuses anything but a regular file: a device or FIFO could be read forever.
fn ensure_regular_file(file: &File, path: &Path) -> Result<()> {
    let meta = file
        .metadata()
        .map_err(|e| io_error(path, "cannot inspect", e))?;
    if meta.is_file() {
        Ok(())
    } else {
        Err(Error::LedgerIo(format!(
            "{} is not a regular file",
            path.display()
        )))
    }
}

/// Reads a whole ledger file, refusing anything but a regular file.
pub(crate) fn read_regular_file(path: &Path) -> Result<Vec<u8>> {
    // Checked before opening as well as after: opening a FIFO for reading blocks until a
    // writer appears.
    let meta = std::fs::metadata(path).map_err(|e| io_error(path, "cannot inspect", e))?;
    if !meta.is_file() {
        return Err(Error::LedgerIo(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    let mut file = File::open(path).map_err(|e| io_error(path, "cannot open", e))?;
    ensure_regular_file(&file, path)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| io_error(path, "cannot read", e))?;
    Ok(bytes)
}

fn sync_parent_dir(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // Directories can be opened and fsynced on Unix; elsewhere this is best effort.
    match File::open(dir) {
        Ok(d) => d
            .sync_all()
            .or_else(|e| if cfg!(unix) { Err(e) } else { Ok(()) })
            .map_err(|e| io_error(dir, "cannot sync directory", e)),
        Err(e) if cfg!(unix) => Err(io_error(dir, "cannot open directory", e)),
        Err(_) => Ok(()),
    }
}

impl sealed::Append for FileLedger {
    fn append_admitted(
        &self,
        ect: StoredEct,
        at: u64,
        admit: &mut dyn FnMut(&dyn EctStore, &StoredEct) -> Result<()>,
    ) -> Result<Arc<LedgerEntry>> {
        let mut guard = write_lock(&self.state);
        let state = &mut *guard;
        if let Some(why) = &state.broken {
            return Err(Error::LedgerIo(why.clone()));
        }
        let entry = state.chain.admit(ect, at, admit)?;
        let mut bytes = entry.to_line().into_bytes();
        bytes.push(b'\n');
        // Acknowledged only once the whole line is on disk.
        if let Err(e) = state.write_durably(&bytes) {
            let error = io_error(&self.path, "cannot append to", e);
            // Cut back to the last acknowledged entry so the file stays a valid ledger.
            if let Err(e2) = state
                .file
                .set_len(state.len)
                .and_then(|()| state.file.sync_all())
            {
                state.broken = Some(format!(
                    "{}; cutting the file back failed too ({e2}): reopen the ledger",
                    error.message()
                ));
            }
            return Err(error);
        }
        state.len += bytes.len() as u64;
        Ok(state.chain.push(entry))
    }
}

chain_backed!(FileLedger);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EctBuilder, KeySet, MemoryReplayCache, Verifier};

    const NOW: u64 = 1_772_000_000;
    const AUD: &str = "spiffe://example.org/b";

    /// A failed append (a partial line written, then an I/O error) is `ledger.io`; the file is
    /// cut back to its last acknowledged entry, the ledger and the replay cache are unchanged,
    /// and the same token is accepted once the storage works again (so its replay record was
    /// withdrawn).
    #[test]
    fn a_failed_write_changes_nothing() {
        let key = crate::SigningKey::from_scalar_bytes("a", &[7; 32]).unwrap();
        let keys = KeySet::from_keys([key.trusted(None)]).unwrap();
        let cache = Arc::new(MemoryReplayCache::new());
        let verifier = Verifier::new(keys, Policy::new(AUD))
            .unwrap()
            .with_replay_cache(cache.clone());
        let token = |jti: &str| {
            EctBuilder::new("spiffe://example.org/a", "step")
                .audience(AUD)
                .jti(jti)
                .issued_at(NOW)
                .expires_at(NOW + 600)
                .sign(&key)
                .unwrap()
        };
        let dir = std::env::temp_dir().join(format!("ect-ledger-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("failing.jsonl");
        let _ = std::fs::remove_file(&path);
        let ledger = FileLedger::open(&path).unwrap();
        let first = token("6ba7b810-9dad-11d1-80b4-00c04fd430c8");
        verifier.accept(&first, NOW, &ledger).unwrap();
        let before = std::fs::read(&path).unwrap();
        let head = ledger.head();

        let second = token("6ba7b811-9dad-11d1-80b4-00c04fd430c8");
        for cut in [0, 1, 40, usize::MAX] {
            write_lock(&ledger.state).fail_after = Some(cut);
            let err = verifier.accept(&second, NOW, &ledger).unwrap_err();
            assert_eq!(err.code(), "ledger.io");
            assert!(err.message().ends_with("injected write failure"), "{err}");
            assert_eq!((ledger.len(), ledger.head()), (1, head));
            assert_eq!(cache.len(), 1);
            assert_eq!(std::fs::read(&path).unwrap(), before);
        }

        write_lock(&ledger.state).fail_after = None;
        let accepted = verifier.accept(&second, NOW, &ledger).unwrap();
        assert_eq!(accepted.entry.seq(), 1);
        assert_eq!(cache.len(), 2);
        drop(ledger);
        let reopened = FileLedger::open(&path).unwrap();
        assert_eq!((reopened.len(), reopened.torn_tail()), (2, None));
        drop(reopened);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
