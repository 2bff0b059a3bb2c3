//! An API client (a mobile app, a script) over real HTTP: it signs in with
//! `POST /api/login`, sends its token as `Authorization: Bearer`, and keeps
//! the newest token a response gives in `Session-Token`, by hand, so tests
//! can drop, replay and forge tokens.

use super::{Resp, TestApp};
use std::time::Duration;

/// The response header that carries a new token.
pub const TOKEN_HEADER: &str = "session-token";

#[derive(Clone)]
pub struct ApiClient {
    pub http: reqwest::Client,
    pub base: String,
    /// The session token, if any.
    pub token: Option<String>,
    pub user_agent: String,
}

impl Resp {
    /// The token this response gives in `Session-Token`, if any.
    pub fn session_token(&self) -> Option<String> {
        self.headers
            .get(TOKEN_HEADER)
            .map(|v| v.to_str().unwrap().to_owned())
    }
}

impl ApiClient {
    pub fn new(app: &TestApp) -> Self {
        Self {
            http: super::client::http(),
            base: app.base.clone(),
            token: None,
            user_agent: "okhttp/4.12.0".into(),
        }
    }

    /// Sends a request with the current token (and `extra` headers),
    /// without keeping what the response gives.
    pub async fn send_raw(
        &self, method: &str, path: &str, body: Option<(&str, String)>, extra: &[(&str, &[u8])],
    ) -> Resp {
        let mut req =
            super::client::request(&self.http, &self.base, method, path, &self.user_agent);
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        super::client::finish(req, body, extra).await
    }

    /// Sends a request and keeps the token the response gives.
    pub async fn send(&mut self, method: &str, path: &str) -> Resp {
        let res = self.send_raw(method, path, None, &[]).await;
        self.absorb(&res);
        res
    }

    /// Takes the new token from a response.
    pub fn absorb(&mut self, res: &Resp) {
        if let Some(t) = res.session_token() {
            self.token = Some(t);
        }
    }

    /// `POST /api/login` with JSON credentials; keeps the token.
    pub async fn login(&mut self, user: &str) -> Resp {
        let body = serde_json::json!({ "username": user, "password": "password" }).to_string();
        let res = self
            .send_raw("POST", "/api/login", Some(("application/json", body)), &[])
            .await;
        assert_eq!(res.status, 200, "API login as {user}: {}", res.body);
        assert!(res.session_token().is_some(), "no token in the answer");
        self.absorb(&res);
        res
    }

    /// `GET /me`: the user id, or `None` on 401; keeps a new token.
    pub async fn me(&mut self) -> Option<String> {
        let res = self.send("GET", "/me").await;
        match res.status {
            200 => Some(res.json()["user_id"].as_str().unwrap().to_owned()),
            401 => None,
            s => panic!("GET /me answered {s}: {}", res.body),
        }
    }
}
