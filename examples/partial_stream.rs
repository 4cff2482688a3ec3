//! The adversarial partial-mode stream of SPEC.md §7 "Cost" (`wimse_ect_conformance::testing::stream`),
//! accepted in-process into a `MemoryLedger`, with the wall time, and optionally written out
//! for `ect dag --partial`:
//!
//! ```sh
//! cargo run --release --example partial_stream -- [--chain N] [--no-early] [--write DIR]
//! ect dag --partial --jwks DIR/jwks.json --audience spiffe://example.org/verifier \
//!     --now 1772000000 DIR/tokens.txt
//! ```

use std::time::Instant;

use wimse_ect::{MemoryLedger, Verifier};
use wimse_ect_conformance::testing::stream::late_reference_stream;

fn main() {
    let mut chain = 800;
    let mut early = true;
    let mut write = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--chain" => chain = args.next().and_then(|n| n.parse().ok()).expect("--chain N"),
            "--no-early" => early = false,
            "--write" => write = Some(args.next().expect("--write DIR")),
            other => panic!("unknown argument {other}"),
        }
    }
    let stream = late_reference_stream(chain, early);
    if let Some(dir) = write {
        std::fs::create_dir_all(&dir).expect("create the directory");
        std::fs::write(format!("{dir}/tokens.txt"), stream.tokens.join("\n") + "\n")
            .expect("write tokens.txt");
        std::fs::write(format!("{dir}/jwks.json"), stream.jwks.to_string())
            .expect("write jwks.json");
    }
    let verifier = Verifier::new(stream.keys.clone(), stream.policy.clone()).expect("policy");
    let ledger = MemoryLedger::new();
    let mut codes = std::collections::BTreeMap::<&str, usize>::new();
    let start = Instant::now();
    for t in &stream.tokens {
        let code = match verifier.accept(t, stream.now, &ledger) {
            Ok(_) => "accepted",
            Err(e) => e.code(),
        };
        *codes.entry(code).or_default() += 1;
    }
    let elapsed = start.elapsed();
    println!(
        "chain {chain}, early tokens {early}: {} tokens in {:.3} s ({:.1} µs per token); {codes:?}; ledger {} entries",
        stream.tokens.len(),
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / stream.tokens.len() as f64,
        ledger.len()
    );
}
