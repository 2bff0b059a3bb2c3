//! "Your devices" with many devices: `GET /sessions?limit=&cursor=` and the
//! page's link to the next page, on every store, over real HTTP.

use crate::common;

use axum_user_sessions::{SessionLayer, SessionRoutes};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Backend, Client, TestApp};
use serde_json::Value;
use std::collections::HashSet;
use time::OffsetDateTime;

everywhere!(
    json_pages_list_every_session_once,
    limits_and_cursors_are_checked,
    the_page_shows_fifty_and_links_to_the_next,
    the_json_list_pages_by_default,
);

const SAME: (&str, &str) = ("sec-fetch-site", "same-origin");

async fn app(b: &Backend) -> TestApp {
    let layer: SessionLayer = b.layer();
    common::serve(common::demo::routes_with(SessionRoutes::new()).layer(layer)).await
}

/// `n` sessions of `user` made in the store, last seen 1, 2, … `n` minutes
/// ago (two of them at the same time, to page through a tie).
async fn sessions(b: &Backend, user: &str, n: i64) -> Vec<String> {
    let now = OffsetDateTime::now_utc();
    let mut ids = Vec::new();
    for i in 1..=n {
        let seen = now - time::Duration::minutes(i.min(n - 1));
        let id = b.seed_session(user, seen).await;
        ids.push(id.to_string());
    }
    ids
}

async fn page(c: &mut Client, query: &str) -> Value {
    let res = c.get(&format!("/sessions?{query}")).await;
    assert_eq!(res.status, 200, "{query}: {}", res.body);
    res.json()
}

async fn refused(c: &mut Client, query: &str, code: &str) {
    let res = c.get(&format!("/sessions?{query}")).await;
    assert_eq!(res.status, 422, "{query}: {}", res.body);
    assert_eq!(res.json()["error"], code, "{query}");
}

fn ids(page: &Value) -> Vec<String> {
    page["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn json_pages_list_every_session_once(b: Backend) {
    let app = app(&b).await;
    let stored = sessions(&b, "alice", 9).await;
    let mut me = Client::new(&app);
    me.login("alice").await;
    let me_id = me.get("/me").await.json()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut seen: Vec<String> = Vec::new();
    let mut last_seen: Vec<String> = Vec::new();
    let mut query = "limit=4".to_owned();
    let mut pages = 0;
    loop {
        let body = page(&mut me, &query).await;
        let got = ids(&body);
        assert!(got.len() <= 4);
        for s in body["sessions"].as_array().unwrap() {
            last_seen.push(s["last_seen_at"].as_str().unwrap().to_owned());
        }
        seen.extend(got);
        pages += 1;
        if pages == 1 {
            // Activity between pages: a new sign-in (it goes to the top, on
            // page one) and a revocation of a session not yet listed.
            Client::new(&app).login("alice").await;
            let doomed = &stored[8];
            let res = me
                .send_with("DELETE", &format!("/sessions/{doomed}"), &[SAME])
                .await;
            assert_eq!(res.status, 204);
        }
        match body["next_cursor"].as_str() {
            Some(c) => query = format!("limit=4&cursor={c}"),
            None => break,
        }
        assert!(pages < 10, "the pages do not end");
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a session on two pages: {seen:?}");
    let mut want: Vec<String> = stored[..8].to_vec();
    want.insert(0, me_id);
    assert_eq!(seen, want, "most recently active first, each once");
    assert_eq!(pages, 3);
    let times: Vec<OffsetDateTime> = last_seen
        .iter()
        .map(|t| OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
}

async fn limits_and_cursors_are_checked(b: Backend) {
    let app = app(&b).await;
    sessions(&b, "alice", 3).await;
    let mut me = Client::new(&app);
    me.login("alice").await;
    for (query, code) in [
        ("limit=0", "invalid_limit"),
        ("limit=201", "invalid_limit"),
        ("limit=many", "invalid_limit"),
        ("cursor=not-a-cursor", "invalid_cursor"),
        ("limit=2&cursor=MTIzLnh5eg", "invalid_cursor"),
    ] {
        refused(&mut me, query, code).await;
    }
    // Edited cursors whose time no store can hold or no list gave (the year
    // -9999, the year 0, before 1970): refused alike on every store.
    let id = uuid::Uuid::new_v4().simple();
    for micros in [-377_705_116_800_000_000_i64, -62_167_219_200_000_000, -1] {
        let c = URL_SAFE_NO_PAD.encode(format!("{micros}.{id}"));
        refused(&mut me, &format!("limit=2&cursor={c}"), "invalid_cursor").await;
    }
    // Without a limit, the first 50, with a cursor (null: no more).
    let all = page(&mut me, "").await;
    assert_eq!(ids(&all).len(), 4);
    assert_eq!(all["next_cursor"], Value::Null);
    // A last page says so; a cursor works with `include=ended` too.
    let one = page(&mut me, "limit=4").await;
    assert_eq!(
        (ids(&one).len(), one["next_cursor"].clone()),
        (4, Value::Null)
    );
    let first = page(&mut me, "limit=1&include=ended").await;
    assert!(first["ended"].is_array());
    let c = first["next_cursor"].as_str().unwrap().to_owned();
    let second = page(&mut me, &format!("limit=1&cursor={c}")).await;
    assert_eq!(ids(&second).len(), 1);
    assert_ne!(ids(&second), ids(&first));
    // Another user's cursor shows nothing of theirs: cursors are positions.
    let mut bob = Client::new(&app);
    bob.login("bob").await;
    let theirs = page(&mut bob, &format!("limit=5&cursor={c}")).await;
    assert!(ids(&theirs).is_empty(), "{theirs}");
}

async fn the_page_shows_fifty_and_links_to_the_next(b: Backend) {
    let app = app(&b).await;
    sessions(&b, "alice", 52).await;
    let mut me = Client::new(&app);
    me.login("alice").await;
    let html = |c: &mut Client, path: String| {
        let c = c.clone();
        async move {
            let mut c = c;
            let res = c.send_with("GET", &path, &[("accept", "text/html")]).await;
            assert_eq!(res.status, 200, "{path}");
            res.body
        }
    };
    let first = html(&mut me, "/sessions".into()).await;
    assert_eq!(first.matches("<li class=\"device\">").count(), 50);
    let href = first
        .split("rel=\"next\"")
        .next()
        .and_then(|s| s.rsplit("href=\"").next())
        .and_then(|s| s.split('"').next())
        .expect("no link to the next page")
        .replace("&amp;", "&");
    assert!(href.starts_with("/sessions?cursor="), "{href}");
    let second = html(&mut me, href).await;
    assert_eq!(second.matches("<li class=\"device\">").count(), 3);
    assert!(!second.contains("rel=\"next\""));
}

/// Without `limit`, the JSON list is the first 50, with the cursor of the
/// rest: no request lists every session of a user with many.
async fn the_json_list_pages_by_default(b: Backend) {
    let app = app(&b).await;
    sessions(&b, "alice", 60).await;
    let mut me = Client::new(&app);
    me.login("alice").await;
    let first = page(&mut me, "").await;
    assert_eq!(ids(&first).len(), 50);
    let s = &first["sessions"][0];
    for field in ["id", "current", "device", "last_seen_at", "expires_at"] {
        assert!(s.get(field).is_some(), "{field} missing: {s}");
    }
    let c = first["next_cursor"].as_str().expect("a cursor").to_owned();
    let rest = page(&mut me, &format!("cursor={c}")).await;
    assert_eq!(ids(&rest).len(), 11);
    assert_eq!(rest["next_cursor"], Value::Null);
    let all: HashSet<String> = ids(&first).into_iter().chain(ids(&rest)).collect();
    assert_eq!(all.len(), 61);
}
