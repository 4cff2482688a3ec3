//! The generators reach what they promise: every boundary and shape the valid-workflow and
//! single-token strategies are documented to produce shows up in a deterministic sample.

use std::collections::{BTreeSet, HashMap};

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use serde_json::Value;
use wimse_ect::{Audience, Claims, DRAFT_00, DRAFT_01};
use wimse_ect_conformance::testing::{AUDIENCE, NOW, Workflow, valid_token, valid_workflow};

/// `n` values of `strategy` from a fixed seed.
fn sample(strategy: impl Strategy<Value = Workflow>, n: usize) -> Vec<Workflow> {
    let mut runner = TestRunner::deterministic();
    (0..n)
        .map(|_| strategy.new_tree(&mut runner).expect("a value").current())
        .collect()
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Features of one token (with its workflow), by name.
fn token_features(wf: &Workflow, c: &Claims, seen: &mut BTreeSet<&'static str>) {
    let p = &wf.policy;
    let mut see = |cond: bool, name: &'static str| {
        if cond {
            seen.insert(name);
        }
    };
    if let Some(ext) = &c.ext {
        let compact = serde_json::to_vec(ext).expect("serializes").len();
        see(compact == 4096, "ext of exactly 4096 bytes");
        see(depth(&Value::Object(ext.clone())) == 5, "ext of depth 5");
    }
    see(
        !c.par.is_empty() && c.par.len() == p.max_par,
        "par at max_par",
    );
    see(c.par.len() == 100, "par of 100 elements");
    see(
        c.iat == NOW - p.max_iat_age_seconds,
        "iat at now - max_iat_age",
    );
    see(c.iat == NOW + p.leeway_seconds, "iat at now + leeway");
    see(
        c.exp + p.leeway_seconds == NOW + 1,
        "exp at now - leeway + 1",
    );
    see(c.exp == (1 << 53) - 1, "exp at 2^53 - 1");
    see(c.exp == c.iat + 1, "exp at iat + 1");
    see(c.wid.is_some(), "wid present");
    see(c.nbf.is_some(), "nbf present");
    see(c.nbf == Some(c.iat), "nbf at iat");
    see(c.wid.is_none(), "wid absent");
    see(c.inp_hash.is_some() && c.out_hash.is_some(), "both hashes");
    see(c.pol.is_some(), "policy claims");
    see(
        matches!(&c.aud, Audience::Many(a) if a.len() > 1),
        "aud of several ids",
    );
    see(c.aud == Audience::One(AUDIENCE.into()), "aud a string");
    see(
        c.jti.chars().any(|ch| ch.is_ascii_uppercase()),
        "upper-case jti",
    );
    see(p.leeway_seconds == 0, "leeway 0");
    see(p.dag.skew_seconds == 0, "skew 0");
}

#[test]
fn generators_reach_every_documented_boundary_and_shape() {
    let mut seen = BTreeSet::new();
    for wf in sample(valid_token(), 300) {
        token_features(&wf, &wf.steps[0].claims, &mut seen);
    }
    for wf in sample(valid_workflow(), 120) {
        // UUIDs compare case-insensitively (ECT-CLM-5): keys are lower-cased.
        let key = |wid: Option<&str>, jti: &str| {
            (wid.map(str::to_ascii_lowercase), jti.to_ascii_lowercase())
        };
        let mut children: HashMap<(Option<String>, String), usize> = HashMap::new();
        let mut jtis: HashMap<String, BTreeSet<Option<String>>> = HashMap::new();
        let by_id: HashMap<(Option<String>, String), &Claims> = wf
            .steps
            .iter()
            .map(|s| (key(s.claims.wid.as_deref(), &s.claims.jti), &s.claims))
            .collect();
        for s in &wf.steps {
            let c = &s.claims;
            token_features(&wf, c, &mut seen);
            let (wid, jti) = key(c.wid.as_deref(), &c.jti);
            jtis.entry(jti).or_default().insert(wid);
            for p in &c.par {
                *children.entry(key(c.wid.as_deref(), p)).or_default() += 1;
                let parent = by_id[&key(c.wid.as_deref(), p)];
                if *p != parent.jti {
                    seen.insert("a parent named in another letter case");
                }
                if parent.iat == c.iat + wf.policy.dag.skew_seconds
                    && wf.policy.dag.skew_seconds > 0
                {
                    seen.insert("child exactly skew before its parent");
                }
            }
            if c.par.len() >= 2 {
                seen.insert("fan-in (several parents)");
            }
        }
        if children.values().any(|&n| n >= 2) {
            seen.insert("fan-out (several children)");
        }
        let roots = wf.steps.iter().filter(|s| s.claims.par.is_empty()).count();
        if roots >= 2 {
            seen.insert("several roots");
        }
        if wf.steps.len() >= 3 && wf.steps.iter().skip(1).all(|s| s.claims.par.len() == 1) {
            seen.insert("chain-like (every later token has one parent)");
        }
        if wf.steps.len() == 64 {
            seen.insert("64 tokens");
        }
        if wf.steps.len() == 1 {
            seen.insert("1 token");
        }
        if jtis.values().any(|scopes| scopes.len() >= 2) {
            seen.insert("a jti reused in another scope");
        }
        let issuers: BTreeSet<&str> = wf.steps.iter().map(|s| s.claims.iss.as_str()).collect();
        if issuers.len() >= 3 {
            seen.insert("three or more issuers");
        }
        if wf.steps.iter().any(|s| s.header.contains_key("x5t")) {
            seen.insert("ignored header parameters");
        }
        let typs: BTreeSet<String> = wf
            .steps
            .iter()
            .map(|s| {
                s.header["typ"]
                    .as_str()
                    .expect("a string typ")
                    .to_ascii_lowercase()
            })
            .collect();
        if typs.iter().any(|t| t.starts_with("application/")) {
            seen.insert("typ with application/");
        }
        // SPEC.md §10: the profile is part of the generated case.
        if wf.policy.profile == DRAFT_00 {
            seen.insert("profile draft-00");
        } else {
            seen.insert("profile draft-01");
            if typs
                .iter()
                .any(|t| t.ends_with("/exec+jwt") || t == "exec+jwt")
            {
                seen.insert("draft-01 typ exec+jwt");
            }
            if typs.iter().any(|t| t.contains("wimse-exec+jwt")) {
                seen.insert("draft-01 legacy typ wimse-exec+jwt");
            }
            if wf.steps.iter().any(|s| {
                let json = s.claims.to_json(&DRAFT_01);
                json.contains_key("pred")
                    && json
                        .get("ect_ext")
                        .is_some_and(|e| e.get("pol_decision").is_some())
            }) {
                seen.insert("draft-01 policy inside ect_ext");
            }
        }
    }
    let expected: BTreeSet<&str> = [
        "ext of exactly 4096 bytes",
        "ext of depth 5",
        "par at max_par",
        "par of 100 elements",
        "iat at now - max_iat_age",
        "iat at now + leeway",
        "exp at now - leeway + 1",
        "exp at 2^53 - 1",
        "exp at iat + 1",
        "wid present",
        "wid absent",
        "nbf present",
        "nbf at iat",
        "a parent named in another letter case",
        "both hashes",
        "policy claims",
        "aud of several ids",
        "aud a string",
        "upper-case jti",
        "leeway 0",
        "skew 0",
        "child exactly skew before its parent",
        "fan-in (several parents)",
        "fan-out (several children)",
        "several roots",
        "chain-like (every later token has one parent)",
        "64 tokens",
        "1 token",
        "a jti reused in another scope",
        "three or more issuers",
        "ignored header parameters",
        "typ with application/",
        "profile draft-00",
        "profile draft-01",
        "draft-01 typ exec+jwt",
        "draft-01 legacy typ wimse-exec+jwt",
        "draft-01 policy inside ect_ext",
    ]
    .into_iter()
    .collect();
    let missing: Vec<&&str> = expected.difference(&seen).collect();
    assert!(missing.is_empty(), "never generated: {missing:?}");
}

#[test]
fn mutated_cases_are_presented_through_every_delivery() {
    use wimse_ect_conformance::testing::{Delivery, LedgerKind, Mutation, case};
    let mut runner = TestRunner::deterministic();
    let mut seen = BTreeSet::new();
    for _ in 0..60 {
        let c = case(Mutation::ClaimType)
            .new_tree(&mut runner)
            .expect("a value")
            .current();
        seen.insert(format!("{:?}", c.workflow.delivery));
    }
    let all: BTreeSet<String> = [
        Delivery::Inline,
        Delivery::Ledger(LedgerKind::Memory),
        Delivery::Ledger(LedgerKind::File),
    ]
    .iter()
    .map(|d| format!("{d:?}"))
    .collect();
    assert_eq!(seen, all);
}
