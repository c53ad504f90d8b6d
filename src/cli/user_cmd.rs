//! `gleaner user add|grant|list|remove|revoke|role|passwd|sessions`: web
//! users, roles, list grants and sessions. Every change is audited.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use gleaner::access::{Role, Users};

use super::UserCommand;

/// Reads a password: the first line of stdin, or prompted twice on a terminal.
fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if from_stdin || !stdin.is_terminal() {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\n', '\r']).to_string());
    }
    let prompt = |label: &str| -> anyhow::Result<String> {
        eprint!("{label}");
        std::io::stderr().flush()?;
        let echo_off = std::process::Command::new("stty")
            .arg("-echo")
            .stdin(std::process::Stdio::inherit())
            .status()
            .is_ok_and(|s| s.success());
        let mut line = String::new();
        let read = stdin.lock().read_line(&mut line);
        if echo_off {
            let _ = std::process::Command::new("stty")
                .arg("echo")
                .stdin(std::process::Stdio::inherit())
                .status();
            eprintln!();
        }
        read?;
        Ok(line.trim_end_matches(['\n', '\r']).to_string())
    };
    let first = prompt("Password: ")?;
    let second = prompt("Again: ")?;
    anyhow::ensure!(first == second, "the passwords differ");
    Ok(first)
}

/// The list ids `names` stand for in the index (as `list:` reads a name);
/// names no indexed list matches are kept as written, each with a warning.
fn resolve_lists(data: &Path, names: &[String]) -> anyhow::Result<Vec<String>> {
    let indexed = match gleaner::index::MailIndex::open(&data.join("index"), false) {
        Ok(index) => gleaner::query::lists::indexed_lists(&index)?,
        Err(_) => Vec::new(),
    };
    let resolved = gleaner::query::lists::resolve_against(names, &indexed)?;
    for name in &resolved.unknown {
        eprintln!(
            "warning: no indexed list is named {name:?}; granted as written (it takes effect \
             when mail of a list with exactly that id is indexed)"
        );
    }
    Ok(resolved.lists)
}

/// Runs a `user` subcommand.
pub fn user(data: &Path, command: UserCommand) -> anyhow::Result<ExitCode> {
    let users = Users::open(data).context("opening the user database")?;
    let mut out = std::io::stdout().lock();
    match command {
        UserCommand::SetEmail { .. } | UserCommand::CalendarToken { .. } => {
            anyhow::bail!("handled by the review rounds' commands")
        }
        UserCommand::Add {
            name,
            role,
            password_stdin,
        } => {
            let role: Role = role.parse()?;
            let password = read_password(password_stdin)?;
            users.add_user(&name, role, &password)?;
            writeln!(out, "added {name} ({role})")?;
        }
        UserCommand::Grant { name, lists } => {
            let lists = resolve_lists(data, &lists)?;
            users.grant(&name, &lists)?;
            let user = users.user(&name)?;
            let lists = user.map(|u| u.lists.join(", ")).unwrap_or_default();
            writeln!(out, "{name} may see: {lists}")?;
        }
        UserCommand::List { json } => {
            for u in users.list()? {
                if json {
                    writeln!(out, "{}", serde_json::to_string(&u)?)?;
                } else {
                    let lists = if u.role == Role::Admin {
                        "(all lists)".to_string()
                    } else if u.lists.is_empty() {
                        "(no lists)".to_string()
                    } else {
                        u.lists.join(", ")
                    };
                    writeln!(out, "{:<20} {:<9} {lists}", u.name, u.role.as_str())?;
                }
            }
        }
        UserCommand::Remove { name } => {
            users.remove_user(&name)?;
            writeln!(out, "removed {name}")?;
        }
        UserCommand::Revoke { name, lists } => {
            users.revoke(&name, &lists)?;
            let user = users.user(&name)?;
            let lists = user.map(|u| u.lists.join(", ")).unwrap_or_default();
            writeln!(out, "{name} may see: {lists}")?;
        }
        UserCommand::Role { name, role } => {
            let role: Role = role.parse()?;
            users.set_role(&name, role)?;
            writeln!(out, "{name} is now {role}; their sessions ended")?;
        }
        UserCommand::Passwd {
            name,
            password_stdin,
        } => {
            anyhow::ensure!(users.user(&name)?.is_some(), "no user named {name:?}");
            let password = read_password(password_stdin)?;
            users.set_password(&name, &password)?;
            writeln!(out, "changed the password of {name}; their sessions ended")?;
        }
        UserCommand::Sessions {
            name,
            end,
            end_all,
            json,
        } => {
            if end.is_some() || end_all {
                let n = users.end_sessions("cli", &name, end.as_deref())?;
                writeln!(out, "ended {n} session(s) of {name}")?;
            } else {
                for s in users.sessions_of(&name)? {
                    if json {
                        writeln!(out, "{}", serde_json::to_string(&s)?)?;
                    } else {
                        writeln!(
                            out,
                            "{}  created {}  expires {}",
                            s.id,
                            gleaner::query::search::rfc3339(s.created),
                            gleaner::query::search::rfc3339(s.expires)
                        )?;
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
