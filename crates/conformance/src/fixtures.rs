//! Small fixtures shared by the vector generator, the conformance runner, the `testing`
//! generators and test suites: raw signature encodings.

/// The P-256 group order n, big-endian (signature scalars must lie in `1..n`, ECT-SIG-1).
pub const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// The DER encoding `SEQUENCE { INTEGER r, INTEGER s }` of a 64-byte `r‖s` signature: the
/// form ECT-SIG-1 refuses.
///
/// # Panics
///
/// If `sig` is not 64 bytes long.
pub fn der_signature(sig: &[u8]) -> Vec<u8> {
    assert_eq!(sig.len(), 64, "r||s is 64 bytes");
    let int = |x: &[u8]| {
        let mut v: Vec<u8> = x.iter().copied().skip_while(|&b| b == 0).collect();
        if v.first().is_none_or(|&b| b >= 0x80) {
            v.insert(0, 0);
        }
        let mut out = vec![0x02, v.len() as u8];
        out.extend(v);
        out
    };
    let body = [int(&sig[..32]), int(&sig[32..])].concat();
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

/// `a - b` for 32-byte big-endian integers, modulo 2^256 (callers keep `a >= b`).
pub fn sub_be(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(a[i]) - i16::from(b[i]) - borrow;
        borrow = 0;
        if d < 0 {
            d += 256;
            borrow = 1;
        }
        out[i] = d as u8;
    }
    out
}

/// The high-S twin `(r, n - s)` of a 64-byte ECDSA signature `(r, s)`: it verifies exactly
/// when the original does (ECT-SIG-2 accepts both).
///
/// # Panics
///
/// If `sig` is not 64 bytes long.
pub fn high_s_twin(sig: &[u8]) -> Vec<u8> {
    assert_eq!(sig.len(), 64, "r||s is 64 bytes");
    let s: [u8; 32] = sig[32..].try_into().expect("32 bytes");
    [&sig[..32], &sub_be(&P256_ORDER, &s)[..]].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_pads_high_bits_and_strips_leading_zeros() {
        let mut sig = [0u8; 64];
        sig[0] = 0x80; // r has its top bit set: a 0x00 pad byte
        sig[63] = 0x01; // s = 1: leading zeros stripped
        let der = der_signature(&sig);
        assert_eq!(&der[..4], &[0x30, 2 + 33 + 2 + 1, 0x02, 33]);
        assert_eq!(&der[4..6], &[0x00, 0x80]);
        assert_eq!(&der[der.len() - 3..], &[0x02, 0x01, 0x01]);
    }

    #[test]
    fn high_s_twin_subtracts_from_the_order() {
        let mut sig = [0u8; 64];
        sig[0] = 7;
        sig[63] = 1;
        let twin = high_s_twin(&sig);
        assert_eq!(&twin[..32], &sig[..32]);
        let mut n_minus_1 = P256_ORDER;
        n_minus_1[31] -= 1;
        assert_eq!(&twin[32..], &n_minus_1[..]);
        assert_eq!(sub_be(&[0; 32], &[0; 32]), [0; 32]);
    }
}
