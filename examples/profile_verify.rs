//! Instruction counts of verification under callgrind (BENCHMARKS.md, "Profile"): the same
//! typical token verified `N` times by the bare p256 call and by [`Verifier::verify`] (replay
//! protection off, so that one token can be verified again), each inside its own
//! `#[inline(never)]` function so that callgrind can count only that function:
//!
//! ```sh
//! cargo build --release -p wimse-ect --example profile_verify
//! valgrind --tool=callgrind --toggle-collect='*measure_p256*' target/release/examples/profile_verify 100
//! valgrind --tool=callgrind --toggle-collect='*measure_ect*' target/release/examples/profile_verify 100
//! callgrind_annotate callgrind.out.<pid>
//! ```

use std::hint::black_box;

use p256::ecdsa::signature::Verifier as _;
use serde_json::{Map, json};
use wimse_ect::{EctBuilder, KeySet, Policy, ReplayProtection, SigningKey, Verifier};

const NOW: u64 = 1_772_000_000;
const AUD: &str = "spiffe://example.org/verifier";
const ISS: &str = "spiffe://example.org/agent";

#[inline(never)]
fn measure_p256(
    key: &p256::ecdsa::VerifyingKey,
    input: &[u8],
    sig: &p256::ecdsa::Signature,
    n: usize,
) {
    for _ in 0..n {
        black_box(key)
            .verify(black_box(input), black_box(sig))
            .expect("valid");
    }
}

#[inline(never)]
fn measure_ect(verifier: &Verifier, token: &str, n: usize) {
    for _ in 0..n {
        black_box(verifier.verify(black_box(token), NOW).expect("valid"));
    }
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(100, |a| a.parse().expect("a count"));
    let key = SigningKey::from_scalar_bytes("bench-agent", &[0x42; 32]).expect("scalar");
    let mut ext = Map::new();
    ext.insert("tool".into(), json!("search"));
    ext.insert("tokens".into(), json!(1234));
    let hash = "n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg";
    let mut b = EctBuilder::new(ISS, "summarize_results")
        .audience(AUD)
        .jti("00000000-0000-4000-8000-000000100000")
        .wid("6ba7b810-9dad-41d1-80b4-00c04fd430c8")
        .issued_at(NOW)
        .expires_at(NOW + 600)
        .inp_hash(hash)
        .out_hash(hash)
        .ext(ext);
    for k in 1..=3 {
        b = b.parent(format!("00000000-0000-4000-8000-{k:012x}"));
    }
    let token = b.sign(&key).expect("a valid token");
    let dot = token.rfind('.').expect("three segments");
    let sig_bytes =
        <base64ct::Base64UrlUnpadded as base64ct::Encoding>::decode_vec(&token[dot + 1..])
            .expect("base64url");
    let sig = p256::ecdsa::Signature::from_slice(&sig_bytes).expect("64 bytes");
    let mut policy = Policy::new(AUD);
    policy.replay = ReplayProtection::Disabled;
    let verifier = Verifier::new(
        KeySet::from_keys([key.trusted(Some(ISS))]).expect("one key"),
        policy,
    )
    .expect("valid policy");
    eprintln!("token: {} bytes", token.len());
    measure_p256(key.verifying_key(), &token.as_bytes()[..dot], &sig, n);
    measure_ect(&verifier, &token, n);
}
