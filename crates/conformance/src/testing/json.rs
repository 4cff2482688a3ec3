//! JSON text the serializer would not write: shuffled members, insignificant whitespace, raw
//! member values (exponents, fractions, duplicates).

use serde_json::{Map, Value};

/// A small deterministic generator (SplitMix64) for choices derived from one proptest value.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// One element of a non-empty slice.
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// `value` as JSON text with object members in a shuffled order and random insignificant
/// whitespace (space, tab, CR, LF) around every structural character, both chosen by `seed`.
/// Parsing the result gives back `value`.
pub fn render_json(value: &Value, seed: u64) -> String {
    let mut out = String::new();
    render(value, &mut Rng::new(seed), &mut out);
    out
}

fn space(rng: &mut Rng, out: &mut String) {
    for _ in 0..rng.below(3) {
        out.push(*rng.pick(&[' ', '\t', '\r', '\n']));
    }
}

fn render(value: &Value, rng: &mut Rng, out: &mut String) {
    space(rng, out);
    match value {
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            // Fisher-Yates.
            for i in (1..members.len()).rev() {
                members.swap(i, rng.below(i + 1));
            }
            out.push('{');
            for (i, (name, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                space(rng, out);
                out.push_str(&Value::String(name.clone()).to_string());
                space(rng, out);
                out.push(':');
                render(v, rng, out);
            }
            space(rng, out);
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                render(v, rng, out);
            }
            space(rng, out);
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
    space(rng, out);
}

/// The compact serialization of `map` with one more member `name` whose value is the raw JSON
/// text `raw`, inserted first (for values serde_json would not write, such as `1.7e9`, or a
/// member `map` already has, which makes a duplicate).
pub fn with_raw_member(map: &Map<String, Value>, name: &str, raw: &str) -> Vec<u8> {
    let rest = serde_json::to_string(map).expect("a JSON map serializes");
    let name = Value::String(name.to_owned()).to_string();
    let separator = if map.is_empty() { "" } else { "," };
    format!("{{{name}:{raw}{separator}{}", &rest[1..]).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn render_json_parses_back_to_the_value() {
        let value = json!({"a": [1, {"b": "c\"\\\n"}, null, true], "d": {}, "e": [], "f": -1.5});
        for seed in 0..50 {
            let text = render_json(&value, seed);
            let back: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(back, value, "{text}");
        }
        // Some seed reorders and some adds whitespace.
        assert!((0..50).any(|s| render_json(&value, s).contains(['\n', '\t', ' '])));
        let compact = serde_json::to_string(&value).unwrap();
        assert!((0..50).any(|s| {
            let t: String = render_json(&value, s)
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            t != compact
        }));
    }

    #[test]
    fn with_raw_member_inserts_first() {
        let map = json!({"b": 1}).as_object().unwrap().clone();
        assert_eq!(with_raw_member(&map, "a", "1.5e3"), br#"{"a":1.5e3,"b":1}"#);
        assert_eq!(with_raw_member(&map, "b", "2"), br#"{"b":2,"b":1}"#);
        assert_eq!(with_raw_member(&Map::new(), "a", "[]"), br#"{"a":[]}"#);
    }
}
