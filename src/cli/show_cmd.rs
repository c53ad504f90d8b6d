//! `gleaner show`: one message, decoded or raw.

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

/// `gleaner show [--raw] ID`
pub fn show(data: &Path, id: &str, raw: bool, as_json: bool) -> anyhow::Result<ExitCode> {
    let index = open(data)?;
    let found = query::find_message(&index, id)?;
    let (list, thread) = found
        .as_ref()
        .map(|s| (s.list.clone(), s.thread_id.clone()))
        .unwrap_or_default();
    let locations = match found {
        Some(stored) => stored.locations,
        // Archived mail whose volume is not indexed (yet) is still shown.
        None => match gleaner::retention::Retention::open(data)?.archived(id)? {
            Some((_, location)) => vec![location],
            None => {
                eprintln!("gleaner: no message with id {id}");
                return Ok(ExitCode::from(1));
            }
        },
    };
    let bytes = read_any(&locations)?;
    let mut out = std::io::stdout().lock();
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
