//! The deterministic vector generator: fixed keys, a fixed `now`, RFC 6979 signatures, so every
//! run writes the same bytes. Each area module lists its vectors with [`V`]; [`generate`]
//! numbers them, fills in intermediate values, and checks each against the reference
//! implementation, so a vector whose declared result the reference does not produce is a
//! generation error, never a committed file.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::reference::evaluate;
use super::vector::{
    AnswerResult, Case, DagModeSetting, FORMAT, Intermediate, Kind, Mode, Settings, Vector,
    VectorFile, Verdict,
};
use super::{NOTES, files};
use wimse_ect::SigningKey;
use wimse_ect::base64url::decode as b64_decode;
use wimse_ect::sign_raw;

/// The verifier's clock in every vector.
pub const NOW: u64 = 1_772_000_000;
/// The verifier's identifier in every vector.
pub const AUD: &str = "spiffe://example.org/verifier";
/// Agent A's issuer identifier (key `agent-a`).
pub const ISS_A: &str = "spiffe://example.org/agent-a";
/// Agent B's issuer identifier (key `agent-b`).
pub const ISS_B: &str = "spiffe://example.org/agent-b";
/// The `exec_act` of generated tokens.
pub const EXEC_ACT: &str = "fetch_data";
/// The `typ` of generated tokens.
pub const TYP: &str = "wimse-exec+jwt";

/// Agent A's key (`kid` `agent-a`, scalar 0x01 repeated), trusted for [`ISS_A`].
pub fn key_a() -> SigningKey {
    SigningKey::from_scalar_bytes("agent-a", &[1; 32]).expect("a valid scalar")
}

/// Agent B's key (`kid` `agent-b`, scalar 0x02 repeated), trusted for [`ISS_B`].
pub fn key_b() -> SigningKey {
    SigningKey::from_scalar_bytes("agent-b", &[2; 32]).expect("a valid scalar")
}

/// A key no vector's verifier trusts (`kid` `attacker`, scalar 0xa7 repeated).
pub fn attacker() -> SigningKey {
    SigningKey::from_scalar_bytes("attacker", &[0xa7; 32]).expect("a valid scalar")
}

/// The signing keys of the vector files, with their issuer bindings.
pub fn signing_keys() -> Vec<(SigningKey, Option<&'static str>)> {
    vec![
        (key_a(), Some(ISS_A)),
        (key_b(), Some(ISS_B)),
        (attacker(), None),
    ]
}

/// The default trusted key set: `agent-a` bound to [`ISS_A`], `agent-b` to [`ISS_B`].
pub fn jwks() -> Value {
    json!({"keys": [
        Value::Object(key_a().to_public_jwk(Some(ISS_A))),
        Value::Object(key_b().to_public_jwk(Some(ISS_B))),
    ]})
}

/// SPEC.md's default settings at [`NOW`] for [`AUD`].
pub fn settings() -> Settings {
    Settings {
        profile: crate::vector::ProfileName::Draft00,
        now: NOW,
        audience: AUD.into(),
        leeway: 30,
        max_iat_age: 900,
        max_par: 100,
        max_token_bytes: 65_536,
        skew: 30,
        ancestor_budget: 10_000,
        dag: DagModeSetting::Strict,
        max_field_bytes: 65_536,
    }
}

/// The `n`th fixed UUID (version 4 layout), e.g. for `jti`, `par`, `wid`.
pub fn uuid(n: u32) -> String {
    format!("6ba7b810-9dad-41d1-80b4-{n:012x}")
}

/// A JSON object from a `json!` literal.
pub fn obj(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

/// The header generated tokens carry: `{"alg":"ES256","kid":kid,"typ":"wimse-exec+jwt"}`.
pub fn header(kid: &str) -> Map<String, Value> {
    obj(json!({"alg": "ES256", "typ": TYP, "kid": kid}))
}

/// Valid claims of agent A for task `jti`: issued 60 s before [`NOW`], expiring 600 s after,
/// no parents.
pub fn claims(jti: &str) -> Map<String, Value> {
    obj(json!({
        "iss": ISS_A,
        "aud": AUD,
        "iat": NOW - 60,
        "exp": NOW + 600,
        "jti": jti,
        "exec_act": EXEC_ACT,
        "par": [],
    }))
}

/// `claims(jti)` with `par` and `iat` set.
pub fn child(jti: &str, par: &[&str], iat: u64) -> Map<String, Value> {
    let mut c = claims(jti);
    c.insert("par".into(), json!(par));
    c.insert("iat".into(), iat.into());
    c
}

/// Signs JSON objects (compact, sorted members).
pub fn sign(header: &Map<String, Value>, payload: &Map<String, Value>, key: &SigningKey) -> String {
    sign_raw(
        &serde_json::to_vec(header).expect("serializes"),
        &serde_json::to_vec(payload).expect("serializes"),
        key,
    )
}

/// Agent A's token for `payload` with the default header.
pub fn sign_a(payload: &Map<String, Value>) -> String {
    sign(&header("agent-a"), payload, &key_a())
}

/// Agent A's valid token for task [`uuid`]`(1)`.
pub fn valid_token() -> String {
    sign_a(&claims(&uuid(1)))
}

/// A vector being written: the case and the declared result.
#[derive(Clone, Debug)]
pub struct V {
    id: String,
    description: String,
    rules: Vec<String>,
    result: Verdict,
    code: Option<String>,
    alt_codes: Vec<String>,
    reference: Option<Verdict>,
    flags: Vec<String>,
    case: Case,
}

impl V {
    fn new(id: &str, description: &str, rules: &[&str], kind: Kind) -> Self {
        V {
            id: id.into(),
            description: description.into(),
            rules: rules.iter().map(|r| (*r).to_owned()).collect(),
            result: Verdict::Valid,
            code: None,
            alt_codes: Vec::new(),
            reference: None,
            flags: Vec::new(),
            case: Case {
                kind,
                jwks: jwks(),
                settings: settings(),
                token: None,
                mode: None,
                before: Vec::new(),
                store: Vec::new(),
                field_lines: Vec::new(),
                ledger: None,
            },
        }
    }

    /// A `token` case, mode `verify`, default keys and settings, expected valid.
    pub fn token(id: &str, description: &str, rules: &[&str], token: impl Into<String>) -> Self {
        let mut v = Self::new(id, description, rules, Kind::Token);
        v.case.token = Some(token.into());
        v.case.mode = Some(Mode::Verify);
        v
    }

    /// A `jwks` case: loading `jwks` as the trusted key set, expected valid.
    pub fn jwks(id: &str, description: &str, rules: &[&str], jwks: Value) -> Self {
        let mut v = Self::new(id, description, rules, Kind::Jwks);
        v.case.jwks = jwks;
        v
    }

    /// An `http` case: splitting `lines`, expected valid.
    pub fn http(id: &str, description: &str, rules: &[&str], lines: &[&str]) -> Self {
        let mut v = Self::new(id, description, rules, Kind::Http);
        v.case.field_lines = lines.iter().map(|l| (*l).to_owned()).collect();
        v
    }

    /// A `ledger` case: opening a ledger file with content `text`, expected valid.
    pub fn ledger(id: &str, description: &str, rules: &[&str], text: impl Into<String>) -> Self {
        let mut v = Self::new(id, description, rules, Kind::Ledger);
        v.case.ledger = Some(text.into());
        v
    }

    /// Expected: accepted.
    pub fn valid(mut self) -> Self {
        self.result = Verdict::Valid;
        self.code = None;
        self
    }

    /// Expected: rejected with `code`.
    pub fn invalid(mut self, code: &str) -> Self {
        self.result = Verdict::Invalid;
        self.code = Some(code.into());
        self
    }

    /// Another acceptable code of the rejection (`alt_codes`): the defect can honestly be
    /// read as another rule's failure (SPEC.md, "How a vector's expected result is chosen").
    /// The generator cannot check it against the reference; the vector's tests must.
    pub fn alt_code(mut self, code: &str) -> Self {
        self.alt_codes.push(code.into());
        self
    }

    /// Either verdict conforms (explained by `flag`); a rejection has `code`; the reference
    /// implementation's choice is `reference`.
    pub fn acceptable(mut self, code: &str, reference: Verdict, flag: &str) -> Self {
        self.result = Verdict::Acceptable;
        self.code = Some(code.into());
        self.reference = Some(reference);
        self.flag(flag)
    }

    /// Adds a flag (it must be in the notes table).
    pub fn flag(mut self, flag: &str) -> Self {
        self.flags.push(flag.into());
        self
    }

    /// Changes the settings.
    pub fn settings(mut self, f: impl FnOnce(&mut Settings)) -> Self {
        f(&mut self.case.settings);
        self
    }

    /// Sets the trusted key set.
    pub fn with_jwks(mut self, jwks: Value) -> Self {
        self.case.jwks = jwks;
        self
    }

    /// Mode `ledger`: `before` accepted into a ledger first.
    pub fn ledger_after(mut self, before: Vec<String>) -> Self {
        self.case.mode = Some(Mode::Ledger);
        self.case.before = before;
        self
    }

    /// Mode `verify` after `before` was verified by the same verifier.
    pub fn verify_after(mut self, before: Vec<String>) -> Self {
        self.case.mode = Some(Mode::Verify);
        self.case.before = before;
        self
    }

    /// Mode `store`: checked against the tokens `store`.
    pub fn in_store(mut self, store: Vec<String>) -> Self {
        self.case.mode = Some(Mode::Store);
        self.case.store = store;
        self
    }
}

/// The intermediate values of a compact token, as far as they decode.
fn intermediate(token: &str) -> Option<Intermediate> {
    let (signing_input, _) = token.rsplit_once('.')?;
    let (h, p) = signing_input.split_once('.')?;
    let text = |seg: &str| b64_decode(seg.as_bytes()).and_then(|b| String::from_utf8(b).ok());
    Some(Intermediate {
        signing_input: signing_input.to_owned(),
        header: text(h),
        payload: text(p),
    })
}

/// Turns a declared vector into a [`Vector`], checking it against the reference.
fn finish(v: V, tc_id: u32) -> Result<Vector, String> {
    let outcome = evaluate(&v.case).map_err(|e| format!("{}: broken case: {e}", v.id))?;
    let got = match outcome.result {
        AnswerResult::Valid => Verdict::Valid,
        _ => Verdict::Invalid,
    };
    let wanted = match v.result {
        Verdict::Acceptable => v
            .reference
            .ok_or(format!("{}: acceptable without reference", v.id))?,
        other => other,
    };
    if got != wanted || (got == Verdict::Invalid && outcome.code() != v.code.as_deref()) {
        return Err(format!(
            "{}: declared {:?} {:?}, the reference gives {:?} {:?}",
            v.id,
            wanted,
            v.code,
            got,
            outcome.error.map(|e| e.to_string())
        ));
    }
    if !v.alt_codes.is_empty() {
        let known = |c: &str| {
            crate::rules::RULES.iter().any(|r| r.codes.contains(&c))
                || crate::rules::EXTENSION_CODES
                    .iter()
                    .any(|(x, _, _)| *x == c)
        };
        let mut seen = v.code.iter().collect::<Vec<_>>();
        for c in &v.alt_codes {
            if v.code.is_none() || seen.contains(&c) || !known(c) {
                return Err(format!(
                    "{}: alternative code {c:?} is a duplicate, a code of no SPEC.md rule, or \
                     on a vector without a code",
                    v.id
                ));
            }
            seen.push(c);
        }
    }
    let intermediate = match (&v.case.kind, &v.case.token) {
        (Kind::Token, Some(t)) => intermediate(t),
        _ => None,
    };
    let tokens = (v.case.kind == Kind::Http && got == Verdict::Valid)
        .then(|| outcome.tokens.clone())
        .flatten();
    Ok(Vector {
        id: v.id,
        tc_id,
        description: v.description,
        rules: v.rules,
        result: v.result,
        code: v.code,
        alt_codes: v.alt_codes,
        reference: v.reference,
        flags: v.flags,
        case: v.case,
        tokens,
        intermediate,
    })
}

/// Every vector file: `(file name, content)`, in a fixed order. File `k` (from 0) numbers its
/// vectors from `1000 * (k + 1) + 1`, so adding a vector to one file never renumbers another.
pub fn generate() -> Result<Vec<(String, VectorFile)>, String> {
    let keys: BTreeMap<String, Map<String, Value>> = signing_keys()
        .into_iter()
        .map(|(k, iss)| {
            let mut jwk = k.to_private_jwk();
            if let Some(iss) = iss {
                jwk.insert("iss".into(), iss.into());
            }
            (k.kid().to_owned(), jwk)
        })
        .collect();
    let mut out = Vec::new();
    for (k, (name, description, vectors)) in files().into_iter().enumerate() {
        let base = 1000 * (k as u32 + 1);
        let mut notes = BTreeMap::new();
        let mut finished = Vec::new();
        for (i, v) in vectors().into_iter().enumerate() {
            for flag in &v.flags {
                let note = NOTES
                    .iter()
                    .find(|(f, _)| f == flag)
                    .ok_or(format!("{}: flag {flag} has no note", v.id))?;
                notes.insert(flag.clone(), note.1.to_owned());
            }
            finished.push(finish(v, base + i as u32 + 1)?);
        }
        out.push((
            format!("{name}.json"),
            VectorFile {
                format: FORMAT.into(),
                spec: wimse_ect::DRAFT_00.spec.into(),
                profile: wimse_ect::DRAFT_00.name.into(),
                description: description.into(),
                notes,
                keys: keys.clone(),
                vectors: finished,
            },
        ));
    }
    Ok(out)
}
