//! Tests of quote recognition: top-posted replies as clients in many
//! languages write them (synthetic but realistic samples), attribution lines,
//! HTML quote containers, things that must not be taken for quotes, and a
//! golden check on real messages of the shared corpora
//! (`tests/golden/quotes/corpus.tsv`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::quoting::split;
use super::*;

const REPLY: &str = "Restarting the daemon with --flush fixed it here.\n\nThanks,\nJane\n";
const ORIGINAL: &str = "Every hour the fetch loop stalls and the queue grows.";

/// A top-posted reply: REPLY, `header`, then ORIGINAL.
fn top_post(header: &str) -> String {
    format!("{REPLY}\n{header}\n\n{ORIGINAL}\n")
}

/// Asserts that everything from `header` down is quoted, and REPLY is own.
fn assert_history(header: &str) {
    let s = split(&top_post(header));
    assert_eq!(s.own, REPLY.trim(), "own words of a reply above:\n{header}");
    let first = header
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap()
        .trim();
    assert!(
        s.quoted.starts_with(first),
        "quoted starts at {first:?}: {:?}",
        s.quoted
    );
    assert!(s.quoted.ends_with(ORIGINAL), "{:?}", s.quoted);
}

#[test]
fn outlook_header_blocks_in_many_languages() {
    for header in [
        "From: Quentin Blake <quentin@example.org>\nSent: Friday, March 22, 2019 4:00 PM\nTo: dev@lists.example.org\nCc: ops@example.org\nSubject: RE: fetch loop stalls",
        "From: Quentin Blake\nDate: Friday, 22 March 2019 at 16:00\nTo: dev@lists.example.org\nSubject: fetch loop stalls",
        "Von: Quentin Blake [mailto:quentin@example.org]\nGesendet: Freitag, 22. März 2019 16:00\nAn: dev@lists.example.org\nBetreff: AW: fetch loop stalls",
        "Gesendet: Freitag, 22. März 2019 um 16:00 Uhr\nVon: \"Quentin Blake\" <quentin@example.org>\nAn: dev@lists.example.org\nBetreff: fetch loop stalls",
        "De : Quentin Blake <quentin@example.org>\nEnvoyé : vendredi 22 mars 2019 16:00\nÀ : dev@lists.example.org\nObjet : RE: fetch loop stalls",
        "De\u{a0}: Quentin Blake <quentin@example.org>\nEnvoyé\u{a0}: vendredi 22 mars 2019 16:00\nÀ\u{a0}: dev@lists.example.org\nObjet\u{a0}: RE: fetch loop stalls",
        "De: Quentin Blake <quentin@example.org>\nEnviado el: viernes, 22 de marzo de 2019 16:00\nPara: dev@lists.example.org\nAsunto: RE: fetch loop stalls",
        "De: Quentin Blake <quentin@example.org>\nEnviado: viernes, 22 de marzo de 2019 16:00\nPara: dev@lists.example.org\nAsunto: fetch loop stalls",
        "Da: Quentin Blake <quentin@example.org>\nInviato: venerdì 22 marzo 2019 16:00\nA: dev@lists.example.org\nOggetto: R: fetch loop stalls",
        "De: Quentin Blake <quentin@example.org>\nEnviada em: sexta-feira, 22 de março de 2019 16:00\nPara: dev@lists.example.org\nAssunto: RE: fetch loop stalls",
        "Van: Quentin Blake <quentin@example.org>\nVerzonden: vrijdag 22 maart 2019 16:00\nAan: dev@lists.example.org\nOnderwerp: RE: fetch loop stalls",
        "От: Quentin Blake <quentin@example.org>\nОтправлено: 22 марта 2019 г. 16:00\nКому: dev@lists.example.org\nТема: RE: fetch loop stalls",
        "发件人: Quentin Blake <quentin@example.org>\n发送时间: 2019年3月22日 16:00\n收件人: dev@lists.example.org\n主题: 回复: fetch loop stalls",
        "发件人：Quentin Blake <quentin@example.org>\n发送时间：2019年3月22日 16:00\n收件人：dev@lists.example.org\n主题：fetch loop stalls",
        "寄件者: Quentin Blake <quentin@example.org>\n寄件日期: 2019年3月22日 下午 04:00\n收件者: dev@lists.example.org\n主旨: fetch loop stalls",
        "差出人: Quentin Blake <quentin@example.org>\n送信日時: 2019年3月22日 16:00\n宛先: dev@lists.example.org\n件名: RE: fetch loop stalls",
        "*From:* Quentin Blake <quentin@example.org>\n*Sent:* Friday, March 22, 2019 4:00 PM\n*To:* dev@lists.example.org\n*Subject:* fetch loop stalls",
        // Outlook forwarding a patch: `Sent:`, not git's `Date:`.
        "From: Quentin Blake <quentin@example.org>\nSent: Friday, March 22, 2019 4:00 PM\nTo: dev@lists.example.org\nSubject: [PATCH v2] fetch: yield",
        // Wrapped recipients and a blank line inside the block.
        "From: Quentin Blake <quentin@example.org>\nSent: Friday, March 22, 2019 4:00 PM\nTo: dev@lists.example.org; a@example.org;\n b@example.org; c@example.org\n\nSubject: fetch loop stalls",
    ] {
        assert_history(header);
    }
}

#[test]
fn separators_in_many_languages() {
    for header in [
        "-----Original Message-----\nFrom: Quentin <quentin@example.org>",
        "-----Ursprüngliche Nachricht-----\nVon: Quentin <quentin@example.org>",
        "-----Message d'origine-----\nDe : Quentin",
        "-----Mensaje original-----",
        "-----Messaggio originale-----",
        "-----Oorspronkelijk bericht-----",
        "-----Исходное сообщение-----",
        "-----原始邮件-----",
        "---------- Forwarded message ---------\nFrom: Quentin <quentin@example.org>\nDate: Fri, Mar 22, 2019 at 4:00 PM",
        "---------- Weitergeleitete Nachricht ---------",
        "-------- Original Message --------\nSubject: fetch loop stalls",
        "-------- Forwarded Message --------",
        "-------- Weitergeleitete Nachricht --------",
        "-------- Message transféré --------",
        "--- begin forwarded text\nDate: Sat, 24 Aug 2002 11:39:34 -0400",
        // Dash-escaped by a PGP clear signature.
        "- ---------- Forwarded message ----------",
        "Begin forwarded message:\n\nFrom: Quentin <quentin@example.org>",
        "Anfang der weitergeleiteten Nachricht:",
        "Début du message réexpédié :",
        "________________________________\nFrom: Quentin Blake <quentin@example.org>\nSent: Friday, March 22, 2019 4:00 PM",
        "________________________________\nVon: Quentin Blake\nGesendet: Freitag, 22. März 2019 16:00\nAn: dev@lists.example.org\nBetreff: x",
        // A separator whose letters a charset lost, then a header block.
        "-----Urspr?ngliche Nachricht-----\nVon: Quentin Blake\nGesendet: Donnerstag, 29. M?rz 2007 09:27\nAn: dev@lists.example.org\nBetreff: AW: x",
        // Lotus Notes: the sender's Notes name and a date.
        "Quentin Blake/Ops/Example@EXAMPLE\n22.03.2019 16:00\nPlease respond to dev",
    ] {
        assert_history(header);
    }
}

#[test]
fn lotus_notes_attribution_is_own_and_history_quoted() {
    let s = split(&top_post(
        "-----\"Quentin Blake\" <quentin@example.org> wrote: -----",
    ));
    assert_eq!(s.own, REPLY.trim());
    assert_eq!(
        s.attribution,
        "-----\"Quentin Blake\" <quentin@example.org> wrote: -----"
    );
    assert_eq!(s.quoted, ORIGINAL);
}

#[test]
fn a_lone_header_line_or_a_patch_is_not_a_quote() {
    for text in [
        // A patch sent on behalf of its author.
        "From: Quentin Blake <quentin@example.org>\n\nThe fetch loop never yields.\n\nSigned-off-by: Quentin Blake <quentin@example.org>\n---\n fetch.c | 2 +-\n",
        // git format-patch output pasted into a reply.
        "Try this:\n\nFrom 0123456789abcdef0123456789abcdef01234567 Mon Sep 17 00:00:00 2001\nFrom: Quentin Blake <quentin@example.org>\nDate: Fri, 22 Mar 2019 16:00:00 +0100\nSubject: fetch: yield\n\n---\n",
        "A pasted patch:\n\nFrom: Quentin Blake <quentin@example.org>\nDate: Fri, 22 Mar 2019 16:00:00 +0100\nSubject: [PATCH] fetch: yield\n\nbody\n",
        // ... and without the `From <commit>` line nor a [PATCH] tag.
        "Can you try this patch?\n\n---\nFrom: Quentin Blake <quentin@example.org>\nDate: Fri, 22 Mar 2019 16:00:00 +0100\nSubject: fetch: yield\n\nThe loop never yields.\n",
        // A raw header pasted into the text (a bounce, a log).
        "and then I get messages like:\nReturn-path: <admin@example.org>\nSubject: alert\nTo: Undisclosed-recipients:;\nFrom: admin@example.org\nDate: Fri, 05 Oct 2007 20:28:54 +0200\n\nWhy?\n",
        // A patch sent with a recipient, pasted.
        "Try:\n\nFrom: Quentin Blake <quentin@example.org>\nDate: Fri, 22 Mar 2019 16:00:00 +0100\nTo: dev@lists.example.org\nSubject: [PATCH v2] fetch: yield\n\nbody\n",
        // A log with a From: line and a date, but no recipient nor subject.
        "The log says:\nFrom: root@localhost\nDate: 2019-03-22 16:00\nstatus=bounced\n",
        // Headers in configuration advice have no date.
        "Set the template to:\nFrom: noreply@example.org\nTo: ops@example.org\nSubject: alert\n",
        // A Q&A format.
        "Q: does it stall?\nA: yes, at 16:00.\n",
    ] {
        let s = split(text);
        assert_eq!(s.quoted, "", "{text}");
        assert!(!s.own.is_empty());
    }
}

#[test]
fn attribution_lines_are_kept_apart_from_quotes() {
    let cases = [
        "On Wed, 3 Mar 2021 at 10:00, Jane Doe <jane@example.com> wrote:",
        "On Wed, Mar 3, 2021 at 10:00 AM Jane Doe <jane@example.com> wrote:",
        "El vie, 5 mar 2021 a las 10:00, Jane Doe (<jane@example.com>) escribió:",
        "Am Mi., 3. März 2021 um 10:00 Uhr schrieb Jane Doe <jane@example.com>:",
        "Am 03.03.2021 um 10:00 schrieb Jane Doe:",
        "Le mer. 3 mars 2021 à 10:00, Jane Doe <jane@example.com> a écrit :",
        "Le mer. 3 mars 2021 à 10:00, Jane Doe <jane@example.com> a écrit\u{a0}:",
        "Il giorno mer 3 mar 2021 alle ore 10:00 Jane Doe <jane@example.com> ha scritto:",
        "Em qua., 3 de mar. de 2021 às 10:00, Jane Doe <jane@example.com> escreveu:",
        "Op wo 3 mrt. 2021 om 10:00 schreef Jane Doe <jane@example.com>:",
        "ср, 3 мар. 2021 г. в 10:00, Jane Doe <jane@example.com>:",
        "03.03.2021 10:00, Jane Doe пишет:",
        "Jane Doe <jane@example.com> 于2021年3月3日周三 上午10:00写道：",
        "2021年3月3日(水) 10:00 Jane Doe <jane@example.com>:",
        "Jane Doe <jane@example.com> のメール:",
        "On 3 Mar 2021, at 10:00, Jane Doe <jane@example.com> wrote:",
    ];
    for attribution in cases {
        let text = format!("{attribution}\n> {ORIGINAL}\n\n{REPLY}");
        let s = split(&text);
        assert_eq!(s.attribution, attribution.trim(), "{text}");
        assert_eq!(s.own, REPLY.trim(), "{text}");
        assert_eq!(s.quoted, ORIGINAL, "{text}");
    }
}

#[test]
fn attribution_is_searchable_but_not_counted() {
    let raw = format!(
        "From: a@example.org\nSubject: Re: x\nMessage-ID: <a@example.org>\n\nOn Wed, 3 Mar 2021 at 10:00, Jane Doe <jane@example.com> wrote:\n> {ORIGINAL}\n\nThat worked.\n"
    );
    let d = extract(raw.as_bytes(), &ExtractContext::default()).unwrap();
    assert!(
        d.body.contains("Jane Doe <jane@example.com> wrote:"),
        "{}",
        d.body
    );
    assert!(d.body.starts_with("That worked."), "{}", d.body);
    assert_eq!(d.quoted, ORIGINAL);
    // The address in the attribution is not a cited Message-ID.
    assert!(d.signals.cites.is_empty(), "{:?}", d.signals.cites);
    assert_eq!(d.signals.confirm, 1);
}

#[test]
fn top_posted_outlook_reply_is_split_in_extract() {
    let raw = format!(
        "From: a@example.org\nSubject: RE: x\nMessage-ID: <b@example.org>\n\n{}",
        top_post("From: Quentin Blake <quentin@example.org>\nSent: Friday, March 22, 2019 4:00 PM\nTo: dev@lists.example.org\nSubject: fetch loop stalls")
    );
    let d = extract(raw.as_bytes(), &ExtractContext::default()).unwrap();
    assert_eq!(d.body, REPLY.trim());
    assert!(d.quoted.contains(ORIGINAL));
    assert_eq!(d.signals.confirm, 1, "{:?}", d.signals);
}

fn html_mail(html: &str) -> MailDoc {
    let raw = format!(
        "From: a@example.org\nSubject: Re: x\nMessage-ID: <h@example.org>\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n\n{html}"
    );
    extract(raw.as_bytes(), &ExtractContext::default()).unwrap()
}

#[test]
fn gmail_quote_container() {
    let d = html_mail(&format!(
        "<div dir=\"ltr\">Restarting the daemon fixed it.</div><br><div class=\"gmail_quote\"><div dir=\"ltr\" class=\"gmail_attr\">On Wed, Mar 3, 2021 at 10:00 AM Jane Doe &lt;<a href=\"mailto:jane@example.com\">jane@example.com</a>&gt; wrote:<br></div><blockquote class=\"gmail_quote\" style=\"margin:0px\"><div>{ORIGINAL}</div></blockquote></div>"
    ));
    assert!(
        d.body.starts_with("Restarting the daemon fixed it."),
        "{}",
        d.body
    );
    assert!(
        d.body.contains("Jane Doe <jane@example.com> wrote:"),
        "{}",
        d.body
    );
    assert_eq!(d.quoted, ORIGINAL);
}

#[test]
fn gmail_forward_without_blockquote_is_quoted() {
    let d = html_mail(&format!(
        "<div>FYI</div><div class=\"gmail_quote gmail_quote_container\"><div class=\"gmail_attr\">---------- Forwarded message ---------<br>From: Jane &lt;jane@example.com&gt;<br></div><div>{ORIGINAL}</div></div><div>Interleaved own words after the quote.</div>"
    ));
    assert_eq!(d.body, "FYI\n\nInterleaved own words after the quote.");
    assert!(d.quoted.ends_with(ORIGINAL), "{}", d.quoted);
    assert!(d.quoted.contains("Forwarded message"));
}

#[test]
fn outlook_html_reply_header() {
    let d = html_mail(&format!(
        "<html><body><div>Restarting the daemon fixed it.</div><div id=\"appendonsend\"></div><hr style=\"display:inline-block;width:98%\" tabindex=\"-1\"><div id=\"divRplyFwdMsg\" dir=\"ltr\"><font face=\"Calibri\"><b>From:</b> Jane Doe<br><b>Sent:</b> Wednesday, March 3, 2021 10:00<br><b>Subject:</b> x</font></div><div>{ORIGINAL}</div></body></html>"
    ));
    assert_eq!(d.body, "Restarting the daemon fixed it.");
    assert!(d.quoted.starts_with("From: Jane Doe"), "{}", d.quoted);
    assert!(d.quoted.ends_with(ORIGINAL), "{}", d.quoted);
    // Without `appendonsend`, the rule above the header is quoted too.
    let d = html_mail(&format!(
        "<div>Restarting the daemon fixed it.</div><hr><div id=\"divRplyFwdMsg\"><b>From:</b> Jane Doe</div><div>{ORIGINAL}</div>"
    ));
    assert_eq!(d.body, "Restarting the daemon fixed it.");
}

#[test]
fn yahoo_and_thunderbird_html_quotes() {
    let own = "Restarting the daemon fixed it.";
    for (html, attribution) in [
        (
            format!("<div>{own}</div><div id=\"yahoo_quoted_42\" class=\"yahoo_quoted\"><div>On Wednesday, March 3, 2021, 10:00:00 AM GMT, Jane Doe &lt;jane@example.com&gt; wrote:</div><div><br></div><div>{ORIGINAL}</div></div>"),
            "On Wednesday, March 3, 2021, 10:00:00 AM GMT, Jane Doe <jane@example.com> wrote:",
        ),
        // Thunderbird quotes in a blockquote; a reply below it is own words.
        (
            format!("<div class=\"moz-cite-prefix\">On 3/3/21 10:00, Jane Doe wrote:<br></div><blockquote type=\"cite\" cite=\"mid:x@example.com\"><p>{ORIGINAL}</p></blockquote><p>{own}</p>"),
            "On 3/3/21 10:00, Jane Doe wrote:",
        ),
    ] {
        let d = html_mail(&html);
        assert_eq!(d.body, format!("{own}\n\n{attribution}"), "{html}");
        assert_eq!(d.quoted, ORIGINAL, "{html}");
    }
}

#[test]
fn html_marker_scanner_is_robust() {
    use super::html_quote::quoted_range;
    // Markers in text, comments or attribute values of other tags do not count.
    assert_eq!(quoted_range("<p>the gmail_quote class</p>"), None);
    assert_eq!(
        quoted_range("<!-- <div class=\"gmail_quote\"> --><p>x</p>"),
        None
    );
    assert_eq!(quoted_range("<a title='<div id=appendonsend>'>x</a>"), None);
    // Nested divs inside the quote, and an unclosed one.
    let html = "<p>a</p><DIV Class='x gmail_quote'><div>b</div><div>c</div></div><p>d</p>";
    let r = quoted_range(html).unwrap();
    assert_eq!(
        &html[r],
        "<DIV Class='x gmail_quote'><div>b</div><div>c</div></div>"
    );
    let html = "<p>a</p><div class=gmail_quote><div>b";
    assert_eq!(quoted_range(html), Some(8..html.len()));
    // Cut anywhere, it never panics.
    let html = "<div>x</div><div id=\"appendonsend\" a=\"=>\" b></div><hr><div id=\"divRplyFwdMsg\">é</div>";
    for cut in 0..=html.len() {
        if let Some(prefix) = html.get(..cut) {
            if let Some(r) = quoted_range(prefix) {
                assert!(prefix.get(r).is_some());
            }
        }
    }
}
