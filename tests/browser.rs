//! "Your devices" in a real browser: headless Chromium driven over WebDriver
//! (fantoccini + chromedriver). Two browser profiles sign in as the same
//! user; the first sees both devices, signs the other out, and the other is
//! signed out on its next page load. On the way the first names itself
//! through the page's form and finds the other under "Recently signed
//! out", and a script signed in with a bearer token listed as an API
//! client; it signs in after a wrong password with a second factor and
//! trusts itself, sees the failed attempt and its "Trusted" badge, and
//! forgets itself; another test pages through more than 50 devices. A screenshot of the page is kept as an
//! artifact (and, with `AUS_UPDATE_SCREENSHOT=1`, as docs/your-devices.png).
//!
//! `scripts/test.sh` installs Debian's `chromium` and `chromium-driver` when
//! they are missing.

mod common;
#[path = "browser/driver.rs"]
mod driver;

use common::Backend;
use driver::{assert_not_blank, browser, start_driver};
use fantoccini::{Client, Locator};
use std::time::Duration;

const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

/// Fills the demo's sign-in form with `password`, ticks `boxes`, submits.
async fn submit_sign_in(c: &Client, base: &str, user: &str, password: &str, boxes: &[&str]) {
    c.goto(&format!("{base}/")).await.unwrap();
    for (field, value) in [("username", user), ("password", password)] {
        let css = format!("input[name={field}]");
        let input = c.find(Locator::Css(&css)).await.unwrap();
        input.send_keys(value).await.unwrap();
    }
    for name in boxes {
        let css = format!("input[name={name}]");
        let tick = c.find(Locator::Css(&css)).await.unwrap();
        tick.click().await.unwrap();
    }
    let button = c.find(Locator::Css("form[action='/login'] button"));
    button.await.unwrap().click().await.unwrap();
}

async fn sign_in(c: &Client, base: &str, user: &str) {
    sign_in_ticking(c, base, user, &[]).await;
}

async fn sign_in_ticking(c: &Client, base: &str, user: &str, boxes: &[&str]) {
    submit_sign_in(c, base, user, "password", boxes).await;
    let signed_in = common::eventually(Duration::from_secs(10), || async {
        let src = c.source().await.ok()?;
        src.contains("Signed in as").then_some(())
    })
    .await;
    assert!(signed_in.is_some(), "{user} could not sign in");
}

async fn device_count(c: &Client) -> usize {
    // Live devices only: the recently signed-out ones sit in their own section.
    c.find_all(Locator::Css("li.device:not(.ended-device)"))
        .await
        .unwrap()
        .len()
}

#[sqlx::test(migrations = false)]
async fn two_browsers_one_signs_the_other_out(pool: sqlx::PgPool) {
    let b = Backend::postgres(pool).await;
    // Plain http on 127.0.0.1: no `Secure`, as the demo does by default.
    // With the demo's API sign-in, for the API client in the list.
    let routes =
        common::demo::routes().route("/api/login", axum::routing::post(common::demo::api::login));
    let layer = b.layer().with_secure(false).with_bearer_tokens(true);
    let app = common::serve(routes.layer(layer)).await;
    let driver = start_driver().await;
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let laptop = browser(&driver, dirs.0.path(), FIREFOX).await;
    let phone = browser(&driver, dirs.1.path(), IPHONE).await;

    sign_in(&phone, &app.base, "alice").await;
    // A wrong password first, then a sign-in with a second factor that
    // trusts the laptop.
    submit_sign_in(&laptop, &app.base, "alice", "wrong", &[]).await;
    let refused = common::eventually(Duration::from_secs(10), || async {
        let src = laptop.source().await.ok()?;
        src.contains("Wrong username or password").then_some(())
    })
    .await;
    assert!(refused.is_some(), "the wrong password was accepted");
    let boxes = ["second_factor", "trust_device"];
    sign_in_ticking(&laptop, &app.base, "alice", &boxes).await;

    // The laptop follows the "Your devices" link.
    laptop
        .find(Locator::LinkText("Your devices"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(
        laptop
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/sessions")
    );
    assert_eq!(device_count(&laptop).await, 2);
    let page = laptop.source().await.unwrap();
    assert!(
        page.contains("This device") && page.contains("Safari on iPhone"),
        "{page}"
    );
    // The laptop is trusted; the wrong password is shown (recorded off the
    // response path: reload until it is there).
    let mine = "//li[contains(@class,'device')][.//span[@class='badge' and text()='This device']]";
    let trusted = format!("{mine}//span[@class='badge trusted' and text()='Trusted']");
    assert!(
        laptop.find(Locator::XPath(&trusted)).await.is_ok(),
        "{page}"
    );
    let failed = common::eventually(Duration::from_secs(10), || async {
        let section = laptop.find(Locator::Css("section.failed")).await;
        if section.is_err() {
            laptop.refresh().await.ok()?;
        }
        section.ok()?.text().await.ok()
    })
    .await
    .expect("the failed sign-in is not shown");
    assert!(
        failed.contains("Failed sign-ins since your last sign-in (1)")
            && failed.contains("Firefox on Linux"),
        "{failed}"
    );

    // Name this device through the page's form (no JavaScript).
    laptop
        .find(Locator::XPath(&format!("{mine}//input[@name='name']")))
        .await
        .unwrap()
        .send_keys("Work laptop")
        .await
        .unwrap();
    laptop
        .find(Locator::XPath(&format!(
            "{mine}//form[@class='rename']//button"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let named = common::eventually(Duration::from_secs(10), || async {
        let h2 = laptop
            .find(Locator::XPath(&format!("{mine}//h2")))
            .await
            .ok()?;
        let text = h2.text().await.ok()?;
        text.starts_with("Work laptop").then_some(())
    })
    .await;
    assert!(named.is_some(), "the name was not shown");
    let kind = laptop
        .find(Locator::XPath(&format!(
            "{mine}//p[contains(@class,'device-kind')]"
        )))
        .await
        .unwrap();
    assert_eq!(kind.text().await.unwrap(), "Firefox on Linux");

    // Sign the phone out: the only "Sign out" button is the other device's.
    laptop
        .find(Locator::Css(
            "button[aria-label='Sign out Safari on iPhone']",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let one_left = common::eventually(Duration::from_secs(10), || async {
        (device_count(&laptop).await == 1).then_some(())
    })
    .await;
    assert!(one_left.is_some(), "the list still shows the phone");
    assert!(laptop.source().await.unwrap().contains("This device"));

    // The phone is in "Recently signed out", collapsed, with the reason.
    let summary = laptop
        .find(Locator::Css("details.ended summary"))
        .await
        .unwrap();
    assert_eq!(summary.text().await.unwrap(), "Recently signed out (1)");
    let ended = laptop.find(Locator::Css("li.ended-device")).await.unwrap();
    assert!(!ended.is_displayed().await.unwrap(), "not collapsed");
    summary.click().await.unwrap();
    let text = ended.text().await.unwrap();
    assert!(
        text.contains("Safari on iPhone") && text.contains("Signed out from another device"),
        "{text}"
    );
    assert!(
        ended.find(Locator::Css("button")).await.is_err(),
        "an ended session can be signed out again"
    );

    // A script signs in as an API client (a bearer token, no cookie): the
    // page lists it as one, next to this device.
    let res = reqwest::Client::new()
        .post(format!("{}/api/login", app.base))
        .header("user-agent", "backup-script/2.1")
        .json(&serde_json::json!({"username": "alice", "password": "password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("session-token"), "no token");
    assert!(
        res.headers().get("set-cookie").is_none(),
        "a cookie for a script"
    );
    laptop.refresh().await.unwrap();
    let listed = common::eventually(Duration::from_secs(10), || async {
        (device_count(&laptop).await == 2).then_some(())
    })
    .await;
    assert!(listed.is_some(), "the API client is not listed");
    let api = laptop
        .find(Locator::XPath(
            "//li[contains(@class,'device') and not(contains(@class,'ended-device'))]\
             [not(.//span[@class='badge' and text()='This device'])]//h2",
        ))
        .await
        .unwrap();
    let title = api.text().await.unwrap();
    assert!(title.starts_with("API client"), "{title}");
    // The API client's sign-in was alice's last: the list shows the attempts
    // since, such as a wrong password on the signed-out phone.
    submit_sign_in(&phone, &app.base, "alice", "wrong", &[]).await;
    let failed = common::eventually(Duration::from_secs(10), || async {
        laptop.refresh().await.ok()?;
        let text = laptop.find(Locator::Css("section.failed")).await.ok()?;
        let text = text.text().await.ok()?;
        text.contains("Safari on iPhone").then_some(text)
    })
    .await
    .expect("the phone's wrong password is not shown");
    assert!(failed.contains("(1)"), "{failed}");
    // The reload closed the ended section: open it again for the screenshot.
    laptop
        .find(Locator::Css("details.ended summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // The screenshot docs/your-devices.png: a failed sign-in, a named and
    // trusted device, and the ended section, open.
    let shot = laptop.screenshot().await.unwrap();
    assert_not_blank(&shot);
    let artifacts = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    std::fs::write(artifacts.join("your-devices.png"), &shot).unwrap();
    println!(
        "screenshot: {}",
        artifacts.join("your-devices.png").display()
    );
    if std::env::var("AUS_UPDATE_SCREENSHOT").is_ok_and(|v| v == "1") {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::write(docs.join("your-devices.png"), &shot).unwrap();
    }

    // "Forget this device": the badge goes.
    let forget = format!("{mine}//button[text()='Forget this device']");
    laptop
        .find(Locator::XPath(&forget))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let forgotten = common::eventually(Duration::from_secs(10), || async {
        laptop
            .find(Locator::XPath(&trusted))
            .await
            .is_err()
            .then_some(())
    })
    .await;
    assert!(forgotten.is_some(), "the laptop is still trusted");

    // The phone is signed out on its next page load.
    phone.goto(&format!("{}/", app.base)).await.unwrap();
    let src = phone.source().await.unwrap();
    assert!(
        !src.contains("Signed in as"),
        "the phone is still signed in"
    );
    assert!(
        phone
            .find(Locator::Css("input[name=username]"))
            .await
            .is_ok()
    );
    // ... and the laptop is not.
    laptop.goto(&format!("{}/", app.base)).await.unwrap();
    assert!(laptop.source().await.unwrap().contains("Signed in as"));

    laptop.close().await.unwrap();
    phone.close().await.unwrap();
}

/// More than 50 devices: the page shows the 50 most recently active and
/// links to the next page, which shows the rest.
#[sqlx::test(migrations = false)]
async fn many_devices_come_in_pages(pool: sqlx::PgPool) {
    use time::OffsetDateTime;
    let b = Backend::postgres(pool).await;
    let now = OffsetDateTime::now_utc();
    for i in 1..=52 {
        let seen = now - time::Duration::hours(i);
        b.seed_session("alice", seen).await;
    }
    // With the demo's API sign-in, for the API client in the list.
    let routes =
        common::demo::routes().route("/api/login", axum::routing::post(common::demo::api::login));
    let layer = b.layer().with_secure(false).with_bearer_tokens(true);
    let app = common::serve(routes.layer(layer)).await;
    let driver = start_driver().await;
    let dir = tempfile::tempdir().unwrap();
    let c = browser(&driver, dir.path(), FIREFOX).await;
    sign_in(&c, &app.base, "alice").await;
    c.goto(&format!("{}/sessions", app.base)).await.unwrap();
    // 53 devices: this one and the 49 most recent of the others.
    assert_eq!(device_count(&c).await, 50);
    assert!(c.source().await.unwrap().contains("This device"));
    c.find(Locator::Css("a[rel=next]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let rest = common::eventually(Duration::from_secs(10), || async {
        (device_count(&c).await == 3).then_some(())
    })
    .await;
    assert!(rest.is_some(), "the next page does not show the other 3");
    assert!(
        c.current_url()
            .await
            .unwrap()
            .query()
            .is_some_and(|q| q.starts_with("cursor="))
    );
    assert!(
        c.find(Locator::Css("a[rel=next]")).await.is_err(),
        "a link past the end"
    );
    assert!(!c.source().await.unwrap().contains("This device"));
    c.close().await.unwrap();
}
