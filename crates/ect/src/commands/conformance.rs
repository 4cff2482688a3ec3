//! `ect conformance`: runs the vectors of every profile (or of `--profile`'s) against the
//! reference implementation or an external one (`--impl`) and prints the report, per profile
//! and in total.
//!
//! Each profile is a run of its own: the vector ids are the same in both profiles, so an
//! external implementation is started afresh for each profile (its answers are matched by id
//! within one profile's run), and each profile has its own expected failures, results and
//! verdict. `$ECT_PROFILE` is not read: by default every profile runs (a variable set for the
//! other commands must not quietly shrink a conformance run).

use std::io::Write;

use wimse_ect::ConfigError;
use wimse_ect_conformance::vector::ProfileName;

use crate::args::{ConformanceArgs, ReportFormat};
use crate::io::{EXIT_INVALID, EXIT_OK, io_error};

/// `ect conformance`.
pub fn run(
    args: &ConformanceArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, ConfigError> {
    use wimse_ect_conformance::harness::{
        self, External, Implementation, Options, ProfileXfails, Reference, Scoring,
    };
    let ConformanceArgs {
        vectors: dir,
        profile,
        implementation,
        xfails,
        format,
        timeout,
        verdict_only,
    } = args;
    let profiles: Vec<ProfileName> = match profile.as_deref() {
        None => ProfileName::ALL.to_vec(),
        Some(name) => vec![ProfileName::parse(name).ok_or_else(|| {
            ConfigError::new(format!(
                "--profile {name:?}: unknown profile (use {})",
                ProfileName::ALL.map(ProfileName::as_str).join(" or ")
            ))
        })?],
    };
    let (implementation, xfails, timeout) =
        (implementation.as_deref(), xfails.as_deref(), *timeout);
    let xfails = match xfails {
        Some(path) => ProfileXfails::load(path).map_err(ConfigError::new)?,
        None => ProfileXfails::default(),
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
    let mut start = |_: ProfileName| -> Box<dyn Implementation> {
        match implementation {
            Some(cmd) => Box::new(External::new(cmd, timeout)),
            None => Box::new(Reference),
        }
    };
    let report = harness::run_profiles(dir, &profiles, &mut start, &xfails, &options, err)
        .map_err(ConfigError::new)?;
    let format = match *format {
        ReportFormat::Table => harness::Format::Table,
        ReportFormat::Json => harness::Format::Json,
        ReportFormat::Markdown => harness::Format::Markdown,
    };
    out.write_all(harness::render_profiles(&report, format).as_bytes())
        .map_err(io_error)?;
    // A profile in which no case passed shows nothing about the implementation: it fails
    // even when nothing failed (everything skipped, or failed as expected).
    Ok(if report.ok() { EXIT_OK } else { EXIT_INVALID })
}
