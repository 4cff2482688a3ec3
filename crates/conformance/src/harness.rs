//! The conformance harness: runs vectors against an implementation (the reference, or an
//! external program speaking the JSON-lines protocol), scores the answers and renders the
//! results per rule.
//!
//! Protocol (`vectors/README.md`, "The harness protocol", gives the complete description): the
//! runner starts the command once (`sh -c`) and writes one [`CaseLine`] per line on its stdin,
//! waiting for the answer to each before writing the next; the implementation writes one
//! [`Answer`] line per case on stdout and flushes. Answers are matched by `id`:
//!
//! * a stdout line that is not an answer (not JSON, or JSON without a string `id` and a
//!   `result`: a log line) is recorded as a [`ProtocolNote`] and ignored;
//! * an answer with another case's `id` is recorded and ignored too, and the runner keeps
//!   waiting for the right `id` within the timeout;
//! * an answer line with the right `id` that is not a well-formed answer fails the case
//!   ([`Failure::Crashed`], a protocol error).
//!
//! A case whose answer does not arrive within the timeout ([`Failure::TimedOut`]), or whose
//! program exits ([`Failure::Crashed`]), fails; the program (its whole process group) is then
//! killed and started again for the next case. If no case has been answered when a timeout
//! happens, a hint is written to the log: an adapter that reads stdin to the end before
//! answering waits forever.
//!
//! Scoring ([`judge`]): a case passes only when its verdict and its code match (any of the
//! vector's `code` and `alt_codes`); a valid `http` answer must also give the vector's `tokens`
//! in order. `unmapped` is a failure unless the run is [`Scoring::VerdictOnly`], which compares
//! verdicts (and `http` tokens) only and is stated in every output format. A run passes
//! ([`Report::ok`]) when nothing failed and at least one case passed.
//!
//! Profiles (SPEC.md §10): [`run_profiles`] runs each profile's vectors
//! ([`crate::profile_dir`]) as a run of its own (an external implementation is started afresh
//! for each, since the two profiles share vector ids), with that profile's expected failures
//! ([`ProfileXfails`]), and [`render_profiles`] reports each profile, then the total. A run
//! over several profiles passes ([`ProfilesReport::ok`]) when every profile's run passes.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::reference::evaluate;
use super::vector::{
    Answer, AnswerResult, CaseLine, Kind, ProfileName, Vector, VectorFile, Verdict,
};
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
    Ok(flatten(read_files(dir)?))
}

/// Every vector file of `dir` (`*.json` except `schema.json`) with its name, in file-name
/// order.
fn read_files(dir: &Path) -> Result<Vec<(String, VectorFile)>, String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") && n != "schema.json")
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let path = dir.join(&name);
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let file: VectorFile =
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok((name, file))
        })
        .collect()
}

fn flatten(files: Vec<(String, VectorFile)>) -> Vec<Loaded> {
    files
        .into_iter()
        .flat_map(|(name, file)| {
            file.vectors.into_iter().map(move |vector| Loaded {
                file: name.clone(),
                vector,
            })
        })
        .collect()
}

/// Loads the vector files of `profile` under the vectors directory `root` (the files of
/// [`crate::profile_dir`]`(root, profile)`). Every file must say it is of `profile` (its
/// `profile` member), and so must every case (`settings.profile`): a file in the wrong
/// directory would otherwise be scored under the wrong profile. A directory without vectors
/// is an error too.
pub fn load_profile(root: &Path, profile: ProfileName) -> Result<Vec<Loaded>, String> {
    let dir = crate::profile_dir(root, profile);
    let files = read_files(&dir)?;
    for (name, file) in &files {
        let path = dir.join(name);
        if file.profile != profile.as_str() {
            return Err(format!(
                "{}: a file of profile {:?}, but {} holds the {profile} vectors",
                path.display(),
                file.profile,
                dir.display()
            ));
        }
        if let Some(v) = file
            .vectors
            .iter()
            .find(|v| v.case.settings.profile != profile)
        {
            return Err(format!(
                "{}: vector {} is of profile {}, but {} holds the {profile} vectors",
                path.display(),
                v.id,
                v.case.settings.profile,
                dir.display()
            ));
        }
    }
    let loaded = flatten(files);
    if loaded.is_empty() {
        return Err(format!("no {profile} vectors in {}", dir.display()));
    }
    Ok(loaded)
}

/// How answers are scored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scoring {
    /// A case passes only when its verdict and its error code match; `unmapped` fails.
    #[default]
    Strict,
    /// Verdicts only (`--verdict-only`), for an implementation that has not mapped its errors
    /// to SPEC.md's codes yet: any code of a rejection is taken. `http` tokens are still
    /// compared (they are the verdict of a valid `http` case, not an error code).
    VerdictOnly,
}

impl Scoring {
    /// `strict` or `verdict-only`, as the outputs name it.
    pub fn name(self) -> &'static str {
        match self {
            Scoring::Strict => "strict",
            Scoring::VerdictOnly => "verdict-only",
        }
    }
}

/// How often a run reports progress on its log by default.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// The options of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// How answers are scored.
    pub scoring: Scoring,
    /// At least this long between two progress lines (`cases done / total`) on the log; the
    /// first comes after this long too, so a short run prints none.
    pub progress_every: Duration,
    /// The profile whose vectors are run, named in every log line (`ect conformance:
    /// draft-01: ...`); `None`: not named.
    pub profile: Option<ProfileName>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            scoring: Scoring::Strict,
            progress_every: PROGRESS_EVERY,
            profile: None,
        }
    }
}

/// Why an implementation gave no usable answer to a case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoAnswer {
    /// The program could not be started, exited, or broke the protocol (an answer line for
    /// this case that is not a well-formed answer); for the reference, a broken case.
    Crashed(String),
    /// No answer within the timeout.
    TimedOut(String),
}

/// What kind of stdout line was ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum NoteKind {
    /// Not an answer: not JSON, not an object, or without a string `id` and a `result`.
    NotAnAnswer,
    /// An answer (or answer-shaped line) for another case than the one awaited.
    OtherId,
}

impl NoteKind {
    /// `not_an_answer` or `other_id`, as the JSON output names it.
    pub fn name(self) -> &'static str {
        match self {
            NoteKind::NotAnAnswer => "not_an_answer",
            NoteKind::OtherId => "other_id",
        }
    }

    fn label(self) -> &'static str {
        match self {
            NoteKind::NotAnAnswer => "not an answer",
            NoteKind::OtherId => "answer for another case",
        }
    }
}

/// A stdout line the runner ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolNote {
    /// The id of the case whose answer was awaited when the line came.
    pub awaiting: String,
    /// Why it was ignored.
    pub kind: NoteKind,
    /// The line, truncated to [`NOTE_CHARS`] characters (invalid UTF-8 replaced).
    pub line: String,
}

/// How many characters of an ignored line a [`ProtocolNote`] keeps.
pub const NOTE_CHARS: usize = 120;

/// How many [`ProtocolNote`]s a report keeps (all are counted).
pub const MAX_NOTES: usize = 100;

/// The ignored stdout lines of a run: every one counted, the first [`MAX_NOTES`] kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProtocolNotes {
    /// The first [`MAX_NOTES`] notes, in the order they came.
    pub notes: Vec<ProtocolNote>,
    /// How many lines were not answers.
    pub not_an_answer: usize,
    /// How many answers were for another case.
    pub other_id: usize,
}

impl ProtocolNotes {
    /// Every ignored line, kept or not.
    pub fn count(&self) -> usize {
        self.not_an_answer + self.other_id
    }
}

/// The hint written when no case has been answered and one times out.
pub const STDIN_HINT: &str = "hint: the harness writes one case line and waits for its answer \
     before writing the next, so an implementation that reads stdin to the end before \
     answering waits forever. Read one line, answer it on stdout, flush, and answer each line \
     as it arrives; log to stderr only.";

/// What a run reports while it runs: progress and hints on a log (stderr in the CLI), and the
/// protocol notes that end up in the [`Report`].
pub struct Session<'a> {
    log: &'a mut dyn Write,
    label: Option<ProfileName>,
    every: Duration,
    total: usize,
    done: usize,
    last: Instant,
    printed: bool,
    notes: ProtocolNotes,
}

impl std::fmt::Debug for Session<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("total", &self.total)
            .field("done", &self.done)
            .field("notes", &self.notes)
            .finish_non_exhaustive()
    }
}

impl<'a> Session<'a> {
    /// A session over `total` cases, writing progress at most every `every` to `log`.
    pub fn new(log: &'a mut dyn Write, total: usize, every: Duration) -> Self {
        Session {
            log,
            label: None,
            every,
            total,
            done: 0,
            last: Instant::now(),
            printed: false,
            notes: ProtocolNotes::default(),
        }
    }

    /// One more case has its answer (or its failure).
    pub fn case_done(&mut self) {
        self.done += 1;
        if self.last.elapsed() >= self.every {
            let line = format!("{}/{} cases done", self.done, self.total);
            self.progress(&line);
        }
    }

    /// `n` more cases are done at once (an implementation answering in parallel).
    pub fn cases_done(&mut self, n: usize) {
        self.done += n;
    }

    /// Still waiting for the answer to `id`, since `since`: a progress line when one is due.
    pub fn waiting(&mut self, id: &str, since: Instant) {
        if self.last.elapsed() >= self.every {
            let line = format!(
                "{}/{} cases done, waiting {} s for the answer to {id}",
                self.done,
                self.total,
                since.elapsed().as_secs()
            );
            self.progress(&line);
        }
    }

    fn progress(&mut self, line: &str) {
        self.say(line);
        self.last = Instant::now();
        self.printed = true;
    }

    /// The same session with every log line naming `profile` (`ect conformance: draft-01:
    /// ...`).
    pub fn for_profile(mut self, profile: ProfileName) -> Self {
        self.label = Some(profile);
        self
    }

    /// Writes `message` to the log (`ect conformance: ` first, then the profile when the
    /// session names one).
    pub fn say(&mut self, message: &str) {
        let _ = match self.label {
            Some(p) => writeln!(self.log, "ect conformance: {p}: {message}"),
            None => writeln!(self.log, "ect conformance: {message}"),
        };
        let _ = self.log.flush();
    }

    /// Records an ignored stdout line. The first one is also written to the log.
    pub fn note(&mut self, awaiting: &str, kind: NoteKind, line: &[u8]) {
        let line = truncate(&String::from_utf8_lossy(line));
        if self.notes.count() == 0 {
            self.say(&format!(
                "ignored a stdout line ({}) while awaiting {awaiting}: {line} (every such line \
                 is counted under \"protocol notes\" in the report)",
                kind.label()
            ));
        }
        match kind {
            NoteKind::NotAnAnswer => self.notes.not_an_answer += 1,
            NoteKind::OtherId => self.notes.other_id += 1,
        }
        if self.notes.notes.len() < MAX_NOTES {
            self.notes.notes.push(ProtocolNote {
                awaiting: awaiting.to_owned(),
                kind,
                line,
            });
        }
    }

    fn finish(mut self) -> ProtocolNotes {
        if self.printed {
            let line = format!("{}/{} cases done", self.done, self.total);
            self.say(&line);
        }
        self.notes
    }
}

/// Something that answers cases.
pub trait Implementation {
    /// The answer to one case, or why there is none (timeout, crash, protocol error). Ignored
    /// lines and progress go to `session`.
    fn answer(&mut self, case: &CaseLine, session: &mut Session<'_>) -> Result<Answer, NoAnswer>;

    /// The answers to `cases`, in order. By default one [`Implementation::answer`] after the
    /// other; an implementation whose answers are independent may compute them in parallel.
    fn answer_all(
        &mut self,
        cases: &[CaseLine],
        session: &mut Session<'_>,
    ) -> Vec<Result<Answer, NoAnswer>> {
        cases
            .iter()
            .map(|c| {
                let answer = self.answer(c, session);
                session.case_done();
                answer
            })
            .collect()
    }
}

/// This crate, in-process.
#[derive(Debug, Default)]
pub struct Reference;

impl Reference {
    fn answer_one(case: &CaseLine) -> Result<Answer, NoAnswer> {
        let outcome =
            evaluate(&case.case).map_err(|e| NoAnswer::Crashed(format!("broken case: {e}")))?;
        Ok(Answer {
            id: case.id.clone(),
            result: outcome.result,
            code: outcome.code().map(str::to_owned),
            tokens: outcome.tokens,
        })
    }
}

impl Implementation for Reference {
    fn answer(&mut self, case: &CaseLine, _: &mut Session<'_>) -> Result<Answer, NoAnswer> {
        Reference::answer_one(case)
    }

    /// Every vector gets its own verifier, ledger and replay cache, so the cases are
    /// independent: they run across rayon's thread pool (all cores by default).
    fn answer_all(
        &mut self,
        cases: &[CaseLine],
        session: &mut Session<'_>,
    ) -> Vec<Result<Answer, NoAnswer>> {
        use rayon::prelude::*;
        let answers: Vec<_> = cases.par_iter().map(Reference::answer_one).collect();
        session.cases_done(answers.len());
        answers
    }
}

/// The longest stdout line read as a possible answer; the rest of a longer line is skipped
/// and the line counts as not an answer.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// The shortest wait between two looks at the clock while an answer is awaited.
const MIN_SLICE: Duration = Duration::from_millis(50);

/// An external program speaking the protocol, run with `sh -c` in a process group of its own.
#[derive(Debug)]
pub struct External {
    command: String,
    timeout: Duration,
    running: Option<Running>,
    /// Whether any case was answered (then a timeout gets no stdin hint).
    answered: bool,
    /// Whether the stdin hint was given.
    hinted: bool,
}

#[derive(Debug)]
struct Running {
    child: Child,
    /// Lines for the program's stdin, written by a thread so that a program that does not
    /// read cannot block the runner past the timeout. Dropped to close stdin.
    stdin: Option<SyncSender<Vec<u8>>>,
    /// The program's stdout lines (at most [`MAX_LINE_BYTES`] each; `true`: cut short).
    lines: Receiver<(Vec<u8>, bool)>,
}

/// What one stdout line is, for the case `awaiting`.
enum Received {
    Answer(Answer),
    Malformed(String),
    Note(NoteKind),
}

fn classify(line: &[u8], cut: bool, awaiting: &str) -> Received {
    if cut {
        return Received::Note(NoteKind::NotAnAnswer);
    }
    match Answer::parse_line(line) {
        Ok(None) => Received::Note(NoteKind::NotAnAnswer),
        Ok(Some(a)) if a.id == awaiting => Received::Answer(a),
        Err((id, why)) if id == awaiting => Received::Malformed(why),
        Ok(Some(_)) | Err(_) => Received::Note(NoteKind::OtherId),
    }
}

impl External {
    /// An implementation run as `sh -c command`, each answer awaited at most `timeout`.
    pub fn new(command: impl Into<String>, timeout: Duration) -> Self {
        External {
            command: command.into(),
            timeout,
            running: None,
            answered: false,
            hinted: false,
        }
    }

    fn start(&mut self) -> Result<&mut Running, NoAnswer> {
        if self.running.is_none() {
            let mut command = Command::new("sh");
            command
                .arg("-c")
                .arg(&self.command)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit());
            // A process group of its own, so that a restart kills what the command started
            // too (`sh -c` may fork the adapter rather than exec it).
            #[cfg(unix)]
            std::os::unix::process::CommandExt::process_group(&mut command, 0);
            let mut child = command
                .spawn()
                .map_err(|e| NoAnswer::Crashed(format!("cannot start {:?}: {e}", self.command)))?;
            let mut stdin = child.stdin.take().expect("piped");
            let stdout = child.stdout.take().expect("piped");
            let (to_stdin, from_runner) = sync_channel::<Vec<u8>>(1);
            std::thread::spawn(move || {
                for line in from_runner {
                    if stdin.write_all(&line).and_then(|()| stdin.flush()).is_err() {
                        break;
                    }
                }
            });
            let (tx, lines) = sync_channel(16);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stdout);
                while let Ok(Some(line)) = read_line(&mut reader, MAX_LINE_BYTES) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            self.running = Some(Running {
                child,
                stdin: Some(to_stdin),
                lines,
            });
        }
        Ok(self.running.as_mut().expect("just started"))
    }

    /// Closes the program's stdin and kills it (and its process group); the next case starts
    /// a new one. Returns its exit status.
    fn stop(&mut self) -> Option<String> {
        let mut running = self.running.take()?;
        drop(running.stdin.take());
        #[cfg(unix)]
        {
            // The group's id is the child's pid, which stays reserved until the wait below.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", running.child.id())])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = running.child.kill();
        running.child.wait().ok().map(|status| status.to_string())
    }

    fn timed_out(&mut self, session: &mut Session<'_>) -> NoAnswer {
        self.stop();
        if !self.answered && !self.hinted {
            self.hinted = true;
            session.say(&format!(
                "no answer to the first case within {} s. {STDIN_HINT}",
                self.timeout.as_secs_f64()
            ));
        }
        NoAnswer::TimedOut(format!(
            "no answer within {} s (restarted for the next case)",
            self.timeout.as_secs_f64()
        ))
    }
}

impl Drop for External {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Implementation for External {
    fn answer(&mut self, case: &CaseLine, session: &mut Session<'_>) -> Result<Answer, NoAnswer> {
        let mut line = serde_json::to_vec(case).expect("a case serializes");
        line.push(b'\n');
        let started = Instant::now();
        let deadline = started + self.timeout;
        let slice = session.every.max(MIN_SLICE);
        let running = self.start()?;
        // The writer thread holds one line at a time. A line still not taken means the
        // program answered a case without reading all of its line: it does not follow the
        // protocol, and waiting for it could last forever.
        let sent = match &running.stdin {
            Some(stdin) => stdin.try_send(line),
            None => Err(TrySendError::Disconnected(Vec::new())),
        };
        if let Err(e) = sent {
            let status = self.stop().unwrap_or_default();
            return Err(NoAnswer::Crashed(match e {
                TrySendError::Full(_) => format!(
                    "protocol error: the implementation does not read its stdin ({status}) \
                     (restarted for the next case)"
                ),
                TrySendError::Disconnected(_) => {
                    format!("the implementation exited ({status}) (restarted for the next case)")
                }
            }));
        }
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(self.timed_out(session));
            }
            let running = self.running.as_mut().expect("started above");
            match running.lines.recv_timeout((deadline - now).min(slice)) {
                Ok((text, cut)) => match classify(&text, cut, &case.id) {
                    Received::Answer(answer) => {
                        self.answered = true;
                        return Ok(answer);
                    }
                    Received::Malformed(why) => {
                        self.answered = true;
                        return Err(NoAnswer::Crashed(format!(
                            "protocol error: a malformed answer ({why}): {}",
                            truncate(&String::from_utf8_lossy(&text))
                        )));
                    }
                    Received::Note(kind) => session.note(&case.id, kind, &text),
                },
                Err(RecvTimeoutError::Timeout) => session.waiting(&case.id, started),
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.stop().unwrap_or_default();
                    return Err(NoAnswer::Crashed(format!(
                        "the implementation exited ({status}) (restarted for the next case)"
                    )));
                }
            }
        }
    }
}

/// Reads one line (without its `\n`) of at most `max` bytes; a longer line is read to its end,
/// its first `max` bytes kept and flagged `true`. `None` at the end of the input.
fn read_line(reader: &mut impl BufRead, max: usize) -> std::io::Result<Option<(Vec<u8>, bool)>> {
    let mut line = Vec::new();
    let mut cut = false;
    let mut any = false;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(any.then_some((line, cut)));
        }
        any = true;
        let (chunk, end) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        let room = max.saturating_sub(line.len());
        if chunk.len() > room {
            cut = true;
        }
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = end.unwrap_or(buf.len());
        reader.consume(used);
        if end.is_some() {
            if line.last() == Some(&b'\r') && !cut {
                line.pop();
            }
            return Ok(Some((line, cut)));
        }
    }
}

fn truncate(s: &str) -> String {
    match s.char_indices().nth(NOTE_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// Expected failures of one profile: vector id → reason. Strict: a listed vector that passes
/// fails the run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Xfails(pub BTreeMap<String, String>);

impl Xfails {
    /// Reads the expected failures of profile `draft-00` from an expected-failures file (see
    /// [`ProfileXfails::load`]; the original form is `{"xfails": {"<id>": "<reason>", ...}}`).
    pub fn load(path: &Path) -> Result<Self, String> {
        Ok(ProfileXfails::load(path)?.get(ProfileName::Draft00))
    }

    /// `{"<id>": "<reason>", ...}`, every reason a non-blank string.
    fn parse(value: &Value, origin: &str) -> Result<Self, String> {
        let map = value
            .as_object()
            .ok_or(format!("{origin}: not an object of id: reason"))?;
        map.iter()
            .map(|(id, reason)| match reason.as_str() {
                Some(r) if !r.trim().is_empty() => Ok((id.clone(), r.to_owned())),
                _ => Err(format!("{origin}: {id} needs a reason")),
            })
            .collect::<Result<_, _>>()
            .map(Xfails)
    }
}

/// The expected failures of every profile (`ect conformance --xfails`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfileXfails(pub BTreeMap<ProfileName, Xfails>);

impl ProfileXfails {
    /// Reads an expected-failures file: `{"xfails": {"<id>": "<reason>"}}` lists `draft-00`'s
    /// (the form from before profiles), `{"profiles": {"<profile>": {"<id>": "<reason>"}}}`
    /// any profile's; a file may have both. At least one of the two members is required;
    /// other members are ignored (comments, say). Refused: an unknown profile name, and
    /// `draft-00` listed in both forms (which would win is not obvious).
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let value: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&value, &path.display().to_string())
    }

    /// [`ProfileXfails::load`] of a parsed file; `origin` names it in errors.
    pub fn parse(value: &Value, origin: &str) -> Result<Self, String> {
        let legacy = value.get("xfails");
        let profiles = value.get("profiles");
        if legacy.is_none() && profiles.is_none() {
            return Err(format!("{origin}: no \"xfails\" or \"profiles\" object"));
        }
        let mut out = BTreeMap::new();
        if let Some(list) = legacy {
            let xfails = Xfails::parse(list, &format!("{origin}: \"xfails\""))?;
            out.insert(ProfileName::Draft00, xfails);
        }
        if let Some(profiles) = profiles {
            let profiles = profiles.as_object().ok_or(format!(
                "{origin}: \"profiles\" is not an object of profile: {{id: reason}}"
            ))?;
            for (name, list) in profiles {
                let profile = ProfileName::parse(name).ok_or(format!(
                    "{origin}: unknown profile {name:?} (use {})",
                    ProfileName::ALL.map(ProfileName::as_str).join(" or ")
                ))?;
                let xfails = Xfails::parse(list, &format!("{origin}: profile {name}"))?;
                if out.insert(profile, xfails).is_some() {
                    return Err(format!(
                        "{origin}: {name}'s expected failures are given twice (\"xfails\" and \
                         \"profiles\".\"{name}\"): keep one"
                    ));
                }
            }
        }
        Ok(ProfileXfails(out))
    }

    /// The expected failures of `profile` (none when the file lists none).
    pub fn get(&self, profile: ProfileName) -> Xfails {
        self.0.get(&profile).cloned().unwrap_or_default()
    }
}

/// Why a case failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Failure {
    /// Accepted where the vector rejects, rejected where it accepts.
    WrongVerdict,
    /// Rejected with a code the vector does not list, or without a code.
    WrongCode,
    /// Rejected with the code `unmapped` (strict scoring).
    Unmapped,
    /// A valid `http` answer whose `tokens` are missing or differ from the vector's (in
    /// content or order).
    WrongTokens,
    /// The program could not be started, exited, or broke the protocol.
    Crashed,
    /// No answer within the timeout.
    TimedOut,
    /// The case passed, but the expected failures list it.
    UnexpectedPass,
}

impl Failure {
    /// Every category, in the order the outputs list them.
    pub const ALL: [Failure; 7] = [
        Failure::WrongVerdict,
        Failure::WrongCode,
        Failure::Unmapped,
        Failure::WrongTokens,
        Failure::Crashed,
        Failure::TimedOut,
        Failure::UnexpectedPass,
    ];

    /// The category as the JSON output names it (`wrong_verdict`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Failure::WrongVerdict => "wrong_verdict",
            Failure::WrongCode => "wrong_code",
            Failure::Unmapped => "unmapped",
            Failure::WrongTokens => "wrong_tokens",
            Failure::Crashed => "crashed",
            Failure::TimedOut => "timed_out",
            Failure::UnexpectedPass => "unexpected_pass",
        }
    }

    /// The category in words (`wrong verdict`, ...).
    pub fn label(self) -> &'static str {
        match self {
            Failure::WrongVerdict => "wrong verdict",
            Failure::WrongCode => "wrong code",
            Failure::Unmapped => "unmapped",
            Failure::WrongTokens => "wrong tokens",
            Failure::Crashed => "crashed",
            Failure::TimedOut => "timed out",
            Failure::UnexpectedPass => "unexpected pass",
        }
    }
}

/// How one case went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// The expected result (with a note, e.g. a code not compared in verdict-only scoring).
    Pass(Option<String>),
    /// Anything else: the category, and why.
    Fail(Failure, String),
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

/// How `answer` scores for `v`: [`Status::Pass`], [`Status::Fail`] or [`Status::Skip`]
/// (never [`Status::XFail`], which [`run`] applies).
pub fn judge(v: &Vector, answer: &Answer, scoring: Scoring) -> Status {
    let codes: Vec<&str> = v
        .code
        .iter()
        .chain(&v.alt_codes)
        .map(String::as_str)
        .collect();
    let expected = if codes.is_empty() {
        "a code".to_owned()
    } else {
        codes.join(" or ")
    };
    let code = answer.code.as_deref();
    match (v.result, answer.result) {
        (_, AnswerResult::Skip) => Status::Skip,
        (Verdict::Valid | Verdict::Acceptable, AnswerResult::Valid) => tokens(v, answer),
        (Verdict::Valid, AnswerResult::Invalid) => Status::Fail(
            Failure::WrongVerdict,
            format!("rejected ({}), expected valid", code.unwrap_or("no code")),
        ),
        (Verdict::Invalid, AnswerResult::Valid) => Status::Fail(
            Failure::WrongVerdict,
            format!("accepted, expected invalid {expected}"),
        ),
        (Verdict::Invalid | Verdict::Acceptable, AnswerResult::Invalid) => match code {
            Some(c) if codes.contains(&c) => Status::Pass(None),
            _ if scoring == Scoring::VerdictOnly => Status::Pass(Some(format!(
                "code {} not compared (verdict-only), expected {expected}",
                code.unwrap_or("none")
            ))),
            Some("unmapped") => Status::Fail(
                Failure::Unmapped,
                format!("unmapped code, expected {expected}"),
            ),
            Some(c) => Status::Fail(
                Failure::WrongCode,
                format!("rejected with {c}, expected {expected}"),
            ),
            None => Status::Fail(
                Failure::WrongCode,
                format!("rejected without a code, expected {expected}"),
            ),
        },
    }
}

/// A valid answer: for an `http` vector with `tokens`, the answer's tokens must be the same,
/// in the same order (ECT-HTTP-2).
fn tokens(v: &Vector, answer: &Answer) -> Status {
    let Some(expected) = v.tokens.as_ref().filter(|_| v.case.kind == Kind::Http) else {
        return Status::Pass(None);
    };
    let Some(got) = &answer.tokens else {
        return Status::Fail(
            Failure::WrongTokens,
            format!(
                "accepted without `tokens`, expected the {} token(s) of the field",
                expected.len()
            ),
        );
    };
    if got == expected {
        return Status::Pass(None);
    }
    let why = match expected.iter().zip(got).position(|(e, g)| e != g) {
        Some(i) if got.len() == expected.len() && expected.iter().all(|e| got.contains(e)) => {
            format!(
                "the tokens are not in field order (first difference at position {i} of {})",
                expected.len()
            )
        }
        Some(i) => format!("token {i} differs from the field's"),
        None => format!("{} tokens, expected {}", got.len(), expected.len()),
    };
    Status::Fail(Failure::WrongTokens, why)
}

/// The results of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// How the answers were scored.
    pub scoring: Scoring,
    /// Every case, in vector order.
    pub cases: Vec<CaseResult>,
    /// Expected failures naming no vector (each counts as a failure).
    pub unknown_xfails: Vec<String>,
    /// The stdout lines that were ignored.
    pub protocol: ProtocolNotes,
}

impl Report {
    /// Cases that passed.
    pub fn passed(&self) -> usize {
        self.count(|s| matches!(s, Status::Pass(_)))
    }

    /// Cases that failed, plus unknown expected-failure ids.
    pub fn failed(&self) -> usize {
        self.count(|s| matches!(s, Status::Fail(..))) + self.unknown_xfails.len()
    }

    /// Cases that failed for `why`.
    pub fn failed_by(&self, why: Failure) -> usize {
        self.count(|s| matches!(s, Status::Fail(f, _) if *f == why))
    }

    /// Cases the implementation skipped.
    pub fn skipped(&self) -> usize {
        self.count(|s| *s == Status::Skip)
    }

    /// Cases that failed as listed in the expected failures.
    pub fn xfailed(&self) -> usize {
        self.count(|s| matches!(s, Status::XFail(_)))
    }

    /// Whether the run passes: nothing failed and at least one case passed (a run where
    /// everything was skipped, or failed as expected, shows nothing).
    pub fn ok(&self) -> bool {
        self.failed() == 0 && self.passed() > 0
    }

    fn count(&self, f: impl Fn(&Status) -> bool) -> usize {
        self.cases.iter().filter(|c| f(&c.status)).count()
    }

    /// Per rule id: (passed, failed, skipped, expected failures), in SPEC.md's order. A case
    /// counts under every rule it lists.
    pub fn by_rule(&self) -> Vec<(String, [usize; 4])> {
        let mut rows: BTreeMap<String, [usize; 4]> = BTreeMap::new();
        for c in &self.cases {
            let column = match c.status {
                Status::Pass(_) => 0,
                Status::Fail(..) => 1,
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

    /// The final line: `N passed, N failed`, then `, N skipped` when some were.
    pub fn summary(&self) -> String {
        summary_line(self.passed(), self.failed(), self.skipped())
    }

    /// Every count: passed, failed by category, skipped, expected failures.
    pub fn totals(&self) -> String {
        let categories: Vec<String> = Failure::ALL
            .iter()
            .map(|f| format!("{} {}", self.failed_by(*f), f.label()))
            .chain(std::iter::once(format!(
                "{} unknown expected-failure ids",
                self.unknown_xfails.len()
            )))
            .collect();
        format!(
            "{} passed; {} failed ({}); {} skipped; {} expected failures",
            self.passed(),
            self.failed(),
            categories.join(", "),
            self.skipped(),
            self.xfailed()
        )
    }
}

/// Runs every vector against `imp` with strict scoring, applying `xfails`, silently.
pub fn run(vectors: &[Loaded], imp: &mut dyn Implementation, xfails: &Xfails) -> Report {
    run_with(
        vectors,
        imp,
        xfails,
        &Options::default(),
        &mut std::io::sink(),
    )
}

/// Runs every vector against `imp` as `options` say, applying `xfails`; progress, hints and
/// the first ignored line go to `log`.
pub fn run_with(
    vectors: &[Loaded],
    imp: &mut dyn Implementation,
    xfails: &Xfails,
    options: &Options,
    log: &mut dyn Write,
) -> Report {
    let lines: Vec<CaseLine> = vectors
        .iter()
        .map(|l| CaseLine {
            id: l.vector.id.clone(),
            case: l.vector.case.clone(),
        })
        .collect();
    let mut session = Session::new(log, lines.len(), options.progress_every);
    if let Some(p) = options.profile {
        session = session.for_profile(p);
    }
    let answers = imp.answer_all(&lines, &mut session);
    let protocol = session.finish();
    assert_eq!(answers.len(), vectors.len(), "one answer per case");
    let mut report = Report {
        scoring: options.scoring,
        protocol,
        ..Report::default()
    };
    for (l, answer) in vectors.iter().zip(answers) {
        let v = &l.vector;
        let status = match answer {
            Ok(a) => judge(v, &a, options.scoring),
            Err(NoAnswer::Crashed(why)) => Status::Fail(Failure::Crashed, why),
            Err(NoAnswer::TimedOut(why)) => Status::Fail(Failure::TimedOut, why),
        };
        let status = match (status, xfails.0.get(&v.id)) {
            (Status::Fail(..), Some(reason)) => Status::XFail(reason.clone()),
            (Status::Pass(_), Some(reason)) => Status::Fail(
                Failure::UnexpectedPass,
                format!("passed, but listed as an expected failure ({reason})"),
            ),
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

/// One profile's run in a [`ProfilesReport`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileReport {
    /// The profile.
    pub profile: ProfileName,
    /// The directory its vectors came from.
    pub dir: std::path::PathBuf,
    /// Its results.
    pub report: Report,
}

/// The results of a run over several profiles, each run on its own ([`run_profiles`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfilesReport {
    /// How the answers were scored (the same for every profile).
    pub scoring: Scoring,
    /// Each profile's run, in the order they ran.
    pub profiles: Vec<ProfileReport>,
}

impl ProfilesReport {
    /// Whether the run passes: at least one profile ran, and every profile's run passed
    /// ([`Report::ok`]: nothing failed and at least one case passed, per profile).
    pub fn ok(&self) -> bool {
        !self.profiles.is_empty() && self.profiles.iter().all(|p| p.report.ok())
    }

    fn sum(&self, f: impl Fn(&Report) -> usize) -> usize {
        self.profiles.iter().map(|p| f(&p.report)).sum()
    }

    /// Cases that passed, every profile.
    pub fn passed(&self) -> usize {
        self.sum(Report::passed)
    }

    /// Cases that failed (and unknown expected-failure ids), every profile.
    pub fn failed(&self) -> usize {
        self.sum(Report::failed)
    }

    /// Cases that failed for `why`, every profile.
    pub fn failed_by(&self, why: Failure) -> usize {
        self.sum(|r| r.failed_by(why))
    }

    /// Cases skipped, every profile.
    pub fn skipped(&self) -> usize {
        self.sum(Report::skipped)
    }

    /// Cases that failed as expected, every profile.
    pub fn xfailed(&self) -> usize {
        self.sum(Report::xfailed)
    }

    /// The final line: `N passed, N failed`, then `, N skipped` when some were, over every
    /// profile.
    pub fn summary(&self) -> String {
        summary_line(self.passed(), self.failed(), self.skipped())
    }
}

fn summary_line(passed: usize, failed: usize, skipped: usize) -> String {
    let mut line = format!("{passed} passed, {failed} failed");
    if skipped > 0 {
        line.push_str(&format!(", {skipped} skipped"));
    }
    line
}

/// Runs the vectors of each of `profiles` under `root` ([`load_profile`]; every profile is
/// loaded before anything runs) against the implementation `implementation(profile)` gives
/// (a fresh one per profile: the profiles share vector ids), with that profile's expected
/// failures, as `options` say (its `profile` is set per run). A profile whose vectors do not
/// load is an error.
pub fn run_profiles(
    root: &Path,
    profiles: &[ProfileName],
    implementation: &mut dyn FnMut(ProfileName) -> Box<dyn Implementation>,
    xfails: &ProfileXfails,
    options: &Options,
    log: &mut dyn Write,
) -> Result<ProfilesReport, String> {
    let loaded = profiles
        .iter()
        .map(|&p| load_profile(root, p).map(|vectors| (p, vectors)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = ProfilesReport {
        scoring: options.scoring,
        profiles: Vec::new(),
    };
    for (profile, vectors) in loaded {
        let options = Options {
            profile: Some(profile),
            ..*options
        };
        let mut imp = implementation(profile);
        let report = run_with(&vectors, imp.as_mut(), &xfails.get(profile), &options, log);
        // Stops the implementation (an external program) before the next profile starts.
        drop(imp);
        out.profiles.push(ProfileReport {
            profile,
            dir: crate::profile_dir(root, profile),
            report,
        });
    }
    Ok(out)
}

/// Output formats of `ect conformance`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A per-rule table, the failures, the protocol notes, the counts and the summary line.
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

/// How many protocol notes the table and the markdown list (all are counted; JSON lists the
/// kept ones).
const LISTED_NOTES: usize = 20;

fn scoring_line(scoring: Scoring) -> &'static str {
    match scoring {
        Scoring::Strict => "a case passes only when its verdict and its error code match",
        Scoring::VerdictOnly => {
            "--verdict-only: a case passes when its verdict matches; error codes are NOT \
             compared (http tokens are)"
        }
    }
}

fn failures(report: &Report) -> Vec<String> {
    let mut out: Vec<String> = report
        .cases
        .iter()
        .filter_map(|c| match &c.status {
            Status::Fail(f, why) => Some(format!(
                "FAIL {} ({}) [{}]: {why}",
                c.id,
                c.rules.join(", "),
                f.label()
            )),
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

fn notes_lines(report: &Report) -> Vec<String> {
    let p = &report.protocol;
    if p.count() == 0 {
        return vec!["protocol notes: none (every stdout line was an answer)".to_owned()];
    }
    let mut out = vec![format!(
        "protocol notes: {} stdout line{} ignored ({} not an answer, {} answer for another case)",
        p.count(),
        if p.count() == 1 { "" } else { "s" },
        p.not_an_answer,
        p.other_id
    )];
    for n in p.notes.iter().take(LISTED_NOTES) {
        out.push(format!(
            "  awaiting {}: {}: {}",
            n.awaiting,
            n.kind.label(),
            n.line
        ));
    }
    if p.count() > LISTED_NOTES {
        out.push(format!(
            "  ... and {} more (--format json lists the first {MAX_NOTES})",
            p.count() - LISTED_NOTES
        ));
    }
    out
}

fn no_pass_line(report: &Report) -> Option<&'static str> {
    (report.passed() == 0).then_some("no case passed: the run fails")
}

/// The last lines of the table and the markdown: the no-pass line when nothing passed, then
/// `N passed, N failed[, N skipped]`.
fn final_lines(report: &Report) -> String {
    let mut out = String::new();
    if let Some(line) = no_pass_line(report) {
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&report.summary());
    out.push('\n');
    out
}

fn render_table(report: &Report) -> String {
    let mut out = scoring_table_line(report.scoring);
    out.push_str(&table_body(report));
    out.push_str(&final_lines(report));
    out
}

fn scoring_table_line(scoring: Scoring) -> String {
    format!("scoring: {} ({})\n", scoring.name(), scoring_line(scoring))
}

/// The per-rule table, the failures, the protocol notes and the counts of one run.
fn table_body(report: &Report) -> String {
    let mut out = format!(
        "{:<12} {:>7} {:>7} {:>7} {:>7}\n",
        "rule", "passed", "failed", "skipped", "xfail"
    );
    for (rule, [p, f, s, x]) in report.by_rule() {
        out.push_str(&format!("{rule:<12} {p:>7} {f:>7} {s:>7} {x:>7}\n"));
    }
    out.push_str("(a vector is counted under every rule it lists)\n");
    for line in failures(report).into_iter().chain(notes_lines(report)) {
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str(&report.totals());
    out.push('\n');
    out
}

/// The markdown mark of a rule's row.
fn mark([p, f, s, x]: [usize; 4]) -> &'static str {
    match () {
        _ if f > 0 => "❌",
        _ if p > 0 && s == 0 && x == 0 => "✅",
        _ if p > 0 => "⚠️ partial",
        _ if x == 0 => "⏭️ skipped",
        _ => "⚠️ expected failures",
    }
}

fn render_markdown(report: &Report) -> String {
    let mut out = scoring_markdown_line(report.scoring);
    out.push_str(&markdown_body(report));
    out.push('\n');
    out.push_str(&final_lines(report));
    out
}

fn scoring_markdown_line(scoring: Scoring) -> String {
    format!(
        "**Scoring: {}**: {}.\n\n",
        scoring.name(),
        scoring_line(scoring)
    )
}

/// The results matrix, the totals, the protocol notes and the failures of one run.
fn markdown_body(report: &Report) -> String {
    let mut out = String::from(
        "| rule | passed | failed | skipped | expected failures | |\n|---|---:|---:|---:|---:|---|\n",
    );
    for (rule, counts) in report.by_rule() {
        let [p, f, s, x] = counts;
        out.push_str(&format!(
            "| {rule} | {p} | {f} | {s} | {x} | {} |\n",
            mark(counts)
        ));
    }
    out.push_str(
        "\nA vector is counted under every rule it lists, so the rows do not add up to the \
         totals. ✅: every case passed; ⚠️ partial: some were skipped or failed as expected; \
         ⏭️ skipped: every case was skipped.\n",
    );
    out.push_str(&format!("\n**Totals**: {}.\n", report.totals()));
    out.push('\n');
    for line in notes_lines(report) {
        match line.strip_prefix("  ") {
            Some(note) => out.push_str(&format!("- {note}\n")),
            None => out.push_str(&format!("{line}\n\n")),
        }
    }
    let failures = failures(report);
    if !failures.is_empty() {
        out.push_str("\nFailures:\n\n");
        for line in failures {
            out.push_str(&format!("- {}\n", line.trim_start_matches("FAIL ")));
        }
    }
    out
}

fn render_json(report: &Report) -> String {
    let mut doc = serde_json::Map::new();
    doc.insert("scoring".into(), report.scoring.name().into());
    doc.extend(json_body(report));
    serde_json::to_string_pretty(&Value::Object(doc)).expect("serializes") + "\n"
}

/// Every count, the per-rule results and the cases of one run.
fn json_body(report: &Report) -> serde_json::Map<String, Value> {
    let cases: Vec<Value> = report
        .cases
        .iter()
        .map(|c| {
            let (status, failure, detail) = match &c.status {
                Status::Pass(note) => ("pass", None, note.clone()),
                Status::Fail(f, why) => ("fail", Some(f.name()), Some(why.clone())),
                Status::Skip => ("skip", None, None),
                Status::XFail(reason) => ("xfail", None, Some(reason.clone())),
            };
            json!({"id": c.id, "file": c.file, "rules": c.rules, "status": status,
                   "failure": failure, "detail": detail})
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
    let mut failures: serde_json::Map<String, Value> = Failure::ALL
        .iter()
        .map(|f| (f.name().to_owned(), json!(report.failed_by(*f))))
        .collect();
    failures.insert("unknown_xfail".into(), json!(report.unknown_xfails.len()));
    let p = &report.protocol;
    let notes: Vec<Value> = p
        .notes
        .iter()
        .map(|n| json!({"awaiting": n.awaiting, "kind": n.kind.name(), "line": n.line}))
        .collect();
    let doc = json!({
        "ok": report.ok(),
        "passed": report.passed(),
        "failed": report.failed(),
        "failures": failures,
        "skipped": report.skipped(),
        "xfail": report.xfailed(),
        "unknown_xfails": report.unknown_xfails,
        "protocol_notes": {
            "count": p.count(),
            "not_an_answer": p.not_an_answer,
            "other_id": p.other_id,
            "notes": notes,
        },
        "rules": rules,
        "cases": cases,
    });
    match doc {
        Value::Object(map) => map,
        _ => unreachable!("json! of an object"),
    }
}

/// Renders a run over several profiles: the scoring, then each profile's section (its
/// heading `profile <name> (vectors in <dir>)`, its per-rule results, failures, notes and
/// counts, and its line `<name>: N passed, N failed[, N skipped]`, preceded by a no-pass line
/// when nothing passed), then the profiles run and, last, the total `N passed, N failed[, N
/// skipped]`. JSON: the totals at the top and each profile's document under `profiles`,
/// by name.
pub fn render_profiles(report: &ProfilesReport, format: Format) -> String {
    match format {
        Format::Table => {
            let mut out = scoring_table_line(report.scoring);
            for p in &report.profiles {
                out.push_str(&format!(
                    "\nprofile {} (vectors in {})\n",
                    p.profile,
                    p.dir.display()
                ));
                out.push_str(&table_body(&p.report));
                out.push_str(&profile_final_line(p));
            }
            out.push('\n');
            out.push_str(&profiles_final_lines(report));
            out
        }
        Format::Markdown => {
            let mut out = scoring_markdown_line(report.scoring);
            for p in &report.profiles {
                out.push_str(&format!(
                    "## Profile {} (`{}`)\n\n",
                    p.profile,
                    p.dir.display()
                ));
                out.push_str(&markdown_body(&p.report));
                out.push('\n');
                out.push_str(&profile_final_line(p));
                out.push('\n');
            }
            out.push_str(&profiles_final_lines(report));
            out
        }
        Format::Json => {
            let mut failures: serde_json::Map<String, Value> = Failure::ALL
                .iter()
                .map(|f| (f.name().to_owned(), json!(report.failed_by(*f))))
                .collect();
            let unknown: usize = report
                .profiles
                .iter()
                .map(|p| p.report.unknown_xfails.len())
                .sum();
            failures.insert("unknown_xfail".into(), json!(unknown));
            let profiles: serde_json::Map<String, Value> = report
                .profiles
                .iter()
                .map(|p| {
                    let mut doc = serde_json::Map::new();
                    doc.insert("vectors".into(), p.dir.display().to_string().into());
                    doc.extend(json_body(&p.report));
                    (p.profile.as_str().to_owned(), Value::Object(doc))
                })
                .collect();
            let doc = json!({
                "scoring": report.scoring.name(),
                "ok": report.ok(),
                "passed": report.passed(),
                "failed": report.failed(),
                "failures": failures,
                "skipped": report.skipped(),
                "xfail": report.xfailed(),
                "profiles": profiles,
            });
            serde_json::to_string_pretty(&doc).expect("serializes") + "\n"
        }
    }
}

/// The last lines of a profile's section: the no-pass line when nothing passed, then
/// `<profile>: N passed, N failed[, N skipped]`.
fn profile_final_line(p: &ProfileReport) -> String {
    let mut out = String::new();
    if p.report.passed() == 0 {
        out.push_str(&format!("{}: no case passed: the run fails\n", p.profile));
    }
    out.push_str(&format!("{}: {}\n", p.profile, p.report.summary()));
    out
}

/// The last lines of a run over several profiles: which profiles ran and which failed, then
/// the total `N passed, N failed[, N skipped]`.
fn profiles_final_lines(report: &ProfilesReport) -> String {
    let names: Vec<&str> = report.profiles.iter().map(|p| p.profile.as_str()).collect();
    let failing: Vec<&str> = report
        .profiles
        .iter()
        .filter(|p| !p.report.ok())
        .map(|p| p.profile.as_str())
        .collect();
    let verdict = if failing.is_empty() {
        "every profile passes".to_owned()
    } else {
        format!("failing: {}", failing.join(", "))
    };
    format!(
        "profiles: {} ({verdict}); total:\n{}\n",
        names.join(", "),
        report.summary()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<(Vec<u8>, bool)> {
        let mut reader = BufReader::with_capacity(4, input);
        let mut out = Vec::new();
        while let Some(line) = read_line(&mut reader, max).unwrap() {
            out.push(line);
        }
        out
    }

    #[test]
    fn read_line_bounds_each_line_and_keeps_the_rest_aligned() {
        assert_eq!(
            lines(b"ab\r\ncdefghij\n\nxyz", 5),
            vec![
                (b"ab".to_vec(), false),
                (b"cdefg".to_vec(), true),
                (Vec::new(), false),
                (b"xyz".to_vec(), false),
            ]
        );
        assert_eq!(lines(b"", 5), Vec::<(Vec<u8>, bool)>::new());
        assert_eq!(lines(b"12345\n", 5), vec![(b"12345".to_vec(), false)]);
    }

    #[test]
    fn answer_lines_are_classified_by_shape_and_id() {
        let kind = |line: &str| match classify(line.as_bytes(), false, "a") {
            Received::Answer(a) => format!("answer {:?}", a.result),
            Received::Malformed(_) => "malformed".to_owned(),
            Received::Note(k) => k.name().to_owned(),
        };
        assert_eq!(kind(r#"{"id":"a","result":"valid"}"#), "answer Valid");
        assert_eq!(
            kind(r#"{"id":"a","result":"invalid","code":"x","extra":1}"#),
            "answer Invalid"
        );
        assert_eq!(kind(r#"{"id":"b","result":"valid"}"#), "other_id");
        assert_eq!(kind(r#"{"id":"b","result":"maybe"}"#), "other_id");
        assert_eq!(kind(r#"{"id":"a","result":"maybe"}"#), "malformed");
        assert_eq!(
            kind(r#"{"id":"a","result":"valid","tokens":"t"}"#),
            "malformed"
        );
        assert_eq!(kind(r#"{"id":"a","msg":"working on it"}"#), "not_an_answer");
        assert_eq!(kind(r#"{"id":1,"result":"valid"}"#), "not_an_answer");
        assert_eq!(kind(r#"["a"]"#), "not_an_answer");
        assert_eq!(kind("loading keys..."), "not_an_answer");
        assert_eq!(kind(""), "not_an_answer");
        match classify(br#"{"id":"a","result":"valid"}"#, true, "a") {
            Received::Note(NoteKind::NotAnAnswer) => {}
            _ => panic!("a cut line is never an answer"),
        }
    }

    #[test]
    fn expected_failures_files_name_profiles() {
        let parse = |v: Value| ProfileXfails::parse(&v, "x.json");
        let list = |pairs: &[(&str, &str)]| {
            Xfails(
                pairs
                    .iter()
                    .map(|(id, r)| ((*id).to_owned(), (*r).to_owned()))
                    .collect(),
            )
        };
        // The form from before profiles is draft-00's.
        let x = parse(json!({"xfails": {"a/b": "why"}})).unwrap();
        assert_eq!(x.get(ProfileName::Draft00), list(&[("a/b", "why")]));
        assert_eq!(x.get(ProfileName::Draft01), Xfails::default());
        // Per profile, with the old form beside it, other members ignored.
        let x = parse(json!({"comment": 1, "xfails": {"a/b": "why"},
                             "profiles": {"draft-01": {"c/d": "because"}}}))
        .unwrap();
        assert_eq!(x.get(ProfileName::Draft00), list(&[("a/b", "why")]));
        assert_eq!(x.get(ProfileName::Draft01), list(&[("c/d", "because")]));
        // Refused.
        let refused = |v: Value| parse(v).unwrap_err();
        assert_eq!(
            refused(json!({"xfails": {}, "profiles": {"draft-00": {}}})),
            "x.json: draft-00's expected failures are given twice (\"xfails\" and \
             \"profiles\".\"draft-00\"): keep one"
        );
        assert_eq!(
            refused(json!({"profiles": {"Draft-01": {}}})),
            "x.json: unknown profile \"Draft-01\" (use draft-00 or draft-01)"
        );
        assert_eq!(
            refused(json!({"profiles": []})),
            "x.json: \"profiles\" is not an object of profile: {id: reason}"
        );
        assert_eq!(
            refused(json!({"profiles": {"draft-01": {"c/d": 1}}})),
            "x.json: profile draft-01: c/d needs a reason"
        );
        assert_eq!(
            refused(json!({"xfails": []})),
            "x.json: \"xfails\": not an object of id: reason"
        );
        assert_eq!(
            refused(json!({})),
            "x.json: no \"xfails\" or \"profiles\" object"
        );
    }

    #[test]
    fn a_run_over_profiles_passes_only_when_every_profile_passes() {
        let case = |status: Status| CaseResult {
            id: "a".into(),
            file: "f.json".into(),
            rules: vec!["ECT-JWS-1".into()],
            status,
        };
        let report = |statuses: Vec<Status>| Report {
            cases: statuses.into_iter().map(case).collect(),
            ..Report::default()
        };
        let of = |reports: Vec<Report>| ProfilesReport {
            scoring: Scoring::Strict,
            profiles: reports
                .into_iter()
                .zip(ProfileName::ALL)
                .map(|(report, profile)| ProfileReport {
                    profile,
                    dir: profile.as_str().into(),
                    report,
                })
                .collect(),
        };
        let pass = || Status::Pass(None);
        let all = of(vec![
            report(vec![pass()]),
            report(vec![pass(), Status::Skip]),
        ]);
        assert!(all.ok());
        assert_eq!(all.summary(), "2 passed, 0 failed, 1 skipped");
        // One profile with nothing passed fails the run, whatever the other did.
        assert!(!of(vec![report(vec![pass()]), report(vec![Status::Skip])]).ok());
        let failing = of(vec![
            report(vec![pass()]),
            report(vec![pass(), Status::Fail(Failure::WrongCode, "x".into())]),
        ]);
        assert!(!failing.ok());
        assert_eq!(
            (failing.failed(), failing.failed_by(Failure::WrongCode)),
            (1, 1)
        );
        assert!(render_profiles(&failing, Format::Table).ends_with(
            "profiles: draft-00, draft-01 (failing: draft-01); total:\n2 passed, 1 failed\n"
        ));
        // No profile at all is no pass.
        assert!(!of(vec![]).ok());
    }

    #[test]
    fn a_session_for_a_profile_names_it_in_every_log_line() {
        let mut log = Vec::new();
        let mut session =
            Session::new(&mut log, 1, Duration::ZERO).for_profile(ProfileName::Draft01);
        session.case_done();
        session.finish();
        assert_eq!(
            String::from_utf8(log).unwrap(),
            "ect conformance: draft-01: 1/1 cases done\n\
             ect conformance: draft-01: 1/1 cases done\n"
        );
    }

    #[test]
    fn progress_lines_come_when_due_and_end_with_the_total() {
        let mut log = Vec::new();
        let mut session = Session::new(&mut log, 2, Duration::ZERO);
        session.case_done();
        session.waiting("x/y", Instant::now());
        session.case_done();
        assert_eq!(session.finish(), ProtocolNotes::default());
        assert_eq!(
            String::from_utf8(log).unwrap(),
            "ect conformance: 1/2 cases done\n\
             ect conformance: 1/2 cases done, waiting 0 s for the answer to x/y\n\
             ect conformance: 2/2 cases done\n\
             ect conformance: 2/2 cases done\n"
        );
        // Not due: nothing at all.
        let mut log = Vec::new();
        let mut session = Session::new(&mut log, 2, Duration::from_secs(3600));
        session.case_done();
        session.case_done();
        session.finish();
        assert_eq!(log, b"");
    }
}
