//! # wimse-ect
//!
//! Reference implementation of Execution Context Tokens (ECTs), profile `draft-00` of
//! `draft-nennemann-wimse-ect`. An ECT is an ES256-signed JWT recording one task done by one
//! agent; its `par` claim names the parent tasks, so a workflow's tokens form a DAG.
//!
//! Every check cites its rule id from the project's SPEC.md; every [`Error`] has SPEC.md's
//! [`Error::code`] and [`Error::rule`]. The verifier never reads a clock: `now` is a parameter.
//!
//! [`Verifier::verify`] checks one token; [`Verifier::accept`] also checks it against an audit
//! ledger ([`MemoryLedger`], [`FileLedger`]) with the DAG rules ([`DagValidator`]) and appends
//! it to the ledger's hash chain; [`audit()`] re-checks a whole ledger (see the [`ledger`] module
//! for an example).
//!
//! ```
//! use wimse_ect::{EctBuilder, KeySet, Policy, SigningKey, Verifier};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let now = 1_772_000_000;
//! // Agent A's key, and a verifier (agent B) that trusts it for issuer spiffe://a.
//! let key_a = SigningKey::from_scalar_bytes("agent-a", &[1; 32])?;
//! let keys = KeySet::from_keys([key_a.trusted(Some("spiffe://example.org/a"))])?;
//! let verifier = Verifier::new(keys, Policy::new("spiffe://example.org/b"))?;
//!
//! let token = EctBuilder::new("spiffe://example.org/a", "fetch_data")
//!     .audience("spiffe://example.org/b")
//!     .jti("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
//!     .issued_at(now)
//!     .expires_at(now + 600)
//!     .sign(&key_a)?;
//!
//! let verified = verifier.verify(&token, now + 5)?;
//! assert_eq!(verified.claims().exec_act, "fetch_data");
//! // Presenting it again is a replay (ECT-RPL-1).
//! let err = verifier.verify(&token, now + 6).unwrap_err();
//! assert_eq!((err.code(), err.rule()), ("replay.jti", "ECT-RPL-1"));
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod audit;
mod builder;
pub mod claims;
pub mod cli;
pub mod conformance;
pub mod dag;
pub mod dot;
mod error;
// Signature encodings: used by the vector generator and the fuzz oracles, public
// through `testing`.
mod fixtures;
pub mod header;
pub mod http;
mod json;
pub mod jws;
pub mod keys;
pub mod ledger;
pub mod profile;
pub mod replay;
pub mod rules;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod verify;

pub use audit::{AuditReport, Finding, MissingParent, audit, audit_file};
pub use builder::{EctBuilder, random_uuid};
pub use claims::{Audience, Claims, PolicyClaims, PolicyDecision, sha256_b64url};
pub use dag::{DagMode, DagOutcome, DagValidator};
pub use error::{ConfigError, Error, Result};
pub use header::{Algorithm, Header};
pub use json::parse_object;
pub use jws::sign_raw;
pub use keys::{KeyResolver, KeySet, SigningKey, TrustedKey};
pub use ledger::{
    ChainHash, CreateMode, FileLedger, Ledger, LedgerEntry, MemoryLedger, RawEntry, Tail, TornTail,
};
pub use profile::{DRAFT_00, Profile};
pub use replay::{MemoryReplayCache, ReplayCache, ReplayKey};
pub use store::{EctStore, StoredEct, TokenStore};
pub use verify::*;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
