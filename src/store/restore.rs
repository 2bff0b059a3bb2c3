//! A remember-me restore, as the layer asks a store for it: the new session
//! token, its hard end, and what happens to the validator (two-phase
//! rotation). Plain data: no database, no HTTP.

use super::types::{TokenHash, Touch};
use time::OffsetDateTime;

/// What a restore does with the remember-me validator.
///
/// Validators rotate in two phases, like session tokens: a restore that
/// presents the current validator issues a *pending* one (sent to the
/// client); the current one stays valid until a restore presents the
/// pending one, which then becomes current (and the old one previous,
/// accepted for the grace window after that promotion only). So a lost
/// response (the client never got the pending validator) or concurrent tabs
/// never make a legitimate client's validator look stolen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValidatorStep {
    /// The validator stays as it is (a concurrent request, or a previous
    /// validator inside its grace window), only if `presented` is still
    /// the current or the previous validator (compare-and-set: a new
    /// credential since, "sign out everywhere else" or a sign-out's, ends
    /// what the old one opened).
    Keep {
        /// The validator's hash, as presented.
        presented: TokenHash,
    },
    /// `presented` is the current validator: store `next` as the pending
    /// one, only if the validator is still `presented` and the session has
    /// no pending validator issued after `stale_before` (compare-and-set; a
    /// newer pending one is a concurrent tab's, whose response carries it).
    Issue {
        /// The current validator's hash, as presented.
        presented: TokenHash,
        /// The new pending validator's hash.
        next: TokenHash,
        /// A pending validator issued at or before this is replaced (its
        /// response was lost).
        stale_before: OffsetDateTime,
    },
    /// `presented` is the pending validator: it becomes current, only if it
    /// is still pending (compare-and-set); the current one becomes the
    /// previous one, replaced now.
    Promote {
        /// The pending validator's hash, as presented.
        presented: TokenHash,
    },
}

/// A restore of a remembered session:
/// [`SessionProtocol::restore_remembered`](super::SessionProtocol::restore_remembered).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Restore {
    /// The new current session token.
    pub token: TokenHash,
    /// The hard end of the session's tokens from now on (`now` + absolute
    /// timeout): the session's idle deadline never passes it, so a session
    /// token never outlives the absolute timeout counted from its restore.
    pub tokens_expire_at: OffsetDateTime,
    /// The validator's step.
    pub step: ValidatorStep,
    /// With `Issue` or `Promote`, the session's other tokens issued at or
    /// before this are retired (the tokens of concurrent restores, issued
    /// since, stay current).
    pub retire_before: OffsetDateTime,
    /// The activity the restore records.
    pub touch: Touch,
}

impl Restore {
    /// A restore with `token`, whose tokens end at `tokens_expire_at`.
    pub fn new(
        token: TokenHash, tokens_expire_at: OffsetDateTime, step: ValidatorStep,
        retire_before: OffsetDateTime, touch: Touch,
    ) -> Self {
        Self {
            token,
            tokens_expire_at,
            step,
            retire_before,
            touch,
        }
    }
}
