//! Creating ECTs: an [`EctBuilder`] that refuses to sign claims any verifier would reject.

use serde_json::{Map, Value};

use crate::claims::{Audience, Claims, DEFAULT_MAX_PAR, PolicyClaims};
use crate::decision::PolicyDecision;
use crate::error::{ConfigError, Error, Result};
use crate::header::Header;
use crate::keys::{SigningKey, sign_raw};
use crate::profile::{DRAFT_00, Profile};

/// A fresh random (version 4) UUID in lower-case text form, for `jti` and `wid`.
pub fn random_uuid() -> Result<String, ConfigError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b)
        .map_err(|e| ConfigError::new(format!("random generator failed: {e}")))?;
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 9562 variant
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

/// Builds and signs an ECT.
///
/// Required before [`EctBuilder::sign`]: an audience, `iat`, `exp` and `jti` (the library never
/// reads a clock or picks an id on its own; see [`random_uuid`]). The builder serializes the
/// claims and runs the verifier's own claim checks on the result (ECT-CLM-1..13, ECT-TIME-5,
/// ECT-TIME-1), so it cannot create a token that breaks a claim rule.
#[derive(Clone, Debug)]
pub struct EctBuilder {
    profile: Profile,
    max_par: usize,
    iss: String,
    exec_act: String,
    aud: Option<Audience>,
    iat: Option<u64>,
    exp: Option<u64>,
    nbf: Option<u64>,
    jti: Option<String>,
    par: Vec<String>,
    wid: Option<String>,
    inp_hash: Option<String>,
    out_hash: Option<String>,
    ext: Option<Map<String, Value>>,
    pol: Option<(String, PolicyDecision)>,
}

impl EctBuilder {
    /// A builder for a task `exec_act` performed by issuer `iss`.
    pub fn new(iss: impl Into<String>, exec_act: impl Into<String>) -> Self {
        EctBuilder {
            profile: DRAFT_00,
            max_par: DEFAULT_MAX_PAR,
            iss: iss.into(),
            exec_act: exec_act.into(),
            aud: None,
            iat: None,
            exp: None,
            nbf: None,
            jti: None,
            par: Vec::new(),
            wid: None,
            inp_hash: None,
            out_hash: None,
            ext: None,
            pol: None,
        }
    }

    /// Uses another profile's claim names and `typ` (default `draft-00`).
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// The `par` limit to enforce (default 100, as verifiers do by default).
    pub fn max_par(mut self, max_par: usize) -> Self {
        self.max_par = max_par;
        self
    }

    /// One audience (`aud` as a string).
    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        self.aud = Some(Audience::One(aud.into()));
        self
    }

    /// Several audiences (`aud` as an array).
    pub fn audiences<I: IntoIterator<Item = S>, S: Into<String>>(mut self, auds: I) -> Self {
        self.aud = Some(Audience::Many(auds.into_iter().map(Into::into).collect()));
        self
    }

    /// Issued-at time, seconds since the epoch.
    pub fn issued_at(mut self, iat: u64) -> Self {
        self.iat = Some(iat);
        self
    }

    /// Expiration time, seconds since the epoch.
    pub fn expires_at(mut self, exp: u64) -> Self {
        self.exp = Some(exp);
        self
    }

    /// Not-before (`nbf`, RFC 7519 §4.1.5), seconds since the epoch: verifiers refuse the token
    /// until `nbf - leeway` (ECT-TIME-6). Absent by default.
    pub fn not_before(mut self, nbf: u64) -> Self {
        self.nbf = Some(nbf);
        self
    }

    /// Token id and task id (a UUID).
    pub fn jti(mut self, jti: impl Into<String>) -> Self {
        self.jti = Some(jti.into());
        self
    }

    /// Adds one parent task id to `par`.
    pub fn parent(mut self, jti: impl Into<String>) -> Self {
        self.par.push(jti.into());
        self
    }

    /// Workflow id (a UUID).
    pub fn wid(mut self, wid: impl Into<String>) -> Self {
        self.wid = Some(wid.into());
        self
    }

    /// `inp_hash`: base64url SHA-256 of the input (see [`crate::sha256_b64url`]).
    pub fn inp_hash(mut self, hash: impl Into<String>) -> Self {
        self.inp_hash = Some(hash.into());
        self
    }

    /// `out_hash`: base64url SHA-256 of the output (see [`crate::sha256_b64url`]).
    pub fn out_hash(mut self, hash: impl Into<String>) -> Self {
        self.out_hash = Some(hash.into());
        self
    }

    /// The `ext` object.
    pub fn ext(mut self, ext: Map<String, Value>) -> Self {
        self.ext = Some(ext);
        self
    }

    /// `pol` and `pol_decision`.
    pub fn policy(mut self, pol: impl Into<String>, decision: PolicyDecision) -> Self {
        self.pol = Some((pol.into(), decision));
        self
    }

    /// The checked claims, or the error a verifier would report for them.
    pub fn build(&self) -> Result<Claims> {
        let n = &self.profile.claims;
        let claims = Claims {
            iss: self.iss.clone(),
            aud: self.aud.clone().ok_or(Error::ClaimMissing(n.aud))?,
            iat: self.iat.ok_or(Error::ClaimMissing(n.iat))?,
            exp: self.exp.ok_or(Error::ClaimMissing(n.exp))?,
            nbf: self.nbf,
            jti: self.jti.clone().ok_or(Error::ClaimMissing(n.jti))?,
            exec_act: self.exec_act.clone(),
            par: self.par.clone(),
            wid: self.wid.clone(),
            inp_hash: self.inp_hash.clone(),
            out_hash: self.out_hash.clone(),
            ext: self.ext.clone(),
            pol: self
                .pol
                .clone()
                .map(|(pol, decision)| PolicyClaims { pol, decision }),
        };
        // Round-trip through JSON and the verifier's claim checks, so that what is signed is
        // exactly what a verifier will parse.
        let json = claims.to_json(&self.profile);
        let checked = Claims::parse(json.clone(), &self.profile, self.max_par)?;
        // ECT-TIME-1.
        if checked.exp <= checked.iat {
            return Err(Error::ExpBeforeIat);
        }
        // In draft-01 the policy claims become members of `ect_ext` (ECT-P01-4), so the
        // claims read back may differ from `claims` there; their JSON never does.
        debug_assert_eq!(checked.to_json(&self.profile), json);
        Ok(checked)
    }

    /// Builds, checks and signs the token with `key` (ES256, `kid` from the key).
    pub fn sign(&self, key: &SigningKey) -> Result<String> {
        let claims = self.build()?;
        let header = Header::to_json(key.kid(), &self.profile);
        let payload =
            serde_json::to_vec(&claims.to_json(&self.profile)).expect("a JSON map serializes");
        Ok(sign_raw(&header, &payload, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_uuid_is_v4() {
        let a = random_uuid().unwrap();
        assert!(crate::claims::is_uuid(&a));
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(a, random_uuid().unwrap());
    }
}
