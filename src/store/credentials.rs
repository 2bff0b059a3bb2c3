//! A session's credentials as plain data: its session tokens and its
//! remember-me credential, with the rules of the session protocol as pure
//! methods (two-phase rotation, reissue, remember-me restore, the bounded
//! token history). [`Protocol`](super::Protocol) computes every change here
//! and a [`SessionStore`](super::SessionStore) only persists the outcome.

use super::remember::{Reissue, RememberCredential};
use super::restore::{Restore, ValidatorStep};
use super::types::{REPLACED_TOKENS_KEPT, SessionRecord, TokenHash, TokenState};
use time::OffsetDateTime;

#[cfg(test)]
mod tests;

/// Everything a session holds that proves a client is its client: its
/// session tokens (by hash) and its remember-me credential. A store keeps
/// it as it is given ([`SessionStore::swap_credentials`](super::SessionStore::swap_credentials))
/// and gives it back as it was kept; it never changes it itself.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Credentials {
    /// The session's tokens: a current one (several after concurrent
    /// remember-me restores), at most two pending ones, and at most
    /// [`REPLACED_TOKENS_KEPT`] replaced ones.
    pub tokens: Vec<TokenEntry>,
    /// The remember-me credential, if the session has one.
    pub remember: Option<RememberState>,
}

/// One session token of a [`Credentials`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenEntry {
    /// SHA-256 of the token.
    pub hash: TokenHash,
    /// What it is to its session.
    pub state: TokenState,
    /// When it was issued.
    pub issued_at: OffsetDateTime,
}

/// A session's remember-me credential, with its two-phase validator
/// rotation ([`ValidatorStep`]).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct RememberState {
    /// Public lookup key ([`Lookup::Selector`](super::Lookup::Selector)).
    pub selector: [u8; 16],
    /// SHA-256 of the current validator.
    pub validator: TokenHash,
    /// SHA-256 of the validator it replaced, accepted for a grace window.
    pub previous: Option<TokenHash>,
    /// SHA-256 of the pending validator (issued, not yet presented), and
    /// when it was issued.
    pub pending: Option<(TokenHash, OffsetDateTime)>,
    /// When the validator was last replaced.
    pub rotated_at: OffsetDateTime,
    /// When the credential ends.
    pub expires_at: OffsetDateTime,
}

impl TokenEntry {
    /// A token entry (for stores that read one back).
    pub fn new(hash: TokenHash, state: TokenState, issued_at: OffsetDateTime) -> Self {
        Self {
            hash,
            state,
            issued_at,
        }
    }
}

impl RememberState {
    /// A remember-me credential as stored (for stores that read one back).
    pub fn new(
        selector: [u8; 16], validator: TokenHash, previous: Option<TokenHash>,
        pending: Option<(TokenHash, OffsetDateTime)>, rotated_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Self {
        Self {
            selector,
            validator,
            previous,
            pending,
            rotated_at,
            expires_at,
        }
    }
}

impl Credentials {
    /// Credentials as stored (for stores that read them back).
    pub fn new(tokens: Vec<TokenEntry>, remember: Option<RememberState>) -> Self {
        Self { tokens, remember }
    }

    /// A new session's credentials: `token` current, issued `at`.
    pub(crate) fn first(token: TokenHash, at: OffsetDateTime) -> Self {
        Self::new(vec![TokenEntry::new(token, TokenState::Current, at)], None)
    }

    /// Whether `hash` is one of these tokens (plain comparison: for a
    /// store's index, not for authenticating).
    pub fn holds(&self, hash: &TokenHash) -> bool {
        self.tokens.iter().any(|t| t.hash == *hash)
    }

    /// What the presented `hash` is to this session, and whether the
    /// session has a pending token. Every entry is compared, in constant
    /// time, whichever matches.
    pub(crate) fn classify(&self, hash: &TokenHash) -> Option<(TokenState, bool)> {
        let mut found = None;
        for t in &self.tokens {
            if t.hash.ct_eq(hash) && found.is_none() {
                found = Some(t.state);
            }
        }
        found.map(|state| (state, self.has_pending()))
    }

    /// Whether a rotation is in progress.
    pub(crate) fn has_pending(&self) -> bool {
        self.tokens.iter().any(|t| t.state == TokenState::Pending)
    }

    /// Adds a token (replacing an entry with the same hash).
    fn put(&mut self, hash: TokenHash, state: TokenState, at: OffsetDateTime) {
        self.tokens.retain(|t| t.hash != hash);
        self.tokens.push(TokenEntry::new(hash, state, at));
    }

    /// Starts a rotation: `pending` becomes a pending token issued `now`,
    /// and of the older pending tokens only the newest stays (the client
    /// that never got the others cannot present them).
    pub(crate) fn begin_rotation(&mut self, pending: TokenHash, now: OffsetDateTime) {
        let newest = self
            .tokens
            .iter()
            .filter(|t| t.state == TokenState::Pending)
            .max_by_key(|t| t.issued_at)
            .map(|t| t.hash);
        self.tokens
            .retain(|t| t.state != TokenState::Pending || Some(t.hash) == newest);
        self.put(pending, TokenState::Pending, now);
    }

    /// Completes a rotation: the pending `token` becomes current; the
    /// current token and the pending ones issued at or before it are
    /// superseded at `now` (newer pending ones stay promotable); the history
    /// is pruned. `false`, and nothing changed, unless `token` is pending
    /// (so promoting a current token is idempotent).
    pub(crate) fn promote(&mut self, token: &TokenHash, now: OffsetDateTime) -> bool {
        let Some(issued) = self
            .tokens
            .iter()
            .find(|t| t.hash == *token && t.state == TokenState::Pending)
            .map(|t| t.issued_at)
        else {
            return false;
        };
        for t in &mut self.tokens {
            if t.hash == *token {
                t.state = TokenState::Current;
            } else if t.state == TokenState::Current
                || (t.state == TokenState::Pending && t.issued_at <= issued)
            {
                t.state = TokenState::Superseded { at: now };
            }
        }
        self.prune();
        true
    }

    /// New credentials at a sign-in: every token is retired at
    /// `reissue.now` (no grace), `token` becomes current, and `record`
    /// records the user, the sign-in and its client.
    pub(crate) fn reissue(&mut self, record: &mut SessionRecord, token: TokenHash, r: &Reissue) {
        self.retire_issued_before(r.now, None);
        self.prune();
        self.put(token, TokenState::Current, r.now);
        record.user_id.clone_from(&r.user_id);
        if let Some(at) = r.authenticated_at {
            record.authenticated_at = Some(at);
        }
        record.rotated_at = r.now;
        if let Some(end) = r.tokens_expire_at {
            record.tokens_expire_at = Some(end);
        }
        if let Some(c) = &r.client {
            record.ip = c.ip;
            record.user_agent.clone_from(&c.user_agent);
            if c.ip.is_some() && record.last_ip != c.ip {
                record.last_ip = c.ip;
                record.location = None;
            }
        }
        if let Some(sign_in) = &r.sign_in {
            record.sign_in_method.clone_from(&sign_in.method);
            record.second_factor = sign_in.second_factor;
        }
    }

    /// Retires, at `at`, the tokens not retired yet that were issued at or
    /// before `before` (all of them with `None`).
    pub(crate) fn retire_issued_before(
        &mut self, at: OffsetDateTime, before: Option<OffsetDateTime>,
    ) {
        for t in &mut self.tokens {
            let old = before.is_none_or(|b| t.issued_at <= b);
            if old && !matches!(t.state, TokenState::Retired { .. }) {
                t.state = TokenState::Retired { at };
            }
        }
    }

    /// Keeps only the newest [`REPLACED_TOKENS_KEPT`] replaced (superseded
    /// or retired) tokens: by when they were replaced, then when they were
    /// issued (then by hash, for a total order), as the SQL stores order
    /// them.
    pub(crate) fn prune(&mut self) {
        let mut replaced: Vec<_> = self
            .tokens
            .iter()
            .filter_map(|t| match t.state {
                TokenState::Superseded { at } | TokenState::Retired { at } => {
                    Some((at, t.issued_at, *t.hash.as_bytes()))
                }
                TokenState::Current | TokenState::Pending => None,
            })
            .collect();
        if replaced.len() <= REPLACED_TOKENS_KEPT {
            return;
        }
        replaced.sort_unstable_by(|a, b| b.cmp(a)); // newest first
        let doomed = &replaced[REPLACED_TOKENS_KEPT..];
        self.tokens
            .retain(|t| !doomed.iter().any(|(_, _, h)| h == t.hash.as_bytes()));
    }

    /// Sets (`Some`) or clears (`None`) the remember-me credential, and
    /// what it changes in `record`: with one the session is persistent and
    /// ends with it; without, it ends at most at `absolute_if_cleared`.
    pub(crate) fn set_remember(
        &mut self, record: &mut SessionRecord, credential: Option<&RememberCredential>,
        absolute_if_cleared: OffsetDateTime, now: OffsetDateTime,
    ) {
        match credential {
            Some(c) => {
                record.persistent = true;
                record.tokens_expire_at =
                    record.tokens_expire_at.or(Some(record.absolute_expires_at));
                record.absolute_expires_at = c.expires_at;
                record.expires_at = record.expires_at.min(c.expires_at);
                self.remember = Some(RememberState::new(
                    c.selector,
                    c.validator,
                    None,
                    None,
                    now,
                    c.expires_at,
                ));
            }
            None => {
                record.persistent = false;
                record.absolute_expires_at = record.absolute_expires_at.min(absolute_if_cleared);
                record.expires_at = record.expires_at.min(record.absolute_expires_at);
                self.remember = None;
            }
        }
    }

    /// A remember-me restore ([`SessionProtocol::restore_remembered`](super::SessionProtocol::restore_remembered)):
    /// the validator's step, as a compare-and-set on these credentials
    /// (`false`, and nothing changed, when its precondition fails: the
    /// validator is no longer the presented one, or, to keep it, neither
    /// the current nor the previous one, a fresh pending one exists, the
    /// presented one is no longer pending, or there is no credential);
    /// then the new current token, and in `record` the tokens' end, the
    /// cleared freshness and the activity.
    pub(crate) fn restore(&mut self, record: &mut SessionRecord, r: &Restore) -> bool {
        let now = r.touch.now;
        let Some(c) = self.remember.as_mut() else {
            return false;
        };
        if let ValidatorStep::Keep { presented } = r.step {
            let previous = c.previous.is_some_and(|p| p.ct_eq(&presented));
            if !c.validator.ct_eq(&presented) && !previous {
                return false;
            }
        } else {
            match r.step {
                ValidatorStep::Keep { .. } => {}
                ValidatorStep::Issue {
                    presented,
                    next,
                    stale_before,
                } => {
                    let stale = c.pending.is_none_or(|(_, at)| at <= stale_before);
                    if !c.validator.ct_eq(&presented) || !stale {
                        return false;
                    }
                    c.pending = Some((next, now));
                }
                ValidatorStep::Promote { presented } => {
                    let Some((pending, _)) = c.pending.filter(|(p, _)| p.ct_eq(&presented)) else {
                        return false;
                    };
                    c.previous = Some(c.validator);
                    c.validator = pending;
                    c.pending = None;
                    c.rotated_at = now;
                }
            }
            self.retire_issued_before(now, Some(r.retire_before));
            self.prune();
            record.rotated_at = now;
        }
        self.put(r.token, TokenState::Current, now);
        record.tokens_expire_at = Some(r.tokens_expire_at);
        record.authenticated_at = None;
        r.touch.apply(record);
        true
    }
}
