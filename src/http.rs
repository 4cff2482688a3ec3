//! The `Execution-Context` HTTP header field (SPEC.md §9, ECT-HTTP-1..5).
//!
//! Parsing only splits the field into compact tokens; each token is then verified with
//! [`crate::Verifier::verify`]. A server that rejects an ECT answers 403 (ECT-HTTP-5,
//! [`REJECTION_STATUS`]).

use crate::error::{Error, Result};

/// The field name (ECT-HTTP-1). Field names are case-insensitive.
pub const FIELD_NAME: &str = "Execution-Context";
/// Default bound on the combined field value in bytes (ECT-HTTP-4).
pub const DEFAULT_MAX_FIELD_BYTES: usize = 65536;
/// The status a server answers when it rejects an ECT (ECT-HTTP-5, per draft -01).
pub const REJECTION_STATUS: u16 = 403;

/// Splits one or more `Execution-Context` field values (one per field line, in order) into
/// compact tokens.
///
/// ECT-HTTP-2: field lines and comma-separated elements combine in order; optional whitespace
/// (SP, HTAB) around commas and at the ends is allowed. ECT-HTTP-3: an empty value, an empty
/// element, or a character other than base64url and `.` inside an element is
/// `http.malformed`. ECT-HTTP-4: the combined value (lines joined with `", "`) longer than
/// `max_bytes` is `http.too_large`, checked before anything else. No field line at all gives
/// an empty list: the request carries no ECT.
pub fn parse_field_values<'a, I>(values: I, max_bytes: usize) -> Result<Vec<String>>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let values: Vec<&[u8]> = values.into_iter().collect();
    // ECT-HTTP-4: the combined field value (lines joined with ", ") is bounded.
    let bytes = values.iter().fold(0usize, |n, v| n.saturating_add(v.len()));
    let combined = bytes.saturating_add(2 * values.len().saturating_sub(1));
    if combined > max_bytes {
        return Err(Error::HttpTooLarge {
            len: combined,
            max: max_bytes,
        });
    }
    let mut tokens = Vec::new();
    for (line, value) in values.into_iter().enumerate() {
        for (i, element) in value.split(|&b| b == b',').enumerate() {
            let token = check_element(trim_ows(element)).map_err(|why| {
                Error::HttpMalformed(format!("{why} in element {i} of field line {line}"))
            })?;
            tokens.push(token);
        }
    }
    Ok(tokens)
}

/// Formats tokens as one `Execution-Context` field value, `", "`-separated (ECT-HTTP-2).
///
/// Refuses an empty list, an empty token, or a character a compact ECT cannot contain
/// (ECT-HTTP-3).
pub fn format_field_value<S: AsRef<str>>(tokens: &[S]) -> Result<String> {
    if tokens.is_empty() {
        return Err(Error::HttpMalformed("no token to send".into()));
    }
    let mut out = String::new();
    for (i, token) in tokens.iter().enumerate() {
        // The parser's element rule, so that formatting and parsing agree exactly.
        check_element(token.as_ref().as_bytes())
            .map_err(|why| Error::HttpMalformed(format!("{why} in token {i}")))?;
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(token.as_ref());
    }
    Ok(out)
}

/// ECT-HTTP-3: an element is non-empty and only base64url characters and `.`.
fn check_element(element: &[u8]) -> std::result::Result<String, String> {
    if element.is_empty() {
        return Err("empty element".into());
    }
    if let Some(&bad) = element
        .iter()
        .find(|&&b| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'))
    {
        return Err(format!("byte 0x{bad:02x}"));
    }
    Ok(String::from_utf8(element.to_vec()).expect("checked ASCII"))
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Integration with the `http` crate (feature `http`).
#[cfg(feature = "http")]
mod header_map {
    use super::*;
    use http::header::{HeaderMap, HeaderName, HeaderValue};

    fn name() -> HeaderName {
        HeaderName::from_static("execution-context")
    }

    /// All `Execution-Context` field lines of `headers`, in order, split into tokens (see
    /// [`parse_field_values`]).
    pub fn from_header_map(headers: &HeaderMap, max_bytes: usize) -> Result<Vec<String>> {
        parse_field_values(
            headers.get_all(name()).iter().map(HeaderValue::as_bytes),
            max_bytes,
        )
    }

    /// Appends one `Execution-Context` field line carrying `tokens` (see
    /// [`format_field_value`]).
    pub fn append_to_header_map<S: AsRef<str>>(
        headers: &mut HeaderMap,
        tokens: &[S],
    ) -> Result<()> {
        let value = format_field_value(tokens)?;
        let value = HeaderValue::from_str(&value).expect("base64url, '.', ',' and ' ' are valid");
        headers.append(name(), value);
        Ok(())
    }

    /// Client side: sets the `Execution-Context` field of `request` to `token` (the request's
    /// own ECT) followed by `parents` (its parents' tokens, sent inline), one field line per
    /// token in that order (ECT-HTTP-1, ECT-HTTP-2; the order the receiver reads them in:
    /// [`crate::Verifier::verify_inline`]). Field lines the request already had are replaced.
    /// Every token is checked first (ECT-HTTP-3), so an error leaves the request unchanged.
    pub fn attach<B, S: AsRef<str>>(
        request: &mut http::Request<B>,
        token: &str,
        parents: &[S],
    ) -> Result<()> {
        let tokens: Vec<&str> = std::iter::once(token)
            .chain(parents.iter().map(AsRef::as_ref))
            .collect();
        let values = tokens
            .iter()
            .map(|t| format_field_value(&[t]))
            .collect::<Result<Vec<String>>>()?;
        let headers = request.headers_mut();
        headers.remove(name());
        for value in values {
            let value =
                HeaderValue::from_str(&value).expect("base64url and '.' are valid in a field");
            headers.append(name(), value);
        }
        Ok(())
    }
}

#[cfg(feature = "http")]
pub use header_map::{append_to_header_map, attach, from_header_map};

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(lines: &[&str]) -> Result<Vec<String>> {
        parse_field_values(lines.iter().map(|l| l.as_bytes()), DEFAULT_MAX_FIELD_BYTES)
    }

    #[test]
    fn lines_and_lists_combine_in_order() {
        assert_eq!(parse(&[]), Ok(vec![]));
        assert_eq!(parse(&["a.b.c"]), Ok(vec!["a.b.c".to_string()]));
        assert_eq!(
            parse(&["a.b.c , d.e.f", "\tg.h.i"]),
            Ok(vec!["a.b.c".into(), "d.e.f".into(), "g.h.i".into()])
        );
    }

    #[test]
    fn malformed() {
        for lines in [
            &[""][..],
            &[" "],
            &["a.b.c,"],
            &[",a.b.c"],
            &["a.b.c,,d.e.f"],
            &["a.b.c", ""],
            &["a.b c"],
            &["a.b+c"],
            &["a.b/c"],
            &["a.b.c="],
            &["a.b.c;x"],
            &["\"a.b.c\""],
        ] {
            assert_eq!(
                parse(lines).unwrap_err().code(),
                "http.malformed",
                "{lines:?}"
            );
        }
    }

    #[test]
    fn size_bound_counts_separators() {
        assert_eq!(
            parse_field_values([&b"abcd"[..], b"ef"], 8),
            Ok(vec!["abcd".into(), "ef".into()])
        );
        assert_eq!(
            parse_field_values([&b"abcd"[..], b"efg"], 8),
            Err(Error::HttpTooLarge { len: 9, max: 8 })
        );
    }

    #[test]
    fn format_round_trip() {
        let v = format_field_value(&["a.b.c", "d.e.f"]).unwrap();
        assert_eq!(v, "a.b.c, d.e.f");
        assert_eq!(parse(&[&v]), Ok(vec!["a.b.c".into(), "d.e.f".into()]));
        assert_eq!(
            format_field_value::<&str>(&[]).unwrap_err().code(),
            "http.malformed"
        );
        assert_eq!(
            format_field_value(&["a,b"]).unwrap_err().code(),
            "http.malformed"
        );
        assert_eq!(
            format_field_value(&["a b"]).unwrap_err().code(),
            "http.malformed"
        );
    }

    #[cfg(feature = "http")]
    #[test]
    fn header_map() {
        let mut h = http::HeaderMap::new();
        append_to_header_map(&mut h, &["a.b.c"]).unwrap();
        append_to_header_map(&mut h, &["d.e.f", "g.h.i"]).unwrap();
        assert_eq!(
            from_header_map(&h, DEFAULT_MAX_FIELD_BYTES),
            Ok(vec!["a.b.c".into(), "d.e.f".into(), "g.h.i".into()])
        );
        h.append("EXECUTION-CONTEXT", http::HeaderValue::from_static(""));
        assert_eq!(
            from_header_map(&h, DEFAULT_MAX_FIELD_BYTES)
                .unwrap_err()
                .code(),
            "http.malformed"
        );
    }

    #[cfg(feature = "http")]
    #[test]
    fn attach_sets_own_token_first_then_parents() {
        let mut request = http::Request::new(());
        request
            .headers_mut()
            .append("execution-context", http::HeaderValue::from_static("x.y.z"));
        attach(&mut request, "a.b.c", &["d.e.f", "g.h.i"]).unwrap();
        let lines: Vec<&[u8]> = request
            .headers()
            .get_all("execution-context")
            .iter()
            .map(http::HeaderValue::as_bytes)
            .collect();
        assert_eq!(lines, [&b"a.b.c"[..], b"d.e.f", b"g.h.i"]);
        // A bad token changes nothing.
        assert_eq!(
            attach(&mut request, "a.b.c", &["d,e"]).unwrap_err(),
            Error::HttpMalformed("byte 0x2c in token 0".into())
        );
        assert_eq!(
            from_header_map(request.headers(), DEFAULT_MAX_FIELD_BYTES),
            Ok(vec!["a.b.c".into(), "d.e.f".into(), "g.h.i".into()])
        );
        let h = request.headers_mut();
        h.append("EXECUTION-CONTEXT", http::HeaderValue::from_static(""));
        assert_eq!(
            from_header_map(h, DEFAULT_MAX_FIELD_BYTES)
                .unwrap_err()
                .code(),
            "http.malformed"
        );
    }
}
