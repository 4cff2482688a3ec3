//! Crash and corruption tests of the file-backed ledger (SPEC.md §8, ECT-LED-1, ECT-LED-3,
//! ECT-LED-4): torn final lines at every byte offset, single-byte flips at every position,
//! whole-line edits, the whole-file audit, the exclusive lock, non-regular files and the
//! durability of acknowledged appends.
//!
//! Every fixture is built by accepting real signed tokens through `Verifier::accept` into a
//! `FileLedger` in a fresh directory under the system temp directory, removed at the end.

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::{AUD, ISS_A, ISS_B, NOW, key_a, key_b, trusted_keys, verifier};
use tempfile::TempDir;
use wimse_ect::{
    AuditReport, ChainHash, CreateMode, EctBuilder, Error, FileLedger, Finding, Policy, RawEntry,
    SigningKey, Tail, TornTail, audit_file,
};

/// The workflow id of the fixture's `wid` entries.
const WID: &str = "0b5c3a1e-7d2f-4c1a-9e8b-2f6d4a3c1b00";

/// The fixture's token ids, by sequence number.
const JTI: [&str; 5] = [
    "11111111-1111-4111-8111-111111111110",
    "11111111-1111-4111-8111-111111111111",
    "11111111-1111-4111-8111-111111111112",
    "11111111-1111-4111-8111-111111111113",
    "11111111-1111-4111-8111-111111111114",
];

/// One signed token.
fn sign(
    iss: &str,
    key: &SigningKey,
    jti: &str,
    wid: Option<&str>,
    parents: &[&str],
    iat: u64,
) -> String {
    let mut b = EctBuilder::new(iss, "step")
        .audience(AUD)
        .jti(jti)
        .issued_at(iat)
        .expires_at(iat + 600);
    if let Some(wid) = wid {
        b = b.wid(wid);
    }
    for p in parents {
        b = b.parent(*p);
    }
    b.sign(key).expect("valid claims")
}

/// The fixture's tokens: two roots (one without `wid`, one in workflow `WID`) and three
/// children, one of them with two parents.
///
/// | seq | issuer | wid | par |
/// |---|---|---|---|
/// | 0 | A | — | — |
/// | 1 | B | WID | — |
/// | 2 | A | WID | 1 |
/// | 3 | B | — | 0 |
/// | 4 | A | WID | 1, 2 |
fn fixture_tokens() -> Vec<String> {
    let (a, b) = (key_a(), key_b());
    vec![
        sign(ISS_A, &a, JTI[0], None, &[], NOW),
        sign(ISS_B, &b, JTI[1], Some(WID), &[], NOW + 1),
        sign(ISS_A, &a, JTI[2], Some(WID), &[JTI[1]], NOW + 2),
        sign(ISS_B, &b, JTI[3], None, &[JTI[0]], NOW + 3),
        sign(ISS_A, &a, JTI[4], Some(WID), &[JTI[1], JTI[2]], NOW + 4),
    ]
}

/// The acceptance time of entry `seq`.
fn at(seq: usize) -> u64 {
    NOW + 10 + seq as u64
}

/// A ledger file built by accepting the first `n` fixture tokens.
struct Fixture {
    path: PathBuf,
    tokens: Vec<String>,
    /// The canonical lines, without `\n`.
    lines: Vec<String>,
    /// `heads[k]` is the head after `k` entries (`heads[0]` is genesis).
    heads: Vec<ChainHash>,
    /// The whole file.
    bytes: Vec<u8>,
}

impl Fixture {
    fn build(dir: &TempDir, n: usize) -> Self {
        let path = dir.path().join("ledger.jsonl");
        let tokens: Vec<String> = fixture_tokens().into_iter().take(n).collect();
        let ledger = FileLedger::open(&path).expect("open a new ledger");
        assert_eq!(ledger.torn_tail(), None);
        let v = verifier();
        let mut lines = Vec::new();
        let mut heads = vec![ChainHash::GENESIS];
        for (seq, token) in tokens.iter().enumerate() {
            let accepted = v
                .accept(token, at(seq), &ledger)
                .expect("fixture token accepted");
            assert_eq!(accepted.entry.seq(), seq as u64);
            assert_eq!(accepted.entry.prev(), *heads.last().unwrap());
            lines.push(accepted.entry.to_line());
            heads.push(accepted.entry.hash());
        }
        assert_eq!(ledger.len(), n as u64);
        assert_eq!(ledger.head(), heads[n]);
        drop(ledger);
        let bytes = join(&lines);
        assert_eq!(fs::read(&path).unwrap(), bytes);
        Fixture {
            path,
            tokens,
            lines,
            heads,
            bytes,
        }
    }

    fn n(&self) -> usize {
        self.lines.len()
    }

    /// Byte offset where line `k` starts.
    fn line_start(&self, k: usize) -> usize {
        self.lines[..k].iter().map(|l| l.len() + 1).sum()
    }

    fn raw(&self, k: usize) -> RawEntry {
        RawEntry::parse_line(self.lines[k].as_bytes()).expect("fixture lines are canonical")
    }
}

/// Lines joined, each followed by `\n`.
fn join<S: AsRef<str>>(lines: &[S]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l.as_ref().as_bytes());
        out.push(b'\n');
    }
    out
}

/// A consistently hashed entry: `hash` recomputed from the other fields.
fn rehashed(seq: u64, at: u64, prev: ChainHash, token: &str) -> RawEntry {
    RawEntry {
        seq,
        at,
        prev,
        hash: ChainHash::of_entry(seq, at, &prev, token),
        token: token.to_owned(),
    }
}

/// Writes `bytes` to `path`, runs a `FileLedger::open` that must fail, checks that the file
/// is unchanged, and returns the error.
fn open_fails(path: &Path, bytes: &[u8]) -> Error {
    fs::write(path, bytes).unwrap();
    let err = FileLedger::open(path).expect_err("open must fail");
    assert_eq!(
        fs::read(path).unwrap(),
        bytes,
        "a failed open changed the file"
    );
    err
}

/// Like [`open_fails`], and the error must be `ledger.chain` with exactly `message`. The
/// read-only path (`FileLedger::read`) must report the same error.
fn assert_chain_error(path: &Path, bytes: &[u8], message: &str) {
    let err = open_fails(path, bytes);
    assert_eq!(err, Error::LedgerChain(message.to_owned()));
    assert_eq!((err.code(), err.rule()), ("ledger.chain", "ECT-LED-4"));
    let err = FileLedger::read(path).expect_err("read must fail");
    assert_eq!(err, Error::LedgerChain(message.to_owned()));
    assert_eq!(fs::read(path).unwrap(), bytes);
}

/// The message of a `ledger.chain` error (panics on any other error).
fn chain_message(err: &Error) -> &str {
    match err {
        Error::LedgerChain(why) => {
            assert_eq!((err.code(), err.rule()), ("ledger.chain", "ECT-LED-4"));
            why
        }
        other => panic!("expected ledger.chain, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Torn final line at every byte offset.
// ---------------------------------------------------------------------------------------------

/// Every strict prefix of the last line (the line without its `\n` is complete, not torn: see
/// `a_complete_last_entry_without_its_newline_is_kept`).
#[test]
fn truncation_at_every_offset_of_the_last_entry_is_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let fx = Fixture::build(&dir, 4);
    let n = fx.n();
    let start = fx.line_start(n - 1);
    let full = fx.bytes.len();
    assert_eq!(full, start + fx.lines[n - 1].len() + 1);
    let mut cuts = 0;
    for cut in start..full - 1 {
        let truncated = &fx.bytes[..cut];
        let expected_torn = (cut > start).then_some(TornTail {
            offset: start as u64,
            len: (cut - start) as u64,
        });
        fs::write(&fx.path, truncated).unwrap();

        // The read-only path reports the torn tail and leaves the file alone.
        let (mem, tail) = FileLedger::read(&fx.path).expect("read a torn ledger");
        assert_eq!(tail, expected_torn.map(Tail::Torn), "cut at {cut}");
        assert_eq!(mem.len(), (n - 1) as u64);
        assert_eq!(mem.head(), fx.heads[n - 1]);
        mem.verify_chain().unwrap();
        assert_eq!(
            fs::read(&fx.path).unwrap(),
            truncated,
            "read changed the file"
        );

        // Opening reports the torn tail, keeps every earlier entry, and changes nothing.
        let ledger = FileLedger::open(&fx.path).expect("open a torn ledger");
        assert_eq!(ledger.torn_tail(), expected_torn, "cut at {cut}");
        assert_eq!(ledger.tail(), expected_torn.map(Tail::Torn), "cut at {cut}");
        assert_eq!(ledger.len(), (n - 1) as u64);
        assert_eq!(ledger.head(), fx.heads[n - 1]);
        ledger.verify_chain().unwrap();
        assert_eq!(fs::read(&fx.path).unwrap(), truncated, "cut at {cut}");
        // A rejected token (a replay of the first entry's) changes nothing either.
        let err = verifier()
            .accept(&fx.tokens[0], at(n - 1), &ledger)
            .unwrap_err();
        assert_eq!(err.code(), "dag.duplicate_jti");
        assert_eq!(fs::read(&fx.path).unwrap(), truncated, "cut at {cut}");

        // The never-acknowledged token can be accepted again: the append cuts the torn tail
        // off and gives exactly the lost line back.
        let accepted = verifier()
            .accept(&fx.tokens[n - 1], at(n - 1), &ledger)
            .expect("accept after a torn tail");
        assert_eq!(accepted.entry.seq(), (n - 1) as u64);
        assert_eq!(accepted.entry.to_line(), fx.lines[n - 1]);
        assert_eq!(ledger.len(), n as u64);
        assert_eq!(ledger.head(), fx.heads[n]);
        assert_eq!(fs::read(&fx.path).unwrap(), fx.bytes);
        drop(ledger);

        let reopened = FileLedger::open(&fx.path).expect("reopen");
        assert_eq!(reopened.torn_tail(), None);
        assert_eq!(reopened.len(), n as u64);
        assert_eq!(reopened.head(), fx.heads[n]);
        reopened.verify_chain().unwrap();
        cuts += 1;
    }
    assert_eq!(cuts, fx.lines[n - 1].len());
}

#[test]
fn a_torn_tail_after_the_last_entry_is_dropped_and_a_new_token_appends() {
    let dir = tempfile::tempdir().unwrap();
    let fx = Fixture::build(&dir, 3);
    // A crash while appending the fourth entry left half of its line.
    let tokens = fixture_tokens();
    let lost = rehashed(3, at(3), fx.heads[3], &tokens[3]).to_line();
    let mut bytes = fx.bytes.clone();
    bytes.extend_from_slice(&lost.as_bytes()[..lost.len() / 2]);
    fs::write(&fx.path, &bytes).unwrap();

    let ledger = FileLedger::open(&fx.path).unwrap();
    assert_eq!(
        ledger.torn_tail(),
        Some(TornTail {
            offset: fx.bytes.len() as u64,
            len: (lost.len() / 2) as u64
        })
    );
    // Opening changes nothing; the first accepted append cuts the torn tail off.
    assert_eq!(fs::read(&fx.path).unwrap(), bytes);
    // A different token takes position 3.
    let accepted = verifier().accept(&tokens[4], at(9), &ledger).unwrap();
    let expected = rehashed(3, at(9), fx.heads[3], &tokens[4]);
    assert_eq!(accepted.entry.to_line(), expected.to_line());
    let mut lines = fx.lines.clone();
    lines.push(expected.to_line());
    assert_eq!(fs::read(&fx.path).unwrap(), join(&lines));
    drop(ledger);

    let reopened = FileLedger::open(&fx.path).unwrap();
    assert_eq!(reopened.torn_tail(), None);
    assert_eq!(reopened.len(), 4);
    assert_eq!(reopened.head(), expected.hash);
    reopened.verify_chain().unwrap();
}

#[test]
fn a_file_that_is_only_a_torn_line_opens_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.jsonl");
    fs::write(&path, b"{\"seq\":0,\"at\":17").unwrap();
    let (mem, tail) = FileLedger::read(&path).unwrap();
    assert_eq!(tail, Some(Tail::Torn(TornTail { offset: 0, len: 16 })));
    assert_eq!((mem.len(), mem.head()), (0, ChainHash::GENESIS));
    assert_eq!(fs::read(&path).unwrap(), b"{\"seq\":0,\"at\":17");

    let ledger = FileLedger::open(&path).unwrap();
    assert_eq!(ledger.torn_tail(), Some(TornTail { offset: 0, len: 16 }));
    assert_eq!((ledger.len(), ledger.head()), (0, ChainHash::GENESIS));
    // Unchanged until an accepted append, which replaces the torn line with its entry.
    assert_eq!(fs::read(&path).unwrap(), b"{\"seq\":0,\"at\":17");
    let accepted = verifier()
        .accept(&fixture_tokens()[0], at(0), &ledger)
        .unwrap();
    assert_eq!(
        fs::read(&path).unwrap(),
        format!("{}\n", accepted.entry.to_line()).into_bytes()
    );
}

// ---------------------------------------------------------------------------------------------
// 1b. A complete final line without its `\n`.
// ---------------------------------------------------------------------------------------------

/// Regression: `FileLedger::open` cut off any final segment without `\n`, so a last entry that
/// was written in full but lost its newline (a tool that strips it, or a crash between the
/// line and its `\n`) was dropped. A complete, correctly chained last entry is an entry:
/// `read`, `audit_file` and `open` count it and leave the file alone; the first accepted append
/// restores the newline before its own entry, so the file is canonical again.
#[test]
fn a_complete_last_entry_without_its_newline_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let fx = Fixture::build(&dir, 4);
    let n = fx.n();
    let stripped = &fx.bytes[..fx.bytes.len() - 1];
    fs::write(&fx.path, stripped).unwrap();

    let missing = Tail::MissingNewline {
        offset: fx.line_start(n - 1) as u64,
        len: fx.lines[n - 1].len() as u64,
    };

    // Read-only: the entry is counted and the missing newline reported, the file unchanged.
    let (mem, tail) = FileLedger::read(&fx.path).unwrap();
    assert_eq!(tail, Some(missing));
    assert_eq!((mem.len(), mem.head()), (n as u64, fx.heads[n]));
    mem.verify_chain().unwrap();
    assert_eq!(fs::read(&fx.path).unwrap(), stripped);
    let (report, tail) = audit_file(&fx.path, &Policy::new(AUD), Some(&trusted_keys())).unwrap();
    assert_eq!(tail, Some(missing));
    assert_eq!(
        report,
        AuditReport {
            entries: n as u64,
            head: Some(fx.heads[n]),
            findings: vec![],
            missing_parents: vec![],
        }
    );
    assert_eq!(fs::read(&fx.path).unwrap(), stripped);

    // Opening keeps the entry and changes nothing; neither does a rejected token.
    let ledger = FileLedger::open(&fx.path).unwrap();
    assert_eq!((ledger.tail(), ledger.torn_tail()), (Some(missing), None));
    assert_eq!((ledger.len(), ledger.head()), (n as u64, fx.heads[n]));
    assert_eq!(fs::read(&fx.path).unwrap(), stripped);
    let err = verifier()
        .accept(&fixture_tokens()[0], at(n), &ledger)
        .unwrap_err();
    assert_eq!(err.code(), "dag.duplicate_jti");
    assert_eq!(fs::read(&fx.path).unwrap(), stripped);
    // The next accepted token restores the newline and appends after it.
    let accepted = verifier()
        .accept(&fixture_tokens()[n], at(n), &ledger)
        .unwrap();
    assert_eq!(accepted.entry.seq(), n as u64);
    let mut lines = fx.lines.clone();
    lines.push(accepted.entry.to_line());
    assert_eq!(fs::read(&fx.path).unwrap(), join(&lines));
    drop(ledger);
    let reopened = FileLedger::open(&fx.path).unwrap();
    assert_eq!(reopened.tail(), None);
    assert_eq!(
        (reopened.len(), reopened.head()),
        (n as u64 + 1, accepted.entry.hash())
    );
}

/// The same for a ledger of one entry: the whole file is that entry's line.
#[test]
fn a_single_entry_without_its_newline_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let fx = Fixture::build(&dir, 1);
    let stripped = fx.lines[0].as_bytes();
    fs::write(&fx.path, stripped).unwrap();
    let missing = Tail::MissingNewline {
        offset: 0,
        len: stripped.len() as u64,
    };
    let (mem, tail) = FileLedger::read(&fx.path).unwrap();
    assert_eq!(
        (mem.len(), mem.head(), tail),
        (1, fx.heads[1], Some(missing))
    );
    assert_eq!(fs::read(&fx.path).unwrap(), stripped);
    let ledger = FileLedger::open(&fx.path).unwrap();
    assert_eq!(
        (ledger.len(), ledger.head(), ledger.tail()),
        (1, fx.heads[1], Some(missing))
    );
    assert_eq!(fs::read(&fx.path).unwrap(), stripped);
    let accepted = verifier()
        .accept(&fixture_tokens()[1], at(1), &ledger)
        .unwrap();
    let mut expected = fx.bytes.clone();
    expected.extend_from_slice(format!("{}\n", accepted.entry.to_line()).as_bytes());
    assert_eq!(fs::read(&fx.path).unwrap(), expected);
}

/// A final segment without `\n` that is not a strict prefix of an entry line cannot have been
/// left by an interrupted write, so it is read as a line, and a line that is not the next
/// entry is an error like any other: the file is left untouched (never cut), `audit_file`
/// reports it as a finding.
#[test]
fn a_complete_but_bad_last_line_without_its_newline_is_an_error_not_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let fx = Fixture::build(&dir, 4);
    let tokens = fixture_tokens();
    let policy = Policy::new(AUD);
    let without_newline = |last: &str| {
        let mut bytes = join(&fx.lines[..3]);
        bytes.extend_from_slice(last.as_bytes());
        bytes
    };
    let chain = |why: &str| Error::LedgerChain(why.to_owned());

    let mut wrong_hash = fx.raw(3);
    wrong_hash.at += 1;
    let cases: Vec<(String, Error, Error)> = vec![
        // Consistent in itself, linked to entry 1 instead of entry 2.
        (
            rehashed(3, at(3), fx.heads[2], &tokens[3]).to_line(),
            chain("line 4: entry 3 does not link to the previous entry's hash"),
            chain("entry 3 does not link to the previous entry's hash"),
        ),
        // `at` edited, hash not recomputed.
        (
            wrong_hash.to_line(),
            chain("line 4: entry 3 has a wrong hash"),
            chain("entry 3 has a wrong hash"),
        ),
        // Not canonical (a space after a colon).
        (
            fx.lines[3].replacen(r#""seq":3"#, r#""seq": 3"#, 1),
            chain("line 4: not a ledger entry: not in canonical form"),
            chain("not a ledger entry: not in canonical form"),
        ),
        // Entry 0's token again, correctly chained.
        (
            rehashed(3, at(3), fx.heads[3], &tokens[0]).to_line(),
            Error::LedgerDuplicate(JTI[0].to_owned()),
            Error::LedgerDuplicate(JTI[0].to_owned()),
        ),
    ];
    for (last, open_error, finding) in cases {
        let bytes = without_newline(&last);
        let err = open_fails(&fx.path, &bytes);
        assert_eq!(err, open_error, "{last}");
        assert_eq!(FileLedger::read(&fx.path).unwrap_err(), open_error);
        let (report, tail) = audit_file(&fx.path, &policy, None).unwrap();
        assert_eq!(
            tail,
            Some(Tail::MissingNewline {
                offset: fx.line_start(3) as u64,
                len: last.len() as u64
            })
        );
        assert_eq!(report.entries, 4, "{last}");
        assert_eq!(
            report
                .findings
                .iter()
                .map(|f| (f.seq, f.error.clone()))
                .collect::<Vec<_>>(),
            [(3, finding)],
            "{last}"
        );
        assert_eq!(fs::read(&fx.path).unwrap(), bytes);
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Single-byte flips.
// ---------------------------------------------------------------------------------------------

#[test]
fn every_byte_flip_before_the_final_newline_is_a_chain_error() {
    const MASKS: [u8; 3] = [0x01, 0x20, 0x80];
    let dir = tempfile::tempdir().unwrap();
    let fx = Fixture::build(&dir, 4);
    let n = fx.n();
    let mut flips = 0;
    for k in 0..n {
        let start = fx.line_start(k);
        // Every byte of line k, with its `\n` for every line but the last.
        let end = if k + 1 < n {
            start + fx.lines[k].len() + 1
        } else {
            start + fx.lines[k].len()
        };
        for pos in start..end {
            for mask in MASKS {
                let mut bytes = fx.bytes.clone();
                bytes[pos] ^= mask;
                let err = open_fails(&fx.path, &bytes);
                // A flipped `\n` joins line k with line k + 1; either way line k + 1 (1-based)
                // is the first bad line.
                let why = chain_message(&err);
                assert!(
                    why.starts_with(&format!("line {}: ", k + 1)),
                    "flip {mask:#04x} at {pos} (line {}): {why}",
                    k + 1
                );
                flips += 1;
            }
        }
    }
    assert_eq!(flips, 3 * (fx.bytes.len() - 1));
}

// ---------------------------------------------------------------------------------------------
// 3. Whole-line edits.
// ---------------------------------------------------------------------------------------------

#[test]
fn removed_swapped_and_duplicated_lines_are_chain_errors() {
    let dir = tempfile::tempdir().unwrap();
    let fx = Fixture::build(&dir, 5);
    let l = &fx.lines;

    // A removed middle line.
    let removed = join(&[&l[0], &l[1], &l[3], &l[4]]);
    assert_chain_error(&fx.path, &removed, "line 3: entry 2 has sequence number 3");

    // The first line removed.
    let removed = join(&[&l[1], &l[2], &l[3], &l[4]]);
    assert_chain_error(&fx.path, &removed, "line 1: entry 0 has sequence number 1");

    // Two swapped lines.
    let swapped = join(&[&l[0], &l[2], &l[1], &l[3], &l[4]]);
    assert_chain_error(&fx.path, &swapped, "line 2: entry 1 has sequence number 2");

    // A duplicated line.
    let duplicated = join(&[&l[0], &l[1], &l[1], &l[2], &l[3], &l[4]]);
    assert_chain_error(
        &fx.path,
        &duplicated,
        "line 3: entry 2 has sequence number 1",
    );

    // The last line duplicated.
    let duplicated = join(&[&l[0], &l[1], &l[2], &l[3], &l[4], &l[4]]);
    assert_chain_error(
        &fx.path,
        &duplicated,
        "line 6: entry 5 has sequence number 4",
    );

    // The original still opens.
    fs::write(&fx.path, &fx.bytes).unwrap();
    let ledger = FileLedger::open(&fx.path).unwrap();
    assert_eq!((ledger.len(), ledger.head()), (5, fx.heads[5]));
}

#[test]
fn edited_entries_are_chain_errors() {
    let dir = tempfile::tempdir().unwrap();
    let fx = Fixture::build(&dir, 5);
    let other = sign(
        ISS_A,
        &key_a(),
        "22222222-2222-4222-8222-222222222222",
        Some(WID),
        &[JTI[1]],
        NOW + 2,
    );

    let with_line = |k: usize, line: String| {
        let mut lines = fx.lines.clone();
        lines[k] = line;
        join(&lines)
    };

    // `at` changed, hash not recomputed.
    let mut raw = fx.raw(2);
    raw.at += 1;
    assert_chain_error(
        &fx.path,
        &with_line(2, raw.to_line()),
        "line 3: entry 2 has a wrong hash",
    );

    // Another validly signed token in place of entry 2, hash not recomputed.
    let mut raw = fx.raw(2);
    raw.token = other.clone();
    assert_chain_error(
        &fx.path,
        &with_line(2, raw.to_line()),
        "line 3: entry 2 has a wrong hash",
    );

    // The same, re-hashed: entry 2 is consistent in itself, entry 3 no longer links to it.
    let raw = rehashed(2, at(2), fx.heads[2], &other);
    assert_chain_error(
        &fx.path,
        &with_line(2, raw.to_line()),
        "line 4: entry 3 does not link to the previous entry's hash",
    );

    // `at` changed and re-hashed.
    let raw = rehashed(1, at(1) + 1, fx.heads[1], &fx.tokens[1]);
    assert_chain_error(
        &fx.path,
        &with_line(1, raw.to_line()),
        "line 3: entry 2 does not link to the previous entry's hash",
    );

    // The last entry re-hashed over another token: consistent, so the file opens; only the
    // head (kept elsewhere) shows the change.
    let raw = rehashed(4, at(4), fx.heads[4], &other);
    let bytes = with_line(4, raw.to_line());
    fs::write(&fx.path, &bytes).unwrap();
    let ledger = FileLedger::open(&fx.path).unwrap();
    assert_eq!((ledger.len(), ledger.head()), (5, raw.hash));
    assert_ne!(ledger.head(), fx.heads[5]);
    drop(ledger);

    // `prev` of entry 0 not genesis, re-hashed.
    let raw = rehashed(0, at(0), fx.heads[1], &fx.tokens[0]);
    assert_chain_error(
        &fx.path,
        &with_line(0, raw.to_line()),
        "line 1: entry 0 does not link to the previous entry's hash",
    );

    // A sequence number changed and re-hashed.
    let raw = rehashed(7, at(3), fx.heads[3], &fx.tokens[3]);
    assert_chain_error(
        &fx.path,
        &with_line(3, raw.to_line()),
        "line 4: entry 3 has sequence number 7",
    );

    // A consistent entry whose token does not parse.
    let raw = rehashed(1, at(1), fx.heads[1], "not-a-token");
    let bytes = with_line(1, raw.to_line());
    let err = open_fails(&fx.path, &bytes);
    let why = chain_message(&err);
    assert!(
        why.starts_with("line 2: the stored token does not parse: "),
        "{why}"
    );
}

#[test]
fn non_canonical_lines_are_chain_errors() {
    let dir = tempfile::tempdir().unwrap();
    let fx = Fixture::build(&dir, 4);
    let raw = fx.raw(1);
    const NOT_CANONICAL: &str = "line 2: not a ledger entry: not in canonical form";

    let with_line_1 = |line: &str| {
        let mut lines = fx.lines.clone();
        lines[1] = line.to_owned();
        join(&lines)
    };
    let seq = r#"{"seq":1,"#;
    assert!(fx.lines[1].starts_with(seq));

    // Extra whitespace, in several places.
    for (from, to) in [
        (r#""seq":1"#, r#""seq": 1"#),
        (r#"{"seq""#, r#"{ "seq""#),
        (r#","at":"#, r#", "at":"#),
        ("\"}", "\" }"),
    ] {
        let edited = fx.lines[1].replacen(from, to, 1);
        assert_ne!(edited, fx.lines[1]);
        assert_chain_error(&fx.path, &with_line_1(&edited), NOT_CANONICAL);
    }
    // Trailing whitespace.
    assert_chain_error(
        &fx.path,
        &with_line_1(&format!("{} ", fx.lines[1])),
        NOT_CANONICAL,
    );
    assert_chain_error(
        &fx.path,
        &with_line_1(&format!("{}\t", fx.lines[1])),
        NOT_CANONICAL,
    );

    // Members in another order.
    let reordered = format!(
        r#"{{"at":{},"seq":{},"prev":"{}","hash":"{}","token":"{}"}}"#,
        raw.at, raw.seq, raw.prev, raw.hash, raw.token
    );
    assert_chain_error(&fx.path, &with_line_1(&reordered), NOT_CANONICAL);
    let reordered = format!(
        r#"{{"seq":{},"at":{},"hash":"{}","prev":"{}","token":"{}"}}"#,
        raw.seq, raw.at, raw.hash, raw.prev, raw.token
    );
    assert_chain_error(&fx.path, &with_line_1(&reordered), NOT_CANONICAL);

    // An extra member.
    let extra = fx.lines[1].replacen(seq, r#"{"seq":1,"x":0,"#, 1);
    assert_chain_error(&fx.path, &with_line_1(&extra), NOT_CANONICAL);

    // An escape where the canonical form has the plain character (same value).
    let escaped = fx.lines[1].replacen(r#""token":"e"#, r#""token":"\u0065"#, 1);
    assert_ne!(escaped, fx.lines[1]);
    assert_chain_error(&fx.path, &with_line_1(&escaped), NOT_CANONICAL);

    // A number in another notation (leading zero is not JSON; an exponent is not an integer).
    for (from, to) in [
        (r#""seq":1,"#, r#""seq":01,"#),
        (r#""seq":1,"#, r#""seq":1e0,"#),
    ] {
        let bytes = with_line_1(&fx.lines[1].replacen(from, to, 1));
        let err = open_fails(&fx.path, &bytes);
        assert!(
            chain_message(&err).starts_with("line 2: not a ledger entry: "),
            "{err:?}"
        );
    }

    // Padded base64url for a hash.
    let padded = fx.lines[1].replacen(
        &format!(r#""hash":"{}""#, raw.hash),
        &format!(r#""hash":"{}=""#, raw.hash),
        1,
    );
    assert_ne!(padded, fx.lines[1]);
    assert_chain_error(
        &fx.path,
        &with_line_1(&padded),
        "line 2: not a ledger entry: hash",
    );
}

#[test]
fn empty_lines_and_crlf_are_chain_errors() {
    let dir = tempfile::tempdir().unwrap();
    let fx = Fixture::build(&dir, 4);
    let l = &fx.lines;

    // An empty line in the middle, at the start, at the end.
    for (bytes, line) in [
        (join(&[&l[0], &l[1], "", &l[2], &l[3]]), 3),
        (join(&["", &l[0], &l[1], &l[2], &l[3]]), 1),
        (join(&[&l[0], &l[1], &l[2], &l[3], ""]), 5),
    ] {
        let err = open_fails(&fx.path, &bytes);
        let why = chain_message(&err);
        assert!(
            why.starts_with(&format!("line {line}: not a ledger entry: ")),
            "{why}"
        );
    }

    // A CRLF line ending on one line, on the last line, and on every line.
    let crlf_at = |k: usize| {
        let mut out = Vec::new();
        for (i, line) in l.iter().enumerate() {
            out.extend_from_slice(line.as_bytes());
            if i == k || k == usize::MAX {
                out.push(b'\r');
            }
            out.push(b'\n');
        }
        out
    };
    for (k, line) in [(1, 2), (3, 4), (usize::MAX, 1)] {
        let bytes = crlf_at(k);
        let err = open_fails(&fx.path, &bytes);
        let why = chain_message(&err);
        assert!(
            why.starts_with(&format!("line {line}: not a ledger entry: ")),
            "{why}"
        );
    }
}

#[test]
fn corruption_before_a_torn_tail_leaves_the_file_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let fx = Fixture::build(&dir, 4);
    let mut raw = fx.raw(1);
    raw.at += 1;
    let mut lines = fx.lines.clone();
    lines[1] = raw.to_line();
    let mut bytes = join(&lines);
    bytes.extend_from_slice(b"{\"seq\":4,");
    assert_chain_error(&fx.path, &bytes, "line 2: entry 1 has a wrong hash");
}

#[test]
fn a_consistently_chained_duplicate_jti_is_a_duplicate_error() {
    let dir = tempfile::tempdir().unwrap();
    let fx = Fixture::build(&dir, 4);

    // Entry 4 is a second copy of entry 1's token (same wid, same jti), hashes all correct.
    let dup = rehashed(4, at(4), fx.heads[4], &fx.tokens[1]);
    assert_eq!(dup.expected_hash(), dup.hash);
    let mut lines = fx.lines.clone();
    lines.push(dup.to_line());
    let bytes = join(&lines);
    let err = open_fails(&fx.path, &bytes);
    assert_eq!(err, Error::LedgerDuplicate(JTI[1].to_owned()));
    assert_eq!((err.code(), err.rule()), ("ledger.duplicate", "ECT-LED-3"));
    let err = FileLedger::read(&fx.path).unwrap_err();
    assert_eq!(err, Error::LedgerDuplicate(JTI[1].to_owned()));

    // The same for a no-wid token.
    let dup = rehashed(4, at(4), fx.heads[4], &fx.tokens[0]);
    let mut lines = fx.lines.clone();
    lines.push(dup.to_line());
    let err = open_fails(&fx.path, &join(&lines));
    assert_eq!(err, Error::LedgerDuplicate(JTI[0].to_owned()));

    // The same jti in another wid scope is not a duplicate.
    let other_scope = sign(ISS_A, &key_a(), JTI[1], None, &[], NOW + 5);
    let entry = rehashed(4, at(4), fx.heads[4], &other_scope);
    let mut lines = fx.lines.clone();
    lines.push(entry.to_line());
    fs::write(&fx.path, join(&lines)).unwrap();
    let ledger = FileLedger::open(&fx.path).unwrap();
    assert_eq!((ledger.len(), ledger.head()), (5, entry.hash));
    assert_eq!(ledger.torn_tail(), None);
}

// ---------------------------------------------------------------------------------------------
// 4. Whole-file audit.
// ---------------------------------------------------------------------------------------------

#[test]
fn audit_file_reports_one_finding_per_bad_line_and_the_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let fx = Fixture::build(&dir, 5);
    let mut lines = fx.lines.clone();

    // Entry 1: `at` changed, hash not recomputed (entry 2 still links to the recorded hash).
    let mut raw = fx.raw(1);
    raw.at += 1;
    lines[1] = raw.to_line();
    // Entry 3: not canonical (a space after a colon).
    lines[3] = fx.lines[3].replacen(r#""seq":3"#, r#""seq": 3"#, 1);
    // Entry 4: wrong sequence number, hash not recomputed.
    let mut raw = fx.raw(4);
    raw.seq = 7;
    lines[4] = raw.to_line();
    // Entry 5: entry 0's token again, correctly chained to entry 4's recorded hash.
    let dup = rehashed(5, at(5), fx.heads[5], &fx.tokens[0]);
    lines.push(dup.to_line());
    let mut bytes = join(&lines);
    let intact = bytes.len() as u64;
    // And half a line a crash left.
    const TORN: &[u8] = br#"{"seq":6,"at":1772000016,"prev":"#;
    bytes.extend_from_slice(TORN);
    fs::write(&fx.path, &bytes).unwrap();

    let keys = trusted_keys();
    let policy = Policy::new(AUD);
    let (report, tail) = audit_file(&fx.path, &policy, Some(&keys)).unwrap();
    assert_eq!(
        tail,
        Some(Tail::Torn(TornTail {
            offset: intact,
            len: TORN.len() as u64
        }))
    );
    let chain = |why: &str| Error::LedgerChain(why.to_owned());
    assert_eq!(
        report,
        AuditReport {
            entries: 6,
            head: Some(dup.hash),
            findings: vec![
                Finding {
                    seq: 1,
                    jti: Some(JTI[1].to_owned()),
                    error: chain("entry 1 has a wrong hash"),
                },
                Finding {
                    seq: 3,
                    jti: None,
                    error: chain("not a ledger entry: not in canonical form"),
                },
                Finding {
                    seq: 4,
                    jti: Some(JTI[4].to_owned()),
                    error: chain("entry 4 has sequence number 7"),
                },
                Finding {
                    seq: 5,
                    jti: Some(JTI[0].to_owned()),
                    error: Error::LedgerDuplicate(JTI[0].to_owned()),
                },
            ],
            missing_parents: vec![],
        }
    );
    for f in &report.findings {
        let expected = match f.seq {
            5 => ("ledger.duplicate", "ECT-LED-3"),
            _ => ("ledger.chain", "ECT-LED-4"),
        };
        assert_eq!((f.error.code(), f.error.rule()), expected);
    }
    assert!(!report.is_valid());
    // Auditing changes nothing, and open refuses the file at the first bad line.
    assert_eq!(fs::read(&fx.path).unwrap(), bytes);
    let err = open_fails(&fx.path, &bytes);
    assert_eq!(err, chain("line 2: entry 1 has a wrong hash"));

    // The intact fixture audits clean, with or without keys; a torn tail is reported, not
    // audited.
    let mut bytes = fx.bytes.clone();
    bytes.extend_from_slice(br#"{"seq":5,"at":17"#);
    fs::write(&fx.path, &bytes).unwrap();
    for keys in [Some(&keys as &dyn wimse_ect::KeyResolver), None] {
        let (report, tail) = audit_file(&fx.path, &policy, keys).unwrap();
        assert_eq!(
            tail,
            Some(Tail::Torn(TornTail {
                offset: fx.bytes.len() as u64,
                len: 16
            }))
        );
        assert_eq!(
            report,
            AuditReport {
                entries: 5,
                head: Some(fx.heads[5]),
                findings: vec![],
                missing_parents: vec![],
            }
        );
    }
    assert_eq!(fs::read(&fx.path).unwrap(), bytes);

    // Bytes no interrupted write leaves (not a prefix of an entry line) are a last line
    // without its `\n`: audited, a finding, and never cut off by open.
    let mut bytes = fx.bytes.clone();
    bytes.extend_from_slice(b"garbage");
    fs::write(&fx.path, &bytes).unwrap();
    let (report, tail) = audit_file(&fx.path, &policy, None).unwrap();
    assert_eq!(
        tail,
        Some(Tail::MissingNewline {
            offset: fx.bytes.len() as u64,
            len: 7
        })
    );
    assert_eq!((report.entries, report.head), (6, None));
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].seq, 5);
    assert!(
        chain_message(&report.findings[0].error).starts_with("not a ledger entry: "),
        "{:?}",
        report.findings[0]
    );
    let err = open_fails(&fx.path, &bytes);
    assert!(
        chain_message(&err).starts_with("line 6: not a ledger entry: "),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Exclusive lock.
// ---------------------------------------------------------------------------------------------

#[test]
fn a_second_open_of_a_locked_ledger_fails_until_the_first_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let fx = Fixture::build(&dir, 3);
    let first = FileLedger::open(&fx.path).unwrap();

    let err = FileLedger::open(&fx.path).expect_err("the file is locked");
    assert!(matches!(err, Error::LedgerIo(_)), "{err:?}");
    assert_eq!((err.code(), err.rule()), ("ledger.io", "ECT-LED-1"));
    assert_eq!(fs::read(&fx.path).unwrap(), fx.bytes);

    // The first handle still appends after the refused open.
    let tokens = fixture_tokens();
    let accepted = verifier().accept(&tokens[3], at(3), &first).unwrap();
    let mut lines = fx.lines.clone();
    lines.push(accepted.entry.to_line());
    assert_eq!(fs::read(&fx.path).unwrap(), join(&lines));
    let err = FileLedger::open(&fx.path).expect_err("still locked");
    assert_eq!((err.code(), err.rule()), ("ledger.io", "ECT-LED-1"));
    drop(first);

    let second = FileLedger::open(&fx.path).expect("unlocked after drop");
    assert_eq!((second.len(), second.head()), (4, accepted.entry.hash()));
    assert_eq!(second.torn_tail(), None);
    let err = FileLedger::open(&fx.path).expect_err("locked by the second");
    assert_eq!((err.code(), err.rule()), ("ledger.io", "ECT-LED-1"));
}

// ---------------------------------------------------------------------------------------------
// 6. Non-regular files.
// ---------------------------------------------------------------------------------------------

fn assert_io(result: Result<impl std::fmt::Debug, Error>) {
    let err = result.expect_err("must fail");
    assert!(matches!(err, Error::LedgerIo(_)), "{err:?}");
    assert_eq!((err.code(), err.rule()), ("ledger.io", "ECT-LED-1"));
}

#[cfg(unix)]
#[test]
fn dev_null_is_refused() {
    let policy = Policy::new(AUD);
    assert_io(FileLedger::open("/dev/null"));
    assert_io(FileLedger::read("/dev/null"));
    assert_io(audit_file("/dev/null", &policy, None));
}

#[test]
fn a_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    fs::create_dir(&sub).unwrap();
    let policy = Policy::new(AUD);
    assert_io(FileLedger::open(&sub));
    assert_io(FileLedger::read(&sub));
    assert_io(audit_file(&sub, &policy, None));
    assert!(sub.is_dir());
    assert_eq!(fs::read_dir(&sub).unwrap().count(), 0);
}

/// A new FIFO (named pipe) at `path`, made with the `mkfifo` tool (std cannot make one).
#[cfg(target_os = "linux")]
fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// On Linux, opening a FIFO read-write never blocks, so `open` reaches its regular-file check.
#[cfg(target_os = "linux")]
#[test]
fn a_fifo_is_refused_by_open() {
    use std::os::unix::fs::FileTypeExt as _;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("ledger.fifo");
    mkfifo(&fifo);
    assert_io(FileLedger::open(&fifo));
    assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
}

/// Regression: `FileLedger::read` and `audit_file` used to open the path read-only before
/// checking that it is a regular file; opening a FIFO read-only blocks until some process
/// opens it for writing, so with no writer they never returned. Now: `ledger.io` at once.
///
/// The channel wait is only a watchdog so that the test cannot hang: on a timeout the test
/// opens the FIFO itself (read-write, which never blocks on Linux) to release the blocked
/// thread, then fails.
#[cfg(target_os = "linux")]
#[test]
fn a_fifo_is_refused_by_read_and_audit_file_without_blocking() {
    use std::sync::mpsc;
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("ledger.fifo");
    mkfifo(&fifo);
    type Call = fn(&Path) -> Result<(), Error>;
    let calls: [(&str, Call); 2] = [
        ("FileLedger::read", |p| FileLedger::read(p).map(drop)),
        ("audit_file", |p| {
            audit_file(p, &Policy::new(AUD), None).map(drop)
        }),
    ];
    for (name, call) in calls {
        let (tx, rx) = mpsc::channel();
        let path = fifo.clone();
        let worker = std::thread::spawn(move || tx.send(call(&path)).unwrap());
        let outcome = rx.recv_timeout(Duration::from_secs(10));
        if outcome.is_err() {
            // Release the blocked open: a writer appears, then goes away (end of file).
            drop(
                fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&fifo)
                    .unwrap(),
            );
        }
        worker.join().unwrap();
        let result = outcome.unwrap_or_else(|_| panic!("{name} blocked on a FIFO"));
        assert_io(result);
    }
}

#[test]
fn a_missing_directory_or_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("ledger.jsonl");
    let policy = Policy::new(AUD);
    assert_io(FileLedger::open(&path));
    assert!(!dir.path().join("no-such-dir").exists());
    let absent = dir.path().join("absent.jsonl");
    assert_io(FileLedger::read(&absent));
    assert_io(audit_file(&absent, &policy, None));
    assert!(!absent.exists(), "read-only paths must not create the file");

    // `open` creates an absent file, empty.
    let ledger = FileLedger::open(&absent).unwrap();
    assert_eq!((ledger.len(), ledger.head()), (0, ChainHash::GENESIS));
    assert_eq!(ledger.torn_tail(), None);
    assert_eq!(fs::read(&absent).unwrap(), b"");
}

// ---------------------------------------------------------------------------------------------
// 6b. Creating the file: exclusively, and (CreateMode::OnFirstAppend) only for an accepted
//     token.
// ---------------------------------------------------------------------------------------------

#[test]
fn a_ledger_created_on_first_append_leaves_no_file_until_a_token_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.jsonl");
    let ledger = FileLedger::open_with(&path, CreateMode::OnFirstAppend).unwrap();
    assert_eq!(
        (ledger.len(), ledger.head(), ledger.tail()),
        (0, ChainHash::GENESIS, None)
    );
    assert!(!path.exists());

    // Rejected tokens (DAG, time, signature): no file, no directory entry.
    let v = verifier();
    let tokens = fixture_tokens();
    let stranger = SigningKey::from_scalar_bytes("agent-a", &[9; 32]).unwrap();
    let forged = sign(ISS_A, &stranger, JTI[0], None, &[], NOW);
    let rejected: [(&str, u64, &str); 3] = [
        (&tokens[3], at(0), "dag.parent_missing"),
        (&tokens[0], NOW + 10_000, "time.expired"),
        (&forged, at(0), "sig.invalid"),
    ];
    for (token, now, code) in rejected {
        let err = v.accept(token, now, &ledger).unwrap_err();
        assert_eq!(err.code(), code);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0, "{code}");
    }
    assert_eq!(ledger.len(), 0);

    // The first accepted token creates the file with its entry; later ones append.
    let mut lines = Vec::new();
    for (seq, token) in tokens.iter().take(3).enumerate() {
        let accepted = v.accept(token, at(seq), &ledger).unwrap();
        lines.push(accepted.entry.to_line());
        assert_eq!(fs::read(&path).unwrap(), join(&lines));
    }
    // The file is locked like any open ledger's.
    let err = FileLedger::open(&path).unwrap_err();
    assert_eq!((err.code(), err.rule()), ("ledger.io", "ECT-LED-1"));
    drop(ledger);

    // An existing file opens as with `open`.
    let reopened = FileLedger::open_with(&path, CreateMode::OnFirstAppend).unwrap();
    assert_eq!(reopened.len(), 3);
    reopened.verify_chain().unwrap();
}

#[test]
fn a_ledger_file_created_by_someone_else_meanwhile_fails_the_first_append() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.jsonl");
    let lazy = FileLedger::open_with(&path, CreateMode::OnFirstAppend).unwrap();
    // Another ledger creates the file and appends an entry before the first append here.
    let other = FileLedger::open(&path).unwrap();
    let tokens = fixture_tokens();
    let theirs = verifier().accept(&tokens[0], at(0), &other).unwrap();
    let bytes = join(&[theirs.entry.to_line()]);
    for holder in [Some(other), None] {
        // Locked by the other ledger, or released: either way this one's empty view is stale.
        let err = verifier().accept(&tokens[1], at(1), &lazy).unwrap_err();
        assert!(matches!(err, Error::LedgerIo(_)), "{err:?}");
        assert!(err.message().contains("cannot create"), "{err}");
        assert_eq!(lazy.len(), 0);
        assert_eq!(fs::read(&path).unwrap(), bytes);
        drop(holder);
    }
}

#[test]
fn creating_on_first_append_in_a_missing_directory_fails_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("ledger.jsonl");
    let err = FileLedger::open_with(&path, CreateMode::OnFirstAppend).unwrap_err();
    assert!(matches!(err, Error::LedgerIo(_)), "{err:?}");
    assert_eq!((err.code(), err.rule()), ("ledger.io", "ECT-LED-1"));
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// An existing path is opened as given, through a symbolic link too (the caller chose it); a
/// missing file is never created through one, dangling or not (`create_new`).
#[cfg(unix)]
#[test]
fn a_symlink_to_a_ledger_is_followed_but_a_file_is_never_created_through_one() {
    let dir = tempfile::tempdir().unwrap();
    let fx = Fixture::build(&dir, 2);
    let link = dir.path().join("link.jsonl");
    std::os::unix::fs::symlink(&fx.path, &link).unwrap();
    let ledger = FileLedger::open(&link).unwrap();
    assert_eq!((ledger.len(), ledger.head()), (2, fx.heads[2]));
    let accepted = verifier()
        .accept(&fx.tokens[1], at(2), &ledger)
        .unwrap_err();
    assert_eq!(accepted.code(), "dag.duplicate_jti");
    let accepted = verifier()
        .accept(&fixture_tokens()[2], at(2), &ledger)
        .unwrap();
    drop(ledger);
    let mut lines = fx.lines.clone();
    lines.push(accepted.entry.to_line());
    assert_eq!(fs::read(&fx.path).unwrap(), join(&lines));
    assert!(fs::symlink_metadata(&link).unwrap().is_symlink());

    let target = dir.path().join("target.jsonl");
    let dangling = dir.path().join("dangling.jsonl");
    std::os::unix::fs::symlink(&target, &dangling).unwrap();
    assert_io(FileLedger::open(&dangling));
    assert!(!target.exists());
    let lazy = FileLedger::open_with(&dangling, CreateMode::OnFirstAppend).unwrap();
    let err = verifier()
        .accept(&fixture_tokens()[0], at(0), &lazy)
        .unwrap_err();
    assert!(matches!(err, Error::LedgerIo(_)), "{err:?}");
    assert!(!target.exists());
}

// ---------------------------------------------------------------------------------------------
// 7. Acknowledged appends are on disk.
// ---------------------------------------------------------------------------------------------

#[test]
fn every_acknowledged_append_is_already_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.jsonl");
    let ledger = FileLedger::open(&path).unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"");
    let v = verifier();
    let mut expected = Vec::new();
    for (seq, token) in fixture_tokens().iter().enumerate() {
        let accepted = v.accept(token, at(seq), &ledger).unwrap();
        let mut line = accepted.entry.to_line().into_bytes();
        line.push(b'\n');
        let on_disk = fs::read(&path).unwrap();
        assert!(on_disk.ends_with(&line), "entry {seq} is not the last line");
        expected.extend_from_slice(&line);
        assert_eq!(on_disk, expected, "after entry {seq}");
        assert_eq!(
            RawEntry::parse_line(&line[..line.len() - 1]).unwrap(),
            rehashed(seq as u64, at(seq), accepted.entry.prev(), token)
        );

        // A rejected token (the same one again: ECT-DAG-1 runs before the replay check)
        // changes nothing on disk.
        let err = v.accept(token, at(seq), &ledger).unwrap_err();
        assert_eq!(err, Error::DuplicateJti(JTI[seq].to_owned()));
        assert_eq!((err.code(), err.rule()), ("dag.duplicate_jti", "ECT-DAG-1"));
        assert_eq!(fs::read(&path).unwrap(), expected);
    }
    // A fresh verifier (no replay memory) is refused by the ledger itself.
    let err = verifier()
        .accept(&fixture_tokens()[2], at(9), &ledger)
        .unwrap_err();
    assert_eq!(err, Error::DuplicateJti(JTI[2].to_owned()));
    assert_eq!(fs::read(&path).unwrap(), expected);
    assert_eq!(ledger.len(), 5);
}
