//! Valid workflows: the generator and the types a [`Workflow`] is made of.

use std::ops::RangeInclusive;

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::mutation::{Tamper, flip_case};
use super::{AUDIENCE, MAX_NUMERIC_DATE, NOW, agent_iss, agent_key, sign_json, uuid};
use wimse_ect::SigningKey;
use wimse_ect::{Audience, Claims, PolicyClaims, PolicyClaimsAt, PolicyDecision, sha256_b64url};
use wimse_ect::{DRAFT_00, DRAFT_01, PROFILES, Profile};
use wimse_ect::{LEEWAY_RANGE, MAX_IAT_AGE_RANGE, Policy};

/// One issuing agent: its identifier (`iss`) and its signing key, trusted for that issuer only.
#[derive(Clone, Debug)]
pub struct Agent {
    /// The `iss` of its tokens, and the issuer its trusted key is bound to (ECT-KEY-2).
    pub iss: String,
    /// Its signing key (`kid` `agent-{i}`).
    pub key: SigningKey,
}

/// Which ledger [`Delivery::Ledger`] appends to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LedgerKind {
    /// [`wimse_ect::MemoryLedger`].
    Memory,
    /// [`wimse_ect::FileLedger`] in a fresh temporary directory, reopened after the last step.
    File,
}

/// How the steps of a workflow reach the verifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Each token goes through [`wimse_ect::Verifier::accept`] into one ledger (§2–§8).
    Ledger(LedgerKind),
    /// Each step is a request whose `Execution-Context` field carries the step's own token
    /// first, then its parents' tokens (ECT-HTTP-2). The receiver verifies the parent tokens
    /// without recording them for replay, holds them in a [`wimse_ect::TokenStore`], and checks the
    /// step's token with [`wimse_ect::Verifier::verify_in`].
    Inline,
    /// Each token goes through [`wimse_ect::Verifier::verify`] alone: no store, no DAG rules.
    Standalone,
    /// Each token goes through [`wimse_ect::Verifier::verify_in`] against a [`wimse_ect::TokenStore`]
    /// of the tokens accepted so far, and is added to it when accepted: the store a receiver
    /// keeps of what it accepted, without a hash chain. The audit of the result is that of the
    /// accepted tokens chained afresh, each at its step's `now`.
    Store,
}

/// One token of a workflow and the moment it is presented.
#[derive(Clone, Debug)]
pub struct Step {
    /// The compact token, exactly as presented.
    pub token: String,
    /// The JOSE header it was signed with.
    pub header: Map<String, Value>,
    /// The claims it was built from. A valid step's token verifies to exactly these; a mutated
    /// step's token may differ from them (that is the mutation).
    pub claims: Claims,
    /// Index of the issuing agent in [`Workflow::agents`].
    pub agent: usize,
    /// The verifier's `now` for this step.
    pub now: u64,
    /// [`Delivery::Inline`] only: the `Execution-Context` field lines to send instead of the
    /// default (own token, then the parents' tokens, on one line).
    pub field_lines: Option<Vec<String>>,
}

/// A workflow: tokens in the order they are presented, the trusted keys, and the verifier
/// settings under which every token of a valid workflow must be accepted in order.
#[derive(Clone, Debug)]
pub struct Workflow {
    /// The issuing agents.
    pub agents: Vec<Agent>,
    /// The verifier's trusted key set as a JWKS (`{"keys":[...]}`), each key bound to its
    /// agent's issuer.
    pub jwks: Value,
    /// The verifier settings.
    pub policy: Policy,
    /// How the steps are presented.
    pub delivery: Delivery,
    /// The tokens, in order.
    pub steps: Vec<Step>,
    /// A change made to the ledger file after the last step, before it is reopened
    /// ([`LedgerKind::File`] only).
    pub tamper: Option<Tamper>,
}

impl Workflow {
    /// The trusted key set as a JWKS for `agents`, each key bound to its issuer.
    pub fn jwks_of(agents: &[Agent]) -> Value {
        let keys: Vec<Value> = agents
            .iter()
            .map(|a| Value::Object(a.key.to_public_jwk(Some(&a.iss))))
            .collect();
        json!({ "keys": keys })
    }

    /// Re-signs `claims` with `header` as agent `agent`'s token.
    pub fn sign(&self, agent: usize, header: &Map<String, Value>, claims: &Claims) -> String {
        sign_json(
            header,
            &claims.to_json(&self.policy.profile),
            &self.agents[agent].key,
        )
    }

    /// The same workflow under `profile` (SPEC.md §10): every step's claims written under
    /// the profile's names (the policy members moved into or out of the extension object,
    /// whose padding shrinks to keep it within 4096 bytes), its `typ` the profile's, re-signed.
    /// In `draft-01` a task cannot join a workflow after a token of another named it
    /// (ECT-P01-5), so the workflow ends before the first step that would: every step of the
    /// result is still accepted in order.
    pub fn in_profile(&self, profile: Profile) -> Workflow {
        let mut wf = self.clone();
        let from = wf.policy.profile;
        wf.policy.profile = profile;
        for i in 0..wf.steps.len() {
            let step = &wf.steps[i];
            let named_elsewhere = profile.workflow_consistency
                && wf.steps[..i].iter().any(|s| {
                    !same_wid(s.claims.wid.as_deref(), step.claims.wid.as_deref())
                        && s.claims
                            .par
                            .iter()
                            .any(|p| p.eq_ignore_ascii_case(&step.claims.jti))
                });
            if named_elsewhere {
                wf.steps.truncate(i);
                break;
            }
            let step = &mut wf.steps[i];
            let pol = step.claims.pol.clone();
            set_policy(&mut step.claims, &from, None);
            set_policy(&mut step.claims, &profile, pol);
            step.header.insert("typ".into(), profile.typ.into());
            step.field_lines = None;
            let token = wf.sign(wf.steps[i].agent, &wf.steps[i].header, &wf.steps[i].claims);
            wf.steps[i].token = token;
        }
        wf
    }

    /// The index of the step holding `jti` in scope `wid`, if any, comparing both UUIDs ASCII
    /// case-insensitively (ECT-CLM-5).
    pub fn find(&self, wid: Option<&str>, jti: &str) -> Option<usize> {
        let same_scope = |w: Option<&str>| match (w, wid) {
            (None, None) => true,
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        };
        self.steps.iter().position(|s| {
            same_scope(s.claims.wid.as_deref()) && s.claims.jti.eq_ignore_ascii_case(jti)
        })
    }
}

/// Size limits of generated workflows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkflowConfig {
    /// Number of tokens (default 1 to 64).
    pub tokens: RangeInclusive<usize>,
    /// Maximum number of issuing agents (default 4).
    pub max_agents: usize,
    /// Maximum number of scopes, i.e. distinct `wid` values or none (default 3).
    pub max_scopes: usize,
    /// The profile (SPEC.md §10) the tokens are built and verified under: `None` (the default)
    /// draws `draft-00` or `draft-01` for each workflow, so the profile is part of the
    /// generated case.
    pub profile: Option<Profile>,
}

impl Default for WorkflowConfig {
    fn default() -> Self {
        WorkflowConfig {
            tokens: 1..=64,
            max_agents: 4,
            max_scopes: 3,
            profile: None,
        }
    }
}

/// The parent structure of a workflow's scopes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// Each token's parent is the previous one.
    Chain,
    /// Every token is a child of the first.
    FanOut,
    /// Roots, then a last token with as many of them as parents as `max_par` allows.
    FanIn,
    /// Repeated diamonds: a root, two children, a join of both, two children, ...
    Diamond,
    /// Up to four parents drawn from the earlier tokens, or none (several roots).
    Random,
}

/// Verifier settings and workflow-wide choices.
#[derive(Clone, Debug)]
struct Settings {
    leeway: u64,
    max_age: u64,
    skew: u64,
    max_par: usize,
    shape: Shape,
    agents: usize,
    scopes: usize,
    first_scope_has_wid: bool,
    base: u128,
    profile: Profile,
}

/// Choices for one token.
#[derive(Clone, Debug)]
struct TokenPlan {
    scope: usize,
    agent: usize,
    parents: Vec<u16>,
    iat: (u8, u32),
    exp: (u8, u32),
    aud: u8,
    upper: bool,
    /// `nbf` at `iat - n` (valid whatever the step's `now`, since `iat <= now + leeway`).
    nbf: Option<u8>,
    /// Parents named in the other letter case than their own `jti` (ECT-CLM-5).
    par_case: bool,
    reuse: Option<u16>,
    hashes: (Option<u8>, Option<u8>),
    ext: Option<ExtPlan>,
    pol: Option<(String, u8)>,
    header: (u8, bool),
    exec_act: String,
}

/// An `ext` claim: nesting depth (1 to 5), a few scalar members, and a total compact size
/// (at least what the members need, at most 4096).
#[derive(Clone, Debug)]
struct ExtPlan {
    depth: usize,
    arrays: bool,
    members: Vec<(String, Value)>,
    size: usize,
}

fn settings(cfg: &WorkflowConfig) -> impl Strategy<Value = Settings> + use<> {
    let leeway = prop_oneof![3 => Just(30u64), 1 => Just(0u64), 1 => LEEWAY_RANGE];
    let max_age = prop_oneof![3 => Just(900u64), 1 => MAX_IAT_AGE_RANGE];
    let skew = prop_oneof![3 => Just(30u64), 1 => Just(0u64), 1 => 0..=3_600u64];
    let max_par = prop_oneof![3 => Just(100usize), 1 => 1..=4usize];
    let profile = match cfg.profile {
        Some(p) => Just(p).boxed(),
        None => proptest::sample::select(&PROFILES[..]).boxed(),
    };
    let shape = prop_oneof![
        1 => Just(Shape::Chain),
        1 => Just(Shape::FanOut),
        1 => Just(Shape::FanIn),
        1 => Just(Shape::Diamond),
        3 => Just(Shape::Random),
    ];
    (
        (leeway, max_age, skew, max_par, shape),
        1..=cfg.max_agents.max(1),
        prop_oneof![3 => Just(1usize), 1 => 1..=cfg.max_scopes.max(1)],
        any::<bool>(),
        any::<u128>(),
        profile,
    )
        .prop_map(
            |((leeway, max_age, skew, max_par, shape), agents, scopes, wid, base, profile)| {
                Settings {
                    leeway,
                    // TIME-2 mutations need room for `iat < exp <= now - leeway` within max age.
                    max_age: max_age.max(leeway + 2),
                    skew,
                    max_par,
                    shape,
                    agents,
                    scopes,
                    first_scope_has_wid: wid,
                    base,
                    profile,
                }
            },
        )
}

fn json_scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
    ]
}

fn ext_plan() -> impl Strategy<Value = ExtPlan> {
    (
        prop_oneof![1..=5usize, Just(5usize)],
        any::<bool>(),
        prop::collection::vec(("[a-m]{1,6}", json_scalar()), 0..4),
        prop_oneof![Just(4096usize), 0..=4096usize],
    )
        .prop_map(|(depth, arrays, members, size)| ExtPlan {
            depth,
            arrays,
            members,
            size,
        })
}

fn token_plan() -> impl Strategy<Value = TokenPlan> {
    (
        (
            any::<u8>(),
            any::<u8>(),
            prop::collection::vec(any::<u16>(), 0..=4),
            (any::<u8>(), any::<u32>()),
            (any::<u8>(), any::<u32>()),
            any::<u8>(),
            prop::option::weighted(0.1, prop_oneof![Just(0u8), any::<u8>()]),
            prop::bool::weighted(0.1),
        ),
        (
            prop::bool::weighted(0.1),
            prop::option::weighted(0.1, any::<u16>()),
            (prop::option::of(any::<u8>()), prop::option::of(any::<u8>())),
            prop::option::weighted(0.2, ext_plan()),
            prop::option::weighted(0.3, ("[a-z:/._-]{1,24}", any::<u8>())),
            (any::<u8>(), prop::bool::weighted(0.1)),
            prop_oneof![3 => "[a-z_]{1,16}", 1 => "\\PC{1,8}"],
        ),
    )
        .prop_map(
            |(
                (scope, agent, parents, iat, exp, aud, nbf, par_case),
                (upper, reuse, hashes, ext, pol, header, exec_act),
            )| TokenPlan {
                scope: scope.into(),
                agent: agent.into(),
                parents,
                iat,
                exp,
                aud,
                upper,
                nbf,
                par_case,
                reuse,
                hashes,
                ext,
                pol,
                header,
                exec_act,
            },
        )
}

/// Valid workflows with the default [`WorkflowConfig`] (1 to 64 tokens).
pub fn valid_workflow() -> impl Strategy<Value = Workflow> {
    valid_workflow_with(WorkflowConfig::default())
}

/// Valid workflows within `cfg`, presented through a [`wimse_ect::MemoryLedger`]. Every token is
/// accepted in order under the workflow's policy at its step's `now`.
pub fn valid_workflow_with(cfg: WorkflowConfig) -> impl Strategy<Value = Workflow> {
    // The smallest and the largest workflow are drawn on purpose, not left to chance.
    let (fewest, most) = (*cfg.tokens.start(), *cfg.tokens.end());
    let count = prop_oneof![1 => Just(fewest), 1 => Just(most), 6 => cfg.tokens.clone()];
    (
        settings(&cfg),
        count.prop_flat_map(|n| prop::collection::vec(token_plan(), n)),
    )
        .prop_map(|(settings, plans)| build(&settings, &plans))
}

/// One valid token presented on its own ([`Delivery::Standalone`]): every optional claim
/// sometimes present, values at their limits, and `par` of up to `max_par` (sometimes exactly
/// `max_par`) parents that no store holds.
pub fn valid_token() -> impl Strategy<Value = Workflow> {
    (
        settings(&WorkflowConfig {
            tokens: 1..=1,
            ..WorkflowConfig::default()
        }),
        token_plan(),
        prop_oneof![
            Just(None),
            Just(Some(usize::MAX)),
            (0..=100usize).prop_map(Some)
        ],
        any::<u128>(),
    )
        .prop_map(|(settings, plan, parents, base)| {
            let mut wf = build(&settings, std::slice::from_ref(&plan));
            if let Some(n) = parents {
                let n = n.min(settings.max_par);
                let step = &mut wf.steps[0];
                step.claims.par = (1..=n as u128)
                    .map(|i| uuid(base.wrapping_add(i)))
                    .filter(|p| *p != step.claims.jti)
                    .collect();
                step.token = sign_json(
                    &step.header,
                    &step.claims.to_json(&wf.policy.profile),
                    &wf.agents[step.agent].key,
                );
            }
            wf.delivery = Delivery::Standalone;
            wf
        })
}

/// Parent step indices of every token, by shape, within each scope.
fn parent_indices(settings: &Settings, plans: &[TokenPlan], scope_of: &[usize]) -> Vec<Vec<usize>> {
    let mut in_scope: Vec<Vec<usize>> = vec![Vec::new(); settings.scopes];
    let mut last_of_scope = vec![0; settings.scopes];
    for (i, &s) in scope_of.iter().enumerate() {
        last_of_scope[s] = i;
    }
    let cap = settings.max_par;
    let mut out = Vec::with_capacity(plans.len());
    for (i, plan) in plans.iter().enumerate() {
        let earlier = &in_scope[scope_of[i]];
        let k = earlier.len();
        let mut parents: Vec<usize> = match settings.shape {
            _ if k == 0 => Vec::new(),
            Shape::Chain => vec![earlier[k - 1]],
            Shape::FanOut => vec![earlier[0]],
            Shape::FanIn if last_of_scope[scope_of[i]] == i => {
                earlier[k.saturating_sub(cap)..].to_vec()
            }
            Shape::FanIn => Vec::new(),
            Shape::Diamond if k.is_multiple_of(3) => vec![earlier[k - 1], earlier[k - 2]],
            Shape::Diamond => vec![earlier[k - k % 3]],
            Shape::Random => {
                let mut picked: Vec<usize> = Vec::new();
                for &p in &plan.parents {
                    let j = earlier[usize::from(p) % k];
                    if !picked.contains(&j) {
                        picked.push(j);
                    }
                }
                picked
            }
        };
        parents.truncate(cap);
        out.push(parents);
        in_scope[scope_of[i]].push(i);
    }
    out
}

/// The `ext` claim of `plan`: depth exactly `plan.depth`, compact size exactly `plan.size` when
/// the members fit in it, `extra` members included (the policy members of `ect_ext` in
/// `draft-01`, ECT-P01-4, which count towards its limits).
fn build_ext(plan: &ExtPlan, extra: &Map<String, Value>) -> Map<String, Value> {
    let mut ext = extra.clone();
    for (k, v) in &plan.members {
        ext.insert(k.clone(), v.clone());
    }
    if plan.depth > 1 {
        let mut nested = if plan.arrays { json!([]) } else { json!({}) };
        for _ in 2..plan.depth {
            nested = if plan.arrays {
                json!([nested])
            } else {
                json!({ "n": nested })
            };
        }
        ext.insert("nest".into(), nested);
    }
    ext.insert("pad".into(), Value::String(String::new()));
    let base = serde_json::to_vec(&ext).expect("serializes").len();
    if plan.size > base {
        ext.insert("pad".into(), Value::String("x".repeat(plan.size - base)));
    }
    ext
}

fn decision(i: u8) -> PolicyDecision {
    match i % 3 {
        0 => PolicyDecision::Approved,
        1 => PolicyDecision::Rejected,
        _ => PolicyDecision::PendingHumanReview,
    }
}

/// Turns settings and token plans into a valid workflow.
fn build(settings: &Settings, plans: &[TokenPlan]) -> Workflow {
    let agents: Vec<Agent> = (0..settings.agents)
        .map(|i| Agent {
            iss: agent_iss(i),
            key: agent_key(i),
        })
        .collect();
    let mut policy = Policy::new(AUDIENCE);
    policy.profile = settings.profile;
    policy.leeway_seconds = settings.leeway;
    policy.max_iat_age_seconds = settings.max_age;
    policy.max_par = settings.max_par;
    policy.dag.skew_seconds = settings.skew;

    let wids: Vec<Option<String>> = (0..settings.scopes)
        .map(|s| {
            (s > 0 || settings.first_scope_has_wid)
                .then(|| uuid(settings.base.rotate_left(64).wrapping_add(s as u128)))
        })
        .collect();
    let scope_of: Vec<usize> = plans.iter().map(|p| p.scope % settings.scopes).collect();
    let parents = parent_indices(settings, plans, &scope_of);
    let mut has_children = vec![false; plans.len()];
    for p in parents.iter().flatten() {
        has_children[*p] = true;
    }

    let (leeway, max_age, skew) = (settings.leeway, settings.max_age, settings.skew);
    let mut steps: Vec<Step> = Vec::with_capacity(plans.len());
    for (i, plan) in plans.iter().enumerate() {
        let scope = scope_of[i];
        // `iat`: within [now - max_age, now + leeway] and at most `skew` before any parent's,
        // sometimes exactly at a bound.
        let parent_iat = parents[i].iter().map(|&p| steps[p].claims.iat).max();
        let lo = (NOW - max_age).max(parent_iat.map_or(0, |t| t.saturating_sub(skew)));
        let hi = NOW + leeway;
        let iat = match plan.iat.0 % 4 {
            0 => lo,
            1 => hi,
            _ => lo + u64::from(plan.iat.1) % (hi - lo + 1),
        };
        // `exp`: after `iat` and not expired at now (now < exp + leeway).
        let lo_exp = (iat + 1).max(NOW + 1 - leeway);
        let exp = match plan.exp.0 % 4 {
            0 => lo_exp,
            1 => MAX_NUMERIC_DATE,
            _ => lo_exp + u64::from(plan.exp.1) % 7_200,
        };
        // `jti`: unique in its scope; sometimes one already used in another scope.
        let used_here = |jti: &str| {
            steps
                .iter()
                .zip(&scope_of)
                .any(|(s, &sc)| sc == scope && s.claims.jti.eq_ignore_ascii_case(jti))
        };
        // ECT-P01-5 (draft-01), the late direction: a jti that a token of another workflow
        // already names as a parent cannot be accepted in this one, so it is not reused.
        let named_elsewhere = |jti: &str| {
            policy.profile.workflow_consistency
                && steps.iter().zip(&scope_of).any(|(s, &sc)| {
                    sc != scope && s.claims.par.iter().any(|p| p.eq_ignore_ascii_case(jti))
                })
        };
        let reusable: Vec<&str> = steps
            .iter()
            .zip(&scope_of)
            .filter(|&(s, &sc)| {
                sc != scope && !used_here(&s.claims.jti) && !named_elsewhere(&s.claims.jti)
            })
            .map(|(s, _)| s.claims.jti.as_str())
            .collect();
        let jti = match plan.reuse {
            Some(r) if !reusable.is_empty() => reusable[usize::from(r) % reusable.len()].to_owned(),
            _ => {
                let j = uuid(settings.base.wrapping_add(i as u128));
                if plan.upper { j.to_uppercase() } else { j }
            }
        };
        let aud = match plan.aud % 3 {
            0 => Audience::One(AUDIENCE.into()),
            1 => Audience::Many(vec![AUDIENCE.into()]),
            _ => Audience::Many(vec!["spiffe://example.org/other".into(), AUDIENCE.into()]),
        };
        // A parent never has a `rejected` or `pending_human_review` decision (ECT-DAG-6).
        let pol = plan.pol.as_ref().map(|(pol, d)| PolicyClaims {
            pol: pol.clone(),
            decision: if has_children[i] {
                PolicyDecision::Approved
            } else {
                decision(*d)
            },
        });
        let hash = |h: Option<u8>| h.map(|b| sha256_b64url(&[b]));
        // In draft-01 the policy members are part of `ect_ext` and count towards its limits.
        let ext = plan.ext.as_ref().map(|e| {
            let mut extra = Map::new();
            if let (Some(p), PolicyClaimsAt::InExtension) = (&pol, policy.profile.policy_claims) {
                extra = policy_members(&policy.profile, p);
            }
            build_ext(e, &extra)
        });
        let mut claims = Claims {
            iss: agents[plan.agent % agents.len()].iss.clone(),
            aud,
            iat,
            exp,
            nbf: plan.nbf.map(|back| iat.saturating_sub(back.into())),
            jti,
            exec_act: plan.exec_act.clone(),
            par: parents[i]
                .iter()
                .map(|&p| {
                    let jti = &steps[p].claims.jti;
                    if plan.par_case {
                        flip_case(jti)
                    } else {
                        jti.clone()
                    }
                })
                .collect(),
            wid: wids[scope].clone(),
            inp_hash: hash(plan.hashes.0),
            out_hash: hash(plan.hashes.1),
            ext,
            pol: None,
        };
        set_policy(&mut claims, &policy.profile, pol);
        let agent = plan.agent % agents.len();
        let header = header_for(&agents[agent].key, plan.header, &policy.profile);
        let token = sign_json(
            &header,
            &claims.to_json(&policy.profile),
            &agents[agent].key,
        );
        steps.push(Step {
            token,
            header,
            claims,
            agent,
            now: NOW,
            field_lines: None,
        });
    }
    Workflow {
        jwks: Workflow::jwks_of(&agents),
        agents,
        policy,
        delivery: Delivery::Ledger(LedgerKind::Memory),
        steps,
        tamper: None,
    }
}

/// A valid header for `key` under `profile`: `typ` in one of its accepted spellings
/// (ECT-HDR-1; in `draft-01` ECT-P01-1: `exec+jwt` mostly, the legacy `wimse-exec+jwt`
/// sometimes), sometimes with header parameters a verifier must ignore.
fn header_for(key: &SigningKey, (typ, extra): (u8, bool), profile: &Profile) -> Map<String, Value> {
    let typ = if *profile == DRAFT_01 {
        match typ % 10 {
            0 => "application/exec+jwt",
            1 => "EXEC+JWT",
            2 => "wimse-exec+jwt",
            3 => "application/wimse-exec+jwt",
            4 => "Wimse-Exec+JWT",
            _ => "exec+jwt",
        }
    } else {
        debug_assert_eq!(*profile, DRAFT_00);
        match typ % 8 {
            0 => "application/wimse-exec+jwt",
            1 => "WIMSE-EXEC+JWT",
            _ => "wimse-exec+jwt",
        }
    };
    let mut h = Map::new();
    h.insert("alg".into(), "ES256".into());
    h.insert("typ".into(), typ.into());
    h.insert("kid".into(), key.kid().into());
    if extra {
        // Unknown and key-locating parameters are ignored (ECT-HDR-5); this one names the
        // right key, so the token stays valid.
        h.insert("x5t".into(), "bm90LWEtdGh1bWJwcmludA".into());
        h.insert("cty".into(), "ignored".into());
    }
    h
}

/// How [`workflow_with_late_parents`] disturbs one token of a valid workflow.
#[derive(Clone, Debug)]
struct LatePlan {
    /// Which token that has children (index among those, modulo their number).
    token: u16,
    /// Never presented (a parent that never comes) instead of presented late.
    dropped: bool,
    /// How far after its first presented child it comes (modulo the room left).
    after: u16,
    /// What it breaks in the other direction, if anything.
    breaks: Option<LateBreak>,
}

/// A change that makes a late parent fail a rule against its stored children.
#[derive(Clone, Copy, Debug)]
enum LateBreak {
    /// `pol_decision` `rejected` or `pending_human_review` (ECT-DAG-6 the other way).
    Policy(bool),
    /// `iat` one second beyond its earliest child's `iat + skew` (ECT-DAG-3 the other way),
    /// when that is still within the time window.
    TooNew,
    /// One of its children, or their descendants, added to its `par` (a cycle, ECT-DAG-4).
    Cycle(u16),
    /// Presented in another workflow than its children's: another `wid` of the workflow, no
    /// `wid`, or a new one (`n` picks). In `draft-01` its stored children then name a task of
    /// another workflow (ECT-P01-5 the other way), and its own parents, if any, are held in
    /// another workflow (ECT-P01-5); in `draft-00` they are missing.
    OtherWorkflow(u16),
}

fn late_plan() -> impl Strategy<Value = LatePlan> {
    (
        any::<u16>(),
        prop::bool::weighted(0.25),
        any::<u16>(),
        prop::option::weighted(
            0.6,
            prop_oneof![
                any::<bool>().prop_map(LateBreak::Policy),
                Just(LateBreak::TooNew),
                any::<u16>().prop_map(LateBreak::Cycle),
                any::<u16>().prop_map(LateBreak::OtherWorkflow),
            ],
        ),
    )
        .prop_map(|(token, dropped, after, breaks)| LatePlan {
            token,
            dropped,
            after,
            breaks,
        })
}

/// Workflows with missing and late parents (SPEC.md §7, "Late parents"): a valid workflow
/// (2 to 32 tokens, [`valid_workflow_with`], either profile) in which up to six tokens that have children are
/// either never presented (parents that never come) or presented after one or more of their
/// children, some of those changed so that they break ECT-DAG-3 (issued more than `skew` after
/// a child), ECT-DAG-4 (naming one of their descendants, a cycle) or ECT-DAG-6 (a
/// `rejected` or `pending_human_review` decision) against the children presented before them.
/// Changed tokens are re-signed and stay valid on their own (§2–§6 at their step's `now`).
///
/// Across workflows (ECT-P01-5 in `draft-01`, a missing parent in `draft-00`): some late
/// parents are presented in another workflow than their children (the late break
/// `OtherWorkflow`), and up to two tokens get one more parent, the `jti` of a token of another
/// workflow, presented before or after them.
///
/// The policy is the workflow's (strict mode); partial mode is what lets the early children
/// in. Not every step is meant to be accepted: the property over these workflows is that
/// whatever a verifier accepts one token at a time, its store still passes the whole-store
/// audit under the same policy.
pub fn workflow_with_late_parents() -> impl Strategy<Value = Workflow> {
    late_parents_with(None)
}

/// [`workflow_with_late_parents`] under `profile`.
pub fn workflow_with_late_parents_in(profile: Profile) -> impl Strategy<Value = Workflow> {
    late_parents_with(Some(profile))
}

fn late_parents_with(profile: Option<Profile>) -> impl Strategy<Value = Workflow> {
    (
        valid_workflow_with(WorkflowConfig {
            tokens: 2..=32,
            profile,
            ..WorkflowConfig::default()
        }),
        prop::collection::vec(late_plan(), 1..=6),
        prop::collection::vec((any::<u16>(), any::<u16>()), 0..=2),
    )
        .prop_map(|(wf, plans, links)| with_late_parents(with_foreign_parents(wf, &links), &plans))
}

/// Adds to step `a % n` one more parent, step `b % n`'s `jti`, for each `(a, b)` of `links`
/// where step `b` is of another workflow, its `jti` is neither step `a`'s nor one step `a`'s
/// workflow holds, and `max_par` leaves room; re-signed.
fn with_foreign_parents(mut wf: Workflow, links: &[(u16, u16)]) -> Workflow {
    let n = wf.steps.len();
    for &(a, b) in links {
        let (a, b) = (usize::from(a) % n, usize::from(b) % n);
        let (sa, sb) = (&wf.steps[a].claims, &wf.steps[b].claims);
        let jti = sb.jti.clone();
        if same_wid(sa.wid.as_deref(), sb.wid.as_deref())
            || sa.jti.eq_ignore_ascii_case(&jti)
            || wf.find(sa.wid.as_deref(), &jti).is_some()
            || sa.par.len() >= wf.policy.max_par
        {
            continue;
        }
        wf.steps[a].claims.par.push(jti);
        let s = &wf.steps[a];
        let token = wf.sign(s.agent, &s.header, &s.claims);
        wf.steps[a].token = token;
    }
    wf
}

/// Applies `plans` to a valid workflow (see [`workflow_with_late_parents`]).
fn with_late_parents(mut wf: Workflow, plans: &[LatePlan]) -> Workflow {
    let n = wf.steps.len();
    // children[i]: the steps naming step i as a parent (same scope), in order.
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (c, step) in wf.steps.iter().enumerate() {
        for p in &step.claims.par {
            if let Some(i) = wf.find(step.claims.wid.as_deref(), p) {
                children[i].push(c);
            }
        }
    }
    let parents: Vec<usize> = (0..n).filter(|&i| !children[i].is_empty()).collect();
    if parents.is_empty() {
        return wf;
    }
    let (policy, leeway) = (wf.policy.clone(), wf.policy.leeway_seconds);
    let mut moved: Vec<(usize, &LatePlan)> = Vec::new();
    for plan in plans {
        let i = parents[usize::from(plan.token) % parents.len()];
        if moved.iter().any(|(j, _)| *j == i) {
            continue;
        }
        moved.push((i, plan));
        let Some(change) = plan.breaks.filter(|_| !plan.dropped) else {
            continue;
        };
        let mut claims = wf.steps[i].claims.clone();
        match change {
            LateBreak::Policy(rejected) => {
                let pol = PolicyClaims {
                    pol: "late-policy".into(),
                    decision: if rejected {
                        PolicyDecision::Rejected
                    } else {
                        PolicyDecision::PendingHumanReview
                    },
                };
                set_policy(&mut claims, &policy.profile, Some(pol));
            }
            LateBreak::TooNew => {
                let earliest = children[i]
                    .iter()
                    .map(|&c| wf.steps[c].claims.iat)
                    .min()
                    .expect("a parent has children");
                let iat = earliest + policy.dag.skew_seconds + 1;
                if iat > NOW + leeway {
                    continue;
                }
                claims.iat = iat;
                claims.exp = claims.exp.max(iat + 1);
            }
            LateBreak::Cycle(k) => {
                // A descendant: a child, then up to two first-child steps further down.
                let mut d = children[i][usize::from(k) % children[i].len()];
                for _ in 0..k % 3 {
                    match children[d].first() {
                        Some(&next) => d = next,
                        None => break,
                    }
                }
                let jti = wf.steps[d].claims.jti.clone();
                if claims.par.len() >= policy.max_par {
                    claims.par.pop();
                }
                if !claims.par.contains(&jti) {
                    claims.par.push(jti);
                }
            }
            LateBreak::OtherWorkflow(k) => {
                let own = claims.wid.clone();
                let mut options: Vec<Option<String>> = Vec::new();
                for s in &wf.steps {
                    let w = s.claims.wid.clone();
                    if !same_wid(w.as_deref(), own.as_deref()) && !options.contains(&w) {
                        options.push(w);
                    }
                }
                if own.is_some() && !options.contains(&None) {
                    options.push(None);
                }
                options.push(Some(uuid(u128::from(k) << 64 | 0x0f0f)));
                claims.wid = options[usize::from(k) % options.len()].clone();
            }
        }
        let step = &wf.steps[i];
        let token = wf.sign(step.agent, &step.header, &claims);
        let step = &mut wf.steps[i];
        step.claims = claims;
        step.token = token;
    }
    // The presentation order: the untouched steps in order, then each late parent after its
    // first presented child (or at the end).
    let mut order: Vec<usize> = (0..n)
        .filter(|i| !moved.iter().any(|(j, _)| j == i))
        .collect();
    for (i, plan) in &moved {
        if plan.dropped {
            continue;
        }
        let first_child = order.iter().position(|o| children[*i].contains(o));
        let at = match first_child {
            Some(c) => c + 1 + usize::from(plan.after) % (order.len() - c),
            None => order.len(),
        };
        order.insert(at, *i);
    }
    let steps = std::mem::take(&mut wf.steps);
    wf.steps = order.into_iter().map(|i| steps[i].clone()).collect();
    wf
}

/// The policy members `pol` and `pol_decision` as `profile` names them.
fn policy_members(profile: &Profile, p: &PolicyClaims) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(profile.claims.pol.into(), p.pol.clone().into());
    m.insert(
        profile.claims.pol_decision.into(),
        p.decision.as_str().into(),
    );
    m
}

/// Sets `claims.pol` to `pol` so that the claims stay exactly what a verifier of `profile`
/// reads back from the token they sign to: in `draft-01` (ECT-P01-4) the policy members are
/// also members of `ect_ext` ([`Claims::ext`] holds them), so the old ones are removed from it
/// and the new ones inserted, an `ext` padding member (`pad`, as the generator writes it)
/// shrinking so that `ect_ext` stays within its 4096 bytes (ECT-CLM-12, ECT-P01-3).
pub(crate) fn set_policy(claims: &mut Claims, profile: &Profile, pol: Option<PolicyClaims>) {
    if profile.policy_claims == PolicyClaimsAt::InExtension {
        let n = &profile.claims;
        if let Some(ext) = &mut claims.ext {
            ext.remove(n.pol);
            ext.remove(n.pol_decision);
        }
        if let Some(p) = &pol {
            let ext = claims.ext.get_or_insert_with(Map::new);
            ext.extend(policy_members(profile, p));
            let size = serde_json::to_vec(&*ext).expect("serializes").len();
            if size > wimse_ect::MAX_EXT_BYTES
                && let Some(Value::String(pad)) = ext.get_mut("pad")
            {
                let keep = pad.len().saturating_sub(size - wimse_ect::MAX_EXT_BYTES);
                pad.truncate(keep);
            }
        }
    }
    claims.pol = pol;
}

/// Whether two scopes (`wid`s, `None` for none) are the same, ASCII case-insensitively.
fn same_wid(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
        _ => false,
    }
}
