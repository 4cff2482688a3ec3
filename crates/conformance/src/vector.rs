//! The vector format (`vectors/*.json`, schema `vectors/schema.json`) and the harness case
//! format. Field names are the contract with other implementations: never rename one without
//! raising [`FORMAT`].

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The format version written in every vector file.
pub const FORMAT: &str = "wimse-ect-vectors/1";

/// One file of `vectors/`: a group of vectors with the keys and flags they use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VectorFile {
    /// [`FORMAT`].
    pub format: String,
    /// The specification the vectors are pinned to (`draft-nennemann-wimse-ect-00`).
    pub spec: String,
    /// The profile (`draft-00`).
    pub profile: String,
    /// What the file covers.
    pub description: String,
    /// Every flag used in this file, with what it means.
    pub notes: BTreeMap<String, String>,
    /// The signing keys used to make the tokens, as private JWKs (`d` included) with the
    /// issuer each is bound to (`iss`), by `kid`, so implementations can re-create tokens.
    pub keys: BTreeMap<String, Map<String, Value>>,
    /// The vectors.
    pub vectors: Vec<Vector>,
}

/// The expected verdict.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Must be accepted.
    Valid,
    /// Must be rejected, with `code`.
    Invalid,
    /// Either is conforming (see the vector's flags); a rejection must have `code`.
    Acceptable,
}

/// One test vector: the case (what an implementation is given) and the expected result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Vector {
    /// Stable namespaced identifier, e.g. `jws/segments/two`.
    pub id: String,
    /// Numeric id, unique across all files, stable once published.
    #[serde(rename = "tcId")]
    pub tc_id: u32,
    /// What the vector checks.
    pub description: String,
    /// The SPEC.md rule ids it covers.
    pub rules: Vec<String>,
    /// The expected verdict.
    pub result: Verdict,
    /// The error code of a rejection (`invalid`, and `acceptable` when rejecting); absent for
    /// `valid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Other acceptable codes of a rejection, for a defect that can honestly be read as two
    /// different rule failures (SPEC.md, "How a vector's expected result is chosen"): `code` is
    /// the reference's, these are the others; a rejection with `code` or any of these passes.
    /// Absent when there is none; when present, never empty, without duplicates, never
    /// containing `code`, and only on a vector that has `code`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(min = 1), extend("uniqueItems" = true))]
    pub alt_codes: Vec<String>,
    /// For `acceptable`: the choice the reference implementation makes (`valid` or
    /// `invalid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Verdict>,
    /// Flags explaining an `acceptable` result or a notable property (see the file's `notes`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    /// The case itself.
    #[serde(flatten)]
    pub case: Case,
    /// For `kind` `http` and a valid result: the tokens the field value splits into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Vec<String>>,
    /// Intermediate values of a `token` case, for debugging an implementation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intermediate: Option<Intermediate>,
}

/// What an implementation is given: everything needed to run the check, and nothing about the
/// expected result. This is also one line of the harness protocol (with `id`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What is checked.
    pub kind: Kind,
    /// The verifier's trusted keys: a JWK Set of public P-256 keys, each optionally bound to an
    /// issuer by an `iss` member. For `kind` `jwks` this is the input under test.
    pub jwks: Value,
    /// The verifier's settings.
    pub settings: Settings,
    /// `kind` `token`: the compact token, exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// `kind` `token`: how it is checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// `kind` `token`, modes `verify` and `ledger`: tokens presented to the same verifier
    /// before `token`, in order, at `settings.now`; each of them is accepted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub before: Vec<String>,
    /// `kind` `token`, mode `store`: tokens the verifier already holds (parent tokens received
    /// with the request). Each passes §2–§6 on its own; they are neither recorded for replay
    /// nor checked against each other.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub store: Vec<String>,
    /// `kind` `http`: the `Execution-Context` field lines, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub field_lines: Vec<String>,
    // The doc comments of these types are the descriptions of vectors/schema.json, so they keep
    // the published wording: "README, Ledger entries" is now
    // `wimse_ect::_documentation::crash_recovery` (README.md, "Documentation", says where the
    // README's former sections went).
    /// `kind` `ledger`: the content of a ledger file (README, "Ledger entries").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger: Option<String>,
}

/// What a case checks.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Verify `token` (SPEC.md §2–§7). Valid: accepted.
    Token,
    /// Load `jwks` as the trusted key set (ECT-KEY-3). Valid: loaded.
    Jwks,
    /// Split `field_lines` (SPEC.md §9). Valid: split into `tokens`.
    Http,
    /// Open the ledger file `ledger` (SPEC.md §8). Valid: the chain verifies, no duplicate.
    Ledger,
}

/// How a `token` case is checked.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// §2–§6: the token on its own, after `before` (replay protection on).
    Verify,
    /// §2–§8: `before`, then the token, accepted in order into an empty ledger (DAG rules
    /// against everything accepted so far, replay protection on).
    Ledger,
    /// §2–§7: the token against the tokens in `store` (DAG rules against those only).
    Store,
}

/// Whether missing parents are errors (ECT-DAG-2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DagModeSetting {
    /// Missing parents are `dag.parent_missing`.
    Strict,
    /// Missing parents are accepted and listed (SPEC.md §6.3).
    Partial,
}

/// The draft revision a case is checked under (SPEC.md §10): its claim names, `typ` values and
/// profile rules.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum ProfileName {
    /// `draft-nennemann-wimse-ect-00`: `par`, `ext`, top-level `pol`, `typ` `wimse-exec+jwt`.
    #[serde(rename = "draft-00")]
    Draft00,
    /// `draft-nennemann-wimse-ect-01`: `pred`, `ect_ext` (policy inside it), `typ`
    /// `exec+jwt` (`wimse-exec+jwt` still accepted), workflow consistency.
    #[serde(rename = "draft-01")]
    Draft01,
}

impl ProfileName {
    /// Every profile, oldest first.
    pub const ALL: [ProfileName; 2] = [ProfileName::Draft00, ProfileName::Draft01];

    /// The library's profile value.
    pub fn profile(self) -> wimse_ect::Profile {
        match self {
            ProfileName::Draft00 => wimse_ect::DRAFT_00,
            ProfileName::Draft01 => wimse_ect::DRAFT_01,
        }
    }

    /// The name as written in vectors (`draft-00`).
    pub fn as_str(self) -> &'static str {
        self.profile().name
    }

    /// The profile named `name`, exactly as spelled.
    pub fn parse(name: &str) -> Option<ProfileName> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

impl std::fmt::Display for ProfileName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Verifier settings, all explicit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The profile the verifier implements (SPEC.md §10): `draft-00` or `draft-01`.
    pub profile: ProfileName,
    /// The verifier's clock, seconds since the epoch.
    pub now: u64,
    /// The verifier's own identifier (ECT-AUD-1).
    pub audience: String,
    /// Clock leeway in seconds (ECT-TIME-2, ECT-TIME-3).
    pub leeway: u64,
    /// Maximum `iat` age in seconds (ECT-TIME-4).
    pub max_iat_age: u64,
    /// Maximum `par` length (ECT-CLM-10).
    pub max_par: usize,
    /// Maximum token length in bytes (ECT-JWS-1).
    pub max_token_bytes: usize,
    /// Allowed skew between parent and child `iat` (ECT-DAG-3).
    pub skew: u64,
    /// Ancestor budget (ECT-DAG-5).
    pub ancestor_budget: usize,
    /// Strict or partial DAG validation (ECT-DAG-2).
    pub dag: DagModeSetting,
    /// Maximum combined `Execution-Context` field value in bytes (ECT-HTTP-4).
    pub max_field_bytes: usize,
}

/// Intermediate values of a token: its decoded parts and what was signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Intermediate {
    /// The exact ASCII bytes the signature covers (`segment0.segment1`).
    pub signing_input: String,
    /// Segment 0 decoded, when it is base64url of UTF-8 text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// Segment 1 decoded, when it is base64url of UTF-8 text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
}

/// One harness protocol line sent to an implementation: the vector's `id` and its [`Case`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CaseLine {
    /// The vector id.
    pub id: String,
    /// The case.
    #[serde(flatten)]
    pub case: Case,
}

/// One harness protocol line an implementation answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Answer {
    /// The vector id it answers.
    pub id: String,
    /// `valid`, `invalid` or `skip`.
    pub result: AnswerResult,
    /// The error code of an `invalid` answer (`unmapped` when the implementation has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// A `valid` answer to an `http` case: the tokens the field lines split into, in order
    /// (ECT-HTTP-2). Compared with the vector's `tokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Vec<String>>,
}

impl Answer {
    /// Reads one stdout line of an implementation: `Ok(None)` when the line does not have the
    /// shape of an answer (not JSON, not an object, or without a string `id` and a `result`
    /// member: a log line, say), `Ok(Some)` for an answer, `Err` for a line that has the
    /// shape but not the content of one (`result` not `valid`/`invalid`/`skip`, `code` not a
    /// string, `tokens` not an array of strings). Members beyond these are ignored.
    pub fn parse_line(line: &[u8]) -> Result<Option<Answer>, (String, String)> {
        let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(line) else {
            return Ok(None);
        };
        let id = match object.get("id") {
            Some(Value::String(id)) if object.contains_key("result") => id.clone(),
            _ => return Ok(None),
        };
        serde_json::from_value(Value::Object(object))
            .map(Some)
            .map_err(|e| (id, e.to_string()))
    }
}

/// An implementation's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AnswerResult {
    /// Accepted.
    Valid,
    /// Rejected.
    Invalid,
    /// Not supported by the implementation (counted as skipped, never as passed).
    Skip,
}
