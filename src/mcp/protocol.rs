//! JSON-RPC 2.0 and the MCP lifecycle, without I/O: [`handle`] takes one
//! message and gives the answer to send, if any (notifications and the
//! client's own responses get none). The transports frame the bytes.
//!
//! Version negotiation follows the handshake of the MCP specification: the
//! client offers a version in `initialize`; when gleaner speaks it, that is
//! the answer, otherwise gleaner answers its newest and the client decides.
//! The 2026 stateless `server/discover` probe is answered "method not
//! found", which makes current clients fall back to the handshake.

use serde_json::{json, Value};

use super::{catalog, output, tools, Caller, Mcp, McpError};

/// Protocol versions gleaner speaks, newest first.
pub const VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

/// JSON-RPC error codes.
pub mod code {
    /// The message is not JSON.
    pub const PARSE_ERROR: i64 = -32700;
    /// Not a valid JSON-RPC request.
    pub const INVALID_REQUEST: i64 = -32600;
    /// No such method.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// Bad parameters (an unknown tool, a missing argument).
    pub const INVALID_PARAMS: i64 = -32602;
    /// The server failed.
    pub const INTERNAL_ERROR: i64 = -32603;
    /// The caller is not authenticated or not allowed.
    pub const UNAUTHORIZED: i64 = -32001;
    /// A resource that does not exist (or that the caller cannot see).
    pub const RESOURCE_NOT_FOUND: i64 = -32002;
    /// Too many calls from this caller: retry later (the message says when).
    pub const RATE_LIMITED: i64 = -32000;
}

/// What one connection remembers: the version agreed in `initialize`.
#[derive(Debug, Default, Clone)]
pub struct Session {
    /// The negotiated protocol version (`None` before `initialize`).
    pub version: Option<String>,
    /// `notifications/initialized` was received.
    pub initialized: bool,
}

/// The version to answer an `initialize` offering `offered`.
pub fn negotiate(offered: Option<&str>) -> &'static str {
    offered
        .and_then(|o| VERSIONS.iter().find(|v| **v == o))
        .copied()
        .unwrap_or(VERSIONS[0])
}

/// A JSON-RPC error answer to `id`.
pub fn error(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

fn result(id: Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// Parses one framed message (a line of stdio, a POST body) and answers it.
pub fn handle_text(
    mcp: &Mcp,
    caller: &Result<Caller, McpError>,
    session: &mut Session,
    text: &str,
) -> Option<Value> {
    match serde_json::from_str::<Value>(text) {
        Ok(msg) => handle(mcp, caller, session, &msg),
        Err(e) => Some(error(
            Value::Null,
            code::PARSE_ERROR,
            &format!("not JSON: {e}"),
        )),
    }
}

/// Answers one JSON-RPC message on behalf of `caller` (resolved by the
/// transport; an error there is answered to every request that needs one).
pub fn handle(
    mcp: &Mcp,
    caller: &Result<Caller, McpError>,
    session: &mut Session,
    msg: &Value,
) -> Option<Value> {
    let Some(obj) = msg.as_object() else {
        return Some(error(
            Value::Null,
            code::INVALID_REQUEST,
            "send one JSON-RPC 2.0 object per message (batches are not supported)",
        ));
    };
    let id = obj.get("id").cloned();
    let method = obj.get("method").and_then(Value::as_str);
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return id.map(|id| error(id, code::INVALID_REQUEST, "jsonrpc must be \"2.0\""));
    }
    let (Some(id), Some(method)) = (id, method) else {
        // A notification, or the client's answer to a request of ours: no reply.
        if method == Some("notifications/initialized") {
            session.initialized = true;
        }
        return None;
    };
    if !(id.is_string() || id.is_i64() || id.is_u64()) {
        return Some(error(
            Value::Null,
            code::INVALID_REQUEST,
            "id must be a string or an integer",
        ));
    }
    let params = obj.get("params").cloned().unwrap_or(Value::Null);
    Some(match request(mcp, caller, session, method, &params) {
        Ok(v) => result(id, v),
        Err(Failure::Rpc(c, message)) => error(id, c, &message),
    })
}

/// A request that is answered with a JSON-RPC error (tool failures are
/// results with `isError`, as MCP asks).
enum Failure {
    Rpc(i64, String),
}

impl From<McpError> for Failure {
    fn from(e: McpError) -> Failure {
        let c = match &e {
            McpError::Unauthorized | McpError::UnknownUser(_) | McpError::Forbidden(_) => {
                code::UNAUTHORIZED
            }
            McpError::NotFound(_) => code::RESOURCE_NOT_FOUND,
            McpError::RateLimited(_) => code::RATE_LIMITED,
            McpError::Invalid(_) => code::INVALID_PARAMS,
            e if e.is_user_error() => code::INVALID_PARAMS,
            _ => code::INTERNAL_ERROR,
        };
        Failure::Rpc(c, e.public_message())
    }
}

fn request(
    mcp: &Mcp,
    caller: &Result<Caller, McpError>,
    session: &mut Session,
    method: &str,
    params: &Value,
) -> Result<Value, Failure> {
    let who = || -> Result<&Caller, Failure> {
        caller.as_ref().map_err(|e| {
            Failure::Rpc(
                code::UNAUTHORIZED,
                match e {
                    McpError::Internal(_) => e.public_message(),
                    e => e.to_string(),
                },
            )
        })
    };
    let limited = |c: &Caller| -> Result<(), Failure> {
        mcp.rate
            .take(&c.rate_key())
            .map_err(|wait| Failure::from(McpError::RateLimited(wait)))
    };
    match method {
        "initialize" => {
            let offered = params.get("protocolVersion").and_then(Value::as_str);
            let version = negotiate(offered);
            session.version = Some(version.to_string());
            Ok(json!({
                "protocolVersion": version,
                "capabilities": {
                    "tools": {"listChanged": false},
                    "resources": {"listChanged": false, "subscribe": false},
                    "prompts": {"listChanged": false},
                },
                "serverInfo": {"name": "gleaner", "title": "gleaner mailing-list archive",
                    "version": env!("CARGO_PKG_VERSION")},
                "instructions": output::INSTRUCTIONS,
            }))
        }
        "ping" => Ok(json!({})),
        "tools/list" => Ok(json!({"tools": tools::list(who()?)})),
        "tools/call" => {
            let c = who()?;
            let name = params
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| Failure::Rpc(code::INVALID_PARAMS, "name the tool".into()))?;
            if !tools::exists(name) {
                return Err(Failure::Rpc(
                    code::INVALID_PARAMS,
                    format!("no tool named {name:?} (see tools/list)"),
                ));
            }
            limited(c)?;
            let args = params.get("arguments").cloned().unwrap_or(json!({}));
            Ok(match tools::call(mcp, c, name, &args) {
                Ok(v) => v,
                Err(e) => output::tool_error(&e.public_message()),
            })
        }
        "resources/list" => Ok(catalog::resources(mcp, who()?)?),
        "resources/templates/list" => Ok(catalog::templates()),
        "resources/read" => {
            let c = who()?;
            limited(c)?;
            let uri = params
                .get("uri")
                .and_then(Value::as_str)
                .ok_or_else(|| Failure::Rpc(code::INVALID_PARAMS, "give the uri".into()))?;
            Ok(catalog::read(mcp, c, uri)?)
        }
        "prompts/list" => Ok(catalog::prompts()),
        "prompts/get" => Ok(catalog::prompt(params)?),
        "logging/setLevel" => Ok(json!({})),
        _ => Err(Failure::Rpc(
            code::METHOD_NOT_FOUND,
            format!("no method {method:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offered_version_is_answered_when_spoken_else_the_newest() {
        assert_eq!(negotiate(Some("2025-03-26")), "2025-03-26");
        assert_eq!(negotiate(Some("2024-11-05")), "2024-11-05");
        assert_eq!(negotiate(Some("2099-01-01")), VERSIONS[0]);
        assert_eq!(negotiate(None), VERSIONS[0]);
    }
}
