//! Review rounds: `GET /api/review/rounds` (reviewers: open and recent
//! rounds with progress per reviewer, overdue flagged) and
//! `GET /api/review/calendar.ics` (one user's rounds as iCalendar, opened by
//! their calendar token in `?token=` — which opens nothing else — or by a
//! session).

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Query, Request, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::review::require;
use crate::access::Role;
use crate::curate::rounds::RoundFilter;
use crate::http::{blocking, AppError, Shared, Viewer};

/// Closed rounds stay in listings and feeds this long (a year).
const KEEP_CLOSED_SECS: i64 = 365 * 86_400;

/// `GET /api/review/rounds[?policy=&mine=1]`
pub async fn rounds(
    State(state): State<Shared>,
    viewer: Viewer,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, AppError> {
    require(&viewer, Role::Reviewer, "review rounds are for reviewers")?;
    let c = state.curation()?;
    let mine = params.get("mine").is_some_and(|v| v == "1" || v == "true");
    let me = viewer.user.clone();
    let now = crate::db::now();
    let list = blocking(move || {
        Ok(c.rounds(
            &RoundFilter {
                policy: params.get("policy").map(String::as_str),
                reviewer: if mine { me.as_deref() } else { None },
                open_only: false,
                closed_since: Some(now - KEEP_CLOSED_SECS),
            },
            now,
        )?)
    })
    .await?;
    Ok(Json(json!({ "now": now, "rounds": list })))
}

/// `GET /api/review/calendar.ics?token=glc_…`
pub async fn calendar(State(state): State<Shared>, req: Request) -> Result<Response, AppError> {
    let (mut parts, _) = req.into_parts();
    let token = Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
        .ok()
        .and_then(|Query(q)| q.get("token").cloned())
        .filter(|t| !t.is_empty());
    let user: Option<String> = match token {
        Some(t) => {
            let users = state.users.clone().ok_or(AppError::Unauthorized)?;
            let who = blocking(move || Ok(users.calendar_user(&t)?)).await?;
            Some(who.ok_or(AppError::Unauthorized)?.name)
        }
        None => Viewer::from_request_parts(&mut parts, &state).await?.user,
    };
    let c = state.curation()?;
    let now = crate::db::now();
    let text = blocking(move || {
        let name = user.unwrap_or_else(|| "local".into());
        let rounds = c.rounds(
            &RoundFilter {
                // Auth off: the one local user reviews everything.
                reviewer: (name != "local").then_some(name.as_str()),
                closed_since: Some(now - KEEP_CLOSED_SECS),
                ..RoundFilter::default()
            },
            now,
        )?;
        Ok(crate::curate::calendar::render(
            &crate::curate::calendar::Feed {
                user: &name,
                rounds: &rounds,
                public_url: &c.public_url,
                now,
            },
        ))
    })
    .await?;
    let mut res = text.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    Ok(res)
}

/// `POST /api/review/calendar-token`: a new calendar token for the viewer
/// (replacing theirs), as the feed's URL.
pub async fn calendar_token(
    State(state): State<Shared>,
    viewer: Viewer,
) -> Result<Json<Value>, AppError> {
    require(&viewer, Role::Reviewer, "review rounds are for reviewers")?;
    let (Some(users), Some(name)) = (state.users.clone(), viewer.user.clone()) else {
        return Err(AppError::NotFound(
            "calendar tokens need logins: this server runs without them",
        ));
    };
    let base = state.curation()?.public_url.clone();
    let secret = blocking(move || Ok(users.create_calendar_token(&name, &name)?)).await?;
    Ok(Json(json!({
        "url": format!("{base}/api/review/calendar.ics?token={secret}"),
    })))
}
