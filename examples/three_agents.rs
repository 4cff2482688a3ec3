//! Placeholder; replaced by the three-agent example.
fn main() {}
