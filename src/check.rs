//! The stateless check: SPEC.md §2–§6 except ECT-RPL-1, in SPEC.md's order of checks, one
//! commented line per rule id. [`VerifiedEct`] is its result and the only way to reach checked
//! claims; the stateful verifier ([`crate::Verifier`]) adds the DAG rules, the ledger and the
//! replay record.

use crate::claims::{Claims, UncheckedClaims};
use crate::error::{Error, Result};
use crate::header::Header;
use crate::json::parse_object;
use crate::jws::split;
use crate::keys::KeyResolver;
use crate::policy::{MAX_PAR_RANGE, MAX_TOKEN_BYTES_RANGE, Policy};
use crate::profile::Profile;
use crate::store::StoredEct;

/// A token that passed every check. The only way to reach checked claims.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedEct {
    token: String,
    header: Header,
    claims: Claims,
}

impl VerifiedEct {
    /// The compact token exactly as presented.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The checked header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The checked claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The token id (`jti`), which is also the task id.
    pub fn jti(&self) -> &str {
        &self.claims.jti
    }

    /// Token, header and claims, by value.
    pub fn into_parts(self) -> (String, Header, Claims) {
        (self.token, self.header, self.claims)
    }
}

impl From<VerifiedEct> for StoredEct {
    fn from(v: VerifiedEct) -> Self {
        let (token, _header, claims) = v.into_parts();
        StoredEct::new(token, claims)
    }
}

/// SPEC.md §2–§6 except ECT-RPL-1, in SPEC.md's order.
///
/// * `keys: None` skips the signature rules (ECT-KEY-1, ECT-SIG-1, ECT-SIG-2, ECT-KEY-2), for
///   audits of stored tokens whose keys are not at hand.
/// * `now: None` skips the rules relative to a verifier (ECT-TIME-2..4, ECT-AUD-1), for
///   reading back a ledger's own entries.
pub(crate) fn check_token(
    p: &Policy,
    keys: Option<&dyn KeyResolver>,
    token: &[u8],
    now: Option<u64>,
) -> Result<VerifiedEct> {
    // ECT-JWS-1 (size), ECT-JWS-2 (three ASCII segments), ECT-JWS-3 (base64url, all three).
    let compact = split(token, p.max_token_bytes)?;
    // ECT-JWS-4, ECT-JWS-5 on the header.
    let header_json = parse_object(&compact.header)?;
    // ECT-HDR-1 (typ), ECT-HDR-2 (alg), ECT-HDR-3 (crit), ECT-HDR-4 (kid). ECT-HDR-5: no
    // other header parameter is read, so an embedded jwk/jku/x5u/x5c is never used.
    let header = Header::parse(&header_json, &p.profile, &p.algorithms)?;
    let key = match keys {
        Some(keys) => {
            // ECT-KEY-1: kid resolves through the verifier's own trusted keys.
            let key = keys
                .resolve(header.kid())
                .ok_or_else(|| Error::KeyUnknown(header.kid().to_owned()))?;
            // ECT-SIG-1 (64-byte r||s, 0 < r, s < n), ECT-SIG-2 (ECDSA over segment0.segment1).
            key.verify_signature(compact.signing_input, &compact.signature)?;
            Some(key)
        }
        None => None,
    };
    // ECT-JWS-4, ECT-JWS-5 on the payload, only now that the signature verified.
    let payload = parse_object(&compact.payload)?;
    // ECT-CLM-1 (required claims), ECT-CLM-2 with ECT-TIME-5 (JSON types).
    let unchecked = UncheckedClaims::parse(payload, &p.profile)?;
    // ECT-KEY-2: a key bound to an issuer signs only that issuer's tokens.
    if let Some(bound) = key.and_then(|k| k.issuer())
        && bound != unchecked.iss
    {
        return Err(Error::KeyIssuerMismatch {
            expected: bound.to_owned(),
            found: unchecked.iss.clone(),
        });
    }
    // ECT-CLM-3 .. ECT-CLM-13, in order.
    let claims = unchecked.check(p.max_par)?;
    // ECT-TIME-1: exp > iat.
    if claims.exp <= claims.iat {
        return Err(Error::ExpBeforeIat);
    }
    if let Some(now) = now {
        // ECT-TIME-2: expired iff now >= exp + leeway.
        if now >= claims.exp.saturating_add(p.leeway_seconds) {
            return Err(Error::Expired);
        }
        // ECT-TIME-3: issued in the future iff iat > now + leeway.
        if claims.iat > now.saturating_add(p.leeway_seconds) {
            return Err(Error::NotYetValid);
        }
        // ECT-TIME-4: too old iff now - iat > max_iat_age.
        if now.saturating_sub(claims.iat) > p.max_iat_age_seconds {
            return Err(Error::TooOld);
        }
        // ECT-TIME-6: nbf, when present, honoured: not yet valid iff nbf > now + leeway.
        if claims
            .nbf
            .is_some_and(|nbf| nbf > now.saturating_add(p.leeway_seconds))
        {
            return Err(Error::NotBefore);
        }
        // ECT-AUD-1: this verifier's identifier is in aud (exact string comparison).
        if !claims.aud.contains(&p.audience) {
            return Err(Error::AudienceMismatch);
        }
    }
    let token = String::from_utf8(token.to_vec()).expect("ECT-JWS-2 checked ASCII");
    Ok(VerifiedEct {
        token,
        header,
        claims,
    })
}

/// Parses a token read back from a ledger's own hash-chained file: the structural and claim
/// rules under the widest limits, without signature, time or audience (the token passed all
/// of them when it was appended; its keys and its time are not at hand now).
pub(crate) fn parse_stored_token(token: &str, profile: &Profile) -> Result<Claims> {
    let mut widest = Policy::new("-");
    widest.profile = *profile;
    widest.max_par = *MAX_PAR_RANGE.end();
    widest.max_token_bytes = *MAX_TOKEN_BYTES_RANGE.end();
    Ok(check_token(&widest, None, token.as_bytes(), None)?.claims)
}
