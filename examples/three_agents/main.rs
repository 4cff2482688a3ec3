//! Three agents over loopback HTTP: agent A calls agent B with its root ECT; B verifies it
//! (`EctLayer`), does its task and calls agent C with its own child ECT plus A's as its inline
//! parent; C verifies the DAG inline and accepts both into its ledger. Then C's ledger is
//! audited and one replayed request is refused (403).
//!
//! ```sh
//! cargo run --release --example three_agents --features axum
//! ```
//!
//! The workflow is in `workflow.rs`, which `ect demo --http` runs too.

mod workflow;

use std::process::ExitCode;

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("three_agents: a tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    match runtime.block_on(workflow::run(&mut out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("three_agents: {e}");
            ExitCode::FAILURE
        }
    }
}
