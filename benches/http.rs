//! Placeholder; replaced by the HTTP benchmark.
fn main() {}
