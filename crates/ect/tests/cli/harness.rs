//! `ect conformance --impl` against throwaway adapters (small shell scripts in a temporary
//! directory) over a few vectors copied from `vectors/` into a temporary `--vectors` directory:
//! scoring (verdict and code, `unmapped`, several acceptable codes, `http` tokens,
//! `--verdict-only`, a run with no pass), protocol robustness (stray stdout lines, answers for
//! other ids, an adapter that reads stdin to the end first) and the markdown matrix. Every
//! adapter answers from a file of answers the test writes, looked up by the case's `id`; every
//! run is bounded by the harness's `--timeout` and kills the adapter when it ends.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};
use wimse_ect_conformance::vector::{Vector, VectorFile, Verdict};

/// A temporary directory holding a vectors directory, an answers file and adapter scripts.
struct Kit {
    dir: tempfile::TempDir,
    /// The draft-00 vectors of the kit.
    vectors: Vec<Vector>,
    /// The draft-01 vectors of the kit (none for [`Kit::new`]).
    draft01: Vec<Vector>,
}

/// The vector files of `from` (`*.json` but `schema.json`), in name order.
fn vector_files(from: &Path) -> Vec<PathBuf> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(from)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && p.file_name().is_some_and(|n| n != "schema.json")
        })
        .collect();
    names.sort();
    names
}

/// Copies the vectors `ids` of the files in `from` into files of the same names in `to`;
/// returns them.
fn copy_vectors(from: &Path, to: &Path, ids: &[&str]) -> Vec<Vector> {
    std::fs::create_dir_all(to).unwrap();
    let mut vectors = Vec::new();
    for path in vector_files(from) {
        let mut file: VectorFile =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        file.vectors.retain(|v| ids.contains(&v.id.as_str()));
        if file.vectors.is_empty() {
            continue;
        }
        vectors.extend(file.vectors.iter().cloned());
        std::fs::write(
            to.join(path.file_name().unwrap()),
            serde_json::to_string_pretty(&file).unwrap(),
        )
        .unwrap();
    }
    assert_eq!(
        vectors.len(),
        ids.len(),
        "every id names a committed vector of {}",
        from.display()
    );
    vectors
}

impl Kit {
    /// A kit whose `vectors/` holds exactly the committed draft-00 vectors `ids` (in their
    /// files), and no draft-01 directory.
    fn new(ids: &[&str]) -> Kit {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let vectors = copy_vectors(
            &crate::repo_root().join("vectors"),
            &dir.path().join("vectors"),
            ids,
        );
        Kit {
            dir,
            vectors,
            draft01: Vec::new(),
        }
    }

    /// A kit with the committed vectors `ids` of both profiles: draft-00's in `vectors/`,
    /// draft-01's in `vectors/draft-01/`.
    fn both(ids: &[&str]) -> Kit {
        let mut kit = Kit::new(ids);
        kit.draft01 = copy_vectors(
            &crate::repo_root().join("vectors/draft-01"),
            &kit.path("vectors/draft-01"),
            ids,
        );
        kit
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn vector(&self, id: &str) -> &Vector {
        self.vectors
            .iter()
            .find(|v| v.id == id)
            .expect("a kit vector")
    }

    /// Writes the answers file: one JSON answer per line, found by its `id`.
    fn answers(&self, answers: &[Value]) {
        let text: String = answers.iter().map(|a| format!("{a}\n")).collect();
        std::fs::write(self.path("answers.jsonl"), text).unwrap();
    }

    /// Writes the answers to the draft-01 cases (a case line naming profile draft-01 is
    /// answered from these), one JSON answer per line, found by its `id`.
    fn answers_draft01(&self, answers: &[Value]) {
        let text: String = answers.iter().map(|a| format!("{a}\n")).collect();
        std::fs::write(self.path("answers-draft-01.jsonl"), text).unwrap();
    }

    /// The right draft-01 answers, except a rejection with `code` for vector `id`.
    fn answers_draft01_wrong_at(&self, id: &str, code: &str) {
        let answers: Vec<Value> = self
            .draft01
            .iter()
            .map(|v| {
                if v.id == id {
                    rejected(id, code)
                } else {
                    right(v)
                }
            })
            .collect();
        self.answers_draft01(&answers);
    }

    /// An adapter script: `setup` runs first; then for each case line, with the case's id in
    /// `$id`, `each` runs and the answer for `$id` is printed (`skip` when there is none),
    /// from the draft-01 answers for a case of profile draft-01.
    fn adapter(&self, setup: &str, each: &str) -> String {
        let answers = self.path("answers.jsonl");
        let answers01 = self.path("answers-draft-01.jsonl");
        let script = format!(
            r#"answers='{}'
answers01='{}'
{setup}
while IFS= read -r line; do
  id=$(printf '%s\n' "$line" | sed 's/^{{"id":"\([^"]*\)".*/\1/')
  file=$answers
  case "$line" in *'"profile":"draft-01"'*) file=$answers01;; esac
  {each}
  grep -F "\"id\":\"$id\"" "$file" 2>/dev/null || printf '{{"id":"%s","result":"skip"}}\n' "$id"
done
"#,
            answers.display(),
            answers01.display()
        );
        let path = self.path("adapter.sh");
        std::fs::write(&path, script).unwrap();
        format!("sh '{}'", path.display())
    }

    /// `ect conformance --vectors <kit> --profile draft-00 --impl <command> <args>` (a kit
    /// made by [`Kit::new`] holds draft-00 vectors only).
    fn run(&self, command: &str, args: &[&str]) -> Output {
        self.run_all(command, &[&["--profile", "draft-00"], args].concat())
    }

    /// `ect conformance --vectors <kit> --impl <command> <args>`.
    fn run_all(&self, command: &str, args: &[&str]) -> Output {
        let vectors = self.path("vectors");
        let mut all = vec![
            "conformance",
            "--vectors",
            vectors.to_str().unwrap(),
            "--impl",
            command,
        ];
        all.extend_from_slice(args);
        ect(&all)
    }
}

fn ect(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ect"))
        .current_dir(crate::repo_root())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("run ect")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn last_line(o: &Output) -> String {
    stdout(o).lines().last().unwrap_or_default().to_owned()
}

fn json_doc(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(o)))
}

/// The right answer to `v`: its verdict (the reference's for `acceptable`), its code, and
/// for a valid `http` case its tokens.
fn right(v: &Vector) -> Value {
    let verdict = match v.result {
        Verdict::Acceptable => v.reference.expect("acceptable vectors name the reference"),
        other => other,
    };
    match verdict {
        Verdict::Invalid => json!({"id": v.id, "result": "invalid", "code": v.code}),
        _ => match &v.tokens {
            Some(tokens) => json!({"id": v.id, "result": "valid", "tokens": tokens}),
            None => json!({"id": v.id, "result": "valid"}),
        },
    }
}

fn rejected(id: &str, code: &str) -> Value {
    json!({"id": id, "result": "invalid", "code": code})
}

const INVALID3: &[&str] = &[
    "claims/required/missing-iss",
    "time/expired/at-boundary",
    "replay/same-token",
];

#[test]
fn unmapped_codes_score_nothing_and_the_run_fails() {
    let kit = Kit::new(INVALID3);
    kit.answers(
        &INVALID3
            .iter()
            .map(|id| rejected(id, "unmapped"))
            .collect::<Vec<_>>(),
    );
    let adapter = kit.adapter("", "");
    let o = kit.run(&adapter, &[]);
    assert_eq!(last_line(&o), "0 passed, 3 failed", "{}", stdout(&o));
    assert_eq!(o.status.code(), Some(1));
    let o = kit.run(&adapter, &["--format", "json"]);
    let doc = json_doc(&o);
    assert_eq!(
        (&doc["passed"], &doc["failed"], &doc["failures"]["unmapped"]),
        (&json!(0), &json!(3), &json!(3))
    );
    assert_eq!(
        doc["profiles"]["draft-00"]["cases"][0]["failure"],
        json!("unmapped")
    );
}

#[test]
fn a_run_where_every_case_is_skipped_fails() {
    let kit = Kit::new(INVALID3);
    kit.answers(&[]); // the adapter answers skip to everything
    let o = kit.run(&kit.adapter("", ""), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert_eq!(last_line(&o), "0 passed, 0 failed, 3 skipped");
}

const MIXED4: &[&str] = &[
    "claims/required/all-present",
    "claims/required/missing-iss",
    "time/expired/at-boundary",
    "http/list/two",
];

#[test]
fn stray_stdout_lines_are_reported_and_shift_no_answer() {
    let kit = Kit::new(MIXED4);
    kit.answers(&kit.vectors.iter().map(right).collect::<Vec<_>>());
    // A banner before anything is read, and a JSON log line (no answer shape) before the
    // answer to the missing-iss case.
    let adapter = kit.adapter(
        "echo 'adapter starting'",
        r#"case "$id" in claims/required/missing-iss) echo '{"level":"debug","msg":"verifying"}';; esac"#,
    );
    let o = kit.run(&adapter, &[]);
    assert_eq!(last_line(&o), "4 passed, 0 failed", "{}", stdout(&o));
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    assert!(text.contains("adapter starting"), "{text}");
    let doc = json_doc(&kit.run(&adapter, &["--format", "json"]));
    assert_eq!(
        doc["profiles"]["draft-00"]["protocol_notes"]["not_an_answer"],
        json!(2)
    );
    assert_eq!(
        doc["profiles"]["draft-00"]["protocol_notes"]["other_id"],
        json!(0)
    );
    let lines: Vec<&Value> = doc["profiles"]["draft-00"]["protocol_notes"]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["line"])
        .collect();
    assert_eq!(
        lines,
        [
            &json!("adapter starting"),
            &json!(r#"{"level":"debug","msg":"verifying"}"#)
        ]
    );
}

#[test]
fn answers_for_other_ids_are_reported_and_ignored() {
    let kit = Kit::new(MIXED4);
    kit.answers(&kit.vectors.iter().map(right).collect::<Vec<_>>());
    // Before each right answer: an answer for a case that does not exist, and the previous
    // case's answer again (late, out of order).
    let adapter = kit.adapter(
        "prev=''",
        r#"printf '{"id":"no/such/case","result":"valid"}\n'
  if [ -n "$prev" ]; then grep -F "\"id\":\"$prev\"" "$answers"; fi
  prev=$id"#,
    );
    let o = kit.run(&adapter, &["--format", "json"]);
    let doc = json_doc(&o);
    assert_eq!((&doc["passed"], &doc["failed"]), (&json!(4), &json!(0)));
    assert_eq!(
        doc["profiles"]["draft-00"]["protocol_notes"]["other_id"],
        json!(4 + 3)
    );
    assert_eq!(
        doc["profiles"]["draft-00"]["protocol_notes"]["not_an_answer"],
        json!(0)
    );
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn an_adapter_that_reads_stdin_to_the_end_first_gets_a_hint() {
    let kit = Kit::new(&INVALID3[..2]);
    kit.answers(&kit.vectors.iter().map(right).collect::<Vec<_>>());
    let adapter = kit.adapter("cat > /dev/null", "");
    let o = kit.run(&adapter, &["--timeout", "0.5", "--format", "json"]);
    let doc = json_doc(&o);
    assert_eq!(
        (
            &doc["passed"],
            &doc["failed"],
            &doc["failures"]["timed_out"]
        ),
        (&json!(0), &json!(2), &json!(2))
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("waits for its answer before writing the next")
            && err.contains("answer each line as it arrives"),
        "{err}"
    );
    // Said once, not per case.
    assert_eq!(
        err.matches("answer each line as it arrives").count(),
        1,
        "{err}"
    );
}

const HTTP4: &[&str] = &[
    "http/one-token",
    "http/list/two",
    "http/list/three",
    "http/lines/mixed",
];

#[test]
fn http_tokens_must_come_back_complete_and_in_order() {
    let kit = Kit::new(HTTP4);
    let mut answers = Vec::new();
    for v in &kit.vectors {
        let tokens = v
            .tokens
            .clone()
            .expect("valid http vectors list their tokens");
        answers.push(match v.id.as_str() {
            "http/one-token" => right(v),
            "http/list/two" => json!({"id": v.id, "result": "valid"}), // no tokens
            _ => {
                let reversed: Vec<String> = tokens.into_iter().rev().collect();
                json!({"id": v.id, "result": "valid", "tokens": reversed})
            }
        });
    }
    kit.answers(&answers);
    let o = kit.run(&kit.adapter("", ""), &["--format", "json"]);
    let doc = json_doc(&o);
    assert_eq!(
        (
            &doc["passed"],
            &doc["failed"],
            &doc["failures"]["wrong_tokens"]
        ),
        (&json!(1), &json!(3), &json!(3))
    );
    assert_eq!(o.status.code(), Some(1));
    // The right tokens pass all four.
    kit.answers(&kit.vectors.iter().map(right).collect::<Vec<_>>());
    let o = kit.run(&kit.adapter("", ""), &[]);
    assert_eq!(last_line(&o), "4 passed, 0 failed", "{}", stdout(&o));
}

const NEGATIVE_ZERO: &str = "claims/numeric-date/iat-negative-zero";

#[test]
fn an_alternative_code_passes_and_another_code_fails() {
    let kit = Kit::new(&[NEGATIVE_ZERO]);
    let v = kit.vector(NEGATIVE_ZERO);
    let as_json = serde_json::to_value(v).unwrap();
    assert_eq!(
        (&as_json["result"], &as_json["code"], &as_json["alt_codes"]),
        (
            &json!("invalid"),
            &json!("claims.type"),
            &json!(["time.too_old"])
        )
    );
    assert_eq!(v.flags, ["NegativeZero"]);
    let adapter = kit.adapter("", "");
    for (code, line) in [
        ("claims.type", "1 passed, 0 failed"),
        ("time.too_old", "1 passed, 0 failed"),
        ("time.expired", "0 passed, 1 failed"),
        ("unmapped", "0 passed, 1 failed"),
    ] {
        kit.answers(&[rejected(NEGATIVE_ZERO, code)]);
        let o = kit.run(&adapter, &[]);
        assert_eq!(last_line(&o), line, "{code}: {}", stdout(&o));
    }
    kit.answers(&[rejected(NEGATIVE_ZERO, "time.expired")]);
    let doc = json_doc(&kit.run(&adapter, &["--format", "json"]));
    assert_eq!(doc["failures"]["wrong_code"], json!(1));
    assert_eq!(
        doc["profiles"]["draft-00"]["cases"][0]["detail"],
        json!("rejected with time.expired, expected claims.type or time.too_old")
    );
}

#[test]
fn markdown_shows_a_rule_whose_cases_were_all_skipped_as_skipped() {
    let kit = Kit::new(&["time/expired/at-boundary", "replay/same-token"]);
    kit.answers(&[right(kit.vector("time/expired/at-boundary"))]); // replay: skip
    let o = kit.run(&kit.adapter("", ""), &["--format", "markdown"]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    let row = |rule: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("| {rule} |")))
            .unwrap_or_else(|| panic!("no row for {rule}: {text}"))
            .to_owned()
    };
    assert_eq!(row("ECT-TIME-2"), "| ECT-TIME-2 | 1 | 0 | 0 | 0 | ✅ |");
    assert_eq!(
        row("ECT-RPL-1"),
        "| ECT-RPL-1 | 0 | 0 | 1 | 0 | ⏭️ skipped |"
    );
    assert!(
        text.contains("A vector is counted under every rule it lists"),
        "{text}"
    );
    assert_eq!(last_line(&o), "1 passed, 0 failed, 1 skipped");
}

#[test]
fn verdict_only_scoring_is_stated_in_every_format() {
    let ids = ["claims/required/all-present", INVALID3[0], INVALID3[1]];
    let kit = Kit::new(&ids);
    kit.answers(&[
        right(kit.vector(ids[0])),
        rejected(ids[1], "unmapped"),
        rejected(ids[2], "claims.type"),
    ]);
    let adapter = kit.adapter("", "");
    let o = kit.run(&adapter, &[]);
    assert_eq!(last_line(&o), "1 passed, 2 failed", "{}", stdout(&o));
    assert!(!stdout(&o).contains("verdict-only"));
    let o = kit.run(&adapter, &["--verdict-only"]);
    assert_eq!(last_line(&o), "3 passed, 0 failed", "{}", stdout(&o));
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stdout(&o).starts_with("scoring: verdict-only"),
        "{}",
        stdout(&o)
    );
    let o = kit.run(&adapter, &["--verdict-only", "--format", "markdown"]);
    assert!(
        stdout(&o).starts_with("**Scoring: verdict-only**"),
        "{}",
        stdout(&o)
    );
    let doc = json_doc(&kit.run(&adapter, &["--verdict-only", "--format", "json"]));
    assert_eq!(doc["scoring"], json!("verdict-only"));
    let doc = json_doc(&kit.run(&adapter, &["--format", "json"]));
    assert_eq!(doc["scoring"], json!("strict"));
}

#[test]
fn a_timeout_that_is_no_duration_is_a_usage_error() {
    let kit = Kit::new(&INVALID3[..1]);
    for timeout in ["1e300", "0", "-1", "NaN", "inf"] {
        let o = kit.run("cat", &[&format!("--timeout={timeout}")]);
        assert_eq!(
            (o.status.code(), stdout(&o).as_str(), stderr(&o).as_str()),
            (
                Some(2),
                "",
                "ect: --timeout must be a positive number of seconds\n"
            ),
            "--timeout {timeout}"
        );
    }
}

// Profiles: every profile's vectors, each a run of its own
// ---------------------------------------------------------------------------------------------

/// The lines of stdout that start with `prefix`.
fn lines_starting(o: &Output, prefix: &str) -> Vec<String> {
    stdout(o)
        .lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_profile_runs_by_default_each_reported_on_its_own_then_the_total() {
    let kit = Kit::both(INVALID3);
    kit.answers(&kit.vectors.iter().map(right).collect::<Vec<_>>());
    // draft-01: one wrong code.
    kit.answers_draft01_wrong_at(INVALID3[1], "claims.missing");
    // The adapter notes each start: once per profile.
    let starts = kit.path("starts");
    let adapter = kit.adapter(&format!("echo start >> '{}'", starts.display()), "");
    let o = kit.run_all(&adapter, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let dir = kit.path("vectors");
    assert_eq!(
        lines_starting(&o, "profile "),
        [
            format!("profile draft-00 (vectors in {})", dir.display()),
            format!(
                "profile draft-01 (vectors in {})",
                dir.join("draft-01").display()
            ),
        ]
    );
    assert_eq!(
        lines_starting(&o, "draft-0"),
        [
            "draft-00: 3 passed, 0 failed",
            "draft-01: 2 passed, 1 failed"
        ]
    );
    assert!(
        stdout(&o).contains(
            "FAIL time/expired/at-boundary (ECT-TIME-2) [wrong code]: rejected with claims.missing, expected time.expired\n"
        ),
        "{}",
        stdout(&o)
    );
    let text = stdout(&o);
    let tail: Vec<&str> = text.lines().rev().take(2).collect();
    assert_eq!(
        tail,
        [
            "5 passed, 1 failed",
            "profiles: draft-00, draft-01 (failing: draft-01); total:"
        ]
    );
    assert_eq!(std::fs::read_to_string(&starts).unwrap(), "start\nstart\n");
    // JSON: the totals, and each profile's document by name.
    let doc = json_doc(&kit.run_all(&adapter, &["--format", "json"]));
    assert_eq!(
        (
            &doc["ok"],
            &doc["passed"],
            &doc["failed"],
            &doc["failures"]["wrong_code"]
        ),
        (&json!(false), &json!(5), &json!(1), &json!(1))
    );
    let p01 = &doc["profiles"]["draft-01"];
    assert_eq!(
        (&p01["ok"], &p01["passed"], &p01["failed"], &p01["vectors"]),
        (
            &json!(false),
            &json!(2),
            &json!(1),
            &json!(dir.join("draft-01").display().to_string())
        )
    );
    let failures: Vec<(&Value, &Value)> = p01["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .map(|c| (&c["id"], &c["failure"]))
        .collect();
    assert_eq!(failures, [(&json!(INVALID3[1]), &json!("wrong_code"))]);
    assert_eq!(doc["profiles"]["draft-00"]["ok"], json!(true));
    // Markdown: a section per profile.
    let o = kit.run_all(&adapter, &["--format", "markdown"]);
    assert_eq!(
        lines_starting(&o, "## Profile"),
        [
            format!("## Profile draft-00 (`{}`)", dir.display()),
            format!("## Profile draft-01 (`{}`)", dir.join("draft-01").display()),
        ]
    );
    assert_eq!(last_line(&o), "5 passed, 1 failed");
    // --profile selects one: draft-00 alone passes.
    std::fs::remove_file(&starts).unwrap();
    let o = kit.run_all(&adapter, &["--profile", "draft-00"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_eq!(lines_starting(&o, "profile draft-01"), Vec::<String>::new());
    let text = stdout(&o);
    let tail: Vec<&str> = text.lines().rev().take(4).collect();
    assert_eq!(
        tail,
        [
            "3 passed, 0 failed",
            "profiles: draft-00 (every profile passes); total:",
            "",
            "draft-00: 3 passed, 0 failed"
        ]
    );
    assert_eq!(std::fs::read_to_string(&starts).unwrap(), "start\n");
    let o = kit.run_all(&adapter, &["--profile", "draft-01"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(last_line(&o), "2 passed, 1 failed");
}

#[test]
fn a_profile_in_which_nothing_passed_fails_the_run() {
    let kit = Kit::both(INVALID3);
    kit.answers(&kit.vectors.iter().map(right).collect::<Vec<_>>());
    kit.answers_draft01(&[]); // every draft-01 case: skip
    let o = kit.run_all(&kit.adapter("", ""), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert_eq!(
        lines_starting(&o, "draft-01:"),
        [
            "draft-01: no case passed: the run fails",
            "draft-01: 0 passed, 0 failed, 3 skipped"
        ]
    );
    assert_eq!(last_line(&o), "3 passed, 0 failed, 3 skipped");
}

#[test]
fn expected_failures_name_their_profile() {
    let kit = Kit::both(INVALID3);
    kit.answers(&kit.vectors.iter().map(right).collect::<Vec<_>>());
    kit.answers_draft01_wrong_at(INVALID3[0], "unmapped");
    let adapter = kit.adapter("", "");
    let xfails = kit.path("xfails.json");
    let xfails_arg = xfails.to_str().unwrap();
    let id = INVALID3[0];
    // Listed for draft-01: expected there; draft-00, which passes it, is unaffected.
    std::fs::write(
        &xfails,
        json!({"profiles": {"draft-01": {id: "no code yet"}}}).to_string(),
    )
    .unwrap();
    let o = kit.run_all(&adapter, &["--xfails", xfails_arg]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_eq!(
        lines_starting(&o, "draft-0"),
        [
            "draft-00: 3 passed, 0 failed",
            "draft-01: 2 passed, 0 failed"
        ]
    );
    let doc = json_doc(&kit.run_all(&adapter, &["--xfails", xfails_arg, "--format", "json"]));
    assert_eq!(
        (
            &doc["xfail"],
            &doc["profiles"]["draft-01"]["cases"][0]["detail"]
        ),
        (&json!(1), &json!("no code yet"))
    );
    // The form without profiles lists draft-00's: there the case passes (an unexpected pass),
    // and draft-01's failure is not expected.
    std::fs::write(&xfails, json!({"xfails": {id: "no code yet"}}).to_string()).unwrap();
    let o = kit.run_all(&adapter, &["--xfails", xfails_arg]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        lines_starting(&o, "draft-0"),
        [
            "draft-00: 2 passed, 1 failed",
            "draft-01: 2 passed, 1 failed"
        ]
    );
    assert!(stdout(&o).contains(&format!(
        "FAIL {id} (ECT-CLM-1) [unexpected pass]: passed, but listed as an expected failure (no code yet)\n"
    )));
    // Both forms together, each for its profile.
    std::fs::write(
        &xfails,
        json!({"xfails": {}, "profiles": {"draft-01": {id: "no code yet"}}}).to_string(),
    )
    .unwrap();
    assert_eq!(
        kit.run_all(&adapter, &["--xfails", xfails_arg])
            .status
            .code(),
        Some(0)
    );
    // An id a profile does not have is a failure of that profile.
    std::fs::write(
        &xfails,
        json!({"profiles": {"draft-01": {id: "no code yet", "no/such/vector": "stale"}}})
            .to_string(),
    )
    .unwrap();
    let o = kit.run_all(&adapter, &["--xfails", xfails_arg]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        lines_starting(&o, "draft-01:"),
        ["draft-01: 2 passed, 1 failed"]
    );
    // Usage errors: draft-00 listed twice, an unknown profile, a missing reason.
    let usage = |content: Value, message: String| {
        std::fs::write(&xfails, content.to_string()).unwrap();
        let o = kit.run_all(&adapter, &["--xfails", xfails_arg]);
        assert_eq!(
            (o.status.code(), stdout(&o).as_str(), stderr(&o)),
            (
                Some(2),
                "",
                format!("ect: {}: {message}\n", xfails.display())
            )
        );
    };
    usage(
        json!({"xfails": {}, "profiles": {"draft-00": {}}}),
        "draft-00's expected failures are given twice (\"xfails\" and \"profiles\".\"draft-00\"): keep one".to_owned(),
    );
    usage(
        json!({"profiles": {"draft-02": {}}}),
        "unknown profile \"draft-02\" (use draft-00 or draft-01)".to_owned(),
    );
    usage(
        json!({"profiles": {"draft-01": {id: " "}}}),
        format!("profile draft-01: {id} needs a reason"),
    );
    usage(
        json!({"comment": "nothing listed"}),
        "no \"xfails\" or \"profiles\" object".to_owned(),
    );
}

#[test]
fn missing_or_misplaced_profile_vectors_and_unknown_profiles_are_usage_errors() {
    let kit = Kit::new(&INVALID3[..1]);
    let adapter = kit.adapter("", "");
    let dir = kit.path("vectors");
    // Every profile by default: the kit has no draft-01 directory.
    let o = kit.run_all(&adapter, &[]);
    assert_eq!(
        (o.status.code(), stdout(&o).as_str(), stderr(&o)),
        (
            Some(2),
            "",
            format!(
                "ect: {}: No such file or directory (os error 2)\n",
                dir.join("draft-01").display()
            )
        )
    );
    // An empty profile directory.
    std::fs::create_dir(dir.join("draft-01")).unwrap();
    let o = kit.run_all(&adapter, &[]);
    assert_eq!(
        (o.status.code(), stderr(&o)),
        (
            Some(2),
            format!(
                "ect: no draft-01 vectors in {}\n",
                dir.join("draft-01").display()
            )
        )
    );
    // A draft-01 file among draft-00's.
    let source = crate::repo_root().join("vectors/draft-01/claims.json");
    std::fs::copy(&source, dir.join("zz-claims.json")).unwrap();
    let o = kit.run_all(&adapter, &["--profile", "draft-00"]);
    assert_eq!(
        (o.status.code(), stderr(&o)),
        (
            Some(2),
            format!(
                "ect: {}: a file of profile \"draft-01\", but {} holds the draft-00 vectors\n",
                dir.join("zz-claims.json").display(),
                dir.display()
            )
        )
    );
    // An unknown profile name.
    let o = kit.run_all(&adapter, &["--profile", "draft-02"]);
    assert_eq!(
        (o.status.code(), stdout(&o).as_str(), stderr(&o).as_str()),
        (
            Some(2),
            "",
            "ect: --profile \"draft-02\": unknown profile (use draft-00 or draft-01)\n"
        )
    );
}
