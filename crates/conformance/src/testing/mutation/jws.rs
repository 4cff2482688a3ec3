//! SPEC.md §2, compact serialization: the cases of ECT-JWS-1 (`Mutation::TooLarge`: a token
//! just over a lowered `max_token_bytes`), ECT-JWS-2 (`Malformed`), ECT-JWS-3 (`Base64`),
//! ECT-JWS-4 (`Json`: header or payload not a JSON object) and ECT-JWS-5 (`DuplicateMember`).

use super::{Mutator, required_claims, set_unused_bits};
use crate::testing::json::with_raw_member;
use crate::testing::{Stage, to_bytes};
use wimse_ect::base64url::encoded_len as b64_len;

impl Mutator {
    pub(super) fn too_large(&mut self) -> Stage {
        let t = self.target();
        // The limit becomes the longest token so far (at least the minimum, 256): every earlier
        // token is within it, and step t gets an ignored claim that takes it just over.
        let limit = self
            .wf
            .steps
            .iter()
            .map(|s| s.token.len())
            .max()
            .unwrap_or(0)
            .max(256);
        self.wf.policy.max_token_bytes = limit;
        let mut payload = self.payload(t);
        let header_len = b64_len(to_bytes(&self.wf.steps[t].header).len());
        let base = to_bytes(&payload).len() + r#","pad":"""#.len();
        let total = |pad: usize| header_len + 1 + b64_len(base + pad) + 1 + 86;
        let pad = (0..)
            .find(|&p| total(p) > limit)
            .expect("some padding is long enough");
        payload.insert("pad".into(), "x".repeat(pad).into());
        self.sign_payload(t, &payload);
        self.describe(format!(
            "max_token_bytes {limit}, token {} bytes",
            self.wf.steps[t].token.len()
        ));
        Stage::Step(t)
    }

    pub(super) fn malformed(&mut self) -> Stage {
        let t = self.target();
        let token = self.wf.steps[t].token.clone();
        let (head, signature) = token.rsplit_once('.').expect("three segments");
        let (header, _) = head.split_once('.').expect("three segments");
        let at = self.rng.below(token.len() + 1);
        let (variant, bad) = match self.rng.below(8) {
            0 => ("four segments", format!("{token}.{signature}")),
            1 => ("two segments", head.to_owned()),
            2 => ("a space", format!("{} {}", &token[..at], &token[at..])),
            3 => ("an empty payload segment", format!("{header}..{signature}")),
            4 => ("five segments (JWE)", format!("{token}.AAAA.AAAA")),
            5 => (
                "a non-ASCII character",
                format!("{}é{}", &token[..at], &token[at..]),
            ),
            6 => ("a trailing newline", format!("{token}\n")),
            _ => ("an empty signature segment", format!("{head}.")),
        };
        self.wf.steps[t].token = bad;
        self.describe(variant);
        Stage::Step(t)
    }

    pub(super) fn base64(&mut self) -> Stage {
        let t = self.target();
        let token = self.wf.steps[t].token.clone();
        let mut segments: Vec<String> = token.split('.').map(str::to_owned).collect();
        let s = self.rng.below(3);
        let seg = &mut segments[s];
        let at = self.rng.below(seg.len());
        let variant = match self.rng.below(4) {
            0 => {
                let c = *self.rng.pick(&['+', '/', '!', '*', '=']);
                seg.replace_range(at..=at, &c.to_string());
                format!("{c:?} at {at}")
            }
            1 => {
                seg.push('=');
                "padding".to_owned()
            }
            2 if seg.len() % 4 >= 2 => {
                // The last character carries unused low bits (4 when len % 4 == 2, else 2);
                // a canonical encoder leaves them zero.
                set_unused_bits(seg);
                "non-canonical trailing bits".to_owned()
            }
            _ => {
                match seg.len() % 4 {
                    0 => seg.push('A'),
                    2 => {
                        seg.pop();
                    }
                    _ => seg.truncate(seg.len() - 2),
                }
                "length 1 mod 4".to_owned()
            }
        };
        self.wf.steps[t].token = segments.join(".");
        self.describe(format!("segment {s}: {variant}"));
        Stage::Step(t)
    }

    pub(super) fn json(&mut self) -> Stage {
        let t = self.target();
        let in_header = self.rng.below(2) == 0;
        let map = if in_header {
            self.wf.steps[t].header.clone()
        } else {
            self.payload(t)
        };
        let compact = to_bytes(&map);
        let (variant, bad): (&str, Vec<u8>) = match self.rng.below(7) {
            0 => ("trailing bytes", [&compact[..], b"x"].concat()),
            1 => ("a BOM", [&b"\xef\xbb\xbf"[..], &compact].concat()),
            2 => {
                let mut v = with_raw_member(&map, "zz", "\"__\"");
                let at = v.windows(2).position(|w| w == b"__").expect("placeholder");
                v[at] = 0xff;
                ("invalid UTF-8", v)
            }
            3 => ("a top-level array", [&b"["[..], &compact, b"]"].concat()),
            4 => (
                "a lone surrogate",
                with_raw_member(&map, "zz", r#""\ud800""#),
            ),
            5 => (
                "nesting 200 deep",
                with_raw_member(
                    &map,
                    "zz",
                    &format!("{}{}", "[".repeat(200), "]".repeat(200)),
                ),
            ),
            _ => ("truncated", compact[..compact.len() - 1].to_vec()),
        };
        let (header, payload) = if in_header {
            (bad, to_bytes(&self.payload(t)))
        } else {
            (to_bytes(&self.wf.steps[t].header), bad)
        };
        self.sign_bytes(t, &header, &payload);
        self.describe(format!(
            "{} {variant}",
            if in_header { "header" } else { "payload" }
        ));
        Stage::Step(t)
    }

    pub(super) fn duplicate_member(&mut self) -> Stage {
        let t = self.target();
        let header = self.wf.steps[t].header.clone();
        let payload = self.payload(t);
        let (where_, h, p) = match self.rng.below(3) {
            0 => {
                let name = self.rng.pick(&["alg", "typ", "kid"]).to_string();
                let raw = header[&name].to_string();
                (
                    format!("header {name}"),
                    with_raw_member(&header, &name, &raw),
                    to_bytes(&payload),
                )
            }
            1 => {
                let name = self.rng.pick(&required_claims(&self.profile)).to_string();
                let raw = payload[&name].to_string();
                (
                    format!("payload {name}"),
                    to_bytes(&header),
                    with_raw_member(&payload, &name, &raw),
                )
            }
            _ => (
                "an object inside the payload".to_owned(),
                to_bytes(&header),
                with_raw_member(&payload, "zz", r#"{"a":1,"b":{"c":2,"c":2}}"#),
            ),
        };
        self.sign_bytes(t, &h, &p);
        self.describe(format!("duplicate {where_}"));
        Stage::Step(t)
    }
}
