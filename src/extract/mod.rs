//! Raw message bytes → [`MailDoc`]: everything the index needs to know about one
//! message (ids, addresses, dates, list, thread keys, the author's own text apart
//! from quoted text and footers, attachments, language).
//!
//! Pure: no file or network I/O, and it knows nothing of where the bytes came from
//! (the store passes what it knows in [`ExtractContext`]) nor of tantivy or HTTP.
//! It never panics on input and always returns as much as it could understand;
//! what it could not understand is listed in [`MailDoc::defects`].

mod attribution;
mod author;
mod body;
mod headers;
mod history;
mod html_quote;
mod labels;
mod lang;
pub mod lines;
mod pipermail;
mod quoting;
pub mod signals;
mod text;

#[cfg(test)]
mod quote_golden;
#[cfg(test)]
mod quote_tests;
#[cfg(test)]
mod tests;

use mail_parser::{HeaderName, MessageParser};
use sha2::{Digest, Sha256};

pub use author::{Rewrite, NOT_RECOVERED};
pub use lang::detect_lang;

/// Whether a subject starts (after list tags) with a reply or forward prefix.
pub fn is_reply_subject(subject: &str) -> bool {
    headers::is_reply_subject(subject)
}
/// A subject as a conversation's title: list tags and reply prefixes removed,
/// case kept.
pub fn bare_subject(subject: &str) -> String {
    headers::bare_subject(subject)
}
pub use signals::Signals;
pub use text::fold;

/// One mailbox from an address header.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Address {
    /// Display name, decoded (RFC 2047) and trimmed.
    pub name: Option<String>,
    /// `local@domain`, domain lowercased, local part as written.
    pub addr: Option<String>,
}

/// A MIME part that is not part of the body.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Attachment {
    /// The file name from Content-Disposition or Content-Type, if any.
    pub filename: Option<String>,
    /// `type/subtype`, lowercased.
    pub mime: String,
    /// Decoded size in bytes.
    pub size: u64,
}

/// Where [`MailDoc::date`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DateSource {
    /// The `Date:` header.
    Header,
    /// The newest parseable `Received:` header.
    Received,
    /// The mbox envelope (`From sender date`).
    Envelope,
    /// No date could be found.
    None,
}

/// What the index needs to know about one message.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MailDoc {
    /// Normalised Message-ID: no angle brackets, whitespace or comments; case kept.
    pub message_id: Option<String>,
    /// `<message_id>` when present, else `sha256:<content_hash>` (transport-independent).
    pub key: String,
    /// Hex SHA-256 over normalised content (subject, from addresses, Date header,
    /// body and quoted text with whitespace collapsed): the same for one message
    /// stored in a Maildir and in an mbox.
    pub content_hash: String,
    /// Decoded subject, trimmed; `""` if none.
    pub subject: String,
    /// Lowercased subject without list tags and reply/forward prefixes.
    pub thread_subject: String,
    /// From: mailboxes.
    pub from: Vec<Address>,
    /// To: mailboxes.
    pub to: Vec<Address>,
    /// Cc: mailboxes.
    pub cc: Vec<Address>,
    /// Reply-To: mailboxes.
    pub reply_to: Vec<Address>,
    /// Unix seconds, UTC.
    pub date: Option<i64>,
    /// Where `date` came from.
    pub date_source: DateSource,
    /// The list id (List-Id's `<...>`, lowercased), else X-Mailing-List /
    /// Mailing-List, else the context's list.
    pub list: Option<String>,
    /// First In-Reply-To id, normalised.
    pub in_reply_to: Option<String>,
    /// References ids, normalised, in order.
    pub references: Vec<String>,
    /// First References id, else In-Reply-To, else own Message-ID, else `key`:
    /// the id a new conversation is named by (the index joins conversations;
    /// see `index::threading`).
    pub thread_key: String,
    /// The author's own words, then the attribution lines ("On ... Jane
    /// wrote:") of what they quote: a name as written there is found by a phrase.
    pub body: String,
    /// Quoted reply text (`>` lines without the prefix, the quoted history of
    /// top-posted replies from its header block or separator down, forwarded
    /// messages, HTML clients' quote containers).
    pub quoted: String,
    /// Signature and mailing-list footer.
    pub footer: String,
    /// Parts that are not the body.
    pub attachments: Vec<Attachment>,
    /// Text of text/* and message/rfc822 attachments, capped at 1 MiB.
    pub attachment_text: String,
    /// whatlang 3-letter code of the body, or `und`.
    pub lang: String,
    /// Raw size in bytes.
    pub size: u64,
    /// The message had HTML and no text/plain body.
    pub html_only: bool,
    /// Short stable reasons for what could not be understood.
    pub defects: Vec<String>,
    /// When the message reached the mail system: the newest `Received:`,
    /// else the mbox envelope date, else `date`.
    #[serde(default)]
    pub arrived: Option<i64>,
    /// Harvest signals of the author's own words.
    #[serde(default)]
    pub signals: Signals,
    /// Who wrote the message, when a list rewrote From for DMARC (`X via
    /// List <list address>`) and X-Original-From, Reply-To or Cc named them
    /// (see [`author`]); `None` otherwise. `from` keeps the header as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<Address>,
    /// Whether a list rewrote From, and whether `author` was recovered.
    #[serde(default, skip_serializing_if = "Rewrite::is_original")]
    pub rewrite: Rewrite,
}

impl MailDoc {
    /// Who wrote the message: the recovered author, else the From mailboxes.
    pub fn authors(&self) -> &[Address] {
        match &self.author {
            Some(a) => std::slice::from_ref(a),
            None => &self.from,
        }
    }
}

/// The list a person's mailbox is filed under (`owner = "alice"` on a
/// source): `alice.mailbox.invalid`. `.invalid` is reserved (RFC 2606), so no
/// real List-Id ends that way, and such a list wins over any List-Id the
/// message carries: access to a personal mailbox follows the mailbox, not
/// the lists its messages came through.
pub fn mailbox_list(owner: &str) -> String {
    format!("{}{MAILBOX_LIST_SUFFIX}", owner.trim().to_lowercase())
}

/// The ending of every [`mailbox_list`].
pub const MAILBOX_LIST_SUFFIX: &str = ".mailbox.invalid";

/// Is `list` a person's mailbox ([`mailbox_list`])?
pub fn is_mailbox_list(list: &str) -> bool {
    list.len() > MAILBOX_LIST_SUFFIX.len()
        && list.to_ascii_lowercase().ends_with(MAILBOX_LIST_SUFFIX)
}

/// What the caller knows about a message beyond its bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExtractContext<'a> {
    /// The list the source is configured for (used when the headers name none).
    pub list: Option<&'a str>,
    /// The mbox envelope line without `From `: `sender asctime-date`.
    pub envelope: Option<&'a str>,
    /// The message comes from a Mailman 2 text archive (the store's
    /// `pipermail::is_pipermail_message`): obfuscated addresses in the envelope
    /// and in address and id headers are restored (`jane at example.com (Jane)`
    /// → `Jane <jane@example.com>`), and `list` is the archive's list even where
    /// a header names another.
    pub pipermail: bool,
}

/// Why a message could not be extracted at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractError {
    /// The bytes do not start with header lines: not mail at all.
    #[error("not a mail message")]
    NotMail,
}

/// Cap on the text kept for `body + quoted + footer`, and on `attachment_text`.
pub const TEXT_CAP: usize = 1 << 20;
/// mail-parser set up to parse only the headers extraction reads through their
/// parsed values; every other header (`Received:`, DKIM and ARC signatures,
/// `X-` headers) is skipped over and read, when at all, from its raw bytes
/// ([`headers::raw_header`], [`headers::dates`]). Parsing every hop of every
/// message was 3% of indexing, and the other unregistered headers 2% of
/// indexing real list mail.
fn parser() -> &'static MessageParser {
    static PARSER: std::sync::OnceLock<MessageParser> = std::sync::OnceLock::new();
    PARSER.get_or_init(|| {
        let mut p = MessageParser::new()
            .with_mime_headers()
            .with_date_headers()
            .with_address_headers()
            .with_message_ids()
            .header_id(HeaderName::ReturnPath)
            .header_text(HeaderName::Subject)
            .header_text(HeaderName::Comments)
            .header_comma_separated(HeaderName::Keywords)
            .header_comma_separated(HeaderName::ContentLanguage)
            .header_address(HeaderName::Other(author::X_ORIGINAL_FROM.into()))
            .default_header_ignore();
        for list in [
            HeaderName::ListArchive,
            HeaderName::ListHelp,
            HeaderName::ListId,
            HeaderName::ListOwner,
            HeaderName::ListPost,
            HeaderName::ListSubscribe,
            HeaderName::ListUnsubscribe,
        ] {
            p = p.header_address(list);
        }
        p
    })
}

/// Extracts a [`MailDoc`] from raw message bytes.
///
/// Never panics; always returns a document (as much as could be understood),
/// except for input that is not mail at all, which yields
/// [`ExtractError::NotMail`] so the caller can count it as skipped.
pub fn extract(raw: &[u8], ctx: &ExtractContext) -> Result<MailDoc, ExtractError> {
    let mut defects = Vec::new();

    // An mbox envelope line left at the start is not a header.
    let (envelope_line, rest) = headers::split_envelope(raw);
    if !headers::looks_like_mail(rest) {
        return Err(ExtractError::NotMail);
    }
    let prepared = headers::transcode_8bit_headers(rest);
    if prepared.is_some() {
        defects.push("undeclared 8-bit".to_string());
    }
    let bytes: &[u8] = prepared.as_deref().unwrap_or(rest);
    let restored = if ctx.pipermail {
        pipermail::deobfuscate_headers(bytes)
    } else {
        None
    };
    let bytes: &[u8] = restored.as_deref().unwrap_or(bytes);
    let message = parser().parse(bytes).ok_or(ExtractError::NotMail)?;

    let h = headers::read(&message, &mut defects);
    let authorship = author::recover(
        &message,
        &author::Seen {
            from: &h.from,
            reply_to: &h.reply_to,
            cc: &h.cc,
            list_id: h.list.as_deref(),
        },
    );
    if authorship.rewrite == Rewrite::NotRecovered {
        defects.push(NOT_RECOVERED.to_string());
    }
    let envelope = ctx.envelope.or(envelope_line.as_deref()).map(|e| {
        if ctx.pipermail {
            pipermail::deobfuscate_envelope(e)
        } else {
            std::borrow::Cow::Borrowed(e)
        }
    });
    let envelope = envelope.as_deref();
    let dates = headers::dates(&message, envelope, &mut defects);
    let (date, date_source) = (dates.date, dates.source);
    let arrived = dates.arrived.or(date);
    let b = body::read(&message, &mut defects);
    let mut signals = signals::signals(b.own_words());
    signals.kind = signals::message_kind(
        &h.subject,
        h.from
            .first()
            .and_then(|a| a.addr.as_deref())
            .unwrap_or_default(),
        message.header_raw("Auto-Submitted"),
        b.own_words(),
    );
    if signals::subject_asks(&h.subject) {
        signals.question += 1;
    }

    let message_id = h.message_id;
    if message_id.is_none() {
        defects.push("no message-id".to_string());
    }
    // The Date header as written, also when it is not the date filed under
    // (one written after arrival): the hash of a message stays what it was.
    let content_hash = content_hash(&h.subject, &h.from, dates.header, &b.body, &b.quoted);
    // Without a Message-ID the key is the content hash, not the raw hash, so the
    // same message stored with LF in a Maildir and CRLF in an mbox is one document.
    let key = match &message_id {
        Some(id) => format!("<{id}>"),
        None => format!("sha256:{content_hash}"),
    };
    let thread_key = h
        .references
        .first()
        .or(h.in_reply_to.as_ref())
        .or(message_id.as_ref())
        .cloned()
        .unwrap_or_else(|| key.clone());
    let lang_sample = if b.own_words().trim().is_empty() {
        &h.subject
    } else {
        b.own_words()
    };
    let lang = detect_lang(lang_sample).to_string();
    let context_list = ctx
        .list
        .map(|l| l.trim().to_lowercase())
        .filter(|l| !l.is_empty());
    // One archive is one list: a pipermail message naming another list in its
    // headers (a cross-post) is still filed under the archive's.
    // So is a person's mailbox: its messages are filed under the mailbox.
    let list = if ctx.pipermail || context_list.as_deref().is_some_and(is_mailbox_list) {
        context_list.or(h.list)
    } else {
        h.list.or(context_list)
    };
    defects.sort();
    defects.dedup();

    Ok(MailDoc {
        message_id,
        key,
        content_hash,
        thread_subject: headers::thread_subject(&h.subject),
        subject: h.subject,
        from: h.from,
        to: h.to,
        cc: h.cc,
        reply_to: h.reply_to,
        date,
        date_source,
        list,
        in_reply_to: h.in_reply_to,
        references: h.references,
        thread_key,
        body: b.body,
        quoted: b.quoted,
        footer: b.footer,
        attachments: b.attachments,
        attachment_text: b.attachment_text,
        lang,
        size: raw.len() as u64,
        html_only: b.html_only,
        defects,
        arrived,
        signals,
        author: authorship.author,
        rewrite: authorship.rewrite,
    })
}

/// Hash of what a reader sees, blind to transport headers, line endings,
/// whitespace and list footers.
fn content_hash(
    subject: &str,
    from: &[Address],
    date: Option<i64>,
    body: &str,
    quoted: &str,
) -> String {
    // The normalised text is built in one buffer and hashed once (feeding the
    // hasher word by word cost more than the hashing). The bytes hashed must
    // never change: keys of messages without a Message-ID are made of them.
    let mut buf = Vec::with_capacity(subject.len() + body.len() + quoted.len() + 128);
    push_words(&mut buf, subject);
    for a in from {
        push_words(&mut buf, a.addr.as_deref().unwrap_or(""));
    }
    push_words(&mut buf, &date.map(|d| d.to_string()).unwrap_or_default());
    push_words(&mut buf, body);
    push_words(&mut buf, quoted);
    hex::encode(Sha256::digest(&buf))
}

/// Appends the words of `s` (as `str::split_whitespace` splits it) joined by
/// single spaces, then the unit separator 0x1f. Bytes that cannot start a
/// whitespace character go by in a tight loop; only the others are decoded.
fn push_words(buf: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut first = true;
    loop {
        // Whitespace before the next word.
        while let Some((true, len)) = whitespace_at(s, i) {
            i += len;
        }
        if i >= bytes.len() {
            break;
        }
        let start = i;
        loop {
            // Bytes past the space that cannot start a whitespace character:
            // all but the lead bytes of U+0085, U+00A0 (0xC2), U+1680 (0xE1),
            // U+2000..U+205F (0xE2) and U+3000 (0xE3).
            let plain = |b: &u8| *b > b' ' && !matches!(b, 0xc2 | 0xe1..=0xe3);
            while bytes.get(i).is_some_and(plain) {
                i += 1;
            }
            // One space between two such bytes is what the output puts between
            // words: the run goes on (one copy per line, not one per word).
            if bytes.get(i) == Some(&b' ') && bytes.get(i + 1).is_some_and(plain) {
                i += 2;
                continue;
            }
            match whitespace_at(s, i) {
                Some((false, len)) => i += len,
                _ => break,
            }
        }
        if !first {
            buf.push(b' ');
        }
        first = false;
        buf.extend_from_slice(&bytes[start..i]);
    }
    buf.push(0x1f);
}

/// Whether the character at byte `i` of `s` is whitespace, and its length;
/// `None` at the end.
#[inline]
fn whitespace_at(s: &str, i: usize) -> Option<(bool, usize)> {
    let b = *s.as_bytes().get(i)?;
    if b < 0x80 {
        return Some((matches!(b, b'\t'..=b'\r' | b' '), 1));
    }
    let c = s.get(i..)?.chars().next()?;
    Some((c.is_whitespace(), c.len_utf8()))
}
