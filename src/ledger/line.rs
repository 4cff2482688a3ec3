//! The ledger file's line format and what a crash can leave after the last `\n`
//! ([`crate::FileLedger`], "File format" and "Recovery").

use crate::error::{Error, Result};
use crate::json::parse_object;
use crate::ledger::hash::{ChainHash, Link};

pub(crate) fn line(seq: u64, at: u64, prev: &ChainHash, hash: &ChainHash, token: &str) -> String {
    let token = serde_json::Value::String(token.to_owned());
    format!(r#"{{"seq":{seq},"at":{at},"prev":"{prev}","hash":"{hash}","token":{token}}}"#)
}

/// A ledger line parsed into its fields but not checked against the chain, the token not
/// parsed: the input of [`crate::audit()`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawEntry {
    /// The `seq` member.
    pub seq: u64,
    /// The `at` member (acceptance time).
    pub at: u64,
    /// The `prev` member.
    pub prev: ChainHash,
    /// The `hash` member.
    pub hash: ChainHash,
    /// The `token` member.
    pub token: String,
}

impl RawEntry {
    /// Parses one line (without its `\n`). Anything but the canonical form is `ledger.chain`.
    pub fn parse_line(line_bytes: &[u8]) -> Result<Self> {
        let bad = |why: &str| Error::LedgerChain(format!("not a ledger entry: {why}"));
        let map = parse_object(line_bytes).map_err(|e| bad(&e.message()))?;
        let uint = |name: &str| map.get(name).and_then(|v| v.as_u64());
        let text = |name: &str| map.get(name).and_then(|v| v.as_str());
        let hash = |name: &str| text(name).and_then(ChainHash::parse);
        let raw = RawEntry {
            seq: uint("seq").ok_or_else(|| bad("seq"))?,
            at: uint("at").ok_or_else(|| bad("at"))?,
            prev: hash("prev").ok_or_else(|| bad("prev"))?,
            hash: hash("hash").ok_or_else(|| bad("hash"))?,
            token: text("token").ok_or_else(|| bad("token"))?.to_owned(),
        };
        if raw.to_line().as_bytes() != line_bytes {
            return Err(bad("not in canonical form"));
        }
        Ok(raw)
    }

    /// The canonical line, without the final `\n`.
    pub fn to_line(&self) -> String {
        line(self.seq, self.at, &self.prev, &self.hash, &self.token)
    }

    /// The hash this entry should carry, recomputed from its fields.
    pub fn expected_hash(&self) -> ChainHash {
        ChainHash::of_entry(self.seq, self.at, &self.prev, &self.token)
    }

    pub(crate) fn link(&self) -> Link<'_> {
        Link {
            seq: self.seq,
            at: self.at,
            prev: &self.prev,
            hash: &self.hash,
            token: &self.token,
        }
    }
}

/// A final line cut short by a crash: a strict prefix of an entry line after the file's last
/// `\n` ([`crate::FileLedger`], "Recovery").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TornTail {
    /// Byte offset where the incomplete line starts (the length of the intact part).
    pub offset: u64,
    /// Length of the incomplete line in bytes.
    pub len: u64,
}

/// What a ledger file holds after its last `\n`, when it holds anything ([`FileLedger`],
/// "Recovery"). Reported by [`FileLedger::tail`], [`FileLedger::read`] and
/// [`crate::audit_file`].
///
/// [`FileLedger`]: crate::FileLedger
/// [`FileLedger::tail`]: crate::FileLedger::tail
/// [`FileLedger::read`]: crate::FileLedger::read
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tail {
    /// A strict prefix of an entry line: a write cut short, never acknowledged, not an entry.
    /// Every reader ignores it; the first accepted append of a [`FileLedger`] cuts it off the
    /// file.
    ///
    /// [`FileLedger`]: crate::FileLedger
    Torn(TornTail),
    /// The last line has no `\n` but is not a torn write: it is read as a line. When
    /// [`FileLedger::open`] or [`FileLedger::read`] succeed it was a complete entry, the last
    /// one; the first accepted append of a [`FileLedger`] writes the missing `\n` before its
    /// own entry.
    ///
    /// [`FileLedger`]: crate::FileLedger
    /// [`FileLedger::open`]: crate::FileLedger::open
    /// [`FileLedger::read`]: crate::FileLedger::read
    MissingNewline {
        /// Byte offset where the last line starts.
        offset: u64,
        /// Length of the last line in bytes (without the missing `\n`).
        len: u64,
    },
}

impl Tail {
    /// The torn tail, if this is one.
    pub fn torn(&self) -> Option<TornTail> {
        match self {
            Tail::Torn(t) => Some(*t),
            Tail::MissingNewline { .. } => None,
        }
    }
}

/// Splits a ledger file into its lines (without their `\n`) and says what follows the last
/// `\n`, if anything ([`crate::FileLedger`], "Recovery"):
///
/// * a strict prefix of some canonical entry line is a torn tail: not a line;
/// * anything else is the last line, missing its `\n`: returned with the other lines, so it is
///   checked like them.
pub(crate) fn split_lines(bytes: &[u8]) -> (impl Iterator<Item = &[u8]>, Option<Tail>) {
    let intact = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let rest = &bytes[intact..];
    let (offset, len) = (intact as u64, rest.len() as u64);
    let (last, tail) = if rest.is_empty() {
        (None, None)
    } else if is_strict_line_prefix(rest) {
        (None, Some(Tail::Torn(TornTail { offset, len })))
    } else {
        (Some(rest), Some(Tail::MissingNewline { offset, len }))
    };
    // `split` yields one more, empty, piece after the final `\n`; `take` leaves it out.
    let count = bytes[..intact].iter().filter(|&&b| b == b'\n').count();
    let lines = bytes[..intact].split(|&b| b == b'\n').take(count);
    (lines.chain(last), tail)
}

/// Whether `segment` is a strict prefix of some canonical entry line (without its `\n`), i.e.
/// what an interrupted write of a line can leave:
/// `{"seq":U64,"at":U64,"prev":"H","hash":"H","token":S}` where `U64` is a decimal `u64`
/// without leading zeros, `H` 43 characters of canonical unpadded base64url (32 bytes) and `S`
/// a string as serde_json writes it (`"`, `\` and control characters escaped, the controls
/// without a short escape as `\u00xx`, everything else as UTF-8). A complete line is not a
/// strict prefix.
fn is_strict_line_prefix(segment: &[u8]) -> bool {
    /// How one part of the line matched the start of the rest of the segment.
    enum Step<'a> {
        /// The part matched in full; the segment goes on with this.
        Next(&'a [u8]),
        /// The segment ended inside the part (a possible prefix).
        End,
        /// No line continues like this.
        No,
    }
    fn literal<'a>(rest: &'a [u8], lit: &[u8]) -> Step<'a> {
        match rest.strip_prefix(lit) {
            Some(next) => Step::Next(next),
            None if lit.starts_with(rest) => Step::End,
            None => Step::No,
        }
    }
    /// A `u64` in canonical decimal (`rest` is not empty). Every non-empty prefix of such a
    /// number is one itself.
    fn integer(rest: &[u8]) -> Step<'_> {
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let text = &rest[..digits];
        let canonical = !text.is_empty()
            && (text == b"0" || text[0] != b'0')
            && std::str::from_utf8(text).is_ok_and(|t| t.parse::<u64>().is_ok());
        match (canonical, digits == rest.len()) {
            (false, _) => Step::No,
            (true, true) => Step::End,
            (true, false) => Step::Next(&rest[digits..]),
        }
    }
    fn hash(rest: &[u8]) -> Step<'_> {
        const LEN: usize = 43;
        let b64 = |b: &u8| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_';
        if rest.len() < LEN {
            return if rest.iter().all(b64) {
                Step::End
            } else {
                Step::No
            };
        }
        match ChainHash::parse(std::str::from_utf8(&rest[..LEN]).unwrap_or("")) {
            Some(_) => Step::Next(&rest[LEN..]),
            None => Step::No,
        }
    }
    /// The string's content and its closing `"` (the opening `"` is already matched).
    fn string(rest: &[u8]) -> Step<'_> {
        let mut i = 0;
        while i < rest.len() {
            match rest[i] {
                b'"' => return Step::Next(&rest[i + 1..]),
                b'\\' => {
                    let escape = &rest[i + 1..];
                    let n = match escape.first() {
                        None => return Step::End,
                        Some(b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't') => 1,
                        Some(b'u') => {
                            // serde_json writes `\u00xx` (lower-case hex) exactly for the
                            // control characters without a short escape.
                            let digits = &escape[1..escape.len().min(5)];
                            let possible = (0u8..0x20)
                                .filter(|c| !matches!(c, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d))
                                .any(|c| format!("{c:04x}").as_bytes().starts_with(digits));
                            match (possible, digits.len() == 4) {
                                (false, _) => return Step::No,
                                (true, false) => return Step::End,
                                (true, true) => 5,
                            }
                        }
                        Some(_) => return Step::No,
                    };
                    i += 1 + n;
                }
                b if b < 0x20 => return Step::No,
                _ => {
                    // One UTF-8 character, possibly cut at the end of the segment.
                    let take = &rest[i..rest.len().min(i + 4)];
                    let n = match std::str::from_utf8(take) {
                        Ok(s) => s.chars().next().map_or(1, char::len_utf8),
                        Err(e) if e.valid_up_to() > 0 => {
                            let valid = std::str::from_utf8(&take[..e.valid_up_to()]);
                            valid.map_or(1, |s| s.chars().next().map_or(1, char::len_utf8))
                        }
                        Err(e) if e.error_len().is_none() => return Step::End,
                        Err(_) => return Step::No,
                    };
                    i += n;
                }
            }
        }
        Step::End
    }

    type Part = fn(&[u8]) -> Step<'_>;
    let parts: [Part; 11] = [
        |r| literal(r, br#"{"seq":"#),
        integer,
        |r| literal(r, br#","at":"#),
        integer,
        |r| literal(r, br#","prev":""#),
        hash,
        |r| literal(r, br#"","hash":""#),
        hash,
        |r| literal(r, br#"","token":""#),
        string,
        |r| literal(r, b"}"),
    ];
    let mut rest = segment;
    for part in parts {
        // The segment ended between two parts (never before the first: it is not empty).
        if rest.is_empty() {
            return true;
        }
        match part(rest) {
            Step::Next(next) => rest = next,
            Step::End => return true,
            Step::No => return false,
        }
    }
    // Every part matched: a complete line (or more), not a strict prefix.
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_772_000_000;

    /// Every strict prefix of a canonical line, whatever its token, is a torn tail; the
    /// complete line and anything no line starts with are not.
    #[test]
    fn strict_line_prefixes() {
        let entry = |seq, at, prev, hash, token: &str| RawEntry {
            seq,
            at,
            prev: ChainHash(prev),
            hash: ChainHash(hash),
            token: token.to_owned(),
        };
        let lines = [
            entry(0, 0, [0; 32], [0xff; 32], "eyJhbGciOi.eyJpc3Mi.c2ln").to_line(),
            entry(u64::MAX, NOW, [7; 32], [0x80; 32], "").to_line(),
            // Every escape serde_json writes, and 2-, 3- and 4-byte UTF-8.
            entry(
                12,
                345,
                [1; 32],
                [2; 32],
                "a\"b\\c\u{0}\u{8}\t\n\u{c}\r\u{1f}\u{7f}é€😀}",
            )
            .to_line(),
        ];
        assert!(
            lines[2].contains(r#"\"b\\c\u0000\b\t\n\f\r\u001f"#),
            "{}",
            lines[2]
        );
        for line in &lines {
            let bytes = line.as_bytes();
            for cut in 1..bytes.len() {
                assert!(is_strict_line_prefix(&bytes[..cut]), "{cut} of {line}");
            }
            assert!(!is_strict_line_prefix(bytes), "{line}");
            assert!(!is_strict_line_prefix(format!("{line} ").as_bytes()));
            assert!(!is_strict_line_prefix(format!("{line}}}").as_bytes()));
        }
        let h = "A".repeat(43);
        let start = format!(r#"{{"seq":1,"at":2,"prev":"{h}","hash":"{h}","token":""#);
        assert!(is_strict_line_prefix(start.as_bytes()));
        let not_prefixes: Vec<Vec<u8>> = vec![
            b"garbage".to_vec(),
            b"\0\0\0\0".to_vec(),
            b" {".to_vec(),
            b"{\"seq\": 1".to_vec(),
            b"{\"seq\":01".to_vec(),
            b"{\"seq\":-1".to_vec(),
            b"{\"seq\":18446744073709551616".to_vec(),
            b"{\"seq\":1,\"at\":2,\"prev\":\"AAA=".to_vec(),
            // 42 characters, then the closing quote.
            format!(r#"{{"seq":1,"at":2,"prev":"{}""#, "A".repeat(42)).into_bytes(),
            // Non-canonical last character (unused bits set).
            format!(r#"{{"seq":1,"at":2,"prev":"{}B""#, "A".repeat(42)).into_bytes(),
            // Escapes serde_json never writes, a raw control character, invalid UTF-8.
            format!(r#"{start}\u0041"#).into_bytes(),
            format!(r#"{start}\u000a"#).into_bytes(),
            format!(r#"{start}\u001F"#).into_bytes(),
            format!(r#"{start}\/"#).into_bytes(),
            format!("{start}\t").into_bytes(),
            [start.as_bytes(), b"\xff"].concat(),
            [start.as_bytes(), b"\xc3("].concat(),
        ];
        for bytes in &not_prefixes {
            assert!(
                !is_strict_line_prefix(bytes),
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
        // Cut inside an escape or a multi-byte character: still a prefix.
        for partial in [r"\", r"\u", r"\u00", r"\u001"] {
            assert!(is_strict_line_prefix(
                format!("{start}{partial}").as_bytes()
            ));
        }
        assert!(is_strict_line_prefix(
            &[start.as_bytes(), b"\xf0\x9f"].concat()
        ));
    }

    proptest::proptest! {
        /// For any entry (any token string), every strict prefix of its line is a torn tail
        /// and the line itself is not.
        #[test]
        fn every_strict_prefix_of_any_line_is_a_torn_tail(
            seq: u64,
            at: u64,
            prev: [u8; 32],
            hash: [u8; 32],
            token: String,
        ) {
            let line = RawEntry { seq, at, prev: ChainHash(prev), hash: ChainHash(hash), token }
                .to_line();
            let bytes = line.as_bytes();
            for cut in 1..bytes.len() {
                proptest::prop_assert!(is_strict_line_prefix(&bytes[..cut]), "{} of {}", cut, line);
            }
            proptest::prop_assert!(!is_strict_line_prefix(bytes));
        }

        /// A line's prefix with one byte changed, or any bytes: no panic, and a torn tail
        /// never parses as an entry (so a kept entry is never mistaken for one, nor the
        /// reverse).
        #[test]
        fn a_torn_tail_is_never_an_entry(
            token: String,
            cut: proptest::sample::Index,
            change: Option<(proptest::sample::Index, u8)>,
            noise in proptest::collection::vec(proptest::num::u8::ANY, 0..40),
        ) {
            let line = RawEntry { seq: 1, at: 2, prev: ChainHash([3; 32]), hash: ChainHash([4; 32]), token }
                .to_line();
            let mut bytes = line.as_bytes()[..=cut.index(line.len())].to_vec();
            if let Some((at, byte)) = change {
                let at = at.index(bytes.len());
                bytes[at] = byte;
            }
            for candidate in [bytes, noise] {
                if candidate.is_empty() {
                    continue;
                }
                if is_strict_line_prefix(&candidate) {
                    proptest::prop_assert!(matches!(
                        RawEntry::parse_line(&candidate),
                        Err(Error::LedgerChain(_))
                    ));
                }
                let (lines, tail) = split_lines(&candidate);
                if !candidate.contains(&b'\n') {
                    // One segment: a torn tail (no line) or the last line.
                    let last = usize::from(tail.is_some_and(|t| t.torn().is_none()));
                    proptest::prop_assert_eq!(lines.count(), last);
                }
            }
        }
    }
}
