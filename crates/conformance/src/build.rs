//! The deterministic vector generator: fixed keys, a fixed `now`, RFC 6979 signatures, so every
//! run writes the same bytes. Each area module lists its vectors with [`V`]; [`generate`]
//! numbers them, fills in intermediate values, and checks each against the reference
//! implementation, so a vector whose declared result the reference does not produce is a
//! generation error, never a committed file.
//!
//! Every file is generated once per profile (SPEC.md §10). While a profile's files are
//! generated, [`profile`] names it: [`header`] writes that profile's `typ`, and [`sign`] (and
//! [`to_profile`], for the raw texts some areas sign) writes the claims under that profile's
//! names (`par` as `pred`, `ext` as `ect_ext`, top-level `pol`/`pol_decision` moved into
//! `ect_ext` in `draft-01`), so one area module describes the vectors of both profiles; where
//! a rule's verdict differs between profiles the area asks [`profile`], and [`generate`] applies
//! the profile-wide differences (ECT-HDR-1 read as ECT-P01-1, ECT-CLM-12 limits MUST, policy
//! claims flagged `ExtPolicy`).

use std::cell::Cell;
use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::reference::evaluate;
use super::vector::{
    AnswerResult, Case, DagModeSetting, FORMAT, Intermediate, Kind, Mode, ProfileName, Settings,
    Vector, VectorFile, Verdict,
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
/// The `typ` of generated `draft-00` tokens (and the legacy `typ` of `draft-01`).
pub const TYP: &str = "wimse-exec+jwt";
/// The `typ` of generated `draft-01` tokens (ECT-P01-1).
pub const TYP_01: &str = "exec+jwt";
/// What the `tcId` of a `draft-01` vector adds to the `tcId` of the `draft-00` vector of the
/// same id (and to the number a `draft-01`-only vector's position gives it), so that `tcId`s
/// are unique across both profiles' files and stable.
pub const DRAFT_01_TC_OFFSET: u32 = 100_000;

thread_local! {
    static PROFILE: Cell<ProfileName> = const { Cell::new(ProfileName::Draft00) };
}

/// The profile whose vectors are being generated (`draft-00` outside [`generate`]).
pub fn profile() -> ProfileName {
    PROFILE.with(Cell::get)
}

/// Whether the vectors being generated are `draft-01`'s.
pub fn draft01() -> bool {
    profile() == ProfileName::Draft01
}

/// Runs `f` with [`profile`] set to `p`, restoring the previous profile afterwards.
pub fn with_profile<T>(p: ProfileName, f: impl FnOnce() -> T) -> T {
    struct Restore(ProfileName);
    impl Drop for Restore {
        fn drop(&mut self) {
            PROFILE.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(PROFILE.with(|c| c.replace(p)));
    f()
}

/// The `typ` the current profile's builder writes: [`TYP`] or [`TYP_01`].
pub fn typ() -> &'static str {
    profile().profile().typ
}

/// The current profile's name of the parents claim (`par` or `pred`).
pub fn par_name() -> &'static str {
    profile().profile().claims.par
}

/// The current profile's name of the extension claim (`ext` or `ect_ext`).
pub fn ext_name() -> &'static str {
    profile().profile().claims.ext
}

/// `payload` (written with `draft-00`'s names) under the current profile's names: in
/// `draft-01`, `par` becomes `pred`, `ext` becomes `ect_ext`, and top-level `pol` and
/// `pol_decision` move into `ect_ext` (created when absent; ECT-P01-2..4). Unchanged in
/// `draft-00`. A payload that already has `pred` or `ect_ext` is taken as written for
/// `draft-01` and returned unchanged. Panics when policy claims would have to move into an
/// `ext` that is not an object (no vector does that).
pub fn to_profile(payload: &Map<String, Value>) -> Map<String, Value> {
    if !draft01() || payload.contains_key("pred") || payload.contains_key("ect_ext") {
        return payload.clone();
    }
    let mut out = payload.clone();
    if let Some(par) = out.remove("par") {
        out.insert("pred".into(), par);
    }
    let ext = out.remove("ext");
    let pol = out.remove("pol");
    let decision = out.remove("pol_decision");
    match (ext, pol.is_some() || decision.is_some()) {
        (None, false) => {}
        (Some(ext), false) => {
            out.insert("ect_ext".into(), ext);
        }
        (ext, true) => {
            let mut inner = match ext {
                None => Map::new(),
                Some(Value::Object(m)) => m,
                Some(other) => panic!("policy claims beside a non-object ext {other}"),
            };
            if let Some(p) = pol {
                inner.insert("pol".into(), p);
            }
            if let Some(d) = decision {
                inner.insert("pol_decision".into(), d);
            }
            out.insert("ect_ext".into(), Value::Object(inner));
        }
    }
    out
}

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
        profile: profile(),
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

/// The header generated tokens carry: `{"alg":"ES256","kid":kid,"typ":typ}` with the current
/// profile's [`typ`] (`wimse-exec+jwt` in `draft-00`, `exec+jwt` in `draft-01`).
pub fn header(kid: &str) -> Map<String, Value> {
    obj(json!({"alg": "ES256", "typ": typ(), "kid": kid}))
}

/// Valid claims of agent A for task `jti`: issued 60 s before [`NOW`], expiring 600 s after,
/// no parents. Written with `draft-00`'s names ([`sign`] renames them, [`to_profile`]).
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

/// Signs JSON objects (compact, sorted members), the payload under the current profile's
/// claim names ([`to_profile`]).
pub fn sign(header: &Map<String, Value>, payload: &Map<String, Value>, key: &SigningKey) -> String {
    sign_as_is(header, &to_profile(payload), key)
}

/// Signs JSON objects (compact, sorted members) exactly as given, whatever the profile.
pub fn sign_as_is(
    header: &Map<String, Value>,
    payload: &Map<String, Value>,
    key: &SigningKey,
) -> String {
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
    /// Not part of the current profile's files (its position, and so its `tcId`, stays
    /// reserved).
    skip: bool,
    /// Taken exactly as written in `draft-01` (no profile-wide adaptation, [`adapt`]).
    exact: bool,
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
            skip: false,
            exact: false,
        }
    }

    /// Only in profile `p`'s files: in the other profile's the vector is left out, its
    /// position (and so its `tcId`) reserved.
    pub fn only(mut self, p: ProfileName) -> Self {
        self.skip |= profile() != p;
        self
    }

    /// Taken exactly as written in `draft-01`: rules, verdict, flags and description are not
    /// adapted to the profile (for the vectors written for `draft-01` itself).
    pub fn exact(mut self) -> Self {
        self.exact = true;
        self
    }

    /// `f(self)`: a per-profile choice written inline.
    pub fn pipe(self, f: impl FnOnce(V) -> V) -> V {
        f(self)
    }

    /// Replaces the rules.
    pub fn rules(mut self, rules: &[&str]) -> Self {
        self.rules = rules.iter().map(|r| (*r).to_owned()).collect();
        self
    }

    /// Replaces the description.
    pub fn describe(mut self, description: &str) -> Self {
        self.description = description.into();
        self
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

/// `text` with the whole word `from` replaced by `to` (a word: not preceded by a letter,
/// digit, `_`, `-` or `:`, nor followed by a letter, digit, `_`, `-` or `=`).
fn replace_word(text: &str, from: &str, to: &str) -> String {
    let word = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | ':');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(from) {
        out.push_str(&rest[..at]);
        let before = out.chars().last();
        let after = rest[at + from.len()..].chars().next();
        if before.is_some_and(word)
            || after.is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '='))
        {
            out.push_str(from);
        } else {
            out.push_str(to);
        }
        rest = &rest[at + from.len()..];
    }
    out.push_str(rest);
    out
}

/// The profile-wide differences of `draft-01` (SPEC.md §10), applied to a vector written for
/// both profiles:
///
/// * ECT-HDR-1 is replaced by ECT-P01-1 (the `typ` rule of `draft-01`).
/// * ECT-CLM-8/9/10 read `pred` (ECT-P01-2 added).
/// * ECT-CLM-12's limits are MUST (ECT-P01-3 added): an `acceptable` `ExtLimits` rejection is
///   `invalid`.
/// * ECT-CLM-13 and ECT-DAG-6 read the policy claims inside `ect_ext` (ECT-P01-4 added): a
///   rejection with `claims.pol` or `dag.parent_policy` is `acceptable`, flag `ExtPolicy`
///   (SPEC.md §10: the policy claims moved to a companion draft), the reference rejecting.
/// * The description names the claims as `draft-01` spells them (`pred`, `ect_ext`).
fn adapt(mut v: V) -> V {
    if !draft01() || v.exact {
        return v;
    }
    let has = |v: &V, r: &str| v.rules.iter().any(|x| x == r);
    let mut extra = Vec::new();
    for r in &mut v.rules {
        if r == "ECT-HDR-1" {
            *r = "ECT-P01-1".into();
        }
    }
    if ["ECT-CLM-8", "ECT-CLM-9", "ECT-CLM-10"]
        .iter()
        .any(|r| has(&v, r))
    {
        extra.push("ECT-P01-2");
    }
    if has(&v, "ECT-CLM-12") {
        extra.push("ECT-P01-3");
        if v.result == Verdict::Acceptable && v.flags.iter().any(|f| f == "ExtLimits") {
            v.result = Verdict::Invalid;
            v.reference = None;
            v.flags.retain(|f| f != "ExtLimits");
        }
    }
    if has(&v, "ECT-CLM-13") || has(&v, "ECT-DAG-6") {
        extra.push("ECT-P01-4");
        if v.result == Verdict::Invalid
            && matches!(v.code.as_deref(), Some("claims.pol" | "dag.parent_policy"))
        {
            v.result = Verdict::Acceptable;
            v.reference = Some(Verdict::Invalid);
            v.flags.push("ExtPolicy".into());
        }
    }
    for r in extra {
        if !has(&v, r) {
            v.rules.push(r.into());
        }
    }
    let d = replace_word(&v.description, "par", "pred");
    v.description = replace_word(&d, "ext", "ect_ext");
    v
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

/// Every vector file of every profile: `(path relative to `vectors/`, content)`, in a fixed
/// order: `draft-00`'s files (`claims.json`, ...), then `draft-01`'s (`draft-01/claims.json`,
/// ..., [`crate::profile_dir`]). File `k` (from 0) numbers its vectors from
/// `1000 * (k + 1) + 1`, so adding a vector to one file never renumbers another; `draft-01`
/// adds [`DRAFT_01_TC_OFFSET`], so a vector id present in both profiles has `tcId`s
/// 100000 apart. A vector left out of one profile ([`V::only`]) keeps its position; a file
/// with no vector in a profile is not written for it.
pub fn generate() -> Result<Vec<(String, VectorFile)>, String> {
    let mut out = Vec::new();
    for p in ProfileName::ALL {
        let prefix = match p {
            ProfileName::Draft00 => String::new(),
            ProfileName::Draft01 => "draft-01/".to_owned(),
        };
        for (name, file) in with_profile(p, generate_profile)? {
            out.push((format!("{prefix}{name}"), file));
        }
    }
    Ok(out)
}

/// The files of the current [`profile`].
fn generate_profile() -> Result<Vec<(String, VectorFile)>, String> {
    let offset = match profile() {
        ProfileName::Draft00 => 0,
        ProfileName::Draft01 => DRAFT_01_TC_OFFSET,
    };
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
    // Every vector is checked, and every failure reported at once.
    let mut errors = Vec::new();
    for (k, (name, description, vectors)) in files().into_iter().enumerate() {
        let base = offset + 1000 * (k as u32 + 1);
        let mut notes = BTreeMap::new();
        let mut finished = Vec::new();
        for (i, v) in vectors().into_iter().enumerate() {
            if v.skip {
                continue;
            }
            let v = adapt(v);
            for flag in &v.flags {
                let note = NOTES
                    .iter()
                    .find(|(f, _)| f == flag)
                    .ok_or(format!("{}: flag {flag} has no note", v.id))?;
                notes.insert(flag.clone(), note.1.to_owned());
            }
            match finish(v, base + i as u32 + 1) {
                Ok(v) => finished.push(v),
                Err(e) => errors.push(format!("{}: {e}", profile())),
            }
        }
        if finished.is_empty() {
            continue;
        }
        out.push((
            format!("{name}.json"),
            VectorFile {
                format: FORMAT.into(),
                spec: profile().profile().spec.into(),
                profile: profile().profile().name.into(),
                description: description.into(),
                notes,
                keys: keys.clone(),
                vectors: finished,
            },
        ));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors.join("\n"))
    }
}
