//! The browser test's WebDriver plumbing: chromedriver, a Chromium
//! profile, and the screenshot check.

use super::common;
use fantoccini::{Client, ClientBuilder};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub(crate) struct Driver {
    child: Child,
    pub(crate) url: String,
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

pub(crate) async fn start_driver() -> Driver {
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

pub(crate) async fn browser(
    driver: &Driver, profile: &std::path::Path, user_agent: &str,
) -> Client {
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
        "--window-size=900,1100".into(),
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

/// Checks the PNG decodes and is not one flat colour.
pub(crate) fn assert_not_blank(png_bytes: &[u8]) {
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
