//! `gleaner promote`, `serve --standby`'s settings, and the refusal of
//! writing commands on a standby's data directory.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::bail;
use gleaner::config::Config;
use gleaner::replica::{self, StandbySection};

use super::{
    ArchiveCommand, Command, DocCommand, HoldCommand, MailboxCommand, ReviewCommand, RoundCommand,
    TokenCommand, UserCommand,
};

/// Applies `serve --standby --primary URL --token-file F --interval S` over `[standby]`.
pub fn standby_config(
    config: &mut Config,
    primary: Option<String>,
    token_file: Option<PathBuf>,
    interval: Option<f64>,
) -> anyhow::Result<()> {
    let section = config.standby.take();
    let primary = primary.or_else(|| section.as_ref().map(|s| s.primary.clone()));
    let token_file = token_file.or_else(|| section.as_ref().map(|s| s.token_file.clone()));
    let (Some(primary), Some(token_file)) = (primary, token_file) else {
        bail!("a standby needs --primary URL and --token-file FILE (or a [standby] section)");
    };
    let interval_secs = interval
        .or_else(|| section.as_ref().map(|s| s.interval_secs))
        .unwrap_or(replica::settings::DEFAULT_INTERVAL_SECS);
    if !(interval_secs > 0.0 && interval_secs <= 3600.0) {
        bail!("--interval must be between 0 and 3600 seconds");
    }
    config.standby = Some(StandbySection {
        primary,
        token_file,
        interval_secs,
    });
    Ok(())
}

/// `gleaner promote`
pub fn promote(data: &Path, force: bool, by: Option<&str>) -> anyhow::Result<ExitCode> {
    let report = replica::promote(data, force, &super::review_cmd::actor(by))?;
    println!(
        "gleaner: promoted {} (was a standby of {}{}); audit entry {}",
        data.display(),
        report.old_primary,
        if report.old_primary_answered {
            ", which still answered: keep it from taking writes"
        } else {
            ""
        },
        report.audit_seq
    );
    println!("gleaner: a running `serve --standby` takes writes now; restart it without --standby to index mail");
    Ok(ExitCode::SUCCESS)
}

/// Refuses commands that would change a standby's data directory: what they
/// wrote would be overwritten by the next database the primary ships.
pub fn refuse_writes_on_standby(data: &Path, command: &Command) -> anyhow::Result<()> {
    if !replica::is_standby(data) || !writes(command) {
        return Ok(());
    }
    let primary = replica::standby_primary(data).unwrap_or_else(|| "its primary".into());
    bail!(
        "{} is a read-only standby of {primary}: make changes on the primary, or promote this standby first (`gleaner promote`)",
        data.display()
    )
}

fn writes(command: &Command) -> bool {
    match command {
        Command::Index { .. } | Command::Rebuild { .. } | Command::Restore { .. } => true,
        Command::Mcp { .. } => true,
        Command::Serve { standby, .. } => !standby,
        Command::Review { command } => match command {
            ReviewCommand::Decide { .. } | ReviewCommand::Undo { .. } => true,
            ReviewCommand::Round { command } => !matches!(command, RoundCommand::List { .. }),
            ReviewCommand::Digest { send, .. } => *send,
            _ => false,
        },
        Command::Mailbox { command } => !matches!(command, MailboxCommand::Show { .. }),
        Command::ExportMedia { where_, .. } => where_.is_none(),
        Command::Doc { command } => {
            matches!(command, DocCommand::New { .. } | DocCommand::Cite { .. })
        }
        Command::Archive { command } => {
            matches!(
                command,
                ArchiveCommand::Run { dry_run: false, .. } | ArchiveCommand::Attach { .. }
            )
        }
        Command::Hold { command } => !matches!(command, HoldCommand::List { .. }),
        Command::Token { command } => !matches!(command, TokenCommand::List { .. }),
        Command::User { command } => match command {
            UserCommand::List { .. } => false,
            UserCommand::Sessions { end, end_all, .. } => end.is_some() || *end_all,
            _ => true,
        },
        _ => false,
    }
}
