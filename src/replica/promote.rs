//! `gleaner promote`: a standby becomes the primary.
//!
//! It refuses while the old primary still answers (two primaries taking
//! writes would diverge), unless forced. Under the replication lock it
//! records the promotion (a [`super::PROMOTED_FILE`] and an audit entry in
//! the same chain the primary wrote) and removes the standby marker; a
//! running `serve --standby` sees that at its next request or round and
//! takes writes from then on. This module knows nothing of HTTP servers.

use std::path::Path;
use std::time::Duration;

use super::client::{self, PrimaryUrl};
use super::{ReplicaError, PROMOTED_FILE, STANDBY_FILE};

/// What a promotion did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PromoteReport {
    /// The primary followed until now.
    pub old_primary: String,
    /// Whether it still answered (only with `force`).
    pub old_primary_answered: bool,
    /// Unix seconds.
    pub at: i64,
    /// The audit entry recording it.
    pub audit_seq: i64,
}

/// Promotes the standby in `data`; `actor` is recorded in the audit log.
pub fn promote(data: &Path, force: bool, actor: &str) -> Result<PromoteReport, ReplicaError> {
    if !super::is_standby(data) {
        return Err(ReplicaError::NotStandby(data.to_path_buf()));
    }
    let old = super::standby_primary(data).unwrap_or_default();
    let answered = answers(&old);
    if answered && !force {
        return Err(ReplicaError::PrimaryAnswers(old));
    }
    let _lock = super::lock(data)?;
    if !super::is_standby(data) {
        return Err(ReplicaError::NotStandby(data.to_path_buf()));
    }
    let at = crate::db::now();
    let mut conn = crate::db::open(data).map_err(|e| ReplicaError::Protocol(e.to_string()))?;
    crate::audit::migrate(&mut conn)?;
    let detail =
        serde_json::json!({"old_primary": old, "old_primary_answered": answered, "forced": force});
    let audit_seq = crate::db::write(&mut conn, |tx| {
        crate::audit::append(tx, actor, "replica.promote", "replica", &detail)
    })?;
    let record =
        serde_json::json!({"at": at, "old_primary": old, "forced": force, "audit_seq": audit_seq});
    super::write_atomic(data, PROMOTED_FILE, record.to_string().as_bytes())?;
    let marker = data.join(STANDBY_FILE);
    std::fs::remove_file(&marker).map_err(|source| ReplicaError::Io {
        path: marker,
        source,
    })?;
    super::sync_dir(data)?;
    Ok(PromoteReport {
        old_primary: old,
        old_primary_answered: answered,
        at,
        audit_seq,
    })
}

/// Whether anything answers HTTP at `url` (its `/healthz`) within 3 seconds.
fn answers(url: &str) -> bool {
    let Ok(url) = PrimaryUrl::parse(url) else {
        return false;
    };
    matches!(
        client::get(
            &url,
            "/healthz",
            &[],
            Duration::from_secs(3),
            &mut std::io::sink()
        ),
        Ok(_) | Err(ReplicaError::Status { .. })
    )
}

/// When `data` was last promoted (from its [`PROMOTED_FILE`]), if ever.
pub fn promoted_at(data: &Path) -> Option<i64> {
    let text = std::fs::read(data.join(PROMOTED_FILE)).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&text).ok()?;
    v.get("at")?.as_i64()
}

/// Refuses to let `data` serve as a primary when one of `standbys` (their
/// `/api/replica/status`) was promoted after it: it was replaced while it
/// was away. A standby that does not answer is skipped (with a warning).
pub fn check_not_demoted(data: &Path, standbys: &[String]) -> Result<(), ReplicaError> {
    let ours = promoted_at(data).unwrap_or(i64::MIN);
    for s in standbys {
        let url = PrimaryUrl::parse(s)?;
        let mut body = Vec::new();
        let got = client::get(
            &url,
            "/api/replica/status",
            &[],
            Duration::from_secs(3),
            &mut body,
        );
        if let Err(e) = got {
            tracing::warn!("cannot ask {s} whether it was promoted: {e}");
            continue;
        }
        let at = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("promoted_at").and_then(serde_json::Value::as_i64));
        if let Some(at) = at.filter(|at| *at > ours) {
            return Err(ReplicaError::Demoted {
                url: url.display(),
                at,
            });
        }
    }
    Ok(())
}
