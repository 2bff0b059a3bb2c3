//! A session as Redis keeps it: the fields of its hash. What a script
//! compares or a data write changes has a field of its own, so that a
//! write is one script that parses nothing: `v` the version, `e` the
//! epoch, `r` the revocation (present iff revoked: `[at, reason, by]`),
//! `x` present iff a sign-in moved the session away (it takes no write),
//! `ts` and `te` the activity (last seen, idle end, Unix nanoseconds),
//! `ip` and `loc` the last IP and its place label, `g` the slot's
//! generation when it was inserted (set by the scripts,
//! [`not_before`](super::not_before)), `q` the tokens of the last
//! `update_value` calls and the versions they wrote (so that the same
//! call sent again is not compared a second time; read by the scripts
//! only, kept by a swap), and
//! `d:<key>` each key
//! of the data (its JSON text, as `serde_json` writes it). The rest is
//! `b` ([`codec`](super::codec)), which no script reads. The scripts
//! ([`scripts`](super::scripts)) name these fields too.

use super::codec::{blob, instant, nanos, unblob};
use crate::store::error::Error;
use crate::store::storage::StoredSession;
use serde_json::Value;
use std::net::IpAddr;

/// The hash field of the version.
pub(super) const VERSION: &str = "v";
/// The hash field of the epoch.
pub(super) const EPOCH: &str = "e";
/// The hash field of the rest of the record and the credentials.
const BLOB: &str = "b";
/// The hash field of the revocation: `[at, reason, by]`.
const REVOKED: &str = "r";
/// The hash field of `last_seen_at`.
const SEEN: &str = "ts";
/// The hash field of `expires_at`.
const EXPIRES: &str = "te";
/// The hash field of `last_ip`.
const LAST_IP: &str = "ip";
/// The hash field of the place label.
const LOCATION: &str = "loc";
/// The hash field present iff the session takes no write though it is not
/// revoked ([`SessionRecord::takes_writes`](crate::store::SessionRecord::takes_writes):
/// a sign-in moved it away), for the scripts to check as they check `r`.
const CLOSED: &str = "x";
/// The hash field of the slot's generation at the session's insert
/// (written by the scripts only).
const GENERATION: &str = "g";
/// What the hash field of a data key starts with.
const DATA: &str = "d:";

/// The hash field of the data key `key`.
pub(super) fn data_field(key: &str) -> String {
    format!("{DATA}{key}")
}

/// A JSON value as the text of its data field.
pub(super) fn value_text(value: &Value) -> Result<String, Error> {
    Ok(serde_json::to_string(value)?)
}

/// A data field's text as its JSON value.
pub(super) fn value_of(text: &[u8]) -> Result<Value, Error> {
    serde_json::from_slice(text).map_err(|_| Error::Corrupt("a data value is not JSON"))
}

/// An IP as the text of its field.
pub(super) fn ip_text(ip: IpAddr) -> String {
    ip.to_string()
}

/// `session` as the field-value pairs of its hash.
pub(super) fn encode(session: &StoredSession) -> Result<Vec<(String, String)>, Error> {
    let r = &session.record;
    let mut fields = vec![
        (VERSION.to_owned(), r.version.to_string()),
        (EPOCH.to_owned(), session.epoch.to_string()),
        (BLOB.to_owned(), blob(session)?),
        (SEEN.to_owned(), nanos(r.last_seen_at)?.to_string()),
        (EXPIRES.to_owned(), nanos(r.expires_at)?.to_string()),
    ];
    if let Some(ip) = r.last_ip {
        fields.push((LAST_IP.to_owned(), ip_text(ip)));
    }
    if let Some(loc) = &r.location {
        fields.push((LOCATION.to_owned(), loc.clone()));
    }
    if let Some(at) = r.revoked_at {
        let how = (
            nanos(at)?,
            r.revoke_reason.as_deref().unwrap_or_default(),
            r.revoked_by.as_deref().unwrap_or_default(),
        );
        fields.push((REVOKED.to_owned(), serde_json::to_string(&how)?));
    }
    if r.revoked_at.is_none() && !r.takes_writes() {
        fields.push((CLOSED.to_owned(), "1".to_owned()));
    }
    for (k, v) in &r.data {
        fields.push((data_field(k), value_text(v)?));
    }
    Ok(fields)
}

/// The session whose hash `HGETALL` answered as `flat` (field, value,
/// field, value…), with its slot's generation at its insert
/// ([`not_before`](super::not_before)): `None` for an empty hash (no key).
pub(super) fn decode(flat: &[Vec<u8>]) -> Result<Option<(StoredSession, u64)>, Error> {
    if flat.is_empty() {
        return Ok(None);
    }
    let (mut blob, mut version, mut epoch, mut seen, mut expires) = (None, None, None, None, None);
    let (mut last_ip, mut location, mut revoked, mut generation) = (None, None, None, None);
    let mut data = serde_json::Map::new();
    for pair in flat.chunks(2) {
        let [name, value] = pair else {
            return Err(Error::Corrupt("a Redis reply of an unexpected type"));
        };
        let name =
            std::str::from_utf8(name).map_err(|_| Error::Corrupt("a hash field is not UTF-8"))?;
        let slot = match name {
            VERSION => &mut version,
            EPOCH => &mut epoch,
            BLOB => &mut blob,
            SEEN => &mut seen,
            EXPIRES => &mut expires,
            LAST_IP => &mut last_ip,
            LOCATION => &mut location,
            REVOKED => &mut revoked,
            GENERATION => &mut generation,
            name => {
                if let Some(key) = name.strip_prefix(DATA) {
                    data.insert(key.to_owned(), value_of(value)?);
                }
                continue;
            }
        };
        *slot = Some(value.as_slice());
    }
    let missing = || Error::Corrupt("a session hash lacks a field");
    let (mut r, credentials) = unblob(blob.ok_or_else(missing)?)?;
    r.data = data;
    r.last_seen_at = instant(number(seen.ok_or_else(missing)?)?)?;
    r.expires_at = instant(number(expires.ok_or_else(missing)?)?)?;
    r.version = count(version.ok_or_else(missing)?)?;
    r.last_ip = last_ip
        .map(|t| {
            text(t)?
                .parse()
                .map_err(|_| Error::Corrupt("a session's IP is not an IP"))
        })
        .transpose()?;
    r.location = location.map(text).transpose()?;
    if let Some(how) = revoked {
        let (at, why, by): (i64, String, String) = serde_json::from_slice(how)
            .map_err(|_| Error::Corrupt("a session's revocation is not ours"))?;
        (r.revoked_at, r.revoke_reason, r.revoked_by) = (Some(instant(at)?), Some(why), Some(by));
    }
    let epoch = count(epoch.ok_or_else(missing)?)?;
    let generation = generation.map(count).transpose()?.unwrap_or(0);
    Ok(Some((
        StoredSession::new(r, credentials, epoch),
        generation,
    )))
}

/// The fields of a session's hash but its data: what a scan of every
/// session reads (`HMGET`, in this order), since none of what it decides
/// (collection, statistics, a count) reads the data.
pub(super) const RECORD_FIELDS: [&str; 9] = [
    VERSION, EPOCH, BLOB, SEEN, EXPIRES, LAST_IP, LOCATION, REVOKED, GENERATION,
];

/// [`decode`], from what `HMGET` of [`RECORD_FIELDS`] answered: the
/// session without its data (`None`: no key).
pub(super) fn decode_without_data(
    values: Vec<Option<Vec<u8>>>,
) -> Result<Option<(StoredSession, u64)>, Error> {
    let mut flat = Vec::with_capacity(2 * RECORD_FIELDS.len());
    for (name, value) in RECORD_FIELDS.iter().zip(values) {
        if let Some(value) = value {
            flat.extend([name.as_bytes().to_vec(), value]);
        }
    }
    decode(&flat)
}

fn text(t: &[u8]) -> Result<String, Error> {
    std::str::from_utf8(t)
        .map(str::to_owned)
        .map_err(|_| Error::Corrupt("a session field is not UTF-8"))
}

fn number(t: &[u8]) -> Result<i64, Error> {
    text(t)?
        .parse()
        .map_err(|_| Error::Corrupt("a session field is not a number"))
}

/// A version or an epoch.
pub(super) fn count(t: &[u8]) -> Result<u64, Error> {
    u64::try_from(number(t)?).map_err(|_| Error::Corrupt("a negative version"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::credentials::{Credentials, RememberState, TokenEntry};
    use crate::store::types::{SessionRecord, TokenHash, TokenState};
    use std::time::Duration;
    use time::OffsetDateTime;
    use uuid::Uuid;

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
        r.location = Some("Lyon, France".into());
        r.name = Some("work laptop".into());
        r.version = 9;
        let h = TokenHash::from_bytes([3; 32]);
        let tokens = vec![
            TokenEntry::new(h, TokenState::Current, t),
            TokenEntry::new(h, TokenState::Retired { at: t }, t),
        ];
        let m = RememberState::new([0xab; 16], h, Some(h), Some((h, t)), t, t);
        let s = StoredSession::new(r, Credentials::new(tokens, Some(m)), 4);
        let flat = flat(&s);
        assert_eq!(decode(&flat).unwrap(), Some((s, 0)));
        assert_eq!(decode(&[]).unwrap(), None);
        let bad = vec![
            b"v".to_vec(),
            b"0".to_vec(),
            b"b".to_vec(),
            b"\"x\"".to_vec(),
        ];
        assert!(matches!(decode(&bad), Err(Error::Corrupt(_))));
    }

    #[test]
    fn a_scan_reads_a_session_without_its_data() {
        let mut r = SessionRecord::new(Uuid::new_v4(), OffsetDateTime::now_utc());
        r.data
            .insert("big".into(), serde_json::json!("x".repeat(64)));
        let s = StoredSession::new(r, Credentials::new(Vec::new(), None), 2);
        let fields: std::collections::HashMap<String, String> =
            encode(&s).unwrap().into_iter().collect();
        let values = RECORD_FIELDS
            .iter()
            .map(|f| fields.get(*f).map(|v| v.clone().into_bytes()))
            .collect();
        let (read, generation) = decode_without_data(values).unwrap().unwrap();
        let mut expected = s.clone();
        expected.record.data.clear();
        assert_eq!((read, generation), (expected, 0));
        assert_eq!(decode_without_data(vec![None; 9]).unwrap(), None);
    }

    fn flat(s: &StoredSession) -> Vec<Vec<u8>> {
        encode(s)
            .unwrap()
            .into_iter()
            .flat_map(|(k, v)| [k.into_bytes(), v.into_bytes()])
            .collect()
    }
}
