//! The `ect` command-line tool; all logic lives in `wimse_ect::cli`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    wimse_ect::cli::main()
}
