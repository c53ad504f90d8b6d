//! TLS on the IMAP server: implicit TLS on `listen_tls` and STARTTLS on the
//! plain port, with a throwaway certificate made by `openssl req` (an
//! outside program, Debian `openssl`), driven by Python's imaplib and ssl,
//! `curl --ssl-reqd` (imaps:// and imap:// with STARTTLS) and mbsync
//! (`SSLType IMAPS` / `STARTTLS` with `CertificateFile`). `LOGINDISABLED`
//! before STARTTLS is pinned with `plain_login = "never"` on loopback, and on
//! a real non-loopback address when the machine has one.

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{mbsync_pulls_dev, program, python, sample_files, Site, DEV, PW};

/// A self-signed certificate for `127.0.0.1`/`localhost` (and `extra_ip`),
/// as (cert, key) PEM files in `dir`.
fn certificate(openssl: &Path, dir: &Path, extra_ip: Option<&str>) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let mut san = String::from("subjectAltName=IP:127.0.0.1,DNS:localhost");
    if let Some(ip) = extra_ip {
        san.push_str(&format!(",IP:{ip}"));
    }
    let res = Command::new(openssl)
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args(["-subj", "/CN=localhost", "-addext", &san, "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(
        res.status.success(),
        "openssl req: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    (cert, key)
}

/// A site serving TLS with a fresh certificate (beside its config, named
/// relative to it); `imap`: more `[imap]` keys.
fn tls_site(openssl: &Path, imap: &str, extra_ip: Option<&str>) -> (Site, PathBuf) {
    let site = Site::build(
        true,
        &format!(
            "listen = \"127.0.0.1:0\"\nlisten_tls = \"127.0.0.1:0\"\ncert = \"cert.pem\"\nkey = \"key.pem\"\n{imap}"
        ),
        "",
    );
    let (cert, _) = certificate(openssl, site.dir.path(), extra_ip);
    (site, cert)
}

#[test]
fn imaplib_over_implicit_tls_and_starttls_and_no_login_in_clear() {
    let (Some(py), Some(openssl)) = (program("python3"), program("openssl")) else {
        return;
    };
    let (site, cert) = tls_site(&openssl, "plain_login = \"never\"\n", None);
    let server = site.serve();
    let tls_port = server.tls_port.expect("imaps port");
    let script = format!(
        r#"
import ssl, socket
ctx = ssl.create_default_context(cafile={cert:?})
# Implicit TLS: the handshake first, then the greeting.
T = imaplib.IMAP4_SSL('127.0.0.1', {tls_port}, ssl_context=ctx)
out['tls_caps'] = s(list(T.capabilities))
out['tls_version'] = T.sock.version()
T.login('admin', 'pw')
typ, dat = T.select('{DEV}', readonly=True)
out['tls_exists'] = s(dat)
typ, dat = T.fetch('1:*', '(UID BODY.PEEK[])')
out['tls_bodies'] = bodies(dat)
T.logout()
# Plain port, plain_login = never: no login before STARTTLS.
P = imaplib.IMAP4('127.0.0.1', port)
out['plain_caps'] = s(list(P.capabilities))
try:
    P.login('admin', 'pw'); out['plain_login'] = 'OK'
except imaplib.IMAP4.error as e:
    out['plain_login'] = str(e)
try:
    P.authenticate('PLAIN', lambda _: b'\0admin\0pw'); out['plain_auth'] = 'OK'
except imaplib.IMAP4.error as e:
    out['plain_auth'] = str(e)
P.starttls(ssl_context=ctx)
out['starttls_caps'] = s(list(P.capabilities))
out['starttls_version'] = P.sock.version()
P.login('admin', 'pw')
typ, dat = P.select('{DEV}', readonly=True)
out['starttls_exists'] = s(dat)
out['starttls_search'] = s(P.uid('search', None, 'SUBJECT', 'deprecat')[1][0])
P.logout()
# Commands sent in clear behind STARTTLS are dropped, not run encrypted.
raw = socket.create_connection(('127.0.0.1', port))
f = raw.makefile('rb')
f.readline()
raw.sendall(b'a STARTTLS\r\nb LOGIN admin pw\r\n')
out['injected_ok'] = s(f.readline())
t = ctx.wrap_socket(raw, server_hostname='localhost')
t.sendall(b'c NOOP\r\n')
tf = t.makefile('rb')
out['after_injection'] = s(tf.readline())
t.close()
"#
    );
    let out = python(&py, server.port, &script);
    let caps = |k: &str| -> Vec<String> {
        out[k]
            .as_array()
            .unwrap_or_else(|| panic!("{k}: {out}"))
            .iter()
            .map(|c| c.as_str().unwrap_or("").to_string())
            .collect()
    };
    let tls_caps = caps("tls_caps");
    assert!(tls_caps.contains(&"AUTH=PLAIN".into()), "{tls_caps:?}");
    assert!(!tls_caps.contains(&"STARTTLS".into()), "{tls_caps:?}");
    assert!(!tls_caps.contains(&"LOGINDISABLED".into()), "{tls_caps:?}");
    assert!(
        out["tls_version"]
            .as_str()
            .unwrap_or("")
            .starts_with("TLSv1."),
        "{out}"
    );
    let tls_bodies = out["tls_bodies"].as_object().expect("bodies");
    let files = sample_files(DEV);
    assert_eq!(tls_bodies.len(), files.len(), "every dev message over TLS");
    for (uid, parts) in tls_bodies {
        let bytes = super::latin1(&parts[0]);
        assert!(files.contains(&bytes), "UID {uid} over TLS byte for byte");
    }
    let plain_caps = caps("plain_caps");
    assert!(plain_caps.contains(&"STARTTLS".into()), "{plain_caps:?}");
    assert!(
        plain_caps.contains(&"LOGINDISABLED".into()),
        "{plain_caps:?}"
    );
    assert!(!plain_caps.contains(&"AUTH=PLAIN".into()), "{plain_caps:?}");
    let refused = |k: &str| {
        let v = out[k].as_str().unwrap_or("");
        assert!(v.contains("PRIVACYREQUIRED"), "{k}: {v}");
    };
    refused("plain_login");
    refused("plain_auth");
    let after = caps("starttls_caps");
    assert!(after.contains(&"AUTH=PLAIN".into()), "{after:?}");
    assert!(!after.contains(&"STARTTLS".into()), "{after:?}");
    assert!(!after.contains(&"LOGINDISABLED".into()), "{after:?}");
    assert_eq!(out["starttls_exists"], out["tls_exists"]);
    assert!(
        !out["starttls_search"].as_str().unwrap_or("").is_empty(),
        "{out}"
    );
    assert!(
        out["injected_ok"]
            .as_str()
            .unwrap_or("")
            .starts_with("a OK"),
        "{out}"
    );
    assert!(
        out["after_injection"]
            .as_str()
            .unwrap_or("")
            .starts_with("c OK"),
        "the pipelined LOGIN was dropped: {out}"
    );
}

#[test]
fn curl_and_mbsync_fetch_over_imaps_and_starttls() {
    let (Some(curl), Some(mbsync), Some(openssl)) =
        (program("curl"), program("mbsync"), program("openssl"))
    else {
        return;
    };
    let (site, cert) = tls_site(&openssl, "", None);
    let server = site.serve();
    let tls_port = server.tls_port.expect("imaps port");
    let files = sample_files(DEV);
    for url in [
        format!("imaps://localhost:{tls_port}/{DEV};UID=1"),
        format!("imap://localhost:{}/{DEV};UID=1", server.port),
    ] {
        // --ssl-reqd: STARTTLS or fail, never clear text.
        let res = Command::new(&curl)
            .args(["-s", "--ssl-reqd", "--cacert"])
            .arg(&cert)
            .args(["-u", &format!("admin:{PW}"), &url])
            .output()
            .expect("curl");
        assert!(res.status.success(), "curl {url}: {res:?}");
        assert!(
            files.contains(&res.stdout),
            "{url}: a dev message byte for byte"
        );
    }
    // Without the certificate curl refuses the server: TLS really happened.
    let res = Command::new(&curl)
        .args(["-s", "--ssl-reqd", "-u", &format!("admin:{PW}")])
        .arg(format!("imaps://localhost:{tls_port}/{DEV};UID=1"))
        .output()
        .expect("curl");
    assert!(!res.status.success(), "an unknown certificate is refused");
    let cert = cert.display();
    mbsync_pulls_dev(
        &mbsync,
        &site,
        // mbsync matches the certificate's names, not its IP addresses.
        &format!("Host localhost\nPort {tls_port}\nSSLType IMAPS\nCertificateFile {cert}\n"),
        "imaps",
    );
    mbsync_pulls_dev(
        &mbsync,
        &site,
        &format!(
            "Host localhost\nPort {}\nSSLType STARTTLS\nCertificateFile {cert}\n",
            server.port
        ),
        "starttls",
    );
}

/// This machine's address on its default route, when it has one.
fn non_loopback_ip() -> Option<std::net::IpAddr> {
    let s = UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[test]
fn a_non_loopback_client_gets_logindisabled_until_starttls() {
    let (Some(py), Some(openssl)) = (program("python3"), program("openssl")) else {
        return;
    };
    let Some(ip) = non_loopback_ip() else {
        // The rule itself is pinned on loopback with plain_login = "never".
        eprintln!("NOTICE: no non-loopback address on this machine: test SKIPPED");
        return;
    };
    let site = Site::build(
        true,
        &format!("listen = \"{ip}:0\"\ncert = \"cert.pem\"\nkey = \"key.pem\"\n"),
        "",
    );
    let (cert, _) = certificate(&openssl, site.dir.path(), Some(&ip.to_string()));
    let server = site.serve();
    let script = format!(
        r#"
import ssl
ctx = ssl.create_default_context(cafile={cert:?})
P = imaplib.IMAP4('{ip}', port)
out['caps'] = s(list(P.capabilities))
try:
    P.login('admin', 'pw'); out['login'] = 'OK'
except imaplib.IMAP4.error as e:
    out['login'] = str(e)
P.starttls(ssl_context=ctx)
out['after'] = s(list(P.capabilities))
out['login_tls'] = P.login('admin', 'pw')[0]
"#
    );
    let out = python(&py, server.port, &script);
    let text = out.to_string();
    let caps = out["caps"].to_string();
    assert!(
        caps.contains("LOGINDISABLED") && caps.contains("STARTTLS"),
        "{text}"
    );
    assert!(!caps.contains("AUTH=PLAIN"), "{text}");
    assert!(
        out["login"]
            .as_str()
            .unwrap_or("")
            .contains("PRIVACYREQUIRED"),
        "{text}"
    );
    assert!(out["after"].to_string().contains("AUTH=PLAIN"), "{text}");
    assert_eq!(out["login_tls"], "OK", "{text}");
}
