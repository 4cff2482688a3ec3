//! Profiles: the names and values that differ between revisions of the draft.
//!
//! Every claim name, the `typ` values, where the policy claims live and whether workflow
//! consistency is checked come from a [`Profile`] value, so a later revision (SPEC.md §10,
//! `draft-01`) is another constant, not a fork of the parsing and verification code: no rule's
//! code is written twice. [`DRAFT_00`] is the default (see README, "Profiles", for why);
//! [`DRAFT_01`] is the revision the draft's authors moved their own code to.

/// The claim names and media type of one revision of the ECT draft.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Profile {
    /// Short name used in vectors and messages, e.g. `"draft-00"`.
    pub name: &'static str,
    /// The pinned Internet-Draft name.
    pub spec: &'static str,
    /// The `typ` media type (without `application/`) written by the builder and accepted by the
    /// verifier (ECT-HDR-1, ECT-P01-1).
    pub typ: &'static str,
    /// Another `typ` the verifier accepts but the builder never writes (`draft-01` accepts the
    /// legacy `wimse-exec+jwt`, ECT-P01-1); `None` in `draft-00`.
    pub legacy_typ: Option<&'static str>,
    /// Claim names.
    pub claims: ClaimNames,
    /// Where `pol` and `pol_decision` are read and written (ECT-CLM-13, ECT-P01-4).
    pub policy_claims: PolicyClaimsAt,
    /// Whether a parent held only under another workflow is refused (ECT-P01-5,
    /// `dag.workflow_mismatch`) rather than treated as missing.
    pub workflow_consistency: bool,
}

/// Where a profile's policy claims (`pol`, `pol_decision`) are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyClaimsAt {
    /// Top-level claims (`draft-00`, ECT-CLM-13).
    TopLevel,
    /// Members of the extension object (`ect_ext` in `draft-01`, ECT-P01-4); top-level
    /// `pol` and `pol_decision` are unknown claims, ignored.
    InExtension,
}

/// The JSON member names of the ECT claims in one profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClaimNames {
    /// Issuer.
    pub iss: &'static str,
    /// Audience.
    pub aud: &'static str,
    /// Issued-at time.
    pub iat: &'static str,
    /// Expiration time.
    pub exp: &'static str,
    /// Token id and task id.
    pub jti: &'static str,
    /// The action the task performed.
    pub exec_act: &'static str,
    /// Parent task ids (`par` in draft-00).
    pub par: &'static str,
    /// Workflow id.
    pub wid: &'static str,
    /// Hash of the task's input.
    pub inp_hash: &'static str,
    /// Hash of the task's output.
    pub out_hash: &'static str,
    /// Extension object (`ext` in draft-00).
    pub ext: &'static str,
    /// Policy identifier.
    pub pol: &'static str,
    /// Policy decision.
    pub pol_decision: &'static str,
}

impl ClaimNames {
    /// Every claim name, in SPEC.md's order: the four registered JWT claims (`iss`, `aud`,
    /// `iat`, `exp`) first, then the ECT claims.
    pub const fn all(&self) -> [&'static str; 13] {
        [
            self.iss,
            self.aud,
            self.iat,
            self.exp,
            self.jti,
            self.exec_act,
            self.par,
            self.wid,
            self.inp_hash,
            self.out_hash,
            self.ext,
            self.pol,
            self.pol_decision,
        ]
    }
}

/// Profile `draft-00`: `draft-nennemann-wimse-ect-00` as read by SPEC.md.
pub const DRAFT_00: Profile = Profile {
    name: "draft-00",
    spec: "draft-nennemann-wimse-ect-00",
    typ: "wimse-exec+jwt",
    legacy_typ: None,
    policy_claims: PolicyClaimsAt::TopLevel,
    workflow_consistency: false,
    claims: ClaimNames {
        iss: "iss",
        aud: "aud",
        iat: "iat",
        exp: "exp",
        jti: "jti",
        exec_act: "exec_act",
        par: "par",
        wid: "wid",
        inp_hash: "inp_hash",
        out_hash: "out_hash",
        ext: "ext",
        pol: "pol",
        pol_decision: "pol_decision",
    },
};

/// Profile `draft-01` (SPEC.md §10, provisional): `typ` `exec+jwt` (the legacy
/// `wimse-exec+jwt` still accepted, ECT-P01-1), `par` named `pred` (ECT-P01-2), `ext` named
/// `ect_ext` (ECT-P01-3; its limits are the ones `draft-00`'s reference already enforces),
/// `pol` and `pol_decision` inside `ect_ext` (ECT-P01-4), and workflow consistency
/// (ECT-P01-5). Every other rule, code and the order of checks are `draft-00`'s.
///
/// Decision (SPEC.md §10 is silent): the limits of ECT-CLM-12 apply to the whole `ect_ext`
/// object, the policy members included, since they are members of it on the wire.
pub const DRAFT_01: Profile = Profile {
    name: "draft-01",
    spec: "draft-nennemann-wimse-ect-01",
    typ: "exec+jwt",
    legacy_typ: Some("wimse-exec+jwt"),
    claims: ClaimNames {
        par: "pred",
        ext: "ect_ext",
        ..DRAFT_00.claims
    },
    policy_claims: PolicyClaimsAt::InExtension,
    workflow_consistency: true,
};

/// Every profile, oldest first.
pub const PROFILES: [Profile; 2] = [DRAFT_00, DRAFT_01];

impl Profile {
    /// The profile named `name` (`"draft-00"` or `"draft-01"`), exactly as spelled.
    pub fn from_name(name: &str) -> Option<Profile> {
        PROFILES.into_iter().find(|p| p.name == name)
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl Default for Profile {
    fn default() -> Self {
        DRAFT_00
    }
}
