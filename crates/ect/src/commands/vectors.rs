//! `ect vectors export|check`: writes the spec vectors of every profile, or compares a
//! directory with a fresh generation. `draft-00`'s files are in the directory itself,
//! `draft-01`'s in its `draft-01/` ([`wimse_ect_conformance::profile_dir`]); `check` reports a
//! difference in either by its path relative to the directory (`draft-01/claims.json differs`).

use std::io::Write;

use wimse_ect::ConfigError;

use wimse_ect_conformance::profile_dir;
use wimse_ect_conformance::vector::ProfileName;

use crate::args::VectorsCommand;
use crate::io::{EXIT_INVALID, EXIT_OK, io_error};

/// `ect vectors export|check`.
pub fn run(command: VectorsCommand, out: &mut dyn Write) -> Result<u8, ConfigError> {
    match command {
        VectorsCommand::Export { out: dir } => {
            let n = wimse_ect_conformance::export(&dir).map_err(ConfigError::new)?;
            let layout = ProfileName::ALL
                .into_iter()
                .map(|p| format!("{p}: {}", profile_dir(&dir, p).display()))
                .collect::<Vec<_>>()
                .join(", ");
            writeln!(out, "wrote {n} vectors to {} ({layout})", dir.display()).map_err(io_error)?;
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
