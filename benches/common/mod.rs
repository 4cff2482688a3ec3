//! Helpers shared by the benchmarks (a module of each bench binary that uses it, not a bench
//! of its own).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde_json::Value;

/// Criterion's mean point estimate of `group/name`, in nanoseconds, from this run (`None` if it
/// did not run in this process: a filtered run leaves older results on disk).
pub fn mean(group: &str, name: &str, started: SystemTime) -> Option<f64> {
    let home = std::env::var_os("CRITERION_HOME")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR").map(|d| PathBuf::from(d).join("criterion"))
        })
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/criterion"));
    let path = home.join(group).join(name).join("new/estimates.json");
    let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
    if modified < started {
        return None;
    }
    let estimates: Value =
        serde_json::from_slice(&std::fs::read(&path).ok()?).expect("criterion's estimates");
    estimates["mean"]["point_estimate"].as_f64()
}
