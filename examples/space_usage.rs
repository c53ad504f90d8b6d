//! Prints where an index's bytes go, per component and per field.
//!
//! cargo run --release --example space_usage -- DATA_DIR

use gleaner::index::MailIndex;

fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: space_usage DATA_DIR"))?;
    let index = MailIndex::open(&std::path::Path::new(&dir).join("index"), false)?;
    let usage = index.reader.searcher().space_usage()?;
    let v = serde_json::to_value(&usage)?;
    let mut fields: std::collections::BTreeMap<String, u64> = Default::default();
    let mut parts: std::collections::BTreeMap<String, u64> = Default::default();
    let schema = index.index.schema();
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
    Ok(())
}
