//! DAG validation (SPEC.md §7, the draft's §6): a token that passed the per-token checks is
//! judged against the tokens a store already holds.
//!
//! The rules' order and cost, and the late-parent checks, are on [`DagValidator`].

use std::collections::HashSet;
use std::sync::Arc;

use crate::claims::Claims;
use crate::decision::PolicyDecision;
use crate::error::{ConfigError, Error, Result, check_range};
use crate::profile::Profile;
use crate::store::{EctStore, ScopeKey, StoredEct, contains};

/// Default clock skew between a parent's and a child's `iat`, in seconds (SPEC.md §7).
pub const DEFAULT_SKEW_SECONDS: u64 = 30;
/// Default ancestor budget (SPEC.md §7).
pub const DEFAULT_ANCESTOR_BUDGET: usize = 10_000;
/// Accepted range of [`DagValidator::skew_seconds`].
pub const SKEW_RANGE: std::ops::RangeInclusive<u64> = 0..=3_600;
/// Accepted range of [`DagValidator::ancestor_budget`].
pub const ANCESTOR_BUDGET_RANGE: std::ops::RangeInclusive<usize> = 1..=10_000_000;

/// What to do with a parent the store does not hold (ECT-DAG-2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DagMode {
    /// A missing parent is `dag.parent_missing` (the default).
    Strict,
    /// Unavailable parents (the draft's §6.3) are accepted and listed in
    /// [`DagOutcome::missing_parents`]; they are never reported as verified.
    Partial,
}

/// Checks ECT-DAG-1..6 for a new token against an [`EctStore`].
///
/// Start from [`DagValidator::new`] (SPEC.md's defaults) and change fields; [`Self::check`]
/// validates the settings ([`crate::Verifier::new`] calls it through
/// [`crate::Policy::validate`]).
///
/// # Late parents
///
/// A new token N may be a *late parent*: the store already holds children that named N's
/// `jti` while it was missing (partial mode, or a store filled from elsewhere). N is then
/// checked against each such child C with the same rules in the other direction (SPEC.md §7,
/// "Late parents"): ECT-DAG-3 (`N.iat <= C.iat + skew`), ECT-DAG-4/5 (no cycle through N,
/// within the budget) and ECT-DAG-6 (N's `pol_decision` allows dependent tasks, since it
/// already has one). The error names the child. So a store built by accepting tokens one at a
/// time never holds a state that the whole-store audit ([`crate::audit()`]) rejects.
///
/// # Order of checks
///
/// Rule-major, as for the claim rules, each rule first for N's own parents and then for its
/// stored children: ECT-DAG-1; ECT-DAG-2 for each `par` element in order (with ECT-P01-5 for
/// an element the scope does not hold, in `draft-01`); ECT-P01-5 for a stored token of
/// another workflow naming N (`draft-01`); ECT-DAG-3 for each
/// present parent in `par` order, then for each of the first `ancestor_budget` stored children
/// in store order (oldest first); ECT-DAG-4 with ECT-DAG-5 (more stored children than the
/// budget is `dag.budget`; otherwise the bounded walk, only when N has a stored child);
/// ECT-DAG-6 for each present parent in `par` order, then (when N's own decision blocks
/// dependants) for its first stored child. The first failure is returned, naming the parent or
/// child concerned.
///
/// # Cost (SPEC.md §7, "Cost")
///
/// One `get` for ECT-DAG-1 and one per `par` element, and one [`EctStore::referrers`] query
/// for N's stored children (at most `ancestor_budget + 1` of them); in `draft-01` one
/// [`EctStore::get_elsewhere`] per `par` element the scope does not hold and one
/// [`EctStore::referrer_elsewhere`]. Nothing more when N has no
/// stored child. Otherwise every stored child examined and every `par` element the walk
/// examines (an edge, whether it leads to a stored token, to one already visited or to none)
/// counts one against `ancestor_budget`; the `get`s of DAG-2 that start the walk are not
/// counted again. Exceeding the budget is `dag.budget`, never a silent pass. So one
/// acceptance costs at most `1 + |par|` lookups plus `ancestor_budget` counted ones, whatever
/// the store holds, and each token is visited at most once per walk.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DagValidator {
    /// Strict (default) or partial handling of missing parents (ECT-DAG-2).
    pub mode: DagMode,
    /// Allowed clock skew for ECT-DAG-3, in seconds (default 30, range 0..=3600).
    pub skew_seconds: u64,
    /// Maximum number of lookups the late-parent checks and the ECT-DAG-4 walk may make
    /// before failing with `dag.budget` (ECT-DAG-5; default 10 000, range 1..=10 000 000):
    /// each stored child examined and each `par` element the walk examines counts one (see
    /// "Cost" above).
    pub ancestor_budget: usize,
}

impl Default for DagValidator {
    fn default() -> Self {
        Self::new()
    }
}

/// The result of a successful DAG check.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DagOutcome {
    /// Parents found in the store that passed ECT-DAG-3 and ECT-DAG-6, in `par` order, spelled
    /// as the child's `par` spells them (the store may hold one in another letter case,
    /// ECT-CLM-5). With [`Self::missing_parents`] this is exactly `par`.
    pub verified_parents: Vec<String>,
    /// Parents the store does not hold (partial mode only; always empty in strict mode), in
    /// `par` order. They were not verified in any way.
    pub missing_parents: Vec<String>,
}

impl DagValidator {
    /// SPEC.md's defaults: strict, 30 s skew, budget 10 000.
    pub fn new() -> Self {
        DagValidator {
            mode: DagMode::Strict,
            skew_seconds: DEFAULT_SKEW_SECONDS,
            ancestor_budget: DEFAULT_ANCESTOR_BUDGET,
        }
    }

    /// The defaults in partial mode.
    pub fn partial() -> Self {
        DagValidator {
            mode: DagMode::Partial,
            ..Self::new()
        }
    }

    /// Checks the settings against their ranges.
    pub fn check(&self) -> Result<(), ConfigError> {
        check_range("skew_seconds", self.skew_seconds, SKEW_RANGE)?;
        check_range(
            "ancestor_budget",
            self.ancestor_budget,
            ANCESTOR_BUDGET_RANGE,
        )
    }

    /// Checks a token that passed §7 (its `claims`) against `store`, as its parents' child
    /// and as its stored children's (late) parent, in the order and within the cost given on
    /// [`DagValidator`].
    ///
    /// `profile` is the verifier's: with workflow consistency (`draft-01`, ECT-P01-5) a
    /// parent the scope does not hold is looked up in every other scope
    /// ([`EctStore::get_elsewhere`]) and refused if found there, and the new token is refused
    /// if a stored token of another workflow already names it ([`EctStore::referrer_elsewhere`],
    /// checked right after the parents, before ECT-DAG-3).
    pub fn validate(
        &self,
        profile: &Profile,
        claims: &Claims,
        store: &(impl EctStore + ?Sized),
    ) -> Result<DagOutcome> {
        let scope = claims.wid.as_deref();
        let budget = self.ancestor_budget;

        // ECT-DAG-1: the store holds no token with this jti in this scope.
        if store.get(scope, &claims.jti)?.is_some() {
            return Err(Error::DuplicateJti(claims.jti.clone()));
        }

        // ECT-DAG-2: every parent resolves in the child's scope (strict), or is listed as
        // missing (partial), never as verified.
        let mut parents: Vec<Arc<StoredEct>> = Vec::with_capacity(claims.par.len());
        let mut verified_parents = Vec::with_capacity(claims.par.len());
        let mut missing_parents = Vec::new();
        // ECT-P01-5 (draft-01), element by element with ECT-DAG-2: a parent held only under
        // another workflow is refused in both modes; it is not missing.
        for p in &claims.par {
            match store.get(scope, p)? {
                Some(parent) => {
                    parents.push(parent);
                    verified_parents.push(p.clone());
                }
                None => {
                    if profile.workflow_consistency
                        && let Some(held) = store.get_elsewhere(scope, p)?
                    {
                        return Err(Error::WorkflowMismatch {
                            parent: p.clone(),
                            held_in: held.wid().map(str::to_owned),
                        });
                    }
                    match self.mode {
                        DagMode::Partial => missing_parents.push(p.clone()),
                        DagMode::Strict => return Err(Error::ParentMissing(p.clone())),
                    }
                }
            }
        }
        // ECT-P01-5 for a late parent (decision: SPEC.md §10 is silent): a stored token of
        // another workflow that already names this jti would have its parent in the wrong
        // workflow.
        if profile.workflow_consistency
            && let Some(child) = store.referrer_elsewhere(scope, &claims.jti)?
        {
            return Err(Error::LateWorkflowMismatch {
                child: child.jti().to_owned(),
                child_wid: child.wid().map(str::to_owned),
            });
        }

        // Late parents (SPEC.md §7): the stored tokens that already name this token as a
        // parent, oldest first. One query; one more than the budget is asked for, so that
        // "more than the budget" is known without examining them (ECT-DAG-5 below).
        let children = store.referrers(scope, &claims.jti, budget.saturating_add(1))?;
        let examined = &children[..children.len().min(budget)];

        // ECT-DAG-3: P.iat <= child.iat + skew for every present parent, then the same with
        // this token as the parent of each stored child (within the budget).
        for parent in &parents {
            self.check_temporal_order(parent.claims(), claims)?;
        }
        for child in examined {
            self.check_late_temporal_order(claims, child.claims())?;
        }

        // ECT-DAG-4 with ECT-DAG-5: following par from the new token never reaches its own
        // jti, within the budget, of which each stored child examined above took one.
        //
        // Why no walk is needed when no stored token names the new one: the store holds no
        // token with the new jti (ECT-DAG-1 above), so a par walk from the new token can only
        // come back to it through a stored token whose par names the new jti, that is,
        // through one of `children`. With none, no cycle can pass through the new token, and
        // accepting costs the 1 + |par| lookups above whatever the store's size. Children
        // exist only in partial mode or in a store filled from elsewhere: in an append-only
        // store where every token passed strict DAG-2, every parent precedes its child.
        if children.len() > budget {
            return Err(Error::AncestorBudget(budget));
        }
        if !children.is_empty() {
            self.walk_ancestors(claims, &parents, store, budget - children.len())?;
        }

        // ECT-DAG-6: no dependent task of a rejected or pending parent: of a present parent,
        // nor of this token, which already has the stored children as dependants.
        for parent in &parents {
            check_parent_policy(parent.claims())?;
        }
        if let Some(child) = children.first() {
            check_parent_policy(claims).map_err(|e| match e {
                Error::ParentPolicy { decision, .. } => Error::LateParentPolicy {
                    child: child.jti().to_owned(),
                    decision,
                },
                other => other,
            })?;
        }

        Ok(DagOutcome {
            verified_parents,
            missing_parents,
        })
    }

    /// ECT-DAG-3: `parent.iat <= child.iat + skew` (equality at the boundary is valid).
    pub(crate) fn check_temporal_order(&self, parent: &Claims, child: &Claims) -> Result<()> {
        if parent.iat > child.iat.saturating_add(self.skew_seconds) {
            return Err(Error::TemporalOrder {
                parent: parent.jti.clone(),
                parent_iat: parent.iat,
                child_iat: child.iat,
            });
        }
        Ok(())
    }

    /// ECT-DAG-3 for a late parent: the same inequality, the error naming the stored child.
    fn check_late_temporal_order(&self, parent: &Claims, child: &Claims) -> Result<()> {
        if parent.iat > child.iat.saturating_add(self.skew_seconds) {
            return Err(Error::LateParentTemporalOrder {
                child: child.jti.clone(),
                parent_iat: parent.iat,
                child_iat: child.iat,
            });
        }
        Ok(())
    }

    /// ECT-DAG-4 and ECT-DAG-5: a depth-first walk over the stored ancestors (the present
    /// parents first, the last one on top), visiting each at most once. Every `par` element
    /// of a visited token costs one of the `left` lookups before it is examined; running out
    /// is `dag.budget`, a `par` element equal to the new token's `jti` is `dag.cycle` naming
    /// the visited token (the new token's stored child on the cycle).
    fn walk_ancestors(
        &self,
        claims: &Claims,
        parents: &[Arc<StoredEct>],
        store: &(impl EctStore + ?Sized),
        mut left: usize,
    ) -> Result<()> {
        let scope = claims.wid.as_deref();
        let mut visited: HashSet<ScopeKey> = HashSet::new();
        let mut stack: Vec<Arc<StoredEct>> = Vec::new();
        for parent in parents {
            if visited.insert(ScopeKey::of(parent.claims())) {
                stack.push(Arc::clone(parent));
            }
        }
        while let Some(node) = stack.pop() {
            for p in &node.claims().par {
                // ECT-DAG-5: every edge is a counted lookup, never a silent pass.
                left = left
                    .checked_sub(1)
                    .ok_or(Error::AncestorBudget(self.ancestor_budget))?;
                // UUIDs compare ASCII case-insensitively (ECT-CLM-5).
                if p.eq_ignore_ascii_case(&claims.jti) {
                    return Err(Error::Cycle(node.jti().to_owned()));
                }
                if contains(&visited, scope, p) {
                    continue;
                }
                if let Some(next) = store.get(scope, p)? {
                    visited.insert(ScopeKey::of(next.claims()));
                    stack.push(next);
                }
            }
        }
        Ok(())
    }
}

/// ECT-DAG-6: a parent whose `pol_decision` is `rejected` or `pending_human_review` cannot have
/// dependent tasks.
pub(crate) fn check_parent_policy(parent: &Claims) -> Result<()> {
    match &parent.pol {
        Some(pol)
            if matches!(
                pol.decision,
                PolicyDecision::Rejected | PolicyDecision::PendingHumanReview
            ) =>
        {
            Err(Error::ParentPolicy {
                parent: parent.jti.clone(),
                decision: pol.decision,
            })
        }
        _ => Ok(()),
    }
}
