//! base64url without padding (RFC 7515 §2), strict: the encoding of every JWS segment, of
//! `inp_hash`/`out_hash`, of JWK coordinates and of ledger hashes.
//!
//! The bottom of the crate: it depends on nothing else here.

use base64ct::{Base64UrlUnpadded, Encoding};

/// Strict base64url decoding without padding.
///
/// Refuses `=`, `+`, `/`, any other character outside `[A-Za-z0-9_-]`, a length ≡ 1 (mod 4),
/// and non-canonical trailing bits (SPEC.md ECT-JWS-3, decision `NonCanonicalBase64`).
///
/// ```
/// use wimse_ect::base64url;
///
/// assert_eq!(base64url::decode(b"e30"), Some(b"{}".to_vec()));
/// assert_eq!(base64url::decode(b"e31"), None); // non-canonical trailing bits
/// assert_eq!(base64url::decode(b"e30="), None); // padding
/// ```
pub fn decode(input: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(input).ok()?;
    Base64UrlUnpadded::decode_vec(text).ok()
}

/// base64url encoding without padding.
pub fn encode(input: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(input)
}

/// Length of the unpadded base64url encoding of `n` bytes.
pub fn encoded_len(n: usize) -> usize {
    (4 * n).div_ceil(3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let enc = encode(&bytes);
            assert_eq!(enc.len(), encoded_len(len));
            assert_eq!(decode(enc.as_bytes()), Some(bytes));
        }
    }
}
