//! "Your devices", recently signed out: `GET /sessions?include=ended` and
//! the page's collapsed section, with the reason in plain words, on every
//! store, over real HTTP.

use crate::common;

use axum_user_sessions::store::{
    Revocation, RevokeReason, RevokeScope, RevokedBy, SessionRecord, TokenHash,
};
use axum_user_sessions::{SessionAdmin, SessionLayer, SessionRoutes};
use common::{Backend, Client, TestApp};
use serde_json::Value;
use std::time::Duration;
use time::OffsetDateTime;

everywhere!(
    ended_sessions_are_listed_with_their_reason,
    the_window_is_configurable,
    ended_sessions_cannot_be_revoked_again_and_give_no_access,
    the_page_shows_them_collapsed,
    ended_sessions_keep_no_data,
);

const SAME: (&str, &str) = ("sec-fetch-site", "same-origin");

async fn app_with(b: &Backend, routes: SessionRoutes) -> TestApp {
    let layer: SessionLayer = b.layer();
    common::serve(common::demo::routes_with(routes).layer(layer)).await
}

async fn signed_in(app: &TestApp, user: &str) -> Client {
    let mut c = Client::new(app);
    c.login(user).await;
    c
}

async fn session_id(c: &mut Client) -> String {
    c.get("/me").await.json()["session_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A session of `user` created directly in the store, `age` ago, whose idle
/// end is `idle` after that.
async fn stored_session(
    b: &Backend, user: &str, age: time::Duration, idle: time::Duration,
) -> uuid::Uuid {
    let at = OffsetDateTime::now_utc() - age;
    // An id of the user's placement, as sign-in mints it.
    let id = axum_user_sessions::store::placement::session_id(Some(user));
    let mut r = SessionRecord::new(id, at);
    r.user_id = Some(user.into());
    r.expires_at = at + idle;
    r.absolute_expires_at = at + time::Duration::days(60);
    let token = TokenHash::from_bytes(
        *uuid::Uuid::new_v4()
            .as_bytes()
            .repeat(2)
            .first_chunk()
            .unwrap(),
    );
    b.store.create(&r, &token).await.unwrap();
    r.id
}

async fn listed(c: &mut Client) -> (Vec<Value>, Vec<Value>) {
    let res = c.get("/sessions?include=ended").await;
    assert_eq!(res.status, 200, "{}", res.body);
    let body = res.json();
    (
        body["sessions"].as_array().unwrap().clone(),
        body["ended"].as_array().unwrap().clone(),
    )
}

async fn ended_sessions_are_listed_with_their_reason(b: Backend) {
    let app = app_with(&b, SessionRoutes::new()).await;
    let mut me = signed_in(&app, "alice").await;
    let me_id = session_id(&mut me).await;
    let mut by_logout = signed_in(&app, "alice").await;
    let mut from_here = signed_in(&app, "alice").await;
    let mut by_admin = signed_in(&app, "alice").await;
    let mut stolen = signed_in(&app, "alice").await;
    let mut limited = signed_in(&app, "alice").await;
    let mut bob = signed_in(&app, "bob").await;
    let ids = [
        session_id(&mut by_logout).await,
        session_id(&mut from_here).await,
        session_id(&mut by_admin).await,
        session_id(&mut stolen).await,
        session_id(&mut limited).await,
    ];
    assert_eq!(by_logout.post("/logout").await.status, 303);
    let res = me
        .send_with("DELETE", &format!("/sessions/{}", ids[1]), &[SAME])
        .await;
    assert_eq!(res.status, 204);
    let admin = SessionAdmin::new(b.store.clone());
    let id = |s: &str| s.parse::<uuid::Uuid>().unwrap();
    assert!(
        admin
            .revoke(
                id(&ids[2]),
                RevokedBy::operator("support:zoe"),
                RevokeReason::other("lost_phone")
            )
            .await
            .unwrap()
    );
    let now = OffsetDateTime::now_utc();
    let system = |r| Revocation::system(r, now);
    assert_eq!(
        b.store
            .revoke(
                &RevokeScope::session(id(&ids[3])),
                &system(RevokeReason::TokenReuse)
            )
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        b.store
            .revoke(
                &RevokeScope::session(id(&ids[4])),
                &system(RevokeReason::SessionLimit)
            )
            .await
            .unwrap(),
        1
    );
    // One that timed out an hour ago (garbage collection has not run), and
    // one of Bob's.
    let expired = stored_session(
        &b,
        "alice",
        time::Duration::hours(2),
        time::Duration::hours(1),
    )
    .await;
    assert_eq!(bob.post("/logout").await.status, 303);

    let (live, ended) = listed(&mut me).await;
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(live[0]["id"], me_id.as_str());
    let reasons: Vec<(String, &str, &str)> = ended
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_owned(),
                e["reason"].as_str().unwrap(),
                e["reason_text"].as_str().unwrap(),
            )
        })
        .collect();
    let mut want = vec![
        (ids[0].clone(), "logout", "Signed out"),
        (ids[1].clone(), "user", "Signed out from another device"),
        (
            ids[2].clone(),
            "lost_phone",
            "Signed out by an administrator",
        ),
        (
            ids[3].clone(),
            "token_reuse",
            "Signed out because a stolen token was used",
        ),
        (
            ids[4].clone(),
            "session_limit",
            "Replaced by the device limit",
        ),
        (expired.to_string(), "expired", "Expired"),
    ];
    // Most recently ended first: the expired one, which ended an hour ago,
    // comes last (two revocations above share a time: compare as sets).
    assert_eq!(reasons.last(), want.last());
    let (mut got, _) = (reasons.clone(), want.sort());
    got.sort();
    assert_eq!(got, want);
    let ends: Vec<OffsetDateTime> = ended
        .iter()
        .map(|e| {
            OffsetDateTime::parse(
                e["ended_at"].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap()
        })
        .collect();
    assert!(
        ends.windows(2).all(|w| w[0] >= w[1]),
        "not most recent first: {ends:?}"
    );
    for e in &ended {
        assert_eq!(e["current"], false);
        assert!(
            time::OffsetDateTime::parse(
                e["ended_at"].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339
            )
            .is_ok(),
            "{e}"
        );
        assert!(e.get("device").is_some() && e.get("ip").is_some(), "{e}");
    }
    // Without `include=ended`, the list is as before.
    let plain = me.get("/sessions").await.json();
    assert!(plain.get("ended").is_none(), "{plain}");
    // Bob sees his own only.
    let mut bob = signed_in(&app, "bob").await;
    let (_, bobs) = listed(&mut bob).await;
    assert_eq!(bobs.len(), 1);
    assert_eq!(bobs[0]["reason"], "logout");
}

async fn the_window_is_configurable(b: Backend) {
    // A session revoked 40 days ago is outside the default 30 days.
    let old = stored_session(
        &b,
        "alice",
        time::Duration::days(45),
        time::Duration::days(50),
    )
    .await;
    let at = OffsetDateTime::now_utc() - time::Duration::days(40);
    let how = Revocation::new(RevokeReason::User, RevokedBy::user("alice"), at);
    assert_eq!(
        b.store
            .revoke(&RevokeScope::session(old), &how)
            .await
            .unwrap(),
        1
    );
    let recent = stored_session(
        &b,
        "alice",
        time::Duration::days(3),
        time::Duration::days(1),
    )
    .await;
    let app = app_with(&b, SessionRoutes::new()).await;
    let mut me = signed_in(&app, "alice").await;
    let (_, ended) = listed(&mut me).await;
    let ids: Vec<&str> = ended.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [recent.to_string()]);

    let wide = SessionRoutes::new().with_recently_signed_out(Duration::from_secs(50 * 86_400));
    let app = app_with(&b, wide).await;
    let mut me = signed_in(&app, "alice").await;
    let (_, ended) = listed(&mut me).await;
    let ids: Vec<&str> = ended.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [recent.to_string(), old.to_string()]);

    let off = SessionRoutes::new().with_recently_signed_out(Duration::ZERO);
    let app = app_with(&b, off).await;
    let mut me = signed_in(&app, "alice").await;
    let (_, ended) = listed(&mut me).await;
    assert!(ended.is_empty(), "{ended:?}");
}

async fn ended_sessions_cannot_be_revoked_again_and_give_no_access(b: Backend) {
    let app = app_with(&b, SessionRoutes::new()).await;
    let mut me = signed_in(&app, "alice").await;
    let mut other = signed_in(&app, "alice").await;
    let id = session_id(&mut other).await;
    let path = format!("/sessions/{id}");
    assert_eq!(me.send_with("DELETE", &path, &[SAME]).await.status, 204);
    // Listed as ended, and nothing more can be done to it.
    assert_eq!(listed(&mut me).await.1.len(), 1);
    let again = me.send_with("DELETE", &path, &[SAME]).await;
    assert_eq!(again.status, 404, "{}", again.body);
    assert_eq!(again.json()["error"], "not_found");
    let form = me
        .send_with("POST", &format!("{path}/revoke"), &[SAME])
        .await;
    assert_eq!(form.status, 404);
    let res = me
        .send_with("POST", "/sessions/revoke-others", &[SAME])
        .await;
    assert_eq!(res.json()["revoked"], 0, "an ended session counted again");
    assert_eq!(other.me().await, None, "an ended session still signs in");
    let (live, ended) = listed(&mut me).await;
    assert_eq!((live.len(), ended.len()), (1, 1));
    assert_eq!(ended[0]["reason"], "user", "the reason was overwritten");
}

async fn the_page_shows_them_collapsed(b: Backend) {
    let app = app_with(&b, SessionRoutes::new()).await;
    let mut me = signed_in(&app, "alice").await;
    let page = |body: &str| body.to_owned();
    let res = me
        .send_with("GET", "/sessions", &[("accept", "text/html")])
        .await;
    assert!(
        !page(&res.body).contains("Recently signed out"),
        "no section without ended sessions"
    );
    let mut other = signed_in(&app, "alice").await;
    let id = session_id(&mut other).await;
    assert_eq!(
        me.send_with("DELETE", &format!("/sessions/{id}"), &[SAME])
            .await
            .status,
        204
    );
    let res = me
        .send_with("GET", "/sessions", &[("accept", "text/html")])
        .await;
    assert_eq!(res.status, 200);
    let html = res.body;
    let section = html
        .split("<details class=\"ended\">")
        .nth(1)
        .expect("no collapsed section");
    let section = section.split("</details>").next().unwrap();
    assert!(
        section.contains("<summary>Recently signed out (1)</summary>"),
        "{section}"
    );
    assert!(
        section.contains("Signed out from another device"),
        "{section}"
    );
    assert!(!section.contains("<form"), "an ended session has a button");
    assert!(
        !html.contains(&format!("/sessions/{id}/revoke")),
        "an ended session can be signed out"
    );
    assert!(
        !html.contains("<details class=\"ended\" open"),
        "not collapsed"
    );
}

/// A revoked row keeps what the list and the audit show, not the data:
/// logout, revocation from another device and by an operator all clear it;
/// the live session keeps its own.
async fn ended_sessions_keep_no_data(b: Backend) {
    let app = app_with(&b, SessionRoutes::new()).await;
    let mut me = signed_in(&app, "alice").await;
    let mut others = Vec::new();
    for _ in 0..3 {
        let mut c = signed_in(&app, "alice").await;
        assert_eq!(c.put_kv("secret", "s3cret").await.status, 204);
        let id: uuid::Uuid = session_id(&mut c).await.parse().unwrap();
        others.push((c, id));
    }
    assert_eq!(me.put_kv("mine", "kept").await.status, 204);
    assert_eq!(others[0].0.post("/logout").await.status, 303);
    let path = format!("/sessions/{}", others[1].1);
    assert_eq!(me.send_with("DELETE", &path, &[SAME]).await.status, 204);
    let admin = SessionAdmin::new(b.store.clone());
    let (by, why) = (RevokedBy::operator("cli"), RevokeReason::other("incident"));
    assert!(admin.revoke(others[2].1, by, why).await.unwrap());
    for (_, id) in &others {
        let row = b.store.get(*id).await.unwrap().expect("the row stays");
        assert!(row.revoked_at.is_some());
        assert!(row.data.is_empty(), "{id}: {:?}", row.data);
    }
    let mine: uuid::Uuid = session_id(&mut me).await.parse().unwrap();
    let row = b.store.get(mine).await.unwrap().unwrap();
    assert_eq!(row.data["mine"], "kept");
}
