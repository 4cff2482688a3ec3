//! [`RedisReplayCache`]: one replay cache (ECT-RPL-1) shared by many verifier processes,
//! kept in Redis (feature `redis`).

use std::fmt;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use redis::{Client, Connection, IntoConnectionInfo as _, Value};

use super::{ReplayCache, ReplayKey};
use crate::error::{Error, Result};

/// The timeout [`RedisReplayCache::connect`] uses unless [`RedisReplayCache::with_timeout`]
/// says otherwise: connecting, and waiting for any one reply.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// The key prefix unless [`RedisReplayCache::with_prefix`] says otherwise.
const DEFAULT_PREFIX: &str = "ect:replay:";

/// At most this many idle connections are kept for reuse; more are closed when returned.
const MAX_IDLE: usize = 32;

/// At most this many records per `EVAL` of [`BATCH_SCRIPT`]; a longer batch is sent in
/// chunks of this size, one round trip each, and stops at the first chunk that fails.
const MAX_SCRIPT_KEYS: usize = 1024;

/// `SET <key> 1 NX PX <ttl>` for each of `KEYS` with `ARGV` the ttls, in order, in one
/// command; returns 1 (recorded) or 0 (already recorded) per key.
const BATCH_SCRIPT: &str = "local r = {} \
for i, k in ipairs(KEYS) do \
if redis.call('SET', k, '1', 'NX', 'PX', ARGV[i]) then r[i] = 1 else r[i] = 0 end \
end \
return r";

/// The longest record time sent to Redis, in milliseconds (about 146 million years). Redis
/// refuses an expiry whose absolute time overflows a signed 64-bit millisecond count, so a
/// far-future `expires_at` is clamped to this instead of failing.
const MAX_TTL_MS: u64 = 1 << 62;

/// A [`ReplayCache`] in Redis, shared by every verifier (thread, process or host) that
/// connects to the same server and uses the same key prefix.
///
/// # How a record is made
///
/// A token's record is one Redis key: the prefix (default `"ect:replay:"`) followed by the 64
/// lower-case hex digits of [`ReplayKey::sha256`], so the token identifiers themselves never
/// leave the process. [`ReplayCache::check_and_record`] is a single
/// `SET <key> 1 NX PX <ttl>`: Redis runs it atomically, so of N concurrent presentations of
/// one token, from any number of verifiers, exactly one gets `OK` (accepted) and the others
/// get nil ([`Error::Replay`], code `replay.jti`).
/// [`ReplayCache::check_and_record_batch`] makes the batch's records in one round trip, with
/// the same results, in the same order, as one call per item (a key repeated in the batch is
/// accepted at its first position and a replay after that).
///
/// The batch is one `EVAL` of a short Lua script doing those `SET`s in order, rather than a
/// pipeline of `SET`s: a pipeline of N commands has N replies, and the client waits up to
/// the read timeout for each, so a server that stops answering would hold a batch of 256 for
/// 256 timeouts; one script is one reply, one timeout. (It also makes the batch atomic.) A
/// batch of more than 1024 keys is sent in chunks of 1024, one round trip each. A server
/// that refuses scripts (`EVAL` denied by an ACL) refuses every batch with
/// `replay.unavailable`, fail closed; [`ReplayCache::check_and_record`] needs only `SET`.
///
/// # The record's lifetime: relative `PX`, by the verifier's clock
///
/// The record lives `(expires_at - now)` seconds (`expires_at` is the token's
/// `exp + leeway`), at least 1 s, sent as a relative `PX` in milliseconds, rather than an
/// absolute `PXAT <(exp + leeway) ms>` by Redis's clock. This library never reads a clock
/// (`now` is a parameter), and the relative time makes the record live until the verifier
/// that made it stops accepting the token, whatever Redis's clock says. With `PXAT`, a Redis
/// clock ahead of the verifier's would reopen the replay window by the difference, and a `now`
/// that is not wall time (tests, the replay of old logs) would record keys already expired in
/// Redis's eyes, that is, record nothing. Among several verifiers sharing the cache, a record
/// made by one verifier lives until `exp + leeway` by that verifier's clock; a verifier whose
/// clock is behind still accepts the token for the difference, so the replay window left open
/// is their clock skew, which the policy's `leeway` must cover.
///
/// A `now` at or after `expires_at` (a token no verifier would accept any more) is still
/// checked and recorded, for 1 s; a far-future `expires_at` is recorded for at most 2^62 ms.
///
/// # Durability: what survives a Redis restart or failover
///
/// Records live in Redis's memory. Without `appendonly yes` and `appendfsync always` in the
/// server's configuration, a Redis restart loses the records made since the last snapshot or
/// AOF sync, and a failover to a replica that had not yet received some records loses those:
/// for the tokens they recorded, the replay window reopens for up to a token's lifetime plus
/// the leeway. Deployments that need more configure AOF with `appendfsync always` (every
/// acknowledged `SET` is on disk) and, with replicas, make the server wait for them (`WAIT`,
/// or `min-replicas-to-write`). Tokens that also go into a PostgreSQL ledger have a durable
/// replay check there regardless: the ledger's `UNIQUE(wid, jti)` refuses a second append.
///
/// # When Redis cannot answer: fail closed
///
/// Every error, every timeout and an unreachable server make the call return
/// [`Error::ReplayUnavailable`] (code `replay.unavailable`), never `Ok`: while Redis is down
/// every token is refused, none accepted unchecked. A call that failed after its `SET`
/// reached the server (the reply was lost) may have left its record, so the same token
/// presented again may then be refused as a replay; it is never accepted twice.
///
/// # Timeouts and connections
///
/// Connecting, and waiting for each reply (read) or sending each request (write), time out
/// after 2 s by default ([`RedisReplayCache::with_timeout`]). Every call sends one command
/// and waits for one reply, so a server that stops answering fails it after one timeout. A
/// new connection's handshake is `AUTH` with a password in the URL and `SELECT` with a
/// database number other than 0 (no `CLIENT SETINFO`), so connecting takes at most about
/// twice the timeout (both) and [`RedisReplayCache::connect`]'s `PING` one more.
///
/// Each call takes an idle connection from a small pool, or opens a new one, so concurrent
/// verifier threads do not queue on one socket; a connection goes back to the pool (at most
/// 32 are kept idle) only after a call that succeeded, and is closed after any error. A
/// restarted server is therefore reconnected to by the calls after the failure. A pooled
/// connection that went stale while idle (the server restarted meanwhile) fails its next
/// call, which is refused with `replay.unavailable` (never retried: a retried `SET` could
/// find its own first attempt's record) and is replaced.
pub struct RedisReplayCache {
    client: Client,
    prefix: String,
    timeout: Duration,
    idle: Mutex<Vec<Connection>>,
}

impl RedisReplayCache {
    /// Parses `url` (`redis://[user:password@]host[:port][/db]`), connects with the default
    /// 2 s timeout and checks the server answers `PING`.
    ///
    /// A URL that does not parse, or a server that cannot be reached or does not answer in
    /// time, is [`Error::ReplayUnavailable`] (code `replay.unavailable`); the message never
    /// contains the password.
    pub fn connect(url: &str) -> Result<Self> {
        let info = url
            .into_connection_info()
            .map_err(|e| Error::ReplayUnavailable(format!("invalid Redis URL: {e}")))?;
        // No `CLIENT SETINFO` on connecting: one round trip (and one timeout) less.
        let settings = info.redis_settings().clone().set_skip_set_lib_name();
        let client = Client::open(info.set_redis_settings(settings))
            .map_err(|e| Error::ReplayUnavailable(format!("invalid Redis URL: {e}")))?;
        let cache = RedisReplayCache {
            client,
            prefix: DEFAULT_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            idle: Mutex::new(Vec::new()),
        };
        cache.ping()?;
        Ok(cache)
    }

    /// Uses `timeout` for connecting and for each read and write on a connection (default
    /// 2 s), for this handle's connections from now on.
    ///
    /// A zero `timeout` is taken as 1 ms (the socket API has no zero timeout).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        // Connections opened with the previous timeout are closed; new ones get this one.
        self.lock().clear();
        self
    }

    /// Names records `prefix` followed by the key's hash (default `"ect:replay:"`). Verifiers
    /// share records exactly when they use the same server, database and prefix.
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.to_owned();
        self
    }

    /// The Redis key of `key`'s record: the prefix and the lower-case hex of
    /// [`ReplayKey::sha256`].
    pub fn redis_key(&self, key: &ReplayKey) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut name = String::with_capacity(self.prefix.len() + 64);
        name.push_str(&self.prefix);
        for byte in key.sha256() {
            name.push(HEX[usize::from(byte >> 4)] as char);
            name.push(HEX[usize::from(byte & 0xf)] as char);
        }
        name
    }

    /// Checks that the server answers `PING` within the timeout.
    fn ping(&self) -> Result<()> {
        self.with_connection(|con| match redis::cmd("PING").query::<Value>(con)? {
            Value::SimpleString(s) if s == "PONG" => Ok(()),
            Value::Okay => Ok(()),
            other => Err(unexpected(&other)),
        })
    }

    /// Runs `f` on a pooled (or new) connection; returns the connection to the pool if `f`
    /// succeeded and closes it otherwise. Any failure is `replay.unavailable`.
    fn with_connection<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> redis::RedisResult<T>,
    ) -> Result<T> {
        let pooled = self.lock().pop();
        let mut con = match pooled {
            Some(con) => con,
            None => self.open()?,
        };
        match f(&mut con) {
            Ok(value) => {
                let mut idle = self.lock();
                if idle.len() < MAX_IDLE {
                    idle.push(con);
                }
                Ok(value)
            }
            Err(e) => Err(self.unavailable(&e)),
        }
    }

    /// A new connection with the connect, read and write timeouts set.
    fn open(&self) -> Result<Connection> {
        let con = self
            .client
            .get_connection_with_timeout(self.timeout)
            .map_err(|e| self.unavailable(&e))?;
        con.set_read_timeout(Some(self.timeout))
            .and_then(|()| con.set_write_timeout(Some(self.timeout)))
            .map_err(|e| self.unavailable(&e))?;
        Ok(con)
    }

    /// [`Error::ReplayUnavailable`] naming the server's address (never its password).
    fn unavailable(&self, e: &redis::RedisError) -> Error {
        Error::ReplayUnavailable(format!(
            "Redis at {} did not answer: {e}",
            self.client.get_connection_info().addr()
        ))
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Connection>> {
        // No code path panics while holding the lock, and a pool of connections has no
        // invariant a panic could break.
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `SET <key> 1 NX PX <ttl>` for a record live until `expires_at` by the caller's `now`.
    fn set_nx(&self, key: &ReplayKey, expires_at: u64, now: u64) -> redis::Cmd {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.redis_key(key))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms(expires_at, now));
        cmd
    }
}

/// The record time in milliseconds: `expires_at - now` seconds, at least 1 s, at most
/// [`MAX_TTL_MS`].
fn ttl_ms(expires_at: u64, now: u64) -> u64 {
    expires_at
        .saturating_sub(now)
        .max(1)
        .saturating_mul(1000)
        .min(MAX_TTL_MS)
}

/// The verdict of one `SET … NX` reply: `OK` recorded, nil already recorded (a replay).
fn verdict(reply: &Value) -> Result<()> {
    match reply {
        Value::Okay => Ok(()),
        Value::SimpleString(s) if s == "OK" => Ok(()),
        Value::Nil => Err(Error::Replay),
        other => Err(Error::ReplayUnavailable(format!(
            "unexpected reply from Redis: {other:?}"
        ))),
    }
}

/// A reply of the wrong kind, as a Redis error (so the connection is closed).
fn unexpected(reply: &Value) -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::UnexpectedReturnType,
        "unexpected reply",
        format!("{reply:?}"),
    ))
}

impl ReplayCache for RedisReplayCache {
    fn check_and_record(&self, key: &ReplayKey, expires_at: u64, now: u64) -> Result<()> {
        let cmd = self.set_nx(key, expires_at, now);
        let reply = self.with_connection(|con| match cmd.query::<Value>(con)? {
            reply @ (Value::Okay | Value::Nil) => Ok(reply),
            Value::SimpleString(s) if s == "OK" => Ok(Value::Okay),
            other => Err(unexpected(&other)),
        })?;
        verdict(&reply)
    }

    /// One `EVAL` of a Lua script of `SET … NX`s per 1024 items (one round trip for a batch up
    /// to that size); an error fails every item of its chunk and of the chunks after it with
    /// [`Error::ReplayUnavailable`] (some of the chunk's records may have been made).
    fn check_and_record_batch(&self, items: &[(ReplayKey, u64)], now: u64) -> Vec<Result<()>> {
        let mut results = Vec::with_capacity(items.len());
        let mut failed: Option<Error> = None;
        for chunk in items.chunks(MAX_SCRIPT_KEYS) {
            if let Some(e) = &failed {
                results.extend(chunk.iter().map(|_| Err(e.clone())));
                continue;
            }
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(BATCH_SCRIPT).arg(chunk.len());
            for (key, _) in chunk {
                cmd.arg(self.redis_key(key));
            }
            for (_, expires_at) in chunk {
                cmd.arg(ttl_ms(*expires_at, now));
            }
            let recorded = self.with_connection(|con| {
                let reply = cmd.query::<Value>(con)?;
                let flags = match &reply {
                    Value::Array(flags) if flags.len() == chunk.len() => flags,
                    _ => return Err(unexpected(&reply)),
                };
                flags
                    .iter()
                    .map(|flag| match flag {
                        Value::Int(1) => Ok(Ok(())),
                        Value::Int(0) => Ok(Err(Error::Replay)),
                        other => Err(unexpected(other)),
                    })
                    .collect::<redis::RedisResult<Vec<Result<()>>>>()
            });
            match recorded {
                Ok(verdicts) => results.extend(verdicts),
                Err(e) => {
                    results.extend(chunk.iter().map(|_| Err(e.clone())));
                    failed = Some(e);
                }
            }
        }
        results
    }

    /// `DEL` of the key's record. Best effort: an error or timeout is ignored and the record
    /// stays until it expires (it can then only refuse the token, never accept a replay).
    /// The record deleted is the key's, which is this caller's own as long as it is called,
    /// as [`crate::Verifier::accept`] does, right after the `check_and_record` that made it.
    fn forget(&self, key: &ReplayKey) {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(self.redis_key(key));
        let _ = self.with_connection(|con| cmd.query::<Value>(con));
    }
}

impl fmt::Debug for RedisReplayCache {
    /// The server's address, the prefix and the timeout; never the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let info = self.client.get_connection_info();
        f.debug_struct("RedisReplayCache")
            .field("addr", &info.addr().to_string())
            .field("db", &info.redis_settings().db())
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("idle_connections", &self.lock().len())
            .finish()
    }
}
