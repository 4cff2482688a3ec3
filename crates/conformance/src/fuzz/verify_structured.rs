//! The `verify_structured` target: a [`TokenDesc`] (a near-valid token changed by a few edits
//! of its header members, claims, JSON text, signature and compact encoding, under default or
//! other verifier settings) rendered, signed by a trusted key and given to
//! [`wimse_ect::Verifier::verify`] and to the model ([`model::verify`]): the same verdict and
//! code, or on acceptance the same claims. The descriptions reach the deep checks: the header
//! (ECT-HDR-1..5), keys and signature (ECT-KEY-1..2, ECT-SIG-1..2), claims (ECT-CLM-1..13) and
//! times (ECT-TIME-1..6) at their boundaries, and the encoding (ECT-JWS-1..5).

use std::fmt::Write as _;

use arbitrary::{Arbitrary, Unstructured};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::common::{Decision, FuzzProfile, Settings, assert_agree, hex, keys, small_uuid};
use crate::fixtures::{P256_ORDER, der_signature, high_s_twin};
use crate::model;
use crate::testing::{AUDIENCE, NOW, agent_iss};
use wimse_ect::SigningKey;
use wimse_ect::base64url::encode as b64_encode;
use wimse_ect::sha256_b64url;

/// A description of one token for [`verify_structured`]: a near-valid token by default (claims
/// from [`BaseClaims`], often at a time or `ext` limit; the default header; a good signature by
/// `agent-0` or `agent-1`), changed by a few edits. Edit lists are short on random input (each
/// element costs a continuation bit), defects of the text, the encoding and the signature and
/// non-default settings are rare, so most tokens get past the signature and reach the deep
/// checks. The empty input describes a valid token.
#[derive(Arbitrary, Debug, Clone)]
pub struct TokenDesc {
    /// The signer: `agent-1` (no issuer binding) when set, else `agent-0` (bound to its iss).
    pub signer_unbound: bool,
    /// The claim set the edits start from.
    pub base: BaseClaims,
    /// Edits of the header members (at most 8 are applied).
    pub header: Vec<HeaderEdit>,
    /// Edits of the payload members (at most 8 are applied).
    pub claims: Vec<ClaimEdit>,
    /// Edits of the header or payload JSON text, rarely (at most 4 are applied).
    pub text: Few<TextEdit>,
    /// A defective signature, rarely.
    pub signature: Rare<BadSignature>,
    /// Edits of the compact serialization after signing, rarely (at most 4 are applied).
    pub encoding: Few<EncodingEdit>,
    /// Verifier settings other than SPEC.md's defaults, rarely.
    pub settings: Rare<SettingsDesc>,
    /// The profile (SPEC.md §10) the token is written and verified under: in `draft-01` the
    /// default `typ` is `exec+jwt`, the parents are `pred`, the extension object `ect_ext`
    /// with the base policy members inside it, and the edits of [`ClaimName::Par`] and
    /// [`ClaimName::Ext`] name `pred` and `ect_ext` (draft-00's names are reached through
    /// [`ClaimName::Other`]; [`ClaimName::Pol`] is then a top-level, ignored claim). Last, so
    /// inputs made before it decode to the same description, in `draft-00`.
    pub profile: FuzzProfile,
}

/// `Some` rarely: on one byte in eight (and `None` when the input is exhausted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rare<T>(pub Option<T>);

impl<'a, T: Arbitrary<'a>> Arbitrary<'a> for Rare<T> {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(Rare(if u8::arbitrary(u)? >= 0xe0 {
            Some(T::arbitrary(u)?)
        } else {
            None
        }))
    }
}

/// A list that is usually empty: each element is preceded by a byte, and the list goes on only
/// for one byte value in eight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Few<T>(pub Vec<T>);

impl<'a, T: Arbitrary<'a>> Arbitrary<'a> for Few<T> {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let mut items = Vec::new();
        while u8::arbitrary(u)? >= 0xe0 {
            items.push(T::arbitrary(u)?);
        }
        Ok(Few(items))
    }
}

/// A valid claim set, except that `iat`, `exp` and `ext` are often at a limit (ECT-TIME-1..4
/// under the description's settings, ECT-CLM-12), on its valid side or just past it.
#[derive(Arbitrary, Debug, Clone)]
pub struct BaseClaims {
    /// `jti`: UUID number `jti % 16` of a small space (see [`Text::Uuid`]).
    pub jti: u8,
    /// `iat`.
    pub iat: IatChoice,
    /// `exp`.
    pub exp: ExpChoice,
    /// `wid`: UUID number `wid % 16`, or absent.
    pub wid: Option<u8>,
    /// `par`: UUID numbers (at most 8; duplicates and the token's own `jti` are dropped).
    pub par: Vec<u8>,
    /// `aud` as an array `[other, AUDIENCE]` instead of the string [`AUDIENCE`].
    pub aud_array: bool,
    /// `inp_hash` and `out_hash` present.
    pub hashes: bool,
    /// `ext`, or absent.
    pub ext: Option<ExtChoice>,
    /// `pol` + `pol_decision`, or absent.
    pub pol: Option<Decision>,
}

/// The base `iat`; `d % 4` picks a value at a boundary: one just past it, three valid.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum IatChoice {
    /// [`NOW`] − `back` (valid under the default settings).
    Back(u8),
    /// `now + leeway + 1 − d % 4`: one in the future (ECT-TIME-3), then valid.
    Future(u8),
    /// `now − max_iat_age − 1 + d % 4`: one too old (ECT-TIME-4), then valid.
    Oldest(u8),
}

/// The base `exp`; `d % 4` picks a value at a boundary: one just past it, three valid.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum ExpChoice {
    /// max(`iat`, [`NOW`]) + 1 + 8 × `lifetime` (valid).
    Ahead(u8),
    /// `now − leeway + d % 4`: expired (ECT-TIME-2), then valid.
    Expiry(u8),
    /// `iat + d % 4`: not after `iat` (ECT-TIME-1), then valid.
    AfterIat(u8),
}

/// The base `ext`: small, or at one of ECT-CLM-12's limits.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum ExtChoice {
    /// One of three small valid objects.
    Small(u8),
    /// Nesting depth `4 + d % 3` (`ext` counts 1): 4 and 5 valid, 6 too deep.
    Deep {
        /// Picks the depth.
        d: u8,
        /// Nest arrays rather than objects inside `ext`.
        arrays: bool,
    },
    /// Compact length `4094 + d % 4` bytes: 4097 too large.
    Size(u8),
}

impl ExtChoice {
    fn render(self) -> String {
        match self {
            ExtChoice::Small(e) => match e % 3 {
                0 => "{}",
                1 => r#"{"trace":"t-1","n":1.5}"#,
                _ => r#"{"a":{"b":[1,{"c":null}]}}"#,
            }
            .to_owned(),
            ExtChoice::Deep { d, arrays } => {
                let inner = Json::Deep {
                    depth: 3 + d % 3,
                    objects: !arrays,
                };
                let c = Ctx {
                    leeway: 0,
                    max_iat_age: 0,
                    iat: 0,
                    exp: 0,
                };
                format!("{{\"a\":{}}}", inner.text(&c))
            }
            // `{"p":"` + n × `x` + `"}`.
            ExtChoice::Size(d) => format!(
                "{{\"p\":\"{}\"}}",
                "x".repeat(4094 + usize::from(d % 4) - 8)
            ),
        }
    }
}

/// A header member name.
#[derive(Arbitrary, Debug, Clone)]
pub enum HeaderName {
    /// `alg`.
    Alg,
    /// `typ`.
    Typ,
    /// `kid`.
    Kid,
    /// `crit`.
    Crit,
    /// `jwk` (ignored, ECT-HDR-5).
    Jwk,
    /// `jku` (ignored).
    Jku,
    /// `x5c` (ignored).
    X5c,
    /// `b64` (RFC 7797, ignored without `crit`).
    B64,
    /// `Typ` (another name than `typ`).
    TypUpper,
    /// Any name.
    Other(String),
}

impl HeaderName {
    fn name(&self) -> String {
        match self {
            HeaderName::Alg => "alg",
            HeaderName::Typ => "typ",
            HeaderName::Kid => "kid",
            HeaderName::Crit => "crit",
            HeaderName::Jwk => "jwk",
            HeaderName::Jku => "jku",
            HeaderName::X5c => "x5c",
            HeaderName::B64 => "b64",
            HeaderName::TypUpper => "Typ",
            HeaderName::Other(s) => s,
        }
        .to_owned()
    }
}

/// A claim name.
#[derive(Arbitrary, Debug, Clone)]
pub enum ClaimName {
    /// `iss`.
    Iss,
    /// `aud`.
    Aud,
    /// `iat`.
    Iat,
    /// `exp`.
    Exp,
    /// `jti`.
    Jti,
    /// `exec_act`.
    ExecAct,
    /// `par`.
    Par,
    /// `wid`.
    Wid,
    /// `inp_hash`.
    InpHash,
    /// `out_hash`.
    OutHash,
    /// `ext`.
    Ext,
    /// `pol`.
    Pol,
    /// `pol_decision`.
    PolDecision,
    /// `sub` (ignored).
    Sub,
    /// `nbf` (honoured when present, ECT-TIME-6).
    Nbf,
    /// Any name.
    Other(String),
}

impl ClaimName {
    /// The member name under `profile`: [`ClaimName::Par`] and [`ClaimName::Ext`] are the
    /// profile's names (`pred`, `ect_ext` in `draft-01`).
    fn name(&self, profile: FuzzProfile) -> String {
        let n = profile.profile().claims;
        match self {
            ClaimName::Iss => "iss",
            ClaimName::Aud => "aud",
            ClaimName::Iat => "iat",
            ClaimName::Exp => "exp",
            ClaimName::Jti => "jti",
            ClaimName::ExecAct => "exec_act",
            ClaimName::Par => n.par,
            ClaimName::Wid => "wid",
            ClaimName::InpHash => "inp_hash",
            ClaimName::OutHash => "out_hash",
            ClaimName::Ext => n.ext,
            ClaimName::Pol => "pol",
            ClaimName::PolDecision => "pol_decision",
            ClaimName::Sub => "sub",
            ClaimName::Nbf => "nbf",
            ClaimName::Other(s) => s,
        }
        .to_owned()
    }
}

/// What an edit does to the members named. On random input `Set` is the most frequent
/// (5 in 8), then `Remove` (1 in 4), the duplicates are rare.
#[derive(Debug, Clone)]
pub enum EditOp {
    /// Replace the value of the first member with that name (added if absent).
    Set(Json),
    /// Remove every member with that name.
    Remove,
    /// Add another member with that name, first or last.
    Duplicate {
        /// The value of the added member.
        value: Json,
        /// Put it before the existing members.
        first: bool,
    },
    /// Add another member whose name is written with `\u` escapes (the same name once
    /// unescaped).
    DuplicateEscaped(Json),
}

impl<'a> Arbitrary<'a> for EditOp {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(match u8::arbitrary(u)? {
            0..160 => EditOp::Set(Json::arbitrary(u)?),
            160..224 => EditOp::Remove,
            224..244 => EditOp::Duplicate {
                value: Json::arbitrary(u)?,
                first: bool::arbitrary(u)?,
            },
            _ => EditOp::DuplicateEscaped(Json::arbitrary(u)?),
        })
    }
}

/// An edit of one header member.
#[derive(Arbitrary, Debug, Clone)]
pub struct HeaderEdit {
    /// The member.
    pub name: HeaderName,
    /// The change.
    pub op: EditOp,
}

/// An edit of one payload member.
#[derive(Arbitrary, Debug, Clone)]
pub struct ClaimEdit {
    /// The member.
    pub name: ClaimName,
    /// The change.
    pub op: EditOp,
}

/// A JSON value, written as raw text so that values serde_json would never write (exponents,
/// `-0`, huge integers, escapes) can be generated.
#[derive(Arbitrary, Debug, Clone)]
pub enum Json {
    /// A string.
    Str(Text),
    /// A string with every character written as a `\u` escape.
    Escaped(Text),
    /// [`NOW`] + the offset (an integer near the verifier's clock).
    Rel(i16),
    /// An integer at or next to a time boundary: the anchor's value + `delta % 5` − 2.
    Near(Anchor, u8),
    /// An edge number.
    Edge(Edge),
    /// Number text serde_json would not write.
    Raw(RawNum),
    /// Any signed integer.
    Int(i64),
    /// Any float (`null` when not finite).
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// An array of UUID strings from the small space.
    Uuids(Vec<u8>),
    /// An array.
    Array(Vec<Json>),
    /// An object; repeated keys make duplicate members.
    Object(Vec<(Key, Json)>),
    /// `depth` (mod 10) nested objects `{"a":…}` or arrays `[…]` around `"x"`.
    Deep {
        /// Nesting depth, mod 10.
        depth: u8,
        /// Objects rather than arrays.
        objects: bool,
    },
}

/// An object member name inside a [`Json::Object`]: a few fixed names, so that repeats
/// happen.
#[derive(Arbitrary, Debug, Clone)]
pub enum Key {
    /// `a`.
    A,
    /// `b`.
    B,
    /// `iss` (a claim name, inside another object).
    Iss,
    /// Any name.
    Other(String),
}

impl Key {
    fn name(&self) -> &str {
        match self {
            Key::A => "a",
            Key::B => "b",
            Key::Iss => "iss",
            Key::Other(s) => s,
        }
    }
}

/// String contents.
#[derive(Arbitrary, Debug, Clone)]
pub enum Text {
    /// Any text.
    Any(String),
    /// The empty string.
    Empty,
    /// UUID number `n % 16` of the small space, in some form.
    Uuid(u8, UuidForm),
    /// An issuer: index into a list of valid and near-valid ones.
    Iss(u8),
    /// An audience: index into a list with [`AUDIENCE`] and near misses.
    Aud(u8),
    /// A `typ`: index into a list of valid and invalid media types.
    Typ(u8),
    /// An `alg`: index into a list.
    Alg(u8),
    /// A `kid`: index into a list of trusted, untrusted and near-miss ids.
    Kid(u8),
    /// A `pol_decision`: index into a list of valid and near-miss values.
    Decision(u8),
    /// An `inp_hash`/`out_hash` value.
    Hash(HashForm),
    /// `n` characters `x` (for the `ext` size limit and long values).
    Long(u16),
}

const ISSUERS: &[&str] = &[
    "spiffe://example.org/agent-0",
    "spiffe://example.org/agent-1",
    "spiffe://example.org/agent-a",
    "spiffe://example.org/agent-b",
    "spiffe://example.org/agent-0/",
    "SPIFFE://example.org/agent-0",
    " spiffe://example.org/agent-0",
    "",
];
const AUDIENCES: &[&str] = &[
    AUDIENCE,
    "spiffe://example.org/verifier/",
    "spiffe://example.org/Verifier",
    "spiffe://example.org/other",
    " spiffe://example.org/verifier",
    "",
];
const TYPS: &[&str] = &[
    "wimse-exec+jwt",
    "application/wimse-exec+jwt",
    "WIMSE-EXEC+JWT",
    "Application/Wimse-Exec+Jwt",
    "exec+jwt",
    "application/exec+jwt",
    "JWT",
    "jwt",
    "application/jwt",
    "text/wimse-exec+jwt",
    "wimse-exec+jwt; charset=utf-8",
    " wimse-exec+jwt",
    "wimse-exec+jwt ",
    "application/application/wimse-exec+jwt",
    "/wimse-exec+jwt",
    "application/",
    "",
    "WİMSE-EXEC+JWT",
    "wimse-exec+jwt\u{0}",
    "application/wimse-exec+jwt/",
];
const ALGS: &[&str] = &[
    "ES256", "es256", "Es256", "ES256 ", " ES256", "none", "None", "NONE", "HS256", "HS384",
    "HS512", "RS256", "PS256", "ES384", "ES512", "EdDSA", "ES256K", "",
];
const KIDS: &[&str] = &[
    "agent-0",
    "agent-1",
    "agent-a",
    "agent-b",
    "attacker",
    "agent-2",
    "",
    "agent-0 ",
    "AGENT-0",
    "../agent-0",
    "https://example.org/jwks.json#agent-0",
];
const DECISIONS: &[&str] = &[
    "approved",
    "rejected",
    "pending_human_review",
    "Approved",
    "APPROVED",
    "approved ",
    "pending",
    "denied",
    "",
];

fn pick(list: &[&str], i: u8) -> String {
    list[usize::from(i) % list.len()].to_owned()
}

/// How a UUID is written.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum UuidForm {
    /// Lower-case hex, valid.
    Lower,
    /// Upper-case hex (valid: flag `UppercaseUuid`).
    Upper,
    /// Upper-case first half.
    Mixed,
    /// `{…}`.
    Braces,
    /// `urn:uuid:…`.
    Urn,
    /// No dashes.
    NoDashes,
    /// One character short.
    Short,
    /// One character long.
    Long,
    /// A trailing space.
    Space,
    /// `_` for the first dash.
    Underscore,
    /// `g` for the first digit.
    NonHex,
    /// A full-width digit for the first character.
    Fullwidth,
    /// The nil UUID (valid).
    Nil,
    /// The max UUID (valid).
    Max,
}

impl UuidForm {
    fn render(self, u: &str) -> String {
        match self {
            UuidForm::Lower => u.to_owned(),
            UuidForm::Upper => u.to_ascii_uppercase(),
            UuidForm::Mixed => format!("{}{}", u[..18].to_ascii_uppercase(), &u[18..]),
            UuidForm::Braces => format!("{{{u}}}"),
            UuidForm::Urn => format!("urn:uuid:{u}"),
            UuidForm::NoDashes => u.replace('-', ""),
            UuidForm::Short => u[..35].to_owned(),
            UuidForm::Long => format!("{u}0"),
            UuidForm::Space => format!("{u} "),
            UuidForm::Underscore => u.replacen('-', "_", 1),
            UuidForm::NonHex => format!("g{}", &u[1..]),
            UuidForm::Fullwidth => format!("０{}", &u[1..]),
            UuidForm::Nil => "00000000-0000-0000-0000-000000000000".into(),
            UuidForm::Max => "ffffffff-ffff-ffff-ffff-ffffffffffff".into(),
        }
    }
}

/// An `inp_hash`/`out_hash` value.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum HashForm {
    /// The SHA-256 of one byte, valid.
    Valid(u8),
    /// With `=` padding.
    Padded,
    /// `sha-256:` + the digest (flag `LegacyHashPrefix`).
    Prefixed,
    /// Standard base64 alphabet (`+`, `/`).
    Standard,
    /// 42 characters.
    Short,
    /// 44 characters.
    Long,
    /// Non-zero unused trailing bits.
    NonCanonical,
    /// Hex digest.
    Hex,
}

impl HashForm {
    fn render(self) -> String {
        let valid = |b: u8| sha256_b64url(&[b]);
        match self {
            HashForm::Valid(b) => valid(b),
            HashForm::Padded => valid(1) + "=",
            HashForm::Prefixed => format!("sha-256:{}", valid(1)),
            // The digest of 0x02 has both '-' and '_'? Replace whatever is there.
            HashForm::Standard => {
                let mut h = valid(3).replace('-', "+").replace('_', "/");
                if !h.contains(['+', '/']) {
                    h.replace_range(0..1, "+");
                }
                h
            }
            HashForm::Short => valid(1)[..42].to_owned(),
            HashForm::Long => valid(1) + "A",
            HashForm::NonCanonical => flip_low_bit_of_last(&valid(1)),
            HashForm::Hex => hex(&Sha256::digest([1u8])),
        }
    }
}

const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// `c` with the low bit of its base64url value flipped (unchanged when not base64url).
fn flip_low_bit(c: &mut u8) {
    if let Some(i) = B64URL.iter().position(|b| b == c) {
        *c = B64URL[i ^ 1];
    }
}

/// The base64url text with the low bit of its last character's value flipped: for a length
/// ≡ 2 or 3 (mod 4) that sets an unused trailing bit (non-canonical).
fn flip_low_bit_of_last(s: &str) -> String {
    let mut b = s.as_bytes().to_vec();
    if let Some(last) = b.last_mut() {
        flip_low_bit(last);
    }
    String::from_utf8(b).expect("ASCII")
}

impl Text {
    fn render(&self) -> String {
        match self {
            Text::Any(s) => s.clone(),
            Text::Empty => String::new(),
            Text::Uuid(n, form) => form.render(&small_uuid(*n)),
            Text::Iss(i) => pick(ISSUERS, *i),
            Text::Aud(i) => pick(AUDIENCES, *i),
            Text::Typ(i) => pick(TYPS, *i),
            Text::Alg(i) => pick(ALGS, *i),
            Text::Kid(i) => pick(KIDS, *i),
            Text::Decision(i) => pick(DECISIONS, *i),
            Text::Hash(h) => h.render(),
            Text::Long(n) => "x".repeat(usize::from(*n) % 5000),
        }
    }
}

/// Edge numbers for `iat`/`exp` (ECT-TIME-5) and elsewhere.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Edge {
    /// 0.
    Zero,
    /// 1.
    One,
    /// 2^53 − 1, the largest valid NumericDate.
    MaxSafe,
    /// 2^53.
    MaxSafePlusOne,
    /// 2^63 − 1.
    I64Max,
    /// 2^64 − 1.
    U64Max,
    /// 2^64 (parsed as a float).
    U64MaxPlusOne,
    /// −1.
    MinusOne,
    /// −2^63.
    I64Min,
}

impl Edge {
    fn render(self) -> String {
        match self {
            Edge::Zero => "0".into(),
            Edge::One => "1".into(),
            Edge::MaxSafe => ((1u64 << 53) - 1).to_string(),
            Edge::MaxSafePlusOne => (1u64 << 53).to_string(),
            Edge::I64Max => i64::MAX.to_string(),
            Edge::U64Max => u64::MAX.to_string(),
            Edge::U64MaxPlusOne => "18446744073709551616".into(),
            Edge::MinusOne => "-1".into(),
            Edge::I64Min => i64::MIN.to_string(),
        }
    }
}

/// Number text serde_json would not write, most of it near [`NOW`].
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum RawNum {
    /// `NOW+d` in exponent syntax with the same integer value, e.g. `1.772000000e9`.
    NowExponent(i16),
    /// `NOW+d` with a fraction, e.g. `1772000000.0` or `1772000000.5`.
    NowFraction(i16, u8),
    /// `NOW+d` with a capital `E0` exponent.
    NowE0(i16),
    /// `mantissa e exponent`.
    Exponent(u16, i8),
    /// `-0`.
    NegZero,
    /// `-0.0`.
    NegZeroFloat,
    /// `n % 40 + 1` nines.
    Nines(u8),
    /// `1e400` (out of range for serde_json).
    Huge,
    /// `0` followed by the digits of `NOW` (invalid JSON).
    LeadingZero,
    /// `+NOW` (invalid JSON).
    Plus,
    /// `NaN` (invalid JSON).
    NaN,
}

impl RawNum {
    fn render(self) -> String {
        let rel = |d: i16| (NOW as i64 + i64::from(d)).to_string();
        match self {
            RawNum::NowExponent(d) => {
                let digits = rel(d);
                format!("{}.{}e{}", &digits[..1], &digits[1..], digits.len() - 1)
            }
            RawNum::NowFraction(d, f) => format!("{}.{}", rel(d), f % 10),
            RawNum::NowE0(d) => format!("{}E0", rel(d)),
            RawNum::Exponent(m, e) => format!("{m}e{e}"),
            RawNum::NegZero => "-0".into(),
            RawNum::NegZeroFloat => "-0.0".into(),
            RawNum::Nines(n) => "9".repeat(usize::from(n % 40) + 1),
            RawNum::Huge => "1e400".into(),
            RawNum::LeadingZero => format!("0{NOW}"),
            RawNum::Plus => format!("+{NOW}"),
            RawNum::NaN => "NaN".into(),
        }
    }
}

/// The values time boundaries are relative to, under the description's settings.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Anchor {
    /// [`NOW`].
    Now,
    /// `now + leeway`: the last `iat` not in the future (ECT-TIME-3).
    NowPlusLeeway,
    /// `now - leeway`: the last expired `exp` (ECT-TIME-2).
    NowMinusLeeway,
    /// `now - max_iat_age`: the oldest `iat` accepted (ECT-TIME-4).
    NowMinusMaxAge,
    /// The base claim set's `iat` (ECT-TIME-1 against `exp`).
    Iat,
    /// The base claim set's `exp`.
    Exp,
    /// 2^53 − 1 (ECT-TIME-5).
    MaxSafe,
}

/// What [`Anchor`]s stand for in one description.
#[derive(Clone, Copy, Debug)]
struct Ctx {
    leeway: u64,
    max_iat_age: u64,
    iat: u64,
    exp: u64,
}

impl Anchor {
    fn value(self, c: &Ctx) -> i128 {
        i128::from(match self {
            Anchor::Now => NOW,
            Anchor::NowPlusLeeway => NOW + c.leeway,
            Anchor::NowMinusLeeway => NOW - c.leeway,
            Anchor::NowMinusMaxAge => NOW - c.max_iat_age,
            Anchor::Iat => c.iat,
            Anchor::Exp => c.exp,
            Anchor::MaxSafe => (1 << 53) - 1,
        })
    }
}

impl Json {
    fn render(&self, c: &Ctx, out: &mut String) {
        match self {
            Json::Str(t) => out.push_str(&json_string(&t.render())),
            Json::Escaped(t) => out.push_str(&escaped_string(&t.render())),
            Json::Rel(d) => out.push_str(&(NOW as i64 + i64::from(*d)).to_string()),
            Json::Near(a, d) => {
                out.push_str(&(a.value(c) + i128::from(d % 5) - 2).to_string());
            }
            Json::Edge(e) => out.push_str(&e.render()),
            Json::Raw(r) => out.push_str(&r.render()),
            Json::Int(i) => out.push_str(&i.to_string()),
            Json::Float(f) => out.push_str(
                &serde_json::Number::from_f64(*f).map_or_else(|| "null".into(), |n| n.to_string()),
            ),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Null => out.push_str("null"),
            Json::Uuids(ns) => {
                let all: Vec<String> = ns.iter().map(|n| json_string(&small_uuid(*n))).collect();
                let _ = write!(out, "[{}]", all.join(","));
            }
            Json::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.render(c, out);
                }
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&json_string(k.name()));
                    out.push(':');
                    v.render(c, out);
                }
                out.push('}');
            }
            Json::Deep { depth, objects } => {
                let d = usize::from(depth % 10);
                let (open, close) = if *objects {
                    ("{\"a\":", "}")
                } else {
                    ("[", "]")
                };
                let _ = write!(out, "{}\"x\"{}", open.repeat(d), close.repeat(d));
            }
        }
    }

    fn text(&self, c: &Ctx) -> String {
        let mut s = String::new();
        self.render(c, &mut s);
        s
    }
}

fn json_string(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

/// `s` as a JSON string with every character a `\u` escape (surrogate pairs above the BMP).
fn escaped_string(s: &str) -> String {
    let mut out = String::from("\"");
    for unit in s.encode_utf16() {
        let _ = write!(out, "\\u{unit:04x}");
    }
    out.push('"');
    out
}

/// An edit of the header or payload JSON text before it is encoded and signed.
#[derive(Arbitrary, Debug, Clone)]
pub struct TextEdit {
    /// The payload (else the header).
    pub payload: bool,
    /// The change.
    pub kind: TextKind,
}

/// A change of JSON text.
#[derive(Arbitrary, Debug, Clone)]
pub enum TextKind {
    /// Spaces and a line feed around every `:` and `,` between members (valid).
    Spaced,
    /// A UTF-8 byte order mark first.
    Bom,
    /// Whitespace before the object (valid JSON whitespace or not).
    Leading(u8),
    /// Something after the object: whitespace, `x`, a second object, a comma, NUL.
    Trailing(u8),
    /// The object inside an array.
    WrapArray,
    /// Cut off after `n % len` bytes.
    Truncate(u16),
    /// A byte inserted at `pos % (len + 1)`.
    Insert(u16, u8),
    /// An invalid UTF-8 sequence right after the first `"`.
    BadUtf8(u8),
    /// A lone surrogate escape right after the first `"`.
    LoneSurrogate(bool),
    /// A member `"zz"` holding `100 + n % 60` nested arrays (straddles serde_json's 128).
    DeepMember(u8),
}

const LEADING: &[&str] = &[
    " ", "\n", "\t", "\r", "\u{0b}", "\u{0c}", "\u{a0}", "\u{feff}",
];
const TRAILING: &[&str] = &[" ", "\n", "\t", "\r\n", "x", "{}", ",", "\0", " \u{a0}"];
const BAD_UTF8: &[&[u8]] = &[
    b"\xff",
    b"\xc3\x28",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xe2\x82",
];

impl TextKind {
    fn apply(&self, text: &mut Vec<u8>) {
        let after_first_quote = |t: &[u8]| t.iter().position(|&b| b == b'"').map_or(0, |i| i + 1);
        match self {
            TextKind::Spaced => {} // applied while rendering
            TextKind::Bom => {
                text.splice(0..0, [0xef, 0xbb, 0xbf]);
            }
            TextKind::Leading(i) => {
                let ws = LEADING[usize::from(*i) % LEADING.len()].as_bytes();
                text.splice(0..0, ws.iter().copied());
            }
            TextKind::Trailing(i) => {
                text.extend_from_slice(TRAILING[usize::from(*i) % TRAILING.len()].as_bytes());
            }
            TextKind::WrapArray => {
                text.insert(0, b'[');
                text.push(b']');
            }
            TextKind::Truncate(n) => {
                let keep = usize::from(*n) % (text.len() + 1);
                text.truncate(keep);
            }
            TextKind::Insert(pos, b) => {
                let pos = usize::from(*pos) % (text.len() + 1);
                text.insert(pos, *b);
            }
            TextKind::BadUtf8(i) => {
                let at = after_first_quote(text);
                let bad = BAD_UTF8[usize::from(*i) % BAD_UTF8.len()];
                text.splice(at..at, bad.iter().copied());
            }
            TextKind::LoneSurrogate(high) => {
                let at = after_first_quote(text);
                let esc: &[u8] = if *high { b"\\ud800" } else { b"\\udc00" };
                text.splice(at..at, esc.iter().copied());
            }
            TextKind::DeepMember(n) => {
                let d = 100 + usize::from(n % 60);
                if text.last() == Some(&b'}') {
                    text.pop();
                    let sep = if text.len() > 1 { "," } else { "" };
                    let member = format!("{sep}\"zz\":{}{}}}", "[".repeat(d), "]".repeat(d));
                    text.extend_from_slice(member.as_bytes());
                }
            }
        }
    }
}

/// A defective (or unusual) signature.
#[derive(Arbitrary, Debug, Clone)]
pub enum BadSignature {
    /// Signed by the untrusted `attacker` key (the header's `kid` unchanged).
    Attacker,
    /// Signed by the other trusted agent.
    OtherAgent,
    /// The high-S twin of the good signature (valid: flag `HighS`).
    HighS,
    /// 64 zero bytes (CVE-2022-21449).
    Zero,
    /// `r` = 0.
    RZero,
    /// `s` = 0.
    SZero,
    /// `r` = n.
    RIsOrder,
    /// `s` = n.
    SIsOrder,
    /// DER instead of `r‖s`.
    Der,
    /// The first `n % 64` bytes.
    Truncated(u8),
    /// One more byte.
    Extended(u8),
    /// One bit flipped (bit `n % 512`).
    FlipBit(u16),
    /// A good signature over other bytes.
    OtherMessage,
    /// Any bytes.
    Bytes(Vec<u8>),
}

impl BadSignature {
    fn apply(&self, good: [u8; 64], input: &[u8], other: &SigningKey) -> Vec<u8> {
        let mut sig = good.to_vec();
        match self {
            BadSignature::Attacker => keys().attacker.sign(input).to_vec(),
            BadSignature::OtherAgent => other.sign(input).to_vec(),
            BadSignature::HighS => high_s_twin(&good),
            BadSignature::Zero => vec![0; 64],
            BadSignature::RZero => {
                sig[..32].fill(0);
                sig
            }
            BadSignature::SZero => {
                sig[32..].fill(0);
                sig
            }
            BadSignature::RIsOrder => {
                sig[..32].copy_from_slice(&P256_ORDER);
                sig
            }
            BadSignature::SIsOrder => {
                sig[32..].copy_from_slice(&P256_ORDER);
                sig
            }
            BadSignature::Der => der_signature(&good),
            BadSignature::Truncated(n) => {
                sig.truncate(usize::from(*n) % 64);
                sig
            }
            BadSignature::Extended(b) => {
                sig.push(*b);
                sig
            }
            BadSignature::FlipBit(n) => {
                let bit = usize::from(*n) % 512;
                sig[bit / 8] ^= 1 << (bit % 8);
                sig
            }
            BadSignature::OtherMessage => other.sign(b"other message").to_vec(),
            BadSignature::Bytes(b) => b.clone(),
        }
    }
}

/// An edit of the compact serialization, after signing.
#[derive(Arbitrary, Debug, Clone)]
pub enum EncodingEdit {
    /// `1 + n % 3` `=` after a segment.
    Pad {
        /// Segment `segment % 3`.
        segment: u8,
        /// Count.
        n: u8,
    },
    /// The first `-` (else `_`, else the first character) of a segment in standard base64.
    Standard {
        /// Segment `segment % 3`.
        segment: u8,
    },
    /// Whitespace or a non-ASCII space inserted at `pos % (len + 1)`.
    Whitespace {
        /// Position.
        pos: u16,
        /// Which (index into a list).
        kind: u8,
    },
    /// Cut off after `len % (len + 1)` bytes.
    Truncate(u16),
    /// A fourth segment (a copy of the payload segment).
    ExtraSegment,
    /// Five segments (JWE shape).
    Jwe,
    /// A segment emptied.
    EmptySegment(u8),
    /// A segment (and its dot) removed.
    DropSegment(u8),
    /// The low bit of a segment's last character flipped (non-canonical trailing bits).
    NonCanonical(u8),
    /// A byte inserted at `pos % (len + 1)`.
    Insert(u16, u8),
    /// The byte at `pos % len` removed.
    Delete(u16),
    /// The byte at `pos % len` replaced.
    Replace(u16, u8),
}

const WHITESPACE: &[&str] = &[
    " ", "\t", "\n", "\r\n", "\u{0b}", "\u{0c}", "\u{a0}", "\u{feff}", "\u{2028}",
];

/// Byte ranges of the `.`-separated segments.
fn segments(t: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &b) in t.iter().enumerate() {
        if b == b'.' {
            out.push(start..i);
            start = i + 1;
        }
    }
    out.push(start..t.len());
    out
}

impl EncodingEdit {
    fn apply(&self, t: &mut Vec<u8>) {
        let seg = |t: &[u8], s: u8| {
            let all = segments(t);
            all[usize::from(s) % all.len()].clone()
        };
        match self {
            EncodingEdit::Pad { segment, n } => {
                let r = seg(t, *segment);
                let pad = "=".repeat(usize::from(n % 3) + 1);
                t.splice(r.end..r.end, pad.bytes());
            }
            EncodingEdit::Standard { segment } => {
                let r = seg(t, *segment);
                let s = &mut t[r.clone()];
                if let Some(c) = s.iter_mut().find(|c| **c == b'-') {
                    *c = b'+';
                } else if let Some(c) = s.iter_mut().find(|c| **c == b'_') {
                    *c = b'/';
                } else if let Some(c) = s.first_mut() {
                    *c = b'+';
                }
            }
            EncodingEdit::Whitespace { pos, kind } => {
                let pos = usize::from(*pos) % (t.len() + 1);
                let ws = WHITESPACE[usize::from(*kind) % WHITESPACE.len()].as_bytes();
                t.splice(pos..pos, ws.iter().copied());
            }
            EncodingEdit::Truncate(n) => {
                let keep = usize::from(*n) % (t.len() + 1);
                t.truncate(keep);
            }
            EncodingEdit::ExtraSegment => {
                let r = seg(t, 1);
                let copy = t[r].to_vec();
                t.push(b'.');
                t.extend(copy);
            }
            EncodingEdit::Jwe => t.extend_from_slice(b".AAAA.AAAA"),
            EncodingEdit::EmptySegment(s) => {
                let r = seg(t, *s);
                t.drain(r);
            }
            EncodingEdit::DropSegment(s) => {
                let all = segments(t);
                let i = usize::from(*s) % all.len();
                let r = all[i].clone();
                if i + 1 < all.len() {
                    t.drain(r.start..r.end + 1);
                } else if r.start > 0 {
                    t.drain(r.start - 1..r.end);
                } else {
                    t.clear();
                }
            }
            EncodingEdit::NonCanonical(s) => {
                let r = seg(t, *s);
                if let Some(last) = t[r].last_mut() {
                    flip_low_bit(last);
                }
            }
            EncodingEdit::Insert(pos, b) => {
                let pos = usize::from(*pos) % (t.len() + 1);
                t.insert(pos, *b);
            }
            EncodingEdit::Delete(pos) => {
                if !t.is_empty() {
                    let pos = usize::from(*pos) % t.len();
                    t.remove(pos);
                }
            }
            EncodingEdit::Replace(pos, b) => {
                if !t.is_empty() {
                    let pos = usize::from(*pos) % t.len();
                    t[pos] = *b;
                }
            }
        }
    }
}

/// Verifier settings other than SPEC.md's defaults (each within the verifier's ranges; an
/// absent one keeps the default).
#[derive(Arbitrary, Debug, Clone)]
pub struct SettingsDesc {
    /// Leeway: `leeway % 601` s.
    pub leeway: Option<u16>,
    /// Maximum `iat` age: `1 + max_iat_age` s.
    pub max_iat_age: Option<u16>,
    /// Maximum `par` length: `max_par % 8`.
    pub max_par: Option<u8>,
    /// Maximum token length: `256 + max_token_bytes % 1024` bytes.
    pub max_token_bytes: Option<u16>,
}

impl SettingsDesc {
    fn settings(&self) -> Settings {
        let d = Settings::default();
        Settings {
            leeway: self.leeway.map_or(d.leeway, |v| u64::from(v % 601)),
            max_iat_age: self.max_iat_age.map_or(d.max_iat_age, |v| 1 + u64::from(v)),
            max_par: self.max_par.map_or(d.max_par, |v| usize::from(v % 8)),
            max_token_bytes: self
                .max_token_bytes
                .map_or(d.max_token_bytes, |v| 256 + usize::from(v % 1024)),
            ..d
        }
    }
}

/// One JSON object member as text.
struct Member {
    /// The name as it is matched by the edits (unescaped).
    name: String,
    /// The name as written, a JSON string.
    written: String,
    /// The value as written.
    value: String,
}

impl Member {
    fn new(name: &str, value: String) -> Self {
        Member {
            name: name.to_owned(),
            written: json_string(name),
            value,
        }
    }
}

fn apply_edit(members: &mut Vec<Member>, name: String, op: &EditOp, c: &Ctx) {
    match op {
        EditOp::Set(v) => match members.iter_mut().find(|m| m.name == name) {
            Some(m) => m.value = v.text(c),
            None => members.push(Member::new(&name, v.text(c))),
        },
        EditOp::Remove => members.retain(|m| m.name != name),
        EditOp::Duplicate { value, first } => {
            let m = Member::new(&name, value.text(c));
            if *first {
                members.insert(0, m);
            } else {
                members.push(m);
            }
        }
        EditOp::DuplicateEscaped(v) => members.push(Member {
            written: escaped_string(&name),
            name,
            value: v.text(c),
        }),
    }
}

fn object_text(members: &[Member], spaced: bool) -> Vec<u8> {
    let (colon, comma) = if spaced { (" : ", " ,\n ") } else { (":", ",") };
    let body: Vec<String> = members
        .iter()
        .map(|m| format!("{}{colon}{}", m.written, m.value))
        .collect();
    format!("{{{}}}", body.join(comma)).into_bytes()
}

impl TokenDesc {
    /// The signer's index (0: `agent-0`, 1: `agent-1`).
    fn signer(&self) -> usize {
        usize::from(self.signer_unbound)
    }

    /// The verifier settings the description asks for.
    fn settings(&self) -> Settings {
        let s = self
            .settings
            .0
            .as_ref()
            .map_or_else(Settings::default, SettingsDesc::settings);
        Settings {
            profile: self.profile,
            ..s
        }
    }

    /// The anchors' values: the settings' boundaries and the base claim set's times.
    fn ctx(&self) -> Ctx {
        let s = self.settings();
        let d4 = |d: u8| u64::from(d % 4);
        let iat = match self.base.iat {
            IatChoice::Back(back) => NOW - u64::from(back),
            IatChoice::Future(d) => NOW + s.leeway + 1 - d4(d),
            IatChoice::Oldest(d) => NOW - s.max_iat_age - 1 + d4(d),
        };
        let exp = match self.base.exp {
            ExpChoice::Ahead(lifetime) => iat.max(NOW) + 1 + 8 * u64::from(lifetime),
            ExpChoice::Expiry(d) => NOW - s.leeway + d4(d),
            ExpChoice::AfterIat(d) => iat + d4(d),
        };
        Ctx {
            leeway: s.leeway,
            max_iat_age: s.max_iat_age,
            iat,
            exp,
        }
    }

    fn header_members(&self) -> Vec<Member> {
        let kid = keys().signers[self.signer()].kid().to_owned();
        let mut m = vec![
            Member::new("alg", json_string("ES256")),
            Member::new("kid", json_string(&kid)),
            Member::new("typ", json_string(self.profile.profile().typ)),
        ];
        for e in self.header.iter().take(8) {
            apply_edit(&mut m, e.name.name(), &e.op, &self.ctx());
        }
        m
    }

    fn claim_members(&self) -> Vec<Member> {
        let b = &self.base;
        let jti = small_uuid(b.jti);
        let mut par: Vec<String> = Vec::new();
        for p in b.par.iter().take(8) {
            let p = small_uuid(*p);
            if p != jti && !par.contains(&p) {
                par.push(p);
            }
        }
        let Ctx { iat, exp, .. } = self.ctx();
        let names = self.profile.profile().claims;
        let aud = if b.aud_array {
            format!("[\"spiffe://example.org/other\",{}]", json_string(AUDIENCE))
        } else {
            json_string(AUDIENCE)
        };
        let par_text: Vec<String> = par.iter().map(|p| json_string(p)).collect();
        let mut m = vec![
            Member::new("iss", json_string(&agent_iss(self.signer()))),
            Member::new("aud", aud),
            Member::new("iat", iat.to_string()),
            Member::new("exp", exp.to_string()),
            Member::new("jti", json_string(&jti)),
            Member::new("exec_act", json_string("review_code")),
            Member::new(names.par, format!("[{}]", par_text.join(","))),
        ];
        if let Some(w) = b.wid {
            m.push(Member::new("wid", json_string(&small_uuid(w))));
        }
        if b.hashes {
            m.push(Member::new("inp_hash", json_string(&sha256_b64url(b"in"))));
            m.push(Member::new("out_hash", json_string(&sha256_b64url(b"out"))));
        }
        // draft-01 (ECT-P01-4): the policy members inside `ect_ext`, created for them if the
        // base has none.
        let policy_in_ext = self.profile == FuzzProfile::Draft01;
        let ext = match (b.ext, b.pol) {
            (Some(e), Some(d)) if policy_in_ext => {
                let mut ext: serde_json::Map<String, Value> =
                    serde_json::from_str(&e.render()).expect("a base ext is a JSON object");
                ext.insert("pol".into(), "policy-1".into());
                ext.insert("pol_decision".into(), d.as_str().into());
                Some(serde_json::to_string(&ext).expect("serializes"))
            }
            (None, Some(d)) if policy_in_ext => Some(format!(
                "{{\"pol\":\"policy-1\",\"pol_decision\":{}}}",
                json_string(d.as_str())
            )),
            (e, _) => e.map(ExtChoice::render),
        };
        if let Some(e) = ext {
            m.push(Member::new(names.ext, e));
        }
        if let (Some(d), false) = (b.pol, policy_in_ext) {
            m.push(Member::new("pol", json_string("policy-1")));
            m.push(Member::new("pol_decision", json_string(d.as_str())));
        }
        for e in self.claims.iter().take(8) {
            apply_edit(&mut m, e.name.name(self.profile), &e.op, &self.ctx());
        }
        m
    }

    /// The token: header and payload JSON text from the members and text edits, signed by the
    /// signer's trusted key (or with the requested bad signature), then the encoding edits.
    pub fn render(&self) -> Vec<u8> {
        let text: Vec<&TextEdit> = self.text.0.iter().take(4).collect();
        let spaced = |payload: bool| {
            text.iter()
                .any(|e| e.payload == payload && matches!(e.kind, TextKind::Spaced))
        };
        let mut header = object_text(&self.header_members(), spaced(false));
        let mut payload = object_text(&self.claim_members(), spaced(true));
        for e in &text {
            e.kind
                .apply(if e.payload { &mut payload } else { &mut header });
        }
        let mut token = format!("{}.{}", b64_encode(&header), b64_encode(&payload));
        let k = keys();
        let signer = &k.signers[self.signer()];
        let good = signer.sign(token.as_bytes());
        let signature = match &self.signature.0 {
            None => good.to_vec(),
            Some(bad) => bad.apply(good, token.as_bytes(), &k.signers[1 - self.signer()]),
        };
        token.push('.');
        token.push_str(&b64_encode(&signature));
        let mut bytes = token.into_bytes();
        for e in self.encoding.0.iter().take(4) {
            e.apply(&mut bytes);
        }
        bytes
    }
}

/// A [`TokenDesc`] rendered ([`TokenDesc::render`]) and given to
/// [`Verifier::verify`](wimse_ect::Verifier::verify) (replay protection off) and
/// [`model::verify`] with the settings the description asks for: the same code, or on
/// acceptance the same claims.
pub fn verify_structured(desc: &TokenDesc) {
    let token = desc.render();
    let settings = desc.settings();
    let profile = settings.profile.profile();
    let got = settings
        .verifier(false)
        .verify(&token, NOW)
        .map(|v| v.claims().to_json(&profile))
        .map_err(|e| e.code());
    let want = model::verify(&token, &keys().model, &settings.model());
    assert_agree(
        &token,
        got,
        want,
        &profile,
        &format!(" (settings {settings:?})"),
    );
}

/// Raw fuzzer bytes → [`TokenDesc`] → [`verify_structured`]; bytes that do not make a
/// description are skipped.
pub fn verify_structured_bytes(data: &[u8]) {
    if let Ok(desc) = TokenDesc::arbitrary(&mut Unstructured::new(data)) {
        verify_structured(&desc);
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// The token [`TokenDesc`] `bytes` describe, rendered (the `parse` tests use it too).
    pub(in crate::fuzz) fn render(bytes: &[u8]) -> Vec<u8> {
        TokenDesc::arbitrary(&mut Unstructured::new(bytes))
            .unwrap()
            .render()
    }

    #[test]
    fn default_description_is_a_valid_token() {
        let token = render(b"");
        let v = Settings::default().verifier(false);
        let verified = v.verify(&token, NOW).expect("valid");
        assert_eq!(verified.header().kid(), "agent-0");
        assert_eq!(verified.claims().iss, agent_iss(0));
    }

    /// The default description in draft-01: `exec+jwt`, `pred`, the base policy inside
    /// `ect_ext`; the verifier and the model agree on it.
    #[test]
    fn default_description_in_draft_01() {
        let mut desc = TokenDesc::arbitrary(&mut Unstructured::new(b"")).unwrap();
        assert_eq!(desc.profile, FuzzProfile::Draft00);
        desc.profile = FuzzProfile::Draft01;
        desc.base.pol = Some(Decision::Rejected);
        desc.base.par = vec![1, 2];
        let token = desc.render();
        let v = desc.settings().verifier(false);
        let verified = v.verify(&token, NOW).expect("valid in draft-01");
        assert_eq!(verified.header().typ(), "exec+jwt");
        let json = verified.claims().to_json(&wimse_ect::DRAFT_01);
        assert_eq!(json["pred"].as_array().map(Vec::len), Some(2));
        assert_eq!(json["ect_ext"]["pol_decision"], "rejected");
        assert!(!json.contains_key("pol") && !json.contains_key("par"));
        // The same bytes under draft-00 lack `par`.
        assert_eq!(
            Settings::default()
                .verifier(false)
                .verify(&token, NOW)
                .map_err(|e| e.code())
                .err(),
            Some("header.typ")
        );
        verify_structured(&desc);
    }

    #[test]
    fn most_random_descriptions_pass_the_signature() {
        // Deterministic pseudo-random inputs: most tokens get past ECT-SIG-2.
        let mut rng = crate::testing::json::Rng::new(7);
        let (mut past_sig, mut valid) = (0, 0);
        for _ in 0..400 {
            let bytes: Vec<u8> = (0..200).map(|_| rng.next() as u8).collect();
            let desc = TokenDesc::arbitrary(&mut Unstructured::new(&bytes)).unwrap();
            let token = desc.render();
            match desc.settings().verifier(false).verify(&token, NOW) {
                Ok(_) => {
                    valid += 1;
                    past_sig += 1;
                }
                Err(e)
                    if e.code().starts_with("claims.")
                        || e.code().starts_with("time.")
                        || e.code() == "aud.mismatch"
                        || e.code() == "key.issuer_mismatch" =>
                {
                    past_sig += 1;
                }
                Err(_) => {}
            }
        }
        assert!(past_sig > 120, "{past_sig} of 400 past the signature");
        assert!(valid > 40, "{valid} of 400 valid");
    }

    #[test]
    fn edits() {
        let c = &Ctx {
            leeway: 30,
            max_iat_age: 900,
            iat: NOW - 60,
            exp: NOW + 600,
        };
        assert_eq!(Json::Near(Anchor::NowMinusLeeway, 2).text(c), "1771999970");
        assert_eq!(Json::Near(Anchor::Iat, 1).text(c), "1771999939");
        let ext = |e: ExtChoice| e.render();
        assert_eq!(ext(ExtChoice::Size(3)).len(), 4097);
        assert_eq!(ext(ExtChoice::Size(0)).len(), 4094);
        assert_eq!(
            ext(ExtChoice::Deep { d: 2, arrays: true }),
            r#"{"a":[[[[["x"]]]]]}"#
        );
        assert_eq!(
            ext(ExtChoice::Deep {
                d: 0,
                arrays: false
            }),
            r#"{"a":{"a":{"a":{"a":"x"}}}}"#
        );
        let mut m = vec![Member::new("a", "1".into())];
        apply_edit(&mut m, "a".into(), &EditOp::Set(Json::Bool(true)), c);
        apply_edit(
            &mut m,
            "a".into(),
            &EditOp::Duplicate {
                value: Json::Null,
                first: true,
            },
            c,
        );
        apply_edit(
            &mut m,
            "b".into(),
            &EditOp::DuplicateEscaped(Json::Int(-1)),
            c,
        );
        assert_eq!(
            object_text(&m, false),
            br#"{"a":null,"a":true,"\u0062":-1}"#
        );
        apply_edit(&mut m, "a".into(), &EditOp::Remove, c);
        assert_eq!(object_text(&m, true), br#"{"\u0062" : -1}"#);
        assert_eq!(RawNum::NowExponent(0).render(), "1.772000000e9");
        assert_eq!(RawNum::NowFraction(-1, 5).render(), "1771999999.5");
        assert_eq!(escaped_string("a😀"), r#""\u0061\ud83d\ude00""#);
        assert_eq!(HashForm::NonCanonical.render().len(), 43);
        assert!(!wimse_ect::is_sha256_b64url(
            &HashForm::NonCanonical.render()
        ));
        let mut t = b"aaaa.bbbb.cccc".to_vec();
        EncodingEdit::DropSegment(2).apply(&mut t);
        assert_eq!(t, b"aaaa.bbbb");
        EncodingEdit::Pad { segment: 0, n: 1 }.apply(&mut t);
        assert_eq!(t, b"aaaa==.bbbb");
    }
}
