//! Reviewers' decisions on queue threads: promote, keep, dismiss — with a
//! note, in bulk, and undoable (the last batch of one reviewer at a time).

use std::collections::HashMap;
use std::str::FromStr;

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::{Citation, CurateError, Curation, Document, NewCitation};

/// What a reviewer decided about a thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Worth turning into documentation.
    Promote,
    /// Still relevant, not for documentation.
    Keep,
    /// Of no lasting value.
    Dismiss,
}

impl Decision {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Promote => "promote",
            Decision::Keep => "keep",
            Decision::Dismiss => "dismiss",
        }
    }
}

impl FromStr for Decision {
    type Err = CurateError;

    fn from_str(s: &str) -> Result<Decision, CurateError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "promote" => Ok(Decision::Promote),
            "keep" => Ok(Decision::Keep),
            "dismiss" => Ok(Decision::Dismiss),
            other => Err(CurateError::Invalid(format!(
                "unknown decision {other:?} (use promote, keep or dismiss)"
            ))),
        }
    }
}

/// A recorded decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recorded {
    /// The decision.
    pub decision: Decision,
    /// The reviewer's note.
    pub note: String,
    /// Who.
    pub by: String,
    /// When (unix seconds).
    pub at: i64,
}

impl Curation {
    /// Records `decision` for each of `threads` in queue `policy`, as one
    /// undoable batch. Returns the batch number.
    pub fn decide(
        &self,
        policy: &str,
        threads: &[String],
        decision: Decision,
        note: &str,
        actor: &str,
    ) -> Result<i64, CurateError> {
        if threads.is_empty() {
            return Err(CurateError::Invalid("no threads to decide on".into()));
        }
        self.policy(policy)?;
        self.write(|tx| decide_in(tx, policy, threads, decision, note, actor))
    }

    /// Promotes `thread` in queue `policy` and cites `citation` into document
    /// `doc`, in one transaction and one undoable batch: undoing it removes
    /// the citation again. Returns the batch, the document and the citation.
    pub fn promote_citing(
        &self,
        policy: &str,
        thread: &str,
        note: &str,
        doc: &str,
        citation: &NewCitation,
        actor: &str,
    ) -> Result<(i64, Document, Citation), CurateError> {
        let (batch, doc, mut cited) = self.promote_citing_all(
            policy,
            &[(thread.to_string(), citation.clone())],
            note,
            doc,
            actor,
        )?;
        let cited = cited
            .pop()
            .ok_or_else(|| CurateError::Invalid("nothing was cited".into()))?;
        Ok((batch, doc, cited))
    }

    /// [`Curation::promote_citing`] for several threads in one batch, each
    /// with its citation: one transaction, and one undo takes them all back.
    pub fn promote_citing_all(
        &self,
        policy: &str,
        items: &[(String, NewCitation)],
        note: &str,
        doc: &str,
        actor: &str,
    ) -> Result<(i64, Document, Vec<Citation>), CurateError> {
        self.policy(policy)?;
        let threads: Vec<String> = items.iter().map(|(t, _)| t.clone()).collect();
        self.write(|tx| {
            let batch = decide_in(tx, policy, &threads, Decision::Promote, note, actor)?;
            let mut document = None;
            let mut citations = Vec::with_capacity(items.len());
            for (thread, citation) in items {
                let (doc, cited) = super::documents::cite_in(tx, doc, citation, actor)?;
                tx.execute(
                    "UPDATE decision_log SET citation_id = ?1 WHERE batch = ?2 AND thread_id = ?3",
                    params![cited.id, batch, thread],
                )?;
                document = Some(doc);
                citations.push(cited);
            }
            let document =
                document.ok_or_else(|| CurateError::Invalid("no thread to promote".into()))?;
            Ok((batch, document, citations))
        })
    }

    /// Undoes `actor`'s newest batch in `policy` that is not undone yet,
    /// restoring what was there before. Returns the threads it touched.
    pub fn undo(&self, policy: &str, actor: &str) -> Result<Vec<String>, CurateError> {
        Ok(self.undo_citations(policy, actor)?.0)
    }

    /// [`Curation::undo`], also removing the citations the batch's promotion
    /// added ([`Curation::promote_citing`]) — each a new revision of its
    /// document, audited. Returns the threads and the citations removed.
    pub fn undo_citations(
        &self,
        policy: &str,
        actor: &str,
    ) -> Result<(Vec<String>, Vec<i64>), CurateError> {
        self.write(|tx| {
            let batch: Option<i64> = tx
                .query_row(
                    "SELECT MAX(batch) FROM decision_log WHERE policy = ?1 AND actor = ?2 AND undone = 0",
                    params![policy, actor],
                    |r| r.get(0),
                )
                .optional()?
                .flatten();
            let Some(batch) = batch else {
                return Err(CurateError::NotFound(nothing_to_undo(tx, policy, actor)?));
            };
            let mut stmt = tx.prepare(
                "SELECT id, thread_id, before_decision, before_note, before_by, before_at FROM decision_log
                 WHERE batch = ?1 ORDER BY id DESC",
            )?;
            type Before = (i64, String, Option<String>, Option<String>, Option<String>, Option<i64>);
            let rows: Vec<Before> = stmt
                .query_map([batch], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
                .collect::<Result<_, _>>()?;
            drop(stmt);
            let mut threads = Vec::new();
            for (_, thread, decision, note, by, at) in rows {
                match (decision, by, at) {
                    (Some(d), Some(by), Some(at)) => tx.execute(
                        "UPDATE decisions SET decision = ?3, note = ?4, decided_by = ?5, decided_at = ?6
                         WHERE policy = ?1 AND thread_id = ?2",
                        params![policy, thread, d, note.unwrap_or_default(), by, at],
                    )?,
                    _ => tx.execute(
                        "DELETE FROM decisions WHERE policy = ?1 AND thread_id = ?2",
                        params![policy, thread],
                    )?,
                };
                crate::audit::append(
                    tx,
                    actor,
                    "review.undo",
                    &format!("thread:{thread}"),
                    &serde_json::json!({"policy": policy, "batch": batch}),
                )?;
                threads.push(thread);
            }
            tx.execute("UPDATE decision_log SET undone = 1 WHERE batch = ?1", [batch])?;
            let mut stmt = tx.prepare(
                "SELECT DISTINCT citation_id FROM decision_log WHERE batch = ?1 AND citation_id IS NOT NULL",
            )?;
            let cited: Vec<i64> = stmt
                .query_map([batch], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            drop(stmt);
            let mut removed = Vec::new();
            for id in cited {
                if super::documents::uncite_in(tx, id, actor)?.is_some() {
                    removed.push(id);
                }
            }
            Ok((threads, removed))
        })
    }

    /// Every decision of a policy, by thread.
    pub fn decisions(&self, policy: &str) -> Result<HashMap<String, Recorded>, CurateError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT thread_id, decision, note, decided_by, decided_at FROM decisions WHERE policy = ?1",
        )?;
        let rows = stmt.query_map([policy], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
            ))
        })?;
        let mut out = HashMap::new();
        for row in rows {
            let (thread, decision, note, by, at) = row?;
            if let Ok(decision) = decision.parse() {
                out.insert(
                    thread,
                    Recorded {
                        decision,
                        note,
                        by,
                        at,
                    },
                );
            }
        }
        Ok(out)
    }

    /// Every queue's decision on a conversation known by any of `ids` (its
    /// id and the Message-IDs of its messages: a conversation merged into
    /// another was known by the id of one of its messages), newest first,
    /// with the policy's name.
    pub fn decisions_on(&self, ids: &[String]) -> Result<Vec<(String, Recorded)>, CurateError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT policy, decision, note, decided_by, decided_at FROM decisions WHERE thread_id = ?1",
        )?;
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for id in ids {
            if !seen.insert(id.as_str()) {
                continue;
            }
            let rows = stmt.query_map([id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })?;
            for row in rows {
                let (policy, decision, note, by, at) = row?;
                if let Ok(decision) = decision.parse() {
                    out.push((
                        policy,
                        Recorded {
                            decision,
                            note,
                            by,
                            at,
                        },
                    ));
                }
            }
        }
        out.sort_by(|a, b| b.1.at.cmp(&a.1.at).then_with(|| a.0.cmp(&b.0)));
        Ok(out)
    }

    /// Threads promoted in any policy, oldest promotion first.
    pub fn promoted_threads(&self) -> Result<Vec<String>, CurateError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT thread_id FROM decisions WHERE decision = 'promote' GROUP BY thread_id ORDER BY MIN(decided_at), thread_id",
        )?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// [`Curation::decide`] within `tx`: the batch number.
fn decide_in(
    tx: &rusqlite::Transaction<'_>,
    policy: &str,
    threads: &[String],
    decision: Decision,
    note: &str,
    actor: &str,
) -> Result<i64, CurateError> {
    let now = crate::db::now();
    let batch: i64 = tx.query_row(
        "SELECT COALESCE(MAX(batch), 0) + 1 FROM decision_log",
        [],
        |r| r.get(0),
    )?;
    for thread in threads {
        let before: Option<(String, String, String, i64)> = tx
            .query_row(
                "SELECT decision, note, decided_by, decided_at FROM decisions WHERE policy = ?1 AND thread_id = ?2",
                params![policy, thread],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        tx.execute(
            "INSERT INTO decisions (policy, thread_id, decision, note, decided_by, decided_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(policy, thread_id) DO UPDATE SET decision = excluded.decision,
               note = excluded.note, decided_by = excluded.decided_by, decided_at = excluded.decided_at",
            params![policy, thread, decision.as_str(), note, actor, now],
        )?;
        tx.execute(
            "INSERT INTO decision_log (batch, policy, thread_id, before_decision, before_note, before_by, before_at, after_decision, actor, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                batch, policy, thread,
                before.as_ref().map(|b| b.0.clone()), before.as_ref().map(|b| b.1.clone()),
                before.as_ref().map(|b| b.2.clone()), before.as_ref().map(|b| b.3),
                decision.as_str(), actor, now
            ],
        )?;
        crate::audit::append(
            tx,
            actor,
            "review.decide",
            &format!("thread:{thread}"),
            &serde_json::json!({"policy": policy, "decision": decision.as_str(), "note": note, "batch": batch,
                "before": before.as_ref().map(|b| &b.0)}),
        )?;
    }
    super::rounds::close_finished(tx, policy, actor)?;
    Ok(batch)
}

/// Why there is nothing to undo for `actor`, naming whose undoable batches
/// `policy` has (a reviewer who decided in the web UI is `name`; the CLI
/// records `cli:$USER` unless given `--by`).
fn nothing_to_undo(
    tx: &rusqlite::Transaction<'_>,
    policy: &str,
    actor: &str,
) -> Result<String, CurateError> {
    let mut stmt = tx.prepare(
        "SELECT actor, COUNT(DISTINCT batch) FROM decision_log
         WHERE policy = ?1 AND undone = 0 GROUP BY actor ORDER BY actor",
    )?;
    let others: Vec<String> = stmt
        .query_map([policy], |r| {
            Ok(format!(
                "{} ({} batch(es))",
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?
            ))
        })?
        .collect::<Result<_, _>>()?;
    Ok(if others.is_empty() {
        format!("nothing to undo in {policy:?}")
    } else {
        format!(
            "nothing to undo by {actor:?} in {policy:?}; undoable batches there are by: {} (undo as one of them, e.g. `gleaner review undo {policy} --by NAME`)",
            others.join(", ")
        )
    })
}
