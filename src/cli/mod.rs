//! Command-line arguments and the dispatch to each command.

mod doc_cmd;
mod index_cmd;
mod layout;
mod mailbox_cmd;
mod mcp_cmd;
mod media_cmd;
mod replica_cmd;
mod retention_cmd;
mod review_cmd;
mod round_cmd;
mod search_cmd;
mod serve_cmd;
mod show_cmd;
mod user_cmd;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// gleaner makes years of mailing-list mail searchable in milliseconds.
///
/// Start with `gleaner demo`, or index your own archive:
///   gleaner index ~/Maildir /srv/lists/dev.mbox.gz
///   gleaner search 'from:smith subject:outage after:2019'
#[derive(Parser, Debug)]
#[command(name = "gleaner", version, about, long_about)]
pub struct Args {
    /// Data directory (index and state). Default: the config file's `data`, else ./gleaner-data
    #[arg(long, global = true, env = "GLEANER_DATA")]
    pub data: Option<PathBuf>,
    /// Configuration file (TOML; see docs/gleaner.toml.example). Default: none.
    #[arg(long, global = true, env = "GLEANER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log format for long-running commands (serve, demo).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// How long-running commands log.
#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// What `search` prints.
#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputArg {
    /// Each hit with its date, sender, subject and a snippet (the top 20 by
    /// default).
    #[default]
    Summary,
    /// `id:<Message-ID>` of every matching message, oldest first (its content
    /// key, `id:sha256:…`, when it has no Message-ID or another message holds
    /// the same one); `id:` finds exactly that message again.
    Ids,
    /// Where every matching message is stored, one per line, oldest first:
    /// the file path of a Maildir or .eml message, else its location
    /// (`mbox:PATH#OFFSET+LENGTH`, `volume:...`).
    Files,
    /// `thread:<id>` of every conversation with a matching message, once
    /// each, in the order of their oldest match.
    Threads,
}

/// Result order for `search`.
#[derive(ValueEnum, Clone, Copy, Debug, Default)]
pub enum SortArg {
    /// Best match first.
    #[default]
    Relevance,
    /// Newest first.
    Date,
    /// Oldest first.
    Oldest,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Index mail: Maildirs, mbox files (also .gz/.zst), .eml trees, public-inbox archives.
    ///
    /// Each PATH's format is detected; a directory is searched for mail stores.
    /// Running it again only reads what is new; the same message found in several
    /// places is indexed once.
    Index {
        /// List name for messages without a List-Id header.
        #[arg(long)]
        list: Option<String>,
        /// Extraction threads (default: one per core).
        #[arg(long)]
        threads: Option<usize>,
        /// Make what is indexed durable every N new messages (default 50000).
        /// A smaller N means less work redone after a crash, at some speed.
        #[arg(long, value_name = "N")]
        commit_every: Option<usize>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
        /// Mail stores to index (default: the config file's `[[source]]`s).
        paths: Vec<PathBuf>,
    },
    /// Search the index. See `gleaner search --help` for the query language.
    ///
    /// Words are ANDed; "exact phrase"; OR; -word or NOT word; ( ) groups.
    /// Fields: from: to: cc: subject: (s:) body: list: id: thread: filename:
    /// lang: has:attachment larger:100k smaller:1M after:2019-03-01 before:2020
    /// date:2018..2019-06 older:6y newer:30d, and prefix*.
    Search {
        /// One JSON object per hit, one per line (with --threads, one per
        /// conversation).
        #[arg(long)]
        json: bool,
        /// One result per conversation: its best hit, how many of its
        /// messages match, its size, participants and dates (the summary).
        #[arg(long, conflicts_with = "output")]
        threads: bool,
        /// Width to wrap the summary at (default: the terminal's, else 100;
        /// at most 120).
        #[arg(long, env = "COLUMNS", value_name = "COLUMNS")]
        width: Option<usize>,
        /// Hits to show (default: 20 with the summary, every hit with
        /// `--output ids|files|threads`).
        #[arg(long)]
        limit: Option<usize>,
        /// Hits to skip.
        #[arg(long, default_value_t = 0)]
        offset: usize,
        /// Order of hits (the summary only; the other outputs stream every
        /// hit oldest first).
        #[arg(long, value_enum, default_value_t = SortArg::Relevance)]
        sort: SortArg,
        /// What to print: a summary of the top hits, or every hit's
        /// Message-ID, stored location or conversation, without snippets
        /// (like notmuch's --output=messages|files|threads).
        #[arg(long, value_enum, default_value_t = OutputArg::Summary, conflicts_with = "json")]
        output: OutputArg,
        /// The query (several words are joined with spaces).
        #[arg(required = true, num_args = 1..)]
        query: Vec<String>,
    },
    /// Show one message, decoded, or with --raw its exact original bytes.
    Show {
        /// Print the original bytes as stored.
        #[arg(long)]
        raw: bool,
        /// Print the decoded message as JSON.
        #[arg(long, conflicts_with = "raw")]
        json: bool,
        /// Read copy N (1-based, as numbered by --all-copies) instead of the
        /// first readable one: a message re-delivered with other bytes has
        /// several, live or sealed in archive volumes.
        #[arg(long, value_name = "N")]
        copy: Option<usize>,
        /// List the message's copies: number, SHA-256 and size of the bytes
        /// there, location (with --json one object per line).
        #[arg(long, conflicts_with_all = ["raw", "copy"])]
        all_copies: bool,
        /// The Message-ID (angle brackets optional), or a document key.
        message_id: String,
    },
    /// Index statistics: messages, lists, date range, languages, size.
    Stats {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Re-create the index from the mail stores indexed before.
    Rebuild {
        /// Extraction threads (default: one per core).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Index the bundled sample corpus into a temporary directory and serve the web UI.
    ///
    /// Serves on 127.0.0.1 without a login (loopback only); Ctrl-C stops it.
    Demo {
        /// The corpus directory.
        #[arg(long, default_value = "corpus/sample")]
        corpus: PathBuf,
        /// Listen address (must be loopback: the demo has no login).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
    /// Serve the JSON API and the web UI, and keep the index current as mail arrives.
    ///
    /// Follows the config file's `[[source]]`s and any PATHs given here: at start it
    /// reconciles them with the index cheaply (Maildirs are listed, mboxes resume from
    /// their checkpoint), then follows changes with inotify; new mail is searchable
    /// within about a second. The first Ctrl-C/SIGTERM commits and stops; a second
    /// exits at once. `kill -9` loses nothing. With `[solr]` configured it also
    /// answers Dovecot's full-text searches (docs/DOVECOT.md).
    Serve {
        /// Listen address (default: the config's `[http] listen`, else 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Serve without login. Allowed only on a loopback address.
        #[arg(long)]
        no_auth: bool,
        /// Whole search answers kept for repeated queries (overrides `[http] search_cache`;
        /// 0 turns the cache off).
        #[arg(long, value_name = "ENTRIES")]
        search_cache: Option<usize>,
        /// List name for messages without a List-Id header (for PATHs given here).
        #[arg(long)]
        list: Option<String>,
        /// Mail stores to follow, in addition to the config file's `[[source]]`s.
        paths: Vec<PathBuf>,
        /// Be a read-only standby of --primary (or `[standby]`): pull its
        /// database, index commits and sealed volumes continuously; refuse writes.
        #[arg(long)]
        standby: bool,
        /// The primary's URL (http://host:port; run it over a VPN or TLS tunnel).
        #[arg(long, requires = "standby")]
        primary: Option<String>,
        /// A file holding the replication token (`gleaner token create --replication`).
        #[arg(long, requires = "standby")]
        token_file: Option<PathBuf>,
        /// Seconds between pulls (default: `[standby] interval_secs`, else 5).
        #[arg(long, requires = "standby")]
        interval: Option<f64>,
    },
    /// Make this standby the primary (refused while the old primary answers, unless --force).
    ///
    /// A running `serve --standby` on this data directory takes writes from
    /// the next request on; restart it without --standby to index mail.
    /// See docs/OPERATIONS.md ("Failover") for what to do with the old primary.
    Promote {
        /// Promote even though the old primary still answers (it must be
        /// cut off for good: two primaries diverge).
        #[arg(long)]
        force: bool,
        /// Who promotes, for the audit log (default: cli:$USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Review queues of old threads: list policies, show a queue, record decisions.
    ///
    /// Policies come from `[[review]]` in gleaner.toml or the web UI. A
    /// thread joins a policy's queue when its newest message is older than
    /// the policy's age; the queue is ordered by a harvest score that each
    /// item explains.
    Review {
        #[command(subcommand)]
        command: ReviewCommand,
    },
    /// Curated documents (Procedures, Policies, Guidelines): list, show, export, create, cite.
    Doc {
        #[command(subcommand)]
        command: DocCommand,
    },
    /// The audit log of every decision, edit, archive run, hold and backup.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Sealed archive volumes: run the retention policies, list volumes, attach volumes from another disk.
    ///
    /// `archive run` writes the mail `[[retention]]` policies make due into
    /// volumes (zstd-compressed mboxrd plus a JSON manifest with every
    /// message's SHA-256) under `[archive] dir`, seals and re-verifies them,
    /// and only then removes the live copies (unless a legal hold covers
    /// them). Archived mail stays searchable (`is:archived`). Stop `gleaner
    /// serve` while it runs.
    Archive {
        #[command(subcommand)]
        command: ArchiveCommand,
    },
    /// Legal holds: mail matching an active hold is never removed from the live store.
    Hold {
        #[command(subcommand)]
        command: HoldCommand,
    },
    /// Takes a consistent, incremental snapshot of the data directory (safe while `serve` runs).
    ///
    /// Copies the database (SQLite online backup), the index as of one commit,
    /// the sealed volumes and the config into DEST; files already in DEST are
    /// not copied again.
    Backup {
        /// Destination directory (default: `[backup] dest`).
        dest: Option<PathBuf>,
        /// Who runs it (default: cli:$USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Restores a snapshot made by `gleaner backup` into an empty data directory (--data).
    Restore {
        /// The backup directory.
        src: PathBuf,
        /// Which snapshot (default: the newest; see the names under SRC/snapshots).
        #[arg(long)]
        snapshot: Option<String>,
    },
    /// Re-hashes every sealed volume, reads back every indexed message, checks the audit chain.
    Verify {
        /// One JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Writes the archive onto media sets (DVD, BD, LTO) readable without gleaner.
    ///
    /// Each set-NNNN/ in DEST is at most --size bytes: sealed volumes
    /// (zstd mboxrd) and their manifests, the published documents (Markdown
    /// and HTML), a README.txt on every format and a SHA256SUMS; it is
    /// re-read and verified after writing. Only what no earlier set holds is
    /// written, and only when a set is due (--every 1y or --after 20G).
    /// `export-media --where MSGID` says which set holds a message.
    ExportMedia {
        /// Where the sets go (a mounted medium or a staging directory).
        dest: Option<PathBuf>,
        /// The medium's size: 4.7G (DVD), 25G (BD), 2.5T (LTO-6)...
        #[arg(long)]
        size: Option<String>,
        /// A new set is due when the last one is this old (1y, 6m).
        #[arg(long, conflicts_with = "after")]
        every: Option<String>,
        /// A new set is due when this much waits for one (20G).
        #[arg(long)]
        after: Option<String>,
        /// Which sets hold this message (Message-ID or key); writes nothing.
        #[arg(long = "where", conflicts_with_all = ["size", "every", "after"])]
        where_: Option<String>,
        /// One JSON object.
        #[arg(long)]
        json: bool,
        /// Who runs it (default: cli:$USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Departing staff's mailboxes (sources with `owner = "NAME"`): depart, purge (two admins), show.
    ///
    /// `mailbox depart alice --on 2026-12-31` applies alice's `[[departure]]`
    /// policy: her mailbox's list becomes readable only by the policy's
    /// readers from that day, a legal hold keeps it for the policy's period,
    /// and it is archived into sealed volumes. After the hold, `mailbox purge
    /// alice --approve --by ADMIN` by two different admins removes it.
    Mailbox {
        #[command(subcommand)]
        command: MailboxCommand,
    },
    /// Web users and their grants: `user add`, `user grant`, `user list`.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Serve the MCP (Model Context Protocol) on stdin/stdout, for an assistant on this machine.
    ///
    /// An assistant (Claude Desktop, an IDE, any MCP client) starts this command and
    /// talks JSON-RPC to it over stdin/stdout; it then searches and reads the archive
    /// and drafts documents with citations as the user it acts for, under that user's
    /// role and list grants, every change in the audit log. Say who with --user NAME
    /// (you run it, you choose), or with an API token in the environment variable
    /// GLEANER_TOKEN (`gleaner token create`; --read-only tokens cannot write).
    /// Over the network, `gleaner serve` answers the same at /mcp. See docs/MCP.md.
    ///
    /// Example client configuration:
    ///   {"command": "gleaner", "args": ["--data", "/srv/gleaner", "mcp", "--user", "alice"]}
    #[command(verbatim_doc_comment)]
    Mcp {
        /// Act as this user (see `gleaner user list`).
        #[arg(long, conflicts_with = "token")]
        user: Option<String>,
        /// Act as this API token's user (prefer the environment variable: a
        /// command line is visible to other users of the machine).
        #[arg(long, env = "GLEANER_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// API tokens for assistants (MCP): create (shown once), list, revoke.
    ///
    /// A token acts as its user, with their role and list grants as they are
    /// at each request; a --read-only token can only read. Only a hash of the
    /// token is stored. Creating and revoking are audited.
    ///   gleaner token create laptop --user alice --read-only
    ///   gleaner token list
    ///   gleaner token revoke laptop
    #[command(verbatim_doc_comment)]
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

/// `gleaner token ...`
#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Make a token for a user; prints it once on standard output.
    Create {
        /// A name for the token (letters, digits, '.', '_', '-'), e.g. the machine it is for.
        name: String,
        /// The user it acts as.
        #[arg(long)]
        user: String,
        /// It may only read: search, read, list (no decisions, drafts or citations).
        #[arg(long)]
        read_only: bool,
        /// A standby's token: it may pull the whole data directory from this
        /// server's replication routes (`[replica]`) and nothing else; its user
        /// must be an admin.
        #[arg(long, conflicts_with = "read_only")]
        replication: bool,
        /// Who makes it, for the audit log (default: cli:$USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// List tokens: name, user, read-only or not, created, last used (never the secret).
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token: requests presenting it fail from now on.
    Revoke {
        /// The token's name.
        name: String,
        /// Who revokes it, for the audit log (default: cli:$USER).
        #[arg(long)]
        by: Option<String>,
    },
}

/// `gleaner user ...`
#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add a user (the password is prompted for, or read from stdin).
    Add {
        /// Login name.
        name: String,
        /// reader, reviewer, editor or admin (admins see every list).
        #[arg(long, default_value = "reader")]
        role: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Let a user see lists. Name a list as `list:` does: its full List-Id
    /// (dev.lists.example.org) or any dot-separated part of it (dev), without
    /// regard to case; the full id of the indexed list is granted. A name
    /// matching several lists is refused; one matching none is granted as
    /// written, with a warning.
    Grant {
        /// Login name.
        name: String,
        /// List names.
        #[arg(required = true)]
        lists: Vec<String>,
    },
    /// List users with their roles and lists.
    List {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a user, their grants and sessions.
    Remove {
        /// Login name.
        name: String,
    },
    /// Take lists away from a user.
    Revoke {
        /// Login name.
        name: String,
        /// List ids.
        #[arg(required = true)]
        lists: Vec<String>,
    },
    /// Change a user's role (their sessions end).
    Role {
        /// Login name.
        name: String,
        /// reader, reviewer, editor or admin.
        role: String,
    },
    /// Set a user's password (prompted for, or read from stdin); their sessions end.
    Passwd {
        /// Login name.
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set (or with --clear remove) a user's email address (for the review digest).
    SetEmail {
        /// Login name.
        name: String,
        /// The address.
        #[arg(required_unless_present = "clear")]
        email: Option<String>,
        /// Remove the address.
        #[arg(long, conflicts_with = "email")]
        clear: bool,
    },
    /// Make a user's calendar token (replacing theirs) and print their feed's URL;
    /// the token opens that feed and nothing else.
    CalendarToken {
        /// Login name.
        name: String,
        /// Revoke their token instead.
        #[arg(long)]
        revoke: bool,
    },
    /// List a user's live sessions, or end them.
    Sessions {
        /// Login name.
        name: String,
        /// End the session with this id (from the listing).
        #[arg(long, conflicts_with = "end_all")]
        end: Option<String>,
        /// End every session of the user.
        #[arg(long)]
        end_all: bool,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The configuration: the file (if any) < `GLEANER_DATA` < `--data`.
#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Checks the hash chain; exits 1 and names the first altered or removed entry.
    Verify {
        /// One JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Prints entries, newest first.
    Log {
        /// Entries to print.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum ArchiveCommand {
    /// Archives what the retention policies make due (--dry-run: only show it, per policy, list and year).
    Run {
        /// Change nothing; print what would move.
        #[arg(long)]
        dry_run: bool,
        /// JSON output.
        #[arg(long)]
        json: bool,
        /// Who runs it (default: cli:$USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// The sealed volumes.
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Makes the volumes in DIR (e.g. another disk) searchable, read-only.
    Attach {
        /// A directory of sealed volumes.
        dir: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum MailboxCommand {
    /// Applies OWNER's departure policy: restrict, hold, archive (stop `serve` first).
    Depart {
        /// The mailbox owner (`owner` of a `[[source]]`).
        owner: String,
        /// The departure day, YYYY-MM-DD.
        #[arg(long)]
        on: String,
        /// Who records it (default: cli:$USER).
        #[arg(long)]
        by: Option<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Approves purging OWNER's mailbox; the second admin's approval purges it.
    Purge {
        /// The mailbox owner.
        owner: String,
        /// Approve (required: each admin approves once).
        #[arg(long)]
        approve: bool,
        /// The approving admin (a gleaner user with the admin role).
        #[arg(long)]
        by: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// OWNER's departure: policy, day, purge approvals (JSON).
    Show {
        /// The mailbox owner.
        owner: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum HoldCommand {
    /// Places a hold on every message matching QUERY, now and later.
    Add {
        /// A unique name.
        name: String,
        /// The mail to protect, in the query language.
        query: String,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: String,
        /// Who (default: cli:$USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Active holds (--all: released ones too).
    List {
        /// Also released holds.
        #[arg(long)]
        all: bool,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Releases a hold.
    Release {
        /// The hold's name.
        name: String,
        /// Who (default: cli:$USER).
        #[arg(long)]
        by: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ReviewCommand {
    /// Every review policy with its progress.
    List {
        /// One JSON object per line: {policy, progress}.
        #[arg(long)]
        json: bool,
    },
    /// A policy's queue, best candidates first, with why each scored as it did.
    Queue {
        /// The policy's name (see `gleaner review list`).
        policy: String,
        /// Threads to show (0: all).
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Threads to skip.
        #[arg(long, default_value_t = 0)]
        offset: usize,
        /// Also show threads already decided.
        #[arg(long)]
        all: bool,
        /// Only threads of this list.
        #[arg(long)]
        list: Option<String>,
        /// Only threads whose newest message is from this year.
        #[arg(long)]
        year: Option<i32>,
        /// One JSON object per line: thread_id, score, explain (the signals), decision...
        #[arg(long)]
        json: bool,
    },
    /// Records a decision on one or more threads (one undoable batch).
    Decide {
        /// The policy's name.
        policy: String,
        /// promote, keep or dismiss.
        decision: String,
        /// Thread ids (from `gleaner review queue`).
        #[arg(required = true)]
        threads: Vec<String>,
        /// A note kept with the decision.
        #[arg(long)]
        note: Option<String>,
        /// Who decides (default: cli:$USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Undoes your newest batch of decisions in a policy.
    Undo {
        /// The policy's name.
        policy: String,
        /// Whose batch (default: cli:$USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Review rounds: open one by hand, list them with progress per reviewer.
    Round {
        #[command(subcommand)]
        command: RoundCommand,
    },
    /// The weekly digest mail of each reviewer's rounds: print it (--dry-run) or send it (--send).
    Digest {
        /// Send this week's digests not sent yet, through `[mail] smtp`.
        #[arg(long, conflicts_with = "dry_run")]
        send: bool,
        /// Print the digests; send nothing (the default).
        #[arg(long)]
        dry_run: bool,
        /// With --send: send again those already sent this week.
        #[arg(long)]
        force: bool,
        /// Who sends (default: cli:$USER).
        #[arg(long)]
        by: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum RoundCommand {
    /// Opens a round of POLICY now: snapshots its undecided threads and shares
    /// them out among the reviewers of its `[[round]]` (or --reviewer).
    Open {
        /// The policy's name.
        policy: String,
        /// Reviewers (default: the policy's `[[round]] reviewers`).
        #[arg(long = "reviewer")]
        reviewers: Vec<String>,
        /// Due this long after opening (default: the `[[round]] due`, else 30d).
        #[arg(long)]
        due: Option<String>,
        /// Who opens it (default: cli:$USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Rounds (open, and closed in the last year) with progress per reviewer.
    List {
        /// Only this policy's.
        #[arg(long)]
        policy: Option<String>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Opens the rounds whose scheduled period has come (what `serve` does every few minutes).
    Due,
}

#[derive(Subcommand, Debug)]
pub enum DocCommand {
    /// Every document.
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// A document as Markdown with its citations as footnotes.
    Show {
        /// Number or slug.
        id: String,
        /// The document and its citations as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Exports a document (md or html), or with --all every published document as a tar.
    Export {
        /// Number or slug.
        id: Option<String>,
        /// md or html.
        #[arg(long, default_value = "md")]
        format: String,
        /// Every published document as Markdown and HTML in one tar archive.
        #[arg(long, conflicts_with = "id")]
        all: bool,
        /// Write here instead of standard output.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Creates an empty draft document and prints its number.
    New {
        /// procedure, policy or guideline.
        kind: String,
        /// The title.
        title: String,
        /// Who answers for it (default: you).
        #[arg(long)]
        owner: Option<String>,
        /// Who creates it (default: cli:$USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Cites a message in a document (appends its `{{cite:N}}` marker: a quoted excerpt and a footnote).
    Cite {
        /// Document number or slug.
        id: String,
        /// The Message-ID to cite.
        message_id: String,
        /// The passage to quote (default: the start of the message).
        #[arg(long)]
        passage: Option<String>,
        /// Who cites (default: cli:$USER).
        #[arg(long)]
        by: Option<String>,
    },
}

fn load_config(args: &Args) -> anyhow::Result<gleaner::config::Config> {
    let mut config = match &args.config {
        Some(path) => gleaner::config::Config::load(path)?,
        None => gleaner::config::Config::default(),
    };
    if let Some(data) = &args.data {
        config.data = data.clone();
    }
    Ok(config)
}

/// Runs the parsed command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut config = load_config(&args)?;
    gleaner::query::limits::set(config.limits.clone());
    let data_dir = config.data.clone();
    let data: &Path = &data_dir;
    replica_cmd::refuse_writes_on_standby(data, &args.command)?;
    match args.command {
        Command::Index {
            list,
            threads,
            commit_every,
            json,
            paths,
        } => index_cmd::index(
            data,
            &config.sources,
            &paths,
            list.as_deref(),
            &index_cmd::ingest_options(threads, commit_every),
            json,
        ),
        Command::Search {
            json,
            threads,
            width,
            limit,
            offset,
            sort,
            output,
            query,
        } => {
            let text = query.join(" ");
            if output == OutputArg::Summary {
                let shape = search_cmd::Shape {
                    limit: limit.unwrap_or(20),
                    offset,
                    sort,
                    json,
                    threads,
                    width: search_cmd::width(width),
                };
                search_cmd::search(&config, data, &text, &shape)
            } else {
                search_cmd::list_hits(&config, data, &text, output, limit, offset)
            }
        }
        Command::Show {
            raw,
            json,
            copy,
            all_copies,
            message_id,
        } => {
            let which = match (all_copies, copy) {
                (true, _) => show_cmd::Which::List,
                (false, Some(n)) => show_cmd::Which::Copy(n),
                (false, None) => show_cmd::Which::FirstReadable,
            };
            show_cmd::show(data, &message_id, raw, json, which)
        }
        Command::Stats { json } => search_cmd::stats(data, json),
        Command::Rebuild { threads } => {
            let archive = config.archive.dir_for(data);
            let opts = index_cmd::ingest_options(threads, None);
            index_cmd::rebuild(data, &config.sources, &archive, &opts)
        }
        Command::Demo { corpus, listen } => index_cmd::demo(&corpus, listen),
        Command::Serve {
            listen,
            no_auth,
            search_cache,
            list,
            paths,
            standby,
            primary,
            token_file,
            interval,
        } => {
            serve_cmd::init_logging(args.log_format == LogFormat::Json);
            if standby {
                replica_cmd::standby_config(&mut config, primary, token_file, interval)?;
            }
            serve_cmd::add_sources(&mut config, &paths, list.as_deref())?;
            if let Some(listen) = listen {
                config.http.listen = listen;
            }
            if no_auth {
                config.http.auth = false;
            }
            if let Some(entries) = search_cache {
                config.http.search_cache = entries;
            }
            serve_cmd::serve(&config)
        }
        Command::User {
            command: command @ (UserCommand::SetEmail { .. } | UserCommand::CalendarToken { .. }),
        } => round_cmd::user(&config, data, command),
        Command::User { command } => user_cmd::user(data, command),
        Command::Mcp { user, token } => mcp_cmd::mcp(&config, data, user, token),
        Command::Token { command } => mcp_cmd::token(data, command),
        Command::Review { command } => review_cmd::review(&config, data, command),
        Command::Doc { command } => doc_cmd::doc(&config, data, command),
        Command::Audit { command } => match command {
            AuditCommand::Verify { json } => review_cmd::audit(&config, data, true, 0, json),
            AuditCommand::Log { limit, json } => {
                review_cmd::audit(&config, data, false, limit, json)
            }
        },
        Command::Archive { command } => retention_cmd::archive_cmd(&config, data, command),
        Command::Hold { command } => retention_cmd::hold_cmd(data, command),
        Command::Backup { dest, by } => {
            retention_cmd::backup_cmd(&config, data, dest, args.config.as_deref(), by.as_deref())
        }
        Command::Restore { src, snapshot } => {
            retention_cmd::restore_cmd(data, &src, snapshot.as_deref())
        }
        Command::Verify { json } => retention_cmd::verify_cmd(&config, data, json),
        Command::Mailbox { command } => mailbox_cmd::mailbox(&config, data, command),
        Command::ExportMedia {
            dest,
            size,
            every,
            after,
            where_,
            json,
            by,
        } => media_cmd::export_media(
            &config,
            data,
            media_cmd::Asked {
                dest,
                size,
                every,
                after,
                where_,
                json,
                by,
            },
        ),
        Command::Promote { force, by } => replica_cmd::promote(data, force, by.as_deref()),
    }
}
