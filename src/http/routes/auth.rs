//! `GET /api/me`, `POST /api/login`, `POST /api/logout`.
//!
//! Login is guarded by requiring a JSON body (a cross-site form cannot send
//! one without a refused CORS preflight), the `SameSite=Strict` cookie, and a
//! limit on failed attempts per user name.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::access::SESSION_LIFETIME_SECS;
use crate::http::{blocking, json_body, AppError, Shared, Viewer, SESSION_COOKIE};

/// Failed logins allowed per user name within [`FAILURE_WINDOW`].
const MAX_FAILURES: u32 = 10;
/// How long failed logins are remembered.
const FAILURE_WINDOW: Duration = Duration::from_secs(300);

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

/// `GET /api/me`
pub async fn me(viewer: Viewer) -> Json<serde_json::Value> {
    Json(json!({
        "user": viewer.user,
        "role": viewer.role,
        "csrf_token": viewer.csrf,
    }))
}

fn too_many_failures(state: &Shared, name: &str) -> bool {
    let mut failures = state.lock_failures();
    failures.retain(|_, (_, since)| since.elapsed() < FAILURE_WINDOW);
    failures.get(name).is_some_and(|(n, _)| *n >= MAX_FAILURES)
}

fn record_failure(state: &Shared, name: &str) {
    let mut failures = state.lock_failures();
    let entry = failures
        .entry(name.to_string())
        .or_insert((0, Instant::now()));
    entry.0 += 1;
}

/// `POST /api/login` with `{"username", "password"}` as JSON.
pub async fn login(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let creds: Credentials = json_body(&headers, &body, "{\"username\": ..., \"password\": ...}")?;
    let Some(users) = state.users.clone().filter(|_| state.auth_enabled) else {
        // Auth is off: everyone is an admin already.
        return Ok(Json(json!({"user": null, "role": "admin"})).into_response());
    };
    if too_many_failures(&state, &creds.username) {
        return Err(AppError::TooManyRequests);
    }
    let name = creds.username.clone();
    let found = blocking(move || {
        let Some(user) = users.verify(&creds.username, &creds.password)? else {
            return Ok(None);
        };
        let session = users.create_session(&user.name)?;
        Ok(Some((user, session)))
    })
    .await?;
    let Some((user, session)) = found else {
        record_failure(&state, &name);
        return Err(AppError::WrongPassword);
    };
    let cookie = format!(
        "{SESSION_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={SESSION_LIFETIME_SECS}",
        session.token
    );
    let mut res = Json(json!({"user": user.name, "role": user.role})).into_response();
    let value = HeaderValue::from_str(&cookie).map_err(|e| AppError::internal("cookie", e))?;
    res.headers_mut().insert(header::SET_COOKIE, value);
    Ok(res)
}

/// `POST /api/logout` (with the CSRF token).
pub async fn logout(State(state): State<Shared>, viewer: Viewer) -> Result<Response, AppError> {
    if let (Some(users), Some(token)) = (state.users.clone(), viewer.token) {
        blocking(move || Ok(users.delete_session(&token)?)).await?;
    }
    let mut res = Json(json!({})).into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("gleaner_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    Ok(res)
}
