//! SPEC.md §4 for tokens: key resolution by `kid` (ECT-KEY-1), issuer binding (ECT-KEY-2),
//! signature encoding (ECT-SIG-1: 64 bytes `r‖s`, `0 < r, s < n`) and ECDSA verification
//! (ECT-SIG-2). Trusted key sets themselves (ECT-KEY-3) are in `keys`; an empty signature
//! segment is ECT-JWS-2 (`jws`).

use serde_json::{Map, Value, json};

use crate::build::*;
use crate::fixtures::{P256_ORDER, der_signature, high_s_twin};
use crate::vector::Verdict;
use wimse_ect::SigningKey;
use wimse_ect::base64url::{decode as b64_decode, encode as b64_encode};

/// Splits a compact token into its signing input (`segment0.segment1`) and decoded signature.
fn parts(token: &str) -> (String, Vec<u8>) {
    let (input, sig) = token.rsplit_once('.').expect("a compact token");
    let sig = b64_decode(sig.as_bytes()).expect("a base64url signature");
    (input.to_owned(), sig)
}

/// The compact token `signing_input.base64url(signature)`.
fn with_sig(signing_input: &str, signature: &[u8]) -> String {
    format!("{signing_input}.{}", b64_encode(signature))
}

/// [`valid_token`] with its signature bytes replaced by `edit(signature)`.
fn resign(edit: impl FnOnce(&mut Vec<u8>)) -> String {
    let (input, mut sig) = parts(&valid_token());
    edit(&mut sig);
    with_sig(&input, &sig)
}

/// [`valid_token`]'s signing input under a 64-byte signature `r‖s`.
fn rs(r: [u8; 32], s: [u8; 32]) -> String {
    let (input, _) = parts(&valid_token());
    with_sig(&input, &[r, s].concat())
}

/// The `r` of [`valid_token`]'s signature.
fn r_of_valid() -> [u8; 32] {
    parts(&valid_token()).1[..32].try_into().expect("32 bytes")
}

/// The `s` of [`valid_token`]'s signature.
fn s_of_valid() -> [u8; 32] {
    parts(&valid_token()).1[32..].try_into().expect("32 bytes")
}

/// Big-endian `a + 1` modulo 2^256.
fn add_one(a: &[u8; 32]) -> [u8; 32] {
    let mut out = *a;
    for byte in out.iter_mut().rev() {
        let (v, carry) = byte.overflowing_add(1);
        *byte = v;
        if !carry {
            break;
        }
    }
    out
}

/// The first of agent A's valid tokens for tasks [`uuid`]`(1..)` whose signature has a low `s`
/// (`s < n/2`), and its high-S twin (`s' = n - s`, same `r`): both verify.
fn low_s_token_and_twin() -> (String, String) {
    for n in 1.. {
        let token = sign_a(&claims(&uuid(n)));
        let (input, sig) = parts(&token);
        let twin = high_s_twin(&sig);
        // s < n/2 iff n - s > s (n is odd, so they are never equal).
        if twin[32..] > sig[32..] {
            return (token.clone(), with_sig(&input, &twin));
        }
    }
    unreachable!("some signature has a low s")
}

/// Agent A's claims for [`uuid`]`(1)` with `iss` set.
fn iss(value: &str) -> Map<String, Value> {
    let mut c = claims(&uuid(1));
    c.insert("iss".into(), value.into());
    c
}

/// Agent B's valid claims for [`uuid`]`(2)`.
fn claims_b() -> Map<String, Value> {
    let mut c = claims(&uuid(2));
    c.insert("iss".into(), ISS_B.into());
    c
}

/// A trusted key set with agent A's key bound to no issuer.
fn unbound_a() -> Value {
    json!({"keys": [Value::Object(key_a().to_public_jwk(None))]})
}

/// Signs `payload` under the header `kid` with `key`.
fn signed(kid: &str, payload: &Map<String, Value>, key: &SigningKey) -> String {
    sign(&header(kid), payload, key)
}

/// The vectors, in order.
pub fn vectors() -> Vec<V> {
    let k1 = ["ECT-KEY-1"];
    let k2 = ["ECT-KEY-2"];
    let s1 = ["ECT-SIG-1"];
    let s2 = ["ECT-SIG-2"];
    let n = P256_ORDER;
    let (input, sig) = parts(&valid_token());
    let (low, high) = low_s_token_and_twin();
    let mut flipped = sig.clone();
    flipped[10] ^= 0x01;
    let mut tampered = claims(&uuid(1));
    tampered.insert("exec_act".into(), "delete_data".into());
    let other_header = obj(json!({"alg": "ES256", "typ": typ(), "kid": "agent-a", "x": 1}));
    let raw_input = [
        serde_json::to_vec(&header("agent-a")).expect("serializes"),
        b".".to_vec(),
        serde_json::to_vec(&to_profile(&claims(&uuid(1)))).expect("serializes"),
    ]
    .concat();
    let mut n_minus_1 = n;
    n_minus_1[31] -= 1;
    let mut one = [0u8; 32];
    one[31] = 1;
    vec![
        // ECT-KEY-1 / ECT-KEY-2: key resolution and issuer binding.
        V::token(
            "signature/key/agent-a",
            "agent A's token under its bound key agent-a",
            &["ECT-KEY-1", "ECT-KEY-2", "ECT-SIG-1", "ECT-SIG-2"],
            valid_token(),
        )
        .valid(),
        V::token(
            "signature/key/agent-b",
            "agent B's token under its bound key agent-b",
            &["ECT-KEY-1", "ECT-KEY-2", "ECT-SIG-2"],
            signed("agent-b", &claims_b(), &key_b()),
        )
        .valid(),
        V::token(
            "signature/key/unknown-kid",
            "kid agent-c is not a trusted key",
            &k1,
            signed("agent-c", &claims(&uuid(1)), &attacker()),
        )
        .invalid("key.unknown"),
        V::token(
            "signature/key/attacker-kid",
            "kid names the attacker's own (untrusted) key",
            &k1,
            signed("attacker", &claims(&uuid(1)), &attacker()),
        )
        .invalid("key.unknown"),
        V::token(
            "signature/key/kid-case",
            "kid Agent-A: lookup is exact, no case folding",
            &k1,
            signed("Agent-A", &claims(&uuid(1)), &key_a()),
        )
        .invalid("key.unknown"),
        V::token(
            "signature/key/kid-trailing-space",
            "kid \"agent-a \" with a trailing space",
            &k1,
            signed("agent-a ", &claims(&uuid(1)), &key_a()),
        )
        .invalid("key.unknown"),
        V::token(
            "signature/issuer/other-issuer",
            "agent-a's key signs a token with iss of agent B",
            &k2,
            sign_a(&iss(ISS_B)),
        )
        .invalid("key.issuer_mismatch"),
        V::token(
            "signature/issuer/other-trusted-key",
            "agent-b signs a token claiming iss of agent A (kid agent-b)",
            &k2,
            signed("agent-b", &claims(&uuid(1)), &key_b()),
        )
        .invalid("key.issuer_mismatch"),
        V::token(
            "signature/issuer/trailing-slash",
            "iss is agent A's issuer with a trailing slash",
            &k2,
            sign_a(&iss(&format!("{ISS_A}/"))),
        )
        .invalid("key.issuer_mismatch"),
        V::token(
            "signature/issuer/case",
            "iss differs from the bound issuer in case only",
            &k2,
            sign_a(&iss(&ISS_A.to_uppercase())),
        )
        .invalid("key.issuer_mismatch"),
        V::token(
            "signature/issuer/empty-bound",
            "iss \"\" under a bound key: ECT-KEY-2 comes before ECT-CLM-3",
            &["ECT-KEY-2", "ECT-CLM-3"],
            sign_a(&iss("")),
        )
        .invalid("key.issuer_mismatch"),
        V::token(
            "signature/issuer/unbound-any-iss",
            "a key bound to no issuer accepts agent B's iss",
            &k2,
            sign_a(&iss(ISS_B)),
        )
        .valid()
        .with_jwks(unbound_a()),
        V::token(
            "signature/issuer/unbound-non-uri",
            "a key bound to no issuer accepts iss \"agent-x\"",
            &k2,
            sign_a(&iss("agent-x")),
        )
        .valid()
        .with_jwks(unbound_a()),
        // ECT-SIG-1: encoding.
        V::token(
            "signature/encoding/der",
            "DER-encoded signature of the same r and s",
            &s1,
            with_sig(&input, &der_signature(&sig)),
        )
        .invalid("sig.invalid"),
        V::token(
            "signature/encoding/63-bytes",
            "signature truncated to 63 bytes",
            &s1,
            resign(|s| s.truncate(63)),
        )
        .invalid("sig.invalid"),
        V::token(
            "signature/encoding/65-bytes",
            "signature with a 65th byte 0x00",
            &s1,
            resign(|s| s.push(0)),
        )
        .invalid("sig.invalid"),
        V::token(
            "signature/encoding/32-bytes",
            "only r (32 bytes)",
            &s1,
            resign(|s| s.truncate(32)),
        )
        .invalid("sig.invalid"),
        V::token(
            "signature/encoding/r-zero",
            "r = 0, s of a valid signature",
            &s1,
            rs([0; 32], s_of_valid()),
        )
        .invalid("sig.invalid"),
        V::token(
            "signature/encoding/s-zero",
            "s = 0, r of a valid signature",
            &s1,
            rs(r_of_valid(), [0; 32]),
        )
        .invalid("sig.invalid"),
        V::token(
            "signature/encoding/r-order",
            "r = n",
            &s1,
            rs(n, s_of_valid()),
        )
        .invalid("sig.invalid")
        .flag("Boundary"),
        V::token(
            "signature/encoding/s-order",
            "s = n",
            &s1,
            rs(r_of_valid(), n),
        )
        .invalid("sig.invalid")
        .flag("Boundary"),
        V::token(
            "signature/encoding/r-order-plus-one",
            "r = n + 1",
            &s1,
            rs(add_one(&n), s_of_valid()),
        )
        .invalid("sig.invalid"),
        V::token(
            "signature/encoding/all-ff",
            "r = s = 2^256 - 1 (all bytes 0xff)",
            &s1,
            rs([0xff; 32], [0xff; 32]),
        )
        .invalid("sig.invalid"),
        V::token(
            "signature/encoding/psychic",
            "all-zero signature r = s = 0 (CVE-2022-21449)",
            &s1,
            rs([0; 32], [0; 32]),
        )
        .invalid("sig.invalid"),
        V::token(
            "signature/encoding/r-order-minus-one",
            "r = n - 1 is in range but does not verify",
            &["ECT-SIG-1", "ECT-SIG-2"],
            rs(n_minus_1, s_of_valid()),
        )
        .invalid("sig.invalid")
        .flag("Boundary"),
        V::token(
            "signature/encoding/s-one",
            "s = 1 is in range but does not verify",
            &["ECT-SIG-1", "ECT-SIG-2"],
            rs(r_of_valid(), one),
        )
        .invalid("sig.invalid")
        .flag("Boundary"),
        // ECT-SIG-2: verification.
        V::token(
            "signature/verify/low-s",
            "a valid signature with s < n/2",
            &s2,
            low,
        )
        .valid(),
        V::token(
            "signature/verify/high-s",
            "the high-S twin (s' = n - s) of a valid signature",
            &s2,
            high,
        )
        .acceptable("sig.invalid", Verdict::Valid, "HighS"),
        V::token(
            "signature/verify/tampered-payload",
            "exec_act changed after signing, old signature kept",
            &s2,
            with_sig(&parts(&sign_a(&tampered)).0, &sig),
        )
        .invalid("sig.invalid"),
        V::token(
            "signature/verify/other-token-signature",
            "the signature of another token of agent A",
            &s2,
            with_sig(&input, &parts(&sign_a(&claims(&uuid(2)))).1),
        )
        .invalid("sig.invalid"),
        V::token(
            "signature/verify/attacker-key",
            "signed by the attacker's key under kid agent-a",
            &s2,
            signed("agent-a", &claims(&uuid(1)), &attacker()),
        )
        .invalid("sig.invalid"),
        V::token(
            "signature/verify/other-trusted-key",
            "signed by agent-b's key under kid agent-a",
            &s2,
            signed("agent-a", &claims(&uuid(1)), &key_b()),
        )
        .invalid("sig.invalid"),
        V::token(
            "signature/verify/bit-flip",
            "one bit of r flipped",
            &s2,
            with_sig(&input, &flipped),
        )
        .invalid("sig.invalid"),
        V::token(
            "signature/verify/r-s-swapped",
            "r and s swapped",
            &s2,
            rs(s_of_valid(), r_of_valid()),
        )
        .invalid("sig.invalid"),
        V::token(
            "signature/verify/other-header",
            "the header changed (an extra member) under the old signature",
            &s2,
            with_sig(
                &parts(&sign(&other_header, &claims(&uuid(1)), &key_a())).0,
                &sig,
            ),
        )
        .invalid("sig.invalid"),
        V::token(
            "signature/verify/decoded-input",
            "signature over the decoded JSON header.payload instead of the base64url segments",
            &s2,
            with_sig(&input, &key_a().sign(&raw_input)),
        )
        .invalid("sig.invalid"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::sub_be;

    #[test]
    fn big_endian_arithmetic() {
        let mut one = [0u8; 32];
        one[31] = 1;
        assert_eq!(sub_be(&one, &one), [0u8; 32]);
        let mut x = [0u8; 32];
        x[30] = 1; // 256
        let mut want = [0u8; 32];
        want[31] = 0xff;
        assert_eq!(sub_be(&x, &one), want);
        assert_eq!(add_one(&want), x);
        assert_eq!(add_one(&[0xff; 32]), [0u8; 32]);
        assert_eq!(sub_be(&P256_ORDER, &sub_be(&P256_ORDER, &x)), x);
    }
}
