//! Per segment, every document's `list` and `from_addr` term ordinal and its
//! month, decoded once into flat arrays and kept for later searches.
//!
//! Counting facets over a broad result reads, for every hit, the two text
//! columns' row index and values and the `date` column: at 5M messages more
//! than half of a query matching 30% of the archive went there
//! (docs/BENCHMARKS.md, "The ≥ 30% query"). A long-running server reads each
//! segment's columns once into arrays of 10 bytes a document, so a hit costs
//! three array reads. Segments are immutable and their ids unique, so an entry
//! never goes stale; the cache is bounded in bytes and forgets its oldest
//! segments first. It is on only where [`super::column_terms::keep`] was
//! called (`serve`, `mcp`): a one-shot command would decode a whole segment
//! for one answer.
//!
//! Knows nothing of queries; the civil calendar ([`year_month`]) lives here
//! because the months are computed here.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tantivy::columnar::StrColumn;
use tantivy::index::SegmentId;
use tantivy::{DocId, SegmentReader};

use super::kept::Kept;

/// A document without a value in the column.
pub const NONE: u32 = u32::MAX;
/// A document with several values: read them from the column.
pub const MANY: u32 = u32::MAX - 1;
/// An undated document (no date, or not after 1970-01-01T00:00:00Z).
pub const UNDATED: u16 = 0;
/// A date too far ahead for the array: read it from the column.
pub const FAR: u16 = u16::MAX;

/// Bytes the cache holds at most (all indexes of the process): 10 bytes a
/// document, so ~50M documents.
const MAX_BYTES: usize = 512 << 20;

/// One segment's decoded columns, by document id.
pub struct Rows {
    /// `list` term ordinal, or [`NONE`] / [`MANY`].
    pub list: Box<[u32]>,
    /// `from_addr` term ordinal, or [`NONE`] / [`MANY`].
    pub from: Box<[u32]>,
    /// 1 + months since 1970-01 of `date`, or [`UNDATED`] / [`FAR`].
    pub month: Box<[u16]>,
}

impl Rows {
    fn bytes(&self) -> usize {
        self.list.len() * 4 + self.from.len() * 4 + self.month.len() * 2
    }
}

fn cache() -> &'static Kept<SegmentId, Arc<Rows>> {
    static CACHE: OnceLock<Kept<SegmentId, Arc<Rows>>> = OnceLock::new();
    CACHE.get_or_init(|| Kept::new(MAX_BYTES))
}

/// `segment`'s decoded rows, decoded now if no search has yet; `None` when
/// the cache is off (the caller reads the columns itself) or a column cannot
/// be read.
pub fn rows(segment: &SegmentReader) -> Option<Arc<Rows>> {
    if !super::column_terms::kept() {
        return None;
    }
    let id = segment.segment_id();
    if let Some(rows) = cache().get(&id) {
        return Some(rows);
    }
    let rows = Arc::new(decode(segment)?);
    cache().insert(id, rows.clone(), rows.bytes());
    Some(rows)
}

/// Decodes every segment of `searcher` not decoded yet.
pub fn warm(searcher: &tantivy::Searcher) {
    for segment in searcher.segment_readers() {
        rows(segment);
    }
}

/// A thread that decodes the segments of `reader`'s newest searcher every
/// `every` (new segments appear with each commit and merge), until `stop`:
/// so a search seldom pays the decoding itself, and a commit is never
/// delayed by it (a tantivy `Warmer` would run inside the reload).
pub fn spawn_warmer(
    reader: tantivy::IndexReader,
    stop: Arc<AtomicBool>,
    every: Duration,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("facet-rows".into())
        .spawn(move || {
            let step = Duration::from_millis(250).min(every);
            let mut waited = every;
            while !stop.load(Ordering::Relaxed) {
                if waited >= every {
                    warm(&reader.searcher());
                    waited = Duration::ZERO;
                }
                std::thread::sleep(step);
                waited += step;
            }
        })
}

fn decode(segment: &SegmentReader) -> Option<Rows> {
    let max_doc = segment.max_doc();
    let fast = segment.fast_fields();
    let ords = |field: &str| -> Option<Box<[u32]>> {
        let column: Option<StrColumn> = fast.str(field).ok()?;
        let Some(column) = column else {
            return Some(vec![NONE; max_doc as usize].into());
        };
        let ords = column.ords();
        Some(
            (0..max_doc)
                .map(|doc: DocId| {
                    let mut values = ords.values_for_doc(doc);
                    match (values.next(), values.next()) {
                        (None, _) => NONE,
                        (Some(ord), None) => u32::try_from(ord)
                            .ok()
                            .filter(|o| *o < MANY)
                            .unwrap_or(MANY),
                        (Some(_), Some(_)) => MANY,
                    }
                })
                .collect(),
        )
    };
    let list = ords("list")?;
    let from = ords("from_addr")?;
    let dates = fast.i64("date").ok()?;
    let month = (0..max_doc)
        .map(|doc| match dates.first(doc) {
            Some(secs) if secs > 0 => {
                let (y, m) = year_month(secs);
                u16::try_from(month_index(y, m) + 1)
                    .ok()
                    .filter(|i| *i < FAR)
                    .unwrap_or(FAR)
            }
            _ => UNDATED,
        })
        .collect();
    Some(Rows { list, from, month })
}

/// Months from 1970-01 to `month` of `year` (0 for January 1970).
pub fn month_index(year: i32, month: u8) -> i64 {
    i64::from(year - 1970) * 12 + i64::from(month) - 1
}

/// The year and month `idx` months after January 1970 (inverse of [`month_index`]).
pub fn month_of_index(idx: usize) -> (i32, u8) {
    (1970 + (idx / 12) as i32, (idx % 12) as u8 + 1)
}

/// Days since 1970-01-01 of the first day of `month` in `year` (proleptic
/// Gregorian; Howard Hinnant's days-from-civil).
pub fn days_from_civil(year: i32, month: u8) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil (proleptic Gregorian) year and month of unix seconds, UTC.
pub fn year_month(secs: i64) -> (i32, u8) {
    // Howard Hinnant's days-to-civil algorithm.
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year as i32, month as u8)
}

/// Is `segment` decoded in the cache?
#[cfg(test)]
fn is_decoded(segment: SegmentId) -> bool {
    cache().get(&segment).is_some()
}

#[cfg(test)]
mod tests {
    use super::{days_from_civil, year_month, MANY, NONE, UNDATED};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};
    use tantivy::schema::{Schema, FAST, STRING};
    use tantivy::{doc, Index};

    #[test]
    fn rows_hold_each_documents_ordinal_month_or_a_marker_and_the_warmer_decodes_new_segments() {
        super::super::column_terms::keep();
        let mut b = Schema::builder();
        let list = b.add_text_field("list", STRING | FAST);
        let from = b.add_text_field("from_addr", STRING | FAST);
        let date = b.add_i64_field("date", FAST);
        let index = Index::create_in_ram(b.build());
        let mut w = index
            .writer_with_num_threads(1, 15_000_000)
            .expect("writer");
        // 2019-03-01T10:00Z: month 49 * 12 + 3 = 591 (1 + months since 1970-01).
        w.add_document(doc!(list => "b", from => "x", date => 1_551_434_400i64))
            .expect("add");
        w.add_document(doc!(list => "a", list => "b", date => 0i64))
            .expect("add");
        w.add_document(doc!(from => "y")).expect("add");
        w.commit().expect("commit");
        let reader = index.reader().expect("reader");
        let searcher = reader.searcher();
        let seg = &searcher.segment_readers()[0];
        let rows = super::rows(seg).expect("rows");
        // Ordinals in term order: list a=0, b=1; from x=0, y=1.
        assert_eq!(&*rows.list, &[1, MANY, NONE]);
        assert_eq!(&*rows.from, &[0, NONE, 1]);
        assert_eq!(&*rows.month, &[591, UNDATED, UNDATED]);
        assert!(super::is_decoded(seg.segment_id()));

        let stop = Arc::new(AtomicBool::new(false));
        let warmer = super::spawn_warmer(reader.clone(), stop.clone(), Duration::from_millis(50))
            .expect("spawn");
        w.add_document(doc!(list => "c")).expect("add");
        w.commit().expect("commit");
        reader.reload().expect("reload");
        let searcher = reader.searcher();
        let ids: Vec<_> = searcher
            .segment_readers()
            .iter()
            .map(|s| s.segment_id())
            .collect();
        assert_eq!(ids.len(), 2);
        let started = Instant::now();
        while !ids.iter().all(|id| super::is_decoded(*id)) {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the warmer decoded nothing"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        stop.store(true, Ordering::Relaxed);
        warmer.join().expect("the warmer stops");
    }

    #[test]
    fn days_from_civil_inverts_year_month() {
        for (y, m) in [
            (1970, 1),
            (2000, 2),
            (2000, 3),
            (2018, 12),
            (2019, 3),
            (2100, 2),
        ] {
            let start = days_from_civil(y, m) * 86_400;
            assert_eq!(year_month(start), (y, m));
            assert_ne!(year_month(start - 1), (y, m));
        }
    }

    #[test]
    fn month_indexes_count_from_january_1970_both_ways() {
        assert_eq!(super::month_index(1970, 1), 0);
        assert_eq!(super::month_index(2019, 3), 590);
        for idx in [0usize, 11, 12, 590, 1_199] {
            let (y, m) = super::month_of_index(idx);
            assert_eq!(super::month_index(y, m), idx as i64);
        }
    }

    #[test]
    fn year_month_matches_known_dates() {
        assert_eq!(year_month(0), (1970, 1));
        assert_eq!(year_month(951_782_400), (2000, 2)); // 2000-02-29
        assert_eq!(year_month(951_868_799), (2000, 2)); // 2000-02-29T23:59:59
        assert_eq!(year_month(951_868_800), (2000, 3));
        assert_eq!(year_month(1_551_434_400), (2019, 3)); // 2019-03-01T10:00
        assert_eq!(year_month(1_546_300_799), (2018, 12));
    }
}
