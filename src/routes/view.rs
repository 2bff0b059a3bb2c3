//! The view model of the "Your devices" page, already formatted for
//! display: what the built-in page renders, and what an app's own page gets
//! ([`SessionRoutes::with_page`](super::SessionRoutes::with_page)).

use super::strings::{PageStrings, fill};
use crate::device::{DeviceView, EndedDeviceView, FailedSignInView};
use std::sync::Arc;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

/// The "Your devices" page, ready to render: one [`DeviceItem`] per live
/// session (the 50 most recently active), one [`EndedItem`] per recently
/// ended one, the link to the next page, and the forms' actions.
///
/// The forms need no hidden fields and no token: they are plain
/// `<form method="post">`s, urlencoded, to the actions given here. The
/// routes enforce the same-origin rule (a browser sends `Sec-Fetch-Site`)
/// and the recent sign-in rule themselves, whatever the template does.
/// The rename form posts one field, `name` (at most 64 characters; empty
/// clears the name). The revoke forms post nothing. Each answers `303`
/// back to the list.
///
/// ```
/// use axum::response::Html;
/// use axum_user_sessions::SessionRoutes;
/// use axum_user_sessions::routes::DevicesPage;
///
/// // Use your templates; they must escape what they print: `&` first,
/// // then `<`, `>` and both quotes (a name may end up in an attribute).
/// fn esc(s: &str) -> String {
///     s.replace('&', "&amp;")
///         .replace('<', "&lt;")
///         .replace('>', "&gt;")
///         .replace('"', "&quot;")
///         .replace('\'', "&#39;")
/// }
///
/// fn my_page(page: &DevicesPage) -> Html<String> {
///     let mut out = format!("<h1>{} devices</h1><ul>", page.devices.len());
///     for d in &page.devices {
///         out += &format!(
///             "<li title=\"{}\">{} · {}</li>",
///             esc(&d.device),
///             esc(&d.title),
///             esc(&d.last_active)
///         );
///     }
///     Html(out + "</ul>")
/// }
/// let routes = SessionRoutes::new().with_page(my_page);
/// # assert_eq!(esc(r#"<b> "a" 'b' &"#), "&lt;b&gt; &quot;a&quot; &#39;b&#39; &amp;");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DevicesPage {
    /// Whose devices (a user id).
    pub user: String,
    /// An admin is looking at another user's sessions (they may sign them
    /// out, not rename them).
    pub other_user: bool,
    /// The live sessions of this page, most recently active first.
    pub devices: Vec<DeviceItem>,
    /// The sessions that ended recently, most recent first (first page only).
    pub ended: Vec<EndedItem>,
    /// The link to the next page (`?cursor=…`), if there are more devices.
    pub next_page: Option<String>,
    /// Where "Sign out everywhere else" posts, when it applies (the user's
    /// own list, with another device in it).
    pub revoke_others_action: Option<String>,
    /// Where "Forget all trusted devices" posts, when the user has a
    /// trusted device, listed or not (the user's own list).
    pub forget_all_action: Option<String>,
    /// How many of the user's trusted devices this page does not show: a
    /// browser signed out longer ago than the ended sessions shown (or
    /// whose session was collected), or one on another page of the list.
    /// Each may still skip the second factor until it is forgotten.
    pub trusted_unlisted: usize,
    /// Failed sign-ins since the user's previous successful sign-in (the
    /// first ones kept), oldest first.
    pub failed_sign_ins: Vec<FailedItem>,
    /// How many failed in all since then.
    pub failed_sign_in_count: u64,
    /// The page's words, as configured
    /// ([`with_strings`](super::SessionRoutes::with_strings)).
    pub strings: Arc<PageStrings>,
}

/// One live session on the page, formatted.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DeviceItem {
    /// The session's public id.
    pub id: Uuid,
    /// What to call it: the user's name for it, or the parsed device
    /// ([`DeviceView::title`]).
    pub title: String,
    /// The name the user gave it, if any.
    pub name: Option<String>,
    /// The browser and system, parsed from the User-Agent.
    pub device: String,
    /// The session of the request showing the page.
    pub current: bool,
    /// "Active now" or "Last active 5 minutes ago".
    pub last_active: String,
    /// When it was last used: `2026-12-03 12:05 UTC`.
    pub last_active_date: String,
    /// The same, RFC 3339 (for `<time datetime>`).
    pub last_active_iso: String,
    /// "Signed in 2026-12-03 09:00 UTC from 192.0.2.1 with password and a
    /// second factor" (the parts that apply).
    pub signed_in: String,
    /// When the user signed in on it: `2026-12-03 09:00 UTC`.
    pub signed_in_date: String,
    /// The same, RFC 3339.
    pub signed_in_iso: String,
    /// The IP it signed in from.
    pub ip: Option<String>,
    /// The IP it was last used from.
    pub last_ip: Option<String>,
    /// "IP 192.0.2.1", when the last IP is known.
    pub last_ip_text: Option<String>,
    /// Where the last IP is ("Lisbon, Portugal"), from the app's locator.
    pub location: Option<String>,
    /// How the user signed in (`password`, `passkey`, …), if the app said.
    pub sign_in_method: Option<String>,
    /// Whether a second factor was used.
    pub second_factor: bool,
    /// A "Remember me" device.
    pub persistent: bool,
    /// A trusted device: it may skip the second factor.
    pub trusted: bool,
    /// Where its "Forget this device" form posts, when it is trusted (the
    /// user's own list).
    pub forget_action: Option<String>,
    /// Where its "Sign out" form posts; `None` for the current device.
    pub revoke_action: Option<String>,
    /// "Sign out Work laptop", the button's accessible label.
    pub revoke_label: String,
    /// Where its rename form posts (field `name`); `None` when an admin
    /// looks at another user's list.
    pub rename_action: Option<String>,
    /// "Name for Firefox on Linux", the rename field's accessible label.
    pub rename_label: String,
    /// The session as the JSON list shows it, for anything not formatted
    /// here.
    pub session: DeviceView,
}

/// One recently ended session on the page, formatted. It cannot be signed
/// out again.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EndedItem {
    /// The session's public id.
    pub id: Uuid,
    /// What it was called ([`DeviceView::title`]).
    pub title: String,
    /// The name the user had given it, if any.
    pub name: Option<String>,
    /// The browser and system.
    pub device: String,
    /// Why it ended, as a code (`logout`, `user`, `admin`, `expired`, …).
    pub reason: String,
    /// Why, in plain words of the page's language ("Signed out from
    /// another device").
    pub reason_text: String,
    /// When, relative: "3 days ago".
    pub ended: String,
    /// When: `2026-11-30 12:00 UTC`.
    pub ended_date: String,
    /// The same, RFC 3339.
    pub ended_iso: String,
    /// The IP it signed in from.
    pub ip: Option<String>,
    /// "IP 192.0.2.1".
    pub ip_text: Option<String>,
    /// The browser is still trusted: signed out, it may skip the second
    /// factor at its next sign-in.
    pub trusted: bool,
    /// Where its "Forget this device" form posts, when it is trusted (the
    /// user's own list).
    pub forget_action: Option<String>,
}

/// One failed sign-in on the page, formatted.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FailedItem {
    /// When, relative: "5 minutes ago".
    pub when: String,
    /// When: `2026-12-03 12:05 UTC`.
    pub date: String,
    /// The same, RFC 3339.
    pub iso: String,
    /// "IP 192.0.2.1", when known.
    pub ip_text: Option<String>,
    /// The browser and system.
    pub device: String,
}

/// What the list handler knows, to build the page from.
pub(super) struct Input<'a> {
    pub(super) base: &'a str,
    pub(super) user: &'a str,
    pub(super) other_user: bool,
    pub(super) devices: &'a [DeviceView],
    pub(super) ended: &'a [EndedDeviceView],
    pub(super) failed: (&'a [FailedSignInView], u64),
    /// The user's live trusted devices: all, and those that `devices` and
    /// `ended` do not show.
    pub(super) trusted: (usize, usize),
    pub(super) next: Option<String>,
    pub(super) now: OffsetDateTime,
    pub(super) strings: &'a Arc<PageStrings>,
}

impl DevicesPage {
    pub(super) fn build(i: Input<'_>) -> Self {
        let base = i.base.trim_end_matches('/');
        let s: &PageStrings = i.strings;
        let devices: Vec<DeviceItem> = i
            .devices
            .iter()
            .map(|d| device_item(d, base, i.other_user, i.now, s))
            .collect();
        let others = devices.iter().any(|d| !d.current);
        let ended: Vec<EndedItem> = i
            .ended
            .iter()
            .map(|e| ended_item(e, base, i.other_user, i.now, s))
            .collect();
        let failed_item = |f: &FailedSignInView| FailedItem {
            when: s.ago(f.at, i.now),
            date: date(f.at),
            iso: iso(f.at),
            ip_text: ip_text(s, f.ip.as_deref()),
            device: f.device.clone(),
        };
        Self {
            forget_all_action: (i.trusted.0 > 0 && !i.other_user)
                .then(|| format!("{base}/forget-all")),
            failed_sign_ins: i.failed.0.iter().map(failed_item).collect(),
            failed_sign_in_count: i.failed.1,
            trusted_unlisted: i.trusted.1,
            user: i.user.to_owned(),
            other_user: i.other_user,
            ended,
            devices,
            next_page: i.next,
            revoke_others_action: (others && !i.other_user)
                .then(|| format!("{base}/revoke-others")),
            strings: Arc::clone(i.strings),
        }
    }
}

fn device_item(
    d: &DeviceView, base: &str, other_user: bool, now: OffsetDateTime, s: &PageStrings,
) -> DeviceItem {
    let title = d.title();
    let last_active = if d.current {
        s.active_now.clone()
    } else {
        fill(&s.last_active, &[("time", &s.ago(d.last_seen_at, now))])
    };
    let signed_in_date = date(d.created_at);
    let mut signed_in = fill(&s.signed_in, &[("date", &signed_in_date)]);
    if let Some(ip) = d.ip.as_ref().filter(|ip| d.last_ip.as_ref() != Some(*ip)) {
        signed_in = format!("{signed_in} {}", fill(&s.signed_in_from, &[("ip", ip)]));
    }
    if let Some(method) = &d.sign_in_method {
        signed_in = format!(
            "{signed_in} {}",
            fill(&s.signed_in_with, &[("method", method)])
        );
    }
    if d.second_factor {
        signed_in = format!("{signed_in} {}", s.second_factor);
    }
    DeviceItem {
        id: d.id,
        name: d.name.clone(),
        device: d.device.clone(),
        current: d.current,
        last_active,
        last_active_date: date(d.last_seen_at),
        last_active_iso: iso(d.last_seen_at),
        signed_in,
        signed_in_date,
        signed_in_iso: iso(d.created_at),
        ip: d.ip.clone(),
        last_ip: d.last_ip.clone(),
        last_ip_text: ip_text(s, d.last_ip.as_deref()),
        location: d.location.clone(),
        sign_in_method: d.sign_in_method.clone(),
        second_factor: d.second_factor,
        persistent: d.persistent,
        trusted: d.trusted,
        forget_action: forget_action(d, base, other_user),
        revoke_action: (!d.current).then(|| format!("{base}/{}/revoke", d.id)),
        revoke_label: fill(&s.sign_out_label, &[("device", &title)]),
        rename_action: (!other_user).then(|| format!("{base}/{}/rename", d.id)),
        rename_label: fill(&s.rename_label, &[("device", &d.device)]),
        title,
        session: d.clone(),
    }
}

fn ended_item(
    e: &EndedDeviceView, base: &str, other_user: bool, now: OffsetDateTime, s: &PageStrings,
) -> EndedItem {
    let d = &e.device;
    EndedItem {
        id: d.id,
        trusted: d.trusted,
        forget_action: forget_action(d, base, other_user),
        title: d.title(),
        name: d.name.clone(),
        device: d.device.clone(),
        reason: e.reason.clone(),
        reason_text: s.reason(e.kind).to_owned(),
        ended: s.ago(e.ended_at, now),
        ended_date: date(e.ended_at),
        ended_iso: iso(e.ended_at),
        ip: d.ip.clone(),
        ip_text: ip_text(s, d.ip.as_deref()),
    }
}

/// "IP 192.0.2.1", when the IP is known.
fn ip_text(s: &PageStrings, ip: Option<&str>) -> Option<String> {
    ip.map(|ip| fill(&s.ip, &[("ip", ip)]))
}

/// Where the "Forget this device" form of a trusted device posts (on the
/// user's own list).
fn forget_action(d: &DeviceView, base: &str, other_user: bool) -> Option<String> {
    (d.trusted && !other_user).then(|| format!("{base}/{}/forget", d.id))
}

fn date(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    t.format(&f).unwrap_or_default()
}

fn iso(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}
