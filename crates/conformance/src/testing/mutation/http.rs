//! SPEC.md §9, HTTP transport: the cases of ECT-HTTP-3 (`Mutation::HttpMalformed`: an
//! `Execution-Context` field with an empty value or element, or a stray character) and
//! ECT-HTTP-4 (`HttpTooLarge`: one byte over the limit).

use super::{Mutation, Mutator};
use crate::testing::Stage;
use wimse_ect::http::DEFAULT_MAX_FIELD_BYTES;

impl Mutator {
    pub(super) fn http(&mut self, m: Mutation) -> Stage {
        let t = self.inline_target();
        let value = self.wf.field_lines(t).join(", ");
        let (variant, lines) = if m == Mutation::HttpTooLarge {
            let pad = " ".repeat((DEFAULT_MAX_FIELD_BYTES + 1).saturating_sub(value.len()));
            if self.rng.below(2) == 0 {
                ("trailing whitespace", vec![format!("{value}{pad}")])
            } else {
                ("leading whitespace", vec![format!("{pad}{value}")])
            }
        } else {
            let own = &self.wf.steps[t].token;
            let mid = own.len() / 2;
            match self.rng.below(7) {
                0 => ("an empty value", vec![String::new()]),
                1 => ("a trailing comma", vec![format!("{value},")]),
                2 => ("an empty element", vec![format!("{value}, ,{own}")]),
                3 => (
                    "a space inside a token",
                    vec![format!("{} {}", &own[..mid], &value[mid..])],
                ),
                4 => ("a quoted token", vec![format!("\"{own}\"")]),
                5 => ("a parameter", vec![format!("{value};q=1")]),
                _ => (
                    "an empty second field line",
                    vec![value.clone(), String::new()],
                ),
            }
        };
        self.wf.steps[t].field_lines = Some(lines);
        self.describe(variant);
        Stage::Step(t)
    }
}
