//! Session tokens: the secret in the cookie, and its SHA-256, which is all the
//! store ever sees.

use crate::store::TokenHash;
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::{TryRng as _, rngs::SysRng};
use sha2::{Digest as _, Sha256};
use std::fmt;
use uuid::Uuid;

/// Number of random bytes in a token (256 bits).
pub(crate) const TOKEN_BYTES: usize = 32;
/// Length of a token in the cookie: base64url without padding of 32 bytes.
pub(crate) const TOKEN_CHARS: usize = 43;

/// `N` bytes from the operating system's CSPRNG.
fn random<const N: usize>() -> Result<[u8; N], crate::error::Error> {
    let mut bytes = [0u8; N];
    SysRng
        .try_fill_bytes(&mut bytes)
        .map_err(|_| crate::error::Error::Rng)?;
    Ok(bytes)
}

/// The secret carried by the session cookie. Never stored, never logged.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Token([u8; TOKEN_BYTES]);

impl Token {
    /// A new token from the operating system's CSPRNG.
    pub(crate) fn generate() -> Result<Self, crate::error::Error> {
        Ok(Self(random()?))
    }

    /// Parses a cookie value. Anything but exactly 43 base64url characters
    /// decoding to 32 bytes is rejected, before any database work.
    pub(crate) fn parse(value: &str) -> Option<Self> {
        if value.len() != TOKEN_CHARS {
            return None;
        }
        let mut bytes = [0u8; TOKEN_BYTES];
        // One textual form per token: the engine refuses padding and a last
        // character with unused bits set (`URL_SAFE_NO_PAD` keeps base64's
        // default, `decode_allow_trailing_bits(false)`), so nothing needs
        // encoding again to be compared.
        match URL_SAFE_NO_PAD.decode_slice(value.as_bytes(), &mut bytes) {
            Ok(TOKEN_BYTES) => Some(Self(bytes)),
            _ => None,
        }
    }

    /// The cookie value.
    pub(crate) fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// SHA-256 of the token: the only form that reaches a store.
    pub(crate) fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0).into())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(REDACTED)")
    }
}

/// Length of a session token that names its session: 22 (the session id)
/// + 1 + 43 (the secret).
pub(crate) const NAMED_TOKEN_CHARS: usize = 66;

/// A session token as a cookie or an `Authorization: Bearer` header carries
/// it: the secret, and the id of the session it belongs to
/// (`<id>.<secret>`, both base64url), so that the store finds the session
/// by its key and compares the secret's SHA-256 with that session's own.
/// A token of 0.1 (the secret alone) names no session: it is looked up by
/// its hash, as 0.1 did.
///
/// The id is public (it appears in the device list and in URLs): it finds
/// the row, it proves nothing.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SessionToken {
    session: Option<Uuid>,
    secret: Token,
}

impl SessionToken {
    /// A new secret for session `session` (`None`: a token of 0.1's form,
    /// for fleets that still run 0.1).
    pub(crate) fn generate(session: Option<Uuid>) -> Result<Self, crate::error::Error> {
        Ok(Self {
            session,
            secret: Token::generate()?,
        })
    }

    /// Parses a cookie or bearer value: 43 characters (the secret alone,
    /// 0.1's form) or 66 (`<id>.<secret>`), each part in its one canonical
    /// base64url form. Anything else is malformed, before any database work.
    pub(crate) fn parse(value: &str) -> Option<Self> {
        match value.len() {
            TOKEN_CHARS => Some(Self {
                session: None,
                secret: Token::parse(value)?,
            }),
            NAMED_TOKEN_CHARS => {
                let (id, secret) = parse_pair(value)?;
                Some(Self {
                    session: Some(Uuid::from_bytes(id)),
                    secret,
                })
            }
            _ => None,
        }
    }

    /// The cookie or header value.
    pub(crate) fn encode(&self) -> String {
        match self.session {
            Some(id) => encode_pair(id.as_bytes(), &self.secret),
            None => self.secret.encode(),
        }
    }

    /// The session the token names (`None` for a token of 0.1's form).
    pub(crate) fn session(&self) -> Option<Uuid> {
        self.session
    }

    /// SHA-256 of the secret: the only form of it that reaches a store.
    pub(crate) fn hash(&self) -> TokenHash {
        self.secret.hash()
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(REDACTED)")
    }
}

/// Length of a remember-me cookie: 22 (selector) + 1 + 43 (validator).
pub(crate) const REMEMBER_CHARS: usize = 66;
/// Length of a remember-me selector: base64url without padding of 16 bytes.
const SELECTOR_CHARS: usize = 22;

/// Parses `<id>.<secret>`, the form of a token that names its session and
/// of a remember-me cookie: 16 bytes (a session id, a selector) in their one
/// canonical base64url form, a dot, and a [`Token`].
fn parse_pair(value: &str) -> Option<([u8; 16], Token)> {
    let (id, secret) = value.split_once('.')?;
    let mut bytes = [0u8; 16];
    // Canonical as in `Token::parse`: the engine refuses any other form.
    match URL_SAFE_NO_PAD.decode_slice(id.as_bytes(), &mut bytes) {
        Ok(16) if id.len() == SELECTOR_CHARS => Some((bytes, Token::parse(secret)?)),
        _ => None,
    }
}

/// `<id>.<secret>`, as [`parse_pair`] reads it.
fn encode_pair(id: &[u8; 16], secret: &Token) -> String {
    format!("{}.{}", URL_SAFE_NO_PAD.encode(id), secret.encode())
}

/// The remember-me credential in its cookie: `selector.validator`. The
/// selector finds the row; the validator is the secret, stored as SHA-256.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct RememberToken {
    pub(crate) selector: [u8; 16],
    validator: Token,
}

impl RememberToken {
    /// A new credential: random selector and validator.
    pub(crate) fn generate() -> Result<Self, crate::error::Error> {
        Ok(Self {
            selector: random()?,
            validator: Token::generate()?,
        })
    }

    /// The same selector with a new validator (rotation on use).
    pub(crate) fn rotated(&self) -> Result<Self, crate::error::Error> {
        Ok(Self {
            selector: self.selector,
            validator: Token::generate()?,
        })
    }

    pub(crate) fn parse(value: &str) -> Option<Self> {
        if value.len() != REMEMBER_CHARS {
            return None;
        }
        let (selector, validator) = parse_pair(value)?;
        Some(Self {
            selector,
            validator,
        })
    }

    pub(crate) fn encode(&self) -> String {
        encode_pair(&self.selector, &self.validator)
    }

    pub(crate) fn validator_hash(&self) -> TokenHash {
        self.validator.hash()
    }
}

impl fmt::Debug for RememberToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RememberToken(REDACTED)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `value` encodes to `chars` characters and parses back: the encoding.
    fn round_trips<T: PartialEq + fmt::Debug>(
        value: &T, encode: impl Fn(&T) -> String, parse: impl Fn(&str) -> Option<T>, chars: usize,
    ) -> String {
        let s = encode(value);
        assert_eq!(s.len(), chars);
        assert_eq!(parse(&s).as_ref(), Some(value));
        s
    }

    #[test]
    fn round_trip_and_length() {
        let t = Token::generate().unwrap();
        round_trips(&t, Token::encode, Token::parse, TOKEN_CHARS);
        assert_ne!(t.hash().0, t.0, "the hash is not the token");
    }

    #[test]
    fn rejects_malformed() {
        let good = Token::generate().unwrap().encode();
        for bad in [
            "",
            "short",
            &good[..42],
            &format!("{good}A"),
            &good.replace(|_: char| true, "!"),
            &format!("{}=", &good[..42]),
            &"A".repeat(10_000),
        ] {
            assert!(Token::parse(bad).is_none(), "{bad:?} accepted");
        }
        // Non-canonical final character (trailing bits set) is refused.
        let mut chars: Vec<char> = "A".repeat(43).chars().collect();
        chars[42] = 'B';
        let s: String = chars.into_iter().collect();
        assert!(Token::parse(&s).is_none());
        // So is a selector's or a session id's, before a good secret.
        let pair = |id: &str| format!("{id}.{good}");
        assert!(parse_pair(&pair(&"A".repeat(SELECTOR_CHARS))).is_some());
        for bad in [
            "AAAAAAAAAAAAAAAAAAAAAB",
            "AAAAAAAAAAAAAAAAAAAAAA==",
            "AAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(parse_pair(&pair(bad)).is_none(), "{bad:?} accepted");
        }
    }

    #[test]
    fn debug_is_redacted() {
        let t = Token::generate().unwrap();
        assert_eq!(format!("{t:?}"), "Token(REDACTED)");
        assert_eq!(format!("{:?}", t.hash()), "TokenHash(REDACTED)");
    }

    #[test]
    fn remember_tokens() {
        let r = RememberToken::generate().unwrap();
        let s = round_trips(
            &r,
            RememberToken::encode,
            RememberToken::parse,
            REMEMBER_CHARS,
        );
        let r2 = r.rotated().unwrap();
        assert_eq!(r2.selector, r.selector);
        assert!(!r2.validator_hash().ct_eq(&r.validator_hash()));
        assert!(r.validator_hash().ct_eq(&r.validator_hash()));
        for bad in ["", "x.y", &s.replace('.', "_"), &s[1..], &format!("{s}A")] {
            assert!(RememberToken::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(format!("{r:?}"), "RememberToken(REDACTED)");
    }

    #[test]
    fn session_tokens_name_their_session() {
        let id = Uuid::new_v4();
        let named = SessionToken::generate(Some(id)).unwrap();
        let s = round_trips(
            &named,
            SessionToken::encode,
            SessionToken::parse,
            NAMED_TOKEN_CHARS,
        );
        assert_eq!(named.session(), Some(id));
        let legacy = SessionToken::generate(None).unwrap();
        round_trips(
            &legacy,
            SessionToken::encode,
            SessionToken::parse,
            TOKEN_CHARS,
        );
        assert_eq!(legacy.session(), None);
        // The hash is the secret's alone: the id is public.
        let secret = &s[SELECTOR_CHARS + 1..];
        assert!(
            SessionToken::parse(secret)
                .unwrap()
                .hash()
                .ct_eq(&named.hash())
        );
        let mut other_id = s.clone();
        other_id.replace_range(0..1, if s.starts_with('A') { "B" } else { "A" });
        for bad in [
            &s.replace('.', "_"),
            &s[1..],
            &format!("{s}A"),
            &format!("{}.{}", &s[..SELECTOR_CHARS - 1], &s[SELECTOR_CHARS..]),
            // 21 id characters and 44 secret characters: the lengths add up.
            &format!("{}.{}A", &s[..SELECTOR_CHARS - 1], secret),
        ] {
            assert!(SessionToken::parse(bad).is_none(), "{bad}");
        }
        let other = SessionToken::parse(&other_id).unwrap();
        assert_ne!(other.session(), Some(id));
        assert_eq!(format!("{named:?}"), "SessionToken(REDACTED)");
    }

    #[test]
    fn tokens_differ() {
        let a = Token::generate().unwrap();
        let b = Token::generate().unwrap();
        assert_ne!(a, b);
    }
}
