//! Soak test (work in progress).
fn main() {}
