use super::*;
use time::Duration;

fn hash(b: u8) -> TokenHash {
    TokenHash::from_bytes([b; 32])
}

fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

#[test]
fn current_previous_forgotten_and_unknown() {
    let now = t0();
    let mut d = UserDevices::default();
    let device = TrustedDevice::new([1; 16], &hash(1), now, now + Duration::days(30), None);
    let id = device.id;
    d.trust(device, now);
    let grace = Duration::seconds(5);
    // Browser 1 presenting `hash(token)` at `at`.
    let check = |d: &UserDevices, token: u8, at| d.check(&[1; 16], &hash(token), at, grace);
    assert_eq!(check(&d, 1, now), TrustCheck::Trusted(id));
    assert_eq!(d.check(&[2; 16], &hash(1), now, grace), TrustCheck::Unknown);
    assert_eq!(check(&d, 9, now), TrustCheck::Replayed(id));
    assert!(d.rotate(id, &hash(2), None, now));
    assert_eq!(check(&d, 1, now), TrustCheck::Trusted(id));
    let later = now + Duration::seconds(6);
    assert_eq!(check(&d, 1, later), TrustCheck::Replayed(id));
    assert_eq!(check(&d, 2, later), TrustCheck::Trusted(id));
    assert_eq!(d.forget(later, |t| t.id == id), 1);
    // Forgotten from elsewhere: its browser, back with its validator, is
    // no replay; a validator it never held still is.
    assert_eq!(check(&d, 2, later), TrustCheck::Unknown);
    assert_eq!(check(&d, 9, later), TrustCheck::Replayed(id));
    // Its cookie was expired on its browser: the validator is a copy.
    assert!(d.cookie_expired(|t| t.id == id));
    assert!(!d.cookie_expired(|t| t.id == id), "once");
    assert_eq!(check(&d, 2, later), TrustCheck::Replayed(id));
    let ended = now + Duration::days(31);
    assert_eq!(check(&d, 2, ended), TrustCheck::Unknown);
}

#[test]
fn trusts_are_bounded_and_the_document_round_trips() {
    let now = t0();
    let mut d = UserDevices::default();
    for i in 0..(TRUSTED_DEVICES_KEPT + 3) {
        let at = now + Duration::seconds(i as i64);
        d.trust(
            TrustedDevice::new([i as u8; 16], &hash(1), at, at + Duration::days(1), None),
            at,
        );
    }
    assert_eq!(d.trusted.len(), TRUSTED_DEVICES_KEPT);
    assert!(
        d.trusted.iter().all(|t| t.selector[0] >= 3),
        "the oldest went first"
    );
    let text = serde_json::to_string(&d).unwrap();
    assert_eq!(serde_json::from_str::<UserDevices>(&text).unwrap(), d);
}

#[test]
fn failed_sign_ins_keep_the_first_and_count_all() {
    let now = t0();
    let mut d = UserDevices::default();
    assert!(!d.signed_in());
    for i in 0..(FAILED_SIGN_INS_KEPT + 5) {
        d.record_failed(FailedSignIn::new(
            now + Duration::seconds(i as i64),
            None,
            None,
        ));
    }
    let (list, count) = d.failed_since_previous_sign_in();
    assert_eq!(
        (list.len(), count),
        (FAILED_SIGN_INS_KEPT, FAILED_SIGN_INS_KEPT as u64 + 5)
    );
    assert_eq!(list[0].at, now, "the first ones are kept");
    // The latest counts for collection, kept or not: it used to stop at
    // the last kept one, and an attack going on was collected.
    let latest = now + Duration::seconds(FAILED_SIGN_INS_KEPT as i64 + 4);
    assert_eq!(d.last_failed_at(), Some(latest));
    assert!(d.signed_in());
    assert_eq!(d.last_failed_at(), Some(latest), "shown after the sign-in");
    assert_eq!(
        d.failed_since_previous_sign_in().1,
        FAILED_SIGN_INS_KEPT as u64 + 5
    );
    assert!(d.signed_in(), "a second sign-in hides them");
    assert_eq!(d.failed_since_previous_sign_in().1, 0);
    assert!(!d.signed_in());
}
