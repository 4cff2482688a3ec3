//! The contract suites of the shared state: [`ledger_contract`] for any [`Ledger`] backend and
//! [`replay_contract`] for any [`ReplayCache`], the written contracts of
//! [`wimse_ect::Ledger`] ("The contract of a backend") and [`wimse_ect::ReplayCache`] ("The
//! contract of a replay cache") as tests.
//!
//! `wimse-ect` runs them against every backend it ships (`tests/api/contracts.rs`: the memory,
//! file, SQLite and PostgreSQL ledgers, the in-memory and Redis replay caches). A third-party
//! backend runs them from its own test:
//!
//! ```no_run
//! use wimse_ect::{MemoryLedger, Profile};
//! use wimse_ect_conformance::contract::{LedgerBackend, ledger_contract};
//!
//! /// How the suite makes, reopens and opens again a ledger of this backend.
//! struct MyBackend;
//!
//! impl LedgerBackend for MyBackend {
//!     type Ledger = MemoryLedger; // your ledger type
//!     type Place = ();            // what holds a fresh ledger: a directory, a schema
//!     const NAME: &'static str = "my backend";
//!
//!     fn create_in(profile: Profile) -> (MemoryLedger, ()) {
//!         (MemoryLedger::with_profile(profile), ())
//!     }
//!
//!     fn reopen(ledger: MemoryLedger, _: &()) -> MemoryLedger {
//!         ledger // a durable backend drops the handle and opens the ledger again
//!     }
//! }
//!
//! ledger_contract::<MyBackend>(32);
//! ```
//!
//! What [`ledger_contract`] checks, each a panic naming the promise it broke:
//!
//! 1. **The state machine** against a plain model (a list of accepted tokens, scanned): random
//!    sequences of accepts (valid, forged, expired, duplicate, naming missing, late or refused
//!    parents, in three scopes), lookups, reopens and audits; after each step the ledger holds
//!    exactly the model's entries, sequence numbers and hash chain, and a rejected token left it
//!    unchanged (ECT-LED-1..4, ECT-DAG-1..6, ECT-RPL-1).
//! 2. **Concurrent exactly-once**: 8 threads race the same token into one handle, and, when the
//!    backend can open a ledger twice ([`LedgerBackend::open_again`], as a second process
//!    would), 4 handles race the same 24 tokens: exactly one acceptance per `(wid, jti)`, the
//!    rest `dag.duplicate_jti`, sequence numbers without a gap, an intact chain.
//! 3. **Reopen durability**: every acknowledged entry is there after the handle is dropped and
//!    the ledger opened again, and appends continue at the next sequence number.
//! 4. **A rejection changes nothing**: one token per kind of refusal (signature, time, claims,
//!    duplicate, missing parent, temporal order, refused parent, late parent, replay), each
//!    leaving the length, the head, every entry and the replay cache as they were.
//! 5. **Group commit keeps the verdicts**: `accept_batch` gives the same results and entries as
//!    one `accept` per token (a parent earlier in the same batch, a duplicate in the batch, a
//!    refused token between accepted ones).
//! 6. **Workflow consistency** (profile `draft-01`, ECT-P01-5): a ledger made with
//!    [`LedgerBackend::create_in`]`(DRAFT_01)` refuses a `pred` held only under another
//!    workflow (strict and partial mode) and a late parent whose stored child is in another
//!    workflow, with the exact errors, before and after a reopen, changing nothing; its
//!    `get_elsewhere` and `referrer_elsewhere` answer exactly; and ledgers and verifiers of
//!    different profiles refuse each other (`ledger.profile`).
//!
//! Failing closed when the storage cannot answer is backend-specific (a server stopped, a
//! connection killed) and is tested beside each backend.

use wimse_ect::{AuditReport, DRAFT_00, KeyResolver, Ledger, Policy, Profile, ReplayCache, Tail};

mod ledger;
mod machine;
mod replay;

pub use ledger::{FileBackend, MemoryBackend};

/// The URL of a real server a test runs against, from the environment variable `var` (set by
/// `.ci/servers start`: `ECT_TEST_POSTGRES_URL`, `ECT_TEST_REDIS_URL`).
///
/// Unset or empty: under `CI=true` this panics (a test that needs a server never skips in CI);
/// elsewhere it prints why the test does not run and returns `None`, and the test returns.
pub fn server_url(var: &str, what: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").as_deref() == Ok("true") => panic!(
            "CI=true and {var} is not set: the {what} tests must run against a real server \
             (.ci/servers start DIR; source DIR/env)"
        ),
        _ => {
            eprintln!(
                "skipped: {var} is not set, so there is no {what} server to test against \
                 (.ci/servers start DIR; source DIR/env)"
            );
            None
        }
    }
}

/// How the contract suite makes ledgers of one backend.
pub trait LedgerBackend: 'static {
    /// The ledger type under test.
    type Ledger: Ledger;
    /// What holds one fresh ledger and is removed when dropped (a temporary directory, a
    /// database schema); dropped after the ledger.
    type Place;
    /// The backend's name, in failure messages.
    const NAME: &'static str;

    /// A new place holding a new, empty ledger of `profile` (its tokens read under that
    /// profile, [`Ledger::profile`]).
    fn create_in(profile: Profile) -> (Self::Ledger, Self::Place);

    /// A new place holding a new, empty ledger of profile `draft-00`.
    fn create() -> (Self::Ledger, Self::Place) {
        Self::create_in(DRAFT_00)
    }

    /// The same ledger after its handle was dropped and it was opened again (a durable backend),
    /// or rebuilt from its entries (an in-memory one), with the same profile
    /// ([`Ledger::profile`] of the handle given).
    fn reopen(ledger: Self::Ledger, place: &Self::Place) -> Self::Ledger;

    /// A second, independent handle on the same ledger, as another process would open it; `None`
    /// where a ledger can be open only once at a time (memory; the file ledger's exclusive lock).
    fn open_again(place: &Self::Place) -> Option<Self::Ledger> {
        let _ = place;
        None
    }

    /// The ledger's bytes in [`wimse_ect::FileLedger`]'s line format, for a backend that keeps
    /// that format (checked against the model's lines, and unchanged by a rejection).
    fn line_file(ledger: &Self::Ledger, place: &Self::Place) -> Option<Vec<u8>> {
        let _ = (ledger, place);
        None
    }

    /// An audit of the backend's own storage by a path other than [`Ledger`] (for the file
    /// ledger: [`wimse_ect::audit_file`]), when it has one.
    fn audit_storage(
        ledger: &Self::Ledger,
        place: &Self::Place,
        policy: &Policy,
        keys: &dyn KeyResolver,
    ) -> Option<(AuditReport, Option<Tail>)> {
        let _ = (ledger, place, policy, keys);
        None
    }
}

/// Runs the whole ledger contract on backend `B`: the state machine with `cases` random
/// sequences, then the concurrency, durability, rejection and batch checks. Panics at the first
/// broken promise.
pub fn ledger_contract<B: LedgerBackend>(cases: u32) {
    machine::run::<B>(cases);
    ledger::concurrent_exactly_once::<B>();
    ledger::reopen_keeps_every_entry::<B>();
    ledger::rejections_change_nothing::<B>();
    ledger::batch_equals_one_by_one::<B>();
    ledger::workflow_consistency::<B>();
}

/// Runs the replay-cache contract on caches made by `fresh` (each call a new, empty cache, or
/// an empty namespace of a shared one): atomic check-and-record (16 threads, one key: exactly
/// one `Ok`), scopes kept apart, a record remembered until its expiry, `forget` withdrawing
/// exactly one record, the batch equal to one call per item (a key repeated in the batch
/// included). Panics at the first broken promise.
pub fn replay_contract<C: ReplayCache>(fresh: impl Fn() -> C) {
    replay::run(&fresh);
}
