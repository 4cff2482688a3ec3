//! Known answers fixed by SPEC.md ECT-CLM-11: `inp_hash` = SHA-256(`test`) and `out_hash` =
//! SHA-256(`foo`) in unpadded base64url are valid; the same digests in standard base64, in hex,
//! and in the algorithm-prefixed form `sha-256:` of pre-submission text are invalid.

use base64ct::{Base64, Encoding};
use serde_json::Value;
use sha2::Digest;

use crate::build::*;

/// SPEC.md's known answer: base64url SHA-256 of `test`.
const SHA256_TEST: &str = "n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg";
/// SPEC.md's known answer: base64url SHA-256 of `foo`.
const SHA256_FOO: &str = "LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564";

/// Agent A's token for [`uuid`]`(1)` with claim `name` (`inp_hash` or `out_hash`) = `value`.
fn hash(name: &str, value: impl Into<Value>) -> String {
    let mut c = claims(&uuid(1));
    c.insert(name.into(), value.into());
    sign_a(&c)
}

/// The SHA-256 digest of `data` in standard, padded base64 (with `+`, `/` and `=`).
fn std_b64(data: &[u8]) -> String {
    Base64::encode_string(&sha2::Sha256::digest(data))
}

/// The SHA-256 digest of `data` as 64 lower-case hex digits.
fn hex(data: &[u8]) -> String {
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The vectors, in order.
pub fn vectors() -> Vec<V> {
    let c11 = ["ECT-CLM-11"];
    vec![
        V::token(
            "known-answers/inp-hash/test",
            "inp_hash = SHA-256(\"test\") in base64url",
            &c11,
            hash("inp_hash", SHA256_TEST),
        )
        .valid()
        .flag("KnownAnswer"),
        V::token(
            "known-answers/out-hash/foo",
            "out_hash = SHA-256(\"foo\") in base64url",
            &c11,
            hash("out_hash", SHA256_FOO),
        )
        .valid()
        .flag("KnownAnswer"),
        V::token(
            "known-answers/both",
            "inp_hash = SHA-256(\"test\") and out_hash = SHA-256(\"foo\")",
            &c11,
            {
                let mut c = claims(&uuid(1));
                c.insert("inp_hash".into(), SHA256_TEST.into());
                c.insert("out_hash".into(), SHA256_FOO.into());
                sign_a(&c)
            },
        )
        .valid()
        .flag("KnownAnswer"),
        V::token(
            "known-answers/inp-hash/standard-base64",
            "inp_hash = SHA-256(\"test\") in standard base64 (+, /, =)",
            &c11,
            hash("inp_hash", std_b64(b"test")),
        )
        .invalid("claims.hash"),
        V::token(
            "known-answers/out-hash/standard-base64",
            "out_hash = SHA-256(\"foo\") in standard base64 (+, /, =)",
            &c11,
            hash("out_hash", std_b64(b"foo")),
        )
        .invalid("claims.hash"),
        V::token(
            "known-answers/inp-hash/hex",
            "inp_hash = SHA-256(\"test\") in hex",
            &c11,
            hash("inp_hash", hex(b"test")),
        )
        .invalid("claims.hash"),
        V::token(
            "known-answers/out-hash/hex",
            "out_hash = SHA-256(\"foo\") in hex",
            &c11,
            hash("out_hash", hex(b"foo")),
        )
        .invalid("claims.hash"),
        V::token(
            "known-answers/inp-hash/legacy-prefix",
            "inp_hash = sha-256: + SHA-256(\"test\") in base64url",
            &c11,
            hash("inp_hash", format!("sha-256:{SHA256_TEST}")),
        )
        .invalid("claims.hash")
        .flag("LegacyHashPrefix"),
        V::token(
            "known-answers/out-hash/legacy-prefix",
            "out_hash = sha-256: + SHA-256(\"foo\") in base64url",
            &c11,
            hash("out_hash", format!("sha-256:{SHA256_FOO}")),
        )
        .invalid("claims.hash")
        .flag("LegacyHashPrefix"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        assert_eq!(wimse_ect::sha256_b64url(b"test"), SHA256_TEST);
        assert_eq!(wimse_ect::sha256_b64url(b"foo"), SHA256_FOO);
        assert_eq!(
            std_b64(b"test"),
            "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="
        );
        assert_eq!(
            std_b64(b"foo"),
            "LCa0a2j/xo/5m0U8HTBBNBNCLXBkg7+g+YpeiGJm564="
        );
        assert_eq!(
            hex(b"test"),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
        assert_eq!(
            hex(b"foo"),
            "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
        );
    }
}
