//! SPEC.md §7, DAG validation: the cases of ECT-DAG-1 (`Mutation::DuplicateJti`), ECT-DAG-2
//! (`ParentMissing`), ECT-DAG-3 (`TemporalOrder`), ECT-DAG-4 (`Cycle`), ECT-DAG-5
//! (`AncestorBudget`) and ECT-DAG-6 (`ParentPolicy`), each appending the valid tokens the rule
//! needs beforehand.

use super::{Mutator, flip_case};
use crate::testing::workflow::set_policy;
use crate::testing::{NOW, Stage};
use wimse_ect::DagMode;
use wimse_ect::{PolicyClaims, PolicyDecision};

impl Mutator {
    pub(super) fn duplicate_jti(&mut self) -> Stage {
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

    pub(super) fn parent_missing(&mut self) -> Stage {
        self.edit_claims(|this, t| {
            let scope = this.wf.steps[t].claims.wid.clone();
            // A jti held only in another scope, or one nobody holds. In draft-01 only the
            // latter: one held in another workflow is ECT-P01-5 there (P01WorkflowMismatch).
            let consistency = this.profile.workflow_consistency;
            let elsewhere: Vec<String> = this.wf.steps[..t]
                .iter()
                .filter(|s| s.claims.wid != scope)
                .map(|s| s.claims.jti.clone())
                .filter(|j| {
                    this.wf.find(scope.as_deref(), j).is_none()
                        && !j.eq_ignore_ascii_case(&this.wf.steps[t].claims.jti)
                })
                .collect();
            let missing = if !consistency && !elsewhere.is_empty() && this.rng.below(2) == 0 {
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

    pub(super) fn temporal_order(&mut self) -> Stage {
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

    pub(super) fn cycle(&mut self) -> Stage {
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

    pub(super) fn ancestor_budget(&mut self) -> Stage {
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

    pub(super) fn parent_policy(&mut self) -> Stage {
        let j = self.target();
        let decision = if self.rng.below(2) == 0 {
            PolicyDecision::Rejected
        } else {
            PolicyDecision::PendingHumanReview
        };
        let p = self.derive_root(j);
        let pol = PolicyClaims {
            pol: "policy".into(),
            decision,
        };
        set_policy(&mut self.wf.steps[p].claims, &self.profile, Some(pol));
        self.resign(p);
        let jti = self.fresh_uuid();
        let parent = vec![self.wf.steps[p].claims.jti.clone()];
        let iat = self.wf.steps[p].claims.iat;
        let c = self.derive(j, jti, parent, iat);
        self.describe(format!("a child of a {} parent", decision.as_str()));
        Stage::Step(c)
    }
}
