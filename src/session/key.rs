//! Typed keys: [`SessionKey<T>`], a key name bound to the type of its value
//! at compile time, next to the string-keyed data API.

use super::Session;
use crate::error::Error;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::marker::PhantomData;

/// A session key whose value is always a `T`: declare it once as a
/// constant, and every read and write through it is checked by the compiler.
///
/// ```
/// use axum_user_sessions::{Session, SessionKey};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Default, Serialize, Deserialize)]
/// struct Cart {
///     items: Vec<u32>,
/// }
///
/// const CART: SessionKey<Cart> = SessionKey::new("cart");
/// const VISITS: SessionKey<u64> = SessionKey::new("visits");
///
/// async fn add(session: Session) -> Result<String, axum_user_sessions::Error> {
///     let mut cart = session.get_key(&CART)?.unwrap_or_default();
///     cart.items.push(7);
///     session.insert_key(&CART, &cart)?; // written after the handler
///     // Atomic read-modify-write, written at once:
///     let n = session.update_key(&VISITS, |n| n.unwrap_or(0) + 1).await?;
///     Ok(format!("{} items, {n} visits", cart.items.len()))
/// }
/// ```
///
/// A typed key is the same key as its name in the string-keyed API:
/// `session.get_key(&CART)` is `session.get::<Cart>("cart")`. The type is
/// checked at compile time on this side only; a value written under the
/// same name with another type (by the string API, or an older version of
/// the app) reads back as a [`Serde`](Error::Serde) error, as with
/// [`Session::get`].
pub struct SessionKey<T> {
    name: &'static str,
    // `fn() -> T`: the key neither owns nor borrows a `T`, so it is `Send`,
    // `Sync` and `Copy` whatever `T` is.
    _type: PhantomData<fn() -> T>,
}

impl<T> SessionKey<T> {
    /// A key named `name`, for values of type `T`.
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            _type: PhantomData,
        }
    }

    /// The key's name in the session data.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl<T> Clone for SessionKey<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for SessionKey<T> {}

impl<T> fmt::Debug for SessionKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SessionKey")
            .field(&self.name)
            .field(&std::any::type_name::<T>())
            .finish()
    }
}

/// The data API through typed keys: each method is its string-keyed
/// namesake ([`get`](Session::get), [`insert`](Session::insert),
/// [`remove`](Session::remove), [`update`](Session::update),
/// [`update_or_remove`](Session::update_or_remove)) with the type taken from
/// the key.
impl Session {
    /// The value of `key`: `Ok(None)` when absent, an error when the stored
    /// value is not a `T`.
    pub fn get_key<T: DeserializeOwned>(&self, key: &SessionKey<T>) -> Result<Option<T>, Error> {
        self.get(key.name)
    }

    /// Sets the value of `key`, written after the handler (see
    /// [`insert`](Session::insert)).
    pub fn insert_key<T: Serialize>(&self, key: &SessionKey<T>, value: &T) -> Result<(), Error> {
        self.insert(key.name, value)
    }

    /// Removes `key` and returns its value, if it held a `T`; written after
    /// the handler (see [`remove`](Session::remove)).
    pub fn remove_key<T: DeserializeOwned>(&self, key: &SessionKey<T>) -> Result<Option<T>, Error> {
        let value = self.get(key.name);
        self.remove(key.name);
        value
    }

    /// Changes the value of `key` to `f(value)` atomically, written at once
    /// (see [`update`](Session::update)).
    pub async fn update_key<T, F>(&self, key: &SessionKey<T>, f: F) -> Result<T, Error>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut(Option<T>) -> T,
    {
        self.update(key.name, f).await
    }

    /// [`update_key`](Self::update_key) where `f` may also remove the key by
    /// returning `None` (see [`update_or_remove`](Session::update_or_remove)).
    pub async fn update_or_remove_key<T, F>(
        &self, key: &SessionKey<T>, f: F,
    ) -> Result<Option<T>, Error>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut(Option<T>) -> Option<T>,
    {
        self.update_or_remove(key.name, f).await
    }
}
