//! `GET /api/me`, `POST /api/login`, `POST /api/logout`.
//!
//! Login is guarded by requiring a JSON body (a cross-site form cannot send
//! one without a refused CORS preflight), the `SameSite=Strict` cookie, a
//! bounded number of password hashes at once (argon2 takes ~19 MiB each; when
//! all slots are busy the answer is 503 with `Retry-After`), and failure
//! accounting with exponential back-off per address and per account
//! ([`crate::access::throttle`]): 429 with `Retry-After`, audited.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::access::throttle::MAX_KEY_BYTES;
use crate::access::SESSION_LIFETIME_SECS;
use crate::http::{blocking, json_body, AppError, ClientAddr, Shared, Viewer, SESSION_COOKIE};

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

/// How long a login waits for a hashing slot before it is answered 503.
const SLOT_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Longest password accepted (argon2 hashes any length; this bounds the work).
const MAX_PASSWORD_BYTES: usize = 1024;

/// `GET /api/me`
pub async fn me(viewer: Viewer) -> Json<serde_json::Value> {
    Json(json!({
        "user": viewer.user,
        "role": viewer.role,
        "csrf_token": viewer.csrf,
    }))
}

/// `POST /api/login` with `{"username", "password"}` as JSON.
pub async fn login(
    State(state): State<Shared>,
    ClientAddr { ip, https }: ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let creds: Credentials = json_body(&headers, &body, "{\"username\": ..., \"password\": ...}")?;
    let Some(users) = state.users.clone().filter(|_| state.auth_enabled) else {
        // Auth is off: everyone is an admin already.
        return Ok(Json(json!({"user": null, "role": "admin"})).into_response());
    };
    // Counted before anything else, so parallel guesses cannot all pass.
    let attempt =
        state
            .throttle
            .begin(&creds.username, ip)
            .map_err(|b| AppError::TooManyRequests {
                retry_after: b.retry_after.as_secs_f64().ceil() as u64,
            })?;
    // No user has a longer name, and no password needs to be longer.
    if creds.username.len() > MAX_KEY_BYTES || creds.password.len() > MAX_PASSWORD_BYTES {
        drop(attempt); // a failure
        return Err(AppError::WrongPassword);
    }
    // A hashing slot: a flood waits here (briefly), not in memory (argon2
    // takes ~19 MiB per hash).
    let slot = tokio::time::timeout(SLOT_WAIT, state.login_slots.clone().acquire_owned()).await;
    let Ok(Ok(permit)) = slot else {
        attempt.cancel();
        return Err(AppError::Busy {
            message: "too many logins at once; try again in a moment",
            retry_after: 1,
        });
    };
    let name = creds.username.clone();
    let found = blocking(move || {
        let _permit = permit;
        let Some(user) = users.verify(&creds.username, &creds.password)? else {
            return Ok(None);
        };
        let session = users.create_session(&user.name)?;
        Ok(Some((user, session)))
    })
    .await?;
    let Some((user, session)) = found else {
        let escalations = attempt.failed();
        if !escalations.is_empty() {
            audit_backoff(&state, &name, ip, &escalations).await;
        }
        return Err(AppError::WrongPassword);
    };
    attempt.succeeded();
    let secure = if https || state.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={SESSION_LIFETIME_SECS}{secure}",
        session.token
    );
    let mut res = Json(json!({"user": user.name, "role": user.role})).into_response();
    let value = HeaderValue::from_str(&cookie).map_err(|e| AppError::internal("cookie", e))?;
    res.headers_mut().insert(header::SET_COOKIE, value);
    Ok(res)
}

/// Records that failed logins started or lengthened a back-off.
async fn audit_backoff(
    state: &Shared,
    name: &str,
    ip: std::net::IpAddr,
    escalations: &[crate::access::throttle::Escalation],
) {
    let Some(users) = state.users.clone() else {
        return;
    };
    let subject = format!("user:{}", crate::access::throttle::account_key(name));
    let detail = json!({
        "address": ip.to_string(),
        "backoffs": escalations.iter().map(|e| json!({
            "scope": e.scope,
            "failures": e.failures,
            "delay_secs": e.delay.as_secs(),
        })).collect::<Vec<_>>(),
    });
    let result =
        blocking(move || Ok(users.audit("login", "login.backoff", &subject, &detail)?)).await;
    if result.is_err() {
        tracing::warn!("could not audit a login back-off");
    }
}

/// `POST /api/logout` (with the CSRF token).
pub async fn logout(
    State(state): State<Shared>,
    ClientAddr { https, .. }: ClientAddr,
    viewer: Viewer,
) -> Result<Response, AppError> {
    if let (Some(users), Some(token)) = (state.users.clone(), viewer.token) {
        blocking(move || Ok(users.delete_session(&token)?)).await?;
    }
    let mut res = Json(json!({})).into_response();
    let cookie = if https || state.secure_cookies {
        "gleaner_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0; Secure"
    } else {
        "gleaner_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"
    };
    res.headers_mut()
        .insert(header::SET_COOKIE, HeaderValue::from_static(cookie));
    Ok(res)
}
