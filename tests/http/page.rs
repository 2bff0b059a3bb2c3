//! "Your devices", the page is the app's: `SessionRoutes::with_page` (the
//! app's own rendering of the view model) and `with_strings` (the built-in
//! page in another language), on every store, over real HTTP.

use crate::common;

use axum::response::Html;
use axum_user_sessions::routes::{DevicesPage, PageStrings};
use axum_user_sessions::{SessionLayer, SessionRoutes};
use common::{Backend, Client, TestApp};
use time::OffsetDateTime;

conformance!(
    a_custom_page_gets_the_view_model,
    custom_strings_make_a_german_page,
    the_default_page_is_unchanged_and_escapes_names,
    a_custom_page_allows_only_its_own_scripts_unless_told,
);

const SAME: (&str, &str) = ("sec-fetch-site", "same-origin");
const SAME_RAW: (&str, &[u8]) = ("sec-fetch-site", b"same-origin");
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";

async fn app(b: &Backend, routes: SessionRoutes) -> TestApp {
    let layer: SessionLayer = b.layer();
    common::serve(common::demo::routes_with(routes).layer(layer)).await
}

/// An app's page: one line per fact of the view model, in its own layout.
fn my_page(p: &DevicesPage) -> Html<String> {
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;");
    let mut out = String::from("<!doctype html><link rel=stylesheet href=/app.css><pre>\n");
    out += &format!("devices={} ended={}\n", p.devices.len(), p.ended.len());
    out += &format!("next={}\n", p.next_page.as_deref().unwrap_or("-"));
    out += &format!(
        "others={}\n",
        p.revoke_others_action.as_deref().unwrap_or("-")
    );
    for d in &p.devices {
        out += &format!(
            "device {} title={} current={} active={} iso={} revoke={} rename={}\n",
            d.id,
            esc(&d.title),
            d.current,
            esc(&d.last_active),
            d.last_active_iso,
            d.revoke_action.as_deref().unwrap_or("-"),
            d.rename_action.as_deref().unwrap_or("-"),
        );
    }
    for e in &p.ended {
        out += &format!(
            "ended {} title={} reason={} text={}\n",
            e.id,
            esc(&e.title),
            e.reason,
            esc(&e.reason_text)
        );
    }
    Html(out + "</pre>")
}

/// `n` sessions of `user` made in the store, last seen 1 … `n` hours (and
/// 10 minutes) ago: "1 hour ago" whatever the test's speed.
async fn sessions(b: &Backend, user: &str, n: i64) {
    let now = OffsetDateTime::now_utc();
    for i in 1..=n {
        let seen = now - time::Duration::hours(i) - time::Duration::minutes(10);
        b.seed_session(user, seen).await;
    }
}

async fn signed_in(app: &TestApp, ua: Option<&str>) -> (Client, String) {
    let mut c = Client::new(app);
    if let Some(ua) = ua {
        c.user_agent = ua.into();
    }
    c.login("alice").await;
    let id = c.get("/me").await.json()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    (c, id)
}

async fn page(c: &mut Client, path: &str) -> common::Resp {
    let res = c.send_with("GET", path, &[("accept", "text/html")]).await;
    assert_eq!(res.status, 200, "{path}: {}", res.body);
    res
}

async fn post_form(c: &mut Client, path: &str, body: &str) -> u16 {
    c.send_raw(
        "POST",
        path,
        Some(("application/x-www-form-urlencoded", body.to_owned())),
        &[SAME_RAW, ("accept", b"text/html")],
    )
    .await
    .status
}

/// Signs a phone in and out again from `me`: one ended session.
async fn phone_signed_out(app: &TestApp, me: &mut Client) -> String {
    let (_phone, phone_id) = signed_in(app, Some(IPHONE)).await;
    let res = me
        .send_with("DELETE", &format!("/sessions/{phone_id}"), &[SAME])
        .await;
    assert_eq!(res.status, 204, "{}", res.body);
    phone_id
}

async fn a_custom_page_gets_the_view_model(b: Backend) {
    let app = app(&b, SessionRoutes::new().with_page(my_page)).await;
    sessions(&b, "alice", 51).await;
    let (mut me, me_id) = signed_in(&app, None).await;
    let phone_id = phone_signed_out(&app, &mut me).await;

    let res = page(&mut me, "/sessions").await;
    let body = &res.body;
    assert!(
        body.starts_with("<!doctype html><link rel=stylesheet"),
        "{body}"
    );
    assert!(
        res.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(res.headers["cache-control"], "no-store, private");
    assert_eq!(res.headers["x-frame-options"], "DENY");
    let csp = res.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && !csp.contains("style-src"),
        "the app's stylesheets are blocked: {csp}"
    );
    assert!(
        csp.contains("script-src 'self'") && csp.contains("object-src 'none'"),
        "scripts are not limited to the app's own: {csp}"
    );
    // 52 live sessions: the 50 most recent, a link to the others, the ended phone.
    assert!(body.contains("devices=50 ended=1\n"), "{body}");
    let next = body
        .lines()
        .find_map(|l| l.strip_prefix("next="))
        .unwrap()
        .to_owned();
    assert!(next.starts_with("/sessions?cursor="), "{next}");
    assert!(body.contains("others=/sessions/revoke-others\n"));
    let mine = format!("device {me_id} title=Firefox on Linux current=true active=Active now iso=");
    assert!(body.contains(&mine), "{body}");
    assert!(body.contains(&format!("revoke=- rename=/sessions/{me_id}/rename\n")));
    assert!(body.contains("current=false active=Last active 1 hour ago"));
    assert!(body.contains(&format!(
        "ended {phone_id} title=Safari on iPhone reason=user text=Signed out from another device\n"
    )));

    // The forms of the view work: rename, then revoke one of the others.
    let rename = format!("/sessions/{me_id}/rename");
    assert_eq!(post_form(&mut me, &rename, "name=Desk+%3Cb%3E").await, 303);
    let body = page(&mut me, "/sessions").await.body;
    assert!(
        body.contains(&format!("device {me_id} title=Desk &lt;b>")),
        "{body}"
    );
    let revoke = body
        .lines()
        .filter_map(|l| l.split(" revoke=").nth(1))
        .find(|r| !r.starts_with('-'))
        .and_then(|r| r.split(' ').next())
        .unwrap()
        .to_owned();
    assert_eq!(post_form(&mut me, &revoke, "").await, 303);
    assert!(page(&mut me, "/sessions").await.body.contains("ended=2"));

    // The next page: the rest, no ended section (first page only).
    let body = page(&mut me, &next).await.body;
    assert!(body.contains("devices=2 ended=0\nnext=-\n"), "{body}");
    // JSON is untouched by the custom page: 51 sessions, 50 on its first
    // page.
    let json = me.get("/sessions").await.json();
    assert_eq!(json["sessions"].as_array().unwrap().len(), 50);
    let rest = me
        .get(&format!(
            "/sessions?cursor={}",
            json["next_cursor"].as_str().unwrap()
        ))
        .await
        .json();
    assert_eq!(rest["sessions"].as_array().unwrap().len(), 1);
}

fn german() -> PageStrings {
    let mut de = PageStrings::default();
    de.lang = "de".into();
    de.title = "Deine Geräte".into();
    de.intro = "Hier bist du angemeldet.".into();
    de.this_device = "Dieses Gerät".into();
    de.sign_out = "Abmelden".into();
    de.sign_out_label = "{device} abmelden".into();
    de.rename = "Umbenennen".into();
    de.sign_out_others = "Überall sonst abmelden".into();
    de.last_active = "Zuletzt aktiv {time}".into();
    de.hour_ago = "vor {n} Stunde".into();
    de.hours_ago = "vor {n} Stunden".into();
    de.recently_signed_out = "Kürzlich abgemeldet ({n})".into();
    de.reason_signed_out_elsewhere = "Von einem anderen Gerät abgemeldet".into();
    de.signed_in = "Angemeldet am {date}".into();
    de
}

async fn custom_strings_make_a_german_page(b: Backend) {
    let app = app(&b, SessionRoutes::new().with_strings(german())).await;
    sessions(&b, "alice", 2).await;
    let (mut me, _) = signed_in(&app, None).await;
    phone_signed_out(&app, &mut me).await;
    let html = page(&mut me, "/sessions").await.body;
    for want in [
        "<html lang=\"de\">",
        "<title>Deine Geräte</title>",
        "<h1>Deine Geräte</h1>",
        "Hier bist du angemeldet.",
        "Dieses Gerät",
        ">Abmelden</button>",
        "aria-label=\"Unknown device abmelden\"",
        ">Überall sonst abmelden</button>",
        ">Umbenennen</button>",
        "Zuletzt aktiv vor 1 Stunde",
        "Zuletzt aktiv vor 2 Stunden",
        "Angemeldet am ",
        "Kürzlich abgemeldet (1)",
        "Von einem anderen Gerät abgemeldet",
    ] {
        assert!(html.contains(want), "{want:?} missing: {html}");
    }
    for english in [
        "Your devices",
        "Sign out",
        "Last active",
        "Recently signed out",
    ] {
        assert!(!html.contains(english), "{english:?} still English: {html}");
    }
    // The JSON's reason_text stays English (an API, not the page).
    let json = me.get("/sessions?include=ended").await.json();
    assert_eq!(
        json["ended"][0]["reason_text"],
        "Signed out from another device"
    );
}

async fn the_default_page_is_unchanged_and_escapes_names(b: Backend) {
    let app = app(&b, SessionRoutes::new()).await;
    let (mut me, _) = signed_in(&app, None).await;
    let (_laptop, laptop_id) = signed_in(&app, None).await;
    phone_signed_out(&app, &mut me).await;
    let rename = format!("/sessions/{laptop_id}/rename");
    let hostile = "name=%3Cscript%3Ealert(1)%3C%2Fscript%3E";
    assert_eq!(post_form(&mut me, &rename, hostile).await, 303);
    let res = page(&mut me, "/sessions").await;
    let html = &res.body;
    assert!(!html.contains("<script"), "a name is not escaped: {html}");
    assert!(
        html.contains("<h2>&lt;script&gt;alert(1)&lt;/script&gt;</h2>"),
        "{html}"
    );
    assert!(html.contains("aria-label=\"Sign out &lt;script&gt;alert(1)&lt;/script&gt;\""));
    for want in [
        "<html lang=\"en\">",
        "<title>Your devices</title>",
        "<h1>Your devices</h1>",
        "Where you are signed in. Sign out any device you do not recognise.",
        "<span class=\"badge\">This device</span>",
        "Active now",
        "Last active just now",
        "Signed in ",
        "placeholder=\"Name this device\"",
        ">Rename</button>",
        ">Sign out everywhere else</button>",
        "<summary>Recently signed out (1)</summary>",
        "<span class=\"reason\">Signed out from another device</span>",
        "aria-label=\"Recently signed-out devices\"",
    ] {
        assert!(html.contains(want), "{want:?} missing: {html}");
    }
    let csp = res.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("style-src 'sha256-"), "{csp}");
}

/// The default policy of an app's page runs only the app's own script
/// files (no inline script, no plugin); `without_page_script_policy` leaves
/// scripts to the app and keeps the rest; a policy of the page's own wins.
async fn a_custom_page_allows_only_its_own_scripts_unless_told(b: Backend) {
    let strict = policy(&b, SessionRoutes::new().with_page(my_page)).await;
    let rules: Vec<&str> = strict.split(';').map(str::trim).collect();
    for rule in [
        "script-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'self'",
    ] {
        assert!(rules.contains(&rule), "{rule} missing: {strict}");
    }
    let open = policy(
        &b,
        SessionRoutes::new()
            .with_page(my_page)
            .without_page_script_policy(),
    )
    .await;
    assert!(
        !open.contains("script-src") && !open.contains("object-src"),
        "{open}"
    );
    assert!(open.contains("frame-ancestors 'none'"), "{open}");
    let own = policy(
        &b,
        SessionRoutes::new().with_page(|p: &DevicesPage| {
            let mut res = axum::response::IntoResponse::into_response(my_page(p));
            res.headers_mut().insert(
                "content-security-policy",
                axum::http::HeaderValue::from_static("script-src 'nonce-abc'"),
            );
            res
        }),
    )
    .await;
    assert_eq!(own, "script-src 'nonce-abc'");
}

/// The `Content-Security-Policy` of the page `routes` answer.
async fn policy(b: &Backend, routes: SessionRoutes) -> String {
    let app = app(b, routes).await;
    let (mut me, _) = signed_in(&app, None).await;
    let res = page(&mut me, "/sessions").await;
    res.headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned()
}
