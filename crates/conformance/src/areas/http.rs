//! SPEC.md §9: splitting `Execution-Context` field lines (kind `http`), ECT-HTTP-1..4. A
//! valid vector's `tokens` lists the elements in order. Only the splitting is checked: the
//! elements are not verified as tokens here.
//!
//! Size (ECT-HTTP-4, `wimse_ect::_documentation::decisions`): the combined value is the field lines joined with
//! `", "`, so two lines of `a` and `b` bytes count `a + 2 + b`; whitespace counts. It is checked
//! before the element syntax.

use crate::build::*;

/// Agent A's valid token for task [`uuid`]`(n)`.
fn token(n: u32) -> String {
    sign_a(&claims(&uuid(n)))
}

/// An `http` vector over owned field lines.
fn http(id: &str, description: &str, rules: &[&str], lines: &[String]) -> V {
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    V::http(id, description, rules, &lines)
}

/// The vectors, in order.
pub fn vectors() -> Vec<V> {
    let h1 = ["ECT-HTTP-1"];
    let h2 = ["ECT-HTTP-2"];
    let h3 = ["ECT-HTTP-3"];
    let h4 = ["ECT-HTTP-4"];
    let (t1, t2, t3) = (token(1), token(2), token(3));
    vec![
        // ECT-HTTP-1, ECT-HTTP-2: valid values.
        http("http/one-token", "one field line, one token", &h1, std::slice::from_ref(&t1)).valid(),
        http("http/list/two", "one field line, two tokens separated by \",\"", &h2, &[format!("{t1},{t2}")])
            .valid(),
        http("http/list/comma-space", "two tokens separated by \", \" (the usual form)", &h2, &[format!("{t1}, {t2}")])
            .valid(),
        http("http/list/whitespace", "spaces and tabs around the comma and at both ends", &["ECT-HTTP-2", "ECT-HTTP-3"], &[format!(" \t{t1} \t, \t{t2}\t ")])
            .valid(),
        http("http/list/three", "three tokens in one list, order kept", &h2, &[format!("{t3}, {t1}, {t2}")])
            .valid(),
        http("http/lines/two", "two field lines, one token each", &h2, &[t1.clone(), t2.clone()]).valid(),
        http("http/lines/two-lists", "two field lines each with a list: four tokens in line order, then list order", &h2, &[format!("{t2}, {t1}"), format!("{t3},{t1}")])
            .valid(),
        http("http/lines/mixed", "a list line, then a single-token line with leading whitespace", &h2, &[format!("{t1} , {t2}"), format!("\t{t3}")])
            .valid(),
        http("http/lines/same-token-twice", "the same token in two field lines: both listed (duplicates are judged by replay and DAG rules, not here)", &h2, &[t1.clone(), t1.clone()])
            .valid(),
        // ECT-HTTP-3: malformed values.
        http("http/malformed/empty", "an empty field value", &h3, &[String::new()]).invalid("http.malformed"),
        http("http/malformed/whitespace-only", "a field value of spaces and a tab only", &h3, &[" \t ".into()])
            .invalid("http.malformed"),
        http("http/malformed/empty-element", "an empty element between two tokens (a,,b)", &h3, &[format!("{t1},,{t2}")])
            .invalid("http.malformed"),
        http("http/malformed/blank-element", "an element of whitespace only between two tokens", &h3, &[format!("{t1}, ,{t2}")])
            .invalid("http.malformed"),
        http("http/malformed/trailing-comma", "a trailing comma", &h3, &[format!("{t1},")]).invalid("http.malformed"),
        http("http/malformed/leading-comma", "a leading comma", &h3, &[format!(",{t1}")]).invalid("http.malformed"),
        http("http/malformed/space-inside", "a space inside a token", &h3, &[t1.replacen('.', ". ", 1)])
            .invalid("http.malformed"),
        http("http/malformed/tab-inside", "a tab inside a token", &h3, &[t1.replacen('.', ".\t", 1)])
            .invalid("http.malformed"),
        http("http/malformed/quoted", "a token in double quotes", &h3, &[format!("\"{t1}\"")]).invalid("http.malformed"),
        http("http/malformed/parameter", "a token followed by ;param", &h3, &[format!("{t1};v=1")]).invalid("http.malformed"),
        http("http/malformed/non-ascii", "a non-ASCII character (U+00E9) inside a token", &h3, &[t1.replacen('.', ".\u{e9}", 1)])
            .invalid("http.malformed"),
        http("http/malformed/padding", "a token ending with = padding", &h3, &[format!("{t1}=")]).invalid("http.malformed"),
        http("http/malformed/base64-plus", "a + (standard base64, not base64url) inside a token", &h3, &[t1.replacen('.', ".+", 1)])
            .invalid("http.malformed"),
        http("http/malformed/empty-second-line", "a valid first field line, an empty second one", &h3, &[t1.clone(), String::new()])
            .invalid("http.malformed"),
        http("http/malformed/bad-second-line", "a valid first field line, a second with a trailing comma", &h3, &[t1.clone(), format!("{t2},")])
            .invalid("http.malformed"),
        // ECT-HTTP-4: the combined size.
        http("http/size/at-limit-whitespace", "max_field_bytes 512: a token padded with trailing spaces to exactly 512 bytes", &h4, &[format!("{t1:<512}")])
            .settings(|s| s.max_field_bytes = 512)
            .valid()
            .flag("Boundary"),
        http("http/size/over-limit-whitespace", "max_field_bytes 512: a token padded with trailing spaces to 513 bytes", &h4, &[format!("{t1:<513}")])
            .settings(|s| s.max_field_bytes = 512)
            .invalid("http.too_large")
            .flag("Boundary"),
        http("http/size/at-limit-element", "max_field_bytes 512: one element of 512 base64url characters", &h4, &["A".repeat(512)])
            .settings(|s| s.max_field_bytes = 512)
            .valid()
            .flag("Boundary"),
        http("http/size/over-limit-element", "max_field_bytes 512: one element of 513 base64url characters", &h4, &["A".repeat(513)])
            .settings(|s| s.max_field_bytes = 512)
            .invalid("http.too_large")
            .flag("Boundary"),
        http("http/size/two-lines-at-limit", "max_field_bytes 512: lines of 255 and 255 bytes, 255 + 2 (\", \") + 255 = 512", &h4, &["A".repeat(255), "B".repeat(255)])
            .settings(|s| s.max_field_bytes = 512)
            .valid()
            .flag("Boundary"),
        http("http/size/two-lines-over-limit", "max_field_bytes 512: lines of 255 and 256 bytes, 255 + 2 (\", \") + 256 = 513", &h4, &["A".repeat(255), "B".repeat(256)])
            .settings(|s| s.max_field_bytes = 512)
            .invalid("http.too_large")
            .flag("Boundary"),
        http("http/size/three-lines-at-limit", "max_field_bytes 512: lines of 170, 170 and 168 bytes, 508 bytes plus two joiners = 512", &h4, &["A".repeat(170), "B".repeat(170), "C".repeat(168)])
            .settings(|s| s.max_field_bytes = 512)
            .valid()
            .flag("Boundary"),
        http("http/size/three-lines-over-limit", "max_field_bytes 512: lines of 170, 170 and 169 bytes, 509 bytes plus two joiners = 513", &h4, &["A".repeat(170), "B".repeat(170), "C".repeat(169)])
            .settings(|s| s.max_field_bytes = 512)
            .invalid("http.too_large")
            .flag("Boundary"),
        http("http/size/before-syntax", "max_field_bytes 512: 513 bytes that are also malformed (spaces inside): the size is checked first", &h4, &["A B ".repeat(128) + "C"])
            .settings(|s| s.max_field_bytes = 512)
            .invalid("http.too_large"),
        http("http/size/default-over", "default max_field_bytes 65536: one element of 65537 characters", &h4, &["A".repeat(65_537)])
            .invalid("http.too_large")
            .flag("Boundary"),
        // A fuzz finding: the size is that of the field as sent, not as it would be formatted
        // again (with ", " between the tokens it is one byte longer).
        http("http/size/commas-count-as-sent", "max_field_bytes 512: 255 + \",\" + 256 = 512 bytes as sent (513 if formatted with \", \")", &h4, &[format!("{},{}", "A".repeat(255), "B".repeat(256))])
            .settings(|s| s.max_field_bytes = 512)
            .valid()
            .flag("Boundary"),
    ]
}
