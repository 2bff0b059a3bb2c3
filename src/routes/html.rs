//! The "Your devices" HTML page (maud), its style, and the refusal page.

use crate::device::{DeviceView, EndedDeviceView};
use axum::response::Html;
use maud::{DOCTYPE, Markup, html};
use time::OffsetDateTime;

/// What the page shows.
pub(super) struct PageView<'a> {
    /// Where the forms post: the list's path.
    pub(super) base: &'a str,
    /// Whose devices.
    pub(super) user: &'a str,
    /// An admin is looking at someone else's sessions.
    pub(super) other_user: bool,
    /// This page's live sessions.
    pub(super) devices: &'a [DeviceView],
    /// The recently ended ones.
    pub(super) ended: &'a [EndedDeviceView],
    /// The link to the next page, if there is one.
    pub(super) next: Option<&'a str>,
    pub(super) now: OffsetDateTime,
}

/// The list of `user`'s devices, with sign-out forms posting under `base`.
pub(super) fn page(view: &PageView<'_>) -> Html<String> {
    let PageView {
        base,
        user,
        other_user,
        devices,
        ended,
        next,
        now,
    } = *view;
    let others = devices.iter().filter(|d| !d.current).count();
    let body = html! {
        h1 { "Your devices" }
        @if other_user {
            p class="note" { "Sessions of " strong { (user) } }
        } @else {
            p class="note" { "Where you are signed in. Sign out any device you do not recognise." }
        }
        ul class="devices" aria-label="Signed-in devices" {
            @for d in devices {
                li class="device" {
                    div class="info" {
                        h2 {
                            (d.name.as_deref().unwrap_or(&d.device))
                            @if d.current { " " span class="badge" { "This device" } }
                            @if d.persistent { " " span class="badge muted" { "Remembered" } }
                        }
                        @if d.name.is_some() { p class="meta device-kind" { (d.device) } }
                        p class="meta" {
                            @if let Some(ip) = &d.last_ip {
                                span class="seen-from" {
                                    "IP " (ip)
                                    @if let Some(place) = &d.location { " · " (place) }
                                }
                                " · "
                            }
                            span title=(date(d.last_seen_at)) {
                                @if d.current { "Active now" } @else { "Last active " (ago(d.last_seen_at, now)) }
                            }
                            " · "
                            span class="signed-in" {
                                "Signed in " (date(d.created_at))
                                @if let Some(ip) = d.ip.as_ref().filter(|ip| d.last_ip.as_ref() != Some(*ip)) {
                                    " from " (ip)
                                }
                                @if let Some(method) = &d.sign_in_method { " with " (method) }
                                @if d.second_factor { " and a second factor" }
                            }
                        }
                        @if !other_user {
                            form method="post" class="rename" action={ (base.trim_end_matches('/')) "/" (d.id) "/rename" } {
                                label {
                                    span class="visually-hidden" { "Name for " (d.device) }
                                    input type="text" name="name" maxlength="64" placeholder="Name this device"
                                        value=(d.name.as_deref().unwrap_or(""));
                                }
                                " "
                                button type="submit" { "Rename" }
                            }
                        }
                    }
                    @if !d.current {
                        form method="post" action={ (base.trim_end_matches('/')) "/" (d.id) "/revoke" } {
                            button type="submit" aria-label={ "Sign out " (d.name.as_deref().unwrap_or(&d.device)) } { "Sign out" }
                        }
                    }
                }
            }
        }
        @if devices.is_empty() { p { "No active sessions." } }
        @if let Some(next) = next {
            p class="more" { a href=(next) rel="next" { "Older devices" } }
        }
        @if others > 0 && !other_user {
            form method="post" action={ (base.trim_end_matches('/')) "/revoke-others" } class="all" {
                button type="submit" class="danger" { "Sign out everywhere else" }
            }
        }
        @if !ended.is_empty() {
            details class="ended" {
                summary { "Recently signed out (" (ended.len()) ")" }
                ul class="devices" aria-label="Recently signed-out devices" {
                    @for e in ended {
                        li class="device ended-device" {
                            div class="info" {
                                h3 { (e.device.name.as_deref().unwrap_or(&e.device.device)) }
                                @if e.device.name.is_some() { p class="meta" { (e.device.device) } }
                                p class="meta" {
                                    span class="reason" { (e.reason_text) }
                                    " · "
                                    span title=(date(e.ended_at)) { (ago(e.ended_at, now)) }
                                    @if let Some(ip) = &e.device.ip { " · " span { "IP " (ip) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    layout("Your devices", body)
}

/// A refusal's message, as a page.
pub(super) fn refusal(text: &str) -> Html<String> {
    layout(
        "Your devices",
        html! { p role="alert" { (text) } p { a href="/" { "Back" } } },
    )
}

fn layout(title: &str, body: Markup) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) }
                    style { (maud::PreEscaped(STYLE)) }
                }
                body { main { (body) } }
            }
        }
        .into_string(),
    )
}

/// "5 minutes ago".
fn ago(then: OffsetDateTime, now: OffsetDateTime) -> String {
    let secs = (now - then).whole_seconds().max(0);
    let (n, unit) = match secs {
        0..60 => return "just now".into(),
        60..3600 => (secs / 60, "minute"),
        3600..86_400 => (secs / 3600, "hour"),
        _ => (secs / 86_400, "day"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

fn date(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    t.format(&f).unwrap_or_default()
}

/// The `Content-Security-Policy` of the page: nothing but its own inline
/// stylesheet (allowed by hash, not `'unsafe-inline'`), forms posting to
/// this origin, and no framing anywhere (clickjacking: the page signs
/// devices out).
pub(super) fn content_security_policy() -> &'static str {
    static POLICY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        use base64::Engine as _;
        use sha2::Digest as _;
        let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(STYLE));
        format!(
            "default-src 'none'; style-src 'sha256-{hash}'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'"
        )
    });
    &POLICY
}

const STYLE: &str = "
:root{color-scheme:light dark;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#fff;--card:#f6f8fa;--accent:#0969da;--danger:#cf222e}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--line:#3d444d;--bg:#0d1117;--card:#151b23;--accent:#4493f8;--danger:#f85149}}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif}
main{max-width:42rem;margin:3rem auto;padding:0 1rem}h1{font-size:1.6rem;margin:0 0 .25rem}
.note{color:var(--muted);margin:0 0 1.5rem}.devices{list-style:none;padding:0;margin:0}
.device{display:flex;align-items:center;justify-content:space-between;gap:1rem;padding:1rem 1.25rem;margin:0 0 .75rem;background:var(--card);border:1px solid var(--line);border-radius:12px}
.device h2{font-size:1.05rem;margin:0}.meta{color:var(--muted);font-size:.9rem;margin:.25rem 0 0}
.badge{display:inline-block;font-size:.75rem;font-weight:600;padding:.1rem .5rem;border-radius:999px;background:var(--accent);color:#fff;vertical-align:middle}
.badge.muted{background:var(--line);color:var(--fg)}
button{font:inherit;white-space:nowrap;padding:.4rem .9rem;border-radius:8px;border:1px solid var(--line);background:var(--bg);color:var(--fg);cursor:pointer}
button:hover,button:focus-visible{border-color:var(--accent);outline:none}
.rename{margin:.5rem 0 0}.rename input{font:inherit;font-size:.9rem;padding:.3rem .5rem;border-radius:8px;border:1px solid var(--line);background:var(--bg);color:var(--fg);max-width:14rem}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
.ended{margin-top:2rem}.ended summary{cursor:pointer;color:var(--muted)}.ended .device{opacity:.8}.device h3{font-size:1rem;margin:0}
.danger{color:#fff;background:var(--danger);border-color:var(--danger)}.all{margin-top:1.5rem}
";

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn relative_times() {
        let now = OffsetDateTime::now_utc();
        assert_eq!(ago(now, now), "just now");
        assert_eq!(ago(now - Duration::from_secs(300), now), "5 minutes ago");
        assert_eq!(ago(now - Duration::from_secs(3600), now), "1 hour ago");
        assert_eq!(
            ago(now - Duration::from_secs(3 * 86_400), now),
            "3 days ago"
        );
    }
}
