//! Table tests and property tests for the query grammar.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;

use super::ast::days_in_month;
use super::{parse, AgeUnit, DateSpec, Field, ParseErrorKind, Query, Term, Value};

/// A structural rendering for tables: `(and …)`, `(or …)`, `(not …)`;
/// terms and typed leaves print canonically.
fn sexpr(q: &Query) -> String {
    let list = |op: &str, items: &[Query]| {
        let inner: Vec<String> = items.iter().map(sexpr).collect();
        format!("({op} {})", inner.join(" "))
    };
    match q {
        Query::And(items) => list("and", items),
        Query::Or(items) => list("or", items),
        Query::Not(inner) => format!("(not {})", sexpr(inner)),
        leaf => leaf.to_string(),
    }
}

/// Input, structure, canonical form.
const OK: &[(&str, &str, &str)] = &[
    ("foo", "foo", "foo"),
    ("foo bar", "(and foo bar)", "foo bar"),
    ("foo AND bar", "(and foo bar)", "foo bar"),
    ("a AND b c", "(and a b c)", "a b c"),
    ("a b OR c", "(or (and a b) c)", "a b OR c"),
    ("a OR b c", "(or a (and b c))", "a OR b c"),
    (
        "a AND b OR c AND d",
        "(or (and a b) (and c d))",
        "a b OR c d",
    ),
    ("a or b", "(and a or b)", "a or b"),
    (
        "ORANGE ANDROID NOTE",
        "(and ORANGE ANDROID NOTE)",
        "ORANGE ANDROID NOTE",
    ),
    ("NOT x", "(not x)", "-x"),
    ("-x y", "(and (not x) y)", "-x y"),
    ("a-b", "a-b", "a-b"),
    ("NOT (a OR b)", "(not (or a b))", "-(a OR b)"),
    ("-(-x)", "(not (not x))", "-(-x)"),
    ("(a OR b) c", "(and (or a b) c)", "(a OR b) c"),
    ("(a OR b) OR c", "(or (or a b) c)", "(a OR b) OR c"),
    ("(a b) c", "(and (and a b) c)", "(a b) c"),
    ("((a))", "a", "a"),
    ("a(b)", "(and a b)", "a b"),
    ("a OR(b)", "(or a b)", "a OR b"),
    ("a\"b c\"", "(and a \"b c\")", "a \"b c\""),
    ("  spaced\tout\n", "(and spaced out)", "spaced out"),
    ("\"exact phrase\"", "\"exact phrase\"", "\"exact phrase\""),
    (
        r#""say \"hi\" \\o/""#,
        r#""say \"hi\" \\o/""#,
        r#""say \"hi\" \\o/""#,
    ),
    (r#""C:\dir""#, r#""C:\\dir""#, r#""C:\\dir""#),
    ("a -\"b c\"", "(and a (not \"b c\"))", "a -\"b c\""),
    ("wo*", "wo*", "wo*"),
    ("café naïve", "(and café naïve)", "café naïve"),
    ("from:alice", "from:alice", "from:alice"),
    ("From:Alice", "from:Alice", "from:Alice"),
    ("s:report", "subject:report", "subject:report"),
    (
        "subject:\"quarterly report\"",
        "subject:\"quarterly report\"",
        "subject:\"quarterly report\"",
    ),
    ("to:ali*", "to:ali*", "to:ali*"),
    (
        "from:(alice OR bob)",
        "(or from:alice from:bob)",
        "from:alice OR from:bob",
    ),
    (
        "from:(alice -bob)",
        "(and from:alice (not from:bob))",
        "from:alice -from:bob",
    ),
    (
        "-from:(a b)",
        "(not (and from:a from:b))",
        "-(from:a from:b)",
    ),
    (
        "subject:(foo bar) OR body:baz",
        "(or (and subject:foo subject:bar) body:baz)",
        "subject:foo subject:bar OR body:baz",
    ),
    (
        "from:-x from:OR",
        "(and from:-x from:OR)",
        "from:-x from:OR",
    ),
    ("from:a:b", "from:a:b", "from:a:b"),
    (
        "id:<abc@example.com>",
        "id:<abc@example.com>",
        "id:<abc@example.com>",
    ),
    (
        "cc:x list:dev lang:de thread:t1 filename:a.pdf",
        "(and cc:x list:dev lang:de thread:t1 filename:a.pdf)",
        "cc:x list:dev lang:de thread:t1 filename:a.pdf",
    ),
    (
        "is:unread cited:yes",
        "(and is:unread cited:yes)",
        "is:unread cited:yes",
    ),
    (
        "http://example.com/x?a=b",
        "http://example.com/x?a=b",
        "http://example.com/x?a=b",
    ),
    (
        "10:30 :x é:x a1:b",
        "(and 10:30 :x é:x a1:b)",
        "10:30 :x é:x a1:b",
    ),
    (
        "has:attachment has:Attach HAS:attachments",
        "(and has:attachment has:attachment has:attachment)",
        "has:attachment has:attachment has:attachment",
    ),
    ("larger:100k", "larger:100k", "larger:100k"),
    (
        "larger:102400 smaller:1536",
        "(and larger:100k smaller:1536)",
        "larger:100k smaller:1536",
    ),
    (
        "smaller:1M larger:2GB larger:1024m smaller:0",
        "(and smaller:1M larger:2G larger:1G smaller:0)",
        "smaller:1M larger:2G larger:1G smaller:0",
    ),
    (
        "after:2019-03-01 before:2020",
        "(and after:2019-03-01 before:2020)",
        "after:2019-03-01 before:2020",
    ),
    ("after:2019-3-1", "after:2019-03-01", "after:2019-03-01"),
    (
        "date:2018..2019-06",
        "date:2018..2019-06",
        "date:2018..2019-06",
    ),
    (
        "date:2019 date:2019..2019",
        "(and date:2019 date:2019)",
        "date:2019 date:2019",
    ),
    (
        "date:..2019 date:2018..",
        "(and date:..2019 date:2018..)",
        "date:..2019 date:2018..",
    ),
    (
        "date:2020-02-29 date:2019-06..2019",
        "(and date:2020-02-29 date:2019-06..2019)",
        "date:2020-02-29 date:2019-06..2019",
    ),
    (
        "older:6y newer:30D newer:3m older:2w newer:12h",
        "(and older:6y newer:30d newer:3m older:2w newer:12h)",
        "older:6y newer:30d newer:3m older:2w newer:12h",
    ),
    (
        "-has:attachment OR larger:1k",
        "(or (not has:attachment) larger:1k)",
        "-has:attachment OR larger:1k",
    ),
];

#[test]
fn table_ok() {
    for &(input, structure, canonical) in OK {
        let q = parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(sexpr(&q), structure, "structure of {input:?}");
        assert_eq!(q.to_string(), canonical, "canonical form of {input:?}");
        assert_eq!(parse(canonical).unwrap(), q, "reparse of {canonical:?}");
    }
}

#[test]
fn table_debug() {
    let rows = [
        ("after:2019-03-01", "After(DateSpec { year: 2019, month: Some(3), day: Some(1) })"),
        ("before:2020", "Before(DateSpec { year: 2020, month: None, day: None })"),
        ("date:..2019-06", "DateRange { from: None, to: Some(DateSpec { year: 2019, month: Some(6), day: None }) }"),
        ("older:6y", "Age { older: true, amount: 6, unit: Years }"),
        ("smaller:1M", "Size { larger: false, bytes: 1048576 }"),
        ("from:alice", "Term(Term { field: Some(From), value: Word(\"alice\"), span: (0, 10) })"),
        ("é* \"x\"", "And([Term(Term { field: None, value: Prefix(\"é\"), span: (0, 2) }), Term(Term { field: None, value: Phrase(\"x\"), span: (3, 6) })])"),
    ];
    for (input, debug) in rows {
        assert_eq!(format!("{:?}", parse(input).unwrap()), debug, "{input:?}");
    }
}

/// Input, error position (chars), error message.
const ERR: &[(&str, usize, &str)] = &[
    ("", 0, "empty query"),
    (" \t\n ", 0, "empty query"),
    ("(foo ba", 7, "expected a closing ')'"),
    ("a (", 3, "expected a closing ')'"),
    (") a", 0, "unexpected ')'"),
    ("(a))", 3, "unexpected ')'"),
    ("foo \"bar", 4, "unterminated phrase"),
    ("\"abc\\", 0, "unterminated phrase"),
    ("é \"", 2, "unterminated phrase"),
    ("\"\" a", 0, "empty phrase"),
    ("from:", 5, "expected a value after 'from:'"),
    ("FROM: alice", 5, "expected a value after 'FROM:'"),
    ("(from:)", 6, "expected a value after 'from:'"),
    ("foo OR", 4, "OR needs a term on both sides"),
    ("OR a", 0, "OR needs a term on both sides"),
    ("a OR OR b", 2, "OR needs a term on both sides"),
    ("(a OR) b", 3, "OR needs a term on both sides"),
    ("a AND", 2, "AND needs a term on both sides"),
    ("foo:bar", 0, "unknown field 'foo'"),
    ("日本語 Foo:x", 4, "unknown field 'Foo'"),
    ("a -", 2, "expected a term right after '-'"),
    ("- a", 0, "expected a term right after '-'"),
    ("a NOT", 2, "expected a term after 'NOT'"),
    ("NOT OR a", 0, "expected a term after 'NOT'"),
    ("--x", 1, "double negation"),
    ("NOT -x", 4, "double negation"),
    ("*", 0, "'*' needs a word before it"),
    ("from:*", 5, "'*' needs a word before it"),
    ("a*b", 1, "'*' is only allowed at the end of a word"),
    ("ab**", 2, "'*' is only allowed at the end of a word"),
    ("()", 0, "empty parentheses"),
    (
        "from:(a to:b)",
        8,
        "'to:' cannot be used inside 'from:(...)'",
    ),
    (
        "larger:(1k)",
        7,
        "'larger:' takes a single plain value, not a phrase, prefix or group",
    ),
    (
        "after:\"2019\"",
        6,
        "'after:' takes a single plain value, not a phrase, prefix or group",
    ),
    (
        "has:pics",
        4,
        "unknown value 'pics' for 'has:' (expected 'attachment')",
    ),
    ("after:2019-13", 6, "bad date '2019-13'"),
    ("after:19", 6, "bad date '19'"),
    ("before:2019-02-29", 7, "bad date '2019-02-29'"),
    ("date:2018..2019-13", 11, "bad date '2019-13'"),
    ("date:..", 5, "bad date '..'"),
    ("date:2019-04-31..", 5, "bad date '2019-04-31'"),
    ("date:2020..2019", 5, "empty date range '2020..2019'"),
    ("larger:10q", 7, "bad size '10q'"),
    (
        "smaller:99999999999999999999",
        8,
        "bad size '99999999999999999999'",
    ),
    (
        "older:6x",
        6,
        "bad age '6x' (expected a number and one of y, m, w, d, h)",
    ),
];

#[test]
fn table_errors() {
    for &(input, position, message) in ERR {
        let err = parse(input).expect_err(input);
        assert_eq!(
            (err.position, err.kind.to_string().as_str()),
            (position, message),
            "{input:?}"
        );
        assert_eq!(
            err.to_string(),
            format!("at position {position}: {message}")
        );
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let depth = super::parser::MAX_DEPTH;
    let ok = format!("{}a{}", "(".repeat(depth), ")".repeat(depth));
    assert_eq!(parse(&ok).unwrap(), parse("a").unwrap());
    let err = parse(&"-(".repeat(100_000)).unwrap_err();
    assert_eq!(
        (err.position, err.kind),
        (2 * depth + 1, ParseErrorKind::TooDeep)
    );
    let deep_not = format!("{}a{}", "-(".repeat(depth), ")".repeat(depth));
    assert_eq!(
        parse(&parse(&deep_not).unwrap().to_string()),
        parse(&deep_not)
    );
}

#[test]
fn empty_query_has_its_own_kind() {
    assert_eq!(parse("  ").unwrap_err().kind, ParseErrorKind::EmptyQuery);
}

#[test]
fn distributed_terms_span_their_values() {
    let Query::Or(items) = parse("from:(alice OR bob)").unwrap() else {
        panic!("not an Or")
    };
    let spans: Vec<_> = items
        .iter()
        .map(|q| match q {
            Query::Term(t) => t.span,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(spans, [(6, 11), (15, 18)]);
}

#[test]
fn date_spec_periods() {
    let d = |y, m, day| DateSpec::new(y, m, day).unwrap();
    assert_eq!(d(2019, Some(6), None).start_of(), (2019, 6, 1));
    assert_eq!(d(2019, Some(6), None).end_exclusive(), (2019, 7, 1));
    assert_eq!(d(2019, None, None).end_exclusive(), (2020, 1, 1));
    assert_eq!(d(2019, Some(12), None).end_exclusive(), (2020, 1, 1));
    assert_eq!(d(2019, Some(12), Some(31)).end_exclusive(), (2020, 1, 1));
    assert_eq!(d(2019, Some(2), Some(28)).end_exclusive(), (2019, 3, 1));
    assert_eq!(d(2020, Some(2), Some(28)).end_exclusive(), (2020, 2, 29));
    assert_eq!(d(2000, Some(2), Some(29)).end_exclusive(), (2000, 3, 1));
    assert_eq!(DateSpec::new(1900, Some(2), Some(29)), None);
    assert_eq!(DateSpec::new(2019, None, Some(1)), None);
    assert_eq!(DateSpec::new(0, None, None), None);
    // Out-of-contract values give nonsense, not a panic.
    let odd = DateSpec {
        year: i32::MAX,
        month: Some(200),
        day: Some(0),
    };
    let _ = (odd.start_of(), odd.end_exclusive());
}

#[test]
fn field_names() {
    for f in Field::ALL {
        assert_eq!(Field::from_name(f.name()), Some(f));
        assert_eq!(Field::from_name(&f.name().to_uppercase()), Some(f));
    }
    assert_eq!(Field::from_name("S"), Some(Field::Subject));
    assert_eq!(Field::from_name("has"), None);
}

// ---- property tests ----

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9àéß中ё][a-zA-Z0-9àéß中ё._@'+-]{0,6}",
        "https?://[a-z]{1,5}(/[a-z]{0,3})?",
        "[0-9]{1,2}:[0-9]{2}",
    ]
    .prop_filter("keyword", |w| !matches!(w.as_str(), "AND" | "OR" | "NOT"))
}

fn phrase() -> impl Strategy<Value = String> {
    prop_oneof![".{1,10}", "[a \"\\\\é\t]{1,6}"].prop_filter("blank", |p| !p.trim().is_empty())
}

fn term() -> impl Strategy<Value = Query> {
    let field = prop::option::of(prop::sample::select(Field::ALL.to_vec()));
    (
        field,
        prop_oneof![
            word().prop_map(Value::Word),
            word().prop_map(Value::Prefix),
            phrase().prop_map(Value::Phrase)
        ],
        any::<bool>(),
    )
        .prop_map(|(field, value, dash)| {
            // Inside a field value a leading '-' is plain text.
            let value = match (field, value) {
                (Some(_), Value::Word(w)) if dash => Value::Word(format!("-{w}")),
                (_, v) => v,
            };
            Query::Term(Term {
                field,
                value,
                span: (0, 0),
            })
        })
}

fn date_spec() -> impl Strategy<Value = DateSpec> {
    (
        1i32..=9999,
        prop::option::of(1u8..=12),
        prop::option::of(1u8..=31),
    )
        .prop_map(|(year, month, day)| {
            let day = month
                .and(day)
                .map(|d| d.min(days_in_month(year, month.unwrap_or(1))));
            DateSpec { year, month, day }
        })
}

fn typed() -> impl Strategy<Value = Query> {
    let unit = prop::sample::select(vec![
        AgeUnit::Years,
        AgeUnit::Months,
        AgeUnit::Weeks,
        AgeUnit::Days,
        AgeUnit::Hours,
    ]);
    prop_oneof![
        Just(Query::HasAttachment),
        (
            any::<bool>(),
            prop_oneof![any::<u64>(), (0u64..1 << 20).prop_map(|n| n << 10)]
        )
            .prop_map(|(larger, bytes)| Query::Size { larger, bytes }),
        date_spec().prop_map(Query::After),
        date_spec().prop_map(Query::Before),
        (prop::option::of(date_spec()), prop::option::of(date_spec()))
            .prop_filter("a non-empty range", |(a, b)| match (a, b) {
                (None, None) => false,
                (Some(a), Some(b)) => a.start_of() < b.end_exclusive(),
                _ => true,
            })
            .prop_map(|(from, to)| Query::DateRange { from, to }),
        (any::<bool>(), any::<u32>(), unit).prop_map(|(older, amount, unit)| Query::Age {
            older,
            amount,
            unit
        }),
    ]
}

fn query() -> impl Strategy<Value = Query> {
    prop_oneof![3 => term(), 1 => typed()].prop_recursive(4, 40, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..5).prop_map(Query::And),
            prop::collection::vec(inner.clone(), 2..5).prop_map(Query::Or),
            inner.prop_map(|q| Query::Not(Box::new(q))),
        ]
    })
}

/// Strings made of query-like pieces, so that many of them parse.
fn query_like() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "a", "Bob", "é", "日", "OR", "AND", "NOT", "or", "-", "(", ")", "\"", "\"x y\"", "\\", ":",
        "*", "x*", "from:", "S:", "foo:", "has:", "attach", "larger:", "10k", "date:", "2019",
        "..", "-02", "-29", "after:", "older:", "6y", "http://x", "\t",
    ]);
    let sep = prop::sample::select(vec!["", " ", " ", "  "]);
    prop::collection::vec((piece, sep), 0..12)
        .prop_map(|parts| parts.into_iter().flat_map(|(p, s)| [p, s]).collect())
}

/// Every term span lies within `len` chars and is not empty.
fn spans_ok(q: &Query, len: usize) -> bool {
    match q {
        Query::And(items) | Query::Or(items) => items.iter().all(|q| spans_ok(q, len)),
        Query::Not(inner) => spans_ok(inner, len),
        Query::Term(t) => t.span.0 < t.span.1 && t.span.1 <= len,
        _ => true,
    }
}

fn check_any(s: &str) -> Result<(), TestCaseError> {
    let len = s.chars().count();
    match parse(s) {
        Err(e) => prop_assert!(e.position <= len, "{e} for {s:?}"),
        Ok(q) => {
            prop_assert!(spans_ok(&q, len), "{q:?}");
            let canonical = q.to_string();
            prop_assert_eq!(parse(&canonical), Ok(q), "{:?} → {:?}", s, canonical);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn ast_display_round_trips(q in query()) {
        let text = q.to_string();
        prop_assert_eq!(parse(&text), Ok(q), "{}", text);
    }

    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        check_any(&s)?;
    }

    #[test]
    fn query_like_strings_round_trip(s in query_like()) {
        check_any(&s)?;
    }
}
