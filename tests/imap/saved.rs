//! Per-user saved searches: saved through the JSON API (as the web UI's
//! "Save search" does), they are IMAP mailboxes `Saved/<name>` for their
//! owner only, holding what the query matches within the owner's grants.

use std::net::SocketAddr;

use serde_json::{json, Value};

use super::{program, python, sample_files, total, Site, DEV, PW};
use crate::common;

/// Logs `user` in over HTTP: (cookie, csrf token).
fn login(addr: SocketAddr, user: &str) -> (String, String) {
    let body = json!({"username": user, "password": PW}).to_string();
    let res = common::http(
        addr,
        "POST",
        "/api/login",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!(res.status, 200, "login {user}: {}", res.text());
    let cookie = res
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("cookie")
        .to_string();
    let me = common::get(addr, "/api/me", &[("Cookie", &cookie)]);
    let csrf = me.json()["csrf_token"].as_str().expect("csrf").to_string();
    (cookie, csrf)
}

fn save(addr: SocketAddr, who: &(String, String), name: &str, query: &str) -> (u16, Value) {
    let body = json!({"name": name, "query": query}).to_string();
    let res = common::http(
        addr,
        "POST",
        "/api/saved-searches",
        &[
            ("Cookie", &who.0),
            ("X-CSRF-Token", &who.1),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    );
    (res.status, res.json())
}

const LISTING: &str = r#"
def listing(user):
    M = conn(user)
    names = [s(x) for x in M.list('""', '*')[1]]
    M.logout()
    return names
"#;

#[test]
fn a_users_saved_searches_are_their_own_mailboxes_within_grants() {
    let Some(py) = program("python3") else { return };
    let site = Site::new("");
    let server = site.serve();
    let addr: SocketAddr = ([127, 0, 0, 1], server.http_port).into();
    let (admin, rd) = (login(addr, "admin"), login(addr, "rd"));
    let (status, saved) = save(addr, &rd, "Mine/Deprecations", "subject:deprecating");
    assert_eq!(status, 200, "{saved}");
    let rd_id = saved["saved_search"]["id"].as_i64().expect("id");
    assert_eq!(
        save(addr, &admin, "Admins only", "subject:deprecating").0,
        200
    );
    // A query that does not parse, a bad name, or no CSRF token: refused.
    assert_eq!(save(addr, &rd, "Broken", "subject:(").0, 400);
    assert_eq!(save(addr, &rd, "a//b", "x").0, 400);
    let no_csrf = common::http(
        addr,
        "POST",
        "/api/saved-searches",
        &[("Cookie", &rd.0), ("Content-Type", "application/json")],
        br#"{"name":"x","query":"x"}"#,
    );
    assert_eq!(no_csrf.status, 403);
    // Each sees their own only.
    let mine = common::get(addr, "/api/saved-searches", &[("Cookie", &rd.0)]).json();
    let names: Vec<&str> = mine["saved_searches"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, vec!["Mine/Deprecations"], "{mine}");

    let out = python(
        &py,
        server.port,
        &format!(
            r#"{LISTING}
out['rd_list'] = listing('rd')
out['admin_list'] = listing('admin')
M = conn('rd')
typ, dat = M.select('"Saved/Mine/Deprecations"', readonly=True)
out['exists'] = s(dat)
typ, dat = M.fetch('1:*', '(UID BODY.PEEK[])')
out['bodies'] = bodies(dat)
out['status'] = s(M.status('"Saved/Mine/Deprecations"', '(MESSAGES)')[1])
try:
    typ, dat = M.select('"Saved/Admins only"', readonly=True); out['other'] = typ + ' ' + str(s(dat))
except imaplib.IMAP4.error as e:
    out['other'] = str(e)
M.logout()
"#
        ),
    );
    let rd_list = out["rd_list"].to_string();
    let admin_list = out["admin_list"].to_string();
    assert!(rd_list.contains("Saved/Mine/Deprecations"), "{rd_list}");
    assert!(
        rd_list.contains(r#"\"Saved/Mine\""#),
        "the level above: {rd_list}"
    );
    assert!(!rd_list.contains("Admins only"), "{rd_list}");
    assert!(admin_list.contains("Saved/Admins only"), "{admin_list}");
    assert!(!admin_list.contains("Mine/Deprecations"), "{admin_list}");
    // The mailbox holds what the query matches on rd's lists, byte for byte.
    let want = total(&site.data(), "subject:deprecating", Some(vec![DEV.into()]));
    assert!(want > 0);
    assert_eq!(
        out["exists"][0].as_str(),
        Some(want.to_string().as_str()),
        "{out}"
    );
    let files = sample_files(DEV);
    let bodies = out["bodies"].as_object().expect("bodies");
    assert_eq!(bodies.len(), want);
    for (uid, parts) in bodies {
        assert!(
            files.contains(&super::latin1(&parts[0])),
            "UID {uid}: a dev message"
        );
    }
    assert!(
        out["status"]
            .to_string()
            .contains(&format!("MESSAGES {want}")),
        "{out}"
    );
    assert!(
        out["other"].as_str().unwrap_or("").contains("NONEXISTENT"),
        "{out}"
    );
    // Deleted: gone from rd's mailboxes.
    let del = common::http(
        addr,
        "DELETE",
        &format!("/api/saved-searches/{rd_id}"),
        &[("Cookie", &rd.0), ("X-CSRF-Token", &rd.1)],
        b"",
    );
    assert_eq!(del.status, 200, "{}", del.text());
    // Someone else's id is not theirs to delete.
    let admins = common::get(addr, "/api/saved-searches", &[("Cookie", &admin.0)]).json();
    let admin_id = admins["saved_searches"][0]["id"].as_i64().expect("id");
    let del = common::http(
        addr,
        "DELETE",
        &format!("/api/saved-searches/{admin_id}"),
        &[("Cookie", &rd.0), ("X-CSRF-Token", &rd.1)],
        b"",
    );
    assert_eq!(del.status, 404);
    let out = python(
        &py,
        server.port,
        &format!(
            "{LISTING}\nout['rd_list'] = listing('rd')\nout['admin_list'] = listing('admin')\n"
        ),
    );
    assert!(!out["rd_list"].to_string().contains("Saved/Mine"), "{out}");
    assert!(
        out["admin_list"].to_string().contains("Saved/Admins only"),
        "{out}"
    );
}

/// The web UI's "Save search" in real Chromium: the saved search is listed on
/// the start page and is an IMAP mailbox; deleting it there removes the mailbox.
#[test]
fn saving_a_search_in_the_web_ui_makes_a_mailbox() {
    let Some(py) = program("python3") else { return };
    let Some(bin) = crate::wd::browser() else {
        return;
    };
    let site = Site::new("");
    let server = site.serve();
    let base = format!("http://127.0.0.1:{}", server.http_port);
    let s = crate::wd::Session::new(&bin, "saved-search", std::time::Duration::from_secs(20));
    s.submit_login(&format!("{base}/login"), "rd", PW);
    s.wait("document.querySelector('#user-name')");
    s.go(&format!("{base}/search?q=subject%3Adeprecating"));
    s.wait("document.querySelectorAll('#results .hit').length && document.querySelector('#save-search')");
    s.click("#save-search");
    s.wait("!document.querySelector('#save-form').hidden");
    s.js("document.querySelector('#save-name').value = ''; return 0;");
    s.type_into("#save-name", "From the UI");
    s.click("#save-submit");
    let status = s.wait(
        "document.querySelector('#save-status').textContent.includes('Saved') && document.querySelector('#save-status').textContent",
    );
    assert!(
        status.as_str().unwrap_or("").contains("Saved/From the UI"),
        "{status}"
    );
    s.shot("saved-search");
    s.go(&format!("{base}/"));
    let listed = s.wait("document.querySelector('#saved-list li') && document.querySelector('#saved-list').textContent");
    assert!(
        listed.as_str().unwrap_or("").contains("From the UI"),
        "{listed}"
    );
    let script = format!(
        "{LISTING}\nout['rd'] = listing('rd')\nM = conn('rd')\nout['exists'] = s(M.select('\"Saved/From the UI\"', readonly=True)[1])\n"
    );
    let out = python(&py, server.port, &script);
    assert!(out["rd"].to_string().contains("Saved/From the UI"), "{out}");
    let want = total(&site.data(), "subject:deprecating", Some(vec![DEV.into()]));
    assert_eq!(out["exists"][0], want.to_string(), "{out}");
    // Deleted on the start page: the mailbox is gone.
    s.click("#saved-list li button");
    s.wait("document.querySelector('#home-saved').hidden");
    let out = python(
        &py,
        server.port,
        &format!("{LISTING}\nout['rd'] = listing('rd')\n"),
    );
    assert!(!out["rd"].to_string().contains("From the UI"), "{out}");
}
