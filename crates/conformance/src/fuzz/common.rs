//! What several oracles share: the fixed keys every oracle trusts ([`trusted_keys`], the vectors'
//! agents and the signers of the structured targets), the verifier settings given alike to
//! [`wimse_ect::Verifier`] ([`Policy`]) and to the model ([`ModelSettings`]), the comparison of
//! a verifier verdict with the model's (claims restricted to the profile's names and `nbf`,
//! ECT-TIME-6), the small UUID space and the `pol_decision` values ([`Decision`], ECT-CLM-13)
//! the structured targets draw from, and hex rendering.

use std::fmt::Write as _;

use arbitrary::Arbitrary;
use serde_json::{Map, Value};

use crate::build::{ISS_A, ISS_B, key_a, key_b};
use crate::model::{ModelKey, ModelSettings};
use crate::testing::{AUDIENCE, NOW, agent_iss, agent_key, attacker_key, uuid};
use wimse_ect::DagValidator;
use wimse_ect::jws::DEFAULT_MAX_TOKEN_BYTES;
use wimse_ect::{DEFAULT_MAX_PAR, NBF};
use wimse_ect::{DRAFT_00, DRAFT_01, PolicyClaimsAt, Profile};
use wimse_ect::{KeySet, SigningKey, TrustedKey};
use wimse_ect::{Policy, ReplayProtection, Verifier};

// ---------------------------------------------------------------------------------------------
// Fixed keys and settings.

/// The profile a structured input is checked under (SPEC.md §10): part of the input.
/// `draft-00` first, so that an input that ends before it (every input made before profiles
/// existed) decodes to `draft-00`.
#[derive(Arbitrary, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FuzzProfile {
    /// `draft-00`.
    #[default]
    Draft00,
    /// `draft-01`.
    Draft01,
}

impl FuzzProfile {
    /// The library's profile value.
    pub fn profile(self) -> Profile {
        match self {
            FuzzProfile::Draft00 => DRAFT_00,
            FuzzProfile::Draft01 => DRAFT_01,
        }
    }

    /// The model's name for it.
    pub fn name(self) -> crate::vector::ProfileName {
        match self {
            FuzzProfile::Draft00 => crate::vector::ProfileName::Draft00,
            FuzzProfile::Draft01 => crate::vector::ProfileName::Draft01,
        }
    }
}

/// The keys every oracle trusts: the vectors' `agent-a` and `agent-b` (bound to their issuers,
/// so tokens from `vectors/` get past the signature), `agent-0` bound to [`agent_iss`]`(0)` and
/// `agent-1` bound to no issuer (the signers of [`TokenDesc`](super::TokenDesc) and
/// [`DagOps`](super::DagOps)).
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
pub(super) struct Keys {
    pub(super) set: KeySet,
    pub(super) model: Vec<ModelKey>,
    /// `agent-0` (bound) and `agent-1` (unbound).
    pub(super) signers: [SigningKey; 2],
    pub(super) attacker: SigningKey,
}

pub(super) fn keys() -> &'static Keys {
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
pub(super) struct Settings {
    pub(super) leeway: u64,
    pub(super) max_iat_age: u64,
    pub(super) max_par: usize,
    pub(super) max_token_bytes: usize,
    pub(super) partial: bool,
    pub(super) ancestor_budget: usize,
    pub(super) profile: FuzzProfile,
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
            profile: FuzzProfile::Draft00,
        }
    }
}

impl Settings {
    pub(super) fn verifier(&self, replay: bool) -> Verifier {
        let mut p = Policy::new(AUDIENCE);
        p.profile = self.profile.profile();
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

    pub(super) fn model(&self) -> ModelSettings {
        let mut s = ModelSettings::defaults(NOW, AUDIENCE);
        s.leeway = self.leeway;
        s.max_iat_age = self.max_iat_age;
        s.max_par = self.max_par;
        s.max_token_bytes = self.max_token_bytes;
        s.partial = self.partial;
        s.ancestor_budget = self.ancestor_budget;
        s.profile = self.profile.name();
        s
    }
}

// ---------------------------------------------------------------------------------------------
// Verdicts.

/// A verdict as the oracles compare it: the claims (profile claim names only) or the code.
pub(super) type Verdict = Result<Map<String, Value>, &'static str>;

/// The members of a payload `all` that are claims of `profile`, the ones
/// [`wimse_ect::Claims::to_json`] writes: the profile's claim names (in `draft-01` without the
/// top-level `pol` and `pol_decision`, which are members of `ect_ext` there, ECT-P01-4), and
/// `nbf` (ECT-TIME-6).
pub(super) fn known_claims(all: Map<String, Value>, profile: &Profile) -> Map<String, Value> {
    let n = &profile.claims;
    let top_level_policy = profile.policy_claims == PolicyClaimsAt::TopLevel;
    all.into_iter()
        .filter(|(k, _)| {
            let policy = k == n.pol || k == n.pol_decision;
            (n.all().contains(&k.as_str()) && (top_level_policy || !policy)) || k == NBF
        })
        .collect()
}

pub(super) fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Verifier and model agree on `token` under `profile`: the same code, or the same claims.
pub(super) fn assert_agree(
    token: &[u8],
    got: Verdict,
    want: Verdict,
    profile: &Profile,
    context: &str,
) {
    let want = want.map(|c| known_claims(c, profile));
    assert_eq!(
        got,
        want,
        "verifier (left) and model (right) disagree in {profile}{context} on token {:?}",
        show(token)
    );
}

// ---------------------------------------------------------------------------------------------
// Values the structured targets share.

/// UUID number `n % 16` of the small space the structured oracles draw from.
pub(super) fn small_uuid(n: u8) -> String {
    uuid(0x6ba7_b810_9dad_41d1_80b4_00c0_4fd4_3000 + u128::from(n % 16))
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
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Decision::Approved => "approved",
            Decision::Rejected => "rejected",
            Decision::PendingHumanReview => "pending_human_review",
        }
    }
}

/// `bytes` as lower-case hex, two digits a byte.
pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
