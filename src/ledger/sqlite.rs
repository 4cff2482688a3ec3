//! [`SqliteLedger`]: the hash chain in an SQLite database (feature `sqlite`): entries and the
//! `(wid, jti)` and `(wid, parent)` indexes on disk, appends in `BEGIN IMMEDIATE` transactions
//! with one commit per [`Ledger::append`] call (group commit). The schema is on
//! [`SqliteLedger`].

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension as _, TransactionBehavior, params};

use crate::error::{Error, Result};
use crate::ledger::file::{ensure_parent_dir, sync_parent_dir};
use crate::ledger::{
    Admission, ChainHash, CreateMode, Ledger, LedgerEntry, RawEntry, check_recorded_profile,
};
use crate::profile::{DRAFT_00, Profile};
use crate::store::{EctStore, StoredEct};

/// `PRAGMA user_version` of the schema below ([`SqliteLedger`], "Schema"). Version 1 (before
/// profile `draft-01`) lacked [`UPGRADE_TO_2`], which opening such a database adds.
pub(crate) const SCHEMA_VERSION: i64 = 2;

/// `PRAGMA application_id` of a ledger database: `ECT1` in ASCII.
pub(crate) const APPLICATION_ID: i64 = 0x4543_5431;

/// How long a connection waits for another connection's write lock before failing.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The schema, created in one transaction in an empty database ([`SqliteLedger`], "Schema").
const SCHEMA: &str = "
CREATE TABLE ect_entries (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    prev BLOB NOT NULL,
    hash BLOB NOT NULL,
    token TEXT NOT NULL,
    wid TEXT NOT NULL,
    jti TEXT NOT NULL,
    UNIQUE (wid, jti)
);
CREATE TABLE ect_parents (
    wid TEXT NOT NULL,
    parent TEXT NOT NULL,
    child INTEGER NOT NULL REFERENCES ect_entries (seq),
    PRIMARY KEY (wid, parent, child)
) WITHOUT ROWID;
CREATE TRIGGER ect_entries_no_update BEFORE UPDATE ON ect_entries
BEGIN SELECT RAISE(ABORT, 'ect_entries is append-only: UPDATE refused'); END;
CREATE TRIGGER ect_entries_no_delete BEFORE DELETE ON ect_entries
BEGIN SELECT RAISE(ABORT, 'ect_entries is append-only: DELETE refused'); END;
CREATE TRIGGER ect_parents_no_update BEFORE UPDATE ON ect_parents
BEGIN SELECT RAISE(ABORT, 'ect_parents is append-only: UPDATE refused'); END;
CREATE TRIGGER ect_parents_no_delete BEFORE DELETE ON ect_parents
BEGIN SELECT RAISE(ABORT, 'ect_parents is append-only: DELETE refused'); END;
";

/// Schema version 2 on top of version 1: the indexes of [`EctStore::get_elsewhere`] and
/// [`EctStore::referrer_elsewhere`] (profile `draft-01`, ECT-P01-5), and the ledger's profile
/// (its one row is inserted after this: the creator's profile, or `draft-00` for an upgraded
/// version-1 ledger, which predates every other profile). Run when the schema is created, and,
/// under the write lock, when a version-1 ledger is opened (the first `INSERT` fills the new
/// table from the existing `ect_parents` rows; it is empty for a new ledger).
const UPGRADE_TO_2: &str = "
CREATE INDEX ect_entries_by_jti ON ect_entries (jti, seq);
CREATE TABLE ect_parent_scopes (
    parent TEXT NOT NULL,
    wid TEXT NOT NULL,
    first_child INTEGER NOT NULL REFERENCES ect_entries (seq),
    PRIMARY KEY (parent, wid)
) WITHOUT ROWID;
CREATE INDEX ect_parent_scopes_by_first ON ect_parent_scopes (parent, first_child);
INSERT INTO ect_parent_scopes (parent, wid, first_child)
    SELECT parent, wid, min(child) FROM ect_parents GROUP BY parent, wid;
CREATE TABLE ect_profile (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    profile TEXT NOT NULL
);
CREATE TRIGGER ect_profile_no_update BEFORE UPDATE ON ect_profile
BEGIN SELECT RAISE(ABORT, 'ect_profile is append-only: UPDATE refused'); END;
CREATE TRIGGER ect_profile_no_delete BEFORE DELETE ON ect_profile
BEGIN SELECT RAISE(ABORT, 'ect_profile is append-only: DELETE refused'); END;
CREATE TRIGGER ect_parent_scopes_no_update BEFORE UPDATE ON ect_parent_scopes
BEGIN SELECT RAISE(ABORT, 'ect_parent_scopes is append-only: UPDATE refused'); END;
CREATE TRIGGER ect_parent_scopes_no_delete BEFORE DELETE ON ect_parent_scopes
BEGIN SELECT RAISE(ABORT, 'ect_parent_scopes is append-only: DELETE refused'); END;
";

const SELECT_ENTRY: &str = "SELECT seq, at, prev, hash, token FROM ect_entries";

/// The durable, embedded ledger (feature `sqlite`): the hash chain in an SQLite database, for
/// ledgers larger than memory and for several processes sharing one ledger file.
///
/// * [`SqliteLedger::open`] never loads the ledger: every lookup is one indexed `SELECT`
///   ([`EctStore::get`] by the lower-cased `(wid, jti)`, [`EctStore::referrers`] through
///   `ect_parents`), so memory does not grow with the ledger.
/// * [`Ledger::append`] runs in one `BEGIN IMMEDIATE` transaction: it takes the database's
///   write lock, reads the head, then for each candidate, inside a savepoint, runs
///   [`Admission::check`] against the transaction's own view (which holds the candidates
///   appended before it) and inserts the entry and its `ect_parents` rows; a refused
///   candidate is rolled back to its savepoint and leaves nothing. The call ends with one
///   `COMMIT` (group commit): every result is returned after it, and if it fails every
///   candidate that would have been appended gets `ledger.io` and the ledger is as it was.
/// * Several processes (or several `SqliteLedger` values) may open the same file: the write
///   lock serializes their appends, so of concurrent appends of one `(wid, jti)` exactly one
///   succeeds and sequence numbers have no gaps. A connection waits up to 10 seconds
///   (`busy_timeout`) for another's lock before failing with `ledger.io`.
/// * Within one process the connection is behind a mutex: reads and appends through one
///   `SqliteLedger` are serialized.
/// * Every SQLite failure is `ledger.io` (fail closed: never `Ok(None)` or a short list);
///   a row whose hash is not the hash of its fields, whose token does not parse or whose
///   hashes are not 32 bytes is `ledger.chain`. An `at` or a sequence number beyond
///   `i64::MAX` (SQLite's `INTEGER`) is `ledger.io`.
///
/// # Schema
///
/// ```sql
/// CREATE TABLE ect_entries (
///     seq INTEGER PRIMARY KEY,   -- 0, 1, 2, … without gaps (ECT-LED-1)
///     at INTEGER NOT NULL,       -- acceptance time
///     prev BLOB NOT NULL,        -- 32 bytes: the previous entry's hash (zeros for entry 0)
///     hash BLOB NOT NULL,        -- 32 bytes: this entry's hash (ChainHash, "Entry hash")
///     token TEXT NOT NULL,       -- the compact token as accepted
///     wid TEXT NOT NULL,         -- the token's wid, ASCII-lower-cased; '' for none
///     jti TEXT NOT NULL,         -- the token's jti, ASCII-lower-cased
///     UNIQUE (wid, jti)
/// );
/// CREATE TABLE ect_parents (     -- one row per element of a token's par
///     wid TEXT NOT NULL,         -- the child's wid, ASCII-lower-cased; '' for none
///     parent TEXT NOT NULL,      -- the par element, ASCII-lower-cased
///     child INTEGER NOT NULL REFERENCES ect_entries (seq),
///     PRIMARY KEY (wid, parent, child)
/// ) WITHOUT ROWID;
/// CREATE INDEX ect_entries_by_jti ON ect_entries (jti, seq);
/// CREATE TABLE ect_parent_scopes ( -- per (par element, child's wid): the first child
///     parent TEXT NOT NULL,
///     wid TEXT NOT NULL,
///     first_child INTEGER NOT NULL REFERENCES ect_entries (seq),
///     PRIMARY KEY (parent, wid)
/// ) WITHOUT ROWID;
/// CREATE INDEX ect_parent_scopes_by_first ON ect_parent_scopes (parent, first_child);
/// CREATE TABLE ect_profile (      -- one row: the profile the tokens are read under
///     id INTEGER PRIMARY KEY CHECK (id = 1),
///     profile TEXT NOT NULL       -- 'draft-00' or 'draft-01'
/// );
/// ```
///
/// Opening a ledger under another profile than the one it records is `ledger.profile`, so
/// processes of different profiles never mix their tokens in one database.
///
/// The indexes of schema version 2 answer profile `draft-01`'s workflow-consistency lookups
/// (ECT-P01-5) in O(1): [`EctStore::get_elsewhere`] reads `ect_entries_by_jti` in `seq` order and
/// skips at most one row (the asking scope holds a `jti` at most once);
/// [`EctStore::referrer_elsewhere`] reads `ect_parent_scopes_by_first` in order and skips at most
/// one row (one per scope). A version-1 database (written before these existed) is upgraded
/// when opened, under the write lock, in one transaction.
///
/// plus `BEFORE UPDATE` and `BEFORE DELETE` triggers on the four tables that abort the statement
/// (`ect_entries is append-only: UPDATE refused`, and so on). A `wid` is always a UUID, never
/// empty, so `''` is unambiguous. A `par` element named twice (in any letter case) is one row.
/// The database carries `PRAGMA application_id = 0x45435431` (`ECT1`) and
/// `PRAGMA user_version = 2`; opening a database with other values (a file that is not an
/// SQLite database, or one of another application) is `ledger.io` and leaves it unchanged.
/// An empty file or database is given the schema.
///
/// Each connection uses `journal_mode = WAL` (so readers do not block the writer),
/// `synchronous = FULL` (a commit is on stable storage before it returns: an acknowledged
/// entry survives a crash or power loss), `foreign_keys = ON` and `busy_timeout` = 10 s. A
/// ledger is therefore the database file and, while open, its `-wal` and `-shm` files.
///
/// The triggers stop accidental changes, not an attacker with write access to the file:
/// the hash chain is the tamper evidence ([`Ledger::verify_chain`], `ledger.chain`).
///
/// ```
/// use wimse_ect::{Ledger, SqliteLedger};
///
/// let dir = tempfile::tempdir()?;
/// let ledger = SqliteLedger::open(dir.path().join("audit.sqlite"))?;
/// assert_eq!(ledger.len()?, 0);
/// ledger.verify_chain()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SqliteLedger {
    path: PathBuf,
    profile: Profile,
    /// `None` while the file does not exist yet ([`CreateMode::OnFirstAppend`]).
    conn: Mutex<Option<Open>>,
}

/// A connection and the identity of the file it opened (see [`FileId`]).
struct Open {
    conn: Connection,
    id: FileId,
}

/// Which file a path named when it was opened: device and inode on Unix (elsewhere nothing is
/// compared). A first append that appends nothing removes the file it created
/// ([`CreateMode::OnFirstAppend`]); another process may have opened that file meanwhile, so
/// every append checks, inside its write transaction and before any check of a candidate,
/// that the path still names the file its connection has open, and otherwise opens the path
/// again (creating it if allowed) and starts over. Reads do the same check. So no process ever
/// appends to, or reads, a file that is no longer the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileId(u64, u64);

/// The identity of the file at `path`, `None` when there is none.
fn file_id(path: &Path) -> Result<Option<FileId>> {
    match std::fs::metadata(path) {
        Ok(meta) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::MetadataExt as _;
                Ok(Some(FileId(meta.dev(), meta.ino())))
            }
            #[cfg(not(unix))]
            {
                let _ = meta;
                Ok(Some(FileId(0, 0)))
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::LedgerIo(format!(
            "cannot inspect {}: {e}",
            path.display()
        ))),
    }
}

/// How many times an append opens the path again when the file it had open was replaced
/// (removed by another process's first append that appended nothing), or opening it failed,
/// before giving up; attempt `k` waits `k` × [`REOPEN_BACKOFF`] first. Opening can fail for a
/// moment while another process removes a file it created (its `-wal` and `-shm` go with it:
/// "disk I/O error", "database is locked"), so a failed open is tried again.
const REOPEN_ATTEMPTS: u32 = 10;
/// See [`REOPEN_ATTEMPTS`]: at most 45 × 2 ms = 90 ms of waiting in all.
const REOPEN_BACKOFF: Duration = Duration::from_millis(2);

impl std::fmt::Debug for SqliteLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteLedger")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteLedger {
    /// Opens the ledger database at `path`, creating it (with the schema) if absent: the same
    /// as [`SqliteLedger::open_with`] with [`CreateMode::OnOpen`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, CreateMode::OnOpen)
    }

    /// Opens the ledger database at `path`, checks that it is one ([`SqliteLedger`],
    /// "Schema"; `ledger.io` otherwise) and sets the connection's pragmas; nothing is read
    /// into memory. A missing file is created as `create` says:
    ///
    /// * [`CreateMode::OnOpen`]: now, with the schema.
    /// * [`CreateMode::OnFirstAppend`]: by the first [`Ledger::append`] (the transaction that
    ///   checks the candidates needs the database); if no candidate of that call is appended,
    ///   the files it created (the database, its `-wal` and `-shm`) are removed again, so a
    ///   ledger that only ever refuses tokens leaves nothing on disk. Opening checks that the
    ///   parent directory exists. Until then the ledger reads as empty, unless another
    ///   process has created the file meanwhile (then it is opened and read). Several
    ///   processes may start together on a missing file: the removal happens under the write
    ///   lock and only while the ledger is empty, and every append checks, under its write
    ///   lock and before checking any candidate, that the path still names the file it has
    ///   open (else it opens the path again), so all of them end up appending to one file.
    ///
    /// ```
    /// use wimse_ect::{CreateMode, Ledger, SqliteLedger};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("audit.sqlite");
    /// let ledger = SqliteLedger::open_with(&path, CreateMode::OnFirstAppend)?;
    /// assert_eq!(ledger.len()?, 0);
    /// assert!(!path.exists()); // created by the first accepted token, not before
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_with(path: impl AsRef<Path>, create: CreateMode) -> Result<Self> {
        Self::open_profile(path, create, DRAFT_00)
    }

    /// [`SqliteLedger::open_with`] for a ledger whose tokens are read under `profile` (a
    /// verifier appends through it only with the same profile, `ledger.profile` otherwise).
    /// The database does not record the profile: a ledger written under another profile
    /// fails to read its tokens (`ledger.chain`).
    pub fn open_profile(
        path: impl AsRef<Path>,
        create: CreateMode,
        profile: Profile,
    ) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let conn = match create {
            CreateMode::OnOpen => Some(connect(&path, true, profile)?.0),
            CreateMode::OnFirstAppend => {
                if file_id(&path)?.is_some() {
                    Some(connect(&path, false, profile)?.0)
                } else {
                    ensure_parent_dir(&path)?;
                    None
                }
            }
        };
        Ok(SqliteLedger {
            path,
            profile,
            conn: Mutex::new(conn),
        })
    }

    /// The database file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, Option<Open>> {
        // A panic while the lock is held unwinds through the transaction, whose drop rolls
        // it back, so a poisoned lock still guards a usable connection.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs a read on the connection, or answers `empty` while the file does not exist
    /// ([`CreateMode::OnFirstAppend`]); a file created meanwhile by another process is
    /// opened.
    fn read_with<R>(&self, empty: R, f: impl FnOnce(&Connection, &Path) -> Result<R>) -> Result<R> {
        let mut guard = self.lock();
        let Some(now) = file_id(&self.path)? else {
            // No file (yet, or any more): an empty ledger.
            *guard = None;
            return Ok(empty);
        };
        let open = match guard.take() {
            Some(open) if open.id == now => open,
            // Not opened yet, or the file was removed or replaced since this connection
            // opened it.
            _ => connect(&self.path, false, self.profile)?.0,
        };
        f(&guard.insert(open).conn, &self.path)
    }
}

/// A `ledger.io` error for a failed SQLite call.
fn io(path: &Path, what: &str, e: rusqlite::Error) -> Error {
    Error::LedgerIo(format!("{what} {}: {e}", path.display()))
}

/// Opens the database at `path` (creating the file first, exclusively, when `create` and it
/// is missing), sets the pragmas and checks or creates the schema. Returns the connection and
/// whether this call created the file. A file this call created is removed again on failure,
/// while it is still empty.
fn connect(path: &Path, create: bool, profile: Profile) -> Result<(Open, bool)> {
    let created = create && create_file(path)?;
    let before = file_id(path)?;
    let opened = configure(path, created, profile).and_then(|conn| {
        // The identity the connection is checked against: the file's before and after opening
        // (a file replaced in between is reported, not guessed at).
        match (before, file_id(path)?) {
            (Some(a), Some(b)) if a == b => Ok(Open { conn, id: a }),
            _ => Err(Error::LedgerIo(format!(
                "{} was replaced while it was being opened",
                path.display()
            ))),
        }
    });
    match opened {
        Ok(open) => Ok((open, created)),
        Err(e) => {
            // A file this call created goes again, but only while nobody has written to it:
            // another process may have opened it and created the schema meanwhile.
            if created && std::fs::metadata(path).is_ok_and(|m| m.len() == 0) {
                remove_files(path);
            }
            Err(e)
        }
    }
}

/// Creates an empty file at `path` unless one exists (`create_new`: never over a file that
/// appeared meanwhile) and makes its directory entry durable. Whether it created it.
fn create_file(path: &Path) -> Result<bool> {
    match OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(_) => {
            if let Err(e) = sync_parent_dir(path) {
                remove_files(path);
                return Err(e);
            }
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(Error::LedgerIo(format!(
            "cannot create {}: {e}",
            path.display()
        ))),
    }
}

/// The connection to the existing file at `path`, with its pragmas and the schema checked
/// (or created in an empty database).
fn configure(path: &Path, created: bool, profile: Profile) -> Result<Connection> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::LedgerIo(format!("cannot inspect {}: {e}", path.display())))?;
    if !meta.is_file() {
        return Err(Error::LedgerIo(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| io(path, "cannot open", e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| io(path, "cannot configure", e))?;
    for (name, value) in [("synchronous", "FULL"), ("foreign_keys", "ON")] {
        conn.pragma_update(None, name, value)
            .map_err(|e| io(path, "cannot configure", e))?;
    }
    match identify(&conn, path)? {
        Kind::Ledger => set_wal(&conn, path)?,
        Kind::Empty | Kind::Outdated => {
            // The journal mode first, so that the schema is written through the WAL and no
            // rollback journal is ever created.
            set_wal(&conn, path)?;
            init_schema(&conn, path, profile)?;
        }
        Kind::Other(why) => {
            let what = if created { "created" } else { "existing" };
            return Err(Error::LedgerIo(format!(
                "{} ({what} file) is not a wimse-ect SQLite ledger: {why}",
                path.display()
            )));
        }
    }
    check_profile(&conn, path, profile)?;
    Ok(conn)
}

/// `ledger.profile` unless the database records `profile` (`ect_profile`).
fn check_profile(conn: &Connection, path: &Path, profile: Profile) -> Result<()> {
    let held: String = conn
        .query_row("SELECT profile FROM ect_profile WHERE id = 1", [], |r| {
            r.get(0)
        })
        .map_err(|e| io(path, "cannot read the profile of", e))?;
    check_recorded_profile(&held, profile, &path.display().to_string())
}

/// What a database holds.
enum Kind {
    Ledger,
    /// A ledger of schema version 1, to be upgraded ([`UPGRADE_TO_2`]).
    Outdated,
    Empty,
    Other(String),
}

/// Reads the database's identity (application id, schema version, tables) without changing
/// it, in one read transaction: one consistent snapshot, even while another process is
/// creating the schema.
fn identify(conn: &Connection, path: &Path) -> Result<Kind> {
    let read = |e| io(path, "cannot read as an SQLite database", e);
    if conn.is_autocommit() {
        conn.execute_batch("BEGIN DEFERRED").map_err(read)?;
        let kind = identify_in(conn, path);
        let end = conn.execute_batch("COMMIT").map_err(read);
        return kind.and_then(|k| end.map(|()| k));
    }
    identify_in(conn, path)
}

/// [`identify`] inside the caller's transaction.
fn identify_in(conn: &Connection, path: &Path) -> Result<Kind> {
    let read = |e| io(path, "cannot read as an SQLite database", e);
    let app: i64 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(read)?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(read)?;
    let objects: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .map_err(read)?;
    if app == 0 && version == 0 && objects == 0 {
        return Ok(Kind::Empty);
    }
    if app != APPLICATION_ID {
        return Ok(Kind::Other(format!(
            "application_id is {app:#x}, expected {APPLICATION_ID:#x}"
        )));
    }
    if version != SCHEMA_VERSION && version != 1 {
        return Ok(Kind::Other(format!(
            "schema version (user_version) {version}, this library reads version {SCHEMA_VERSION} \
             (and upgrades version 1)"
        )));
    }
    // The tables of version 1, then those version 2 added.
    let tables = |a: &str, b: &str| -> Result<Option<Kind>> {
        let found: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN (?1, ?2)",
                [a, b],
                |r| r.get(0),
            )
            .map_err(read)?;
        Ok((found != 2).then(|| Kind::Other(format!("the tables {a} and {b} are missing"))))
    };
    if let Some(missing) = tables("ect_entries", "ect_parents")? {
        return Ok(missing);
    }
    if version == 1 {
        return Ok(Kind::Outdated);
    }
    if let Some(missing) = tables("ect_parent_scopes", "ect_profile")? {
        return Ok(missing);
    }
    Ok(Kind::Ledger)
}

/// Creates the schema in an empty database, or upgrades a version-1 ledger, under the write
/// lock; if another connection did it meanwhile, checks it instead.
fn init_schema(conn: &Connection, path: &Path, profile: Profile) -> Result<()> {
    let fail = |e| io(path, "cannot create the ledger schema in", e);
    conn.execute_batch("BEGIN IMMEDIATE").map_err(fail)?;
    let result = (|| {
        match identify(conn, path)? {
            Kind::Empty => {}
            Kind::Outdated => {
                conn.execute_batch(UPGRADE_TO_2).map_err(fail)?;
                record_profile(conn, DRAFT_00).map_err(fail)?;
                conn.pragma_update(None, "user_version", SCHEMA_VERSION)
                    .map_err(fail)?;
                return Ok(());
            }
            Kind::Ledger => return Ok(()),
            Kind::Other(why) => {
                return Err(Error::LedgerIo(format!(
                    "{} is not a wimse-ect SQLite ledger: {why}",
                    path.display()
                )));
            }
        }
        conn.execute_batch(SCHEMA).map_err(fail)?;
        conn.execute_batch(UPGRADE_TO_2).map_err(fail)?;
        record_profile(conn, profile).map_err(fail)?;
        conn.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(fail)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(fail)?;
        Ok(())
    })();
    match result {
        Ok(()) => conn.execute_batch("COMMIT").map_err(fail),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Inserts the one row of `ect_profile`.
fn record_profile(conn: &Connection, profile: Profile) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO ect_profile (id, profile) VALUES (1, ?1)",
        [profile.name],
    )
    .map(drop)
}

/// `PRAGMA journal_mode = WAL`, checked. WAL mode is kept in the file once set, so a ledger
/// (made in WAL mode) is only read here: changing the mode needs an exclusive lock, which
/// SQLite refuses at once ("database is locked", no busy wait) while another connection is
/// using the file.
fn set_wal(conn: &Connection, path: &Path) -> Result<()> {
    let current: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .map_err(|e| io(path, "cannot read journal_mode of", e))?;
    if current.eq_ignore_ascii_case("wal") {
        return Ok(());
    }
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(|e| io(path, "cannot set journal_mode = WAL on", e))?;
    if mode.eq_ignore_ascii_case("wal") {
        Ok(())
    } else {
        Err(Error::LedgerIo(format!(
            "{}: journal_mode is {mode}, not wal",
            path.display()
        )))
    }
}

/// Removes the database at `path` and its `-wal`, `-shm` and `-journal` files (best effort).
fn remove_files(path: &Path) {
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(side));
    }
    let _ = std::fs::remove_file(path);
}

/// A `u64` as SQLite's `INTEGER`, or `ledger.io` naming `what`.
fn to_sql_int(value: u64, what: &str) -> Result<i64> {
    i64::try_from(value).map_err(|_| {
        Error::LedgerIo(format!(
            "{what} {value} does not fit SQLite's INTEGER (at most {})",
            i64::MAX
        ))
    })
}

/// The stored form of a `wid` (`''` for none) or `jti`: ASCII-lower-cased.
fn key(part: Option<&str>) -> String {
    part.unwrap_or("").to_ascii_lowercase()
}

/// An entry row as read, before its checks.
struct Row {
    seq: i64,
    at: i64,
    prev: Vec<u8>,
    hash: Vec<u8>,
    token: String,
}

impl Row {
    fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
        Ok(Row {
            seq: row.get(0)?,
            at: row.get(1)?,
            prev: row.get(2)?,
            hash: row.get(3)?,
            token: row.get(4)?,
        })
    }

    /// The row as a [`RawEntry`]; a value no append writes is `ledger.chain`.
    fn into_raw(self) -> Result<RawEntry> {
        let seq = u64::try_from(self.seq)
            .map_err(|_| Error::LedgerChain(format!("entry with negative seq {}", self.seq)))?;
        let at = u64::try_from(self.at)
            .map_err(|_| Error::LedgerChain(format!("entry {seq}: negative at {}", self.at)))?;
        Ok(RawEntry {
            seq,
            at,
            prev: hash_of(self.prev, seq, "prev")?,
            hash: hash_of(self.hash, seq, "hash")?,
            token: self.token,
        })
    }
}

/// A stored 32-byte hash.
fn hash_of(bytes: Vec<u8>, seq: u64, column: &str) -> Result<ChainHash> {
    let len = bytes.len();
    bytes
        .try_into()
        .map(ChainHash)
        .map_err(|_| Error::LedgerChain(format!("entry {seq}: {column} is {len} bytes, not 32")))
}

/// [`EctStore::get`] on `conn`.
fn get_in(
    conn: &Connection,
    path: &Path,
    profile: &Profile,
    wid: Option<&str>,
    jti: &str,
) -> Result<Option<Arc<StoredEct>>> {
    if wid == Some("") {
        // No stored token has an empty wid ('' is the column value for none).
        return Ok(None);
    }
    one_token(
        conn,
        path,
        profile,
        &format!("{SELECT_ENTRY} WHERE wid = ?1 AND jti = ?2"),
        [key(wid), key(Some(jti))],
    )
}

/// The token of the one row `sql` (selecting [`SELECT_ENTRY`]'s columns) finds with `params`,
/// read under `profile`; `None` when there is none.
fn one_token(
    conn: &Connection,
    path: &Path,
    profile: &Profile,
    sql: &str,
    params: [String; 2],
) -> Result<Option<Arc<StoredEct>>> {
    let fail = |e| io(path, "cannot look a token up in", e);
    let row = conn
        .prepare_cached(sql)
        .map_err(fail)?
        .query_row(params, Row::read)
        .optional()
        .map_err(fail)?;
    match row {
        Some(row) => Ok(Some(Arc::clone(
            LedgerEntry::from_raw_in(&row.into_raw()?, profile)?.ect(),
        ))),
        None => Ok(None),
    }
}

/// [`EctStore::referrers`] on `conn`.
fn referrers_in(
    conn: &Connection,
    path: &Path,
    profile: &Profile,
    wid: Option<&str>,
    jti: &str,
    limit: usize,
) -> Result<Vec<Arc<StoredEct>>> {
    if wid == Some("") || limit == 0 {
        return Ok(Vec::new());
    }
    let fail = |e| io(path, "cannot look referrers up in", e);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut statement = conn
        .prepare_cached(
            "SELECT e.seq, e.at, e.prev, e.hash, e.token FROM ect_parents p \
             JOIN ect_entries e ON e.seq = p.child \
             WHERE p.wid = ?1 AND p.parent = ?2 ORDER BY p.child LIMIT ?3",
        )
        .map_err(fail)?;
    let rows = statement
        .query_map(params![key(wid), key(Some(jti)), limit], Row::read)
        .map_err(fail)?;
    let mut found = Vec::new();
    for row in rows {
        let raw = row.map_err(fail)?.into_raw()?;
        found.push(Arc::clone(LedgerEntry::from_raw_in(&raw, profile)?.ect()));
    }
    Ok(found)
}

/// [`EctStore::get_elsewhere`] on `conn`: the oldest entry with this `jti` outside scope
/// `wid` (index `ect_entries_by_jti` read in `seq` order: at most one row, the scope's own,
/// is skipped).
fn get_elsewhere_in(
    conn: &Connection,
    path: &Path,
    profile: &Profile,
    wid: Option<&str>,
    jti: &str,
) -> Result<Option<Arc<StoredEct>>> {
    one_token(
        conn,
        path,
        profile,
        &format!("{SELECT_ENTRY} WHERE jti = ?1 AND wid <> ?2 ORDER BY seq LIMIT 1"),
        [key(Some(jti)), key(wid)],
    )
}

/// [`EctStore::referrer_elsewhere`] on `conn`: the first child of the oldest other scope that
/// names `jti` (index `ect_parent_scopes_by_first` in order: at most one row, the scope's own,
/// is skipped).
fn referrer_elsewhere_in(
    conn: &Connection,
    path: &Path,
    profile: &Profile,
    wid: Option<&str>,
    jti: &str,
) -> Result<Option<Arc<StoredEct>>> {
    one_token(
        conn,
        path,
        profile,
        "SELECT e.seq, e.at, e.prev, e.hash, e.token FROM ect_parent_scopes p \
         JOIN ect_entries e ON e.seq = p.first_child \
         WHERE p.parent = ?1 AND p.wid <> ?2 ORDER BY p.first_child LIMIT 1",
        [key(Some(jti)), key(wid)],
    )
}

/// [`Ledger::len`] on `conn`: the entries are numbered from 0 without gaps, so one more than
/// the largest `seq` (an index lookup, not a count).
fn len_in(conn: &Connection, path: &Path) -> Result<u64> {
    let max: Option<i64> = conn
        .prepare_cached("SELECT max(seq) FROM ect_entries")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(|e| io(path, "cannot count the entries of", e))?;
    match max {
        None => Ok(0),
        Some(seq) => u64::try_from(seq)
            .ok()
            .and_then(|s| s.checked_add(1))
            .ok_or_else(|| Error::LedgerChain(format!("entry with seq {seq}"))),
    }
}

/// The last entry's `(seq, hash)`, if any.
fn last_in(conn: &Connection, path: &Path) -> Result<Option<(u64, ChainHash)>> {
    let row: Option<(i64, Vec<u8>)> = conn
        .prepare_cached("SELECT seq, hash FROM ect_entries ORDER BY seq DESC LIMIT 1")
        .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?))).optional())
        .map_err(|e| io(path, "cannot read the head of", e))?;
    match row {
        None => Ok(None),
        Some((seq, hash)) => {
            let seq = u64::try_from(seq)
                .map_err(|_| Error::LedgerChain(format!("entry with negative seq {seq}")))?;
            Ok(Some((seq, hash_of(hash, seq, "hash")?)))
        }
    }
}

/// [`Ledger::read`] on `conn`.
fn read_in(conn: &Connection, path: &Path, from: u64, limit: usize) -> Result<Vec<RawEntry>> {
    let Ok(from) = i64::try_from(from) else {
        return Ok(Vec::new());
    };
    if limit == 0 {
        return Ok(Vec::new());
    }
    let fail = |e| io(path, "cannot read the entries of", e);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut statement = conn
        .prepare_cached(&format!(
            "{SELECT_ENTRY} WHERE seq >= ?1 ORDER BY seq LIMIT ?2"
        ))
        .map_err(fail)?;
    let rows = statement
        .query_map(params![from, limit], Row::read)
        .map_err(fail)?;
    let mut entries = Vec::new();
    for row in rows {
        entries.push(row.map_err(fail)?.into_raw()?);
    }
    Ok(entries)
}

/// The ledger as the transaction of an append sees it: what [`Admission::check`] reads.
///
/// The candidates this call has appended so far are also kept in `appended`, by their stored
/// `(wid, jti)`, so that a parent accepted earlier in the same batch is found without reading
/// its row back and parsing its token again. Their rows are in the transaction too (which
/// [`EctStore::referrers`] reads), and `UNIQUE (wid, jti)` means no other row has their key.
struct View<'c> {
    conn: &'c Connection,
    path: &'c Path,
    profile: &'c Profile,
    appended: &'c Appended,
}

/// The candidates a call has appended so far, by stored `(wid, jti)`.
type Appended = std::collections::HashMap<(String, String), Arc<StoredEct>>;

impl EctStore for View<'_> {
    fn get(&self, wid: Option<&str>, jti: &str) -> Result<Option<Arc<StoredEct>>> {
        if wid != Some("")
            && let Some(ect) = self.appended.get(&(key(wid), key(Some(jti))))
        {
            return Ok(Some(Arc::clone(ect)));
        }
        get_in(self.conn, self.path, self.profile, wid, jti)
    }

    fn referrers(&self, wid: Option<&str>, jti: &str, limit: usize) -> Result<Vec<Arc<StoredEct>>> {
        referrers_in(self.conn, self.path, self.profile, wid, jti, limit)
    }

    // The candidates appended earlier in this call have their rows in the transaction, which
    // these queries read.
    fn get_elsewhere(&self, wid: Option<&str>, jti: &str) -> Result<Option<Arc<StoredEct>>> {
        get_elsewhere_in(self.conn, self.path, self.profile, wid, jti)
    }

    fn referrer_elsewhere(&self, wid: Option<&str>, jti: &str) -> Result<Option<Arc<StoredEct>>> {
        referrer_elsewhere_in(self.conn, self.path, self.profile, wid, jti)
    }
}

/// Why a candidate was not appended.
enum Refusal {
    /// Its check or its insert failed; it was rolled back to its savepoint and the
    /// transaction goes on.
    Candidate(Error),
    /// The savepoint itself failed: the transaction's state is unknown and is abandoned.
    Transaction(Error),
}

/// Inserts `entry`'s row and its `ect_parents` rows; a `(wid, jti)` already stored (the
/// `UNIQUE` constraint) is `ledger.duplicate`, anything else `ledger.io`.
fn insert(conn: &Connection, path: &Path, entry: &LedgerEntry, at: i64) -> Result<()> {
    let ect = entry.ect();
    let fail = |e: rusqlite::Error| match e.sqlite_error() {
        Some(s) if s.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE => {
            Error::LedgerDuplicate(ect.jti().to_owned())
        }
        _ => io(path, "cannot append to", e),
    };
    let seq = to_sql_int(entry.seq(), "sequence number")?;
    let wid = key(ect.wid());
    conn.prepare_cached(
        "INSERT INTO ect_entries (seq, at, prev, hash, token, wid, jti) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            seq,
            at,
            &entry.prev().0[..],
            &entry.hash().0[..],
            ect.token(),
            &wid,
            key(Some(ect.jti())),
        ])
    })
    .map_err(fail)?;
    if !ect.claims().par.is_empty() {
        let mut statement = conn
            .prepare_cached(
                "INSERT OR IGNORE INTO ect_parents (wid, parent, child) VALUES (?1, ?2, ?3)",
            )
            .map_err(fail)?;
        for parent in &ect.claims().par {
            statement
                .execute(params![&wid, key(Some(parent)), seq])
                .map_err(fail)?;
        }
        // The first child of each (parent, scope) pair: entries are appended in `seq` order,
        // so the first insert is the smallest.
        let mut first = conn
            .prepare_cached(
                "INSERT OR IGNORE INTO ect_parent_scopes (parent, wid, first_child) \
                 VALUES (?1, ?2, ?3)",
            )
            .map_err(fail)?;
        for parent in &ect.claims().par {
            first
                .execute(params![key(Some(parent)), &wid, seq])
                .map_err(fail)?;
        }
    }
    Ok(())
}

/// Runs one statement of the savepoint protocol.
fn savepoint_step(conn: &Connection, path: &Path, sql: &str) -> Result<()> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute([]))
        .map(drop)
        .map_err(|e| io(path, "savepoint failed in the append transaction of", e))
}

/// Candidate `index`, inside its own savepoint: checked against the transaction's view, then
/// inserted as entry `seq` after `prev`; on any failure rolled back to the savepoint.
#[allow(clippy::too_many_arguments)]
fn admit_one(
    conn: &Connection,
    path: &Path,
    profile: &Profile,
    index: usize,
    ect: StoredEct,
    at: (u64, i64),
    seq: u64,
    prev: ChainHash,
    appended: &Appended,
    admission: &mut Admission<'_>,
) -> std::result::Result<LedgerEntry, Refusal> {
    savepoint_step(conn, path, "SAVEPOINT ect_candidate").map_err(Refusal::Transaction)?;
    let attempt = (|| {
        let view = View {
            conn,
            path,
            profile,
            appended,
        };
        admission.check(index, &view, &ect)?;
        let entry = LedgerEntry::new(seq, at.0, prev, Arc::new(ect));
        insert(conn, path, &entry, at.1)?;
        Ok(entry)
    })();
    match attempt {
        Ok(entry) => {
            savepoint_step(conn, path, "RELEASE ect_candidate").map_err(Refusal::Transaction)?;
            Ok(entry)
        }
        Err(e) => {
            savepoint_step(conn, path, "ROLLBACK TO ect_candidate")
                .and_then(|()| savepoint_step(conn, path, "RELEASE ect_candidate"))
                .map_err(Refusal::Transaction)?;
            Err(Refusal::Candidate(e))
        }
    }
}

/// Every `Ok` of `results` replaced by `error` (their entries did not become durable).
fn fail_oks<T>(results: Vec<Result<T>>, error: &Error) -> Vec<Result<Arc<T>>> {
    results
        .into_iter()
        .map(|r| match r {
            Ok(_) => Err(error.clone()),
            Err(e) => Err(e),
        })
        .collect()
}

/// What [`append_in`] did.
enum Appending {
    /// The path no longer names the file the connection has open (checked under the write
    /// lock, before any candidate): nothing was done; open the path again and start over.
    Replaced(Vec<StoredEct>),
    /// The results, and whether the file was removed (a file this call created, in which no
    /// candidate was appended).
    Done(Vec<Result<Arc<LedgerEntry>>>, bool),
}

/// [`Ledger::append`] on `open`: one `BEGIN IMMEDIATE` transaction, the file's identity
/// checked, a savepoint per candidate, one `COMMIT`.
fn append_in(
    open: &mut Open,
    path: &Path,
    profile: &Profile,
    candidates: Vec<StoredEct>,
    at: u64,
    admission: &mut Admission<'_>,
    created: bool,
) -> Appending {
    let n = candidates.len();
    let done = |results| Appending::Done(results, false);
    let at_sql = match to_sql_int(at, "acceptance time") {
        Ok(at_sql) => at_sql,
        Err(e) => return done(vec![Err(e); n]),
    };
    let id = open.id;
    let tx = match open
        .conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
    {
        Ok(tx) => tx,
        Err(e) => {
            return done(vec![
                Err(io(
                    path,
                    "cannot begin an append transaction on",
                    e
                ));
                n
            ]);
        }
    };
    // Under the write lock: is the path still the file this connection has open (FileId)?
    match file_id(path) {
        Ok(Some(now)) if now == id => {}
        Ok(_) => return Appending::Replaced(candidates),
        Err(e) => return done(vec![Err(e); n]),
    }
    let (mut seq, mut head) = match last_in(&tx, path) {
        Ok(None) => (0, ChainHash::GENESIS),
        Ok(Some((last, hash))) => (last.saturating_add(1), hash),
        Err(e) => return done(vec![Err(e); n]),
    };
    let mut results: Vec<Result<LedgerEntry>> = Vec::with_capacity(n);
    let mut abandoned: Option<Error> = None;
    let mut appended = Appended::new();
    for (i, ect) in candidates.into_iter().enumerate() {
        if let Some(e) = &abandoned {
            results.push(Err(e.clone()));
            continue;
        }
        match admit_one(
            &tx,
            path,
            profile,
            i,
            ect,
            (at, at_sql),
            seq,
            head,
            &appended,
            admission,
        ) {
            Ok(entry) => {
                seq = seq.saturating_add(1);
                head = entry.hash();
                let ect = entry.ect();
                appended.insert((key(ect.wid()), key(Some(ect.jti()))), Arc::clone(ect));
                results.push(Ok(entry));
            }
            Err(Refusal::Candidate(e)) => results.push(Err(e)),
            Err(Refusal::Transaction(e)) => {
                abandoned = Some(e.clone());
                results.push(Err(e));
            }
        }
    }
    if let Some(e) = abandoned {
        // Dropping the transaction rolls it back.
        drop(tx);
        return done(fail_oks(results, &e));
    }
    if !results.iter().any(Result::is_ok) {
        // Nothing to commit: every candidate was refused and rolled back. A file this call
        // created is removed while the write lock is still held and the ledger is still
        // empty: a process that opened it meanwhile finds the path changed (FileId) when it
        // next takes the lock, before it checks anything.
        let removed = created && len_in(&tx, path).is_ok_and(|len| len == 0);
        if removed {
            remove_files(path);
        }
        drop(tx);
        return Appending::Done(
            results.into_iter().map(|r| r.map(Arc::new)).collect(),
            removed,
        );
    }
    done(match tx.commit() {
        Ok(()) => results.into_iter().map(|r| r.map(Arc::new)).collect(),
        // A failed COMMIT leaves the transaction open; dropping it rolled it back.
        Err(e) => fail_oks(results, &io(path, "cannot commit the append to", e)),
    })
}

impl EctStore for SqliteLedger {
    fn get(&self, wid: Option<&str>, jti: &str) -> Result<Option<Arc<StoredEct>>> {
        self.read_with(None, |conn, path| {
            get_in(conn, path, &self.profile, wid, jti)
        })
    }

    fn referrers(&self, wid: Option<&str>, jti: &str, limit: usize) -> Result<Vec<Arc<StoredEct>>> {
        self.read_with(Vec::new(), |conn, path| {
            referrers_in(conn, path, &self.profile, wid, jti, limit)
        })
    }

    fn get_elsewhere(&self, wid: Option<&str>, jti: &str) -> Result<Option<Arc<StoredEct>>> {
        self.read_with(None, |conn, path| {
            get_elsewhere_in(conn, path, &self.profile, wid, jti)
        })
    }

    fn referrer_elsewhere(&self, wid: Option<&str>, jti: &str) -> Result<Option<Arc<StoredEct>>> {
        self.read_with(None, |conn, path| {
            referrer_elsewhere_in(conn, path, &self.profile, wid, jti)
        })
    }
}

impl Ledger for SqliteLedger {
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
        // Refused before any file is created or any candidate checked.
        if let Err(e) = to_sql_int(at, "acceptance time") {
            return vec![Err(e); n];
        }
        let mut guard = self.lock();
        let mut candidates = candidates;
        let mut last_error = None;
        for attempt in 0..REOPEN_ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(REOPEN_BACKOFF * attempt);
            }
            let mut created = false;
            if guard.is_none() {
                // A missing file is created now (CreateMode::OnFirstAppend, or removed by
                // another process's first append), and removed again by `append_in` if this
                // call appends nothing.
                match connect(&self.path, true, self.profile) {
                    Ok((open, c)) => {
                        *guard = Some(open);
                        created = c;
                    }
                    Err(e) => {
                        // Nothing was checked yet: another try may find the file in place.
                        last_error = Some(e);
                        continue;
                    }
                }
            }
            let open = guard.as_mut().expect("connected");
            match append_in(
                open,
                &self.path,
                &self.profile,
                candidates,
                at,
                admission,
                created,
            ) {
                Appending::Done(results, removed) => {
                    if removed {
                        *guard = None;
                    }
                    return results;
                }
                Appending::Replaced(back) => {
                    // The file this connection had open is gone or replaced: open the path
                    // again; no candidate was checked.
                    *guard = None;
                    candidates = back;
                    last_error = Some(Error::LedgerIo(format!(
                        "{} kept being replaced while appending",
                        self.path.display()
                    )));
                }
            }
        }
        let e = last_error.expect("an attempt failed");
        vec![Err(e); n]
    }

    fn len(&self) -> Result<u64> {
        self.read_with(0, len_in)
    }

    fn profile(&self) -> Profile {
        self.profile
    }

    fn head(&self) -> Result<ChainHash> {
        self.read_with(ChainHash::GENESIS, |conn, path| {
            Ok(last_in(conn, path)?.map_or(ChainHash::GENESIS, |(_, hash)| hash))
        })
    }

    fn read(&self, from: u64, limit: usize) -> Result<Vec<RawEntry>> {
        self.read_with(Vec::new(), |conn, path| read_in(conn, path, from, limit))
    }

    /// The entry with sequence number exactly `seq` (one primary-key lookup), checked against
    /// its own hash.
    fn entry(&self, seq: u64) -> Result<Option<Arc<LedgerEntry>>> {
        let Ok(seq) = i64::try_from(seq) else {
            return Ok(None);
        };
        let row = self.read_with(None, |conn, path| {
            conn.prepare_cached(&format!("{SELECT_ENTRY} WHERE seq = ?1"))
                .and_then(|mut s| s.query_row([seq], Row::read).optional())
                .map_err(|e| io(path, "cannot read an entry of", e))
        })?;
        match row {
            Some(row) => Ok(Some(Arc::new(LedgerEntry::from_raw_in(
                &row.into_raw()?,
                &self.profile,
            )?))),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::parse_stored_token;
    use crate::{EctBuilder, SigningKey};

    const NOW: u64 = 1_772_000_000;
    const A: &str = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";
    const B: &str = "6ba7b811-9dad-11d1-80b4-00c04fd430c8";

    fn stored(jti: &str) -> StoredEct {
        let key = SigningKey::from_scalar_bytes("a", &[7; 32]).unwrap();
        let token = EctBuilder::new("spiffe://example.org/a", "step")
            .audience("spiffe://example.org/b")
            .jti(jti)
            .issued_at(NOW)
            .expires_at(NOW + 600)
            .sign(&key)
            .unwrap();
        let claims = parse_stored_token(&token, &crate::profile::DRAFT_00).unwrap();
        StoredEct::new(token, claims)
    }

    type Results = Vec<Result<Arc<LedgerEntry>>>;

    /// Appends `candidates` with a check that lets everything through and records, for each
    /// call, the index and whether the view held `A`.
    fn append_unchecked(
        ledger: &SqliteLedger,
        candidates: Vec<StoredEct>,
        at: u64,
    ) -> (Results, Vec<(usize, bool)>) {
        let mut calls = Vec::new();
        let results = {
            let mut check = |i: usize, view: &dyn EctStore, _: &StoredEct| -> Result<()> {
                calls.push((i, view.get(None, A)?.is_some()));
                Ok(())
            };
            let mut admission = Admission::new(&mut check);
            ledger.append(candidates, at, &mut admission)
        };
        (results, calls)
    }

    /// ECT-LED-3 in storage: a duplicate `(wid, jti)` that the check let through (in another
    /// letter case) is refused by the `UNIQUE` constraint, rolled back to its savepoint, and
    /// the rest of the call goes on; the check saw the earlier candidate.
    #[test]
    fn the_unique_constraint_refuses_a_duplicate_the_check_let_through() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = SqliteLedger::open(dir.path().join("l.sqlite")).unwrap();
        let (results, calls) = append_unchecked(
            &ledger,
            vec![stored(A), stored(&A.to_ascii_uppercase()), stored(B)],
            NOW,
        );
        assert_eq!(calls, [(0, false), (1, true), (2, true)]);
        assert_eq!(results[0].as_ref().unwrap().seq(), 0);
        assert_eq!(
            results[1],
            Err(Error::LedgerDuplicate(A.to_ascii_uppercase()))
        );
        let second = results[2].as_ref().unwrap();
        assert_eq!(second.seq(), 1);
        assert_eq!(second.prev(), results[0].as_ref().unwrap().hash());
        assert_eq!(ledger.len(), Ok(2));
        assert_eq!(ledger.head(), Ok(second.hash()));
        assert_eq!(ledger.verify_chain(), Ok(()));
    }

    /// An acceptance time beyond SQLite's `INTEGER` is `ledger.io`, before any check.
    #[test]
    fn an_acceptance_time_beyond_i64_is_ledger_io() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = SqliteLedger::open(dir.path().join("l.sqlite")).unwrap();
        let (results, calls) = append_unchecked(&ledger, vec![stored(A)], u64::MAX);
        assert_eq!(calls, []);
        assert_eq!(results.len(), 1);
        let err = results[0].as_ref().unwrap_err();
        assert_eq!(err.code(), "ledger.io");
        assert!(
            err.message()
                .contains("acceptance time 18446744073709551615"),
            "{err}"
        );
        assert_eq!(ledger.len(), Ok(0));
        assert_eq!(ledger.head(), Ok(ChainHash::GENESIS));
    }

    /// With `CreateMode::OnFirstAppend`, a first call that appends nothing removes the
    /// database it created; an empty call creates nothing.
    #[test]
    fn a_first_append_that_appends_nothing_removes_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.sqlite");
        let ledger = SqliteLedger::open_with(&path, CreateMode::OnFirstAppend).unwrap();
        let (results, _) = append_unchecked(&ledger, Vec::new(), NOW);
        assert!(results.is_empty());
        let (results, _) = append_unchecked(&ledger, vec![stored(A)], u64::MAX);
        assert_eq!(results[0].as_ref().unwrap_err().code(), "ledger.io");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let (results, _) = append_unchecked(&ledger, vec![stored(A)], NOW);
        assert_eq!(results[0].as_ref().unwrap().seq(), 0);
        assert!(path.is_file());
    }
}
