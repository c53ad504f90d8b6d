//! Conversion between [`MailDoc`] and tantivy documents, both ways.
//!
//! Writing: every searchable field of a `MailDoc` plus its locations.
//! Reading: [`StoredMessage`], what the stored fields give back without
//! re-reading the mail store.

use serde::Serialize;
use tantivy::columnar::{Column, StrColumn};
use tantivy::schema::Value;
use tantivy::{DocAddress, Searcher, TantivyDocument, Term};

use super::analysis::lowercase_key;
use super::Fields;
use crate::extract::{Address, MailDoc, Rewrite};

/// Stored body text is capped (snippets and previews only need the start; the
/// full text is always re-read from the mail store).
const STORED_TEXT_MAX: usize = 8 * 1024;

/// Hex digits of the content hash kept in the index: 64 bits, enough to tell
/// apart two messages that share a Message-ID (the only comparison made). The
/// full hash lives on only in the keys of messages keyed by it.
const STORED_HASH_HEX: usize = 16;

/// `from_rewrite` of a message whose author was recovered from a list's
/// rewriting of From.
pub const REWRITE_RECOVERED: u64 = 1;
/// `from_rewrite` of a message a list rewrote whose author was not recovered.
pub const REWRITE_NOT_RECOVERED: u64 = 2;

/// The index term of document key `key` (keys are indexed lowercased, so
/// Message-IDs match whatever their case).
pub fn key_term(f: &Fields, key: &str) -> Term {
    Term::from_field_text(f.key, &lowercase_key(key))
}

/// Terms that find the message with Message-ID `id` (angle brackets optional,
/// any case) or content key: its key, and the `mid` of a different message
/// reusing the ID.
pub fn id_terms(f: &Fields, id: &str) -> [Term; 3] {
    let id = lowercase_key(id.trim().trim_start_matches('<').trim_end_matches('>'));
    [
        Term::from_field_text(f.key, &format!("<{id}>")),
        Term::from_field_text(f.mid, &id),
        // A content key (`sha256:…`: a message without a Message-ID, or
        // another message's under the same one) is its own id.
        Term::from_field_text(f.key, &id),
    ]
}

/// What makes two copies one document: the content hash (what a reader sees:
/// subject, sender, date, text) cut to [`STORED_HASH_HEX`], plus a digest of
/// what it does not cover but a copy can still differ in — recipients and
/// attachments (name, type, and size of binary parts). A copy on another list with another
/// attachment is another document, so deduplication can never show one
/// list's attachment through another list's copy.
pub fn identity(doc: &MailDoc) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for a in doc.to.iter().chain(doc.cc.iter()) {
        h.update(a.addr.as_deref().unwrap_or("").to_lowercase().as_bytes());
        h.update([0x1f]);
    }
    h.update([0x1e]);
    for a in &doc.attachments {
        h.update(a.filename.as_deref().unwrap_or("").as_bytes());
        h.update([0x1f]);
        h.update(a.mime.as_bytes());
        h.update([0x1f]);
        // Text parts change size with line endings (a Maildir copy with LF,
        // an mbox copy with CRLF); binary parts decode the same either way.
        if !a.mime.starts_with("text/") && !a.mime.starts_with("message/") {
            h.update(a.size.to_le_bytes());
        }
    }
    let extra = hex::encode(h.finalize());
    format!(
        "{}:{}",
        cap(&doc.content_hash, STORED_HASH_HEX),
        &extra[..STORED_HASH_HEX]
    )
}

/// The keys `doc` may be indexed under, in the order the writer tries them:
/// its Message-ID; when another message holds that, its content hash; when a
/// copy with the same text but other recipients or attachments holds that,
/// the content hash with those. Each is a function of the message alone.
pub fn candidate_keys(doc: &MailDoc) -> [String; 3] {
    [
        doc.key.clone(),
        format!("sha256:{}", doc.content_hash),
        format!(
            "sha256:{}-{}",
            doc.content_hash,
            identity(doc).replace(':', "-")
        ),
    ]
}

/// Is `bytes`, extracted, the message indexed under `key`? (A stale mbox
/// offset can point into another message: never seal or remove that.)
pub fn is_keyed(bytes: &[u8], key: &str) -> bool {
    // As mail, and as a pipermail archive's message (ids de-obfuscated).
    [false, true].into_iter().any(|pipermail| {
        let ctx = crate::extract::ExtractContext {
            pipermail,
            ..Default::default()
        };
        crate::extract::extract(bytes, &ctx).is_ok_and(|d| {
            candidate_keys(&d)
                .iter()
                .any(|k| k.eq_ignore_ascii_case(key))
        })
    })
}

/// Does an identity read back from the index (or pending) belong to `doc`?
pub fn same_content(known: &str, doc: &MailDoc) -> bool {
    !known.is_empty() && known == identity(doc)
}

/// The Message-ID of a stored document: stored only when the key is not
/// `<message-id>`, else read from the key.
pub fn message_id_of(f: &Fields, d: &TantivyDocument) -> String {
    let stored = first_str(d, f.message_id);
    if !stored.is_empty() {
        return stored;
    }
    id_of_key(&first_str(d, f.key))
        .unwrap_or_default()
        .to_string()
}

/// The Message-ID a key `<message-id>` names (`None` for a `sha256:` key).
fn id_of_key(key: &str) -> Option<&str> {
    key.strip_prefix('<').and_then(|k| k.strip_suffix('>'))
}

/// One place a message was found: its stable key, its URI and the list of
/// that copy (access follows the copy: a reader sees a message only through
/// a copy on a list they may read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// Identity that survives flag changes (see `store::Location::stable_key`).
    pub stable_key: String,
    /// Where to read the bytes (see `store::Location::to_uri`).
    pub uri: String,
    /// The list of this copy (`""` when none).
    pub list: String,
}

/// Formats an address as `Name <addr>`, `addr` or `Name`.
pub fn display_address(a: &Address) -> String {
    match (&a.name, &a.addr) {
        (Some(n), Some(ad)) if !n.is_empty() => format!("{n} <{ad}>"),
        (_, Some(ad)) => ad.clone(),
        (Some(n), None) => n.clone(),
        (None, None) => String::new(),
    }
}

fn address_terms(list: &[Address]) -> String {
    let mut s = String::new();
    for a in list {
        if let Some(n) = &a.name {
            s.push_str(n);
            s.push(' ');
        }
        if let Some(ad) = &a.addr {
            s.push_str(ad);
            s.push(' ');
        }
        s.push_str("\n\n");
    }
    s
}

fn display_list(list: &[Address]) -> String {
    serde_json::to_string(&list.iter().map(display_address).collect::<Vec<_>>()).unwrap_or_default()
}

fn cap(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Where a document is filed: its conversation and its threading tokens.
pub struct Filing<'a> {
    /// Conversation id.
    pub thread: &'a str,
    /// Threading tokens (see `index::threading`).
    pub tokens: &'a super::threading::Tokens,
}

/// Builds the tantivy document for `doc`, keyed `key`, found at `places`,
/// filed under `filing`.
pub fn to_document(
    f: &Fields,
    doc: &MailDoc,
    key: &str,
    places: &[Place],
    flags: &str,
    filing: &Filing<'_>,
) -> TantivyDocument {
    let mut d = TantivyDocument::default();
    d.add_text(f.key, key);
    if let Some(mid) = doc.message_id.as_deref() {
        if id_of_key(key) != Some(mid) {
            d.add_text(f.message_id, mid);
            d.add_text(f.mid, lowercase_key(mid));
        }
    }
    d.add_text(f.thread, filing.thread);
    for t in filing.tokens.all() {
        d.add_text(f.tref, t);
    }
    for p in places {
        d.add_text(f.loc, &p.stable_key);
        d.add_text(f.location, &p.uri);
        d.add_text(f.loc_list, &p.list);
    }
    d.add_text(f.flags, flags);
    // Who wrote it (the person behind a list's rewriting) is the sender
    // everywhere; the header as written stays searchable beside it.
    let authors = doc.authors();
    d.add_text(f.from, address_terms(authors));
    if let Some(addr) = authors.iter().find_map(|a| a.addr.as_deref()) {
        d.add_text(f.from_addr, addr.to_lowercase());
    }
    if doc.author.is_some() {
        d.add_text(f.from_header, address_terms(&doc.from));
        d.add_text(f.from_header_disp, display_list(&doc.from));
    }
    match doc.rewrite {
        Rewrite::Original => {}
        Rewrite::Recovered => d.add_u64(f.from_rewrite, REWRITE_RECOVERED),
        Rewrite::NotRecovered => d.add_u64(f.from_rewrite, REWRITE_NOT_RECOVERED),
    }
    d.add_text(f.to, address_terms(&doc.to));
    d.add_text(f.cc, address_terms(&doc.cc));
    d.add_text(f.from_disp, display_list(authors));
    d.add_text(f.to_disp, display_list(&doc.to));
    d.add_text(f.cc_disp, display_list(&doc.cc));
    d.add_text(f.subject, &doc.subject);
    d.add_text(f.thread_subject, &doc.thread_subject);
    // The subject also goes into the body field so stemmed matching covers it.
    let body_field = f.body_field_for(&doc.lang);
    d.add_text(body_field, format!("{}\n\n{}", doc.subject, doc.body));
    d.add_text(f.text, cap(&doc.body, STORED_TEXT_MAX));
    d.add_text(f.quoted, &doc.quoted);
    d.add_text(f.footer, &doc.footer);
    d.add_text(f.attach, &doc.attachment_text);
    for a in &doc.attachments {
        if let Some(name) = &a.filename {
            d.add_text(f.filename, name);
        }
    }
    // Every list a copy is on (the document is found through any of them).
    let mut lists: Vec<&str> = Vec::new();
    for l in places.iter().map(|p| p.list.as_str()) {
        if !l.is_empty() && !lists.contains(&l) {
            lists.push(l);
        }
    }
    for list in lists {
        d.add_text(f.list, list);
        d.add_text(f.list_text, list);
    }
    d.add_text(f.lang, &doc.lang);
    d.add_i64(f.date, doc.date.unwrap_or(0));
    d.add_u64(f.size, doc.size);
    d.add_u64(f.has_attach, u64::from(!doc.attachments.is_empty()));
    d.add_text(f.content_hash, identity(doc));
    if let Some(irt) = &doc.in_reply_to {
        d.add_text(f.in_reply_to, irt);
    }
    if !doc.defects.is_empty() {
        d.add_text(f.defects, doc.defects.join(", "));
    }
    d.add_i64(f.arrived, doc.arrived.or(doc.date).unwrap_or(0));
    let sig = &doc.signals;
    d.add_u64(f.sig_confirm, u64::from(sig.confirm));
    d.add_u64(f.sig_steps, u64::from(sig.steps));
    d.add_u64(f.sig_code, u64::from(sig.code));
    d.add_u64(f.sig_links, u64::from(sig.links));
    d.add_u64(f.sig_question, u64::from(sig.question));
    d.add_u64(f.sig_machine, u64::from(sig.machine));
    d.add_u64(f.sig_patch, u64::from(sig.patch));
    d.add_u64(f.sig_doclinks, u64::from(sig.doc_links));
    d.add_u64(f.sig_kind, u64::from(sig.kind));
    for id in &sig.cites {
        d.add_text(f.cites, id);
    }
    d
}

/// What the index stores about a message.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StoredMessage {
    /// Document key.
    pub key: String,
    /// Message-ID (normalised), empty when the mail had none.
    pub message_id: String,
    /// Thread key.
    pub thread_id: String,
    /// Date, unix seconds UTC (0 when unknown).
    pub date: i64,
    /// Authors, as `Name <addr>`: the person behind a list's rewriting of
    /// From when recovered, else the From header.
    pub from: Vec<String>,
    /// The From header as written (differs from `from` when a list rewrote it).
    pub from_header: Vec<String>,
    /// Recipients.
    pub to: Vec<String>,
    /// Copies.
    pub cc: Vec<String>,
    /// Decoded subject.
    pub subject: String,
    /// List id, empty when none: the first list of a copy the viewer may
    /// read (see [`StoredMessage::visible_to`]).
    pub list: String,
    /// Every list a copy is on (only those the viewer may read).
    #[serde(skip)]
    pub lists: Vec<String>,
    /// The list of each location (parallel to `locations`).
    #[serde(skip)]
    pub location_lists: Vec<String>,
    /// Language code.
    pub lang: String,
    /// Raw size.
    pub size: u64,
    /// Location URIs.
    pub locations: Vec<String>,
    /// Maildir flags.
    pub flags: String,
    /// Content hash.
    #[serde(skip)]
    pub content_hash: String,
    /// In-Reply-To.
    pub in_reply_to: String,
    /// The start of the author's text.
    #[serde(skip)]
    pub text: String,
}

fn first_str(d: &TantivyDocument, field: tantivy::schema::Field) -> String {
    d.get_first(field)
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn all_str(d: &TantivyDocument, field: tantivy::schema::Field) -> Vec<String> {
    d.get_all(field)
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

fn json_list(d: &TantivyDocument, field: tantivy::schema::Field) -> Vec<String> {
    serde_json::from_str(&first_str(d, field)).unwrap_or_default()
}

/// The columns of one segment that [`StoredMessage`]s are completed from.
struct Columns {
    date: Column<i64>,
    size: Column<u64>,
    thread: Option<StrColumn>,
    thread_terms: Option<super::column_terms::Terms>,
}

/// Loads stored messages through one searcher, opening each segment's
/// columns once (opening the thread column reads its dictionary's index).
pub struct Loader<'a> {
    searcher: &'a Searcher,
    f: &'a Fields,
    columns: Vec<Option<Columns>>,
}

impl<'a> Loader<'a> {
    /// A loader for documents of `searcher`.
    pub fn new(searcher: &'a Searcher, f: &'a Fields) -> Loader<'a> {
        Loader {
            searcher,
            f,
            columns: Vec::new(),
        }
    }

    /// The message at `addr`: its stored fields, plus date, size and thread
    /// from the fast fields (kept once, as columns, not in the store).
    pub fn load(&mut self, addr: DocAddress) -> tantivy::Result<StoredMessage> {
        let d: TantivyDocument = self.searcher.doc(addr)?;
        let mut m = StoredMessage::from_document(self.f, &d);
        let seg = addr.segment_ord as usize;
        if self.columns.len() <= seg {
            self.columns.resize_with(seg + 1, || None);
        }
        let columns = match &mut self.columns[seg] {
            Some(c) => c,
            slot => {
                let segment = self.searcher.segment_reader(addr.segment_ord);
                let ff = segment.fast_fields();
                let thread = ff.str("thread")?;
                let thread_terms = thread
                    .as_ref()
                    .and_then(|t| super::column_terms::terms(segment, "thread", t));
                slot.insert(Columns {
                    date: ff.i64("date")?,
                    size: ff.u64("size")?,
                    thread,
                    thread_terms,
                })
            }
        };
        m.date = columns.date.first(addr.doc_id).unwrap_or(0);
        m.size = columns.size.first(addr.doc_id).unwrap_or(0);
        if let Some(threads) = &columns.thread {
            if let Some(ord) = threads.term_ords(addr.doc_id).next() {
                let cached = columns.thread_terms.as_ref().and_then(|t| {
                    let i = usize::try_from(ord).ok()?;
                    t.get(i)
                });
                match cached {
                    Some(text) => {
                        m.thread_id.clear();
                        m.thread_id.push_str(text);
                    }
                    None => {
                        threads.ord_to_str(ord, &mut m.thread_id)?;
                    }
                }
            }
        }
        Ok(m)
    }
}

impl StoredMessage {
    /// The message as a viewer allowed `allowed` lists sees it (`None`: every
    /// list): only the copies on lists they may read, and its list one of
    /// those. A document cross-posted to lists A and B shows a reader of A
    /// only A's copies.
    pub fn visible_to(mut self, allowed: Option<&[String]>) -> StoredMessage {
        let Some(allowed) = allowed else { return self };
        let ok = |l: &str| !l.is_empty() && allowed.iter().any(|a| a.eq_ignore_ascii_case(l));
        if self.location_lists.len() == self.locations.len() {
            let (locations, lists): (Vec<String>, Vec<String>) = self
                .locations
                .drain(..)
                .zip(self.location_lists.drain(..))
                .filter(|(_, l)| ok(l))
                .unzip();
            self.locations = locations;
            self.location_lists = lists;
        } else {
            self.locations.clear();
            self.location_lists.clear();
        }
        self.lists.retain(|l| ok(l));
        self.list = self.lists.first().cloned().unwrap_or_default();
        self
    }

    /// Loads the one message at `addr` (for many, keep a [`Loader`]).
    pub fn load(
        searcher: &Searcher,
        f: &Fields,
        addr: DocAddress,
    ) -> tantivy::Result<StoredMessage> {
        Loader::new(searcher, f).load(addr)
    }

    /// Reads the stored fields of a tantivy document (date, size and thread
    /// are not stored: see [`StoredMessage::load`]).
    fn from_document(f: &Fields, d: &TantivyDocument) -> StoredMessage {
        StoredMessage {
            key: first_str(d, f.key),
            message_id: message_id_of(f, d),
            thread_id: String::new(),
            date: 0,
            from_header: match d.get_first(f.from_header_disp) {
                Some(_) => json_list(d, f.from_header_disp),
                None => json_list(d, f.from_disp),
            },
            from: json_list(d, f.from_disp),
            to: json_list(d, f.to_disp),
            cc: json_list(d, f.cc_disp),
            subject: first_str(d, f.subject),
            list: first_str(d, f.list),
            lists: all_str(d, f.list),
            location_lists: all_str(d, f.loc_list),
            lang: first_str(d, f.lang),
            size: 0,
            locations: all_str(d, f.location),
            flags: first_str(d, f.flags),
            content_hash: first_str(d, f.content_hash),
            in_reply_to: first_str(d, f.in_reply_to),
            text: first_str(d, f.text),
        }
    }
}
