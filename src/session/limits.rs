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
use crate::store::{data_size as json_size, json_len};
use serde_json::{Map, Value};

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
        let st = self.state();
        let loaded = st.record.as_ref().map(|r| &r.data);
        let now = st.value(key);
        // A write that does not make the data larger always works: the
        // whole data is only measured when this one grows it.
        let grows = entry_size(key, value) > now.map_or(0, |v| entry_size(key, v));
        if !grows {
            return Ok(());
        }
        let mut view = Size::of(loaded);
        for (k, change) in &st.changes {
            view.set(k, loaded.and_then(|data| data.get(k)), change.as_ref());
        }
        let before = view.bytes();
        view.set(key, now, Some(value));
        let after = view.bytes();
        if after > limit && after > before {
            return Err(Error::DataTooLarge { limit });
        }
        Ok(())
    }

    /// Whether the loaded data with every pending change fits the limit:
    /// the check of changes made on a session nobody had loaded, once the
    /// commit loaded it (`Extension<Session>`: see `commit`).
    pub(super) fn check_pending(&self) -> Result<(), Error> {
        let limit = self.config().max_data_size;
        let st = self.state();
        let loaded = st.record.as_ref().map(|r| &r.data);
        let mut view = Size::of(loaded);
        for (k, change) in &st.changes {
            view.set(k, loaded.and_then(|data| data.get(k)), change.as_ref());
        }
        let after = view.bytes();
        if after > limit && after > Size::of(loaded).bytes() {
            return Err(Error::DataTooLarge { limit });
        }
        Ok(())
    }
}

/// The compact JSON size of a session's data, kept up to date as keys
/// change, without building the data: `{` and `}`, and per entry its key
/// and value, the `:` between them and the `,` before the next.
struct Size {
    /// The entries' sizes, each with its `:` and one separator.
    entries: usize,
    /// How many entries.
    len: usize,
}

impl Size {
    fn of(data: Option<&Map<String, Value>>) -> Self {
        match data {
            None => Self { entries: 0, len: 0 },
            // `{"a":1,"b":2}`: the entries and their separators, but for
            // the last one's, which `}` ends; and `{`.
            Some(data) => Self {
                entries: (json_size(data) - 1).saturating_sub(usize::from(data.is_empty())),
                len: data.len(),
            },
        }
    }

    /// `key` changes from `old` to `new` (`None`: absent).
    fn set(&mut self, key: &str, old: Option<&Value>, new: Option<&Value>) {
        if let Some(old) = old {
            self.entries -= entry_size(key, old);
            self.len -= 1;
        }
        if let Some(new) = new {
            self.entries += entry_size(key, new);
            self.len += 1;
        }
    }

    fn bytes(&self) -> usize {
        if self.len == 0 { 2 } else { self.entries + 1 }
    }
}

/// An entry's compact JSON size with its `:` and one separator (`,` or `}`).
fn entry_size(key: &str, value: &Value) -> usize {
    json_len(key) + json_len(value) + 2
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
    fn sizes_kept_by_entry_are_those_of_the_data() {
        let base = json!({"a": 1, "bé\"": ["x", {"c": null}], "n": "\u{1}"});
        let Value::Object(base) = base else {
            unreachable!()
        };
        let values = [
            json!(null),
            json!(12345),
            json!("é\n"),
            json!({"k": [1, 2]}),
        ];
        for data in [None, Some(Map::new()), Some(base)] {
            let mut size = Size::of(data.as_ref());
            let mut now = data.clone().unwrap_or_default();
            assert_eq!(size.bytes(), json_size(&now));
            for key in ["a", "z", "bé\"", "n", "a"] {
                for new in values.iter().map(Some).chain([None]) {
                    size.set(key, now.get(key), new);
                    match new {
                        Some(v) => now.insert(key.to_owned(), v.clone()),
                        None => now.remove(key),
                    };
                    assert_eq!(size.bytes(), json_size(&now), "{key} {new:?}");
                }
            }
        }
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
