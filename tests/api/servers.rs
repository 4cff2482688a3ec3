//! Where the tests find the real servers (started by `.ci/servers`, README "Running the server
//! tests"): `ECT_TEST_POSTGRES_URL` and `ECT_TEST_REDIS_URL`. Under `CI=true` a missing server
//! fails the test; elsewhere the test prints why it skipped and passes without running
//! (`wimse_ect_conformance::contract::server_url`).

#![allow(dead_code)]

pub use wimse_ect_conformance::contract::server_url;

/// The PostgreSQL server's URL (`postgres://user@127.0.0.1:port/db`).
pub fn postgres_url() -> Option<String> {
    server_url("ECT_TEST_POSTGRES_URL", "PostgreSQL")
}

/// The Redis server's URL (`redis://127.0.0.1:port/`).
pub fn redis_url() -> Option<String> {
    server_url("ECT_TEST_REDIS_URL", "Redis")
}
