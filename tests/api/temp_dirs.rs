//! Regression: the reference's evaluation of a `ledger` vector writes the vector's file into a
//! temporary directory. That directory used to have a predictable name
//! (`$TMPDIR/wimse-ect-vector-<n>-<pid>-<m>`, from two counters and the process id), and an
//! existing directory of that name was reused: another local user could create it first with
//! a symlink `ledger.jsonl` pointing at a file of the victim's, and `ect conformance` would
//! overwrite that file with the vector's content. Temporary directories now come from the
//! `tempfile` crate: random names, created exclusively (never an existing directory).
//!
//! This file holds one test, so its process evaluates exactly one vector and the old code's
//! counters would have been 0 and 0.

use std::fs;
use std::path::{Path, PathBuf};

use wimse_ect_conformance::build::settings;
use wimse_ect_conformance::reference::evaluate;
use wimse_ect_conformance::vector::{AnswerResult, Case, Kind};

/// What the victim's file holds; it must still hold exactly this afterwards.
const VICTIM: &[u8] = b"the victim's own data, not a ledger\n";

/// Makes `dir` impossible for this process to empty or remove, as another user's directory in
/// a sticky `/tmp` is for the victim: read-only for an ordinary user, and immutable
/// (`chattr +i`) for root, who ignores permission bits.
fn make_unremovable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o555)).unwrap();
    if is_root() {
        let status = std::process::Command::new("chattr")
            .arg("+i")
            .arg(dir)
            .status()
            .expect("run chattr (root needs it to make the directory unremovable)");
        assert!(status.success(), "chattr +i {}", dir.display());
    }
}

fn make_removable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if is_root() {
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .arg(dir)
            .status();
    }
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o755));
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// Removes the planted directories even when an assertion fails.
struct Planted(Vec<PathBuf>);

impl Drop for Planted {
    fn drop(&mut self) {
        for dir in &self.0 {
            make_removable(dir);
            let _ = fs::remove_dir_all(dir);
        }
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_planted_symlink_in_a_predictable_temp_dir_is_never_written_through() {
    let victim_dir = tempfile::tempdir().unwrap();
    let victim = victim_dir.path().join("victim.txt");
    fs::write(&victim, VICTIM).unwrap();

    // Every name the old code could pick for its first few directories in this process.
    let pid = std::process::id();
    let mut planted = Planted(Vec::new());
    for n in 0..3 {
        for m in 0..3 {
            let dir = std::env::temp_dir().join(format!("wimse-ect-vector-{n}-{pid}-{m}"));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir(&dir).unwrap();
            std::os::unix::fs::symlink(&victim, dir.join("ledger.jsonl")).unwrap();
            planted.0.push(dir.clone());
            make_unremovable(&dir);
        }
    }

    let case = Case {
        kind: Kind::Ledger,
        jwks: serde_json::json!({ "keys": [] }),
        settings: settings(),
        token: None,
        mode: None,
        before: Vec::new(),
        store: Vec::new(),
        field_lines: Vec::new(),
        ledger: Some(String::new()),
    };
    let outcome = evaluate(&case).expect("a well-formed case");
    // The empty file is an empty, valid ledger (not the victim's content read back).
    assert_eq!(outcome.result, AnswerResult::Valid);
    assert_eq!(outcome.error, None);
    assert_eq!(
        fs::read(&victim).unwrap(),
        VICTIM,
        "the evaluation wrote through the planted symlink"
    );
    // The planted directories are as they were (nothing removed, nothing followed).
    for dir in &planted.0 {
        assert_eq!(fs::read_link(dir.join("ledger.jsonl")).unwrap(), victim);
    }
}
