//! Sending mail: `[mail]` (an SMTP relay and a From address), an RFC 5322
//! message builder ([`message`]) and a minimal SMTP client (RFC 5321: EHLO,
//! MAIL FROM, RCPT TO, DATA with dot-stuffing, QUIT; every reply code
//! checked; timeouts on connect, reads and writes).
//!
//! Plain SMTP only, no TLS or AUTH: point it at a local relay (the MTA on
//! the machine, which handles onward delivery). Blocking: async callers use
//! `spawn_blocking`. Knows nothing of reviews, users or the index.

pub mod message;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde::Deserialize;

/// `[mail]`: where mail goes out.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MailSection {
    /// The SMTP relay, `host:port` (e.g. `localhost:25`).
    pub smtp: String,
    /// The From address (`gleaner@example.org`).
    pub from: String,
    /// The name sent in EHLO (default: the From address's domain).
    #[serde(default)]
    pub helo: Option<String>,
    /// Seconds to wait for the server at each step (default 30).
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Send reviewers the weekly digest of their rounds (default true).
    #[serde(default = "yes")]
    pub digest: bool,
}

fn default_timeout() -> u64 {
    30
}

fn yes() -> bool {
    true
}

impl MailSection {
    /// The domain of the From address.
    pub fn domain(&self) -> &str {
        self.from.rsplit('@').next().unwrap_or("localhost")
    }
}

/// Why mail could not be sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SmtpError {
    /// No connection to the relay.
    #[error("cannot connect to SMTP server {server}: {source}")]
    Connect {
        /// `host:port`.
        server: String,
        /// Why.
        source: std::io::Error,
    },
    /// The connection failed or timed out.
    #[error("SMTP connection failed: {0}")]
    Io(#[from] std::io::Error),
    /// The server refused a step.
    #[error("SMTP server refused {stage}: {code} {text}")]
    Refused {
        /// Which command.
        stage: &'static str,
        /// Its reply code.
        code: u16,
        /// Its reply text.
        text: String,
    },
    /// The server answered something that is not SMTP.
    #[error("SMTP server sent a malformed reply: {0:?}")]
    Malformed(String),
    /// An address that cannot go into an SMTP command.
    #[error("bad mail address {0:?}")]
    BadAddress(String),
}

/// One SMTP reply: code and text lines.
struct Reply {
    code: u16,
    text: String,
}

fn read_reply(r: &mut impl BufRead) -> Result<Reply, SmtpError> {
    let mut text = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Err(SmtpError::Malformed("connection closed".into()));
        }
        let line = line.trim_end_matches(['\r', '\n']);
        let code: u16 = line
            .get(..3)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| SmtpError::Malformed(line.chars().take(200).collect()))?;
        text.push(line.get(4..).unwrap_or("").to_string());
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(Reply {
                code,
                text: text.join(" "),
            });
        }
        if text.len() > 100 {
            return Err(SmtpError::Malformed("reply too long".into()));
        }
    }
}

fn check_address(a: &str) -> Result<(), SmtpError> {
    if a.is_empty()
        || a.len() > 254
        || a.chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
    {
        return Err(SmtpError::BadAddress(a.to_string()));
    }
    Ok(())
}

/// Dot-stuffs `message` and normalises its line ends to CRLF, ending it with `.`.
pub fn data_block(message: &str) -> String {
    let mut out = String::with_capacity(message.len() + 64);
    for line in message.split_inclusive('\n') {
        let line = line.trim_end_matches('\n').trim_end_matches('\r');
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str(".\r\n");
    out
}

/// Sends `message` (a whole RFC 5322 text) from `cfg.from` to `to`.
pub fn send(cfg: &MailSection, to: &str, message: &str) -> Result<(), SmtpError> {
    check_address(&cfg.from)?;
    check_address(to)?;
    let timeout = Duration::from_secs(cfg.timeout_secs.max(1));
    let connect_err = |source| SmtpError::Connect {
        server: cfg.smtp.clone(),
        source,
    };
    let addrs: Vec<_> = cfg.smtp.to_socket_addrs().map_err(connect_err)?.collect();
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
    let mut stream = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = e,
        }
    }
    let stream = stream.ok_or_else(|| connect_err(last))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut w = stream.try_clone()?;
    let mut r = BufReader::new(stream);
    let mut step =
        |cmd: Option<&str>, stage: &'static str, ok: &[u16]| -> Result<Reply, SmtpError> {
            if let Some(c) = cmd {
                w.write_all(c.as_bytes())?;
                w.write_all(b"\r\n")?;
                w.flush()?;
            }
            let reply = read_reply(&mut r)?;
            if ok.contains(&reply.code) {
                Ok(reply)
            } else {
                Err(SmtpError::Refused {
                    stage,
                    code: reply.code,
                    text: reply.text,
                })
            }
        };
    step(None, "the connection", &[220])?;
    let helo = cfg.helo.clone().unwrap_or_else(|| cfg.domain().to_string());
    if step(Some(&format!("EHLO {helo}")), "EHLO", &[250]).is_err() {
        step(Some(&format!("HELO {helo}")), "HELO", &[250])?;
    }
    step(
        Some(&format!("MAIL FROM:<{}>", cfg.from)),
        "MAIL FROM",
        &[250],
    )?;
    step(Some(&format!("RCPT TO:<{to}>")), "RCPT TO", &[250, 251])?;
    step(Some("DATA"), "DATA", &[354])?;
    let block = data_block(message);
    // The block ends in ".\r\n"; `step` adds another CRLF, so send it without.
    step(Some(block.trim_end_matches("\r\n")), "the message", &[250])?;
    // The message is accepted; a failed QUIT changes nothing.
    let _ = step(Some("QUIT"), "QUIT", &[221]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_dot_stuffed_with_crlf_line_ends() {
        assert_eq!(
            data_block("a\n.b\r\n..c\nd"),
            "a\r\n..b\r\n...c\r\nd\r\n.\r\n"
        );
        assert_eq!(data_block(""), ".\r\n");
    }

    #[test]
    fn multi_line_replies_are_read_whole() {
        let mut r = std::io::Cursor::new(b"250-one\r\n250-two\r\n250 three\r\n".to_vec());
        let reply = read_reply(&mut r).expect("reply");
        assert_eq!(reply.code, 250);
        assert_eq!(reply.text, "one two three");
        let mut bad = std::io::Cursor::new(b"hello\r\n".to_vec());
        assert!(read_reply(&mut bad).is_err());
    }
}
