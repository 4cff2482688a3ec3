//! [`FileLedger`]: the in-memory chain plus a file of canonical lines, `fsync`ed appends, an
//! exclusive lock, and crash recovery by the first accepted append ([`FileLedger`],
//! "Recovery").

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::error::{Error, Result};
use crate::ledger::chain::{Chain, LedgerEntry};
use crate::ledger::line::{Tail, TornTail};
use crate::ledger::memory::MemoryLedger;
use crate::ledger::{Admission, read_lock, write_lock};
use crate::profile::{DRAFT_00, Profile};
use crate::store::StoredEct;

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

/// The file-backed ledger: the in-memory ledger plus a file of canonical lines ("File
/// format" below), the CLI's default.
///
/// * Each append writes one line and `fsync`s it before it is acknowledged.
/// * [`FileLedger::open`] verifies the whole chain and reports the end of the file as
///   "Recovery" below says ([`FileLedger::tail`]); the first accepted append
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
///
/// # File format
///
/// One JSON object per line, each line ending with `\n`, members in this order and nothing
/// else, hashes in unpadded base64url:
///
/// ```text
/// {"seq":0,"at":1772000000,"prev":"AAAA…","hash":"…","token":"eyJ…"}
/// ```
///
/// A line that differs in any byte from this canonical form is corruption (`ledger.chain`).
///
///
/// # Recovery
///
/// An append writes its line, `\n` included, and acknowledges it only once the write is
/// `fsync`ed. A crash during the write leaves a prefix of the line after the file's last `\n`.
/// What follows the last `\n` is therefore read as one of two things ([`Tail`]):
///
/// * **A torn tail** ([`Tail::Torn`]): a strict prefix of some canonical entry line (the
///   shape above, any values), which no complete entry is. It was never acknowledged and is
///   not an entry.
/// * **The last line, missing its `\n`** ([`Tail::MissingNewline`]): anything else, for
///   example a complete entry whose newline was lost (a crash between the line and its `\n`
///   on a file system that reorders, a tool that strips final newlines), or bytes no write of
///   this format leaves. It is checked like every other line: the last entry if it is the
///   canonical, correctly chained next entry with a token that parses and no duplicate;
///   otherwise the same `ledger.chain` or `ledger.duplicate` error any line gets. (Such an
///   entry may not have been acknowledged; keeping it is safe: its token passed every check
///   before it was written, and the same token presented again is refused as a duplicate.)
///
/// Who changes the file: only an append. [`FileLedger::open`] (and [`FileLedger::open_with`])
/// verifies the whole file under its exclusive lock and reports what follows the last `\n`
/// ([`FileLedger::tail`]) without changing anything; the first append whose token passed
/// every check then cuts a torn tail off, or appends the missing `\n` of a complete last
/// entry, `fsync`s, and writes its own entry. So opening a ledger, or a rejected token, leaves
/// the file byte for byte as it was. [`FileLedger::read`] and [`crate::audit_file`] never
/// change the file; they report the same [`Tail`] (a torn tail is ignored, a last line without
/// `\n` is read). A file that does not verify is never changed by anyone.
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
    /// append repairs it before writing its entry ([`FileLedger`], "Recovery").
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
    /// follows its last `\n` is repaired by the first accepted append ([`FileLedger`],
    /// "Recovery"). The same as
    /// [`FileLedger::open_with`] with [`CreateMode::OnOpen`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, CreateMode::OnOpen)
    }

    /// Opens the ledger file at `path` and verifies it (what follows its last `\n` is repaired
    /// by the first accepted append: [`FileLedger`], "Recovery"); a missing file is
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
        Self::open_profile(path, create, DRAFT_00)
    }

    /// [`FileLedger::open_with`] for a ledger whose tokens are read under `profile` (a
    /// verifier appends through it only with the same profile, `ledger.profile` otherwise).
    /// The file format does not depend on the profile; a file written under another profile
    /// does not open (`ledger.chain`: its tokens do not parse).
    pub fn open_profile(
        path: impl AsRef<Path>,
        create: CreateMode,
        profile: Profile,
    ) -> Result<Self> {
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
                    return Ok(Self::new(path, None, Chain::new(profile), None, 0));
                }
            },
            Err(e) => return Err(io_error(&path, "cannot open", e)),
        };
        let mut bytes = Vec::new();
        (&file.0)
            .read_to_end(&mut bytes)
            .map_err(|e| io_error(&path, "cannot read", e))?;
        let (chain, tail) = Chain::load(&bytes, profile)?;
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
    /// copy, and says what follows its last `\n` ([`FileLedger`], "Recovery"): a torn
    /// tail is reported and ignored, a last entry without its `\n` is read and reported. For
    /// inspection while no other process holds the file open.
    pub fn read(path: impl AsRef<Path>) -> Result<(MemoryLedger, Option<Tail>)> {
        Self::read_profile(path, DRAFT_00)
    }

    /// [`FileLedger::read`] with the tokens read under `profile`.
    pub fn read_profile(
        path: impl AsRef<Path>,
        profile: Profile,
    ) -> Result<(MemoryLedger, Option<Tail>)> {
        let path = path.as_ref();
        let bytes = read_regular_file(path)?;
        let (chain, tail) = Chain::load(&bytes, profile)?;
        Ok((MemoryLedger::from_chain(chain), tail))
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

    /// Fault injection for unit tests: the next appends write `bytes` bytes of their line and
    /// then fail with an I/O error (`None`: writes work again).
    #[cfg(test)]
    pub(crate) fn fail_writes_after(&self, bytes: Option<usize>) {
        write_lock(&self.state).fail_after = bytes;
    }
}

/// Repairs the end of a verified ledger file of `len` bytes ([`FileLedger`], "Recovery") and returns its new length: a torn tail is cut off, a missing final `\n` of
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

/// Checks that the directory a ledger file (or database) will be created in exists, so that a
/// path in a missing directory fails when it is opened rather than at the first append.
pub(crate) fn ensure_parent_dir(path: &Path) -> Result<()> {
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

/// Makes a new directory entry durable (Unix; best effort elsewhere).
pub(crate) fn sync_parent_dir(path: &Path) -> Result<()> {
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

impl FileLedger {
    /// [`crate::Ledger::append`]: each candidate admitted, written and `fsync`ed in turn under
    /// the write lock (one `fsync` per entry).
    fn append_to_chain(
        &self,
        candidates: Vec<StoredEct>,
        at: u64,
        admission: &mut Admission<'_>,
    ) -> Vec<Result<Arc<LedgerEntry>>> {
        let mut guard = write_lock(&self.state);
        candidates
            .into_iter()
            .enumerate()
            .map(|(i, ect)| self.append_one(&mut guard, i, ect, at, admission))
            .collect()
    }

    fn append_one(
        &self,
        state: &mut FileState,
        index: usize,
        ect: StoredEct,
        at: u64,
        admission: &mut Admission<'_>,
    ) -> Result<Arc<LedgerEntry>> {
        if let Some(why) = &state.broken {
            return Err(Error::LedgerIo(why.clone()));
        }
        let entry = state.chain.admit(index, ect, at, admission)?;
        let mut bytes = entry.to_line().into_bytes();
        bytes.push(b'\n');
        // A ledger opened with `CreateMode::OnFirstAppend` creates its file now, once the
        // token passed every check.
        let created = state.file.is_none();
        if created {
            state.file = Some(create_locked(&self.path)?);
        }
        let file = state.file.as_ref().expect("the file exists now");
        // Crash recovery ([`FileLedger`], "Recovery"): what followed the last `\n` at open is
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
