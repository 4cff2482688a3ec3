//! Placeholder: the backend helper writes this benchmark.
fn main() {}
