//! Fuzzing oracles (feature `testing`): plain functions that panic on a finding, so that
//! libFuzzer (the `fuzz/` crate) reports it and `cargo test` (tests/fuzz_replay.rs) replays
//! the same input on stable without libFuzzer.
//!
//! | target | input | finding |
//! |---|---|---|
//! | [`parse`] | raw bytes | a panic in the compact, JSON, header or claims parser; a value that does not survive re-serialization; serde_json disagreeing with the strict JSON layer |
//! | [`verify_bytes`] | raw bytes | [`wimse_ect::Verifier::verify`] and [`model::verify`] differ in verdict, code or claims |
//! | [`verify_structured`] | a [`TokenDesc`] | the same, on near-valid tokens signed by a trusted key |
//! | [`dag`] | [`DagOps`] | [`wimse_ect::Verifier::accept`] into a [`MemoryLedger`] and [`model::ModelLedger`] differ; the chain does not verify; a rejection changed the ledger |
//! | [`http_header`] | field lines | a panic; a naive reading of ECT-HTTP-2..4 disagrees; formatting what parsed does not give it back |
//!
//! [`TARGETS`] maps each target name to the function libFuzzer calls with raw bytes;
//! [`seeds`] and [`seed_corpora`] derive seed inputs from the committed vectors.
//!
//! Every oracle uses fixed keys ([`trusted_keys`]), [`NOW`] and [`AUDIENCE`], and fresh state
//! per input, so an input's outcome never depends on what ran before it.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io;
use std::path::Path;

use arbitrary::{Arbitrary, Unstructured};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::build::{ISS_A, ISS_B, key_a, key_b};
use crate::fixtures::{P256_ORDER, der_signature, high_s_twin};
use crate::model::{self, ModelKey, ModelLedger, ModelSettings};
use crate::testing::{AUDIENCE, NOW, agent_iss, agent_key, attacker_key, uuid};
use crate::vector::{Kind, VectorFile};
use wimse_ect::DRAFT_00;
use wimse_ect::DagValidator;
use wimse_ect::base64url::encode as b64_encode;
use wimse_ect::http::{DEFAULT_MAX_FIELD_BYTES, format_field_value, parse_field_values};
use wimse_ect::jws::{DEFAULT_MAX_TOKEN_BYTES, split};
use wimse_ect::parse_object;
use wimse_ect::{Algorithm, Header};
use wimse_ect::{Claims, DEFAULT_MAX_PAR, NBF, sha256_b64url};
use wimse_ect::{KeySet, SigningKey, TrustedKey};
use wimse_ect::{Ledger, LedgerAudit, MemoryLedger};
use wimse_ect::{Policy, ReplayProtection, Verifier};

/// An oracle on raw fuzzer bytes: returns, or panics on a finding.
pub type Oracle = fn(&[u8]);

/// The fuzz targets: name (the `fuzz/fuzz_targets/<name>.rs` file and the corpus directory)
/// and the function that takes libFuzzer's raw bytes.
pub const TARGETS: &[(&str, Oracle)] = &[
    ("parse", parse),
    ("verify_bytes", verify_bytes),
    ("verify_structured", verify_structured_bytes),
    ("dag", dag_bytes),
    ("http_header", http_header),
];

// ---------------------------------------------------------------------------------------------
// Fixed keys and settings.

/// The claim names of profile `draft-00`: what [`Claims::to_json`] writes.
const CLAIM_NAMES: [&str; 13] = DRAFT_00.claims.all();

/// The keys every oracle trusts: the vectors' `agent-a` and `agent-b` (bound to their issuers,
/// so tokens from `vectors/` get past the signature), `agent-0` bound to [`agent_iss`]`(0)` and
/// `agent-1` bound to no issuer (the signers of [`TokenDesc`] and [`DagOps`]).
pub fn trusted_keys() -> Vec<TrustedKey> {
    vec![
        key_a().trusted(Some(ISS_A)),
        key_b().trusted(Some(ISS_B)),
        agent_key(0).trusted(Some(&agent_iss(0))),
        agent_key(1).trusted(None),
    ]
}

/// [`trusted_keys`] as the model sees them.
pub fn model_keys() -> Vec<ModelKey> {
    trusted_keys()
        .iter()
        .map(|k| ModelKey {
            kid: k.kid().to_owned(),
            sec1: k.key().to_sec1_point(false).as_bytes().to_vec(),
            iss: k.issuer().map(str::to_owned),
        })
        .collect()
}

/// The fixed keys, built once per process (key derivation is the slow part).
struct Keys {
    set: KeySet,
    model: Vec<ModelKey>,
    /// `agent-0` (bound) and `agent-1` (unbound).
    signers: [SigningKey; 2],
    attacker: SigningKey,
}

fn keys() -> &'static Keys {
    static KEYS: std::sync::OnceLock<Keys> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| Keys {
        set: KeySet::from_keys(trusted_keys()).expect("distinct kids"),
        model: model_keys(),
        signers: [agent_key(0), agent_key(1)],
        attacker: attacker_key(),
    })
}

/// Verifier settings, the same for the verifier ([`Policy`]) and the model ([`ModelSettings`]).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Settings {
    leeway: u64,
    max_iat_age: u64,
    max_par: usize,
    max_token_bytes: usize,
    partial: bool,
    ancestor_budget: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            leeway: 30,
            max_iat_age: 900,
            max_par: DEFAULT_MAX_PAR,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            partial: false,
            ancestor_budget: wimse_ect::DEFAULT_ANCESTOR_BUDGET,
        }
    }
}

impl Settings {
    fn verifier(&self, replay: bool) -> Verifier {
        let mut p = Policy::new(AUDIENCE);
        p.leeway_seconds = self.leeway;
        p.max_iat_age_seconds = self.max_iat_age;
        p.max_par = self.max_par;
        p.max_token_bytes = self.max_token_bytes;
        if !replay {
            p.replay = ReplayProtection::Disabled;
        }
        if self.partial {
            p.dag = DagValidator::partial();
        }
        p.dag.ancestor_budget = self.ancestor_budget;
        Verifier::new(keys().set.clone(), p).expect("settings in range")
    }

    fn model(&self) -> ModelSettings {
        let mut s = ModelSettings::defaults(NOW, AUDIENCE);
        s.leeway = self.leeway;
        s.max_iat_age = self.max_iat_age;
        s.max_par = self.max_par;
        s.max_token_bytes = self.max_token_bytes;
        s.partial = self.partial;
        s.ancestor_budget = self.ancestor_budget;
        s
    }
}

/// A verdict as the oracles compare it: the claims (profile claim names only) or the code.
type Verdict = Result<Map<String, Value>, &'static str>;

/// The model's claims restricted to the claim names the verifier keeps: the profile's, and
/// `nbf` (ECT-TIME-6).
fn known_claims(all: Map<String, Value>) -> Map<String, Value> {
    all.into_iter()
        .filter(|(k, _)| CLAIM_NAMES.contains(&k.as_str()) || k == NBF)
        .collect()
}

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Verifier and model agree on `token`: the same code, or the same claims.
fn assert_agree(token: &[u8], got: Verdict, want: Verdict, context: &str) {
    let want = want.map(known_claims);
    assert_eq!(
        got,
        want,
        "verifier (left) and model (right) disagree{context} on token {:?}",
        show(token)
    );
}

// ---------------------------------------------------------------------------------------------
// parse

/// Raw bytes into the compact layer ([`split`]), the strict JSON layer ([`parse_object`]), the
/// header parser and the claims parser. Never panics; whatever parses re-serializes and
/// parses again to the same value:
///
/// * `split`: ECT-JWS-1 comes first (limit `len` passes, `len - 1` fails); an accepted token is
///   exactly the unpadded base64url of its three decoded parts (so the encoding is canonical)
///   and splits again to the same parts; the signing input is the bytes before the second dot.
/// * `parse_object`, on the input itself and on the decoded header and payload: an accepted
///   object is what serde_json makes of the same bytes (no duplicate was missed), and its
///   compact serialization parses back to it; a `jws.json` rejection is one serde_json makes
///   too; no other code.
/// * The header parser (ECT-HDR-1..4) on every parsed object: an accepted header rebuilt from
///   its `alg`, `typ` and `kid` parses to the same header, `kid` is the object's, no `crit`.
/// * The claims parser (ECT-CLM-1..13) on every parsed object: accepted claims serialize
///   ([`Claims::to_json`]) to exactly the object's claim members and parse back to the same
///   claims; a rejection has a `claims.*` code.
pub fn parse(data: &[u8]) {
    assert_floats_exact();
    json_layer(data);
    compact_layer(data);
}

fn compact_layer(data: &[u8]) {
    // No size limit here; ECT-JWS-1 is checked first and only counts bytes.
    let compact = split(data, data.len());
    let limited = split(data, DEFAULT_MAX_TOKEN_BYTES);
    if data.len() > DEFAULT_MAX_TOKEN_BYTES {
        assert_eq!(limited.map_err(|e| e.code()).err(), Some("jws.too_large"));
    } else {
        assert!(limited == compact, "the limit changed the result");
    }
    if !data.is_empty() {
        assert_eq!(
            split(data, data.len() - 1).map_err(|e| e.code()).err(),
            Some("jws.too_large")
        );
    }
    let c = match compact {
        Ok(c) => c,
        Err(e) => {
            assert!(
                matches!(e.code(), "jws.malformed" | "jws.base64"),
                "split: unexpected {e:?}"
            );
            return;
        }
    };
    let again = format!(
        "{}.{}.{}",
        b64_encode(&c.header),
        b64_encode(&c.payload),
        b64_encode(&c.signature)
    );
    assert_eq!(
        again.as_bytes(),
        data,
        "an accepted token is the canonical encoding of its parts"
    );
    let second_dot = data
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'.')
        .nth(1)
        .map(|(i, _)| i)
        .expect("three segments");
    assert_eq!(c.signing_input, &data[..second_dot]);
    assert!(split(again.as_bytes(), data.len()).as_ref() == Ok(&c));
    json_layer(&c.header);
    json_layer(&c.payload);
}

fn json_layer(bytes: &[u8]) {
    let serde_view = serde_json::from_slice::<Map<String, Value>>(bytes);
    match parse_object(bytes) {
        Ok(map) => {
            assert_eq!(
                serde_view.as_ref().ok(),
                Some(&map),
                "serde_json reads {:?} differently",
                show(bytes)
            );
            let text = serde_json::to_vec(&map).expect("a map serializes");
            let back = parse_object(&text).expect("a serialized map parses");
            assert_eq!(
                back,
                map,
                "{:?} re-serialized as {:?} parses to another value",
                show(bytes),
                show(&text)
            );
            header_layer(&map);
            claims_layer(&map);
        }
        Err(e) => match e.code() {
            "jws.json" => assert!(
                serde_view.is_err(),
                "parse_object refused {:?} ({e:?}), serde_json read it",
                show(bytes)
            ),
            "jws.duplicate_member" => {}
            other => panic!("parse_object: unexpected code {other}"),
        },
    }
}

/// Floats must round-trip exactly: this crate's serde_json has `float_roundtrip` in every
/// build, so a re-serialized object parses to the same value and `ext`'s size (ECT-CLM-12)
/// never depends on the build. Without the feature, `2.2250738585072011e-308` parsed as
/// `2.2250738585072014e-308` (`fuzz/regressions/parse/float-reparse-*`).
/// Checked once per process, not per input.
fn assert_floats_exact() {
    static CHECKED: std::sync::Once = std::sync::Once::new();
    CHECKED.call_once(|| {
        for text in ["2.2250738585072011e-308", "9.688888888888889e83"] {
            assert_eq!(
                serde_json::from_str::<f64>(text).ok(),
                text.parse::<f64>().ok(),
                "serde_json without float_roundtrip"
            );
        }
    });
}

fn header_layer(map: &Map<String, Value>) {
    let parsed = Header::parse(map, &DRAFT_00, &[Algorithm::Es256]);
    let header = match parsed {
        Ok(h) => h,
        Err(e) => {
            assert!(e.code().starts_with("header."), "header: {e:?}");
            return;
        }
    };
    assert_eq!(map.get("kid"), Some(&Value::from(header.kid())));
    assert_eq!(map.get("typ"), Some(&Value::from(header.typ())));
    assert!(!map.contains_key("crit"));
    let mut rebuilt = Map::new();
    rebuilt.insert("alg".into(), header.alg().name().into());
    rebuilt.insert("typ".into(), header.typ().into());
    rebuilt.insert("kid".into(), header.kid().into());
    let text = serde_json::to_vec(&rebuilt).expect("serializes");
    let back = parse_object(&text).expect("a rebuilt header is JSON");
    assert_eq!(
        Header::parse(&back, &DRAFT_00, &[Algorithm::Es256]),
        Ok(header.clone())
    );
    // The builder's header for the same kid is a valid header with the same alg and kid.
    let built = parse_object(&Header::to_json(header.kid(), &DRAFT_00)).expect("JSON");
    let built = Header::parse(&built, &DRAFT_00, &[Algorithm::Es256]).expect("valid");
    assert_eq!((built.alg(), built.kid()), (header.alg(), header.kid()));
}

fn claims_layer(map: &Map<String, Value>) {
    let claims = match Claims::parse(map.clone(), &DRAFT_00, DEFAULT_MAX_PAR) {
        Ok(c) => c,
        Err(e) => {
            assert!(e.code().starts_with("claims."), "claims: {e:?}");
            return;
        }
    };
    let json = claims.to_json(&DRAFT_00);
    assert_eq!(
        json,
        known_claims(map.clone()),
        "to_json is the payload's claim members"
    );
    let text = serde_json::to_vec(&json).expect("serializes");
    let back = parse_object(&text).expect("serialized claims are JSON");
    let again = match Claims::parse(back, &DRAFT_00, DEFAULT_MAX_PAR) {
        Ok(c) => c,
        Err(e) => panic!("serialized claims are refused: {e:?}"),
    };
    assert_eq!(
        again.to_json(&DRAFT_00),
        json,
        "claims changed on re-serialization"
    );
    assert_eq!(again, claims);
}

// ---------------------------------------------------------------------------------------------
// verify_bytes

/// Raw bytes into [`Verifier::verify`] (replay protection off, SPEC.md's default settings,
/// [`trusted_keys`], [`NOW`], [`AUDIENCE`]) and into [`model::verify`] with the same keys and
/// settings: the same code, or on acceptance the same claims.
pub fn verify_bytes(data: &[u8]) {
    let settings = Settings::default();
    let got = settings
        .verifier(false)
        .verify(data, NOW)
        .map(|v| v.claims().to_json(&DRAFT_00))
        .map_err(|e| e.code());
    let want = model::verify(data, &keys().model, &settings.model());
    assert_agree(data, got, want, "");
}

// ---------------------------------------------------------------------------------------------
// verify_structured: the token description.

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

/// A `pol_decision` value.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// `approved`.
    Approved,
    /// `rejected`.
    Rejected,
    /// `pending_human_review`.
    PendingHumanReview,
}

impl Decision {
    fn as_str(self) -> &'static str {
        match self {
            Decision::Approved => "approved",
            Decision::Rejected => "rejected",
            Decision::PendingHumanReview => "pending_human_review",
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
    fn name(&self) -> String {
        match self {
            ClaimName::Iss => "iss",
            ClaimName::Aud => "aud",
            ClaimName::Iat => "iat",
            ClaimName::Exp => "exp",
            ClaimName::Jti => "jti",
            ClaimName::ExecAct => "exec_act",
            ClaimName::Par => "par",
            ClaimName::Wid => "wid",
            ClaimName::InpHash => "inp_hash",
            ClaimName::OutHash => "out_hash",
            ClaimName::Ext => "ext",
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

/// UUID number `n % 16` of the small space the structured oracles draw from.
fn small_uuid(n: u8) -> String {
    uuid(0x6ba7_b810_9dad_41d1_80b4_00c0_4fd4_3000 + u128::from(n % 16))
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
            HashForm::Hex => Sha256::digest([1u8])
                .iter()
                .fold(String::new(), |mut s, b| {
                    let _ = write!(s, "{b:02x}");
                    s
                }),
        }
    }
}

const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The base64url text with the low bit of its last character's value flipped: for a length
/// ≡ 2 or 3 (mod 4) that sets an unused trailing bit (non-canonical).
fn flip_low_bit_of_last(s: &str) -> String {
    let mut b = s.as_bytes().to_vec();
    if let Some(last) = b.last_mut()
        && let Some(i) = B64URL.iter().position(|c| c == last)
    {
        *last = B64URL[i ^ 1];
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
                if let Some(last) = t[r].last_mut()
                    && let Some(i) = B64URL.iter().position(|c| c == last)
                {
                    *last = B64URL[i ^ 1];
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
        self.settings
            .0
            .as_ref()
            .map_or_else(Settings::default, SettingsDesc::settings)
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
            Member::new("typ", json_string("wimse-exec+jwt")),
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
            Member::new("par", format!("[{}]", par_text.join(","))),
        ];
        if let Some(w) = b.wid {
            m.push(Member::new("wid", json_string(&small_uuid(w))));
        }
        if b.hashes {
            m.push(Member::new("inp_hash", json_string(&sha256_b64url(b"in"))));
            m.push(Member::new("out_hash", json_string(&sha256_b64url(b"out"))));
        }
        if let Some(e) = b.ext {
            m.push(Member::new("ext", e.render()));
        }
        if let Some(d) = b.pol {
            m.push(Member::new("pol", json_string("policy-1")));
            m.push(Member::new("pol_decision", json_string(d.as_str())));
        }
        for e in self.claims.iter().take(8) {
            apply_edit(&mut m, e.name.name(), &e.op, &self.ctx());
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

/// A [`TokenDesc`] rendered ([`TokenDesc::render`]) and given to [`Verifier::verify`] (replay
/// protection off) and [`model::verify`] with the settings the description asks for: the same
/// code, or on acceptance the same claims.
pub fn verify_structured(desc: &TokenDesc) {
    let token = desc.render();
    let settings = desc.settings();
    let got = settings
        .verifier(false)
        .verify(&token, NOW)
        .map(|v| v.claims().to_json(&DRAFT_00))
        .map_err(|e| e.code());
    let want = model::verify(&token, &keys().model, &settings.model());
    assert_agree(&token, got, want, &format!(" (settings {settings:?})"));
}

/// Raw fuzzer bytes → [`TokenDesc`] → [`verify_structured`]; bytes that do not make a
/// description are skipped.
pub fn verify_structured_bytes(data: &[u8]) {
    if let Ok(desc) = TokenDesc::arbitrary(&mut Unstructured::new(data)) {
        verify_structured(&desc);
    }
}

// ---------------------------------------------------------------------------------------------
// dag

/// A sequence of accept operations for [`dag`], over 6 `jti`s, 2 `wid`s (or none) and 3 keys.
#[derive(Arbitrary, Debug, Clone)]
pub struct DagOps {
    /// Partial DAG mode (missing parents listed, not errors).
    pub partial: bool,
    /// The operations (at most 24 are run).
    pub ops: Vec<DagOp>,
    /// The ancestor budget: `1 + budget % 12`, or SPEC.md's default (10 000) when absent.
    /// Last, so inputs made before it existed decode to the same operations.
    pub budget: Option<u8>,
}

/// One operation.
#[derive(Arbitrary, Debug, Clone)]
pub enum DagOp {
    /// A new token.
    Accept(AcceptOp),
    /// The token of operation `n % (number so far)` presented again, byte for byte.
    Again(u8),
}

/// Who signs an [`AcceptOp`]'s token.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum DagSigner {
    /// `agent-0`, bound to its issuer.
    Agent0,
    /// `agent-1`, no binding.
    Agent1,
    /// `agent-0`'s key with `agent-1`'s issuer (`key.issuer_mismatch`).
    WrongIssuer,
    /// The untrusted `attacker` key (`key.unknown`).
    Untrusted,
}

/// A new token for the ledger.
#[derive(Arbitrary, Debug, Clone)]
pub struct AcceptOp {
    /// The signer.
    pub signer: DagSigner,
    /// `jti`: UUID number `jti % 6`.
    pub jti: u8,
    /// `wid`: UUID number `10 + wid % 2`, or absent.
    pub wid: Option<u8>,
    /// `par`: UUID numbers `% 6` (at most 4; duplicates and self kept).
    pub par: Vec<u8>,
    /// `iat`.
    pub iat: DagIat,
    /// `pol` + `pol_decision`, or absent.
    pub pol: Option<Decision>,
}

/// The `iat` of an [`AcceptOp`]'s token.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum DagIat {
    /// [`NOW`] + 40 − `back` (the leeway is 30).
    Back(u8),
    /// At ECT-DAG-3's boundary: the `iat` of the latest earlier token of the first parent
    /// (same `jti` and scope) − skew − 1 + `d % 4` (one too early, then valid); [`NOW`] − `d`
    /// when there is no such token.
    AfterParent(u8),
}

impl AcceptOp {
    fn wid(&self) -> Option<String> {
        self.wid.map(|w| small_uuid(10 + w % 2))
    }

    fn jti(&self) -> String {
        small_uuid(self.jti % 6)
    }

    /// The `iat`, given the tokens rendered before (scope, `jti`, `iat`).
    fn iat(&self, earlier: &[(Option<String>, String, u64)]) -> u64 {
        match self.iat {
            DagIat::Back(back) => NOW + 40 - u64::from(back),
            DagIat::AfterParent(d) => {
                let wid = self.wid();
                let parent = self.par.first().map(|p| small_uuid(p % 6));
                let parent_iat = earlier
                    .iter()
                    .rev()
                    .find(|(w, j, _)| *w == wid && Some(j) == parent.as_ref())
                    .map(|(_, _, iat)| *iat);
                match parent_iat {
                    Some(p) => p - 30 - 1 + u64::from(d % 4),
                    None => NOW - u64::from(d),
                }
            }
        }
    }

    /// The signed token, with `iat` as [`AcceptOp::iat`] makes it.
    fn render(&self, iat: u64) -> String {
        let k = keys();
        let (key, iss) = match self.signer {
            DagSigner::Agent0 => (&k.signers[0], agent_iss(0)),
            DagSigner::Agent1 => (&k.signers[1], agent_iss(1)),
            DagSigner::WrongIssuer => (&k.signers[0], agent_iss(1)),
            DagSigner::Untrusted => (&k.attacker, agent_iss(0)),
        };
        let mut claims = Map::new();
        claims.insert("iss".into(), iss.into());
        claims.insert("aud".into(), AUDIENCE.into());
        claims.insert("iat".into(), iat.into());
        claims.insert("exp".into(), (iat + 600).into());
        claims.insert("jti".into(), self.jti().into());
        claims.insert("exec_act".into(), "step".into());
        let par: Vec<Value> = self
            .par
            .iter()
            .take(4)
            .map(|p| small_uuid(p % 6).into())
            .collect();
        claims.insert("par".into(), Value::Array(par));
        if let Some(w) = self.wid() {
            claims.insert("wid".into(), w.into());
        }
        if let Some(d) = self.pol {
            claims.insert("pol".into(), "policy-1".into());
            claims.insert("pol_decision".into(), d.as_str().into());
        }
        let mut header = Map::new();
        header.insert("alg".into(), "ES256".into());
        header.insert("kid".into(), key.kid().into());
        header.insert("typ".into(), "wimse-exec+jwt".into());
        crate::testing::sign_json(&header, &claims, key)
    }
}

/// Each operation through [`Verifier::accept`] (replay protection on) into a [`MemoryLedger`]
/// and through [`ModelLedger::accept`], at [`NOW`]: the same result (`Ok`, or the same code);
/// after every operation the chain verifies and both hold the same tokens in the same order;
/// a rejected operation leaves the ledger's length and head unchanged; and the whole-ledger
/// audit under the same policy finds nothing (SPEC.md §7's invariant: accepting one token at a
/// time never builds a ledger the audit rejects, late parents included).
pub fn dag(ops: &DagOps) {
    let settings = Settings {
        partial: ops.partial,
        ancestor_budget: ops.budget.map_or(wimse_ect::DEFAULT_ANCESTOR_BUDGET, |b| {
            1 + usize::from(b % 12)
        }),
        ..Settings::default()
    };
    let verifier = settings.verifier(true);
    let model_settings = settings.model();
    let ledger = MemoryLedger::new();
    let mut model = ModelLedger::new();
    let mut presented: Vec<String> = Vec::new();
    let mut rendered: Vec<(Option<String>, String, u64)> = Vec::new();
    for (i, op) in ops.ops.iter().take(24).enumerate() {
        let token = match op {
            DagOp::Accept(a) => {
                let iat = a.iat(&rendered);
                rendered.push((a.wid(), a.jti(), iat));
                a.render(iat)
            }
            DagOp::Again(n) if !presented.is_empty() => {
                presented[usize::from(*n) % presented.len()].clone()
            }
            DagOp::Again(_) => continue,
        };
        let (len, head) = (ledger.len(), ledger.head());
        let got = verifier
            .accept(&token, NOW, &ledger)
            .map(|_| ())
            .map_err(|e| e.code());
        let want = model.accept(token.as_bytes(), &keys().model, &model_settings);
        assert_eq!(
            got, want,
            "operation {i}: ledger (left) and model (right) disagree on {token:?}"
        );
        assert_eq!(ledger.verify_chain(), Ok(()), "operation {i}");
        match got {
            Ok(()) => assert_eq!(ledger.len(), len + 1, "operation {i}"),
            Err(_) => {
                assert_eq!(
                    (ledger.len(), ledger.head()),
                    (len, head),
                    "operation {i}: a rejection changed the ledger"
                );
            }
        }
        let held: Vec<String> = ledger
            .entries()
            .iter()
            .map(|e| e.ect().token().to_owned())
            .collect();
        assert_eq!(held, model.tokens(), "operation {i}: ledger contents");
        assert_eq!(model.len(), held.len());
        // Signatures were verified on acceptance; the audit re-checks everything else.
        let audit = ledger.validate_all(verifier.policy(), None);
        assert_eq!(
            audit.findings,
            vec![],
            "operation {i}: the ledger built one token at a time fails its own audit"
        );
        presented.push(token);
    }
}

/// Raw fuzzer bytes → [`DagOps`] → [`dag`]; bytes that do not make operations are skipped.
pub fn dag_bytes(data: &[u8]) {
    if let Ok(ops) = DagOps::arbitrary(&mut Unstructured::new(data)) {
        dag(&ops);
    }
}

// ---------------------------------------------------------------------------------------------
// http_header

/// The data split on `\n` into field lines (none for empty data) into [`parse_field_values`]
/// (default maximum). Never panics; the result equals a naive reading of ECT-HTTP-2..4 (lines
/// joined with `", "` measured first, then each comma-separated element trimmed of SP/HTAB,
/// non-empty, only base64url and `.`); the size bound is exact (the combined length passes,
/// one less fails); and when it parses, [`format_field_value`] of the tokens parses back to
/// the same tokens, as one line and as one line per token.
pub fn http_header(data: &[u8]) {
    let lines: Vec<&[u8]> = if data.is_empty() {
        Vec::new()
    } else {
        data.split(|&b| b == b'\n').collect()
    };
    let got = parse_field_values(lines.iter().copied(), DEFAULT_MAX_FIELD_BYTES);
    let code = got.as_ref().map_err(|e| e.code()).cloned();
    assert_eq!(
        code,
        naive_field_values(&lines, DEFAULT_MAX_FIELD_BYTES),
        "parser (left) and naive reading (right) disagree on {lines:?}"
    );
    let combined = lines.iter().map(|l| l.len()).sum::<usize>() + 2 * lines.len().saturating_sub(1);
    if combined > 0 {
        let at = parse_field_values(lines.iter().copied(), combined).map_err(|e| e.code());
        assert_ne!(at, Err("http.too_large"));
        let under = parse_field_values(lines.iter().copied(), combined - 1).map_err(|e| e.code());
        assert_eq!(under, Err("http.too_large"));
    }
    let Ok(tokens) = got else { return };
    if tokens.is_empty() {
        assert!(lines.is_empty());
        return;
    }
    // The formatted value can be longer than the lines it came from (`a,b` is sent back as
    // `a, b`), and the size limit is the receiver's, on the field as sent (ECT-HTTP-4): so the
    // round trips are checked under a limit of exactly the formatted length (a CI smoke
    // finding, fuzz/regressions/http_header/, and vector `http/size/commas-count-as-sent`).
    let value = format_field_value(&tokens).expect("parsed tokens format");
    assert_eq!(
        parse_field_values([value.as_bytes()], value.len()).as_ref(),
        Ok(&tokens)
    );
    assert_eq!(
        parse_field_values(tokens.iter().map(String::as_bytes), value.len()).as_ref(),
        Ok(&tokens)
    );
}

fn naive_field_values(lines: &[&[u8]], max: usize) -> Result<Vec<String>, &'static str> {
    if lines.join(&b", "[..]).len() > max {
        return Err("http.too_large");
    }
    let mut out = Vec::new();
    for line in lines {
        for element in line.split(|&b| b == b',') {
            let text = String::from_utf8_lossy(element);
            let trimmed = text.trim_matches([' ', '\t']);
            let ok = !trimmed.is_empty()
                && trimmed
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !ok {
                return Err("http.malformed");
            }
            out.push(trimmed.to_owned());
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Seed corpora.

/// One seed input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seed {
    /// The target it is for (a name in [`TARGETS`]).
    pub target: &'static str,
    /// Where it comes from (a vector id, or `fixed`).
    pub origin: String,
    /// The input bytes.
    pub data: Vec<u8>,
}

/// Fixed inputs for the structured targets: empty (every default: one valid token, or no
/// operation), zeros, ones, and a few patterns.
const FIXED: &[&[u8]] = &[
    b"",
    &[0; 16],
    &[0xff; 64],
    &[0x01; 64],
    &[0x80; 128],
    b"\x01\x00\x01\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f",
    b"\xff\x00\x00\x01\x00\x00\xff\x01\x01\x00\x00\x02\x00\xff\x01\x02\x01\x00\x03\x00\x01",
    b"The quick brown fox jumps over the lazy dog, twice: the quick brown fox jumps.",
];

/// Seed inputs per target from the vector files in `vectors_dir` (every `*.json` except
/// `schema.json`), in a deterministic order without duplicates:
///
/// * `parse`: every token (including `before` and `store` tokens), and its decoded header
///   and payload text;
/// * `verify_bytes`: every token;
/// * `http_header`: every vector's field lines joined with `\n`, and the tokens of each
///   `token` vector (its own, then `before` and `store`) as field lines;
/// * `verify_structured`, `dag`: eight fixed byte strings (the empty input: every default).
pub fn seeds(vectors_dir: &Path) -> io::Result<Vec<Seed>> {
    let mut files: Vec<_> = std::fs::read_dir(vectors_dir)?
        .collect::<io::Result<Vec<_>>>()?
        .into_iter()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && p.file_name().is_some_and(|n| n != "schema.json")
        })
        .collect();
    files.sort();
    let mut out = Vec::new();
    let mut seen: BTreeSet<(&'static str, Vec<u8>)> = BTreeSet::new();
    let mut add = |target: &'static str, origin: &str, data: Vec<u8>| {
        if seen.insert((target, data.clone())) {
            out.push(Seed {
                target,
                origin: origin.to_owned(),
                data,
            });
        }
    };
    for path in files {
        let file: VectorFile = serde_json::from_slice(&std::fs::read(&path)?).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        })?;
        for v in &file.vectors {
            let case = &v.case;
            let tokens: Vec<&String> = case
                .token
                .iter()
                .chain(&case.before)
                .chain(&case.store)
                .collect();
            for t in &tokens {
                add("parse", &v.id, t.as_bytes().to_vec());
                add("verify_bytes", &v.id, t.as_bytes().to_vec());
                if let Ok(c) = split(t.as_bytes(), usize::MAX) {
                    add("parse", &v.id, c.header);
                    add("parse", &v.id, c.payload);
                }
            }
            if case.kind == Kind::Http {
                add(
                    "http_header",
                    &v.id,
                    case.field_lines.join("\n").into_bytes(),
                );
            }
            if !tokens.is_empty() {
                let lines: Vec<&str> = tokens.iter().map(|t| t.as_str()).collect();
                add("http_header", &v.id, lines.join("\n").into_bytes());
            }
        }
    }
    for data in FIXED {
        add("verify_structured", "fixed", data.to_vec());
        add("dag", "fixed", data.to_vec());
    }
    Ok(out)
}

/// Writes [`seeds`] from `vectors_dir` as files `out_dir/<target>/<hex SHA-256 of the
/// content>` (so writing twice gives the same files), creating the directories. Returns the
/// number of seeds.
pub fn seed_corpora(vectors_dir: &Path, out_dir: &Path) -> io::Result<usize> {
    let all = seeds(vectors_dir)?;
    for (target, _) in TARGETS {
        std::fs::create_dir_all(out_dir.join(target))?;
    }
    for seed in &all {
        let name = Sha256::digest(&seed.data)
            .iter()
            .fold(String::new(), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            });
        std::fs::write(out_dir.join(seed.target).join(name), &seed.data)?;
    }
    Ok(all.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(bytes: &[u8]) -> Vec<u8> {
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

    #[test]
    fn http_naive_reading() {
        assert_eq!(naive_field_values(&[], 10), Ok(vec![]));
        assert_eq!(
            naive_field_values(&[b" a.b ,\tc", b"d"], 100),
            Ok(vec!["a.b".into(), "c".into(), "d".into()])
        );
        assert_eq!(naive_field_values(&[b"a,"], 100), Err("http.malformed"));
        assert_eq!(naive_field_values(&[b"ab", b"c"], 4), Err("http.too_large"));
    }

    #[test]
    fn parse_oracle_on_known_inputs() {
        for input in [
            &b"e30.e30.AAAA"[..],
            b"{\"a\":1.5e300,\"b\":[-0,1e-7]}",
            b"{\"a\":1,\"a\":2}",
            b"\xef\xbb\xbf{}",
            b"",
            b"...",
        ] {
            parse(input);
        }
        parse(&render(b""));
    }
}
