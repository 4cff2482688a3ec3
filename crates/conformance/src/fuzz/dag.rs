//! The `dag` target: [`DagOps`], a sequence of accept operations over a few `jti`s, scopes and
//! keys, through [`wimse_ect::Verifier::accept`] into a [`MemoryLedger`] and through the model ledger
//! ([`ModelLedger`]): the same results (SPEC.md §7, ECT-DAG-1..6 at the ECT-DAG-3 skew
//! boundary and under small ancestor budgets, with replay (ECT-RPL-1) and the key rules
//! ECT-KEY-1..2), a hash chain that verifies after every operation, rejections that leave the
//! ledger unchanged, and a whole-ledger audit that finds nothing. In either profile (SPEC.md
//! §10, part of the input): in `draft-01` the tokens are written with `exec+jwt`, `pred` and
//! the policy inside `ect_ext`, and a parent of another scope (of the two `wid`s or none) is
//! ECT-P01-5 (`dag.workflow_mismatch`), both ways.

use arbitrary::{Arbitrary, Unstructured};
use serde_json::{Map, Value};

use super::common::{Decision, FuzzProfile, Settings, keys, small_uuid};
use crate::model::ModelLedger;
use crate::testing::{AUDIENCE, NOW, agent_iss};
use wimse_ect::{LedgerAudit, MemoryLedger};

/// A sequence of accept operations for [`dag`], over 6 `jti`s, 2 `wid`s (or none) and 3 keys.
#[derive(Arbitrary, Debug, Clone)]
pub struct DagOps {
    /// Partial DAG mode (missing parents listed, not errors).
    pub partial: bool,
    /// The operations (at most 24 are run).
    pub ops: Vec<DagOp>,
    /// The ancestor budget: `1 + budget % 12`, or SPEC.md's default (10 000) when absent.
    /// Last, so inputs made before it existed decode to the same operations.
    pub budget: Option<u8>,
    /// The profile (SPEC.md §10). After `budget`, for the same reason: older inputs decode
    /// to `draft-00`.
    pub profile: FuzzProfile,
}

/// One operation.
#[derive(Arbitrary, Debug, Clone)]
pub enum DagOp {
    /// A new token.
    Accept(AcceptOp),
    /// The token of operation `n % (number so far)` presented again, byte for byte.
    Again(u8),
}

/// Who signs an [`AcceptOp`]'s token.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum DagSigner {
    /// `agent-0`, bound to its issuer.
    Agent0,
    /// `agent-1`, no binding.
    Agent1,
    /// `agent-0`'s key with `agent-1`'s issuer (`key.issuer_mismatch`).
    WrongIssuer,
    /// The untrusted `attacker` key (`key.unknown`).
    Untrusted,
}

/// A new token for the ledger.
#[derive(Arbitrary, Debug, Clone)]
pub struct AcceptOp {
    /// The signer.
    pub signer: DagSigner,
    /// `jti`: UUID number `jti % 6`.
    pub jti: u8,
    /// `wid`: UUID number `10 + wid % 2`, or absent.
    pub wid: Option<u8>,
    /// `par`: UUID numbers `% 6` (at most 4; duplicates and self kept).
    pub par: Vec<u8>,
    /// `iat`.
    pub iat: DagIat,
    /// `pol` + `pol_decision`, or absent.
    pub pol: Option<Decision>,
}

/// The `iat` of an [`AcceptOp`]'s token.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum DagIat {
    /// [`NOW`] + 40 − `back` (the leeway is 30).
    Back(u8),
    /// At ECT-DAG-3's boundary: the `iat` of the latest earlier token of the first parent
    /// (same `jti` and scope) − skew − 1 + `d % 4` (one too early, then valid); [`NOW`] − `d`
    /// when there is no such token.
    AfterParent(u8),
}

impl AcceptOp {
    fn wid(&self) -> Option<String> {
        self.wid.map(|w| small_uuid(10 + w % 2))
    }

    fn jti(&self) -> String {
        small_uuid(self.jti % 6)
    }

    /// The `iat`, given the tokens rendered before (scope, `jti`, `iat`).
    fn iat(&self, earlier: &[(Option<String>, String, u64)]) -> u64 {
        match self.iat {
            DagIat::Back(back) => NOW + 40 - u64::from(back),
            DagIat::AfterParent(d) => {
                let wid = self.wid();
                let parent = self.par.first().map(|p| small_uuid(p % 6));
                let parent_iat = earlier
                    .iter()
                    .rev()
                    .find(|(w, j, _)| *w == wid && Some(j) == parent.as_ref())
                    .map(|(_, _, iat)| *iat);
                match parent_iat {
                    Some(p) => p - 30 - 1 + u64::from(d % 4),
                    None => NOW - u64::from(d),
                }
            }
        }
    }

    /// The signed token under `profile`, with `iat` as [`AcceptOp::iat`] makes it.
    fn render(&self, iat: u64, profile: FuzzProfile) -> String {
        let p = profile.profile();
        let n = &p.claims;
        let k = keys();
        let (key, iss) = match self.signer {
            DagSigner::Agent0 => (&k.signers[0], agent_iss(0)),
            DagSigner::Agent1 => (&k.signers[1], agent_iss(1)),
            DagSigner::WrongIssuer => (&k.signers[0], agent_iss(1)),
            DagSigner::Untrusted => (&k.attacker, agent_iss(0)),
        };
        let mut claims = Map::new();
        claims.insert("iss".into(), iss.into());
        claims.insert("aud".into(), AUDIENCE.into());
        claims.insert("iat".into(), iat.into());
        claims.insert("exp".into(), (iat + 600).into());
        claims.insert("jti".into(), self.jti().into());
        claims.insert("exec_act".into(), "step".into());
        let par: Vec<Value> = self
            .par
            .iter()
            .take(4)
            .map(|p| small_uuid(p % 6).into())
            .collect();
        claims.insert(n.par.into(), Value::Array(par));
        if let Some(w) = self.wid() {
            claims.insert("wid".into(), w.into());
        }
        if let Some(d) = self.pol {
            // Top-level claims in draft-00, members of `ect_ext` in draft-01 (ECT-P01-4).
            let mut pol = Map::new();
            pol.insert(n.pol.into(), "policy-1".into());
            pol.insert(n.pol_decision.into(), d.as_str().into());
            if p.policy_claims == wimse_ect::PolicyClaimsAt::InExtension {
                claims.insert(n.ext.into(), Value::Object(pol));
            } else {
                claims.extend(pol);
            }
        }
        let mut header = Map::new();
        header.insert("alg".into(), "ES256".into());
        header.insert("kid".into(), key.kid().into());
        header.insert("typ".into(), p.typ.into());
        crate::testing::sign_json(&header, &claims, key)
    }
}

/// Each operation through [`Verifier::accept`](wimse_ect::Verifier::accept) (replay protection
/// on) into a [`MemoryLedger`] and through [`ModelLedger::accept`], at [`NOW`]: the same result
/// (`Ok`, or the same code); after every operation the chain verifies and both hold the same
/// tokens in the same order; a rejected operation leaves the ledger's length and head
/// unchanged; and the whole-ledger audit under the same policy finds nothing (SPEC.md §7's invariant: accepting one token at a
/// time never builds a ledger the audit rejects, late parents included).
pub fn dag(ops: &DagOps) {
    let settings = Settings {
        partial: ops.partial,
        ancestor_budget: ops.budget.map_or(wimse_ect::DEFAULT_ANCESTOR_BUDGET, |b| {
            1 + usize::from(b % 12)
        }),
        profile: ops.profile,
        ..Settings::default()
    };
    let verifier = settings.verifier(true);
    let model_settings = settings.model();
    let ledger = MemoryLedger::with_profile(ops.profile.profile());
    let mut model = ModelLedger::new();
    let mut presented: Vec<String> = Vec::new();
    let mut rendered: Vec<(Option<String>, String, u64)> = Vec::new();
    for (i, op) in ops.ops.iter().take(24).enumerate() {
        let token = match op {
            DagOp::Accept(a) => {
                let iat = a.iat(&rendered);
                rendered.push((a.wid(), a.jti(), iat));
                a.render(iat, ops.profile)
            }
            DagOp::Again(n) if !presented.is_empty() => {
                presented[usize::from(*n) % presented.len()].clone()
            }
            DagOp::Again(_) => continue,
        };
        let (len, head) = (ledger.len(), ledger.head());
        let got = verifier
            .accept(&token, NOW, &ledger)
            .map(|_| ())
            .map_err(|e| e.code());
        let want = model.accept(token.as_bytes(), &keys().model, &model_settings);
        assert_eq!(
            got, want,
            "operation {i}: ledger (left) and model (right) disagree on {token:?}"
        );
        assert_eq!(ledger.verify_chain(), Ok(()), "operation {i}");
        match got {
            Ok(()) => assert_eq!(ledger.len(), len + 1, "operation {i}"),
            Err(_) => {
                assert_eq!(
                    (ledger.len(), ledger.head()),
                    (len, head),
                    "operation {i}: a rejection changed the ledger"
                );
            }
        }
        let held: Vec<String> = ledger
            .entries()
            .iter()
            .map(|e| e.ect().token().to_owned())
            .collect();
        assert_eq!(held, model.tokens(), "operation {i}: ledger contents");
        assert_eq!(model.len(), held.len());
        // Signatures were verified on acceptance; the audit re-checks everything else.
        let audit = ledger.validate_all(verifier.policy(), None);
        assert_eq!(
            audit.findings,
            vec![],
            "operation {i}: the ledger built one token at a time fails its own audit"
        );
        presented.push(token);
    }
}

/// Raw fuzzer bytes → [`DagOps`] → [`dag`]; bytes that do not make operations are skipped.
pub fn dag_bytes(data: &[u8]) {
    if let Ok(ops) = DagOps::arbitrary(&mut Unstructured::new(data)) {
        dag(&ops);
    }
}
