//! `gleaner mcp` (the MCP server over stdio) and `gleaner token
//! create|list|revoke` (the API tokens assistants use, over stdio or HTTP).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use gleaner::access::Users;
use gleaner::config::Config;
use gleaner::curate::Curation;
use gleaner::index::MailIndex;
use gleaner::mcp::{Credential, Mcp};

use super::review_cmd::actor;
use super::TokenCommand;

/// Opens what the MCP server needs from the data directory.
pub fn open(config: &Config, data: &Path) -> anyhow::Result<Mcp> {
    let mut index = MailIndex::open(&data.join("index"), false).with_context(|| {
        format!(
            "opening the index in {} (run `gleaner index` first)",
            data.display()
        )
    })?;
    index.set_search_threads(config.limits.search_threads)?;
    let users = Users::open(data)?;
    let curation = Curation::open(data, &config.http.public_url())?;
    curation.sync_config_policies(&config.review)?;
    let retention = gleaner::retention::Retention::open(data)?;
    Ok(Mcp::new(index, users)
        .with_curation(curation)
        .with_retention(retention)
        .with_rate(config.mcp.rate_per_minute, config.mcp.rate_burst))
}

/// Serves MCP on stdin/stdout as `user` or the token's user.
pub fn mcp(
    config: &Config,
    data: &Path,
    user: Option<String>,
    token: Option<String>,
) -> anyhow::Result<ExitCode> {
    let credential = match (user, token) {
        (Some(_), Some(_)) => anyhow::bail!("give --user or a token (GLEANER_TOKEN), not both"),
        (Some(u), None) => Credential::User(u),
        (None, Some(t)) => Credential::Token(t),
        (None, None) => anyhow::bail!(
            "say who the assistant acts as: --user NAME, or an API token in GLEANER_TOKEN \
             (gleaner token create NAME --user USER)"
        ),
    };
    let server = open(config, data)?;
    // Refuse at once rather than answer every call with an error.
    let who = server.caller(&credential)?;
    eprintln!(
        "gleaner: MCP on stdio as {} ({}{})",
        who.user,
        who.role,
        if who.read_only { ", read-only" } else { "" }
    );
    gleaner::mcp::stdio::serve(
        &server,
        &credential,
        std::io::stdin().lock(),
        std::io::stdout().lock(),
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `gleaner token …`
pub fn token(data: &Path, command: TokenCommand) -> anyhow::Result<ExitCode> {
    let users = Users::open(data)?;
    match command {
        TokenCommand::Create {
            name,
            user,
            read_only,
            replication,
            by,
        } => {
            let t = if replication {
                users.create_replication_token(&actor(by.as_deref()), &name, &user)?
            } else {
                users.create_token(&actor(by.as_deref()), &name, &user, read_only)?
            };
            eprintln!(
                "gleaner: token {:?} for {user}{} created; it is shown this once, keep it secret:",
                t.name,
                match (replication, read_only) {
                    (true, _) => " (replication only)",
                    (false, true) => " (read-only)",
                    (false, false) => "",
                }
            );
            println!("{}", t.secret);
        }
        TokenCommand::List { json } => {
            for t in users.tokens()? {
                if json {
                    println!("{}", serde_json::to_string(&t)?);
                } else {
                    let last = t
                        .last_used
                        .map_or("never".to_string(), gleaner::query::search::rfc3339);
                    println!(
                        "{}\t{}\t{}\tcreated {} by {}\tlast used {last}",
                        t.name,
                        t.user,
                        match (t.replication, t.read_only) {
                            (true, _) => "replication",
                            (false, true) => "read-only",
                            (false, false) => "read-write",
                        },
                        gleaner::query::search::rfc3339(t.created),
                        t.created_by
                    );
                }
            }
        }
        TokenCommand::Revoke { name, by } => {
            users.revoke_token(&actor(by.as_deref()), &name)?;
            eprintln!("gleaner: token {name:?} revoked");
        }
    }
    Ok(ExitCode::SUCCESS)
}
