//! One mutation per coded SPEC.md rule: each turns a valid workflow into a [`Case`] that
//! breaks exactly that rule, and says which step must fail with which code.
//!
//! "Exactly that rule": the mutated token passes every other rule of SPEC.md, re-signed with
//! [`wimse_ect::sign_raw`] where the defect is not in the signature, and any value the defect moves
//! (`iat`, `now`, a verifier limit) is moved so that nothing else breaks. Where a rule can only
//! be reached through earlier tokens (a cycle, a budget, a rejected parent), the mutation
//! appends those tokens itself, each valid. Two defects are inherent and accepted: a `par`
//! element that is not a UUID (ECT-CLM-8) or is the token's own `jti` (ECT-CLM-9) can never
//! resolve in a store, and an invalid `wid` (ECT-CLM-6) names no scope; the claim checks reject
//! them before any store is consulted.
//!
//! This module holds the [`Mutation`] enum (one variant per coded rule, in SPEC.md's order),
//! [`Case`] and [`Expected`], the dispatch ([`Mutation::apply`]) and the helpers several
//! sections share (picking and re-signing a step, deriving extra valid steps, fresh UUIDs). The
//! code that builds each rule's cases sits in one module per SPEC.md area, named like the
//! vector areas (`crate::areas`): `jws` (§2, ECT-JWS-1..5), `header` (§3, ECT-HDR-1..5),
//! `signature` (§4 for tokens, ECT-KEY-1..2, ECT-SIG-1..2), `keys` (ECT-KEY-3), `claims`
//! (§5, ECT-CLM-1..13 and ECT-TIME-5), `time` (§6, ECT-TIME-1..4, ECT-TIME-6, ECT-AUD-1),
//! `replay` (ECT-RPL-1), `dag` (§7, ECT-DAG-1..6), `ledger` (§8, ECT-LED-3..4, with
//! [`Tamper`]), `http` (§9, ECT-HTTP-3..4) and `profile` (§10, ECT-P01-1..5).
//!
//! Profiles (SPEC.md §10). A case is built and verified under one profile, its workflow's
//! ([`Workflow::policy`]`.profile`); [`Mutation::profiles`] says where a mutation applies. Every
//! mutation of §2–§9 runs under both profiles, reading and writing the claims under the
//! profile's names (`pred`, `ect_ext`, the policy members inside `ect_ext`), except ECT-HDR-1
//! (`Mutation::Typ`), which `draft-01` replaces by ECT-P01-1 (`Mutation::P01Typ`: its values
//! include `exec+jwt`, valid there). The ECT-P01 mutations apply in `draft-01` only.

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::json::Rng;
use super::run::Stage;
use super::workflow::{Delivery, LedgerKind, Workflow, WorkflowConfig, set_policy};
use super::{NOW, to_bytes, uuid};
use wimse_ect::Audience;
use wimse_ect::http::DEFAULT_MAX_FIELD_BYTES;
use wimse_ect::sign_raw;
use wimse_ect::{DRAFT_00, DRAFT_01, PROFILES, Profile};

mod claims;
mod dag;
mod header;
mod http;
mod jws;
mod keys;
mod ledger;
mod profile;
mod replay;
mod signature;
mod time;

pub use ledger::Tamper;

/// What a case must produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expected {
    /// Where the rejection happens; every earlier step must be accepted.
    pub at: Stage,
    /// The exact error code.
    pub code: &'static str,
    /// The rule id the error reports ([`wimse_ect::Error::rule`]).
    pub rule: &'static str,
}

/// A workflow broken in exactly one way.
#[derive(Clone, Debug)]
pub struct Case {
    /// The mutation applied.
    pub mutation: Mutation,
    /// Which variant, where: for failure messages.
    pub description: String,
    /// The mutated workflow.
    pub workflow: Workflow,
    /// The verdict it must get.
    pub expected: Expected,
}

macro_rules! mutations {
    ($( $(#[$doc:meta])* $name:ident => $rule:literal, $code:literal; )*) => {
        /// One way of breaking exactly one SPEC.md rule (see [`crate::testing`]).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Mutation {
            $( $(#[$doc])* $name, )*
        }

        impl Mutation {
            /// Every mutation, in SPEC.md's order.
            pub const ALL: &'static [Mutation] = &[$(Mutation::$name),*];

            /// The SPEC.md rule the mutation breaks.
            pub fn rule(self) -> &'static str {
                match self { $(Mutation::$name => $rule,)* }
            }

            /// The error code the broken rule has.
            pub fn code(self) -> &'static str {
                match self { $(Mutation::$name => $code,)* }
            }
        }
    };
}

mutations! {
    /// A token one or two bytes over `max_token_bytes` (lowered to the longest earlier token).
    TooLarge => "ECT-JWS-1", "jws.too_large";
    /// Two, four or five segments, an empty segment, whitespace or a non-ASCII character.
    Malformed => "ECT-JWS-2", "jws.malformed";
    /// A non-base64url character, padding, non-canonical trailing bits, length 1 mod 4.
    Base64 => "ECT-JWS-3", "jws.base64";
    /// Header or payload not a JSON object: trailing bytes, BOM, invalid UTF-8, an array, a
    /// lone surrogate, nesting beyond the parser's limit, truncation.
    Json => "ECT-JWS-4", "jws.json";
    /// A member name twice in the header, the payload or an object inside it.
    DuplicateMember => "ECT-JWS-5", "jws.duplicate_member";
    /// `typ` missing, not a string, or another media type.
    Typ => "ECT-HDR-1", "header.typ";
    /// `alg` `none`, symmetric, another asymmetric algorithm, wrong case, missing.
    Alg => "ECT-HDR-2", "header.alg";
    /// A `crit` header parameter.
    Crit => "ECT-HDR-3", "header.crit";
    /// `kid` missing, empty or not a string.
    Kid => "ECT-HDR-4", "header.kid";
    /// Signed by a key the header embeds or points to (`jwk`, `jku`, `x5u`, `x5c`); the
    /// verifier ignores it, so the signature fails (reported as ECT-SIG-2).
    EmbeddedKey => "ECT-HDR-5", "sig.invalid";
    /// A `kid` the verifier does not trust (a path, a case variant, SQL).
    KeyUnknown => "ECT-KEY-1", "key.unknown";
    /// `iss` other than the issuer the signing key is bound to.
    IssuerMismatch => "ECT-KEY-2", "key.issuer_mismatch";
    /// A trusted key set with a private part, an off-curve point, another curve, `kty` `oct`,
    /// a short coordinate or a duplicate `kid` (code `key.invalid`, this crate's extension).
    KeySetInvalid => "ECT-KEY-3", "key.invalid";
    /// A signature that is DER, 63 or 65 bytes, `r` or `s` zero or at least n, or all zero.
    SignatureEncoding => "ECT-SIG-1", "sig.invalid";
    /// A well-formed signature that does not verify: tampered payload, another message,
    /// another key, another token's signature.
    SignatureInvalid => "ECT-SIG-2", "sig.invalid";
    /// A required claim removed.
    ClaimMissing => "ECT-CLM-1", "claims.missing";
    /// A claim with the wrong JSON type.
    ClaimType => "ECT-CLM-2", "claims.type";
    /// `iat` or `exp` negative, above 2^53-1, fractional or in exponent syntax.
    NumericDate => "ECT-TIME-5", "claims.type";
    /// `iss` empty, signed with an unbound trusted key.
    IssEmpty => "ECT-CLM-3", "claims.iss";
    /// `aud` an array holding an empty string (besides the verifier's identifier).
    AudEmptyElement => "ECT-CLM-4", "claims.aud";
    /// `jti` not in 8-4-4-4-12 hex form.
    Jti => "ECT-CLM-5", "claims.jti";
    /// `wid` not in 8-4-4-4-12 hex form.
    Wid => "ECT-CLM-6", "claims.wid";
    /// `exec_act` empty.
    ExecAct => "ECT-CLM-7", "claims.exec_act";
    /// A `par` element not a UUID, or a parent listed twice (sometimes in two letter cases).
    Par => "ECT-CLM-8", "claims.par";
    /// `par` holds the token's own `jti`, sometimes in the other letter case.
    ParSelf => "ECT-CLM-9", "claims.par_self";
    /// `par` one longer than `max_par` (lowered to the longest earlier `par`), every element a
    /// real earlier token.
    ParTooLong => "ECT-CLM-10", "claims.par_too_long";
    /// `inp_hash` or `out_hash` not a 43-character base64url SHA-256 digest.
    Hash => "ECT-CLM-11", "claims.hash";
    /// `ext` of 4097 to 4100 bytes compact, depth at most 5.
    ExtSize => "ECT-CLM-12", "claims.ext_size";
    /// `ext` nested 6 deep, small.
    ExtDepth => "ECT-CLM-12", "claims.ext_depth";
    /// `pol` without `pol_decision` or the reverse, `pol` empty, an unknown decision.
    Pol => "ECT-CLM-13", "claims.pol";
    /// `exp` at or before `iat`, not expired.
    ExpBeforeIat => "ECT-TIME-1", "time.exp_before_iat";
    /// `now >= exp + leeway`, exactly at the boundary or beyond.
    Expired => "ECT-TIME-2", "time.expired";
    /// `iat > now + leeway`, one second or more.
    NotYetValid => "ECT-TIME-3", "time.not_yet_valid";
    /// `now - iat > max_iat_age`, one second or more.
    TooOld => "ECT-TIME-4", "time.too_old";
    /// `nbf > now + leeway`, one second or more (ECT-TIME-6).
    NotBefore => "ECT-TIME-6", "time.not_yet_valid";
    /// `aud` without the verifier's identifier (other ids, a case or slash variant).
    AudienceMismatch => "ECT-AUD-1", "aud.mismatch";
    /// An earlier token presented again with its parents, inline.
    Replay => "ECT-RPL-1", "replay.jti";
    /// A bounded replay cache already full of live tokens (code `replay.full`, this crate's
    /// extension).
    ReplayCacheFull => "ECT-RPL-1", "replay.full";
    /// A second token with an earlier token's `jti` in the same scope, sometimes spelled in the
    /// other letter case (ECT-CLM-5: the same UUID).
    DuplicateJti => "ECT-DAG-1", "dag.duplicate_jti";
    /// A parent the store does not hold (or holds only in another scope), strict mode.
    ParentMissing => "ECT-DAG-2", "dag.parent_missing";
    /// A child issued more than `skew` before its parent.
    TemporalOrder => "ECT-DAG-3", "dag.temporal_order";
    /// In partial mode, a token named as a missing parent arrives as a child of its own child.
    Cycle => "ECT-DAG-4", "dag.cycle";
    /// In partial mode, a referenced token arrives above a chain longer than the budget.
    AncestorBudget => "ECT-DAG-5", "dag.budget";
    /// A child of a `rejected` or `pending_human_review` parent.
    ParentPolicy => "ECT-DAG-6", "dag.parent_policy";
    /// A ledger file with a correctly chained duplicate entry, reopened.
    LedgerDuplicate => "ECT-LED-3", "ledger.duplicate";
    /// A ledger file with an edited, removed or swapped entry, reopened.
    LedgerChain => "ECT-LED-4", "ledger.chain";
    /// An `Execution-Context` field with an empty value or element, or a stray character.
    HttpMalformed => "ECT-HTTP-3", "http.malformed";
    /// An `Execution-Context` field one byte over the limit (trailing whitespace).
    HttpTooLarge => "ECT-HTTP-4", "http.too_large";
    /// `draft-01`: `typ` missing, not a string, or neither `exec+jwt` nor `wimse-exec+jwt`
    /// (with or without `application/`, any case).
    P01Typ => "ECT-P01-1", "header.typ";
    /// `draft-01`: `pred` renamed `par` (or another near name): a required claim is missing.
    /// ECT-P01-2 has no code of its own; it renames the claim of ECT-CLM-1.
    P01Pred => "ECT-P01-2", "claims.missing";
    /// `draft-01`: `ect_ext` of 4097 to 4100 bytes compact, its policy members counted, a
    /// valid top-level `ext` (an unknown claim) sometimes next to it.
    P01ExtSize => "ECT-P01-3", "claims.ext_size";
    /// `draft-01`: `ect_ext` nested 6 deep, sometimes with its policy members, a valid
    /// top-level `ext` sometimes next to it.
    P01ExtDepth => "ECT-P01-3", "claims.ext_depth";
    /// `draft-01`: a bad policy member inside `ect_ext` (unknown `pol_decision`, a member of
    /// another JSON type, empty `pol`, half a pair), sometimes next to a valid or an invalid
    /// top-level pair, which is ignored.
    P01ExtPolicy => "ECT-P01-4", "claims.pol";
    /// `draft-01`: a `pred` element naming a task held only under another workflow (another
    /// `wid`, or a `wid` on one side only), in strict or partial mode; or, the other way, a
    /// task arriving in one workflow after a token of another named it.
    P01WorkflowMismatch => "ECT-P01-5", "dag.workflow_mismatch";
}

impl Mutation {
    /// The rule the resulting error reports: [`Mutation::rule`], except for ECT-HDR-5, whose
    /// violation shows as a failed signature (ECT-SIG-2).
    pub fn reported_rule(self) -> &'static str {
        match self {
            Mutation::EmbeddedKey => "ECT-SIG-2",
            // Codes and rule ids of errors are profile-independent (SPEC.md §10): the rules
            // ECT-P01-1..4 rename or tighten report as the rule they change.
            Mutation::P01Typ => "ECT-HDR-1",
            Mutation::P01Pred => "ECT-CLM-1",
            Mutation::P01ExtSize | Mutation::P01ExtDepth => "ECT-CLM-12",
            Mutation::P01ExtPolicy => "ECT-CLM-13",
            m => m.rule(),
        }
    }

    /// The profiles the mutation applies in: both, except ECT-HDR-1 (`draft-00` only: its
    /// rule is replaced by ECT-P01-1 in `draft-01`, where some of its values, `exec+jwt`, are
    /// valid) and the ECT-P01 mutations (`draft-01` only).
    pub fn profiles(self) -> &'static [Profile] {
        use Mutation::*;
        match self {
            Typ => &[DRAFT_00],
            P01Typ | P01Pred | P01ExtSize | P01ExtDepth | P01ExtPolicy | P01WorkflowMismatch => {
                &[DRAFT_01]
            }
            _ => &PROFILES,
        }
    }

    /// Whether the mutation applies in `profile`.
    pub fn applies_in(self, profile: &Profile) -> bool {
        self.profiles().contains(profile)
    }

    /// Applies the mutation to `wf`, with every choice (which step, which variant) taken from
    /// `seed`, under `wf`'s profile. A mutation that does not apply in that profile
    /// ([`Mutation::profiles`]) is applied to `wf` moved to the first profile it applies in
    /// ([`Workflow::in_profile`]).
    pub fn apply(self, wf: &Workflow, seed: u64) -> Case {
        if !self.applies_in(&wf.policy.profile) {
            return self.apply(&wf.in_profile(self.profiles()[0]), seed);
        }
        let mut m = Mutator {
            profile: wf.policy.profile,
            wf: wf.clone(),
            rng: Rng::new(seed),
            description: String::new(),
        };
        let at = m.mutate(self);
        Case {
            mutation: self,
            description: m.description,
            workflow: m.wf,
            expected: Expected {
                at,
                code: self.code(),
                rule: self.reported_rule(),
            },
        }
    }
}

/// Cases of mutation `m`: valid workflows of 1 to 12 tokens under one of the profiles `m`
/// applies in, mutated.
pub fn case(m: Mutation) -> impl Strategy<Value = Case> {
    proptest::sample::select(m.profiles()).prop_flat_map(move |profile| case_in(m, profile))
}

/// Cases of mutation `m` under `profile` (which `m` must apply in): valid workflows of 1 to
/// 12 tokens of that profile, mutated.
pub fn case_in(m: Mutation, profile: Profile) -> impl Strategy<Value = Case> {
    assert!(m.applies_in(&profile), "{m:?} does not apply in {profile}");
    (
        super::valid_workflow_with(WorkflowConfig {
            tokens: 1..=12,
            profile: Some(profile),
            ..WorkflowConfig::default()
        }),
        any::<u64>(),
    )
        .prop_map(move |(wf, seed)| m.apply(&wf, seed))
}

/// The base64url alphabet, in value order.
const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// `b64` (unpadded base64url, length 2 or 3 mod 4) with unused low bits set in its last
/// character: the same bytes, non-canonically encoded (ECT-JWS-3, ECT-CLM-11). The last
/// character carries 4 unused low bits when the length is 2 mod 4, else 2; a canonical
/// encoder leaves them zero.
fn set_unused_bits(b64: &mut String) {
    let mask = if b64.len() % 4 == 2 { 0x0f } else { 0x03 };
    let last = b64.pop().expect("non-empty");
    let v = BASE64URL
        .iter()
        .position(|&b| b == last as u8)
        .expect("base64url");
    b64.push(BASE64URL[(v & !mask) | 1] as char);
}

/// The claims every token must carry (ECT-CLM-1), as `profile` names them (`pred` in
/// `draft-01`, ECT-P01-2).
fn required_claims(profile: &Profile) -> [&'static str; 7] {
    let n = &profile.claims;
    [n.iss, n.aud, n.iat, n.exp, n.jti, n.exec_act, n.par]
}

/// An `aud` value other than the verifier's identifier.
const OTHER_AUDIENCE: &str = "spiffe://example.org/other";

/// `id` with the letter case of every hex letter swapped (`abc` → `ABC`, `AbC` → `aBc`): the
/// same UUID, another spelling (ECT-CLM-5).
pub(crate) fn flip_case(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// A workflow being mutated, the generator every choice is drawn from, and what was done so
/// far (the [`Case::description`]).
struct Mutator {
    /// The workflow's profile.
    profile: Profile,
    wf: Workflow,
    rng: Rng,
    description: String,
}

impl Mutator {
    fn describe(&mut self, text: impl Into<String>) {
        if !self.description.is_empty() {
            self.description.push_str("; ");
        }
        self.description.push_str(&text.into());
    }

    /// A step index, uniformly.
    fn pick_step(&mut self) -> usize {
        self.rng.below(self.wf.steps.len())
    }

    /// Keeps steps `0..=t` and returns `t`.
    fn keep_through(&mut self, t: usize) -> usize {
        self.wf.steps.truncate(t + 1);
        t
    }

    /// Picks a step, drops the later ones, and returns its index.
    fn target(&mut self) -> usize {
        let t = self.pick_step();
        self.describe(format!("step {t} of {}", self.wf.steps.len()));
        self.keep_through(t)
    }

    /// How many leading steps can be sent inline: their `Execution-Context` fields fit in
    /// the receiver's limit (ECT-HTTP-4).
    fn inline_prefix(&self) -> usize {
        (0..self.wf.steps.len())
            .take_while(|&i| self.wf.field_lines(i).join(", ").len() <= DEFAULT_MAX_FIELD_BYTES)
            .count()
    }

    /// A target step that, with every earlier one, can be sent inline; later steps dropped.
    fn inline_target(&mut self) -> usize {
        let t = self.rng.below(self.inline_prefix().max(1));
        self.describe(format!("step {t} of {}, inline", self.wf.steps.len()));
        self.keep_through(t)
    }

    /// The delivery of a mutated workflow. The replay and HTTP rules are only reachable inline,
    /// the ledger rules only in a ledger file. Otherwise a ledger (memory, or sometimes file),
    /// or sometimes inline, except where inline would change the verdict: bytes outside the
    /// field's alphabet are `http.malformed` first, a moved `now` re-checks the inline parents
    /// at another time, and duplicates, cycles and budget walks need the whole store.
    fn delivery_for(&mut self, m: Mutation) -> Delivery {
        use Mutation::*;
        match m {
            Replay | HttpMalformed | HttpTooLarge => return Delivery::Inline,
            LedgerDuplicate | LedgerChain => return Delivery::Ledger(LedgerKind::File),
            _ => {}
        }
        // A workflow mismatch needs the store to hold the other workflow's token, which the
        // inline parents (same workflow) never are.
        let ledger_only = matches!(
            m,
            Malformed
                | Base64
                | Expired
                | TooOld
                | TemporalOrder
                | DuplicateJti
                | Cycle
                | AncestorBudget
                | P01WorkflowMismatch
        );
        match self.rng.below(4) {
            0 if !ledger_only && self.inline_prefix() == self.wf.steps.len() => Delivery::Inline,
            1 => Delivery::Ledger(LedgerKind::File),
            _ => Delivery::Ledger(LedgerKind::Memory),
        }
    }

    /// A UUID no step uses as `jti` or parent.
    fn fresh_uuid(&mut self) -> String {
        loop {
            let candidate = uuid((u128::from(self.rng.next()) << 64) | u128::from(self.rng.next()));
            let used = self.wf.steps.iter().any(|s| {
                s.claims.jti.eq_ignore_ascii_case(&candidate)
                    || s.claims
                        .par
                        .iter()
                        .any(|p| p.eq_ignore_ascii_case(&candidate))
            });
            if !used {
                return candidate;
            }
        }
    }

    /// Re-signs step `t` from its header and claims.
    fn resign(&mut self, t: usize) {
        let s = &self.wf.steps[t];
        let token = self.wf.sign(s.agent, &s.header, &s.claims);
        self.wf.steps[t].token = token;
    }

    /// Picks a target step (dropping the later ones), lets `edit` change its claims (and
    /// whatever else the defect needs), re-signs it, and records `edit`'s description.
    fn edit_claims(&mut self, edit: impl FnOnce(&mut Self, usize) -> String) -> Stage {
        let t = self.target();
        let what = edit(self, t);
        self.resign(t);
        self.describe(what);
        Stage::Step(t)
    }

    /// Step `t`'s payload as a JSON object.
    fn payload(&self, t: usize) -> Map<String, Value> {
        self.wf.steps[t].claims.to_json(&self.wf.policy.profile)
    }

    /// Sets step `t`'s token to `header` and `payload` bytes signed by its agent.
    fn sign_bytes(&mut self, t: usize, header: &[u8], payload: &[u8]) {
        let key = &self.wf.agents[self.wf.steps[t].agent].key;
        self.wf.steps[t].token = sign_raw(header, payload, key);
    }

    /// Sets step `t`'s token to its header and the payload `payload`, signed.
    fn sign_payload(&mut self, t: usize, payload: &Map<String, Value>) {
        let header = to_bytes(&self.wf.steps[t].header);
        self.sign_bytes(t, &header, &to_bytes(payload));
    }

    /// Sets step `t`'s header to `header` and re-signs.
    fn sign_header(&mut self, t: usize, header: Map<String, Value>) {
        self.wf.steps[t].header = header;
        self.resign(t);
    }

    /// Appends a valid step derived from step `template` (same agent, scope, audience,
    /// header), with `jti`, `par` and `iat` given, no policy claims, accepted at [`NOW`].
    fn derive(&mut self, template: usize, jti: String, par: Vec<String>, iat: u64) -> usize {
        let mut step = self.wf.steps[template].clone();
        step.claims.jti = jti;
        step.claims.par = par;
        step.claims.iat = iat;
        step.claims.exp = step.claims.exp.max(iat + 1);
        // nbf never after iat, so that no `now` that accepts iat refuses nbf (ECT-TIME-6).
        step.claims.nbf = step.claims.nbf.map(|nbf| nbf.min(iat));
        set_policy(&mut step.claims, &self.profile, None);
        step.now = NOW;
        step.field_lines = None;
        self.wf.steps.push(step);
        let i = self.wf.steps.len() - 1;
        self.resign(i);
        i
    }

    /// Appends a root step derived from `template` with a fresh `jti`.
    fn derive_root(&mut self, template: usize) -> usize {
        let jti = self.fresh_uuid();
        let iat = self.wf.steps[template].claims.iat;
        self.derive(template, jti, Vec::new(), iat)
    }

    /// Picks a target step (as [`Mutator::edit_claims`]) and sets its `aud` to what `pick`
    /// draws (ECT-CLM-4, ECT-AUD-1).
    fn edit_aud(&mut self, pick: impl FnOnce(&mut Rng) -> Audience) -> Stage {
        self.edit_claims(|this, t| {
            let aud = pick(&mut this.rng);
            let what = format!("aud {aud:?}");
            this.wf.steps[t].claims.aud = aud;
            what
        })
    }

    /// Applies `m` through its section's code, then picks the delivery.
    fn mutate(&mut self, m: Mutation) -> Stage {
        use Mutation::*;
        let stage = match m {
            // §2 compact serialization (jws.rs).
            TooLarge => self.too_large(),
            Malformed => self.malformed(),
            Base64 => self.base64(),
            Json => self.json(),
            DuplicateMember => self.duplicate_member(),
            // §3 JOSE header (header.rs).
            Typ | Alg | Crit | Kid => self.header_param(m),
            EmbeddedKey => self.embedded_key(),
            // §4 keys and signature (signature.rs, keys.rs).
            KeyUnknown => self.key_unknown(),
            IssuerMismatch => self.issuer_mismatch(),
            KeySetInvalid => self.key_set_invalid(),
            SignatureEncoding => self.signature_encoding(),
            SignatureInvalid => self.signature_invalid(),
            // §5 claims, with ECT-TIME-5 (claims.rs).
            ClaimMissing => self.claim_missing(),
            ClaimType => self.claim_type(),
            NumericDate => self.numeric_date(),
            IssEmpty => self.iss_empty(),
            AudEmptyElement => self.aud_empty_element(),
            Jti | Wid => self.identifier(m),
            ExecAct => self.exec_act(),
            Par | ParSelf => self.par(m),
            ParTooLong => self.par_too_long(),
            Hash => self.hash(),
            ExtSize | ExtDepth => self.ext(m),
            Pol => self.pol(),
            // §6 time and audience (time.rs), replay (replay.rs).
            ExpBeforeIat => self.exp_before_iat(),
            Expired => self.expired(),
            NotYetValid => self.not_yet_valid(),
            TooOld => self.too_old(),
            NotBefore => self.not_before(),
            AudienceMismatch => self.audience_mismatch(),
            Replay => self.replay(),
            ReplayCacheFull => self.replay_cache_full(),
            // §7 DAG (dag.rs).
            DuplicateJti => self.duplicate_jti(),
            ParentMissing => self.parent_missing(),
            TemporalOrder => self.temporal_order(),
            Cycle => self.cycle(),
            AncestorBudget => self.ancestor_budget(),
            ParentPolicy => self.parent_policy(),
            // §8 ledger (ledger.rs), §9 HTTP (http.rs).
            LedgerDuplicate | LedgerChain => self.ledger_file(m),
            HttpMalformed | HttpTooLarge => self.http(m),
            // §10 profile draft-01 (profile.rs).
            P01Typ => self.header_param(m),
            P01Pred => self.p01_pred(),
            P01ExtSize | P01ExtDepth => self.p01_ext(m),
            P01ExtPolicy => self.p01_ext_policy(),
            P01WorkflowMismatch => self.p01_workflow_mismatch(),
        };
        self.wf.delivery = self.delivery_for(m);
        stage
    }
}
