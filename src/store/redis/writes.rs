//! The data and activity writes, each one script and one round trip: the
//! script checks what [`StoredSession::apply_write`] checks (the session is
//! there, not revoked, not of an older generation than its slot's "not
//! before" ([`not_before`](super::not_before)), at the version Rust
//! expects; for
//! [`update_value`](crate::store::SessionStore::update_value), the key
//! holds the JSON text Rust expects) and applies the patch and activity
//! Rust computed, counting one version. The rules stay in Rust: the script
//! compares what it is given and writes the fields it is given.
//!
//! [`StoredSession::apply_write`]: crate::store::StoredSession::apply_write

use super::conn::Call;
use super::hash::{data_field, ip_text, value_of, value_text};
use super::scripts::{UPDATE, WRITE};
use super::storage::RedisStorage;
use crate::store::error::Error;
use crate::store::storage::{Write, WriteOutcome};
use crate::store::types::UpdateOutcome;
use redis::Value as Reply;
use serde_json::Value;
use uuid::Uuid;

/// How many times a compare-and-set of one key reads again when the key
/// held the expected value with another JSON text (`1.0` for `1e0`).
const RETRIES: usize = 4;

impl RedisStorage {
    /// [`SessionStore::write`](crate::store::SessionStore::write): one
    /// [`WRITE`] script.
    pub(super) async fn write_data(
        &self, id: Uuid, write: &Write<'_>,
    ) -> Result<WriteOutcome, Error> {
        let expected = write.expected_version.map(|v| v.to_string());
        let mut call = Call::new(&WRITE)
            .key(self.keys.session(id))
            .key(self.keys.not_before_of(id))
            .arg(expected.unwrap_or_default());
        call = match &write.activity {
            Some(a) => call
                .arg(super::codec::nanos(a.last_seen_at)?)
                .arg(super::codec::nanos(a.expires_at)?)
                .arg(a.new_ip.map(ip_text).unwrap_or_default()),
            None => call.arg("").arg("").arg(""),
        };
        let (mut remove, mut set) = (Vec::new(), Vec::new());
        if let Some(patch) = write.patch {
            remove.extend(patch.remove.iter().map(|k| data_field(k)));
            for (k, v) in &patch.set {
                set.push((data_field(k), value_text(v)?));
            }
        }
        call = call.arg(remove.len());
        for field in remove {
            call = call.arg(field);
        }
        match self.conn.run::<i64>(&call.pairs(set), None).await? {
            -1 => Ok(WriteOutcome::Gone),
            -2 => Ok(WriteOutcome::Conflict),
            v => Ok(WriteOutcome::Written {
                version: u64::try_from(v)
                    .map_err(|_| Error::Corrupt("a Redis reply of an unexpected type"))?,
            }),
        }
    }

    /// [`SessionStore::update_value`](crate::store::SessionStore::update_value):
    /// one [`UPDATE`] script, comparing JSON texts. A key that holds the
    /// expected value under another text (written by another client) is
    /// compared as a value in Rust, then set on the text it holds.
    pub(super) async fn update_key(
        &self, id: Uuid, key: &str, expected: Option<&Value>, new: Option<&Value>,
    ) -> Result<UpdateOutcome, Error> {
        let field = data_field(key);
        let new = new.map(value_text).transpose()?.unwrap_or_default();
        let mut held = expected.map(value_text).transpose()?.unwrap_or_default();
        for _ in 0..RETRIES {
            let call = Call::new(&UPDATE)
                .key(self.keys.session(id))
                .key(self.keys.not_before_of(id))
                .arg(&field)
                .arg(&held)
                .arg(&new)
                .arg(Uuid::new_v4());
            let reply: Vec<Reply> = self.conn.run(&call, None).await?;
            let mut reply = reply.into_iter();
            let (code, second) = (reply.next(), reply.next());
            match (code, second) {
                (Some(Reply::Int(-1)), _) => return Ok(UpdateOutcome::Gone),
                (Some(Reply::Int(1)), Some(Reply::Int(v))) => {
                    let version = u64::try_from(v).map_err(|_| corrupt())?;
                    return Ok(UpdateOutcome::Updated { version });
                }
                (Some(Reply::Int(0)), current) => {
                    let text = match current {
                        None | Some(Reply::Nil) => None,
                        Some(Reply::BulkString(t)) => Some(t),
                        Some(_) => return Err(corrupt()),
                    };
                    let current = text.as_deref().map(value_of).transpose()?;
                    if current.as_ref() != expected {
                        return Ok(UpdateOutcome::Conflict { current });
                    }
                    // The expected value, written as another text: set
                    // it on the text it holds.
                    held = String::from_utf8(text.unwrap_or_default()).map_err(|_| corrupt())?;
                }
                _ => return Err(corrupt()),
            }
        }
        // The key kept changing between equal values: nothing written.
        Ok(UpdateOutcome::Conflict {
            current: expected.cloned(),
        })
    }
}

fn corrupt() -> Error {
    Error::Corrupt("a Redis reply of an unexpected type")
}
