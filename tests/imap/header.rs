//! SEARCH HEADER of fields the index does not keep (read from each
//! candidate message), checked against the sample's files themselves; and
//! THREAD refusing a charset it does not know, as SEARCH and SORT do.

use std::collections::BTreeSet;

use super::{on_sample, sample_files, DEV};

/// How many of the dev list's files have header `name` containing `needle`
/// (case-insensitive; "" = has the field at all).
fn files_with(name: &str, needle: &str) -> usize {
    let prefix = format!("{}:", name.to_ascii_lowercase());
    sample_files(DEV)
        .iter()
        .filter(|f| {
            let text = String::from_utf8_lossy(f);
            let head = text.split("\r\n\r\n").next().unwrap_or("");
            head.split("\r\n").any(|l| {
                l.to_ascii_lowercase().starts_with(&prefix)
                    && l[prefix.len()..]
                        .to_lowercase()
                        .contains(&needle.to_lowercase())
            })
        })
        .count()
}

fn count(line: &serde_json::Value) -> usize {
    line.as_str()
        .unwrap_or("")
        .split_whitespace()
        .filter(|n| n.parse::<u32>().is_ok())
        .collect::<BTreeSet<_>>()
        .len()
}

#[test]
fn search_header_reads_any_field_and_thread_checks_its_charset() {
    let Some(out) = on_sample(&format!(
        r#"
M = conn()
M.select('{DEV}', readonly=True)
def usearch(*a): return s(M.uid('search', None, *a)[1][0])
out['sylpheed'] = usearch('HEADER', 'X-Mailer', 'sylpheed')
out['outlook'] = usearch('HEADER', 'x-mailer', '"Outlook 16"')
out['has_ua'] = usearch('HEADER', 'User-Agent', '""')
out['mutt_since'] = usearch('HEADER', 'User-Agent', 'mutt', 'SINCE', '1-Jan-2015')
out['mutt'] = usearch('HEADER', 'User-Agent', 'mutt')
out['not_mutt'] = usearch('NOT', 'HEADER', 'User-Agent', 'mutt')
out['all'] = usearch('ALL')
try:
    M.uid('search', None, 'HEADER', '"Bad:Name"', 'x'); out['bad_name'] = 'OK'
except imaplib.IMAP4.error as e:
    out['bad_name'] = str(e)
typ, dat = M.thread('REFERENCES', 'KOI8-R', 'ALL')
out['thread_charset'] = typ + ' ' + str(s(dat))
out['thread_ok'] = M.thread('REFERENCES', 'US-ASCII', 'HEADER', 'X-Mailer', 'sylpheed')[0]
"#
    )) else {
        return;
    };
    let sylpheed = files_with("X-Mailer", "sylpheed");
    assert!(sylpheed > 0);
    assert_eq!(count(&out["sylpheed"]), sylpheed, "{}", out["sylpheed"]);
    assert_eq!(count(&out["outlook"]), files_with("X-Mailer", "outlook 16"));
    assert_eq!(count(&out["has_ua"]), files_with("User-Agent", ""));
    let mutt = count(&out["mutt"]);
    assert_eq!(mutt, files_with("User-Agent", "mutt"));
    assert!(count(&out["mutt_since"]) < mutt, "{out}");
    assert_eq!(mutt + count(&out["not_mutt"]), count(&out["all"]));
    assert!(
        out["bad_name"].as_str().unwrap_or("").contains("BAD"),
        "{out}"
    );
    assert!(
        out["thread_charset"]
            .as_str()
            .unwrap_or("")
            .starts_with("NO ['[BADCHARSET"),
        "{}",
        out["thread_charset"]
    );
    assert_eq!(out["thread_ok"], "OK");
}
