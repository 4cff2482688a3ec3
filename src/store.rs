//! ECT stores (SPEC.md §7): the tokens DAG validation looks parents up in.
//!
//! A store answers "which token has this `jti` in this scope?" (ECT-DAG-1, ECT-DAG-2,
//! ECT-LED-2). The scope is the `wid` when the token has one, the no-`wid` scope otherwise.
//! Identifiers are UUIDs, whose hex is case-insensitive (ECT-CLM-5), so they are compared
//! ASCII case-insensitively: one UUID is one task whatever its spelling, and the stored token
//! keeps its own bytes. The audit ledgers ([`crate::MemoryLedger`],
//! [`crate::FileLedger`]) are stores; [`TokenStore`] holds tokens the caller already has, for
//! example parent tokens received inline with a request.

use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::claims::{Claims, hash_ascii_lowercase, same_uuid};
use crate::error::Result;

/// A token held by a store: its compact serialization and its claims.
///
/// Made from a [`crate::VerifiedEct`] (so every stored token passed §7 when it was stored), or
/// by a ledger reading its own hash-chained file back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEct {
    /// Boxed, so no spare capacity is kept (a ledger holds one per entry).
    token: Box<str>,
    claims: Claims,
}

impl StoredEct {
    pub(crate) fn new(token: String, claims: Claims) -> Self {
        StoredEct {
            token: token.into_boxed_str(),
            claims,
        }
    }

    /// The compact token exactly as accepted.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The token's claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The token id (`jti`).
    pub fn jti(&self) -> &str {
        &self.claims.jti
    }

    /// The workflow id (`wid`), which is the token's scope.
    pub fn wid(&self) -> Option<&str> {
        self.claims.wid.as_deref()
    }
}

/// Where [`crate::DagValidator`] looks parents up, and finds the stored children of a late
/// parent (SPEC.md §7).
///
/// The contract, which [`crate::DagValidator`] relies on for every verdict:
///
/// * **Scope.** A token is stored under the pair `(wid, jti)` of its own claims (`wid` `None`
///   for a token without one). Both methods compare a `(wid, jti)` they are given with the
///   stored pairs ASCII case-insensitively, both parts (ECT-CLM-5: `6BA7…` and `6ba7…` are
///   the same UUID), the same way for both methods.
/// * **[`EctStore::get`]**: the one token stored under `(wid, jti)`, or `None`.
/// * **[`EctStore::referrers`]**: the stored tokens *T* with `T.wid == wid` and some element
///   of `T.par` equal to `jti` (the tokens that name `jti` as a parent in that scope), each
///   once, in the order the store received them (oldest first), cut to the first `limit`.
///   Exact: no such token is left out (unless beyond `limit`) and no other is included,
///   whether or not the store holds a token under `(wid, jti)` itself. Fewer than `limit`
///   means there are no more.
/// * **Cost.** Each call is O(1) plus O(returned tokens): an index lookup, never a scan of
///   the store. The validator makes one `get` for ECT-DAG-1, one per `par` element, one
///   `referrers` call with `limit = ancestor_budget + 1`, and, when that call returns a
///   token, at most `ancestor_budget` more `get`s (SPEC.md §7 "Cost").
///   With profile `draft-01` the validator also makes, for each `par` element the scope does
///   not hold, one `get_elsewhere`, and one `referrer_elsewhere` for the new token: still
///   O(|par|) lookups.
/// * **Consistency.** During one [`crate::DagValidator::validate`] call, both methods answer
///   from the same contents (a ledger holds its lock, or its database transaction, for the
///   whole check and append: see [`crate::Ledger`]).
/// * **Failing closed.** A store that cannot answer (a database that is down, a read that
///   failed, a timeout) returns an error, never `Ok(None)` or a short list: `None` would
///   pass ECT-DAG-1 and a short list would skip late-parent checks. The validator passes the
///   error on and the token is refused (`ledger.io`, or the store's own code).
///
/// A store that cannot answer `referrers` exactly must not implement this trait: answering
/// too few would let a late parent through unchecked (ECT-DAG-3, -4, -6 in the other
/// direction), which is how a store would come to hold a state its own audit rejects.
///
/// The trait is open: a database-backed store implements it with an index on the lower-cased
/// `(wid, jti)` and one on the lower-cased `(wid, parent)` of every `par` element (as
/// `SqliteLedger` and `PostgresLedger` do with the features `sqlite` and `postgres`).
pub trait EctStore {
    /// The token with this `jti` in this scope, if the store holds one (ECT-LED-2); an error
    /// when the store cannot answer.
    fn get(&self, wid: Option<&str>, jti: &str) -> Result<Option<Arc<StoredEct>>>;

    /// The stored tokens that name `jti` as a parent in scope `wid`, oldest first, at most
    /// `limit` of them (see the trait's contract).
    ///
    /// [`crate::DagValidator`] asks this for a new token's `jti`: a stored token that names
    /// it arrived before it, while it was missing (partial mode, or a store filled from
    /// elsewhere), and the new token is checked against each of them as their parent
    /// (SPEC.md §7, "Late parents"); when there is none, no `par` path can lead back to the
    /// new token and the acyclicity walk is skipped.
    fn referrers(&self, wid: Option<&str>, jti: &str, limit: usize) -> Result<Vec<Arc<StoredEct>>>;

    /// The oldest stored token with this `jti` in a scope other than `wid` (ECT-P01-5: a
    /// parent held only under another workflow). Asked only by a `draft-01` validator, and
    /// only for a parent `wid`'s scope does not hold. A store that does not keep this index
    /// answers with an error, never `Ok(None)`.
    fn get_elsewhere(&self, wid: Option<&str>, jti: &str) -> Result<Option<Arc<StoredEct>>>;

    /// The oldest stored token outside scope `wid` that names `jti` as a parent (ECT-P01-5
    /// for a late parent: accepting `jti` in `wid` would put that token's parent in another
    /// workflow). Asked only by a `draft-01` validator. A store that does not keep this index
    /// answers with an error, never `Ok(None)`.
    fn referrer_elsewhere(&self, wid: Option<&str>, jti: &str) -> Result<Option<Arc<StoredEct>>>;
}

impl<S: EctStore + ?Sized> EctStore for &S {
    fn get(&self, wid: Option<&str>, jti: &str) -> Result<Option<Arc<StoredEct>>> {
        (**self).get(wid, jti)
    }

    fn referrers(&self, wid: Option<&str>, jti: &str, limit: usize) -> Result<Vec<Arc<StoredEct>>> {
        (**self).referrers(wid, jti, limit)
    }

    fn get_elsewhere(&self, wid: Option<&str>, jti: &str) -> Result<Option<Arc<StoredEct>>> {
        (**self).get_elsewhere(wid, jti)
    }

    fn referrer_elsewhere(&self, wid: Option<&str>, jti: &str) -> Result<Option<Arc<StoredEct>>> {
        (**self).referrer_elsewhere(wid, jti)
    }
}

/// Per identifier (ASCII case-insensitive), the oldest token of each of the first two scopes
/// noted for it, in the order noted: enough to answer "the oldest token noted for this
/// identifier outside scope `wid`" exactly in O(1) ([`EctStore::get_elsewhere`],
/// [`EctStore::referrer_elsewhere`]). If the oldest is in `wid`, the oldest outside `wid` is
/// the first token of the second scope to appear.
#[derive(Clone, Debug, Default)]
pub(crate) struct FirstScopes {
    map: HashMap<ScopeKey, [Option<Arc<StoredEct>>; 2]>,
}

impl FirstScopes {
    /// Notes `ect` (in its own scope) under identifier `id`.
    pub(crate) fn note(&mut self, id: &str, ect: &Arc<StoredEct>) {
        let slots = match self.map.get_mut(&(None, id) as &dyn KeyView) {
            Some(slots) => slots,
            None => self.map.entry(ScopeKey::new(None, id)).or_default(),
        };
        let same = |other: &Arc<StoredEct>| same_scope(other.wid(), ect.wid());
        match slots {
            [None, _] => slots[0] = Some(Arc::clone(ect)),
            [Some(first), None] if !same(first) => slots[1] = Some(Arc::clone(ect)),
            _ => {}
        }
    }

    /// The oldest token noted under `id` whose scope is not `wid`.
    pub(crate) fn outside(&self, wid: Option<&str>, id: &str) -> Option<Arc<StoredEct>> {
        lookup(&self.map, None, id)?
            .iter()
            .flatten()
            .find(|t| !same_scope(t.wid(), wid))
            .cloned()
    }
}

/// Whether two scopes (`wid`s, `None` for no `wid`) are the same, ASCII case-insensitively.
pub(crate) fn same_scope(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => same_uuid(x, y),
        _ => false,
    }
}

/// An owned `(wid, jti)` pair: the key stores index tokens by.
#[derive(Clone, Debug, Eq)]
pub(crate) struct ScopeKey {
    wid: Option<Box<str>>,
    jti: Box<str>,
}

impl ScopeKey {
    pub(crate) fn new(wid: Option<&str>, jti: &str) -> Self {
        ScopeKey {
            wid: wid.map(Into::into),
            jti: jti.into(),
        }
    }

    pub(crate) fn of(claims: &Claims) -> Self {
        Self::new(claims.wid.as_deref(), &claims.jti)
    }
}

/// A borrowed view of a scope key, so maps keyed by [`ScopeKey`] can be searched with
/// `(Option<&str>, &str)` without allocating.
///
/// Hashing and equality are ASCII case-insensitive on both parts (ECT-CLM-5: UUIDs compare
/// case-insensitively everywhere), without lower-casing into a new string.
pub(crate) trait KeyView {
    fn parts(&self) -> (Option<&str>, &str);

    /// Hashes the key as its ASCII-lower-cased parts would hash.
    fn hash_key<H: Hasher>(&self, state: &mut H)
    where
        Self: Sized,
    {
        hash_parts(self.parts(), state);
    }
}

/// Hashes `(wid, jti)` ASCII case-insensitively, with an unambiguous framing (presence of
/// `wid`, each part's length), so that different keys do not hash alike by construction.
pub(crate) fn hash_parts<H: Hasher>((wid, jti): (Option<&str>, &str), state: &mut H) {
    match wid {
        Some(w) => hash_ascii_lowercase(w, state),
        None => state.write_usize(usize::MAX),
    }
    hash_ascii_lowercase(jti, state);
}

/// Whether two `(wid, jti)` keys name the same scope and task, ASCII case-insensitively.
pub(crate) fn same_parts(a: (Option<&str>, &str), b: (Option<&str>, &str)) -> bool {
    same_scope(a.0, b.0) && same_uuid(a.1, b.1)
}

impl KeyView for ScopeKey {
    fn parts(&self) -> (Option<&str>, &str) {
        (self.wid.as_deref(), &self.jti)
    }
}

impl KeyView for (Option<&str>, &str) {
    fn parts(&self) -> (Option<&str>, &str) {
        *self
    }
}

impl Hash for dyn KeyView + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_parts(self.parts(), state);
    }
}

impl PartialEq for dyn KeyView + '_ {
    fn eq(&self, other: &Self) -> bool {
        same_parts(self.parts(), other.parts())
    }
}

impl Eq for dyn KeyView + '_ {}

// `Hash` and `Eq` of the owned key agree with the borrowed view's, as `Borrow` requires.
impl Hash for ScopeKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.hash_key(state);
    }
}

impl PartialEq for ScopeKey {
    fn eq(&self, other: &Self) -> bool {
        same_parts(self.parts(), other.parts())
    }
}

impl<'a> Borrow<dyn KeyView + 'a> for ScopeKey {
    fn borrow(&self) -> &(dyn KeyView + 'a) {
        self
    }
}

/// Looks `(wid, jti)` up in a map keyed by [`ScopeKey`] without allocating.
pub(crate) fn lookup<'m, V>(
    map: &'m HashMap<ScopeKey, V>,
    wid: Option<&str>,
    jti: &str,
) -> Option<&'m V> {
    map.get(&(wid, jti) as &dyn KeyView)
}

/// Whether a set keyed by [`ScopeKey`] holds `(wid, jti)`, without allocating.
pub(crate) fn contains(set: &HashSet<ScopeKey>, wid: Option<&str>, jti: &str) -> bool {
    set.contains(&(wid, jti) as &dyn KeyView)
}

/// An [`EctStore`] of tokens the caller already holds, with no DAG checks of its own: for
/// example the parent tokens a request carried inline, each verified (§7) before insertion.
///
/// Unlike a ledger it can hold any set of tokens, including ones whose `par` links form a
/// cycle; [`crate::DagValidator`] is what judges a new token against it. It keeps, besides the
/// tokens, the tokens naming each `(wid, parent)` pair, in insertion order, so that
/// [`EctStore::referrers`] is exact and O(1), and the first scopes of each `jti` and each
/// parent, so that the two `_elsewhere` lookups of profile `draft-01` are too.
#[derive(Clone, Debug, Default)]
pub struct TokenStore {
    tokens: HashMap<ScopeKey, Arc<StoredEct>>,
    referrers: HashMap<ScopeKey, Vec<Arc<StoredEct>>>,
    by_jti: FirstScopes,
    by_parent: FirstScopes,
}

impl TokenStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a token. Returns `false`, and keeps the first one, when the store already holds
    /// a token with the same `jti` in the same scope.
    pub fn insert(&mut self, ect: impl Into<StoredEct>) -> bool {
        let ect = Arc::new(ect.into());
        let key = ScopeKey::of(ect.claims());
        if self.tokens.contains_key(&key) {
            return false;
        }
        for parent in &ect.claims().par {
            self.referrers
                .entry(ScopeKey::new(ect.wid(), parent))
                .or_default()
                .push(Arc::clone(&ect));
            self.by_parent.note(parent, &ect);
        }
        self.by_jti.note(ect.jti(), &ect);
        self.tokens.insert(key, ect);
        true
    }

    /// Number of tokens held.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether the store holds no token.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The token with this `jti` in this scope: [`EctStore::get`], which cannot fail here.
    pub fn get(&self, wid: Option<&str>, jti: &str) -> Option<Arc<StoredEct>> {
        lookup(&self.tokens, wid, jti).cloned()
    }

    /// [`EctStore::referrers`], which cannot fail here.
    pub fn referrers(&self, wid: Option<&str>, jti: &str, limit: usize) -> Vec<Arc<StoredEct>> {
        first(lookup(&self.referrers, wid, jti), limit)
    }
}

impl EctStore for TokenStore {
    fn get(&self, wid: Option<&str>, jti: &str) -> Result<Option<Arc<StoredEct>>> {
        Ok(TokenStore::get(self, wid, jti))
    }

    fn referrers(&self, wid: Option<&str>, jti: &str, limit: usize) -> Result<Vec<Arc<StoredEct>>> {
        Ok(TokenStore::referrers(self, wid, jti, limit))
    }

    fn get_elsewhere(&self, wid: Option<&str>, jti: &str) -> Result<Option<Arc<StoredEct>>> {
        Ok(self.by_jti.outside(wid, jti))
    }

    fn referrer_elsewhere(&self, wid: Option<&str>, jti: &str) -> Result<Option<Arc<StoredEct>>> {
        Ok(self.by_parent.outside(wid, jti))
    }
}

/// The first `limit` tokens of a referrer list (none when there is no list).
pub(crate) fn first(list: Option<&Vec<Arc<StoredEct>>>, limit: usize) -> Vec<Arc<StoredEct>> {
    list.map_or_else(Vec::new, |l| l.iter().take(limit).cloned().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrowed_lookup_matches_owned_keys() {
        let mut map = HashMap::new();
        map.insert(ScopeKey::new(None, "a"), 1);
        map.insert(ScopeKey::new(Some("w"), "a"), 2);
        assert_eq!(lookup(&map, None, "a"), Some(&1));
        assert_eq!(lookup(&map, Some("w"), "a"), Some(&2));
        assert_eq!(lookup(&map, Some("v"), "a"), None);
        assert_eq!(lookup(&map, Some("a"), ""), None);
        assert_eq!(map.get(&ScopeKey::new(Some("w"), "a")), Some(&2));
        // ECT-CLM-5: identifiers compare ASCII case-insensitively, both parts.
        assert_eq!(lookup(&map, None, "A"), Some(&1));
        assert_eq!(lookup(&map, Some("W"), "A"), Some(&2));
        assert_eq!(map.get(&ScopeKey::new(Some("W"), "a")), Some(&2));
        assert!(!map.contains_key(&ScopeKey::new(Some("w"), "á")));
        assert!(map.insert(ScopeKey::new(None, "A"), 3).is_some());
        assert_eq!(map.len(), 2);
    }
}
