//! What a write may put in a session: at most the layer's data limit
//! ([`Error::DataTooLarge`]), and no U+0000 ([`Error::NulCharacter`]), which
//! Postgres cannot store. Checked before anything reaches a store, the same
//! way for every store.
//!
//! The size is that of the session's whole data (every key and value) as
//! compact JSON (`serde_json::to_vec`), after the write: a write that would
//! make it larger than the limit fails, unless it does not make the data
//! larger than it is (removing keys, or replacing a value with a shorter
//! one, always works). The check sees the data as this request loaded it
//! with its own changes; see `SessionLayer::with_max_data_size` for what
//! that means with concurrent requests.

use super::Session;
use crate::error::Error;
use crate::store::data_size as json_size;
use serde_json::Value;

/// Whether `value` holds U+0000 in a string or an object key.
pub(crate) fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// [`Error::NulCharacter`] when `text` (a key, a user id) holds U+0000.
pub(crate) fn check_text(text: &str) -> Result<(), Error> {
    if text.contains('\0') {
        return Err(Error::NulCharacter);
    }
    Ok(())
}

impl Session {
    /// Checks that setting `key` to `value` (`None`: removing it) may be
    /// written: no U+0000, and within the data limit, counted on this
    /// request's data with its pending changes.
    pub(super) fn check_write(&self, key: &str, value: Option<&Value>) -> Result<(), Error> {
        check_text(key)?;
        let Some(value) = value else {
            return Ok(()); // a removal only shrinks the data
        };
        if has_nul(value) {
            return Err(Error::NulCharacter);
        }
        let limit = self.config().max_data_size;
        let mut data = self.entries();
        let before = json_size(&data);
        data.insert(key.to_owned(), value.clone());
        let after = json_size(&data);
        if after > limit && after > before {
            return Err(Error::DataTooLarge { limit });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, json};

    #[test]
    fn size_is_that_of_compact_json() {
        let data = json!({"a": 1, "bé": ["x", {"c": null}]});
        let Value::Object(map) = data else {
            unreachable!()
        };
        assert_eq!(json_size(&map), serde_json::to_vec(&map).unwrap().len());
        assert_eq!(json_size(&Map::new()), 2);
    }

    #[test]
    fn nul_is_found_in_strings_and_keys_at_any_depth() {
        assert!(!has_nul(&json!({"a": ["b", 1, null, {"c": "d"}]})));
        assert!(has_nul(&json!("a\u{0}")));
        assert!(has_nul(&json!([{"x": ["y\u{0}"]}])));
        assert!(has_nul(&json!({"k\u{0}": 1})));
        assert!(check_text("user\u{0}").is_err());
        assert!(check_text("user").is_ok());
    }
}
