//! Writes the fuzz seed corpora from the committed vectors:
//! `cargo run --example seed_corpora -- [VECTORS_DIR] [OUT_DIR]` (defaults `vectors` and
//! `fuzz/corpus`). One directory per fuzz target, one file per seed named by the SHA-256 of its
//! content, so running it again adds nothing.

use std::path::PathBuf;
use std::process::ExitCode;

use wimse_ect_conformance::fuzz::seed_corpora;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let vectors = args
        .next()
        .map_or_else(|| PathBuf::from("vectors"), PathBuf::from);
    let out = args
        .next()
        .map_or_else(|| PathBuf::from("fuzz/corpus"), PathBuf::from);
    match seed_corpora(&vectors, &out) {
        Ok(n) => {
            println!(
                "{n} seeds from {} written under {}",
                vectors.display(),
                out.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("seed_corpora: {e}");
            ExitCode::FAILURE
        }
    }
}
