//! Guides: how to use the crate, one page per topic. The README and the
//! [crate docs](crate) show the first steps; these pages hold the rest.
//! Their code compiles as doctests.
//!
//! | page | what |
//! |---|---|
//! | [`migrating`] | coming from tower-sessions: what each call becomes, the changed defaults, what a switch does to signed-in users |
//! | [`axum_login`] | axum-login on top of the layer |
//! | [`data`] | reading and writing session data, typed keys, concurrent changes, `Session::update` |
//! | [`rotation`] | token rotation, binding, client IPs, remember me |
//! | [`devices`] | the "Your devices" routes and page: rules, "Recently signed out", your own templates, API clients |
//! | [`operations`] | garbage collection, the admin API, the CLI, events, privacy, reliability, configuration, pools, MSRV |
//! | [`scale`] | the in-process cache, several app instances, Redis |
//! | [`pgbouncer`] | running behind a transaction pooler |
//! | [`security`] | what the crate guarantees, and how |
//! | [`performance`] | what a request costs, and the benchmark |

#[doc = include_str!("migrating.md")]
pub mod migrating {}

// Its code needs the feature; docs.rs builds with every feature.
#[cfg_attr(feature = "axum-login", doc = include_str!("axum_login.md"))]
#[cfg_attr(
    not(feature = "axum-login"),
    doc = "# Using with axum-login\n\nThis page needs the `axum-login` feature."
)]
pub mod axum_login {}

#[doc = include_str!("data.md")]
pub mod data {}

#[doc = include_str!("rotation.md")]
pub mod rotation {}

#[doc = include_str!("devices.md")]
pub mod devices {}

#[doc = include_str!("operations.md")]
pub mod operations {}

#[doc = include_str!("scale.md")]
pub mod scale {}

#[doc = include_str!("pgbouncer.md")]
pub mod pgbouncer {}

#[doc = include_str!("security.md")]
pub mod security {}

#[doc = include_str!("performance.md")]
pub mod performance {}
