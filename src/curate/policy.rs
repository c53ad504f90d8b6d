//! Review policies: which lists, how old, which age date, an optional filter.
//!
//! Policies from `gleaner.toml` (`[[review]]`) are written into the database
//! at start-up and marked `config` (edit them in the file); policies made in
//! the UI are marked `ui` and editable there by admins.

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::{CurateError, Curation};
use crate::query::grammar::AgeUnit;
use crate::query::harvest::AgeBasis;

/// A review policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewPolicy {
    /// Unique name (letters, digits, `-`, `_`, `.`).
    pub name: String,
    /// Lists whose threads are reviewed (empty: every list).
    #[serde(default)]
    pub lists: Vec<String>,
    /// A thread joins the queue when its newest message is older than this (`6y`, `18m`, `90d`).
    pub older_than: String,
    /// Which date ages a message.
    #[serde(default)]
    pub age_basis: AgeBasis,
    /// Only threads with a message matching this query.
    #[serde(default)]
    pub query: Option<String>,
    /// `config` (from gleaner.toml) or `ui`.
    #[serde(default = "ui")]
    pub origin: String,
}

fn ui() -> String {
    "ui".to_string()
}

/// Parses `6y`, `18m`, `2w`, `90d` into an amount and a unit.
pub fn parse_age(s: &str) -> Result<(u32, AgeUnit), CurateError> {
    let s = s.trim();
    let bad = || {
        CurateError::Invalid(format!(
            "bad age {s:?}: use a number and y, m, w or d, like 6y"
        ))
    };
    let unit = s
        .chars()
        .last()
        .and_then(AgeUnit::from_letter)
        .ok_or_else(bad)?;
    let amount: u32 = s[..s.len() - 1].parse().map_err(|_| bad())?;
    if amount == 0 || matches!(unit, AgeUnit::Hours) {
        return Err(bad());
    }
    Ok((amount, unit))
}

impl ReviewPolicy {
    /// Checks the name, the age and the filter's syntax.
    pub fn validate(&self) -> Result<(), CurateError> {
        if self.name.is_empty()
            || self.name.len() > 64
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(CurateError::Invalid(format!(
                "bad policy name {:?}: use 1-64 letters, digits, '-', '_' or '.'",
                self.name
            )));
        }
        parse_age(&self.older_than)?;
        if let Some(q) = self.query.as_deref().filter(|q| !q.trim().is_empty()) {
            crate::query::grammar::parse(q)
                .map_err(|e| CurateError::Invalid(format!("bad policy query: {e}")))?;
        }
        Ok(())
    }

    /// Threads whose newest message is before this are due (unix seconds).
    pub fn cutoff(&self, now: i64) -> Result<i64, CurateError> {
        let (amount, unit) = parse_age(&self.older_than)?;
        Ok(crate::query::plan::age_cutoff(now, amount, unit))
    }
}

fn basis_str(b: AgeBasis) -> &'static str {
    match b {
        AgeBasis::Date => "date",
        AgeBasis::Arrival => "arrival",
    }
}

fn row_policy(r: &rusqlite::Row<'_>) -> Result<ReviewPolicy, rusqlite::Error> {
    let lists: String = r.get(1)?;
    let basis: String = r.get(3)?;
    Ok(ReviewPolicy {
        name: r.get(0)?,
        lists: serde_json::from_str(&lists).unwrap_or_default(),
        older_than: r.get(2)?,
        age_basis: if basis == "arrival" {
            AgeBasis::Arrival
        } else {
            AgeBasis::Date
        },
        query: r.get(4)?,
        origin: r.get(5)?,
    })
}

impl Curation {
    /// Every policy, by name.
    pub fn policies(&self) -> Result<Vec<ReviewPolicy>, CurateError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT name, lists, older_than, age_basis, query, origin FROM review_policies ORDER BY name",
        )?;
        let rows = stmt.query_map([], row_policy)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One policy.
    pub fn policy(&self, name: &str) -> Result<ReviewPolicy, CurateError> {
        self.conn()
            .query_row(
                "SELECT name, lists, older_than, age_basis, query, origin FROM review_policies WHERE name = ?1",
                [name],
                row_policy,
            )
            .optional()?
            .ok_or_else(|| CurateError::NotFound(format!("no review policy named {name:?}")))
    }

    /// Creates or replaces a policy. A `config` policy can only be replaced by the config.
    pub fn put_policy(&self, p: &ReviewPolicy, actor: &str) -> Result<(), CurateError> {
        p.validate()?;
        let lists: Vec<String> = p
            .lists
            .iter()
            .map(|l| l.trim().to_lowercase())
            .filter(|l| !l.is_empty())
            .collect();
        self.write(|tx| {
            let origin: Option<String> = tx
                .query_row("SELECT origin FROM review_policies WHERE name = ?1", [&p.name], |r| r.get(0))
                .optional()?;
            if origin.as_deref() == Some("config") && p.origin != "config" {
                return Err(CurateError::Invalid(format!(
                    "policy {:?} comes from gleaner.toml: change it there",
                    p.name
                )));
            }
            let lists_json = serde_json::to_string(&lists).unwrap_or_else(|_| "[]".into());
            let query = p.query.as_deref().map(str::trim).filter(|q| !q.is_empty());
            let changed = tx.execute(
                "INSERT INTO review_policies (name, lists, older_than, age_basis, query, origin, updated, updated_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT(name) DO UPDATE SET lists = excluded.lists, older_than = excluded.older_than,
                   age_basis = excluded.age_basis, query = excluded.query, origin = excluded.origin,
                   updated = excluded.updated, updated_by = excluded.updated_by
                 WHERE lists IS NOT excluded.lists OR older_than IS NOT excluded.older_than
                   OR age_basis IS NOT excluded.age_basis OR query IS NOT excluded.query
                   OR origin IS NOT excluded.origin",
                params![p.name, lists_json, p.older_than.trim(), basis_str(p.age_basis), query, p.origin, crate::db::now(), actor],
            )?;
            if changed > 0 {
                crate::audit::append(
                    tx,
                    actor,
                    "review.policy.put",
                    &format!("policy:{}", p.name),
                    &serde_json::json!({"lists": lists, "older_than": p.older_than, "age_basis": basis_str(p.age_basis), "query": query, "origin": p.origin}),
                )?;
            }
            Ok(())
        })?;
        self.forget_queue(&p.name);
        Ok(())
    }

    /// Deletes a UI policy (its decisions stay, for the record).
    pub fn delete_policy(&self, name: &str, actor: &str) -> Result<(), CurateError> {
        let p = self.policy(name)?;
        if p.origin == "config" {
            return Err(CurateError::Invalid(format!(
                "policy {name:?} comes from gleaner.toml: remove it there"
            )));
        }
        self.write(|tx| {
            tx.execute("DELETE FROM review_policies WHERE name = ?1", [name])?;
            crate::audit::append(
                tx,
                actor,
                "review.policy.delete",
                &format!("policy:{name}"),
                &serde_json::json!({}),
            )?;
            Ok(())
        })?;
        self.forget_queue(name);
        Ok(())
    }

    /// Writes the config's policies (marked `config`); a config policy no
    /// longer in the file becomes a `ui` policy rather than vanishing.
    pub fn sync_config_policies(&self, from_config: &[ReviewPolicy]) -> Result<(), CurateError> {
        for p in from_config {
            let mut p = p.clone();
            p.origin = "config".into();
            self.put_policy(&p, "config")?;
        }
        let names: Vec<&str> = from_config.iter().map(|p| p.name.as_str()).collect();
        for p in self.policies()? {
            if p.origin == "config" && !names.contains(&p.name.as_str()) {
                let mut p = p.clone();
                p.origin = "ui".into();
                self.write(|tx| {
                    tx.execute(
                        "UPDATE review_policies SET origin = 'ui' WHERE name = ?1",
                        [&p.name],
                    )?;
                    crate::audit::append(
                        tx,
                        "config",
                        "review.policy.unconfig",
                        &format!("policy:{}", p.name),
                        &serde_json::json!({}),
                    )?;
                    Ok(())
                })?;
            }
        }
        Ok(())
    }
}
