//! A cookie-aware HTTP client over real connections, and its responses.

use super::TestApp;
use reqwest::header::{HeaderMap, HeaderValue};
use std::time::Duration;

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Resp {
    /// The item of a `GET /sessions` answer that `matches`; panics with the
    /// body when the answer is not a 200 or lists no such item.
    pub fn listed(&self, matches: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        assert_eq!(self.status, 200, "{}", self.body);
        self.json()["sessions"]
            .as_array()
            .unwrap_or_else(|| panic!("no session list: {}", self.body))
            .iter()
            .find(|s| matches(s))
            .cloned()
            .unwrap_or_else(|| panic!("not listed: {}", self.body))
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    /// Every `Set-Cookie` header.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// The value this response sets for cookie `name`: `Some("")` when it
    /// expires it.
    pub fn cookie_value(&self, name: &str) -> Option<String> {
        self.set_cookies().iter().find_map(|c| {
            let (pair, _) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=')?;
            (k.trim() == name).then(|| v.trim().to_owned())
        })
    }
}

/// A browser-like client that keeps one session cookie, by hand, so tests
/// can drop, replay and forge cookies.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub cookie_name: String,
    /// The session cookie's value, if any.
    pub cookie: Option<String>,
    pub remember_name: String,
    /// The remember-me cookie's value, if any.
    pub remember: Option<String>,
    pub user_agent: String,
}

impl Client {
    pub fn new(app: &TestApp) -> Self {
        Self::with_cookie_name(app, "__Host-session")
    }

    pub fn with_cookie_name(app: &TestApp, name: &str) -> Self {
        Self {
            http: http(),
            base: app.base.clone(),
            cookie_name: name.to_owned(),
            cookie: None,
            remember_name: "__Host-remember".into(),
            remember: None,
            user_agent: "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
                .into(),
        }
    }

    /// Sends a request with the current cookie, without updating it.
    pub async fn send_raw(
        &self, method: &str, path: &str, body: Option<(&str, String)>, extra: &[(&str, &[u8])],
    ) -> Resp {
        let mut req = request(&self.http, &self.base, method, path, &self.user_agent);
        let mut jar = Vec::new();
        if let Some(v) = &self.cookie {
            jar.push(format!("{}={v}", self.cookie_name));
        }
        if let Some(v) = &self.remember {
            jar.push(format!("{}={v}", self.remember_name));
        }
        if !jar.is_empty() {
            req = req.header("cookie", jar.join("; "));
        }
        finish(req, body, extra).await
    }

    /// Sends a request and keeps the cookie the response sets, like a browser.
    pub async fn send(&mut self, method: &str, path: &str, body: Option<(&str, String)>) -> Resp {
        let res = self.send_raw(method, path, body, &[]).await;
        self.absorb(&res);
        res
    }

    /// Takes the session cookie from a response, as a browser would.
    pub fn absorb(&mut self, res: &Resp) {
        if let Some(v) = res.cookie_value(&self.cookie_name) {
            self.cookie = if v.is_empty() { None } else { Some(v) };
        }
        if let Some(v) = res.cookie_value(&self.remember_name) {
            self.remember = if v.is_empty() { None } else { Some(v) };
        }
    }

    /// `send` with extra headers.
    pub async fn send_with(&mut self, method: &str, path: &str, extra: &[(&str, &str)]) -> Resp {
        let extra: Vec<(&str, &[u8])> = extra.iter().map(|(k, v)| (*k, v.as_bytes())).collect();
        let res = self.send_raw(method, path, None, &extra).await;
        self.absorb(&res);
        res
    }

    pub async fn get(&mut self, path: &str) -> Resp {
        self.send("GET", path, None).await
    }

    pub async fn post(&mut self, path: &str) -> Resp {
        self.send("POST", path, None).await
    }

    pub async fn login(&mut self, user: &str) -> Resp {
        self.login_with(user, false).await
    }

    /// Re-enters the demo's password (`POST /reauth`): the session is fresh.
    pub async fn reauth(&mut self) -> Resp {
        let form = (
            "application/x-www-form-urlencoded",
            "password=password".into(),
        );
        self.send("POST", "/reauth", Some(form)).await
    }

    /// Signs in, with "remember me" when `remember`.
    pub async fn login_with(&mut self, user: &str, remember: bool) -> Resp {
        let extra = if remember { "&remember=on" } else { "" };
        let res = self
            .send(
                "POST",
                "/login",
                Some((
                    "application/x-www-form-urlencoded",
                    format!("username={user}&password=password{extra}"),
                )),
            )
            .await;
        assert_eq!(res.status, 303, "login as {user}: {}", res.body);
        res
    }

    /// `POST /login` as `user` with the demo's password and `extra`
    /// headers, as is: the response is neither checked nor kept.
    pub async fn login_raw(&self, user: &str, extra: &[(&str, &[u8])]) -> Resp {
        let form = format!("username={user}&password=password");
        let body = Some(("application/x-www-form-urlencoded", form));
        self.send_raw("POST", "/login", body, extra).await
    }

    pub async fn put_kv(&mut self, key: &str, value: &str) -> Resp {
        self.send(
            "PUT",
            &format!("/kv/{key}"),
            Some(("text/plain", value.into())),
        )
        .await
    }

    /// `GET /me`: the user id, or `None` on 401.
    pub async fn me(&mut self) -> Option<String> {
        let res = self.get("/me").await;
        match res.status {
            200 => Some(res.json()["user_id"].as_str().unwrap().to_owned()),
            401 => None,
            s => panic!("GET /me answered {s}: {}", res.body),
        }
    }
}

/// An HTTP client that follows no redirects and gives up after 30 s.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A request for `method` `path` on `base`, as `user_agent`.
pub fn request(
    http: &reqwest::Client, base: &str, method: &str, path: &str, user_agent: &str,
) -> reqwest::RequestBuilder {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    http.request(method, format!("{base}{path}"))
        .header("user-agent", user_agent)
}

/// Adds `extra` headers and `body` (content type, text) to `req`, sends it
/// and reads the response whole.
pub async fn finish(
    mut req: reqwest::RequestBuilder, body: Option<(&str, String)>, extra: &[(&str, &[u8])],
) -> Resp {
    for (k, v) in extra {
        req = req.header(*k, HeaderValue::from_bytes(v).unwrap());
    }
    if let Some((ctype, body)) = body {
        req = req.header("content-type", ctype).body(body);
    }
    let res = req.send().await.expect("request failed");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.text().await.unwrap_or_default();
    Resp {
        status,
        headers,
        body,
    }
}
