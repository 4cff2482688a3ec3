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

// The modules, bottom to top, in layers: a module uses only modules of the layers above its own
// (CONTRIBUTING.md, "Module map"; `.ci/module_deps.py` checks it). Three are public namespaces
// for functions and constants that have no other path; every type is re-exported once, below.

// Encodings and the values everything names.
pub mod base64url;
mod decision;
mod profile;

mod error;

// The compact serialization and its JSON.
mod json;
pub mod jws;

// The header, the claims, the keys.
mod claims;
mod header;
mod keys;

// Building tokens; what stores and caches hold; the HTTP field.
mod builder;
pub mod http;
mod replay;
mod store;

// The DAG rules, the verifier's settings, the stateless check.
mod dag;

mod policy;

mod check;

// The ledgers, their audit, and the stateful verifier.
mod ledger;

mod audit;
mod verifier;

pub use audit::{AuditReport, Finding, LedgerAudit, MissingParent, audit, audit_file};
pub use builder::{EctBuilder, random_uuid};
pub use check::VerifiedEct;
pub use claims::{
    Audience, Claims, DEFAULT_MAX_PAR, MAX_EXT_BYTES, MAX_EXT_DEPTH, MAX_NUMERIC_DATE, NBF,
    PolicyClaims, is_sha256_b64url, is_uuid, sha256_b64url,
};
pub use dag::{
    ANCESTOR_BUDGET_RANGE, DEFAULT_ANCESTOR_BUDGET, DEFAULT_SKEW_SECONDS, DagMode, DagOutcome,
    DagValidator, SKEW_RANGE,
};
pub use decision::PolicyDecision;
pub use error::{ConfigError, Error, Result};
pub use header::{Algorithm, Header};
pub use json::parse_object;
pub use keys::{KeyResolver, KeySet, SigningKey, TrustedKey, sign_raw};
pub use ledger::{
    ChainHash, CreateMode, FileLedger, HASH_DOMAIN, Ledger, LedgerEntry, MemoryLedger, RawEntry,
    Tail, TornTail,
};
pub use policy::{
    DEFAULT_LEEWAY_SECONDS, DEFAULT_MAX_IAT_AGE_SECONDS, ENV_ANCESTOR_BUDGET, ENV_AUDIENCE,
    ENV_LEEWAY_SECONDS, ENV_MAX_IAT_AGE_SECONDS, ENV_MAX_PAR, ENV_MAX_TOKEN_BYTES,
    ENV_REPLAY_CACHE_SIZE, ENV_SKEW_SECONDS, LEEWAY_RANGE, MAX_IAT_AGE_RANGE, MAX_PAR_RANGE,
    MAX_TOKEN_BYTES_RANGE, Policy, REPLAY_CACHE_SIZE_RANGE, ReplayProtection,
};
pub use profile::{ClaimNames, DRAFT_00, Profile};
pub use replay::{MemoryReplayCache, ReplayCache, ReplayKey};
pub use store::{EctStore, StoredEct, TokenStore};
pub use verifier::{Accepted, Verifier};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
