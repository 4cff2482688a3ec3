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
//!
//! # Recovery
//!
//! An append writes its line, `\n` included, and acknowledges it only once the write is
//! `fsync`ed. A crash during the write leaves a prefix of the line after the file's last `\n`.
//! What follows the last `\n` is therefore read as one of two things ([`Tail`]):
//!
//! * **A torn tail** ([`Tail::Torn`]): a strict prefix of some canonical entry line (the
//!   shape above, any values), which no complete entry is. It was never acknowledged and is
//!   not an entry.
//! * **The last line, missing its `\n`** ([`Tail::MissingNewline`]): anything else, for
//!   example a complete entry whose newline was lost (a crash between the line and its `\n`
//!   on a file system that reorders, a tool that strips final newlines), or bytes no write of
//!   this format leaves. It is checked like every other line: the last entry if it is the
//!   canonical, correctly chained next entry with a token that parses and no duplicate;
//!   otherwise the same `ledger.chain` or `ledger.duplicate` error any line gets. (Such an
//!   entry may not have been acknowledged; keeping it is safe: its token passed every check
//!   before it was written, and the same token presented again is refused as a duplicate.)
//!
//! Who changes the file: only an append. [`FileLedger::open`] (and [`FileLedger::open_with`])
//! verifies the whole file under its exclusive lock and reports what follows the last `\n`
//! ([`FileLedger::tail`]) without changing anything; the first append whose token passed
//! every check then cuts a torn tail off, or appends the missing `\n` of a complete last
//! entry, `fsync`s, and writes its own entry. So opening a ledger, or a rejected token, leaves
//! the file byte for byte as it was. [`FileLedger::read`] and [`crate::audit_file`] never
//! change the file; they report the same [`Tail`] (a torn tail is ignored, a last line without
//! `\n` is read). A file that does not verify is never changed by anyone.
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
use crate::store::{EctStore, KeyView, ScopeKey, StoredEct, first, lookup, same_parts};
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

/// A final line cut short by a crash: a strict prefix of an entry line after the file's last
/// `\n` (module documentation, "Recovery").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TornTail {
    /// Byte offset where the incomplete line starts (the length of the intact part).
    pub offset: u64,
    /// Length of the incomplete line in bytes.
    pub len: u64,
}

/// What a ledger file holds after its last `\n`, when it holds anything (module
/// documentation, "Recovery"). Reported by [`FileLedger::tail`], [`FileLedger::read`] and
/// [`crate::audit_file`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tail {
    /// A strict prefix of an entry line: a write cut short, never acknowledged, not an entry.
    /// Every reader ignores it; the first accepted append of a [`FileLedger`] cuts it off the
    /// file.
    Torn(TornTail),
    /// The last line has no `\n` but is not a torn write: it is read as a line. When
    /// [`FileLedger::open`] or [`FileLedger::read`] succeed it was a complete entry, the last
    /// one; the first accepted append of a [`FileLedger`] writes the missing `\n` before its
    /// own entry.
    MissingNewline {
        /// Byte offset where the last line starts.
        offset: u64,
        /// Length of the last line in bytes (without the missing `\n`).
        len: u64,
    },
}

impl Tail {
    /// The torn tail, if this is one.
    pub fn torn(&self) -> Option<TornTail> {
        match self {
            Tail::Torn(t) => Some(*t),
            Tail::MissingNewline { .. } => None,
        }
    }
}

/// When [`FileLedger::open_with`] creates a ledger file that does not exist. Either way the
/// file is created exclusively (`create_new`): never through a symbolic link, never over a
/// file that appeared meanwhile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CreateMode {
    /// While opening: an empty file exists (and is locked) once `open` returns. What
    /// [`FileLedger::open`] does.
    #[default]
    OnOpen,
    /// At the first append, just before the entry is written: until a token is accepted, no
    /// file exists, so a ledger that only ever refuses tokens leaves nothing on disk. Opening
    /// checks that the parent directory exists. While the file does not exist this process
    /// holds no lock on it; if another process creates it first, the append fails
    /// (`ledger.io`, nothing appended) and the ledger must be reopened.
    OnFirstAppend,
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

    /// Reads a ledger file's content: every line, the last one even without its `\n`, must be
    /// the next valid entry; a torn final segment is returned, not read (see [`split_lines`]).
    fn load(bytes: &[u8]) -> Result<(Chain, Option<Tail>)> {
        let (lines, tail) = split_lines(bytes);
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
        Ok((chain, tail))
    }
}

/// Splits a ledger file into its lines (without their `\n`) and says what follows the last
/// `\n`, if anything (module documentation, "Recovery"):
///
/// * a strict prefix of some canonical entry line is a torn tail: not a line;
/// * anything else is the last line, missing its `\n`: returned with the other lines, so it is
///   checked like them.
pub(crate) fn split_lines(bytes: &[u8]) -> (impl Iterator<Item = &[u8]>, Option<Tail>) {
    let intact = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let rest = &bytes[intact..];
    let (offset, len) = (intact as u64, rest.len() as u64);
    let (last, tail) = if rest.is_empty() {
        (None, None)
    } else if is_strict_line_prefix(rest) {
        (None, Some(Tail::Torn(TornTail { offset, len })))
    } else {
        (Some(rest), Some(Tail::MissingNewline { offset, len }))
    };
    // `split` yields one more, empty, piece after the final `\n`; `take` leaves it out.
    let count = bytes[..intact].iter().filter(|&&b| b == b'\n').count();
    let lines = bytes[..intact].split(|&b| b == b'\n').take(count);
    (lines.chain(last), tail)
}

/// Whether `segment` is a strict prefix of some canonical entry line (without its `\n`), i.e.
/// what an interrupted write of a line can leave:
/// `{"seq":U64,"at":U64,"prev":"H","hash":"H","token":S}` where `U64` is a decimal `u64`
/// without leading zeros, `H` 43 characters of canonical unpadded base64url (32 bytes) and `S`
/// a string as serde_json writes it (`"`, `\` and control characters escaped, the controls
/// without a short escape as `\u00xx`, everything else as UTF-8). A complete line is not a
/// strict prefix.
fn is_strict_line_prefix(segment: &[u8]) -> bool {
    /// How one part of the line matched the start of the rest of the segment.
    enum Step<'a> {
        /// The part matched in full; the segment goes on with this.
        Next(&'a [u8]),
        /// The segment ended inside the part (a possible prefix).
        End,
        /// No line continues like this.
        No,
    }
    fn literal<'a>(rest: &'a [u8], lit: &[u8]) -> Step<'a> {
        match rest.strip_prefix(lit) {
            Some(next) => Step::Next(next),
            None if lit.starts_with(rest) => Step::End,
            None => Step::No,
        }
    }
    /// A `u64` in canonical decimal (`rest` is not empty). Every non-empty prefix of such a
    /// number is one itself.
    fn integer(rest: &[u8]) -> Step<'_> {
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let text = &rest[..digits];
        let canonical = !text.is_empty()
            && (text == b"0" || text[0] != b'0')
            && std::str::from_utf8(text).is_ok_and(|t| t.parse::<u64>().is_ok());
        match (canonical, digits == rest.len()) {
            (false, _) => Step::No,
            (true, true) => Step::End,
            (true, false) => Step::Next(&rest[digits..]),
        }
    }
    fn hash(rest: &[u8]) -> Step<'_> {
        const LEN: usize = 43;
        let b64 = |b: &u8| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_';
        if rest.len() < LEN {
            return if rest.iter().all(b64) {
                Step::End
            } else {
                Step::No
            };
        }
        match ChainHash::parse(std::str::from_utf8(&rest[..LEN]).unwrap_or("")) {
            Some(_) => Step::Next(&rest[LEN..]),
            None => Step::No,
        }
    }
    /// The string's content and its closing `"` (the opening `"` is already matched).
    fn string(rest: &[u8]) -> Step<'_> {
        let mut i = 0;
        while i < rest.len() {
            match rest[i] {
                b'"' => return Step::Next(&rest[i + 1..]),
                b'\\' => {
                    let escape = &rest[i + 1..];
                    let n = match escape.first() {
                        None => return Step::End,
                        Some(b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't') => 1,
                        Some(b'u') => {
                            // serde_json writes `\u00xx` (lower-case hex) exactly for the
                            // control characters without a short escape.
                            let digits = &escape[1..escape.len().min(5)];
                            let possible = (0u8..0x20)
                                .filter(|c| !matches!(c, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d))
                                .any(|c| format!("{c:04x}").as_bytes().starts_with(digits));
                            match (possible, digits.len() == 4) {
                                (false, _) => return Step::No,
                                (true, false) => return Step::End,
                                (true, true) => 5,
                            }
                        }
                        Some(_) => return Step::No,
                    };
                    i += 1 + n;
                }
                b if b < 0x20 => return Step::No,
                _ => {
                    // One UTF-8 character, possibly cut at the end of the segment.
                    let take = &rest[i..rest.len().min(i + 4)];
                    let n = match std::str::from_utf8(take) {
                        Ok(s) => s.chars().next().map_or(1, char::len_utf8),
                        Err(e) if e.valid_up_to() > 0 => {
                            let valid = std::str::from_utf8(&take[..e.valid_up_to()]);
                            valid.map_or(1, |s| s.chars().next().map_or(1, char::len_utf8))
                        }
                        Err(e) if e.error_len().is_none() => return Step::End,
                        Err(_) => return Step::No,
                    };
                    i += n;
                }
            }
        }
        Step::End
    }

    type Part = fn(&[u8]) -> Step<'_>;
    let parts: [Part; 11] = [
        |r| literal(r, br#"{"seq":"#),
        integer,
        |r| literal(r, br#","at":"#),
        integer,
        |r| literal(r, br#","prev":""#),
        hash,
        |r| literal(r, br#"","hash":""#),
        hash,
        |r| literal(r, br#"","token":""#),
        string,
        |r| literal(r, b"}"),
    ];
    let mut rest = segment;
    for part in parts {
        // The segment ended between two parts (never before the first: it is not empty).
        if rest.is_empty() {
            return true;
        }
        match part(rest) {
            Step::Next(next) => rest = next,
            Step::End => return true,
            Step::No => return false,
        }
    }
    // Every part matched: a complete line (or more), not a strict prefix.
    false
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
/// * [`FileLedger::open`] verifies the whole chain and reports the end of the file as the
///   module documentation says ("Recovery", [`FileLedger::tail`]); the first accepted append
///   repairs it (a torn final line is cut off, a last entry missing only its `\n` gets it
///   back). Any other damage (an edited, removed or reordered entry) is a `ledger.chain` error
///   and the file is left untouched.
/// * The file is locked exclusively while open, so two processes cannot interleave appends.
/// * If a write fails, the file is cut back to its last acknowledged entry; if even that
///   fails, the ledger refuses every further append (`ledger.io`) until reopened.
/// * A missing file is created exclusively, at open ([`FileLedger::open`]) or at the first
///   append ([`FileLedger::open_with`] and [`CreateMode::OnFirstAppend`]).
/// * An existing path is opened as given: a symbolic link is followed (the caller chose the
///   path, and a link to a ledger kept elsewhere is legitimate); only regular files are
///   accepted. A file is never created through a link.
#[derive(Debug)]
pub struct FileLedger {
    path: PathBuf,
    tail: Option<Tail>,
    state: RwLock<FileState>,
}

#[derive(Debug)]
struct FileState {
    chain: Chain,
    /// `None` while the file does not exist yet ([`CreateMode::OnFirstAppend`]).
    file: Option<LockedFile>,
    len: u64,
    broken: Option<String>,
    /// What followed the file's last `\n` at open, not yet repaired: the first accepted
    /// append repairs it before writing its entry (module documentation, "Recovery").
    pending_repair: Option<Tail>,
    /// Fault injection for the unit tests: write this many bytes of the next line, then fail.
    #[cfg(test)]
    fail_after: Option<usize>,
}

impl FileState {
    /// Appends `bytes` and waits until they are on disk.
    fn write_durably(&self, file: &LockedFile, bytes: &[u8]) -> std::io::Result<()> {
        #[cfg(test)]
        if let Some(n) = self.fail_after {
            (&file.0).write_all(&bytes[..n.min(bytes.len())])?;
            return Err(std::io::Error::other("injected write failure"));
        }
        (&file.0).write_all(bytes)?;
        file.sync_data()
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

/// Takes the exclusive lock of an open ledger file.
fn lock(file: File, path: &Path) -> Result<LockedFile> {
    file.try_lock().map_err(|e| {
        Error::LedgerIo(format!(
            "{} is in use by another process: {e}",
            path.display()
        ))
    })?;
    Ok(LockedFile(file))
}

/// Creates the ledger file at `path`, empty, exclusively (`create_new`: never through a
/// symbolic link, never over an existing file), locks it and makes its directory entry
/// durable.
fn create_locked(path: &Path) -> Result<LockedFile> {
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create_new(true)
        .open(path)
        .map_err(|e| io_error(path, "cannot create", e))?;
    let file = lock(file, path)?;
    // Another process may have opened, locked and appended to the new file between its
    // creation and the lock above: then it is no longer this process's empty file.
    let len = file
        .metadata()
        .map_err(|e| io_error(path, "cannot inspect", e))?
        .len();
    if len != 0 {
        return Err(Error::LedgerIo(format!(
            "{} was written by another process while it was being created: reopen it",
            path.display()
        )));
    }
    if let Err(e) = sync_parent_dir(path) {
        remove_created(path, &file);
        return Err(e);
    }
    Ok(file)
}

/// Removes the file this process created at `path` and still holds locked and empty, after
/// an operational error, so the error leaves nothing behind. Best effort: on Unix only if
/// `path` still names that file.
fn remove_created(path: &Path, file: &LockedFile) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        let same = match (file.metadata(), std::fs::symlink_metadata(path)) {
            (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()) && a.len() == 0,
            _ => false,
        };
        if same {
            let _ = std::fs::remove_file(path);
        }
    }
    #[cfg(not(unix))]
    let _ = (path, file);
}

impl FileLedger {
    /// Opens the ledger file at `path`, creating it (empty) if absent, and verifies it; what
    /// follows its last `\n` is repaired by the first accepted append (module documentation,
    /// "Recovery"). The same as
    /// [`FileLedger::open_with`] with [`CreateMode::OnOpen`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, CreateMode::OnOpen)
    }

    /// Opens the ledger file at `path` and verifies it (what follows its last `\n` is repaired
    /// by the first accepted append: module documentation, "Recovery"); a missing file is
    /// created as `create` says.
    ///
    /// ```
    /// use wimse_ect::{CreateMode, FileLedger, Ledger};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("audit.ledger");
    /// let ledger = FileLedger::open_with(&path, CreateMode::OnFirstAppend)?;
    /// assert_eq!(ledger.len(), 0);
    /// assert!(!path.exists()); // created by the first accepted token, not before
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_with(path: impl AsRef<Path>, create: CreateMode) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let existing = OpenOptions::new().read(true).append(true).open(&path);
        let file = match existing {
            Ok(file) => {
                ensure_regular_file(&file, &path)?;
                lock(file, &path)?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match create {
                CreateMode::OnOpen => create_locked(&path)?,
                CreateMode::OnFirstAppend => {
                    ensure_parent_dir(&path)?;
                    return Ok(Self::new(path, None, Chain::default(), None, 0));
                }
            },
            Err(e) => return Err(io_error(&path, "cannot open", e)),
        };
        let mut bytes = Vec::new();
        (&file.0)
            .read_to_end(&mut bytes)
            .map_err(|e| io_error(&path, "cannot read", e))?;
        let (chain, tail) = Chain::load(&bytes)?;
        // The end of the file is repaired by the first accepted append, not here: opening a
        // ledger, or a rejected token, never changes the file.
        Ok(Self::new(path, tail, chain, Some(file), bytes.len() as u64))
    }

    fn new(
        path: PathBuf,
        tail: Option<Tail>,
        chain: Chain,
        file: Option<LockedFile>,
        len: u64,
    ) -> Self {
        FileLedger {
            path,
            tail,
            state: RwLock::new(FileState {
                chain,
                file,
                len,
                broken: None,
                pending_repair: tail,
                #[cfg(test)]
                fail_after: None,
            }),
        }
    }

    /// Reads and verifies the ledger file at `path` without changing it, into an in-memory
    /// copy, and says what follows its last `\n` (module documentation, "Recovery"): a torn
    /// tail is reported and ignored, a last entry without its `\n` is read and reported. For
    /// inspection while no other process holds the file open.
    pub fn read(path: impl AsRef<Path>) -> Result<(MemoryLedger, Option<Tail>)> {
        let path = path.as_ref();
        let bytes = read_regular_file(path)?;
        let (chain, tail) = Chain::load(&bytes)?;
        Ok((
            MemoryLedger {
                chain: RwLock::new(chain),
            },
            tail,
        ))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What [`FileLedger::open`] found after the file's last `\n`: a torn tail (not an entry)
    /// or a last entry missing its `\n`. The first accepted append repairs it (cuts the torn
    /// tail off, or appends the `\n`) before writing its own entry; until then the file is as
    /// it was.
    pub fn tail(&self) -> Option<Tail> {
        self.tail
    }

    /// The incomplete final line found by [`FileLedger::open`] (cut off by the first accepted
    /// append), if any.
    pub fn torn_tail(&self) -> Option<TornTail> {
        self.tail.and_then(|t| t.torn())
    }

    fn with_chain<R>(&self, f: impl FnOnce(&Chain) -> R) -> R {
        f(&read_lock(&self.state).chain)
    }
}

/// Repairs the end of a verified ledger file of `len` bytes (module documentation,
/// "Recovery") and returns its new length: a torn tail is cut off, a missing final `\n` of
/// the last entry appended; both are on disk before this returns. On failure the file is as
/// it was, or, if even that could not be ensured, the error says so.
fn recover(file: &LockedFile, path: &Path, len: u64, tail: Option<Tail>) -> Result<u64> {
    match tail {
        None => Ok(len),
        Some(Tail::Torn(torn)) => {
            file.set_len(torn.offset)
                .and_then(|()| file.sync_all())
                .map_err(|e| io_error(path, "cannot cut off the torn final line of", e))?;
            Ok(torn.offset)
        }
        Some(Tail::MissingNewline { .. }) => {
            match (&file.0).write_all(b"\n").and_then(|()| file.sync_data()) {
                Ok(()) => Ok(len + 1),
                Err(e) => {
                    let error = io_error(path, "cannot append the missing final newline to", e);
                    match file.set_len(len).and_then(|()| file.sync_all()) {
                        Ok(()) => Err(error),
                        Err(e2) => Err(Error::LedgerIo(format!(
                            "{}; cutting the file back failed too ({e2})",
                            error.message()
                        ))),
                    }
                }
            }
        }
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

/// Checks that the directory a ledger file will be created in exists, so that a path in a
/// missing directory fails when it is opened rather than at the first append.
fn ensure_parent_dir(path: &Path) -> Result<()> {
    let dir = parent_dir(path);
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(Error::LedgerIo(format!(
            "cannot create {}: {} is not a directory",
            path.display(),
            dir.display()
        ))),
        Err(e) => Err(Error::LedgerIo(format!(
            "cannot create {}: directory {}: {e}",
            path.display(),
            dir.display()
        ))),
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

/// The directory holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

fn sync_parent_dir(path: &Path) -> Result<()> {
    let dir = parent_dir(path);
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
        // A ledger opened with `CreateMode::OnFirstAppend` creates its file now, once the
        // token passed every check.
        let created = state.file.is_none();
        if created {
            state.file = Some(create_locked(&self.path)?);
        }
        let file = state.file.as_ref().expect("the file exists now");
        // Crash recovery (module documentation): what followed the last `\n` at open is
        // repaired now, by the first append whose token passed every check, so that a
        // rejected token leaves the file byte for byte as it was. On failure nothing is
        // appended and the next append tries again.
        if let Some(tail) = state.pending_repair {
            state.len = recover(file, &self.path, state.len, Some(tail))?;
            state.pending_repair = None;
        }
        // Acknowledged only once the whole line is on disk.
        if let Err(e) = state.write_durably(file, &bytes) {
            let error = io_error(&self.path, "cannot append to", e);
            // Cut back to the last acknowledged entry so the file stays a valid ledger.
            match file.set_len(state.len).and_then(|()| file.sync_all()) {
                // A file this append created is removed again: a failed append leaves
                // nothing behind.
                Ok(()) if created => {
                    remove_created(&self.path, file);
                    state.file = None;
                }
                Ok(()) => {}
                Err(e2) => {
                    state.broken = Some(format!(
                        "{}; cutting the file back failed too ({e2}): reopen the ledger",
                        error.message()
                    ));
                }
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
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("failing.jsonl");
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
    }

    /// Every strict prefix of a canonical line, whatever its token, is a torn tail; the
    /// complete line and anything no line starts with are not.
    #[test]
    fn strict_line_prefixes() {
        let entry = |seq, at, prev, hash, token: &str| RawEntry {
            seq,
            at,
            prev: ChainHash(prev),
            hash: ChainHash(hash),
            token: token.to_owned(),
        };
        let lines = [
            entry(0, 0, [0; 32], [0xff; 32], "eyJhbGciOi.eyJpc3Mi.c2ln").to_line(),
            entry(u64::MAX, NOW, [7; 32], [0x80; 32], "").to_line(),
            // Every escape serde_json writes, and 2-, 3- and 4-byte UTF-8.
            entry(
                12,
                345,
                [1; 32],
                [2; 32],
                "a\"b\\c\u{0}\u{8}\t\n\u{c}\r\u{1f}\u{7f}é€😀}",
            )
            .to_line(),
        ];
        assert!(
            lines[2].contains(r#"\"b\\c\u0000\b\t\n\f\r\u001f"#),
            "{}",
            lines[2]
        );
        for line in &lines {
            let bytes = line.as_bytes();
            for cut in 1..bytes.len() {
                assert!(is_strict_line_prefix(&bytes[..cut]), "{cut} of {line}");
            }
            assert!(!is_strict_line_prefix(bytes), "{line}");
            assert!(!is_strict_line_prefix(format!("{line} ").as_bytes()));
            assert!(!is_strict_line_prefix(format!("{line}}}").as_bytes()));
        }
        let h = "A".repeat(43);
        let start = format!(r#"{{"seq":1,"at":2,"prev":"{h}","hash":"{h}","token":""#);
        assert!(is_strict_line_prefix(start.as_bytes()));
        let not_prefixes: Vec<Vec<u8>> = vec![
            b"garbage".to_vec(),
            b"\0\0\0\0".to_vec(),
            b" {".to_vec(),
            b"{\"seq\": 1".to_vec(),
            b"{\"seq\":01".to_vec(),
            b"{\"seq\":-1".to_vec(),
            b"{\"seq\":18446744073709551616".to_vec(),
            b"{\"seq\":1,\"at\":2,\"prev\":\"AAA=".to_vec(),
            // 42 characters, then the closing quote.
            format!(r#"{{"seq":1,"at":2,"prev":"{}""#, "A".repeat(42)).into_bytes(),
            // Non-canonical last character (unused bits set).
            format!(r#"{{"seq":1,"at":2,"prev":"{}B""#, "A".repeat(42)).into_bytes(),
            // Escapes serde_json never writes, a raw control character, invalid UTF-8.
            format!(r#"{start}\u0041"#).into_bytes(),
            format!(r#"{start}\u000a"#).into_bytes(),
            format!(r#"{start}\u001F"#).into_bytes(),
            format!(r#"{start}\/"#).into_bytes(),
            format!("{start}\t").into_bytes(),
            [start.as_bytes(), b"\xff"].concat(),
            [start.as_bytes(), b"\xc3("].concat(),
        ];
        for bytes in &not_prefixes {
            assert!(
                !is_strict_line_prefix(bytes),
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
        // Cut inside an escape or a multi-byte character: still a prefix.
        for partial in [r"\", r"\u", r"\u00", r"\u001"] {
            assert!(is_strict_line_prefix(
                format!("{start}{partial}").as_bytes()
            ));
        }
        assert!(is_strict_line_prefix(
            &[start.as_bytes(), b"\xf0\x9f"].concat()
        ));
    }

    /// `CreateMode::OnFirstAppend`: a first append whose write fails removes the file it
    /// created, so the failure leaves nothing behind; the next append creates it again.
    #[test]
    fn a_failed_first_append_removes_the_file_it_created() {
        let key = crate::SigningKey::from_scalar_bytes("a", &[7; 32]).unwrap();
        let keys = KeySet::from_keys([key.trusted(None)]).unwrap();
        let verifier = Verifier::new(keys, Policy::new(AUD)).unwrap();
        let token = EctBuilder::new("spiffe://example.org/a", "step")
            .audience(AUD)
            .jti("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
            .issued_at(NOW)
            .expires_at(NOW + 600)
            .sign(&key)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lazy.jsonl");
        let ledger = FileLedger::open_with(&path, CreateMode::OnFirstAppend).unwrap();
        for cut in [0, 10] {
            write_lock(&ledger.state).fail_after = Some(cut);
            let err = verifier.accept(&token, NOW, &ledger).unwrap_err();
            assert_eq!(err.code(), "ledger.io");
            assert!(err.message().ends_with("injected write failure"), "{err}");
            assert_eq!(ledger.len(), 0);
            assert!(!path.exists(), "cut {cut}");
        }
        write_lock(&ledger.state).fail_after = None;
        let accepted = verifier.accept(&token, NOW, &ledger).unwrap();
        let mut line = accepted.entry.to_line().into_bytes();
        line.push(b'\n');
        assert_eq!(std::fs::read(&path).unwrap(), line);
    }

    proptest::proptest! {
        /// For any entry (any token string), every strict prefix of its line is a torn tail
        /// and the line itself is not.
        #[test]
        fn every_strict_prefix_of_any_line_is_a_torn_tail(
            seq: u64,
            at: u64,
            prev: [u8; 32],
            hash: [u8; 32],
            token: String,
        ) {
            let line = RawEntry { seq, at, prev: ChainHash(prev), hash: ChainHash(hash), token }
                .to_line();
            let bytes = line.as_bytes();
            for cut in 1..bytes.len() {
                proptest::prop_assert!(is_strict_line_prefix(&bytes[..cut]), "{} of {}", cut, line);
            }
            proptest::prop_assert!(!is_strict_line_prefix(bytes));
        }

        /// A line's prefix with one byte changed, or any bytes: no panic, and a torn tail
        /// never parses as an entry (so a kept entry is never mistaken for one, nor the
        /// reverse).
        #[test]
        fn a_torn_tail_is_never_an_entry(
            token: String,
            cut: proptest::sample::Index,
            change: Option<(proptest::sample::Index, u8)>,
            noise in proptest::collection::vec(proptest::num::u8::ANY, 0..40),
        ) {
            let line = RawEntry { seq: 1, at: 2, prev: ChainHash([3; 32]), hash: ChainHash([4; 32]), token }
                .to_line();
            let mut bytes = line.as_bytes()[..=cut.index(line.len())].to_vec();
            if let Some((at, byte)) = change {
                let at = at.index(bytes.len());
                bytes[at] = byte;
            }
            for candidate in [bytes, noise] {
                if candidate.is_empty() {
                    continue;
                }
                if is_strict_line_prefix(&candidate) {
                    proptest::prop_assert!(matches!(
                        RawEntry::parse_line(&candidate),
                        Err(Error::LedgerChain(_))
                    ));
                }
                let (lines, tail) = split_lines(&candidate);
                if !candidate.contains(&b'\n') {
                    // One segment: a torn tail (no line) or the last line.
                    let last = usize::from(tail.is_some_and(|t| t.torn().is_none()));
                    proptest::prop_assert_eq!(lines.count(), last);
                }
            }
        }
    }
}
