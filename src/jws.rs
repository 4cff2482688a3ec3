//! Strict JWS Compact Serialization (RFC 7515 §7.1): the size limit and the split into three
//! decoded segments (ECT-JWS-1..3). Signing is [`crate::sign_raw`], beside the keys.
//!
//! This layer knows nothing about ECT claims. It is written on small crates (base64ct, p256)
//! rather than a JWT crate so that every byte accepted is a byte this crate chose to accept.

use crate::base64url;
use crate::error::{Error, Result};

/// Default maximum token length in bytes (ECT-JWS-1).
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 65536;

/// A token split into its three segments, each segment decoded.
///
/// Produced by [`split`]; the header and payload bytes are not yet parsed as JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compact<'a> {
    /// The exact ASCII bytes `segment0.segment1` the signature covers (ECT-SIG-2).
    pub signing_input: &'a [u8],
    /// The decoded header bytes.
    pub header: Vec<u8>,
    /// The decoded payload bytes.
    pub payload: Vec<u8>,
    /// The decoded signature bytes (not yet length-checked; that is ECT-SIG-1).
    pub signature: Vec<u8>,
}

/// Splits and decodes a compact JWS, applying ECT-JWS-1, ECT-JWS-2 and ECT-JWS-3 in that order.
pub fn split(token: &[u8], max_token_bytes: usize) -> Result<Compact<'_>> {
    // ECT-JWS-1: the size limit comes before anything else is done.
    if token.len() > max_token_bytes {
        return Err(Error::TooLarge {
            len: token.len(),
            max: max_token_bytes,
        });
    }
    // ECT-JWS-2: ASCII only, no whitespace anywhere, exactly three non-empty segments.
    if let Some(b) = token
        .iter()
        .find(|&&b| !b.is_ascii() || b.is_ascii_whitespace() || b == 0x0b)
    {
        let why = if b.is_ascii() {
            "whitespace in token"
        } else {
            "non-ASCII byte in token"
        };
        return Err(Error::Malformed(why.into()));
    }
    let segments: Vec<&[u8]> = token.split(|&b| b == b'.').collect();
    if segments.len() != 3 {
        return Err(Error::Malformed(format!(
            "{} segments, expected 3{}",
            segments.len(),
            if segments.len() == 5 {
                " (JWE is not accepted)"
            } else {
                ""
            }
        )));
    }
    if segments.iter().any(|s| s.is_empty()) {
        return Err(Error::Malformed("empty segment".into()));
    }
    // ECT-JWS-3: each of the three segments is strict unpadded base64url.
    let mut decoded = segments
        .iter()
        .enumerate()
        .map(|(i, s)| base64url::decode(s).ok_or(Error::Base64 { segment: i }));
    let header = decoded.next().expect("three segments")?;
    let payload = decoded.next().expect("three segments")?;
    let signature = decoded.next().expect("three segments")?;
    let signing_input = &token[..segments[0].len() + 1 + segments[1].len()];
    Ok(Compact {
        signing_input,
        header,
        payload,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(token: &str) -> &'static str {
        match split(token.as_bytes(), DEFAULT_MAX_TOKEN_BYTES) {
            Ok(_) => "ok",
            Err(e) => e.code(),
        }
    }

    #[test]
    fn splits_and_decodes() {
        let c = split(b"e30.eyJhIjoxfQ.AAAA", 100).unwrap();
        assert_eq!(c.signing_input, b"e30.eyJhIjoxfQ");
        assert_eq!(c.header, b"{}");
        assert_eq!(c.payload, br#"{"a":1}"#);
        assert_eq!(c.signature, vec![0, 0, 0]);
    }

    #[test]
    fn size_first() {
        assert_eq!(
            split(b"a a a a", 6),
            Err(Error::TooLarge { len: 7, max: 6 })
        );
        assert_eq!(code("e30.e30.AAAA"), "ok");
    }

    #[test]
    fn segment_errors() {
        assert_eq!(code("e30.e30"), "jws.malformed");
        assert_eq!(code("e30.e30.AAAA.AAAA"), "jws.malformed");
        assert_eq!(code("e30.e30.AAAA.AAAA.AAAA"), "jws.malformed");
        assert_eq!(code("e30..AAAA"), "jws.malformed");
        assert_eq!(code("e30.e30."), "jws.malformed");
        assert_eq!(code(".e30.AAAA"), "jws.malformed");
        assert_eq!(code("e30.e30.AAAA "), "jws.malformed");
        assert_eq!(code(" e30.e30.AAAA"), "jws.malformed");
        assert_eq!(code("e30.e3\t0.AAAA"), "jws.malformed");
        assert_eq!(code("e30.e30.AAAA\n"), "jws.malformed");
        assert_eq!(code("e30.e30.AA\x0bAA"), "jws.malformed");
        assert_eq!(code("e30.e30.AA\rAA"), "jws.malformed");
        assert_eq!(code("e30.é30.AAAA"), "jws.malformed");
        assert_eq!(code("{\"payload\":\"e30\"}"), "jws.malformed");
    }

    #[test]
    fn base64_errors() {
        assert_eq!(code("e30=.e30.AAAA"), "jws.base64");
        assert_eq!(code("e30.e30.AA+A"), "jws.base64");
        assert_eq!(code("e30.e30.AA/A"), "jws.base64");
        assert_eq!(code("e30.e30.AAAAA"), "jws.base64"); // length ≡ 1 mod 4
        assert_eq!(code("e31.e30.AAAA"), "jws.base64"); // non-canonical trailing bits
        assert_eq!(code("e30.e30.AA*A"), "jws.base64");
        assert_eq!(
            split(b"e30.e30=.AAAA", 100),
            Err(Error::Base64 { segment: 1 })
        );
    }
}
