//! `GET /api/export.mbox?q=`: the whole result set, oldest first, as mboxrd,
//! streamed while the index is read.
//!
//! The search runs before the answer starts, within the request deadline
//! (`deadline_ms`: a `503` naming it, like a search); reading and sending the
//! mail is a long job bounded by `job_deadline_ms` (past it the download
//! breaks off, as on any failure mid-stream).

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::messages::read_raw;
use super::search::request;
use crate::http::{blocking, AppError, Shared, Viewer};
use crate::index::doc::StoredMessage;
use crate::query::limits::Budget;
use crate::store::mbox;

/// Messages buffered between the index reader and the client.
const CHANNEL_MESSAGES: usize = 16;

/// The `From ` line of a message: first sender (or `MAILER-DAEMON`) and an
/// asctime date (the epoch when unknown).
pub fn envelope_line(m: &StoredMessage) -> String {
    let sender = m
        .from
        .first()
        .and_then(|f| {
            let addr = f
                .rsplit_once('<')
                .map_or(f.as_str(), |(_, a)| a.trim_end_matches('>'));
            Some(addr.trim()).filter(|a| !a.is_empty() && !a.contains(char::is_whitespace))
        })
        .unwrap_or("MAILER-DAEMON");
    let date = time::OffsetDateTime::from_unix_timestamp(m.date.max(0))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let format = time::macros::format_description!(
        "[weekday repr:short] [month repr:short] [day padding:space] [hour]:[minute]:[second] [year]"
    );
    let date = date
        .format(&format)
        .unwrap_or_else(|_| "Thu Jan  1 00:00:00 1970".into());
    format!("From {sender} {date}\n")
}

/// One message as an mboxrd entry: envelope line, `>*From ` lines quoted, a
/// newline at the end and a blank line after.
pub fn mboxrd_entry(m: &StoredMessage, raw: &[u8]) -> Vec<u8> {
    let mut out = envelope_line(m).into_bytes();
    out.extend_from_slice(&mbox::quote(raw));
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    out.push(b'\n');
    out
}

/// `GET /api/export.mbox?q=`
pub async fn export(
    State(state): State<Shared>,
    viewer: Viewer,
    Query(mut params): Query<HashMap<String, String>>,
) -> Result<Response, AppError> {
    params.remove("limit");
    params.remove("offset");
    let req = request(&state, &params, &viewer)?;
    // Search first, so a bad query is a JSON 400 and a slow one a JSON 503
    // rather than a broken download.
    let st = state.clone();
    let found = blocking(move || {
        Ok(crate::query::search::matching(
            &st.index,
            &req,
            &Budget::interactive(),
        )?)
    })
    .await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(CHANNEL_MESSAGES);
    tokio::task::spawn_blocking(move || {
        let budget = Budget::job();
        let result = found.for_each(&state.index, &budget, |m| match read_raw(&m) {
            Ok(raw) => tx
                .blocking_send(Ok(Bytes::from(mboxrd_entry(&m, &raw))))
                .is_ok(),
            Err(e) => {
                tracing::warn!("export: message {} is unreadable, skipped: {e}", m.key);
                true
            }
        });
        if let Err(e) = result {
            tracing::error!("export failed while streaming: {e}");
            let _ = tx.blocking_send(Err(std::io::Error::other("export failed")));
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut res = Body::from_stream(stream).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/mbox"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"gleaner-export.mbox\""),
    );
    Ok(res)
}
