#![doc = include_str!("cli.md")]
