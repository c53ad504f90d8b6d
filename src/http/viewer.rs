//! Who is asking: the session cookie turned into a user, a role and the lists
//! they may see, with the CSRF check for state-changing requests.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Method};

use super::{blocking, AppError, Shared};
use crate::access::Role;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "gleaner_session";

/// The user behind a request. Extracting it answers `401` without a live
/// session, and `403` for a `POST`/`PUT`/`PATCH`/`DELETE` without the
/// session's CSRF token in `X-CSRF-Token`.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// Login name (`None` when auth is off).
    pub user: Option<String>,
    /// Role (admin when auth is off).
    pub role: Role,
    /// Lists the user may see (`None`: all).
    pub allowed_lists: Option<Vec<String>>,
    /// The session's CSRF token.
    pub csrf: String,
    /// The session cookie's token, if any.
    pub token: Option<String>,
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(parts: &Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Compares two secrets in time independent of where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl FromRequestParts<Shared> for Viewer {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Viewer, AppError> {
        let viewer = if !state.auth_enabled {
            Viewer {
                user: None,
                role: Role::Admin,
                allowed_lists: None,
                csrf: state.open_csrf.clone(),
                token: None,
            }
        } else {
            let token = cookie(parts, SESSION_COOKIE).ok_or(AppError::Unauthorized)?;
            let users = state.users.clone().ok_or(AppError::Internal)?;
            let t = token.clone();
            let session = blocking(move || Ok(users.session(&t)?))
                .await?
                .ok_or(AppError::Unauthorized)?;
            Viewer {
                user: Some(session.user.name.clone()),
                role: session.user.role,
                allowed_lists: session.user.allowed_lists(),
                csrf: session.csrf,
                token: Some(token),
            }
        };
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            let sent = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !same_secret(sent, &viewer.csrf) {
                return Err(AppError::Forbidden("missing or wrong CSRF token"));
            }
        }
        Ok(viewer)
    }
}
