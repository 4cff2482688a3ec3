//! `ect codes`: prints the table of rule ids and error codes (the content of CODES.md).

use std::io::Write;

use wimse_ect::ConfigError;

use crate::io::{EXIT_OK, io_error};

/// `ect codes`.
pub fn run(out: &mut dyn Write) -> Result<u8, ConfigError> {
    out.write_all(wimse_ect_conformance::rules::markdown().as_bytes())
        .map(|()| EXIT_OK)
        .map_err(io_error)
}
