//! SPEC.md §10, profile `draft-01`: the cases of ECT-P01-2 (`Mutation::P01Pred`), ECT-P01-3
//! (`P01ExtSize`, `P01ExtDepth`), ECT-P01-4 (`P01ExtPolicy`) and ECT-P01-5
//! (`P01WorkflowMismatch`, early and late, strict and partial). ECT-P01-1 (`P01Typ`) is in
//! `header` with the other header parameters. These mutations apply in `draft-01` only
//! ([`Mutation::profiles`]).

use serde_json::{Map, Value, json};

use super::claims::{fit_ext, policy_target};
use super::{Mutation, Mutator};
use crate::testing::{Stage, to_bytes};
use wimse_ect::DagMode;

impl Mutator {
    pub(super) fn p01_pred(&mut self) -> Stage {
        let pred = self.profile.claims.par;
        self.edit_payload(|rng, payload| {
            // `par` (draft-00's name, and RFC 9126's registered claim) mostly.
            let name = *rng.pick(&["par", "par", "par", "Pred", "preds", "predecessors"]);
            let value = payload.remove(pred).expect("a valid token has pred");
            payload.insert(name.into(), value);
            format!("{pred} renamed {name}")
        })
    }

    pub(super) fn p01_ext(&mut self, m: Mutation) -> Stage {
        let profile = self.profile;
        self.edit_payload(|rng, payload| {
            let n = &profile.claims;
            let mut ext = Map::new();
            // Valid policy members count towards the limits like any other member
            // (the library's decision: ECT-CLM-12 applies to the whole `ect_ext`).
            let with_policy = rng.below(2) == 0;
            if with_policy {
                ext.insert(n.pol.into(), "policy-p01".into());
                ext.insert(n.pol_decision.into(), "approved".into());
            }
            let mut what = if m == Mutation::P01ExtSize {
                let size = 4097 + rng.below(4);
                ext.insert("nest".into(), json!({"a": {"b": [{}]}}));
                ext.insert("pad".into(), "".into());
                let base = to_bytes(&ext).len();
                ext.insert("pad".into(), "x".repeat(size - base).into());
                format!("{} of {size} bytes", n.ext)
            } else {
                let arrays = rng.below(2) == 0;
                let mut nested = if arrays { json!([]) } else { json!({}) };
                for _ in 0..4 {
                    nested = if arrays {
                        json!([nested])
                    } else {
                        json!({ "n": nested })
                    };
                }
                ext.insert("deep".into(), nested);
                format!("{} nested 6 deep", n.ext)
            };
            if with_policy {
                what.push_str(", policy members inside");
            }
            payload.insert(n.ext.into(), Value::Object(ext));
            // draft-00's `ext` is an unknown claim in draft-01, ignored whatever it holds.
            if n.ext != "ext" && rng.below(2) == 0 {
                let decoy = rng
                    .pick(&[
                        json!({}),
                        json!({"pad": "x".repeat(5000)}),
                        json!({"a": {"b": {"c": {"d": {"e": {"f": {}}}}}}}),
                        json!("not an object"),
                    ])
                    .clone();
                payload.insert("ext".into(), decoy);
                what.push_str(", a top-level ext");
            }
            what
        })
    }

    pub(super) fn p01_ext_policy(&mut self) -> Stage {
        let profile = self.profile;
        self.edit_payload(|rng, payload| {
            let n = &profile.claims;
            let (variant, pol, decision) = rng
                .pick(&[
                    (
                        "pol_decision denied",
                        Some(json!("policy")),
                        Some(json!("denied")),
                    ),
                    (
                        "pol_decision approve",
                        Some(json!("policy")),
                        Some(json!("approve")),
                    ),
                    (
                        "pol_decision Approved",
                        Some(json!("policy")),
                        Some(json!("Approved")),
                    ),
                    ("pol a number", Some(json!(7)), Some(json!("approved"))),
                    (
                        "pol an object",
                        Some(json!({"id": "p"})),
                        Some(json!("approved")),
                    ),
                    (
                        "pol_decision true",
                        Some(json!("policy")),
                        Some(json!(true)),
                    ),
                    (
                        "pol_decision null",
                        Some(json!("policy")),
                        Some(Value::Null),
                    ),
                    ("pol empty", Some(json!("")), Some(json!("approved"))),
                    ("pol_decision without pol", None, Some(json!("rejected"))),
                    ("pol without pol_decision", Some(json!("policy")), None),
                ])
                .clone();
            let target = policy_target(payload, &profile);
            target.remove(n.pol);
            target.remove(n.pol_decision);
            if let Some(p) = pol {
                target.insert(n.pol.into(), p);
            }
            if let Some(d) = decision {
                target.insert(n.pol_decision.into(), d);
            }
            fit_ext(payload, &profile);
            // Top-level policy claims are unknown in draft-01, ignored: a valid pair does not
            // make up for the bad members, an invalid one adds no error.
            let decoy = match rng.below(3) {
                0 => {
                    payload.insert("pol".into(), "top-level".into());
                    payload.insert("pol_decision".into(), "approved".into());
                    ", a valid top-level pair"
                }
                1 => {
                    payload.insert("pol".into(), 5.into());
                    payload.insert("pol_decision".into(), "bogus".into());
                    ", an invalid top-level pair"
                }
                _ => "",
            };
            format!("{}: {variant}{decoy}", n.ext)
        })
    }

    /// A scope other than `own`: another workflow of the case, a new `wid`, or (a `wid` on
    /// one side only) none when `own` has one.
    fn other_scope(&mut self, own: Option<&str>) -> Option<String> {
        let same = |w: Option<&str>| match (w, own) {
            (None, None) => true,
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        };
        let mut options: Vec<Option<String>> = Vec::new();
        for s in &self.wf.steps {
            let w = s.claims.wid.clone();
            if !same(w.as_deref()) && !options.contains(&w) {
                options.push(w);
            }
        }
        if own.is_some() && !options.contains(&None) {
            options.push(None);
        }
        options.push(Some(self.fresh_uuid()));
        self.rng.pick(&options).clone()
    }

    pub(super) fn p01_workflow_mismatch(&mut self) -> Stage {
        let t = self.target();
        let partial = self.rng.below(2) == 0;
        if partial {
            self.wf.policy.dag.mode = DagMode::Partial;
        }
        let mode = if partial { "partial" } else { "strict" };
        let own = self.wf.steps[t].claims.wid.clone();
        let other = self.other_scope(own.as_deref());
        let iat = self.wf.steps[t].claims.iat;
        if self.rng.below(2) == 0 {
            // Early: a pred element held only under `other`: an earlier token of another
            // workflow whose jti this one lacks, or a new root there.
            let jti = self.wf.steps[t].claims.jti.clone();
            let held: Vec<usize> = (0..t)
                .filter(|&i| {
                    let s = &self.wf.steps[i].claims;
                    s.wid != own
                        && self.wf.find(own.as_deref(), &s.jti).is_none()
                        && !s.jti.eq_ignore_ascii_case(&jti)
                })
                .collect();
            let (parent, t) = if !held.is_empty() && self.rng.below(2) == 0 {
                let i = *self.rng.pick(&held);
                (self.wf.steps[i].claims.jti.clone(), t)
            } else {
                let r = self.derive_root(t);
                self.wf.steps[r].claims.wid = other;
                self.resign(r);
                // The root first, then the token naming it.
                self.wf.steps.swap(t, r);
                (self.wf.steps[t].claims.jti.clone(), r)
            };
            let max_par = self.wf.policy.max_par;
            let par = &mut self.wf.steps[t].claims.par;
            if par.len() < max_par && (par.is_empty() || self.rng.below(2) == 0) {
                par.push(parent.clone());
            } else {
                let k = self.rng.below(par.len());
                par[k] = parent.clone();
            }
            self.resign(t);
            let held_in = self.wf.steps[..t]
                .iter()
                .find(|s| s.claims.jti.eq_ignore_ascii_case(&parent))
                .map(|s| s.claims.wid.clone());
            self.describe(format!(
                "{mode} mode, pred {parent} held only in {held_in:?}, not in {own:?}"
            ));
            Stage::Step(t)
        } else {
            // Late: a token of this workflow names x (held here first in strict mode, missing
            // in partial mode), then x arrives in `other`.
            let x = self.fresh_uuid();
            if !partial {
                self.derive(t, x.clone(), Vec::new(), iat);
            }
            let c = self.fresh_uuid();
            self.derive(t, c, vec![x.clone()], iat);
            let late = self.derive(t, x.clone(), Vec::new(), iat);
            self.wf.steps[late].claims.wid = other.clone();
            self.resign(late);
            self.describe(format!(
                "{mode} mode, {x} named in {own:?}, then arriving in {other:?}"
            ));
            Stage::Step(late)
        }
    }
}
