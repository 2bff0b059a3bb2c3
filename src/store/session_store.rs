//! The contract between the layer and the session protocol:
//! [`SessionProtocol`], and what [`SessionLayer::new`](crate::SessionLayer::new)
//! accepts as one ([`IntoSessionStore`]).

use super::error::Error;
use super::remember::{Reissue, RememberCredential, RememberedSession};
use super::report::{MigrationReport, StoreStats};
use super::restore::Restore;
use super::revocation::{Revocation, RevokeScope};
use super::storage::{DeviceWrite, Extensions, ListQuery};
use super::types::UpdateOutcome;
use super::types::{DataPatch, LoadedSession, SessionRecord, TokenHash, Touch};
use async_trait::async_trait;
use serde_json::Value;
use std::fmt::Debug;
use std::sync::Arc;
use time::OffsetDateTime;
use uuid::Uuid;

/// The session protocol as the layer calls it: load a session by its
/// token, create one, rotate, promote, sign in, remember, restore, revoke,
/// list. It knows nothing of HTTP. [`Protocol`](super::Protocol) computes
/// it over any [`SessionStore`](super::SessionStore), the store boundary,
/// and the wrappers (the deadline, the [`CachedStore`](super::CachedStore))
/// pass it on. A store is
/// written as a [`SessionStore`](super::SessionStore), not as this.
///
/// Every write is update-only: none of them brings back a row that was
/// deleted or revoked in the meantime.
///
/// # Token history
///
/// A session keeps its current token, at most two pending ones, and the
/// newest [`REPLACED_TOKENS_KEPT`](super::REPLACED_TOKENS_KEPT) (4)
/// replaced ones (superseded or retired): the calls that replace tokens
/// (`promote`, `reissue`, `restore_remembered` with a validator step) drop
/// the older replaced ones ([`Credentials`](super::Credentials) says how).
/// (A `restore_remembered` that keeps the validator, a concurrent tab
/// inside the remember-me grace window, adds a current token beside the
/// others; the next promotion supersedes them all.)
///
/// So reuse detection covers the last four replaced tokens: one of them is
/// recognised ([`TokenState::Superseded`](super::TokenState::Superseded):
/// accepted within the grace window, taken for theft after it;
/// [`TokenState::Retired`](super::TokenState::Retired): anonymous), while an
/// older token is simply unknown (`load` answers `None`): the request is
/// anonymous, no alarm is raised and nothing is revoked.
///
/// Methods added to this trait come with a line in the wrappers' list,
/// `delegate.rs`, so that the cache and the deadline forward them. The
/// shorthands `list_user`, `list_user_page`, `rename` and `set_location`
/// are not methods of the trait but of `dyn SessionProtocol`, over
/// [`list`](Self::list) and [`set_device`](Self::set_device).
#[async_trait]
pub trait SessionProtocol: Debug + Send + Sync + 'static {
    /// Creates or upgrades the store's tables. Idempotent. Users call
    /// [`migrate`](super::migrate()), which runs this for a store.
    async fn migrate(&self) -> Result<MigrationReport, Error>;

    /// Finds the session of a token hash, whatever its state, and, when the
    /// token is current and the session live and stale per `touch`, refreshes
    /// `last_seen_at` and `expires_at` ([`Protocol`](super::Protocol): with
    /// a second storage call, a write on the version read).
    async fn load(
        &self, session: Option<Uuid>, token: &TokenHash, touch: &Touch,
    ) -> Result<Option<LoadedSession>, Error>;

    /// Inserts a new session with `token` as its current token.
    async fn create(&self, record: &SessionRecord, token: &TokenHash) -> Result<(), Error>;

    /// Applies a key-level data patch to a live session, and returns the
    /// row's new [`version`](SessionRecord::version) (one more than the
    /// version the patch was applied to). `None` when the session is gone or
    /// revoked: nothing is written then.
    async fn patch_data(&self, id: Uuid, patch: &DataPatch) -> Result<Option<u64>, Error>;

    /// Retires every token of a live session (no grace), makes `token` its
    /// current token and records the sign-in; of the replaced tokens, only
    /// the newest [`REPLACED_TOKENS_KEPT`](super::REPLACED_TOKENS_KEPT) are
    /// kept. `false` when the session is gone.
    async fn reissue(&self, id: Uuid, token: &TokenHash, reissue: &Reissue) -> Result<bool, Error>;

    /// Deletes a session and its tokens: an anonymous session's logout, or
    /// the session a sign-in as another user replaces (a signed-in session's
    /// logout revokes it instead, for "Recently signed out"). `false` when
    /// it was not there.
    async fn delete(&self, id: Uuid) -> Result<bool, Error>;

    /// Starts a rotation: if `rotated_at` is still `expected_rotated_at`
    /// (compare-and-set), stores `pending` as a pending token and sets
    /// `rotated_at = now`. At most one older pending token is kept (the
    /// client that never got them cannot present them). `false` when another
    /// request won, or the session is gone.
    async fn begin_rotation(
        &self, id: Uuid, expected_rotated_at: OffsetDateTime, pending: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<bool, Error>;

    /// Completes a rotation: the pending `token` becomes current, and the
    /// current token and pending tokens issued before it become superseded at
    /// `now` (newer pending tokens stay promotable); of the replaced tokens,
    /// only the newest [`REPLACED_TOKENS_KEPT`](super::REPLACED_TOKENS_KEPT)
    /// are kept. Idempotent: promoting a token that is already current
    /// changes nothing.
    async fn promote(&self, id: Uuid, token: &TokenHash, now: OffsetDateTime) -> Result<(), Error>;

    /// Sets (`Some`) or removes (`None`) a session's remember-me credential.
    /// With a credential the session becomes persistent and lives until the
    /// credential's end; without, its absolute end becomes at most
    /// `absolute_if_cleared`. `false` when the session is gone or revoked.
    async fn set_remember(
        &self, id: Uuid, credential: Option<&RememberCredential>,
        absolute_if_cleared: OffsetDateTime, now: OffsetDateTime,
    ) -> Result<bool, Error>;

    /// The session holding the remember-me credential `selector`, live or not.
    async fn find_remember(&self, selector: &[u8; 16]) -> Result<Option<RememberedSession>, Error>;

    /// Re-opens a remembered session (two-phase validator rotation): in one
    /// round-trip, does what `restore.step` says with the validator
    /// (compare-and-set for `Issue` and `Promote`: `false`, and nothing
    /// written, when another request changed it first), makes
    /// `restore.token` a new current session token, sets the tokens' hard
    /// end (`tokens_expire_at`, which also caps the idle deadline), clears
    /// `authenticated_at` (a restored session is not fresh) and records
    /// the activity. With `Issue` or `Promote`, the other tokens
    /// issued at or before `retire_before` are retired (the newest
    /// [`REPLACED_TOKENS_KEPT`](super::REPLACED_TOKENS_KEPT) replaced ones
    /// kept). `false` too when the session is gone or revoked.
    async fn restore_remembered(&self, id: Uuid, restore: &Restore) -> Result<bool, Error>;

    /// One session by public id, live or not.
    async fn get(&self, id: Uuid) -> Result<Option<SessionRecord>, Error>;

    /// Revokes the live sessions `scope` covers, in one statement: marks
    /// them revoked as `how` says, and drops their data and remember-me
    /// credential (a revoked row keeps only what "Recently signed out" and
    /// the audit show). Returns how many it revoked; rows it does not
    /// [reach](Revocation::reaches) (revoked, or ended by their timeouts
    /// more than [`Revocation::CLOCK_ALLOWANCE`] before `how.at`) are left
    /// as they are.
    async fn revoke(&self, scope: &RevokeScope<'_>, how: &Revocation) -> Result<u64, Error>;

    /// Live sessions and users, and rows garbage collection may delete
    /// (expired at `now`, or revoked before `revoked_before`).
    async fn stats(
        &self, now: OffsetDateTime, revoked_before: OffsetDateTime,
    ) -> Result<StoreStats, Error>;

    /// Deletes at most `limit` rows that are expired at `now` or were revoked
    /// before `revoked_before`, with their tokens, without waiting on rows
    /// another collector holds. Returns how many it deleted.
    async fn gc_batch(
        &self, now: OffsetDateTime, revoked_before: OffsetDateTime, limit: u32,
    ) -> Result<u64, Error>;

    /// A user's sessions as `query` says ([`ListQuery`]: the live ones,
    /// a page at a time, or the recently ended ones), without their data:
    /// each record's [`data`](SessionRecord::data) is empty (the device
    /// list and the "new device" check do not read it, and do not pay for
    /// it). A store that keeps no ended rows answers
    /// [`Error::Unsupported`] to [`ListQuery::Ended`]: the devices list
    /// then shows no "recently signed out" section.
    async fn list(&self, query: &ListQuery<'_>) -> Result<Vec<SessionRecord>, Error>;

    /// Writes a device's name or place ([`DeviceWrite`]: the name the user
    /// gave session `id` in "Your devices", or where it was last used
    /// from), if the write's condition holds. `false` otherwise: nothing is
    /// written then.
    ///
    /// The default body answers [`Error::Unsupported`] (the rename route
    /// then answers `501 Not Implemented`, never a `404` that would blame
    /// the user's id; no place is shown), for a store without device names
    /// and places.
    async fn set_device(&self, id: Uuid, write: &DeviceWrite<'_>) -> Result<bool, Error> {
        let _ = id;
        Err(write.unsupported())
    }

    /// Compare-and-set of one key of a live session's data: if the key
    /// holds `expected` (`None`: the key is absent), sets it to `new`
    /// (`None`: removes it), in one round-trip. Values are compared as JSON
    /// values (on Postgres as `jsonb`, where `1` and `1.0` are equal); JSON
    /// `null` is a value, not an absent key. Other keys are left as they are. When the key holds something
    /// else, nothing is written and [`UpdateOutcome::Conflict`] says what it
    /// holds; when the session is gone or revoked, nothing is written
    /// ([`UpdateOutcome::Gone`]): a session is never brought back.
    ///
    /// [`Session::update`](crate::Session::update) retries on conflict. There
    /// is no default body: a compare-and-set cannot be made from the other
    /// calls (a `get` then a `patch_data` is two round-trips, and another
    /// writer can come between them).
    async fn update_value(
        &self, id: Uuid, key: &str, expected: Option<&Value>, new: Option<&Value>,
    ) -> Result<UpdateOutcome, Error>;

    /// What the store offers beyond these calls ([`Extensions`]): its
    /// change feed for caches, its device records, where its database
    /// lives, whether it finds sessions by token. None by default, so a
    /// cache refuses to sit over the store and the device features answer
    /// [`Error::Unsupported`].
    fn extensions(&self) -> Extensions<'_> {
        Extensions::new()
    }
}

/// Shorthands over [`list`](SessionProtocol::list) and
/// [`set_device`](SessionProtocol::set_device), on any store. Not methods
/// of the trait, so that no store or wrapper can answer them otherwise
/// than those two calls do.
impl dyn SessionProtocol {
    /// A user's live sessions, most recently active first, without their
    /// data: [`list`](SessionProtocol::list) of every [`ListQuery::Live`] row.
    pub async fn list_user(
        &self, user_id: &str, now: OffsetDateTime,
    ) -> Result<Vec<SessionRecord>, Error> {
        self.list_user_page(user_id, now, None, u32::MAX).await
    }

    /// One page of `list_user`, in its order (most
    /// recently active first, then by id): the live sessions that come
    /// after `after` (a `(last_seen_at, id)` of the previous page's last
    /// row; `None`: from the start), at most `limit`. A keyset, so a page
    /// never repeats a row of an earlier one, whatever changed meanwhile.
    /// Times compare to the microsecond, as the SQL stores keep them. A
    /// user id holding U+0000 (which no session can have, and Postgres
    /// refuses in a query) has none, on every store.
    pub async fn list_user_page(
        &self, user_id: &str, now: OffsetDateTime, after: Option<(OffsetDateTime, Uuid)>,
        limit: u32,
    ) -> Result<Vec<SessionRecord>, Error> {
        if user_id.contains('\0') {
            return Ok(Vec::new());
        }
        let live = ListQuery::Live {
            user_id,
            now,
            after,
            limit,
        };
        self.list(&live).await
    }

    /// Sets (`Some`) or clears (`None`) the name the user gave session `id`
    /// in "Your devices", if the session is live at `now` and `user_id` owns
    /// it ([`DeviceWrite::Name`]). The name is stored as given (the routes
    /// check it first).
    pub async fn rename(
        &self, id: Uuid, user_id: &str, name: Option<&str>, now: OffsetDateTime,
    ) -> Result<bool, Error> {
        self.set_device(id, &DeviceWrite::Name { user_id, name, now })
            .await
    }

    /// Records `location`, the place label an app's
    /// [locator](crate::SessionLayer::with_locator) gave for `ip`, as where
    /// session `id` was last used from, if its
    /// [`last_ip`](SessionRecord::last_ip) is still `ip` and it is not
    /// revoked ([`DeviceWrite::Location`]). Called off the request path,
    /// once per IP change.
    pub async fn set_location(
        &self, id: Uuid, ip: std::net::IpAddr, location: &str,
    ) -> Result<bool, Error> {
        self.set_device(id, &DeviceWrite::Location { ip, location })
            .await
    }
}

/// Things [`SessionLayer::new`](crate::SessionLayer::new) accepts as a store:
/// `PgPool`, `SqlitePool`, the stores themselves, or an
/// `Arc<dyn SessionProtocol>`.
pub trait IntoSessionStore {
    /// Converts into a shared store.
    fn into_session_store(self) -> Arc<dyn SessionProtocol>;
}

impl<S: SessionProtocol> IntoSessionStore for S {
    fn into_session_store(self) -> Arc<dyn SessionProtocol> {
        Arc::new(self)
    }
}

impl IntoSessionStore for Arc<dyn SessionProtocol> {
    fn into_session_store(self) -> Arc<dyn SessionProtocol> {
        self
    }
}
