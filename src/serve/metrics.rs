//! `Metrics`: what `GET /metrics` reports in Prometheus' text format — requests by route and
//! status, latency by route, predictions by class, the version served and failed reloads.

use std::fmt::Write as _;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    status: u32,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClassLabels {
    class: String,
}

type Latency = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// The server's counters; cloned handles share them.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Latency,
    predictions: Family<ClassLabels, Counter>,
    version: Gauge,
    reload_failures: Counter,
}

fn latency_histogram() -> Histogram {
    // 50 µs to about 1.6 s, doubling.
    Histogram::new(exponential_buckets(0.00005, 2.0, 16))
}

impl Metrics {
    /// Empty counters, registered under `wf_serve_`.
    pub(crate) fn new() -> Metrics {
        let mut registry = Registry::with_prefix("wf_serve");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "HTTP requests answered, by route and status",
            requests.clone(),
        );
        let latency = Latency::new_with_constructor(latency_histogram);
        registry.register(
            "request_duration_seconds",
            "Time from request to response, by route",
            latency.clone(),
        );
        let predictions = Family::<ClassLabels, Counter>::default();
        registry.register(
            "predictions",
            "Rows predicted, by predicted class",
            predictions.clone(),
        );
        let version = Gauge::default();
        registry.register(
            "model_version",
            "The registry version being served",
            version.clone(),
        );
        let reload_failures = Counter::default();
        registry.register(
            "reload_failures",
            "Versions that failed to load (the previous one kept serving)",
            reload_failures.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            predictions,
            version,
            reload_failures,
        }
    }

    /// Counts an answered request.
    pub(crate) fn request(&self, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_string(),
                status: u32::from(status),
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.to_string(),
            })
            .observe(seconds);
    }

    /// The counter of predictions of `class`.
    pub(crate) fn prediction_counter(&self, class: &str) -> Counter {
        self.predictions
            .get_or_create(&ClassLabels {
                class: class.to_string(),
            })
            .clone()
    }

    /// Records the version now served.
    pub(crate) fn serving(&self, version: u32) {
        self.version.set(i64::from(version));
    }

    /// Counts a version that failed to load.
    pub(crate) fn reload_failed(&self) {
        self.reload_failures.inc();
    }

    /// The text exposition format.
    pub(crate) fn text(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            // Encoding into a String cannot fail; say so rather than serve half a page.
            out.clear();
            let _ = writeln!(out, "# the metrics could not be encoded");
        }
        out
    }
}
