//! The `gleaner` command: parses arguments, runs a command, maps errors to exit
//! codes (0 success, 1 failure, 2 usage, configuration or query error).

mod cli;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc's malloc: indexing allocates and frees many small
/// strings per message on several threads (glibc's malloc/free were ~11% of
/// indexing CPU). Built with `no_thp`: mimalloc otherwise asks for transparent
/// huge pages, and the kernel zeroing 2 MiB pages on first touch cost a CLI
/// search ~1.3 ms and indexing ~40 MiB of RSS for no measurable gain.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            // A closed pipe (`gleaner search x | head`) is not a failure.
            if let Some(io) = err.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::BrokenPipe {
                    return ExitCode::SUCCESS;
                }
            }
            if let Some(q) = err.downcast_ref::<gleaner::query::QueryError>() {
                if q.is_user_error() {
                    eprintln!("gleaner: {q}");
                    return ExitCode::from(2);
                }
            }
            if let Some(c) = err.downcast_ref::<gleaner::curate::CurateError>() {
                if c.is_user_error() {
                    eprintln!("gleaner: {c}");
                    return ExitCode::from(2);
                }
            }
            let usage = err
                .downcast_ref::<gleaner::app::RunError>()
                .is_some_and(|e| e.is_user_error())
                || err.downcast_ref::<gleaner::config::ConfigError>().is_some()
                || err
                    .downcast_ref::<gleaner::access::AccessError>()
                    .is_some_and(|e| e.is_user_error());
            eprintln!("gleaner: {err:#}");
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}
