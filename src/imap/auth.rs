//! LOGIN and AUTHENTICATE PLAIN with gleaner's users (argon2 through
//! `access`), counted by the same failed-login back-off as the web login
//! (`access::throttle`). Without TLS only the clients `[imap] plain_login`
//! allows may log in (loopback by default); the others are told
//! `LOGINDISABLED` and refused before any credentials are read.

use base64::Engine;
use tokio::io::{AsyncRead, AsyncWrite};

use super::parser::Token;
use super::session::Session;
use super::{blocking, ImapError};

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    pub(super) async fn login(&mut self, tag: &str, args: &[Token]) -> Result<String, ImapError> {
        let (Some(user), Some(pass)) = (
            args.first().and_then(Token::as_astring),
            args.get(1).and_then(Token::as_astring),
        ) else {
            return Ok(format!("{tag} BAD LOGIN needs a user name and a password"));
        };
        if args.len() != 2 {
            return Ok(format!("{tag} BAD LOGIN takes two arguments"));
        }
        self.check_password(tag, user, pass).await
    }

    pub(super) async fn authenticate(
        &mut self,
        tag: &str,
        args: &[Token],
    ) -> Result<String, ImapError> {
        if !self.login_allowed() {
            return Ok(self.privacy_required(tag));
        }
        let mechanism = args.first().and_then(Token::as_astring).unwrap_or_default();
        if !mechanism.eq_ignore_ascii_case("PLAIN") {
            return Ok(format!(
                "{tag} NO [CANNOT] only AUTHENTICATE PLAIN is supported"
            ));
        }
        let encoded = match args.get(1).and_then(Token::as_astring) {
            Some(initial) => initial.into_bytes(),
            None => {
                self.line("+ ");
                self.flush().await?;
                match self.read_line().await? {
                    Some(line) => line,
                    None => return Err(ImapError::Io(std::io::ErrorKind::UnexpectedEof.into())),
                }
            }
        };
        if encoded == b"*" {
            return Ok(format!("{tag} BAD authentication cancelled"));
        }
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim_ascii())
        else {
            return Ok(format!("{tag} BAD invalid base64"));
        };
        // authzid NUL authcid NUL password
        let mut parts = decoded.split(|b| *b == 0);
        let (Some(authz), Some(user), Some(pass), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Ok(format!("{tag} BAD malformed PLAIN response"));
        };
        let (Ok(user), Ok(pass), Ok(authz)) = (
            String::from_utf8(user.to_vec()),
            String::from_utf8(pass.to_vec()),
            std::str::from_utf8(authz),
        ) else {
            return Ok(format!(
                "{tag} NO [AUTHENTICATIONFAILED] invalid credentials"
            ));
        };
        if !authz.is_empty() && authz != user {
            return Ok(format!(
                "{tag} NO [AUTHORIZATIONFAILED] acting as another user is not allowed"
            ));
        }
        self.check_password(tag, user, pass).await
    }

    async fn check_password(
        &mut self,
        tag: &str,
        user: String,
        pass: String,
    ) -> Result<String, ImapError> {
        if !self.login_allowed() {
            return Ok(self.privacy_required(tag));
        }
        let account = crate::access::throttle::account_key(&user);
        let attempt = match self.imap.throttle.begin(&account, self.peer.ip()) {
            Ok(a) => a,
            Err(backoff) => {
                return Ok(format!(
                    "{tag} NO [UNAVAILABLE] too many failed logins; retry in {} s",
                    backoff.retry_after.as_secs().max(1)
                ))
            }
        };
        let users = self.imap.users.clone();
        let found = blocking(move || Ok(users.verify(&user, &pass)?)).await?;
        match found {
            Some(u) => {
                attempt.succeeded();
                tracing::info!(user = %u.name, peer = %self.peer, "imap login");
                self.user = Some(u);
                let caps = self.capabilities();
                Ok(format!("{tag} OK [CAPABILITY {caps}] logged in"))
            }
            None => {
                let _ = attempt.failed();
                Ok(format!(
                    "{tag} NO [AUTHENTICATIONFAILED] invalid credentials"
                ))
            }
        }
    }

    fn privacy_required(&self, tag: &str) -> String {
        let how = if self.imap.tls.is_some() {
            "STARTTLS first, or use the TLS port"
        } else {
            "the server has no TLS configured; connect from loopback"
        };
        format!("{tag} NO [PRIVACYREQUIRED] no login without TLS: {how}")
    }
}
