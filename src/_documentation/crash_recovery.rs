#![doc = include_str!("crash_recovery.md")]
