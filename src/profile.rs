//! Profiles: the names and values that differ between revisions of the draft.
//!
//! Only `draft-00` is implemented. Every claim name and the `typ` value the code uses come from
//! a [`Profile`] value, so a later revision (SPEC.md §10, `draft-01`) is another constant, not a
//! fork of the parsing and verification code.

/// The claim names and media type of one revision of the ECT draft.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Profile {
    /// Short name used in vectors and messages, e.g. `"draft-00"`.
    pub name: &'static str,
    /// The pinned Internet-Draft name.
    pub spec: &'static str,
    /// The `typ` media type (without `application/`) written by the builder and accepted by the
    /// verifier (ECT-HDR-1).
    pub typ: &'static str,
    /// Claim names.
    pub claims: ClaimNames,
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

impl Default for Profile {
    fn default() -> Self {
        DRAFT_00
    }
}
