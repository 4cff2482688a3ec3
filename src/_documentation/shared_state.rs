#![doc = include_str!("shared_state.md")]
