//! ECT claims (SPEC.md §5), parsed strictly in two stages: presence and JSON types
//! (ECT-CLM-1, ECT-CLM-2, ECT-TIME-5), then the value rules (ECT-CLM-3..13).
//!
//! The verifier checks ECT-KEY-2 between the two stages, as SPEC.md's order requires.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};

use serde_json::{Map, Value};

use crate::base64url;
use crate::decision::PolicyDecision;
use crate::error::{Error, Result};
use crate::profile::{PolicyClaimsAt, Profile};

/// Maximum compact JSON length of `ext` in bytes (ECT-CLM-12).
pub const MAX_EXT_BYTES: usize = 4096;
/// Maximum nesting depth of `ext`, `ext` itself counting as 1 (ECT-CLM-12).
pub const MAX_EXT_DEPTH: usize = 5;
/// Largest valid NumericDate: 2^53 - 1 (ECT-TIME-5).
pub const MAX_NUMERIC_DATE: u64 = (1 << 53) - 1;
/// Default maximum number of `par` elements (ECT-CLM-10).
pub const DEFAULT_MAX_PAR: usize = 100;
/// The registered JWT claim `nbf` (RFC 7519 §4.1.5), honoured when present (ECT-TIME-6). Its
/// name is the same in every profile.
pub const NBF: &str = "nbf";

/// The `aud` claim: one audience or several.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Audience {
    /// `"aud": "id"`.
    One(String),
    /// `"aud": ["id", ...]`.
    Many(Vec<String>),
}

impl Audience {
    /// Whether `id` equals the audience or one of its elements (exact string comparison).
    pub fn contains(&self, id: &str) -> bool {
        match self {
            Audience::One(a) => a == id,
            Audience::Many(all) => all.iter().any(|a| a == id),
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Audience::One(a) => Value::String(a.clone()),
            Audience::Many(all) => Value::Array(all.iter().cloned().map(Value::String).collect()),
        }
    }
}

/// The `pol` + `pol_decision` pair: which policy was evaluated and what it decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyClaims {
    /// Policy identifier (non-empty).
    pub pol: String,
    /// The decision.
    pub decision: PolicyDecision,
}

/// The checked claims of an ECT.
///
/// Unknown claims (including `sub`) are ignored and not kept; `nbf`, a registered JWT claim, is
/// honoured when present (ECT-TIME-6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    /// Issuer: the agent that performed the task.
    pub iss: String,
    /// Audience.
    pub aud: Audience,
    /// Issued-at, seconds since the epoch.
    pub iat: u64,
    /// Expiration, seconds since the epoch.
    pub exp: u64,
    /// Not-before, seconds since the epoch (RFC 7519 §4.1.5), when present: the token is not
    /// accepted before `nbf - leeway` (ECT-TIME-6).
    pub nbf: Option<u64>,
    /// Token id and task id (a UUID).
    pub jti: String,
    /// The action performed.
    pub exec_act: String,
    /// Parent task ids; empty for a root task.
    pub par: Vec<String>,
    /// Workflow id (a UUID).
    pub wid: Option<String>,
    /// base64url SHA-256 of the task's input.
    pub inp_hash: Option<String>,
    /// base64url SHA-256 of the task's output.
    pub out_hash: Option<String>,
    /// Extension object (`ext` in `draft-00`, `ect_ext` in `draft-01`), as signed: in
    /// `draft-01` it holds the `pol` and `pol_decision` members too (ECT-P01-4).
    pub ext: Option<Map<String, Value>>,
    /// Policy evaluation: the top-level claims in `draft-00` (ECT-CLM-13), the members of
    /// `ect_ext` in `draft-01` (ECT-P01-4).
    pub pol: Option<PolicyClaims>,
}

impl Claims {
    /// Serializes the claims as a JSON object under the profile's claim names.
    pub fn to_json(&self, profile: &Profile) -> Map<String, Value> {
        let n = &profile.claims;
        let mut map = Map::new();
        map.insert(n.iss.into(), self.iss.clone().into());
        map.insert(n.aud.into(), self.aud.to_json());
        map.insert(n.iat.into(), self.iat.into());
        map.insert(n.exp.into(), self.exp.into());
        if let Some(nbf) = self.nbf {
            map.insert(NBF.into(), nbf.into());
        }
        map.insert(n.jti.into(), self.jti.clone().into());
        map.insert(n.exec_act.into(), self.exec_act.clone().into());
        map.insert(
            n.par.into(),
            Value::Array(self.par.iter().cloned().map(Value::String).collect()),
        );
        let optional = [
            (n.wid, &self.wid),
            (n.inp_hash, &self.inp_hash),
            (n.out_hash, &self.out_hash),
        ];
        for (name, value) in optional {
            if let Some(v) = value {
                map.insert(name.into(), v.clone().into());
            }
        }
        let mut ext = self.ext.clone();
        if let Some(p) = &self.pol {
            // ECT-CLM-13 (top level) or ECT-P01-4 (members of the extension object).
            let target = match profile.policy_claims {
                PolicyClaimsAt::TopLevel => &mut map,
                PolicyClaimsAt::InExtension => ext.get_or_insert_with(Map::new),
            };
            target.insert(n.pol.into(), p.pol.clone().into());
            target.insert(n.pol_decision.into(), p.decision.as_str().into());
        }
        if let Some(ext) = ext {
            map.insert(n.ext.into(), Value::Object(ext));
        }
        map
    }

    /// Applies the claim rules to a payload object: presence and JSON types (ECT-CLM-1,
    /// ECT-CLM-2 with ECT-TIME-5), then the values (ECT-CLM-3..13) with at most `max_par`
    /// parents, under `profile`'s claim names.
    ///
    /// Only the claim rules: no signature, issuer binding (ECT-KEY-2), time or audience is
    /// checked, so the result says nothing about who issued the claims. Verified claims come
    /// from [`crate::Verifier`] ([`crate::VerifiedEct::claims`]).
    pub fn parse(map: Map<String, Value>, profile: &Profile, max_par: usize) -> Result<Claims> {
        UncheckedClaims::parse(map, profile)?.check(max_par)
    }
}

/// Claims whose presence and JSON types are checked (ECT-CLM-1, ECT-CLM-2, ECT-TIME-5) but not
/// yet their values.
#[derive(Clone, Debug)]
pub(crate) struct UncheckedClaims {
    pub iss: String,
    aud: Audience,
    iat: u64,
    exp: u64,
    nbf: Option<u64>,
    jti: String,
    exec_act: String,
    par: Vec<String>,
    wid: Option<String>,
    inp_hash: Option<String>,
    out_hash: Option<String>,
    ext: Option<Map<String, Value>>,
    /// The policy claims: top-level strings (`draft-00`), or still inside `ext` (`draft-01`,
    /// checked with ECT-CLM-13).
    policy: PolicySource,
}

/// Where [`UncheckedClaims`] found its policy claims.
#[derive(Clone, Debug)]
enum PolicySource {
    /// Top-level claims, types checked (ECT-CLM-2).
    TopLevel {
        pol: Option<String>,
        pol_decision: Option<String>,
    },
    /// Members of the extension object named `ext`, not yet looked at (ECT-P01-4).
    InExtension {
        ext: &'static str,
        pol: &'static str,
        pol_decision: &'static str,
    },
}

impl UncheckedClaims {
    /// ECT-CLM-1 then ECT-CLM-2 (with ECT-TIME-5).
    /// Takes the payload by value so that claim values move out of it instead of being copied.
    pub(crate) fn parse(mut map: Map<String, Value>, profile: &Profile) -> Result<Self> {
        let n = &profile.claims;
        // ECT-CLM-1: every required claim is present (a present claim of the wrong type is a
        // type error below, never "absent").
        for name in [n.iss, n.aud, n.iat, n.exp, n.jti, n.exec_act, n.par] {
            if !map.contains_key(name) {
                return Err(Error::ClaimMissing(name));
            }
        }
        // ECT-CLM-2: JSON types, in claim order.
        let iss = take_str(&mut map, n.iss)?.unwrap_or_default();
        let aud = match map.remove(n.aud) {
            Some(Value::String(a)) => Audience::One(a),
            Some(Value::Array(all)) => {
                Audience::Many(string_array(all).ok_or(Error::ClaimType(n.aud))?)
            }
            _ => return Err(Error::ClaimType(n.aud)),
        };
        let iat = numeric_date(&map[n.iat], n.iat)?;
        let exp = numeric_date(&map[n.exp], n.exp)?;
        // `nbf` (not a profile claim: RFC 7519's) right after the other NumericDates.
        let nbf = map.get(NBF).map(|v| numeric_date(v, NBF)).transpose()?;
        let jti = take_str(&mut map, n.jti)?.unwrap_or_default();
        let exec_act = take_str(&mut map, n.exec_act)?.unwrap_or_default();
        let par = match map.remove(n.par) {
            Some(Value::Array(all)) => string_array(all).ok_or(Error::ClaimType(n.par))?,
            _ => return Err(Error::ClaimType(n.par)),
        };
        let wid = take_str(&mut map, n.wid)?;
        let inp_hash = take_str(&mut map, n.inp_hash)?;
        let out_hash = take_str(&mut map, n.out_hash)?;
        let ext = match map.remove(n.ext) {
            None => None,
            Some(Value::Object(ext)) => Some(ext),
            Some(_) => return Err(Error::ClaimType(n.ext)),
        };
        let policy = match profile.policy_claims {
            PolicyClaimsAt::TopLevel => PolicySource::TopLevel {
                pol: take_str(&mut map, n.pol)?,
                pol_decision: take_str(&mut map, n.pol_decision)?,
            },
            // ECT-P01-4: top-level `pol` and `pol_decision` are unknown claims, ignored.
            PolicyClaimsAt::InExtension => PolicySource::InExtension {
                ext: n.ext,
                pol: n.pol,
                pol_decision: n.pol_decision,
            },
        };
        Ok(UncheckedClaims {
            iss,
            aud,
            iat,
            exp,
            nbf,
            jti,
            exec_act,
            par,
            wid,
            inp_hash,
            out_hash,
            ext,
            policy,
        })
    }

    /// ECT-CLM-3 .. ECT-CLM-13, in order.
    pub(crate) fn check(self, max_par: usize) -> Result<Claims> {
        // ECT-CLM-3: `iss` non-empty.
        if self.iss.is_empty() {
            return Err(Error::Iss);
        }
        // ECT-CLM-4: `aud` non-empty string, or non-empty array of non-empty strings.
        let aud_ok = match &self.aud {
            Audience::One(a) => !a.is_empty(),
            Audience::Many(all) => !all.is_empty() && all.iter().all(|a| !a.is_empty()),
        };
        if !aud_ok {
            return Err(Error::Aud);
        }
        // ECT-CLM-5: `jti` is a UUID.
        if !is_uuid(&self.jti) {
            return Err(Error::Jti);
        }
        // ECT-CLM-6: `wid`, when present, is a UUID.
        if self.wid.as_deref().is_some_and(|w| !is_uuid(w)) {
            return Err(Error::Wid);
        }
        // ECT-CLM-7: `exec_act` non-empty.
        if self.exec_act.is_empty() {
            return Err(Error::ExecAct);
        }
        // ECT-CLM-8: every `par` element a UUID, no element twice (decision: DuplicateParent).
        // UUIDs compare case-insensitively (ECT-CLM-5): `A…` and `a…` are the same parent.
        let mut seen = HashSet::with_capacity(self.par.len());
        for p in &self.par {
            if !is_uuid(p) {
                return Err(Error::Par(format!("{p:?} is not a UUID")));
            }
            if !seen.insert(Caseless(p)) {
                return Err(Error::Par(format!("{p:?} appears twice")));
            }
        }
        // ECT-CLM-9: `par` does not name the token itself, in any letter case (ECT-CLM-5).
        if seen.contains(&Caseless(&self.jti)) {
            return Err(Error::ParSelf);
        }
        // ECT-CLM-10: at most `max_par` parents.
        if self.par.len() > max_par {
            return Err(Error::ParTooLong {
                len: self.par.len(),
                max: max_par,
            });
        }
        // ECT-CLM-11: hashes are unpadded base64url SHA-256 digests.
        for (name, value) in [("inp_hash", &self.inp_hash), ("out_hash", &self.out_hash)] {
            if value.as_deref().is_some_and(|h| !is_sha256_b64url(h)) {
                return Err(Error::Hash(name));
            }
        }
        // ECT-CLM-12: `ext` at most 4096 bytes compact, depth at most 5.
        if let Some(ext) = &self.ext {
            let len = compact_len(ext);
            if len > MAX_EXT_BYTES {
                return Err(Error::ExtSize(len));
            }
            if object_depth(ext) > MAX_EXT_DEPTH {
                return Err(Error::ExtDepth);
            }
        }
        // ECT-CLM-13: `pol` and `pol_decision` together, `pol` non-empty, known decision;
        // in draft-01 (ECT-P01-4) the same rules for the members of `ect_ext`.
        let (pol, pol_decision, prefix) = match self.policy {
            PolicySource::TopLevel { pol, pol_decision } => (pol, pol_decision, String::new()),
            PolicySource::InExtension {
                ext,
                pol,
                pol_decision,
            } => {
                // Decision (SPEC.md §10 is silent): a member of another JSON type is
                // `claims.pol` (ECT-CLM-2 types claims, and these are members of `ect_ext`).
                let member = |name: &'static str| match self.ext.as_ref().and_then(|e| e.get(name))
                {
                    None => Ok(None),
                    Some(Value::String(s)) => Ok(Some(s.clone())),
                    Some(_) => Err(Error::Pol(format!("{ext}.{name} is not a string"))),
                };
                (member(pol)?, member(pol_decision)?, format!("{ext}."))
            }
        };
        let pol = match (pol, pol_decision) {
            (None, None) => None,
            (Some(pol), Some(decision)) => {
                if pol.is_empty() {
                    return Err(Error::Pol(format!("{prefix}pol is empty")));
                }
                let decision = PolicyDecision::parse(&decision).ok_or_else(|| {
                    Error::Pol(format!("unknown {prefix}pol_decision {decision:?}"))
                })?;
                Some(PolicyClaims { pol, decision })
            }
            _ => {
                return Err(Error::Pol(format!(
                    "{prefix}pol and {prefix}pol_decision must appear together"
                )));
            }
        };
        Ok(Claims {
            iss: self.iss,
            aud: self.aud,
            iat: self.iat,
            exp: self.exp,
            nbf: self.nbf,
            jti: self.jti,
            exec_act: self.exec_act,
            par: self.par,
            wid: self.wid,
            inp_hash: self.inp_hash,
            out_hash: self.out_hash,
            ext: self.ext,
            pol,
        })
    }
}

/// An optional string claim, moved out of the payload: absent is `None`, present with another
/// type is `claims.type`.
fn take_str(map: &mut Map<String, Value>, name: &'static str) -> Result<Option<String>> {
    match map.remove(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Error::ClaimType(name)),
    }
}

/// An array whose elements are all strings, or `None`.
///
/// Without spare capacity: the collect reuses the parsed array's buffer (sized for `Value`s,
/// with the parser's spare room), and a ledger keeps these claims for every entry.
fn string_array(all: Vec<Value>) -> Option<Vec<String>> {
    let mut strings: Vec<String> = all
        .into_iter()
        .map(|v| match v {
            Value::String(s) => Some(s),
            _ => None,
        })
        .collect::<Option<_>>()?;
    strings.shrink_to_fit();
    Some(strings)
}

/// ECT-TIME-5: an integer in `0 ..= 2^53-1`. Any other number (negative, fractional, exponent
/// syntax, too large) is `claims.type` under rule ECT-TIME-5; a non-number is ECT-CLM-2.
fn numeric_date(value: &Value, name: &'static str) -> Result<u64> {
    let Value::Number(n) = value else {
        return Err(Error::ClaimType(name));
    };
    match n.as_u64() {
        Some(v) if v <= MAX_NUMERIC_DATE => Ok(v),
        _ => Err(Error::NumericDate(name)),
    }
}

/// Hashes `s` exactly as its ASCII-lower-cased bytes would hash (with its length first), without
/// allocating: UUIDs compare ASCII case-insensitively everywhere (ECT-CLM-5). One `write` per
/// 64 bytes, so a UUID costs one.
pub(crate) fn hash_ascii_lowercase<H: Hasher>(s: &str, state: &mut H) {
    state.write_usize(s.len());
    let mut buf = [0u8; 64];
    for chunk in s.as_bytes().chunks(buf.len()) {
        let lower = &mut buf[..chunk.len()];
        lower.copy_from_slice(chunk);
        lower.make_ascii_lowercase();
        state.write(lower);
    }
}

/// A UUID as a set or map key: hashed and compared ASCII case-insensitively (ECT-CLM-5).
#[derive(Clone, Copy, Debug)]
struct Caseless<'a>(&'a str);

impl Hash for Caseless<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_ascii_lowercase(self.0, state);
    }
}

impl PartialEq for Caseless<'_> {
    fn eq(&self, other: &Self) -> bool {
        same_uuid(self.0, other.0)
    }
}

/// Whether `a` and `b` are the same UUID, ASCII case-insensitively (ECT-CLM-5). Identical
/// spellings, the common case, are found by a plain byte comparison first.
pub(crate) fn same_uuid(a: &str, b: &str) -> bool {
    a == b || a.eq_ignore_ascii_case(b)
}

impl Eq for Caseless<'_> {}

/// RFC 9562 text form: 8-4-4-4-12 hex digits (either case), nothing else.
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// ECT-CLM-11: 43 characters of `[A-Za-z0-9_-]` decoding (canonically) to 32 bytes.
pub fn is_sha256_b64url(s: &str) -> bool {
    s.len() == 43 && base64url::decode(s.as_bytes()).is_some_and(|d| d.len() == 32)
}

/// The base64url (unpadded) SHA-256 of `data`, the form `inp_hash` and `out_hash` take.
pub fn sha256_b64url(data: &[u8]) -> String {
    use sha2::Digest;
    base64url::encode(&sha2::Sha256::digest(data))
}

/// Length of the compact serde_json serialization of `ext`, without building it.
fn compact_len(ext: &Map<String, Value>) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, ext).expect("counting never fails");
    count.0
}

/// Nesting depth of an object: the object itself is 1, each nested object or array one more.
fn object_depth(ext: &Map<String, Value>) -> usize {
    fn depth(v: &Value) -> usize {
        match v {
            Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
            Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }
    1 + ext.values().map(depth).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn uuid_syntax() {
        assert!(is_uuid("6ba7b810-9dad-11d1-80b4-00c04fd430c8"));
        assert!(is_uuid("6BA7B810-9DAD-11D1-80B4-00C04FD430C8"));
        assert!(is_uuid("00000000-0000-0000-0000-000000000000"));
        assert!(is_uuid("ffffffff-ffff-ffff-ffff-ffffffffffff"));
        assert!(!is_uuid("{6ba7b810-9dad-11d1-80b4-00c04fd430c8}"));
        assert!(!is_uuid("urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8"));
        assert!(!is_uuid("6ba7b8109dad11d180b400c04fd430c8"));
        assert!(!is_uuid("6ba7b810-9dad-11d1-80b4-00c04fd430cg"));
        assert!(!is_uuid("6ba7b810-9dad-11d1-80b4_00c04fd430c8"));
        assert!(!is_uuid(""));
    }

    #[test]
    fn known_answer_hashes() {
        assert_eq!(
            sha256_b64url(b"test"),
            "n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg"
        );
        assert_eq!(
            sha256_b64url(b"foo"),
            "LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564"
        );
        assert!(is_sha256_b64url(
            "n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg"
        ));
        // Non-canonical trailing bits, padding, prefix, wrong length.
        assert!(!is_sha256_b64url(
            "n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgh"
        ));
        assert!(!is_sha256_b64url(
            "n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg="
        ));
        assert!(!is_sha256_b64url(
            "sha-256:n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg"
        ));
        assert!(!is_sha256_b64url(
            "n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCg"
        ));
    }

    #[test]
    fn ext_depth_counting() {
        let d5 = json!({"a":{"b":{"c":{"d":{}}}}});
        let d6 = json!({"a":{"b":{"c":{"d":{"e":1,"f":[]}}}}});
        assert_eq!(object_depth(d5.as_object().unwrap()), 5);
        assert_eq!(object_depth(d6.as_object().unwrap()), 6);
        assert_eq!(object_depth(json!({"a":[[[[1]]]]}).as_object().unwrap()), 5);
        assert_eq!(object_depth(json!({}).as_object().unwrap()), 1);
    }

    #[test]
    fn compact_len_matches_serialization() {
        let v = json!({"k":"v é \u{1}","n":[1,2.5,null,true],"o":{"x":"\"q\""}});
        let m = v.as_object().unwrap();
        assert_eq!(compact_len(m), serde_json::to_vec(m).unwrap().len());
    }
}
