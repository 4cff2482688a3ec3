//! SPEC.md §8: ledger files (kind `ledger`), ECT-LED-1..4, in this crate's file format
//! (`wimse_ect::_documentation::crash_recovery`, "Ledger entries"; flag `LedgerFormat` on every vector): one canonical JSON line
//! per entry, `{"seq":…,"at":…,"prev":"…","hash":"…","token":"…"}`, each ending with `\n`,
//! `hash = SHA-256("wimse-ect-ledger-v1\n" ‖ seq ‖ at ‖ prev ‖ token)`.
//!
//! The files are made with the crate's own API: tokens accepted into a
//! [`wimse_ect::MemoryLedger`] through a [`wimse_ect::Verifier`] (default keys, [`AUD`], entry `i`
//! accepted at `NOW + i`), rendered with [`wimse_ect::LedgerEntry::to_line`], then edited as
//! [`wimse_ect::RawEntry`] values (re-chained with [`wimse_ect::RawEntry::expected_hash`] where a
//! vector needs a single defect).

use serde_json::{Map, Value};

use crate::build::*;
use wimse_ect::{ChainHash, KeySet, MemoryLedger, Policy, RawEntry, Verifier};

/// Agent A's claims for task `uuid(n)`, with `wid` [`uuid`]`(w)` when `w` is given.
fn task_claims(n: u32, wid: Option<u32>) -> Map<String, Value> {
    let mut c = claims(&uuid(n));
    if let Some(w) = wid {
        c.insert("wid".into(), uuid(w).into());
    }
    c
}

/// Agent A's token for task `uuid(n)` with parents `uuid(p)`, no `wid`.
fn task(n: u32, par: &[u32]) -> String {
    let mut c = task_claims(n, None);
    let par: Vec<String> = par.iter().map(|p| uuid(*p)).collect();
    c.insert("par".into(), par.into());
    sign_a(&c)
}

/// Accepts `tokens` in order into a fresh [`MemoryLedger`] (token `i` at `NOW + i`) and
/// returns its entries.
fn accepted(tokens: &[String]) -> Vec<RawEntry> {
    let jwks = serde_json::to_vec(&jwks()).expect("serializes");
    let keys = KeySet::from_jwks_json(&jwks).expect("the default keys load");
    let mut policy = Policy::new(AUD);
    policy.profile = profile().profile();
    let verifier = Verifier::new(keys, policy).expect("default policy");
    let ledger = MemoryLedger::with_profile(profile().profile());
    for (i, t) in tokens.iter().enumerate() {
        verifier
            .accept(t, NOW + i as u64, &ledger)
            .unwrap_or_else(|e| panic!("token {i} is not accepted: {e}"));
    }
    ledger.verify_chain().expect("a fresh ledger verifies");
    ledger
        .entries()
        .iter()
        .map(|e| RawEntry::parse_line(e.to_line().as_bytes()).expect("canonical"))
        .collect()
}

/// The chain 1 <- 2 <- 3 <- 4 (each task the parent of the next), accepted.
fn chain4() -> Vec<RawEntry> {
    accepted(&[task(1, &[]), task(2, &[1]), task(3, &[2]), task(4, &[3])])
}

/// The file content: every entry's line followed by `\n`.
fn render(entries: &[RawEntry]) -> String {
    entries.iter().map(|e| e.to_line() + "\n").collect()
}

/// `entries` with entry `i` changed by `f` and its hash recomputed, then every later entry
/// re-chained (new `prev` and hash), so the only defect is what `f` did to entry `i`'s own
/// fields.
fn rechained(mut entries: Vec<RawEntry>, i: usize, f: impl FnOnce(&mut RawEntry)) -> Vec<RawEntry> {
    f(&mut entries[i]);
    entries[i].hash = entries[i].expected_hash();
    for j in i + 1..entries.len() {
        entries[j].prev = entries[j - 1].hash;
        entries[j].hash = entries[j].expected_hash();
    }
    entries
}

/// The next entry after `entries` for `token`, correctly chained, accepted at `at`.
fn appended(mut entries: Vec<RawEntry>, token: String, at: u64) -> Vec<RawEntry> {
    let prev = entries.last().map_or(ChainHash::GENESIS, |e| e.hash);
    let mut e = RawEntry {
        seq: entries.len() as u64,
        at,
        prev,
        hash: ChainHash::GENESIS,
        token,
    };
    e.hash = e.expected_hash();
    entries.push(e);
    entries
}

/// `token` with its last character changed (still base64url).
fn flip_last(token: &str) -> String {
    let (head, last) = token.split_at(token.len() - 1);
    format!("{head}{}", if last == "A" { "B" } else { "A" })
}

/// The vectors, in order.
pub fn vectors() -> Vec<V> {
    let l3 = ["ECT-LED-3"];
    let l4 = ["ECT-LED-4"];
    let f = "LedgerFormat";
    vec![
        // Valid files.
        V::ledger("ledger/valid/empty", "an empty file: no entry", &l4, "").valid().flag(f),
        V::ledger("ledger/valid/one-entry", "one entry: seq 0, prev 32 zero bytes", &["ECT-LED-1", "ECT-LED-4"], render(&accepted(&[task(1, &[])])))
            .valid()
            .flag(f),
        V::ledger("ledger/valid/chain-of-four", "four entries (tasks 1 <- 2 <- 3 <- 4), seq 0..3, each prev the previous hash", &["ECT-LED-1", "ECT-LED-2", "ECT-LED-4"], render(&chain4()))
            .valid()
            .flag(f),
        V::ledger("ledger/valid/same-jti-other-wid", "the same jti in wid 100 and in wid 101: different scopes", &l3, render(&accepted(&[sign_a(&task_claims(1, Some(100))), sign_a(&task_claims(1, Some(101)))])))
            .valid()
            .flag(f),
        V::ledger("ledger/valid/same-jti-wid-and-none", "the same jti without wid and with wid 100: different scopes", &l3, render(&accepted(&[task(1, &[]), sign_a(&task_claims(1, Some(100)))])))
            .valid()
            .flag(f),
        V::ledger("ledger/valid/torn-tail", "two entries, then an incomplete third line without its \\n (a crash during a write, a strict prefix of an entry line): reported as a torn tail and ignored, the file is valid", &l4, {
            let entries = chain4();
            let third = entries[2].to_line();
            render(&entries[..2]) + &third[..40]
        })
        .valid()
        .flag(f),
        V::ledger("ledger/valid/torn-tail-complete-line", "three entries, the last one complete and correctly chained but without its \\n: not a torn tail (a torn tail is a strict prefix of an entry line), read as the third entry, the file is valid", &l4, {
            let entries = chain4();
            render(&entries[..2]) + &entries[2].to_line()
        })
        .valid()
        .flag(f),
        V::ledger("ledger/valid/only-torn-tail", "no newline at all: the whole content is a torn tail, no entry", &l4, "{\"seq\":0,\"at\":")
            .valid()
            .flag(f),
        // ECT-LED-4: tampering.
        V::ledger("ledger/chain/edited-at", "entry 1's at changed by one second, hashes left as they were", &l4, {
            let mut e = chain4();
            e[1].at += 1;
            render(&e)
        })
        .invalid("ledger.chain")
        .flag(f),
        V::ledger("ledger/chain/edited-token", "the last character of entry 1's token changed, hashes left as they were", &l4, {
            let mut e = chain4();
            e[1].token = flip_last(&e[1].token);
            render(&e)
        })
        .invalid("ledger.chain")
        .flag(f),
        V::ledger("ledger/chain/edited-hash", "entry 3's hash replaced by another valid-looking hash", &l4, {
            let mut e = chain4();
            e[3].hash = e[2].hash;
            render(&e)
        })
        .invalid("ledger.chain")
        .flag(f),
        V::ledger("ledger/chain/removed-middle", "entry 1 of four removed", &l4, {
            let mut e = chain4();
            e.remove(1);
            render(&e)
        })
        .invalid("ledger.chain")
        .flag(f),
        V::ledger("ledger/chain/removed-first", "entry 0 of four removed", &l4, render(&chain4()[1..]))
            .invalid("ledger.chain")
            .flag(f),
        V::ledger("ledger/chain/swapped", "entries 1 and 2 swapped", &l4, {
            let mut e = chain4();
            e.swap(1, 2);
            render(&e)
        })
        .invalid("ledger.chain")
        .flag(f),
        V::ledger("ledger/chain/wrong-prev", "entry 2's prev is entry 0's hash (entry 2's own hash recomputed, later entries re-chained)", &l4, {
            let e = chain4();
            let h0 = e[0].hash;
            render(&rechained(e, 2, |x| x.prev = h0))
        })
        .invalid("ledger.chain")
        .flag(f),
        V::ledger("ledger/chain/first-prev-not-zero", "entry 0's prev is not 32 zero bytes (hash recomputed, later entries re-chained)", &l4, {
            let e = chain4();
            let h3 = e[3].hash;
            render(&rechained(e, 0, |x| x.prev = h3))
        })
        .invalid("ledger.chain")
        .flag(f),
        V::ledger("ledger/chain/wrong-seq", "entry 1 has seq 2 (hash recomputed, later entries re-chained)", &["ECT-LED-1", "ECT-LED-4"], render(&rechained(chain4(), 1, |x| x.seq = 2)))
            .invalid("ledger.chain")
            .flag(f),
        V::ledger("ledger/chain/seq-from-one", "a single entry with seq 1 (hash recomputed)", &["ECT-LED-1", "ECT-LED-4"], render(&rechained(accepted(&[task(1, &[])]), 0, |x| x.seq = 1)))
            .invalid("ledger.chain")
            .flag(f),
        V::ledger("ledger/chain/extra-space", "entry 1's line has a space after its first colon (not canonical)", &l4, {
            let e = chain4();
            let mut text = render(&e[..1]);
            text += &e[1].to_line().replacen(':', ": ", 1);
            text += "\n";
            text += &render(&e[2..]);
            text
        })
        .invalid("ledger.chain")
        .flag(f),
        V::ledger("ledger/chain/members-reordered", "entry 0's members in another order (not canonical)", &l4, {
            let e = &accepted(&[task(1, &[])])[0];
            format!(
                "{{\"at\":{},\"seq\":{},\"prev\":\"{}\",\"hash\":\"{}\",\"token\":\"{}\"}}\n",
                e.at, e.seq, e.prev, e.hash, e.token
            )
        })
        .invalid("ledger.chain")
        .flag(f),
        V::ledger("ledger/chain/not-json", "a line that is not JSON", &l4, "not a ledger entry\n")
            .invalid("ledger.chain")
            .flag(f),
        V::ledger("ledger/chain/not-json-after-entries", "two valid entries, then a line that is not JSON", &l4, render(&chain4()[..2]) + "garbage\n")
            .invalid("ledger.chain")
            .flag(f),
        V::ledger("ledger/chain/crlf", "two entries, each line ending with \\r\\n", &l4, {
            chain4()[..2].iter().map(|e| e.to_line() + "\r\n").collect::<String>()
        })
        .invalid("ledger.chain")
        .flag(f),
        V::ledger("ledger/chain/blank-line", "an empty line between entries 0 and 1", &l4, {
            let e = chain4();
            render(&e[..1]) + "\n" + &render(&e[1..])
        })
        .invalid("ledger.chain")
        .flag(f),
        V::ledger("ledger/chain/trailing-blank-line", "four entries, then an empty line", &l4, render(&chain4()) + "\n")
            .invalid("ledger.chain")
            .flag(f),
        V::ledger("ledger/chain/token-not-an-ect", "a correctly chained entry whose token is not a compact JWS", &l4, render(&appended(accepted(&[task(1, &[])]), "not-a-token".into(), NOW + 1)))
            .invalid("ledger.chain")
            .flag(f),
        V::ledger("ledger/chain/token-claims-invalid", "a correctly chained entry whose token lacks exec_act", &l4, {
            let mut c = task_claims(2, None);
            c.remove("exec_act");
            render(&appended(accepted(&[task(1, &[])]), sign_a(&c), NOW + 1))
        })
        .invalid("ledger.chain")
        .flag(f),
        // ECT-LED-3: duplicates.
        V::ledger("ledger/duplicate/same-token", "a correctly chained second entry holding the first entry's token", &l3, {
            let e = accepted(&[task(1, &[])]);
            let t = e[0].token.clone();
            render(&appended(e, t, NOW + 1))
        })
        .invalid("ledger.duplicate")
        .flag(f),
        V::ledger("ledger/duplicate/other-token", "a correctly chained entry with another token (other exec_act) for a jti already in the ledger", &l3, {
            let mut c = task_claims(1, None);
            c.insert("exec_act".into(), "other_action".into());
            render(&appended(chain4(), sign_a(&c), NOW + 4))
        })
        .invalid("ledger.duplicate")
        .flag(f),
        V::ledger("ledger/duplicate/same-wid", "two entries with the same jti in wid 100 (the second re-chained)", &l3, {
            let mut c = task_claims(1, Some(100));
            let e = accepted(&[sign_a(&c)]);
            c.insert("exec_act".into(), "other_action".into());
            render(&appended(e, sign_a(&c), NOW + 1))
        })
        .invalid("ledger.duplicate")
        .flag(f),
        V::ledger("ledger/duplicate/broken-link-first", "a duplicate entry whose prev is wrong: the chain is checked first", &["ECT-LED-3", "ECT-LED-4"], {
            let e = accepted(&[task(1, &[])]);
            let t = e[0].token.clone();
            render(&rechained(appended(e, t, NOW + 1), 1, |x| x.prev = ChainHash::GENESIS))
        })
        .invalid("ledger.chain")
        .flag(f),
        // The end of the file: only a strict prefix of an entry line is a torn tail; anything
        // else after the last \n is the last line, checked like every other.
        V::ledger("ledger/valid/torn-tail-before-closing-brace", "two entries, then the third line without its closing } and \\n: the longest torn tail, ignored, the file is valid", &l4, {
            let entries = chain4();
            let third = entries[2].to_line();
            render(&entries[..2]) + &third[..third.len() - 1]
        })
        .valid()
        .flag(f),
        V::ledger("ledger/chain/unchained-last-line-without-newline", "two entries, then a complete third line without its \\n whose prev is entry 0's hash (its own hash recomputed): a complete line is not a torn tail, and it does not chain", &l4, {
            let e = chain4();
            let h0 = e[0].hash;
            let e = rechained(e, 2, |x| x.prev = h0);
            render(&e[..2]) + &e[2].to_line()
        })
        .invalid("ledger.chain")
        .flag(f),
        V::ledger("ledger/chain/edited-last-line-without-newline", "two entries, then a complete third line without its \\n whose at was changed, hash left as it was", &l4, {
            let mut e = chain4();
            e[2].at += 1;
            render(&e[..2]) + &e[2].to_line()
        })
        .invalid("ledger.chain")
        .flag(f),
        V::ledger("ledger/chain/non-canonical-last-line-without-newline", "two entries, then the third line without its \\n and with a space after its first colon: complete JSON, not a prefix of any entry line, not canonical", &l4, {
            let e = chain4();
            render(&e[..2]) + &e[2].to_line().replacen(':', ": ", 1)
        })
        .invalid("ledger.chain")
        .flag(f),
        V::ledger("ledger/chain/garbage-after-last-newline", "two entries, then bytes without \\n that no interrupted write of an entry line leaves (not a prefix of one): read as a line, not a ledger entry", &l4, render(&chain4()[..2]) + "garbage")
            .invalid("ledger.chain")
            .flag(f),
        V::ledger("ledger/duplicate/last-line-without-newline", "one entry, then a correctly chained second entry without its \\n holding the first entry's token", &l3, {
            let e = accepted(&[task(1, &[])]);
            let t = e[0].token.clone();
            render(&appended(e, t, NOW + 1)).trim_end_matches('\n').to_owned()
        })
        .invalid("ledger.duplicate")
        .flag(f),
    ]
}
