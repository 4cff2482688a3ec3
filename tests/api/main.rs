//! The library's API tests, one module per concern (one test binary, so the suite links once):
//!
//! * [`rules`]: a passing and an exactly failing case for every rule id of SPEC.md §2–§6 and §9;
//! * [`draft_01`]: profile `draft-01` (SPEC.md §10), each ECT-P01 rule passing and failing;
//! * [`dag`] and [`ledger`]: SPEC.md §7 and §8 through `Verifier::accept` and the audit;
//! * [`ledger_file`]: the file ledger's crash, corruption and locking cases;
//! * [`replay_race`]: exactly one of N concurrent presentations of a token is accepted;
//! * [`robustness`]: no input panics, hangs or allocates without bound;
//! * [`differential`] and [`wycheproof`]: the JWS layer against `jsonwebtoken`, and ES256
//!   against Wycheproof's ECDSA vectors;
//! * [`inline`]: a request's token with its parents inline (`verify_inline`, `accept_inline`);
//!   [`http_layer`]: `EctLayer` and the axum extractor on real loopback servers (feature `axum`);
//! * [`temp_dirs`]: no file is written through a predictable temporary path;
//! * [`contracts`]: the conformance kit's ledger and replay-cache contract suites against every
//!   backend; [`ledger_sqlite`], [`ledger_postgres`], [`replay_redis`]: what is particular to
//!   each shared-state backend (features `sqlite`, `postgres`, `redis`; the servers are found
//!   through [`servers`]).

mod common;
mod contracts;
mod dag;
mod differential;
mod draft_01;
#[cfg(feature = "axum")]
mod http_layer;
mod inline;
mod ledger;
mod ledger_file;
#[cfg(feature = "postgres")]
mod ledger_postgres;
#[cfg(feature = "sqlite")]
mod ledger_sqlite;
mod replay_race;
#[cfg(feature = "redis")]
mod replay_redis;
mod robustness;
mod rules;
mod servers;
mod temp_dirs;
mod wycheproof;
