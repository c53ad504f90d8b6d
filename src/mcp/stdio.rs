//! `gleaner mcp`: the MCP server over standard input and output, one JSON-RPC
//! message per line each way (the MCP stdio transport), for an assistant
//! that starts gleaner on the same machine. Logs go to standard error only.
//! The caller is resolved again for every message, so a revoked token or
//! grant takes effect without a restart.

use std::io::{self, BufRead, Write};

use super::protocol::{self, Session};
use super::{Credential, Mcp};

/// Longest message read (bytes); a longer line is answered with an error and skipped.
pub const MAX_LINE: usize = 8 << 20;

/// Answers messages from `input` on `output` until `input` ends.
pub fn serve(
    mcp: &Mcp,
    credential: &Credential,
    mut input: impl BufRead,
    mut output: impl Write,
) -> io::Result<()> {
    crate::index::column_terms::keep();
    let mut session = Session::default();
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = io::Read::take(&mut input, MAX_LINE as u64 + 1).read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(());
        }
        let answer = if line.len() > MAX_LINE && line.last() != Some(&b'\n') {
            // Skip the rest of the oversized line.
            let mut sink = Vec::new();
            while !sink.ends_with(b"\n") {
                sink.clear();
                if io::Read::take(&mut input, MAX_LINE as u64).read_until(b'\n', &mut sink)? == 0 {
                    break;
                }
            }
            Some(protocol::error(
                serde_json::Value::Null,
                protocol::code::INVALID_REQUEST,
                "message too long",
            ))
        } else {
            let text = String::from_utf8_lossy(&line);
            if text.trim().is_empty() {
                continue;
            }
            let caller = mcp.caller(credential);
            protocol::handle_text(mcp, &caller, &mut session, text.trim())
        };
        if let Some(answer) = answer {
            writeln!(output, "{answer}")?;
            output.flush()?;
        }
    }
}
