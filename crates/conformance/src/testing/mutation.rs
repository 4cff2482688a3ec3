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

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::json::{Rng, with_raw_member};
use super::run::Stage;
use super::workflow::{Agent, Delivery, LedgerKind, Step, Workflow, WorkflowConfig};
use super::{AUDIENCE, NOW, agent_iss, agent_key, attacker_key, to_bytes, uuid};
use crate::fixtures::{P256_ORDER, der_signature};
use wimse_ect::DagMode;
use wimse_ect::RawEntry;
use wimse_ect::ReplayProtection;
use wimse_ect::base64url::{decode as b64_decode, encode as b64_encode, encoded_len as b64_len};
use wimse_ect::http::DEFAULT_MAX_FIELD_BYTES;
use wimse_ect::sign_raw;
use wimse_ect::{Audience, PolicyClaims, PolicyDecision, sha256_b64url};

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

/// A change to a ledger file between two opens (ECT-LED-3, ECT-LED-4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tamper {
    /// Appends a copy of entry `of`'s token as a new, correctly chained entry: a duplicate
    /// `jti` the chain itself cannot reveal (ECT-LED-3).
    DuplicateEntry {
        /// The entry whose token is appended again.
        of: usize,
    },
    /// Changes the acceptance time of entry `line` without fixing its hash.
    EditTime {
        /// 0-based entry index.
        line: usize,
    },
    /// Changes one character of entry `line`'s token.
    EditToken {
        /// 0-based entry index.
        line: usize,
    },
    /// Removes entry `line`, which is not the last one.
    RemoveLine {
        /// 0-based entry index.
        line: usize,
    },
    /// Swaps entries `line` and `line + 1`.
    SwapLines {
        /// 0-based entry index.
        line: usize,
    },
}

impl Tamper {
    /// The ledger file `bytes` after the change. `Err` when the file has too few entries.
    pub fn apply(&self, bytes: &[u8]) -> Result<Vec<u8>, String> {
        let mut lines: Vec<Vec<u8>> = bytes
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        let n = lines.len();
        let raw = |i: usize| -> Result<RawEntry, String> {
            let line = lines.get(i).ok_or(format!("no entry {i} of {n}"))?;
            RawEntry::parse_line(line).map_err(|e| e.to_string())
        };
        match *self {
            Tamper::DuplicateEntry { of } => {
                let copy = raw(of)?;
                let last = raw(n.checked_sub(1).ok_or("an empty ledger")?)?;
                let mut entry = RawEntry {
                    seq: n as u64,
                    at: last.at,
                    prev: last.hash,
                    hash: last.hash,
                    token: copy.token,
                };
                entry.hash = entry.expected_hash();
                lines.push(entry.to_line().into_bytes());
            }
            Tamper::EditTime { line } => {
                let mut entry = raw(line)?;
                entry.at ^= 1;
                lines[line] = entry.to_line().into_bytes();
            }
            Tamper::EditToken { line } => {
                let mut entry = raw(line)?;
                let last = entry.token.pop().ok_or("an empty token")?;
                entry.token.push(if last == 'A' { 'B' } else { 'A' });
                lines[line] = entry.to_line().into_bytes();
            }
            Tamper::RemoveLine { line } if line + 1 < n => {
                lines.remove(line);
            }
            Tamper::SwapLines { line } if line + 1 < n => lines.swap(line, line + 1),
            Tamper::RemoveLine { .. } | Tamper::SwapLines { .. } => {
                return Err(format!("{self:?} needs more than {n} entries"));
            }
        }
        let mut out = Vec::with_capacity(bytes.len() + 1024);
        for line in lines {
            out.extend_from_slice(&line);
            out.push(b'\n');
        }
        Ok(out)
    }
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
}

impl Mutation {
    /// The rule the resulting error reports: [`Mutation::rule`], except for ECT-HDR-5, whose
    /// violation shows as a failed signature (ECT-SIG-2).
    pub fn reported_rule(self) -> &'static str {
        match self {
            Mutation::EmbeddedKey => "ECT-SIG-2",
            m => m.rule(),
        }
    }

    /// Applies the mutation to `wf`, with every choice (which step, which variant) taken from
    /// `seed`.
    pub fn apply(self, wf: &Workflow, seed: u64) -> Case {
        let mut m = Mutator {
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

/// Cases of mutation `m`: valid workflows of 1 to 12 tokens, mutated.
pub fn case(m: Mutation) -> impl Strategy<Value = Case> {
    (
        super::valid_workflow_with(WorkflowConfig {
            tokens: 1..=12,
            ..WorkflowConfig::default()
        }),
        any::<u64>(),
    )
        .prop_map(move |(wf, seed)| m.apply(&wf, seed))
}

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Ways of spelling a UUID that are not RFC 9562 text form.
fn bad_uuid(rng: &mut Rng, good: &str) -> String {
    match rng.below(9) {
        0 => format!("{{{good}}}"),
        1 => format!("urn:uuid:{good}"),
        2 => good.replace('-', ""),
        3 => format!("g{}", &good[1..]),
        4 => good[..35].to_owned(),
        5 => format!("{good}0"),
        6 => format!(" {good}"),
        7 => String::new(),
        _ => good.replacen('-', "_", 1),
    }
}

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

struct Mutator {
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

    /// Like [`Mutator::edit_claims`] for changes only raw JSON members can express (a claim
    /// removed, of another type, half a pair).
    fn edit_payload(
        &mut self,
        edit: impl FnOnce(&mut Rng, &mut Map<String, Value>) -> String,
    ) -> Stage {
        let t = self.target();
        let mut payload = self.payload(t);
        let what = edit(&mut self.rng, &mut payload);
        self.sign_payload(t, &payload);
        self.describe(what);
        Stage::Step(t)
    }

    /// The verifier's leeway and maximum `iat` age.
    fn time_limits(&self) -> (u64, u64) {
        (
            self.wf.policy.leeway_seconds,
            self.wf.policy.max_iat_age_seconds,
        )
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
        step.claims.pol = None;
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

    fn mutate(&mut self, m: Mutation) -> Stage {
        use Mutation::*;
        let stage = match m {
            TooLarge => self.too_large(),
            Malformed => self.malformed(),
            Base64 => self.base64(),
            Json => self.json(),
            DuplicateMember => self.duplicate_member(),
            Typ | Alg | Crit | Kid => self.header_param(m),
            EmbeddedKey => self.embedded_key(),
            KeyUnknown => self.key_unknown(),
            IssuerMismatch => self.issuer_mismatch(),
            KeySetInvalid => self.key_set_invalid(),
            SignatureEncoding => self.signature_encoding(),
            SignatureInvalid => self.signature_invalid(),
            ClaimMissing => self.claim_missing(),
            ClaimType => self.claim_type(),
            NumericDate => self.numeric_date(),
            IssEmpty => self.iss_empty(),
            AudEmptyElement | AudienceMismatch => self.aud(m),
            Jti | Wid => self.identifier(m),
            ExecAct => self.exec_act(),
            Par | ParSelf => self.par(m),
            ParTooLong => self.par_too_long(),
            Hash => self.hash(),
            ExtSize | ExtDepth => self.ext(m),
            Pol => self.pol(),
            ExpBeforeIat => self.exp_before_iat(),
            Expired => self.expired(),
            NotYetValid => self.not_yet_valid(),
            TooOld => self.too_old(),
            NotBefore => self.not_before(),
            Replay => self.replay(),
            ReplayCacheFull => self.replay_cache_full(),
            DuplicateJti => self.duplicate_jti(),
            ParentMissing => self.parent_missing(),
            TemporalOrder => self.temporal_order(),
            Cycle => self.cycle(),
            AncestorBudget => self.ancestor_budget(),
            ParentPolicy => self.parent_policy(),
            LedgerDuplicate | LedgerChain => self.ledger_file(m),
            HttpMalformed | HttpTooLarge => self.http(m),
        };
        self.wf.delivery = self.delivery_for(m);
        stage
    }

    // --- §2 compact serialization -----------------------------------------------------------

    fn too_large(&mut self) -> Stage {
        let t = self.target();
        // The limit becomes the longest token so far (at least the minimum, 256): every earlier
        // token is within it, and step t gets an ignored claim that takes it just over.
        let limit = self
            .wf
            .steps
            .iter()
            .map(|s| s.token.len())
            .max()
            .unwrap_or(0)
            .max(256);
        self.wf.policy.max_token_bytes = limit;
        let mut payload = self.payload(t);
        let header_len = b64_len(to_bytes(&self.wf.steps[t].header).len());
        let base = to_bytes(&payload).len() + r#","pad":"""#.len();
        let total = |pad: usize| header_len + 1 + b64_len(base + pad) + 1 + 86;
        let pad = (0..)
            .find(|&p| total(p) > limit)
            .expect("some padding is long enough");
        payload.insert("pad".into(), "x".repeat(pad).into());
        self.sign_payload(t, &payload);
        self.describe(format!(
            "max_token_bytes {limit}, token {} bytes",
            self.wf.steps[t].token.len()
        ));
        Stage::Step(t)
    }

    fn malformed(&mut self) -> Stage {
        let t = self.target();
        let token = self.wf.steps[t].token.clone();
        let (head, signature) = token.rsplit_once('.').expect("three segments");
        let (header, _) = head.split_once('.').expect("three segments");
        let at = self.rng.below(token.len() + 1);
        let (variant, bad) = match self.rng.below(8) {
            0 => ("four segments", format!("{token}.{signature}")),
            1 => ("two segments", head.to_owned()),
            2 => ("a space", format!("{} {}", &token[..at], &token[at..])),
            3 => ("an empty payload segment", format!("{header}..{signature}")),
            4 => ("five segments (JWE)", format!("{token}.AAAA.AAAA")),
            5 => (
                "a non-ASCII character",
                format!("{}é{}", &token[..at], &token[at..]),
            ),
            6 => ("a trailing newline", format!("{token}\n")),
            _ => ("an empty signature segment", format!("{head}.")),
        };
        self.wf.steps[t].token = bad;
        self.describe(variant);
        Stage::Step(t)
    }

    fn base64(&mut self) -> Stage {
        let t = self.target();
        let token = self.wf.steps[t].token.clone();
        let mut segments: Vec<String> = token.split('.').map(str::to_owned).collect();
        let s = self.rng.below(3);
        let seg = &mut segments[s];
        let at = self.rng.below(seg.len());
        let variant = match self.rng.below(4) {
            0 => {
                let c = *self.rng.pick(&['+', '/', '!', '*', '=']);
                seg.replace_range(at..=at, &c.to_string());
                format!("{c:?} at {at}")
            }
            1 => {
                seg.push('=');
                "padding".to_owned()
            }
            2 if seg.len() % 4 >= 2 => {
                // The last character carries unused low bits (4 when len % 4 == 2, else 2);
                // a canonical encoder leaves them zero.
                let mask = if seg.len() % 4 == 2 { 0x0f } else { 0x03 };
                let last = seg.pop().expect("non-empty");
                let v = BASE64URL
                    .iter()
                    .position(|&b| b == last as u8)
                    .expect("base64url");
                seg.push(BASE64URL[(v & !mask) | 1] as char);
                "non-canonical trailing bits".to_owned()
            }
            _ => {
                match seg.len() % 4 {
                    0 => seg.push('A'),
                    2 => {
                        seg.pop();
                    }
                    _ => seg.truncate(seg.len() - 2),
                }
                "length 1 mod 4".to_owned()
            }
        };
        self.wf.steps[t].token = segments.join(".");
        self.describe(format!("segment {s}: {variant}"));
        Stage::Step(t)
    }

    fn json(&mut self) -> Stage {
        let t = self.target();
        let in_header = self.rng.below(2) == 0;
        let map = if in_header {
            self.wf.steps[t].header.clone()
        } else {
            self.payload(t)
        };
        let compact = to_bytes(&map);
        let (variant, bad): (&str, Vec<u8>) = match self.rng.below(7) {
            0 => ("trailing bytes", [&compact[..], b"x"].concat()),
            1 => ("a BOM", [&b"\xef\xbb\xbf"[..], &compact].concat()),
            2 => {
                let mut v = with_raw_member(&map, "zz", "\"__\"");
                let at = v.windows(2).position(|w| w == b"__").expect("placeholder");
                v[at] = 0xff;
                ("invalid UTF-8", v)
            }
            3 => ("a top-level array", [&b"["[..], &compact, b"]"].concat()),
            4 => (
                "a lone surrogate",
                with_raw_member(&map, "zz", r#""\ud800""#),
            ),
            5 => (
                "nesting 200 deep",
                with_raw_member(
                    &map,
                    "zz",
                    &format!("{}{}", "[".repeat(200), "]".repeat(200)),
                ),
            ),
            _ => ("truncated", compact[..compact.len() - 1].to_vec()),
        };
        let (header, payload) = if in_header {
            (bad, to_bytes(&self.payload(t)))
        } else {
            (to_bytes(&self.wf.steps[t].header), bad)
        };
        self.sign_bytes(t, &header, &payload);
        self.describe(format!(
            "{} {variant}",
            if in_header { "header" } else { "payload" }
        ));
        Stage::Step(t)
    }

    fn duplicate_member(&mut self) -> Stage {
        let t = self.target();
        let header = self.wf.steps[t].header.clone();
        let payload = self.payload(t);
        let (where_, h, p) = match self.rng.below(3) {
            0 => {
                let name = self.rng.pick(&["alg", "typ", "kid"]).to_string();
                let raw = header[&name].to_string();
                (
                    format!("header {name}"),
                    with_raw_member(&header, &name, &raw),
                    to_bytes(&payload),
                )
            }
            1 => {
                let name = self
                    .rng
                    .pick(&["iss", "aud", "iat", "exp", "jti", "exec_act", "par"])
                    .to_string();
                let raw = payload[&name].to_string();
                (
                    format!("payload {name}"),
                    to_bytes(&header),
                    with_raw_member(&payload, &name, &raw),
                )
            }
            _ => (
                "an object inside the payload".to_owned(),
                to_bytes(&header),
                with_raw_member(&payload, "zz", r#"{"a":1,"b":{"c":2,"c":2}}"#),
            ),
        };
        self.sign_bytes(t, &h, &p);
        self.describe(format!("duplicate {where_}"));
        Stage::Step(t)
    }

    // --- §3 JOSE header ---------------------------------------------------------------------

    fn header_param(&mut self, m: Mutation) -> Stage {
        let t = self.target();
        let (name, values): (&str, Vec<Option<Value>>) = match m {
            Mutation::Typ => (
                "typ",
                vec![
                    None,
                    Some(json!("JWT")),
                    Some(json!(42)),
                    Some(json!("exec+jwt")),
                    Some(json!("application/jwt")),
                    Some(json!("")),
                    Some(json!("wimse-exec+jwt; charset=utf-8")),
                    Some(json!("wimse-exec+jwt ")),
                ],
            ),
            Mutation::Alg => (
                "alg",
                vec![
                    None,
                    Some(json!("none")),
                    Some(json!("None")),
                    Some(json!("HS256")),
                    Some(json!("ES384")),
                    Some(json!("RS256")),
                    Some(json!("EdDSA")),
                    Some(json!("es256")),
                    Some(json!(256)),
                ],
            ),
            Mutation::Crit => (
                "crit",
                vec![
                    Some(json!([])),
                    Some(json!(["b64"])),
                    Some(json!(["exp"])),
                    Some(json!("b64")),
                ],
            ),
            _ => (
                "kid",
                vec![
                    None,
                    Some(json!("")),
                    Some(json!(7)),
                    Some(Value::Null),
                    Some(json!(["agent-0"])),
                ],
            ),
        };
        let value = self.rng.pick(&values).clone();
        let mut header = self.wf.steps[t].header.clone();
        match &value {
            Some(v) => header.insert(name.into(), v.clone()),
            None => header.remove(name),
        };
        if name == "crit" && value == Some(json!(["b64"])) {
            header.insert("b64".into(), false.into());
        }
        self.sign_header(t, header);
        self.describe(match value {
            Some(v) => format!("{name} {v}"),
            None => format!("no {name}"),
        });
        Stage::Step(t)
    }

    fn embedded_key(&mut self) -> Stage {
        let t = self.target();
        let attacker = attacker_key();
        let mut header = self.wf.steps[t].header.clone();
        let (name, value) = match self.rng.below(4) {
            0 => ("jwk", Value::Object(attacker.to_public_jwk(None))),
            1 => ("jku", json!("https://attacker.example/jwks.json")),
            2 => ("x5u", json!("https://attacker.example/cert.pem")),
            _ => ("x5c", json!(["MIIBattackerCertificate"])),
        };
        header.insert(name.into(), value);
        self.wf.steps[t].header = header;
        let payload = self.payload(t);
        self.wf.steps[t].token = super::sign_json(&self.wf.steps[t].header, &payload, &attacker);
        self.describe(format!("signed by the attacker's key, named by {name}"));
        Stage::Step(t)
    }

    // --- §4 keys and signature --------------------------------------------------------------

    fn key_unknown(&mut self) -> Stage {
        let t = self.target();
        let own = self.wf.steps[t].header["kid"]
            .as_str()
            .expect("a kid")
            .to_owned();
        let kid = match self.rng.below(6) {
            0 => "unknown".to_owned(),
            1 => format!("../../keys/{own}"),
            2 => own.to_uppercase(),
            3 => format!("{own} "),
            4 => "' OR '1'='1".to_owned(),
            _ => "k".repeat(10_000),
        };
        let mut header = self.wf.steps[t].header.clone();
        header.insert("kid".into(), kid.clone().into());
        self.sign_header(t, header);
        self.describe(format!("kid {:?}", &kid[..kid.len().min(40)]));
        Stage::Step(t)
    }

    fn issuer_mismatch(&mut self) -> Stage {
        self.edit_claims(|this, t| {
            let own = this.wf.steps[t].claims.iss.clone();
            let others: Vec<String> = this
                .wf
                .agents
                .iter()
                .map(|a| a.iss.clone())
                .filter(|i| *i != own)
                .collect();
            let iss = match this.rng.below(3) {
                0 if !others.is_empty() => this.rng.pick(&others).clone(),
                0 | 1 => format!("{own}/"),
                _ => "spiffe://example.org/impostor".to_owned(),
            };
            this.wf.steps[t].claims.iss = iss.clone();
            format!("iss {iss:?}")
        })
    }

    fn key_set_invalid(&mut self) -> Stage {
        let keys = self.wf.jwks["keys"].as_array_mut().expect("keys");
        let k = self.rng.below(keys.len());
        let key = keys[k].as_object_mut().expect("a JWK");
        let variant = match self.rng.below(6) {
            0 => {
                let d = agent_key(k).to_private_jwk()["d"].clone();
                key.insert("d".into(), d);
                "a private part"
            }
            1 => {
                let mut x = b64_decode(key["x"].as_str().expect("x").as_bytes()).expect("b64");
                x[31] ^= 1;
                key.insert("x".into(), b64_encode(&x).into());
                "a point off the curve"
            }
            2 => {
                key.insert("crv".into(), "P-384".into());
                "crv P-384"
            }
            3 => {
                key.insert("kty".into(), "oct".into());
                "kty oct"
            }
            4 => {
                let x = b64_decode(key["x"].as_str().expect("x").as_bytes()).expect("b64");
                key.insert("x".into(), b64_encode(&x[1..]).into());
                "a 31-byte x"
            }
            _ => {
                let copy = keys[k].clone();
                keys.push(copy);
                "a duplicate kid"
            }
        };
        self.describe(format!("key {k}: {variant}"));
        Stage::KeySet
    }

    fn signature_encoding(&mut self) -> Stage {
        let t = self.target();
        let token = self.wf.steps[t].token.clone();
        let (head, signature) = token.rsplit_once('.').expect("three segments");
        let sig = b64_decode(signature.as_bytes()).expect("a signature");
        let (variant, bad): (&str, Vec<u8>) = match self.rng.below(9) {
            0 => ("DER", der_signature(&sig)),
            1 => ("63 bytes", sig[1..].to_vec()),
            2 => ("65 bytes", [&sig[..], &[0]].concat()),
            3 => ("r = 0", [&[0; 32][..], &sig[32..]].concat()),
            4 => ("s = 0", [&sig[..32], &[0; 32][..]].concat()),
            5 => ("r = n", [&P256_ORDER[..], &sig[32..]].concat()),
            6 => ("s = n", [&sig[..32], &P256_ORDER[..]].concat()),
            7 => ("all zero", vec![0; 64]),
            _ => ("r = 2^256 - 1", [&[0xff; 32][..], &sig[32..]].concat()),
        };
        self.wf.steps[t].token = format!("{head}.{}", b64_encode(&bad));
        self.describe(variant);
        Stage::Step(t)
    }

    fn signature_invalid(&mut self) -> Stage {
        let t = self.target();
        let token = self.wf.steps[t].token.clone();
        let (head, signature) = token.rsplit_once('.').expect("three segments");
        let variant = match self.rng.below(4) {
            0 => {
                // The payload changed after signing.
                let mut payload = self.payload(t);
                let act = format!("{}!", self.wf.steps[t].claims.exec_act);
                payload.insert("exec_act".into(), act.into());
                let (header, _) = head.split_once('.').expect("three segments");
                self.wf.steps[t].token =
                    format!("{header}.{}.{signature}", b64_encode(&to_bytes(&payload)));
                "a tampered payload under the old signature"
            }
            1 => {
                let key = &self.wf.agents[self.wf.steps[t].agent].key;
                let other = key.sign(format!("{head}x").as_bytes());
                self.wf.steps[t].token = format!("{head}.{}", b64_encode(&other));
                "the signature of another message"
            }
            2 if t > 0 => {
                let earlier = &self.wf.steps[self.rng.below(t)].token;
                let (_, theirs) = earlier.rsplit_once('.').expect("three segments");
                self.wf.steps[t].token = format!("{head}.{theirs}");
                "an earlier token's signature"
            }
            _ => {
                let other = attacker_key().sign(head.as_bytes());
                self.wf.steps[t].token = format!("{head}.{}", b64_encode(&other));
                "signed by an untrusted key under the trusted kid"
            }
        };
        self.describe(variant);
        Stage::Step(t)
    }

    // --- §5 claims --------------------------------------------------------------------------

    fn claim_missing(&mut self) -> Stage {
        self.edit_payload(|rng, payload| {
            let name = *rng.pick(&["iss", "aud", "iat", "exp", "jti", "exec_act", "par"]);
            payload.remove(name);
            format!("no {name}")
        })
    }

    fn claim_type(&mut self) -> Stage {
        self.edit_payload(|rng, payload| {
            let choices: Vec<(&str, Value)> = vec![
                ("iss", json!(42)),
                ("aud", json!(42)),
                ("aud", json!([AUDIENCE, 42])),
                ("aud", json!({ "id": AUDIENCE })),
                ("iat", json!(NOW.to_string())),
                ("iat", Value::Null),
                ("exp", json!(true)),
                ("jti", json!(12)),
                ("exec_act", json!(["act"])),
                ("par", json!("parent")),
                ("par", json!([1])),
                ("par", json!({})),
                ("wid", json!(5)),
                ("inp_hash", json!(5)),
                ("out_hash", json!([])),
                ("ext", json!([])),
                ("ext", json!("ext")),
                ("pol", json!(1)),
                ("pol_decision", json!(true)),
            ];
            let (name, value) = rng.pick(&choices).clone();
            payload.insert(name.into(), value.clone());
            // The pair is checked together: give the other half a valid value.
            match name {
                "pol" => {
                    payload.entry("pol_decision").or_insert("approved".into());
                }
                "pol_decision" => {
                    payload.entry("pol").or_insert("policy".into());
                }
                _ => {}
            }
            format!("{name}: {value}")
        })
    }

    fn numeric_date(&mut self) -> Stage {
        let t = self.target();
        let name = *self.rng.pick(&["iat", "exp"]);
        let raw = *self.rng.pick(&[
            "-1",
            "9007199254740992",
            "18446744073709551616",
            "1.772e9",
            "1772000000.5",
            "1772000000.0",
            "-1772000000",
        ]);
        let mut payload = self.payload(t);
        payload.remove(name);
        let bytes = with_raw_member(&payload, name, raw);
        let header = to_bytes(&self.wf.steps[t].header);
        self.sign_bytes(t, &header, &bytes);
        self.describe(format!("{name} {raw}"));
        Stage::Step(t)
    }

    fn iss_empty(&mut self) -> Stage {
        self.edit_claims(|this, t| {
            // An empty iss under a bound key would be ECT-KEY-2 first: sign with a trusted key
            // that is bound to no issuer.
            let i = this.wf.agents.len();
            let key = agent_key(i);
            let jwk = Value::Object(key.to_public_jwk(None));
            this.wf.jwks["keys"].as_array_mut().expect("keys").push(jwk);
            this.wf.agents.push(Agent {
                iss: agent_iss(i),
                key,
            });
            let step = &mut this.wf.steps[t];
            step.agent = i;
            step.header
                .insert("kid".into(), format!("agent-{i}").into());
            step.claims.iss = String::new();
            "iss \"\" under an unbound key".to_owned()
        })
    }

    fn aud(&mut self, m: Mutation) -> Stage {
        self.edit_claims(|this, t| {
            let other = || "spiffe://example.org/other".to_owned();
            let aud = if m == Mutation::AudEmptyElement {
                match this.rng.below(3) {
                    0 => Audience::Many(vec![AUDIENCE.into(), String::new()]),
                    1 => Audience::Many(vec![String::new(), AUDIENCE.into()]),
                    _ => Audience::Many(vec![other(), String::new(), AUDIENCE.into()]),
                }
            } else {
                match this.rng.below(5) {
                    0 => Audience::One(other()),
                    1 => Audience::Many(vec![other(), "spiffe://example.org/third".into()]),
                    2 => Audience::One(AUDIENCE.to_uppercase()),
                    3 => Audience::One(format!("{AUDIENCE}/")),
                    _ => Audience::Many(vec![format!("{AUDIENCE} ")]),
                }
            };
            let what = format!("aud {aud:?}");
            this.wf.steps[t].claims.aud = aud;
            what
        })
    }

    fn identifier(&mut self, m: Mutation) -> Stage {
        self.edit_claims(|this, t| {
            let claims = &mut this.wf.steps[t].claims;
            let (name, field) = if m == Mutation::Jti {
                ("jti", &mut claims.jti)
            } else {
                ("wid", claims.wid.get_or_insert_with(|| uuid(0x1234)))
            };
            let bad = bad_uuid(&mut this.rng, &field.to_lowercase());
            *field = bad.clone();
            format!("{name} {bad:?}")
        })
    }

    fn exec_act(&mut self) -> Stage {
        self.edit_claims(|this, t| {
            this.wf.steps[t].claims.exec_act = String::new();
            "exec_act \"\"".to_owned()
        })
    }

    fn par(&mut self, m: Mutation) -> Stage {
        self.edit_claims(|this, t| {
            let claims = &this.wf.steps[t].claims;
            let mut par = claims.par.clone();
            // ECT-CLM-5: a UUID in the other letter case is the same UUID, so a duplicate or
            // self parent may be spelled that way.
            let respell = |rng: &mut Rng, id: &str| {
                if rng.below(2) == 0 {
                    id.to_owned()
                } else {
                    flip_case(id)
                }
            };
            let duplicate = m == Mutation::Par && par.len() >= 2 && this.rng.below(2) == 0;
            let bad = if m == Mutation::ParSelf {
                respell(&mut this.rng, &claims.jti)
            } else if duplicate {
                respell(&mut this.rng, &par[0])
            } else {
                bad_uuid(&mut this.rng, &uuid(0xabcdef))
            };
            // Same length where possible, so that max_par still holds.
            if par.is_empty() {
                par.push(bad);
            } else {
                let k = if duplicate {
                    1 + this.rng.below(par.len() - 1)
                } else {
                    this.rng.below(par.len())
                };
                par[k] = bad;
            }
            let what = format!("par {par:?}");
            this.wf.steps[t].claims.par = par;
            what
        })
    }

    fn par_too_long(&mut self) -> Stage {
        let t = self.target();
        // The limit becomes the longest earlier par; step t gets one more parent than that,
        // every one a token the store holds in its scope, with roots derived from step t
        // inserted before it when there are too few.
        let limit = self.wf.steps[..t]
            .iter()
            .map(|s| s.claims.par.len())
            .max()
            .unwrap_or(0);
        self.wf.policy.max_par = limit;
        let scope = self.wf.steps[t].claims.wid.clone();
        let eligible = |s: &Step| {
            s.claims.wid == scope
                && !matches!(
                    s.claims.pol.as_ref().map(|p| p.decision),
                    Some(PolicyDecision::Rejected | PolicyDecision::PendingHumanReview)
                )
        };
        let mut parents: Vec<usize> = (0..t).filter(|&i| eligible(&self.wf.steps[i])).collect();
        let missing = (limit + 1).saturating_sub(parents.len());
        for _ in 0..missing {
            self.derive_root(t);
        }
        // Move step t after the new roots, which now sit at t..t + missing.
        let step = self.wf.steps.remove(t);
        self.wf.steps.push(step);
        parents.extend(t..t + missing);
        parents.truncate(limit + 1);
        let t = self.wf.steps.len() - 1;
        let par: Vec<String> = parents
            .iter()
            .map(|&p| self.wf.steps[p].claims.jti.clone())
            .collect();
        let latest_parent = parents.iter().map(|&p| self.wf.steps[p].claims.iat).max();
        let claims = &mut self.wf.steps[t].claims;
        claims.par = par;
        // iat only moves up (to the latest parent's), so the skew rule holds.
        claims.iat = claims.iat.max(latest_parent.unwrap_or(0));
        claims.exp = claims.exp.max(claims.iat + 1);
        self.resign(t);
        self.describe(format!("max_par {limit}, par of {}", limit + 1));
        Stage::Step(t)
    }

    fn hash(&mut self) -> Stage {
        self.edit_claims(|this, t| {
            let good = sha256_b64url(b"input");
            let bad = match this.rng.below(8) {
                0 => good[..42].to_owned(),
                1 => format!("{good}A"),
                2 => format!("{good}="),
                3 => format!("sha-256:{good}"),
                4 => format!("+{}", &good[1..]),
                5 => {
                    // 43 characters carry 2 unused low bits in the last one.
                    let last = good.as_bytes()[42];
                    let v = BASE64URL
                        .iter()
                        .position(|&b| b == last)
                        .expect("base64url");
                    format!("{}{}", &good[..42], BASE64URL[(v & !3) | 1] as char)
                }
                6 => String::new(),
                _ => {
                    use sha2::Digest;
                    sha2::Sha256::digest(b"input")
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect()
                }
            };
            let claims = &mut this.wf.steps[t].claims;
            let (name, field) = if this.rng.below(2) == 0 {
                ("inp_hash", &mut claims.inp_hash)
            } else {
                ("out_hash", &mut claims.out_hash)
            };
            *field = Some(bad.clone());
            format!("{name} {bad:?}")
        })
    }

    fn ext(&mut self, m: Mutation) -> Stage {
        self.edit_claims(|this, t| {
            let mut ext = Map::new();
            let what = if m == Mutation::ExtSize {
                // Depth at most 5, compact size 4097 to 4100 bytes.
                let size = 4097 + this.rng.below(4);
                ext.insert("nest".into(), json!({"a": {"b": {"c": {}}}}));
                ext.insert("pad".into(), "".into());
                let base = to_bytes(&ext).len();
                ext.insert("pad".into(), "x".repeat(size - base).into());
                format!("ext of {size} bytes")
            } else {
                let arrays = this.rng.below(2) == 0;
                let mut nested = if arrays { json!([]) } else { json!({}) };
                for _ in 0..4 {
                    nested = if arrays {
                        json!([nested])
                    } else {
                        json!({ "n": nested })
                    };
                }
                ext.insert("deep".into(), nested);
                "ext nested 6 deep".to_owned()
            };
            this.wf.steps[t].claims.ext = Some(ext);
            what
        })
    }

    fn pol(&mut self) -> Stage {
        self.edit_payload(|rng, payload| {
            let (variant, pol, decision) = *rng.pick(&[
                ("pol without pol_decision", Some("policy"), None),
                ("pol_decision without pol", None, Some("approved")),
                ("pol empty", Some(""), Some("approved")),
                ("decision approve", Some("policy"), Some("approve")),
                ("decision APPROVED", Some("policy"), Some("APPROVED")),
                ("decision empty", Some("policy"), Some("")),
            ]);
            payload.remove("pol");
            payload.remove("pol_decision");
            if let Some(p) = pol {
                payload.insert("pol".into(), p.into());
            }
            if let Some(d) = decision {
                payload.insert("pol_decision".into(), d.into());
            }
            variant.to_owned()
        })
    }

    // --- §6 time, audience, replay ----------------------------------------------------------

    fn exp_before_iat(&mut self) -> Stage {
        self.edit_claims(|this, t| {
            // now - leeway < exp <= iat <= now + leeway needs leeway >= 1; raising the leeway
            // only relaxes the earlier tokens' checks.
            let leeway = this.wf.policy.leeway_seconds.max(1);
            this.wf.policy.leeway_seconds = leeway;
            // iat only moves up, which keeps the skew rule with every parent.
            let iat = this.wf.steps[t].claims.iat.max(NOW - leeway + 1);
            let room = iat - (NOW - leeway + 1);
            let below = if this.rng.below(2) == 0 {
                0
            } else {
                this.rng.next() % (room + 1)
            };
            let exp = iat - below;
            let claims = &mut this.wf.steps[t].claims;
            claims.iat = iat;
            claims.exp = exp;
            format!("iat {iat}, exp {exp}, leeway {leeway}")
        })
    }

    fn expired(&mut self) -> Stage {
        self.edit_claims(|this, t| {
            let (leeway, max_age) = this.time_limits();
            let iat = this.wf.steps[t].claims.iat;
            // now - iat <= max_age (max_age >= leeway + 2) and iat < exp <= now - leeway.
            let now = NOW.max(iat + 1 + leeway);
            let latest = now - leeway;
            let exp = if this.rng.below(2) == 0 {
                latest
            } else {
                iat + 1 + this.rng.next() % (latest - iat)
            };
            debug_assert!(now - iat <= max_age);
            let step = &mut this.wf.steps[t];
            step.now = now;
            step.claims.exp = exp;
            format!("now {now}, exp {exp}, leeway {leeway}")
        })
    }

    fn not_yet_valid(&mut self) -> Stage {
        self.edit_claims(|this, t| {
            let iat = NOW + this.wf.policy.leeway_seconds + 1 + this.rng.next() % 3;
            let claims = &mut this.wf.steps[t].claims;
            // iat moves up only (the skew rule still holds).
            claims.iat = claims.iat.max(iat);
            claims.exp = claims.exp.max(claims.iat + 1);
            format!("iat {}", claims.iat)
        })
    }

    fn not_before(&mut self) -> Stage {
        self.edit_claims(|this, t| {
            let leeway = this.wf.policy.leeway_seconds;
            let step = &mut this.wf.steps[t];
            let nbf = step.now + leeway + 1 + this.rng.next() % 3;
            step.claims.nbf = Some(nbf);
            format!("nbf {nbf} at now {}", step.now)
        })
    }

    fn too_old(&mut self) -> Stage {
        self.edit_claims(|this, t| {
            let (leeway, max_age) = this.time_limits();
            let now = this.wf.steps[t].claims.iat + max_age + 1 + this.rng.next() % 3;
            let step = &mut this.wf.steps[t];
            step.now = now;
            // Not expired at the new now.
            step.claims.exp = step.claims.exp.max(now + 1 - leeway);
            format!("now {now}")
        })
    }

    fn replay(&mut self) -> Stage {
        let t = self.inline_target();
        let again = self.rng.below(t + 1);
        let copy = self.wf.steps[again].clone();
        self.wf.steps.push(copy);
        self.describe(format!("step {again} presented again, inline"));
        Stage::Step(t + 1)
    }

    fn replay_cache_full(&mut self) -> Stage {
        let mut t = self.target();
        if t == 0 {
            t = self.derive_root(0);
        }
        self.wf.policy.replay = ReplayProtection::Enabled {
            max_entries: Some(t),
        };
        self.describe(format!("replay cache of {t} entries"));
        Stage::Step(t)
    }

    // --- §7 DAG -----------------------------------------------------------------------------

    fn duplicate_jti(&mut self) -> Stage {
        let t = self.target();
        let of = self.rng.below(t + 1);
        let mut copy = self.wf.steps[of].clone();
        match self.rng.below(3) {
            0 => {
                copy.claims.exec_act = format!("{} again", copy.claims.exec_act);
                self.wf.steps.push(copy);
                self.resign(t + 1);
                self.describe(format!("a new token with step {of}'s jti"));
            }
            1 => {
                // ECT-CLM-5: the same UUID in the other letter case is the same jti.
                copy.claims.jti = flip_case(&copy.claims.jti);
                self.wf.steps.push(copy);
                self.resign(t + 1);
                self.describe(format!("a new token with step {of}'s jti in another case"));
            }
            _ => {
                self.wf.steps.push(copy);
                self.describe(format!("step {of}'s token again"));
            }
        }
        Stage::Step(t + 1)
    }

    fn parent_missing(&mut self) -> Stage {
        self.edit_claims(|this, t| {
            let scope = this.wf.steps[t].claims.wid.clone();
            // A jti held only in another scope, or one nobody holds.
            let elsewhere: Vec<String> = this.wf.steps[..t]
                .iter()
                .filter(|s| s.claims.wid != scope)
                .map(|s| s.claims.jti.clone())
                .filter(|j| {
                    this.wf.find(scope.as_deref(), j).is_none()
                        && !j.eq_ignore_ascii_case(&this.wf.steps[t].claims.jti)
                })
                .collect();
            let missing = if !elsewhere.is_empty() && this.rng.below(2) == 0 {
                this.rng.pick(&elsewhere).clone()
            } else {
                this.fresh_uuid()
            };
            let par = &mut this.wf.steps[t].claims.par;
            debug_assert!(!par.contains(&missing));
            if par.is_empty() {
                par.push(missing.clone());
            } else {
                let k = this.rng.below(par.len());
                par[k] = missing.clone();
            }
            format!("parent {missing} missing")
        })
    }

    fn temporal_order(&mut self) -> Stage {
        let with_parents: Vec<usize> = (0..self.wf.steps.len())
            .filter(|&i| !self.wf.steps[i].claims.par.is_empty())
            .collect();
        let t = if with_parents.is_empty() {
            let j = self.target();
            let jti = self.fresh_uuid();
            let parent = vec![self.wf.steps[j].claims.jti.clone()];
            let iat = self.wf.steps[j].claims.iat;
            self.derive(j, jti, parent, iat)
        } else {
            let t = *self.rng.pick(&with_parents);
            self.describe(format!("step {t} of {}", self.wf.steps.len()));
            self.keep_through(t)
        };
        let (skew, max_age) = (
            self.wf.policy.dag.skew_seconds,
            self.wf.policy.max_iat_age_seconds,
        );
        let scope = self.wf.steps[t].claims.wid.clone();
        let latest_parent = self.wf.steps[t]
            .claims
            .par
            .iter()
            .map(|p| {
                let i = self.wf.find(scope.as_deref(), p).expect("parent present");
                self.wf.steps[i].claims.iat
            })
            .max()
            .expect("a parent");
        // One second (or a little more) beyond the skew; now moves back so the token is not
        // too old, which it may do: nothing requires acceptance times to increase.
        let iat = latest_parent - skew - 1 - self.rng.next() % 2;
        let step = &mut self.wf.steps[t];
        step.claims.iat = iat;
        // nbf moves back with iat, so that the earlier now does not break ECT-TIME-6.
        step.claims.nbf = step.claims.nbf.map(|nbf| nbf.min(iat));
        step.now = NOW.min(iat + max_age);
        self.resign(t);
        self.describe(format!(
            "iat {iat}, a parent's {latest_parent}, skew {skew}"
        ));
        Stage::Step(t)
    }

    fn cycle(&mut self) -> Stage {
        let j = self.target();
        self.wf.policy.dag.mode = DagMode::Partial;
        let iat = self.wf.steps[j].claims.iat;
        let x = self.fresh_uuid();
        let a = self.fresh_uuid();
        // a names x as a (missing) parent; then, maybe through b, x arrives with a as parent.
        let mut last = self.derive(j, a, vec![x.clone()], iat);
        if self.rng.below(2) == 0 {
            let b = self.fresh_uuid();
            let parent = vec![self.wf.steps[last].claims.jti.clone()];
            last = self.derive(j, b, parent, iat);
        }
        let parent = vec![self.wf.steps[last].claims.jti.clone()];
        let x_step = self.derive(j, x, parent, iat);
        self.describe(format!("partial mode, cycle of {} tokens", x_step - j));
        Stage::Step(x_step)
    }

    fn ancestor_budget(&mut self) -> Stage {
        let j = self.target();
        let budget = 1 + self.rng.below(3);
        self.wf.policy.dag.mode = DagMode::Partial;
        self.wf.policy.dag.ancestor_budget = budget;
        let iat = self.wf.steps[j].claims.iat;
        // A chain of budget + 1 tokens, a token naming x as a missing parent (so x's arrival
        // is checked by a walk), then x above the chain.
        let mut below = self.derive_root(j);
        for _ in 0..budget {
            let jti = self.fresh_uuid();
            let parent = vec![self.wf.steps[below].claims.jti.clone()];
            below = self.derive(j, jti, parent, iat);
        }
        let x = self.fresh_uuid();
        let c = self.fresh_uuid();
        self.derive(j, c, vec![x.clone()], iat);
        let parent = vec![self.wf.steps[below].claims.jti.clone()];
        let x_step = self.derive(j, x, parent, iat);
        self.describe(format!(
            "partial mode, budget {budget}, chain of {}",
            budget + 1
        ));
        Stage::Step(x_step)
    }

    fn parent_policy(&mut self) -> Stage {
        let j = self.target();
        let decision = if self.rng.below(2) == 0 {
            PolicyDecision::Rejected
        } else {
            PolicyDecision::PendingHumanReview
        };
        let p = self.derive_root(j);
        self.wf.steps[p].claims.pol = Some(PolicyClaims {
            pol: "policy".into(),
            decision,
        });
        self.resign(p);
        let jti = self.fresh_uuid();
        let parent = vec![self.wf.steps[p].claims.jti.clone()];
        let iat = self.wf.steps[p].claims.iat;
        let c = self.derive(j, jti, parent, iat);
        self.describe(format!("a child of a {} parent", decision.as_str()));
        Stage::Step(c)
    }

    // --- §8 ledger, §9 HTTP -----------------------------------------------------------------

    fn ledger_file(&mut self, m: Mutation) -> Stage {
        let t = self.target();
        let n = t + 1;
        let tamper = if m == Mutation::LedgerDuplicate {
            Tamper::DuplicateEntry {
                of: self.rng.below(n),
            }
        } else {
            match self.rng.below(4) {
                1 if n >= 2 => Tamper::RemoveLine {
                    line: self.rng.below(n - 1),
                },
                2 if n >= 2 => Tamper::SwapLines {
                    line: self.rng.below(n - 1),
                },
                3 => Tamper::EditToken {
                    line: self.rng.below(n),
                },
                _ => Tamper::EditTime {
                    line: self.rng.below(n),
                },
            }
        };
        self.describe(format!("{tamper:?}"));
        self.wf.tamper = Some(tamper);
        Stage::LedgerReopen
    }

    fn http(&mut self, m: Mutation) -> Stage {
        let t = self.inline_target();
        let value = self.wf.field_lines(t).join(", ");
        let (variant, lines) = if m == Mutation::HttpTooLarge {
            let pad = " ".repeat((DEFAULT_MAX_FIELD_BYTES + 1).saturating_sub(value.len()));
            if self.rng.below(2) == 0 {
                ("trailing whitespace", vec![format!("{value}{pad}")])
            } else {
                ("leading whitespace", vec![format!("{pad}{value}")])
            }
        } else {
            let own = &self.wf.steps[t].token;
            let mid = own.len() / 2;
            match self.rng.below(7) {
                0 => ("an empty value", vec![String::new()]),
                1 => ("a trailing comma", vec![format!("{value},")]),
                2 => ("an empty element", vec![format!("{value}, ,{own}")]),
                3 => (
                    "a space inside a token",
                    vec![format!("{} {}", &own[..mid], &value[mid..])],
                ),
                4 => ("a quoted token", vec![format!("\"{own}\"")]),
                5 => ("a parameter", vec![format!("{value};q=1")]),
                _ => (
                    "an empty second field line",
                    vec![value.clone(), String::new()],
                ),
            }
        };
        self.wf.steps[t].field_lines = Some(lines);
        self.describe(variant);
        Stage::Step(t)
    }
}
