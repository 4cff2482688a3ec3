//! DAG validation (SPEC.md §7, the draft's §6): a token that passed the per-token checks is
//! judged against the tokens a store already holds.
//!
//! Order of checks (rule-major, as for the claim rules): ECT-DAG-1; ECT-DAG-2 for each `par`
//! element in order; ECT-DAG-3 for each present parent in order; ECT-DAG-4 with ECT-DAG-5
//! (the bounded ancestor walk); ECT-DAG-6 for each present parent in order. The first failure
//! is returned, naming the parent concerned.

use std::collections::HashSet;
use std::sync::Arc;

use crate::claims::{Claims, PolicyDecision};
use crate::error::{ConfigError, Error, Result, check_range};
use crate::store::{EctStore, ScopeKey, StoredEct};

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
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DagValidator {
    /// Strict (default) or partial handling of missing parents (ECT-DAG-2).
    pub mode: DagMode,
    /// Allowed clock skew for ECT-DAG-3, in seconds (default 30, range 0..=3600).
    pub skew_seconds: u64,
    /// Maximum number of distinct ancestors the ECT-DAG-4 walk may visit before failing with
    /// `dag.budget` (ECT-DAG-5; default 10 000, range 1..=10 000 000).
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

    /// Checks a token that passed §7 (its `claims`) against `store`. Costs O(|par|) store
    /// lookups, plus a walk of at most `ancestor_budget` ancestors in the rare case described
    /// at ECT-DAG-4 below.
    pub fn validate(
        &self,
        claims: &Claims,
        store: &(impl EctStore + ?Sized),
    ) -> Result<DagOutcome> {
        let scope = claims.wid.as_deref();

        // ECT-DAG-1: the store holds no token with this jti in this scope.
        if store.get(scope, &claims.jti).is_some() {
            return Err(Error::DuplicateJti(claims.jti.clone()));
        }

        // ECT-DAG-2: every parent resolves in the child's scope (strict), or is listed as
        // missing (partial), never as verified.
        let mut parents: Vec<Arc<StoredEct>> = Vec::with_capacity(claims.par.len());
        let mut verified_parents = Vec::with_capacity(claims.par.len());
        let mut missing_parents = Vec::new();
        for p in &claims.par {
            match store.get(scope, p) {
                Some(parent) => {
                    parents.push(parent);
                    verified_parents.push(p.clone());
                }
                None if self.mode == DagMode::Partial => missing_parents.push(p.clone()),
                None => return Err(Error::ParentMissing(p.clone())),
            }
        }

        // ECT-DAG-3: P.iat <= child.iat + skew for every present parent.
        for parent in &parents {
            self.check_temporal_order(parent.claims(), claims)?;
        }

        // ECT-DAG-4: following par from the new token never reaches its own jti.
        //
        // Why a full walk is not needed on every append: the store holds no token with the
        // new jti (ECT-DAG-1 above). A par walk from the new token can therefore only come
        // back to it through a stored token whose par names the new jti although no such
        // token was stored: a dangling reference, which only partial mode (or a store filled
        // from elsewhere) creates. In an append-only store where every token passed DAG-1 and
        // strict DAG-2, each parent was stored before its child, so every par link points to
        // an earlier entry and no walk can return to a newer token: a new token cannot close
        // a cycle. `is_referenced` answers exactly whether such a dangling reference exists
        // (a ledger keeps the set; the trait's default conservatively says yes), and only then
        // does the walk run, bounded by the ancestor budget (ECT-DAG-5).
        if store.is_referenced(scope, &claims.jti) {
            self.walk_ancestors(claims, &parents, store)?;
        }

        // ECT-DAG-6: no dependent task of a rejected or pending parent.
        for parent in &parents {
            check_parent_policy(parent.claims())?;
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

    /// ECT-DAG-4 and ECT-DAG-5: a depth-first walk over the stored ancestors, visiting each at
    /// most once, failing with `dag.cycle` when a par link names the new token's jti and with
    /// `dag.budget` when more than `ancestor_budget` distinct ancestors would be visited.
    fn walk_ancestors(
        &self,
        claims: &Claims,
        parents: &[Arc<StoredEct>],
        store: &(impl EctStore + ?Sized),
    ) -> Result<()> {
        let scope = claims.wid.as_deref();
        let mut visited: HashSet<ScopeKey> = HashSet::new();
        let mut stack: Vec<Arc<StoredEct>> = Vec::new();
        for parent in parents {
            if visited.insert(ScopeKey::of(parent.claims())) {
                stack.push(Arc::clone(parent));
            }
        }
        if visited.len() > self.ancestor_budget {
            return Err(Error::AncestorBudget(self.ancestor_budget));
        }
        while let Some(node) = stack.pop() {
            for p in &node.claims().par {
                // ECT-CLM-5: the same UUID in any letter case.
                if p.eq_ignore_ascii_case(&claims.jti) {
                    return Err(Error::Cycle(node.jti().to_owned()));
                }
                if let Some(next) = store.get(scope, p)
                    && visited.insert(ScopeKey::of(next.claims()))
                {
                    // ECT-DAG-5: never a silent pass when the budget runs out.
                    if visited.len() > self.ancestor_budget {
                        return Err(Error::AncestorBudget(self.ancestor_budget));
                    }
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
