//! The rule table: every SPEC.md rule id with its error codes, in one place.
//!
//! `tests/conformance/rule_table.rs` checks this table against `../shared/SPEC.md` (when
//! present) and against the generated `CODES.md`; `ect codes` prints it.
//!
//! One table serves both profiles (SPEC.md §10): [`Rule::in_profile`] / [`rules_for`] say
//! which rules a profile has. `draft-00` has every rule but ECT-P01-*; `draft-01` has every
//! rule but ECT-HDR-1 (which ECT-P01-1 replaces), plus ECT-P01-1..5.

use crate::vector::ProfileName;

/// Whether this crate enforces a rule yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Enforced by the verifier, key loader or `Execution-Context` parser.
    Implemented,
    /// Specified, not yet implemented.
    Planned,
}

/// One SPEC.md rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The rule id, e.g. `ECT-SIG-1`.
    pub id: &'static str,
    /// The SPEC.md section title.
    pub section: &'static str,
    /// The error codes SPEC.md gives the rule (empty when it names none).
    pub codes: &'static [&'static str],
    /// What the rule requires, in a few words.
    pub summary: &'static str,
    /// Whether this crate enforces it yet.
    pub status: Status,
}

macro_rules! rules {
    ($( $id:literal, $section:literal, [$($code:literal),*], $summary:literal, $status:ident; )*) => {
        /// Every SPEC.md rule, in SPEC.md's order.
        pub const RULES: &[Rule] = &[
            $( Rule {
                id: $id,
                section: $section,
                codes: &[$($code),*],
                summary: $summary,
                status: Status::$status,
            }, )*
        ];
    };
}

rules! {
    "ECT-JWS-1", "Compact serialization", ["jws.too_large"], "token at most max_token_bytes (65536) long, checked first", Implemented;
    "ECT-JWS-2", "Compact serialization", ["jws.malformed"], "exactly three non-empty ASCII segments, no whitespace", Implemented;
    "ECT-JWS-3", "Compact serialization", ["jws.base64"], "strict unpadded base64url, canonical trailing bits", Implemented;
    "ECT-JWS-4", "Compact serialization", ["jws.json"], "header and payload are UTF-8 JSON objects; payload parsed after the signature", Implemented;
    "ECT-JWS-5", "Compact serialization", ["jws.duplicate_member"], "no member name twice in any object", Implemented;
    "ECT-HDR-1", "JOSE header", ["header.typ"], "typ is wimse-exec+jwt (application/ prefix and case variants accepted)", Implemented;
    "ECT-HDR-2", "JOSE header", ["header.alg"], "alg in the allowlist (default ES256); none and HS* never", Implemented;
    "ECT-HDR-3", "JOSE header", ["header.crit"], "crit absent", Implemented;
    "ECT-HDR-4", "JOSE header", ["header.kid"], "kid a non-empty string", Implemented;
    "ECT-HDR-5", "JOSE header", [], "jwk, jku, x5u, x5c, x5t never used to find a key (fails as sig.invalid)", Implemented;
    "ECT-KEY-1", "Key resolution and signature", ["key.unknown"], "kid resolves in the verifier's own trusted key set", Implemented;
    "ECT-KEY-2", "Key resolution and signature", ["key.issuer_mismatch"], "a key bound to an issuer only verifies that iss", Implemented;
    "ECT-KEY-3", "Key resolution and signature", [], "trusted keys are valid P-256 public JWKs (load error, code key.invalid here)", Implemented;
    "ECT-SIG-1", "Key resolution and signature", ["sig.invalid"], "signature is 64 bytes r||s with 0 < r, s < n", Implemented;
    "ECT-SIG-2", "Key resolution and signature", ["sig.invalid"], "ECDSA P-256/SHA-256 over segment0.segment1 verifies; high-S accepted", Implemented;
    "ECT-CLM-1", "Claims", ["claims.missing"], "iss, aud, iat, exp, jti, exec_act, par present", Implemented;
    "ECT-CLM-2", "Claims", ["claims.type"], "claims have their JSON types; wrong type is never 'absent'", Implemented;
    "ECT-CLM-3", "Claims", ["claims.iss"], "iss non-empty", Implemented;
    "ECT-CLM-4", "Claims", ["claims.aud"], "aud non-empty string or non-empty array of non-empty strings", Implemented;
    "ECT-CLM-5", "Claims", ["claims.jti"], "jti is a UUID in 8-4-4-4-12 hex form; UUIDs compare case-insensitively", Implemented;
    "ECT-CLM-6", "Claims", ["claims.wid"], "wid, when present, is a UUID", Implemented;
    "ECT-CLM-7", "Claims", ["claims.exec_act"], "exec_act non-empty", Implemented;
    "ECT-CLM-8", "Claims", ["claims.par"], "par elements are UUIDs, no duplicates", Implemented;
    "ECT-CLM-9", "Claims", ["claims.par_self"], "par does not contain the token's own jti", Implemented;
    "ECT-CLM-10", "Claims", ["claims.par_too_long"], "par has at most max_par (100) elements", Implemented;
    "ECT-CLM-11", "Claims", ["claims.hash"], "inp_hash/out_hash are 43-char base64url SHA-256 digests", Implemented;
    "ECT-CLM-12", "Claims", ["claims.ext_size", "claims.ext_depth"], "ext at most 4096 bytes compact and depth 5", Implemented;
    "ECT-CLM-13", "Claims", ["claims.pol"], "pol and pol_decision together; known decision", Implemented;
    "ECT-TIME-1", "Time, audience, replay", ["time.exp_before_iat"], "exp > iat", Implemented;
    "ECT-TIME-2", "Time, audience, replay", ["time.expired"], "invalid iff now >= exp + leeway", Implemented;
    "ECT-TIME-3", "Time, audience, replay", ["time.not_yet_valid"], "invalid iff iat > now + leeway", Implemented;
    "ECT-TIME-4", "Time, audience, replay", ["time.too_old"], "invalid iff now - iat > max_iat_age", Implemented;
    "ECT-TIME-5", "Time, audience, replay", ["claims.type"], "iat, exp (and nbf) integers in 0..=2^53-1", Implemented;
    "ECT-TIME-6", "Time, audience, replay", ["time.not_yet_valid"], "nbf, when present: invalid iff nbf > now + leeway", Implemented;
    "ECT-AUD-1", "Time, audience, replay", ["aud.mismatch"], "the verifier's identifier is in aud", Implemented;
    "ECT-RPL-1", "Time, audience, replay", ["replay.jti"], "a jti (in its wid scope) is accepted once while live", Implemented;
    "ECT-DAG-1", "DAG validation", ["dag.duplicate_jti"], "no token with the same jti in the same scope", Implemented;
    "ECT-DAG-2", "DAG validation", ["dag.parent_missing"], "every par element resolves in the store", Implemented;
    "ECT-DAG-3", "DAG validation", ["dag.temporal_order"], "parent iat <= child iat + skew", Implemented;
    "ECT-DAG-4", "DAG validation", ["dag.cycle"], "following par never reaches the new jti", Implemented;
    "ECT-DAG-5", "DAG validation", ["dag.budget"], "ancestor budget exhaustion is an error", Implemented;
    "ECT-DAG-6", "DAG validation", ["dag.parent_policy"], "no child of a rejected or pending parent", Implemented;
    "ECT-LED-1", "Audit ledger", [], "append-only with sequence numbers", Implemented;
    "ECT-LED-2", "Audit ledger", [], "lookup by jti in scope", Implemented;
    "ECT-LED-3", "Audit ledger", ["ledger.duplicate"], "append only after §7 and §6 succeed; no duplicate", Implemented;
    "ECT-LED-4", "Audit ledger", ["ledger.chain"], "SHA-256 hash chain detects any change", Implemented;
    "ECT-HTTP-1", "HTTP transport", [], "field Execution-Context carries one compact ECT", Implemented;
    "ECT-HTTP-2", "HTTP transport", [], "several field lines or a comma list, combined in order", Implemented;
    "ECT-HTTP-3", "HTTP transport", ["http.malformed"], "no empty value or element; base64url and '.' only", Implemented;
    "ECT-HTTP-4", "HTTP transport", ["http.too_large"], "combined field value at most 65536 bytes", Implemented;
    "ECT-HTTP-5", "HTTP transport", [], "a rejecting server answers 403", Implemented;
    "ECT-P01-1", "Profile draft-01", ["header.typ"], "typ exec+jwt (preferred) or wimse-exec+jwt (legacy), application/ prefix and case variants accepted; replaces ECT-HDR-1", Implemented;
    "ECT-P01-2", "Profile draft-01", [], "par is named pred; par without pred is a missing claim, par beside pred ignored", Implemented;
    "ECT-P01-3", "Profile draft-01", ["claims.ext_size", "claims.ext_depth"], "ext is named ect_ext; its limits (4096 bytes, depth 5) are MUST; top-level ext ignored", Implemented;
    "ECT-P01-4", "Profile draft-01", ["claims.pol"], "pol/pol_decision only inside ect_ext (checked there, flag ExtPolicy); top-level ones ignored", Implemented;
    "ECT-P01-5", "Profile draft-01", ["dag.workflow_mismatch"], "a pred held only under another workflow (wid) is refused, strict and partial mode", Implemented;
}

impl Rule {
    /// Whether the rule belongs to profile `p` (SPEC.md §10): every rule but ECT-P01-* in
    /// `draft-00`; every rule but ECT-HDR-1 (replaced by ECT-P01-1) in `draft-01`.
    pub fn in_profile(&self, p: ProfileName) -> bool {
        match p {
            ProfileName::Draft00 => !self.id.starts_with("ECT-P01-"),
            ProfileName::Draft01 => self.id != "ECT-HDR-1",
        }
    }

    /// The profiles the rule belongs to, oldest first.
    pub fn profiles(&self) -> Vec<ProfileName> {
        ProfileName::ALL
            .into_iter()
            .filter(|p| self.in_profile(*p))
            .collect()
    }
}

/// The rules of profile `p`, in SPEC.md's order ([`Rule::in_profile`]).
pub fn rules_for(profile: ProfileName) -> Vec<&'static Rule> {
    RULES.iter().filter(|r| r.in_profile(profile)).collect()
}

/// Codes this crate uses where SPEC.md names none (documented decisions).
pub const EXTENSION_CODES: &[(&str, &str, &str)] = &[
    (
        "http.missing",
        "ECT-HTTP-1",
        "the request carries no Execution-Context field (refused with 403 unless let through)",
    ),
    (
        "http.overloaded",
        "ECT-HTTP-5",
        "the server's bounded verification queue is full: 503 with Retry-After, nothing checked",
    ),
    (
        "key.invalid",
        "ECT-KEY-3",
        "a trusted key or key set refused when loaded",
    ),
    (
        "ledger.profile",
        "ECT-LED-3",
        "the ledger reads tokens under another profile than the verifier's; nothing appended",
    ),
    (
        "ledger.io",
        "ECT-LED-1",
        "the ledger's storage failed; nothing was appended",
    ),
    (
        "replay.full",
        "ECT-RPL-1",
        "the bounded replay cache is full and refuses new tokens",
    ),
    (
        "replay.unavailable",
        "ECT-RPL-1",
        "the replay cache cannot answer (unreachable, error, timeout); the token is refused",
    ),
];

/// The rule table as Markdown (the content of `CODES.md`).
pub fn markdown() -> String {
    let mut out = String::from(
        "# Rule ids and error codes\n\n\
         Generated by `ect codes` from `crates/conformance/src/rules.rs`; `cargo test` fails when \
         this file is out of date. The rules themselves are in the project's SPEC.md.\n\n\
         | id | section | code(s) | rule | profiles | status |\n|---|---|---|---|---|---|\n",
    );
    for r in RULES {
        let codes = if r.codes.is_empty() {
            "—".to_owned()
        } else {
            r.codes
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let status = match r.status {
            Status::Implemented => "implemented",
            Status::Planned => "planned",
        };
        let profiles = r
            .profiles()
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            r.id, r.section, codes, r.summary, profiles, status
        ));
    }
    out.push_str(
        "\nCodes this crate adds where SPEC.md names none:\n\n| code | rule | meaning |\n|---|---|---|\n",
    );
    for (code, rule, meaning) in EXTENSION_CODES {
        out.push_str(&format!("| `{code}` | {rule} | {meaning} |\n"));
    }
    out
}
