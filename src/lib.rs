//! # wimse-ect
//!
//! Reference implementation of Execution Context Tokens (ECTs), profiles `draft-00` (the
//! default) and `draft-01` of `draft-nennemann-wimse-ect` ([Profiles](#profiles)). An ECT is an
//! ES256-signed JWT recording one task done by one agent; its `par` claim (`pred` in
//! `draft-01`) names the parent tasks, so a workflow's tokens form a DAG.
//!
//! Every check cites its rule id from the project's SPEC.md; every [`Error`] has SPEC.md's
//! [`Error::code`] and [`Error::rule`]. The verifier never reads a clock: `now` is a parameter.
//! This page is the library's guide; the order of checks and every decision taken where SPEC.md
//! is silent are in [`_documentation::decisions`], the file ledger's format and crash recovery in
//! [`_documentation::crash_recovery`], the reasons behind the design in
//! [`_documentation::design`], and the `ect` command line in [`_documentation::cli`].
//!
//! Cargo features (none by default): `ring` verifies ES256 signatures (ECT-SIG-2) with ring
//! instead of the pure-Rust p256, about 5x faster on the reference machine (BENCHMARKS.md), with
//! the same verdicts and error codes (ECT-SIG-1's checks, key parsing and signing stay in p256;
//! high-S signatures are accepted by both; ring's build needs a C compiler); `http` adds
//! `HeaderMap` helpers to [`http`]; `rayon` runs [`Verifier::verify_batch`] and
//! [`Verifier::accept_batch`] across rayon's threads (same results without it). The shared-state
//! backends, for several verifier instances behind a load balancer: `sqlite` (`SqliteLedger`,
//! bundled SQLite), `postgres` (`PostgresLedger`) and `redis` (`RedisReplayCache`); which one to
//! pick, their contracts and their tests against real servers: [`_documentation::shared_state`].
//! For HTTP services: `tower` (`EctLayer`, a tower layer verifying the `Execution-Context` field of
//! every request on verification threads of its own, with a bounded queue) and `axum` (the extractor of
//! the [`VerifiedRequest`]); the guide is [`_documentation::http`].
//!
//! # Creating and verifying a token
//!
//! ```
//! use wimse_ect::{EctBuilder, KeySet, Policy, SigningKey, Verifier};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let now = 1_772_000_000; // the library never reads a clock: pass the time in
//! let key_a = SigningKey::from_scalar_bytes("agent-a", &[1; 32])?; // or SigningKey::generate
//! // Agent B trusts agent A's key, bound to A's identity (ECT-KEY-2).
//! let keys = KeySet::from_keys([key_a.trusted(Some("spiffe://example.org/a"))])?;
//! let verifier = Verifier::new(keys, Policy::new("spiffe://example.org/b"))?;
//!
//! // Agent A records a task for B. The builder refuses claims any verifier would reject.
//! let root = EctBuilder::new("spiffe://example.org/a", "fetch_data")
//!     .audience("spiffe://example.org/b")
//!     .jti("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
//!     .issued_at(now)
//!     .expires_at(now + 600)
//!     .out_hash(wimse_ect::sha256_b64url(b"the data"))
//!     .sign(&key_a)?;
//!
//! let verified = verifier.verify(&root, now + 5)?;
//! assert_eq!(verified.claims().exec_act, "fetch_data");
//! assert!(verified.claims().par.is_empty()); // a root task
//!
//! // Errors carry SPEC.md's code and rule id.
//! let err = verifier.verify(&root, now + 6).unwrap_err(); // seen before
//! assert_eq!((err.code(), err.rule()), ("replay.jti", "ECT-RPL-1"));
//! let fresh = Verifier::new(verifier.keys().clone(), Policy::new("spiffe://example.org/b"))?;
//! let err = fresh.verify(&root, now + 630).unwrap_err(); // now >= exp + leeway (30 s)
//! assert_eq!((err.code(), err.rule()), ("time.expired", "ECT-TIME-2"));
//! # Ok(())
//! # }
//! ```
//!
//! # Main types
//!
//! * [`EctBuilder`] creates tokens.
//! * [`Verifier`] + [`Policy`] verify them; [`Verifier::verify`] returns a [`VerifiedEct`], the
//!   only way to reach checked claims.
//! * [`KeySet`]: trusted keys from a JWK Set, a [`KeyResolver`]; [`SigningKey`] signs.
//! * [`MemoryReplayCache`], a [`ReplayCache`].
//! * [`Error`], with [`Error::code`] and [`Error::rule`].
//! * [`http`] for the `Execution-Context` header (with feature `http`, `HeaderMap` helpers).
//! * [`sign_raw`] signs arbitrary header and payload bytes, for building validly signed
//!   malformed tokens in tests.
//!
//! # Many tokens at once
//!
//! [`Verifier::verify_batch`]`(&tokens, now)` and [`Verifier::accept_batch`]`(&tokens, now,
//! &ledger)` return exactly what [`Verifier::verify`] / [`Verifier::accept`] called on each token
//! in turn would return, in order. The checks that depend only on the token (decoding, the ES256
//! signature, claims, time, audience) run across rayon's thread pool with the feature `rayon`
//! (one token after another without it); the replay check, the DAG rules and the append then run
//! one token at a time in input order, so a token repeated in a batch is accepted once, at its
//! first position, and a token may name a parent accepted earlier in the same batch. Choose the
//! threads with `rayon::ThreadPool::install` (default: all cores). `ect dag` uses `accept_batch`
//! on chunks of 512 lines, and the in-process `ect conformance` answers vectors in parallel.
//!
//! # DAG validation and the audit ledger
//!
//! [`Verifier::accept`]`(token, now, &ledger)` is the acceptance pipeline: SPEC.md §2–§6 (every
//! per-token check but replay), then the DAG rules §7 against the ledger ([`Policy::dag`], a
//! [`DagValidator`]: strict or partial, skew, ancestor budget), then the append to the
//! hash-chained ledger §8, then the replay record. The DAG check, the replay record and the
//! append happen atomically under the ledger's write lock; a rejected token changes neither the
//! ledger nor the replay cache. [`Verifier::verify_in`]`(token, now, &store)` runs the same checks
//! against any [`EctStore`] (for example a [`TokenStore`] of parent tokens that came with the
//! request) without appending.
//!
//! ```
//! use wimse_ect::{EctBuilder, KeySet, Ledger, LedgerAudit, MemoryLedger, Policy, SigningKey, Verifier};
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
//! // The hash chain, and a whole-ledger audit (linear in entries and par links): validate_all
//! // comes from the trait LedgerAudit, which must be in scope.
//! ledger.verify_chain()?;
//! assert!(ledger.validate_all(verifier.policy(), None).is_valid());
//! # Ok(())
//! # }
//! ```
//!
//! ## Late parents
//!
//! SPEC.md §7: in partial mode, or against a store filled from elsewhere, a token P may arrive
//! after stored children that named it while it was missing. P is then checked against each of
//! them with the same rules in the other direction: ECT-DAG-3 (`P.iat <= child.iat + skew`),
//! ECT-DAG-4/5 (no cycle through P, within the budget) and ECT-DAG-6 (a P whose `pol_decision` is
//! `rejected` or `pending_human_review` already has a dependant); the error
//! ([`Error::LateParentTemporalOrder`], [`Error::Cycle`], [`Error::LateParentPolicy`]) has the
//! rule's code and names the child. So a ledger built by accepting tokens one at a time, in any
//! mode, always passes its own audit ([`LedgerAudit::validate_all`] under the same policy). An
//! [`EctStore`] answers [`get`](EctStore::get)`(wid, jti)` and
//! [`referrers`](EctStore::referrers)`(wid, jti, limit)` (the stored tokens naming `jti` as a
//! parent in scope `wid`, oldest first, exactly, in O(1) plus the result); the trait
//! documentation states the contract a backend must keep.
//!
//! ## Ledgers
//!
//! [`MemoryLedger`] (O(1) lookup, `Send + Sync`) and [`FileLedger`] (the same, plus one canonical
//! JSON line per entry, each append `fsync`ed before it is acknowledged, an exclusive file lock,
//! and crash recovery by the first accepted append; [`FileLedger::open_with`]`(path,
//! `[`CreateMode::OnFirstAppend`]`)` leaves a missing file uncreated until the first token is
//! accepted). Both implement [`Ledger`] ([`len`](Ledger::len), [`head`](Ledger::head),
//! [`entry`](Ledger::entry), [`entries`](Ledger::entries), [`verify_chain`](Ledger::verify_chain);
//! the trait's methods return a `Result`, since a database ledger can fail, and the in-memory
//! ledgers have infallible inherent methods of the same names). `Ledger` is open: a backend of
//! your own keeps the contract written on it and passes the conformance kit's contract suite;
//! `SqliteLedger` and `PostgresLedger` (features `sqlite`, `postgres`) are this crate's;
//! the whole-ledger audit is [`LedgerAudit::validate_all`], implemented for every ledger (`use
//! wimse_ect::LedgerAudit;` to call it). [`audit()`] / [`audit_file`] audit entries received from
//! elsewhere and report every bad entry, not only the first. The entry hash, the file format and
//! what happens after a crash: [`_documentation::crash_recovery`].
//!
//! ## Over HTTP
//!
//! A request carries its own token and its parents' tokens in the `Execution-Context` field
//! (SPEC.md §9). [`Verifier::verify_inline`] checks them (the DAG against the inline parents),
//! [`Verifier::accept_inline`] accepts them into a ledger, both returning a [`VerifiedRequest`];
//! [`VerifiedRequest::child`] starts the token of the task done in answer. With the features
//! `tower` and `axum`, `EctLayer` does this for every request of a service (403 and a JSON body
//! for a rejected token, 503 with `Retry-After` when a store cannot answer) and the handler
//! extracts the `VerifiedRequest`: [`_documentation::http`].
//!
//! ## Cost
//!
//! SPEC.md §7, every mode and store: accepting a token costs `1 + |par|` store lookups plus one
//! `referrers` query whatever the ledger's size, and, only when a stored token already names it (a
//! late parent), at most `ancestor_budget` more counted lookups: each stored child examined and
//! each `par` element the acyclicity walk examines counts one, and exceeding the budget is
//! `dag.budget`. So a stream of N tokens costs O(N · (max_par + ancestor_budget)) at worst and
//! O(N · |par|) without late parents; [`LedgerAudit::validate_all`] is linear in entries plus
//! `par` links. BENCHMARKS.md has the measurements, including the adversarial partial-mode stream
//! (`cargo bench -p wimse-ect --bench partial`).
//!
//! # Profiles
//!
//! A [`Profile`] names the claims and `typ` values of one revision of the draft and switches its
//! rules (SPEC.md §10); no rule's code is written twice. [`DRAFT_00`] is the default;
//! [`DRAFT_01`] writes `typ` `exec+jwt` (and accepts the legacy `wimse-exec+jwt`), names the
//! parents `pred` and the extension object `ect_ext`, keeps `pol` and `pol_decision` inside
//! `ect_ext`, and refuses a parent held only under another workflow
//! (`dag.workflow_mismatch`, ECT-P01-5). A verifier, a builder and a ledger each have one
//! profile; a ledger refuses a verifier of another (`ledger.profile`).
//!
//! ```
//! use wimse_ect::{DRAFT_01, EctBuilder, KeySet, MemoryLedger, Policy, SigningKey, Verifier};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let now = 1_772_000_000;
//! let key = SigningKey::from_scalar_bytes("agent-a", &[1; 32])?;
//! let keys = KeySet::from_keys([key.trusted(Some("spiffe://example.org/a"))])?;
//! let mut policy = Policy::new("spiffe://example.org/b");
//! policy.profile = DRAFT_01;
//! let verifier = Verifier::new(keys, policy)?;
//! let ledger = MemoryLedger::with_profile(DRAFT_01);
//!
//! let task = |jti: &str, wid: &str| {
//!     EctBuilder::new("spiffe://example.org/a", "step")
//!         .profile(DRAFT_01) // typ exec+jwt, pred, ect_ext
//!         .audience("spiffe://example.org/b")
//!         .jti(jti)
//!         .wid(wid)
//!         .issued_at(now)
//!         .expires_at(now + 600)
//! };
//! let (w1, w2) = (
//!     "0b5c3a1e-7d2f-4c1a-9e8b-2f6d4a3c1b01",
//!     "0b5c3a1e-7d2f-4c1a-9e8b-2f6d4a3c1b02",
//! );
//! let root = task("6ba7b810-9dad-11d1-80b4-00c04fd430c8", w1).sign(&key)?;
//! verifier.accept(&root, now, &ledger)?;
//! // A task of another workflow naming the root as its predecessor (ECT-P01-5).
//! let other = task("6ba7b811-9dad-11d1-80b4-00c04fd430c8", w2)
//!     .parent("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
//!     .sign(&key)?;
//! let err = verifier.accept(&other, now, &ledger).unwrap_err();
//! assert_eq!((err.code(), err.rule()), ("dag.workflow_mismatch", "ECT-P01-5"));
//! # Ok(())
//! # }
//! ```
//!
//! # Policy and environment
//!
//! [`Policy::new`]`(audience)` has SPEC.md's defaults; fields can be changed and
//! [`Verifier::new`] refuses out-of-range values with a [`ConfigError`]:
//!
//! | setting | default | range | environment variable |
//! |---|---|---|---|
//! | `audience` (required) | — | non-empty | `ECT_AUDIENCE` |
//! | `leeway_seconds` | 30 | 0..=600 | `ECT_LEEWAY_SECONDS` |
//! | `max_iat_age_seconds` | 900 | 1..=86400 | `ECT_MAX_IAT_AGE_SECONDS` |
//! | `max_par` | 100 | 0..=10000 | `ECT_MAX_PAR` |
//! | `max_token_bytes` | 65536 | 256..=1048576 | `ECT_MAX_TOKEN_BYTES` |
//! | `algorithms` | `[Es256]` | non-empty; `none`/`HS*` cannot be expressed | — |
//! | `replay` | `Enabled { max_entries: None }` | `max_entries` 1..=100000000 | `ECT_REPLAY_CACHE_SIZE` |
//! | `dag.mode` | `DagMode::Strict` | `Strict`, `Partial` | — (CLI `--partial`) |
//! | `dag.skew_seconds` | 30 | 0..=3600 | `ECT_SKEW_SECONDS` |
//! | `dag.ancestor_budget` | 10000 | 1..=10000000 | `ECT_ANCESTOR_BUDGET` |
//! | `profile` | [`DRAFT_00`] | [`DRAFT_00`], [`DRAFT_01`] | — (CLI `--profile`, `ECT_PROFILE`) |
//!
//! [`Policy::from_env`]`(audience)` applies the variables that are set; an unparsable or
//! out-of-range value is a [`ConfigError`] naming the variable, never a silent default. The CLI
//! uses flags first, then the variables, then the defaults. The ranges are this crate's choice;
//! SPEC.md gives only the defaults.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

// The modules, bottom to top, in layers: a module uses only modules of the layers above its own
// (CONTRIBUTING.md, "Module map"; `.ci/module_deps.py` checks it). Three are public namespaces
// for functions and constants that have no other path (`base64url`, `jws`, `http`), and
// `_documentation` holds documentation only; every type is re-exported once, below.

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

// A request's tokens inline; the HTTP middleware and its axum extractor.
mod inline;
#[cfg(feature = "tower")]
mod middleware;

pub mod _documentation;

pub use audit::{
    AuditReport, Finding, LedgerAudit, MissingParent, audit, audit_file, audit_stream,
};
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
pub use inline::VerifiedRequest;
pub use json::parse_object;
pub use keys::{KeyResolver, KeySet, SigningKey, TrustedKey, sign_raw};
#[cfg(feature = "postgres")]
pub use ledger::PostgresLedger;
#[cfg(feature = "sqlite")]
pub use ledger::SqliteLedger;
pub use ledger::{
    Admission, ChainHash, CreateMode, FileLedger, HASH_DOMAIN, Ledger, LedgerEntry, MemoryLedger,
    RawEntry, STREAM_PAGE, Tail, TornTail, stream_entries,
};
#[cfg(feature = "tower")]
pub use middleware::{
    DEFAULT_QUEUED, DEFAULT_RETRY_AFTER_SECONDS, EctLayer, EctRefusal, EctService, MissingField,
    unix_now,
};
pub use policy::{
    DEFAULT_LEEWAY_SECONDS, DEFAULT_MAX_IAT_AGE_SECONDS, ENV_ANCESTOR_BUDGET, ENV_AUDIENCE,
    ENV_LEEWAY_SECONDS, ENV_MAX_IAT_AGE_SECONDS, ENV_MAX_PAR, ENV_MAX_TOKEN_BYTES,
    ENV_REPLAY_CACHE_SIZE, ENV_SKEW_SECONDS, LEEWAY_RANGE, MAX_IAT_AGE_RANGE, MAX_PAR_RANGE,
    MAX_TOKEN_BYTES_RANGE, Policy, REPLAY_CACHE_SIZE_RANGE, ReplayProtection,
};
pub use profile::{ClaimNames, DRAFT_00, DRAFT_01, PROFILES, PolicyClaimsAt, Profile};
#[cfg(feature = "redis")]
pub use replay::RedisReplayCache;
pub use replay::{MemoryReplayCache, ReplayCache, ReplayKey};
pub use store::{EctStore, StoredEct, TokenStore};
pub use verifier::{Accepted, Verifier};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
