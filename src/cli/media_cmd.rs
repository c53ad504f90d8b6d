//! `gleaner export-media`: media sets of the archive, and which set holds a message.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use gleaner::config::Config;
use gleaner::retention::media::{Due, Media, MediaOptions};

use super::review_cmd::{actor, curation};

/// The command line of `export-media`.
pub struct Asked {
    pub dest: Option<PathBuf>,
    pub size: Option<String>,
    pub every: Option<String>,
    pub after: Option<String>,
    pub where_: Option<String>,
    pub json: bool,
    pub by: Option<String>,
}

/// `gleaner export-media ...`
pub fn export_media(config: &Config, data: &Path, asked: Asked) -> anyhow::Result<ExitCode> {
    let media = Media::open(data)?;
    let mut out = std::io::stdout().lock();
    if let Some(id) = &asked.where_ {
        let found = media.locate(id)?;
        if asked.json {
            writeln!(out, "{}", serde_json::to_string(&found)?)?;
        }
        if found.is_empty() {
            anyhow::bail!(
                "no sealed volume holds {id:?} (archive it first: `gleaner archive run`)"
            );
        }
        if !asked.json {
            for p in &found {
                match (&p.set, &p.dest) {
                    (Some(set), Some(dest)) => writeln!(out, "{}\t{set}\t{dest}", p.volume)?,
                    _ => writeln!(out, "{}\tnot on any set yet", p.volume)?,
                }
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let dest = asked
        .dest
        .context("give DEST, the directory the sets go to")?;
    let size = asked
        .size
        .context("give --size, the medium's size (4.7G, 25G, 2.5T)")?;
    let due = match (asked.every, asked.after) {
        (Some(every), None) => Due::Every(every),
        (None, Some(after)) => Due::After(gleaner::retention::parse_size(&after)?),
        _ => anyhow::bail!("give --every AGE (like 1y) or --after SIZE (like 20G)"),
    };
    std::fs::create_dir_all(&dest).with_context(|| format!("creating {}", dest.display()))?;
    // The audit log and `--where` name the directory whatever the working directory.
    let dest = std::fs::canonicalize(&dest)?;
    let who = actor(asked.by.as_deref());
    let archive_dir = config.archive.dir_for(data);
    let cur = curation(config, data)?;
    let opts = MediaOptions {
        dest: &dest,
        archive_dir: &archive_dir,
        set_size: gleaner::retention::parse_size(&size)?,
        due,
        actor: &who,
        now: gleaner::db::now(),
    };
    let report = media.export(&opts, Some(&cur))?;
    if asked.json {
        writeln!(out, "{}", serde_json::to_string(&report)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if !report.due {
        writeln!(out, "no set written: {}", report.reason)?;
        return Ok(ExitCode::SUCCESS);
    }
    for s in &report.sets {
        writeln!(
            out,
            "{}: {} volume(s), {} message(s), {} document(s), {} bytes, verified",
            s.path.display(),
            s.volumes.len(),
            s.messages,
            s.documents.len(),
            s.bytes
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
