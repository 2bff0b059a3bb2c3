//! The Redis store's revocations of everyone (a "not before" generation
//! per hash slot) against the sessions from before them: which count as
//! revoked (clocks may disagree on the instants), and which writes land
//! on them.

use crate::common::redis::{both, hash, user_record};
use axum_user_sessions::SessionProtocol;
use axum_user_sessions::store::{
    RedisOptions, Revocation, RevokeReason, RevokeScope, RevokedBy, placement,
};
use std::time::Duration;
use time::OffsetDateTime;

/// A session that had ended before everyone was revoked is of an older
/// generation than its slot's, and the revocation left it as it was.
/// No write lands on it, and each is answered at once ("nothing
/// written", or the protocol's own answer for a session it cannot
/// change): it was read and refused 32 times, then failed as
/// unavailable.
#[tokio::test]
async fn redis_a_session_ended_before_everyone_was_revoked_takes_no_write() {
    use axum_user_sessions::store::Reissue;
    let ip: std::net::IpAddr = "192.0.2.7".parse().unwrap();
    for s in both(RedisOptions::default()).await {
        let id = placement::session_id(Some("ended-before"));
        let mut r = user_record(id, "ended-before");
        // Ended before the revocation's clock allowance too.
        r.expires_at = r.created_at - Revocation::CLOCK_ALLOWANCE - Duration::from_secs(1);
        r.last_ip = Some(ip);
        s.create(&r, &hash(1)).await.unwrap();
        let now = OffsetDateTime::now_utc();
        let how = Revocation::new(RevokeReason::Admin, RevokedBy::operator("ops"), now);
        assert_eq!(s.revoke(&RevokeScope::Everyone, &how).await.unwrap(), 0);
        let protocol: &dyn SessionProtocol = &s;
        assert!(!protocol.set_location(id, ip, "Lisbon").await.unwrap());
        let one = RevokeScope::Session { id, owner: None };
        assert_eq!(s.revoke(&one, &how).await.unwrap(), 0, "not live");
        let reissue = Reissue::new(Some("ended-before".into()), now);
        let reissued = s.reissue(id, &hash(2), &reissue).await;
        assert!(!matches!(reissued, Ok(true)), "{reissued:?}");
        let kept = s.get(id).await.unwrap().expect("still kept");
        assert_eq!(kept.location, None);
        assert_eq!(kept.revoked_at, None, "it ended by its idle timeout");
    }
}

/// Revocations of everyone stamped by clocks that disagree: the first
/// missed a session (its instant, from a clock ahead, is after the
/// session's idle end), the second, from a clock behind, did not. The
/// session counts as revoked by the second, as on every store, which
/// revokes at each revocation the sessions live at its instant.
#[tokio::test]
async fn redis_a_later_revocation_of_everyone_ends_what_an_earlier_missed() {
    for s in both(RedisOptions::default()).await {
        let id = placement::session_id(Some("skewed"));
        let r = user_record(id, "skewed");
        s.create(&r, &hash(1)).await.unwrap();
        let ahead = r.expires_at + Duration::from_secs(3600);
        let first = Revocation::new(RevokeReason::Admin, RevokedBy::operator("a"), ahead);
        assert_eq!(s.revoke(&RevokeScope::Everyone, &first).await.unwrap(), 0);
        let behind = r.created_at + Duration::from_secs(1);
        let second = Revocation::new(RevokeReason::Admin, RevokedBy::operator("b"), behind);
        assert_eq!(s.revoke(&RevokeScope::Everyone, &second).await.unwrap(), 1);
        let kept = s.get(id).await.unwrap().unwrap();
        assert_eq!(kept.revoked_at, Some(behind));
        assert_eq!(kept.revoked_by.as_deref(), Some("b"));
    }
}

/// A revocation of everyone stamped by a clock ahead missed a session
/// (its instant is after the session's idle end), which is live all the
/// same. The user's "sign out everywhere", and an admin's revocation of
/// that one session, still revoke it: a revocation lands on a session of
/// an older generation (it brings nothing back), where every other write
/// is refused.
#[tokio::test]
async fn redis_a_session_a_revocation_of_everyone_missed_can_still_be_revoked() {
    for s in both(RedisOptions::default()).await {
        let (a, b) = (
            placement::session_id(Some("missed")),
            placement::session_id(Some("missed")),
        );
        let ra = user_record(a, "missed");
        s.create(&ra, &hash(1)).await.unwrap();
        s.create(&user_record(b, "missed"), &hash(2)).await.unwrap();
        let ahead = ra.expires_at + Duration::from_secs(3600);
        let missed = Revocation::new(RevokeReason::Admin, RevokedBy::operator("a"), ahead);
        assert_eq!(s.revoke(&RevokeScope::Everyone, &missed).await.unwrap(), 0);

        let now = OffsetDateTime::now_utc();
        let how = Revocation::new(RevokeReason::User, RevokedBy::user("missed"), now);
        let one = RevokeScope::Session { id: a, owner: None };
        assert_eq!(s.revoke(&one, &how).await.unwrap(), 1);
        let everywhere = RevokeScope::User {
            user_id: "missed",
            keep: None,
        };
        assert_eq!(s.revoke(&everywhere, &how).await.unwrap(), 1, "b");
        for id in [a, b] {
            let kept = s.get(id).await.unwrap().unwrap();
            assert_eq!(kept.revoked_at, Some(now));
        }
    }
}

/// An anonymous session that a revocation of everyone missed (stamped by
/// a clock ahead, past its idle end and the allowance) takes no write, so
/// a sign-in that moves it fails: and the new id the move inserted first
/// goes with it, where it stayed behind, a session no cookie named.
#[tokio::test]
async fn redis_a_move_that_fails_leaves_no_new_id_behind() {
    use axum_user_sessions::store::Reissue;
    for s in both(RedisOptions::default()).await {
        let id = placement::session_id(None);
        let mut r = user_record(id, "nobody");
        r.user_id = None;
        s.create(&r, &hash(1)).await.unwrap();
        let ahead = r.expires_at + Revocation::CLOCK_ALLOWANCE + Duration::from_secs(3600);
        let how = Revocation::new(RevokeReason::Admin, RevokedBy::operator("a"), ahead);
        assert_eq!(s.revoke(&RevokeScope::Everyone, &how).await.unwrap(), 0);
        let new_id = placement::session_id(Some("orphan"));
        let mut sign_in = Reissue::new(Some("orphan".into()), OffsetDateTime::now_utc());
        sign_in.new_id = Some(new_id);
        let moved = s.reissue(id, &hash(2), &sign_in).await;
        assert!(moved.is_err(), "{moved:?}");
        assert!(s.get(new_id).await.unwrap().is_none(), "the new id stayed");
    }
}
