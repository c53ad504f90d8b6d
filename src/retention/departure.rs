//! Departing staff: a person's mailbox (a source with `owner = "alice"`)
//! under a `[[departure]]` policy — on departure it is archived into sealed
//! volumes, its list (`extract::mailbox_list`) becomes readable only by the
//! policy's readers (`access::departure`), and a legal hold keeps it for the
//! policy's period; after that, a purge needs two different admins'
//! approval (four-eyes) and removes the mailbox's copies from the index,
//! the live store and the archive volumes. Every step is in the audit log.
//!
//! State: `departures` and `purge_approvals` in `gleaner.db`. Must not know
//! HTTP or any other surface; reads the index through `query`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::archive::{self, Context as ArchiveContext};
use super::{Retention, RetentionError, RetentionPolicy};
use crate::access::{Role, UserInfo};
use crate::index::writer::Writer;
use crate::index::MailIndex;
use crate::query::retention::{due, DueRequest};
use crate::store::{volume, Location};

const COMPONENT: &str = "mailbox";

const MIGRATIONS: &[&str] = &["CREATE TABLE departures (
        owner TEXT PRIMARY KEY,
        list TEXT NOT NULL,
        policy TEXT NOT NULL,
        hold TEXT NOT NULL,
        effective INTEGER NOT NULL,
        recorded_at INTEGER NOT NULL,
        recorded_by TEXT NOT NULL,
        purged_at INTEGER,
        purged_by TEXT
     );
     CREATE TABLE purge_approvals (
        owner TEXT NOT NULL,
        admin TEXT NOT NULL,
        approved_at INTEGER NOT NULL,
        PRIMARY KEY (owner, admin)
     );"];

/// Approvals a purge needs, from different admins.
pub const APPROVALS_NEEDED: usize = 2;

/// `[[departure]]`: what happens to a person's mailbox when they leave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeparturePolicy {
    /// Its name (default `"default"`).
    #[serde(default = "default_name")]
    pub name: String,
    /// The mailbox owners it is for (empty: anyone no other policy names).
    #[serde(default)]
    pub owners: Vec<String>,
    /// Who may read the mailbox after the departure: user names, or
    /// `role:NAME` for everyone of that role or above.
    pub readers: Vec<String>,
    /// How long it is kept after the departure (`7y`, `18m`).
    pub hold: String,
}

fn default_name() -> String {
    "default".into()
}

impl DeparturePolicy {
    /// Checks the hold period and the readers.
    pub fn validate(&self) -> Result<(), RetentionError> {
        crate::curate::policy::parse_age(&self.hold)
            .map_err(|e| RetentionError::Invalid(format!("hold: {e}")))?;
        if self.readers.is_empty() {
            return Err(RetentionError::Invalid(
                "name its readers (users, or role:NAME), like readers = [\"role:editor\", \"bob\"]"
                    .into(),
            ));
        }
        crate::access::departure::check_readers(&self.readers)
            .map_err(|e| RetentionError::Invalid(format!("readers: {e}")))
    }

    /// The policy for `owner`: the one naming them, else the one naming nobody.
    pub fn for_owner<'a>(
        policies: &'a [DeparturePolicy],
        owner: &str,
    ) -> Result<&'a DeparturePolicy, RetentionError> {
        let named: Vec<_> = policies
            .iter()
            .filter(|p| p.owners.iter().any(|o| o == owner))
            .collect();
        let any: Vec<_> = policies.iter().filter(|p| p.owners.is_empty()).collect();
        match (named.as_slice(), any.as_slice()) {
            ([p], _) | ([], [p]) => Ok(p),
            ([], []) => Err(RetentionError::Invalid(format!(
                "no [[departure]] policy covers {owner:?} (add one to the configuration)"
            ))),
            _ => Err(RetentionError::Invalid(format!(
                "several [[departure]] policies cover {owner:?}: name them in `owners`"
            ))),
        }
    }
}

/// A recorded departure.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Departure {
    /// Whose mailbox.
    pub owner: String,
    /// Its list.
    pub list: String,
    /// The policy applied.
    pub policy: String,
    /// Its hold period.
    pub hold: String,
    /// The departure day (unix seconds).
    pub effective: i64,
    /// Admins who approved the purge.
    pub approvals: Vec<String>,
    /// When it was purged.
    pub purged_at: Option<i64>,
}

/// What `depart` did.
#[derive(Debug, Clone, Serialize)]
pub struct DepartReport {
    /// The departure as recorded.
    pub departure: Departure,
    /// The legal hold placed.
    pub hold_name: String,
    /// The archive run over the mailbox.
    pub archive: archive::RunReport,
}

/// What one purge approval did.
#[derive(Debug, Clone, Serialize, Default)]
pub struct PurgeReport {
    /// Admins who approved so far.
    pub approvals: Vec<String>,
    /// Whether the purge ran.
    pub purged: bool,
    /// Messages whose mailbox copies left the index.
    pub messages: u64,
    /// Index locations removed.
    pub locations: u64,
    /// Live mail files deleted.
    pub files: u64,
    /// Archive volumes deleted.
    pub volumes: Vec<String>,
}

/// What depart and purge work with.
pub struct MailboxContext<'a> {
    /// The index.
    pub index: &'a MailIndex,
    /// The retention tables.
    pub retention: &'a Retention,
    /// The users (for the access rule).
    pub users: &'a crate::access::Users,
    /// The owner's mailbox sources (paths).
    pub sources: Vec<PathBuf>,
    /// The volume directory.
    pub archive_dir: PathBuf,
    /// Volume size in bytes.
    pub volume_size: u64,
    /// Who acts (audit log).
    pub actor: &'a str,
    /// Now (unix seconds).
    pub now: i64,
}

/// The retention-policy name of `owner`'s departure archive (volumes are named after it).
pub fn archive_policy_name(owner: &str) -> String {
    let slug: String = owner
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(28)
        .collect();
    format!("departed-{slug}")
}

fn hold_name(owner: &str) -> String {
    format!("departure-{owner}")
}

impl Retention {
    pub(super) fn migrate_mailboxes(&self) -> Result<(), RetentionError> {
        let mut conn = self.conn();
        crate::access::departure::migrate(&mut conn)?;
        crate::db::migrate(&mut conn, COMPONENT, MIGRATIONS)?;
        Ok(())
    }

    /// `owner`'s departure, if recorded.
    pub fn departure(&self, owner: &str) -> Result<Option<Departure>, RetentionError> {
        let conn = self.conn();
        let row = conn
            .query_row(
                "SELECT owner, list, policy, hold, effective, purged_at FROM departures WHERE owner = ?1",
                [owner],
                |r| {
                    Ok(Departure {
                        owner: r.get(0)?,
                        list: r.get(1)?,
                        policy: r.get(2)?,
                        hold: r.get(3)?,
                        effective: r.get(4)?,
                        approvals: Vec::new(),
                        purged_at: r.get(5)?,
                    })
                },
            )
            .optional()?;
        let Some(mut d) = row else {
            return Ok(None);
        };
        let mut stmt = conn.prepare(
            "SELECT admin FROM purge_approvals WHERE owner = ?1 ORDER BY approved_at, admin",
        )?;
        d.approvals = stmt
            .query_map([owner], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(Some(d))
    }

    /// The lists of mailboxes whose owners have left (by now).
    pub fn departed_lists(&self, now: i64) -> Result<Vec<String>, RetentionError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT list FROM departed_mailboxes WHERE effective <= ?1 ORDER BY list")?;
        let rows = stmt.query_map([now], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// `gleaner mailbox depart OWNER --on DAY`: restricts the mailbox to the
/// policy's readers from `day` on, places the hold, archives the mailbox.
pub fn depart(
    ctx: &MailboxContext<'_>,
    owner: &str,
    day: &str,
    policy: &DeparturePolicy,
    writer: &mut Writer,
) -> Result<DepartReport, RetentionError> {
    if ctx.sources.is_empty() {
        return Err(RetentionError::Invalid(format!(
            "no [[source]] has owner = {owner:?}: say which mailbox is theirs"
        )));
    }
    let effective = super::parse_day(day)?;
    let list = crate::extract::mailbox_list(owner);
    if let Some(d) = ctx.retention.departure(owner)? {
        if d.purged_at.is_some() {
            return Err(RetentionError::Invalid(format!(
                "{owner:?}'s mailbox was purged already"
            )));
        }
    }
    ctx.users
        .record_departure(&list, owner, effective, &policy.readers, ctx.actor)
        .map_err(|e| RetentionError::Invalid(e.to_string()))?;
    let hold = hold_name(owner);
    let active = ctx
        .retention
        .holds()?
        .into_iter()
        .any(|h| h.name == hold && h.released_at.is_none());
    if !active {
        ctx.retention.add_hold(
            &hold,
            &format!("list:\"{list}\""),
            &format!(
                "departure of {owner} on {day}: kept {} ({} policy)",
                policy.hold, policy.name
            ),
            ctx.actor,
        )?;
    }
    // Everything the mailbox holds now goes into volumes of its own; it stays
    // live (and held) until the purge.
    let archive_policy = RetentionPolicy {
        name: archive_policy_name(owner),
        lists: vec![list.clone()],
        sources: ctx.sources.clone(),
        query: None,
        age_basis: Default::default(),
        archive_after: None,
        archive_on: Some("1970-01-01".into()),
        remove_from_live: false,
        after_review: None,
    };
    let actx = ArchiveContext {
        index: ctx.index,
        retention: ctx.retention,
        curation: None,
        dir: ctx.archive_dir.clone(),
        volume_size: ctx.volume_size,
        actor: ctx.actor,
        now: ctx.now,
    };
    let archived = archive::run(&actx, &[archive_policy], writer, &mut |_, _| {})?;
    ctx.retention.write(|tx| {
        tx.execute(
            "INSERT INTO departures (owner, list, policy, hold, effective, recorded_at, recorded_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(owner) DO UPDATE SET policy = excluded.policy, hold = excluded.hold,
               effective = excluded.effective, recorded_at = excluded.recorded_at,
               recorded_by = excluded.recorded_by",
            params![owner, list, policy.name, policy.hold, effective, ctx.now, ctx.actor],
        )?;
        crate::audit::append(
            tx,
            ctx.actor,
            "mailbox.depart",
            &format!("mailbox:{owner}"),
            &serde_json::json!({"day": day, "policy": policy.name, "list": list,
                "readers": policy.readers, "hold": policy.hold, "hold_name": hold,
                "archived": archived.archived, "volumes": archived.volumes}),
        )?;
        Ok(())
    })?;
    let departure = ctx
        .retention
        .departure(owner)?
        .ok_or_else(|| RetentionError::Invalid(format!("{owner:?}: departure not recorded")))?;
    Ok(DepartReport {
        departure,
        hold_name: hold,
        archive: archived,
    })
}

/// Records `admin`'s approval of purging `owner`'s mailbox. Refused before
/// the hold ends, for a non-admin, and for an admin who approved already.
/// Returns whether the purge may now run (two different admins approved).
pub fn approve_purge(
    retention: &Retention,
    owner: &str,
    admin: &UserInfo,
    now: i64,
) -> Result<(Departure, bool), RetentionError> {
    let Some(d) = retention.departure(owner)? else {
        return Err(RetentionError::Invalid(format!(
            "{owner:?} has not departed (`gleaner mailbox depart {owner} --on DAY` first)"
        )));
    };
    if d.purged_at.is_some() {
        return Err(RetentionError::Invalid(format!(
            "{owner:?}'s mailbox was purged already"
        )));
    }
    if admin.role != Role::Admin {
        return Err(RetentionError::Invalid(format!(
            "{:?} is not an admin: a purge is approved by two different admins",
            admin.name
        )));
    }
    let (amount, unit) = crate::curate::policy::parse_age(&d.hold)
        .map_err(|e| RetentionError::Invalid(e.to_string()))?;
    if crate::query::plan::age_cutoff(now, amount, unit) < d.effective {
        return Err(RetentionError::Invalid(format!(
            "{owner:?}'s mailbox is held for {} after {}: no purge before the hold ends",
            d.hold,
            day(d.effective)
        )));
    }
    if d.approvals.len() >= APPROVALS_NEEDED {
        // Approved already; a purge cut short runs again.
        return Ok((d, true));
    }
    if d.approvals.contains(&admin.name) {
        return Err(RetentionError::Invalid(format!(
            "{:?} approved this purge already: it needs another admin's approval",
            admin.name
        )));
    }
    retention.write(|tx| {
        tx.execute(
            "INSERT INTO purge_approvals (owner, admin, approved_at) VALUES (?1, ?2, ?3)",
            params![owner, admin.name, now],
        )?;
        crate::audit::append(
            tx,
            &admin.name,
            "mailbox.purge.approve",
            &format!("mailbox:{owner}"),
            &serde_json::json!({"approvals": d.approvals.len() + 1, "needed": APPROVALS_NEEDED}),
        )?;
        Ok(())
    })?;
    let d = retention
        .departure(owner)?
        .ok_or_else(|| RetentionError::Invalid(format!("{owner:?}: departure vanished")))?;
    let ready = d.approvals.len() >= APPROVALS_NEEDED;
    Ok((d, ready))
}

fn day(secs: i64) -> String {
    let s = crate::query::search::rfc3339(secs);
    s.get(..10).unwrap_or(&s).to_string()
}

/// Removes `owner`'s mailbox: its copies' locations from the index, its live
/// files, its departure volumes and their records; releases the hold. Only
/// after [`approve_purge`] said so.
pub fn purge(
    ctx: &MailboxContext<'_>,
    owner: &str,
    writer: &mut Writer,
) -> Result<PurgeReport, RetentionError> {
    let (d, ready) = match ctx.retention.departure(owner)? {
        Some(d) => {
            let ready = d.approvals.len() >= APPROVALS_NEEDED && d.purged_at.is_none();
            (d, ready)
        }
        None => {
            return Err(RetentionError::Invalid(format!(
                "{owner:?} has not departed"
            )))
        }
    };
    if !ready {
        return Err(RetentionError::Invalid(format!(
            "{owner:?}'s purge needs {APPROVALS_NEEDED} admins' approval and must not have run"
        )));
    }
    let mut report = PurgeReport {
        approvals: d.approvals.clone(),
        ..PurgeReport::default()
    };
    let messages = due(
        ctx.index,
        &DueRequest {
            lists: std::slice::from_ref(&d.list),
            filter: None,
            before: None,
            basis: Default::default(),
            now: ctx.now,
            marks: None,
        },
        &crate::query::limits::Budget::job(),
    )?;
    let mut live: BTreeSet<PathBuf> = BTreeSet::new();
    for m in &messages {
        let mut removed = false;
        for (i, uri) in m.locations.iter().enumerate() {
            // Only the mailbox's copies: the same message on a list stays.
            let list = m.location_lists.get(i).unwrap_or(&m.list);
            if !list.eq_ignore_ascii_case(&d.list) {
                continue;
            }
            let Ok(loc) = Location::from_uri(uri) else {
                continue;
            };
            if let Some((path, _)) = loc.live_place() {
                live.insert(path.to_path_buf());
            }
            writer.remove_location(&loc.stable_key())?;
            report.locations += 1;
            removed = true;
        }
        report.messages += u64::from(removed);
    }
    writer.commit()?;
    for source in &ctx.sources {
        live.extend(files_under(source));
    }
    for path in &live {
        // Only files of the mailbox's own sources: a copy elsewhere is not hers.
        if path.is_file() && ctx.sources.iter().any(|s| path.starts_with(s)) {
            std::fs::remove_file(path).map_err(|e| super::archive::store_err(path, e))?;
            report.files += 1;
        }
    }
    let policy = archive_policy_name(owner);
    if ctx.archive_dir.is_dir() {
        for m in volume::list_volumes(&ctx.archive_dir)? {
            if m.policy != policy {
                continue;
            }
            for f in [
                m.mbox_path(&ctx.archive_dir),
                m.manifest_path(&ctx.archive_dir),
            ] {
                if let Ok(meta) = std::fs::metadata(&f) {
                    let mut p = meta.permissions();
                    #[allow(clippy::permissions_set_readonly_false)]
                    p.set_readonly(false);
                    let _ = std::fs::set_permissions(&f, p);
                }
                std::fs::remove_file(&f).map_err(|e| super::archive::store_err(&f, e))?;
            }
            report.volumes.push(m.name);
        }
    }
    let hold = hold_name(owner);
    if ctx
        .retention
        .holds()?
        .iter()
        .any(|h| h.name == hold && h.released_at.is_none())
    {
        ctx.retention.release_hold(&hold, ctx.actor)?;
    }
    ctx.retention.write(|tx| {
        for v in &report.volumes {
            tx.execute("DELETE FROM sealed_copies WHERE volume = ?1", [v])?;
            tx.execute("DELETE FROM archived WHERE volume = ?1", [v])?;
        }
        tx.execute(
            "UPDATE departures SET purged_at = ?2, purged_by = ?3 WHERE owner = ?1",
            params![owner, ctx.now, ctx.actor],
        )?;
        crate::audit::append(
            tx,
            ctx.actor,
            "mailbox.purge",
            &format!("mailbox:{owner}"),
            &serde_json::json!({"approved_by": report.approvals, "messages": report.messages,
                "locations": report.locations, "files": report.files, "volumes": report.volumes}),
        )?;
        Ok(())
    })?;
    report.purged = true;
    Ok(report)
}

/// The mail files of a mailbox source: the source itself when it is a file
/// (an mbox), else every file in a Maildir's `cur`, `new` or `tmp` below it —
/// never anything else a misconfigured path might hold.
fn files_under(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(path) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else if p
                .parent()
                .and_then(Path::file_name)
                .is_some_and(|d| d == "cur" || d == "new" || d == "tmp")
            {
                out.push(p);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(name: &str, owners: &[&str]) -> DeparturePolicy {
        DeparturePolicy {
            name: name.into(),
            owners: owners.iter().map(|o| o.to_string()).collect(),
            readers: vec!["role:admin".into()],
            hold: "7y".into(),
        }
    }

    #[test]
    fn the_policy_naming_an_owner_wins_over_the_catch_all() {
        let all = [policy("legal", &["alice"]), policy("default", &[])];
        assert!(matches!(DeparturePolicy::for_owner(&all, "alice"), Ok(p) if p.name == "legal"));
        assert!(matches!(DeparturePolicy::for_owner(&all, "carol"), Ok(p) if p.name == "default"));
        let named_only = [policy("legal", &["alice"])];
        assert!(DeparturePolicy::for_owner(&named_only, "carol").is_err());
        let twice = [policy("a", &["alice"]), policy("b", &["alice"])];
        assert!(DeparturePolicy::for_owner(&twice, "alice").is_err());
    }

    #[test]
    fn a_policy_needs_readers_known_roles_and_a_hold_period() {
        assert!(policy("p", &[]).validate().is_ok());
        let mut p = policy("p", &[]);
        p.readers = vec!["role:legal".into()];
        assert!(p.validate().is_err());
        p.readers.clear();
        assert!(p.validate().is_err());
        let mut p = policy("p", &[]);
        p.hold = "forever".into();
        assert!(p.validate().is_err());
    }

    #[test]
    fn archive_volumes_are_named_after_the_owner() {
        assert_eq!(archive_policy_name("alice"), "departed-alice");
        assert_eq!(
            archive_policy_name("A.Smith@example.org"),
            "departed-a-smith-example-org"
        );
    }
}
