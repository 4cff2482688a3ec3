//! SPEC.md §7: DAG validation (ECT-DAG-1..6) in mode `ledger` (the tokens of `before` accepted
//! into an empty ledger first, DAG rules against everything accepted so far) and mode `store`
//! (the token against inline parent tokens). Every token is agent A's unless noted, issued
//! 60 s before [`NOW`] unless noted, with `jti` [`uuid`]`(n)` for small `n`.
//!
//! Decisions of the reference exercised here (`wimse_ect::_documentation::decisions`): the DAG checks run rule by
//! rule (DAG-1, DAG-2, DAG-3, DAG-4 with DAG-5, DAG-6), each first for the token's parents and
//! then for its stored children (a late parent, SPEC.md §7); the acyclicity walk runs only when
//! a stored token names the new token as a parent, so `dag.cycle` and `dag.budget` need a
//! dangling reference (partial mode, or a store); the budget counts every stored child
//! examined and every `par` element the walk examines (SPEC.md §7 "Cost"); a cycle among
//! stored tokens that does not reach the new token is not an error.

use serde_json::{Map, Value, json};

use crate::build::*;
use crate::vector::{DagModeSetting, Settings, Verdict};

/// The default issue time of the tokens here.
const IAT: u64 = NOW - 60;

/// Agent A's token for task `uuid(n)` with parents `uuid(p)` for each `p` of `par`, issued at
/// `iat`.
fn task(n: u32, par: &[u32], iat: u64) -> String {
    sign_a(&claims_of(n, par, iat))
}

/// The claims of [`task`].
fn claims_of(n: u32, par: &[u32], iat: u64) -> Map<String, Value> {
    let par: Vec<String> = par.iter().map(|p| uuid(*p)).collect();
    let par: Vec<&str> = par.iter().map(String::as_str).collect();
    child(&uuid(n), &par, iat)
}

/// [`task`] with `wid` [`uuid`]`(w)`.
fn task_in(w: u32, n: u32, par: &[u32]) -> String {
    let mut c = claims_of(n, par, IAT);
    c.insert("wid".into(), uuid(w).into());
    sign_a(&c)
}

/// [`task`] at [`IAT`] with `pol` set and `pol_decision` `decision`.
fn task_pol(n: u32, par: &[u32], decision: &str) -> String {
    let mut c = claims_of(n, par, IAT);
    c.insert("pol".into(), json!("spending-limit"));
    c.insert("pol_decision".into(), json!(decision));
    sign_a(&c)
}

/// Agent B's token for task `uuid(n)` with parents `par`, issued at [`IAT`].
fn task_b(n: u32, par: &[u32]) -> String {
    let mut c = claims_of(n, par, IAT);
    c.insert("iss".into(), ISS_B.into());
    sign(&header("agent-b"), &c, &key_b())
}

/// Tasks `uuid(first) ..= uuid(last)`, each the parent of the next (the first is a root).
fn chain(first: u32, last: u32) -> Vec<String> {
    (first..=last)
        .map(|n| {
            if n == first {
                task(n, &[], IAT)
            } else {
                task(n, &[n - 1], IAT)
            }
        })
        .collect()
}

/// Roots `uuid(from) ..` (`count` of them).
fn roots(from: u32, count: u32) -> Vec<String> {
    (from..from + count).map(|n| task(n, &[], IAT)).collect()
}

/// Agent A's root token for task `n` with `exec_act` `other_action`: another token with the
/// jti of `task(n, &[], IAT)`.
fn other_action(n: u32) -> String {
    let mut c = claims_of(n, &[], IAT);
    c.insert("exec_act".into(), "other_action".into());
    sign_a(&c)
}

/// A parent held only under another scope than the child's (another `wid`, or a `wid` on one
/// side only): missing in `draft-00` (ECT-DAG-2, `dag.parent_missing`), in the wrong workflow
/// in `draft-01` (ECT-P01-5, `dag.workflow_mismatch`).
fn other_workflow(v: V) -> V {
    if draft01() {
        v.rules(&["ECT-DAG-2", "ECT-P01-5"])
            .invalid("dag.workflow_mismatch")
    } else {
        v.invalid("dag.parent_missing")
    }
}

/// A parent in the child's own scope: valid in both profiles (in `draft-01`, the valid side of
/// ECT-P01-5 too).
fn same_workflow(v: V) -> V {
    if draft01() {
        v.rules(&["ECT-DAG-2", "ECT-P01-5"]).valid()
    } else {
        v.valid()
    }
}

/// The vectors, in order.
pub fn vectors() -> Vec<V> {
    let d1 = ["ECT-DAG-1"];
    let d2 = ["ECT-DAG-2"];
    let d3 = ["ECT-DAG-3"];
    let d4 = ["ECT-DAG-4"];
    let d5 = ["ECT-DAG-5"];
    let d6 = ["ECT-DAG-6"];
    let partial = |s: &mut Settings| s.dag = DagModeSetting::Partial;
    vec![
        // ECT-DAG-2: shapes whose parents are all present.
        V::token("dag/ledger/root", "a root task (par []) into an empty ledger", &d2, task(1, &[], IAT))
            .ledger_after(vec![])
            .valid(),
        V::token("dag/ledger/chain-of-three", "chain 1 <- 2 <- 3, the third task last", &d2, task(3, &[2], IAT))
            .ledger_after(chain(1, 2))
            .valid(),
        V::token("dag/ledger/diamond", "diamond: 2 and 3 depend on 1, 4 on [2, 3]", &d2, task(4, &[2, 3], IAT))
            .ledger_after(vec![task(1, &[], IAT), task(2, &[1], IAT), task(3, &[1], IAT)])
            .valid(),
        V::token("dag/ledger/fan-in-five", "fan-in: five roots, then a task with all five as parents", &d2, task(9, &[1, 2, 3, 4, 5], IAT))
            .ledger_after(roots(1, 5))
            .valid(),
        V::token("dag/ledger/other-issuer-parent", "the parent was issued by agent B, the child by agent A", &d2, task(2, &[1], IAT))
            .ledger_after(vec![task_b(1, &[])])
            .valid(),
        V::token("dag/store/chain-of-three", "store holds 1 and 2 (2 depends on 1); the token depends on 2", &d2, task(3, &[2], IAT))
            .in_store(chain(1, 2))
            .valid(),
        V::token("dag/store/fan-in-five", "store holds five roots; the token depends on all five", &d2, task(9, &[1, 2, 3, 4, 5], IAT))
            .in_store(roots(1, 5))
            .valid(),
        // ECT-DAG-2: missing parents.
        V::token("dag/ledger/parent-missing", "the only parent was never accepted (strict mode)", &d2, task(2, &[1], IAT))
            .ledger_after(vec![])
            .invalid("dag.parent_missing"),
        V::token("dag/ledger/fan-in-one-missing", "fan-in of five, the fourth parent missing (strict mode)", &d2, task(9, &[1, 2, 3, 4, 5], IAT))
            .ledger_after(vec![task(1, &[], IAT), task(2, &[], IAT), task(3, &[], IAT), task(5, &[], IAT)])
            .invalid("dag.parent_missing"),
        V::token("dag/ledger/fan-in-one-missing-partial", "fan-in of five, the fourth parent missing, partial mode: accepted, the parent listed as missing", &d2, task(9, &[1, 2, 3, 4, 5], IAT))
            .ledger_after(vec![task(1, &[], IAT), task(2, &[], IAT), task(3, &[], IAT), task(5, &[], IAT)])
            .settings(partial)
            .valid()
            .flag("PartialMode"),
        V::token("dag/ledger/all-missing-partial", "partial mode, an empty ledger, both parents missing", &d2, task(9, &[1, 2], IAT))
            .ledger_after(vec![])
            .settings(partial)
            .valid()
            .flag("PartialMode"),
        V::token("dag/store/parent-missing", "the store holds another task, not the parent (strict mode)", &d2, task(3, &[2], IAT))
            .in_store(vec![task(1, &[], IAT)])
            .invalid("dag.parent_missing"),
        V::token("dag/store/empty-store", "an empty store, one parent (strict mode)", &d2, task(3, &[2], IAT))
            .in_store(vec![])
            .invalid("dag.parent_missing"),
        // ECT-DAG-2: the parent is looked up in the child's scope only.
        V::token("dag/scope/parent-in-other-wid", "the parent exists only with wid 100; the child has wid 101", &d2, task_in(101, 2, &[1]))
            .ledger_after(vec![task_in(100, 1, &[])])
            .pipe(other_workflow),
        V::token("dag/scope/parent-only-with-wid", "the parent exists only with wid 100; the child has no wid", &d2, task(2, &[1], IAT))
            .ledger_after(vec![task_in(100, 1, &[])])
            .pipe(other_workflow),
        V::token("dag/scope/parent-only-without-wid", "the parent exists only without wid; the child has wid 100", &d2, task_in(100, 2, &[1]))
            .ledger_after(vec![task(1, &[], IAT)])
            .pipe(other_workflow),
        V::token("dag/scope/parent-same-wid", "parent and child both in wid 100", &d2, task_in(100, 2, &[1]))
            .ledger_after(vec![task_in(100, 1, &[])])
            .pipe(same_workflow),
        // ECT-DAG-1: uniqueness of the jti in its scope.
        V::token("dag/duplicate/same-token", "the same token accepted twice into a ledger (DAG-1 comes before RPL-1)", &d1, task(1, &[], IAT))
            .ledger_after(vec![task(1, &[], IAT)])
            .invalid("dag.duplicate_jti"),
        V::token("dag/duplicate/other-token", "another token with the same jti, no wid", &d1, other_action(1))
        .ledger_after(vec![task(1, &[], IAT)])
        .invalid("dag.duplicate_jti"),
        V::token("dag/duplicate/same-wid", "another token with the same jti and the same wid", &d1, {
            let mut c = claims_of(1, &[], IAT - 1);
            c.insert("wid".into(), uuid(100).into());
            sign_a(&c)
        })
        .ledger_after(vec![task_in(100, 1, &[])])
        .invalid("dag.duplicate_jti"),
        V::token("dag/duplicate/other-issuer", "agent B's token with a jti agent A already used", &d1, task_b(1, &[]))
            .ledger_after(vec![task(1, &[], IAT)])
            .invalid("dag.duplicate_jti"),
        V::token("dag/duplicate/in-store", "the store holds a token with the same jti", &d1, other_action(1))
        .in_store(vec![task(1, &[], IAT)])
        .invalid("dag.duplicate_jti"),
        V::token("dag/duplicate/other-wid", "same jti in wid 100 and in wid 101: different scopes", &d1, task_in(101, 1, &[]))
            .ledger_after(vec![task_in(100, 1, &[])])
            .valid(),
        V::token("dag/duplicate/wid-after-none", "same jti, first without wid, then with wid 100: different scopes", &d1, task_in(100, 1, &[]))
            .ledger_after(vec![task(1, &[], IAT)])
            .valid(),
        V::token("dag/duplicate/none-after-wid", "same jti, first with wid 100, then without wid: different scopes", &d1, task(1, &[], IAT))
            .ledger_after(vec![task_in(100, 1, &[])])
            .valid(),
        V::token("dag/duplicate/before-missing-parent", "duplicate jti and a missing parent: DAG-1 is checked first", &d1, task(1, &[7], IAT))
            .ledger_after(vec![task(1, &[], IAT)])
            .invalid("dag.duplicate_jti"),
        // ECT-DAG-3: parent.iat <= child.iat + skew.
        V::token("dag/temporal/parent-later-at-skew", "parent.iat = child.iat + 30 (skew 30)", &d3, task(2, &[1], NOW - 100))
            .ledger_after(vec![task(1, &[], NOW - 70)])
            .valid()
            .flag("Boundary"),
        V::token("dag/temporal/parent-later-beyond-skew", "parent.iat = child.iat + 31 (skew 30)", &d3, task(2, &[1], NOW - 100))
            .ledger_after(vec![task(1, &[], NOW - 69)])
            .invalid("dag.temporal_order")
            .flag("Boundary"),
        V::token("dag/temporal/parent-much-later", "parent.iat = child.iat + 600", &d3, task(2, &[1], NOW - 620))
            .ledger_after(vec![task(1, &[], NOW - 20)])
            .invalid("dag.temporal_order"),
        V::token("dag/temporal/skew-zero-equal", "parent.iat = child.iat with skew 0", &d3, task(2, &[1], NOW - 100))
            .ledger_after(vec![task(1, &[], NOW - 100)])
            .settings(|s| s.skew = 0)
            .valid()
            .flag("Boundary"),
        V::token("dag/temporal/skew-zero-one-later", "parent.iat = child.iat + 1 with skew 0", &d3, task(2, &[1], NOW - 100))
            .ledger_after(vec![task(1, &[], NOW - 99)])
            .settings(|s| s.skew = 0)
            .invalid("dag.temporal_order")
            .flag("Boundary"),
        V::token("dag/temporal/in-store", "store: parent.iat = child.iat + 31 (skew 30)", &d3, task(2, &[1], NOW - 100))
            .in_store(vec![task(1, &[], NOW - 69)])
            .invalid("dag.temporal_order")
            .flag("Boundary"),
        V::token("dag/temporal/second-parent", "two parents, the second issued child.iat + 31", &d3, task(3, &[1, 2], NOW - 100))
            .ledger_after(vec![task(1, &[], NOW - 100), task(2, &[], NOW - 69)])
            .invalid("dag.temporal_order"),
        V::token("dag/temporal/missing-parent-first", "one parent missing, the other too late: DAG-2 is checked first", &d2, task(3, &[1, 2], NOW - 100))
            .ledger_after(vec![task(2, &[], NOW - 20)])
            .invalid("dag.parent_missing"),
        V::token("dag/temporal/partial-mode", "partial mode: the missing parent is skipped, the present one is too late", &d3, task(3, &[1, 2], NOW - 100))
            .ledger_after(vec![task(2, &[], NOW - 20)])
            .settings(partial)
            .invalid("dag.temporal_order")
            .flag("PartialMode"),
        // ECT-DAG-4: cycles.
        V::token("dag/cycle/store-two", "store holds 1 with par [2]; the token 2 has par [1]", &d4, task(2, &[1], IAT))
            .in_store(vec![task(1, &[2], IAT)])
            .invalid("dag.cycle"),
        V::token("dag/cycle/store-three", "store holds 1 (par [2]) and 2 (par [3]); the token 3 has par [1]", &d4, task(3, &[1], IAT))
            .in_store(vec![task(1, &[2], IAT), task(2, &[3], IAT)])
            .invalid("dag.cycle"),
        V::token("dag/cycle/store-via-second-parent", "store holds 1 (root) and 2 (par [4]); the token 4 has par [1, 2]", &d4, task(4, &[1, 2], IAT))
            .in_store(vec![task(1, &[], IAT), task(2, &[4], IAT)])
            .invalid("dag.cycle"),
        V::token("dag/cycle/store-cycle-elsewhere", "store holds 1 (par [2]) and 2 (par [1]), a cycle; the token 3 (par [1]) is not on it", &d4, task(3, &[1], IAT))
            .in_store(vec![task(1, &[2], IAT), task(2, &[1], IAT)])
            .valid(),
        V::token("dag/cycle/store-cycle-elsewhere-walked", "store holds 1 (par [2]), 2 (par [1]) and 4 (par [3]); the token 3 (par [1]) is named by 4, so the walk runs; it meets the 1-2 cycle but never 3", &d4, task(3, &[1], IAT))
            .in_store(vec![task(1, &[2], IAT), task(2, &[1], IAT), task(4, &[3], IAT)])
            .valid(),
        V::token("dag/cycle/store-referenced-no-cycle", "store holds 1 (root) and 2 (par [3]); the token 3 (par [1]) is named by 2 but 1 does not lead back to 3", &d4, task(3, &[1], IAT))
            .in_store(vec![task(1, &[], IAT), task(2, &[3], IAT)])
            .valid(),
        V::token("dag/cycle/ledger-partial", "partial mode: 1 accepted with par [2] (missing); then 2 arrives with par [1]", &d4, task(2, &[1], IAT))
            .ledger_after(vec![task(1, &[2], IAT)])
            .settings(partial)
            .invalid("dag.cycle")
            .flag("PartialMode"),
        V::token("dag/cycle/ledger-partial-long", "partial mode: chain 1 <- 2 <- 3 where 1 has par [4] (missing); then 4 arrives with par [3]", &d4, task(4, &[3], IAT))
            .ledger_after(vec![task(1, &[4], IAT), task(2, &[1], IAT), task(3, &[2], IAT)])
            .settings(partial)
            .invalid("dag.cycle")
            .flag("PartialMode"),
        V::token("dag/cycle/ledger-partial-late-parent", "partial mode: 2 accepted with par [1] (missing); then 1 arrives as a root: no cycle", &d4, task(1, &[], IAT))
            .ledger_after(vec![task(2, &[1], IAT)])
            .settings(partial)
            .valid()
            .flag("PartialMode"),
        // ECT-DAG-5: the ancestor budget of the ECT-DAG-4 walk.
        V::token("dag/budget/exhausted", "partial mode, budget 3: chain 1 <- 2 <- 3 <- 4, then 9 with par [5] (missing); 5 arrives with par [4]: 4 lookups (the stored child 9, the edges 4 -> 3, 3 -> 2, 2 -> 1)", &d5, task(5, &[4], IAT))
            .ledger_after({
                let mut before = chain(1, 4);
                before.push(task(9, &[5], IAT));
                before
            })
            .settings(partial_budget(3))
            .invalid("dag.budget")
            .flag("PartialMode")
            .flag("Boundary"),
        V::token("dag/budget/at-limit", "the same with budget 4: the 4 lookups fit exactly", &["ECT-DAG-5", "ECT-DAG-4"], task(5, &[4], IAT))
            .ledger_after({
                let mut before = chain(1, 4);
                before.push(task(9, &[5], IAT));
                before
            })
            .settings(partial_budget(4))
            .valid()
            .flag("PartialMode")
            .flag("Boundary"),
        V::token("dag/budget/store-exhausted", "store, budget 2: chain 1 <- 2 <- 3 and 9 with par [4]; the token 4 (par [3]) is named by 9: 3 lookups (9, then the edges 3 -> 2, 2 -> 1)", &d5, task(4, &[3], IAT))
            .in_store({
                let mut store = chain(1, 3);
                store.push(task(9, &[4], IAT));
                store
            })
            .settings(|s| s.ancestor_budget = 2)
            .invalid("dag.budget")
            .flag("Boundary"),
        V::token("dag/budget/store-at-limit", "the same with budget 3", &d5, task(4, &[3], IAT))
            .in_store({
                let mut store = chain(1, 3);
                store.push(task(9, &[4], IAT));
                store
            })
            .settings(|s| s.ancestor_budget = 3)
            .valid()
            .flag("Boundary"),
        // ECT-DAG-6: parent policy decisions.
        V::token("dag/policy/parent-rejected", "the parent's pol_decision is rejected", &d6, task(2, &[1], IAT))
            .ledger_after(vec![task_pol(1, &[], "rejected")])
            .invalid("dag.parent_policy"),
        V::token("dag/policy/parent-pending", "the parent's pol_decision is pending_human_review", &d6, task(2, &[1], IAT))
            .ledger_after(vec![task_pol(1, &[], "pending_human_review")])
            .invalid("dag.parent_policy"),
        V::token("dag/policy/parent-approved", "the parent's pol_decision is approved", &d6, task(2, &[1], IAT))
            .ledger_after(vec![task_pol(1, &[], "approved")])
            .valid(),
        V::token("dag/policy/child-rejected", "the child itself carries pol_decision rejected; its parent has none", &d6, task_pol(2, &[1], "rejected"))
            .ledger_after(vec![task(1, &[], IAT)])
            .valid(),
        V::token("dag/policy/second-parent-rejected", "two parents, the second rejected", &d6, task(3, &[1, 2], IAT))
            .ledger_after(vec![task(1, &[], IAT), task_pol(2, &[], "rejected")])
            .invalid("dag.parent_policy"),
        V::token("dag/policy/in-store", "store: the parent's pol_decision is rejected", &d6, task(2, &[1], IAT))
            .in_store(vec![task_pol(1, &[], "rejected")])
            .invalid("dag.parent_policy"),
        V::token("dag/policy/grandparent-rejected", "the grandparent is rejected, the parent approved: only direct parents count", &d6, task(3, &[2], IAT))
            .in_store(vec![task_pol(1, &[], "rejected"), task_pol(2, &[1], "approved")])
            .valid(),
        V::token("dag/policy/temporal-first", "the parent is rejected and issued child.iat + 31: DAG-3 is checked first", &d3, task(2, &[1], NOW - 100))
            .in_store(vec![{
                let mut c = claims_of(1, &[], NOW - 69);
                c.insert("pol".into(), json!("spending-limit"));
                c.insert("pol_decision".into(), json!("rejected"));
                sign_a(&c)
            }])
            .invalid("dag.temporal_order"),
        V::token("dag/budget/plain-chain-longer-than-budget", "strict mode, budget 2: chain 1 <- 2 <- 3 <- 4 accepted, then 5 with par [4]; no stored token names 5, so the reference does not walk", &d5, task(5, &[4], IAT))
            .ledger_after(chain(1, 4))
            .settings(|s| s.ancestor_budget = 2)
            .acceptable("dag.budget", Verdict::Valid, "LazyCycleWalk"),
        // ECT-CLM-5: UUIDs compare case-insensitively in DAG uniqueness and lookups, and in the
        // cycle walk. The upper-case spelling is always in the token under test, so an
        // implementation that rejects upper-case hex answers the UUID rule's code (alt_codes).
        V::token("dag/case/duplicate-jti-upper", "the ledger holds a jti in lower case; the token has the same UUID in upper case", &["ECT-DAG-1", "ECT-CLM-5"], upper_jti(task_claims_of(0xabc, &[])))
            .ledger_after(vec![task(0xabc, &[], IAT)])
            .invalid("dag.duplicate_jti")
            .alt_code("claims.jti")
            .flag("UppercaseUuid"),
        V::token("dag/case/parent-upper", "the ledger holds the parent in lower case; the child names it in upper case", &["ECT-DAG-2", "ECT-CLM-5"], sign_a(&child(&uuid(0xbcd), &[&uuid(0xabc).to_uppercase()], IAT)))
            .ledger_after(vec![task(0xabc, &[], IAT)])
            .acceptable("claims.par", Verdict::Valid, "UppercaseUuid"),
        V::token("dag/case/parent-upper-in-store", "the store holds the parent in lower case; the child names it in upper case", &["ECT-DAG-2", "ECT-CLM-5"], sign_a(&child(&uuid(0xbcd), &[&uuid(0xabc).to_uppercase()], IAT)))
            .in_store(vec![task(0xabc, &[], IAT)])
            .acceptable("claims.par", Verdict::Valid, "UppercaseUuid"),
        V::token("dag/case/wid-upper-duplicate", "the ledger holds jti 1 in a wid written in lower case; the token has jti 1 in the same wid in upper case", &["ECT-DAG-1", "ECT-CLM-5"], {
            let mut c = claims_of(1, &[], IAT);
            c.insert("wid".into(), uuid(0xdef).to_uppercase().into());
            sign_a(&c)
        })
        .ledger_after(vec![task_in(0xdef, 1, &[])])
        .invalid("dag.duplicate_jti")
        .alt_code("claims.wid")
        .flag("UppercaseUuid"),
        V::token("dag/case/wid-upper-parent", "the parent is in a wid written in lower case; the child is in the same wid written in upper case", &["ECT-DAG-2", "ECT-CLM-5"], {
            let mut c = claims_of(2, &[1], IAT);
            c.insert("wid".into(), uuid(0xdef).to_uppercase().into());
            sign_a(&c)
        })
        .ledger_after(vec![task_in(0xdef, 1, &[])])
        .acceptable("claims.wid", Verdict::Valid, "UppercaseUuid"),
        V::token("dag/case/cycle-upper-jti", "partial mode: 1 names the missing 0xabc; 0xabc arrives in upper case naming 1, closing the cycle", &["ECT-DAG-4", "ECT-CLM-5"], upper_jti(task_claims_of(0xabc, &[1])))
            .ledger_after(vec![task(1, &[0xabc], IAT)])
            .settings(partial)
            .invalid("dag.cycle")
            .alt_code("claims.jti")
            .flag("PartialMode")
            .flag("UppercaseUuid"),
        // Late parents (SPEC.md §7): the token arrives after stored children that named it
        // while it was missing, and is checked against each of them as their parent.
        V::token("dag/late/rejected-parent", "partial mode: 2 accepted with par [1] (missing); then 1 arrives with pol_decision rejected, and 2 already depends on it", &d6, task_pol(1, &[], "rejected"))
            .ledger_after(vec![task(2, &[1], IAT)])
            .settings(partial)
            .invalid("dag.parent_policy")
            .flag("PartialMode"),
        V::token("dag/late/pending-parent", "partial mode: 2 accepted with par [1] (missing); then 1 arrives with pol_decision pending_human_review", &d6, task_pol(1, &[], "pending_human_review"))
            .ledger_after(vec![task(2, &[1], IAT)])
            .settings(partial)
            .invalid("dag.parent_policy")
            .flag("PartialMode"),
        V::token("dag/late/approved-parent", "partial mode: 2 and 3 accepted with par [1] (missing); then 1 arrives with pol_decision approved", &d6, task_pol(1, &[], "approved"))
            .ledger_after(vec![task(2, &[1], IAT), task(3, &[1], IAT)])
            .settings(partial)
            .valid()
            .flag("PartialMode"),
        V::token("dag/late/parent-too-new", "partial mode: 2 (iat now - 100) accepted with par [1] (missing); then 1 arrives with iat now - 69, child.iat + 31 (skew 30)", &d3, task(1, &[], NOW - 69))
            .ledger_after(vec![task(2, &[1], NOW - 100)])
            .settings(partial)
            .invalid("dag.temporal_order")
            .flag("PartialMode")
            .flag("Boundary"),
        V::token("dag/late/parent-at-skew", "the same with 1 issued at now - 70, child.iat + 30: valid", &d3, task(1, &[], NOW - 70))
            .ledger_after(vec![task(2, &[1], NOW - 100)])
            .settings(partial)
            .valid()
            .flag("PartialMode")
            .flag("Boundary"),
        V::token("dag/late/second-child-too-new", "partial mode: 2 (iat now - 60) and 3 (iat now - 200) name the missing 1; 1 arrives at now - 60: too new for its second stored child", &d3, task(1, &[], NOW - 60))
            .ledger_after(vec![task(2, &[1], NOW - 60), task(3, &[1], NOW - 200)])
            .settings(partial)
            .invalid("dag.temporal_order")
            .flag("PartialMode"),
        V::token("dag/late/cycle-through-descendant", "partial mode: 2 names the missing 1, 3 names 2, 4 is a root; 1 arrives with par [4, 3], closing 1 -> 3 -> 2 -> 1", &d4, task(1, &[4, 3], IAT))
            .ledger_after(vec![task(2, &[1], IAT), task(3, &[2], IAT), task(4, &[], IAT)])
            .settings(partial)
            .invalid("dag.cycle")
            .flag("PartialMode"),
        V::token("dag/late/valid-parent", "partial mode: 2 names the missing 1, 3 names 2, 4 is a root; 1 arrives with par [4]: no rule fails either way", &["ECT-DAG-3", "ECT-DAG-4", "ECT-DAG-6"], task(1, &[4], IAT))
            .ledger_after(vec![task(2, &[1], IAT), task(3, &[2], IAT), task(4, &[], IAT)])
            .settings(partial)
            .valid()
            .flag("PartialMode"),
        V::token("dag/late/store-rejected-parent", "store (strict mode): 2 names 1 as a parent; the token 1 has pol_decision rejected", &d6, task_pol(1, &[], "rejected"))
            .in_store(vec![task(2, &[1], IAT)])
            .invalid("dag.parent_policy"),
        V::token("dag/late/store-parent-too-new", "store: 2 (iat now - 100) names 1; the token 1 is issued at now - 69", &d3, task(1, &[], NOW - 69))
            .in_store(vec![task(2, &[1], NOW - 100)])
            .invalid("dag.temporal_order")
            .flag("Boundary"),
        V::token("dag/late/store-valid-parent", "store: 2 names 1; the token 1 (approved, same iat) is a valid parent of it", &["ECT-DAG-3", "ECT-DAG-6"], task_pol(1, &[], "approved"))
            .in_store(vec![task(2, &[1], IAT)])
            .valid(),
        // ECT-DAG-5 counts lookups (SPEC.md §7 "Cost"): every stored child examined and every
        // par element the walk examines, including ones that lead nowhere.
        V::token("dag/budget/edges-exhausted", "partial mode, budget 5: 5 names 10..14 (all missing), 2 names the missing 1; 1 arrives with par [5]: 6 lookups (the child 2 and 5's five edges), one walked token", &d5, task(1, &[5], IAT))
            .ledger_after(vec![task(5, &[10, 11, 12, 13, 14], IAT), task(2, &[1], IAT)])
            .settings(partial_budget(5))
            .invalid("dag.budget")
            .flag("PartialMode")
            .flag("Boundary"),
        V::token("dag/budget/edges-at-limit", "the same with budget 6", &d5, task(1, &[5], IAT))
            .ledger_after(vec![task(5, &[10, 11, 12, 13, 14], IAT), task(2, &[1], IAT)])
            .settings(partial_budget(6))
            .valid()
            .flag("PartialMode")
            .flag("Boundary"),
        V::token("dag/budget/children-exhausted", "partial mode, budget 3: 2, 3, 4 and 5 name the missing 1; 1 arrives as a root: 4 stored children to examine", &d5, task(1, &[], IAT))
            .ledger_after(vec![task(2, &[1], IAT), task(3, &[1], IAT), task(4, &[1], IAT), task(5, &[1], IAT)])
            .settings(partial_budget(3))
            .invalid("dag.budget")
            .flag("PartialMode")
            .flag("Boundary"),
        V::token("dag/budget/children-at-limit", "the same with budget 4", &d5, task(1, &[], IAT))
            .ledger_after(vec![task(2, &[1], IAT), task(3, &[1], IAT), task(4, &[1], IAT), task(5, &[1], IAT)])
            .settings(partial_budget(4))
            .valid()
            .flag("PartialMode")
            .flag("Boundary"),
        V::token("dag/budget/store-edges-exhausted", "store, budget 3: 5 names 10, 11, 12 (not in the store), 2 names 1; the token 1 (par [5]): 4 lookups", &d5, task(1, &[5], IAT))
            .in_store(vec![task(5, &[10, 11, 12], IAT), task(2, &[1], IAT)])
            .settings(|s| s.ancestor_budget = 3)
            .invalid("dag.budget")
            .flag("Boundary"),
        V::token("dag/budget/store-edges-at-limit", "the same with budget 4", &d5, task(1, &[5], IAT))
            .in_store(vec![task(5, &[10, 11, 12], IAT), task(2, &[1], IAT)])
            .settings(|s| s.ancestor_budget = 4)
            .valid()
            .flag("Boundary"),
    ]
}

/// Partial DAG mode with the ancestor budget `budget`.
fn partial_budget(budget: usize) -> impl FnOnce(&mut Settings) {
    move |s| {
        s.dag = DagModeSetting::Partial;
        s.ancestor_budget = budget;
    }
}

/// The claims of [`task`] at [`IAT`].
fn task_claims_of(n: u32, par: &[u32]) -> Map<String, Value> {
    claims_of(n, par, IAT)
}

/// Agent A's token for `claims` with its `jti` written in upper case.
fn upper_jti(mut claims: Map<String, Value>) -> String {
    let jti = claims["jti"].as_str().expect("a string jti").to_uppercase();
    claims.insert("jti".into(), jti.into());
    sign_a(&claims)
}
