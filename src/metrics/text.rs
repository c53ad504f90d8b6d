//! The Prometheus text exposition format, version 0.0.4: `# HELP` and
//! `# TYPE` lines, then one line per sample, label values escaped. Pure: it
//! writes into a `String` and knows nothing of where the numbers come from.

use std::fmt::Write;

use super::histogram::Snapshot;

/// The `Content-Type` of an exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Label pairs of one sample: (name, value).
pub type Labels<'a> = &'a [(&'a str, &'a str)];

/// An exposition being written.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    /// An empty exposition.
    pub fn new() -> Exposition {
        Exposition::default()
    }

    /// A counter family (`name` ends in `_total`).
    pub fn counter(&mut self, name: &str, help: &str, samples: &[(Labels<'_>, f64)]) {
        debug_assert!(name.ends_with("_total"), "{name}");
        self.header(name, help, "counter");
        for (labels, value) in samples {
            self.sample(name, labels, None, *value);
        }
    }

    /// A gauge family.
    pub fn gauge(&mut self, name: &str, help: &str, samples: &[(Labels<'_>, f64)]) {
        self.header(name, help, "gauge");
        for (labels, value) in samples {
            self.sample(name, labels, None, *value);
        }
    }

    /// A histogram family: `_bucket` lines with `le` (cumulative, ending in
    /// `+Inf`), `_sum` and `_count` for each label set.
    pub fn histogram(&mut self, name: &str, help: &str, samples: &[(Labels<'_>, &Snapshot)]) {
        self.header(name, help, "histogram");
        let bucket = format!("{name}_bucket");
        for (labels, snap) in samples {
            for (bound, count) in &snap.buckets {
                let le = number(*bound);
                self.sample(&bucket, labels, Some(&le), *count as f64);
            }
            self.sample(&bucket, labels, Some("+Inf"), snap.count as f64);
            self.sample(&format!("{name}_sum"), labels, None, snap.sum);
            self.sample(&format!("{name}_count"), labels, None, snap.count as f64);
        }
    }

    /// The text.
    pub fn finish(self) -> String {
        self.out
    }

    fn header(&mut self, name: &str, help: &str, kind: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: Labels<'_>, le: Option<&str>, value: f64) {
        self.out.push_str(name);
        let all = labels.iter().copied().chain(le.map(|le| ("le", le)));
        let mut first = true;
        for (k, v) in all {
            self.out.push(if first { '{' } else { ',' });
            first = false;
            self.out.push_str(k);
            self.out.push_str("=\"");
            escape_label(&mut self.out, v);
            self.out.push('"');
        }
        if !first {
            self.out.push('}');
        }
        self.out.push(' ');
        self.out.push_str(&number(value));
        self.out.push('\n');
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn escape_label(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A sample value as Prometheus writes it (`+Inf`, `-Inf`, `NaN`).
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_and_escaping() {
        let mut e = Exposition::new();
        e.counter(
            "x_total",
            "a \\ help\nline",
            &[(&[("k", "a\"b\\c\nd")], 3.0), (&[], 1.5)],
        );
        e.gauge("g_bytes", "size", &[(&[("a", "1"), ("b", "2")], f64::NAN)]);
        let snap = Snapshot {
            buckets: vec![(0.5, 1), (1.0, 2)],
            count: 3,
            sum: 4.25,
        };
        e.histogram("h_seconds", "time", &[(&[("r", "/x")], &snap)]);
        assert_eq!(
            e.finish(),
            "# HELP x_total a \\\\ help\\nline\n# TYPE x_total counter\n\
             x_total{k=\"a\\\"b\\\\c\\nd\"} 3\nx_total 1.5\n\
             # HELP g_bytes size\n# TYPE g_bytes gauge\ng_bytes{a=\"1\",b=\"2\"} NaN\n\
             # HELP h_seconds time\n# TYPE h_seconds histogram\n\
             h_seconds_bucket{r=\"/x\",le=\"0.5\"} 1\nh_seconds_bucket{r=\"/x\",le=\"1\"} 2\n\
             h_seconds_bucket{r=\"/x\",le=\"+Inf\"} 3\nh_seconds_sum{r=\"/x\"} 4.25\n\
             h_seconds_count{r=\"/x\"} 3\n"
        );
    }
}
