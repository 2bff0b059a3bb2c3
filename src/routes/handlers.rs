//! The handlers. Each checks its [guards](super::guard), acts through
//! [`SessionAdmin`](crate::admin::SessionAdmin) (which records who revoked
//! what and why, and emits the events), and answers through
//! [`reply`](super::reply).

use super::reply::{self, Refusal, Reply, is_form, wants_html};
use super::{SessionRoutes, guard};
use crate::session::Session;
use crate::store::{RevokeReason, RevokedBy};
use axum::Json;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

type Cfg = State<Arc<SessionRoutes>>;

/// `DELETE /{id}`: `204`; `POST /{id}/revoke`, the page's forms: `303`
/// back to the list.
pub(super) async fn revoke_one(
    State(cfg): Cfg, session: Session, method: Method, OriginalUri(uri): OriginalUri,
    Path(id): Path<String>, headers: HeaderMap,
) -> Result<Response, Reply> {
    let form = method == Method::POST;
    let html = if form {
        is_form(&headers)
    } else {
        wants_html(&headers)
    };
    revoke_by_id(&cfg, &session, &uri, &headers, &id)
        .await
        .map_err(|r| r.reply(html))?;
    Ok(match form {
        true => reply::back_to_list(&uri, "/{id}/revoke").into_response(),
        false => StatusCode::NO_CONTENT.into_response(),
    })
}

/// `POST /revoke-others`: every session of the user but this one.
pub(super) async fn revoke_others(
    State(cfg): Cfg, session: Session, OriginalUri(uri): OriginalUri, headers: HeaderMap,
) -> Result<Response, Reply> {
    revoke_mine(&cfg, &session, &uri, &headers, false).await
}

/// `POST /revoke-all`: every session of the user, this one included.
pub(super) async fn revoke_all_mine(
    State(cfg): Cfg, session: Session, OriginalUri(uri): OriginalUri, headers: HeaderMap,
) -> Result<Response, Reply> {
    revoke_mine(&cfg, &session, &uri, &headers, true).await
}

/// Revokes session `id` if the signed-in user owns it, or may manage its
/// owner's sessions; `NotFound` otherwise (unknown and foreign ids look the
/// same).
async fn revoke_by_id(
    cfg: &SessionRoutes, session: &Session, uri: &Uri, headers: &HeaderMap, id: &str,
) -> Result<(), Refusal> {
    let user = guard::for_change(cfg, session, headers, uri)?;
    let id: Uuid = id.parse().map_err(|_| Refusal::NotFound)?;
    let admin = session.admin();
    let revoked = admin
        .revoke_owned(id, &user, RevokedBy::user(&user), RevokeReason::User)
        .await?
        // Not the user's own: an admin's, if the hook allows it.
        || (cfg.has_authorization()
            && admin
                .revoke_as_admin(id, &user, |owner| cfg.allows(session, owner))
                .await?);
    if !revoked {
        return Err(Refusal::NotFound);
    }
    if session.id() == Some(id) {
        session.mark_ended();
    }
    Ok(())
}

/// Revokes every session of the signed-in user, this one only if
/// `this_one_too`, in one statement.
async fn revoke_mine(
    cfg: &SessionRoutes, session: &Session, uri: &Uri, headers: &HeaderMap, this_one_too: bool,
) -> Result<Response, Reply> {
    let form = is_form(headers);
    let user = guard::for_change(cfg, session, headers, uri).map_err(|r| r.reply(form))?;
    let n = if this_one_too {
        session
            .admin()
            .revoke_user_sessions(&user, None, RevokedBy::user(&user), RevokeReason::User)
            .await
    } else {
        // This device gets new cookies too: a copy of the old ones dies.
        session.revoke_other_sessions().await
    }
    .map_err(|e| Refusal::from(e).reply(form))?;
    if this_one_too {
        session.mark_ended();
        // Its trust was forgotten with the others': a trust cookie left
        // behind would be presented at the next sign-in as a replay.
        session.expire_trust_cookie(&user).await;
    }
    if !form {
        return Ok(Json(json!({ "revoked": n })).into_response());
    }
    Ok(if this_one_too {
        Redirect::to("/")
    } else {
        reply::back_to_list(uri, "/revoke-others")
    }
    .into_response())
}
