//! [`UserDevices`]: a user's trusted devices and failed sign-ins as one
//! document, with the rules as pure methods: granting, checking and
//! rotating a trust credential, forgetting, and the bounded window of
//! failed sign-ins.

use crate::store::types::TokenHash;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use time::OffsetDateTime;
use uuid::Uuid;

/// How many trusted devices (forgotten ones included, until they expire)
/// a user keeps: granting one more drops the oldest.
pub const TRUSTED_DEVICES_KEPT: usize = 32;

/// How many failed sign-ins of a window are kept: the first ones since the
/// last successful sign-in (later ones are counted only, so that an
/// attacker cannot push the real ones out).
pub const FAILED_SIGN_INS_KEPT: usize = 20;

/// A user's trusted devices and failed sign-ins.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UserDevices {
    /// Trusted devices, forgotten ones included until they expire (so that
    /// a replayed credential is recognised).
    #[serde(default)]
    pub trusted: Vec<TrustedDevice>,
    /// Failed sign-ins since the last successful sign-in.
    #[serde(default)]
    pub failed: FailedSignIns,
    /// Failed sign-ins between the previous successful sign-in and the
    /// last: what the user is shown after signing in.
    #[serde(default)]
    pub failed_before: FailedSignIns,
}

/// One device trusted to skip the second factor.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TrustedDevice {
    /// Its public id (never a credential).
    pub id: Uuid,
    /// The credential's selector.
    #[serde(with = "b64")]
    pub selector: [u8; 16],
    /// SHA-256 of the current validator.
    #[serde(with = "b64")]
    pub validator: [u8; 32],
    /// SHA-256 of the validator the last rotation replaced.
    #[serde(default, with = "b64_opt")]
    pub previous: Option<[u8; 32]>,
    /// When the validator was last rotated.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub rotated_at: Option<OffsetDateTime>,
    /// When it was granted.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the trust ends (not extended by use).
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// When it was forgotten, if it was.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub forgotten_at: Option<OffsetDateTime>,
    /// Forgotten, and its browser's cookie was expired then (forgotten on
    /// that browser, found replayed, or replaced there by a new trust): the
    /// credential presented later is a copy. Otherwise (forgotten from
    /// another device, or by signing out everywhere) its browser still
    /// holds the cookie, and presents it in good faith.
    #[serde(default)]
    pub cookie_expired: bool,
    /// The session the device last signed in with.
    pub session_id: Option<Uuid>,
    /// The browser's User-Agent when it was granted.
    pub user_agent: Option<String>,
    /// The client's IP when it was granted (anonymised when configured).
    pub ip: Option<IpAddr>,
}

impl std::fmt::Debug for TrustedDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No selector or hash in logs.
        f.debug_struct("TrustedDevice")
            .field("id", &self.id)
            .field("expires_at", &self.expires_at)
            .field("forgotten_at", &self.forgotten_at)
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

impl TrustedDevice {
    /// A new trust: `selector` and the validator's hash, from `now` to
    /// `expires_at`, for session `session_id`'s browser.
    pub fn new(
        selector: [u8; 16], validator: &TokenHash, now: OffsetDateTime, expires_at: OffsetDateTime,
        session_id: Option<Uuid>,
    ) -> Self {
        Self {
            id: Uuid::new_v4(),
            selector,
            validator: *validator.as_bytes(),
            previous: None,
            rotated_at: None,
            created_at: now,
            expires_at,
            forgotten_at: None,
            cookie_expired: false,
            session_id,
            user_agent: None,
            ip: None,
        }
    }

    /// With the browser's User-Agent and IP.
    pub fn with_client(mut self, user_agent: Option<String>, ip: Option<IpAddr>) -> Self {
        self.user_agent = user_agent;
        self.ip = ip;
        self
    }

    /// Trusted at `now`: not forgotten, not expired.
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        self.forgotten_at.is_none() && self.expires_at > now
    }
}

/// Failed sign-ins of one window: the first [`FAILED_SIGN_INS_KEPT`] and a
/// count of all.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FailedSignIns {
    /// How many failed, kept or not.
    pub count: u64,
    /// The first ones, oldest first.
    pub attempts: Vec<FailedSignIn>,
    /// When the latest of them failed, kept or not (`None` in a document
    /// written before this field).
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_at: Option<OffsetDateTime>,
}

/// One failed sign-in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FailedSignIn {
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// From where (anonymised when configured).
    pub ip: Option<IpAddr>,
    /// With which browser.
    pub user_agent: Option<String>,
}

impl FailedSignIn {
    /// An attempt at `at` from `ip` with `user_agent`.
    pub fn new(at: OffsetDateTime, ip: Option<IpAddr>, user_agent: Option<String>) -> Self {
        Self { at, ip, user_agent }
    }
}

/// What a trust credential presented at `now` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustCheck {
    /// Its selector names no trust of the user (or an expired one).
    Unknown,
    /// Live, and its validator is the current one (or the one the last
    /// rotation replaced, within the grace window): the device with this
    /// id.
    Trusted(Uuid),
    /// A validator that is neither the current one nor, within the grace
    /// window, the previous one, or a forgotten trust's whose browser had
    /// its cookie expired ([`TrustedDevice::cookie_expired`]): a replay.
    /// The trust with this id must be forgotten (if it is not already).
    /// (A forgotten trust whose browser kept its cookie, presented by that
    /// browser, is [`Unknown`](Self::Unknown): no alarm.)
    Replayed(Uuid),
}

impl UserDevices {
    /// What the credential `selector`.`validator` is at `now`; the validator
    /// a rotation replaced is still accepted until `rotated_at + grace`.
    /// Hashes compare in constant time.
    pub fn check(
        &self, selector: &[u8; 16], validator: &TokenHash, now: OffsetDateTime,
        grace: time::Duration,
    ) -> TrustCheck {
        let Some(t) = self.trusted.iter().find(|t| &t.selector == selector) else {
            return TrustCheck::Unknown;
        };
        if t.expires_at <= now {
            return TrustCheck::Unknown;
        }
        let recent = t.rotated_at.is_some_and(|at| now - at <= grace);
        let check = if validator.ct_eq(&TokenHash::from_bytes(t.validator)) {
            TrustCheck::Trusted(t.id)
        } else {
            match t.previous {
                Some(p) if recent && validator.ct_eq(&TokenHash::from_bytes(p)) => {
                    TrustCheck::Trusted(t.id)
                }
                _ => TrustCheck::Replayed(t.id),
            }
        };
        // A forgotten trust grants nothing. Presented with its validator,
        // it is a copy only if its browser's cookie was expired when it was
        // forgotten; otherwise that browser is back (the user signed out
        // everywhere, or forgot it from another device): no alarm.
        match check {
            TrustCheck::Trusted(_) if t.forgotten_at.is_some() => match t.cookie_expired {
                true => TrustCheck::Replayed(t.id),
                false => TrustCheck::Unknown,
            },
            check => check,
        }
    }

    /// Adds a trust, dropping expired ones and, past
    /// [`TRUSTED_DEVICES_KEPT`], the oldest.
    pub fn trust(&mut self, device: TrustedDevice, now: OffsetDateTime) {
        self.trusted.retain(|t| t.expires_at > now);
        self.trusted.push(device);
        while self.trusted.len() > TRUSTED_DEVICES_KEPT {
            // Forgotten ones go first, then the oldest.
            let oldest = (0..self.trusted.len())
                .min_by_key(|&i| (self.trusted[i].is_live(now), self.trusted[i].created_at));
            if let Some(i) = oldest {
                self.trusted.remove(i);
            }
        }
    }

    /// Replaces trust `id`'s validator with `validator` (keeping the old one
    /// as `previous`) and records the session it now signs in with; its end
    /// stays. `false` when it is not live.
    pub fn rotate(
        &mut self, id: Uuid, validator: &TokenHash, session_id: Option<Uuid>, now: OffsetDateTime,
    ) -> bool {
        let Some(t) = self
            .trusted
            .iter_mut()
            .find(|t| t.id == id && t.is_live(now))
        else {
            return false;
        };
        t.previous = Some(t.validator);
        t.validator = *validator.as_bytes();
        t.rotated_at = Some(now);
        t.session_id = session_id.or(t.session_id);
        true
    }

    /// Forgets the live trusts `which` picks, at `now`. How many.
    pub fn forget(&mut self, now: OffsetDateTime, which: impl Fn(&TrustedDevice) -> bool) -> u64 {
        let mut n = 0;
        for t in self.trusted.iter_mut().filter(|t| t.is_live(now)) {
            if which(t) {
                t.forgotten_at = Some(now);
                n += 1;
            }
        }
        n
    }

    /// Records that the browser of the forgotten trusts `which` picks had
    /// its cookie expired ([`TrustedDevice::cookie_expired`]). Whether it
    /// changed any.
    pub fn cookie_expired(&mut self, which: impl Fn(&TrustedDevice) -> bool) -> bool {
        let mut changed = false;
        for t in self.trusted.iter_mut().filter(|t| t.forgotten_at.is_some()) {
            if !t.cookie_expired && which(t) {
                t.cookie_expired = true;
                changed = true;
            }
        }
        changed
    }

    /// The trusts live at `now`.
    pub fn live(&self, now: OffsetDateTime) -> impl Iterator<Item = &TrustedDevice> {
        self.trusted.iter().filter(move |t| t.is_live(now))
    }

    /// Records a failed sign-in: counted always, kept while the window has
    /// fewer than [`FAILED_SIGN_INS_KEPT`].
    pub fn record_failed(&mut self, attempt: FailedSignIn) {
        self.count_failed(1, attempt.at);
        if self.failed.attempts.len() < FAILED_SIGN_INS_KEPT {
            self.failed.attempts.push(attempt);
        }
    }

    /// Counts `n` failed sign-ins whose details are not kept, the latest
    /// at `last_at` (a flood, recorded in one write).
    pub fn count_failed(&mut self, n: u64, last_at: OffsetDateTime) {
        self.failed.count = self.failed.count.saturating_add(n);
        self.failed.last_at = self.failed.last_at.max(Some(last_at));
    }

    /// After a successful sign-in: the attempts since the last one become
    /// those the user is shown, and a new window starts. `false` when
    /// nothing changed.
    pub fn signed_in(&mut self) -> bool {
        if self.failed.count == 0 && self.failed_before.count == 0 {
            return false;
        }
        self.failed_before = std::mem::take(&mut self.failed);
        true
    }

    /// The failed sign-ins since the user's previous successful sign-in,
    /// oldest first, and how many there were in all.
    pub fn failed_since_previous_sign_in(&self) -> (Vec<&FailedSignIn>, u64) {
        let attempts = self.failed_before.attempts.iter();
        let list = attempts.chain(&self.failed.attempts).collect();
        (list, self.failed_before.count + self.failed.count)
    }

    /// When the last trust ends (forgotten ones included: a replay is
    /// recognised until then), if there is one.
    pub fn trust_until(&self) -> Option<OffsetDateTime> {
        self.trusted.iter().map(|t| t.expires_at).max()
    }

    /// When the latest failed sign-in happened, kept or not (an attack
    /// that goes on past the kept ones keeps its record from collection),
    /// if any.
    pub fn last_failed_at(&self) -> Option<OffsetDateTime> {
        let both = self
            .failed
            .attempts
            .iter()
            .chain(&self.failed_before.attempts);
        let kept = both.map(|a| a.at).max();
        kept.max(self.failed.last_at)
            .max(self.failed_before.last_at)
    }
}

/// Bytes as unpadded URL-safe base64 in the document.
mod b64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub(super) fn serialize<S: Serializer, const N: usize>(
        bytes: &[u8; N], s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&URL_SAFE_NO_PAD.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<[u8; N], D::Error> {
        let text = String::deserialize(d)?;
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(D::Error::custom)?;
        bytes
            .try_into()
            .map_err(|_| D::Error::custom("wrong length"))
    }
}

/// [`b64`] for an optional value.
mod b64_opt {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer, const N: usize>(
        bytes: &Option<[u8; N]>, s: S,
    ) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(b) => super::b64::serialize(b, s),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<Option<[u8; N]>, D::Error> {
        #[derive(Deserialize)]
        struct Wrap<const M: usize>(#[serde(with = "super::b64")] [u8; M]);
        Ok(Option::<Wrap<N>>::deserialize(d)?.map(|w| w.0))
    }
}

#[cfg(test)]
mod tests;
