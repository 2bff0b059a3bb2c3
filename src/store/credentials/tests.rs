//! The protocol rules of [`Credentials`], one by one, without a store.

use super::*;
use crate::store::types::Touch;
use time::Duration;
use uuid::Uuid;

fn h(n: u8) -> TokenHash {
    TokenHash::from_bytes([n; 32])
}

fn t0() -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH + Duration::days(20_000)
}

fn at(secs: i64) -> OffsetDateTime {
    t0() + Duration::seconds(secs)
}

fn record() -> SessionRecord {
    let mut r = SessionRecord::new(Uuid::nil(), t0());
    r.absolute_expires_at = at(3600);
    r.expires_at = at(1800);
    r
}

fn state(c: &Credentials, n: u8) -> Option<TokenState> {
    c.classify(&h(n)).map(|(s, _)| s)
}

#[test]
fn classify_names_the_state_and_a_rotation_in_progress() {
    let mut c = Credentials::first(h(1), t0());
    assert_eq!(c.classify(&h(1)), Some((TokenState::Current, false)));
    assert_eq!(c.classify(&h(9)), None);
    c.begin_rotation(h(2), at(1));
    assert_eq!(c.classify(&h(1)), Some((TokenState::Current, true)));
    assert_eq!(c.classify(&h(2)), Some((TokenState::Pending, true)));
}

#[test]
fn a_rotation_keeps_at_most_one_older_pending_token() {
    let mut c = Credentials::first(h(1), t0());
    for i in 0..5u8 {
        c.begin_rotation(h(10 + i), at(10 * (i64::from(i) + 1)));
    }
    let pending: Vec<_> = (10..15)
        .filter(|n| state(&c, *n) == Some(TokenState::Pending))
        .collect();
    assert_eq!(pending, [13, 14], "the two newest");
    assert_eq!(state(&c, 1), Some(TokenState::Current));
}

#[test]
fn promotion_supersedes_older_tokens_and_keeps_newer_pending_ones() {
    let mut c = Credentials::first(h(1), t0());
    c.begin_rotation(h(2), at(10));
    c.begin_rotation(h(3), at(50));
    assert!(c.promote(&h(2), at(60)));
    assert_eq!(state(&c, 2), Some(TokenState::Current));
    assert_eq!(state(&c, 1), Some(TokenState::Superseded { at: at(60) }));
    assert_eq!(state(&c, 3), Some(TokenState::Pending));
    assert!(c.promote(&h(3), at(70)));
    assert_eq!(state(&c, 2), Some(TokenState::Superseded { at: at(70) }));
    let before = c.clone();
    assert!(!c.promote(&h(3), at(80)), "idempotent");
    assert!(!c.promote(&h(9), at(80)), "an unknown token");
    assert_eq!(c, before);
}

#[test]
fn the_history_keeps_the_newest_replaced_tokens() {
    let mut c = Credentials::first(h(1), t0());
    for i in 0..8u8 {
        let now = at(10 * (i64::from(i) + 1));
        c.begin_rotation(h(10 + i), now);
        assert!(c.promote(&h(10 + i), now));
    }
    let replaced = c
        .tokens
        .iter()
        .filter(|t| matches!(t.state, TokenState::Superseded { .. }))
        .count();
    assert_eq!(replaced, REPLACED_TOKENS_KEPT);
    assert_eq!(state(&c, 12), None, "older than the kept ones");
    assert!((13..=16).all(|n| state(&c, n).is_some()));
    assert_eq!(state(&c, 17), Some(TokenState::Current));
    // Replaced at the same time: the later issued ones are kept.
    let mut c = Credentials::first(h(1), t0());
    for i in 2..8u8 {
        c.put(h(i), TokenState::Current, at(i64::from(i)));
    }
    c.retire_issued_before(at(100), None);
    c.prune();
    let kept: Vec<_> = (1..8).filter(|n| state(&c, *n).is_some()).collect();
    assert_eq!(kept, [4, 5, 6, 7]);
}

#[test]
fn a_reissue_retires_every_token_and_records_the_sign_in() {
    let mut c = Credentials::first(h(1), t0());
    c.begin_rotation(h(2), at(1));
    let mut r = record();
    let mut re = Reissue::new(Some("alice".into()), at(2));
    re.authenticated_at = Some(at(2));
    re.tokens_expire_at = Some(at(900));
    c.reissue(&mut r, h(3), &re);
    assert_eq!(state(&c, 1), Some(TokenState::Retired { at: at(2) }));
    assert_eq!(state(&c, 2), Some(TokenState::Retired { at: at(2) }));
    assert_eq!(c.classify(&h(3)), Some((TokenState::Current, false)));
    assert_eq!(r.user_id.as_deref(), Some("alice"));
    assert_eq!((r.authenticated_at, r.rotated_at), (Some(at(2)), at(2)));
    assert_eq!(r.tokens_expire_at, Some(at(900)));
}

fn remembered() -> (Credentials, SessionRecord) {
    let mut c = Credentials::first(h(1), t0());
    let mut r = record();
    let cred = RememberCredential::new([7; 16], h(100), at(86_400));
    c.set_remember(&mut r, Some(&cred), at(3600), t0());
    (c, r)
}

fn restore(token: u8, step: ValidatorStep, now: i64) -> Restore {
    let touch = Touch::new(at(now), at(now + 1800));
    Restore::new(h(token), at(now + 3600), step, at(now), touch)
}

#[test]
fn remember_me_makes_the_session_persistent_until_the_credential_ends() {
    let (mut c, mut r) = remembered();
    assert!(r.persistent);
    assert_eq!(r.absolute_expires_at, at(86_400));
    assert_eq!(r.tokens_expire_at, Some(at(3600)), "tokens keep their end");
    assert_eq!(c.remember.map(|m| m.selector), Some([7; 16]));
    c.set_remember(&mut r, None, at(600), at(5));
    assert!(!r.persistent && c.remember.is_none());
    assert_eq!(r.absolute_expires_at, at(600));
    assert_eq!(r.expires_at, at(600));
}

#[test]
fn a_restore_issues_then_promotes_the_validator_by_compare_and_set() {
    let (mut c, mut r) = remembered();
    let issue = ValidatorStep::Issue {
        presented: h(100),
        next: h(101),
        stale_before: at(0),
    };
    assert!(c.restore(&mut r, &restore(2, issue, 10)));
    let m = c.remember.unwrap();
    assert_eq!(m.pending, Some((h(101), at(10))));
    assert_eq!(state(&c, 1), Some(TokenState::Retired { at: at(10) }));
    assert_eq!(state(&c, 2), Some(TokenState::Current));
    assert_eq!((r.rotated_at, r.last_seen_at), (at(10), at(10)));
    assert_eq!(r.authenticated_at, None);
    assert_eq!(r.tokens_expire_at, Some(at(3610)));
    // A second issue while the pending one is fresh: refused, nothing changed.
    let before = (c.clone(), r.clone());
    let again = ValidatorStep::Issue {
        presented: h(100),
        next: h(102),
        stale_before: at(5),
    };
    assert!(!c.restore(&mut r, &restore(3, again, 11)));
    assert_eq!((c.clone(), r.clone()), before);
    // A wrong pending validator: refused.
    let wrong = ValidatorStep::Promote { presented: h(100) };
    assert!(!c.restore(&mut r, &restore(3, wrong, 12)));
    // The pending one: promoted, the old one previous.
    let promote = ValidatorStep::Promote { presented: h(101) };
    assert!(c.restore(&mut r, &restore(4, promote, 20)));
    let m = c.remember.unwrap();
    assert_eq!(
        (m.validator, m.previous, m.pending),
        (h(101), Some(h(100)), None)
    );
    assert_eq!(m.rotated_at, at(20));
    // Keep: a new current token beside the others, the validator as it is.
    let keep = |presented| ValidatorStep::Keep { presented };
    assert!(c.restore(&mut r, &restore(5, keep(h(101)), 21)));
    assert_eq!(state(&c, 4), Some(TokenState::Current));
    assert_eq!(state(&c, 5), Some(TokenState::Current));
    assert_eq!(c.remember.unwrap(), m);
    // The previous validator keeps too; one before it, or another, not.
    assert!(c.restore(&mut r, &restore(6, keep(h(100)), 22)));
    assert!(!c.restore(&mut r, &restore(7, keep(h(99)), 23)));
    assert_eq!(state(&c, 7), None);
}

/// A new credential ("sign out everywhere else") ends what the old one
/// opened: a restore that read the old one keeps nothing.
#[test]
fn a_kept_validator_must_still_be_the_credential_s() {
    let (mut c, mut r) = remembered();
    let old = c.remember.unwrap().validator;
    let new = RememberCredential::new([9; 16], h(120), at(1_000_000));
    c.set_remember(&mut r, Some(&new), at(30), at(30));
    let keep = ValidatorStep::Keep { presented: old };
    assert!(!c.restore(&mut r, &restore(8, keep, 31)));
    assert_eq!(state(&c, 8), None, "a token restored on the old credential");
}

#[test]
fn a_restore_without_a_credential_does_nothing() {
    let mut c = Credentials::first(h(1), t0());
    let mut r = record();
    let promote = ValidatorStep::Promote { presented: h(100) };
    assert!(!c.restore(&mut r, &restore(2, promote, 10)));
    let keep = ValidatorStep::Keep { presented: h(100) };
    assert!(!c.restore(&mut r, &restore(2, keep, 10)));
    assert_eq!(state(&c, 1), Some(TokenState::Current));
    assert_eq!(state(&c, 2), None);
}
