//! Seed corpora of the fuzz targets, derived from the committed vectors of both profiles
//! (`vectors/*.json` and `vectors/draft-01/*.json`: the tokens, their decoded header and
//! payload, and the `Execution-Context` field lines of the ECT-HTTP vectors) and a few fixed
//! inputs for the structured targets, some of which describe `draft-01` cases.

use std::collections::BTreeSet;
use std::io;
use std::path::Path;

use sha2::{Digest, Sha256};

use arbitrary::{Arbitrary, Unstructured};

use super::TARGETS;
use super::common::{FuzzProfile, hex};
use super::dag::DagOps;
use super::verify_structured::TokenDesc;
use crate::testing::json::Rng;
use crate::vector::{Kind, ProfileName, VectorFile};
use wimse_ect::jws::split;

/// One seed input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seed {
    /// The target it is for (a name in [`TARGETS`]).
    pub target: &'static str,
    /// Where it comes from (a vector id, or `fixed`).
    pub origin: String,
    /// The input bytes.
    pub data: Vec<u8>,
}

/// Fixed inputs for the structured targets: empty (every default: one valid token, or no
/// operation), zeros, ones, and a few patterns.
const FIXED: &[&[u8]] = &[
    b"",
    &[0; 16],
    &[0xff; 64],
    &[0x01; 64],
    &[0x80; 128],
    b"\x01\x00\x01\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f",
    b"\xff\x00\x00\x01\x00\x00\xff\x01\x01\x00\x00\x02\x00\xff\x01\x02\x01\x00\x03\x00\x01",
    b"The quick brown fox jumps over the lazy dog, twice: the quick brown fox jumps.",
];

/// Structured inputs that decode to a `draft-01` case (the profile is the last field of
/// [`TokenDesc`] and [`DagOps`], so the fixed inputs above, shorter, are `draft-00`): the
/// first `n` of a fixed pseudo-random sequence of 160-byte strings that do, per target.
fn draft_01_inputs(n: usize) -> Vec<(&'static str, Vec<u8>)> {
    let mut rng = Rng::new(0xd1);
    let mut out = Vec::new();
    let (mut tokens, mut dags) = (0, 0);
    for _ in 0..10_000 {
        if tokens >= n && dags >= n {
            break;
        }
        let bytes: Vec<u8> = (0..160).map(|_| rng.next() as u8).collect();
        let desc = TokenDesc::arbitrary(&mut Unstructured::new(&bytes));
        if tokens < n && desc.is_ok_and(|d| d.profile == FuzzProfile::Draft01) {
            out.push(("verify_structured", bytes.clone()));
            tokens += 1;
        }
        let ops = DagOps::arbitrary(&mut Unstructured::new(&bytes));
        if dags < n && ops.is_ok_and(|o| o.profile == FuzzProfile::Draft01 && !o.ops.is_empty()) {
            out.push(("dag", bytes));
            dags += 1;
        }
    }
    out
}

/// Seed inputs per target from the vector files of both profiles under `vectors_dir` (the
/// vectors' root: every `*.json` except `schema.json` of each profile's directory,
/// [`crate::profile_dir`]), in a deterministic order without duplicates:
///
/// * `parse`: every token (including `before` and `store` tokens), and its decoded header
///   and payload text;
/// * `verify_bytes`: every token;
/// * `http_header`: every vector's field lines joined with `\n`, and the tokens of each
///   `token` vector (its own, then `before` and `store`) as field lines;
/// * `verify_structured`, `dag`: eight fixed byte strings (the empty input: every default,
///   `draft-00`) and four that describe `draft-01` cases.
///
/// A profile whose directory is missing is an error, not an empty corpus.
pub fn seeds(vectors_dir: &Path) -> io::Result<Vec<Seed>> {
    let mut files = Vec::new();
    for profile in ProfileName::ALL {
        let dir = crate::profile_dir(vectors_dir, profile);
        let mut these: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?
            .collect::<io::Result<Vec<_>>>()?
            .into_iter()
            .map(|e| e.path())
            .filter(|p| {
                p.is_file()
                    && p.extension().is_some_and(|e| e == "json")
                    && p.file_name().is_some_and(|n| n != "schema.json")
            })
            .collect();
        these.sort();
        files.extend(these);
    }
    let mut out = Vec::new();
    let mut seen: BTreeSet<(&'static str, Vec<u8>)> = BTreeSet::new();
    let mut add = |target: &'static str, origin: &str, data: Vec<u8>| {
        if seen.insert((target, data.clone())) {
            out.push(Seed {
                target,
                origin: origin.to_owned(),
                data,
            });
        }
    };
    for path in files {
        let file: VectorFile = serde_json::from_slice(&std::fs::read(&path)?).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        })?;
        for v in &file.vectors {
            let case = &v.case;
            let tokens: Vec<&String> = case
                .token
                .iter()
                .chain(&case.before)
                .chain(&case.store)
                .collect();
            for t in &tokens {
                add("parse", &v.id, t.as_bytes().to_vec());
                add("verify_bytes", &v.id, t.as_bytes().to_vec());
                if let Ok(c) = split(t.as_bytes(), usize::MAX) {
                    add("parse", &v.id, c.header);
                    add("parse", &v.id, c.payload);
                }
            }
            if case.kind == Kind::Http {
                add(
                    "http_header",
                    &v.id,
                    case.field_lines.join("\n").into_bytes(),
                );
            }
            if !tokens.is_empty() {
                let lines: Vec<&str> = tokens.iter().map(|t| t.as_str()).collect();
                add("http_header", &v.id, lines.join("\n").into_bytes());
            }
        }
    }
    for data in FIXED {
        add("verify_structured", "fixed", data.to_vec());
        add("dag", "fixed", data.to_vec());
    }
    for (target, data) in draft_01_inputs(4) {
        add(target, "fixed draft-01", data);
    }
    Ok(out)
}

/// Writes [`seeds`] from `vectors_dir` as files `out_dir/<target>/<hex SHA-256 of the
/// content>` (so writing twice gives the same files), creating the directories. Returns the
/// number of seeds.
pub fn seed_corpora(vectors_dir: &Path, out_dir: &Path) -> io::Result<usize> {
    let all = seeds(vectors_dir)?;
    for (target, _) in TARGETS {
        std::fs::create_dir_all(out_dir.join(target))?;
    }
    for seed in &all {
        let name = hex(&Sha256::digest(&seed.data));
        std::fs::write(out_dir.join(seed.target).join(name), &seed.data)?;
    }
    Ok(all.len())
}
