//! Writes of session data as a store receives them: key-level patches, the
//! compare-and-set of one key and its outcome, and the size that the data
//! limit and the cache's byte bound measure. Plain data, like `types.rs`.

use serde_json::{Map, Value};
/// Key-level change of a session's data.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct DataPatch {
    /// Keys to set, with their new values.
    pub set: Map<String, Value>,
    /// Keys to remove.
    pub remove: Vec<String>,
}

impl DataPatch {
    /// Whether the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.remove.is_empty()
    }

    /// Applies the patch to a data map (for stores that patch in Rust).
    pub fn apply(&self, data: &mut Map<String, Value>) {
        for key in &self.remove {
            data.remove(key);
        }
        for (k, v) in &self.set {
            data.insert(k.clone(), v.clone());
        }
    }

    /// The patch that turns `before` into `after`: the keys `after` holds
    /// with another value (or that `before` lacks), and the keys it lacks.
    pub(crate) fn between(before: &Map<String, Value>, after: &Map<String, Value>) -> DataPatch {
        let set = after
            .iter()
            .filter(|&(k, v)| before.get(k) != Some(v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let remove = before
            .keys()
            .filter(|k| !after.contains_key(*k))
            .cloned()
            .collect();
        DataPatch { set, remove }
    }

    /// One patch that does what `self` then `later` do, for a store that
    /// sends several writes of a session in one (Postgres' batches). Its
    /// keys to set and to remove are disjoint whenever each patch's are.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))] // only Postgres batches
    pub(crate) fn then(&self, later: &DataPatch) -> DataPatch {
        let mut set = self.set.clone();
        set.retain(|k, _| !later.remove.contains(k));
        set.extend(later.set.iter().map(|(k, v)| (k.clone(), v.clone())));
        let mut remove: Vec<String> = self
            .remove
            .iter()
            .filter(|k| !later.set.contains_key(*k) && !later.remove.contains(k))
            .cloned()
            .collect();
        remove.extend(later.remove.iter().cloned());
        DataPatch { set, remove }
    }
}

/// What [`SessionProtocol::update_value`](super::SessionProtocol::update_value)
/// did: the compare-and-set of one key.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum UpdateOutcome {
    /// The key held the expected value (or was absent, as expected): it now
    /// holds the new one (or is removed), and the row is at `version` (its
    /// [`SessionRecord::version`](super::types::SessionRecord::version) after the write), which lets a cache patch
    /// its copy instead of dropping it.
    Updated {
        /// The session's version after the write.
        version: u64,
    },
    /// The key held something else: nothing was written. `current` is what
    /// it holds now (`None`: absent), read while the row was held, so that a
    /// retry with it as the expected value can succeed.
    Conflict {
        /// The key's value at the time of the call.
        current: Option<Value>,
    },
    /// The session is gone or revoked: nothing was written.
    Gone,
}

impl UpdateOutcome {
    /// The compare-and-set on a session's data, for stores that decide in
    /// Rust: `Ok` (and `data` changed; the caller counts the version) or the
    /// `Conflict`.
    pub(crate) fn apply(
        data: &mut Map<String, Value>, key: &str, expected: Option<&Value>, new: Option<&Value>,
    ) -> Result<(), Self> {
        let current = data.get(key);
        if current != expected {
            return Err(Self::Conflict {
                current: current.cloned(),
            });
        }
        match new {
            Some(v) => data.insert(key.to_owned(), v.clone()),
            None => data.remove(key),
        };
        Ok(())
    }

    /// Whether the key was written.
    pub fn is_updated(&self) -> bool {
        matches!(self, Self::Updated { .. })
    }
}

impl DataPatch {
    /// The patch a compare-and-set that succeeded applied: `key` set to
    /// `new`, or removed.
    pub(crate) fn of_key(key: &str, new: Option<&Value>) -> Self {
        let mut patch = Self::default();
        match new {
            Some(v) => {
                patch.set.insert(key.to_owned(), v.clone());
            }
            None => patch.remove.push(key.to_owned()),
        }
        patch
    }
}

/// The length of `data` serialized as compact JSON (`serde_json::to_vec`),
/// counted without building it: what the layer's data limit and the cache's
/// byte bound measure.
pub(crate) fn data_size(data: &Map<String, Value>) -> usize {
    json_len(data)
}

/// The length of `value` as compact JSON, counted without building it.
pub(crate) fn json_len<T: serde::Serialize + ?Sized>(value: &T) -> usize {
    /// Counts the bytes written to it.
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Serializing JSON values, maps and strings into a writer that never
    // fails cannot fail.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

#[cfg(test)]
mod tests {
    use super::DataPatch;
    use serde_json::{Map, Value, json};

    fn patch(set: Value, remove: &[&str]) -> DataPatch {
        DataPatch {
            set: set.as_object().unwrap().clone(),
            remove: remove.iter().map(|k| (*k).to_owned()).collect(),
        }
    }

    #[test]
    fn two_patches_make_one_that_does_both_in_order() {
        let data: Map<String, Value> = json!({"a": 0, "b": 0, "c": 0, "d": 0})
            .as_object()
            .unwrap()
            .clone();
        let first = patch(json!({"a": 1, "e": 1, "f": 1}), &["b", "c"]);
        let later = patch(json!({"b": 2, "f": 2}), &["a", "d", "c", "g"]);
        let (mut one_by_one, mut at_once) = (data.clone(), data);
        first.apply(&mut one_by_one);
        later.apply(&mut one_by_one);
        let both = first.then(&later);
        both.apply(&mut at_once);
        assert_eq!(at_once, one_by_one);
        assert_eq!(Value::Object(at_once), json!({"b": 2, "e": 1, "f": 2}));
        assert!(
            both.remove.iter().all(|k| !both.set.contains_key(k)),
            "disjoint"
        );
        assert_eq!(both.remove.iter().filter(|k| *k == "c").count(), 1);
    }
}
