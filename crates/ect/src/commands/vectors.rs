//! `ect vectors export|check`: writes the spec vectors, or compares a directory with a fresh
//! generation.

use std::io::Write;

use wimse_ect::ConfigError;

use crate::args::VectorsCommand;
use crate::io::{EXIT_INVALID, EXIT_OK, io_error};

/// `ect vectors export|check`.
pub fn run(command: VectorsCommand, out: &mut dyn Write) -> Result<u8, ConfigError> {
    match command {
        VectorsCommand::Export { out: dir } => {
            let n = wimse_ect_conformance::export(&dir).map_err(ConfigError::new)?;
            writeln!(out, "wrote {n} vectors to {}", dir.display()).map_err(io_error)?;
            Ok(EXIT_OK)
        }
        VectorsCommand::Check { dir } => {
            let differences = wimse_ect_conformance::check(&dir).map_err(ConfigError::new)?;
            for d in &differences {
                writeln!(out, "{}: {d}", dir.display()).map_err(io_error)?;
            }
            if differences.is_empty() {
                writeln!(out, "{}: up to date", dir.display()).map_err(io_error)?;
                Ok(EXIT_OK)
            } else {
                writeln!(out, "run `ect vectors export --out {}`", dir.display())
                    .map_err(io_error)?;
                Ok(EXIT_INVALID)
            }
        }
    }
}
