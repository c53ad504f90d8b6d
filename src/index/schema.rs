//! The index schema: every field gleaner stores or searches, defined once.
//!
//! Bodies are indexed in one field per stemmed language (`body_en`, `body_de`,
//! ...) plus `body_und` for every other language; the planner queries all of
//! them so a query finds `Häuser` in German mail without knowing its language.
//! The author's own words, quoted reply text and signatures/footers live in
//! separate fields so ranking can weigh them differently.

use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED, STORED,
};

use super::analysis::{stem_analyzer_name, FOLD, KEY, STEMMED};

/// tantivy's own untokenised analyser.
const RAW: &str = "raw";

/// Handles to every field of the schema.
#[derive(Clone, Debug)]
pub struct Fields {
    /// Document key: `<message-id>`, or `sha256:<content hash>`. Stored as
    /// is, indexed lowercased (see [`super::doc::key_term`]).
    pub key: Field,
    /// Message-ID as found (normalised, case kept); stored only when the key is
    /// not `<message-id>` (see [`super::doc::StoredMessage`]).
    pub message_id: Field,
    /// Lowercased Message-ID of a document whose key is not its Message-ID (a
    /// different message reusing an ID), so `id:` still finds it.
    pub mid: Field,
    /// Conversation id: the connected component of the Message-IDs messages
    /// name (see `index::threading`). Stable as messages join it.
    pub thread: Field,
    /// Threading tokens (exact, lowercased): the message's own id, every id it
    /// names (References, In-Reply-To), and subject keys for mail that lost
    /// those headers. Two messages sharing a token are in one conversation.
    pub tref: Field,
    /// Stable location keys (one per place the message was found).
    pub loc: Field,
    /// Location URIs (stored, parallel to `loc`).
    pub location: Field,
    /// The list of each location (stored, parallel to `location`).
    pub loc_list: Field,
    /// Maildir flags of the first location.
    pub flags: Field,
    /// Author names and addresses (tokenised): the person behind a list's
    /// DMARC rewriting when recovered (see `extract::MailDoc::authors`).
    pub from: Field,
    /// The first author's bare address, lowercased (exact, fast: the `from` facet).
    pub from_addr: Field,
    /// The From header as written, when a list rewrote it and the author was
    /// recovered (tokenised; `from:` searches it too, ranking does not).
    pub from_header: Field,
    /// Display form of that From header (stored, JSON array), same condition.
    pub from_header_disp: Field,
    /// 1 when a list rewrote From and the author was recovered, 2 when not
    /// recovered; absent otherwise (indexed, for `stats`).
    pub from_rewrite: Field,
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
    /// List ids of every copy, exact (lowercase; one value per list).
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
    /// What makes two copies one document (`index::doc::identity`).
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
    /// Harvest signal: lines asking a question.
    pub sig_question: Field,
    /// Harvest signal: lines of pasted machine output (logs, dumps, traces).
    pub sig_machine: Field,
    /// Harvest signal: lines of unified diffs.
    pub sig_patch: Field,
    /// Harvest signal: links to documentation.
    pub sig_doclinks: Field,
    /// Harvest signal: announcement (1) and bot (2) bits.
    pub sig_kind: Field,
    /// Message-IDs cited in the text, lowercased (exact).
    pub cites: Field,
}

/// How a tokenised field is indexed.
#[derive(Clone, Copy, PartialEq)]
enum Text {
    /// Positions (phrases) and field norms (BM25 length normalisation): text
    /// whose ranking matters (quoted reply text too: positions on it cost
    /// 0.016 of the mail, docs/BENCHMARKS.md, issue 17).
    Ranked,
    /// Positions, no field norms: short text where length says nothing
    /// (addresses, file names, list ids).
    Short,
    /// Neither: matched word by word only (signatures and list footers).
    Words,
}

fn text_field(analyzer: &str, kind: Text, stored: bool) -> TextOptions {
    let record = match kind {
        Text::Ranked | Text::Short => IndexRecordOption::WithFreqsAndPositions,
        Text::Words => IndexRecordOption::WithFreqs,
    };
    let indexing = TextFieldIndexing::default()
        .set_tokenizer(analyzer)
        .set_index_option(record)
        .set_fieldnorms(kind == Text::Ranked);
    let options = TextOptions::default().set_indexing_options(indexing);
    if stored {
        options.set_stored()
    } else {
        options
    }
}

/// An untokenised field: one exact term per value, no field norms (one byte
/// per document per field that nothing reads).
fn exact(tokenizer: &str) -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(IndexRecordOption::Basic)
            .set_fieldnorms(false),
    )
}

/// Builds the schema and the field handles.
pub fn build() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let body_lang = STEMMED
        .iter()
        .map(|(code, suffix, _)| {
            let field = b.add_text_field(
                &format!("body_{suffix}"),
                text_field(&stem_analyzer_name(suffix), Text::Ranked, false),
            );
            (*code, field)
        })
        .collect();
    let fields = Fields {
        key: b.add_text_field("key", exact(KEY) | STORED | FAST),
        message_id: b.add_text_field("message_id", STORED),
        mid: b.add_text_field("mid", exact(RAW)),
        thread: b.add_text_field("thread", exact(RAW) | FAST),
        tref: b.add_text_field("tref", exact(RAW)),
        loc: b.add_text_field("loc", exact(RAW)),
        location: b.add_text_field("location", STORED | FAST),
        loc_list: b.add_text_field("loc_list", STORED),
        flags: b.add_text_field("flags", STORED),
        from: b.add_text_field("from", text_field(FOLD, Text::Short, false)),
        from_addr: b.add_text_field("from_addr", exact(RAW) | FAST),
        from_header: b.add_text_field("from_header", text_field(FOLD, Text::Short, false)),
        from_header_disp: b.add_text_field("from_header_disp", STORED),
        from_rewrite: b.add_u64_field("from_rewrite", INDEXED),
        to: b.add_text_field("to", text_field(FOLD, Text::Short, false)),
        cc: b.add_text_field("cc", text_field(FOLD, Text::Short, false)),
        from_disp: b.add_text_field("from_disp", STORED),
        to_disp: b.add_text_field("to_disp", STORED),
        cc_disp: b.add_text_field("cc_disp", STORED),
        subject: b.add_text_field("subject", text_field(FOLD, Text::Ranked, true)),
        thread_subject: b.add_text_field("thread_subject", exact(RAW)),
        body_lang,
        body_und: b.add_text_field("body_und", text_field(FOLD, Text::Ranked, false)),
        text: b.add_text_field("text", STORED),
        quoted: b.add_text_field("quoted", text_field(FOLD, Text::Ranked, false)),
        footer: b.add_text_field("footer", text_field(FOLD, Text::Words, false)),
        attach: b.add_text_field("attach", text_field(FOLD, Text::Ranked, false)),
        filename: b.add_text_field("filename", text_field(FOLD, Text::Short, true)),
        list: b.add_text_field("list", exact(RAW) | STORED | FAST),
        list_text: b.add_text_field("list_text", text_field(FOLD, Text::Short, false)),
        lang: b.add_text_field("lang", exact(RAW) | STORED | FAST),
        date: b.add_i64_field("date", FAST),
        size: b.add_u64_field("size", FAST),
        has_attach: b.add_u64_field("has_attach", FAST),
        content_hash: b.add_text_field("content_hash", STORED),
        in_reply_to: b.add_text_field("in_reply_to", STORED),
        defects: b.add_text_field("defects", STORED),
        arrived: b.add_i64_field("arrived", FAST),
        sig_confirm: b.add_u64_field("sig_confirm", FAST),
        sig_steps: b.add_u64_field("sig_steps", FAST),
        sig_code: b.add_u64_field("sig_code", FAST),
        sig_links: b.add_u64_field("sig_links", FAST),
        sig_question: b.add_u64_field("sig_question", FAST),
        sig_machine: b.add_u64_field("sig_machine", FAST),
        sig_patch: b.add_u64_field("sig_patch", FAST),
        sig_doclinks: b.add_u64_field("sig_doclinks", FAST),
        sig_kind: b.add_u64_field("sig_kind", FAST),
        cites: b.add_text_field("cites", exact(RAW)),
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
