//! The `rust-version` in Cargo.toml is the truth: no dependency (normal or
//! build, with every feature on) declares a newer Rust than we do.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// `"1.94"` / `"1.94.0"` as comparable numbers.
fn version(v: &str) -> (u64, u64, u64) {
    let mut parts = v.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    let mut next = || parts.next().unwrap_or(0);
    (next(), next(), next())
}

#[test]
fn no_dependency_needs_a_newer_rust_than_ours() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--all-features"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    assert!(out.status.success(), "cargo metadata failed");
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages: BTreeMap<&str, &Value> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p))
        .collect();
    let nodes: BTreeMap<&str, &Value> = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n))
        .collect();
    let root = meta["resolve"]["root"].as_str().unwrap();
    let ours = packages[root]["rust_version"]
        .as_str()
        .expect("Cargo.toml declares rust-version");

    // What a user's build compiles: normal and build dependencies, not dev.
    let mut seen = BTreeSet::from([root]);
    let mut todo = vec![root];
    let mut newest = ("none".to_owned(), "0".to_owned());
    while let Some(id) = todo.pop() {
        for dep in nodes[id]["deps"].as_array().unwrap() {
            let kinds = dep["dep_kinds"].as_array().unwrap();
            let used = kinds.iter().any(|k| k["kind"].as_str() != Some("dev"));
            let pkg = dep["pkg"].as_str().unwrap();
            if used && seen.insert(pkg) {
                todo.push(pkg);
                let p = packages[pkg];
                if let Some(rv) = p["rust_version"].as_str()
                    && version(rv) > version(&newest.1)
                {
                    newest = (format!("{} {}", p["name"], p["version"]), rv.to_owned());
                }
            }
        }
    }
    assert!(seen.len() > 20, "the dependency walk found too little");
    assert!(
        version(&newest.1) <= version(ours),
        "Cargo.toml declares rust-version {ours}, but {} needs Rust {}: raise rust-version",
        newest.0,
        newest.1
    );
}
