//! The memory store's data: three maps standing for the tables of the SQL
//! stores, and the row operations its calls share.

use crate::store::remember::Reissue;
use crate::store::restore::{Restore, ValidatorStep};
use crate::store::revocation::Revocation;
use crate::store::types::{REPLACED_TOKENS_KEPT, SessionRecord, TokenHash, TokenState};
use std::collections::HashMap;
use std::net::IpAddr;
use time::OffsetDateTime;
use uuid::Uuid;

/// The sessions, their tokens and their remember-me credentials.
#[derive(Debug, Default)]
pub(super) struct Tables {
    pub(super) sessions: HashMap<Uuid, SessionRecord>,
    /// Read through [`tokens_of`](Self::tokens_of) for one session's, and
    /// changed only through the methods here, which keep `by_session`.
    pub(super) tokens: HashMap<TokenHash, TokenRow>,
    /// The tokens of each session (a few: the history is pruned), so that
    /// no call scans every token.
    by_session: HashMap<Uuid, Vec<TokenHash>>,
    pub(super) remember: HashMap<Uuid, Remember>,
}

/// A session's remember-me credential.
#[derive(Debug, Clone)]
pub(super) struct Remember {
    pub(super) selector: [u8; 16],
    pub(super) validator: TokenHash,
    pub(super) previous: Option<TokenHash>,
    /// The pending validator (issued, not yet presented), and when.
    pub(super) pending: Option<(TokenHash, OffsetDateTime)>,
    pub(super) rotated_at: OffsetDateTime,
    pub(super) expires_at: OffsetDateTime,
}

/// A session token, by its hash.
#[derive(Debug, Clone)]
pub(super) struct TokenRow {
    pub(super) session_id: Uuid,
    pub(super) state: TokenState,
    pub(super) created_at: OffsetDateTime,
}

/// What a reissue records beside the user and tokens: the client (and so
/// where the session was last used from) and how it signed in.
pub(super) fn record_sign_in(s: &mut SessionRecord, reissue: &Reissue) {
    if let Some(c) = &reissue.client {
        s.ip = c.ip;
        s.user_agent.clone_from(&c.user_agent);
        if c.ip.is_some() && s.last_ip != c.ip {
            s.last_ip = c.ip;
            s.location = None;
        }
    }
    if let Some(sign_in) = &reissue.sign_in {
        s.sign_in_method.clone_from(&sign_in.method);
        s.second_factor = sign_in.second_factor;
    }
}

impl Tables {
    /// Gives session `id` the place label of its last IP, if that is still
    /// `ip` and the session is not revoked.
    pub(super) fn set_location(&mut self, id: Uuid, ip: IpAddr, location: &str) -> bool {
        match self.live_mut(id) {
            Some(s) if s.last_ip == Some(ip) => {
                s.location = Some(location.to_owned());
                s.version += 1;
                true
            }
            _ => false,
        }
    }

    /// Session `id`, unless it is gone or revoked.
    pub(super) fn live_mut(&mut self, id: Uuid) -> Option<&mut SessionRecord> {
        self.sessions
            .get_mut(&id)
            .filter(|s| s.revoked_at.is_none())
    }

    /// Adds a token of session `id`, issued `at`.
    pub(super) fn insert_token(
        &mut self, token: TokenHash, id: Uuid, state: TokenState, at: OffsetDateTime,
    ) {
        let row = TokenRow {
            session_id: id,
            state,
            created_at: at,
        };
        if let Some(old) = self.tokens.insert(token, row) {
            self.unlist(&token, old.session_id);
        }
        self.by_session.entry(id).or_default().push(token);
    }

    /// The tokens of session `id`.
    pub(super) fn tokens_of(&self, id: Uuid) -> impl Iterator<Item = (&TokenHash, &TokenRow)> {
        let hashes = self.by_session.get(&id).into_iter().flatten();
        hashes.filter_map(|h| self.tokens.get_key_value(h))
    }

    /// Runs `f` on each token row of session `id`.
    pub(super) fn update_tokens_of(
        &mut self, id: Uuid, mut f: impl FnMut(&TokenHash, &mut TokenRow),
    ) {
        for h in self.by_session.get(&id).into_iter().flatten() {
            if let Some(row) = self.tokens.get_mut(h) {
                f(h, row);
            }
        }
    }

    /// Deletes the token `hash`.
    pub(super) fn remove_token(&mut self, hash: &TokenHash) {
        if let Some(row) = self.tokens.remove(hash) {
            self.unlist(hash, row.session_id);
        }
    }

    /// Deletes the pending tokens of session `id` but the newest.
    pub(super) fn keep_newest_pending(&mut self, id: Uuid) {
        let pending: Vec<_> = self
            .tokens_of(id)
            .filter(|(_, r)| r.state == TokenState::Pending)
            .map(|(h, r)| (r.created_at, *h))
            .collect();
        let newest = pending.iter().max_by_key(|(at, _)| *at).map(|(_, h)| *h);
        for (_, h) in &pending {
            if Some(*h) != newest {
                self.remove_token(h);
            }
        }
    }

    fn unlist(&mut self, hash: &TokenHash, id: Uuid) {
        if let Some(list) = self.by_session.get_mut(&id) {
            list.retain(|h| h != hash);
            if list.is_empty() {
                self.by_session.remove(&id);
            }
        }
    }

    /// Retires every token of session `id` (no grace).
    pub(super) fn retire_tokens(&mut self, id: Uuid, at: OffsetDateTime) {
        self.update_tokens_of(id, |_, row| {
            if !matches!(row.state, TokenState::Retired { .. }) {
                row.state = TokenState::Retired { at };
            }
        });
    }

    /// Retires the tokens of session `id` issued at or before `before`.
    fn retire_tokens_before(&mut self, id: Uuid, at: OffsetDateTime, before: OffsetDateTime) {
        self.update_tokens_of(id, |_, row| {
            if row.created_at <= before && !matches!(row.state, TokenState::Retired { .. }) {
                row.state = TokenState::Retired { at };
            }
        });
    }

    /// [`SessionStore::restore_remembered`](crate::store::SessionStore::restore_remembered)
    /// on these tables.
    pub(super) fn restore_remembered(&mut self, id: Uuid, r: &Restore) -> bool {
        let now = r.touch.now;
        if self.live_mut(id).is_none() {
            return false;
        }
        if r.step != ValidatorStep::Keep {
            let Some(c) = self.remember.get_mut(&id) else {
                return false;
            };
            match r.step {
                ValidatorStep::Keep => {}
                ValidatorStep::Issue {
                    presented,
                    next,
                    stale_before,
                } => {
                    let stale = c.pending.is_none_or(|(_, at)| at <= stale_before);
                    if c.validator != presented || !stale {
                        return false;
                    }
                    c.pending = Some((next, now));
                }
                ValidatorStep::Promote { presented } => {
                    let Some((pending, _)) = c.pending.filter(|(p, _)| *p == presented) else {
                        return false;
                    };
                    c.previous = Some(c.validator);
                    c.validator = pending;
                    c.pending = None;
                    c.rotated_at = now;
                }
            }
            self.retire_tokens_before(id, now, r.retire_before);
            self.prune_tokens(id);
        }
        self.insert_token(r.token, id, TokenState::Current, now);
        if let Some(s) = self.live_mut(id) {
            if r.step != ValidatorStep::Keep {
                s.rotated_at = now;
            }
            s.tokens_expire_at = Some(r.tokens_expire_at);
            s.authenticated_at = None;
            r.touch.apply(s);
            s.version += 1;
        }
        true
    }

    /// Keeps only the newest [`REPLACED_TOKENS_KEPT`] replaced (superseded or
    /// retired) tokens of session `id`: by when they were replaced, then when
    /// they were issued, as the SQL stores order them.
    pub(super) fn prune_tokens(&mut self, id: Uuid) {
        let mut replaced: Vec<_> = self
            .tokens_of(id)
            .filter_map(|(hash, r)| match r.state {
                TokenState::Superseded { at } | TokenState::Retired { at } => {
                    Some((at, r.created_at, *hash.as_bytes()))
                }
                TokenState::Current | TokenState::Pending => None,
            })
            .collect();
        if replaced.len() <= REPLACED_TOKENS_KEPT {
            return;
        }
        replaced.sort_unstable_by(|a, b| b.cmp(a)); // newest first
        for (_, _, hash) in &replaced[REPLACED_TOKENS_KEPT..] {
            self.remove_token(&TokenHash::from_bytes(*hash));
        }
    }

    /// Deletes session `id` with its tokens and credential.
    pub(super) fn remove_session(&mut self, id: Uuid) -> bool {
        for hash in self.by_session.remove(&id).unwrap_or_default() {
            self.tokens.remove(&hash);
        }
        self.remember.remove(&id);
        self.sessions.remove(&id).is_some()
    }

    fn revoke(&mut self, id: Uuid, how: &Revocation) {
        if let Some(s) = self.sessions.get_mut(&id) {
            s.revoked_at = Some(how.at);
            s.revoke_reason = Some(how.reason.as_str().to_owned());
            s.revoked_by = Some(how.by.as_str().to_owned());
            s.data.clear();
            s.version += 1;
        }
        self.remember.remove(&id);
    }

    /// Revokes the live sessions `pick` chooses: how many.
    pub(super) fn revoke_where(
        &mut self, how: &Revocation, pick: impl Fn(&SessionRecord) -> bool,
    ) -> u64 {
        let ids: Vec<Uuid> = self
            .sessions
            .values()
            .filter(|s| s.is_live(how.at) && pick(s))
            .map(|s| s.id)
            .collect();
        for id in &ids {
            self.revoke(*id, how);
        }
        ids.len() as u64
    }
}
