#![doc = include_str!("decisions.md")]
