//! Tests of the store that span several files: mbox framing (with proptests), every
//! source kind through `scan`/`read_location`, and the shared real-mail corpora.

mod corpora;
mod mbox_framing;
mod sources;
