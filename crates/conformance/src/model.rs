//! A simple, independent model of SPEC.md §2–§8, the oracle the fuzz targets compare the
//! verifier with.
//!
//! Written straight from SPEC.md's text, as plain straight-line code over
//! [`serde_json::Value`]: its own duplicate-member check, its own base64url decoder, a direct
//! p256 verification call, and for the DAG and the ledger a list of accepted tokens scanned
//! linearly. It calls nothing of the verifier (`json`, `jws`, `header`, `claims`, `keys`,
//! `verify`, `dag`, `ledger`, `store`, `replay`); only `serde_json` and `p256` are shared. It
//! runs the checks in SPEC.md's "Order of checks" and answers `Ok` or SPEC.md's error code, so
//! an auditor can read it next to SPEC.md rule by rule.
//!
//! Where SPEC.md leaves room, the model takes the reference's documented decision
//! (`wimse_ect::_documentation::decisions`), because the fuzzers count every difference as a finding:
//!
//! * JSON is read by `serde_json` (RFC 8259 whitespace around the object allowed, nesting limit
//!   128). Reading stops at the first problem in document order: a repeated member name met
//!   before a syntax error is `jws.duplicate_member`, a syntax error met first is `jws.json`.
//! * "Whitespace" in ECT-JWS-2 is the six ASCII whitespace bytes (space, `\t`, `\n`, `\x0b`,
//!   `\x0c`, `\r`); any other byte outside the base64url alphabet and `.` is `jws.base64`.
//! * `typ` without `/` means `application/` + value, compared ASCII case-insensitively.
//! * `iat`/`exp`/`nbf` are numbers that `serde_json` holds as a `u64` (`-0`, `1.0` and `1e3`
//!   are floats, hence `claims.type`); `nbf` is typed right after `exp` and honoured after
//!   ECT-TIME-4 (ECT-TIME-6).
//! * UUIDs (`jti`, `wid`, `par` elements) compare ASCII case-insensitively everywhere
//!   (ECT-CLM-5): duplicate and self parents, DAG lookups, the walk, replay.
//! * A key set holding one public key twice is refused (ECT-KEY-3, `KeySetStrictness`).
//! * ECT-CLM-12 checks the size before the depth.
//! * The DAG rules run rule by rule, each for the new token's parents and then, the other way,
//!   for its stored children (the tokens of its scope that already name its `jti`, in store
//!   order; SPEC.md §7 "Late parents"): DAG-1; DAG-2 per `par` element; DAG-3 per present
//!   parent, then per stored child among the first `ancestor_budget`; DAG-4 with DAG-5 (more
//!   children than the budget is `dag.budget`; otherwise a depth-first walk, only when there is
//!   a stored child, `LazyCycleWalk`, in which every `par` element examined costs one of the
//!   budget left after the children); DAG-6 per present parent, then for the new token itself
//!   when it has a stored child.
//! * A replay entry lives until `exp + leeway` and is forgotten at the first replay check whose
//!   `now` has reached that time.
//!
//! Profiles (SPEC.md §10): [`ModelSettings::profile`] says which. `draft-01` differs in exactly
//! the places §10 lists, written out here with their own names rather than taken from the
//! library's profile values: `typ` `exec+jwt` or `wimse-exec+jwt` (ECT-P01-1); the parents
//! under `pred` (ECT-P01-2) and the extension object under `ect_ext` (ECT-P01-3), the other
//! names unknown claims; `pol` and `pol_decision` read from inside `ect_ext` only, with
//! ECT-CLM-13 applied to them there (a member of another JSON type is `claims.pol`, the
//! reference's decision; ECT-P01-4); and workflow consistency (ECT-P01-5): in the DAG-2 loop a
//! parent the scope lacks but any other scope holds is `dag.workflow_mismatch` in both modes,
//! and right after the loop a stored token of another scope naming the new `jti` is
//! `dag.workflow_mismatch` too (the reference's decision for a late parent).

use std::collections::HashSet;
use std::fmt;

use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::vector::ProfileName;

/// A trusted key as the model sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelKey {
    /// The `kid`.
    pub kid: String,
    /// The public key as an uncompressed SEC1 point (65 bytes, `0x04 ‖ x ‖ y`).
    pub sec1: Vec<u8>,
    /// The issuer the key is bound to (ECT-KEY-2), if any.
    pub iss: Option<String>,
}

/// The verifier settings the model checks with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelSettings {
    /// The verifier's clock.
    pub now: u64,
    /// The verifier's identifier.
    pub audience: String,
    /// Leeway in seconds.
    pub leeway: u64,
    /// Maximum `iat` age in seconds.
    pub max_iat_age: u64,
    /// Maximum `par` length.
    pub max_par: usize,
    /// Maximum token length.
    pub max_token_bytes: usize,
    /// DAG skew in seconds.
    pub skew: u64,
    /// Ancestor budget.
    pub ancestor_budget: usize,
    /// Partial DAG mode.
    pub partial: bool,
    /// The profile (SPEC.md §10).
    pub profile: ProfileName,
}

impl From<&crate::vector::Settings> for ModelSettings {
    /// The settings of a vector (`vectors/`), as the model reads them.
    fn from(s: &crate::vector::Settings) -> Self {
        ModelSettings {
            now: s.now,
            audience: s.audience.clone(),
            leeway: s.leeway,
            max_iat_age: s.max_iat_age,
            max_par: s.max_par,
            max_token_bytes: s.max_token_bytes,
            skew: s.skew,
            ancestor_budget: s.ancestor_budget,
            partial: s.dag == crate::vector::DagModeSetting::Partial,
            profile: s.profile,
        }
    }
}

impl ModelSettings {
    /// SPEC.md's defaults at time `now` for the verifier `audience`: leeway 30 s, maximum
    /// `iat` age 900 s, `max_par` 100, `max_token_bytes` 65536, skew 30 s, ancestor budget
    /// 10 000, strict DAG mode, profile `draft-00`.
    pub fn defaults(now: u64, audience: &str) -> Self {
        ModelSettings {
            now,
            audience: audience.to_owned(),
            leeway: 30,
            max_iat_age: 900,
            max_par: 100,
            max_token_bytes: 65536,
            skew: 30,
            ancestor_budget: 10_000,
            partial: false,
            profile: ProfileName::Draft00,
        }
    }
}

/// The P-256 group order n, big-endian (ECT-SIG-1: `r` and `s` lie in `1 .. n-1`).
const N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// Largest valid NumericDate, 2^53 - 1 (ECT-TIME-5).
const MAX_NUMERIC_DATE: u64 = (1 << 53) - 1;

/// The claims SPEC.md §5 defines, in the order a verified token's claims are returned
/// (profile `draft-00`).
const KNOWN_CLAIMS: [&str; 14] = [
    "iss",
    "aud",
    "iat",
    "exp",
    "nbf",
    "jti",
    "exec_act",
    "par",
    "wid",
    "inp_hash",
    "out_hash",
    "ext",
    "pol",
    "pol_decision",
];

/// The claims of profile `draft-01` (SPEC.md §10): `par` is `pred`, `ext` is `ect_ext`, and
/// `pol`, `pol_decision` are no longer claims.
const KNOWN_CLAIMS_01: [&str; 12] = [
    "iss", "aud", "iat", "exp", "nbf", "jti", "exec_act", "pred", "wid", "inp_hash", "out_hash",
    "ect_ext",
];

/// What differs between the profiles, as the model reads a token.
struct Names {
    /// The parents claim.
    par: &'static str,
    /// The extension claim.
    ext: &'static str,
    /// The policy members are inside the extension object, not top-level claims.
    policy_in_ext: bool,
    /// The claims a verified token's claims are made of.
    known: &'static [&'static str],
}

fn names(profile: ProfileName) -> Names {
    match profile {
        ProfileName::Draft00 => Names {
            par: "par",
            ext: "ext",
            policy_in_ext: false,
            known: &KNOWN_CLAIMS,
        },
        ProfileName::Draft01 => Names {
            par: "pred",
            ext: "ect_ext",
            policy_in_ext: true,
            known: &KNOWN_CLAIMS_01,
        },
    }
}

/// SPEC.md §2–§6 except ECT-RPL-1, in SPEC.md's order: the token's claims, or the error code.
///
/// The claims returned are the members of the payload that SPEC.md §5 defines (unknown
/// claims are ignored), with their JSON values: the same object as the reference's
/// `Claims::to_json` of the `draft-00` profile.
pub fn verify(
    token: &[u8],
    keys: &[ModelKey],
    s: &ModelSettings,
) -> Result<Map<String, Value>, &'static str> {
    // ECT-JWS-1: the size limit, before anything else.
    if token.len() > s.max_token_bytes {
        return Err("jws.too_large");
    }

    // ECT-JWS-2: ASCII only, no whitespace anywhere, exactly three non-empty segments.
    for &b in token {
        if b >= 0x80 || matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
            return Err("jws.malformed");
        }
    }
    let segments: Vec<&[u8]> = token.split(|&b| b == b'.').collect();
    if segments.len() != 3 {
        return Err("jws.malformed");
    }
    if segments.iter().any(|segment| segment.is_empty()) {
        return Err("jws.malformed");
    }

    // ECT-JWS-3: each of the three segments is strict unpadded base64url.
    let Some(header_bytes) = base64url_decode(segments[0]) else {
        return Err("jws.base64");
    };
    let Some(payload_bytes) = base64url_decode(segments[1]) else {
        return Err("jws.base64");
    };
    let Some(signature) = base64url_decode(segments[2]) else {
        return Err("jws.base64");
    };

    // ECT-JWS-4, ECT-JWS-5: the header is a JSON object without repeated member names.
    let header = json_object(&header_bytes)?;

    let names = names(s.profile);

    // ECT-HDR-1: `typ` is the media type wimse-exec+jwt; in draft-01 (ECT-P01-1) exec+jwt or
    // the legacy wimse-exec+jwt.
    match header.get("typ") {
        Some(Value::String(typ)) if typ_is_ect(typ, s.profile) => {}
        _ => return Err("header.typ"),
    }
    // ECT-HDR-2: `alg` is in the allowlist, which is exactly ["ES256"] (case-sensitive).
    match header.get("alg") {
        Some(Value::String(alg)) if alg == "ES256" => {}
        _ => return Err("header.alg"),
    }
    // ECT-HDR-3: no `crit` at all.
    if header.contains_key("crit") {
        return Err("header.crit");
    }
    // ECT-HDR-4: `kid` is a non-empty string.
    let kid = match header.get("kid") {
        Some(Value::String(kid)) if !kid.is_empty() => kid,
        _ => return Err("header.kid"),
    };
    // ECT-HDR-5: no other header parameter is read (an embedded `jwk` is never used).

    // ECT-KEY-1: `kid` names one of the verifier's own trusted keys.
    let Some(key) = keys.iter().find(|k| k.kid == *kid) else {
        return Err("key.unknown");
    };

    // ECT-SIG-1: exactly 64 bytes r‖s with 0 < r < n and 0 < s < n.
    if signature.len() != 64 {
        return Err("sig.invalid");
    }
    if !scalar_in_range(&signature[..32]) || !scalar_in_range(&signature[32..]) {
        return Err("sig.invalid");
    }
    // ECT-SIG-2: ECDSA P-256/SHA-256 over the exact ASCII bytes `segment0.segment1`. High-S
    // signatures are valid ECDSA and accepted (flag HighS): p256 does not ask for low S.
    let signing_input = &token[..segments[0].len() + 1 + segments[1].len()];
    if !es256_verifies(&key.sec1, signing_input, &signature) {
        return Err("sig.invalid");
    }

    // ECT-JWS-4, ECT-JWS-5: the payload, read only now that the signature verified.
    let payload = json_object(&payload_bytes)?;

    // ECT-CLM-1: every required claim is present.
    for name in ["iss", "aud", "iat", "exp", "jti", "exec_act", names.par] {
        if !payload.contains_key(name) {
            return Err("claims.missing");
        }
    }

    // ECT-CLM-2: JSON types (a present claim of the wrong type is never "absent").
    let Value::String(iss) = &payload["iss"] else {
        return Err("claims.type");
    };
    // `aud` is a string or an array of strings; both forms become a list here.
    let aud: Vec<&str> = match &payload["aud"] {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => {
            let mut list = Vec::new();
            for element in many {
                let Value::String(a) = element else {
                    return Err("claims.type");
                };
                list.push(a.as_str());
            }
            list
        }
        _ => return Err("claims.type"),
    };
    // ECT-TIME-5 (part of ECT-CLM-2): `iat` and `exp` are integers in 0 ..= 2^53-1.
    let iat = numeric_date(&payload["iat"])?;
    let exp = numeric_date(&payload["exp"])?;
    // `nbf` (RFC 7519's registered claim), when present, the same kind of integer.
    let nbf = payload.get("nbf").map(numeric_date).transpose()?;
    let Value::String(jti) = &payload["jti"] else {
        return Err("claims.type");
    };
    let Value::String(exec_act) = &payload["exec_act"] else {
        return Err("claims.type");
    };
    let Value::Array(par_values) = &payload[names.par] else {
        return Err("claims.type");
    };
    let mut par: Vec<&str> = Vec::new();
    for element in par_values {
        let Value::String(p) = element else {
            return Err("claims.type");
        };
        par.push(p.as_str());
    }
    let wid = optional_string(&payload, "wid")?;
    let inp_hash = optional_string(&payload, "inp_hash")?;
    let out_hash = optional_string(&payload, "out_hash")?;
    let ext = match payload.get(names.ext) {
        None => None,
        Some(Value::Object(ext)) => Some(ext),
        Some(_) => return Err("claims.type"),
    };
    // draft-00: top-level strings. draft-01: read from `ect_ext` at ECT-CLM-13 below.
    let (pol, pol_decision) = if names.policy_in_ext {
        (None, None)
    } else {
        (
            optional_string(&payload, "pol")?,
            optional_string(&payload, "pol_decision")?,
        )
    };

    // ECT-KEY-2: a key bound to an issuer verifies only that issuer's tokens.
    if let Some(bound) = &key.iss
        && bound != iss
    {
        return Err("key.issuer_mismatch");
    }

    // ECT-CLM-3: `iss` is non-empty.
    if iss.is_empty() {
        return Err("claims.iss");
    }
    // ECT-CLM-4: `aud` is a non-empty string or a non-empty array of non-empty strings.
    if aud.is_empty() || aud.iter().any(|a| a.is_empty()) {
        return Err("claims.aud");
    }
    // ECT-CLM-5: `jti` is a UUID.
    if !is_uuid(jti) {
        return Err("claims.jti");
    }
    // ECT-CLM-6: `wid`, when present, is a UUID.
    if let Some(wid) = wid
        && !is_uuid(wid)
    {
        return Err("claims.wid");
    }
    // ECT-CLM-7: `exec_act` is non-empty.
    if exec_act.is_empty() {
        return Err("claims.exec_act");
    }
    // ECT-CLM-8: every `par` element is a UUID, and none appears twice (DuplicateParent), in
    // any letter case.
    for (i, p) in par.iter().enumerate() {
        if !is_uuid(p) {
            return Err("claims.par");
        }
        if par[..i].iter().any(|q| same_id(q, p)) {
            return Err("claims.par");
        }
    }
    // ECT-CLM-9: `par` does not contain the token's own `jti`, in any letter case.
    if par.iter().any(|p| same_id(p, jti)) {
        return Err("claims.par_self");
    }
    // ECT-CLM-10: at most `max_par` parents.
    if par.len() > s.max_par {
        return Err("claims.par_too_long");
    }
    // ECT-CLM-11: `inp_hash`, then `out_hash`: 43 base64url characters decoding to 32 bytes.
    for hash in [inp_hash, out_hash].into_iter().flatten() {
        let decodes_to_32_bytes = base64url_decode(hash.as_bytes()).is_some_and(|d| d.len() == 32);
        if hash.len() != 43 || !decodes_to_32_bytes {
            return Err("claims.hash");
        }
    }
    // ECT-CLM-12: `ext` at most 4096 bytes as compact JSON, then nesting depth at most 5.
    if let Some(ext) = ext {
        let compact = serde_json::to_vec(ext).unwrap_or_default();
        if compact.len() > 4096 {
            return Err("claims.ext_size");
        }
        if object_depth(ext) > 5 {
            return Err("claims.ext_depth");
        }
    }
    // ECT-CLM-13: `pol` and `pol_decision` together or not at all; `pol` non-empty; a known
    // decision. In draft-01 (ECT-P01-4) the members of `ect_ext`, any other JSON type than a
    // string being `claims.pol`.
    let (pol, pol_decision) = if names.policy_in_ext {
        let member = |name: &str| match ext.and_then(|e| e.get(name)) {
            None => Ok(None),
            Some(Value::String(v)) => Ok(Some(v.as_str())),
            Some(_) => Err("claims.pol"),
        };
        (member("pol")?, member("pol_decision")?)
    } else {
        (pol, pol_decision)
    };
    match (pol, pol_decision) {
        (None, None) => {}
        (Some(pol), Some(decision)) => {
            if pol.is_empty() {
                return Err("claims.pol");
            }
            if !matches!(decision, "approved" | "rejected" | "pending_human_review") {
                return Err("claims.pol");
            }
        }
        _ => return Err("claims.pol"),
    }

    // The time rules, in signed arithmetic so that no sum or difference wraps.
    let (now, iat_i, exp_i) = (i128::from(s.now), i128::from(iat), i128::from(exp));
    let leeway = i128::from(s.leeway);
    // ECT-TIME-1: exp > iat.
    if exp_i <= iat_i {
        return Err("time.exp_before_iat");
    }
    // ECT-TIME-2: expired iff now >= exp + leeway.
    if now >= exp_i + leeway {
        return Err("time.expired");
    }
    // ECT-TIME-3: issued in the future iff iat > now + leeway.
    if iat_i > now + leeway {
        return Err("time.not_yet_valid");
    }
    // ECT-TIME-4: too old iff now - iat > max_iat_age.
    if now - iat_i > i128::from(s.max_iat_age) {
        return Err("time.too_old");
    }
    // ECT-TIME-6: nbf, when present: not yet valid iff nbf > now + leeway.
    if nbf.is_some_and(|nbf| i128::from(nbf) > now + leeway) {
        return Err("time.not_yet_valid");
    }
    // ECT-AUD-1: the verifier's identifier is `aud` or one of its elements.
    if !aud.contains(&s.audience.as_str()) {
        return Err("aud.mismatch");
    }

    // Passed: the claims SPEC.md defines, unknown ones left out.
    let mut claims = Map::new();
    for &name in names.known {
        if let Some(value) = payload.get(name) {
            claims.insert(name.to_owned(), value.clone());
        }
    }
    Ok(claims)
}

/// Mode `verify` of the vectors: [`verify`] followed by ECT-RPL-1 against the tokens this
/// verifier accepted before.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModelVerifier {
    replay: Vec<ReplayEntry>,
}

impl ModelVerifier {
    /// A verifier that has accepted nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// SPEC.md §2–§6: [`verify`], then ECT-RPL-1 (check and record). A token rejected by
    /// [`verify`] records nothing.
    pub fn verify(
        &mut self,
        token: &[u8],
        keys: &[ModelKey],
        s: &ModelSettings,
    ) -> Result<Map<String, Value>, &'static str> {
        let claims = verify(token, keys, s)?;
        let node = Node::of(token, &claims, s.profile);
        replay_check_and_record(&mut self.replay, &node, s)?;
        Ok(claims)
    }
}

/// SPEC.md §2–§8 as a plain list: the accepted tokens, scanned linearly, and a replay list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModelLedger {
    accepted: Vec<Node>,
    replay: Vec<ReplayEntry>,
}

impl ModelLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// [`verify`], then ECT-DAG-1..6 against the accepted tokens (linear scans), then
    /// ECT-RPL-1, then the append (ECT-LED-1, ECT-LED-3). A rejection appends nothing and
    /// records nothing (replay entries whose time is over may be forgotten on the way).
    pub fn accept(
        &mut self,
        token: &[u8],
        keys: &[ModelKey],
        s: &ModelSettings,
    ) -> Result<(), &'static str> {
        let claims = verify(token, keys, s)?;
        let node = Node::of(token, &claims, s.profile);
        // SPEC.md §7 against everything accepted so far.
        check_dag(&node, &self.accepted, s)?;
        // ECT-RPL-1, last of the checks.
        replay_check_and_record(&mut self.replay, &node, s)?;
        // ECT-LED-3: a (wid, jti) already present is refused. ECT-DAG-1 has refused it
        // already, so this never fires; it stays as SPEC.md states it.
        if find(&self.accepted, node.wid.as_deref(), &node.jti).is_some() {
            self.replay.pop();
            return Err("ledger.duplicate");
        }
        // ECT-LED-1: append.
        self.accepted.push(node);
        Ok(())
    }

    /// Number of accepted tokens.
    pub fn len(&self) -> usize {
        self.accepted.len()
    }

    /// Whether nothing was accepted.
    pub fn is_empty(&self) -> bool {
        self.accepted.is_empty()
    }

    /// The accepted tokens, in acceptance order.
    pub fn tokens(&self) -> Vec<String> {
        self.accepted.iter().map(|n| n.token.clone()).collect()
    }
}

/// Mode `store` of the vectors: SPEC.md §2–§7 against the parent tokens in `store`.
///
/// Each store token is verified on its own with [`verify`] (no replay check); one that fails
/// is left out, as a receiver drops a parent that does not verify, and of two store tokens
/// with the same `(wid, jti)` the first counts. Then `token` is verified and checked with
/// ECT-DAG-1..6 against the store. No replay check: a single presentation is never a replay.
pub fn verify_in_store(
    token: &[u8],
    store: &[&[u8]],
    keys: &[ModelKey],
    s: &ModelSettings,
) -> Result<Map<String, Value>, &'static str> {
    let mut held: Vec<Node> = Vec::new();
    for parent in store {
        if let Ok(claims) = verify(parent, keys, s) {
            let node = Node::of(parent, &claims, s.profile);
            if find(&held, node.wid.as_deref(), &node.jti).is_none() {
                held.push(node);
            }
        }
    }
    let claims = verify(token, keys, s)?;
    check_dag(&Node::of(token, &claims, s.profile), &held, s)?;
    Ok(claims)
}

/// Model keys from a JWK Set value `{"keys":[...]}` as in the vectors: each key `kty` `EC`,
/// `crv` `P-256`, `x` and `y` of 32 bytes (a point on the curve), a non-empty `kid`, an
/// optional `iss` binding (ECT-KEY-2), no `d`, `alg` `ES256` and `use` `sig` when present.
/// `None` when the set is not such a set (ECT-KEY-3), is empty, or repeats a `kid` or a public
/// key.
pub fn keys_from_jwks(jwks: &Value) -> Option<Vec<ModelKey>> {
    let Some(Value::Array(entries)) = jwks.get("keys") else {
        return None;
    };
    if entries.is_empty() {
        return None;
    }
    let mut keys: Vec<ModelKey> = Vec::new();
    for entry in entries {
        let Value::Object(jwk) = entry else {
            return None;
        };
        let text = |name: &str| match jwk.get(name) {
            Some(Value::String(s)) => Some(s.as_str()),
            _ => None,
        };
        if text("kty") != Some("EC") || text("crv") != Some("P-256") {
            return None;
        }
        if jwk.contains_key("alg") && text("alg") != Some("ES256") {
            return None;
        }
        if jwk.contains_key("use") && text("use") != Some("sig") {
            return None;
        }
        if jwk.contains_key("d") {
            return None;
        }
        let kid = text("kid").filter(|kid| !kid.is_empty())?.to_owned();
        // A kid only once.
        if keys.iter().any(|k| k.kid == kid) {
            return None;
        }
        let iss = match jwk.get("iss") {
            None => None,
            Some(Value::String(iss)) if !iss.is_empty() => Some(iss.clone()),
            Some(_) => return None,
        };
        let x = base64url_decode(text("x")?.as_bytes()).filter(|x| x.len() == 32)?;
        let y = base64url_decode(text("y")?.as_bytes()).filter(|y| y.len() == 32)?;
        let mut sec1 = vec![0x04];
        sec1.extend_from_slice(&x);
        sec1.extend_from_slice(&y);
        // Off-curve points and the identity are refused.
        VerifyingKey::from_sec1_bytes(&sec1).ok()?;
        // One public key only once, under whatever kid (KeySetStrictness).
        if keys.iter().any(|k| k.sec1 == sec1) {
            return None;
        }
        keys.push(ModelKey { kid, sec1, iss });
    }
    Some(keys)
}

// ---------------------------------------------------------------------------------------------
// SPEC.md §7 (DAG) and ECT-RPL-1 over plain lists.

/// What the DAG and replay rules need of a verified token.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Node {
    token: String,
    jti: String,
    wid: Option<String>,
    par: Vec<String>,
    iat: u64,
    exp: u64,
    pol_decision: Option<String>,
}

impl Node {
    /// Reads the fields of a token's verified claims (they have the types [`verify`] checked)
    /// under `profile`'s names.
    fn of(token: &[u8], claims: &Map<String, Value>, profile: ProfileName) -> Node {
        let names = names(profile);
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        let number = |name: &str| claims.get(name).and_then(Value::as_u64).unwrap_or(0);
        Node {
            token: String::from_utf8_lossy(token).into_owned(),
            jti: text("jti").unwrap_or_default(),
            wid: text("wid"),
            par: claims
                .get(names.par)
                .and_then(Value::as_array)
                .map(|all| {
                    all.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            iat: number("iat"),
            exp: number("exp"),
            pol_decision: if names.policy_in_ext {
                claims
                    .get(names.ext)
                    .and_then(|e| e.get("pol_decision"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            } else {
                text("pol_decision")
            },
        }
    }
}

/// Whether two UUIDs are the same, ASCII case-insensitively (ECT-CLM-5).
fn same_id(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Whether two scopes (`wid`, or none) are the same (ECT-CLM-5).
fn same_scope(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => same_id(a, b),
        _ => false,
    }
}

/// The first token of `tokens` with this `jti` in this scope (`wid`, or no `wid`).
fn find<'a>(tokens: &'a [Node], wid: Option<&str>, jti: &str) -> Option<&'a Node> {
    tokens
        .iter()
        .find(|t| same_scope(t.wid.as_deref(), wid) && same_id(&t.jti, jti))
}

/// ECT-DAG-1..6 for `child` against `store`, rule by rule; parents are looked up in the
/// child's scope.
fn check_dag(child: &Node, store: &[Node], s: &ModelSettings) -> Result<(), &'static str> {
    let scope = child.wid.as_deref();

    // ECT-DAG-1: no token with the same jti in the same scope.
    if find(store, scope, &child.jti).is_some() {
        return Err("dag.duplicate_jti");
    }

    // ECT-DAG-2: every parent is in the store (strict); partial mode lets a missing one pass
    // without ever treating it as verified.
    // ECT-P01-5 (draft-01), element by element with DAG-2: a parent the scope lacks but any
    // other scope holds is in the wrong workflow, in both modes.
    let consistency = s.profile == ProfileName::Draft01;
    let mut parents: Vec<&Node> = Vec::new();
    for p in &child.par {
        match find(store, scope, p) {
            Some(parent) => parents.push(parent),
            None if consistency && store.iter().any(|t| same_id(&t.jti, p)) => {
                return Err("dag.workflow_mismatch");
            }
            None if s.partial => {}
            None => return Err("dag.parent_missing"),
        }
    }
    // ECT-P01-5 the other way: a stored token of another scope already names the new jti.
    if consistency
        && store.iter().any(|t| {
            !same_scope(t.wid.as_deref(), scope) && t.par.iter().any(|p| same_id(p, &child.jti))
        })
    {
        return Err("dag.workflow_mismatch");
    }

    // SPEC.md §7 "Late parents": the stored tokens of the scope naming the new jti as a
    // parent (UUIDs compare ASCII case-insensitively, ECT-CLM-5), in store order. Each
    // examined costs one of the budget: the first `ancestor_budget` are.
    let children: Vec<&Node> = store
        .iter()
        .filter(|t| {
            same_scope(t.wid.as_deref(), scope) && t.par.iter().any(|p| same_id(p, &child.jti))
        })
        .collect();
    let examined = &children[..children.len().min(s.ancestor_budget)];

    // ECT-DAG-3: P.iat <= child.iat + skew (equality valid), for the present parents, then
    // with the new token as the parent of each examined stored child.
    for parent in &parents {
        if u128::from(parent.iat) > u128::from(child.iat) + u128::from(s.skew) {
            return Err("dag.temporal_order");
        }
    }
    for c in examined {
        if u128::from(child.iat) > u128::from(c.iat) + u128::from(s.skew) {
            return Err("dag.temporal_order");
        }
    }

    // ECT-DAG-4 and ECT-DAG-5: following `par` from the new token never reaches its own jti,
    // within the budget. The store holds no token with the new jti (DAG-1), so only a stored
    // child can lead back to it: the walk runs only then (the reference's choice, flag
    // LazyCycleWalk), with what the children left of the budget.
    if children.len() > s.ancestor_budget {
        return Err("dag.budget");
    }
    if !children.is_empty() {
        walk_ancestors(child, &parents, store, s.ancestor_budget - children.len())?;
    }

    // ECT-DAG-6: no parent whose policy decision is rejected or pending_human_review, and no
    // such decision on the new token when a stored child already depends on it.
    let blocking = |n: &Node| {
        matches!(
            n.pol_decision.as_deref(),
            Some("rejected" | "pending_human_review")
        )
    };
    if parents.iter().any(|p| blocking(p)) {
        return Err("dag.parent_policy");
    }
    if !children.is_empty() && blocking(child) {
        return Err("dag.parent_policy");
    }
    Ok(())
}

/// ECT-DAG-4 and ECT-DAG-5: a depth-first walk from the parents (last parent first), each
/// ancestor visited once. Every `par` element of a visited token costs one of `left` before
/// it is looked at: `dag.budget` when none is left, `dag.cycle` when it is the child's jti
/// (ASCII case-insensitively, as UUIDs compare).
fn walk_ancestors(
    child: &Node,
    parents: &[&Node],
    store: &[Node],
    mut left: usize,
) -> Result<(), &'static str> {
    let scope = child.wid.as_deref();
    let mut visited: Vec<&str> = Vec::new();
    let mut stack: Vec<&Node> = Vec::new();
    for parent in parents {
        if !visited.iter().any(|v| same_id(v, &parent.jti)) {
            visited.push(&parent.jti);
            stack.push(parent);
        }
    }
    while let Some(node) = stack.pop() {
        for p in &node.par {
            if left == 0 {
                return Err("dag.budget");
            }
            left -= 1;
            if same_id(p, &child.jti) {
                return Err("dag.cycle");
            }
            if visited.iter().any(|v| same_id(v, p)) {
                continue;
            }
            if let Some(next) = find(store, scope, p) {
                visited.push(&next.jti);
                stack.push(next);
            }
        }
    }
    Ok(())
}

/// One remembered token for ECT-RPL-1: its scope, its jti, and when the memory ends.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ReplayEntry {
    wid: Option<String>,
    jti: String,
    /// `exp + leeway`: from then on the token fails ECT-TIME-2 anyway.
    until: u64,
}

/// ECT-RPL-1: a `(wid, jti)` accepted within its expiration window is a replay; otherwise it
/// is recorded until `exp + leeway`. Entries whose time is over (`until <= now`) are
/// forgotten first.
fn replay_check_and_record(
    replay: &mut Vec<ReplayEntry>,
    node: &Node,
    s: &ModelSettings,
) -> Result<(), &'static str> {
    replay.retain(|e| e.until > s.now);
    if replay
        .iter()
        .any(|e| same_scope(e.wid.as_deref(), node.wid.as_deref()) && same_id(&e.jti, &node.jti))
    {
        return Err("replay.jti");
    }
    replay.push(ReplayEntry {
        wid: node.wid.clone(),
        jti: node.jti.clone(),
        until: node.exp.saturating_add(s.leeway),
    });
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Small readers: base64url, JSON objects, typ, UUIDs, NumericDates, the signature.

/// ECT-JWS-3: base64url without padding (RFC 7515 §2, RFC 4648 §5). Refuses any character
/// outside `[A-Za-z0-9_-]` (so `=`, `+`, `/`), a length of 1 modulo 4, and non-zero unused
/// bits in the last character (NonCanonicalBase64).
fn base64url_decode(text: &[u8]) -> Option<Vec<u8>> {
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut bits: u32 = 0; // bits read but not yet output
    let mut count = 0; // how many of them
    for &c in text {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(value);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    // The 2 or 4 bits left over must be zero.
    if bits != 0 {
        return None;
    }
    Some(out)
}

/// ECT-JWS-4 and ECT-JWS-5: UTF-8 JSON text of one object (whitespace around it allowed, as
/// RFC 8259 says), no member name twice in any object at any depth.
fn json_object(bytes: &[u8]) -> Result<Map<String, Value>, &'static str> {
    // Invalid UTF-8 is an error whatever else the text holds (a BOM is UTF-8 but not JSON:
    // serde_json refuses it below).
    if std::str::from_utf8(bytes).is_err() {
        return Err("jws.json");
    }
    // First pass: walk the text for repeated names. serde_json stops at the first problem in
    // the text: syntax, a lone surrogate, nesting deeper than 128, a top-level value that is
    // not an object, trailing bytes (jws.json), or a repeated name (jws.duplicate_member).
    if let Err(e) = serde_json::from_slice::<UniqueNamesObject>(bytes) {
        if e.to_string().starts_with(DUPLICATE) {
            return Err("jws.duplicate_member");
        }
        return Err("jws.json");
    }
    // Second pass: the value itself (the same text, so the same verdict).
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err("jws.json"),
    }
}

/// The message the duplicate check fails with.
const DUPLICATE: &str = "duplicate member name";

/// A JSON object whose objects, at every depth, have unique member names. Holds nothing.
struct UniqueNamesObject;

/// Any JSON value whose objects have unique member names. Holds nothing.
struct UniqueNames;

/// The visitor of both: reads a value and fails on the first repeated name.
struct UniqueNamesVisitor;

impl<'de> Deserialize<'de> for UniqueNamesObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Only an object is accepted at the top.
        d.deserialize_map(UniqueNamesVisitor)
            .map(|UniqueNames| UniqueNamesObject)
    }
}

impl<'de> Deserialize<'de> for UniqueNames {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueNamesVisitor)
    }
}

impl<'de> Visitor<'de> for UniqueNamesVisitor {
    type Value = UniqueNames;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<UniqueNames, E> {
        Ok(UniqueNames)
    }

    fn visit_i64<E>(self, _: i64) -> Result<UniqueNames, E> {
        Ok(UniqueNames)
    }

    fn visit_u64<E>(self, _: u64) -> Result<UniqueNames, E> {
        Ok(UniqueNames)
    }

    fn visit_f64<E>(self, _: f64) -> Result<UniqueNames, E> {
        Ok(UniqueNames)
    }

    fn visit_str<E>(self, _: &str) -> Result<UniqueNames, E> {
        Ok(UniqueNames)
    }

    fn visit_unit<E>(self) -> Result<UniqueNames, E> {
        Ok(UniqueNames)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueNames, A::Error> {
        while seq.next_element::<UniqueNames>()?.is_some() {}
        Ok(UniqueNames)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueNames, A::Error> {
        // Names as decoded: "a" and "\u0061" are the same name.
        let mut names: HashSet<String> = HashSet::new();
        while let Some(name) = map.next_key::<String>()? {
            if !names.insert(name) {
                return Err(de::Error::custom(DUPLICATE));
            }
            map.next_value::<UniqueNames>()?;
        }
        Ok(UniqueNames)
    }
}

/// ECT-HDR-1: `wimse-exec+jwt`, or `application/wimse-exec+jwt` (RFC 7515 §4.1.9), in any
/// ASCII letter case (media types are case-insensitive; flag TypCase). Nothing else. In
/// `draft-01` (ECT-P01-1) `exec+jwt` too, in the same forms.
fn typ_is_ect(typ: &str, profile: ProfileName) -> bool {
    let typ = typ.to_ascii_lowercase();
    let bare = typ.strip_prefix("application/").unwrap_or(&typ);
    match profile {
        ProfileName::Draft00 => bare == "wimse-exec+jwt",
        ProfileName::Draft01 => bare == "wimse-exec+jwt" || bare == "exec+jwt",
    }
}

/// ECT-CLM-5: RFC 9562 text form, 8-4-4-4-12 hex digits (either case), nothing else.
fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 36 {
        return false;
    }
    for (i, c) in b.iter().enumerate() {
        let ok = if matches!(i, 8 | 13 | 18 | 23) {
            *c == b'-'
        } else {
            c.is_ascii_hexdigit()
        };
        if !ok {
            return false;
        }
    }
    true
}

/// ECT-CLM-2 with ECT-TIME-5: an integer in 0 ..= 2^53-1, as serde_json reads it (a
/// non-negative integer without fraction or exponent). Anything else is `claims.type`.
fn numeric_date(value: &Value) -> Result<u64, &'static str> {
    match value.as_u64() {
        Some(n) if n <= MAX_NUMERIC_DATE => Ok(n),
        _ => Err("claims.type"),
    }
}

/// An optional string claim: absent is `None`, present with another type `claims.type`.
fn optional_string<'a>(
    payload: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, &'static str> {
    match payload.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err("claims.type"),
    }
}

/// ECT-CLM-12 depth: `ext` itself is 1, each nested object or array one more.
fn object_depth(ext: &Map<String, Value>) -> usize {
    fn depth(value: &Value) -> usize {
        match value {
            Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
            Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }
    1 + ext.values().map(depth).max().unwrap_or(0)
}

/// ECT-SIG-1: a 32-byte big-endian scalar in `1 .. n-1`.
fn scalar_in_range(x: &[u8]) -> bool {
    x.len() == 32 && x.iter().any(|&b| b != 0) && x < &N[..]
}

/// ECT-SIG-2: p256's ECDSA P-256/SHA-256 verification of `signature` (r‖s) over `message`.
fn es256_verifies(sec1: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let Ok(key) = VerifyingKey::from_sec1_bytes(sec1) else {
        return false;
    };
    let Ok(signature) = Signature::from_slice(signature) else {
        return false;
    };
    key.verify(message, &signature).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{AUDIENCE, NOW, agent_iss, agent_key, sign_json, uuid};
    use serde_json::json;

    fn json_code(text: &str) -> &'static str {
        json_object(text.as_bytes()).map_or_else(|code| code, |_| "ok")
    }

    #[test]
    fn base64url() {
        assert_eq!(base64url_decode(b"e30"), Some(b"{}".to_vec()));
        assert_eq!(base64url_decode(b"AAAA"), Some(vec![0, 0, 0]));
        assert_eq!(base64url_decode(b"_-8"), Some(vec![0xff, 0xef]));
        assert_eq!(base64url_decode(b""), Some(vec![]));
        for bad in [
            &b"e30="[..],
            b"AA+A",
            b"AA/A",
            b"AAAAA",
            b"e31",
            b"AA*A",
            b"A",
        ] {
            assert_eq!(base64url_decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn json_first_problem_wins() {
        assert_eq!(json_code(r#" {"a":1} "#), "ok");
        assert_eq!(json_code(r#"{"a":1,"a":2}"#), "jws.duplicate_member");
        assert_eq!(
            json_code(r#"{"x":[{"q":1,"\u0071":2}]}"#),
            "jws.duplicate_member"
        );
        // A duplicate before a syntax error, and after it.
        assert_eq!(json_code(r#"{"a":1,"a":2,}"#), "jws.duplicate_member");
        assert_eq!(json_code(r#"{"b":[1,],"a":1,"a":2}"#), "jws.json");
        assert_eq!(json_code(r#"{"a":1,"a":2} x"#), "jws.duplicate_member");
        assert_eq!(json_code(r#"[{"a":1,"a":2}]"#), "jws.json");
        assert_eq!(json_code("\u{feff}{}"), "jws.json");
        assert_eq!(json_code(r#"{"a":"\ud800"}"#), "jws.json");
        assert_eq!(json_object(b"{\"a\":\"\xff\",\"a\":1}"), Err("jws.json"));
        // serde_json's recursion limit: 127 nested levels pass, the 128th fails.
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(126), "]".repeat(126));
        assert_eq!(json_code(&deep), "ok");
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(127), "]".repeat(127));
        assert_eq!(json_code(&deep), "jws.json");
    }

    #[test]
    fn small_readers() {
        use ProfileName::{Draft00, Draft01};
        assert!(typ_is_ect("Application/WIMSE-exec+JWT", Draft00));
        assert!(!typ_is_ect(
            "application/application/wimse-exec+jwt",
            Draft00
        ));
        assert!(!typ_is_ect("exec+jwt", Draft00));
        assert!(typ_is_ect("exec+jwt", Draft01));
        assert!(typ_is_ect("Application/EXEC+jwt", Draft01));
        assert!(typ_is_ect("wimse-exec+jwt", Draft01));
        assert!(!typ_is_ect("application/application/exec+jwt", Draft01));
        assert!(!typ_is_ect("jwt", Draft01));
        assert!(is_uuid("6BA7B810-9dad-11d1-80b4-00c04fd430c8"));
        assert!(!is_uuid("6ba7b810-9dad-11d1-80b4_00c04fd430c8"));
        assert_eq!(numeric_date(&json!(0)), Ok(0));
        assert_eq!(numeric_date(&json!(MAX_NUMERIC_DATE)), Ok(MAX_NUMERIC_DATE));
        for bad in [
            json!(MAX_NUMERIC_DATE + 1),
            json!(-1),
            json!(1.0),
            json!("1"),
        ] {
            assert_eq!(numeric_date(&bad), Err("claims.type"));
        }
        assert_eq!(object_depth(json!({"a":[[[{}]]]}).as_object().unwrap()), 5);
        assert!(!scalar_in_range(&[0; 32]));
        assert!(!scalar_in_range(&N));
        let mut below = N;
        below[31] -= 1;
        assert!(scalar_in_range(&below));
    }

    fn setup() -> (Vec<ModelKey>, ModelSettings) {
        let jwks = json!({ "keys": [agent_key(0).to_public_jwk(Some(&agent_iss(0)))] });
        let keys = keys_from_jwks(&jwks).unwrap();
        (keys, ModelSettings::defaults(NOW, AUDIENCE))
    }

    fn token(jti: u128, par: &[u128], extra: Value) -> String {
        let header = json!({"typ":"wimse-exec+jwt","alg":"ES256","kid":"agent-0"});
        let mut payload = json!({
            "iss": agent_iss(0), "aud": AUDIENCE, "iat": NOW, "exp": NOW + 600,
            "jti": uuid(jti), "exec_act": "act",
            "par": par.iter().map(|&p| uuid(p)).collect::<Vec<_>>(),
        });
        for (k, v) in extra.as_object().unwrap() {
            payload[k] = v.clone();
        }
        sign_json(
            header.as_object().unwrap(),
            payload.as_object().unwrap(),
            &agent_key(0),
        )
    }

    #[test]
    fn verify_ledger_and_store() {
        let (keys, s) = setup();
        let root = token(1, &[], json!({}));
        let claims = verify(root.as_bytes(), &keys, &s).unwrap();
        assert_eq!(claims["jti"], json!(uuid(1)));
        assert_eq!(
            verify(token(1, &[], json!({"iat": -0.0})).as_bytes(), &keys, &s),
            Err("claims.type")
        );
        let bound = token(1, &[], json!({"iss": "spiffe://other", "jti": "x"}));
        assert_eq!(
            verify(bound.as_bytes(), &keys, &s),
            Err("key.issuer_mismatch")
        );

        let mut v = ModelVerifier::new();
        assert_eq!(v.verify(root.as_bytes(), &keys, &s), Ok(claims.clone()));
        assert_eq!(v.verify(root.as_bytes(), &keys, &s), Err("replay.jti"));

        let mut ledger = ModelLedger::new();
        let child = token(2, &[1], json!({}));
        assert_eq!(
            ledger.accept(child.as_bytes(), &keys, &s),
            Err("dag.parent_missing")
        );
        assert!(ledger.is_empty());
        assert_eq!(ledger.accept(root.as_bytes(), &keys, &s), Ok(()));
        assert_eq!(ledger.accept(child.as_bytes(), &keys, &s), Ok(()));
        assert_eq!(
            ledger.accept(root.as_bytes(), &keys, &s),
            Err("dag.duplicate_jti")
        );
        assert_eq!(ledger.tokens(), vec![root.clone(), child.clone()]);

        // A store whose token names the new one as a parent: the walk finds the cycle.
        let loop_back = token(3, &[4], json!({}));
        let closing = token(4, &[3], json!({}));
        assert_eq!(
            verify_in_store(closing.as_bytes(), &[loop_back.as_bytes()], &keys, &s),
            Err("dag.cycle")
        );
        let refused = token(5, &[], json!({"pol": "p", "pol_decision": "rejected"}));
        let under = token(6, &[5], json!({}));
        assert_eq!(
            verify_in_store(under.as_bytes(), &[refused.as_bytes()], &keys, &s),
            Err("dag.parent_policy")
        );
    }

    /// Profile draft-01: typ, pred, ect_ext with the policy inside, top-level names ignored,
    /// workflow consistency both ways.
    #[test]
    fn draft_01() {
        let (keys, mut s) = setup();
        s.profile = ProfileName::Draft01;
        let token01 = |typ: &str, jti: u128, wid: Option<u128>, pred: &[u128], extra: Value| {
            let header = json!({"typ": typ, "alg": "ES256", "kid": "agent-0"});
            let mut payload = json!({
                "iss": agent_iss(0), "aud": AUDIENCE, "iat": NOW, "exp": NOW + 600,
                "jti": uuid(jti), "exec_act": "act",
                "pred": pred.iter().map(|&p| uuid(p)).collect::<Vec<_>>(),
            });
            if let Some(w) = wid {
                payload["wid"] = json!(uuid(w));
            }
            for (k, v) in extra.as_object().unwrap() {
                payload[k] = v.clone();
            }
            sign_json(
                header.as_object().unwrap(),
                payload.as_object().unwrap(),
                &agent_key(0),
            )
        };
        let code = |t: &String, s: &ModelSettings| verify(t.as_bytes(), &keys, s).map(|_| ());
        for typ in ["exec+jwt", "application/EXEC+JWT", "wimse-exec+jwt"] {
            assert_eq!(code(&token01(typ, 1, None, &[], json!({})), &s), Ok(()));
        }
        assert_eq!(
            code(&token01("jwt", 1, None, &[], json!({})), &s),
            Err("header.typ")
        );
        // A draft-00 token (legacy typ, accepted) lacks pred; a draft-01 one lacks par under
        // draft-00.
        assert_eq!(code(&token(1, &[], json!({})), &s), Err("claims.missing"));
        let renamed = token01("exec+jwt", 1, None, &[], json!({"par": [], "pred": null}));
        assert_eq!(code(&renamed, &s), Err("claims.type"));
        let d00 = ModelSettings::defaults(NOW, AUDIENCE);
        assert_eq!(
            code(&token01("wimse-exec+jwt", 1, None, &[], json!({})), &d00),
            Err("claims.missing")
        );
        // Top-level pol and ext are unknown claims; the policy inside ect_ext counts.
        let ignored = token01(
            "exec+jwt",
            1,
            None,
            &[],
            json!({"pol": 5, "pol_decision": "bogus", "ext": "x", "par": ["x"]}),
        );
        let claims = verify(ignored.as_bytes(), &keys, &s).unwrap();
        assert_eq!(
            claims.keys().collect::<Vec<_>>(),
            ["aud", "exec_act", "exp", "iat", "iss", "jti", "pred"]
        );
        for (ext, want) in [
            (json!({"pol": "p", "pol_decision": "approved"}), Ok(())),
            (
                json!({"pol": "p", "pol_decision": "approve"}),
                Err("claims.pol"),
            ),
            (
                json!({"pol": 1, "pol_decision": "approved"}),
                Err("claims.pol"),
            ),
            (json!({"pol_decision": "approved"}), Err("claims.pol")),
            (json!({"p": "x".repeat(4090)}), Err("claims.ext_size")),
        ] {
            let t = token01("exec+jwt", 1, None, &[], json!({ "ect_ext": ext }));
            assert_eq!(code(&t, &s), want, "{ext}");
        }
        // ECT-DAG-6 reads ect_ext.pol_decision.
        let refused = token01(
            "exec+jwt",
            5,
            None,
            &[],
            json!({"ect_ext": {"pol": "p", "pol_decision": "rejected"}}),
        );
        let under = token01("exec+jwt", 6, None, &[5], json!({}));
        assert_eq!(
            verify_in_store(under.as_bytes(), &[refused.as_bytes()], &keys, &s).map(|_| ()),
            Err("dag.parent_policy")
        );
        // ECT-P01-5: a parent held in another workflow, in strict and partial mode.
        let other = token01("exec+jwt", 7, Some(100), &[], json!({}));
        let child = token01("exec+jwt", 8, None, &[7], json!({}));
        for partial in [false, true] {
            s.partial = partial;
            let mut ledger = ModelLedger::new();
            assert_eq!(ledger.accept(other.as_bytes(), &keys, &s), Ok(()));
            assert_eq!(
                ledger.accept(child.as_bytes(), &keys, &s),
                Err("dag.workflow_mismatch")
            );
        }
        // The other way: 9 (wid 100) names 10, which then arrives without a wid.
        s.partial = true;
        let mut ledger = ModelLedger::new();
        let namer = token01("exec+jwt", 9, Some(100), &[10], json!({}));
        assert_eq!(ledger.accept(namer.as_bytes(), &keys, &s), Ok(()));
        let late = token01("exec+jwt", 10, None, &[], json!({}));
        assert_eq!(
            ledger.accept(late.as_bytes(), &keys, &s),
            Err("dag.workflow_mismatch")
        );
        let same = token01("exec+jwt", 10, Some(100), &[], json!({}));
        assert_eq!(ledger.accept(same.as_bytes(), &keys, &s), Ok(()));
        // Under draft-00 a parent elsewhere is only missing.
        s.profile = ProfileName::Draft00;
        s.partial = false;
        let other = token(7, &[], json!({"wid": uuid(100)}));
        let child = token(8, &[7], json!({}));
        let mut ledger = ModelLedger::new();
        assert_eq!(ledger.accept(other.as_bytes(), &keys, &s), Ok(()));
        assert_eq!(
            ledger.accept(child.as_bytes(), &keys, &s),
            Err("dag.parent_missing")
        );
    }

    #[test]
    fn late_parents_and_budget_counting() {
        let (keys, mut s) = setup();
        s.partial = true;
        fn store<'a>(t: &[&'a String]) -> Vec<&'a [u8]> {
            t.iter().map(|t| t.as_bytes()).collect()
        }
        // 7 names the missing 8; 8 arriving rejected, or too new, is refused.
        let c = token(7, &[8], json!({"iat": NOW - 100}));
        let rejected = token(
            8,
            &[],
            json!({"pol": "p", "pol_decision": "rejected", "iat": NOW - 100}),
        );
        let too_new = token(8, &[], json!({"iat": NOW - 69}));
        let fine = token(8, &[], json!({"iat": NOW - 70}));
        for (late, want) in [
            (&rejected, Err("dag.parent_policy")),
            (&too_new, Err("dag.temporal_order")),
        ] {
            let mut ledger = ModelLedger::new();
            assert_eq!(ledger.accept(c.as_bytes(), &keys, &s), Ok(()));
            assert_eq!(ledger.accept(late.as_bytes(), &keys, &s), want);
            assert_eq!(ledger.len(), 1);
            let got = verify_in_store(late.as_bytes(), &store(&[&c]), &keys, &s);
            assert_eq!(got.map(|_| ()), want);
        }
        assert_eq!(
            verify_in_store(fine.as_bytes(), &store(&[&c]), &keys, &s).map(|_| ()),
            Ok(())
        );
        // 9 names 10, 11, 12 (none stored); 8 names 9: 1 child + 3 edges = 4 lookups.
        let a = token(9, &[10, 11, 12], json!({"iat": NOW - 100}));
        let x = token(8, &[9], json!({"iat": NOW - 100}));
        for (budget, want) in [(3, Err("dag.budget")), (4, Ok(()))] {
            s.ancestor_budget = budget;
            let got = verify_in_store(x.as_bytes(), &store(&[&a, &c]), &keys, &s).map(|_| ());
            assert_eq!(got, want, "budget {budget}");
        }
        // Two children and budget 1: over the budget before any walk.
        s.ancestor_budget = 1;
        let c2 = token(13, &[8], json!({}));
        assert_eq!(
            verify_in_store(fine.as_bytes(), &store(&[&c, &c2]), &keys, &s).map(|_| ()),
            Err("dag.budget")
        );
    }
}
