//! SPEC.md §2, compact serialization: ECT-JWS-1 (size limit, checked first), ECT-JWS-2 (three
//! non-empty ASCII segments, no whitespace, no JWE or JSON serialization), ECT-JWS-3 (strict
//! unpadded base64url, non-canonical trailing bits), ECT-JWS-4 (UTF-8 JSON objects, header and
//! payload) and ECT-JWS-5 (duplicate member names at any level). Payload JSON defects are
//! signed validly, since the payload is parsed only after the signature has verified.

use serde_json::{Map, Value, json};

use crate::build::*;
use crate::vector::Verdict;
use wimse_ect::SigningKey;
use wimse_ect::base64url::{encode as b64_encode, encoded_len as b64_len};
use wimse_ect::sign_raw;

/// The default header as compact JSON text (members sorted: `alg`, `kid`, `typ`).
fn header_text() -> String {
    serde_json::to_string(&header("agent-a")).expect("serializes")
}

/// The valid claims of [`claims`]`(`[`uuid`]`(1))` as compact JSON text.
fn payload_text() -> String {
    serde_json::to_string(&to_profile(&claims(&uuid(1)))).expect("serializes")
}

/// Compact JSON text of `map` without the members named in `drop`, with the raw member text
/// `raw` (e.g. `"a":1,"a":2`) appended after the remaining members.
fn raw_object(map: &Map<String, Value>, drop: &[&str], raw: &str) -> String {
    let mut m = map.clone();
    for name in drop {
        m.remove(*name);
    }
    let text = serde_json::to_string(&m).expect("serializes");
    let body = &text[..text.len() - 1];
    if m.is_empty() {
        format!("{body}{raw}}}")
    } else {
        format!("{body},{raw}}}")
    }
}

/// The default header of agent A, minus `drop`, plus the raw members `raw`.
fn raw_header(drop: &[&str], raw: &str) -> String {
    raw_object(&header("agent-a"), drop, raw)
}

/// The valid claims of task [`uuid`]`(1)`, minus `drop`, plus the raw members `raw`.
fn raw_payload(drop: &[&str], raw: &str) -> String {
    raw_object(&to_profile(&claims(&uuid(1))), drop, raw)
}

/// Agent A's signature over raw header and payload texts.
fn signed(header: &str, payload: &str) -> String {
    sign_raw(header.as_bytes(), payload.as_bytes(), &key_a())
}

/// The default header with payload bytes `payload`, validly signed by agent A.
fn with_payload(payload: &[u8]) -> String {
    sign_raw(header_text().as_bytes(), payload, &key_a())
}

/// Header bytes `header` with the valid payload, validly signed by agent A.
fn with_header(header: &[u8]) -> String {
    sign_raw(header, payload_text().as_bytes(), &key_a())
}

/// A token whose segments are exactly `h` and `p` (already encoded, possibly not canonical),
/// signed by `key` over the ASCII bytes `h.p`.
fn sign_segments(h: &str, p: &str, key: &SigningKey) -> String {
    let input = format!("{h}.{p}");
    let sig = key.sign(input.as_bytes());
    format!("{input}.{}", b64_encode(&sig))
}

/// The three segments of a compact token.
fn parts(token: &str) -> (String, String, String) {
    let s: Vec<&str> = token.split('.').collect();
    assert_eq!(s.len(), 3, "a compact token");
    (s[0].to_owned(), s[1].to_owned(), s[2].to_owned())
}

/// A valid token of agent A exactly `target` bytes long: an ignored payload claim `pad` (and,
/// if the payload alone cannot reach `target`, an ignored header parameter `pad`) fills it.
fn sized(target: usize) -> String {
    for hpad in [None, Some(1), Some(2), Some(3)] {
        let h = match hpad {
            None => header_text(),
            Some(n) => raw_header(&[], &format!("\"pad\":\"{}\"", "h".repeat(n))),
        };
        let base = raw_payload(&[], "\"pad\":\"\"").len();
        let fixed = b64_len(h.len()) + 2 + 86;
        for extra in 0..target {
            let len = fixed + b64_len(base + extra);
            if len == target {
                let p = raw_payload(&[], &format!("\"pad\":\"{}\"", "p".repeat(extra)));
                let token = signed(&h, &p);
                assert_eq!(token.len(), target);
                return token;
            }
            if len > target {
                break;
            }
        }
    }
    panic!("no padding reaches {target} bytes")
}

/// The base64url alphabet, in value order.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// `seg` with the lowest unused bit of its last character set: decodes to the same bytes under
/// a lenient decoder, but is not the canonical encoding.
fn noncanonical(seg: &str) -> String {
    assert_ne!(seg.len() % 4, 0, "a segment with unused trailing bits");
    let last = *seg.as_bytes().last().expect("non-empty");
    let v = ALPHABET.iter().position(|&c| c == last).expect("base64url");
    assert_eq!(v & 1, 0, "canonical encodings have zero unused bits");
    let mut out = seg[..seg.len() - 1].to_owned();
    out.push(ALPHABET[v | 1] as char);
    out
}

/// A header text of agent A whose encoding has unused trailing bits (length not ≡ 0 mod 3).
fn header_with_trailing_bits() -> String {
    let h = header_text();
    if !h.len().is_multiple_of(3) {
        h
    } else {
        raw_header(&[], "\"pad\":\"x\"")
    }
}

/// A payload text of task [`uuid`]`(1)` whose encoding has unused trailing bits.
fn payload_with_trailing_bits() -> String {
    let p = payload_text();
    if !p.len().is_multiple_of(3) {
        p
    } else {
        raw_payload(&[], "\"pad\":\"x\"")
    }
}

/// A JSON value nested `depth` arrays deep: `[[...[]...]]`.
fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

/// The vectors, in order.
pub fn vectors() -> Vec<V> {
    let j1 = ["ECT-JWS-1"];
    let j2 = ["ECT-JWS-2"];
    let j3 = ["ECT-JWS-3"];
    let j4 = ["ECT-JWS-4"];
    let j5 = ["ECT-JWS-5"];
    let valid = valid_token();
    let (h, p, s) = parts(&valid);

    let mut v = vec![
        // ECT-JWS-1: size.
        V::token("jws/size/at-limit", "token of exactly max_token_bytes = 512 bytes", &j1, sized(512))
            .valid()
            .settings(|s| s.max_token_bytes = 512)
            .flag("Boundary"),
        V::token("jws/size/one-over", "token of max_token_bytes + 1 = 513 bytes", &j1, sized(513))
            .invalid("jws.too_large")
            .settings(|s| s.max_token_bytes = 512)
            .flag("Boundary"),
        V::token("jws/size/default-at-limit", "token of exactly 65536 bytes (default limit)", &j1, sized(65_536))
            .valid()
            .flag("Boundary"),
        V::token("jws/size/default-one-over", "token of 65537 bytes (default limit)", &j1, sized(65_537))
            .invalid("jws.too_large")
            .flag("Boundary"),
        V::token("jws/size/before-anything-else", "513 bytes of whitespace and garbage: the size check comes first", &j1, format!("{} {}", "*".repeat(256), "*".repeat(256)))
            .invalid("jws.too_large")
            .settings(|s| s.max_token_bytes = 512),
        // ECT-JWS-2: segments.
        V::token("jws/segments/valid", "three non-empty ASCII segments", &j2, valid.clone()).valid(),
        V::token("jws/segments/two", "two segments (signature missing, no trailing dot)", &j2, format!("{h}.{p}"))
            .invalid("jws.malformed"),
        V::token("jws/segments/one", "one segment (payload only)", &j2, p.clone())
            .invalid("jws.malformed"),
        V::token("jws/segments/empty-token", "the empty string", &j2, "")
            .invalid("jws.malformed"),
        V::token("jws/segments/four", "four segments (the signature segment repeated)", &j2, format!("{valid}.{s}"))
            .invalid("jws.malformed"),
        V::token("jws/segments/jwe", "five segments: JWE compact serialization", &j2, jwe())
            .invalid("jws.malformed"),
        V::token("jws/segments/json-serialization", "flattened JWS JSON serialization", &j2, serde_json::to_string(&json!({"protected": h, "payload": p, "signature": s})).expect("serializes"))
            .invalid("jws.malformed"),
        V::token("jws/segments/empty-header", "empty header segment", &j2, format!(".{p}.{s}"))
            .invalid("jws.malformed"),
        V::token("jws/segments/empty-payload", "empty payload segment (detached payload)", &j2, sign_segments(&h, "", &key_a()))
            .invalid("jws.malformed"),
        V::token("jws/segments/empty-signature", "empty signature segment", &j2, format!("{h}.{p}."))
            .invalid("jws.malformed"),
        V::token("jws/segments/all-empty", "two dots only", &j2, "..")
            .invalid("jws.malformed"),
        V::token("jws/segments/leading-dot", "a leading dot (four segments, the first empty)", &j2, format!(".{valid}"))
            .invalid("jws.malformed"),
        V::token("jws/whitespace/leading-space", "a leading space", &j2, format!(" {valid}"))
            .invalid("jws.malformed"),
        V::token("jws/whitespace/trailing-space", "a trailing space", &j2, format!("{valid} "))
            .invalid("jws.malformed"),
        V::token("jws/whitespace/trailing-newline", "a trailing line feed", &j2, format!("{valid}\n"))
            .invalid("jws.malformed"),
        V::token("jws/whitespace/trailing-crlf", "a trailing CR LF", &j2, format!("{valid}\r\n"))
            .invalid("jws.malformed"),
        V::token("jws/whitespace/inner-tab", "a tab inside the payload segment", &j2, format!("{h}.{}\t{}.{s}", &p[..10], &p[10..]))
            .invalid("jws.malformed"),
        V::token("jws/whitespace/inner-newline", "a line feed inside the signature segment (folded)", &j2, format!("{h}.{p}.{}\n{}", &s[..40], &s[40..]))
            .invalid("jws.malformed"),
        V::token("jws/whitespace/around-dot", "a space after the first dot", &j2, format!("{h}. {p}.{s}"))
            .invalid("jws.malformed"),
        V::token("jws/non-ascii/latin", "a non-ASCII letter (é) in the payload segment", &j2, format!("{h}.{}é{}.{s}", &p[..10], &p[10..]))
            .invalid("jws.malformed"),
        V::token("jws/non-ascii/nbsp", "a trailing no-break space (U+00A0)", &j2, format!("{valid}\u{a0}"))
            .invalid("jws.malformed"),
        V::token("jws/non-ascii/fullwidth-dot", "segments separated by U+FF0E instead of '.' once", &j2, format!("{h}\u{ff0e}{p}.{s}"))
            .invalid("jws.malformed"),
        // ECT-JWS-3: base64url.
        V::token("jws/base64/url-safe-characters", "segments using '-' and '_' (valid base64url)", &j3, url_safe_token())
            .valid(),
        V::token("jws/base64/padding-signature", "signature segment with '==' padding", &j3, format!("{valid}=="))
            .invalid("jws.base64"),
        V::token("jws/base64/padding-header", "header segment with '=' padding", &j3, padded_header())
            .invalid("jws.base64"),
        V::token("jws/base64/plus", "signature in standard base64: '-' written as '+'", &j3, std_alphabet(&valid, '-', '+'))
            .invalid("jws.base64"),
        V::token("jws/base64/slash", "signature in standard base64: '_' written as '/'", &j3, std_alphabet(&valid, '_', '/'))
            .invalid("jws.base64"),
        V::token("jws/base64/asterisk", "'*' in place of a payload segment character", &j3, format!("{h}.{}*{}.{s}", &p[..8], &p[9..]))
            .invalid("jws.base64"),
        V::token("jws/base64/nul", "a NUL byte in place of a header segment character", &j3, format!("{}\u{0}{}.{p}.{s}", &h[..8], &h[9..]))
            .invalid("jws.base64"),
        V::token("jws/base64/percent-encoded", "'%3D' (a URL-encoded '=') after the signature", &j3, format!("{valid}%3D"))
            .invalid("jws.base64"),
        V::token("jws/base64/length-1-mod-4-signature", "signature segment of 89 characters (≡ 1 mod 4)", &j3, format!("{valid}AAA"))
            .invalid("jws.base64"),
        V::token("jws/base64/length-1-mod-4-header", "header segment of length ≡ 1 mod 4", &j3, one_mod_four_header())
            .invalid("jws.base64"),
        V::token("jws/base64/all-segments-first", "bad base64 in the signature of a token whose header is not JSON: JWS-3 covers all three segments before JSON", &["ECT-JWS-3", "ECT-JWS-4"], format!("{}.{p}.{}*", b64_encode(b"not json"), &s[..85]))
            .invalid("jws.base64"),
        V::token("jws/base64/noncanonical-header", "header segment with a non-zero unused trailing bit, signed over the segment as sent", &j3, noncanonical_token(0))
            .acceptable("jws.base64", Verdict::Invalid, "NonCanonicalBase64"),
        V::token("jws/base64/noncanonical-payload", "payload segment with a non-zero unused trailing bit, signed over the segment as sent", &j3, noncanonical_token(1))
            .acceptable("jws.base64", Verdict::Invalid, "NonCanonicalBase64"),
        V::token("jws/base64/noncanonical-signature", "signature segment (86 characters) with a non-zero unused trailing bit", &j3, format!("{h}.{p}.{}", noncanonical(&s)))
            .acceptable("jws.base64", Verdict::Invalid, "NonCanonicalBase64"),
    ];

    // ECT-JWS-4: header JSON.
    let hdr = header_text();
    let mut bom = vec![0xef, 0xbb, 0xbf];
    bom.extend(hdr.as_bytes());
    let mut bad_utf8 = raw_header(&[], "\"x\":\"").into_bytes();
    bad_utf8.truncate(bad_utf8.len() - 1);
    bad_utf8.extend([0xff, b'"', b'}']);
    v.extend([
        V::token(
            "jws/json/header-pretty",
            "header pretty-printed with newlines and indentation, re-signed",
            &j4,
            with_header(
                serde_json::to_string_pretty(&header("agent-a"))
                    .expect("serializes")
                    .as_bytes(),
            ),
        )
        .valid(),
        V::token(
            "jws/json/header-member-order",
            "header members in the order typ, kid, alg",
            &j4,
            with_header(br#"{"typ":"wimse-exec+jwt","kid":"agent-a","alg":"ES256"}"#),
        )
        .valid(),
        V::token(
            "jws/json/header-unicode-escapes",
            "kid and typ written with \\u escapes (agent\\u002da, wimse-exec\\u002bjwt)",
            &j4,
            with_header(br#"{"alg":"ES256","kid":"agent\u002da","typ":"wimse-exec\u002bjwt"}"#),
        )
        .valid(),
        V::token(
            "jws/json/header-invalid-utf8",
            "header with the byte 0xff inside a string",
            &j4,
            with_header(&bad_utf8),
        )
        .invalid("jws.json"),
        V::token(
            "jws/json/header-bom",
            "header starting with a UTF-8 byte order mark",
            &j4,
            with_header(&bom),
        )
        .acceptable("jws.json", Verdict::Invalid, "Bom"),
        V::token(
            "jws/json/header-trailing-bytes",
            "header object followed by 'x'",
            &j4,
            with_header(format!("{hdr}x").as_bytes()),
        )
        .invalid("jws.json"),
        V::token(
            "jws/json/header-second-object",
            "header object followed by a second object",
            &j4,
            with_header(format!("{hdr}{{}}").as_bytes()),
        )
        .invalid("jws.json"),
        V::token(
            "jws/json/header-array",
            "header is a JSON array holding the header object",
            &j4,
            with_header(format!("[{hdr}]").as_bytes()),
        )
        .invalid("jws.json"),
        V::token(
            "jws/json/header-string",
            "header is a JSON string",
            &j4,
            with_header(br#""wimse-exec+jwt""#),
        )
        .invalid("jws.json"),
        V::token(
            "jws/json/header-number",
            "header is the JSON number 1",
            &j4,
            with_header(b"1"),
        )
        .invalid("jws.json"),
        V::token(
            "jws/json/header-null",
            "header is JSON null",
            &j4,
            with_header(b"null"),
        )
        .invalid("jws.json"),
        V::token(
            "jws/json/header-lone-high-surrogate",
            "ignored header parameter holding the lone escape \\ud800",
            &j4,
            with_header(raw_header(&[], r#""x":"\ud800""#).as_bytes()),
        )
        .acceptable("jws.json", Verdict::Invalid, "LoneSurrogate"),
        V::token(
            "jws/json/header-lone-low-surrogate",
            "ignored header parameter holding the lone escape \\udc00",
            &j4,
            with_header(raw_header(&[], r#""x":"\udc00""#).as_bytes()),
        )
        .acceptable("jws.json", Verdict::Invalid, "LoneSurrogate"),
        V::token(
            "jws/json/header-deep-nesting",
            "ignored header parameter nested 200 arrays deep",
            &j4,
            with_header(raw_header(&[], &format!("\"x\":{}", nested(200))).as_bytes()),
        )
        .acceptable("jws.json", Verdict::Invalid, "NestingLimit"),
        V::token(
            "jws/json/header-truncated",
            "header JSON cut off before its closing brace",
            &j4,
            with_header(&hdr.as_bytes()[..hdr.len() - 1]),
        )
        .invalid("jws.json"),
        V::token(
            "jws/json/header-trailing-comma",
            "header object with a trailing comma",
            &j4,
            with_header(raw_header(&[], "").as_bytes()),
        )
        .invalid("jws.json"),
        V::token(
            "jws/json/header-single-quotes",
            "header with single-quoted strings",
            &j4,
            with_header(b"{'alg':'ES256','kid':'agent-a','typ':'wimse-exec+jwt'}"),
        )
        .invalid("jws.json"),
        V::token(
            "jws/json/header-raw-control-character",
            "a raw line feed inside a header string",
            &j4,
            with_header(raw_header(&[], "\"x\":\"a\nb\"").as_bytes()),
        )
        .invalid("jws.json"),
        V::token(
            "jws/json/header-empty-object",
            "header is {}: valid JSON, so ECT-HDR-1 (typ missing) fails next",
            &["ECT-JWS-4", "ECT-HDR-1"],
            with_header(b"{}"),
        )
        .invalid("header.typ"),
        V::token(
            "jws/json/header-before-signature",
            "header not JSON and the signature wrong: the header is parsed first",
            &["ECT-JWS-4", "ECT-SIG-2"],
            format!("{}.{p}.{s}", b64_encode(b"{\"alg\":")),
        )
        .invalid("jws.json"),
    ]);

    // ECT-JWS-4: payload JSON, signed validly.
    let pay = payload_text();
    let mut pbom = vec![0xef, 0xbb, 0xbf];
    pbom.extend(pay.as_bytes());
    let mut pbad = raw_payload(&[], "\"note\":\"").into_bytes();
    pbad.truncate(pbad.len() - 1);
    pbad.extend([0xc3, 0x28, b'"', b'}']);
    let reversed_text = {
        let members: Vec<String> = to_profile(&claims(&uuid(1)))
            .iter()
            .rev()
            .map(|(k, val)| format!("{}:{val}", Value::String(k.clone())))
            .collect();
        format!("{{{}}}", members.join(","))
    };
    v.extend([
        V::token("jws/json/payload-pretty", "payload pretty-printed with newlines and indentation, re-signed", &j4, with_payload(serde_json::to_string_pretty(&to_profile(&claims(&uuid(1)))).expect("serializes").as_bytes()))
            .valid(),
        V::token("jws/json/payload-member-order", "payload members in reverse alphabetical order", &j4, with_payload(reversed_text.as_bytes()))
            .valid(),
        V::token("jws/json/payload-unicode-escapes", "exec_act and iss written with escapes (fetch\\u005fdata, \\/ for /)", &j4, with_payload(raw_payload(&["exec_act", "iss"], r#""exec_act":"fetch\u005fdata","iss":"spiffe:\/\/example.org\/agent-a""#).as_bytes()))
            .valid(),
        V::token("jws/json/payload-non-ascii", "an ignored claim with non-ASCII UTF-8 text and a surrogate-pair escape", &j4, with_payload(raw_payload(&[], "\"note\":\"naïve ✓ \\ud83d\\ude00\"").as_bytes()))
            .valid(),
        V::token("jws/json/payload-invalid-utf8", "payload with the invalid sequence C3 28 inside a string", &j4, with_payload(&pbad))
            .invalid("jws.json"),
        V::token("jws/json/payload-bom", "payload starting with a UTF-8 byte order mark", &j4, with_payload(&pbom))
            .acceptable("jws.json", Verdict::Invalid, "Bom"),
        V::token("jws/json/payload-trailing-bytes", "payload object followed by 'x'", &j4, with_payload(format!("{pay}x").as_bytes()))
            .invalid("jws.json"),
        V::token("jws/json/payload-array", "payload is a JSON array holding the claims object", &j4, with_payload(format!("[{pay}]").as_bytes()))
            .invalid("jws.json"),
        V::token("jws/json/payload-string", "payload is a JSON string", &j4, with_payload(br#""claims""#))
            .invalid("jws.json"),
        V::token("jws/json/payload-number", "payload is the JSON number 0", &j4, with_payload(b"0"))
            .invalid("jws.json"),
        V::token("jws/json/payload-lone-high-surrogate", "ignored claim holding the lone escape \\ud800", &j4, with_payload(raw_payload(&[], r#""note":"\ud800""#).as_bytes()))
            .acceptable("jws.json", Verdict::Invalid, "LoneSurrogate"),
        V::token("jws/json/payload-lone-low-surrogate", "ignored claim holding the lone escape \\udc00", &j4, with_payload(raw_payload(&[], r#""note":"\udc00""#).as_bytes()))
            .acceptable("jws.json", Verdict::Invalid, "LoneSurrogate"),
        V::token("jws/json/payload-deep-nesting", "ignored claim nested 200 arrays deep", &j4, with_payload(raw_payload(&[], &format!("\"deep\":{}", nested(200))).as_bytes()))
            .acceptable("jws.json", Verdict::Invalid, "NestingLimit"),
        V::token("jws/json/payload-truncated", "payload JSON cut off in the middle", &j4, with_payload(&pay.as_bytes()[..pay.len() / 2]))
            .invalid("jws.json"),
        V::token("jws/json/payload-leading-zero", "an ignored claim with the number 017 (leading zero)", &j4, with_payload(raw_payload(&[], r#""n":017"#).as_bytes()))
            .invalid("jws.json"),
        V::token("jws/json/payload-empty", "payload is a single space: no JSON value", &j4, with_payload(b" "))
            .invalid("jws.json"),
        V::token("jws/json/payload-after-signature", "payload not JSON and the signature made by another key: the signature is checked first", &["ECT-JWS-4", "ECT-SIG-2"], with_payload_by(b"not json", &key_b()))
            .invalid("sig.invalid"),
    ]);

    // ECT-JWS-5: duplicate member names.
    v.extend([
        V::token("jws/duplicate/header-case-differs", "header with both typ and Typ (different names, Typ ignored)", &j5, with_header(raw_header(&[], r#""Typ":"JWT""#).as_bytes()))
            .valid(),
        V::token("jws/duplicate/same-name-other-objects", "the name iss at the top level and inside ext (different objects)", &j5, with_payload(raw_payload(&[], &format!(r#""{}":{{"iss":"{ISS_B}","jti":"x"}}"#, ext_name())).as_bytes()))
            .valid(),
        V::token("jws/duplicate/header-same-value", "header with typ twice, same value", &j5, with_header(raw_header(&[], r#""typ":"wimse-exec+jwt""#).as_bytes()))
            .acceptable("jws.duplicate_member", Verdict::Invalid, "DuplicateMember"),
        V::token("jws/duplicate/header-typ-first-wrong", "header typ \"JWT\" then \"wimse-exec+jwt\" (last value valid)", &j5, with_header(raw_header(&["typ"], r#""typ":"JWT","typ":"wimse-exec+jwt""#).as_bytes()))
            .acceptable("jws.duplicate_member", Verdict::Invalid, "DuplicateMember"),
        V::token("jws/duplicate/header-alg-first-none", "header alg \"none\" then \"ES256\" (last value valid)", &j5, with_header(raw_header(&["alg"], r#""alg":"none","alg":"ES256""#).as_bytes()))
            .acceptable("jws.duplicate_member", Verdict::Invalid, "DuplicateMember"),
        V::token("jws/duplicate/header-kid-first-other", "header kid \"agent-b\" then \"agent-a\" (signed by agent-a; last value valid)", &j5, with_header(raw_header(&["kid"], r#""kid":"agent-b","kid":"agent-a""#).as_bytes()))
            .acceptable("jws.duplicate_member", Verdict::Invalid, "DuplicateMember"),
        V::token("jws/duplicate/header-escaped-name", "header typ and t\\u0079p (the same name once unescaped; last value valid)", &j5, with_header(raw_header(&["typ"], r#""typ":"JWT","t\u0079p":"wimse-exec+jwt""#).as_bytes()))
            .acceptable("jws.duplicate_member", Verdict::Invalid, "DuplicateMember"),
        V::token("jws/duplicate/payload-iss", "payload iss of agent-b then of agent-a (last value valid)", &j5, with_payload(raw_payload(&["iss"], &format!(r#""iss":"{ISS_B}","iss":"{ISS_A}""#)).as_bytes()))
            .acceptable("jws.duplicate_member", Verdict::Invalid, "DuplicateMember"),
        V::token("jws/duplicate/payload-jti", "payload jti \"not-a-uuid\" then a UUID (last value valid)", &j5, with_payload(raw_payload(&["jti"], &format!(r#""jti":"not-a-uuid","jti":"{}""#, uuid(1))).as_bytes()))
            .acceptable("jws.duplicate_member", Verdict::Invalid, "DuplicateMember"),
        V::token("jws/duplicate/payload-exp", "payload exp expired then in the future (last value valid)", &j5, with_payload(raw_payload(&["exp"], &format!(r#""exp":{},"exp":{}"#, NOW - 1000, NOW + 600)).as_bytes()))
            .acceptable("jws.duplicate_member", Verdict::Invalid, "DuplicateMember"),
        V::token("jws/duplicate/payload-same-value", "payload par twice, both []", &j5, with_payload(raw_payload(&[], &format!(r#""{}":[]"#, par_name())).as_bytes()))
            .acceptable("jws.duplicate_member", Verdict::Invalid, "DuplicateMember"),
        V::token("jws/duplicate/payload-nested-ext", "a member repeated inside ext: {\"a\":1,\"a\":2}", &j5, with_payload(raw_payload(&[], &format!(r#""{}":{{"a":1,"a":2}}"#, ext_name())).as_bytes()))
            .acceptable("jws.duplicate_member", Verdict::Invalid, "DuplicateMember"),
        V::token("jws/duplicate/payload-deeply-nested", "a member repeated in an object inside an array inside an ignored claim", &j5, with_payload(raw_payload(&[], r#""note":[{"k":{"b":true,"b":false}}]"#).as_bytes()))
            .acceptable("jws.duplicate_member", Verdict::Invalid, "DuplicateMember"),
        V::token("jws/duplicate/payload-after-signature", "duplicate payload member and the signature made by another key: the signature is checked first", &["ECT-JWS-5", "ECT-SIG-2"], with_payload_by(raw_payload(&[], &format!(r#""{}":[]"#, par_name())).as_bytes(), &key_b()))
            .invalid("sig.invalid"),
        V::token("jws/json/header-trailing-whitespace", "header object followed by a space and a line feed", &j4, with_header(format!("{} \n", header_text()).as_bytes()))
            .acceptable("jws.json", Verdict::Valid, "TrailingWhitespace"),
        V::token("jws/json/payload-trailing-whitespace", "payload object followed by a tab", &j4, with_payload(format!("{}\t", payload_text()).as_bytes()))
            .acceptable("jws.json", Verdict::Valid, "TrailingWhitespace"),
        // SPEC.md ECT-JWS-4: nesting up to 127 levels (the top object included) is read by
        // every parser this project knows; deeper is a parser's limit (NestingLimit).
        V::token("jws/json/payload-nesting-127", "ignored claim nested 126 arrays deep: 127 levels with the payload object", &j4, with_payload(raw_payload(&[], &format!("\"deep\":{}", nested(126))).as_bytes()))
            .valid()
            .flag("Boundary"),
        V::token("jws/json/payload-nesting-128", "ignored claim nested 127 arrays deep: 128 levels with the payload object", &j4, with_payload(raw_payload(&[], &format!("\"deep\":{}", nested(127))).as_bytes()))
            .acceptable("jws.json", Verdict::Invalid, "NestingLimit")
            .flag("Boundary"),
    ]);
    v
}

/// The default header and `payload`, signed by `key` (not agent A's key for `kid` agent-a).
fn with_payload_by(payload: &[u8], key: &SigningKey) -> String {
    sign_raw(header_text().as_bytes(), payload, key)
}

/// A JWE-shaped five-segment token (RSA-OAEP / A256GCM header, arbitrary other segments).
fn jwe() -> String {
    let header = b64_encode(br#"{"alg":"RSA-OAEP","enc":"A256GCM","typ":"wimse-exec+jwt"}"#);
    format!(
        "{header}.{}.{}.{}.{}",
        b64_encode(&[7; 256]),
        b64_encode(&[1; 12]),
        b64_encode(payload_text().as_bytes()),
        b64_encode(&[9; 16])
    )
}

/// A valid token of agent A whose segments contain both `-` and `_`: the header carries an
/// ignored parameter whose bytes encode to them.
fn url_safe_token() -> String {
    for n in 0..64 {
        let h = raw_header(&[], &format!("\"x\":\"{}~~~???\"", "a".repeat(n)));
        let t = signed(&h, &payload_text());
        let (hs, _, _) = parts(&t);
        if hs.contains('-') && hs.contains('_') {
            return t;
        }
    }
    panic!("no header encodes to both '-' and '_'")
}

/// A validly signed token whose header segment ends with `=` padding (its encoded length is
/// not a multiple of 4), signed over the segment as sent.
fn padded_header() -> String {
    let h = header_with_trailing_bits();
    let mut seg = b64_encode(h.as_bytes());
    while !seg.len().is_multiple_of(4) {
        seg.push('=');
    }
    sign_segments(&seg, &b64_encode(payload_text().as_bytes()), &key_a())
}

/// `token` with every `from` in its signature segment replaced by `to` (standard base64
/// alphabet). The signature segment must contain `from`.
///
/// When `token`'s signature has no `from` (the valid token of `draft-01`'s `typ` happens to
/// have no `-`), a valid token of agent A with an ignored claim `n` (the first `n` from 0 that
/// gives one) is taken instead.
fn std_alphabet(token: &str, from: char, to: char) -> String {
    let mut token = token.to_owned();
    let mut n = 0;
    while !parts(&token).2.contains(from) {
        let mut c = claims(&uuid(1));
        c.insert("n".into(), n.into());
        token = sign_a(&c);
        n += 1;
    }
    let (h, p, s) = parts(&token);
    assert!(s.contains(from), "the signature segment contains {from}");
    format!("{h}.{p}.{}", s.replace(from, &to.to_string()))
}

/// A token whose header segment has length ≡ 1 (mod 4): a valid header segment plus `A`s.
fn one_mod_four_header() -> String {
    let mut h = b64_encode(header_with_trailing_bits().as_bytes());
    while h.len() % 4 != 1 {
        h.push('A');
    }
    sign_segments(&h, &b64_encode(payload_text().as_bytes()), &key_a())
}

/// A token of agent A whose header (`which` = 0) or payload (1) segment is not canonical,
/// signed over the segments as sent: a lenient decoder sees a valid token.
fn noncanonical_token(which: usize) -> String {
    let h = b64_encode(header_with_trailing_bits().as_bytes());
    let p = b64_encode(payload_with_trailing_bits().as_bytes());
    if which == 0 {
        sign_segments(&noncanonical(&h), &p, &key_a())
    } else {
        sign_segments(&h, &noncanonical(&p), &key_a())
    }
}
