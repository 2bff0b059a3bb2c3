//! A user's lists (the live sessions a page at a time, the recently ended
//! ones) and the device writes of "Your devices" (names, places).

use super::support::*;
use crate::store::{Error, ListQuery};
use std::net::IpAddr;

/// What a store answers when it may not support a call: `None` for
/// [`Error::Unsupported`] (the scenario skips that part), else the answer.
fn supported<T>(answer: Result<T, Error>) -> Option<T> {
    match answer {
        Err(Error::Unsupported(_)) => None,
        other => Some(other.unwrap()),
    }
}

/// The live list is ordered by last activity, newest first, then by id;
/// pages follow a `(last_seen_at, id)` keyset, never repeating or skipping
/// a row (a page may end between two sessions seen at the same instant);
/// another user's sessions and revoked ones are not listed; listed records
/// carry no data.
pub async fn lists_page_by_recent_activity(store: Arc<dyn SessionProtocol>) {
    let s = store.as_ref();
    let t0 = now();
    let idle = Duration::from_secs(1800);
    let mut alice = Vec::new();
    for (n, ago) in [5u64, 3, 3, 1, 4].into_iter().enumerate() {
        let mut r = record(t0 - Duration::from_secs(10), Some("alice"), idle);
        r.last_seen_at = t0 - Duration::from_secs(ago);
        r.data.insert("cart".into(), serde_json::json!([1, 2]));
        s.create(&r, &hash(n as u8 + 1)).await.unwrap();
        alice.push(r);
    }
    let bob = record(t0, Some("bob"), idle);
    s.create(&bob, &hash(10)).await.unwrap();
    let revoked = record(t0, Some("alice"), idle);
    s.create(&revoked, &hash(11)).await.unwrap();
    let how = Revocation::new(RevokeReason::User, RevokedBy::user("alice"), t0);
    let one = RevokeScope::session(revoked.id);
    assert_eq!(s.revoke(&one, &how).await.unwrap(), 1);

    alice.sort_by_key(|r| (std::cmp::Reverse(r.last_seen_at), r.id));
    let expected: Vec<Uuid> = alice.iter().map(|r| r.id).collect();
    let all = s.list_user("alice", t0).await.unwrap();
    let ids: Vec<Uuid> = all.iter().map(|r| r.id).collect();
    assert_eq!(ids, expected, "newest activity first, then by id");
    assert!(all.iter().all(|r| r.data.is_empty()), "listed without data");

    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = s.list_user_page("alice", t0, after, 2).await.unwrap();
        assert!(page.len() <= 2, "a page holds at most its limit");
        let Some(last) = page.last() else { break };
        after = Some((last.last_seen_at, last.id));
        paged.extend(page.iter().map(|r| r.id));
        assert!(
            paged.len() <= expected.len(),
            "pages repeat rows: {paged:?}"
        );
    }
    assert_eq!(paged, expected, "pages, one after another, are the list");
}

/// The ended list holds a user's sessions that ended at or after `since`
/// (here: revoked), the most recent end first, at most `limit`, with why
/// they ended and no data; live ones and another user's are not in it. A
/// store that keeps no ended rows answers [`Error::Unsupported`].
pub async fn ended_sessions_list_most_recent_first(store: Arc<dyn SessionProtocol>) {
    let s = store.as_ref();
    let t0 = now();
    let idle = Duration::from_secs(1800);
    let created = t0 - Duration::from_secs(60);
    let mut ended = Vec::new();
    for (n, ago) in [30u64, 10, 20].into_iter().enumerate() {
        let mut r = record(created, Some("alice"), idle);
        r.data.insert("k".into(), serde_json::json!(1));
        s.create(&r, &hash(n as u8 + 1)).await.unwrap();
        let at = t0 - Duration::from_secs(ago);
        let how = Revocation::new(RevokeReason::User, RevokedBy::user("alice"), at);
        let one = RevokeScope::session(r.id);
        assert_eq!(s.revoke(&one, &how).await.unwrap(), 1);
        ended.push((r.id, at));
    }
    let live = record(created, Some("alice"), idle);
    s.create(&live, &hash(8)).await.unwrap();
    let bob = record(created, Some("bob"), idle);
    s.create(&bob, &hash(9)).await.unwrap();
    let how = Revocation::new(RevokeReason::User, RevokedBy::user("bob"), t0);
    assert_eq!(
        s.revoke(&RevokeScope::session(bob.id), &how).await.unwrap(),
        1
    );

    let query = |since, limit| ListQuery::Ended {
        user_id: "alice",
        since,
        now: t0,
        limit,
    };
    let Some(list) = supported(s.list(&query(t0 - Duration::from_secs(25), 10)).await) else {
        return;
    };
    let ids: Vec<Uuid> = list.iter().map(|r| r.id).collect();
    assert_eq!(ids, [ended[1].0, ended[2].0], "since t0-25s, newest first");
    assert!(
        list.iter().all(|r| r.data.is_empty()),
        "listed without data"
    );
    assert_eq!(list[0].revoked_at, Some(ended[1].1));
    assert_eq!(list[0].revoke_reason.as_deref(), Some("user"));
    let first = s.list(&query(created, 1)).await.unwrap();
    assert_eq!(first.len(), 1, "at most the limit");
    assert_eq!(first[0].id, ended[1].0);
}

/// A device's name is written only for its owner while it is live; its
/// place only while its last IP is the one the place was found for and it
/// is not revoked; each write counts one version. A store without names
/// or places answers [`Error::Unsupported`].
pub async fn device_names_and_places_keep_their_conditions(store: Arc<dyn SessionProtocol>) {
    let s = store.as_ref();
    let t0 = now();
    let (home, cafe): (IpAddr, IpAddr) = (
        "198.51.100.1".parse().unwrap(),
        "203.0.113.9".parse().unwrap(),
    );
    let mut r = record(t0, Some("alice"), Duration::from_secs(1800));
    (r.ip, r.last_ip) = (Some(home), Some(home));
    s.create(&r, &hash(1)).await.unwrap();
    let get = || async { s.get(r.id).await.unwrap().unwrap() };

    if let Some(named) = supported(s.rename(r.id, "bob", Some("Bob's now"), t0).await) {
        assert!(!named, "bob does not own it");
        let v0 = get().await.version;
        assert!(
            s.rename(r.id, "alice", Some("Work laptop"), t0)
                .await
                .unwrap()
        );
        let after = get().await;
        assert_eq!(after.name.as_deref(), Some("Work laptop"));
        assert_eq!(after.version, v0 + 1, "one version a write");
        assert!(s.rename(r.id, "alice", None, t0).await.unwrap());
        assert_eq!(get().await.name, None, "cleared");
        assert!(
            !s.rename(Uuid::new_v4(), "alice", Some("x"), t0)
                .await
                .unwrap()
        );
    }
    if let Some(placed) = supported(s.set_location(r.id, cafe, "Porto").await) {
        assert!(!placed, "the session's last IP is another");
        assert_eq!(get().await.location, None);
        assert!(s.set_location(r.id, home, "Lisbon").await.unwrap());
        assert_eq!(get().await.location.as_deref(), Some("Lisbon"));
    }
    let how = Revocation::new(RevokeReason::User, RevokedBy::user("alice"), t0);
    assert_eq!(
        s.revoke(&RevokeScope::session(r.id), &how).await.unwrap(),
        1
    );
    let revoked = get().await;
    if let Some(named) = supported(s.rename(r.id, "alice", Some("Old"), t0).await) {
        assert!(!named, "a revoked session is not renamed");
    }
    if let Some(placed) = supported(s.set_location(r.id, home, "Faro").await) {
        assert!(!placed, "a revoked session is not placed");
    }
    assert_eq!(get().await, revoked, "nothing written after the revocation");
}
