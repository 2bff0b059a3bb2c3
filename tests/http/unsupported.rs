//! A store that implements only the trait's required methods (as one
//! written before device names, places and the ended list would): the
//! features it lacks answer a typed "unsupported", never a silent `404`.
//! The rename route answers `501`, the list leaves out "Recently signed
//! out", and everything else works.

use crate::common::{Client, RequiredOnly, serve_demo};
use axum_user_sessions::SessionLayer;

#[tokio::test]
async fn a_feature_the_store_lacks_answers_not_implemented() {
    let app = serve_demo(SessionLayer::new(RequiredOnly::default())).await;
    let (mut phone, mut laptop) = (Client::new(&app), Client::new(&app));
    phone.login("alice").await;
    laptop.login("alice").await;
    // Signing a device out works, and the list works without the ended
    // section the store cannot give.
    let list = phone.get("/sessions").await;
    let laptop_id = list.listed(|s| s["current"] == false)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let gone = phone
        .send_with(
            "POST",
            &format!("/sessions/{laptop_id}/revoke"),
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    assert!(
        matches!(gone.status, 200 | 204 | 303),
        "{}: {}",
        gone.status,
        gone.body
    );
    let list = phone.get("/sessions").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.json()["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(laptop.me().await, None, "the laptop was signed out");

    // Naming the phone: 501, not a 404 that would blame the id.
    let phone_id = list.listed(|s| s["current"] == true)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = phone
        .send_raw(
            "PATCH",
            &format!("/sessions/{phone_id}"),
            Some(("application/json", r#"{"name":"Phone"}"#.into())),
            &[("sec-fetch-site", b"same-origin")],
        )
        .await;
    assert_eq!(res.status, 501, "{}", res.body);
    assert!(res.headers.get("retry-after").is_none());
}

/// A cache over a store that offers neither a change feed nor the name of
/// an in-process database is refused with a typed error: nothing would tell
/// it of a revocation made elsewhere.
#[tokio::test]
async fn a_cache_over_a_store_without_a_change_feed_is_refused() {
    use axum_user_sessions::store::{Error, TokenHash, Touch};
    use axum_user_sessions::{CacheConfig, CachedStore, SessionProtocol as _};
    let cached = CachedStore::new(RequiredOnly::default(), CacheConfig::default());
    let now = time::OffsetDateTime::now_utc();
    let err = cached
        .load(None, &TokenHash::from_bytes([1; 32]), &Touch::new(now, now))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unsupported(_)), "{err:?}");
    assert!(err.to_string().contains("change feed"), "{err}");
}
