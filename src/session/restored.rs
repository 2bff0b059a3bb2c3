//! What a remember-me restore issued, which only a timely response sends.
//!
//! A restore issues a session token and, when it rotates the credential, a
//! pending validator; only this response carries them. Once the remember-me
//! grace has passed, another request of the browser (a tab, the next page)
//! may restore again and replace both: a response of this request that
//! lands after that one would set cookies the store replaced, and the
//! browser's next restore would present a replaced validator, which is
//! theft. So a response sent later than the grace after its restore leaves
//! the restore's cookies out, as if it were lost: the browser keeps what it
//! had, whose validator is still current (a pending one nobody presented is
//! never promoted), and its next request restores again (its old session
//! cookie, which the restore retired, does not stop that: `load.rs`). What
//! the handler asked for (a sign-in's cookies, a sign-out's expiries) is
//! sent however late.
//!
//! A response sent just within the grace may still land after a newer
//! restore's, if it is slower on its way than that whole request; and
//! instances judge the grace by their own clocks. Both are far smaller
//! than the grace (30 s by default) in practice: the rule leaves no margin,
//! so that a slow response under a short grace (tests use 1 s) still
//! delivers its restore.

use super::State;
use crate::store::{Restore, SessionRecord, TokenHash};
use crate::token::{RememberToken, SessionToken};
use std::time::Duration;
use time::OffsetDateTime;

/// A restore this request made: when, and what it issued.
#[derive(Clone, Copy)]
pub(super) struct Restored {
    at: OffsetDateTime,
    token: TokenHash,
    validator: Option<TokenHash>,
}

impl Restored {
    /// A restore at `at` that issued `token`, and `validator` when it
    /// rotated the credential.
    pub(super) fn new(
        at: OffsetDateTime, token: &SessionToken, validator: Option<&RememberToken>,
    ) -> Self {
        Self {
            at,
            token: token.hash(),
            validator: validator.map(RememberToken::validator_hash),
        }
    }

    /// Whether a response sent at `now` is too late to carry what the
    /// restore issued, under the remember-me `grace` (never without one:
    /// every response would be, and no validator would ever be delivered).
    pub(super) fn withholds(&self, now: OffsetDateTime, grace: Duration) -> bool {
        !grace.is_zero() && now - self.at > grace
    }

    /// Whether `token` is the session token the restore issued.
    pub(super) fn issued_token(&self, token: &SessionToken) -> bool {
        token.hash() == self.token
    }

    /// Whether `token` carries the validator the restore issued.
    pub(super) fn issued_validator(&self, token: &RememberToken) -> bool {
        self.validator == Some(token.validator_hash())
    }
}

/// The session re-opened from its remember-me credential with `token` (and
/// `validator`, when the restore rotated it), as the store now has it after
/// `restore`; the request's state records the restore.
pub(super) fn reopened(
    st: &mut State, mut record: SessionRecord, token: SessionToken, restore: &Restore,
    validator: Option<&RememberToken>,
) -> SessionRecord {
    record.tokens_expire_at = Some(restore.tokens_expire_at);
    // A restore proves nothing: not fresh until the user proves again.
    record.authenticated_at = None;
    restore.touch.apply(&mut record);
    st.restored = Some(Restored::new(restore.touch.now, &token, validator));
    st.new_token = Some(token);
    st.clear_cookie = false;
    record
}
