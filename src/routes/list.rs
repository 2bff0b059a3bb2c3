//! `GET /`: the list, as JSON or the HTML page, with its pages
//! (`?limit=&cursor=`) and the recently ended sessions (`?include=ended`).

use super::paging::{self, PAGE_SIZE};
use super::reply::{self, Refusal, Reply, wants_html};
use super::{SessionRoutes, guard, view};
use crate::device::{DeviceView, EndedDeviceView, FailedSignInView};
use crate::error::Error;
use crate::session::Session;
use axum::Json;
use axum::extract::{OriginalUri, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use time::OffsetDateTime;

#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    user: Option<String>,
    /// `ended`: also the recently ended sessions.
    include: Option<String>,
    /// The page size (1 to 200), for JSON.
    limit: Option<String>,
    /// Where the page starts: a `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// `GET /`: the user's live sessions (or, for an admin, `?user=`'s), as
/// JSON or the HTML page.
pub(super) async fn list(
    State(cfg): State<Arc<SessionRoutes>>, session: Session, OriginalUri(uri): OriginalUri,
    Query(q): Query<ListQuery>, headers: HeaderMap,
) -> Result<Response, Reply> {
    let html = wants_html(&headers);
    let refuse = |r: Refusal| r.reply(html);
    if html && session.user_id().is_none() {
        return Ok(cfg.sign_in_page());
    }
    let me = guard::actor(&session).map_err(refuse)?;
    let target = q.user.clone().unwrap_or_else(|| me.clone());
    if target != me && !cfg.allows(&session, &target) {
        return Err(refuse(Refusal::Forbidden));
    }
    // Both come in pages: the JSON list of `limit` (50 by default), the
    // page of 50.
    let limit = match q.limit.as_deref() {
        Some(l) if !html => paging::checked_limit(l.parse().unwrap_or(0)).map_err(refuse)?,
        _ => PAGE_SIZE,
    };
    let after = q
        .cursor
        .as_deref()
        .map(paging::parse_cursor)
        .transpose()
        .map_err(refuse)?;
    let now = OffsetDateTime::now_utc();
    let store = |e: Error| refuse(Refusal::from(e));
    let mut records = session
        .admin()
        .store()
        .list_user_page(&target, now, after, limit + 1)
        .await
        .map_err(|e| store(e.into()))?;
    let more = records.len() > limit as usize;
    records.truncate(limit as usize);
    let next = if more {
        records.last().map(paging::cursor_after)
    } else {
        None
    };
    let current = session.id();
    let doc = super::trust::records_of(&session, &target)
        .await
        .map_err(store)?;
    let trusted: Vec<_> = doc.live(now).filter_map(|t| t.session_id).collect();
    let devices: Vec<DeviceView> = records
        .iter()
        .map(|r| {
            let mut d = DeviceView::new(r, current);
            d.trusted = trusted.contains(&r.id);
            d
        })
        .collect();
    let (failed, failed_count) = doc.failed_since_previous_sign_in();
    let failed: Vec<FailedSignInView> = failed.into_iter().map(FailedSignInView::new).collect();
    // Ended sessions come with the first page only.
    let with_ended = (html || q.include.as_deref() == Some("ended")) && after.is_none();
    let mut ended = if with_ended {
        ended(&cfg, &session, &target, now).await.map_err(store)?
    } else {
        Vec::new()
    };
    // A trusted browser that signed out is still trusted: shown, and
    // forgettable, where its session is.
    for e in &mut ended {
        e.device.trusted = trusted.contains(&e.device.id);
    }
    // The others (signed out long ago, or on another page) are counted, so
    // that no trust is out of its owner's sight.
    let shown = |id: &uuid::Uuid| {
        devices.iter().any(|d| d.id == *id) || ended.iter().any(|e| e.device.id == *id)
    };
    let trusted_count = doc.live(now).count();
    let trusted_unlisted = doc
        .live(now)
        .filter(|t| !t.session_id.as_ref().is_some_and(shown))
        .count();
    let res = if html {
        let base = reply::base_path(uri.path(), "");
        let next_href = next.map(|c| {
            let user = q.user.as_deref().map(|u| format!("&user={}", encode(u)));
            format!("{base}?cursor={c}{}", user.unwrap_or_default())
        });
        let page = view::DevicesPage::build(view::Input {
            base: &base,
            user: &target,
            other_user: target != me,
            devices: &devices,
            ended: &ended,
            failed: (&failed, failed_count),
            trusted: (trusted_count, trusted_unlisted),
            next: next_href,
            now,
            strings: &cfg.strings,
        });
        cfg.render(&page)
    } else {
        let mut body = Map::new();
        body.insert("user_id".into(), json!(target));
        body.insert("sessions".into(), json!(devices));
        if q.include.as_deref() == Some("ended") {
            body.insert("ended".into(), json!(ended));
        }
        body.insert("failed_sign_ins".into(), json!(failed));
        body.insert("failed_sign_in_count".into(), json!(failed_count));
        body.insert("trusted_device_count".into(), json!(trusted_count));
        body.insert("next_cursor".into(), json!(next));
        Json(Value::Object(body)).into_response()
    };
    Ok(reply::private(res))
}

/// `target`'s sessions that ended within the configured window.
async fn ended(
    cfg: &SessionRoutes, session: &Session, target: &str, now: OffsetDateTime,
) -> Result<Vec<EndedDeviceView>, Error> {
    let window = cfg.ended_window();
    // No user's id holds U+0000 (an admin's `?user=`): none, on every store.
    if window.is_zero() || target.contains('\0') {
        return Ok(Vec::new());
    }
    let ended = crate::store::ListQuery::Ended {
        user_id: target,
        since: now - window,
        now,
        limit: super::ENDED_LIMIT,
    };
    let records = session.admin().store().list(&ended).await;
    match records {
        Ok(records) => Ok(records.iter().map(EndedDeviceView::new).collect()),
        // A store that keeps no ended rows: the list has no such section.
        Err(crate::store::Error::Unsupported(what)) => {
            tracing::debug!(unsupported = what, "the store keeps no ended sessions");
            Ok(Vec::new())
        }
        Err(e) => Err(e.into()),
    }
}

/// `s` percent-encoded for a query string.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
