//! Where the shared state lives: `--ledger` (a file path, `sqlite:PATH` or a `postgres://` URL,
//! else `$ECT_LEDGER`) and `--replay` (a `redis://` URL, else `$ECT_REPLAY`).
//!
//! A location that does not parse, or a server that does not answer, is an operational error
//! (exit 2) with a message naming the location (a password in a URL is never printed); the
//! tool never falls back to an in-memory store.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use wimse_ect::{
    ConfigError, CreateMode, Error, FileLedger, Ledger, PostgresLedger, Profile, RedisReplayCache,
    ReplayCache, SqliteLedger,
};

/// The variable `--ledger` falls back to.
pub const ENV_LEDGER: &str = "ECT_LEDGER";
/// The variable `--replay` falls back to.
pub const ENV_REPLAY: &str = "ECT_REPLAY";

/// Where a ledger is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LedgerLocation {
    /// A ledger file (`FileLedger`, the canonical line format).
    File(PathBuf),
    /// An SQLite database (`sqlite:PATH`).
    Sqlite(PathBuf),
    /// A PostgreSQL database (`postgres://…` or `postgresql://…`).
    Postgres(String),
}

impl LedgerLocation {
    /// `--ledger`'s value, else `$ECT_LEDGER`; neither is a usage error.
    pub fn from_arg(arg: Option<&str>) -> Result<Self, ConfigError> {
        let from_env = std::env::var(ENV_LEDGER).ok().filter(|v| !v.is_empty());
        match arg.map(str::to_owned).or(from_env) {
            Some(value) => Self::parse(&value),
            None => Err(ConfigError::new(format!(
                "no ledger: give --ledger (a file path, sqlite:PATH or a postgres:// URL) or set {ENV_LEDGER}"
            ))),
        }
    }

    /// Parses a location: `postgres://`/`postgresql://` URLs, `sqlite:PATH`, any other
    /// `scheme://` refused, anything else a file path.
    pub fn parse(value: &str) -> Result<Self, ConfigError> {
        if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            return Ok(LedgerLocation::Postgres(value.to_owned()));
        }
        if let Some(path) = value.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(ConfigError::new(
                    "--ledger sqlite: needs a path (sqlite:PATH)",
                ));
            }
            return Ok(LedgerLocation::Sqlite(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = value.split_once("://") {
            return Err(ConfigError::new(format!(
                "--ledger {}: unknown scheme {scheme:?} (a file path, sqlite:PATH or a postgres:// URL)",
                redact(value)
            )));
        }
        if value.is_empty() {
            return Err(ConfigError::new("--ledger is empty"));
        }
        Ok(LedgerLocation::File(PathBuf::from(value)))
    }

    /// The location as messages show it (a URL's password replaced by `***`).
    pub fn display(&self) -> String {
        match self {
            LedgerLocation::File(p) => p.display().to_string(),
            LedgerLocation::Sqlite(p) => format!("sqlite:{}", p.display()),
            LedgerLocation::Postgres(url) => redact(url),
        }
    }

    /// A storage error as the operational error (exit 2) it is.
    pub fn error(&self, e: &Error) -> ConfigError {
        ConfigError::new(format!("ledger {}: {e}", self.display()))
    }

    /// Opens the ledger to append to, its tokens read under `profile`. A file or SQLite
    /// ledger that does not exist is created by the first accepted token, not before (a
    /// rejected token leaves nothing behind).
    pub fn open_for_append(&self, profile: Profile) -> Result<OpenLedger, ConfigError> {
        let opened = match self {
            LedgerLocation::File(p) => {
                FileLedger::open_profile(p, CreateMode::OnFirstAppend, profile)
                    .map(|l| OpenLedger::File(Box::new(l)))
            }
            LedgerLocation::Sqlite(p) => {
                SqliteLedger::open_profile(p, CreateMode::OnFirstAppend, profile)
                    .map(|l| OpenLedger::Other(Box::new(l)))
            }
            LedgerLocation::Postgres(url) => PostgresLedger::connect_profile(url, profile)
                .map(|l| OpenLedger::Other(Box::new(l))),
        };
        opened.map_err(|e| self.error(&e))
    }

    /// Opens an existing ledger database to read (`ledger verify|show`) under `profile`; a
    /// missing SQLite file is an error, not an empty ledger.
    pub fn open_database(&self, profile: Profile) -> Result<Box<dyn Ledger>, ConfigError> {
        let opened: Result<Box<dyn Ledger>, Error> = match self {
            LedgerLocation::File(_) => {
                unreachable!("files are read by the file ledger's functions")
            }
            LedgerLocation::Sqlite(p) => {
                require_regular_file(p).map_err(|e| self.error(&e))?;
                SqliteLedger::open_profile(p, CreateMode::OnFirstAppend, profile)
                    .map(|l| Box::new(l) as Box<dyn Ledger>)
            }
            LedgerLocation::Postgres(url) => PostgresLedger::connect_profile(url, profile)
                .map(|l| Box::new(l) as Box<dyn Ledger>),
        };
        opened.map_err(|e| self.error(&e))
    }
}

/// A ledger opened to append to: the file ledger (whose end the CLI reports on) or another.
pub enum OpenLedger {
    /// A ledger file (boxed: the variants differ much in size).
    File(Box<FileLedger>),
    /// A database ledger.
    Other(Box<dyn Ledger>),
}

impl OpenLedger {
    /// The ledger.
    pub fn ledger(&self) -> &dyn Ledger {
        match self {
            OpenLedger::File(l) => l.as_ref(),
            OpenLedger::Other(l) => l.as_ref(),
        }
    }
}

fn require_regular_file(path: &Path) -> Result<(), Error> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(_) => Err(Error::LedgerIo(format!(
            "{} is not a regular file",
            path.display()
        ))),
        Err(e) => Err(Error::LedgerIo(format!(
            "cannot open {}: {e}",
            path.display()
        ))),
    }
}

/// The shared replay cache of `--replay` (else `$ECT_REPLAY`), connected and answering, or
/// `None` when neither is given.
pub fn replay_cache(arg: Option<&str>) -> Result<Option<Arc<dyn ReplayCache>>, ConfigError> {
    let from_env = std::env::var(ENV_REPLAY).ok().filter(|v| !v.is_empty());
    let Some(url) = arg.map(str::to_owned).or(from_env) else {
        return Ok(None);
    };
    if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
        return Err(ConfigError::new(format!(
            "--replay {}: not a redis:// URL",
            redact(&url)
        )));
    }
    let cache = RedisReplayCache::connect(&url)
        .map_err(|e| ConfigError::new(format!("replay cache {}: {e}", redact(&url))))?;
    Ok(Some(Arc::new(cache)))
}

/// `scheme://user:password@host…` with the password replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse() {
        assert_eq!(
            LedgerLocation::parse("a/b.jsonl"),
            Ok(LedgerLocation::File("a/b.jsonl".into()))
        );
        assert_eq!(
            LedgerLocation::parse("sqlite:/tmp/x.db"),
            Ok(LedgerLocation::Sqlite("/tmp/x.db".into()))
        );
        assert_eq!(
            LedgerLocation::parse("sqlite:///tmp/x.db"),
            Ok(LedgerLocation::Sqlite("/tmp/x.db".into()))
        );
        assert_eq!(
            LedgerLocation::parse("postgresql://u@h/db"),
            Ok(LedgerLocation::Postgres("postgresql://u@h/db".into()))
        );
        assert_eq!(
            LedgerLocation::parse("sqlite:").unwrap_err().message(),
            "--ledger sqlite: needs a path (sqlite:PATH)"
        );
        assert_eq!(
            LedgerLocation::parse("mysql://u:secret@h/db")
                .unwrap_err()
                .message(),
            "--ledger mysql://u:***@h/db: unknown scheme \"mysql\" (a file path, sqlite:PATH or a postgres:// URL)"
        );
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://ect:pw@127.0.0.1:5/db"),
            "postgres://ect:***@127.0.0.1:5/db"
        );
        assert_eq!(redact("redis://:pw@h:1/"), "redis://:***@h:1/");
        assert_eq!(
            redact("postgres://ect@h/db?x=a:b@c"),
            "postgres://ect@h/db?x=a:b@c"
        );
        assert_eq!(redact("plain"), "plain");
    }
}
