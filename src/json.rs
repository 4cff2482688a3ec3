//! Strict JSON: UTF-8 objects whose member names are unique at every level (ECT-JWS-4,
//! ECT-JWS-5).
//!
//! `serde_json` on its own keeps the last value of a repeated member name. RFC 7515 §4 allows a
//! JWS parser to reject such input or to keep the last value; this crate rejects (SPEC.md
//! decision, flag `DuplicateMember`). The visitor below builds a [`serde_json::Value`] and
//! refuses a repeated name in any object, however deep.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Parses `bytes` as one JSON object with unique member names at every level.
///
/// `serde_json` on its own keeps the last value of a repeated member name; RFC 7515 §4 lets a
/// JWS parser reject such input or keep the last value, and this crate rejects (SPEC.md
/// decision, flag `DuplicateMember`), in any object however deep.
///
/// Errors: [`Error::Json`] for invalid UTF-8 (a byte order mark included), syntax errors, lone
/// surrogate escapes, nesting beyond serde_json's recursion limit (its counter is 128: at most
/// 127 nested levels, the top object included), trailing bytes, or a top-level value that is
/// not an object; [`Error::DuplicateMember`] for a repeated name.
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>> {
    // ECT-JWS-4: UTF-8 first, so that the error names the real problem. A BOM is valid UTF-8
    // but not JSON whitespace; serde_json rejects it below.
    std::str::from_utf8(bytes).map_err(|e| Error::Json(format!("invalid UTF-8: {e}")))?;
    let duplicate = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = TopObject {
        duplicate: &duplicate,
    }
    .deserialize(&mut de)
    .and_then(|map| de.end().map(|()| map));
    match parsed {
        Ok(map) => Ok(map),
        Err(e) => match duplicate.into_inner() {
            // ECT-JWS-5: the visitor recorded the name before failing.
            Some(name) => Err(Error::DuplicateMember(name)),
            None => Err(Error::Json(e.to_string())),
        },
    }
}

/// Seed for the top level: only an object is accepted.
struct TopObject<'a> {
    duplicate: &'a RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for TopObject<'_> {
    type Value = Map<String, Value>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(StrictVisitor {
            duplicate: self.duplicate,
        })
        .and_then(|v| match v {
            Value::Object(map) => Ok(map),
            _ => Err(de::Error::custom("top-level value is not an object")),
        })
    }
}

/// Seed and visitor for any value below the top level.
#[derive(Clone, Copy)]
struct StrictVisitor<'a> {
    duplicate: &'a RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for StrictVisitor<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictVisitor<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // serde_json never produces a non-finite f64 from JSON text, so this is always Some.
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(self)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if out.contains_key(&key) {
                // ECT-JWS-5: remember which name, then abort the parse.
                let message = format!("duplicate member {key:?}");
                *self.duplicate.borrow_mut() = Some(key);
                return Err(de::Error::custom(message));
            }
            let value = access.next_value_seed(self)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(input: &[u8]) -> &'static str {
        match parse_object(input) {
            Ok(_) => "ok",
            Err(e) => e.code(),
        }
    }

    #[test]
    fn accepts_plain_objects() {
        let m = parse_object(br#" {"a":1,"b":[{"c":null}],"d":{"e":"f"}} "#).unwrap();
        assert_eq!(m["b"][0]["c"], Value::Null);
        assert_eq!(m["d"]["e"], Value::String("f".into()));
    }

    #[test]
    fn duplicates_rejected_at_every_level() {
        assert_eq!(
            parse_object(br#"{"a":1,"a":2}"#),
            Err(Error::DuplicateMember("a".into()))
        );
        assert_eq!(
            parse_object(br#"{"x":{"y":{"z":1,"z":1}}}"#),
            Err(Error::DuplicateMember("z".into()))
        );
        assert_eq!(
            parse_object(br#"{"x":[1,{"q":1,"q":2}]}"#),
            Err(Error::DuplicateMember("q".into()))
        );
        // The same name under different escapes is the same member name.
        assert_eq!(
            parse_object(br#"{"a":1,"\u0061":2}"#),
            Err(Error::DuplicateMember("a".into()))
        );
    }

    #[test]
    fn json_errors() {
        assert_eq!(code(b"[1,2]"), "jws.json");
        assert_eq!(code(b"\"s\""), "jws.json");
        assert_eq!(code(b"{} x"), "jws.json");
        assert_eq!(code(b"{}{}"), "jws.json");
        assert_eq!(code(b"\xEF\xBB\xBF{}"), "jws.json");
        assert_eq!(code(b"{\"a\":\"\xff\"}"), "jws.json");
        assert_eq!(code(br#"{"a":"\ud800"}"#), "jws.json");
        assert_eq!(code(br#"{"a":"\udc00x"}"#), "jws.json");
        assert_eq!(code(b""), "jws.json");
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200));
        assert_eq!(code(deep.as_bytes()), "jws.json");
        let ok = format!("{{\"a\":{}{}}}", "[".repeat(100), "]".repeat(100));
        assert_eq!(code(ok.as_bytes()), "ok");
    }

    #[test]
    fn surrogate_pair_is_fine() {
        let m = parse_object(br#"{"a":"\ud83d\ude00"}"#).unwrap();
        assert_eq!(m["a"], Value::String("\u{1F600}".into()));
    }
}
