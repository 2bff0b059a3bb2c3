//! Rebuilds the crate when a migration changes: `sqlx::migrate!` embeds
//! `migrations/` at compile time, and cargo does not know it reads them
//! (a migration added without a change to the Rust code was left out).

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
