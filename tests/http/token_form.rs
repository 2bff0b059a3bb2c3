//! Session tokens that name their session (`<id>.<secret>`): the store
//! finds the session by its key and compares the secret's hash with that
//! session's own. The id is public, so a known id with a wrong secret, or
//! another session's id with a real secret, is "no session" and changes
//! nothing; and 0.1's form (the secret alone) keeps working beside the new
//! one, whichever form a layer issues. Every store, over real HTTP.

use crate::common;

use axum_user_sessions::SessionLayer;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Backend, Client, serve_demo};
use std::time::Duration;
use uuid::Uuid;

conformance!(
    a_known_id_with_a_wrong_secret_changes_nothing,
    another_sessions_id_with_a_real_secret_is_no_session,
    both_forms_work_whichever_form_a_layer_issues,
);

/// The session a named token names.
fn session_of(token: &str) -> Uuid {
    let (id, _) = token
        .split_once('.')
        .expect("a token that names its session");
    Uuid::from_slice(&URL_SAFE_NO_PAD.decode(id).unwrap()).unwrap()
}

/// A well-formed secret no session has.
fn random_secret() -> String {
    let bytes = [*Uuid::new_v4().as_bytes(), *Uuid::new_v4().as_bytes()].concat();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Touching on every request: a load that took a wrong secret for the
/// session's would write.
fn eager(layer: SessionLayer) -> SessionLayer {
    layer.with_touch_interval(Duration::from_millis(1))
}

async fn a_known_id_with_a_wrong_secret_changes_nothing(b: Backend) {
    let app = serve_demo(eager(b.layer())).await;
    let mut alice = Client::new(&app);
    alice.login("alice").await;
    let token = alice.cookie.clone().unwrap();
    let id = session_of(&token);
    let before = b.store.get(id).await.unwrap().unwrap();

    let (id_part, _) = token.split_once('.').unwrap();
    for forged in [format!("{id_part}.{}", random_secret()), random_secret()] {
        let mut thief = Client::new(&app);
        thief.cookie = Some(forged);
        assert_eq!(thief.me().await, None);
        let res = thief.put_kv("k", "v").await;
        assert_eq!(res.status, 204, "a new session of its own: {}", res.body);
        let after = b.store.get(id).await.unwrap().unwrap();
        assert_eq!(
            after, before,
            "a wrong secret wrote to the session it names"
        );
    }

    // The real secret touches the row on the same settings: the check above
    // could fail.
    assert_eq!(alice.me().await.as_deref(), Some("alice"));
    let touched = b.store.get(id).await.unwrap().unwrap();
    assert!(touched.version > before.version, "{touched:?}");
    assert!(touched.last_seen_at > before.last_seen_at);
}

async fn another_sessions_id_with_a_real_secret_is_no_session(b: Backend) {
    let app = serve_demo(eager(b.layer())).await;
    let (mut alice, mut bob) = (Client::new(&app), Client::new(&app));
    alice.login("alice").await;
    bob.login("bob").await;
    let (a, b_token) = (alice.cookie.clone().unwrap(), bob.cookie.clone().unwrap());
    let (a_id, b_id) = (session_of(&a), session_of(&b_token));
    let rows = |s: &Backend| {
        let store = s.store.clone();
        async move {
            (
                store.get(a_id).await.unwrap().unwrap(),
                store.get(b_id).await.unwrap().unwrap(),
            )
        }
    };
    let before = rows(&b).await;
    // Bob's id, Alice's secret.
    let mut mixed = Client::new(&app);
    let (b_id_part, _) = b_token.split_once('.').unwrap();
    let (_, a_secret) = a.split_once('.').unwrap();
    mixed.cookie = Some(format!("{b_id_part}.{a_secret}"));
    assert_eq!(mixed.me().await, None);
    assert_eq!(rows(&b).await, before, "neither session may change");
    assert_eq!(alice.me().await.as_deref(), Some("alice"));
    assert_eq!(bob.me().await.as_deref(), Some("bob"));
}

async fn both_forms_work_whichever_form_a_layer_issues(b: Backend) {
    // One database, two app instances: one still issuing 0.1's form (as
    // while a fleet still runs 0.1), one issuing tokens that name their
    // session.
    let legacy = serve_demo(b.legacy_layer()).await;
    let named = serve_demo(b.layer()).await;
    let mut browser = Client::new(&legacy);
    browser.login("alice").await;
    let old_form = browser.cookie.clone().unwrap();
    assert_eq!(old_form.len(), 43, "0.1's form: the secret alone");
    let mut on_named = Client::new(&named);
    on_named.cookie = Some(old_form);
    assert_eq!(on_named.me().await.as_deref(), Some("alice"));

    // A sign-in on the new instance names the session; the other reads it.
    on_named.login("bob").await;
    let new_form = on_named.cookie.clone().unwrap();
    assert_eq!(new_form.len(), 66);
    let mut on_legacy = Client::new(&legacy);
    on_legacy.cookie = Some(new_form);
    assert_eq!(on_legacy.me().await.as_deref(), Some("bob"));
}
