//! Who is asking: the session cookie turned into a user, a role and the lists
//! they may see, with the CSRF check for state-changing requests; and from
//! where ([`ClientAddr`]), for login back-off and `Secure` cookies.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, Method};

use super::{blocking, AppError, Shared};
use crate::access::Role;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "gleaner_session";

/// The user behind a request. Extracting it answers `401` without a live
/// session, and `403` for a `POST`/`PUT`/`PATCH`/`DELETE` without the
/// session's CSRF token in `X-CSRF-Token`.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// Login name (`None` when auth is off).
    pub user: Option<String>,
    /// Role (admin when auth is off).
    pub role: Role,
    /// Lists the user may see (`None`: all).
    pub allowed_lists: Option<Vec<String>>,
    /// The session's CSRF token.
    pub csrf: String,
    /// The session cookie's token, if any.
    pub token: Option<String>,
}

/// The values of cookie `name` in the request's `Cookie` headers, in order
/// (a browser may send two: one set for this path, a stale one for another).
pub fn cookies(parts: &Parts, name: &str) -> Vec<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .filter(|(k, v)| *k == name && !v.is_empty())
        .map(|(_, v)| v.to_string())
        .take(MAX_SESSION_COOKIES)
        .collect()
}

/// Session cookies looked up per request at most.
const MAX_SESSION_COOKIES: usize = 4;

/// Where a request comes from: the peer's address (or, with
/// `[http] trust_proxy_headers`, the last `X-Forwarded-For` entry, which the
/// proxy appended) and whether it reached us over HTTPS (only known through a
/// trusted proxy's `X-Forwarded-Proto`).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr {
    /// The client's address (unspecified when unknown, e.g. in-memory tests).
    pub ip: IpAddr,
    /// The request came over HTTPS.
    pub https: bool,
}

impl FromRequestParts<Shared> for ClientAddr {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, AppError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        if !state.trust_proxy_headers {
            return Ok(ClientAddr {
                ip: peer,
                https: false,
            });
        }
        let header = |name: &str| {
            parts
                .headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .rfind(|v| !v.is_empty())
                .map(str::to_string)
        };
        let ip = header("x-forwarded-for")
            .and_then(|v| v.parse().ok())
            .unwrap_or(peer);
        let https = header("x-forwarded-proto").is_some_and(|p| p.eq_ignore_ascii_case("https"));
        Ok(ClientAddr { ip, https })
    }
}

/// Is `host` (a `Host` header) a loopback name or address, with `port` if given?
pub fn loopback_host(host: &str, port: Option<u16>) -> bool {
    let (name, given_port) = match host.rsplit_once(':') {
        Some((n, p)) if !n.ends_with(':') && p.bytes().all(|b| b.is_ascii_digit()) => {
            (n, p.parse::<u16>().ok())
        }
        _ => (host, None),
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    let loopback = name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    let port_ok = match (port, given_port) {
        (Some(want), Some(got)) => want == got,
        (Some(want), None) => want == 80,
        (None, _) => true,
    };
    loopback && port_ok
}

/// Compares two secrets in time independent of where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl FromRequestParts<Shared> for Viewer {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Viewer, AppError> {
        let viewer = if !state.auth_enabled {
            Viewer {
                user: None,
                role: Role::Admin,
                allowed_lists: None,
                csrf: state.open_csrf.clone(),
                token: None,
            }
        } else {
            let tokens = cookies(parts, SESSION_COOKIE);
            if tokens.is_empty() {
                return Err(AppError::Unauthorized);
            }
            let users = state.users.clone().ok_or(AppError::Internal)?;
            // The first cookie that names a live session.
            let (token, session) = blocking(move || {
                for t in tokens {
                    if let Some(s) = users.session(&t)? {
                        return Ok(Some((t, s)));
                    }
                }
                Ok(None)
            })
            .await?
            .ok_or(AppError::Unauthorized)?;
            Viewer {
                user: Some(session.user.name.clone()),
                role: session.user.role,
                allowed_lists: session.user.allowed_lists(),
                csrf: session.csrf,
                token: Some(token),
            }
        };
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            let sent = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !same_secret(sent, &viewer.csrf) {
                return Err(AppError::Forbidden("missing or wrong CSRF token"));
            }
        }
        Ok(viewer)
    }
}

#[cfg(test)]
mod tests {
    use super::loopback_host;

    #[test]
    fn only_loopback_hosts_on_the_listen_port() {
        for ok in [
            "localhost:8080",
            "127.0.0.1:8080",
            "[::1]:8080",
            "LOCALHOST:8080",
        ] {
            assert!(loopback_host(ok, Some(8080)), "{ok}");
        }
        for bad in [
            "evil.example:8080",
            "127.0.0.1:9999",
            "127.0.0.1.evil.example:8080",
            "",
            "localhost.:8080",
            "[::1]",
        ] {
            assert!(!loopback_host(bad, Some(8080)), "{bad}");
        }
        assert!(loopback_host("127.0.0.1", Some(80)));
        assert!(loopback_host("localhost:1234", None));
    }
}
