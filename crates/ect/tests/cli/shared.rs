//! Many `ect` processes, one truth: OS processes sharing one SQLite ledger file, one PostgreSQL
//! ledger or one Redis replay cache (the servers of `.ci/servers`, found through
//! `ECT_TEST_POSTGRES_URL` and `ECT_TEST_REDIS_URL`; under `CI=true` a missing server fails).
//!
//! * 4 processes race the same tokens into one ledger: exactly one acceptance per `(wid, jti)`,
//!   a gap-free sequence, an intact chain, a clean `ect ledger verify`;
//! * `kill -9` of an appending process at a random moment, 100 times: every append it
//!   acknowledged is in the ledger afterwards, and the ledger verifies;
//! * 4 verifier processes share one Redis replay cache: of each token presented to all four,
//!   exactly one is accepted, 200 rounds.
//!
//! Loopback only; every process started is killed and waited for (a guard), and every wait is
//! bounded.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;
use wimse_ect::{EctBuilder, SigningKey, random_uuid};
use wimse_ect_conformance::contract::server_url;

const NOW: u64 = 1_772_000_000;
const ISS: &str = "spiffe://example.org/agent-a";
const AUD: &str = "spiffe://example.org/agent-b";

/// The signing key and, in `dir`, its JWK Set.
fn keys(dir: &TempDir) -> (SigningKey, String) {
    let key = SigningKey::from_scalar_bytes("agent-a", &[9; 32]).unwrap();
    let jwks = dir.path().join("keys.jwks");
    let set = wimse_ect::KeySet::from_keys([key.trusted(Some(ISS))]).unwrap();
    std::fs::write(&jwks, set.to_jwks().to_string()).unwrap();
    (key, jwks.to_str().unwrap().to_owned())
}

/// A fresh token: a random `jti`, in workflow `wid` when given, naming `par`.
fn token(key: &SigningKey, wid: Option<&str>, par: &[&str]) -> (String, String) {
    let jti = random_uuid().unwrap();
    let mut b = EctBuilder::new(ISS, "step")
        .audience(AUD)
        .jti(&jti)
        .issued_at(NOW)
        .expires_at(NOW + 600);
    if let Some(w) = wid {
        b = b.wid(w);
    }
    for p in par {
        b = b.parent(*p);
    }
    (jti, b.sign(key).unwrap())
}

/// A chain of `n` tokens in one workflow, each naming the one before it.
fn chain(key: &SigningKey, n: usize) -> Vec<(String, String)> {
    let wid = random_uuid().unwrap();
    let mut out: Vec<(String, String)> = Vec::with_capacity(n);
    for _ in 0..n {
        let parent = out.last().map(|(jti, _)| jti.clone());
        let par: Vec<&str> = parent.iter().map(String::as_str).collect();
        out.push(token(key, Some(&wid), &par));
    }
    out
}

/// An `ect` process, killed and reaped when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str]) -> Process {
    let child = Command::new(env!("CARGO_BIN_EXE_ect"))
        .args(args)
        .env_remove("ECT_LEDGER")
        .env_remove("ECT_REPLAY")
        .env_remove("ECT_AUDIENCE")
        .env_remove("ECT_PROFILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ect");
    Process(child)
}

/// Runs `ect` to completion (at most 60 s): (status, stdout, stderr). The output is read while
/// the process runs (a large `ledger show` would otherwise fill the pipe and never finish).
fn run(args: &[&str], stdin: &[u8]) -> (i32, String, String) {
    let mut p = spawn(args);
    p.0.stdin.take().unwrap().write_all(stdin).unwrap();
    let read = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut pipe.unwrap(), &mut text).unwrap();
            text
        })
    };
    let out = read(p.0.stdout.take().map(|s| Box::new(s) as _));
    let err = read(p.0.stderr.take().map(|s| Box::new(s) as _));
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = p.0.try_wait().unwrap() {
            break status;
        }
        // The guard kills the process when this panics.
        assert!(
            Instant::now() < deadline,
            "ect {args:?} did not finish in 60 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    (
        status.code().unwrap_or(-1),
        out.join().unwrap(),
        err.join().unwrap(),
    )
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The arguments of `ect ledger append --stream` into `ledger`.
fn append_args<'a>(ledger: &'a str, jwks: &'a str, now: &'a str) -> Vec<&'a str> {
    vec![
        "ledger",
        "append",
        "--ledger",
        ledger,
        "--jwks",
        jwks,
        "--audience",
        AUD,
        "--now",
        now,
        "--stream",
        "-",
    ]
}

/// 4 processes append the same 40 tokens (4 workflows of 10, each token naming the one before
/// it) into `ledger`, in the same order: one acceptance per token, the rest refused as
/// duplicates; sequence numbers 0..40 without a gap; `ect ledger verify` clean.
fn four_processes_race(ledger: &str, dir: &TempDir) {
    let (key, jwks) = keys(dir);
    let tokens: Vec<(String, String)> = (0..4).flat_map(|_| chain(&key, 10)).collect();
    let input: String = tokens.iter().map(|(_, t)| format!("{t}\n")).collect();
    let now = NOW.to_string();
    let mut procs: Vec<Process> = (0..4)
        .map(|_| spawn(&append_args(ledger, &jwks, &now)))
        .collect();
    for p in &mut procs {
        // All four get their whole input at once, and race from the first line.
        let mut stdin = p.0.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).unwrap();
    }
    let mut wins: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for p in &mut procs {
        let out = BufReader::new(p.0.stdout.take().unwrap());
        let results: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
            .collect();
        assert_eq!(results.len(), tokens.len(), "one result per token");
        for (r, (jti, _)) in results.iter().zip(&tokens) {
            if r["valid"] == true {
                assert_eq!(r["claims"]["jti"], jti.as_str());
                wins.entry(jti.clone())
                    .or_default()
                    .push(r["seq"].as_u64().unwrap());
            } else {
                assert_eq!(r["error"]["code"], "dag.duplicate_jti", "{r}");
            }
        }
        // Exit 0 only for a process that won every token (it ran ahead of the others).
        let all_won = results.iter().all(|r| r["valid"] == true);
        let status = p.0.wait().unwrap();
        assert_eq!(status.code(), Some(if all_won { 0 } else { 1 }));
    }
    let mut seqs = Vec::new();
    for (jti, _) in &tokens {
        let w = wins.get(jti).cloned().unwrap_or_default();
        assert_eq!(w.len(), 1, "{jti} accepted {} times", w.len());
        seqs.extend(w);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (0..40).collect::<Vec<u64>>(), "a gap-free sequence");
    let (status, out, err) = run(
        &[
            "ledger",
            "verify",
            "--ledger",
            ledger,
            "--jwks",
            &jwks,
            "--audience",
            AUD,
        ],
        b"",
    );
    assert_eq!(status, 0, "{out}{err}");
    let report = &lines(&out)[0];
    assert_eq!(
        (report["valid"].clone(), report["entries"].clone()),
        (true.into(), 40.into())
    );
}

/// `kill -9` of an appending process at a pseudo-random moment, 100 times: every append it
/// acknowledged (printed) is in the ledger with the printed sequence number and hash, and the
/// ledger verifies.
fn kill_9_keeps_every_acknowledged_append(ledger: &str, dir: &TempDir) {
    let (key, jwks) = keys(dir);
    let now = NOW.to_string();
    let mut acknowledged: BTreeMap<u64, (String, String)> = BTreeMap::new();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut killed_mid_run = 0;
    for round in 0..100 {
        // Roots and children of earlier rounds' acknowledged tokens.
        let tokens: Vec<(String, String)> = chain(&key, 30);
        let input: String = tokens.iter().map(|(_, t)| format!("{t}\n")).collect();
        let mut p = spawn(&append_args(ledger, &jwks, &now));
        let mut stdin: ChildStdin = p.0.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).unwrap();
        drop(stdin);
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let wait = Duration::from_micros((seed >> 33) % 60_000);
        std::thread::sleep(wait);
        // SIGKILL (std's Child::kill on Unix): no chance to clean up.
        let finished = p.0.try_wait().unwrap().is_some();
        p.0.kill().unwrap();
        p.0.wait().unwrap();
        if !finished {
            killed_mid_run += 1;
        }
        let out: ChildStdout = p.0.stdout.take().unwrap();
        for line in BufReader::new(out).lines() {
            let line = line.unwrap();
            // A line cut by the kill was never a complete acknowledgement.
            let Ok(r) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            assert_eq!(r["valid"], true, "round {round}: {r}");
            let seq = r["seq"].as_u64().unwrap();
            let jti = r["claims"]["jti"].as_str().unwrap().to_owned();
            let hash = r["hash"].as_str().unwrap().to_owned();
            assert_eq!(
                acknowledged.insert(seq, (jti, hash)),
                None,
                "seq {seq} twice"
            );
        }
    }
    eprintln!(
        "{ledger}: {} appends acknowledged over 100 runs, {killed_mid_run} runs killed mid-append",
        acknowledged.len()
    );
    assert!(
        killed_mid_run >= 10,
        "only {killed_mid_run} of 100 kills hit a running append"
    );
    let (status, out, err) = run(
        &[
            "ledger",
            "verify",
            "--ledger",
            ledger,
            "--jwks",
            &jwks,
            "--audience",
            AUD,
        ],
        b"",
    );
    assert_eq!(status, 0, "{out}{err}");
    let (status, out, err) = run(&["ledger", "show", "--ledger", ledger], b"");
    assert_eq!(status, 0, "{err}");
    let shown: BTreeMap<u64, (String, String)> = lines(&out)
        .iter()
        .map(|e| {
            (
                e["seq"].as_u64().unwrap(),
                (
                    e["jti"].as_str().unwrap().to_owned(),
                    e["hash"].as_str().unwrap().to_owned(),
                ),
            )
        })
        .collect();
    for (seq, entry) in &acknowledged {
        assert_eq!(shown.get(seq), Some(entry), "acknowledged entry {seq} lost");
    }
    assert!(
        acknowledged.len() > 100,
        "{} acknowledged appends",
        acknowledged.len()
    );
}

/// A fresh schema in the PostgreSQL database of `ECT_TEST_POSTGRES_URL`, dropped afterwards.
struct Schema {
    url: String,
    name: String,
}

impl Schema {
    fn new(url: &str) -> Schema {
        let name = format!("cli_{}", random_uuid().unwrap().replace('-', ""));
        let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
        client
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .unwrap();
        Schema {
            url: url.to_owned(),
            name,
        }
    }

    /// The ledger URL: the server's, with the schema as the search path.
    fn ledger_url(&self) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-csearch_path%3D{}", self.url, self.name)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&self.url, postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP SCHEMA {} CASCADE", self.name));
        }
    }
}

fn temp() -> TempDir {
    tempfile::Builder::new()
        .prefix("wimse-ect-shared-")
        .tempdir()
        .unwrap()
}

#[test]
fn four_processes_race_one_sqlite_ledger() {
    let dir = temp();
    let ledger = format!("sqlite:{}", dir.path().join("ledger.db").display());
    four_processes_race(&ledger, &dir);
}

#[test]
fn four_processes_race_one_postgres_ledger() {
    let Some(url) = server_url("ECT_TEST_POSTGRES_URL", "PostgreSQL") else {
        return;
    };
    let dir = temp();
    let schema = Schema::new(&url);
    four_processes_race(&schema.ledger_url(), &dir);
}

#[test]
fn kill_9_keeps_every_acknowledged_sqlite_append() {
    let dir = temp();
    let ledger = format!("sqlite:{}", dir.path().join("ledger.db").display());
    kill_9_keeps_every_acknowledged_append(&ledger, &dir);
}

#[test]
fn kill_9_keeps_every_acknowledged_postgres_append() {
    let Some(url) = server_url("ECT_TEST_POSTGRES_URL", "PostgreSQL") else {
        return;
    };
    let dir = temp();
    let schema = Schema::new(&url);
    kill_9_keeps_every_acknowledged_append(&schema.ledger_url(), &dir);
}

/// 4 `ect verify --stream` processes share one Redis replay cache; in each of 200 rounds a
/// fresh token goes to all four at once: exactly one says valid, three say `replay.jti`.
#[test]
fn four_verifiers_share_one_redis_replay_cache() {
    let Some(url) = server_url("ECT_TEST_REDIS_URL", "Redis") else {
        return;
    };
    let dir = temp();
    let (key, jwks) = keys(&dir);
    let now = NOW.to_string();
    let mut procs: Vec<Process> = (0..4)
        .map(|_| {
            spawn(&[
                "verify",
                "--jwks",
                &jwks,
                "--audience",
                AUD,
                "--now",
                &now,
                "--replay",
                &url,
                "--stream",
                "-",
            ])
        })
        .collect();
    let mut inputs: Vec<ChildStdin> = procs
        .iter_mut()
        .map(|p| p.0.stdin.take().unwrap())
        .collect();
    let mut outputs: Vec<_> = procs
        .iter_mut()
        .map(|p| BufReader::new(p.0.stdout.take().unwrap()).lines())
        .collect();
    let mut seen = HashSet::new();
    for round in 0..200 {
        let (jti, t) = token(&key, None, &[]);
        assert!(seen.insert(jti.clone()));
        for input in &mut inputs {
            writeln!(input, "{t}").unwrap();
            input.flush().unwrap();
        }
        let verdicts: Vec<Value> = outputs
            .iter_mut()
            .map(|o| serde_json::from_str(&o.next().expect("a verdict").unwrap()).unwrap())
            .collect();
        let valid = verdicts.iter().filter(|v| v["valid"] == true).count();
        assert_eq!(valid, 1, "round {round}: {verdicts:?}");
        for v in verdicts.iter().filter(|v| v["valid"] != true) {
            assert_eq!(v["error"]["code"], "replay.jti", "round {round}: {v}");
        }
    }
    drop(inputs);
    for p in &mut procs {
        // Every token but the ones it won was a replay: exit 1.
        assert_eq!(p.0.wait().unwrap().code(), Some(1));
    }
}
