//! The README's code blocks are examples that compile.

#[test]
fn readme_usage_is_the_quickstart_example() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let example = std::fs::read_to_string(format!("{root}/examples/quickstart.rs")).unwrap();
    // The example without its `//!` header.
    let body: String = example
        .lines()
        .skip_while(|l| l.starts_with("//!") || l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        readme.contains(&format!("```rust\n{body}```")),
        "README's usage block differs from examples/quickstart.rs"
    );
}

/// The wiring in "Using with axum-login" is `examples/axum_login.rs`'s.
#[test]
fn readme_axum_login_wiring_is_the_example() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let example = std::fs::read_to_string(format!("{root}/examples/axum_login.rs")).unwrap();
    let start = example.find("pub fn app(").unwrap();
    let routes = example.find("pub fn routes()").unwrap();
    let end = routes + example[routes..].find("\n}\n").unwrap() + 3;
    assert!(
        readme.contains(&format!("```rust\n{}```", &example[start..end])),
        "README's axum-login block differs from examples/axum_login.rs"
    );
}
