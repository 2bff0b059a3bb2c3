//! A session as Redis keeps it: the record and credentials as one compact
//! JSON value (the field `b` of the session's hash), its version and epoch
//! beside it (fields `v` and `e`), which the scripts compare. Instants are
//! Unix nanoseconds, hashes base64: nothing is rounded, so a session reads
//! back exactly as it was written.

use crate::store::credentials::{Credentials, RememberState, TokenEntry};
use crate::store::error::Error;
use crate::store::storage::StoredSession;
use crate::store::types::{SessionRecord, TokenHash, TokenState};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::net::IpAddr;
use time::OffsetDateTime;
use uuid::Uuid;

/// The record and credentials of one session, as stored.
#[derive(Serialize, Deserialize)]
struct Blob {
    id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    data: Map<String, Value>,
    created: i64,
    #[serde(default)]
    authenticated: Option<i64>,
    seen: i64,
    expires: i64,
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
    revoked: Option<(i64, String, String)>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    last_ip: Option<IpAddr>,
    #[serde(default)]
    location: Option<String>,
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

fn instant(n: i64) -> Result<OffsetDateTime, Error> {
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

/// `session`'s record and credentials as the JSON text of its hash's `b`.
pub(super) fn encode(session: &StoredSession) -> Result<String, Error> {
    let r = &session.record;
    let revoked = match r.revoked_at {
        Some(at) => Some((
            nanos(at)?,
            r.revoke_reason.clone().unwrap_or_default(),
            r.revoked_by.clone().unwrap_or_default(),
        )),
        None => None,
    };
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
        data: r.data.clone(),
        created: nanos(r.created_at)?,
        authenticated: opt(r.authenticated_at)?,
        seen: nanos(r.last_seen_at)?,
        expires: nanos(r.expires_at)?,
        absolute: nanos(r.absolute_expires_at)?,
        tokens_end: opt(r.tokens_expire_at)?,
        rotated: nanos(r.rotated_at)?,
        ip: r.ip,
        agent: r.user_agent.clone(),
        persistent: r.persistent,
        revoked,
        name: r.name.clone(),
        last_ip: r.last_ip,
        location: r.location.clone(),
        method: r.sign_in_method.clone(),
        second_factor: r.second_factor,
        api: r.api_client,
        tokens,
        remember,
    };
    Ok(serde_json::to_string(&blob)?)
}

/// The session kept as `text`, at `version` and `epoch`.
pub(super) fn decode(text: &[u8], version: u64, epoch: u64) -> Result<StoredSession, Error> {
    let b: Blob =
        serde_json::from_slice(text).map_err(|_| Error::Corrupt("session value is not ours"))?;
    let (revoked_at, revoke_reason, revoked_by) = match b.revoked {
        Some((at, why, by)) => (Some(instant(at)?), Some(why), Some(by)),
        None => (None, None, None),
    };
    let record = SessionRecord {
        id: b.id,
        user_id: b.user,
        data: b.data,
        created_at: instant(b.created)?,
        authenticated_at: opt_instant(b.authenticated)?,
        last_seen_at: instant(b.seen)?,
        expires_at: instant(b.expires)?,
        absolute_expires_at: instant(b.absolute)?,
        tokens_expire_at: opt_instant(b.tokens_end)?,
        rotated_at: instant(b.rotated)?,
        ip: b.ip,
        user_agent: b.agent,
        persistent: b.persistent,
        revoked_at,
        revoke_reason,
        revoked_by,
        name: b.name,
        version,
        last_ip: b.last_ip,
        location: b.location,
        sign_in_method: b.method,
        second_factor: b.second_factor,
        api_client: b.api,
    };
    let tokens = b
        .tokens
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
    let remember = match b.remember {
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
    Ok(StoredSession::new(
        record,
        Credentials::new(tokens, remember),
        epoch,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_session_reads_back_exactly() {
        let t = OffsetDateTime::now_utc();
        let mut r = SessionRecord::new(Uuid::new_v4(), t);
        r.user_id = Some("alice".into());
        r.data
            .insert("k".into(), serde_json::json!({"n": [1, 2.5, null]}));
        r.revoked_at = Some(t + Duration::from_nanos(7));
        r.revoke_reason = Some("user".into());
        r.revoked_by = Some("alice".into());
        r.last_ip = Some("2001:db8::1".parse().unwrap());
        r.version = 9;
        let h = TokenHash::from_bytes([3; 32]);
        let tokens = vec![
            TokenEntry::new(h, TokenState::Current, t),
            TokenEntry::new(h, TokenState::Retired { at: t }, t),
        ];
        let m = RememberState::new([0xab; 16], h, Some(h), Some((h, t)), t, t);
        let s = StoredSession::new(r, Credentials::new(tokens, Some(m)), 4);
        let text = encode(&s).unwrap();
        assert_eq!(decode(text.as_bytes(), 9, 4).unwrap(), s);
        assert!(matches!(decode(b"\"x\"", 0, 0), Err(Error::Corrupt(_))));
    }
}
