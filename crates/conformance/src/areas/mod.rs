//! The vectors, one module per vector file.

pub mod claims;
pub mod dag;
pub mod header;
pub mod http;
pub mod jws;
pub mod keys;
pub mod known_answers;
pub mod ledger;
pub mod profile;
pub mod replay;
pub mod signature;
pub mod time;
