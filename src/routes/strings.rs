//! [`PageStrings`]: every word of the built-in "Your devices" page, English
//! by default, replaceable (other languages) with
//! [`SessionRoutes::with_strings`](super::SessionRoutes::with_strings).

use crate::device::EndedReason;
use time::OffsetDateTime;

/// All the user-visible text of the built-in "Your devices" page (and of
/// the formatted fields of its view model, [`DevicesPage`](super::DevicesPage)),
/// with an English [`Default`]. Placeholders in braces (`{n}`, `{time}`,
/// `{date}`, `{ip}`, `{method}`, `{device}`, `{user}`) are filled in; all
/// text is HTML-escaped when the page is rendered.
///
/// Not covered: the parsed device names ("Firefox on Linux",
/// [`device_name`](crate::device_name)), sign-in method codes as the app
/// recorded them, and the refusal pages' messages.
///
/// ```
/// use axum_user_sessions::SessionRoutes;
/// use axum_user_sessions::routes::PageStrings;
///
/// let mut de = PageStrings::default();
/// de.lang = "de".into();
/// de.title = "Deine Geräte".into();
/// de.sign_out = "Abmelden".into();
/// de.minutes_ago = "vor {n} Minuten".into();
/// let routes = SessionRoutes::new().with_strings(de);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
#[allow(missing_docs)] // each field's doc is its English default
pub struct PageStrings {
    /// The page's `lang` attribute: `en`.
    pub lang: String,
    /// `Your devices` (the heading and the window title).
    pub title: String,
    /// `Where you are signed in. Sign out any device you do not recognise.`
    pub intro: String,
    /// `Sessions of {user}` (an admin looking at another user's sessions).
    pub sessions_of: String,
    /// `Signed-in devices` (the list's label for screen readers).
    pub devices_label: String,
    /// `This device`
    pub this_device: String,
    /// `Remembered` (a "Remember me" device).
    pub remembered: String,
    /// `IP {ip}`
    pub ip: String,
    /// `Active now` (the current device).
    pub active_now: String,
    /// `Last active {time}` (`{time}`: a relative time such as `5 minutes ago`).
    pub last_active: String,
    /// `Signed in {date}`
    pub signed_in: String,
    /// `from {ip}` (follows `signed_in` when the device moved since).
    pub signed_in_from: String,
    /// `with {method}` (follows `signed_in`; `{method}` as the app recorded it).
    pub signed_in_with: String,
    /// `and a second factor`
    pub second_factor: String,
    /// `Name for {device}` (the rename field's label for screen readers).
    pub rename_label: String,
    /// `Name this device` (the rename field's placeholder).
    pub rename_placeholder: String,
    /// `Rename`
    pub rename: String,
    /// `Sign out` (a device's button).
    pub sign_out: String,
    /// `Sign out {device}` (the button's label for screen readers).
    pub sign_out_label: String,
    /// `No active sessions.`
    pub no_devices: String,
    /// `Older devices` (the link to the next page).
    pub older_devices: String,
    /// `Sign out everywhere else`
    pub sign_out_others: String,
    /// `Recently signed out ({n})`
    pub recently_signed_out: String,
    /// `Recently signed-out devices` (that list's label for screen readers).
    pub ended_label: String,
    /// `just now`
    pub just_now: String,
    /// `{n} minute ago` (n = 1)
    pub minute_ago: String,
    /// `{n} minutes ago`
    pub minutes_ago: String,
    /// `{n} hour ago`
    pub hour_ago: String,
    /// `{n} hours ago`
    pub hours_ago: String,
    /// `{n} day ago`
    pub day_ago: String,
    /// `{n} days ago`
    pub days_ago: String,
    /// `Signed out`
    pub reason_signed_out: String,
    /// `Signed out from another device`
    pub reason_signed_out_elsewhere: String,
    /// `Signed out by an administrator`
    pub reason_admin: String,
    /// `Expired`
    pub reason_expired: String,
    /// `Signed out because a stolen token was used`
    pub reason_stolen_token: String,
    /// `Replaced by the device limit`
    pub reason_device_limit: String,
    /// `Signed out because the network or browser changed`
    pub reason_network_changed: String,
    /// `Signed out because the password changed`
    pub reason_password_changed: String,
    /// `Sign in to see the devices where you are signed in.` (the page an
    /// anonymous visitor gets).
    pub sign_in_needed: String,
    /// `Sign in` (that page's link, to
    /// [`SessionRoutes::with_sign_in_url`](super::SessionRoutes::with_sign_in_url)).
    pub sign_in: String,
    /// `Trusted` (a device that may skip the second factor).
    pub trusted: String,
    /// `Forget this device` (asks for the second factor there again).
    pub forget_device: String,
    /// `Forget all trusted devices`
    pub forget_all: String,
    /// `Trusted browsers not listed here: {n}` (signed out longer ago than
    /// the list shows, or on another page of it).
    pub trusted_unlisted: String,
    /// `Failed sign-ins since your last sign-in ({n})`
    pub failed_sign_ins: String,
}

impl Default for PageStrings {
    fn default() -> Self {
        let s = |t: &str| t.to_owned();
        let r = |k: EndedReason| s(k.english());
        Self {
            lang: s("en"),
            title: s("Your devices"),
            sign_in_needed: s("Sign in to see the devices where you are signed in."),
            sign_in: s("Sign in"),
            intro: s("Where you are signed in. Sign out any device you do not recognise."),
            sessions_of: s("Sessions of {user}"),
            devices_label: s("Signed-in devices"),
            this_device: s("This device"),
            remembered: s("Remembered"),
            ip: s("IP {ip}"),
            active_now: s("Active now"),
            last_active: s("Last active {time}"),
            signed_in: s("Signed in {date}"),
            signed_in_from: s("from {ip}"),
            signed_in_with: s("with {method}"),
            second_factor: s("and a second factor"),
            rename_label: s("Name for {device}"),
            rename_placeholder: s("Name this device"),
            rename: s("Rename"),
            sign_out: s("Sign out"),
            sign_out_label: s("Sign out {device}"),
            no_devices: s("No active sessions."),
            older_devices: s("Older devices"),
            sign_out_others: s("Sign out everywhere else"),
            recently_signed_out: s("Recently signed out ({n})"),
            ended_label: s("Recently signed-out devices"),
            just_now: s("just now"),
            minute_ago: s("{n} minute ago"),
            minutes_ago: s("{n} minutes ago"),
            hour_ago: s("{n} hour ago"),
            hours_ago: s("{n} hours ago"),
            day_ago: s("{n} day ago"),
            days_ago: s("{n} days ago"),
            reason_signed_out: r(EndedReason::SignedOut),
            reason_signed_out_elsewhere: r(EndedReason::SignedOutElsewhere),
            reason_admin: r(EndedReason::Admin),
            reason_expired: r(EndedReason::Expired),
            reason_stolen_token: r(EndedReason::StolenToken),
            reason_device_limit: r(EndedReason::DeviceLimit),
            reason_network_changed: r(EndedReason::NetworkChanged),
            reason_password_changed: r(EndedReason::PasswordChanged),
            trusted: s("Trusted"),
            forget_device: s("Forget this device"),
            forget_all: s("Forget all trusted devices"),
            trusted_unlisted: s("Trusted browsers not listed here: {n}"),
            failed_sign_ins: s("Failed sign-ins since your last sign-in ({n})"),
        }
    }
}

impl PageStrings {
    /// This language's phrase for `kind`.
    pub(crate) fn reason(&self, kind: EndedReason) -> &str {
        match kind {
            EndedReason::SignedOut => &self.reason_signed_out,
            EndedReason::SignedOutElsewhere => &self.reason_signed_out_elsewhere,
            EndedReason::Admin => &self.reason_admin,
            EndedReason::Expired => &self.reason_expired,
            EndedReason::StolenToken => &self.reason_stolen_token,
            EndedReason::DeviceLimit => &self.reason_device_limit,
            EndedReason::NetworkChanged => &self.reason_network_changed,
            EndedReason::PasswordChanged => &self.reason_password_changed,
        }
    }

    /// `then` relative to `now`: "5 minutes ago".
    pub(crate) fn ago(&self, then: OffsetDateTime, now: OffsetDateTime) -> String {
        let secs = (now - then).whole_seconds().max(0);
        let (n, one, many) = match secs {
            0..60 => return self.just_now.clone(),
            60..3600 => (secs / 60, &self.minute_ago, &self.minutes_ago),
            3600..86_400 => (secs / 3600, &self.hour_ago, &self.hours_ago),
            _ => (secs / 86_400, &self.day_ago, &self.days_ago),
        };
        fill(if n == 1 { one } else { many }, &[("n", &n.to_string())])
    }
}

/// `template` with each `{key}` replaced by its value, in one pass (a value
/// that contains a placeholder is not filled again).
pub(crate) fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let hit = after.find('}').and_then(|close| {
            let key = &after[..close];
            values
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| (close, *v))
        });
        match hit {
            Some((close, v)) => {
                out.push_str(v);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn relative_times() {
        let s = PageStrings::default();
        let now = OffsetDateTime::now_utc();
        assert_eq!(s.ago(now, now), "just now");
        assert_eq!(s.ago(now - Duration::from_secs(300), now), "5 minutes ago");
        assert_eq!(s.ago(now - Duration::from_secs(3600), now), "1 hour ago");
        assert_eq!(
            s.ago(now - Duration::from_secs(3 * 86_400), now),
            "3 days ago"
        );
    }

    #[test]
    fn placeholders_are_filled_once() {
        assert_eq!(
            fill("Sign out {device}", &[("device", "{device} {x}")]),
            "Sign out {device} {x}"
        );
        assert_eq!(fill("{a}{b} {c", &[("a", "1"), ("b", "2")]), "12 {c");
        assert_eq!(fill("no {unknown}", &[]), "no {unknown}");
    }
}
