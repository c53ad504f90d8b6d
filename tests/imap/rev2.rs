//! IMAP4rev2 (RFC 9051) for a read-only server, driven through imaplib
//! with raw commands: advertised, `ENABLE IMAP4rev2`, then no RECENT,
//! SELECT with its LIST line and `[CLOSED]`, SEARCH answered as ESEARCH,
//! STATUS SIZE, LIST-EXTENDED options, `\NonExistent` levels, BINARY; and
//! the same commands before ENABLE still answered as RFC 3501 says.

use super::{on_sample, DEV};

#[test]
fn imap4rev2_enabled_changes_the_answers() {
    let Some(out) = on_sample(&format!(
        r#"
M = conn()
raw = raw_on(M)
out['caps'] = raw('CAPABILITY')
out['rev1_select'] = raw('EXAMINE {DEV}')
out['rev1_search'] = raw('UID SEARCH SUBJECT deprecat')
out['rev1_status'] = raw('STATUS {DEV} (MESSAGES RECENT SIZE)')
out['enable'] = raw('ENABLE IMAP4rev2')
out['enable_again'] = raw('ENABLE IMAP4rev2')
out['select'] = raw('SELECT {DEV}')
out['select_inbox'] = raw('SELECT INBOX')
out['search'] = raw('UID SEARCH SUBJECT deprecat')
out['search_none'] = raw('SEARCH SUBJECT zzqqnothing')
out['status'] = raw('STATUS {DEV} (MESSAGES RECENT SIZE UIDNEXT)')
out['list'] = raw('LIST "" "*"')
out['list_ext'] = raw('LIST (SUBSCRIBED) "" "%" RETURN (CHILDREN STATUS (MESSAGES SIZE))')
out['list_bad'] = raw('LIST (NOSUCHOPTION) "" "*"')
out['binary'] = raw('FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1]<0.20>)')
out['noop'] = raw('NOOP')
"#
    )) else {
        return;
    };
    let lines = |k: &str| super::answer(&out, k);
    let text = |k: &str| lines(k).join("\n");
    let caps = text("caps");
    for c in [
        "IMAP4rev1",
        "IMAP4rev2",
        "ENABLE",
        "STATUS=SIZE",
        "BINARY",
        "ESEARCH",
        "LIST-EXTENDED",
    ] {
        assert!(caps.contains(c), "{c}: {caps}");
    }
    // Before ENABLE: RFC 3501 answers.
    assert!(
        text("rev1_select").contains(" RECENT"),
        "{}",
        text("rev1_select")
    );
    assert!(
        lines("rev1_search")[0].starts_with("* SEARCH "),
        "{}",
        text("rev1_search")
    );
    assert!(
        text("rev1_status").contains("RECENT 0"),
        "{}",
        text("rev1_status")
    );
    // ENABLE says what it enabled, once.
    assert_eq!(
        lines("enable")[0],
        "* ENABLED IMAP4rev2",
        "{}",
        text("enable")
    );
    assert_eq!(
        lines("enable_again")[0],
        "* ENABLED",
        "{}",
        text("enable_again")
    );
    // SELECT: no RECENT, a LIST line for the mailbox, [CLOSED] when one was open.
    let select = text("select");
    assert!(!select.contains("RECENT"), "{select}");
    assert!(
        select.contains(&format!("* LIST (\\HasNoChildren) \"/\" \"{DEV}\"")),
        "{select}"
    );
    assert!(select.contains("* OK [CLOSED]"), "EXAMINE before: {select}");
    assert!(select.contains("[READ-ONLY]"), "{select}");
    assert!(text("select_inbox").contains("* OK [CLOSED]"));
    // SEARCH answers ESEARCH with the command's tag; the same UIDs as before.
    let search = lines("search");
    let tagged = search
        .last()
        .expect("tagged")
        .split(' ')
        .next()
        .unwrap_or("")
        .to_string();
    assert!(
        search[0].starts_with(&format!("* ESEARCH (TAG \"{tagged}\") UID ALL ")),
        "{search:?}"
    );
    let rev1: Vec<u32> = lines("rev1_search")[0]
        .split_whitespace()
        .skip(2)
        .filter_map(|n| n.parse().ok())
        .collect();
    assert!(!rev1.is_empty());
    let set = search[0].rsplit(' ').next().unwrap_or("");
    let count: usize = set
        .split(',')
        .map(|p| match p.split_once(':') {
            Some((a, b)) => (b.parse::<usize>().unwrap() - a.parse::<usize>().unwrap()) + 1,
            None => 1,
        })
        .sum();
    assert_eq!(count, rev1.len(), "{search:?} vs {rev1:?}");
    let none = lines("search_none");
    assert!(
        none[0].starts_with("* ESEARCH (TAG ") && !none[0].contains("ALL"),
        "{none:?}"
    );
    // STATUS: SIZE is the mailbox's bytes, RECENT is gone.
    let status = text("status");
    assert!(!status.contains("RECENT"), "{status}");
    let size: u64 = status
        .split("SIZE ")
        .nth(1)
        .and_then(|r| r.split([' ', ')']).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{status}"));
    let files = super::sample_files(DEV);
    let raw_total: u64 = files.iter().map(|f| f.len() as u64).sum();
    assert!(
        size > raw_total / 2 && size <= raw_total,
        "{size} vs {raw_total}"
    );
    // LIST: the level above the saved search does not exist; SUBSCRIBED and STATUS.
    let list = text("list");
    assert!(
        list.contains("* LIST (\\NonExistent \\HasChildren) \"/\" \"Saved\""),
        "{list}"
    );
    let ext = text("list_ext");
    assert!(
        ext.contains(&format!(
            "* LIST (\\HasNoChildren \\Subscribed) \"/\" \"{DEV}\""
        )),
        "{ext}"
    );
    assert!(
        ext.contains(&format!("* STATUS \"{DEV}\" (MESSAGES ")) && ext.contains(" SIZE "),
        "{ext}"
    );
    assert!(
        lines("list_bad").last().expect("tagged").contains(" BAD "),
        "{}",
        text("list_bad")
    );
    let binary = text("binary");
    assert!(
        binary.contains("BINARY.SIZE[1] ") && binary.contains("BINARY[1]<0>"),
        "{binary}"
    );
    assert!(!text("noop").contains("RECENT"));
}
