//! `gleaner doc list|show|export|new|cite`. The CLI is the operator on the
//! server: it sees every citation (no [`gleaner::curate::redact::Reader`]).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use gleaner::config::Config;
use gleaner::curate::{DocKind, NewCitation};

use super::review_cmd::{actor, curation};
use super::search_cmd::{open, rfc3339};
use super::DocCommand;

/// `gleaner doc ...`
pub fn doc(config: &Config, data: &Path, command: DocCommand) -> anyhow::Result<ExitCode> {
    let c = curation(config, data)?;
    match command {
        DocCommand::List { json } => {
            for d in c.documents()? {
                if json {
                    writeln!(std::io::stdout(), "{}", serde_json::to_string(&d)?)?;
                } else {
                    writeln!(
                        std::io::stdout(),
                        "{:>4}  {:<10} {:<10} r{:<3} {}  {}  ({})",
                        d.id,
                        d.kind.as_str(),
                        d.status.as_str(),
                        d.revision,
                        rfc3339(d.updated).get(..10).unwrap_or(""),
                        d.title,
                        d.slug
                    )?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        DocCommand::Show { id, json } => {
            let d = c.document(&id)?;
            if json {
                let citations = c.citations(&id)?;
                writeln!(
                    std::io::stdout(),
                    "{}",
                    serde_json::json!({"document": d, "citations": citations})
                )?;
            } else {
                print!("{}", c.export_markdown(&id, None)?);
            }
            Ok(ExitCode::SUCCESS)
        }
        DocCommand::Export {
            id,
            format,
            all,
            out,
        } => {
            let bytes = if all {
                let (tar, n) = c.export_published(None)?;
                eprintln!("{n} published document(s)");
                tar
            } else {
                let id = id.context("name a document (number or slug), or use --all")?;
                match format.as_str() {
                    "md" | "markdown" => c.export_markdown(&id, None)?.into_bytes(),
                    "html" => c.export_html(&id, None)?.into_bytes(),
                    other => anyhow::bail!("unknown format {other:?} (use md or html)"),
                }
            };
            match out {
                Some(path) => std::fs::write(&path, &bytes)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => std::io::stdout().lock().write_all(&bytes)?,
            }
            Ok(ExitCode::SUCCESS)
        }
        DocCommand::New {
            kind,
            title,
            owner,
            by,
        } => {
            let kind: DocKind = kind.parse()?;
            let who = actor(by.as_deref());
            let d = c.create_document(kind, &title, owner.as_deref().unwrap_or(&who), "", &who)?;
            writeln!(std::io::stdout(), "{}", d.id)?;
            eprintln!("created {} {} ({})", d.kind.as_str(), d.id, d.slug);
            Ok(ExitCode::SUCCESS)
        }
        DocCommand::Cite {
            id,
            message_id,
            passage,
            by,
        } => {
            let index = open(data)?;
            let m = gleaner::query::find_message(&index, &message_id)?
                .with_context(|| format!("no message {message_id:?} in the index"))?;
            let text = gleaner::query::text::full_text(&m);
            let new = NewCitation::from_message(&m, passage.as_deref(), text.as_deref())?;
            let (d, cit) = c.cite(&id, &new, &actor(by.as_deref()))?;
            eprintln!(
                "cited <{}> in document {} as [^c{}] (revision {})",
                m.message_id, d.id, cit.id, d.revision
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
