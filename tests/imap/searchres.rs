//! SEARCHRES (RFC 5182) through imaplib raw commands on the bundled sample:
//! advertised; `SEARCH RETURN (SAVE)` answers no ESEARCH and keeps the
//! result; `$` in SEARCH, UID SEARCH, FETCH and UID FETCH is that result;
//! `$` is empty before a save, after a failed SAVE and after UNSELECT/SELECT.

use super::{on_sample, DEV};

#[test]
fn searchres_saves_a_result_for_dollar() {
    let Some(out) = on_sample(&format!(
        r#"
M = conn()
raw = raw_on(M)
out['caps'] = raw('CAPABILITY')
out['select'] = raw('SELECT {DEV}')
out['before'] = raw('FETCH $ (UID)')
out['plain'] = raw('UID SEARCH SUBJECT deprecat')
out['save'] = raw('SEARCH RETURN (SAVE) SUBJECT deprecat')
out['uid_dollar'] = raw('UID SEARCH UID $')
out['seq_dollar'] = raw('UID SEARCH $')
out['not_dollar'] = raw('SEARCH NOT $')
out['all'] = raw('SEARCH ALL')
out['fetch'] = raw('FETCH $ (UID)')
out['uid_fetch'] = raw('UID FETCH $ (FLAGS)')
out['copy'] = raw('COPY $ INBOX')
out['save_min'] = raw('SEARCH RETURN (SAVE MIN) ALL')
out['after_min'] = raw('SEARCH $')
out['save_bad'] = raw('SEARCH RETURN (SAVE) NOSUCHKEY')
out['after_bad'] = raw('SEARCH $')
out['save_again'] = raw('SEARCH RETURN (SAVE) ALL')
out['unselect'] = raw('UNSELECT')
out['reselect'] = raw('SELECT {DEV}')
out['after_select'] = raw('SEARCH $')
"#
    )) else {
        return;
    };
    let lines = |k: &str| super::answer(&out, k);
    // The numbers of the `* SEARCH` line of command `k`, its tagged line OK.
    let search = |k: &str| -> Vec<u32> {
        let l = lines(k);
        assert!(l.last().is_some_and(|t| t.contains(" OK ")), "{k}: {l:?}");
        l.iter()
            .find_map(|x| x.strip_prefix("* SEARCH"))
            .unwrap_or_else(|| panic!("{k}: {l:?}"))
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect()
    };
    assert!(lines("caps")[0].contains(" SEARCHRES"), "{out}");
    // Before any save `$` is empty.
    let before = lines("before");
    assert!(
        before.len() == 1 && before[0].contains(" OK "),
        "{before:?}"
    );
    let plain = search("plain");
    assert!(!plain.is_empty(), "{out}");
    // SAVE alone: only the tagged OK.
    let save = lines("save");
    assert!(save.len() == 1 && save[0].contains(" OK "), "{save:?}");
    assert_eq!(search("uid_dollar"), plain);
    assert_eq!(search("seq_dollar"), plain);
    assert_eq!(
        search("not_dollar").len() + plain.len(),
        search("all").len(),
        "{out}"
    );
    let fetched = |k: &str| -> Vec<u32> {
        lines(k)
            .iter()
            .filter_map(|l| l.split("UID ").nth(1))
            .filter_map(|r| r.split([' ', ')']).next())
            .filter_map(|n| n.parse().ok())
            .collect()
    };
    assert_eq!(fetched("fetch"), plain);
    assert_eq!(fetched("uid_fetch"), plain);
    assert!(lines("copy")[0].contains("NO [READ-ONLY]"), "{out}");
    // SAVE with MIN keeps only the first message.
    assert!(lines("save_min")[0].starts_with("* ESEARCH"), "{out}");
    assert_eq!(search("after_min"), vec![1]);
    // A failed SAVE empties `$`.
    assert!(lines("save_bad")[0].contains(" BAD "), "{out}");
    assert!(search("after_bad").is_empty(), "{out}");
    // SELECT resets it.
    assert!(lines("reselect").last().is_some_and(|l| l.contains(" OK ")));
    assert!(search("after_select").is_empty(), "{out}");
}
