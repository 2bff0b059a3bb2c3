//! "Your devices" in a real browser: headless Chromium driven over WebDriver
//! (fantoccini + chromedriver). Two browser profiles sign in as the same
//! user; the first sees both devices, signs the other out, and the other is
//! signed out on its next page load. A screenshot of the page is kept as an
//! artifact (and, with `AUS_UPDATE_SCREENSHOT=1`, as docs/your-devices.png).
//!
//! `scripts/test.sh` installs Debian's `chromium` and `chromium-driver` when
//! they are missing.

mod common;

use common::Backend;
use fantoccini::{Client, ClientBuilder, Locator};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_exe(candidates: &[&str]) -> Option<String> {
    candidates
        .iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(|p| p.to_string())
}

async fn start_driver() -> Driver {
    let exe = find_exe(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]).expect(
        "chromedriver not found: run scripts/test.sh (it installs Debian's chromium and \
         chromium-driver), or apt-get install chromium chromium-driver",
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(exe)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let url = format!("http://127.0.0.1:{port}");
    let ready = common::eventually(Duration::from_secs(20), || {
        let status = format!("{url}/status");
        async move {
            let res = reqwest::get(&status).await.ok()?;
            res.status().is_success().then_some(())
        }
    })
    .await;
    assert!(ready.is_some(), "chromedriver did not start");
    Driver { child, url }
}

async fn browser(driver: &Driver, profile: &std::path::Path, user_agent: &str) -> Client {
    let chromium = find_exe(&["/usr/bin/chromium", "/usr/bin/chromium-browser"])
        .expect("chromium not found: run scripts/test.sh or apt-get install chromium");
    let args = vec![
        "--headless=new".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--window-size=900,700".into(),
        format!("--user-agent={user_agent}"),
        format!("--user-data-dir={}", profile.display()),
    ];
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({ "binary": chromium, "args": args }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("open a Chromium session")
}

async fn sign_in(c: &Client, base: &str, user: &str) {
    c.goto(&format!("{base}/")).await.unwrap();
    c.find(Locator::Css("input[name=username]"))
        .await
        .unwrap()
        .send_keys(user)
        .await
        .unwrap();
    c.find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys("password")
        .await
        .unwrap();
    c.find(Locator::Css("form[action='/login'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
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

/// Checks the PNG decodes and is not one flat colour.
fn assert_not_blank(png_bytes: &[u8]) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("PNG frame");
    let pixels = &buf[..info.buffer_size()];
    let step = info.color_type.samples();
    let mut colours = std::collections::HashSet::new();
    for px in pixels.chunks(step) {
        colours.insert(px.to_vec());
        if colours.len() > 16 {
            break;
        }
    }
    assert!(
        info.width >= 300 && info.height >= 300,
        "{}x{}",
        info.width,
        info.height
    );
    assert!(
        colours.len() > 16,
        "the screenshot is blank ({} colours)",
        colours.len()
    );
}

#[sqlx::test(migrations = false)]
async fn two_browsers_one_signs_the_other_out(pool: sqlx::PgPool) {
    let b = Backend::postgres(pool).await;
    // Plain http on 127.0.0.1: no `Secure`, as the demo does by default.
    let app = common::serve(common::demo::routes().layer(b.layer().with_secure(false))).await;
    let driver = start_driver().await;
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let laptop = browser(&driver, dirs.0.path(), FIREFOX).await;
    let phone = browser(&driver, dirs.1.path(), IPHONE).await;

    sign_in(&phone, &app.base, "alice").await;
    sign_in(&laptop, &app.base, "alice").await;

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
