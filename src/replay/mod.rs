//! Replay protection (ECT-RPL-1): a `jti` already accepted within its expiration window is
//! refused.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use sha2::{Digest as _, Sha256};

use crate::claims::Claims;
use crate::error::{Error, Result};

#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
pub use self::redis::RedisReplayCache;

/// The scope a `jti` is unique in: the `(wid, jti)` pair when `wid` is present, `jti` alone
/// otherwise (ECT-RPL-1). Both are UUIDs, whose hex is case-insensitive (ECT-CLM-5), so
/// [`ReplayKey::of`] lower-cases them (ASCII): one UUID is one key whatever its spelling.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplayKey {
    /// The workflow id, if the token has one.
    pub wid: Option<String>,
    /// The token id.
    pub jti: String,
}

impl ReplayKey {
    /// The replay scope of a token's claims, ASCII-lower-cased (ECT-CLM-5).
    pub fn of(claims: &Claims) -> Self {
        ReplayKey {
            wid: claims.wid.as_deref().map(str::to_ascii_lowercase),
            jti: claims.jti.to_ascii_lowercase(),
        }
    }

    /// What [`MemoryReplayCache`] keeps of the key: the first 128 bits of a SHA-256 over an
    /// injective encoding of it (whether `wid` is present, `wid`'s length, `wid`, `jti`).
    ///
    /// Two different keys share a digest only through a SHA-256 collision in 128 bits (about
    /// 2^64 work to find one on purpose). Even then the cache could only refuse a fresh token
    /// as a replay, never accept a replayed one: a key that was recorded always finds its own
    /// digest.
    fn digest(&self) -> KeyDigest {
        let full = self.sha256();
        let mut digest = [0; 16];
        digest.copy_from_slice(&full[..16]);
        digest
    }

    /// SHA-256 over the injective encoding of the key: whether `wid` is present, `wid`'s
    /// length (8 bytes, big-endian), `wid`, `jti`. [`MemoryReplayCache`] keeps its first 16
    /// bytes; a shared cache names its record after it (the identifiers never leave the
    /// process).
    pub fn sha256(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        match &self.wid {
            Some(wid) => {
                h.update([1]);
                h.update((wid.len() as u64).to_be_bytes());
                h.update(wid.as_bytes());
            }
            None => h.update([0]),
        }
        h.update(self.jti.as_bytes());
        h.finalize().into()
    }
}

/// A [`ReplayKey`] as [`MemoryReplayCache`] stores it: see [`ReplayKey::digest`].
type KeyDigest = [u8; 16];

/// A store of accepted token ids, consulted last in verification (ECT-RPL-1): the in-memory
/// [`MemoryReplayCache`], `RedisReplayCache` (feature `redis`) shared by many verifiers, or
/// a backend of your own.
///
/// # The contract of a replay cache
///
/// The trait is open; a backend keeps these promises, whatever the number of verifier
/// threads, processes or hosts sharing it, and proves them with the conformance kit's
/// contract suite (`wimse_ect_conformance::contract::replay_contract`):
///
/// 1. **Atomic check-and-record.** Of N concurrent [`ReplayCache::check_and_record`] calls
///    with the same key, exactly one returns `Ok` (a single atomic operation: a locked map,
///    Redis `SET … NX`); the others return [`Error::Replay`].
/// 2. **Remember at least until `expires_at`.** A record lives at least while a call with
///    `now < expires_at` could come (the token's `exp + leeway` by the caller's clock); it may
///    be forgotten after that, since the token itself then fails ECT-TIME-2. Forgetting a
///    live record, to make room or for any other reason, is never allowed: refuse instead.
/// 3. **Durable before acknowledged, as far as the backend is.** A record made is a record
///    kept across the backend's restarts as far as its durability goes, and the backend's
///    documentation says plainly how far that is.
/// 4. **A rejection changes nothing.** Only a token that passed every other check is
///    recorded; [`ReplayCache::forget`] withdraws exactly the record this caller just made
///    (an append that failed afterwards).
/// 5. **Fail closed.** A cache that cannot answer (unreachable, an error, a timeout) returns
///    an error, [`Error::ReplayUnavailable`] (code `replay.unavailable`), never `Ok`: a replay
///    check that did not happen is never a pass.
pub trait ReplayCache: Send + Sync {
    /// If `key` was recorded with an expiry after `now`, returns [`Error::Replay`]; otherwise
    /// records it until `expires_at` (the token's `exp + leeway`) and returns `Ok`.
    ///
    /// Called only for a token that passed every other check, so a rejected token is never
    /// recorded.
    fn check_and_record(&self, key: &ReplayKey, expires_at: u64, now: u64) -> Result<()>;

    /// [`ReplayCache::check_and_record`] of each `(key, expires_at)` in order, one result per
    /// item, the same results as calling it on each item in turn (a key repeated in the batch
    /// is recorded at its first position and a replay after that). A shared cache sends the
    /// batch in one round trip (Redis: a pipeline); the default calls one item at a time.
    fn check_and_record_batch(&self, items: &[(ReplayKey, u64)], now: u64) -> Vec<Result<()>> {
        items
            .iter()
            .map(|(key, expires_at)| self.check_and_record(key, *expires_at, now))
            .collect()
    }

    /// Withdraws the record of `key` that this caller's own `check_and_record` just made,
    /// because the acceptance it was part of failed afterwards (the ledger append failed;
    /// see [`crate::Verifier::accept`]). Must remove exactly that record, so that the cache
    /// ends as it was before the rejected token. Best effort: a cache that cannot answer
    /// keeps the record, which can only refuse the token later, never accept a replay.
    fn forget(&self, key: &ReplayKey);
}

/// An in-memory [`ReplayCache`] with expiry and an optional maximum size.
///
/// * An entry lives until its `expires_at` (`exp + leeway`): from then on the token itself
///   fails ECT-TIME-2, so forgetting it is safe. Expired entries are evicted on every call,
///   so memory is bounded by the number of tokens live at once, whatever the stream.
/// * With a maximum entry count, a full cache refuses new tokens with
///   [`Error::ReplayCacheFull`] (code `replay.full`) until entries expire. It never forgets
///   a live entry to make room: that would let the forgotten token be replayed.
/// * Eviction follows the `now` values callers pass in. A caller passing a `now` far in the
///   future evicts entries early; pass the real current time.
#[derive(Debug, Default)]
pub struct MemoryReplayCache {
    max_entries: Option<usize>,
    inner: Mutex<Entries>,
}

/// The live entries, each as its key's 16-byte digest (so an entry costs a few dozen bytes,
/// whatever the identifiers' lengths; BENCHMARKS.md, "Memory (issue 7)").
#[derive(Debug, Default)]
struct Entries {
    expiry: HashMap<KeyDigest, u64>,
    by_expiry: BTreeSet<(u64, KeyDigest)>,
}

impl MemoryReplayCache {
    /// A cache without a size limit (bounded only by expiry).
    pub fn new() -> Self {
        Self::default()
    }

    /// A cache that holds at most `max_entries` live entries and refuses new tokens when full.
    pub fn with_max_entries(max_entries: usize) -> Self {
        MemoryReplayCache {
            max_entries: Some(max_entries),
            inner: Mutex::default(),
        }
    }

    /// Number of entries held now (expired ones are dropped on the next call).
    pub fn len(&self) -> usize {
        self.lock().expiry.len()
    }

    /// Whether the cache holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        // No code path panics while holding the lock, so a poisoned lock still holds
        // consistent data.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ReplayCache for MemoryReplayCache {
    fn check_and_record(&self, key: &ReplayKey, expires_at: u64, now: u64) -> Result<()> {
        let key = key.digest();
        let mut entries = self.lock();
        // Evict every entry whose token can no longer verify (expiry <= now).
        while let Some(first) = entries.by_expiry.first() {
            if first.0 > now {
                break;
            }
            let (_, old) = entries.by_expiry.pop_first().expect("non-empty");
            entries.expiry.remove(&old);
        }
        // ECT-RPL-1: a live entry is a replay.
        if entries.expiry.contains_key(&key) {
            return Err(Error::Replay);
        }
        if self
            .max_entries
            .is_some_and(|max| entries.expiry.len() >= max)
        {
            return Err(Error::ReplayCacheFull);
        }
        entries.expiry.insert(key, expires_at);
        entries.by_expiry.insert((expires_at, key));
        Ok(())
    }

    fn forget(&self, key: &ReplayKey) {
        let key = key.digest();
        let mut entries = self.lock();
        if let Some(expires_at) = entries.expiry.remove(&key) {
            entries.by_expiry.remove(&(expires_at, key));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(jti: &str, wid: Option<&str>) -> ReplayKey {
        ReplayKey {
            wid: wid.map(str::to_owned),
            jti: jti.to_owned(),
        }
    }

    #[test]
    fn replay_and_scopes() {
        let c = MemoryReplayCache::new();
        assert_eq!(c.check_and_record(&key("a", None), 100, 10), Ok(()));
        assert_eq!(
            c.check_and_record(&key("a", None), 100, 11),
            Err(Error::Replay)
        );
        // Another scope is another key.
        assert_eq!(c.check_and_record(&key("a", Some("w")), 100, 11), Ok(()));
        assert_eq!(
            c.check_and_record(&key("a", Some("w")), 100, 12),
            Err(Error::Replay)
        );
        // Still live at 99, forgotten at 100.
        assert_eq!(
            c.check_and_record(&key("a", None), 100, 99),
            Err(Error::Replay)
        );
        assert_eq!(c.check_and_record(&key("a", None), 200, 100), Ok(()));
    }

    #[test]
    fn bounded_under_a_stream() {
        let c = MemoryReplayCache::new();
        for i in 0..10_000u64 {
            // Each token lives 50 s; one new token a second.
            c.check_and_record(&key(&i.to_string(), None), i + 50, i)
                .unwrap();
            assert!(c.len() <= 50, "len {} at {i}", c.len());
        }
    }

    /// A stream of distinct tokens, 100 a second, each live 60 s: after every call the cache
    /// holds exactly the tokens still live (expiry after `now`), so its size (and with it its
    /// memory, see benches/memory.rs) stays flat however many tokens pass through.
    #[test]
    fn holds_exactly_the_live_tokens_of_a_stream() {
        const PER_SECOND: u64 = 100;
        const LIFETIME: u64 = 60;
        let c = MemoryReplayCache::new();
        for i in 0..100_000u64 {
            let now = i / PER_SECOND;
            c.check_and_record(&key(&format!("t{i}"), Some("w")), now + LIFETIME, now)
                .unwrap();
            // Token j (recorded at j / 100) is live while j / 100 + 60 > now.
            let evicted = (now + 1).saturating_sub(LIFETIME) * PER_SECOND;
            assert_eq!(c.len() as u64, i + 1 - evicted, "at {i}");
            assert!(c.len() as u64 <= PER_SECOND * LIFETIME);
        }
        // The last token is still remembered, the first is long forgotten.
        let now = 99_999 / PER_SECOND;
        assert_eq!(
            c.check_and_record(&key("t99999", Some("w")), now + LIFETIME, now),
            Err(Error::Replay)
        );
        assert_eq!(
            c.check_and_record(&key("t0", Some("w")), now + LIFETIME, now),
            Ok(())
        );
    }

    /// The stored digest keeps the scope's parts apart: moving characters between `wid` and
    /// `jti`, or an empty `wid` versus none, is another key.
    #[test]
    fn digests_keep_scopes_apart() {
        let c = MemoryReplayCache::new();
        for (jti, wid) in [
            ("bc", Some("a")),
            ("c", Some("ab")),
            ("abc", None),
            ("abc", Some("")),
            ("", Some("abc")),
        ] {
            assert_eq!(
                c.check_and_record(&key(jti, wid), 100, 0),
                Ok(()),
                "{jti} {wid:?}"
            );
        }
        assert_eq!(c.len(), 5);
        assert_eq!(
            c.check_and_record(&key("c", Some("ab")), 100, 1),
            Err(Error::Replay)
        );
        c.forget(&key("c", Some("ab")));
        assert_eq!(c.len(), 4);
        assert_eq!(c.check_and_record(&key("c", Some("ab")), 100, 1), Ok(()));
    }

    #[test]
    fn full_cache_refuses_and_never_forgets() {
        let c = MemoryReplayCache::with_max_entries(2);
        c.check_and_record(&key("a", None), 100, 0).unwrap();
        c.check_and_record(&key("b", None), 100, 0).unwrap();
        assert_eq!(
            c.check_and_record(&key("c", None), 100, 0),
            Err(Error::ReplayCacheFull)
        );
        // The live ones are still remembered.
        assert_eq!(
            c.check_and_record(&key("a", None), 100, 1),
            Err(Error::Replay)
        );
        // Once they expire there is room again.
        assert_eq!(c.check_and_record(&key("c", None), 200, 100), Ok(()));
        assert_eq!(c.len(), 1);
    }
}
