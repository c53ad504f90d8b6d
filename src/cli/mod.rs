//! Command-line arguments and the dispatch to each command.

mod index_cmd;
mod search_cmd;
mod serve_cmd;
mod show_cmd;

use std::path::PathBuf;
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
    /// Data directory (index and state). Default: ./gleaner-data
    #[arg(
        long,
        global = true,
        env = "GLEANER_DATA",
        default_value = "gleaner-data"
    )]
    pub data: PathBuf,
    /// Log format for long-running commands.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// How `serve` logs.
#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
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
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
        /// Mail stores to index.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Search the index. See `gleaner search --help` for the query language.
    ///
    /// Words are ANDed; "exact phrase"; OR; -word or NOT word; ( ) groups.
    /// Fields: from: to: cc: subject: (s:) body: list: id: thread: filename:
    /// lang: has:attachment larger:100k smaller:1M after:2019-03-01 before:2020
    /// date:2018..2019-06 older:6y newer:30d, and prefix*.
    Search {
        /// One JSON object per hit, one per line.
        #[arg(long)]
        json: bool,
        /// Hits to show.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Hits to skip.
        #[arg(long, default_value_t = 0)]
        offset: usize,
        /// Order of hits.
        #[arg(long, value_enum, default_value_t = SortArg::Relevance)]
        sort: SortArg,
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
        /// The Message-ID (angle brackets optional), or a document key.
        message_id: String,
    },
    /// Index statistics: messages, lists, date range, languages, size.
    Stats {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Keep the index current: follow mail stores as mail arrives (Ctrl-C or SIGTERM stops).
    ///
    /// Reconciles the stores with the index at start (cheaply: Maildirs are listed,
    /// mboxes resume from their checkpoint), then follows changes with inotify;
    /// new mail is searchable within about a second. `kill -9` loses nothing.
    Serve {
        /// List name for messages without a List-Id header.
        #[arg(long)]
        list: Option<String>,
        /// Mail stores to follow.
        paths: Vec<PathBuf>,
    },
    /// Re-create the index from the mail stores indexed before.
    Rebuild {
        /// Extraction threads (default: one per core).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Index the bundled sample corpus into a temporary directory and show what to try.
    Demo {
        /// The corpus directory.
        #[arg(long, default_value = "corpus/sample")]
        corpus: PathBuf,
    },
}

/// Runs the parsed command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Index {
            list,
            threads,
            json,
            paths,
        } => index_cmd::index(&args.data, &paths, list.as_deref(), threads, json),
        Command::Search {
            json,
            limit,
            offset,
            sort,
            query,
        } => search_cmd::search(&args.data, &query.join(" "), limit, offset, sort, json),
        Command::Show {
            raw,
            json,
            message_id,
        } => show_cmd::show(&args.data, &message_id, raw, json),
        Command::Stats { json } => search_cmd::stats(&args.data, json),
        Command::Serve { list, paths } => {
            serve_cmd::init_logging(args.log_format == LogFormat::Json);
            serve_cmd::serve(&args.data, &paths, list.as_deref())
        }
        Command::Rebuild { threads } => index_cmd::rebuild(&args.data, threads),
        Command::Demo { corpus } => index_cmd::demo(&corpus),
    }
}
