//! The layer's API-client settings: bearer tokens and the header that
//! carries a new token.

use super::SessionLayer;
use axum::http::HeaderName;

/// API clients.
impl SessionLayer {
    /// Lets a session be carried by an `Authorization: Bearer <token>`
    /// header instead of the cookie, for API clients (mobile apps,
    /// scripts). Default: off (the header is ignored).
    ///
    /// A bearer session is a session like any other: the same token format
    /// checks (a malformed header costs no query), hashing, idle and
    /// absolute expiry, rotation, revocation and binding. An API client
    /// signs in with [`Session::login_api_client`](crate::Session::login_api_client),
    /// and is listed in "Your devices" as an API client.
    ///
    /// - **One credential per request.** A request whose `Authorization`
    ///   header uses the `Bearer` scheme is a bearer request: its cookies
    ///   are not read, not touched and not cleared, and its response never
    ///   sets a cookie. A `Bearer` header that is not one well-formed token
    ///   (a malformed or oversized token, two `Authorization` headers) means
    ///   "no session" (never an error). Other schemes (`Basic`) leave the
    ///   cookie in charge.
    /// - **A token works only where it was issued.** A browser's session
    ///   token sent as a bearer token names no session, nor does an API
    ///   client's token sent as a cookie (the session is not revoked for
    ///   it: its own client keeps working). Such a request writes nothing
    ///   to the session (not its activity, idle deadline, IP or place) and
    ///   raises a [`WrongChannel`](crate::SessionEventKind::WrongChannel)
    ///   security event: a cookie token used as a bearer token suggests a
    ///   stolen cookie.
    /// - **New tokens in a header.** A sign-in or a rotation answers the new
    ///   token in the [token header](Self::with_session_token_header)
    ///   (`Session-Token`), with `Cache-Control: no-store`. Rotation keeps
    ///   its two phases: the old token keeps working until the client uses
    ///   the new one (then for the [grace window](Self::with_rotation_grace)),
    ///   so a lost response never signs the client out. A client should use
    ///   the newest token it received.
    /// - **No CSRF rules.** A bearer request carries no ambient credential,
    ///   so the same-origin rule of the ready-made routes does not apply to
    ///   it: an API client can list and revoke its user's sessions.
    ///
    /// ```
    /// use axum::{Router, routing::{get, post}};
    /// use axum_user_sessions::{MemoryStore, Session, SessionLayer};
    ///
    /// async fn api_login(session: Session) -> Result<&'static str, axum_user_sessions::Error> {
    ///     // ... check the credentials, then:
    ///     session.login_api_client(42).await?; // the token goes in `Session-Token`
    ///     Ok("signed in")
    /// }
    ///
    /// let app: Router = Router::new()
    ///     .route("/api/login", post(api_login))
    ///     .route("/api/me", get(|s: Session| async move { format!("{:?}", s.user_id()) }))
    ///     .layer(SessionLayer::new(MemoryStore::new()).with_bearer_tokens(true));
    /// ```
    pub fn with_bearer_tokens(self, on: bool) -> Self {
        self.config(|c| c.bearer_tokens = on)
    }

    /// The response header that carries an API client's new session token
    /// (after [`login_api_client`](crate::Session::login_api_client) or a
    /// rotation of a bearer session). Default: `Session-Token`.
    ///
    /// ```
    /// use axum_user_sessions::{MemoryStore, SessionLayer};
    /// let layer = SessionLayer::new(MemoryStore::new())
    ///     .with_bearer_tokens(true)
    ///     .with_session_token_header("x-session-token");
    /// ```
    ///
    /// # Panics
    ///
    /// When `name` is not a valid header name, or is one with a meaning of
    /// its own (`Set-Cookie`, `Authorization`, `Cache-Control`, ...).
    pub fn with_session_token_header(self, name: impl AsRef<str>) -> Self {
        let name = HeaderName::try_from(name.as_ref()).unwrap_or_else(|_| {
            panic!(
                "axum-user-sessions: {:?} is not a valid header name",
                name.as_ref()
            )
        });
        assert!(
            !RESERVED.contains(&name.as_str()),
            "axum-user-sessions: {name} has a meaning of its own: pick another token header"
        );
        self.config(|c| c.session_token_header = name)
    }
}

/// Headers the token must not go in.
const RESERVED: [&str; 8] = [
    "set-cookie",
    "cookie",
    "authorization",
    "cache-control",
    "content-type",
    "content-length",
    "location",
    "www-authenticate",
];
