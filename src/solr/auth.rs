//! HTTP Basic authentication for the Solr endpoint.
//!
//! Dovecot sends `Authorization: Basic …` on every request when its
//! `url=http://user:pass@host/…` carries credentials. Comparison is in
//! constant time. Pure: no I/O, no state.

use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::SolrError;

/// Accepts the request only if it carries exactly `user`:`password`.
pub fn check_basic(headers: &HeaderMap, user: &str, password: &str) -> Result<(), SolrError> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_basic)
        .ok_or(SolrError::Unauthorized)?;
    let expected = format!("{user}:{password}");
    if constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(SolrError::Unauthorized)
    }
}

/// The decoded `user:password` of a `Basic` authorization value.
pub fn parse_basic(value: &str) -> Option<String> {
    let (scheme, b64) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let bytes = STANDARD.decode(b64.trim()).ok()?;
    String::from_utf8(bytes).ok()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        let y = b.get(i % b.len().max(1)).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(v).expect("ascii"),
        );
        h
    }

    #[test]
    fn basic_auth() {
        let good = format!("Basic {}", STANDARD.encode("dovecot:s3cret"));
        assert!(check_basic(&with(&good), "dovecot", "s3cret").is_ok());
        let bad = format!("Basic {}", STANDARD.encode("dovecot:s3cre"));
        assert!(check_basic(&with(&bad), "dovecot", "s3cret").is_err());
        assert!(check_basic(&with("Bearer x"), "dovecot", "s3cret").is_err());
        assert!(check_basic(&HeaderMap::new(), "dovecot", "s3cret").is_err());
        assert_eq!(
            parse_basic(&format!("basic  {}", STANDARD.encode("a:b:c"))).as_deref(),
            Some("a:b:c")
        );
    }
}
