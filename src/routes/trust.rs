//! `POST /{id}/forget` and `POST /forget-all`: the user's trusted devices
//! forgotten (their next sign-in asks for the second factor again).

use super::reply::{self, Refusal, Reply, is_form};
use super::{SessionRoutes, guard};
use crate::admin::ForgetTrust;
use crate::session::Session;
use axum::Json;
use axum::extract::{OriginalUri, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

type Cfg = State<Arc<SessionRoutes>>;

/// `POST /{id}/forget`: forgets the trust of the device that signed in as
/// session `id`, one of the signed-in user's (`404` otherwise, as for an
/// unknown id): `{"forgotten": 1}`, or `303` back to the list for a form.
pub(super) async fn forget_one(
    State(cfg): Cfg, session: Session, OriginalUri(uri): OriginalUri, Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Reply> {
    let form = is_form(&headers);
    let refuse = |r: Refusal| r.reply(form);
    let user = guard::for_edit(&cfg, &session, &headers, &uri).map_err(refuse)?;
    let id: Uuid = id.parse().map_err(|_| refuse(Refusal::NotFound))?;
    let n = session
        .admin()
        .forget_trusted_devices(&user, ForgetTrust::Session(id))
        .await
        .map_err(|e| refuse(Refusal::from(e)))?;
    if n == 0 {
        return Err(refuse(Refusal::NotFound));
    }
    if session.id() == Some(id) {
        session.expire_trust_cookie(&user).await;
    }
    answer(form, n, &uri, "/{id}/forget")
}

/// `POST /forget-all`: forgets every trusted device of the signed-in user:
/// `{"forgotten": n}`, or `303` back to the list for a form.
pub(super) async fn forget_all(
    State(cfg): Cfg, session: Session, OriginalUri(uri): OriginalUri, headers: HeaderMap,
) -> Result<Response, Reply> {
    let form = is_form(&headers);
    let refuse = |r: Refusal| r.reply(form);
    let user = guard::for_edit(&cfg, &session, &headers, &uri).map_err(refuse)?;
    let n = session
        .admin()
        .forget_trusted_devices(&user, ForgetTrust::All)
        .await
        .map_err(|e| refuse(Refusal::from(e)))?;
    session.expire_trust_cookie(&user).await;
    answer(form, n, &uri, "/forget-all")
}

fn answer(form: bool, n: u64, uri: &axum::http::Uri, suffix: &str) -> Result<Response, Reply> {
    Ok(match form {
        true => reply::back_to_list(uri, suffix).into_response(),
        false => Json(json!({ "forgotten": n })).into_response(),
    })
}

/// `user`'s device records (empty on a store without them), for the list.
pub(super) async fn records_of(
    session: &Session, user: &str,
) -> Result<crate::store::devices::UserDevices, crate::error::Error> {
    let admin = session.admin();
    let Some(store) = admin.store().extensions().devices else {
        return Ok(Default::default());
    };
    if user.contains('\0') {
        // No user's id (an admin's `?user=`): none, on every store.
        return Ok(Default::default());
    }
    Ok(store
        .load_devices(user)
        .await?
        .map(|(_, d)| d)
        .unwrap_or_default())
}
