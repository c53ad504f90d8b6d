//! The viewer's own saved searches: list, save (name + gleaner query, the
//! query checked to parse), delete. Each user sees only theirs; the IMAP
//! server shows them as that user's mailboxes (`Saved/<name>`). Without
//! users (auth off) there is nobody to save for: 404.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::access::Users;
use crate::http::{blocking, json_body, AppError, Shared, Viewer};

/// The user database and the viewer's name, or 404 when there are no users.
fn owner(state: &Shared, viewer: &Viewer) -> Result<(Users, String), AppError> {
    match (state.users.clone(), viewer.user.clone()) {
        (Some(users), Some(user)) if state.auth_enabled => Ok((users, user)),
        _ => Err(AppError::NotFound(
            "saved searches need users (authentication is off)",
        )),
    }
}

/// `GET /api/saved-searches`
pub async fn list(State(state): State<Shared>, viewer: Viewer) -> Result<Json<Value>, AppError> {
    let (users, user) = owner(&state, &viewer)?;
    let saved = blocking(move || Ok(users.saved_searches(&user)?)).await?;
    Ok(Json(json!({ "saved_searches": saved })))
}

#[derive(Deserialize)]
struct NewSaved {
    name: String,
    query: String,
}

/// `POST /api/saved-searches` with `{name, query}`: saves (or replaces the
/// query of the search of that name).
pub async fn save(
    State(state): State<Shared>,
    viewer: Viewer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, AppError> {
    let (users, user) = owner(&state, &viewer)?;
    let n: NewSaved = json_body(&headers, &body, "{name, query}")?;
    crate::query::plan::parse_limited(&n.query, &crate::query::limits::current())?;
    let saved = blocking(move || Ok(users.save_search(&user, &n.name, &n.query)?)).await?;
    Ok(Json(json!({ "saved_search": saved })))
}

/// `DELETE /api/saved-searches/{id}`
pub async fn delete(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> Result<Json<Value>, AppError> {
    let (users, user) = owner(&state, &viewer)?;
    if blocking(move || Ok(users.delete_saved_search(&user, id)?)).await? {
        Ok(Json(json!({ "deleted": id })))
    } else {
        Err(AppError::NotFound("no such saved search"))
    }
}
