//! Streamable HTTP at `/mcp`: each `POST` carries one JSON-RPC message and,
//! for a request, is answered with one JSON object (no server-sent events:
//! gleaner never speaks first). Stateless: no `Mcp-Session-Id`; the client
//! sends its API token on every request (`Authorization: Bearer glt_…`).
//! `GET` and `DELETE` answer 405, as the transport allows. Requests carrying
//! an `Origin` header (browsers) are refused, so no web page can drive an
//! assistant's token. `app.rs` mounts [`router`] beside the JSON API.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::protocol::{self, Session, VERSIONS};
use super::{Credential, Mcp, McpError};

/// The path the transport is served at.
pub const PATH: &str = "/mcp";

/// The `/mcp` route.
pub fn router(mcp: Mcp) -> Router {
    Router::new()
        .route(PATH, post(handle).get(not_allowed).delete(not_allowed))
        .with_state(mcp)
}

async fn not_allowed() -> Response {
    let mut res = (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(json!({"error": "POST JSON-RPC messages to /mcp; this server sends no event stream"})),
    )
        .into_response();
    res.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    res
}

fn refuse(status: StatusCode, message: &str) -> Response {
    let mut res = (
        status,
        Json(protocol::error(
            Value::Null,
            protocol::code::INVALID_REQUEST,
            message,
        )),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"gleaner\""),
        );
    }
    res
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

async fn handle(State(mcp): State<Mcp>, headers: HeaderMap, body: Bytes) -> Response {
    if headers.contains_key(header::ORIGIN) {
        return refuse(StatusCode::FORBIDDEN, "requests from web pages are refused");
    }
    if let Some(v) = headers.get("mcp-protocol-version") {
        let known = v.to_str().is_ok_and(|v| VERSIONS.contains(&v.trim()));
        if !known {
            return refuse(
                StatusCode::BAD_REQUEST,
                &format!(
                    "unsupported MCP-Protocol-Version; this server speaks {}",
                    VERSIONS.join(", ")
                ),
            );
        }
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send Content-Type: application/json",
        );
    }
    let Some(token) = bearer(&headers) else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "send Authorization: Bearer <API token>",
        );
    };
    let answered = tokio::task::spawn_blocking(move || {
        let caller = mcp.caller(&Credential::Token(token));
        if let Err(e) = &caller {
            if matches!(e, McpError::Unauthorized) {
                return Err(StatusCode::UNAUTHORIZED);
            }
        }
        let text = String::from_utf8_lossy(&body);
        Ok(protocol::handle_text(
            &mcp,
            &caller,
            &mut Session::default(),
            &text,
        ))
    })
    .await;
    match answered {
        Ok(Ok(Some(answer))) => Json(answer).into_response(),
        Ok(Ok(None)) => StatusCode::ACCEPTED.into_response(),
        Ok(Err(status)) => refuse(status, "unknown or revoked API token"),
        Err(e) => {
            tracing::error!("mcp request task failed: {e}");
            refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the server failed to answer",
            )
        }
    }
}
