//! UTF8=ACCEPT (RFC 6855) through imaplib raw commands: advertised;
//! `ENABLE UTF8=ACCEPT` answered `* ENABLED UTF8=ACCEPT` (once); after it a
//! UTF-8 mailbox name goes out as a quoted UTF-8 string (before: a literal),
//! and a quoted UTF-8 name selects the mailbox.

use super::{program, python, Site};

#[test]
fn utf8_accept_sends_and_takes_utf8_mailbox_names() {
    let Some(py) = program("python3") else {
        return;
    };
    let site =
        Site::new("[[imap.folder]]\nname = \"Saved/Café\"\nquery = \"subject:deprecating\"\n");
    let server = site.serve();
    let out = python(
        &py,
        server.port,
        r#"
M = conn()
raw = raw_on(M, 'utf-8')
out['caps'] = raw('CAPABILITY')
out['list_before'] = raw('LIST "" "Saved/*"')
out['enable'] = raw('ENABLE UTF8=ACCEPT')
out['enable_again'] = raw('ENABLE UTF8=ACCEPT')
out['list_after'] = raw('LIST "" "Saved/*"')
out['status'] = raw('STATUS "Saved/Café" (MESSAGES)')
out['plain'] = raw('EXAMINE "Saved/Deprecations"')
out['select'] = raw('EXAMINE "Saved/Café"')
"#,
    );
    let text = |k: &str| super::answer(&out, k).join("\n");
    assert!(text("caps").contains(" UTF8=ACCEPT"), "{out}");
    assert!(!text("list_before").contains("\"Saved/Café\""), "{out}");
    assert!(text("enable").starts_with("* ENABLED UTF8=ACCEPT"), "{out}");
    assert!(!text("enable_again").contains("UTF8=ACCEPT"), "{out}");
    assert!(
        text("list_after").contains("* LIST (\\HasNoChildren) \"/\" \"Saved/Café\""),
        "{out}"
    );
    assert!(
        text("status").contains("* STATUS \"Saved/Café\" (MESSAGES "),
        "{out}"
    );
    // The same query as Saved/Deprecations: the same number of messages.
    let exists = |k: &str| {
        text(k)
            .lines()
            .find(|l| l.ends_with(" EXISTS"))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("{k}: {out}"))
    };
    assert!(text("select").contains("OK [READ-ONLY]"), "{out}");
    assert_eq!(exists("select"), exists("plain"));
}
