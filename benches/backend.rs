//! ES256 verification by the P-256 backends (issue 7, item 5; results in BENCHMARKS.md).
//!
//! Group `backend/es256_verify`, one message (the JWS signing input `header.payload` of a
//! realistic ECT, about 600 bytes) and one signature, verified by:
//! * `p256`: `p256::ecdsa::VerifyingKey::verify` (the default backend), signature pre-parsed;
//! * `ring`: `ring::signature::UnparsedPublicKey::verify` with `ECDSA_P256_SHA256_FIXED` over
//!   the uncompressed SEC1 key (65 bytes) and the 64-byte `r‖s`;
//! * `trusted_key`: the crate's own [`TrustedKey::verify_signature`] (ECT-SIG-1 checks, then
//!   ECT-SIG-2 by the backend this build selected: ring with `--features ring`, else p256).
//!
//! `cargo bench --bench backend` then prints the means with their 95% confidence intervals and
//! the ratio p256/ring of the mean point estimates, read back from
//! `target/criterion/backend_es256_verify/*/new/estimates.json` (criterion writes the group's
//! `/` as `_`). Criterion's own `time:` lines are the slope estimates, not the means.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group};
use p256::ecdsa::signature::Verifier;
use wimse_ect::{EctBuilder, SigningKey, TrustedKey, sha256_b64url};

const GROUP: &str = "backend/es256_verify";

/// A fixed key, a realistic token, its signing input and its signature.
struct Fixture {
    trusted: TrustedKey,
    sec1: Vec<u8>,
    message: Vec<u8>,
    signature: [u8; 64],
}

fn fixture() -> Fixture {
    let key = SigningKey::from_scalar_bytes("bench-agent", &[7u8; 32]).expect("a scalar in 1..n");
    let mut builder = EctBuilder::new("spiffe://example.org/agent", "summarize")
        .audience("spiffe://example.org/verifier")
        .jti("6f1d2a4e-8c3b-4f7a-9e21-5b0c7d3e9a14")
        .issued_at(1_772_000_000)
        .expires_at(1_772_000_600)
        .wid("b7e0c1d2-3f4a-4b5c-8d6e-7f8091a2b3c4")
        .inp_hash(sha256_b64url(b"the task's input"))
        .out_hash(sha256_b64url(b"the task's output"));
    for i in 0..2 {
        builder = builder.parent(format!("0c5e7a9b-1d2f-4a3b-8c4d-5e6f7a8b9c{i:02}"));
    }
    let token = builder.sign(&key).expect("a valid token");
    let (message, _) = token.rsplit_once('.').expect("a compact JWS");
    let message = message.as_bytes().to_vec();
    let signature = key.sign(&message);
    let trusted = key.trusted(None);
    let sec1 = trusted.key().to_sec1_point(false).as_bytes().to_vec();
    Fixture {
        trusted,
        sec1,
        message,
        signature,
    }
}

fn es256_verify(c: &mut Criterion) {
    let f = fixture();
    assert_eq!(f.sec1.len(), 65);
    let p256_sig = p256::ecdsa::Signature::from_slice(&f.signature).expect("r, s in 1..n");
    let ring_key =
        ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, &f.sec1);
    // Both accept the signature and refuse it over another message, before anything is timed.
    assert!(f.trusted.key().verify(&f.message, &p256_sig).is_ok());
    assert!(ring_key.verify(&f.message, &f.signature).is_ok());
    assert_eq!(f.trusted.verify_signature(&f.message, &f.signature), Ok(()));
    assert!(ring_key.verify(b"another message", &f.signature).is_err());
    assert!(
        f.trusted
            .key()
            .verify(b"another message", &p256_sig)
            .is_err()
    );

    let mut group = c.benchmark_group(GROUP);
    group.bench_function("p256", |b| {
        b.iter(|| {
            f.trusted
                .key()
                .verify(black_box(&f.message), black_box(&p256_sig))
        })
    });
    group.bench_function("ring", |b| {
        b.iter(|| ring_key.verify(black_box(&f.message), black_box(&f.signature)))
    });
    group.bench_function("trusted_key", |b| {
        b.iter(|| {
            f.trusted
                .verify_signature(black_box(&f.message), black_box(&f.signature))
        })
    });
    group.finish();
    println!(
        "message: {} bytes; TrustedKey backend in this build: {}",
        f.message.len(),
        if cfg!(feature = "ring") {
            "ring"
        } else {
            "p256"
        }
    );
}

criterion_group!(benches, es256_verify);

/// The mean (ns) of one benchmark of the group and its confidence interval, from criterion's
/// output.
fn mean_ns(name: &str) -> Option<[f64; 3]> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    let path = target
        .join("criterion")
        .join(GROUP.replace('/', "_"))
        .join(name)
        .join("new/estimates.json");
    let text = std::fs::read(path).ok()?;
    let json: serde_json::Value = serde_json::from_slice(&text).ok()?;
    let mean = &json["mean"];
    let interval = &mean["confidence_interval"];
    Some([
        mean["point_estimate"].as_f64()?,
        interval["lower_bound"].as_f64()?,
        interval["upper_bound"].as_f64()?,
    ])
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // Only a real measurement (`cargo bench`, which passes `--bench`) writes new estimates;
    // in test mode (`cargo test --benches`) the files on disk may be stale.
    if std::env::args().any(|a| a == "--bench") {
        let names = ["p256", "ring", "trusted_key"];
        let means = names.map(mean_ns);
        for (name, mean) in names.iter().zip(&means) {
            if let Some([point, lower, upper]) = mean {
                println!(
                    "mean {name}: {:.2} µs [{:.2} µs, {:.2} µs]",
                    point / 1e3,
                    lower / 1e3,
                    upper / 1e3
                );
            }
        }
        if let [Some([p256, ..]), Some([ring, ..]), _] = means {
            println!("p256/ring (means) = {:.2}x", p256 / ring);
        }
    }
}
