//! Tests of the streaming update parser, including input split at random points.

use proptest::prelude::*;

use super::*;

fn parse_all(chunks: &[&[u8]]) -> Result<Vec<UpdateOp>, XmlError> {
    let mut p = UpdateParser::new();
    let mut ops = Vec::new();
    for c in chunks {
        p.feed(c)?;
        ops.extend(p.take_ops());
    }
    ops.extend(p.finish()?);
    Ok(ops)
}

fn doc(fields: &[(&str, &str)]) -> UpdateOp {
    UpdateOp::Add(ImapDoc {
        fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    })
}

/// Escapes a value the way Dovecot's fts-backend-solr.c does.
fn dovecot_escape(v: &str) -> String {
    let mut out = String::new();
    for c in v.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

#[test]
fn dovecot_add_as_captured() {
    let body = "<add><doc><field name=\"uid\">3</field><field name=\"box\">de82</field><field name=\"user\">testuser</field><field name=\"id\">3/de82/testuser</field><field name=\"body\">Grüße aus München, a+b:c (x)   control\n\n</field><field name=\"from\">Jürgen &lt;juergen@example.de&gt;\n</field><field name=\"bcc\"></field></doc></add>";
    let ops = parse_all(&[body.as_bytes()]).expect("valid");
    assert_eq!(
        ops,
        vec![doc(&[
            ("uid", "3"),
            ("box", "de82"),
            ("user", "testuser"),
            ("id", "3/de82/testuser"),
            ("body", "Grüße aus München, a+b:c (x)   control\n\n"),
            ("from", "Jürgen <juergen@example.de>\n"),
            ("bcc", ""),
        ])]
    );
}

#[test]
fn delete_commit_and_extras() {
    let body = b"<?xml version=\"1.0\"?><!-- c --><delete><id>1/g/u</id><id> 2/g/u </id><query>box:g</query></delete><commit softCommit=\"true\" waitSearcher=\"false\"/><optimize/>";
    assert_eq!(
        parse_all(&[body]).expect("valid"),
        vec![
            UpdateOp::DeleteId("1/g/u".into()),
            UpdateOp::DeleteId("2/g/u".into()),
            UpdateOp::DeleteQuery("box:g".into()),
            UpdateOp::Commit,
            UpdateOp::Optimize,
        ]
    );
}

#[test]
fn entities_and_cdata() {
    let body = b"<add><doc><field name='x'>&#65;&#x42;&amp;&quot;&apos;&bogus; & <![CDATA[<raw> &amp;]]>&#0;</field></doc></add>";
    assert_eq!(
        parse_all(&[body]).expect("valid"),
        vec![doc(&[("x", "AB&\"'&bogus; & <raw> &amp;\u{FFFD}")])]
    );
}

#[test]
fn malformed_bodies_are_errors() {
    for bad in [
        &b"<add><doc><field name=\"x\">v</doc></add>"[..],
        b"<add><doc>",
        b"<frobnicate/>",
        b"<add><doc><field>v</field></doc></add>",
        b"<add><doc><field name=\"x\">a<b/>c</field></doc></add>",
        b"</add>",
    ] {
        assert!(
            parse_all(&[bad]).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    assert_eq!(parse_all(&[b"  \n"]).expect("empty is fine"), vec![]);
}

#[test]
fn large_chunked_body() {
    let big = "word ".repeat(1_000_000);
    let body = format!(
        "<add><doc><field name=\"id\">1</field><field name=\"body\">{big}</field></doc></add>"
    );
    let chunks: Vec<&[u8]> = body.as_bytes().chunks(65536).collect();
    let ops = parse_all(&chunks).expect("valid");
    assert_eq!(ops, vec![doc(&[("id", "1"), ("body", &big)])]);
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z <>&;#\"'\\n]{0,20}",
        any::<String>().prop_map(|s| s.replace(|c: char| (c as u32) < 0x20 && c != '\n', " ")),
    ]
}

fn ops() -> impl Strategy<Value = Vec<UpdateOp>> {
    let field = ("[a-z]{1,6}", value());
    let add =
        prop::collection::vec(field, 0..5).prop_map(|fields| UpdateOp::Add(ImapDoc { fields }));
    let del = "[0-9a-z/]{1,12}".prop_map(UpdateOp::DeleteId);
    prop::collection::vec(prop_oneof![add, del, Just(UpdateOp::Commit)], 0..6)
}

fn render(ops: &[UpdateOp]) -> String {
    let mut out = String::new();
    for op in ops {
        match op {
            UpdateOp::Add(d) => {
                out.push_str("<add><doc>");
                for (k, v) in &d.fields {
                    out.push_str(&format!(
                        "<field name=\"{k}\">{}</field>",
                        dovecot_escape(v)
                    ));
                }
                out.push_str("</doc></add>");
            }
            UpdateOp::DeleteId(id) => out.push_str(&format!("<delete><id>{id}</id></delete>")),
            UpdateOp::Commit => out.push_str("<commit softCommit=\"true\" waitSearcher=\"true\"/>"),
            _ => {}
        }
    }
    out
}

fn split_at(bytes: &[u8], mut cuts: Vec<usize>) -> Vec<&[u8]> {
    cuts.iter_mut().for_each(|c| *c %= bytes.len() + 1);
    cuts.sort_unstable();
    let mut out = Vec::new();
    let mut prev = 0;
    for c in cuts {
        out.push(&bytes[prev..c]);
        prev = c;
    }
    out.push(&bytes[prev..]);
    out
}

proptest! {
    #[test]
    fn roundtrip_split_anywhere(ops in ops(), cuts in prop::collection::vec(any::<usize>(), 0..8)) {
        let body = render(&ops);
        let chunks = split_at(body.as_bytes(), cuts);
        prop_assert_eq!(parse_all(&chunks).expect("valid"), ops);
    }

    #[test]
    fn any_split_gives_the_same_answer(
        body in prop_oneof![
            "[<>/a-z=\"'&#;!\\[\\]CDAT -]{0,80}",
            ops().prop_map(|o| render(&o)).prop_flat_map(|s| {
                let n = s.len();
                (Just(s), 0..=n, "[<>&;#a-z\"/]{0,3}").prop_map(|(s, at, junk)| {
                    let mut at = at;
                    while !s.is_char_boundary(at) { at -= 1; }
                    format!("{}{}{}", &s[..at], junk, &s[at..])
                })
            }),
        ],
        cuts in prop::collection::vec(any::<usize>(), 1..8),
    ) {
        let whole = parse_all(&[body.as_bytes()]).map_err(|_| ());
        let split = parse_all(&split_at(body.as_bytes(), cuts)).map_err(|_| ());
        prop_assert_eq!(whole, split);
    }
}

/// Feeds `body` split at `cuts`; after every chunk the parser's memory stays
/// bounded (open elements, the undecided tail) whatever the bytes.
fn feed_bounded(body: &[u8], cuts: Vec<usize>) -> Result<(), TestCaseError> {
    let mut p = UpdateParser::new();
    for chunk in split_at(body, cuts) {
        if p.feed(chunk).is_err() {
            return Ok(());
        }
        prop_assert!(
            p.stack.len() <= MAX_DEPTH,
            "{} open elements",
            p.stack.len()
        );
        prop_assert!(
            p.buf.len() <= MAX_TAG + chunk.len(),
            "{} bytes held",
            p.buf.len()
        );
        p.take_ops();
    }
    let _ = p.finish();
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_bytes_never_panic_and_stay_bounded(
        body in prop::collection::vec(any::<u8>(), 0..400),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        feed_bounded(&body, cuts)?;
    }

    #[test]
    fn deep_nesting_is_refused_at_the_limit(
        depth in 0usize..200,
        name in "[a-z]{1,3}",
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut body = String::from("<add>");
        for _ in 0..depth {
            body.push_str(&format!("<{name}>"));
        }
        feed_bounded(body.as_bytes(), cuts.clone())?;
        let refused = parse_all(&split_at(body.as_bytes(), cuts)).is_err();
        // The body is unterminated unless empty of nesting... always an error,
        // and at the depth limit it is the depth that is named.
        prop_assert!(refused);
        if depth >= MAX_DEPTH {
            let e = parse_all(&[body.as_bytes()]).expect_err("too deep");
            prop_assert!(e.message.contains("nested deeper"), "{}", e);
        }
    }
}
