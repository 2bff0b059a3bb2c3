//! The layer's settings: cookie names and prefixes.

use super::*;
use crate::store::MemoryStore;

fn names(layer: SessionLayer) -> (String, String) {
    (
        layer.config.cookie_name.clone(),
        layer.config.remember_cookie_name.clone(),
    )
}

fn session_name(layer: SessionLayer) -> String {
    names(layer).0
}

fn layer() -> SessionLayer {
    SessionLayer::new(MemoryStore::new())
}

#[test]
fn the_prefix_is_worked_out_from_the_final_settings() {
    assert_eq!(
        names(layer()),
        ("__Host-session".into(), "__Host-remember".into())
    );
    // The order of the setters does not matter.
    let toggled = layer().with_secure(false).with_secure(true);
    assert_eq!(session_name(toggled), "__Host-session");
    let back = layer().with_cookie_path("/app").with_cookie_path("/");
    assert_eq!(session_name(back), "__Host-session");
    let explicit = layer().with_host_prefix(true).with_cookie_path("/app");
    assert_eq!(session_name(explicit), "__Secure-session");
    // `__Secure-` where `__Host-` is ruled out, none without `Secure`.
    let domain = layer().with_cookie_domain("example.com");
    assert_eq!(
        names(domain),
        ("__Secure-session".into(), "__Secure-remember".into())
    );
    assert_eq!(
        session_name(layer().with_cookie_path("/app")),
        "__Secure-session"
    );
    let plain = layer().with_cookie_domain("example.com").with_secure(false);
    assert_eq!(session_name(plain), "session");
    assert_eq!(session_name(layer().with_host_prefix(false)), "session");
    let named = layer()
        .with_cookie_name("sid")
        .with_remember_cookie_name("keep");
    assert_eq!(names(named), ("__Host-sid".into(), "__Host-keep".into()));
}

#[test]
fn the_names_0_1_sent_are_known_where_they_differ() {
    assert_eq!(layer().config.legacy_cookie_names, None);
    let domain = layer().with_cookie_domain("example.com");
    assert_eq!(
        domain.config.legacy_cookie_names,
        Some(["session".into(), "remember".into()])
    );
    let plain = layer().with_secure(false);
    assert_eq!(plain.config.legacy_cookie_names, None);
}

#[test]
#[should_panic(expected = "without its prefix")]
fn a_prefixed_cookie_name_is_refused() {
    let _ = layer().with_cookie_name("__Host-sid");
}

#[test]
#[should_panic(expected = "without its prefix")]
fn a_prefixed_remember_name_is_refused_whatever_its_case() {
    let _ = layer().with_remember_cookie_name("__SECURE-keep");
}
