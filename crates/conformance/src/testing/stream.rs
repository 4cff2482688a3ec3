//! The adversarial partial-mode stream of SPEC.md §7 "Cost": early tokens naming many
//! not-yet-seen `jti`s, then a long chain of exactly those `jti`s, each naming many roots.
//!
//! Used by `benches/partial.rs`, `examples/partial_stream.rs` and the cost tests.

use serde_json::{Value, json};

use super::{AUDIENCE, NOW, agent_iss, agent_key, uuid};
use wimse_ect::DagValidator;
use wimse_ect::EctBuilder;
use wimse_ect::KeySet;
use wimse_ect::Policy;

/// Number of roots every chain token names (with its predecessor: `max_par` = 100 parents).
pub const STREAM_ROOTS: usize = 99;
/// Number of chain `jti`s each early token names.
pub const STREAM_NAMES_PER_EARLY: usize = 100;

/// A token stream and what it is verified with.
#[derive(Clone, Debug)]
pub struct Stream {
    /// The tokens, in presentation order.
    pub tokens: Vec<String>,
    /// The trusted key set (agent 0, bound to its issuer).
    pub keys: KeySet,
    /// The same key set as a JWKS, for `ect dag --jwks`.
    pub jwks: Value,
    /// Partial DAG mode, every other setting SPEC.md's default.
    pub policy: Policy,
    /// The `now` to present every token at.
    pub now: u64,
    /// How many tokens of [`Stream::tokens`] precede the chain (roots, then early tokens).
    pub before_chain: usize,
}

/// The stream of SPEC.md §7 "Cost" with a chain of `chain` tokens: [`STREAM_ROOTS`] roots,
/// then (when `early`) `chain / 100` (rounded up) early tokens each naming
/// [`STREAM_NAMES_PER_EARLY`] of the chain's `jti`s before any of them exists, then the chain,
/// whose token `i` names every root and (for `i > 0`) token `i - 1`.
///
/// Every token is agent 0's, issued 10 s before [`NOW`] and valid for 600 s; presented at
/// [`NOW`] in partial mode each passes §2–§6. Without `early` every chain token is accepted
/// with one lookup per parent; with it, each chain token is named by a stored token, so its
/// acceptance needs the bounded acyclicity walk (SPEC.md §7, ECT-DAG-4/5).
pub fn late_reference_stream(chain: usize, early: bool) -> Stream {
    let key = agent_key(0);
    let iss = agent_iss(0);
    let iat = NOW - 10;
    let sign = |jti: &str, parents: &[String]| {
        parents
            .iter()
            .fold(
                EctBuilder::new(&iss, "step")
                    .audience(AUDIENCE)
                    .jti(jti)
                    .issued_at(iat)
                    .expires_at(iat + 600),
                |b, p| b.parent(p),
            )
            .sign(&key)
            .expect("valid claims")
    };
    let roots: Vec<String> = (0..STREAM_ROOTS)
        .map(|r| uuid(0x1000_0000 + r as u128))
        .collect();
    let links: Vec<String> = (0..chain).map(|i| uuid(0x2000_0000 + i as u128)).collect();
    let mut tokens: Vec<String> = roots.iter().map(|r| sign(r, &[])).collect();
    if early {
        for (e, named) in links.chunks(STREAM_NAMES_PER_EARLY).enumerate() {
            tokens.push(sign(&uuid(0x3000_0000 + e as u128), named));
        }
    }
    let before_chain = tokens.len();
    for (i, jti) in links.iter().enumerate() {
        let mut parents = roots.clone();
        if i > 0 {
            parents.push(links[i - 1].clone());
        }
        tokens.push(sign(jti, &parents));
    }
    let trusted = key.trusted(Some(&iss));
    let jwks = json!({ "keys": [Value::Object(key.to_public_jwk(Some(&iss)))] });
    let mut policy = Policy::new(AUDIENCE);
    policy.dag = DagValidator::partial();
    Stream {
        tokens,
        keys: KeySet::from_keys([trusted]).expect("one valid key"),
        jwks,
        policy,
        now: NOW,
        before_chain,
    }
}
