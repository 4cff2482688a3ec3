//! The one error type of the library, with SPEC.md's error codes and rule ids.
//!
//! Codes (`code()`) and rule ids (`rule()`) are the cross-language contract: other
//! implementations, the vectors and the CLI's JSON output all use them. Never rename one.

use std::fmt;

/// Why a token, a key set or an `Execution-Context` field was rejected.
///
/// Every variant maps to exactly one SPEC.md rule id ([`Error::rule`]) and one SPEC.md error
/// code ([`Error::code`]). The `String` payloads are human-readable detail only; programs
/// should match on the variant or on the code.
///
/// Codes and rule ids are the cross-language contract: other implementations, the vectors and
/// the CLI's JSON output all use them, so none is ever renamed.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// ECT-JWS-1: the token is longer than the verifier's `max_token_bytes`.
    TooLarge {
        /// Length of the presented token in bytes.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// ECT-JWS-2: not three non-empty `.`-separated ASCII segments without whitespace.
    Malformed(String),
    /// ECT-JWS-3: a segment is not strict unpadded base64url.
    Base64 {
        /// Which segment (0 header, 1 payload, 2 signature).
        segment: usize,
    },
    /// ECT-JWS-4: header or payload is not a UTF-8 JSON object.
    Json(String),
    /// ECT-JWS-5: a JSON member name appears twice in one object.
    DuplicateMember(String),
    /// ECT-HDR-1: `typ` missing or not the profile's media type.
    Typ(String),
    /// ECT-HDR-2: `alg` missing, not a string, or not in the verifier's allowlist.
    Alg(String),
    /// ECT-HDR-3: `crit` is present.
    Crit,
    /// ECT-HDR-4: `kid` missing, not a string, or empty.
    Kid,
    /// ECT-KEY-1: `kid` does not name a trusted key.
    KeyUnknown(String),
    /// ECT-KEY-2: the key is bound to another issuer than the token's `iss`.
    KeyIssuerMismatch {
        /// The issuer the trusted key is bound to.
        expected: String,
        /// The token's `iss`.
        found: String,
    },
    /// ECT-KEY-3: a trusted key (JWK or JWKS) was refused when the key set was loaded.
    ///
    /// SPEC.md names no code for this load-time error; this crate uses `key.invalid`.
    KeySet(String),
    /// ECT-SIG-1: the signature is not 64 bytes `r‖s` with `0 < r, s < n`.
    SignatureEncoding(String),
    /// ECT-SIG-2: the ECDSA P-256/SHA-256 verification failed.
    SignatureInvalid,
    /// ECT-CLM-1: a required claim is absent.
    ClaimMissing(&'static str),
    /// ECT-CLM-2: a claim has the wrong JSON type.
    ClaimType(&'static str),
    /// ECT-TIME-5: `iat` or `exp` is not an integer in `0 ..= 2^53-1` (code `claims.type`).
    NumericDate(&'static str),
    /// ECT-CLM-3: `iss` is empty.
    Iss,
    /// ECT-CLM-4: `aud` is empty, or an array that is empty or holds an empty string.
    Aud,
    /// ECT-CLM-5: `jti` is not an RFC 9562 UUID in text form.
    Jti,
    /// ECT-CLM-6: `wid` is not an RFC 9562 UUID in text form.
    Wid,
    /// ECT-CLM-7: `exec_act` is empty.
    ExecAct,
    /// ECT-CLM-8: a `par` element is not a UUID, or appears twice.
    Par(String),
    /// ECT-CLM-9: `par` contains the token's own `jti`.
    ParSelf,
    /// ECT-CLM-10: `par` is longer than the verifier's `max_par`.
    ParTooLong {
        /// Number of elements in `par`.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// ECT-CLM-11: `inp_hash` or `out_hash` is not an unpadded base64url SHA-256 digest.
    Hash(&'static str),
    /// ECT-CLM-12: `ext` re-serialized is longer than 4096 bytes.
    ExtSize(usize),
    /// ECT-CLM-12: `ext` is nested deeper than 5 levels.
    ExtDepth,
    /// ECT-CLM-13: `pol` / `pol_decision` not both present, `pol` empty, or unknown decision.
    Pol(String),
    /// ECT-TIME-1: `exp` is not after `iat`.
    ExpBeforeIat,
    /// ECT-TIME-2: `now >= exp + leeway`.
    Expired,
    /// ECT-TIME-3: `iat > now + leeway`.
    NotYetValid,
    /// ECT-TIME-4: `now - iat > max_iat_age`.
    TooOld,
    /// ECT-TIME-6: `nbf > now + leeway` (the token's not-before time has not come).
    NotBefore,
    /// ECT-AUD-1: the verifier's identifier is not in `aud`.
    AudienceMismatch,
    /// ECT-RPL-1: this `jti` (in its scope) was already accepted and has not expired.
    Replay,
    /// ECT-RPL-1: the replay cache is at its configured maximum and refuses new tokens rather
    /// than forget a live one. SPEC.md names no code for this; this crate uses `replay.full`.
    ReplayCacheFull,
    /// ECT-RPL-1: the replay cache could not answer (a shared cache unreachable, an error or a
    /// timeout), so the token is refused rather than accepted unchecked (fail closed).
    /// SPEC.md names no code for this; this crate uses `replay.unavailable`.
    ReplayUnavailable(String),
    /// ECT-DAG-1: the store already holds a token with this `jti` in this scope.
    DuplicateJti(String),
    /// ECT-DAG-2: this parent (`par` element) is not in the store (strict mode).
    ParentMissing(String),
    /// ECT-DAG-3: this parent was issued more than the skew after the child.
    TemporalOrder {
        /// The parent's `jti`.
        parent: String,
        /// The parent's `iat`.
        parent_iat: u64,
        /// The child's `iat`.
        child_iat: u64,
    },
    /// ECT-DAG-3, checked the other way for a late parent (SPEC.md §7, "Late parents"): the
    /// new token was issued more than the skew after this stored token, which already names it
    /// as a parent.
    LateParentTemporalOrder {
        /// The stored child's `jti`.
        child: String,
        /// The new token's (the parent's) `iat`.
        parent_iat: u64,
        /// The stored child's `iat`.
        child_iat: u64,
    },
    /// ECT-DAG-4: following `par` through this stored token leads back to the new token
    /// (or, in a ledger audit, to the entry itself). For a new token, the stored token is the
    /// new token's child on the cycle: it names the new token as a parent.
    Cycle(String),
    /// ECT-DAG-5: the late-parent checks and the acyclicity walk would make more than this
    /// many lookups (the ancestor budget; SPEC.md §7, "Cost").
    AncestorBudget(usize),
    /// ECT-DAG-6: this parent's `pol_decision` forbids dependent tasks.
    ParentPolicy {
        /// The parent's `jti`.
        parent: String,
        /// Its decision (`rejected` or `pending_human_review`).
        decision: crate::decision::PolicyDecision,
    },
    /// ECT-DAG-6, checked the other way for a late parent (SPEC.md §7, "Late parents"): the
    /// new token's `pol_decision` forbids dependent tasks, and this stored token already
    /// names it as a parent.
    LateParentPolicy {
        /// The stored child's `jti` (the first in store order).
        child: String,
        /// The new token's decision (`rejected` or `pending_human_review`).
        decision: crate::decision::PolicyDecision,
    },
    /// ECT-P01-5 (profile `draft-01`): this parent (`pred` element) is not in the child's
    /// workflow but the store holds it under another one (another `wid`, or a `wid` on one
    /// side only). Refused in strict and partial mode alike: it is not missing.
    WorkflowMismatch {
        /// The parent's `jti`, as the child's `pred` spells it.
        parent: String,
        /// The `wid` of a stored token with that `jti` (`None`: one without `wid`).
        held_in: Option<String>,
    },
    /// ECT-P01-5, checked the other way for a late parent: a stored token of another
    /// workflow already names the new token's `jti` in its `pred`, so accepting the new token
    /// would put that parent in the wrong workflow. Decision (SPEC.md §10 is silent): refused,
    /// like the other late-parent rules, so that the whole-store audit never rejects a store
    /// built one acceptance at a time.
    LateWorkflowMismatch {
        /// The stored child's `jti`.
        child: String,
        /// The stored child's `wid` (`None`: it has none).
        child_wid: Option<String>,
    },
    /// A ledger of one profile was given to a verifier of another, or a database ledger
    /// that records one profile was opened under another: a ledger reads its tokens under
    /// its own profile's claim names, so the profiles never mix in one ledger. SPEC.md names
    /// no code for this; this crate uses `ledger.profile`, and nothing is appended.
    LedgerProfile {
        /// The ledger's profile name.
        ledger: &'static str,
        /// The profile name the verifier (or the opener) asked for.
        verifier: &'static str,
    },
    /// ECT-LED-3: the ledger already holds this `jti` in this scope.
    LedgerDuplicate(String),
    /// ECT-LED-4: the hash chain is broken, or a ledger file is not in the canonical format.
    LedgerChain(String),
    /// ECT-LED-1: the ledger's storage failed; nothing was appended. SPEC.md names no code for
    /// this; this crate uses `ledger.io`.
    LedgerIo(String),
    /// ECT-HTTP-3: an empty `Execution-Context` value or list element, or a character outside
    /// the base64url alphabet and `.` inside an element.
    HttpMalformed(String),
    /// ECT-HTTP-4: the combined `Execution-Context` field value is over the limit.
    HttpTooLarge {
        /// Combined length in bytes.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// ECT-HTTP-1: the request carries no `Execution-Context` field line (or an
    /// extractor found no verified ECT). SPEC.md names no code for this; this crate uses
    /// `http.missing`. A server answers 403 (ECT-HTTP-5) unless it lets such requests through.
    HttpMissing,
    /// ECT-HTTP-5: the server's bounded verification queue is full, so the ECT was not checked
    /// and the request is refused with 503 and `Retry-After` (never passed unchecked). SPEC.md
    /// names no code for this; this crate uses `http.overloaded`.
    HttpOverloaded,
}

impl Error {
    /// The SPEC.md error code, for example `"sig.invalid"`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::TooLarge { .. } => "jws.too_large",
            Error::Malformed(_) => "jws.malformed",
            Error::Base64 { .. } => "jws.base64",
            Error::Json(_) => "jws.json",
            Error::DuplicateMember(_) => "jws.duplicate_member",
            Error::Typ(_) => "header.typ",
            Error::Alg(_) => "header.alg",
            Error::Crit => "header.crit",
            Error::Kid => "header.kid",
            Error::KeyUnknown(_) => "key.unknown",
            Error::KeyIssuerMismatch { .. } => "key.issuer_mismatch",
            Error::KeySet(_) => "key.invalid",
            Error::SignatureEncoding(_) | Error::SignatureInvalid => "sig.invalid",
            Error::ClaimMissing(_) => "claims.missing",
            Error::ClaimType(_) | Error::NumericDate(_) => "claims.type",
            Error::Iss => "claims.iss",
            Error::Aud => "claims.aud",
            Error::Jti => "claims.jti",
            Error::Wid => "claims.wid",
            Error::ExecAct => "claims.exec_act",
            Error::Par(_) => "claims.par",
            Error::ParSelf => "claims.par_self",
            Error::ParTooLong { .. } => "claims.par_too_long",
            Error::Hash(_) => "claims.hash",
            Error::ExtSize(_) => "claims.ext_size",
            Error::ExtDepth => "claims.ext_depth",
            Error::Pol(_) => "claims.pol",
            Error::ExpBeforeIat => "time.exp_before_iat",
            Error::Expired => "time.expired",
            Error::NotYetValid | Error::NotBefore => "time.not_yet_valid",
            Error::TooOld => "time.too_old",
            Error::AudienceMismatch => "aud.mismatch",
            Error::Replay => "replay.jti",
            Error::ReplayCacheFull => "replay.full",
            Error::ReplayUnavailable(_) => "replay.unavailable",
            Error::DuplicateJti(_) => "dag.duplicate_jti",
            Error::ParentMissing(_) => "dag.parent_missing",
            Error::TemporalOrder { .. } | Error::LateParentTemporalOrder { .. } => {
                "dag.temporal_order"
            }
            Error::Cycle(_) => "dag.cycle",
            Error::AncestorBudget(_) => "dag.budget",
            Error::ParentPolicy { .. } | Error::LateParentPolicy { .. } => "dag.parent_policy",
            Error::WorkflowMismatch { .. } | Error::LateWorkflowMismatch { .. } => {
                "dag.workflow_mismatch"
            }
            Error::LedgerProfile { .. } => "ledger.profile",
            Error::LedgerDuplicate(_) => "ledger.duplicate",
            Error::LedgerChain(_) => "ledger.chain",
            Error::LedgerIo(_) => "ledger.io",
            Error::HttpMalformed(_) => "http.malformed",
            Error::HttpTooLarge { .. } => "http.too_large",
            Error::HttpMissing => "http.missing",
            Error::HttpOverloaded => "http.overloaded",
        }
    }

    /// The SPEC.md rule id, for example `"ECT-SIG-2"`.
    pub fn rule(&self) -> &'static str {
        match self {
            Error::TooLarge { .. } => "ECT-JWS-1",
            Error::Malformed(_) => "ECT-JWS-2",
            Error::Base64 { .. } => "ECT-JWS-3",
            Error::Json(_) => "ECT-JWS-4",
            Error::DuplicateMember(_) => "ECT-JWS-5",
            Error::Typ(_) => "ECT-HDR-1",
            Error::Alg(_) => "ECT-HDR-2",
            Error::Crit => "ECT-HDR-3",
            Error::Kid => "ECT-HDR-4",
            Error::KeyUnknown(_) => "ECT-KEY-1",
            Error::KeyIssuerMismatch { .. } => "ECT-KEY-2",
            Error::KeySet(_) => "ECT-KEY-3",
            Error::SignatureEncoding(_) => "ECT-SIG-1",
            Error::SignatureInvalid => "ECT-SIG-2",
            Error::ClaimMissing(_) => "ECT-CLM-1",
            Error::ClaimType(_) => "ECT-CLM-2",
            Error::NumericDate(_) => "ECT-TIME-5",
            Error::Iss => "ECT-CLM-3",
            Error::Aud => "ECT-CLM-4",
            Error::Jti => "ECT-CLM-5",
            Error::Wid => "ECT-CLM-6",
            Error::ExecAct => "ECT-CLM-7",
            Error::Par(_) => "ECT-CLM-8",
            Error::ParSelf => "ECT-CLM-9",
            Error::ParTooLong { .. } => "ECT-CLM-10",
            Error::Hash(_) => "ECT-CLM-11",
            Error::ExtSize(_) | Error::ExtDepth => "ECT-CLM-12",
            Error::Pol(_) => "ECT-CLM-13",
            Error::ExpBeforeIat => "ECT-TIME-1",
            Error::Expired => "ECT-TIME-2",
            Error::NotYetValid => "ECT-TIME-3",
            Error::TooOld => "ECT-TIME-4",
            Error::NotBefore => "ECT-TIME-6",
            Error::AudienceMismatch => "ECT-AUD-1",
            Error::Replay | Error::ReplayCacheFull | Error::ReplayUnavailable(_) => "ECT-RPL-1",
            Error::DuplicateJti(_) => "ECT-DAG-1",
            Error::ParentMissing(_) => "ECT-DAG-2",
            Error::TemporalOrder { .. } | Error::LateParentTemporalOrder { .. } => "ECT-DAG-3",
            Error::Cycle(_) => "ECT-DAG-4",
            Error::AncestorBudget(_) => "ECT-DAG-5",
            Error::ParentPolicy { .. } | Error::LateParentPolicy { .. } => "ECT-DAG-6",
            Error::WorkflowMismatch { .. } | Error::LateWorkflowMismatch { .. } => "ECT-P01-5",
            Error::LedgerProfile { .. } => "ECT-LED-3",
            Error::LedgerDuplicate(_) => "ECT-LED-3",
            Error::LedgerChain(_) => "ECT-LED-4",
            Error::LedgerIo(_) => "ECT-LED-1",
            Error::HttpMalformed(_) => "ECT-HTTP-3",
            Error::HttpTooLarge { .. } => "ECT-HTTP-4",
            Error::HttpMissing => "ECT-HTTP-1",
            Error::HttpOverloaded => "ECT-HTTP-5",
        }
    }
}

impl Error {
    /// The human-readable explanation, without code and rule (what [`fmt::Display`] prints
    /// after `"code (rule): "`).
    pub fn message(&self) -> String {
        struct Message<'a>(&'a Error);
        impl fmt::Display for Message<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.describe(f)
            }
        }
        Message(self).to_string()
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::TooLarge { len, max } => write!(f, "token is {len} bytes, limit is {max}"),
            Error::Malformed(why) => write!(f, "not a JWS compact serialization: {why}"),
            Error::Base64 { segment } => {
                write!(f, "segment {segment} is not strict unpadded base64url")
            }
            Error::Json(why) => write!(f, "not a UTF-8 JSON object: {why}"),
            Error::DuplicateMember(name) => write!(f, "member name {name:?} appears twice"),
            Error::Typ(why) => write!(f, "bad typ: {why}"),
            Error::Alg(why) => write!(f, "bad alg: {why}"),
            Error::Crit => f.write_str("crit header parameter is not allowed"),
            Error::Kid => f.write_str("kid must be a non-empty string"),
            Error::KeyUnknown(kid) => write!(f, "no trusted key with kid {kid:?}"),
            Error::KeyIssuerMismatch { expected, found } => {
                write!(
                    f,
                    "key is bound to issuer {expected:?}, token says {found:?}"
                )
            }
            Error::KeySet(why) => write!(f, "trusted key refused: {why}"),
            Error::SignatureEncoding(why) => write!(f, "bad signature encoding: {why}"),
            Error::SignatureInvalid => f.write_str("signature does not verify"),
            Error::ClaimMissing(c) => write!(f, "required claim {c:?} is missing"),
            Error::ClaimType(c) => write!(f, "claim {c:?} has the wrong JSON type"),
            Error::NumericDate(c) => {
                write!(f, "claim {c:?} must be an integer in 0..=2^53-1")
            }
            Error::Iss => f.write_str("iss must be a non-empty string"),
            Error::Aud => f.write_str("aud must be a non-empty string or array of them"),
            Error::Jti => f.write_str("jti must be a UUID (8-4-4-4-12 hex)"),
            Error::Wid => f.write_str("wid must be a UUID (8-4-4-4-12 hex)"),
            Error::ExecAct => f.write_str("exec_act must be a non-empty string"),
            Error::Par(why) => write!(f, "bad par: {why}"),
            Error::ParSelf => f.write_str("par contains the token's own jti"),
            Error::ParTooLong { len, max } => write!(f, "par has {len} elements, limit is {max}"),
            Error::Hash(c) => write!(f, "{c} must be an unpadded base64url SHA-256 digest"),
            Error::ExtSize(len) => write!(f, "ext is {len} bytes, limit is 4096"),
            Error::ExtDepth => f.write_str("ext is nested deeper than 5 levels"),
            Error::Pol(why) => write!(f, "bad pol/pol_decision: {why}"),
            Error::ExpBeforeIat => f.write_str("exp must be after iat"),
            Error::Expired => f.write_str("token has expired"),
            Error::NotYetValid => f.write_str("iat is in the future"),
            Error::TooOld => f.write_str("iat is older than the maximum age"),
            Error::NotBefore => f.write_str("the token is not valid yet (nbf)"),
            Error::AudienceMismatch => f.write_str("this verifier is not in aud"),
            Error::Replay => f.write_str("jti was already accepted"),
            Error::ReplayCacheFull => {
                f.write_str("replay cache is full; new tokens are refused until entries expire")
            }
            Error::ReplayUnavailable(why) => {
                write!(
                    f,
                    "the replay cache cannot answer, so the token is refused: {why}"
                )
            }
            Error::DuplicateJti(jti) => {
                write!(
                    f,
                    "a token with jti {jti:?} is already in the store (same scope)"
                )
            }
            Error::ParentMissing(p) => write!(f, "parent {p:?} is not in the store"),
            Error::TemporalOrder {
                parent,
                parent_iat,
                child_iat,
            } => write!(
                f,
                "parent {parent:?} has iat {parent_iat}, later than the child's iat {child_iat} plus the allowed skew"
            ),
            Error::Cycle(via) => {
                write!(f, "following par through {via:?} leads back to this token")
            }
            Error::LateParentTemporalOrder {
                child,
                parent_iat,
                child_iat,
            } => write!(
                f,
                "this token has iat {parent_iat}, later than the iat {child_iat} of its stored child {child:?} plus the allowed skew"
            ),
            Error::AncestorBudget(budget) => write!(
                f,
                "the DAG checks would make more than {budget} lookups (the ancestor budget)"
            ),
            Error::ParentPolicy { parent, decision } => write!(
                f,
                "parent {parent:?} has pol_decision {:?}, which allows no dependent task",
                decision.as_str()
            ),
            Error::LateParentPolicy { child, decision } => write!(
                f,
                "this token has pol_decision {:?}, which allows no dependent task, and the stored token {child:?} already names it as a parent",
                decision.as_str()
            ),
            Error::WorkflowMismatch { parent, held_in } => write!(
                f,
                "parent {parent:?} is not in this workflow; the store holds it under {}",
                describe_wid(held_in.as_deref())
            ),
            Error::LateWorkflowMismatch { child, child_wid } => write!(
                f,
                "the stored token {child:?} of {} already names this token as a parent, and this token is in another workflow",
                describe_wid(child_wid.as_deref())
            ),
            Error::LedgerProfile { ledger, verifier } => write!(
                f,
                "the ledger holds profile {ledger} tokens, profile {verifier} was asked for; nothing appended"
            ),
            Error::LedgerDuplicate(jti) => {
                write!(f, "the ledger already holds jti {jti:?} (same scope)")
            }
            Error::LedgerChain(why) => write!(f, "ledger hash chain broken: {why}"),
            Error::LedgerIo(why) => write!(f, "ledger storage failed, nothing appended: {why}"),
            Error::HttpMalformed(why) => write!(f, "bad Execution-Context field: {why}"),
            Error::HttpTooLarge { len, max } => {
                write!(f, "Execution-Context is {len} bytes, limit is {max}")
            }
            Error::HttpMissing => f.write_str("the request carries no Execution-Context field"),
            Error::HttpOverloaded => f.write_str(
                "the verification queue is full; the ECT was not checked, try again later",
            ),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): ", self.code(), self.rule())?;
        self.describe(f)
    }
}

impl std::error::Error for Error {}

/// A configuration error: a bad setting of a [`crate::Policy`], an unusable environment
/// variable, or a missing required setting such as the verifier's audience.
///
/// Configuration errors are not token verdicts and carry no SPEC.md code; the CLI reports them
/// with exit status 2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    message: String,
}

impl ConfigError {
    /// A configuration error with the given explanation.
    pub fn new(message: impl Into<String>) -> Self {
        ConfigError {
            message: message.into(),
        }
    }

    /// The explanation.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration error: {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// A [`ConfigError`] unless `value` lies in `range`, naming the setting.
pub(crate) fn check_range<T: PartialOrd + fmt::Display>(
    name: &str,
    value: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<(), ConfigError> {
    if range.contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::new(format!(
            "{name} = {value} is outside {}..={}",
            range.start(),
            range.end()
        )))
    }
}

/// Result alias with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A workflow for a message: `wid "…"`, or the no-`wid` scope.
fn describe_wid(wid: Option<&str>) -> String {
    match wid {
        Some(w) => format!("wid {w:?}"),
        None => "no wid".into(),
    }
}
