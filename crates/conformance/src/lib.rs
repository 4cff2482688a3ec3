//! The conformance kit of `wimse-ect`: spec vectors, the harness that runs them against any
//! implementation, proptest generators of valid and one-rule-broken workflows, an independent
//! model of SPEC.md, and the fuzz oracles.
//!
//! * [`vector`]: the file format of `vectors/*.json` (JSON Schema in `vectors/schema.json`,
//!   generated from these types) and the harness protocol lines.
//! * [`generate`] / [`export`] / [`check`]: the deterministic generator behind
//!   `ect vectors export|check` ([`build`], and one module of vectors per SPEC.md area under
//!   `src/areas/`).
//! * [`reference`](mod@reference): the reference implementation's answer to a case.
//! * [`harness`]: runs every vector against the reference or an external implementation
//!   (`ect conformance`) and renders the results.
//! * [`rules`]: the rule table (every SPEC.md rule id with its codes; `CODES.md`).
//! * [`fixtures`]: fixed keys and signature helpers shared by the generator and the tests.
//! * [`testing`]: proptest strategies of valid workflows and one [`testing::Mutation`] per coded
//!   rule, and the runner that checks them (the property suite of `cargo test`).
//! * [`model`]: a plain, independent model of SPEC.md §2–§8, the fuzz oracles' second opinion.
//! * [`fuzz`]: the oracles behind the cargo-fuzz targets in `fuzz/` (`fuzz/README.md`).
//! * [`contract`]: the contract suites every ledger and replay-cache backend must pass
//!   (`ledger_contract`, `replay_contract`), for this crate's backends and third-party ones.
//!
//! The vector format, the decisions the vectors make and the complete harness protocol (case
//! lines, answers, matching by id, timeouts and restarts, scoring, failure categories,
//! `--verdict-only`, expected failures, the harness's own decisions) are in `VECTORS.md` beside
//! this crate's `Cargo.toml`, which [`rendered`] puts at the top of the generated
//! `vectors/README.md`.
//!
//! # Conformance generators
//!
//! [`testing`] holds the generators behind the conformance suite, for any Rust implementation's
//! tests (proptest is a normal dependency of this crate; no cargo feature is needed):
//!
//! * [`testing::valid_workflow`] / [`testing::valid_workflow_with`]`(`[`testing::WorkflowConfig`]`)`:
//!   1 to 64 tokens in topological order, parents drawn from earlier tokens of the same scope
//!   (chains, fan-out, fan-in, diamonds, several roots), several issuers each with a fixed key
//!   bound to it, `wid` shared, absent or several scopes (with a `jti` sometimes reused across
//!   scopes), optional claims sometimes present and values at their limits: `ext` of exactly 4096
//!   bytes or depth 5, `par` at `max_par`, `iat` at `now - max_iat_age` or `now + leeway`, `exp`
//!   at `now - leeway + 1` or 2^53-1, a child issued exactly `skew` before its parent. A
//!   [`testing::Workflow`] carries the tokens, the trusted keys (JWKS), the policy and each step's
//!   `now`; [`testing::Workflow::run`] presents it to the reference verifier through a
//!   `MemoryLedger`, a `FileLedger`, inline `Execution-Context` fields, a `TokenStore`
//!   accumulating what `verify_in` accepted ([`testing::Delivery::Store`]), or `verify` alone.
//! * [`testing::valid_token`]: one token verified on its own, with up to `max_par` unresolved
//!   parents.
//! * [`testing::workflow_with_late_parents`]: a valid workflow (2 to 32 tokens) in which up to
//!   six tokens that have children are never presented (parents that never come) or presented
//!   after their first child, some changed to break ECT-DAG-3, -4 or -6 the other way (issued
//!   more than `skew` after a child, naming a descendant, a blocking `pol_decision`). Not every
//!   step is meant to be accepted: [`testing::Workflow::run_each`] presents every step, records
//!   each verdict, and audits what was accepted ([`testing::EachReport`]).
//! * [`testing::Mutation`]: one variant per coded rule of SPEC.md (plus ECT-HDR-5, ECT-KEY-3 and
//!   `replay.full`), defined per SPEC.md section under `testing/mutation/`.
//!   [`testing::Mutation::apply`] turns a valid workflow into a [`testing::Case`] that breaks
//!   exactly that rule, re-signed so the intended defect is the only one, with the step that must
//!   fail and the exact code and rule; [`testing::case`]`(m)` is the proptest strategy.
//! * [`testing::stream`]: the adversarial partial-mode stream of the library's
//!   `benches/partial.rs` (SPEC.md §7 "Cost").
//!
//! ```
//! use proptest::strategy::{Strategy, ValueTree};
//! use proptest::test_runner::TestRunner;
//! use wimse_ect_conformance::testing::{Mutation, Stage, case};
//!
//! let mut runner = TestRunner::deterministic();
//! for m in [Mutation::Expired, Mutation::Cycle, Mutation::HttpTooLarge] {
//!     let c = case(m).new_tree(&mut runner).unwrap().current();
//!     // Present c.workflow's steps to your implementation instead; here, the reference one.
//!     let report = c.workflow.run().unwrap();
//!     let rejection = report.rejection.unwrap();
//!     assert_eq!((rejection.at, rejection.error.code()), (c.expected.at, c.expected.code));
//!     assert!(matches!(c.expected.at, Stage::Step(i) if report.accepted.len() == i));
//!     assert_eq!(rejection.changed, None); // ledger and replay cache untouched
//! }
//! ```
//!
//! The suite in the library's `tests/conformance/` checks, with one property per mutation named
//! after its rule (`ect_time_2_expired_token_is_rejected`, ... in `tests/conformance/mutations.rs`):
//! every valid workflow is accepted token by token (memory ledger, file ledger reopened and
//! audited, inline, partial mode); every mutation is rejected at the expected step with exactly
//! the expected code and rule, every earlier step accepted, the ledger (length, head, file bytes)
//! and the replay cache unchanged, whether the case goes through a memory ledger, a file ledger
//! or inline fields (inline only where that cannot change the verdict); `EctBuilder` then
//! `verify` returns exactly the claims given; shuffled members and insignificant whitespace
//! (re-signed) do not change the verdict; a proptest-state-machine test runs `MemoryLedger` and
//! `FileLedger` against a plain list under random accepts, lookups, reopens and audits; and
//! `ect_dag_late_parents_keep_the_ledger_auditable` presents late-parent workflows in strict and
//! partial mode through a memory ledger, a file ledger (reopened) and a `TokenStore`: whatever is
//! accepted one token at a time passes the audit under the same policy, refusals change nothing,
//! and every delivery and the model agree on every step's verdict.
//! `tests/conformance/coverage.rs` fails if a coded rule of SPEC.md has no mutation or a mutation
//! no property. Default case counts are small; the nightly run raises every one of them:
//! `PROPTEST_CASES=2000 cargo test --release -p wimse-ect --test conformance` (about 7 minutes on
//! an idle 2-core machine). A failing case is saved under `tests/proptest-regressions/` and
//! replayed first on every later run; commit those files.
//!
//! # How the generators read SPEC.md
//!
//! Where SPEC.md leaves a choice:
//!
//! * **Exactly one rule**: a mutation that moves a value moves whatever else it must so no other
//!   rule breaks. `exp <= iat` without being expired needs `leeway >= 1`, so ECT-TIME-1 raises a
//!   zero leeway to 1; ECT-TIME-2/-4 move that step's `now` forward and ECT-DAG-3 moves it back
//!   (SPEC.md does not require acceptance times to increase, and neither does the ledger); limits
//!   (`max_token_bytes`, `max_par`, `ancestor_budget`) are lowered to just above what the earlier
//!   tokens need; cycles, budget walks and refused parents are built from tokens the mutation
//!   appends. Three defects are inherent: a `par` element that is not a UUID (ECT-CLM-8) or is
//!   the token's own `jti` (ECT-CLM-9) can never resolve, and an invalid `wid` (ECT-CLM-6) names
//!   no scope; the claim checks reject them before any store is consulted.
//! * **Reachability**: through `Verifier::accept` a replay hits `dag.duplicate_jti` first (the
//!   ledger holds every accepted token), and the ledger's own `ledger.duplicate` check cannot
//!   fire after DAG-1. So ECT-RPL-1 is exercised inline (a receiver with no ledger sees a token
//!   again) and ECT-LED-3 by a correctly re-chained duplicate entry written into a ledger file,
//!   which `FileLedger::open` refuses. `ledger.io` needs a failing disk and is covered by a
//!   fault-injection unit test instead.
//! * **Inline delivery** (a harness convention, not a SPEC.md rule): a step's
//!   `Execution-Context` field carries its own token first, then its parents' tokens; the
//!   receiver verifies the parents without recording them for replay and checks the token
//!   against them with `verify_in`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod areas;
pub mod build;
pub mod contract;
pub mod fixtures;
pub mod fuzz;
pub mod harness;
pub mod model;
pub mod reference;
pub mod rules;
pub mod testing;
pub mod vector;

use std::path::Path;

pub use build::generate;

/// Every flag a vector may carry, with its explanation (the `notes` of the files).
pub const NOTES: &[(&str, &str)] = &[
    (
        "NonCanonicalBase64",
        "A base64url value (a segment, or inp_hash/out_hash) whose last character has non-zero \
         unused bits. RFC 4648 §3.5 allows a decoder to reject it; the reference rejects \
         (jws.base64 in a segment, claims.hash in a hash claim).",
    ),
    (
        "DuplicateMember",
        "A JSON member name appears twice. RFC 7515 §4 allows rejecting or taking the last \
         value; the reference rejects (jws.duplicate_member).",
    ),
    (
        "TypCase",
        "typ in another letter case. Media types are case-insensitive (RFC 2045); the \
         reference accepts, the draft authors' code compares exactly.",
    ),
    (
        "Draft01Typ",
        "typ exec+jwt, the draft-01 value. The reference (profile draft-00) rejects; the \
         draft authors' later code accepts both.",
    ),
    (
        "HighS",
        "An ECDSA signature with s > n/2. Valid ECDSA (RFC 7518 does not require low-S); the \
         reference accepts.",
    ),
    (
        "UppercaseUuid",
        "A UUID in upper-case hex. RFC 9562 says parsers accept either case; the reference \
         accepts, and compares UUIDs case-insensitively everywhere (SPEC.md ECT-CLM-5: replay \
         scope, DAG uniqueness and lookup, duplicate and self parents). An implementation that \
         rejects upper-case hex answers the UUID rule's code (listed in alt_codes where the \
         reference reports another rule).",
    ),
    (
        "DuplicateParent",
        "par lists the same parent twice. The reference rejects (claims.par).",
    ),
    (
        "LegacyHashPrefix",
        "inp_hash/out_hash in the algorithm-prefixed form (sha-256:...) of pre-submission \
         text; invalid in draft-00.",
    ),
    (
        "ExtLimits",
        "ext over 4096 bytes or deeper than 5: SHOULD in draft-00, MUST in draft-01; the \
         reference rejects.",
    ),
    (
        "ExtPolicy",
        "Profile draft-01: pol and pol_decision inside ect_ext (SPEC.md ECT-P01-4). The policy \
         claims moved to a companion draft, so checking them is a choice: ECT-CLM-13 \
         (claims.pol) and ECT-DAG-6 (dag.parent_policy) read them there; the reference checks \
         and rejects, an implementation that treats them as opaque extension members accepts.",
    ),
    (
        "FractionalNumericDate",
        "iat/exp with a fraction or in exponent syntax. RFC 7519 allows fractions; the \
         reference rejects (claims.type, ECT-TIME-5).",
    ),
    (
        "PartialMode",
        "The verifier runs in partial DAG mode (SPEC.md §6.3): missing parents are accepted and \
         listed, never reported as verified.",
    ),
    (
        "LedgerFormat",
        "Uses this crate's ledger file format (README, Ledger entries); an implementation with \
         another format answers skip.",
    ),
    (
        "KnownAnswer",
        "A value fixed by SPEC.md or the draft (hash known answers).",
    ),
    (
        "Boundary",
        "Exactly at, or one unit beyond, a numeric limit.",
    ),
    (
        "Bom",
        "A header or payload starting with a UTF-8 byte order mark. RFC 8259 §8.1 lets a \
         parser ignore it; the reference rejects (jws.json, SPEC.md ECT-JWS-4).",
    ),
    (
        "LoneSurrogate",
        "A string holding a lone UTF-16 surrogate escape (\\ud800). RFC 8259 §8.2 calls the \
         behaviour unpredictable; the reference rejects (jws.json, SPEC.md ECT-JWS-4).",
    ),
    (
        "NestingLimit",
        "JSON nested deeper than 127 levels, the top object included. RFC 8259 §9 lets a parser \
         set its limit; the reference rejects (jws.json, SPEC.md ECT-JWS-4).",
    ),
    (
        "NotBefore",
        "A token with nbf. The draft does not mention nbf; RFC 7519 §4.1.5 says a token MUST \
         NOT be accepted before it. The reference honours it (time.not_yet_valid, \
         ECT-TIME-6, when nbf > now + leeway; claims.type when it is not a NumericDate); an \
         implementation that ignores nbf accepts.",
    ),
    (
        "TrailingWhitespace",
        "JSON whitespace after the header or payload object. RFC 8259 makes it part of the JSON \
         text; SPEC.md forbids trailing bytes without saying whether whitespace counts. The \
         reference accepts (jws.json otherwise).",
    ),
    (
        "LazyCycleWalk",
        "A chain longer than the ancestor budget. The reference walks ancestors only when a \
         stored token names the new one as a parent (README, Decisions) and accepts; an \
         implementation that walks on every append rejects with dag.budget. Both are safe.",
    ),
    (
        "KeySetStrictness",
        "A trusted key set this crate refuses beyond SPEC.md's ECT-KEY-3 list (README, \
         Decisions): a kid missing, empty, not a string or repeated, one public key twice \
         (under any kids: with different iss bindings its holder could choose its issuer \
         through kid; SPEC.md ECT-KEY-3), alg other than ES256, use other than sig, an empty \
         set. Accepting it is harmless or merely \
         ambiguous; the reference refuses (key.invalid).",
    ),
    (
        "NumberFormat",
        "ext holds a number whose text differs from the way serde_json writes it back (spaces and \
         trailing zeros, a float an imprecise parser reads an ulp off, an integer beyond 64 bits, \
         which serde_json reads as an f64). ECT-CLM-12 measures the written-back form: numbers \
         parsed exactly, written as the shortest text that reads back to the same f64 (README, \
         Decisions). Counting the bytes as sent, or another number format, gives another size.",
    ),
    (
        "NegativeZero",
        "iat written as -0, which JSON parsers read two ways: as a float (the reference: \
         claims.type, ECT-TIME-5) or as the integer 0 (then the token is too old: time.too_old, \
         ECT-TIME-4). Both are rejections of the same defect, so the vector is invalid and lists \
         both codes (code claims.type, alt_codes time.too_old); either passes.",
    ),
];

/// The vector files: name (without `.json`), description, and the vectors in order. Append new
/// files at the end and new vectors at the end of their file: numbering (`tcId`) follows this
/// order.
#[allow(clippy::type_complexity)]
pub(crate) fn files() -> Vec<(&'static str, &'static str, fn() -> Vec<build::V>)> {
    vec![
        (
            "jws",
            "Compact serialization (SPEC.md §2): size, segments, base64url, JSON, duplicate members.",
            areas::jws::vectors,
        ),
        (
            "header",
            "JOSE header (SPEC.md §3): typ, alg, crit, kid, key-locating parameters.",
            areas::header::vectors,
        ),
        (
            "signature",
            "Key resolution and signatures (SPEC.md §4): kid, issuer binding, signature encoding and verification.",
            areas::signature::vectors,
        ),
        (
            "keys",
            "Trusted key sets (ECT-KEY-3): what a verifier refuses to load.",
            areas::keys::vectors,
        ),
        (
            "claims",
            "Claims (SPEC.md §5): presence, types, values, limits.",
            areas::claims::vectors,
        ),
        (
            "time",
            "Time and audience (SPEC.md §6): exp, iat, leeway, maximum age, aud.",
            areas::time::vectors,
        ),
        ("replay", "Replay (ECT-RPL-1).", areas::replay::vectors),
        (
            "dag",
            "DAG validation (SPEC.md §7) against stores and ledgers.",
            areas::dag::vectors,
        ),
        (
            "ledger",
            "Audit ledger files (SPEC.md §8): hash chain and duplicates.",
            areas::ledger::vectors,
        ),
        (
            "http",
            "The Execution-Context header field (SPEC.md §9).",
            areas::http::vectors,
        ),
        (
            "known-answers",
            "Values fixed by SPEC.md: hash known answers.",
            areas::known_answers::vectors,
        ),
        (
            "profile",
            "Profile draft-01's own cases (SPEC.md §10, ECT-P01-1..5): both typ values, pred and \
             par, ect_ext at and over its limits, the policy claims inside ect_ext, workflow \
             consistency, a draft-00 token under a draft-01 verifier. Profile draft-01 only.",
            areas::profile::vectors,
        ),
    ]
}

/// Where a profile's vector files are, relative to the vectors' root directory (`vectors/`):
/// `draft-00`'s in the root itself (where they were before profile `draft-01` existed),
/// `draft-01`'s in `draft-01/`. [`harness::load`] of that directory loads exactly that
/// profile's files.
pub fn profile_dir(root: &Path, profile: vector::ProfileName) -> std::path::PathBuf {
    match profile {
        vector::ProfileName::Draft00 => root.to_path_buf(),
        vector::ProfileName::Draft01 => root.join("draft-01"),
    }
}

/// The JSON Schema of a vector file, as committed in `vectors/schema.json`.
pub fn schema() -> String {
    let schema = schemars::schema_for!(vector::VectorFile);
    serde_json::to_string_pretty(&schema).expect("a schema serializes") + "\n"
}

/// Every file `ect vectors export` writes: `(path relative to `vectors/`, content)`:
/// `draft-00`'s vector files, `draft-01`'s under `draft-01/` ([`profile_dir`]), then the one
/// schema and the one README (both at the root, for both profiles).
pub fn rendered() -> Result<Vec<(String, String)>, String> {
    let files = generate()?;
    let mut out = Vec::new();
    // The header, the format, the decisions the vectors make and the harness protocol
    // (crates/conformance/VECTORS.md), then the table of every vector, profile by profile.
    let mut readme = String::from(
        "# Vectors\n\nGenerated by `ect vectors export` (do not edit; `ect vectors check` fails \
         when these files differ from a fresh generation; the text comes from \
         `crates/conformance/VECTORS.md`). Format: `schema.json`; harness: \
         `ect conformance --impl CMD` (the protocol below). Profile `draft-00`'s files are in \
         this directory, profile `draft-01`'s in `draft-01/`.\n\n",
    );
    readme.push_str(include_str!("../VECTORS.md"));
    readme.push_str(
        "\n## Every vector\n\nOne line per vector; where `code` lists several codes (`a` or \
         `b`: the vector's `code`, then its `alt_codes`), a rejection with any of them passes, \
         and the first is the reference's.\n",
    );
    let mut profile = None;
    for (name, file) in &files {
        if profile.as_deref() != Some(file.profile.as_str()) {
            profile = Some(file.profile.clone());
            readme.push_str(&format!(
                "\n### Profile `{}` (`{}`)\n\n\
                 | id | tcId | rules | result | code | description |\n|---|---|---|---|---|---|\n",
                file.profile, file.spec
            ));
        }
        for v in &file.vectors {
            readme.push_str(&format!(
                "| `{}` | {} | {} | {} | {} | {} |\n",
                v.id,
                v.tc_id,
                v.rules.join(", "),
                serde_json::to_value(v.result)
                    .expect("serializes")
                    .as_str()
                    .unwrap_or(""),
                v.code
                    .iter()
                    .chain(&v.alt_codes)
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(" or "),
                v.description.replace('|', "\\|"),
            ));
        }
        let text = serde_json::to_string_pretty(file).expect("a vector file serializes") + "\n";
        out.push((name.clone(), text));
    }
    out.push(("schema.json".into(), schema()));
    out.push(("README.md".into(), readme));
    Ok(out)
}

/// Writes the vector files into `dir` (created if needed, with `draft-01/`). Returns the
/// number of vectors (of both profiles).
pub fn export(dir: &Path) -> Result<usize, String> {
    let files = rendered()?;
    for (name, text) in &files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(count(&files))
}

fn count(files: &[(String, String)]) -> usize {
    files
        .iter()
        .filter_map(|(_, text)| serde_json::from_str::<vector::VectorFile>(text).ok())
        .map(|f| f.vectors.len())
        .sum()
}

/// Compares `dir` with a fresh generation: the names (relative to `dir`, e.g.
/// `draft-01/claims.json`) of files that differ, are missing, or are extra (`.json` and
/// `README.md` only, in `dir` and in every profile's directory). Empty when up to date.
pub fn check(dir: &Path) -> Result<Vec<String>, String> {
    let files = rendered()?;
    let mut differ = Vec::new();
    for (name, text) in &files {
        match std::fs::read_to_string(dir.join(name)) {
            Ok(on_disk) if on_disk == *text => {}
            Ok(_) => differ.push(format!("{name} differs")),
            Err(_) => differ.push(format!("{name} is missing")),
        }
    }
    let mut dirs: Vec<std::path::PathBuf> = vector::ProfileName::ALL
        .into_iter()
        .map(|p| profile_dir(dir, p))
        .collect();
    dirs.dedup();
    for d in dirs {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        let prefix = d
            .strip_prefix(dir)
            .ok()
            .filter(|p| !p.as_os_str().is_empty())
            .map(|p| format!("{}/", p.display()))
            .unwrap_or_default();
        for e in entries.flatten() {
            let name = format!("{prefix}{}", e.file_name().to_string_lossy());
            let ours = files.iter().any(|(n, _)| *n == name);
            if !ours && (name.ends_with(".json") || name.ends_with("README.md")) {
                differ.push(format!("{name} is not generated"));
            }
        }
    }
    differ.sort();
    Ok(differ)
}
