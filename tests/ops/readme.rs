//! The README's code blocks are examples that compile: each is the body of
//! an example (without its `//!` header), which `cargo build --examples`
//! and clippy check.

/// The example `name` without its `//!` header, as the README quotes it.
fn body(name: &str) -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let example = std::fs::read_to_string(format!("{root}/examples/{name}.rs")).unwrap();
    example
        .lines()
        .skip_while(|l| l.starts_with("//!") || l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect()
}

fn readme() -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    std::fs::read_to_string(format!("{root}/README.md")).unwrap()
}

#[test]
fn readme_usage_is_the_quickstart_example() {
    assert!(
        readme().contains(&format!("```rust\n{}```", body("quickstart"))),
        "README's usage block differs from examples/quickstart.rs"
    );
}

/// "axum-login" is a whole app: `examples/axum_login_minimal.rs`.
#[test]
fn readme_axum_login_app_is_the_example() {
    assert!(
        readme().contains(&format!("```rust\n{}```", body("axum_login_minimal"))),
        "README's axum-login block differs from examples/axum_login_minimal.rs"
    );
}

/// The first code block holds the two commands: the demo and the tests
/// (`.ci/run` and the hook look for the test command).
#[test]
fn readme_starts_with_the_two_commands() {
    let readme = readme();
    let start = readme.find("```").unwrap();
    let end = start + 3 + readme[start + 3..].find("```").unwrap();
    let first = &readme[start..end];
    assert!(first.contains("cargo run --example demo"), "{first}");
    assert!(first.contains("scripts/test.sh"), "{first}");
    assert!(readme.lines().count() <= 300, "README over 300 lines");
}
