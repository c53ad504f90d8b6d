//! `gleaner show`: one message, decoded or raw; any one of its copies, or the
//! list of them.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use gleaner::extract::{self, ExtractContext};
use gleaner::index::doc::display_address;
use gleaner::query;
use gleaner::store;

use super::search_cmd::{open, rfc3339};

/// Reads the first readable location of a message.
fn read_any(locations: &[String]) -> anyhow::Result<Vec<u8>> {
    anyhow::ensure!(
        !locations.is_empty(),
        "the message has no recorded location"
    );
    store::read_first(locations)
        .context("the message is in the index but its mail file cannot be read")
}

fn stable(uri: &str) -> String {
    store::Location::from_uri(uri).map_or_else(|_| uri.to_string(), |l| l.stable_key())
}

/// Which copy of a message `show` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The first one that can be read.
    FirstReadable,
    /// Copy N (1-based, in the order `List` prints).
    Copy(usize),
    /// None: list them all.
    List,
}

/// The sealed copies recorded for a message (by key or Message-ID), if the
/// data directory has a database.
fn sealed_locations(data: &Path, id: &str) -> anyhow::Result<Vec<String>> {
    if !data.join("gleaner.db").exists() {
        return Ok(Vec::new());
    }
    let sealed = gleaner::retention::Retention::open(data)?.sealed_copies(id)?;
    Ok(sealed.into_iter().map(|c| c.location).collect())
}

/// Prints each copy: number, SHA-256 and size of its bytes, location.
fn list_copies(out: &mut impl Write, locations: &[String], as_json: bool) -> anyhow::Result<()> {
    for (i, loc) in locations.iter().enumerate() {
        let read = store::Location::from_uri(loc).and_then(|l| store::read_location(&l));
        let (sha, size, error) = match &read {
            Ok(bytes) => (
                Some(gleaner::retention::copies::sha256(bytes)),
                Some(bytes.len()),
                None,
            ),
            Err(e) => (None, None, Some(e.to_string())),
        };
        if as_json {
            let v = serde_json::json!({"copy": i + 1, "location": loc, "sha256": sha, "size": size, "error": error});
            writeln!(out, "{v}")?;
        } else {
            let sha = sha.unwrap_or_else(|| format!("unreadable: {}", error.unwrap_or_default()));
            let size = size.map(|s| s.to_string()).unwrap_or_else(|| "-".into());
            writeln!(out, "{}\t{sha}\t{size}\t{loc}", i + 1)?;
        }
    }
    Ok(())
}

/// `gleaner show [--raw] [--copy N | --all-copies] ID`
pub fn show(
    data: &Path,
    id: &str,
    raw: bool,
    as_json: bool,
    which: Which,
) -> anyhow::Result<ExitCode> {
    let index = open(data)?;
    let found = query::find_message(&index, id)?;
    let (list, thread) = found
        .as_ref()
        .map(|s| (s.list.clone(), s.thread_id.clone()))
        .unwrap_or_default();
    let key = found.as_ref().map_or(id, |s| s.key.as_str());
    // Sealed copies whose volume is not indexed (yet) are still shown.
    let mut locations = sealed_locations(data, key)?;
    if let Some(stored) = &found {
        let indexed: Vec<String> = stored.locations.iter().map(|l| stable(l)).collect();
        locations.retain(|l| !indexed.contains(&stable(l)));
        locations.splice(0..0, stored.locations.iter().cloned());
    }
    if locations.is_empty() {
        eprintln!("gleaner: no message with id {id}");
        return Ok(ExitCode::from(1));
    }
    let mut out = std::io::stdout().lock();
    let bytes = match which {
        Which::List => {
            list_copies(&mut out, &locations, as_json)?;
            return Ok(ExitCode::SUCCESS);
        }
        Which::FirstReadable => read_any(&locations)?,
        Which::Copy(n) => {
            let loc = n
                .checked_sub(1)
                .and_then(|i| locations.get(i))
                .with_context(|| {
                    format!(
                        "the message has {} copies; give --copy 1 to {0}",
                        locations.len()
                    )
                })?;
            let loc = store::Location::from_uri(loc)?;
            store::read_location(&loc).with_context(|| format!("reading copy {n} at {loc}"))?
        }
    };
    if raw {
        out.write_all(&bytes)?;
        return Ok(ExitCode::SUCCESS);
    }
    let ctx = ExtractContext {
        list: None,
        envelope: None,
        pipermail: store::pipermail::is_archive_uri(&locations),
    };
    let doc = extract::extract(&bytes, &ctx).context("decoding the message")?;
    if as_json {
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let addrs =
        |v: &[extract::Address]| v.iter().map(display_address).collect::<Vec<_>>().join(", ");
    writeln!(
        out,
        "Message-ID: {}",
        doc.message_id.as_deref().unwrap_or("(none)")
    )?;
    writeln!(
        out,
        "Date:       {}",
        doc.date.map(rfc3339).unwrap_or_default()
    )?;
    writeln!(out, "From:       {}", addrs(doc.authors()))?;
    if doc.author.is_some() {
        writeln!(out, "Sent as:    {}", addrs(&doc.from))?;
    }
    writeln!(out, "To:         {}", addrs(&doc.to))?;
    if !doc.cc.is_empty() {
        writeln!(out, "Cc:         {}", addrs(&doc.cc))?;
    }
    writeln!(out, "Subject:    {}", doc.subject)?;
    writeln!(out, "List:       {list}")?;
    writeln!(out, "Thread:     {thread}")?;
    for loc in &locations {
        writeln!(out, "Location:   {loc}")?;
    }
    for a in &doc.attachments {
        writeln!(
            out,
            "Attachment: {} ({}, {} bytes)",
            a.filename.as_deref().unwrap_or("(unnamed)"),
            a.mime,
            a.size
        )?;
    }
    writeln!(out)?;
    writeln!(out, "{}", doc.body.trim_end())?;
    if !doc.quoted.trim().is_empty() {
        writeln!(out)?;
        for line in doc.quoted.lines() {
            writeln!(out, "> {line}")?;
        }
    }
    if !doc.footer.trim().is_empty() {
        writeln!(out, "\n-- \n{}", doc.footer.trim_end())?;
    }
    Ok(ExitCode::SUCCESS)
}
