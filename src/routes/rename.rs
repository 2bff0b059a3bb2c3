//! Names users give their devices: `PATCH /{id}` (JSON) and
//! `POST /{id}/rename` (the page's form), and the rule a name must pass.

use super::reply::{self, Refusal, Reply, is_form};
use super::{SessionRoutes, guard};
use crate::session::Session;
use axum::Json;
use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{Form, OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use time::OffsetDateTime;
use uuid::Uuid;

/// The longest name, in characters, after trimming.
pub(super) const MAX_NAME_CHARS: usize = 64;

/// A name as the user typed it, checked: trimmed; empty clears it (`None`);
/// at most [`MAX_NAME_CHARS`] characters; no control characters, and none of
/// the invisible characters that reorder or hide text (format characters,
/// line separators, Hangul fillers: [`crate::text::is_hidden`]), nor a name
/// of combining marks alone ([`crate::text::is_marks_only`]), which would
/// let a name pass for another on the page, or for none.
pub(super) fn checked_name(raw: Option<&str>) -> Result<Option<String>, Refusal> {
    let Some(name) = raw.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Refusal::Invalid(
            "invalid_name",
            "A device name has at most 64 characters.",
        ));
    }
    if name.chars().any(crate::text::is_hidden) || crate::text::is_marks_only(name) {
        return Err(Refusal::Invalid(
            "invalid_name",
            "A device name cannot contain control or invisible characters.",
        ));
    }
    Ok(Some(name.to_owned()))
}

/// The page's rename form.
#[derive(Debug, Deserialize)]
pub(super) struct RenameForm {
    #[serde(default)]
    name: String,
}

/// `PATCH /{id}` with `{"name": "Work laptop"}` (`null` or `""` clears it):
/// `200 {"id", "name"}`.
pub(super) async fn rename_json(
    State(cfg): State<Arc<SessionRoutes>>, session: Session, OriginalUri(uri): OriginalUri,
    Path(id): Path<String>, headers: HeaderMap, body: Result<Json<Value>, JsonRejection>,
) -> Result<Response, Reply> {
    let raw = match &body {
        Ok(Json(body)) => match body.get("name") {
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(Value::Null) => Ok(None),
            _ => Err(Refusal::Invalid(
                "invalid_name",
                "\"name\" must be a string, or null to clear it.",
            )),
        },
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(Refusal::TooLarge),
        Err(_) => Err(Refusal::Invalid(
            "invalid_body",
            "Send a JSON object such as {\"name\": \"Work laptop\"}.",
        )),
    };
    let (id, name) = rename(&cfg, &session, &headers, &uri, &id, raw)
        .await
        .map_err(|r| r.reply(false))?;
    Ok(reply::private(
        Json(json!({ "id": id, "name": name })).into_response(),
    ))
}

/// `POST /{id}/rename`, from the page's form (`name=…`): `303` back to the
/// list.
pub(super) async fn rename_form(
    State(cfg): State<Arc<SessionRoutes>>, session: Session, OriginalUri(uri): OriginalUri,
    Path(id): Path<String>, headers: HeaderMap, form: Result<Form<RenameForm>, FormRejection>,
) -> Result<Redirect, Reply> {
    let raw = match &form {
        Ok(Form(form)) => Ok(Some(form.name.as_str())),
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(Refusal::TooLarge),
        Err(_) => Err(Refusal::Invalid(
            "invalid_body",
            "Send the form's name field.",
        )),
    };
    rename(&cfg, &session, &headers, &uri, &id, raw)
        .await
        .map_err(|r| r.reply(is_form(&headers)))?;
    Ok(reply::back_to_list(&uri, "/{id}/rename"))
}

/// Once the request passes the [guards](guard::for_edit), names session
/// `id` with `raw` (`Err`: what the body was refused for), checked by
/// [`checked_name`], if the signed-in user owns it and it is live;
/// `NotFound` otherwise (unknown, ended and foreign ids look the same).
/// Answers the session's id (as the list writes it, whatever form the
/// path had) and the name set.
async fn rename(
    cfg: &SessionRoutes, session: &Session, headers: &HeaderMap, uri: &Uri, id: &str,
    raw: Result<Option<&str>, Refusal>,
) -> Result<(Uuid, Option<String>), Refusal> {
    let user = guard::for_edit(cfg, session, headers, uri)?;
    let name = checked_name(raw?)?;
    let id: Uuid = id.parse().map_err(|_| Refusal::NotFound)?;
    let done = session
        .admin()
        .store()
        .rename(id, &user, name.as_deref(), OffsetDateTime::now_utc())
        .await
        .map_err(|e| Refusal::from(crate::error::Error::from(e)))?;
    if done {
        Ok((id, name))
    } else {
        Err(Refusal::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        let ok = |raw: &str| checked_name(Some(raw)).ok().flatten();
        assert_eq!(ok("  Work laptop \n").as_deref(), Some("Work laptop"));
        assert_eq!(ok(&"é".repeat(64)).map(|n| n.chars().count()), Some(64));
        assert!(checked_name(Some(&"a".repeat(65))).is_err());
        assert_eq!(ok("   "), None, "blank clears");
        assert!(matches!(checked_name(None), Ok(None)));
        for bad in [
            "a\u{0}b",
            "tab\there",
            "a\u{7f}",
            "\u{202E}pot",
            "a\u{200B}b",
            "a\u{85}b",
            "a\u{061C}b",
            "soft\u{00AD}hyphen",
            "a\u{180E}b",
            "a\u{034F}b",
            "a\u{FFF9}b",
            "a\u{E0001}b",
            "\u{3164}",
            "a\u{2028}b",
            "\u{2800}",
            "\u{301}\u{301}\u{301}",
        ] {
            assert!(checked_name(Some(bad)).is_err(), "{bad:?}");
        }
        assert_eq!(
            ok("<b>Ünïcode 💻</b>").as_deref(),
            Some("<b>Ünïcode 💻</b>")
        );
    }
}
