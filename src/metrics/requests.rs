//! Request metrics of the HTTP surfaces (the JSON API and the Solr
//! endpoint): latency per route template and status class, errors by kind,
//! requests in flight. [`track`] is the axum middleware that records them;
//! labels are route templates (`/api/messages/{id}`), never raw paths, so no
//! list name, Message-ID or query text can become a label.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

use super::histogram::{Histogram, Snapshot, REQUEST_BUCKETS};
use super::text::Exposition;

/// Which listener a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Surface {
    /// The JSON API and web UI.
    Http,
    /// The Solr-compatible endpoint for Dovecot.
    Solr,
}

impl Surface {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Surface::Http => "http",
            Surface::Solr => "solr",
        }
    }
}

/// What kind of error an answer is, put in its response extensions by the
/// surface's error type (`http::AppError`, `solr::SolrError`); error answers
/// without one (a framework rejection) count as `rejected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorKind(pub &'static str);

type LatencyKey = (Surface, String, &'static str);

/// The request metrics of every surface.
#[derive(Debug, Default)]
pub struct Requests {
    latency: Mutex<BTreeMap<LatencyKey, Arc<Histogram>>>,
    errors: Mutex<BTreeMap<(Surface, &'static str), u64>>,
    in_flight_http: AtomicI64,
    in_flight_solr: AtomicI64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `2xx`, `4xx`, …
fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// Counts a request in flight until dropped.
struct InFlight<'a>(&'a AtomicI64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Requests {
    fn in_flight(&self, surface: Surface) -> &AtomicI64 {
        match surface {
            Surface::Http => &self.in_flight_http,
            Surface::Solr => &self.in_flight_solr,
        }
    }

    /// Records one answered request.
    pub fn record(
        &self,
        surface: Surface,
        route: &str,
        status: StatusCode,
        kind: Option<ErrorKind>,
        took: Duration,
    ) {
        let key = (surface, route.to_string(), status_class(status));
        let histogram = lock(&self.latency)
            .entry(key)
            .or_insert_with(|| Arc::new(Histogram::new(REQUEST_BUCKETS)))
            .clone();
        histogram.observe(took);
        if status.is_client_error() || status.is_server_error() {
            let kind = kind.map_or("rejected", |k| k.0);
            *lock(&self.errors).entry((surface, kind)).or_insert(0) += 1;
        }
    }

    /// Writes the request families.
    pub fn write(&self, out: &mut Exposition) {
        let latency: Vec<(LatencyKey, Snapshot)> = lock(&self.latency)
            .iter()
            .map(|(k, h)| (k.clone(), h.snapshot()))
            .collect();
        let labels: Vec<[(&str, &str); 3]> = latency
            .iter()
            .map(|((surface, route, class), _)| {
                [
                    ("surface", surface.as_str()),
                    ("route", route.as_str()),
                    ("status", *class),
                ]
            })
            .collect();
        let samples: Vec<_> = labels
            .iter()
            .zip(&latency)
            .map(|(l, (_, snap))| (&l[..], snap))
            .collect();
        out.histogram(
            "gleaner_http_request_duration_seconds",
            "Time from a request's arrival to its response headers, by surface, route template and status class.",
            &samples,
        );
        let errors: Vec<((Surface, &str), u64)> =
            lock(&self.errors).iter().map(|(k, v)| (*k, *v)).collect();
        let labels: Vec<[(&str, &str); 2]> = errors
            .iter()
            .map(|((surface, kind), _)| [("surface", surface.as_str()), ("kind", *kind)])
            .collect();
        let samples: Vec<_> = labels
            .iter()
            .zip(&errors)
            .map(|(l, (_, n))| (&l[..], *n as f64))
            .collect();
        out.counter(
            "gleaner_http_errors_total",
            "Error answers (4xx and 5xx) by surface and kind.",
            &samples,
        );
        let http = [("surface", "http")];
        let solr = [("surface", "solr")];
        out.gauge(
            "gleaner_http_requests_in_flight",
            "Requests being answered now, by surface.",
            &[
                (&http, self.in_flight_http.load(Ordering::Relaxed) as f64),
                (&solr, self.in_flight_solr.load(Ordering::Relaxed) as f64),
            ],
        );
    }
}

/// The middleware: counts the request in flight, times it, and records it
/// under its route template (`unmatched` when no route matched).
pub async fn track(
    State((requests, surface)): State<(Arc<Requests>, Surface)>,
    req: Request,
    next: Next,
) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let counter = requests.in_flight(surface);
    counter.fetch_add(1, Ordering::Relaxed);
    let guard = InFlight(counter);
    let started = Instant::now();
    let res = next.run(req).await;
    drop(guard);
    let kind = res.extensions().get::<ErrorKind>().copied();
    requests.record(surface, &route, res.status(), kind, started.elapsed());
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_by_kind_and_latency_by_class() {
        let r = Requests::default();
        let ms = Duration::from_millis(3);
        r.record(Surface::Http, "/api/search", StatusCode::OK, None, ms);
        let bad = Some(ErrorKind("bad_query"));
        r.record(
            Surface::Http,
            "/api/search",
            StatusCode::BAD_REQUEST,
            bad,
            ms,
        );
        r.record(Surface::Solr, "unmatched", StatusCode::NOT_FOUND, None, ms);
        let mut out = Exposition::new();
        r.write(&mut out);
        let text = out.finish();
        for line in [
            "gleaner_http_request_duration_seconds_count{surface=\"http\",route=\"/api/search\",status=\"2xx\"} 1",
            "gleaner_http_request_duration_seconds_count{surface=\"http\",route=\"/api/search\",status=\"4xx\"} 1",
            "gleaner_http_errors_total{surface=\"http\",kind=\"bad_query\"} 1",
            "gleaner_http_errors_total{surface=\"solr\",kind=\"rejected\"} 1",
            "gleaner_http_requests_in_flight{surface=\"http\"} 0",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
    }
}
