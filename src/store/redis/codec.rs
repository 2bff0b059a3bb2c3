//! The field `b` of a session's hash ([`hash`](super::hash)): the record's
//! fields that no script reads or writes, and the credentials, as one
//! compact JSON value. Instants are Unix nanoseconds, hashes base64:
//! nothing is rounded, so a session reads back exactly as it was written.

use crate::store::credentials::{Credentials, RememberState, TokenEntry};
use crate::store::error::Error;
use crate::store::storage::StoredSession;
use crate::store::types::{SessionRecord, TokenHash, TokenState};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use time::OffsetDateTime;
use uuid::Uuid;

/// The record and credentials of one session, as stored.
#[derive(Serialize, Deserialize)]
struct Blob {
    id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    created: i64,
    #[serde(default)]
    authenticated: Option<i64>,
    absolute: i64,
    #[serde(default)]
    tokens_end: Option<i64>,
    rotated: i64,
    #[serde(default)]
    ip: Option<IpAddr>,
    #[serde(default)]
    agent: Option<String>,
    persistent: bool,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    method: Option<String>,
    second_factor: bool,
    api: bool,
    /// `(hash, state, replaced at, issued at)`; states: `c` current, `p`
    /// pending, `s` superseded, `r` retired.
    tokens: Vec<(String, char, Option<i64>, i64)>,
    #[serde(default)]
    remember: Option<Remember>,
}

/// A remember-me credential, as stored.
#[derive(Serialize, Deserialize)]
struct Remember {
    selector: String,
    validator: String,
    previous: Option<String>,
    pending: Option<(String, i64)>,
    rotated: i64,
    expires: i64,
}

/// Nanoseconds since the epoch: to the year 2262, which is far enough.
pub(super) fn nanos(t: OffsetDateTime) -> Result<i64, Error> {
    i64::try_from(t.unix_timestamp_nanos()).map_err(|_| Error::Corrupt("time out of range"))
}

pub(super) fn instant(n: i64) -> Result<OffsetDateTime, Error> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(n))
        .map_err(|_| Error::Corrupt("time out of range"))
}

fn opt(t: Option<OffsetDateTime>) -> Result<Option<i64>, Error> {
    t.map(nanos).transpose()
}

fn opt_instant(n: Option<i64>) -> Result<Option<OffsetDateTime>, Error> {
    n.map(instant).transpose()
}

fn hash_text(h: &TokenHash) -> String {
    B64.encode(h.as_bytes())
}

/// `N` bytes from their base64 text (hashes and selectors alike).
fn bytes_of<const N: usize>(text: &str) -> Result<[u8; N], Error> {
    let bytes = B64
        .decode(text)
        .map_err(|_| Error::Corrupt("a hash or selector is not base64"))?;
    bytes
        .try_into()
        .map_err(|_| Error::Corrupt("a hash or selector of the wrong length"))
}

fn hash_of(text: &str) -> Result<TokenHash, Error> {
    bytes_of(text).map(TokenHash::from_bytes)
}

/// The selector as the hex text of its index key.
pub(super) fn selector_text(selector: &[u8; 16]) -> String {
    selector.iter().map(|b| format!("{b:02x}")).collect()
}

/// The record's fields that have no hash field of their own, and the
/// credentials, as the JSON text of `b`.
pub(super) fn blob(session: &StoredSession) -> Result<String, Error> {
    let r = &session.record;
    let tokens = session
        .credentials
        .tokens
        .iter()
        .map(|t| {
            let (state, at) = match t.state {
                TokenState::Current => ('c', None),
                TokenState::Pending => ('p', None),
                TokenState::Superseded { at } => ('s', Some(nanos(at)?)),
                TokenState::Retired { at } => ('r', Some(nanos(at)?)),
            };
            Ok((hash_text(&t.hash), state, at, nanos(t.issued_at)?))
        })
        .collect::<Result<_, Error>>()?;
    let remember = match &session.credentials.remember {
        Some(m) => Some(Remember {
            selector: B64.encode(m.selector),
            validator: hash_text(&m.validator),
            previous: m.previous.as_ref().map(hash_text),
            pending: match m.pending {
                Some((h, at)) => Some((hash_text(&h), nanos(at)?)),
                None => None,
            },
            rotated: nanos(m.rotated_at)?,
            expires: nanos(m.expires_at)?,
        }),
        None => None,
    };
    let blob = Blob {
        id: r.id,
        user: r.user_id.clone(),
        created: nanos(r.created_at)?,
        authenticated: opt(r.authenticated_at)?,
        absolute: nanos(r.absolute_expires_at)?,
        tokens_end: opt(r.tokens_expire_at)?,
        rotated: nanos(r.rotated_at)?,
        ip: r.ip,
        agent: r.user_agent.clone(),
        persistent: r.persistent,
        name: r.name.clone(),
        method: r.sign_in_method.clone(),
        second_factor: r.second_factor,
        api: r.api_client,
        tokens,
        remember,
    };
    Ok(serde_json::to_string(&blob)?)
}

/// The record and credentials kept in `b`: the record's fields that have
/// hash fields of their own (data, activity, place, revocation, version)
/// are left as [`SessionRecord::new`] sets them, for the caller to fill.
pub(super) fn unblob(text: &[u8]) -> Result<(SessionRecord, Credentials), Error> {
    let b: Blob =
        serde_json::from_slice(text).map_err(|_| Error::Corrupt("session value is not ours"))?;
    let mut r = SessionRecord::new(b.id, instant(b.created)?);
    r.user_id = b.user;
    r.authenticated_at = opt_instant(b.authenticated)?;
    r.absolute_expires_at = instant(b.absolute)?;
    r.tokens_expire_at = opt_instant(b.tokens_end)?;
    r.rotated_at = instant(b.rotated)?;
    r.ip = b.ip;
    r.user_agent = b.agent;
    r.persistent = b.persistent;
    r.name = b.name;
    r.sign_in_method = b.method;
    r.second_factor = b.second_factor;
    r.api_client = b.api;
    Ok((r, credentials(&b.tokens, b.remember)?))
}

/// The credentials kept in `b`.
fn credentials(
    tokens: &[(String, char, Option<i64>, i64)], remember: Option<Remember>,
) -> Result<Credentials, Error> {
    let tokens = tokens
        .iter()
        .map(|(h, state, at, issued)| {
            let at = || at.ok_or(Error::Corrupt("replaced token without its time"));
            let state = match state {
                'c' => TokenState::Current,
                'p' => TokenState::Pending,
                's' => TokenState::Superseded {
                    at: instant(at()?)?,
                },
                'r' => TokenState::Retired {
                    at: instant(at()?)?,
                },
                _ => return Err(Error::Corrupt("unknown token state")),
            };
            Ok(TokenEntry::new(hash_of(h)?, state, instant(*issued)?))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let remember = match remember {
        Some(m) => Some(RememberState::new(
            bytes_of(&m.selector)?,
            hash_of(&m.validator)?,
            m.previous.as_deref().map(hash_of).transpose()?,
            match m.pending {
                Some((h, at)) => Some((hash_of(&h)?, instant(at)?)),
                None => None,
            },
            instant(m.rotated)?,
            instant(m.expires)?,
        )),
        None => None,
    };
    Ok(Credentials::new(tokens, remember))
}
