//! The conformance harness: runs vectors against an implementation (the reference, or an
//! external program speaking the JSON-lines protocol) and renders the results per rule.
//!
//! Protocol (README, "Test your implementation"): the runner starts the command once and
//! writes one [`CaseLine`] per line on its stdin, waiting for the answer to each before the
//! next; the implementation writes one [`Answer`] line per case on stdout and flushes. A case
//! whose answer does not arrive within the timeout, or whose program exits, fails; the program
//! is then restarted for the next case. A line that is not an answer to the case fails it.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Duration;

use serde_json::{Value, json};

use super::reference::evaluate;
use super::vector::{Answer, AnswerResult, CaseLine, Vector, VectorFile, Verdict};
use crate::rules::RULES;

/// A vector and the file it came from.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// File name, e.g. `jws.json`.
    pub file: String,
    /// The vector.
    pub vector: Vector,
}

/// Loads every vector file of `dir` (`*.json` except `schema.json`), in file-name order.
pub fn load(dir: &Path) -> Result<Vec<Loaded>, String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") && n != "schema.json")
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let path = dir.join(&name);
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let file: VectorFile =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        out.extend(file.vectors.into_iter().map(|vector| Loaded {
            file: name.clone(),
            vector,
        }));
    }
    Ok(out)
}

/// Something that answers cases.
pub trait Implementation {
    /// The answer to one case, or why there is none (timeout, crash, garbage).
    fn answer(&mut self, case: &CaseLine) -> Result<Answer, String>;

    /// The answers to `cases`, in order. By default one [`Implementation::answer`] after the
    /// other; an implementation whose answers are independent may compute them in parallel.
    fn answer_all(&mut self, cases: &[CaseLine]) -> Vec<Result<Answer, String>> {
        cases.iter().map(|c| self.answer(c)).collect()
    }
}

/// This crate, in-process.
#[derive(Debug, Default)]
pub struct Reference;

impl Reference {
    fn answer_one(case: &CaseLine) -> Result<Answer, String> {
        let outcome = evaluate(&case.case)?;
        Ok(Answer {
            id: case.id.clone(),
            result: outcome.result,
            code: outcome.code().map(str::to_owned),
        })
    }
}

impl Implementation for Reference {
    fn answer(&mut self, case: &CaseLine) -> Result<Answer, String> {
        Reference::answer_one(case)
    }

    /// Every vector gets its own verifier, ledger and replay cache, so the cases are
    /// independent: they run across rayon's thread pool (all cores by default).
    fn answer_all(&mut self, cases: &[CaseLine]) -> Vec<Result<Answer, String>> {
        use rayon::prelude::*;
        cases.par_iter().map(Reference::answer_one).collect()
    }
}

/// An external program speaking the protocol, run with `sh -c`.
#[derive(Debug)]
pub struct External {
    command: String,
    timeout: Duration,
    running: Option<Running>,
}

#[derive(Debug)]
struct Running {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl External {
    /// An implementation run as `sh -c command`, each answer awaited at most `timeout`.
    pub fn new(command: impl Into<String>, timeout: Duration) -> Self {
        External {
            command: command.into(),
            timeout,
            running: None,
        }
    }

    fn start(&mut self) -> Result<&mut Running, String> {
        if self.running.is_none() {
            let mut child = Command::new("sh")
                .arg("-c")
                .arg(&self.command)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .map_err(|e| format!("cannot start {:?}: {e}", self.command))?;
            let stdin = child.stdin.take().expect("piped");
            let stdout = child.stdout.take().expect("piped");
            let (tx, lines) = channel();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            self.running = Some(Running {
                child,
                stdin,
                lines,
            });
        }
        Ok(self.running.as_mut().expect("just started"))
    }

    /// Kills the program; the next case starts a new one.
    fn stop(&mut self) -> Option<String> {
        let mut running = self.running.take()?;
        let _ = running.child.kill();
        running.child.wait().ok().map(|status| status.to_string())
    }
}

impl Drop for External {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Implementation for External {
    fn answer(&mut self, case: &CaseLine) -> Result<Answer, String> {
        let line = serde_json::to_string(case).expect("a case serializes");
        let timeout = self.timeout;
        let running = self.start()?;
        let sent = writeln!(running.stdin, "{line}").and_then(|()| running.stdin.flush());
        let received = match sent {
            Ok(()) => running.lines.recv_timeout(timeout),
            Err(_) => Err(RecvTimeoutError::Disconnected),
        };
        match received {
            Ok(text) => {
                let answer: Answer = serde_json::from_str(&text)
                    .map_err(|e| format!("not an answer line ({e}): {}", truncate(&text)))?;
                if answer.id != case.id {
                    return Err(format!("answer for {:?} instead", answer.id));
                }
                Ok(answer)
            }
            Err(RecvTimeoutError::Timeout) => {
                self.stop();
                Err(format!(
                    "no answer within {} s (restarted)",
                    timeout.as_secs_f64()
                ))
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.stop().unwrap_or_default();
                Err(format!("the implementation exited ({status}) (restarted)"))
            }
        }
    }
}

fn truncate(s: &str) -> String {
    match s.char_indices().nth(120) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// Expected failures: vector id → reason. Strict: a listed vector that passes fails the run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Xfails(pub BTreeMap<String, String>);

impl Xfails {
    /// Reads `{"xfails": {"<id>": "<reason>", ...}}`.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let value: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let map = value
            .get("xfails")
            .and_then(Value::as_object)
            .ok_or(format!("{}: no \"xfails\" object", path.display()))?;
        map.iter()
            .map(|(id, reason)| match reason.as_str() {
                Some(r) if !r.trim().is_empty() => Ok((id.clone(), r.to_owned())),
                _ => Err(format!("{}: {id} needs a reason", path.display())),
            })
            .collect::<Result<_, _>>()
            .map(Xfails)
    }
}

/// How one case went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// The expected result (with a note, e.g. an `unmapped` code).
    Pass(Option<String>),
    /// Anything else, and why.
    Fail(String),
    /// The implementation answered `skip`.
    Skip,
    /// Failed, and listed in the expected failures (with the listed reason).
    XFail(String),
}

/// One case's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseResult {
    /// The vector id.
    pub id: String,
    /// Its file.
    pub file: String,
    /// The rules it covers.
    pub rules: Vec<String>,
    /// How it went.
    pub status: Status,
}

/// Whether `answer` is right for `v`: `Ok(note)` or `Err(why not)`.
pub fn judge(v: &Vector, answer: &Answer) -> Result<Option<String>, String> {
    let code = answer.code.as_deref();
    let expected_code = v.code.as_deref().unwrap_or("");
    let rejected = |code: Option<&str>| match code {
        Some(c) if c == expected_code => Ok(None),
        Some("unmapped") => Ok(Some(format!("unmapped code (expected {expected_code})"))),
        Some(c) => Err(format!("rejected with {c}, expected {expected_code}")),
        None => Err(format!("rejected without a code, expected {expected_code}")),
    };
    match (v.result, answer.result) {
        (_, AnswerResult::Skip) => Err("skipped".into()),
        (Verdict::Valid, AnswerResult::Valid) | (Verdict::Acceptable, AnswerResult::Valid) => {
            Ok(None)
        }
        (Verdict::Valid, AnswerResult::Invalid) => Err(format!(
            "rejected ({}), expected valid",
            code.unwrap_or("no code")
        )),
        (Verdict::Invalid, AnswerResult::Valid) => {
            Err(format!("accepted, expected invalid {expected_code}"))
        }
        (Verdict::Invalid | Verdict::Acceptable, AnswerResult::Invalid) => rejected(code),
    }
}

/// The results of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Every case, in vector order.
    pub cases: Vec<CaseResult>,
    /// Expected failures naming no vector (each counts as a failure).
    pub unknown_xfails: Vec<String>,
}

impl Report {
    /// Cases that passed.
    pub fn passed(&self) -> usize {
        self.count(|s| matches!(s, Status::Pass(_)))
    }

    /// Cases that failed, plus unknown expected-failure ids.
    pub fn failed(&self) -> usize {
        self.count(|s| matches!(s, Status::Fail(_))) + self.unknown_xfails.len()
    }

    /// Cases the implementation skipped.
    pub fn skipped(&self) -> usize {
        self.count(|s| *s == Status::Skip)
    }

    /// Cases that failed as listed in the expected failures.
    pub fn xfailed(&self) -> usize {
        self.count(|s| matches!(s, Status::XFail(_)))
    }

    fn count(&self, f: impl Fn(&Status) -> bool) -> usize {
        self.cases.iter().filter(|c| f(&c.status)).count()
    }

    /// Per rule id: (passed, failed, skipped, expected failures), in SPEC.md's order.
    pub fn by_rule(&self) -> Vec<(String, [usize; 4])> {
        let mut rows: BTreeMap<String, [usize; 4]> = BTreeMap::new();
        for c in &self.cases {
            let column = match c.status {
                Status::Pass(_) => 0,
                Status::Fail(_) => 1,
                Status::Skip => 2,
                Status::XFail(_) => 3,
            };
            for r in &c.rules {
                rows.entry(r.clone()).or_default()[column] += 1;
            }
        }
        let order = |id: &str| RULES.iter().position(|r| r.id == id).unwrap_or(usize::MAX);
        let mut rows: Vec<(String, [usize; 4])> = rows.into_iter().collect();
        rows.sort_by_key(|(id, _)| (order(id), id.clone()));
        rows
    }

    /// The final line: `N passed, N failed`.
    pub fn summary(&self) -> String {
        format!("{} passed, {} failed", self.passed(), self.failed())
    }
}

/// Runs every vector against `imp`, applying `xfails`.
pub fn run(vectors: &[Loaded], imp: &mut dyn Implementation, xfails: &Xfails) -> Report {
    let mut report = Report::default();
    let lines: Vec<CaseLine> = vectors
        .iter()
        .map(|l| CaseLine {
            id: l.vector.id.clone(),
            case: l.vector.case.clone(),
        })
        .collect();
    let answers = imp.answer_all(&lines);
    assert_eq!(answers.len(), vectors.len(), "one answer per case");
    for (l, answer) in vectors.iter().zip(answers) {
        let v = &l.vector;
        let status = match answer {
            Ok(a) if a.result == AnswerResult::Skip => Status::Skip,
            Ok(a) => match judge(v, &a) {
                Ok(note) => Status::Pass(note),
                Err(why) => Status::Fail(why),
            },
            Err(why) => Status::Fail(why),
        };
        let status = match (status, xfails.0.get(&v.id)) {
            (Status::Fail(_), Some(reason)) => Status::XFail(reason.clone()),
            (Status::Pass(_), Some(reason)) => Status::Fail(format!(
                "unexpected pass (listed as expected failure: {reason})"
            )),
            (status, _) => status,
        };
        report.cases.push(CaseResult {
            id: v.id.clone(),
            file: l.file.clone(),
            rules: v.rules.clone(),
            status,
        });
    }
    report.unknown_xfails = xfails
        .0
        .keys()
        .filter(|id| !vectors.iter().any(|l| l.vector.id == **id))
        .cloned()
        .collect();
    report
}

/// Output formats of `ect conformance`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A per-rule table, the failures, and the summary line.
    Table,
    /// One JSON document.
    Json,
    /// A Markdown results matrix by rule.
    Markdown,
}

/// Renders a report.
pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Table => render_table(report),
        Format::Json => render_json(report),
        Format::Markdown => render_markdown(report),
    }
}

fn failures(report: &Report) -> Vec<String> {
    let mut out: Vec<String> = report
        .cases
        .iter()
        .filter_map(|c| match &c.status {
            Status::Fail(why) => Some(format!("FAIL {} ({}): {why}", c.id, c.rules.join(", "))),
            _ => None,
        })
        .collect();
    out.extend(
        report
            .unknown_xfails
            .iter()
            .map(|id| format!("FAIL {id}: listed as expected failure, but no such vector")),
    );
    out
}

fn render_table(report: &Report) -> String {
    let mut out = format!(
        "{:<12} {:>7} {:>7} {:>7} {:>7}\n",
        "rule", "passed", "failed", "skipped", "xfail"
    );
    for (rule, [p, f, s, x]) in report.by_rule() {
        out.push_str(&format!("{rule:<12} {p:>7} {f:>7} {s:>7} {x:>7}\n"));
    }
    for line in failures(report) {
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str(&format!(
        "{} skipped, {} expected failures\n{}\n",
        report.skipped(),
        report.xfailed(),
        report.summary()
    ));
    out
}

fn render_markdown(report: &Report) -> String {
    let mut out = String::from(
        "| rule | passed | failed | skipped | expected failures | |\n|---|---:|---:|---:|---:|---|\n",
    );
    for (rule, [p, f, s, x]) in report.by_rule() {
        let mark = if f > 0 { "❌" } else { "✅" };
        out.push_str(&format!("| {rule} | {p} | {f} | {s} | {x} | {mark} |\n"));
    }
    let failures = failures(report);
    if !failures.is_empty() {
        out.push_str("\nFailures:\n\n");
        for line in failures {
            out.push_str(&format!("- {}\n", line.trim_start_matches("FAIL ")));
        }
    }
    out.push_str(&format!("\n{}\n", report.summary()));
    out
}

fn render_json(report: &Report) -> String {
    let cases: Vec<Value> = report
        .cases
        .iter()
        .map(|c| {
            let (status, detail) = match &c.status {
                Status::Pass(note) => ("pass", note.clone()),
                Status::Fail(why) => ("fail", Some(why.clone())),
                Status::Skip => ("skip", None),
                Status::XFail(reason) => ("xfail", Some(reason.clone())),
            };
            json!({"id": c.id, "file": c.file, "rules": c.rules, "status": status, "detail": detail})
        })
        .collect();
    let rules: BTreeMap<String, Value> = report
        .by_rule()
        .into_iter()
        .map(|(r, [p, f, s, x])| {
            (
                r,
                json!({"passed": p, "failed": f, "skipped": s, "xfail": x}),
            )
        })
        .collect();
    let doc = json!({
        "passed": report.passed(),
        "failed": report.failed(),
        "skipped": report.skipped(),
        "xfail": report.xfailed(),
        "unknown_xfails": report.unknown_xfails,
        "rules": rules,
        "cases": cases,
    });
    serde_json::to_string_pretty(&doc).expect("serializes") + "\n"
}
