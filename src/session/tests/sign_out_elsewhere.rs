//! "Sign out everywhere else" while a copy of this device's cookies is in
//! use: nothing the copy does during the call outlives it.

use super::interleaved::{Hook, HookSlot, remembered};
use super::*;
use std::sync::Mutex;

/// A copy of a remembered device's cookies restores the session while
/// "Sign out everywhere else" runs on the device, between the calls that
/// replace its session token and its remember-me credential. Whatever the
/// copy got in that moment is dead once the call is done; the device
/// itself stays signed in.
#[tokio::test]
async fn a_copy_restoring_during_sign_out_elsewhere_is_signed_out_too() {
    let (storage, mut device) = remembered("alice", SessionConfig::default()).await;
    let id = device.request().await.id().unwrap();

    // The copy holds the remember-me cookie only: its next request
    // restores.
    let mut copy = device.other();
    copy.remember = device.remember.clone();
    let after = Arc::new(Mutex::new(None));
    let kept = after.clone();
    let hook: Hook = Box::pin(async move {
        let s = copy.request().await;
        copy.respond(&s).await;
        *kept.lock().unwrap() = Some((copy.session.clone(), copy.remember.clone()));
    });

    let s = device.request().await;
    *storage.after_next_swap.lock().unwrap() = Some(HookSlot(hook));
    assert_eq!(s.revoke_other_sessions().await.unwrap(), 0);
    device.respond(&s).await;
    let (session, remember) = after.lock().unwrap().take().expect("the copy ran");

    // Whatever cookies the copy holds now name nothing (asked before the
    // device's next request, which could end them by itself).
    for (session, remember) in [(session, None), (None, remember)] {
        let mut copy = device.other();
        (copy.session, copy.remember) = (session, remember);
        let s = copy.request().await;
        assert_eq!(s.user_id(), None, "a copy's cookie outlived the call");
    }

    let s = device.request().await;
    assert_eq!(s.id(), Some(id), "the device stays signed in");
    assert!(!s.is_restored(), "its session cookie is still good");
}

/// The copy finds the old credential before the call and restores after
/// it, keeping the validator (the device restored a moment before, so the
/// copy's request is taken for one of its tabs): the new credential
/// refuses it.
#[tokio::test]
async fn a_copy_that_found_the_old_credential_before_the_call_is_refused_after_it() {
    let (storage, mut device) = remembered("alice", SessionConfig::default()).await;
    let mut copy = device.other();
    copy.remember = device.remember.clone();
    // The device restarts and restores: a pending validator goes out.
    device.session = None;
    let s = device.request().await;
    assert!(s.is_restored());
    device.respond(&s).await;
    let id = device.request().await.id().unwrap();

    let mut on_device = device.clone();
    let after = Arc::new(Mutex::new(None));
    let kept = after.clone();
    let hook: Hook = Box::pin(async move {
        let s = on_device.request().await;
        assert_eq!(s.revoke_other_sessions().await.unwrap(), 0);
        on_device.respond(&s).await;
        *kept.lock().unwrap() = Some((on_device.session, on_device.remember));
    });
    *storage.after_next_selector.lock().unwrap() = Some(HookSlot(hook));
    let s = copy.request().await;
    let cookies = after.lock().unwrap().take().expect("the call ran");
    assert_eq!(s.user_id(), None, "the copy restored on the old credential");

    (device.session, device.remember) = cookies;
    let s = device.request().await;
    assert_eq!(s.id(), Some(id), "the device stays signed in");
    // And its new remember-me cookie restores it.
    device.session = None;
    let s = device.request().await;
    assert_eq!(s.id(), Some(id), "the new remember-me cookie restores");
    assert!(s.is_restored());
}
