//! Curated documents — Procedures, Policies, Guidelines — with Markdown
//! bodies, a revision per save, and citations of the exact messages their
//! knowledge came from.
//!
//! A citation is a row (Message-ID, thread, list, date, author, subject,
//! excerpt) and, in the body, a marker line `{{cite:N}}` (N the citation's
//! number) where the editor places it; reading expands the marker into the
//! quoted excerpt ending in a footnote marker `[^cN]` ([`super::placed`]),
//! and export turns those into footnotes with permalinks. Bodies written
//! before markers carry the quoted block itself, which reads the same.

use std::fmt;
use std::str::FromStr;

use rusqlite::{params, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};

use super::{CurateError, Curation};
use crate::index::doc::StoredMessage;

/// What a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocKind {
    /// How to do something, step by step.
    Procedure,
    /// A rule the organisation decided.
    Policy,
    /// Advice and good practice.
    Guideline,
}

/// Where a document is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocStatus {
    /// Being written.
    Draft,
    /// Waiting for review.
    InReview,
    /// Valid and public.
    Published,
}

macro_rules! names {
    ($t:ty, $what:literal, $($v:ident = $s:literal),+) => {
        impl $t {
            /// The stored name.
            pub fn as_str(self) -> &'static str {
                match self { $(<$t>::$v => $s),+ }
            }
        }
        impl FromStr for $t {
            type Err = CurateError;
            fn from_str(s: &str) -> Result<Self, CurateError> {
                match s.trim().to_ascii_lowercase().replace([' ', '-'], "_").as_str() {
                    $($s => Ok(<$t>::$v),)+
                    other => Err(CurateError::Invalid(format!(
                        concat!("unknown ", $what, " {:?} (use {})"),
                        other,
                        [$($s),+].join(", ")
                    ))),
                }
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

names!(
    DocKind,
    "document kind",
    Procedure = "procedure",
    Policy = "policy",
    Guideline = "guideline"
);
names!(
    DocStatus,
    "status",
    Draft = "draft",
    InReview = "in_review",
    Published = "published"
);

/// A document at its newest revision.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Document {
    /// Number.
    pub id: i64,
    /// Unique short name (from the title), for `cited:<slug>`.
    pub slug: String,
    /// Kind.
    pub kind: DocKind,
    /// Title.
    pub title: String,
    /// Who answers for it.
    pub owner: String,
    /// Status.
    pub status: DocStatus,
    /// Created (unix seconds).
    pub created: i64,
    /// Last saved (unix seconds).
    pub updated: i64,
    /// Newest revision number (from 1).
    pub revision: i64,
    /// Markdown body (empty in listings).
    pub body: String,
}

/// One saved revision.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Revision {
    /// Number, from 1.
    pub n: i64,
    /// Title then.
    pub title: String,
    /// Body then (empty in listings).
    pub body: String,
    /// Who saved it.
    pub author: String,
    /// When (unix seconds).
    pub at: i64,
}

/// A message to cite.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NewCitation {
    /// Message-ID (without angle brackets).
    pub message_id: String,
    /// Its thread.
    pub thread_id: String,
    /// Its list.
    pub list: String,
    /// Its date (unix seconds).
    pub date: i64,
    /// Its author (`Name <addr>`).
    pub author: String,
    /// Its subject.
    pub subject: String,
    /// The passage cited.
    pub excerpt: String,
}

/// Excerpts longer than this are cut (at a word boundary).
const EXCERPT_MAX: usize = 1200;

impl NewCitation {
    /// A citation of `m`: `passage` if given, else the start of its text.
    /// A passage must occur in the message (`text`: its whole text, as
    /// [`crate::query::text::full_text`] reads it; the stored start of the
    /// author's words when the mail cannot be read): nobody can put words in
    /// an author's mouth.
    pub fn from_message(
        m: &StoredMessage,
        passage: Option<&str>,
        text: Option<&str>,
    ) -> Result<NewCitation, CurateError> {
        let excerpt = match passage.map(str::trim).filter(|p| !p.is_empty()) {
            Some(p) => {
                let within = text.unwrap_or(&m.text);
                if !crate::query::text::occurs(p, within) {
                    return Err(CurateError::Invalid(format!(
                        "the passage does not occur in <{}> (whitespace aside): cite words the message holds",
                        m.message_id
                    )));
                }
                p.to_string()
            }
            None => default_excerpt(&m.text),
        };
        Ok(NewCitation {
            message_id: m.message_id.clone(),
            thread_id: m.thread_id.clone(),
            list: m.list.clone(),
            date: m.date,
            author: m.from.first().cloned().unwrap_or_default(),
            subject: m.subject.clone(),
            excerpt: cut(&excerpt, EXCERPT_MAX),
        })
    }
}

fn default_excerpt(text: &str) -> String {
    // The first paragraphs, up to ~600 characters.
    let mut out = String::new();
    for para in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(para);
        if out.len() >= 600 {
            break;
        }
    }
    out
}

fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let head = &s[..end];
    let head = head
        .rsplit_once(char::is_whitespace)
        .map_or(head, |(h, _)| h);
    format!("{head} …")
}

/// A recorded citation.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Citation {
    /// Number (the `N` of `[^cN]`).
    pub id: i64,
    /// The citing document.
    pub doc_id: i64,
    /// What was cited.
    #[serde(flatten)]
    pub cited: NewCitation,
    /// Who cited it.
    pub created_by: String,
    /// When (unix seconds).
    pub created_at: i64,
}

/// A document that cites a message.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DocRef {
    /// Document number.
    pub id: i64,
    /// Slug.
    pub slug: String,
    /// Title.
    pub title: String,
    /// Kind.
    pub kind: DocKind,
    /// Status.
    pub status: DocStatus,
}

/// Changes to a document (fields left `None` stay).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DocUpdate {
    /// New title.
    pub title: Option<String>,
    /// New body.
    pub body: Option<String>,
    /// New status.
    pub status: Option<DocStatus>,
    /// New owner.
    pub owner: Option<String>,
    /// New kind.
    pub kind: Option<DocKind>,
}

const DOC_COLUMNS: &str = "id, slug, kind, title, owner, status, created, updated, revision";

fn row_doc(r: &rusqlite::Row<'_>) -> Result<Document, rusqlite::Error> {
    let kind: String = r.get(2)?;
    let status: String = r.get(5)?;
    Ok(Document {
        id: r.get(0)?,
        slug: r.get(1)?,
        kind: kind.parse().unwrap_or(DocKind::Guideline),
        title: r.get(3)?,
        owner: r.get(4)?,
        status: status.parse().unwrap_or(DocStatus::Draft),
        created: r.get(6)?,
        updated: r.get(7)?,
        revision: r.get(8)?,
        body: String::new(),
    })
}

fn row_citation(r: &rusqlite::Row<'_>) -> Result<Citation, rusqlite::Error> {
    Ok(Citation {
        id: r.get(0)?,
        doc_id: r.get(1)?,
        cited: NewCitation {
            message_id: r.get(2)?,
            thread_id: r.get(3)?,
            list: r.get(4)?,
            date: r.get(5)?,
            author: r.get(6)?,
            subject: r.get(7)?,
            excerpt: r.get(8)?,
        },
        created_by: r.get(9)?,
        created_at: r.get(10)?,
    })
}

const CITATION_COLUMNS: &str =
    "id, doc_id, message_id, thread_id, list, date, author, subject, excerpt, created_by, created_at";

/// A slug from a title: lowercase letters and digits joined by `-`.
pub fn slugify(title: &str) -> String {
    let mut s = String::new();
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            s.push(c);
        } else if !s.ends_with('-') && !s.is_empty() {
            s.push('-');
        }
    }
    let s: String = s.trim_end_matches('-').chars().take(60).collect();
    if s.is_empty() || s.chars().all(|c| c.is_ascii_digit()) {
        format!("doc-{s}").trim_end_matches('-').to_string()
    } else {
        s
    }
}

fn find_doc(tx: &rusqlite::Connection, id_or_slug: &str) -> Result<Document, CurateError> {
    let by_id: Option<i64> = id_or_slug.trim().parse().ok();
    let doc = tx
        .query_row(
            &format!("SELECT {DOC_COLUMNS} FROM documents WHERE id = ?1 OR slug = ?2"),
            params![by_id.unwrap_or(-1), id_or_slug.trim().to_lowercase()],
            row_doc,
        )
        .optional()?
        .ok_or_else(|| no_document(id_or_slug))?;
    let body: String = tx.query_row(
        "SELECT body FROM revisions WHERE doc_id = ?1 AND n = ?2",
        params![doc.id, doc.revision],
        |r| r.get(0),
    )?;
    Ok(Document { body, ..doc })
}

fn add_revision(tx: &Transaction<'_>, doc: &Document, actor: &str) -> Result<(), CurateError> {
    tx.execute(
        "INSERT INTO revisions (doc_id, n, title, body, author, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![doc.id, doc.revision, doc.title, doc.body, actor, doc.updated],
    )?;
    tx.execute(
        "UPDATE documents SET kind = ?2, title = ?3, owner = ?4, status = ?5, updated = ?6, revision = ?7 WHERE id = ?1",
        params![doc.id, doc.kind.as_str(), doc.title, doc.owner, doc.status.as_str(), doc.updated, doc.revision],
    )?;
    Ok(())
}

/// Records `doc` as changed at `at`: its next revision, kept and made current.
fn next_revision(
    tx: &Transaction<'_>,
    doc: &mut Document,
    at: i64,
    actor: &str,
) -> Result<(), CurateError> {
    doc.revision += 1;
    doc.updated = at;
    add_revision(tx, doc, actor)
}

fn check_title(title: &str) -> Result<String, CurateError> {
    let t = title.trim();
    if t.is_empty() || t.len() > 300 {
        return Err(CurateError::Invalid(
            "a title needs 1 to 300 characters".into(),
        ));
    }
    Ok(t.to_string())
}

impl Curation {
    /// Creates a document at revision 1.
    pub fn create_document(
        &self,
        kind: DocKind,
        title: &str,
        owner: &str,
        body: &str,
        actor: &str,
    ) -> Result<Document, CurateError> {
        let title = check_title(title)?;
        let owner = if owner.trim().is_empty() {
            actor
        } else {
            owner.trim()
        };
        self.write(|tx| {
            let base = slugify(&title);
            let mut slug = base.clone();
            let mut n = 1;
            while tx
                .query_row("SELECT 1 FROM documents WHERE slug = ?1", [&slug], |_| Ok(()))
                .optional()?
                .is_some()
            {
                n += 1;
                slug = format!("{base}-{n}");
            }
            let now = crate::db::now();
            tx.execute(
                "INSERT INTO documents (slug, kind, title, owner, status, created, updated, revision)
                 VALUES (?1, ?2, ?3, ?4, 'draft', ?5, ?5, 0)",
                params![slug, kind.as_str(), title, owner, now],
            )?;
            let doc = Document {
                id: tx.last_insert_rowid(),
                slug,
                kind,
                title,
                owner: owner.to_string(),
                status: DocStatus::Draft,
                created: now,
                updated: now,
                revision: 1,
                body: body.to_string(),
            };
            add_revision(tx, &doc, actor)?;
            crate::audit::append(
                tx,
                actor,
                "doc.create",
                &format!("doc:{}", doc.id),
                &serde_json::json!({"kind": kind.as_str(), "title": doc.title, "slug": doc.slug}),
            )?;
            Ok(doc)
        })
    }

    /// A document (by number or slug) at its newest revision.
    pub fn document(&self, id_or_slug: &str) -> Result<Document, CurateError> {
        find_doc(&self.conn(), id_or_slug)
    }

    /// Every document, without bodies, newest change first.
    pub fn documents(&self) -> Result<Vec<Document>, CurateError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {DOC_COLUMNS} FROM documents ORDER BY updated DESC, id DESC"
        ))?;
        let rows = stmt.query_map([], row_doc)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Saves changes as a new revision. With `base_revision`, fails with
    /// [`CurateError::Conflict`] if someone saved since.
    pub fn save_document(
        &self,
        id_or_slug: &str,
        update: &DocUpdate,
        base_revision: Option<i64>,
        actor: &str,
    ) -> Result<Document, CurateError> {
        self.write(|tx| {
            let mut doc = find_doc(tx, id_or_slug)?;
            if let Some(expected) = base_revision.filter(|b| *b != doc.revision) {
                return Err(CurateError::Conflict {
                    doc: doc.id,
                    current: doc.revision,
                    expected,
                });
            }
            let before = doc.clone();
            if let Some(t) = &update.title {
                doc.title = check_title(t)?;
            }
            if let Some(b) = &update.body {
                doc.body = b.clone();
            }
            if let Some(s) = update.status {
                doc.status = s;
            }
            if let Some(o) = update
                .owner
                .as_deref()
                .map(str::trim)
                .filter(|o| !o.is_empty())
            {
                doc.owner = o.to_string();
            }
            if let Some(k) = update.kind {
                doc.kind = k;
            }
            if doc == before {
                return Ok(doc);
            }
            next_revision(tx, &mut doc, crate::db::now(), actor)?;
            crate::audit::append(
                tx,
                actor,
                "doc.save",
                &format!("doc:{}", doc.id),
                &serde_json::json!({"revision": doc.revision, "status": doc.status.as_str(),
                    "title": doc.title, "body_changed": doc.body != before.body,
                    "status_before": before.status.as_str()}),
            )?;
            Ok(doc)
        })
    }

    /// Revisions of a document, newest first, without bodies.
    pub fn revisions(&self, id_or_slug: &str) -> Result<Vec<Revision>, CurateError> {
        let conn = self.conn();
        let doc = find_doc(&conn, id_or_slug)?;
        let mut stmt = conn.prepare(
            "SELECT n, title, author, at FROM revisions WHERE doc_id = ?1 ORDER BY n DESC",
        )?;
        let rows = stmt.query_map([doc.id], |r| {
            Ok(Revision {
                n: r.get(0)?,
                title: r.get(1)?,
                body: String::new(),
                author: r.get(2)?,
                at: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One revision with its body.
    pub fn revision(&self, id_or_slug: &str, n: i64) -> Result<Revision, CurateError> {
        let conn = self.conn();
        let doc = find_doc(&conn, id_or_slug)?;
        conn.query_row(
            "SELECT n, title, body, author, at FROM revisions WHERE doc_id = ?1 AND n = ?2",
            params![doc.id, n],
            |r| {
                Ok(Revision {
                    n: r.get(0)?,
                    title: r.get(1)?,
                    body: r.get(2)?,
                    author: r.get(3)?,
                    at: r.get(4)?,
                })
            },
        )
        .optional()?
        .ok_or_else(|| CurateError::NotFound(format!("document {} has no revision {n}", doc.id)))
    }

    /// Cites a message in a document: records the citation and appends its
    /// marker line `{{cite:N}}` (the editor moves it where it belongs) as a
    /// new revision.
    pub fn cite(
        &self,
        id_or_slug: &str,
        c: &NewCitation,
        actor: &str,
    ) -> Result<(Document, Citation), CurateError> {
        if c.message_id.trim().is_empty() {
            return Err(CurateError::Invalid(
                "only messages with a Message-ID can be cited".into(),
            ));
        }
        self.write(|tx| cite_in(tx, id_or_slug, c, actor))
    }

    /// The citations of a document, in order.
    pub fn citations(&self, id_or_slug: &str) -> Result<Vec<Citation>, CurateError> {
        let conn = self.conn();
        let doc = find_doc(&conn, id_or_slug)?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {CITATION_COLUMNS} FROM citations WHERE doc_id = ?1 ORDER BY id"
        ))?;
        let rows = stmt.query_map([doc.id], row_citation)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Documents citing a message ("cited in …").
    pub fn citing_documents(&self, message_id: &str) -> Result<Vec<DocRef>, CurateError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT DISTINCT d.id, d.slug, d.title, d.kind, d.status FROM citations c JOIN documents d ON d.id = c.doc_id
             WHERE c.mid = ?1 ORDER BY d.id",
        )?;
        let mid = message_id
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_lowercase();
        let rows = stmt.query_map([mid], |r| {
            let kind: String = r.get(3)?;
            let status: String = r.get(4)?;
            Ok(DocRef {
                id: r.get(0)?,
                slug: r.get(1)?,
                title: r.get(2)?,
                kind: kind.parse().unwrap_or(DocKind::Guideline),
                status: status.parse().unwrap_or(DocStatus::Draft),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// [`Curation::cite`] within transaction `tx`.
pub(super) fn cite_in(
    tx: &Transaction<'_>,
    id_or_slug: &str,
    c: &NewCitation,
    actor: &str,
) -> Result<(Document, Citation), CurateError> {
    let mut doc = find_doc(tx, id_or_slug)?;
    let now = crate::db::now();
    tx.execute(
            "INSERT INTO citations (doc_id, message_id, mid, thread_id, list, date, author, subject, excerpt, created_by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![doc.id, c.message_id, c.message_id.to_lowercase(), c.thread_id, c.list, c.date,
                c.author, c.subject, c.excerpt, actor, now],
        )?;
    let id = tx.last_insert_rowid();
    let mut body = doc.body.trim_end().to_string();
    if !body.is_empty() {
        body.push_str("\n\n");
    }
    body.push_str(&super::placed::marker(id));
    body.push('\n');
    doc.body = body;
    next_revision(tx, &mut doc, now, actor)?;
    crate::audit::append(
        tx,
        actor,
        "doc.cite",
        &format!("doc:{}", doc.id),
        &serde_json::json!({"citation": id, "message_id": c.message_id, "thread_id": c.thread_id,
                "revision": doc.revision}),
    )?;
    let citation = Citation {
        id,
        doc_id: doc.id,
        cited: c.clone(),
        created_by: actor.to_string(),
        created_at: now,
    };
    Ok((doc, citation))
}

/// Removes citation `id` — its row, its quoted block and markers in the body
/// (a new revision) — within `tx`, audited. `None` when it is gone already.
pub(super) fn uncite_in(
    tx: &Transaction<'_>,
    id: i64,
    actor: &str,
) -> Result<Option<Document>, CurateError> {
    let doc_id: Option<i64> = tx
        .query_row("SELECT doc_id FROM citations WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?;
    let Some(doc_id) = doc_id else {
        return Ok(None);
    };
    let mut doc = find_doc(tx, &doc_id.to_string())?;
    tx.execute("DELETE FROM citations WHERE id = ?1", [id])?;
    let body = super::verbatim::remove_citation(&doc.body, id);
    let changed = body != doc.body;
    if changed {
        doc.body = body;
        next_revision(tx, &mut doc, crate::db::now(), actor)?;
    }
    crate::audit::append(
        tx,
        actor,
        "doc.uncite",
        &format!("doc:{}", doc.id),
        &serde_json::json!({"citation": id, "revision": doc.revision, "body_changed": changed}),
    )?;
    Ok(Some(doc))
}

/// The Markdown a citation adds to a body.
pub fn quote_block(c: &NewCitation, id: i64) -> String {
    let mut out = super::verbatim::quote(&c.excerpt);
    let date = crate::query::search::rfc3339(c.date);
    let day = date.get(..10).unwrap_or(&date);
    let author = c.author.split(" <").next().unwrap_or(&c.author);
    // The list stays as recorded: a reader's view names it by replacing it.
    let author = super::verbatim::escape_line(author);
    out.push_str(&format!(">\n> — {author}, {day}, {} [^c{id}]\n", c.list));
    out
}

/// Every cited Message-ID, lowercased; with `published_only`, only those
/// cited by published documents (what a reader may know of).
pub(crate) fn all_cited(c: &Curation, published_only: bool) -> Result<Vec<String>, CurateError> {
    let conn = c.conn();
    let mut stmt = conn.prepare(
        "SELECT DISTINCT c.mid FROM citations c JOIN documents d ON d.id = c.doc_id
         WHERE ?1 = 0 OR d.status = ?2",
    )?;
    let rows = stmt.query_map(
        params![published_only, DocStatus::Published.as_str()],
        |r| r.get(0),
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The Message-IDs a document cites, lowercased. With `published_only`, a
/// document that is not published is "no document", exactly as one that
/// does not exist: a reader learns nothing of drafts.
pub(crate) fn cited_by_doc(
    c: &Curation,
    id_or_slug: &str,
    published_only: bool,
) -> Result<Vec<String>, CurateError> {
    let conn = c.conn();
    let doc = find_doc(&conn, id_or_slug)?;
    if published_only && doc.status != DocStatus::Published {
        return Err(no_document(id_or_slug));
    }
    let mut stmt = conn.prepare("SELECT DISTINCT mid FROM citations WHERE doc_id = ?1")?;
    let rows = stmt.query_map([doc.id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The error for a document that does not exist (or may not be known).
fn no_document(id_or_slug: &str) -> CurateError {
    CurateError::NotFound(format!("no document {id_or_slug:?}"))
}
