//! The conformance kit's contract suites (`wimse_ect_conformance::contract`) against every
//! backend this crate ships: the ledgers (memory, file, and with their features SQLite and
//! PostgreSQL) and the replay caches (in-memory, and with its feature Redis); and a backend
//! written outside the crate, through the open traits, that fails closed.

use std::sync::Arc;

use wimse_ect::{
    Admission, ChainHash, EctBuilder, EctStore, Error, KeySet, Ledger, LedgerEntry, MemoryLedger,
    MemoryReplayCache, Policy, RawEntry, Result, SigningKey, StoredEct, Verifier,
};
use wimse_ect_conformance::contract::{
    FileBackend, MemoryBackend, ledger_contract, replay_contract,
};

/// State-machine cases per backend: `PROPTEST_CASES` or `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn the_memory_ledger_keeps_the_ledger_contract() {
    ledger_contract::<MemoryBackend>(cases(32));
}

#[test]
fn the_file_ledger_keeps_the_ledger_contract() {
    ledger_contract::<FileBackend>(cases(32));
}

#[test]
fn the_memory_replay_cache_keeps_the_replay_contract() {
    replay_contract(MemoryReplayCache::new);
    replay_contract(|| MemoryReplayCache::with_max_entries(100));
}

/// A ledger written outside this crate, through the open traits: a [`MemoryLedger`] whose
/// lookups fail once `broken` is set, as a database that went away would.
pub(crate) struct Flaky {
    pub(crate) inner: MemoryLedger,
    pub(crate) broken: std::sync::atomic::AtomicBool,
}

impl Flaky {
    fn check(&self) -> Result<()> {
        if self.broken.load(std::sync::atomic::Ordering::SeqCst) {
            Err(Error::LedgerIo("the store went away".into()))
        } else {
            Ok(())
        }
    }
}

impl EctStore for Flaky {
    fn get(&self, wid: Option<&str>, jti: &str) -> Result<Option<Arc<StoredEct>>> {
        self.check()?;
        EctStore::get(&self.inner, wid, jti)
    }

    fn referrers(&self, wid: Option<&str>, jti: &str, limit: usize) -> Result<Vec<Arc<StoredEct>>> {
        self.check()?;
        EctStore::referrers(&self.inner, wid, jti, limit)
    }

    fn get_elsewhere(&self, wid: Option<&str>, jti: &str) -> Result<Option<Arc<StoredEct>>> {
        self.check()?;
        EctStore::get_elsewhere(&self.inner, wid, jti)
    }

    fn referrer_elsewhere(&self, wid: Option<&str>, jti: &str) -> Result<Option<Arc<StoredEct>>> {
        self.check()?;
        EctStore::referrer_elsewhere(&self.inner, wid, jti)
    }
}

impl Ledger for Flaky {
    fn append(
        &self,
        candidates: Vec<StoredEct>,
        _at: u64,
        admission: &mut Admission<'_>,
    ) -> Vec<Result<Arc<LedgerEntry>>> {
        // Each candidate is checked against this store's view; then the write fails, as a
        // storage that went away between the checks and the commit would.
        candidates
            .iter()
            .enumerate()
            .map(|(i, ect)| {
                admission.check(i, self, ect)?;
                Err(Error::LedgerIo("the write failed".into()))
            })
            .collect()
    }

    fn len(&self) -> Result<u64> {
        self.check()?;
        Ok(self.inner.len())
    }

    fn head(&self) -> Result<ChainHash> {
        self.check()?;
        Ok(self.inner.head())
    }

    fn read(&self, from: u64, limit: usize) -> Result<Vec<RawEntry>> {
        self.check()?;
        Ledger::read(&self.inner, from, limit)
    }
}

/// A store that cannot answer refuses the token with its error, and the replay record made
/// for it is withdrawn; a storage that fails after the checks refuses every token of a batch.
#[test]
fn a_backend_that_cannot_answer_fails_closed() {
    let key = SigningKey::from_scalar_bytes("a", &[3; 32]).unwrap();
    let keys = KeySet::from_keys([key.trusted(None)]).unwrap();
    let cache = Arc::new(MemoryReplayCache::new());
    let verifier = Verifier::new(keys, Policy::new("spiffe://example.org/b"))
        .unwrap()
        .with_replay_cache(cache.clone());
    let now = 1_772_000_000;
    let token = |n: u8| {
        EctBuilder::new("spiffe://example.org/a", "step")
            .audience("spiffe://example.org/b")
            .jti(format!("6ba7b81{n}-9dad-11d1-80b4-00c04fd430c8"))
            .issued_at(now)
            .expires_at(now + 600)
            .sign(&key)
            .unwrap()
    };
    let flaky = Flaky {
        inner: MemoryLedger::new(),
        broken: true.into(),
    };
    let err = verifier.accept(token(0), now, &flaky).unwrap_err();
    assert_eq!(err, Error::LedgerIo("the store went away".into()));
    assert_eq!(cache.len(), 0);

    // The store answers, the checks pass (a replay record is made), the storage fails: every
    // token of the batch is refused and every record withdrawn.
    flaky
        .broken
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let results = verifier.accept_batch(&[token(1), token(2)], now, &flaky);
    let codes: Vec<_> = results
        .iter()
        .map(|r| r.as_ref().unwrap_err().code())
        .collect();
    assert_eq!(codes, ["ledger.io", "ledger.io"]);
    assert_eq!(
        results[0].as_ref().unwrap_err(),
        &Error::LedgerIo("the write failed".into())
    );
    assert_eq!(cache.len(), 0);
    // So the same tokens are accepted once a working ledger takes them.
    let good = MemoryLedger::new();
    assert_eq!(
        verifier.accept(token(1), now, &good).unwrap().entry.seq(),
        0
    );
}

/// [`wimse_ect::SqliteLedger`]: a database file in a temporary directory, opened again by
/// path (as another process would).
#[cfg(feature = "sqlite")]
mod sqlite {
    use tempfile::TempDir;
    use wimse_ect::{CreateMode, DRAFT_00, Ledger, Profile, SqliteLedger};
    use wimse_ect_conformance::contract::{LedgerBackend, ledger_contract};

    struct SqliteBackend;

    fn open(dir: &TempDir, profile: Profile) -> SqliteLedger {
        SqliteLedger::open_profile(dir.path().join("ledger.db"), CreateMode::OnOpen, profile)
            .expect("open the SQLite ledger")
    }

    impl LedgerBackend for SqliteBackend {
        type Ledger = SqliteLedger;
        type Place = TempDir;
        const NAME: &'static str = "SqliteLedger";

        fn create_in(profile: Profile) -> (SqliteLedger, TempDir) {
            let dir = tempfile::Builder::new()
                .prefix("wimse-ect-contract-sqlite-")
                .tempdir()
                .expect("a temporary directory");
            (open(&dir, profile), dir)
        }

        fn reopen(ledger: SqliteLedger, place: &TempDir) -> SqliteLedger {
            let profile = ledger.profile();
            drop(ledger);
            open(place, profile)
        }

        // The suite opens a second handle only on draft-00 ledgers.
        fn open_again(place: &TempDir) -> Option<SqliteLedger> {
            Some(open(place, DRAFT_00))
        }
    }

    #[test]
    fn the_sqlite_ledger_keeps_the_ledger_contract() {
        ledger_contract::<SqliteBackend>(super::cases(16));
    }
}

/// [`wimse_ect::PostgresLedger`]: a fresh schema of the server's database per ledger (its URL
/// carries the schema as the search path), dropped afterwards.
#[cfg(feature = "postgres")]
mod postgres {
    use wimse_ect::{Ledger, PostgresLedger, Profile};
    use wimse_ect_conformance::contract::{LedgerBackend, ledger_contract};

    use crate::ledger_postgres::Schema;
    use crate::servers::postgres_url;

    struct PostgresBackend;

    impl LedgerBackend for PostgresBackend {
        type Ledger = PostgresLedger;
        type Place = Schema;
        const NAME: &'static str = "PostgresLedger";

        fn create_in(profile: Profile) -> (PostgresLedger, Schema) {
            let schema = Schema::new("contract").expect("the test checked the server first");
            (schema.ledger_in(profile), schema)
        }

        fn reopen(ledger: PostgresLedger, place: &Schema) -> PostgresLedger {
            let profile = ledger.profile();
            drop(ledger);
            place.ledger_in(profile)
        }

        fn open_again(place: &Schema) -> Option<PostgresLedger> {
            Some(place.ledger())
        }
    }

    #[test]
    fn the_postgres_ledger_keeps_the_ledger_contract() {
        if postgres_url().is_none() {
            return;
        }
        ledger_contract::<PostgresBackend>(super::cases(8));
    }
}

/// [`wimse_ect::RedisReplayCache`]: each cache a fresh key prefix on the test server.
#[cfg(feature = "redis")]
#[test]
fn the_redis_replay_cache_keeps_the_replay_contract() {
    let Some(url) = crate::servers::redis_url() else {
        return;
    };
    replay_contract(|| {
        let prefix = format!("ect:contract:{}:", wimse_ect::random_uuid().unwrap());
        wimse_ect::RedisReplayCache::connect(&url)
            .expect("connect to the test server")
            .with_prefix(&prefix)
    });
}

/// A replay cache written outside this crate whose batch answers for fewer records than it
/// was given: `verify_batch` refuses every token of the batch (`replay.unavailable`) rather
/// than accept the unanswered ones unchecked.
#[test]
fn a_replay_cache_that_answers_short_fails_closed() {
    struct Short;
    impl wimse_ect::ReplayCache for Short {
        fn check_and_record(&self, _: &wimse_ect::ReplayKey, _: u64, _: u64) -> Result<()> {
            Ok(())
        }
        fn check_and_record_batch(
            &self,
            items: &[(wimse_ect::ReplayKey, u64)],
            _: u64,
        ) -> Vec<Result<()>> {
            vec![Ok(()); items.len() - 1]
        }
        fn forget(&self, _: &wimse_ect::ReplayKey) {}
    }
    let key = SigningKey::from_scalar_bytes("a", &[3; 32]).unwrap();
    let keys = KeySet::from_keys([key.trusted(None)]).unwrap();
    let verifier = Verifier::new(keys, Policy::new("spiffe://example.org/b"))
        .unwrap()
        .with_replay_cache(Arc::new(Short));
    let now = 1_772_000_000;
    let tokens: Vec<String> = (0..3)
        .map(|n| {
            EctBuilder::new("spiffe://example.org/a", "step")
                .audience("spiffe://example.org/b")
                .jti(format!("6ba7b81{n}-9dad-11d1-80b4-00c04fd430c8"))
                .issued_at(now)
                .expires_at(now + 600)
                .sign(&key)
                .unwrap()
        })
        .collect();
    let results = verifier.verify_batch(&tokens, now);
    let errors: Vec<_> = results.into_iter().map(|r| r.unwrap_err()).collect();
    assert_eq!(
        errors,
        vec![Error::ReplayUnavailable("the replay cache answered 2 of 3 records".into()); 3]
    );
}
