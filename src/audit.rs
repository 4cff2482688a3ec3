//! Whole-ledger audit: re-checks a ledger's entries one by one and reports every bad entry
//! rather than stopping at the first: [`audit()`] of entries received from elsewhere,
//! [`audit_file`] of a ledger file, and [`LedgerAudit::validate_all`] of any [`Ledger`].
//!
//! The audit reads a ledger; no ledger calls it (the ledgers hand out their entries through
//! [`Ledger::read`], page by page). What is checked, in which order and at what cost is on
//! [`audit()`].

use std::collections::HashMap;
use std::path::Path;

use crate::check::check_token;
use crate::claims::Claims;
use crate::dag::{DagMode, check_parent_policy};
use crate::error::{Error, Result};
use crate::keys::KeyResolver;
use crate::ledger::{
    ChainHash, Ledger, RawEntry, Tail, read_regular_file, split_lines, stream_entries,
};
use crate::policy::Policy;
use crate::store::{ScopeKey, lookup};

/// One problem with one entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The entry's position in the ledger (its expected sequence number).
    pub seq: u64,
    /// The entry's `jti`, when its token parsed.
    pub jti: Option<String>,
    /// What is wrong, with its SPEC.md code and rule id.
    pub error: Error,
}

/// A parent that no entry of the ledger holds (partial mode).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingParent {
    /// The child entry's position.
    pub seq: u64,
    /// The missing parent's `jti`.
    pub parent: String,
}

/// The result of an audit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditReport {
    /// Number of entries examined.
    pub entries: u64,
    /// The last entry's recorded hash, when it parsed.
    pub head: Option<ChainHash>,
    /// Every problem found, by entry position, in the order listed on [`audit()`].
    pub findings: Vec<Finding>,
    /// Parents found nowhere in the ledger (partial mode only; in strict mode they are
    /// findings). Never counted as verified.
    pub missing_parents: Vec<MissingParent>,
}

impl AuditReport {
    /// Whether no problem was found.
    pub fn is_valid(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Audits a sequence of entries (as parsed from a ledger's lines, unparseable lines as their
/// error). The DAG settings are `policy.dag`.
///
/// For each entry, in this order, at most one finding per item:
/// 1. the chain (ECT-LED-4): canonical line, `seq` equal to the position, `prev` equal to the
///    previous entry's `hash`, `hash` recomputed;
/// 2. the token: every rule of §2–§6 except ECT-RPL-1, evaluated at the entry's acceptance
///    time `at`; the signature rules (ECT-KEY-1, ECT-KEY-2, ECT-SIG-*) only when keys are
///    given;
/// 3. ECT-LED-3: the first entry holding a `(wid, jti)` owns it; later ones are duplicates;
/// 4. the DAG rules against the whole ledger: ECT-DAG-2 (strict mode: every parent is an
///    earlier entry; partial mode: parents found nowhere are listed in
///    [`AuditReport::missing_parents`], and a parent accepted after its child is allowed),
///    with, in profile `draft-01`, ECT-P01-5 (a parent no entry of the child's workflow holds
///    but an entry of another does, wherever it stands in the ledger, in either mode),
///    ECT-DAG-3, ECT-DAG-4 (the entry lies on a cycle of `par` links), ECT-DAG-6.
///
/// The profile is `policy.profile`: the tokens are read under its claim names.
///
/// Cost: O(V + E) for V entries and E `par` links (hash lookups, one strongly-connected-
/// components pass for the cycles), plus the per-token checks. No ancestor walk, so no budget.
pub fn audit(
    entries: &[Result<RawEntry>],
    policy: &Policy,
    keys: Option<&dyn KeyResolver>,
) -> AuditReport {
    audit_stream(entries.iter().cloned(), policy, keys)
}

/// [`audit()`] of entries read one at a time (for example [`crate::stream_entries`] of a
/// ledger): each token is held only while it is checked, so memory is the claims of the
/// entries (for the DAG rules), not the tokens. Same checks, order and cost as [`audit()`].
pub fn audit_stream(
    entries: impl IntoIterator<Item = Result<RawEntry>>,
    policy: &Policy,
    keys: Option<&dyn KeyResolver>,
) -> AuditReport {
    let mut found: Vec<Vec<Error>> = Vec::new();
    let mut claims: Vec<Option<Claims>> = Vec::new();
    let mut owner: HashMap<ScopeKey, usize> = HashMap::new();
    // Profile draft-01 (ECT-P01-5): the first entry holding each jti, in any scope.
    let mut any_scope: HashMap<ScopeKey, usize> = HashMap::new();
    let mut prev = Some(ChainHash::GENESIS);
    let mut head = None;
    for (i, entry) in entries.into_iter().enumerate() {
        let mut errors = Vec::new();
        let mut parsed = None;
        head = None;
        match entry {
            Err(e) => {
                errors.push(e);
                prev = None;
            }
            Ok(raw) => {
                // 1. ECT-LED-4: the chain.
                errors.extend(raw.link().error_at(i as u64, prev.as_ref()));
                prev = Some(raw.hash);
                head = Some(raw.hash);
                // 2. The token rules, at the acceptance time.
                match check_token(policy, keys, raw.token.as_bytes(), Some(raw.at)) {
                    Ok(v) => parsed = Some(v.into_parts().2),
                    Err(e) => errors.push(e),
                }
            }
        }
        // 3. ECT-LED-3: the first entry with a (wid, jti) owns it.
        if let Some(c) = &parsed
            && *owner.entry(ScopeKey::of(c)).or_insert(i) != i
        {
            errors.push(Error::LedgerDuplicate(c.jti.clone()));
        }
        if let Some(c) = &parsed
            && policy.profile.workflow_consistency
        {
            any_scope.entry(ScopeKey::new(None, &c.jti)).or_insert(i);
        }
        found.push(errors);
        claims.push(parsed);
    }
    let n = claims.len();

    // 4. The DAG rules, building the par graph (child -> parent) as we go.
    let dag = &policy.dag;
    let mut missing_parents = Vec::new();
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, c) in claims.iter().enumerate() {
        let Some(c) = c else { continue };
        let (mut dag2, mut dag3, mut dag6) = (None, None, None);
        for p in &c.par {
            let Some(&j) = lookup(&owner, c.wid.as_deref(), p) else {
                // ECT-P01-5 (draft-01): held in another workflow only, in either mode.
                if let Some(&k) = lookup(&any_scope, None, p) {
                    let held_in = claims[k].as_ref().and_then(|h| h.wid.clone());
                    dag2.get_or_insert_with(|| Error::WorkflowMismatch {
                        parent: p.clone(),
                        held_in,
                    });
                    continue;
                }
                match dag.mode {
                    DagMode::Strict => {
                        dag2.get_or_insert_with(|| Error::ParentMissing(p.clone()));
                    }
                    DagMode::Partial => missing_parents.push(MissingParent {
                        seq: i as u64,
                        parent: p.clone(),
                    }),
                }
                continue;
            };
            // ECT-DAG-2 (strict): the parent must have been in the ledger before the child.
            if j > i && dag.mode == DagMode::Strict {
                dag2.get_or_insert_with(|| Error::ParentMissing(p.clone()));
            }
            let parent = claims[j].as_ref().expect("owners have parsed claims");
            if let Err(e) = dag.check_temporal_order(parent, c) {
                dag3.get_or_insert(e);
            }
            if let Err(e) = check_parent_policy(parent) {
                dag6.get_or_insert(e);
            }
            edges[i].push(j);
        }
        found[i].extend(dag2);
        found[i].extend(dag3);
        // ECT-DAG-4 is added below, between DAG-3 and DAG-6.
        found[i].extend(dag6);
    }

    // ECT-DAG-4: an entry on a cycle is one whose strongly connected component has more than
    // one member (a self-link is impossible: ECT-CLM-9).
    let component = strongly_connected_components(&edges);
    let mut size = vec![0usize; n];
    for &c in &component {
        size[c] += 1;
    }
    for i in 0..n {
        if size[component[i]] > 1 {
            let via = edges[i]
                .iter()
                .find(|&&j| component[j] == component[i])
                .expect("a cycle member links to another member");
            let parent = claims[*via].as_ref().expect("graph nodes have claims");
            let error = Error::Cycle(parent.jti.clone());
            // Keep rule order: before a DAG-6 finding if there is one.
            let at = found[i]
                .iter()
                .position(|e| matches!(e, Error::ParentPolicy { .. }))
                .unwrap_or(found[i].len());
            found[i].insert(at, error);
        }
    }

    let findings = found
        .into_iter()
        .enumerate()
        .flat_map(|(i, errors)| {
            let jti = claims[i].as_ref().map(|c| c.jti.clone());
            errors.into_iter().map(move |error| Finding {
                seq: i as u64,
                jti: jti.clone(),
                error,
            })
        })
        .collect();
    AuditReport {
        entries: n as u64,
        head,
        findings,
        missing_parents,
    }
}

/// The whole-ledger audit of every [`Ledger`], as a method: import this trait
/// to call it on a ledger.
///
/// ```
/// use wimse_ect::{LedgerAudit, MemoryLedger, Policy};
///
/// let ledger = MemoryLedger::new();
/// let report = ledger.validate_all(&Policy::new("spiffe://example.org/b"), None);
/// assert!(report.is_valid());
/// assert_eq!(report.entries, 0);
/// ```
pub trait LedgerAudit {
    /// Audits every entry ([`audit_stream`] of [`crate::stream_entries`]: the entries there
    /// were when it started, read page by page): the chain, each token's rules at its
    /// acceptance time (signatures only when `keys` are given), duplicates, and the DAG rules
    /// with `policy.dag`. Linear in entries plus `par` links. A read error (a backend that
    /// cannot answer) is a finding at the position it stopped at, so the report is invalid.
    fn validate_all(&self, policy: &Policy, keys: Option<&dyn KeyResolver>) -> AuditReport;
}

impl<L: Ledger + ?Sized> LedgerAudit for L {
    fn validate_all(&self, policy: &Policy, keys: Option<&dyn KeyResolver>) -> AuditReport {
        audit_stream(stream_entries(self), policy, keys)
    }
}

/// Audits a ledger file without changing it. Every line is examined, unparseable ones
/// reported as `ledger.chain`, and what follows the last `\n` is returned (see "Recovery" on
/// [`FileLedger`](crate::FileLedger)): a torn tail, which is not audited, or a last line
/// without its `\n`, which is audited like the others.
pub fn audit_file(
    path: impl AsRef<Path>,
    policy: &Policy,
    keys: Option<&dyn KeyResolver>,
) -> Result<(AuditReport, Option<Tail>)> {
    let path = path.as_ref();
    let bytes = read_regular_file(path)?;
    let (lines, tail) = split_lines(&bytes);
    Ok((
        audit_stream(lines.map(RawEntry::parse_line), policy, keys),
        tail,
    ))
}

/// Tarjan's algorithm, iterative (no recursion, so any chain length): the component number of
/// every node. O(V + E).
fn strongly_connected_components(edges: &[Vec<usize>]) -> Vec<usize> {
    struct Tarjan {
        index: Vec<usize>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        component: Vec<usize>,
        next_index: usize,
        next_component: usize,
        // (node, position of the next edge to follow)
        calls: Vec<(usize, usize)>,
    }
    impl Tarjan {
        fn visit(&mut self, v: usize) {
            self.index[v] = self.next_index;
            self.low[v] = self.next_index;
            self.next_index += 1;
            self.stack.push(v);
            self.on_stack[v] = true;
            self.calls.push((v, 0));
        }
    }
    const UNSEEN: usize = usize::MAX;
    let n = edges.len();
    let mut t = Tarjan {
        index: vec![UNSEEN; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        component: vec![UNSEEN; n],
        next_index: 0,
        next_component: 0,
        calls: Vec::new(),
    };
    for root in 0..n {
        if t.index[root] != UNSEEN {
            continue;
        }
        t.visit(root);
        while let Some(&(v, pos)) = t.calls.last() {
            if let Some(&w) = edges[v].get(pos) {
                t.calls.last_mut().expect("non-empty").1 += 1;
                if t.index[w] == UNSEEN {
                    t.visit(w);
                } else if t.on_stack[w] {
                    t.low[v] = t.low[v].min(t.index[w]);
                }
                continue;
            }
            t.calls.pop();
            if let Some(&(u, _)) = t.calls.last() {
                t.low[u] = t.low[u].min(t.low[v]);
            }
            if t.low[v] == t.index[v] {
                while let Some(w) = t.stack.pop() {
                    t.on_stack[w] = false;
                    t.component[w] = t.next_component;
                    if w == v {
                        break;
                    }
                }
                t.next_component += 1;
            }
        }
    }
    t.component
}

#[cfg(test)]
mod tests {
    use super::strongly_connected_components as scc;

    #[test]
    fn components() {
        // 0 -> 1 -> 2 -> 0 is a cycle; 3 -> 0 hangs off it; 4 -> 5 -> 4 another; 5 -> 3.
        let c = scc(&[vec![1], vec![2], vec![0], vec![0], vec![5], vec![4, 3]]);
        assert_eq!(c[0], c[1]);
        assert_eq!(c[1], c[2]);
        assert_ne!(c[3], c[0]);
        assert_eq!(c[4], c[5]);
        assert_ne!(c[4], c[0]);
        assert_ne!(c[3], c[4]);
        // A long chain (no recursion, no stack overflow): all singletons.
        let chain: Vec<Vec<usize>> = (0..200_000)
            .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
            .collect();
        let c = scc(&chain);
        let distinct: std::collections::HashSet<_> = c.iter().collect();
        assert_eq!(distinct.len(), 200_000);
    }
}
