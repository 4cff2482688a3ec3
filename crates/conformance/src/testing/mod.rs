//! Conformance generators: proptest strategies of valid ECT workflows,
//! one [`Mutation`] per coded SPEC.md rule that breaks exactly that rule, and a [`Workflow`]
//! runner that checks the outcome.
//!
//! This is what makes `cargo test` a conformance suite (tests/conformance/ uses it), and other
//! Rust implementations can reuse it: generate a [`Workflow`] or a mutated [`Case`], present its
//! tokens to the implementation under test in order, and compare with [`Case::expected`].
//!
//! * [`valid_workflow`]: 1 to 64 tokens in topological order with parents drawn from earlier
//!   tokens of the same scope (chains, fan-out, fan-in, diamonds, several roots), `iat` values
//!   consistent with the skew rule, `wid` shared, absent or several scopes, several issuers each
//!   with its own key, optional claims sometimes present, values at the limits (`ext` exactly
//!   4096 bytes or depth 5, `par` at `max_par`, `iat`/`exp` at the leeway and max-age
//!   boundaries, a child issued exactly `skew` before its parent).
//! * [`valid_token`]: one token verified on its own, with `par` of up to `max_par` unresolved
//!   parents.
//! * [`workflow_with_late_parents`]: a valid workflow presented out of order, some parents
//!   never, some late and changed to break ECT-DAG-3, -4 or -6 against their stored children
//!   (SPEC.md §7, "Late parents"); [`Workflow::run_each`] presents every step and audits what
//!   was accepted.
//! * [`Mutation`]: turns a valid workflow into a [`Case`] that breaks exactly one rule, with
//!   the step that must fail and the exact code.
//!
//! "Exactly one rule": the mutated token passes every other rule of SPEC.md. Where the defect
//! is not in the signature the token is re-signed ([`wimse_ect::sign_raw`]); a value the defect
//! moves (`iat`, a step's `now`, a verifier limit) is moved so nothing else breaks; tokens a
//! rule needs beforehand (for a cycle, a budget walk, a refused parent) are appended, each
//! valid. Three defects are inherent: a `par` element that is not a UUID (ECT-CLM-8) or is the
//! token's own `jti` (ECT-CLM-9) can never resolve, and an invalid `wid` (ECT-CLM-6) names no
//! scope; the claim checks reject them before any store is consulted.
//!
//! Everything is deterministic given the strategy's random values: fixed keys ([`agent_key`]),
//! RFC 6979 signatures, a fixed [`NOW`]. Nothing here reads a clock.

pub(crate) mod json;
mod mutation;
mod run;
pub mod stream;
mod workflow;

pub use crate::fixtures::{P256_ORDER, der_signature, high_s_twin, sub_be};
pub use json::{render_json, with_raw_member};
pub use mutation::{Case, Expected, Mutation, Tamper, case, case_in};
pub use run::{AcceptedStep, EachReport, Rejection, RunReport, Stage, chained};
pub use workflow::{
    Agent, Delivery, LedgerKind, Step, Workflow, WorkflowConfig, valid_token, valid_workflow,
    valid_workflow_with, workflow_with_late_parents, workflow_with_late_parents_in,
};

use serde_json::{Map, Value};

use wimse_ect::SigningKey;
use wimse_ect::sign_raw;

/// The time at which generated workflows are presented (seconds since the epoch).
pub const NOW: u64 = 1_772_000_000;

/// The verifier's identifier, the `aud` every generated token names.
pub const AUDIENCE: &str = "spiffe://example.org/verifier";

/// Largest valid NumericDate (ECT-TIME-5).
pub const MAX_NUMERIC_DATE: u64 = (1 << 53) - 1;

/// The fixed signing key of agent `i` (`kid` `agent-{i}`), derived from the scalar `0x5e`
/// followed by `i + 1` repeated, so every run signs the same bytes. The leading byte keeps
/// these keys apart from the vectors' keys (scalars `0x01…`, `0x02…`, `0xa7…`), so that a key
/// set may trust both (one public key appears only once in a key set, ECT-KEY-3).
pub fn agent_key(i: usize) -> SigningKey {
    let mut d = [u8::try_from(i % 200).expect("below 200") + 1; 32];
    d[0] = 0x5e;
    SigningKey::from_scalar_bytes(format!("agent-{i}"), &d).expect("a valid scalar")
}

/// The issuer identifier of agent `i`.
pub fn agent_iss(i: usize) -> String {
    format!("spiffe://example.org/agent-{i}")
}

/// A key that no generated verifier trusts (`kid` `attacker`).
pub fn attacker_key() -> SigningKey {
    SigningKey::from_scalar_bytes("attacker", &[0xa7; 32]).expect("a valid scalar")
}

/// A UUID in RFC 9562 text form (lower-case hex) from its 128-bit value.
pub fn uuid(value: u128) -> String {
    let h = format!("{value:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Signs a header and a payload given as JSON objects (compact serialization, sorted members).
pub fn sign_json(
    header: &Map<String, Value>,
    payload: &Map<String, Value>,
    key: &SigningKey,
) -> String {
    sign_raw(&to_bytes(header), &to_bytes(payload), key)
}

/// A JSON object's compact serialization.
pub(crate) fn to_bytes(map: &Map<String, Value>) -> Vec<u8> {
    serde_json::to_vec(map).expect("a JSON map serializes")
}
