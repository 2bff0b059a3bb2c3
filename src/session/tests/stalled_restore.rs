//! A tab whose restore stalls between reading the remember-me credential
//! and writing it, while the browser's other tabs promote the validator
//! twice: the validator it presented is gone by then, which is no theft.

use super::interleaved::{Hook, HookSlot, remembered};
use super::*;

const GRACE: Duration = Duration::from_millis(300);

#[tokio::test]
async fn a_tab_stalled_past_two_promotions_is_anonymous_not_a_theft() {
    let mut config = SessionConfig::default();
    config.remember.grace = GRACE;
    config.rotation.grace = GRACE;
    let (storage, mut b) = remembered("dana", config).await;
    // After a restart, a first tab restores (a pending validator goes
    // out); a second tab still sends the validator before it.
    b.session = None;
    let mut stalled = b.clone();
    let s = b.request().await;
    assert!(s.is_restored());
    b.respond(&s).await;
    let id = b.request().await.id().unwrap();

    // While the second tab stalls, the browser promotes the pending
    // validator, and a grace later issues and promotes another.
    let mut others = b.clone();
    let hook: Hook = Box::pin(async move {
        for _ in 0..2 {
            others.session = None;
            let s = others.request().await;
            assert!(s.is_restored(), "a promotion");
            others.respond(&s).await;
            past(now() + GRACE).await;
            others.session = None;
            let s = others.request().await;
            assert!(s.is_restored(), "an issue");
            others.respond(&s).await;
        }
    });
    *storage.after_next_selector.lock().unwrap() = Some(HookSlot(hook));
    stalled.session = None;
    let s = stalled.request().await;
    assert!(
        storage.after_next_selector.lock().unwrap().is_none(),
        "the tabs ran"
    );
    assert_eq!(s.user_id(), None);
    let update = stalled.respond(&s).await;
    assert_eq!(update.remember, None, "expired the browser's newest cookie");
    let record = b.store.get(id).await.unwrap().unwrap();
    assert_eq!(record.revoked_at, None, "{:?}", record.revoke_reason);
}
