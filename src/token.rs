//! Session tokens: the secret in the cookie, and its SHA-256, which is all the
//! store ever sees.

use crate::store::TokenHash;
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::{TryRng as _, rngs::SysRng};
use sha2::{Digest as _, Sha256};
use std::fmt;

/// Number of random bytes in a token (256 bits).
pub(crate) const TOKEN_BYTES: usize = 32;
/// Length of a token in the cookie: base64url without padding of 32 bytes.
pub(crate) const TOKEN_CHARS: usize = 43;

/// Whether `text` is the one base64url form of `bytes`, `N` characters long:
/// encoded on the stack, as this runs on every request that has a cookie.
fn canonical<const N: usize>(bytes: &[u8], text: &str) -> bool {
    let mut buf = [0u8; N];
    URL_SAFE_NO_PAD.encode_slice(bytes, &mut buf) == Ok(N) && buf == text.as_bytes()
}

/// The secret carried by the session cookie. Never stored, never logged.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Token([u8; TOKEN_BYTES]);

impl Token {
    /// A new token from the operating system's CSPRNG.
    pub(crate) fn generate() -> Result<Self, crate::error::Error> {
        let mut bytes = [0u8; TOKEN_BYTES];
        SysRng
            .try_fill_bytes(&mut bytes)
            .map_err(|_| crate::error::Error::Rng)?;
        Ok(Self(bytes))
    }

    /// Parses a cookie value. Anything but exactly 43 base64url characters
    /// decoding to 32 bytes is rejected, before any database work.
    pub(crate) fn parse(value: &str) -> Option<Self> {
        if value.len() != TOKEN_CHARS {
            return None;
        }
        let mut bytes = [0u8; TOKEN_BYTES];
        match URL_SAFE_NO_PAD.decode_slice(value.as_bytes(), &mut bytes) {
            // `decode_slice` accepts non-canonical trailing bits; re-encoding
            // keeps exactly one textual form per token.
            Ok(TOKEN_BYTES) if canonical::<TOKEN_CHARS>(&bytes, value) => Some(Self(bytes)),
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

/// Length of a remember-me cookie: 22 (selector) + 1 + 43 (validator).
pub(crate) const REMEMBER_CHARS: usize = 66;
/// Length of a remember-me selector: base64url without padding of 16 bytes.
const SELECTOR_CHARS: usize = 22;

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
        let mut selector = [0u8; 16];
        SysRng
            .try_fill_bytes(&mut selector)
            .map_err(|_| crate::error::Error::Rng)?;
        Ok(Self {
            selector,
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
        let (sel, val) = value.split_once('.')?;
        let mut selector = [0u8; 16];
        match URL_SAFE_NO_PAD.decode_slice(sel.as_bytes(), &mut selector) {
            Ok(16) if canonical::<SELECTOR_CHARS>(&selector, sel) => {}
            _ => return None,
        }
        Some(Self {
            selector,
            validator: Token::parse(val)?,
        })
    }

    pub(crate) fn encode(&self) -> String {
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(self.selector),
            self.validator.encode()
        )
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
    fn tokens_differ() {
        let a = Token::generate().unwrap();
        let b = Token::generate().unwrap();
        assert_ne!(a, b);
    }
}
