//! How strongly a session signed in: the method and whether a second factor
//! was used, as the app tells [`Session::login_with`](crate::Session::login_with).
//! Plain data: no database, no HTTP.

/// The longest [`SignIn::method`] kept (longer ones are cut).
const MAX_METHOD: usize = 32;

/// How the user proved who they are: a sign-in or re-authentication method
/// (`"password"`, `"passkey"`, `"sso"`, …) and whether a second factor was
/// used. Stored with the session ([`SessionRecord::sign_in_method`],
/// [`SessionRecord::second_factor`](super::SessionRecord::second_factor)),
/// listed in "Your devices", and checked by
/// [`Reauth`](crate::Reauth) policies.
///
/// ```
/// use axum_user_sessions::SignIn;
///
/// let strong = SignIn::new("password").with_second_factor(true);
/// assert_eq!(strong.method.as_deref(), Some("password"));
/// assert!(strong.second_factor);
/// assert_eq!(SignIn::default().method, None); // what `login` records
/// ```
///
/// [`SessionRecord::sign_in_method`]: super::SessionRecord::sign_in_method
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignIn {
    /// The method, as the app names it; `None`: not said. At most 32
    /// characters, control characters removed.
    pub method: Option<String>,
    /// Whether a second factor (a one-time code, a security key…) was
    /// checked too.
    pub second_factor: bool,
}

impl SignIn {
    /// A sign-in by `method` (`"password"`, `"passkey"`, `"sso"`, …),
    /// without a second factor. The name is trimmed, cut at 32 characters,
    /// and stripped of control characters; an empty one is `None`.
    pub fn new(method: impl AsRef<str>) -> Self {
        let method: String = method
            .as_ref()
            .trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_METHOD)
            .collect();
        Self {
            method: (!method.is_empty()).then_some(method),
            second_factor: false,
        }
    }

    /// The same sign-in, with (`true`) or without a second factor.
    pub fn with_second_factor(mut self, used: bool) -> Self {
        self.second_factor = used;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_cleaned() {
        assert_eq!(SignIn::new("  passkey ").method.as_deref(), Some("passkey"));
        assert_eq!(SignIn::new(" \n ").method, None);
        assert_eq!(SignIn::new("a\u{7}b").method.as_deref(), Some("ab"));
        assert_eq!(SignIn::new("x".repeat(100)).method.unwrap().len(), 32);
    }
}
