//! `ect conformance --impl` against throwaway adapters (small shell scripts in a temporary
//! directory) over a few vectors copied from `vectors/` into a temporary `--vectors` directory:
//! scoring (verdict and code, `unmapped`, several acceptable codes, `http` tokens,
//! `--verdict-only`, a run with no pass), protocol robustness (stray stdout lines, answers for
//! other ids, an adapter that reads stdin to the end first) and the markdown matrix. Every
//! adapter answers from a file of answers the test writes, looked up by the case's `id`; every
//! run is bounded by the harness's `--timeout` and kills the adapter when it ends.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};
use wimse_ect_conformance::vector::{Vector, VectorFile, Verdict};

/// A temporary directory holding a vectors directory, an answers file and adapter scripts.
struct Kit {
    dir: tempfile::TempDir,
    vectors: Vec<Vector>,
}

impl Kit {
    /// A kit whose `vectors/` holds exactly the committed vectors `ids` (in their files).
    fn new(ids: &[&str]) -> Kit {
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::create_dir(dir.path().join("vectors")).unwrap();
        let mut vectors = Vec::new();
        let mut names: Vec<PathBuf> = std::fs::read_dir(crate::repo_root().join("vectors"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.extension().is_some_and(|e| e == "json")
                    && p.file_name().is_some_and(|n| n != "schema.json")
            })
            .collect();
        names.sort();
        for path in names {
            let mut file: VectorFile =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            file.vectors.retain(|v| ids.contains(&v.id.as_str()));
            if file.vectors.is_empty() {
                continue;
            }
            vectors.extend(file.vectors.iter().cloned());
            std::fs::write(
                dir.path().join("vectors").join(path.file_name().unwrap()),
                serde_json::to_string_pretty(&file).unwrap(),
            )
            .unwrap();
        }
        assert_eq!(
            vectors.len(),
            ids.len(),
            "every id names a committed vector"
        );
        Kit { dir, vectors }
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

    /// An adapter script: `setup` runs first; then for each case line, with the case's id in
    /// `$id`, `each` runs and the answer for `$id` is printed (`skip` when there is none).
    fn adapter(&self, setup: &str, each: &str) -> String {
        let answers = self.path("answers.jsonl");
        let script = format!(
            r#"answers='{}'
{setup}
while IFS= read -r line; do
  id=$(printf '%s\n' "$line" | sed 's/^{{"id":"\([^"]*\)".*/\1/')
  {each}
  grep -F "\"id\":\"$id\"" "$answers" || printf '{{"id":"%s","result":"skip"}}\n' "$id"
done
"#,
            answers.display()
        );
        let path = self.path("adapter.sh");
        std::fs::write(&path, script).unwrap();
        format!("sh '{}'", path.display())
    }

    /// `ect conformance --vectors <kit> --impl <command> <args>`.
    fn run(&self, command: &str, args: &[&str]) -> Output {
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
    assert_eq!(doc["cases"][0]["failure"], json!("unmapped"));
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
    assert_eq!(doc["protocol_notes"]["not_an_answer"], json!(2));
    assert_eq!(doc["protocol_notes"]["other_id"], json!(0));
    let lines: Vec<&Value> = doc["protocol_notes"]["notes"]
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
    assert_eq!(doc["protocol_notes"]["other_id"], json!(4 + 3));
    assert_eq!(doc["protocol_notes"]["not_an_answer"], json!(0));
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
        doc["cases"][0]["detail"],
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
