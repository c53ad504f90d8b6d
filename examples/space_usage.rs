//! Prints where an index's bytes go, per component and per field.
//!
//! cargo run --release --example space_usage -- DATA_DIR [--store]
//! cargo run --release --example space_usage -- DATA_DIR/imap [--store]
//!
//! DATA_DIR's archive index, or any tantivy index directory (the IMAP index).
//! `--store` also estimates each stored field's share of the document store.

use std::path::Path;

fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: space_usage DATA_DIR|INDEX_DIR [--store]"))?;
    let dir = Path::new(&dir);
    let dir = if dir.join("index/meta.json").exists() {
        dir.join("index")
    } else {
        dir.to_path_buf()
    };
    let index = tantivy::Index::open_in_dir(&dir)?;
    let searcher = index.reader()?.searcher();
    let usage = searcher.space_usage()?;
    let v = serde_json::to_value(&usage)?;
    let mut fields: std::collections::BTreeMap<String, u64> = Default::default();
    let mut parts: std::collections::BTreeMap<String, u64> = Default::default();
    let schema = index.schema();
    for seg in v["segments"].as_array().cloned().unwrap_or_default() {
        for (part, val) in seg["components"].as_object().cloned().unwrap_or_default() {
            let inner = val
                .as_object()
                .and_then(|o| o.values().next().cloned())
                .unwrap_or_default();
            if let Some(n) = inner["total"]
                .as_u64()
                .or_else(|| inner.as_u64())
                .or_else(|| val["total"].as_u64())
            {
                *parts.entry(part.clone()).or_default() += n;
            }
            if let Some(f) = inner["fields"].as_object() {
                for (fid, fv) in f {
                    let name = fid
                        .parse::<u32>()
                        .ok()
                        .map(|i| {
                            schema
                                .get_field_name(tantivy::schema::Field::from_field_id(i))
                                .to_string()
                        })
                        .unwrap_or_else(|| fid.clone());
                    *fields.entry(format!("{part}/{name}")).or_default() += fv["num_bytes"]
                        .as_u64()
                        .or_else(|| fv.as_u64())
                        .unwrap_or(0);
                }
            }
        }
    }
    for (k, n) in parts {
        println!("{:>12}  {k}", n);
    }
    let mut f: Vec<_> = fields.into_iter().collect();
    f.sort_by_key(|x| std::cmp::Reverse(x.1));
    for (k, n) in f.into_iter().take(25) {
        println!("{:>12}  {k}", n);
    }
    if std::env::args().any(|a| a == "--store") {
        store_by_field(&searcher)?;
    }
    Ok(())
}

/// Estimates each stored field's share of the document store: the field's values
/// of all documents, zstd-compressed in 32 KiB chunks (as the store does).
fn store_by_field(searcher: &tantivy::Searcher) -> anyhow::Result<()> {
    use tantivy::schema::Value;
    let schema = searcher.schema();
    let mut raw: std::collections::BTreeMap<String, Vec<u8>> = Default::default();
    for seg in searcher.segment_readers() {
        let store = seg.get_store_reader(0)?;
        for doc in store.iter::<tantivy::TantivyDocument>(seg.alive_bitset()) {
            for (field, value) in doc?.field_values() {
                let name = schema.get_field_name(field).to_string();
                let buf = raw.entry(name).or_default();
                if let Some(s) = value.as_str() {
                    buf.extend_from_slice(s.as_bytes());
                } else if let Some(n) = value.as_i64() {
                    buf.extend_from_slice(&n.to_le_bytes());
                } else if let Some(n) = value.as_u64() {
                    buf.extend_from_slice(&n.to_le_bytes());
                }
                buf.push(0);
            }
        }
    }
    let mut sizes: Vec<(String, usize, usize)> = raw
        .into_iter()
        .map(|(k, v)| {
            let z: usize = v
                .chunks(32 * 1024)
                .map(|c| {
                    zstd::bulk::compress(c, 3)
                        .map(|x| x.len())
                        .unwrap_or(c.len())
                })
                .sum();
            (k, v.len(), z)
        })
        .collect();
    sizes.sort_by_key(|x| std::cmp::Reverse(x.2));
    for (k, raw, z) in sizes {
        println!("{z:>12}  store/{k} (raw {raw})");
    }
    Ok(())
}
