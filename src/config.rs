//! gleaner's configuration: one TOML file (`gleaner.toml`), one section per
//! subsystem, every setting with a default so `gleaner demo` needs no file.
//!
//! Precedence is TOML < environment (`GLEANER_DATA`) < command-line flags; this
//! module only parses and merges, the CLI reads the environment and flags and
//! applies them with [`Config::override_data`] and friends. No runtime here.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for gleaner.
    #[error("bad config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong (with line and column).
        message: String,
    },
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Data directory: `index/`, `gleaner.db`.
    pub data: PathBuf,
    /// The HTTP server.
    pub http: HttpConfig,
    /// Mail stores to index (`[[source]]` tables).
    #[serde(rename = "source")]
    pub sources: Vec<SourceConfig>,
    /// `[solr]`: answer Dovecot's full-text searches (off when absent).
    pub solr: Option<SolrSection>,
    /// Review policies (`[[review]]` tables).
    pub review: Vec<ReviewPolicy>,
    /// Retention policies (`[[retention]]` tables).
    pub retention: Vec<RetentionPolicy>,
    /// `[archive]`: where sealed volumes go and their size.
    pub archive: ArchiveSection,
    /// `[backup]`: destination and schedule of backups.
    pub backup: BackupSection,
    /// `[limits]`: what one search may cost (see docs/SECURITY.md).
    pub limits: crate::query::limits::Limits,
    /// `[mcp]`: the MCP server for assistants (docs/MCP.md).
    pub mcp: McpSection,
    /// `[imap]`: the read-only IMAP server (docs/IMAP.md; off when absent).
    pub imap: Option<ImapSection>,
    /// Review rounds on a schedule (`[[round]]` tables, see docs/OPERATIONS.md).
    pub round: Vec<crate::curate::round_schedule::RoundSchedule>,
    /// `[mail]`: the SMTP relay for the weekly review digest (off when absent).
    pub mail: Option<crate::smtp::MailSection>,
    /// What happens to a person's mailbox when they leave (`[[departure]]` tables).
    #[serde(rename = "departure")]
    pub departures: Vec<crate::retention::departure::DeparturePolicy>,
    /// `[replica]`: standbys may pull from this server (off when absent).
    pub replica: Option<crate::replica::ReplicaSection>,
    /// `[standby]`: follow a primary instead of indexing (also `serve --standby`).
    pub standby: Option<crate::replica::StandbySection>,
}

/// `[imap]`: the read-only IMAP server over the archive.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ImapSection {
    /// Listen address, e.g. "127.0.0.1:1143" (port 0: any free port, printed).
    pub listen: SocketAddr,
    /// Saved searches shown as mailboxes (`[[imap.folder]] name, query`).
    #[serde(default)]
    pub folder: Vec<crate::imap::Folder>,
    /// Implicit TLS (the imaps port, e.g. "0.0.0.0:993"); needs `cert` and `key`.
    #[serde(default)]
    pub listen_tls: Option<SocketAddr>,
    /// PEM certificate chain (leaf first): STARTTLS on `listen`, and `listen_tls`.
    #[serde(default)]
    pub cert: Option<PathBuf>,
    /// PEM private key of `cert`.
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// Who may log in without TLS: "loopback" (default) or "never".
    #[serde(default)]
    pub plain_login: crate::imap::PlainLogin,
}

impl ImapSection {
    /// The certificate and key, when both are given; an error when only one
    /// is, or `listen_tls` has neither.
    pub fn tls_files(&self) -> Result<Option<(&Path, &Path)>, String> {
        match (&self.cert, &self.key) {
            (Some(c), Some(k)) => Ok(Some((c, k))),
            (None, None) if self.listen_tls.is_some() => {
                Err("[imap] listen_tls needs cert and key".into())
            }
            (None, None) => Ok(None),
            _ => Err("[imap] cert and key go together".into()),
        }
    }
}

/// `[mcp]`: the MCP server (`/mcp` on `serve`, and `gleaner mcp` on stdio).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct McpSection {
    /// Serve Streamable HTTP at `/mcp` on `serve` (default true; it answers
    /// only requests with a valid API token).
    pub http: bool,
    /// Tool calls and resource reads per minute per token (or stdio user),
    /// on average (default 120; 0: no limit).
    pub rate_per_minute: u32,
    /// ... and at once (default 30).
    pub rate_burst: u32,
}

impl Default for McpSection {
    fn default() -> Self {
        McpSection {
            http: true,
            rate_per_minute: crate::mcp::DEFAULT_RATE_PER_MINUTE,
            rate_burst: crate::mcp::DEFAULT_RATE_BURST,
        }
    }
}

pub use crate::retention::{ArchiveSection, BackupSection, RetentionPolicy};

pub use crate::curate::ReviewPolicy;

/// `[solr]`: the Solr-compatible endpoint for Dovecot's `fts_solr` plugin.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SolrSection {
    /// Listen address, e.g. "127.0.0.1:8983".
    pub listen: SocketAddr,
    /// HTTP Basic auth user (required on a non-loopback address).
    #[serde(default)]
    pub user: Option<String>,
    /// HTTP Basic auth password.
    #[serde(default)]
    pub password: Option<String>,
    /// Only this core name is served (default: any).
    #[serde(default)]
    pub core: Option<String>,
    /// Serve without credentials (loopback only; any local process can then
    /// change every user's IMAP index). Default false: credentials required.
    #[serde(default)]
    pub allow_no_auth: bool,
    /// Largest update body in bytes (default 256 MiB).
    #[serde(default)]
    pub max_body_bytes: Option<u64>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data: PathBuf::from("gleaner-data"),
            http: HttpConfig::default(),
            sources: Vec::new(),
            solr: None,
            review: Vec::new(),
            retention: Vec::new(),
            archive: ArchiveSection::default(),
            backup: BackupSection::default(),
            limits: crate::query::limits::Limits::default(),
            mcp: McpSection::default(),
            imap: None,
            round: Vec::new(),
            mail: None,
            departures: Vec::new(),
            replica: None,
            standby: None,
        }
    }
}

/// `[http]`: where the API and web UI listen, and whether they need a login.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Listen address.
    pub listen: SocketAddr,
    /// Require a login (default). May be false only on a loopback address.
    pub auth: bool,
    /// The URL people reach gleaner at, for permalinks in exported documents
    /// (default: `http://<listen>`).
    pub public_url: Option<String>,
    /// Whole `/api/search` answers kept for repeated queries (default 256; 0 turns the
    /// cache off). An answer is reused only for the same index commit, viewer grants and
    /// minute.
    pub search_cache: usize,
    /// Mark session cookies `Secure` (set when users reach gleaner over HTTPS,
    /// e.g. behind a TLS-terminating reverse proxy).
    pub secure_cookies: bool,
    /// Trust `X-Forwarded-For` (client address for login back-off) and
    /// `X-Forwarded-Proto: https` (`Secure` cookies) — only behind a reverse
    /// proxy that sets them, listening where nothing else can connect.
    pub trust_proxy_headers: bool,
    /// Password hashes computed at once (each takes ~19 MiB; default 0: one per core).
    pub login_concurrency: usize,
    /// Who may read `/metrics`: `"admin"` (default: admin sessions and
    /// loopback clients) or `"public"` (see docs/SECURITY.md).
    pub metrics: crate::metrics::MetricsAccess,
}

impl HttpConfig {
    /// The base of permalinks.
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            auth: true,
            public_url: None,
            search_cache: crate::http::cache::DEFAULT_ENTRIES,
            secure_cookies: false,
            trust_proxy_headers: false,
            login_concurrency: 0,
            metrics: crate::metrics::MetricsAccess::Admin,
        }
    }
}

pub use crate::store::SourceKind;

/// `[[source]]`: one mail store to index and tail.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// What it is.
    pub kind: SourceKind,
    /// Where it is.
    pub path: PathBuf,
    /// List name for messages without a List-Id header.
    #[serde(default)]
    pub list: Option<String>,
    /// The user whose personal mailbox this is (`owner = "alice"`): its mail
    /// is filed under the list `alice.mailbox.invalid` (grant it to whoever
    /// may read it) and `gleaner mailbox depart` applies a `[[departure]]`
    /// policy to it.
    #[serde(default)]
    pub owner: Option<String>,
    /// Glob patterns of files to include (default: all).
    #[serde(default)]
    pub include: Vec<String>,
    /// Glob patterns of files to skip.
    #[serde(default)]
    pub exclude: Vec<String>,
}

impl Config {
    /// Parses TOML text; `path` is only used in error messages. Relative paths
    /// in the file are taken relative to the file's directory.
    pub fn from_toml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if let Some(base) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if config.data.is_relative() {
                config.data = base.join(&config.data);
            }
            for s in &mut config.sources {
                if s.path.is_relative() {
                    s.path = base.join(&s.path);
                }
            }
            for r in &mut config.retention {
                for s in &mut r.sources {
                    if s.is_relative() {
                        *s = base.join(&*s);
                    }
                }
            }
            if let Some(s) = &mut config.standby {
                if s.token_file.is_relative() {
                    s.token_file = base.join(&s.token_file);
                }
            }
            let imap_files = config
                .imap
                .as_mut()
                .map(|i| [&mut i.cert, &mut i.key])
                .into_iter()
                .flatten();
            for d in [&mut config.archive.dir, &mut config.backup.dest]
                .into_iter()
                .chain(imap_files)
                .flatten()
            {
                if d.is_relative() {
                    *d = base.join(&*d);
                }
            }
        }
        for p in &config.retention {
            p.validate().map_err(|e| ConfigError::Parse {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        }
        crate::retention::parse_size(&config.archive.volume_size).map_err(|e| {
            ConfigError::Parse {
                path: path.to_path_buf(),
                message: format!("[archive] volume_size: {e}"),
            }
        })?;
        for p in &config.departures {
            p.validate().map_err(|e| ConfigError::Parse {
                path: path.to_path_buf(),
                message: format!("[[departure]] {:?}: {e}", p.name),
            })?;
        }
        for p in &config.review {
            p.validate().map_err(|e| ConfigError::Parse {
                path: path.to_path_buf(),
                message: format!("[[review]] {:?}: {e}", p.name),
            })?;
        }
        for r in &config.round {
            r.validate().map_err(|e| ConfigError::Parse {
                path: path.to_path_buf(),
                message: format!("[[round]] {:?}: {e}", r.policy),
            })?;
        }
        if let Some(imap) = &config.imap {
            imap.tls_files().map_err(|message| ConfigError::Parse {
                path: path.to_path_buf(),
                message,
            })?;
        }
        Ok(config)
    }

    /// Reads `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::from_toml(&text, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_all_defaults() {
        let c = Config::from_toml("", Path::new("gleaner.toml")).expect("parses");
        assert_eq!(c, Config::default());
        assert!(c.http.auth);
        assert_eq!(c.http.listen.to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn full_file_parses_with_relative_paths_resolved() {
        let text = r#"
            data = "state"
            [http]
            listen = "0.0.0.0:9000"
            auth = false
            [[source]]
            kind = "maildir"
            path = "mail/ops"
            list = "ops.lists.example.org"
            exclude = ["*.tmp"]
        "#;
        let c = Config::from_toml(text, Path::new("/etc/gleaner/gleaner.toml")).expect("parses");
        assert_eq!(c.data, PathBuf::from("/etc/gleaner/state"));
        assert_eq!(c.http.listen.port(), 9000);
        assert!(!c.http.auth);
        assert_eq!(c.sources.len(), 1);
        assert_eq!(c.sources[0].kind, SourceKind::Maildir);
        assert_eq!(c.sources[0].path, PathBuf::from("/etc/gleaner/mail/ops"));
        assert_eq!(c.sources[0].exclude, vec!["*.tmp".to_string()]);
    }

    #[test]
    fn the_documented_example_parses() {
        let text = include_str!("../docs/gleaner.toml.example");
        let c = Config::from_toml(text, Path::new("gleaner.toml")).expect("example parses");
        assert!(c.http.auth);
        assert_eq!(c.sources.len(), 2);
        assert_eq!(c.sources[1].kind, SourceKind::Mbox);
    }

    #[test]
    fn metrics_access_is_admin_unless_public() {
        let read = |t: &str| Config::from_toml(t, Path::new("g.toml")).map(|c| c.http.metrics);
        use crate::metrics::MetricsAccess;
        assert_eq!(read("").ok(), Some(MetricsAccess::Admin));
        let public = read("[http]\nmetrics = \"public\"").ok();
        assert_eq!(public, Some(MetricsAccess::Public));
        assert!(read("[http]\nmetrics = \"everyone\"").is_err());
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = Config::from_toml("[http]\nlisen = \"x\"", Path::new("g.toml"));
        assert!(matches!(err, Err(ConfigError::Parse { .. })));
    }

    #[test]
    fn imap_tls_needs_cert_and_key_together() {
        let imap = |extra: &str| {
            Config::from_toml(
                &format!("[imap]\nlisten = \"127.0.0.1:0\"\n{extra}"),
                Path::new("/etc/gleaner/g.toml"),
            )
        };
        let ok = imap("listen_tls = \"127.0.0.1:0\"\ncert = \"c.pem\"\nkey = \"k.pem\"\nplain_login = \"never\"")
            .expect("config");
        let section = ok.imap.expect("imap");
        assert_eq!(
            section.cert.as_deref(),
            Some(Path::new("/etc/gleaner/c.pem"))
        );
        assert_eq!(section.plain_login, crate::imap::PlainLogin::Never);
        for bad in [
            "listen_tls = \"127.0.0.1:0\"",
            "cert = \"c.pem\"",
            "key = \"k.pem\"",
            "plain_login = \"always\"",
        ] {
            assert!(imap(bad).is_err(), "{bad}");
        }
    }
}
