//! A small HTTP/1.1 client for the standby: `GET` with a bearer token over
//! plain TCP (`Connection: close`; bodies by `Content-Length` or chunked),
//! written into any sink so a large segment file never sits in memory.
//!
//! There is no TLS: replication traffic belongs on a VPN or a TLS tunnel
//! (docs/OPERATIONS.md). This module knows nothing of what it fetches.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::ReplicaError;

/// Where the primary is: `http://host:port[/prefix]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrimaryUrl {
    host: String,
    port: u16,
    prefix: String,
}

impl PrimaryUrl {
    /// Parses `http://host[:port][/prefix]` (https is refused: use a tunnel).
    pub fn parse(url: &str) -> Result<PrimaryUrl, ReplicaError> {
        let bad = |why: &str| ReplicaError::Invalid(format!("primary URL {url:?}: {why}"));
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| bad("must start with http:// (run replication over a VPN or a TLS tunnel such as stunnel or ssh -L)"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                (h, p.parse::<u16>().map_err(|_| bad("bad port"))?)
            }
            _ => (authority, 80),
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        Ok(PrimaryUrl {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port,
            prefix: path.trim_end_matches('/').to_string(),
        })
    }

    /// The URL as written back (for messages).
    pub fn display(&self) -> String {
        format!("http://{}:{}{}", self.host, self.port, self.prefix)
    }
}

/// The head of an answer.
#[derive(Debug, Clone)]
pub struct Head {
    /// The status code.
    pub status: u16,
    /// Headers, names lowercased.
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The first header called `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Longest header block accepted.
const MAX_HEAD: usize = 64 * 1024;

/// `GET prefix+path` with `headers`; the body (of a 2xx answer) goes into `sink`,
/// of any other answer into the error.
pub fn get(
    url: &PrimaryUrl,
    path: &str,
    headers: &[(&str, &str)],
    timeout: Duration,
    sink: &mut dyn Write,
) -> Result<Head, ReplicaError> {
    let net = |source: std::io::Error| ReplicaError::Net {
        url: url.display(),
        source,
    };
    let addr = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(net)?
        .next()
        .ok_or_else(|| net(std::io::ErrorKind::NotFound.into()))?;
    let stream = TcpStream::connect_timeout(&addr, timeout).map_err(net)?;
    stream.set_read_timeout(Some(timeout)).map_err(net)?;
    stream.set_write_timeout(Some(timeout)).map_err(net)?;
    let mut req = format!(
        "GET {}{} HTTP/1.1\r\nHost: {}:{}\r\nConnection: close\r\nUser-Agent: gleaner-standby\r\n",
        url.prefix, path, url.host, url.port
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    (&stream).write_all(req.as_bytes()).map_err(net)?;
    let mut r = BufReader::new(stream);
    let head = read_head(&mut r).map_err(net)?;
    let chunked = head
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let length = head
        .header("content-length")
        .and_then(|v| v.trim().parse::<u64>().ok());
    let mut error_body = Vec::new();
    let out: &mut dyn Write = if (200..300).contains(&head.status) {
        sink
    } else {
        &mut error_body
    };
    if head.status == 304 || head.status == 204 {
        // No body.
    } else if chunked {
        read_chunked(&mut r, out).map_err(net)?;
    } else if let Some(n) = length {
        let copied = std::io::copy(&mut (&mut r).take(n), out).map_err(net)?;
        if copied != n {
            return Err(net(std::io::ErrorKind::UnexpectedEof.into()));
        }
    } else {
        std::io::copy(&mut r, out).map_err(net)?;
    }
    if head.status >= 400 {
        return Err(ReplicaError::Status {
            status: head.status,
            path: path.to_string(),
            body: String::from_utf8_lossy(&error_body)
                .chars()
                .take(300)
                .collect(),
        });
    }
    Ok(head)
}

fn read_head(r: &mut impl BufRead) -> std::io::Result<Head> {
    let bad = |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_string());
    let mut total = 0;
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| bad("no HTTP status line"))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        let n = r.read_line(&mut line)?;
        total += n;
        if n == 0 || total > MAX_HEAD {
            return Err(bad("headers too long or cut off"));
        }
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    Ok(Head { status, headers })
}

fn read_chunked(r: &mut impl BufRead, out: &mut dyn Write) -> std::io::Result<()> {
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "bad chunk size");
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let size_text = line.trim().split(';').next().unwrap_or("");
        let size = u64::from_str_radix(size_text, 16).map_err(|_| bad())?;
        if size == 0 {
            return Ok(());
        }
        let copied = std::io::copy(&mut r.take(size), out)?;
        if copied != size {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        line.clear();
        r.read_line(&mut line)?;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_https_is_refused() {
        let u = PrimaryUrl::parse("http://10.0.0.1:8080/gleaner/").unwrap();
        assert_eq!(u.display(), "http://10.0.0.1:8080/gleaner");
        assert_eq!(PrimaryUrl::parse("http://primary").unwrap().port, 80);
        assert!(PrimaryUrl::parse("https://primary").is_err());
        assert!(PrimaryUrl::parse("http://:80").is_err());
    }

    #[test]
    fn chunked_bodies_are_joined() {
        let mut out = Vec::new();
        read_chunked(&mut &b"3\r\nabc\r\n2;x=1\r\nde\r\n0\r\n\r\n"[..], &mut out).unwrap();
        assert_eq!(out, b"abcde");
    }
}
