//! ECT-KEY-3: loading a verifier's trusted key set (`kind` `jwks`). Accepted: public P-256 JWKs
//! (`kty` `EC`, `crv` `P-256`, 32-byte `x` and `y` on the curve, a non-empty unique `kid`,
//! optional `alg` `ES256`, `use` `sig`, and `iss` binding the key to an issuer). Everything
//! else is refused with `key.invalid` (`wimse_ect::_documentation::decisions`, "Key-set load errors").

use serde_json::{Map, Value, json};

use crate::build::*;
use crate::vector::Verdict;
use wimse_ect::base64url::encode as b64_encode;

/// Agent A's public JWK bound to [`ISS_A`], changed by `edit`.
fn jwk_a(edit: impl FnOnce(&mut Map<String, Value>)) -> Map<String, Value> {
    let mut jwk = key_a().to_public_jwk(Some(ISS_A));
    edit(&mut jwk);
    jwk
}

/// A key set holding agent A's public JWK changed by `edit`.
fn set_a(edit: impl FnOnce(&mut Map<String, Value>)) -> Value {
    json!({"keys": [Value::Object(jwk_a(edit))]})
}

/// The base64url `x` coordinate of agent A's key, decoded.
fn x_a() -> Vec<u8> {
    let jwk = key_a().to_public_jwk(None);
    let x = jwk["x"].as_str().expect("x is a string");
    wimse_ect::base64url::decode(x.as_bytes()).expect("x is base64url")
}

/// The vectors, in order.
pub fn vectors() -> Vec<V> {
    let k3 = ["ECT-KEY-3"];
    let mut off_curve = x_a();
    off_curve[31] ^= 0x01;
    let mut b_as_a = key_b().to_public_jwk(Some(ISS_B));
    b_as_a.insert("kid".into(), "agent-a".into());
    vec![
        // Accepted sets.
        V::jwks(
            "keys/valid/two-bound",
            "agent-a and agent-b, each bound to its issuer",
            &k3,
            jwks(),
        )
        .valid(),
        V::jwks(
            "keys/valid/one-unbound",
            "one key without iss (bound to no issuer)",
            &k3,
            json!({"keys": [Value::Object(key_a().to_public_jwk(None))]}),
        )
        .valid(),
        V::jwks(
            "keys/valid/alg-use",
            "a key with alg ES256 and use sig",
            &k3,
            set_a(|j| {
                j.insert("alg".into(), "ES256".into());
                j.insert("use".into(), "sig".into());
            }),
        )
        .valid(),
        V::jwks(
            "keys/valid/minimal",
            "a key with only kty, crv, x, y and kid",
            &k3,
            set_a(|j| {
                j.remove("alg");
                j.remove("use");
                j.remove("iss");
            }),
        )
        .valid(),
        // The key material.
        V::jwks(
            "keys/invalid/private-part",
            "a public key entry carrying d (agent A's private scalar)",
            &k3,
            set_a(|j| {
                j.insert("d".into(), key_a().to_private_jwk()["d"].clone());
            }),
        )
        .invalid("key.invalid"),
        V::jwks(
            "keys/invalid/off-curve",
            "x with its lowest bit flipped: the point is not on P-256",
            &k3,
            set_a(|j| {
                j.insert("x".into(), b64_encode(&off_curve).into());
            }),
        )
        .invalid("key.invalid"),
        V::jwks(
            "keys/invalid/zero-point",
            "x = y = 32 zero bytes (the identity has no affine encoding)",
            &k3,
            set_a(|j| {
                j.insert("x".into(), b64_encode(&[0; 32]).into());
                j.insert("y".into(), b64_encode(&[0; 32]).into());
            }),
        )
        .invalid("key.invalid"),
        V::jwks(
            "keys/invalid/crv-p384",
            "crv P-384",
            &k3,
            set_a(|j| {
                j.insert("crv".into(), "P-384".into());
            }),
        )
        .invalid("key.invalid"),
        V::jwks(
            "keys/invalid/crv-secp256k1",
            "crv secp256k1",
            &k3,
            set_a(|j| {
                j.insert("crv".into(), "secp256k1".into());
            }),
        )
        .invalid("key.invalid"),
        V::jwks(
            "keys/invalid/crv-missing",
            "no crv",
            &k3,
            set_a(|j| {
                j.remove("crv");
            }),
        )
        .invalid("key.invalid"),
        V::jwks(
            "keys/invalid/kty-oct",
            "a symmetric key: kty oct with k",
            &k3,
            json!({"keys": [{
                "kty": "oct", "k": b64_encode(&[1; 32]), "kid": "agent-a", "alg": "HS256"
            }]}),
        )
        .invalid("key.invalid"),
        V::jwks(
            "keys/invalid/kty-rsa",
            "kty RSA with n and e",
            &k3,
            json!({"keys": [{
                "kty": "RSA", "n": b64_encode(&[0xc5; 256]), "e": "AQAB", "kid": "agent-a"
            }]}),
        )
        .invalid("key.invalid"),
        V::jwks(
            "keys/invalid/kty-missing",
            "no kty",
            &k3,
            set_a(|j| {
                j.remove("kty");
            }),
        )
        .invalid("key.invalid"),
        V::jwks(
            "keys/invalid/x-31-bytes",
            "x of 31 bytes",
            &k3,
            set_a(|j| {
                j.insert("x".into(), b64_encode(&x_a()[1..]).into());
            }),
        )
        .invalid("key.invalid"),
        V::jwks(
            "keys/invalid/x-33-bytes",
            "x of 33 bytes (a leading zero byte)",
            &k3,
            set_a(|j| {
                j.insert(
                    "x".into(),
                    b64_encode(&[&[0u8][..], &x_a()].concat()).into(),
                );
            }),
        )
        .invalid("key.invalid"),
        V::jwks(
            "keys/invalid/x-padded",
            "x with base64 padding =",
            &k3,
            set_a(|j| {
                j.insert("x".into(), format!("{}=", b64_encode(&x_a())).into());
            }),
        )
        .invalid("key.invalid"),
        V::jwks(
            "keys/invalid/x-number",
            "x is a number",
            &k3,
            set_a(|j| {
                j.insert("x".into(), 1.into());
            }),
        )
        .invalid("key.invalid"),
        V::jwks(
            "keys/invalid/y-missing",
            "no y",
            &k3,
            set_a(|j| {
                j.remove("y");
            }),
        )
        .invalid("key.invalid"),
        // kid.
        V::jwks(
            "keys/invalid/kid-missing",
            "no kid",
            &k3,
            set_a(|j| {
                j.remove("kid");
            }),
        )
        .acceptable("key.invalid", Verdict::Invalid, "KeySetStrictness"),
        V::jwks(
            "keys/invalid/kid-empty",
            "kid \"\"",
            &k3,
            set_a(|j| {
                j.insert("kid".into(), "".into());
            }),
        )
        .acceptable("key.invalid", Verdict::Invalid, "KeySetStrictness"),
        V::jwks(
            "keys/invalid/kid-number",
            "kid is a number",
            &k3,
            set_a(|j| {
                j.insert("kid".into(), 1.into());
            }),
        )
        .acceptable("key.invalid", Verdict::Invalid, "KeySetStrictness"),
        V::jwks(
            "keys/invalid/kid-duplicate",
            "agent B's key also under kid agent-a",
            &k3,
            json!({"keys": [
                Value::Object(key_a().to_public_jwk(Some(ISS_A))),
                Value::Object(b_as_a),
            ]}),
        )
        .acceptable("key.invalid", Verdict::Invalid, "KeySetStrictness"),
        V::jwks(
            "keys/invalid/same-key-twice",
            "agent A's key listed twice",
            &k3,
            json!({"keys": [
                Value::Object(key_a().to_public_jwk(Some(ISS_A))),
                Value::Object(key_a().to_public_jwk(Some(ISS_A))),
            ]}),
        )
        .acceptable("key.invalid", Verdict::Invalid, "KeySetStrictness"),
        // alg, use, iss.
        V::jwks(
            "keys/invalid/alg-rs256",
            "alg RS256",
            &k3,
            set_a(|j| {
                j.insert("alg".into(), "RS256".into());
            }),
        )
        .acceptable("key.invalid", Verdict::Invalid, "KeySetStrictness"),
        V::jwks(
            "keys/invalid/alg-hs256",
            "alg HS256",
            &k3,
            set_a(|j| {
                j.insert("alg".into(), "HS256".into());
            }),
        )
        .acceptable("key.invalid", Verdict::Invalid, "KeySetStrictness"),
        V::jwks(
            "keys/invalid/alg-es384",
            "alg ES384 on a P-256 key",
            &k3,
            set_a(|j| {
                j.insert("alg".into(), "ES384".into());
            }),
        )
        .acceptable("key.invalid", Verdict::Invalid, "KeySetStrictness"),
        V::jwks(
            "keys/invalid/use-enc",
            "use enc",
            &k3,
            set_a(|j| {
                j.insert("use".into(), "enc".into());
            }),
        )
        .acceptable("key.invalid", Verdict::Invalid, "KeySetStrictness"),
        V::jwks(
            "keys/invalid/iss-number",
            "iss is a number",
            &k3,
            set_a(|j| {
                j.insert("iss".into(), 1.into());
            }),
        )
        .invalid("key.invalid"),
        V::jwks(
            "keys/invalid/iss-empty",
            "iss \"\"",
            &k3,
            set_a(|j| {
                j.insert("iss".into(), "".into());
            }),
        )
        .invalid("key.invalid"),
        // The set.
        V::jwks(
            "keys/invalid/empty-set",
            "keys is []",
            &k3,
            json!({"keys": []}),
        )
        .acceptable("key.invalid", Verdict::Invalid, "KeySetStrictness"),
        V::jwks(
            "keys/invalid/keys-missing",
            "no keys member",
            &k3,
            json!({}),
        )
        .invalid("key.invalid"),
        V::jwks(
            "keys/invalid/keys-object",
            "keys is an object, not an array",
            &k3,
            json!({"keys": Value::Object(jwk_a(|_| {}))}),
        )
        .invalid("key.invalid"),
        V::jwks(
            "keys/invalid/entry-not-object",
            "a keys element is a string",
            &k3,
            json!({"keys": ["agent-a"]}),
        )
        .invalid("key.invalid"),
        V::jwks(
            "keys/invalid/not-object",
            "the key set is a JSON array of JWKs",
            &k3,
            json!([Value::Object(jwk_a(|_| {}))]),
        )
        .invalid("key.invalid"),
        V::jwks(
            "keys/invalid/bare-jwk",
            "a single JWK instead of a set",
            &k3,
            Value::Object(jwk_a(|_| {})),
        )
        .invalid("key.invalid"),
        V::jwks(
            "keys/invalid/same-key-two-kids",
            "agent A's public key under kid agent-a bound to agent A and under kid agent-a2 bound to agent B: its holder could choose its issuer through kid",
            &k3,
            json!({"keys": [
                Value::Object(key_a().to_public_jwk(Some(ISS_A))),
                Value::Object({
                    let mut twin = key_a().to_public_jwk(Some(ISS_B));
                    twin.insert("kid".into(), "agent-a2".into());
                    twin
                }),
            ]}),
        )
        .acceptable("key.invalid", Verdict::Invalid, "KeySetStrictness"),
    ]
}
