//! `ect conformance`: runs every vector against the reference implementation or an external
//! one (`--impl`) and prints the report.

use std::io::Write;

use wimse_ect::ConfigError;

use crate::args::{ConformanceArgs, ReportFormat};
use crate::io::{EXIT_INVALID, EXIT_OK, io_error};

/// `ect conformance`.
pub fn run(
    args: &ConformanceArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, ConfigError> {
    use wimse_ect_conformance::harness::{self, External, Options, Reference, Scoring, Xfails};
    let ConformanceArgs {
        vectors: dir,
        implementation,
        xfails,
        format,
        timeout,
        verdict_only,
    } = args;
    let (implementation, xfails, timeout) =
        (implementation.as_deref(), xfails.as_deref(), *timeout);
    let vectors = harness::load(dir).map_err(ConfigError::new)?;
    if vectors.is_empty() {
        return Err(ConfigError::new(format!("no vectors in {}", dir.display())));
    }
    let xfails = match xfails {
        Some(path) => Xfails::load(path).map_err(ConfigError::new)?,
        None => Xfails::default(),
    };
    // try_from: a timeout too long for a Duration (1e300) is a usage error, not a panic.
    let timeout = match std::time::Duration::try_from_secs_f64(timeout) {
        Ok(t) if timeout > 0.0 => t,
        _ => {
            return Err(ConfigError::new(
                "--timeout must be a positive number of seconds",
            ));
        }
    };
    let options = Options {
        scoring: if *verdict_only {
            Scoring::VerdictOnly
        } else {
            Scoring::Strict
        },
        ..Options::default()
    };
    let report = match implementation {
        Some(cmd) => harness::run_with(
            &vectors,
            &mut External::new(cmd, timeout),
            &xfails,
            &options,
            err,
        ),
        None => harness::run_with(&vectors, &mut Reference, &xfails, &options, err),
    };
    let format = match *format {
        ReportFormat::Table => harness::Format::Table,
        ReportFormat::Json => harness::Format::Json,
        ReportFormat::Markdown => harness::Format::Markdown,
    };
    out.write_all(harness::render(&report, format).as_bytes())
        .map_err(io_error)?;
    // A run in which no case passed shows nothing about the implementation: it fails even
    // when nothing failed (everything skipped, or failed as expected).
    Ok(if report.ok() { EXIT_OK } else { EXIT_INVALID })
}
