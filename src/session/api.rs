//! Sign-in of an API client (a mobile app, a script): its token goes in the
//! response's token header, never in a cookie. The HTTP side is in
//! `crate::bearer`.

use super::{Session, State};
use crate::error::Error;
use crate::store::SignIn;
use std::fmt;

impl Session {
    /// Whether this request's session is an API client's: it came in an
    /// `Authorization: Bearer` header
    /// ([`with_bearer_tokens`](crate::SessionLayer::with_bearer_tokens)), or
    /// the request signed one in with [`login_api_client`](Self::login_api_client).
    /// New tokens then go in the response's token header, never in a cookie.
    /// `false` for a request without a session.
    pub fn is_api_client(&self) -> bool {
        let st = self.state();
        st.api && st.record.is_some()
    }

    /// Whether the request carried its session in `Authorization: Bearer`:
    /// no ambient credential, so the routes' same-origin rule is moot.
    #[cfg_attr(not(feature = "routes"), allow(dead_code))]
    pub(crate) fn is_bearer_request(&self) -> bool {
        self.inner.bearer
    }

    /// Signs `user_id` in as an API client: like [`login`](Self::login), but
    /// the new session token is answered in the response's token header
    /// (`Session-Token` by default,
    /// [`with_session_token_header`](crate::SessionLayer::with_session_token_header))
    /// and no cookie is ever set. The client then sends it as
    /// `Authorization: Bearer <token>`, which needs
    /// [`with_bearer_tokens(true)`](crate::SessionLayer::with_bearer_tokens).
    /// The session is listed in "Your devices" as an API client.
    ///
    /// On a request that carries a bearer session, that session signs in
    /// (as [`login`](Self::login) does). On a browser's request (no
    /// `Authorization` header), a new session is started for the API client:
    /// the browser's own session and cookies are left as they were, and
    /// changes the handler made to the browser's session before this call
    /// are dropped.
    ///
    /// ```
    /// use axum_user_sessions::Session;
    ///
    /// async fn api_login(session: Session) -> Result<String, axum_user_sessions::Error> {
    ///     // ... check the username and password, then:
    ///     session.login_api_client(42).await?;
    ///     assert!(session.is_api_client());
    ///     Ok(r#"{"user_id":"42"}"#.into())
    /// }
    /// ```
    pub async fn login_api_client(&self, user_id: impl fmt::Display) -> Result<(), Error> {
        self.login_api_client_with(user_id, SignIn::default()).await
    }

    /// [`login_api_client`](Self::login_api_client), recording `how` the
    /// client signed in, as [`login_with`](Self::login_with) does.
    ///
    /// ```
    /// use axum_user_sessions::{Session, SignIn};
    ///
    /// async fn api_login(session: Session) -> Result<(), axum_user_sessions::Error> {
    ///     session.login_api_client_with(42, SignIn::new("password")).await
    /// }
    /// ```
    pub async fn login_api_client_with(
        &self, user_id: impl fmt::Display, how: SignIn,
    ) -> Result<(), Error> {
        if !self.inner.bearer {
            // A browser's request: its cookies' session is not this
            // client's. Loaded or not, it is left alone from here on.
            let _ = self.inner.loaded.set(());
            *self.state() = State {
                api: true,
                ..State::default()
            };
        }
        self.login_inner(user_id.to_string(), &how).await
    }
}
