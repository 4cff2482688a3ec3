//! Differential check of the JWS layer against jsonwebtoken 11 (RustCrypto backend) over every
//! spec vector of kind `token`, mode `verify`, with no `before` tokens (issue 6, item 6), of
//! both profiles (`vectors/` and `vectors/draft-01/`): the categories read the claims as the
//! vector's profile spells them (`pred`, `ect_ext` with the policy members inside it).
//!
//! # How jsonwebtoken is driven
//!
//! For each vector the token is given to `jsonwebtoken::decode::<serde_json::Value>` the way a
//! careful application would configure it for ECTs:
//!
//! * the key: `decode_header`, then the vector's `jwks` entry whose `kid` is the header's
//!   `kid` (`DecodingKey::from_ec_components`). A header that decodes without a `kid`, or
//!   with a `kid` the key set does not hold, is a rejection by this glue ("no key for kid"),
//!   as it would be in any application. A header that does not decode gets any key (the first):
//!   `decode` then fails on the header anyway;
//! * `Validation`: algorithms exactly `[ES256]`, `aud` = the vector's `settings.audience`,
//!   `validate_exp`, `validate_nbf` off (see [`NBF_UNCHECKED`]), required claims `exp`,
//!   `iss`, `aud` (the only ones of SPEC.md's required claims that jsonwebtoken knows: it
//!   skips any other name in `required_spec_claims`), no issuer list (SPEC.md has none);
//! * the clock: jsonwebtoken always reads the system clock, the vectors are pinned to
//!   `settings.now`. jsonwebtoken rejects as expired iff
//!   `exp - reject_tokens_expiring_in_less_than < clock - leeway` (and any
//!   `exp < reject_tokens_expiring_in_less_than` as invalid), so with `target = now - leeway`
//!   the test passes `leeway' = clock - target` (or, with a clock behind the vectors,
//!   `leeway' = 0` and `reject_tokens_expiring_in_less_than = target - clock`): jsonwebtoken
//!   then expires a token iff `exp < now - leeway`, exactly as at the vector's `now`. The clock
//!   is read before and after `decode`, and the call is repeated if the second changed.
//!
//! The question is only "does jsonwebtoken accept the token", compared with the vector's
//! expected result (`valid` / `invalid`; for `acceptable`, the reference's choice in
//! `reference`). The reference itself is checked against the vectors elsewhere
//! (`tests/vectors.rs`).
//!
//! # The divergences
//!
//! Every disagreement must fall into exactly one category of [`DIVERGENCES`], each a predicate
//! over the vector (its code, its decoded header and payload) that states *why* jsonwebtoken
//! answers differently; otherwise the test fails. A category that matches no disagreement is
//! stale and fails the test too. Run with `--nocapture` for the counts. As of jsonwebtoken
//! 11.1 every divergence is jsonwebtoken accepting what SPEC.md rejects:
//!
//! * it ignores `typ` ([`IGNORES_TYP`]) and `crit` ([`IGNORES_CRIT`]) as long as they have
//!   the type its `Header` struct declares;
//! * it has no token size limit ([`NO_SIZE_LIMIT`]);
//! * duplicate members are last-wins except where serde's struct derive sees them
//!   ([`DUPLICATES_LAST_WINS`]);
//! * it knows none of the ECT claims ([`ECT_CLAIMS_UNCHECKED`]) and never reads `iat`
//!   ([`IAT_UNCHECKED`]);
//! * its `exp` is a `u64` with fractions rounded ([`EXP_FRACTION_ROUNDED`],
//!   [`EXP_RANGE_U64`]), expired only when `exp < now - leeway` ([`EXP_BOUNDARY`]);
//! * it checks `iss` only against a configured issuer list ([`ISS_VALUE_UNCHECKED`]) and an
//!   `aud` array only for one matching element ([`AUD_OTHER_ELEMENTS_UNCHECKED`]);
//! * it has no notion of a key bound to an issuer ([`NO_KEY_ISSUER_BINDING`]).
//!
//! No `valid` vector is rejected by jsonwebtoken (no reverse divergence): it accepts the
//! registered header parameters of ECT-HDR-5 (`jwk`, `x5c`, ... parse into its typed
//! fields), high-S signatures, whitespace around the JSON objects, and `exp` = 2^53-1.
//!
//! Expected divergences that turned out not to be: jsonwebtoken's base64 (`URL_SAFE_NO_PAD`)
//! rejects padding and non-canonical trailing bits like the reference; serde_json rejects
//! BOMs, trailing bytes, lone surrogates, invalid UTF-8 and nesting beyond 128 levels;
//! duplicate header members of its typed fields (`typ`, `kid`, also when escaped; the
//! duplicate-`alg` vector fails earlier, on its first value `none`) and duplicate `exp`/`iss`
//! claims are serde "duplicate field" errors; a non-string `typ`/`kid`/`alg` or a non-array
//! `crit` fails its header parse; DER, short, long, zero and out-of-range signatures fail
//! `Signature::from_slice`; an `exp` that is no number in `u64` range (string, bool, beyond
//! `u64`) counts as missing. DAG rules and replay are out of scope: only single tokens in mode
//! `verify` without `before` are compared.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::path::Path;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{
    Algorithm, DecodingKey, Validation, decode, decode_header, get_current_timestamp,
};
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use wimse_ect::{DRAFT_00, DRAFT_01, PolicyClaimsAt};
use wimse_ect_conformance::harness::load;
use wimse_ect_conformance::profile_dir;
use wimse_ect_conformance::vector::{Kind, Mode, ProfileName, Settings, Vector, Verdict};

/// What jsonwebtoken (with the glue that picks the key) says about a token.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Jwt {
    Accepted,
    /// The header decodes but names no key of the set (no `kid`, or an unknown one).
    NoKey,
    /// `decode` failed with this error kind (`Debug` of the kind, details dropped).
    Rejected(String),
}

impl fmt::Display for Jwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Jwt::Accepted => f.write_str("accepted"),
            Jwt::NoKey => f.write_str("rejected: no key for kid"),
            Jwt::Rejected(kind) => write!(f, "rejected: {kind}"),
        }
    }
}

/// The error kind without its payload (serde_json and base64 messages carry positions).
fn kind_label(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::Json(_) => "Json".to_owned(),
        ErrorKind::Base64(_) => "Base64".to_owned(),
        // Which required claim is reported first depends on HashSet order.
        ErrorKind::MissingRequiredClaim(_) => "MissingRequiredClaim".to_owned(),
        other => format!("{other:?}"),
    }
}

/// The trusted key named `kid` (any key when `kid` is `None`), as jsonwebtoken's key.
fn decoding_key(jwks: &Value, kid: Option<&str>) -> Option<DecodingKey> {
    let keys = jwks.get("keys")?.as_array()?;
    let jwk = match kid {
        Some(kid) => keys
            .iter()
            .find(|k| k.get("kid").and_then(Value::as_str) == Some(kid))?,
        None => keys.first()?,
    };
    DecodingKey::from_ec_components(jwk.get("x")?.as_str()?, jwk.get("y")?.as_str()?).ok()
}

/// jsonwebtoken's verdict on `token` at the vector's `now` (see the module comment).
fn jsonwebtoken_verdict(token: &str, jwks: &Value, s: &Settings) -> Jwt {
    let key = match decode_header(token) {
        Ok(header) => match header
            .kid
            .as_deref()
            .and_then(|kid| decoding_key(jwks, Some(kid)))
        {
            Some(key) => key,
            None => return Jwt::NoKey,
        },
        Err(_) => decoding_key(jwks, None).expect("every token vector has a trusted key"),
    };
    let target = s
        .now
        .checked_sub(s.leeway)
        .expect("settings.now >= settings.leeway");
    loop {
        let clock = get_current_timestamp();
        let mut v = Validation::new(Algorithm::ES256);
        v.set_audience(&[&s.audience]);
        v.set_required_spec_claims(&["exp", "iss", "aud"]);
        v.validate_exp = true;
        v.validate_nbf = false;
        v.validate_aud = true;
        if clock >= target {
            v.leeway = clock - target;
            v.reject_tokens_expiring_in_less_than = 0;
        } else {
            v.leeway = 0;
            v.reject_tokens_expiring_in_less_than = target - clock;
        }
        let result = decode::<Value>(token, &key, &v);
        if get_current_timestamp() == clock {
            return match result {
                Ok(_) => Jwt::Accepted,
                Err(e) => Jwt::Rejected(kind_label(e.kind())),
            };
        }
    }
}

/// Duplicate member names in a JSON text, as `(depth, name)`: depth 0 is the top-level
/// object's members. `None` when the text is not JSON.
fn duplicates(text: &str) -> Option<Vec<(usize, String)>> {
    struct Scan<'a> {
        depth: usize,
        found: &'a mut Vec<(usize, String)>,
    }
    impl<'de> DeserializeSeed<'de> for Scan<'_> {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for Scan<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let depth = self.depth + 1;
            while seq
                .next_element_seed(Scan {
                    depth,
                    found: &mut *self.found,
                })?
                .is_some()
            {}
            Ok(())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = HashSet::new();
            while let Some(name) = map.next_key::<String>()? {
                if !seen.insert(name.clone()) {
                    self.found.push((self.depth, name));
                }
                map.next_value_seed(Scan {
                    depth: self.depth + 1,
                    found: &mut *self.found,
                })?;
            }
            Ok(())
        }
    }
    let mut found = Vec::new();
    let mut de = serde_json::Deserializer::from_str(text);
    // The top-level object's members are at depth 0.
    Scan {
        depth: 0,
        found: &mut found,
    }
    .deserialize(&mut de)
    .ok()?;
    de.end().ok()?;
    Some(found)
}

/// A vector with everything the categories look at.
struct Facts<'a> {
    vector: &'a Vector,
    /// `valid` or `invalid` (an `acceptable` vector's `reference` choice).
    expected: Verdict,
    jwt: Jwt,
    /// The decoded header object (last value of a duplicate), when it is one.
    header: Option<Map<String, Value>>,
    /// The decoded payload object (last value of a duplicate), when it is one.
    payload: Option<Map<String, Value>>,
    header_duplicates: Option<Vec<(usize, String)>>,
    payload_duplicates: Option<Vec<(usize, String)>>,
}

impl Facts<'_> {
    fn code(&self) -> &str {
        self.vector.code.as_deref().unwrap_or("")
    }

    fn claim(&self, name: &str) -> Option<&Value> {
        self.payload.as_ref()?.get(name)
    }

    /// The claims at fault for `claims.missing` / `claims.type`: required claims that are
    /// absent and present claims of the wrong JSON type (ECT-CLM-2, with ECT-TIME-5's range).
    fn claims_at_fault(&self) -> BTreeSet<&'static str> {
        let Some(p) = &self.payload else {
            return BTreeSet::new();
        };
        fn string(v: &Value) -> bool {
            v.is_string()
        }
        fn strings(v: &Value) -> bool {
            v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
        }
        fn numeric_date(v: &Value) -> bool {
            v.as_u64().is_some_and(|n| n <= MAX_NUMERIC_DATE)
        }
        // The claims as the vector's profile spells them (`pred`, `ect_ext` in draft-01, where
        // `pol` and `pol_decision` are members of `ect_ext`, not claims).
        let names = self.vector.case.settings.profile.profile().claims;
        let policy_claims = names_have_top_level_policy(self.vector);
        let typed: [(&'static str, TypeCheck); 14] = [
            ("iss", string),
            ("aud", |v| string(v) || strings(v)),
            ("iat", numeric_date),
            ("exp", numeric_date),
            ("nbf", numeric_date),
            ("jti", string),
            ("exec_act", string),
            (names.par, strings),
            ("wid", string),
            ("inp_hash", string),
            ("out_hash", string),
            (names.ext, Value::is_object),
            ("pol", string),
            ("pol_decision", string),
        ];
        let required = ["iss", "aud", "iat", "exp", "jti", "exec_act", names.par];
        let mut out = BTreeSet::new();
        for (name, ok) in typed {
            if !policy_claims && (name == "pol" || name == "pol_decision") {
                continue;
            }
            match p.get(name) {
                None if required.contains(&name) => {
                    out.insert(name);
                }
                Some(value) if !ok(value) => {
                    out.insert(name);
                }
                _ => {}
            }
        }
        out
    }

    /// `claims.missing` or `claims.type`, with every claim at fault among `names`.
    fn claims_fault_only_in(&self, names: &[&str]) -> bool {
        let at_fault = self.claims_at_fault();
        matches!(self.code(), "claims.missing" | "claims.type")
            && !at_fault.is_empty()
            && at_fault.iter().all(|c| names.contains(c))
    }
}

/// Whether a claim value has the JSON type SPEC.md requires (ECT-CLM-2, ECT-TIME-5).
type TypeCheck = fn(&Value) -> bool;

/// The largest NumericDate SPEC.md allows (ECT-TIME-5).
const MAX_NUMERIC_DATE: u64 = (1 << 53) - 1;

/// Whether `pol` and `pol_decision` are top-level claims in the vector's profile (draft-00;
/// in draft-01 they are members of `ect_ext`, ECT-P01-4).
fn names_have_top_level_policy(v: &Vector) -> bool {
    v.case.settings.profile.profile().policy_claims == PolicyClaimsAt::TopLevel
}

/// Which way the two disagree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Direction {
    /// The vector expects a rejection; jsonwebtoken accepts.
    JwtAccepts,
    /// The vector expects acceptance; jsonwebtoken rejects.
    JwtRejects,
}

/// One documented divergence: a name, a direction, and the predicate that recognises it.
struct Divergence {
    name: &'static str,
    direction: Direction,
    applies: fn(&Facts) -> bool,
}

/// jsonwebtoken ignores `typ` (ECT-HDR-1): its `Header` has `typ: Option<String>` and nothing
/// reads it. So a missing, `null` or wrong string `typ` (`JWT`, `exec+jwt`, parameters,
/// spaces, ...) passes; a `typ` of another JSON type fails the header parse (agreement).
const IGNORES_TYP: Divergence = Divergence {
    name: "jsonwebtoken ignores typ",
    direction: Direction::JwtAccepts,
    applies: |f| {
        f.code() == "header.typ"
            && f.header
                .as_ref()
                .is_some_and(|h| h.get("typ").is_none_or(|t| t.is_null() || t.is_string()))
    },
};

/// jsonwebtoken ignores `crit` (ECT-HDR-3, RFC 7515 §4.1.11): its `Header` has
/// `crit: Option<Vec<String>>` and nothing reads it, so `crit` naming extensions it does not
/// understand (`b64`, unknown names, even `[]` or `null`) passes; a `crit` that is not an
/// array of strings fails the header parse (agreement).
const IGNORES_CRIT: Divergence = Divergence {
    name: "jsonwebtoken ignores crit",
    direction: Direction::JwtAccepts,
    applies: |f| {
        f.code() == "header.crit"
            && f.header
                .as_ref()
                .and_then(|h| h.get("crit"))
                .is_some_and(|c| {
                    c.is_null() || c.as_array().is_some_and(|a| a.iter().all(Value::is_string))
                })
    },
};

/// jsonwebtoken has no token size limit (ECT-JWS-1): a token over `max_token_bytes` is
/// parsed and verified like any other.
const NO_SIZE_LIMIT: Divergence = Divergence {
    name: "jsonwebtoken has no token size limit",
    direction: Direction::JwtAccepts,
    applies: |f| {
        f.code() == "jws.too_large"
            && f.vector.case.token.as_ref().map(String::len)
                > Some(f.vector.case.settings.max_token_bytes)
    },
};

/// jsonwebtoken takes the last value of a duplicate member (ECT-JWS-5, flag
/// `DuplicateMember`): the claims are a `serde_json::Value`, whose maps keep the last value.
/// Only names that serde's struct derive sees are errors ("duplicate field"): its typed
/// `Header` fields and the `exp`/`nbf`/`sub`/`iss`/`aud` claims at the top level of the
/// payload (`ClaimsForValidation`), so those vectors agree. The divergences are duplicates
/// in the payload only: another top-level claim (`jti`, both values the same, ...) or any
/// nested object (`ext`, custom claims).
const DUPLICATES_LAST_WINS: Divergence = Divergence {
    name: "jsonwebtoken takes the last of duplicate members",
    direction: Direction::JwtAccepts,
    applies: |f| {
        const STRUCT_CLAIMS: [&str; 5] = ["exp", "nbf", "sub", "iss", "aud"];
        f.code() == "jws.duplicate_member"
            && f.header_duplicates.as_ref().is_some_and(Vec::is_empty)
            && f.payload_duplicates.as_ref().is_some_and(|d| {
                !d.is_empty()
                    && d.iter()
                        .all(|(depth, name)| *depth > 0 || !STRUCT_CLAIMS.contains(&name.as_str()))
            })
    },
};

/// The claims only ECTs define (all but the four registered JWT claims `iss`, `aud`, `iat`,
/// `exp`, which come first), as profile `p` spells them; jsonwebtoken never looks at them.
fn ect_only(p: ProfileName) -> &'static [&'static str] {
    const ALL_00: [&str; 13] = DRAFT_00.claims.all();
    const ALL_01: [&str; 13] = DRAFT_01.claims.all();
    match p {
        ProfileName::Draft00 => &ALL_00[4..],
        ProfileName::Draft01 => &ALL_01[4..],
    }
}

/// jsonwebtoken does not know the ECT claims (ECT-CLM-1/2 for them, ECT-CLM-5..13): it cannot
/// require `jti`, `exec_act` or `par` (`required_spec_claims` skips names other than
/// exp/nbf/sub/iss/aud), and checks neither the type nor the value of `jti`, `exec_act`,
/// `par`, `wid`, `inp_hash`, `out_hash`, `ext`, `pol`, `pol_decision` (UUID syntax, `par`
/// self-reference and length, hash form, `ext` limits, policy pairing). An application has
/// to check all of this itself.
const ECT_CLAIMS_UNCHECKED: Divergence = Divergence {
    name: "jsonwebtoken does not check the ECT claims",
    direction: Direction::JwtAccepts,
    applies: |f| {
        f.claims_fault_only_in(ect_only(f.vector.case.settings.profile))
            || matches!(
                f.code(),
                "claims.jti"
                    | "claims.wid"
                    | "claims.exec_act"
                    | "claims.par"
                    | "claims.par_self"
                    | "claims.par_too_long"
                    | "claims.hash"
                    | "claims.ext_size"
                    | "claims.ext_depth"
                    | "claims.pol"
            )
    },
};

/// jsonwebtoken never reads `iat`: it cannot require it, and checks neither its type and
/// range (ECT-CLM-1/2, ECT-TIME-5: a string, `null`, negative, `-0`, fractional or exponent
/// `iat` passes) nor the rules built on it: `exp > iat` (ECT-TIME-1), not issued in the
/// future (ECT-TIME-3), not too old (ECT-TIME-4).
const IAT_UNCHECKED: Divergence = Divergence {
    name: "jsonwebtoken does not check iat",
    direction: Direction::JwtAccepts,
    applies: |f| {
        f.claims_fault_only_in(&["iat"])
            || matches!(f.code(), "time.exp_before_iat" | "time.too_old")
            || (f.code() == "time.not_yet_valid" && !(NBF_UNCHECKED.applies)(f))
    },
};

/// This test turns jsonwebtoken's `nbf` check off (`validate_nbf`): its clock cannot be pinned
/// to the vector's `now` for `nbf` the way it is for `exp` (the `leeway` shift that pins `exp`
/// would move `nbf`'s bound the other way). So a future `nbf` (ECT-TIME-6) and an `nbf` that
/// is no NumericDate (ECT-TIME-5) pass; the vectors mark both `acceptable` (`NotBefore`).
const NBF_UNCHECKED: Divergence = Divergence {
    name: "nbf is not checked by this test's jsonwebtoken configuration",
    direction: Direction::JwtAccepts,
    applies: |f| {
        f.vector.flags.iter().any(|flag| flag == "NotBefore")
            && (f.claims_fault_only_in(&["nbf"]) || f.code() == "time.not_yet_valid")
    },
};

/// jsonwebtoken rounds a fractional `exp` to the nearest integer (`value.round() as u64`)
/// where SPEC.md rejects it (ECT-TIME-5, flag `FractionalNumericDate`; RFC 7519 allows
/// fractions, so the vector is `acceptable` and this is the reference's strict choice).
const EXP_FRACTION_ROUNDED: Divergence = Divergence {
    name: "jsonwebtoken rounds a fractional exp",
    direction: Direction::JwtAccepts,
    applies: |f| {
        f.claims_fault_only_in(&["exp"])
            && f.claim("exp").is_some_and(|e| {
                e.as_f64()
                    .is_some_and(|x| x.is_finite() && x >= 0.0 && x.fract() != 0.0)
            })
    },
};

/// jsonwebtoken reads `exp` as any `u64`, where SPEC.md bounds NumericDates by 2^53-1
/// (ECT-TIME-5, the largest integer every JSON parser represents exactly).
const EXP_RANGE_U64: Divergence = Divergence {
    name: "jsonwebtoken accepts exp beyond 2^53-1",
    direction: Direction::JwtAccepts,
    applies: |f| {
        f.claims_fault_only_in(&["exp"])
            && f.claim("exp")
                .and_then(Value::as_u64)
                .is_some_and(|e| e > MAX_NUMERIC_DATE)
    },
};

/// jsonwebtoken expires a token only when `exp < now - leeway`; SPEC.md (ECT-TIME-2, with
/// RFC 7519 §4.1.4: the current time MUST be before `exp`) when `now >= exp + leeway`. At
/// `exp == now - leeway` exactly (with or without leeway) jsonwebtoken still accepts.
const EXP_BOUNDARY: Divergence = Divergence {
    name: "jsonwebtoken accepts exp == now - leeway",
    direction: Direction::JwtAccepts,
    applies: |f| {
        let s = &f.vector.case.settings;
        f.code() == "time.expired"
            && f.claim("exp").and_then(Value::as_u64) == s.now.checked_sub(s.leeway)
    },
};

/// jsonwebtoken checks `iss` only against a configured issuer list, and SPEC.md has none
/// (issuers are bound to keys instead): an empty `iss` string passes (ECT-CLM-3). A missing
/// or non-string `iss` fails its `required_spec_claims` check (agreement).
const ISS_VALUE_UNCHECKED: Divergence = Divergence {
    name: "jsonwebtoken does not check the iss value",
    direction: Direction::JwtAccepts,
    applies: |f| f.code() == "claims.iss" && f.claim("iss").is_some_and(Value::is_string),
};

/// jsonwebtoken accepts an `aud` array as soon as one element is the verifier's audience;
/// the other elements are not checked, so an empty string beside it passes (ECT-CLM-4).
const AUD_OTHER_ELEMENTS_UNCHECKED: Divergence = Divergence {
    name: "jsonwebtoken checks only the matching aud element",
    direction: Direction::JwtAccepts,
    applies: |f| {
        let audience = Value::String(f.vector.case.settings.audience.clone());
        f.code() == "claims.aud"
            && f.claim("aud")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().all(Value::is_string) && a.contains(&audience))
    },
};

/// jsonwebtoken has no notion of a key bound to an issuer (ECT-KEY-2): the application
/// picks the key by `kid`, and jsonwebtoken verifies the signature with it whatever `iss`
/// says. (Configuring `Validation::iss` per key would be the application's job.)
const NO_KEY_ISSUER_BINDING: Divergence = Divergence {
    name: "jsonwebtoken does not bind keys to issuers",
    direction: Direction::JwtAccepts,
    applies: |f| f.code() == "key.issuer_mismatch",
};

/// Every documented divergence, in one place. Each disagreement matches exactly one.
const DIVERGENCES: &[Divergence] = &[
    IGNORES_TYP,
    IGNORES_CRIT,
    NO_SIZE_LIMIT,
    DUPLICATES_LAST_WINS,
    ECT_CLAIMS_UNCHECKED,
    IAT_UNCHECKED,
    NBF_UNCHECKED,
    EXP_FRACTION_ROUNDED,
    EXP_RANGE_U64,
    EXP_BOUNDARY,
    ISS_VALUE_UNCHECKED,
    AUD_OTHER_ELEMENTS_UNCHECKED,
    NO_KEY_ISSUER_BINDING,
];

fn object(text: Option<&str>) -> Option<Map<String, Value>> {
    match serde_json::from_str(text?).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

#[test]
fn jsonwebtoken_disagrees_with_the_vectors_only_as_documented() {
    // Both profiles' vectors: jsonwebtoken knows neither profile's claims, and ignores typ.
    let loaded: Vec<_> = ProfileName::ALL
        .into_iter()
        .flat_map(|p| load(&profile_dir(Path::new("vectors"), p)).expect("vectors load"))
        .collect();
    let mut compared = 0;
    let mut agreements: BTreeMap<(Verdict, String), usize> = BTreeMap::new();
    let mut matched: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut failures = Vec::new();

    for l in &loaded {
        let v = &l.vector;
        if v.case.kind != Kind::Token
            || v.case.mode != Some(Mode::Verify)
            || !v.case.before.is_empty()
        {
            continue;
        }
        compared += 1;
        let token = v.case.token.as_deref().expect("a token vector has a token");
        let expected = match v.result {
            Verdict::Acceptable => v.reference.expect("an acceptable vector has reference"),
            verdict => verdict,
        };
        let header_text = v.intermediate.as_ref().and_then(|i| i.header.as_deref());
        let payload_text = v.intermediate.as_ref().and_then(|i| i.payload.as_deref());
        let facts = Facts {
            vector: v,
            expected,
            jwt: jsonwebtoken_verdict(token, &v.case.jwks, &v.case.settings),
            header: object(header_text),
            payload: object(payload_text),
            header_duplicates: header_text.and_then(duplicates),
            payload_duplicates: payload_text.and_then(duplicates),
        };
        let jwt_accepts = facts.jwt == Jwt::Accepted;
        if jwt_accepts == (facts.expected == Verdict::Valid) {
            let how = match &facts.jwt {
                Jwt::Accepted => "accepted".to_owned(),
                other => other.to_string(),
            };
            *agreements.entry((facts.expected, how)).or_default() += 1;
            continue;
        }
        let direction = if jwt_accepts {
            Direction::JwtAccepts
        } else {
            Direction::JwtRejects
        };
        let categories: Vec<&str> = DIVERGENCES
            .iter()
            .filter(|d| d.direction == direction && (d.applies)(&facts))
            .map(|d| d.name)
            .collect();
        match categories.as_slice() {
            [one] => matched.entry(one).or_default().push(&v.id),
            none_or_many => failures.push(format!(
                "{} ({:?}, expected {:?}{}): jsonwebtoken {}; categories {:?}",
                v.id,
                direction,
                facts.expected,
                v.code
                    .as_deref()
                    .map(|c| format!(" {c}"))
                    .unwrap_or_default(),
                facts.jwt,
                none_or_many
            )),
        }
    }

    let agreed: usize = agreements.values().sum();
    let diverged: usize = matched.values().map(Vec::len).sum();
    println!(
        "jsonwebtoken vs {compared} vectors: {agreed} agree, {diverged} documented divergences, {} undocumented",
        failures.len()
    );
    for ((verdict, how), n) in &agreements {
        println!("  agree   {n:4}  expected {verdict:?}, jsonwebtoken {how}");
    }
    for d in DIVERGENCES {
        let ids = matched.get(d.name).map(Vec::as_slice).unwrap_or_default();
        println!("  diverge {:4}  {:?}: {}", ids.len(), d.direction, d.name);
        for id in ids {
            println!("                  {id}");
        }
    }

    assert!(compared >= 600, "only {compared} vectors compared");
    assert_eq!(
        failures,
        Vec::<String>::new(),
        "disagreements with jsonwebtoken that are not (exactly once) documented"
    );
    let stale: Vec<&str> = DIVERGENCES
        .iter()
        .map(|d| d.name)
        .filter(|name| !matched.contains_key(name))
        .collect();
    assert_eq!(
        stale,
        Vec::<&str>::new(),
        "documented divergences that match nothing"
    );
    assert_eq!(agreed + diverged, compared);
}

#[test]
fn the_duplicate_scanner_reports_depth_and_name() {
    assert_eq!(duplicates(r#"{"a":1,"b":2}"#), Some(vec![]));
    assert_eq!(
        duplicates(r#"{"a":1,"a":2,"x":[{"k":{"b":true,"b":false}}],"t\u0079p":0,"typ":1}"#),
        Some(vec![(0, "a".into()), (3, "b".into()), (0, "typ".into())])
    );
    assert_eq!(duplicates(r#"{"a":1} x"#), None);
    assert_eq!(
        duplicates("[1, {\"a\": null, \"a\": null}]"),
        Some(vec![(1, "a".into())])
    );
}
