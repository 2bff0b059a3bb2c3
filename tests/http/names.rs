//! "Your devices", names users give their devices: `PATCH /sessions/{id}`
//! and the page's rename form, on every store, over real HTTP.

use crate::common;

use axum_user_sessions::{SessionLayer, SessionRoutes};
use common::{Backend, Client, Resp, TestApp};
use serde_json::{Value, json};

everywhere!(
    devices_can_be_named_and_unnamed,
    names_are_checked,
    only_own_live_sessions_can_be_named,
    the_page_shows_names_and_renames_without_javascript,
    an_id_in_another_form_is_answered_as_the_list_writes_it,
);

const SAME: (&str, &str) = ("sec-fetch-site", "same-origin");
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";

async fn app(b: &Backend) -> TestApp {
    let layer: SessionLayer = b.layer();
    common::serve(common::demo::routes_with(SessionRoutes::new()).layer(layer)).await
}

async fn signed_in(app: &TestApp, user: &str, ua: Option<&str>) -> Client {
    let mut c = Client::new(app);
    if let Some(ua) = ua {
        c.user_agent = ua.into();
    }
    c.login(user).await;
    c
}

async fn session_id(c: &mut Client) -> String {
    c.get("/me").await.json()["session_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The list item of session `id`, as `c` sees it.
async fn item(c: &mut Client, id: &str) -> Value {
    c.get("/sessions").await.listed(|s| s["id"] == id)
}

async fn patch(c: &mut Client, id: &str, body: &str, headers: &[(&str, &[u8])]) -> Resp {
    let body = Some(("application/json", body.to_owned()));
    c.send_raw("PATCH", &format!("/sessions/{id}"), body, headers)
        .await
}

const SAME_RAW: (&str, &[u8]) = ("sec-fetch-site", b"same-origin");

async fn devices_can_be_named_and_unnamed(b: Backend) {
    let app = app(&b).await;
    let mut laptop = signed_in(&app, "alice", None).await;
    let mut phone = signed_in(&app, "alice", Some(IPHONE)).await;
    let phone_id = session_id(&mut phone).await;
    let laptop_id = session_id(&mut laptop).await;
    assert_eq!(item(&mut laptop, &phone_id).await["name"], Value::Null);

    // From another device of the same user, and trimmed.
    let res = patch(
        &mut laptop,
        &phone_id,
        r#"{"name": "  Work phone \n"}"#,
        &[SAME_RAW],
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json(), json!({ "id": phone_id, "name": "Work phone" }));
    assert_eq!(res.headers["cache-control"], "no-store, private");
    let it = item(&mut laptop, &phone_id).await;
    assert_eq!(it["name"], "Work phone");
    assert_eq!(it["device"], "Safari on iPhone", "the parsed name stays");
    // Its own device too; 64 characters (not bytes) are fine.
    let long = "é".repeat(64);
    let res = patch(
        &mut laptop,
        &laptop_id,
        &json!({ "name": long }).to_string(),
        &[SAME_RAW],
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(item(&mut phone, &laptop_id).await["name"], long.as_str());
    // The named session still works.
    assert_eq!(phone.me().await.as_deref(), Some("alice"));

    // `null` and blank clear it.
    let res = patch(&mut laptop, &phone_id, r#"{"name": null}"#, &[SAME_RAW]).await;
    assert_eq!((res.status, res.json()["name"].clone()), (200, Value::Null));
    assert_eq!(item(&mut laptop, &phone_id).await["name"], Value::Null);
    let res = patch(&mut laptop, &laptop_id, r#"{"name": "   "}"#, &[SAME_RAW]).await;
    assert_eq!(res.status, 200);
    assert_eq!(item(&mut laptop, &laptop_id).await["name"], Value::Null);
}

async fn names_are_checked(b: Backend) {
    let app = app(&b).await;
    let mut me = signed_in(&app, "alice", None).await;
    let id = session_id(&mut me).await;
    assert_eq!(
        patch(&mut me, &id, r#"{"name": "Desk"}"#, &[SAME_RAW])
            .await
            .status,
        200
    );
    let too_long = json!({ "name": "a".repeat(65) }).to_string();
    let cases = [
        (too_long.as_str(), "invalid_name"),
        (r#"{"name": "bell\u0007"}"#, "invalid_name"),
        (r#"{"name": "line\nbreak"}"#, "invalid_name"),
        (r#"{"name": "\u202Epot"}"#, "invalid_name"),
        // Format characters, separators and fillers that show nothing.
        (r#"{"name": "a\u061Cb"}"#, "invalid_name"),
        (r#"{"name": "a\u00ADb"}"#, "invalid_name"),
        (r#"{"name": "a\u180Eb"}"#, "invalid_name"),
        (r#"{"name": "a\u034Fb"}"#, "invalid_name"),
        (r#"{"name": "a\uFFF9b"}"#, "invalid_name"),
        (r#"{"name": "a\uDB40\uDC01b"}"#, "invalid_name"),
        (r#"{"name": "\u3164"}"#, "invalid_name"),
        (r#"{"name": "a\u2028b"}"#, "invalid_name"),
        (r#"{"name": "\u2800"}"#, "invalid_name"),
        // Combining marks alone, on nothing.
        (r#"{"name": "\u0301\u0301\u0301"}"#, "invalid_name"),
        (r#"{"name": 5}"#, "invalid_name"),
        (r#"{"nom": "x"}"#, "invalid_name"),
        ("not json", "invalid_body"),
        ("[1]", "invalid_name"),
    ];
    for (body, code) in cases {
        let res = patch(&mut me, &id, body, &[SAME_RAW]).await;
        assert_eq!(res.status, 422, "{body}: {}", res.body);
        assert_eq!(res.json()["error"], code, "{body}");
        assert!(
            res.json()["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    // Past the server's body limit (2 MB): too large, not malformed. The
    // server leaves the rest of the body unread and closes the connection:
    // the client must not take it back to its pool for the next request.
    let huge = json!({ "name": "a".repeat(3 << 20) }).to_string();
    let close = ("connection", &b"close"[..]);
    let res = patch(&mut me, &id, &huge, &[SAME_RAW, close]).await;
    assert_eq!(res.status, 413, "{}", res.body);
    assert_eq!(res.json()["error"], "body_too_large");
    assert_eq!(
        item(&mut me, &id).await["name"],
        "Desk",
        "a refused name wrote something"
    );
}

/// The id in the path may be written in any form a UUID parses from
/// (upper case, braces, percent-encoded): the answer names the session as
/// the list does, and a form goes back to the list.
async fn an_id_in_another_form_is_answered_as_the_list_writes_it(b: Backend) {
    let app = app(&b).await;
    let mut me = signed_in(&app, "alice", None).await;
    let id = session_id(&mut me).await;
    let upper = id.to_uppercase();
    let res = patch(&mut me, &upper, r#"{"name": "Desk"}"#, &[SAME_RAW]).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["id"], id.as_str());
    let mut other = signed_in(&app, "alice", None).await;
    let other_id = session_id(&mut other).await;
    let form = Some(("application/x-www-form-urlencoded", String::new()));
    let braced = format!("/sessions/%7B{other_id}%7D/revoke");
    let res = me.send_raw("POST", &braced, form, &[SAME_RAW]).await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(res.headers["location"], "/sessions");
    assert_eq!(other.get("/me").await.status, 401, "not revoked");
}

async fn only_own_live_sessions_can_be_named(b: Backend) {
    let app = app(&b).await;
    let mut alice = signed_in(&app, "alice", None).await;
    let mut alice2 = signed_in(&app, "alice", None).await;
    let mut bob = signed_in(&app, "bob", None).await;
    let alices = session_id(&mut alice).await;
    let body = r#"{"name": "Mine now"}"#;
    let other = patch(&mut bob, &alices, body, &[SAME_RAW]).await;
    let unknown = patch(
        &mut bob,
        &uuid::Uuid::new_v4().to_string(),
        body,
        &[SAME_RAW],
    )
    .await;
    let garbage = patch(&mut bob, "not-a-uuid", body, &[SAME_RAW]).await;
    assert_eq!(
        (other.status, unknown.status, garbage.status),
        (404, 404, 404)
    );
    assert_eq!(other.body, unknown.body, "the answers tell ids apart");
    let form = bob
        .send_raw(
            "POST",
            &format!("/sessions/{alices}/rename"),
            Some(("application/x-www-form-urlencoded", "name=Mine".into())),
            &[SAME_RAW],
        )
        .await;
    assert_eq!(form.status, 404);
    assert_eq!(item(&mut alice, &alices).await["name"], Value::Null);

    // Anonymous: 401; cross-site: 403; nothing written.
    let mut anon = Client::new(&app);
    let res = patch(&mut anon, &alices, body, &[SAME_RAW]).await;
    assert_eq!(
        (res.status, res.json()["error"].clone()),
        (401, json!("unauthenticated"))
    );
    for headers in [
        &[][..],
        &[("sec-fetch-site", &b"cross-site"[..])][..],
        &[("origin", &b"http://evil.example"[..])][..],
    ] {
        let res = patch(&mut alice2, &alices, body, headers).await;
        assert_eq!(res.status, 403, "{headers:?}");
        assert_eq!(res.json()["error"], "cross_site_request");
    }
    assert_eq!(item(&mut alice, &alices).await["name"], Value::Null);

    // A revoked session cannot be named any more.
    let res = alice2
        .send_with("DELETE", &format!("/sessions/{alices}"), &[SAME])
        .await;
    assert_eq!(res.status, 204);
    let res = patch(&mut alice2, &alices, body, &[SAME_RAW]).await;
    assert_eq!(res.status, 404, "{}", res.body);
}

async fn the_page_shows_names_and_renames_without_javascript(b: Backend) {
    let app = app(&b).await;
    let mut me = signed_in(&app, "alice", None).await;
    let mut phone = signed_in(&app, "alice", Some(IPHONE)).await;
    let phone_id = session_id(&mut phone).await;
    let html = page(&mut me).await;
    let action = format!("action=\"/sessions/{phone_id}/rename\"");
    assert!(html.contains(&action), "no rename form: {html}");
    assert!(html.contains("name=\"name\"") && html.contains("maxlength=\"64\""));

    // A browser's form post: urlencoded, same origin, 303 back to the list.
    let hostile = "<script>alert(1)</script> & \"Co\"";
    let body: String = format!("name={}", urlencode(hostile));
    let res = me
        .send_raw(
            "POST",
            &format!("/sessions/{phone_id}/rename"),
            Some(("application/x-www-form-urlencoded", body)),
            &[SAME_RAW, ("accept", b"text/html")],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(res.headers["location"], "/sessions");
    let html = page(&mut me).await;
    assert!(!html.contains("<script"), "the name is not escaped");
    let escaped = "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Co&quot;";
    let name_at = html.find(escaped).expect("the name is not on the page");
    let kind_at = html[name_at..]
        .find("Safari on iPhone")
        .map(|i| i + name_at);
    assert!(
        kind_at.is_some(),
        "the parsed name is not below the given one"
    );
    assert!(
        html.contains(&format!("value=\"{escaped}\"")),
        "the form does not show the name"
    );
    assert_eq!(item(&mut me, &phone_id).await["name"], hostile);

    // Refused names answer a page, not a redirect; cross-site posts are 403.
    let res = me
        .send_raw(
            "POST",
            &format!("/sessions/{phone_id}/rename"),
            Some(("application/x-www-form-urlencoded", "name=a%07b".into())),
            &[SAME_RAW, ("accept", b"text/html")],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("control"), "{}", res.body);
    let res = me
        .send_raw(
            "POST",
            &format!("/sessions/{phone_id}/rename"),
            Some(("application/x-www-form-urlencoded", "name=x".into())),
            &[("sec-fetch-site", b"cross-site"), ("accept", b"text/html")],
        )
        .await;
    assert_eq!(res.status, 403);
    // An empty field clears the name.
    let res = me
        .send_raw(
            "POST",
            &format!("/sessions/{phone_id}/rename"),
            Some(("application/x-www-form-urlencoded", "name=".into())),
            &[SAME_RAW],
        )
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(item(&mut me, &phone_id).await["name"], Value::Null);
}

async fn page(c: &mut Client) -> String {
    let res = c
        .send_with("GET", "/sessions", &[("accept", "text/html")])
        .await;
    assert_eq!(res.status, 200);
    res.body
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
