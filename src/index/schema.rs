//! The index schema: every field gleaner stores or searches, defined once.
//!
//! Bodies are indexed in one field per stemmed language (`body_en`, `body_de`,
//! ...) plus `body_und` for every other language; the planner queries all of
//! them so a query finds `Häuser` in German mail without knowing its language.
//! The author's own words, quoted reply text and signatures/footers live in
//! separate fields so ranking can weigh them differently.

use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED, STORED, STRING,
};

use super::analysis::{stem_analyzer_name, FOLD, STEMMED};

/// Handles to every field of the schema.
#[derive(Clone, Debug)]
pub struct Fields {
    /// Document key: `<message-id>`, or `sha256:<content hash>`.
    pub key: Field,
    /// Message-ID as found (normalised, case kept); stored only.
    pub message_id: Field,
    /// Lowercased Message-ID, for `id:`.
    pub mid: Field,
    /// Thread key (root of the References chain).
    pub thread: Field,
    /// Stable location keys (one per place the message was found).
    pub loc: Field,
    /// Location URIs (stored, parallel to `loc`).
    pub location: Field,
    /// Maildir flags of the first location.
    pub flags: Field,
    /// Sender names and addresses (tokenised).
    pub from: Field,
    /// The first sender's bare address, lowercased (exact, fast: the `from` facet).
    pub from_addr: Field,
    /// Recipients.
    pub to: Field,
    /// Carbon-copy recipients.
    pub cc: Field,
    /// Display forms of From/To/Cc (stored, JSON arrays of "Name <addr>").
    pub from_disp: Field,
    /// Display form of To.
    pub to_disp: Field,
    /// Display form of Cc.
    pub cc_disp: Field,
    /// Decoded subject (folded, unstemmed; stored).
    pub subject: Field,
    /// Subject normalised for threading.
    pub thread_subject: Field,
    /// Body fields per stemmed language, as (whatlang code, field).
    pub body_lang: Vec<(&'static str, Field)>,
    /// Body field for languages without a stemmer.
    pub body_und: Field,
    /// Author's own text, stored for snippets and display.
    pub text: Field,
    /// Quoted reply text.
    pub quoted: Field,
    /// Signatures and list footers.
    pub footer: Field,
    /// Text of text/* attachments.
    pub attach: Field,
    /// Attachment file names.
    pub filename: Field,
    /// List id, exact (lowercase).
    pub list: Field,
    /// List id, tokenised (`list:dev` finds `dev.lists.example.org`).
    pub list_text: Field,
    /// Detected language (whatlang code or `und`).
    pub lang: Field,
    /// Date, unix seconds UTC (0 when unknown).
    pub date: Field,
    /// Raw size in bytes.
    pub size: Field,
    /// 1 when the message has attachments.
    pub has_attach: Field,
    /// SHA-256 of the normalised content (dedup check).
    pub content_hash: Field,
    /// In-Reply-To (stored).
    pub in_reply_to: Field,
    /// Extraction defects (stored).
    pub defects: Field,
    /// Arrival time, unix seconds (newest Received, else envelope, else date).
    pub arrived: Field,
    /// Harvest signal: phrases confirming a fix or cause.
    pub sig_confirm: Field,
    /// Harvest signal: procedural language.
    pub sig_steps: Field,
    /// Harvest signal: lines of commands, code or configuration.
    pub sig_code: Field,
    /// Harvest signal: links.
    pub sig_links: Field,
    /// Message-IDs cited in the text, lowercased (exact).
    pub cites: Field,
}

fn text_field(analyzer: &str, stored: bool) -> TextOptions {
    let indexing = TextFieldIndexing::default()
        .set_tokenizer(analyzer)
        .set_index_option(IndexRecordOption::WithFreqsAndPositions);
    let options = TextOptions::default().set_indexing_options(indexing);
    if stored {
        options.set_stored()
    } else {
        options
    }
}

/// Builds the schema and the field handles.
pub fn build() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let body_lang = STEMMED
        .iter()
        .map(|(code, suffix, _)| {
            let field = b.add_text_field(
                &format!("body_{suffix}"),
                text_field(&stem_analyzer_name(suffix), false),
            );
            (*code, field)
        })
        .collect();
    let fields = Fields {
        key: b.add_text_field("key", STRING | STORED),
        message_id: b.add_text_field("message_id", STORED),
        mid: b.add_text_field("mid", STRING),
        thread: b.add_text_field("thread", STRING | STORED | FAST),
        loc: b.add_text_field("loc", STRING),
        location: b.add_text_field("location", STORED),
        flags: b.add_text_field("flags", STORED),
        from: b.add_text_field("from", text_field(FOLD, false)),
        from_addr: b.add_text_field("from_addr", STRING | FAST),
        to: b.add_text_field("to", text_field(FOLD, false)),
        cc: b.add_text_field("cc", text_field(FOLD, false)),
        from_disp: b.add_text_field("from_disp", STORED),
        to_disp: b.add_text_field("to_disp", STORED),
        cc_disp: b.add_text_field("cc_disp", STORED),
        subject: b.add_text_field("subject", text_field(FOLD, true)),
        thread_subject: b.add_text_field("thread_subject", STRING),
        body_lang,
        body_und: b.add_text_field("body_und", text_field(FOLD, false)),
        text: b.add_text_field("text", STORED),
        quoted: b.add_text_field("quoted", text_field(FOLD, false)),
        footer: b.add_text_field("footer", text_field(FOLD, false)),
        attach: b.add_text_field("attach", text_field(FOLD, false)),
        filename: b.add_text_field("filename", text_field(FOLD, true)),
        list: b.add_text_field("list", STRING | STORED | FAST),
        list_text: b.add_text_field("list_text", text_field(FOLD, false)),
        lang: b.add_text_field("lang", STRING | STORED | FAST),
        date: b.add_i64_field("date", STORED | FAST),
        size: b.add_u64_field("size", STORED | FAST),
        has_attach: b.add_u64_field("has_attach", INDEXED | FAST),
        content_hash: b.add_text_field("content_hash", STORED),
        in_reply_to: b.add_text_field("in_reply_to", STORED),
        defects: b.add_text_field("defects", STORED),
        arrived: b.add_i64_field("arrived", FAST),
        sig_confirm: b.add_u64_field("sig_confirm", FAST),
        sig_steps: b.add_u64_field("sig_steps", FAST),
        sig_code: b.add_u64_field("sig_code", FAST),
        sig_links: b.add_u64_field("sig_links", FAST),
        cites: b.add_text_field("cites", STRING),
    };
    (b.build(), fields)
}

impl Fields {
    /// Looks the handles up in an existing index's schema (same names as [`build`]).
    pub fn body_field_for(&self, lang: &str) -> Field {
        self.body_lang
            .iter()
            .find(|(code, _)| *code == lang)
            .map(|(_, f)| *f)
            .unwrap_or(self.body_und)
    }

    /// Every body field, stemmed ones first.
    pub fn body_fields(&self) -> Vec<Field> {
        let mut all: Vec<Field> = self.body_lang.iter().map(|(_, f)| *f).collect();
        all.push(self.body_und);
        all
    }
}
