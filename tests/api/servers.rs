//! Where the tests find the real servers (started by `.ci/servers`, README "Running the server
//! tests"): `ECT_TEST_POSTGRES_URL` and `ECT_TEST_REDIS_URL`. Under `CI=true` a missing server
//! fails the test; elsewhere the test prints why it skipped and passes without running.

#![allow(dead_code)]

/// The URL in `var`, or `None` after printing why the test does not run (locally), or a panic
/// (under `CI=true`, where a test that needs a server never skips).
pub fn server_url(var: &str, what: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!(
                "CI=true and {var} is not set: the {what} tests must run against a real server (.ci/servers start)"
            )
        }
        _ => {
            eprintln!(
                "skipped: {var} is not set, so no {what} server to test against (.ci/servers start DIR; source DIR/env)"
            );
            None
        }
    }
}

/// The PostgreSQL server's URL (`postgres://user@127.0.0.1:port/db`).
pub fn postgres_url() -> Option<String> {
    server_url("ECT_TEST_POSTGRES_URL", "PostgreSQL")
}

/// The Redis server's URL (`redis://127.0.0.1:port/`).
pub fn redis_url() -> Option<String> {
    server_url("ECT_TEST_REDIS_URL", "Redis")
}
