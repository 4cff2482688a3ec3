//! Small shared helpers for the integration tests: fixed test keys, a valid claim set, raw
//! signing of arbitrary header/payload JSON, and a verifier constructor.
//!
//! Every test binary that declares `mod common;` compiles this file, and not every binary uses
//! every helper.
#![allow(dead_code)]

use serde_json::{Map, Value, json};
use wimse_ect::{DagValidator, EctBuilder, KeySet, Policy, SigningKey, Verifier, sign_raw};

/// A fixed "current time" for tests (seconds since the epoch).
pub const NOW: u64 = 1_772_000_000;
/// The verifier's own identifier (its audience).
pub const AUD: &str = "spiffe://example.org/verifier";
/// Issuer of agent A (key `KID_A`, not bound to an issuer in [`trusted_keys`]).
pub const ISS_A: &str = "spiffe://example.org/agent-a";
/// Issuer of agent B (key `KID_B`, bound to `ISS_B` in [`trusted_keys`]).
pub const ISS_B: &str = "spiffe://example.org/agent-b";
/// Key id of agent A's key.
pub const KID_A: &str = "agent-a";
/// Key id of agent B's key.
pub const KID_B: &str = "agent-b";
/// Key id of the attacker's key (never trusted).
pub const KID_ATTACKER: &str = "attacker";
/// The `jti` of [`claims`].
pub const JTI: &str = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";
/// The `exec_act` of [`claims`].
pub const EXEC_ACT: &str = "fetch_data";
/// The `typ` of profile draft-00.
pub const TYP: &str = "wimse-exec+jwt";
/// Lifetime (`exp - iat`) of [`claims`].
pub const LIFETIME: u64 = 600;

/// Agent A's fixed signing key (private scalar 0x11 repeated).
pub fn key_a() -> SigningKey {
    SigningKey::from_scalar_bytes(KID_A, &[0x11; 32]).expect("valid scalar")
}

/// Agent B's fixed signing key (private scalar 0x22 repeated).
pub fn key_b() -> SigningKey {
    SigningKey::from_scalar_bytes(KID_B, &[0x22; 32]).expect("valid scalar")
}

/// An attacker's fixed key (private scalar 0x33 repeated); no verifier trusts it.
pub fn attacker_key() -> SigningKey {
    SigningKey::from_scalar_bytes(KID_ATTACKER, &[0x33; 32]).expect("valid scalar")
}

/// The trusted keys: agent A's (unbound) and agent B's (bound to `ISS_B`).
pub fn trusted_keys() -> KeySet {
    KeySet::from_keys([key_a().trusted(None), key_b().trusted(Some(ISS_B))]).expect("distinct kids")
}

/// A verifier with SPEC.md's defaults for audience `AUD` over [`trusted_keys`].
pub fn verifier() -> Verifier {
    verifier_with(Policy::new(AUD))
}

/// A verifier with `policy` over [`trusted_keys`].
pub fn verifier_with(policy: Policy) -> Verifier {
    Verifier::new(trusted_keys(), policy).expect("valid policy")
}

/// A valid JOSE header for `kid`: `{"alg":"ES256","kid":kid,"typ":"wimse-exec+jwt"}`.
pub fn header(kid: &str) -> Map<String, Value> {
    obj(json!({ "alg": "ES256", "kid": kid, "typ": TYP }))
}

/// A valid claim set issued at `iat` by `ISS_A` for `AUD`, expiring `LIFETIME` s later, root
/// task (`par` empty), `jti` = `JTI`.
pub fn claims(iat: u64) -> Map<String, Value> {
    obj(json!({
        "iss": ISS_A,
        "aud": AUD,
        "iat": iat,
        "exp": iat + LIFETIME,
        "jti": JTI,
        "exec_act": EXEC_ACT,
        "par": [],
    }))
}

/// Signs `header` and `payload` serialized as compact JSON with `key` (no checks at all).
pub fn sign_json(
    header: &Map<String, Value>,
    payload: &Map<String, Value>,
    key: &SigningKey,
) -> String {
    let h = serde_json::to_vec(header).expect("serializes");
    let p = serde_json::to_vec(payload).expect("serializes");
    sign_raw(&h, &p, key)
}

/// `header(KID_A)` + `claims(NOW)` signed with `key_a()`: accepted by [`verifier`] at `NOW`.
pub fn valid_token() -> String {
    sign_json(&header(KID_A), &claims(NOW), &key_a())
}

/// Compact JSON of `map` with member `name` set to the raw JSON text `raw` (for values
/// serde_json would not write, such as `1.7e9`, or for invalid JSON).
pub fn json_with_raw_member(map: &Map<String, Value>, name: &str, raw: &str) -> Vec<u8> {
    const SENTINEL: &str = "__raw_member_value_sentinel__";
    let mut map = map.clone();
    map.insert(name.to_owned(), Value::String(SENTINEL.to_owned()));
    let text = serde_json::to_string(&map).expect("serializes");
    let quoted = format!("\"{SENTINEL}\"");
    assert_eq!(text.matches(&quoted).count(), 1, "sentinel appears once");
    text.replace(&quoted, raw).into_bytes()
}

/// The object inside a `json!` value.
pub fn obj(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not a JSON object: {other}"),
    }
}

/// The order n of the P-256 group, big-endian.
#[allow(unused_imports)] // not every test crate needs it
pub use wimse_ect_conformance::testing::P256_ORDER as N;

/// The high-S twin of a 64-byte ECDSA signature.
#[allow(unused_imports)] // not every test crate needs it
pub use wimse_ect_conformance::testing::high_s_twin;

/// A readable task id: UUID `00000000-0000-4000-8000-<n as 12 hex digits>`.
pub fn id(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

/// A readable workflow id.
pub fn wid(n: u64) -> String {
    format!("77777777-0000-4000-8000-{n:012x}")
}

/// A base time for DAG tests' tokens, comfortably inside the time window at `NOW`.
pub const T0: u64 = NOW - 300;

/// A builder for task `jti` issued at `iat` by agent A for `AUD`, lifetime `LIFETIME`.
pub fn ect(jti: &str, iat: u64) -> EctBuilder {
    EctBuilder::new(ISS_A, EXEC_ACT)
        .audience(AUD)
        .jti(jti)
        .issued_at(iat)
        .expires_at(iat + LIFETIME)
}

/// SPEC.md's defaults for audience `AUD`, with these DAG settings.
pub fn policy_with(dag: DagValidator) -> Policy {
    let mut policy = Policy::new(AUD);
    policy.dag = dag;
    policy
}

/// What an upgraded pre-`draft-01` database ledger answers (the SQLite and PostgreSQL upgrade
/// tests): it holds task 1 in workflow `w1` and task 2, naming the missing task 3, in `w2`;
/// the workflow-consistency lookups find them from the other workflow only, and the chain is
/// intact.
pub fn assert_upgraded_lookups(ledger: &dyn wimse_ect::Ledger, w1: &str, w2: &str) {
    let jti = |t: Option<std::sync::Arc<wimse_ect::StoredEct>>| t.map(|t| t.jti().to_owned());
    assert_eq!(
        ledger.get_elsewhere(Some(w2), &id(1)).map(jti),
        Ok(Some(id(1)))
    );
    assert_eq!(
        ledger.referrer_elsewhere(Some(w1), &id(3)).map(jti),
        Ok(Some(id(2)))
    );
    assert_eq!(
        ledger.referrer_elsewhere(Some(w2), &id(3)).map(jti),
        Ok(None)
    );
    assert_eq!(ledger.len(), Ok(2));
    ledger.verify_chain().unwrap();
}
