//! STATUS SIZE (RFC 8438) equals the sum of the RFC822.SIZE values FETCH
//! reports for the same mailbox, on the bundled sample, whose files end
//! lines with a bare LF (so sizes as stored would undercount).

use super::{on_sample, DEV};

#[test]
fn status_size_is_the_sum_of_rfc822_size() {
    let Some(out) = on_sample(&format!(
        r#"
M = conn()
for box in ['{DEV}', 'INBOX']:
    typ, st = M.status(box, '(MESSAGES SIZE)')
    typ2, st2 = M.status(box, '(SIZE)')
    M.select(box, readonly=True)
    typ, data = M.fetch('1:*', '(RFC822.SIZE)')
    sizes = [int(x.decode().split('RFC822.SIZE ')[1].split(')')[0]) for x in data if x]
    out[box] = {{'status': st[0].decode(), 'again': st2[0].decode(), 'sizes': sizes}}
    M.close()
"#
    )) else {
        return;
    };
    let raw_total: u64 = ["cur", "new"]
        .iter()
        .flat_map(|d| {
            std::fs::read_dir(crate::common::sample().join("dev").join(d)).expect("maildir")
        })
        .map(|e| {
            std::fs::metadata(e.expect("entry").path())
                .expect("meta")
                .len()
        })
        .sum();
    for mailbox in [DEV, "INBOX"] {
        let o = &out[mailbox];
        let status = o["status"].as_str().unwrap_or("");
        let size: u64 = status
            .split("SIZE ")
            .nth(1)
            .and_then(|r| r.split([' ', ')']).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{out}"));
        let sizes: Vec<u64> = o["sizes"]
            .as_array()
            .unwrap_or_else(|| panic!("{out}"))
            .iter()
            .filter_map(|v| v.as_u64())
            .collect();
        assert!(!sizes.is_empty(), "{out}");
        assert!(
            status.contains(&format!("MESSAGES {}", sizes.len())),
            "{out}"
        );
        assert_eq!(size, sizes.iter().sum::<u64>(), "{mailbox}: {out}");
        // The second STATUS answers from what the first measured: same figure.
        assert!(
            o["again"]
                .as_str()
                .unwrap_or("")
                .contains(&format!("SIZE {size}")),
            "{out}"
        );
    }
    // The sample's files end lines with bare LF: CRLF sizes are larger.
    let dev_fetched: u64 = out[DEV]["sizes"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_u64()).sum())
        .unwrap_or(0);
    assert!(dev_fetched > raw_total, "{dev_fetched} vs {raw_total}");
}
