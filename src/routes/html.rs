//! The "Your devices" HTML page (maud), its style, and the refusal page.

use super::strings::{PageStrings, fill};
use super::view::DevicesPage;
use axum::response::Html;
use maud::{DOCTYPE, Markup, html};

/// The built-in page: `view` as HTML, in `view.strings`' words.
pub(super) fn page(view: &DevicesPage) -> Html<String> {
    let s = &*view.strings;
    let body = html! {
        h1 { (s.title) }
        @if view.other_user {
            @let (before, after) = s.sessions_of.split_once("{user}").unwrap_or((&s.sessions_of, ""));
            p class="note" { (before) strong { (view.user) } (after) }
        } @else {
            p class="note" { (s.intro) }
        }
        @if view.failed_sign_in_count > 0 {
            section class="failed" {
                h2 { (fill(&s.failed_sign_ins, &[("n", &view.failed_sign_in_count.to_string())])) }
                ul {
                    @for f in &view.failed_sign_ins {
                        li class="meta" {
                            time datetime=(f.iso) title=(f.date) { (f.when) }
                            " · " (f.device)
                            @if let Some(ip) = &f.ip_text { " · " (ip) }
                        }
                    }
                }
            }
        }
        ul class="devices" aria-label=(s.devices_label) {
            @for d in &view.devices {
                li class="device" {
                    div class="info" {
                        h2 {
                            (d.title)
                            @if d.current { " " span class="badge" { (s.this_device) } }
                            @if d.persistent { " " span class="badge muted" { (s.remembered) } }
                            @if d.trusted { (trusted_badge(s)) }
                        }
                        @if d.name.is_some() { p class="meta device-kind" { (d.device) } }
                        p class="meta" {
                            @if let Some(ip) = &d.last_ip_text {
                                span class="seen-from" {
                                    (ip)
                                    @if let Some(place) = &d.location { " · " (place) }
                                }
                                " · "
                            }
                            span title=(d.last_active_date) { (d.last_active) }
                            " · "
                            span class="signed-in" { (d.signed_in) }
                        }
                        @if let Some(action) = &d.rename_action {
                            form method="post" class="rename" action=(action) {
                                label {
                                    span class="visually-hidden" { (d.rename_label) }
                                    input type="text" name="name" maxlength="64" placeholder=(s.rename_placeholder)
                                        value=(d.name.as_deref().unwrap_or(""));
                                }
                                " "
                                button type="submit" { (s.rename) }
                            }
                        }
                    }
                    div class="actions" {
                        @if let Some(action) = &d.forget_action { (forget_form(action, s)) }
                        @if let Some(action) = &d.revoke_action {
                            form method="post" action=(action) {
                                button type="submit" aria-label=(d.revoke_label) { (s.sign_out) }
                            }
                        }
                    }
                }
            }
        }
        @if view.devices.is_empty() { p { (s.no_devices) } }
        @if let Some(next) = &view.next_page {
            p class="more" { a href=(next) rel="next" { (s.older_devices) } }
        }
        @if let Some(action) = &view.revoke_others_action {
            form method="post" action=(action) class="all" {
                button type="submit" class="danger" { (s.sign_out_others) }
            }
        }
        @if view.trusted_unlisted > 0 {
            p class="trusted-unlisted" {
                (fill(&s.trusted_unlisted, &[("n", &view.trusted_unlisted.to_string())]))
            }
        }
        @if let Some(action) = &view.forget_all_action {
            form method="post" action=(action) class="all" {
                button type="submit" { (s.forget_all) }
            }
        }
        @if !view.ended.is_empty() {
            details class="ended" {
                summary { (fill(&s.recently_signed_out, &[("n", &view.ended.len().to_string())])) }
                ul class="devices" aria-label=(s.ended_label) {
                    @for e in &view.ended {
                        li class="device ended-device" {
                            div class="info" {
                                h3 { (e.title) @if e.trusted { (trusted_badge(s)) } }
                                @if e.name.is_some() { p class="meta" { (e.device) } }
                                p class="meta" {
                                    span class="reason" { (e.reason_text) }
                                    " · "
                                    span title=(e.ended_date) { (e.ended) }
                                    @if let Some(ip) = &e.ip_text { " · " span { (ip) } }
                                }
                            }
                            @if let Some(action) = &e.forget_action {
                                div class="actions" { (forget_form(action, s)) }
                            }
                        }
                    }
                }
            }
        }
    };
    layout(&s.lang, &s.title, body)
}

/// The "Trusted" badge beside a device's title.
fn trusted_badge(s: &PageStrings) -> Markup {
    html! { " " span class="badge trusted" { (s.trusted) } }
}

/// A device's "Forget this device" form, posting to `action`.
fn forget_form(action: &str, s: &PageStrings) -> Markup {
    html! {
        form method="post" action=(action) {
            button type="submit" { (s.forget_device) }
        }
    }
}

/// A refusal's message, as a page.
pub(super) fn refusal(text: &str) -> Html<String> {
    layout(
        "en",
        "Your devices",
        html! { p role="alert" { (text) } p { a href="/" { "Back" } } },
    )
}

/// The page an anonymous visitor gets: a sentence and the app's sign-in
/// link, in `s`' words.
pub(super) fn sign_in(s: &PageStrings, url: &str) -> Html<String> {
    let body = html! {
        h1 { (s.title) }
        p class="note" { (s.sign_in_needed) }
        p { a href=(url) { (s.sign_in) } }
    };
    layout(&s.lang, &s.title, body)
}

fn layout(lang: &str, title: &str, body: Markup) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang=(lang) {
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
.badge.trusted{background:#1a7f37}.actions{display:flex;flex-direction:column;gap:.4rem}
.failed{margin:0 0 1.5rem;padding:.75rem 1.25rem;border:1px solid var(--danger);border-radius:12px}
.failed h2{font-size:1.05rem;margin:0}.failed ul{margin:.25rem 0 0;padding-left:1.2rem}
";
