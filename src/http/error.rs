//! The one place where errors become HTTP status codes.
//!
//! The user's mistakes get a precise message (and, for queries, the character
//! position); our failures are logged with tracing and the client gets a
//! generic sentence, never internals.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::access::AccessError;
use crate::curate::CurateError;
use crate::query::limits::LimitExceeded;
use crate::query::QueryError;

/// An error answer.
#[derive(Debug)]
pub enum AppError {
    /// A malformed query: 400 with the character position.
    BadQuery {
        /// What is wrong.
        message: String,
        /// 0-based character offset into the query.
        position: usize,
    },
    /// Any other bad request: 400.
    BadRequest(String),
    /// No session: 401.
    Unauthorized,
    /// A session, but not allowed (CSRF, role): 403.
    Forbidden(&'static str),
    /// Unknown or not visible: 404.
    NotFound(&'static str),
    /// Unknown, with a precise message: 404.
    Missing(String),
    /// Changed by someone else since it was read: 409.
    Conflict(String),
    /// The body is not JSON: 415.
    UnsupportedMediaType,
    /// Wrong user name or password: 401.
    WrongPassword,
    /// Too many failed logins: 429 with `Retry-After` (seconds).
    TooManyRequests {
        /// Seconds to wait.
        retry_after: u64,
    },
    /// Too much work asked (400), or the deadline passed (503): `{error, limit}`.
    Limited(LimitExceeded),
    /// Too busy right now (login hashing slots full): 503 with `Retry-After`.
    Busy {
        /// What is busy.
        message: &'static str,
        /// Seconds to wait.
        retry_after: u64,
    },
    /// The `Host` header is not this server's (DNS rebinding): 421.
    WrongHost,
    /// A write sent to a standby: 503 saying where writes go.
    Standby(String),
    /// Our failure: logged, 500 with a generic message.
    Internal,
}

impl AppError {
    /// What kind of error this is, as `/metrics` counts it.
    pub fn kind(&self) -> &'static str {
        match self {
            AppError::BadQuery { .. } => "bad_query",
            AppError::BadRequest(_) => "bad_request",
            AppError::Unauthorized => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) | AppError::Missing(_) => "not_found",
            AppError::Conflict(_) => "conflict",
            AppError::UnsupportedMediaType => "unsupported_media_type",
            AppError::WrongPassword => "wrong_password",
            AppError::TooManyRequests { .. } => "throttled",
            AppError::Limited(l) if l.limit.is_deadline() => "deadline",
            AppError::Limited(_) => "limit",
            AppError::Busy { .. } => "busy",
            AppError::WrongHost => "wrong_host",
            AppError::Standby(_) => "standby",
            AppError::Internal => "internal",
        }
    }

    /// Logs `err` (what we were doing: `context`) and returns [`AppError::Internal`].
    pub fn internal(context: &str, err: impl std::fmt::Display) -> AppError {
        tracing::error!("{context}: {err}");
        AppError::Internal
    }
}

impl From<QueryError> for AppError {
    fn from(e: QueryError) -> AppError {
        match (&e, e.position()) {
            (QueryError::Limit(l), _) => AppError::Limited(l.clone()),
            (QueryError::Parse(p), Some(position)) => AppError::BadQuery {
                message: p.to_string(),
                position,
            },
            (_, Some(position)) if e.is_user_error() => AppError::BadQuery {
                message: e.to_string().trim_start_matches("bad query: ").to_string(),
                position,
            },
            _ => AppError::internal("query", e),
        }
    }
}

impl From<AccessError> for AppError {
    fn from(e: AccessError) -> AppError {
        if e.is_user_error() {
            AppError::BadRequest(e.to_string())
        } else {
            AppError::internal("user database", e)
        }
    }
}

impl From<CurateError> for AppError {
    fn from(e: CurateError) -> AppError {
        match e {
            CurateError::NotFound(m) => AppError::Missing(m),
            CurateError::Conflict { .. } => AppError::Conflict(e.to_string()),
            CurateError::Query(q) => AppError::from(q),
            e if e.is_user_error() => AppError::BadRequest(e.to_string()),
            e => AppError::internal("curation database", e),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let kind = crate::metrics::ErrorKind(self.kind());
        let mut res = self.response();
        res.extensions_mut().insert(kind);
        res
    }
}

impl AppError {
    fn response(self) -> Response {
        let (status, body) = match self {
            AppError::BadQuery { message, position } => (
                StatusCode::BAD_REQUEST,
                json!({"error": message, "position": position}),
            ),
            AppError::BadRequest(m) => (StatusCode::BAD_REQUEST, json!({"error": m})),
            AppError::Unauthorized => {
                (StatusCode::UNAUTHORIZED, json!({"error": "login required"}))
            }
            AppError::WrongPassword => (
                StatusCode::UNAUTHORIZED,
                json!({"error": "wrong user name or password"}),
            ),
            AppError::Forbidden(m) => (StatusCode::FORBIDDEN, json!({"error": m})),
            AppError::NotFound(m) => (StatusCode::NOT_FOUND, json!({"error": m})),
            AppError::Missing(m) => (StatusCode::NOT_FOUND, json!({"error": m})),
            AppError::Conflict(m) => (StatusCode::CONFLICT, json!({"error": m})),
            AppError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                json!({"error": "send JSON (Content-Type: application/json)"}),
            ),
            AppError::TooManyRequests { retry_after } => {
                return with_retry_after(
                    StatusCode::TOO_MANY_REQUESTS,
                    json!({
                        "error": format!("too many failed logins; try again in {retry_after} s"),
                        "retry_after": retry_after,
                    }),
                    retry_after,
                )
            }
            AppError::Limited(l) => {
                let status = if l.limit.is_deadline() {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::BAD_REQUEST
                };
                (
                    status,
                    json!({"error": l.to_string(), "limit": l.limit.name(), "value": l.value}),
                )
            }
            AppError::Busy {
                message,
                retry_after,
            } => {
                return with_retry_after(
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({"error": message, "retry_after": retry_after}),
                    retry_after,
                )
            }
            AppError::WrongHost => (
                StatusCode::MISDIRECTED_REQUEST,
                json!({"error": "this server does not answer for that Host; open it by its listen address"}),
            ),
            AppError::Standby(m) => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": m, "standby": true}),
            ),
            AppError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "the server failed to answer; the problem has been logged"}),
            ),
        };
        (status, Json(body)).into_response()
    }
}

fn with_retry_after(status: StatusCode, body: serde_json::Value, secs: u64) -> Response {
    let mut res = (status, Json(body)).into_response();
    res.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from(secs.max(1)),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::limits::{check_page, Budget, Limits};

    async fn body(res: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .expect("body");
        serde_json::from_slice(&bytes).expect("json")
    }

    #[tokio::test]
    async fn limits_name_themselves_and_the_deadline_is_503() {
        let page = check_page(usize::MAX, 1, &Limits::default()).expect_err("too far");
        let res = AppError::from(QueryError::Limit(page)).into_response();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(body(res).await["limit"], "max_offset");
        let late = Budget::new(Limits {
            deadline_ms: 0,
            ..Limits::default()
        })
        .check_time()
        .expect_err("late");
        let res = AppError::from(QueryError::Limit(late)).into_response();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body(res).await["limit"], "deadline_ms");
        let res = AppError::TooManyRequests { retry_after: 7 }.into_response();
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            res.headers().get(axum::http::header::RETRY_AFTER),
            Some(&axum::http::HeaderValue::from(7u64))
        );
    }
}
