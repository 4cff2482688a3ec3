//! The hash chain (ECT-LED-4): the entry hash and the rule that links an entry to its
//! predecessor. The format is on [`ChainHash`] ("Entry hash").

use std::fmt;

use sha2::{Digest as _, Sha256};

use crate::base64url;
use crate::error::Error;

/// The domain-separation prefix of every entry hash.
pub const HASH_DOMAIN: &[u8] = b"wimse-ect-ledger-v1\n";

/// A SHA-256 value of the hash chain (ECT-LED-4). Displayed as unpadded base64url.
///
/// # Entry hash (format `wimse-ect-ledger-v1`)
///
/// `hash = SHA-256("wimse-ect-ledger-v1\n" || seq || at || prev || token)`, where `seq` and `at`
/// (the acceptance time, the `now` given to `accept`) are 8-byte big-endian integers, `prev` is
/// the previous entry's 32-byte hash (32 zero bytes for entry 0) and `token` is the compact
/// token's ASCII bytes. All fields but the last have fixed lengths, so the encoding is
/// injective.
///
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ChainHash(pub [u8; 32]);

impl ChainHash {
    /// The `prev` of entry 0: 32 zero bytes.
    pub const GENESIS: ChainHash = ChainHash([0; 32]);

    /// Parses the unpadded base64url form of a 32-byte hash.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = base64url::decode(text.as_bytes())?;
        Some(ChainHash(bytes.try_into().ok()?))
    }

    /// The hash of an entry (see "Entry hash" above).
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
        f.write_str(&base64url::encode(&self.0))
    }
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainHash({self})")
    }
}

/// The chained fields of an entry, borrowed from a [`LedgerEntry`] or a [`RawEntry`].
pub(crate) struct Link<'a> {
    pub(crate) seq: u64,
    pub(crate) at: u64,
    pub(crate) prev: &'a ChainHash,
    pub(crate) hash: &'a ChainHash,
    pub(crate) token: &'a str,
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
