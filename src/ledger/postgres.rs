//! [`PostgresLedger`]: one ledger in a PostgreSQL database, shared by many verifier processes
//! (feature `postgres`). The schema, the append transaction and the grants are documented on
//! the type.

use std::cell::RefCell;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use postgres::error::SqlState;
use postgres::{Client, Config, GenericClient, NoTls, Row, Statement};

use crate::check::parse_stored_token;
use crate::error::{Error, Result};
use crate::ledger::chain::LedgerEntry;
use crate::ledger::hash::ChainHash;
use crate::ledger::line::RawEntry;
use crate::ledger::{Admission, Ledger, STREAM_PAGE, check_recorded_profile};
use crate::profile::{DRAFT_00, Profile};
use crate::store::{EctStore, StoredEct};

/// The DDL [`PostgresLedger::connect`] runs when the ledger's tables are absent, written once
/// so that the documentation on [`PostgresLedger`] shows exactly what runs.
macro_rules! schema_sql {
    () => {
        "CREATE TABLE ect_ledger_head (
    id   SMALLINT PRIMARY KEY CHECK (id = 1),
    len  BIGINT NOT NULL,
    hash BYTEA NOT NULL
);
INSERT INTO ect_ledger_head (id, len, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

CREATE TABLE ect_ledger_entries (
    seq   BIGINT PRIMARY KEY,
    at    BIGINT NOT NULL,
    prev  BYTEA NOT NULL,
    hash  BYTEA NOT NULL,
    token TEXT NOT NULL,
    wid   TEXT NOT NULL,
    jti   TEXT NOT NULL,
    UNIQUE (wid, jti)
);

CREATE TABLE ect_ledger_parents (
    wid    TEXT NOT NULL,
    parent TEXT NOT NULL,
    child  BIGINT NOT NULL REFERENCES ect_ledger_entries (seq),
    PRIMARY KEY (wid, parent, child)
);

CREATE FUNCTION ect_ledger_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ECT ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME;
END
$$;

CREATE TRIGGER ect_ledger_entries_append_only
    BEFORE UPDATE OR DELETE ON ect_ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ect_ledger_refuse();
CREATE TRIGGER ect_ledger_entries_no_truncate
    BEFORE TRUNCATE ON ect_ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ect_ledger_refuse();
CREATE TRIGGER ect_ledger_parents_append_only
    BEFORE UPDATE OR DELETE ON ect_ledger_parents
    FOR EACH ROW EXECUTE FUNCTION ect_ledger_refuse();
CREATE TRIGGER ect_ledger_parents_no_truncate
    BEFORE TRUNCATE ON ect_ledger_parents
    FOR EACH STATEMENT EXECUTE FUNCTION ect_ledger_refuse();
CREATE TRIGGER ect_ledger_head_no_delete
    BEFORE DELETE ON ect_ledger_head
    FOR EACH ROW EXECUTE FUNCTION ect_ledger_refuse();
CREATE TRIGGER ect_ledger_head_no_truncate
    BEFORE TRUNCATE ON ect_ledger_head
    FOR EACH STATEMENT EXECUTE FUNCTION ect_ledger_refuse();
"
    };
}

/// The DDL of the indexes profile `draft-01`'s workflow-consistency lookups (ECT-P01-5) read,
/// and of the table recording the ledger's profile: part of a new schema, and run on its own
/// (under the schema lock) when [`PostgresLedger::connect`] finds a ledger created before
/// they existed. The `INSERT` fills the new table from the existing parent rows (nothing for
/// a new ledger); the profile's one row is inserted after it (the creator's profile, or
/// `draft-00` for an older ledger, which predates every other profile).
macro_rules! scopes_sql {
    () => {
        "CREATE INDEX ect_ledger_entries_by_jti ON ect_ledger_entries (jti, seq);

CREATE TABLE ect_ledger_parent_scopes (
    parent      TEXT NOT NULL,
    wid         TEXT NOT NULL,
    first_child BIGINT NOT NULL REFERENCES ect_ledger_entries (seq),
    PRIMARY KEY (parent, wid)
);
CREATE INDEX ect_ledger_parent_scopes_by_first
    ON ect_ledger_parent_scopes (parent, first_child);
INSERT INTO ect_ledger_parent_scopes (parent, wid, first_child)
    SELECT parent, wid, min(child) FROM ect_ledger_parents GROUP BY parent, wid;

CREATE TRIGGER ect_ledger_parent_scopes_append_only
    BEFORE UPDATE OR DELETE ON ect_ledger_parent_scopes
    FOR EACH ROW EXECUTE FUNCTION ect_ledger_refuse();
CREATE TRIGGER ect_ledger_parent_scopes_no_truncate
    BEFORE TRUNCATE ON ect_ledger_parent_scopes
    FOR EACH STATEMENT EXECUTE FUNCTION ect_ledger_refuse();

CREATE TABLE ect_ledger_profile (
    id      SMALLINT PRIMARY KEY CHECK (id = 1),
    profile TEXT NOT NULL
);
CREATE TRIGGER ect_ledger_profile_fixed
    BEFORE UPDATE OR DELETE ON ect_ledger_profile
    FOR EACH ROW EXECUTE FUNCTION ect_ledger_refuse();
CREATE TRIGGER ect_ledger_profile_no_truncate
    BEFORE TRUNCATE ON ect_ledger_profile
    FOR EACH STATEMENT EXECUTE FUNCTION ect_ledger_refuse();
"
    };
}

/// The schema: the tables, the head row, the trigger function and the triggers.
const SCHEMA_SQL: &str = concat!(schema_sql!(), "\n", scopes_sql!());

/// The indexes added to a ledger created before them.
const SCOPES_SQL: &str = scopes_sql!();

/// The ledger in a PostgreSQL database: one ledger shared by any number of verifier processes
/// and hosts (feature `postgres`, the synchronous `postgres` client, without TLS: a URL with
/// `sslmode=require` fails to connect; reach a remote server through a tunnel or a local
/// proxy).
///
/// Each handle holds one connection (behind a mutex: appends of one handle are serialized, and
/// the appends of all handles and processes are serialized by the database). When the
/// connection breaks (the server restarted, the backend was terminated, a network failure),
/// the call that finds it broken fails with `ledger.io` and appends nothing, and the next call
/// connects again. No call ever answers from anything but the database: a failure is always an
/// error (`ledger.io`), never an acceptance, an empty view or a short list.
///
/// # Connecting
///
/// [`PostgresLedger::connect`] takes a libpq-style URL
/// (`postgres://user[:password]@host[:port]/dbname[?param=value&...]`, or the key-value form).
/// The tables live in the connection's `search_path`; a ledger in its own schema is selected with
/// `options=-csearch_path%3D<schema>` in the URL. Every connection waits at most
/// [`PostgresLedger::CONNECT_TIMEOUT`] (5 s) for the server, sends TCP keepalives after 30 s
/// of silence, and sets [`PostgresLedger::SESSION_SETTINGS`]: `statement_timeout` and
/// `lock_timeout` of 30 s (so a call blocked behind a stuck writer fails with `ledger.io`
/// rather than hangs; an append waits at most that long for the head row),
/// `idle_in_transaction_session_timeout` of 60 s, and `synchronous_commit = on`.
///
/// Connecting then checks the schema inside a transaction holding
/// `pg_advisory_xact_lock(`[`PostgresLedger::SCHEMA_LOCK_KEY`]`)`, so that processes
/// connecting at once do not race: if none of the three tables exists in the `search_path`, it
/// creates them (the SQL below, in the first schema of the `search_path`); if some but not all
/// exist, it fails (`ledger.io`); then it checks that the tables have the columns below (by
/// preparing every statement the ledger runs) and that the head row exists and is well formed.
///
/// # Schema
///
/// `wid` and `jti` are stored ASCII-lower-cased, so the `UNIQUE (wid, jti)` constraint and both
/// indexes compare identifiers case-insensitively (ECT-CLM-5). A token without a `wid` is
/// stored under `wid = ''`, which is unambiguous because a `wid` is always a UUID.
/// `ect_ledger_parents` holds one row per element of each entry's `par` (lower-cased,
/// duplicates once), which is how [`EctStore::referrers`] is one index lookup. The head row
/// holds the number of entries and the newest entry's hash ([`ChainHash::GENESIS`] when empty).
///
#[doc = concat!("```sql\n", schema_sql!(), "\n", scopes_sql!(), "```")]
///
/// `ect_ledger_parent_scopes` and the two indexes answer profile `draft-01`'s workflow-consistency lookups
/// (ECT-P01-5) in O(1): [`EctStore::get_elsewhere`] reads `ect_ledger_entries_by_jti` in `seq`
/// order and skips at most one row (the asking scope holds a `jti` at most once);
/// [`EctStore::referrer_elsewhere`] reads `ect_ledger_parent_scopes_by_first` (the first child
/// of each `(parent, wid)` pair) in order and skips at most one row. A ledger created before
/// they existed gets them when a role allowed to create them connects (under the schema lock,
/// in one transaction); until then a connection fails with `ledger.io` naming the missing table.
/// `ect_ledger_profile` records the profile the ledger's tokens are read under: connecting
/// under another profile is `ledger.profile`, so processes of different profiles never mix
/// their tokens in one ledger.
///
/// # Appending
///
/// [`Ledger::append`] runs one transaction (`START TRANSACTION ISOLATION LEVEL READ
/// COMMITTED`):
///
/// 1. `SELECT len, hash FROM ect_ledger_head WHERE id = 1 FOR UPDATE`: the row lock is the one
///    total order of appends across all processes; whoever holds it sees every entry committed
///    before (each statement of a `READ COMMITTED` transaction reads the latest commits).
/// 2. For each candidate, under a savepoint (`SAVEPOINT ect_candidate`, sent with the release
///    of the previous candidate's; when the call has a single candidate the transaction itself
///    plays that part): [`Admission::check`] against a view whose [`EctStore::get`] and
///    [`EctStore::referrers`] query the same transaction (so it sees the candidates of this
///    call appended before it), then the `INSERT` of the entry (its hash computed by
///    [`LedgerEntry::new`]) and of its parent rows (one statement). When the check or an
///    insert fails, the transaction rolls back to the savepoint and that error is the
///    candidate's result.
/// 3. `UPDATE ect_ledger_head` to the new length and hash and `COMMIT`, sent together (one
///    round trip less while the head row is locked); `ROLLBACK` instead when every candidate
///    was refused.
///
/// The head row stays locked until the commit is durable, so appends are serialized across
/// processes including their commit's flush to disk (BENCHMARKS.md, "Shared state"): several
/// processes add verification in parallel, not appends; `accept_batch` shares one commit
/// among its tokens.
///
/// The results are returned after the commit; if it fails, every candidate that would have
/// been appended gets `ledger.io` (as does every candidate when the transaction cannot start
/// or the connection fails part-way). A commit that fails because the connection broke may
/// still have happened on the server: the entries are then in the ledger, and presenting the
/// tokens again is refused as a duplicate, never appended twice. A sequence number or an
/// acceptance time that does not fit a `BIGINT` is `ledger.io`.
///
/// # Privileges
///
/// The schema is best created by its owner (an administrator role, by connecting once as that
/// role, or by running the SQL above). The application role that verifiers connect as then
/// needs only:
///
/// ```sql
/// -- for a schema `ledger` and an application role `verifier`:
/// GRANT USAGE ON SCHEMA ledger TO verifier;
/// GRANT SELECT, INSERT ON ect_ledger_entries, ect_ledger_parents, ect_ledger_parent_scopes
///     TO verifier;
/// GRANT SELECT ON ect_ledger_profile TO verifier;
/// GRANT SELECT, UPDATE ON ect_ledger_head TO verifier;
/// ```
///
/// (the application role cannot create the schema; its [`PostgresLedger::connect`] finds the
/// tables and only checks them).
///
/// # What is tamper evidence and what is not
///
/// The triggers refuse `UPDATE`, `DELETE` and `TRUNCATE` on the entries and the parent rows,
/// and `DELETE` and `TRUNCATE` on the head row (whose `UPDATE` is how appends serialize): they
/// stop mistakes and the application role, not the table owner or a superuser, who can disable
/// them. **The triggers are not the tamper evidence: the hash chain is**, checked on read by
/// [`Ledger::verify_chain`] and [`crate::LedgerAudit::validate_all`], which report any edited,
/// removed or reordered entry (`ledger.chain`), and a head row moved back over stored entries.
/// As with every ledger, cutting off the newest entries together with the head row is
/// detected only by comparing [`Ledger::head`] with a copy kept elsewhere.
///
/// `UNIQUE (wid, jti)` is itself a durable replay check for the tokens that go into the
/// ledger: whatever the replay cache remembers or forgets, a task is stored at most once, and
/// an insert that would store it twice fails (`ledger.duplicate`).
///
/// # In an async program
///
/// The client is synchronous and runs its own small tokio runtime, which tokio refuses to
/// start on a thread that drives another runtime. In an async program, call
/// [`PostgresLedger::connect`] and every method from a blocking thread
/// (`tokio::task::spawn_blocking`), as `EctLayer` (feature `tower`) does for every ledger call;
/// dropping the ledger is safe anywhere (inside a runtime its connection is closed on a thread
/// of its own).
pub struct PostgresLedger {
    config: Config,
    profile: Profile,
    conn: Mutex<Option<Conn>>,
}

/// The connection is closed on a thread of its own when the ledger is dropped inside a tokio
/// runtime (for example the last handle held by an `EctLayer` when its server stops): the
/// synchronous client closes it by running its own runtime, which tokio refuses to start on a
/// runtime's thread.
impl Drop for PostgresLedger {
    fn drop(&mut self) {
        let conn = match self.conn.get_mut() {
            Ok(conn) => conn.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(conn) = conn {
            if tokio::runtime::Handle::try_current().is_ok() {
                std::thread::spawn(move || drop(conn));
            } else {
                drop(conn);
            }
        }
    }
}

impl fmt::Debug for PostgresLedger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the password.
        f.debug_struct("PostgresLedger")
            .field("user", &self.config.get_user())
            .field("hosts", &self.config.get_hosts())
            .field("ports", &self.config.get_ports())
            .field("dbname", &self.config.get_dbname())
            .finish_non_exhaustive()
    }
}

/// One open connection and its prepared statements.
struct Conn {
    client: Client,
    st: Statements,
}

/// The statements of the ledger, prepared once per connection.
struct Statements {
    /// The profile the stored tokens are read under (the ledger's).
    profile: Profile,
    head: Statement,
    head_for_update: Statement,
    get: Statement,
    referrers: Statement,
    get_elsewhere: Statement,
    referrer_elsewhere: Statement,
    insert_entry: Statement,
    insert_with_parents: Statement,
    read: Statement,
    entry: Statement,
    beyond_head: Statement,
}

impl Statements {
    fn prepare(
        client: &mut Client,
        profile: Profile,
    ) -> std::result::Result<Self, postgres::Error> {
        Ok(Statements {
            profile,
            head: client.prepare("SELECT len, hash FROM ect_ledger_head WHERE id = 1")?,
            head_for_update: client
                .prepare("SELECT len, hash FROM ect_ledger_head WHERE id = 1 FOR UPDATE")?,
            get: client
                .prepare("SELECT token FROM ect_ledger_entries WHERE wid = $1 AND jti = $2")?,
            referrers: client.prepare(
                "SELECT e.token FROM ect_ledger_parents p \
                 JOIN ect_ledger_entries e ON e.seq = p.child \
                 WHERE p.wid = $1 AND p.parent = $2 ORDER BY p.child LIMIT $3",
            )?,
            get_elsewhere: client.prepare(
                "SELECT token FROM ect_ledger_entries WHERE jti = $1 AND wid <> $2 \
                 ORDER BY seq LIMIT 1",
            )?,
            referrer_elsewhere: client.prepare(
                "SELECT e.token FROM ect_ledger_parent_scopes p \
                 JOIN ect_ledger_entries e ON e.seq = p.first_child \
                 WHERE p.parent = $1 AND p.wid <> $2 ORDER BY p.first_child LIMIT 1",
            )?,
            insert_entry: client.prepare(
                "INSERT INTO ect_ledger_entries (seq, at, prev, hash, token, wid, jti) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )?,
            insert_with_parents: client.prepare(
                "WITH e AS (INSERT INTO ect_ledger_entries (seq, at, prev, hash, token, wid, jti) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq) \
                 , parent_rows AS (INSERT INTO ect_ledger_parents (wid, parent, child) \
                 SELECT $6, p, e.seq FROM e, unnest($8::text[]) AS p) \
                 INSERT INTO ect_ledger_parent_scopes (parent, wid, first_child) \
                 SELECT p, $6, e.seq FROM e, unnest($8::text[]) AS p \
                 ON CONFLICT DO NOTHING",
            )?,
            read: client.prepare(
                "SELECT seq, at, prev, hash, token FROM ect_ledger_entries \
                 WHERE seq >= $1 ORDER BY seq LIMIT $2",
            )?,
            entry: client.prepare(
                "SELECT seq, at, prev, hash, token FROM ect_ledger_entries WHERE seq = $1",
            )?,
            beyond_head: client.prepare(
                "SELECT EXISTS (SELECT 1 FROM ect_ledger_head h \
                 JOIN ect_ledger_entries e ON e.seq >= h.len WHERE h.id = 1)",
            )?,
        })
    }
}

/// A storage failure (`ledger.io`) while doing `what`.
fn io(what: &str, e: &postgres::Error) -> Error {
    Error::LedgerIo(format!("PostgreSQL ledger: {what}: {}", describe(e)))
}

/// The client's error with its causes (the server's message, the operating system's error),
/// which its `Display` leaves out.
fn describe(e: &postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Whether the connection must be dropped after `e`: it is closed, or the failure was not an
/// error reported by the server (an I/O error, a protocol error), or the server is shutting
/// the session down.
/// (The caller also checks `Client::is_closed`.)
fn connection_lost(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.as_db_error() {
        None => true,
        Some(db) => {
            let code = db.code().code();
            code.starts_with("08") || code.starts_with("57P")
        }
    }
}

/// The lower-cased scope of a `wid` as stored (`''` for none).
fn wid_key(wid: Option<&str>) -> String {
    wid.map(str::to_ascii_lowercase).unwrap_or_default()
}

/// A `u64` as a `BIGINT`, or `ledger.io`.
fn to_i64(value: u64, what: &str) -> Result<i64> {
    i64::try_from(value).map_err(|_| {
        Error::LedgerIo(format!(
            "PostgreSQL ledger: {what} {value} does not fit a BIGINT"
        ))
    })
}

/// A stored `BIGINT` that must not be negative, or `ledger.chain`.
fn to_u64(value: i64, what: &str) -> Result<u64> {
    u64::try_from(value).map_err(|_| {
        Error::LedgerChain(format!(
            "PostgreSQL ledger: stored {what} {value} is negative"
        ))
    })
}

/// A stored 32-byte hash, or `ledger.chain`.
fn to_hash(bytes: &[u8], what: &str) -> Result<ChainHash> {
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| {
        Error::LedgerChain(format!(
            "PostgreSQL ledger: stored {what} has {} bytes, not 32",
            bytes.len()
        ))
    })?;
    Ok(ChainHash(bytes))
}

/// Reads a column, mapping a type mismatch (a changed schema) to `ledger.io`.
fn column<'a, T: postgres::types::FromSql<'a>>(row: &'a Row, index: usize) -> Result<T> {
    row.try_get(index)
        .map_err(|e| io(&format!("reading column {index}"), &e))
}

/// The head row as `(len, hash)`.
fn head_of(row: &Row) -> Result<(u64, ChainHash)> {
    let len = to_u64(column(row, 0)?, "head length")?;
    let hash: Vec<u8> = column(row, 1)?;
    Ok((len, to_hash(&hash, "head hash")?))
}

/// A stored entry row (`seq, at, prev, hash, token`) as a [`RawEntry`].
fn raw_of(row: &Row) -> Result<RawEntry> {
    let prev: Vec<u8> = column(row, 2)?;
    let hash: Vec<u8> = column(row, 3)?;
    Ok(RawEntry {
        seq: to_u64(column(row, 0)?, "sequence number")?,
        at: to_u64(column(row, 1)?, "acceptance time")?,
        prev: to_hash(&prev, "prev")?,
        hash: to_hash(&hash, "hash")?,
        token: column(row, 4)?,
    })
}

/// A stored token, parsed.
fn stored_of(row: &Row, profile: &Profile) -> Result<Arc<StoredEct>> {
    let token: String = column(row, 0)?;
    let claims = parse_stored_token(&token, profile).map_err(|e| {
        Error::LedgerChain(format!(
            "PostgreSQL ledger: a stored token does not parse: {e}"
        ))
    })?;
    Ok(Arc::new(StoredEct::new(token, claims)))
}

/// The result of a query or a storage failure, the latter with the query's name.
type Pg<T> = std::result::Result<T, (String, postgres::Error)>;

/// Names the query of a result, for its error message.
fn named<T>(what: &str, r: std::result::Result<T, postgres::Error>) -> Pg<T> {
    r.map_err(|e| (what.to_owned(), e))
}

/// [`EctStore::get`] on a connection or inside a transaction.
fn get_in<C: GenericClient>(
    c: &mut C,
    st: &Statements,
    wid: Option<&str>,
    jti: &str,
) -> Pg<Option<Row>> {
    let (wid, jti) = (wid_key(wid), jti.to_ascii_lowercase());
    named("looking a token up", c.query_opt(&st.get, &[&wid, &jti]))
}

/// [`EctStore::referrers`] on a connection or inside a transaction.
fn referrers_in<C: GenericClient>(
    c: &mut C,
    st: &Statements,
    wid: Option<&str>,
    jti: &str,
    limit: usize,
) -> Pg<Vec<Row>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let (wid, jti) = (wid_key(wid), jti.to_ascii_lowercase());
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    named(
        "looking referrers up",
        c.query(&st.referrers, &[&wid, &jti, &limit]),
    )
}

/// [`EctStore::get_elsewhere`] or [`EctStore::referrer_elsewhere`] (`statement`) on a
/// connection or inside a transaction: `$1` the lower-cased `jti`, `$2` the asking scope.
fn elsewhere_in<C: GenericClient>(
    c: &mut C,
    statement: &Statement,
    wid: Option<&str>,
    jti: &str,
) -> Pg<Option<Row>> {
    let (wid, jti) = (wid_key(wid), jti.to_ascii_lowercase());
    named(
        "looking a task up in other workflows",
        c.query_opt(statement, &[&jti, &wid]),
    )
}

/// The view [`Admission::check`] reads during an append: every query runs in the append's
/// transaction (behind a `RefCell`, as [`EctStore`]'s methods take `&self`).
struct TxView<'t, 'c> {
    tx: &'t RefCell<&'c mut Client>,
    st: &'t Statements,
}

impl EctStore for TxView<'_, '_> {
    fn get(&self, wid: Option<&str>, jti: &str) -> Result<Option<Arc<StoredEct>>> {
        let row = get_in(&mut **self.tx.borrow_mut(), self.st, wid, jti)
            .map_err(|(what, e)| io(&what, &e))?;
        row.as_ref()
            .map(|r| stored_of(r, &self.st.profile))
            .transpose()
    }

    fn referrers(&self, wid: Option<&str>, jti: &str, limit: usize) -> Result<Vec<Arc<StoredEct>>> {
        let rows = referrers_in(&mut **self.tx.borrow_mut(), self.st, wid, jti, limit)
            .map_err(|(what, e)| io(&what, &e))?;
        rows.iter()
            .map(|r| stored_of(r, &self.st.profile))
            .collect()
    }

    fn get_elsewhere(&self, wid: Option<&str>, jti: &str) -> Result<Option<Arc<StoredEct>>> {
        self.elsewhere(&self.st.get_elsewhere, wid, jti)
    }

    fn referrer_elsewhere(&self, wid: Option<&str>, jti: &str) -> Result<Option<Arc<StoredEct>>> {
        self.elsewhere(&self.st.referrer_elsewhere, wid, jti)
    }
}

impl TxView<'_, '_> {
    /// [`elsewhere_in`] in the append's transaction, the row's token read.
    fn elsewhere(
        &self,
        statement: &Statement,
        wid: Option<&str>,
        jti: &str,
    ) -> Result<Option<Arc<StoredEct>>> {
        let row = elsewhere_in(&mut **self.tx.borrow_mut(), statement, wid, jti)
            .map_err(|(what, e)| io(&what, &e))?;
        row.as_ref()
            .map(|r| stored_of(r, &self.st.profile))
            .transpose()
    }
}

impl PostgresLedger {
    /// The key of the transaction-scoped advisory lock held while the schema is checked and
    /// created, so that processes connecting at once create it once (`"ECT_LEDG"` in ASCII).
    pub const SCHEMA_LOCK_KEY: i64 = 0x4543_545f_4c45_4447;

    /// How long [`PostgresLedger::connect`] (and every reconnection) waits for the server to
    /// answer a new connection, unless the URL sets `connect_timeout`.
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

    /// The session settings every connection makes: a statement or a lock wait longer than
    /// 30 s fails (`ledger.io`) instead of hanging; a transaction left idle for 60 s (a process
    /// stopped while holding the head row) is ended by the server, releasing the head for the
    /// others; and commits are synchronous whatever the role's or database's default (an
    /// acknowledged entry is on the server's stable storage).
    pub const SESSION_SETTINGS: &str = "SET statement_timeout = '30s'; SET lock_timeout = '30s'; \
         SET idle_in_transaction_session_timeout = '60s'; SET synchronous_commit = on";

    /// Connects to the ledger at `url` (a libpq-style URL or key-value string: [`PostgresLedger`],
    /// "Connecting"), creates its schema if it is absent, and checks it.
    ///
    /// Every failure is `ledger.io`: a URL that does not parse (the message never shows a
    /// password), a server that does not answer within [`PostgresLedger::CONNECT_TIMEOUT`], a
    /// refused login, a
    /// schema that cannot be created or does not have the expected shape.
    pub fn connect(url: &str) -> Result<Self> {
        Self::connect_profile(url, DRAFT_00)
    }

    /// [`PostgresLedger::connect`] for a ledger whose tokens are read under `profile` (a
    /// verifier appends through it only with the same profile, `ledger.profile` otherwise).
    /// The database does not record the profile: a ledger written under another profile
    /// fails to read its tokens (`ledger.chain`).
    pub fn connect_profile(url: &str, profile: Profile) -> Result<Self> {
        let mut config: Config = url.parse().map_err(|e: postgres::Error| {
            Error::LedgerIo(redact(
                &format!(
                    "PostgreSQL ledger: the URL does not parse: {}",
                    describe(&e)
                ),
                url,
            ))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Self::CONNECT_TIMEOUT);
        }
        config.keepalives_idle(Duration::from_secs(30));
        let conn = Self::open(&config, profile).map_err(|e| match e {
            Error::LedgerIo(why) => Error::LedgerIo(redact(&why, url)),
            other => other,
        })?;
        Ok(PostgresLedger {
            config,
            profile,
            conn: Mutex::new(Some(conn)),
        })
    }

    /// A new connection: session settings, schema, prepared statements.
    fn open(config: &Config, profile: Profile) -> Result<Conn> {
        let mut client = config
            .connect(NoTls)
            .map_err(|e| io("cannot connect to the server", &e))?;
        client
            .batch_execute(PostgresLedger::SESSION_SETTINGS)
            .map_err(|e| io("cannot configure the session", &e))?;
        ensure_schema(&mut client, profile)?;
        check_profile(&mut client, profile)?;
        let st = Statements::prepare(&mut client, profile)
            .map_err(|e| io("the ledger's tables do not have the expected columns", &e))?;
        let row = client
            .query_opt(&st.head, &[])
            .map_err(|e| io("cannot read the head row", &e))?
            .ok_or_else(|| {
                Error::LedgerChain("PostgreSQL ledger: the head row is missing".into())
            })?;
        head_of(&row)?;
        Ok(Conn { client, st })
    }

    /// The connection, opened again if it is absent or closed.
    fn connection(&self) -> Result<MutexGuard<'_, Option<Conn>>> {
        let mut guard = match self.conn.lock() {
            Ok(g) => g,
            Err(poisoned) => {
                // A panic while the connection was in use: it may be mid-transaction.
                let mut g = poisoned.into_inner();
                *g = None;
                self.conn.clear_poison();
                g
            }
        };
        if guard.as_ref().is_none_or(|c| c.client.is_closed()) {
            *guard = None;
            *guard = Some(Self::open(&self.config, self.profile)?);
        }
        Ok(guard)
    }

    /// Runs `f` on the connection; a failure is `ledger.io`, and a lost connection is dropped so
    /// that the next call connects again.
    fn with_conn<T>(&self, f: impl FnOnce(&mut Client, &Statements) -> Pg<T>) -> Result<T> {
        let mut guard = self.connection()?;
        let conn = guard.as_mut().expect("connected");
        match f(&mut conn.client, &conn.st) {
            Ok(v) => Ok(v),
            Err((what, e)) => {
                if conn.client.is_closed() || connection_lost(&e) {
                    *guard = None;
                }
                Err(io(&what, &e))
            }
        }
    }

    /// The head row: the number of entries and the newest entry's hash, read together.
    fn head_row(&self) -> Result<(u64, ChainHash)> {
        let row =
            self.with_conn(|c, st| named("reading the head row", c.query_opt(&st.head, &[])))?;
        let row = row.ok_or_else(|| {
            Error::LedgerChain("PostgreSQL ledger: the head row is missing".into())
        })?;
        head_of(&row)
    }
}

/// Removes from `message` anything that could be the password written in `url`.
fn redact(message: &str, url: &str) -> String {
    let mut secrets = Vec::new();
    // postgres://user:password@host
    if let Some(rest) = url.split_once("://").map(|(_, r)| r)
        && let Some((userinfo, _)) = rest.rsplit_once('@')
        && let Some((_, password)) = userinfo.split_once(':')
    {
        secrets.push(password.to_owned());
    }
    // password=... (query parameter or key-value form)
    for (i, _) in url.match_indices("password=") {
        let value: String = url[i + "password=".len()..]
            .chars()
            .take_while(|c| !matches!(c, '&' | ' '))
            .collect();
        secrets.push(value.trim_matches('\'').to_owned());
    }
    let mut out = message.to_owned();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(s.as_str(), "***");
    }
    out
}

/// Creates the schema if none of its tables exists, under the advisory lock, and commits.
fn ensure_schema(client: &mut Client, profile: Profile) -> Result<()> {
    let fail = |e: postgres::Error| io("cannot check or create the schema", &e);
    let mut tx = client.transaction().map_err(fail)?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&PostgresLedger::SCHEMA_LOCK_KEY],
    )
    .map_err(fail)?;
    let row = tx
        .query_one(
            "SELECT to_regclass('ect_ledger_head') IS NOT NULL, \
             to_regclass('ect_ledger_entries') IS NOT NULL, \
             to_regclass('ect_ledger_parents') IS NOT NULL",
            &[],
        )
        .map_err(fail)?;
    let present: [bool; 3] = [row.get(0), row.get(1), row.get(2)];
    match present {
        [true, true, true] => {
            // A ledger created before the draft-01 indexes: add them (needs the right to
            // create tables; without it this fails, and so does every connection, until a
            // role that has it connects once).
            let scopes: bool = tx
                .query_one(
                    "SELECT to_regclass('ect_ledger_parent_scopes') IS NOT NULL",
                    &[],
                )
                .map_err(fail)?
                .get(0);
            if !scopes {
                tx.batch_execute(SCOPES_SQL).map_err(|e| {
                    io(
                        "the table ect_ledger_parent_scopes is missing and cannot be created",
                        &e,
                    )
                })?;
                record_profile(&mut tx, DRAFT_00).map_err(fail)?;
            }
        }
        [false, false, false] => {
            tx.batch_execute(SCHEMA_SQL).map_err(fail)?;
            record_profile(&mut tx, profile).map_err(fail)?;
        }
        _ => {
            return Err(Error::LedgerIo(
                "PostgreSQL ledger: only some of the tables ect_ledger_head, ect_ledger_entries \
                 and ect_ledger_parents exist in the search_path"
                    .into(),
            ));
        }
    }
    tx.commit().map_err(fail)
}

/// Inserts the one row of `ect_ledger_profile`.
fn record_profile(
    tx: &mut postgres::Transaction<'_>,
    profile: Profile,
) -> std::result::Result<(), postgres::Error> {
    tx.execute(
        "INSERT INTO ect_ledger_profile (id, profile) VALUES (1, $1)",
        &[&profile.name],
    )
    .map(drop)
}

/// `ledger.profile` unless the ledger records `profile`.
fn check_profile(client: &mut Client, profile: Profile) -> Result<()> {
    let held: String = client
        .query_one("SELECT profile FROM ect_ledger_profile WHERE id = 1", &[])
        .map_err(|e| io("cannot read the ledger's profile", &e))?
        .try_get(0)
        .map_err(|e| io("cannot read the ledger's profile", &e))?;
    check_recorded_profile(&held, profile, "the PostgreSQL ledger")
}

impl EctStore for PostgresLedger {
    fn get(&self, wid: Option<&str>, jti: &str) -> Result<Option<Arc<StoredEct>>> {
        let row = self.with_conn(|c, st| get_in(c, st, wid, jti))?;
        row.as_ref()
            .map(|r| stored_of(r, &self.profile))
            .transpose()
    }

    fn referrers(&self, wid: Option<&str>, jti: &str, limit: usize) -> Result<Vec<Arc<StoredEct>>> {
        let rows = self.with_conn(|c, st| referrers_in(c, st, wid, jti, limit))?;
        rows.iter().map(|r| stored_of(r, &self.profile)).collect()
    }

    fn get_elsewhere(&self, wid: Option<&str>, jti: &str) -> Result<Option<Arc<StoredEct>>> {
        self.elsewhere(|st| &st.get_elsewhere, wid, jti)
    }

    fn referrer_elsewhere(&self, wid: Option<&str>, jti: &str) -> Result<Option<Arc<StoredEct>>> {
        self.elsewhere(|st| &st.referrer_elsewhere, wid, jti)
    }
}

impl PostgresLedger {
    /// [`elsewhere_in`] with the statement `pick` chooses, on the connection, the row's token
    /// read under the ledger's profile.
    fn elsewhere(
        &self,
        pick: fn(&Statements) -> &Statement,
        wid: Option<&str>,
        jti: &str,
    ) -> Result<Option<Arc<StoredEct>>> {
        let row = self.with_conn(|c, st| elsewhere_in(c, pick(st), wid, jti))?;
        row.as_ref()
            .map(|r| stored_of(r, &self.profile))
            .transpose()
    }
}

impl Ledger for PostgresLedger {
    fn profile(&self) -> Profile {
        self.profile
    }

    fn append(
        &self,
        candidates: Vec<StoredEct>,
        at: u64,
        admission: &mut Admission<'_>,
    ) -> Vec<Result<Arc<LedgerEntry>>> {
        let n = candidates.len();
        if n == 0 {
            return Vec::new();
        }
        let all = |e: Error| (0..n).map(|_| Err(e.clone())).collect();
        let at_sql = match to_i64(at, "acceptance time") {
            Ok(v) => v,
            Err(e) => return all(e),
        };
        let mut guard = match self.connection() {
            Ok(g) => g,
            Err(e) => return all(e),
        };
        let conn = guard.as_mut().expect("connected");
        let mut results = Vec::with_capacity(n);
        match append_in(conn, candidates, at, at_sql, admission, &mut results) {
            Ok(()) => results,
            Err((error, lost)) => {
                if lost || conn.client.is_closed() {
                    *guard = None;
                }
                // Nothing was committed: every candidate fails, the one being processed and
                // those not reached with the error, the others as not durable.
                let not_durable = Error::LedgerIo(format!(
                    "this entry was not committed, as the append failed: {}",
                    error.message()
                ));
                let mut out: Vec<Result<Arc<LedgerEntry>>> = results
                    .into_iter()
                    .map(|r| r.and(Err(not_durable.clone())))
                    .collect();
                out.resize_with(n, || Err(error.clone()));
                out
            }
        }
    }

    fn len(&self) -> Result<u64> {
        Ok(self.head_row()?.0)
    }

    fn head(&self) -> Result<ChainHash> {
        Ok(self.head_row()?.1)
    }

    fn read(&self, from: u64, limit: usize) -> Result<Vec<RawEntry>> {
        // No entry can have a sequence number beyond a BIGINT.
        let Ok(from) = i64::try_from(from) else {
            return Ok(Vec::new());
        };
        if limit == 0 {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows =
            self.with_conn(|c, st| named("reading entries", c.query(&st.read, &[&from, &limit])))?;
        rows.iter().map(raw_of).collect()
    }

    fn entry(&self, seq: u64) -> Result<Option<Arc<LedgerEntry>>> {
        let Ok(seq) = i64::try_from(seq) else {
            return Ok(None);
        };
        let row =
            self.with_conn(|c, st| named("reading an entry", c.query_opt(&st.entry, &[&seq])))?;
        match row {
            Some(row) => Ok(Some(Arc::new(LedgerEntry::from_raw_in(
                &raw_of(&row)?,
                &self.profile,
            )?))),
            None => Ok(None),
        }
    }

    /// ECT-LED-4: reads the head row first, then every entry up to its length, page by page,
    /// so that appends made meanwhile by other processes do not make an intact chain fail.
    fn verify_chain(&self) -> Result<()> {
        let (len, head) = self.head_row()?;
        let mut prev = ChainHash::GENESIS;
        let mut next = 0u64;
        while next < len {
            let want = usize::try_from(len - next)
                .unwrap_or(usize::MAX)
                .min(STREAM_PAGE);
            let page = self.read(next, want)?;
            if page.is_empty() {
                return Err(Error::LedgerChain(format!(
                    "the head counts {len} entries but entry {next} is missing"
                )));
            }
            for raw in page {
                if let Some(error) = raw.link().error_at(next, Some(&prev)) {
                    return Err(error);
                }
                prev = raw.hash;
                next += 1;
            }
        }
        if prev != head {
            return Err(Error::LedgerChain(
                "the head is not the last entry's hash".into(),
            ));
        }
        // A head moved back over entries that are still stored (one statement, so one
        // snapshot: an append committing meanwhile moves the head with its entry).
        let beyond = self
            .with_conn(|c, st| named("reading past the head", c.query_one(&st.beyond_head, &[])))?;
        if column::<bool>(&beyond, 0)? {
            return Err(Error::LedgerChain(
                "entries are stored beyond the head".into(),
            ));
        }
        Ok(())
    }
}

/// The append transaction ([`PostgresLedger`], "Appending"). Pushes one result per candidate
/// onto `results` and commits; on `Err`, nothing was committed, `results` holds the results of
/// the candidates before the one that failed, and the flag says whether the connection is lost
/// (when it is not, the transaction was rolled back and the connection can be used again).
fn append_in(
    conn: &mut Conn,
    candidates: Vec<StoredEct>,
    at: u64,
    at_sql: i64,
    admission: &mut Admission<'_>,
    results: &mut Vec<Result<Arc<LedgerEntry>>>,
) -> std::result::Result<(), (Error, bool)> {
    let Conn { client, st } = conn;
    let fatal = |what: &str, e: postgres::Error| (io(what, &e), connection_lost(&e));
    client
        .batch_execute("START TRANSACTION ISOLATION LEVEL READ COMMITTED")
        .map_err(|e| fatal("cannot begin the append", e))?;
    let outcome = admit_all(client, st, candidates, at, at_sql, admission, results);
    let failure = match outcome {
        // Nothing to make durable: end the transaction without a commit.
        Ok(None) => None,
        // The head row and the commit in one round trip, so the head row (and with it every
        // other process's append) waits for one round trip less. The values are a number and
        // hex digits made here.
        Ok(Some((len, hash))) => {
            let hex: String = hash.0.iter().map(|b| format!("{b:02x}")).collect();
            let sql = format!(
                "UPDATE ect_ledger_head SET len = {len}, hash = decode('{hex}', 'hex') \
                 WHERE id = 1; COMMIT"
            );
            match client.batch_execute(&sql) {
                Ok(()) => return Ok(()),
                Err(e) => Some(fatal("the commit failed", e)),
            }
        }
        Err(failure) => Some(failure),
    };
    // Rolls back what the commit did not make durable (a no-op after a failed COMMIT).
    let rolled_back = client.batch_execute("ROLLBACK");
    match failure {
        None => match rolled_back {
            Ok(()) => Ok(()),
            Err(e) if connection_lost(&e) => {
                // Every result is already known (all refused); the connection is dropped.
                Err((io("cannot end the append", &e), true))
            }
            Err(_) => Ok(()),
        },
        Some((error, lost)) => Err((error, lost || rolled_back.is_err())),
    }
}

/// The admission and the inserts of every candidate, inside the transaction `append_in`
/// began: the head row locked, then each candidate under a savepoint (when there are several:
/// a single candidate that is refused is undone by the transaction's rollback). Returns the
/// new `(len, hash)` of the head when something was appended, `None` when nothing was.
fn admit_all(
    client: &mut Client,
    st: &Statements,
    candidates: Vec<StoredEct>,
    at: u64,
    at_sql: i64,
    admission: &mut Admission<'_>,
    results: &mut Vec<Result<Arc<LedgerEntry>>>,
) -> std::result::Result<Option<(i64, ChainHash)>, (Error, bool)> {
    let fatal = |what: &str, e: postgres::Error| (io(what, &e), connection_lost(&e));
    let head = client
        .query_opt(&st.head_for_update, &[])
        .map_err(|e| fatal("cannot lock the head row", e))?;
    let head = head.ok_or_else(|| {
        (
            Error::LedgerChain("PostgreSQL ledger: the head row is missing".into()),
            false,
        )
    })?;
    let (mut len, mut hash) = head_of(&head).map_err(|e| (e, false))?;
    let savepoints = candidates.len() > 1;
    // The savepoint of the previous candidate, released together with the next one's
    // creation (one round trip per candidate; `COMMIT` releases the last one).
    let mut open_savepoint = false;
    let tx = RefCell::new(client);
    let view = TxView { tx: &tx, st };
    let mut appended = 0usize;
    for (i, ect) in candidates.into_iter().enumerate() {
        let seq = match to_i64(len, "sequence number") {
            Ok(s) => s,
            Err(e) => {
                results.push(Err(e));
                continue;
            }
        };
        if savepoints {
            let sql = if open_savepoint {
                "RELEASE SAVEPOINT ect_candidate; SAVEPOINT ect_candidate"
            } else {
                "SAVEPOINT ect_candidate"
            };
            tx.borrow_mut()
                .batch_execute(sql)
                .map_err(|e| fatal("cannot make a savepoint", e))?;
            open_savepoint = true;
        }
        let admitted = admission.check(i, &view, &ect).and_then(|()| {
            let entry = LedgerEntry::new(len, at, hash, Arc::new(ect));
            insert(&mut tx.borrow_mut(), st, &entry, seq, at_sql).map(|()| entry)
        });
        match admitted {
            Ok(entry) => {
                len += 1;
                hash = entry.hash();
                appended += 1;
                results.push(Ok(Arc::new(entry)));
            }
            Err(error) => {
                if savepoints {
                    tx.borrow_mut()
                        .batch_execute("ROLLBACK TO SAVEPOINT ect_candidate")
                        .map_err(|e| fatal("cannot roll back a refused candidate", e))?;
                }
                results.push(Err(error));
            }
        }
    }
    if appended == 0 {
        return Ok(None);
    }
    let len = to_i64(len, "ledger length").map_err(|e| (e, false))?;
    Ok(Some((len, hash)))
}

/// Inserts `entry` (sequence number `seq`, acceptance time `at`) and its parent rows, in one
/// statement.
fn insert(tx: &mut Client, st: &Statements, entry: &LedgerEntry, seq: i64, at: i64) -> Result<()> {
    let ect = entry.ect();
    let wid = wid_key(ect.wid());
    let jti = ect.jti().to_ascii_lowercase();
    let mut parents: Vec<String> = ect
        .claims()
        .par
        .iter()
        .map(|p| p.to_ascii_lowercase())
        .collect();
    parents.sort_unstable();
    parents.dedup();
    let (prev, hash) = (entry.prev().0, entry.hash().0);
    let params: [&(dyn postgres::types::ToSql + Sync); 8] = [
        &seq,
        &at,
        &prev.as_slice(),
        &hash.as_slice(),
        &ect.token(),
        &wid,
        &jti,
        &parents,
    ];
    let done = if parents.is_empty() {
        tx.execute(&st.insert_entry, &params[..7])
    } else {
        tx.execute(&st.insert_with_parents, &params)
    };
    done.map(|_| ()).map_err(|e| {
        if e.code() == Some(&SqlState::UNIQUE_VIOLATION)
            && e.as_db_error()
                .and_then(|d| d.constraint())
                .is_some_and(|c| c.contains("wid"))
        {
            Error::LedgerDuplicate(ect.jti().to_owned())
        } else {
            io("cannot insert the entry", &e)
        }
    })
}
