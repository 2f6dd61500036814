//! The gateway's Prometheus metrics, rendered by the admin listener's `/metrics`.

use std::collections::HashMap;
use std::sync::RwLock;

use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

/// The gateway's Prometheus metrics. Each gateway has its own recorder (not the process-wide
/// one), so several gateways in one process — the tests — count separately.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    /// Registered series by (route, status): a request bumps a handle instead of building
    /// and looking up a labelled key (a string per status, a hash, a registry lock).
    requests: RwLock<HashMap<(&'static str, u16), Series>>,
}

/// One (route, status)'s count and duration histogram.
type Series = (Counter, Histogram);

const DURATION: &str = "brama_request_duration_seconds";

impl Default for Metrics {
    fn default() -> Metrics {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(DURATION.into()),
                &[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ],
            )
            .expect("bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        Metrics {
            recorder,
            handle,
            requests: RwLock::default(),
        }
    }
}

impl Metrics {
    /// One request: `route` is a fixed label (an `/auth` route or `forward`), never the path,
    /// so the number of series stays bounded.
    pub fn request(&self, route: &'static str, status: u16, seconds: f64) {
        let known = self
            .requests
            .read()
            .ok()
            .and_then(|m| m.get(&(route, status)).cloned());
        let (counter, histogram) = known.unwrap_or_else(|| {
            let series = metrics::with_local_recorder(&self.recorder, || {
                (
                    metrics::counter!("brama_requests_total", "route" => route, "status" => status.to_string()),
                    metrics::histogram!(DURATION, "route" => route),
                )
            });
            if let Ok(mut m) = self.requests.write() {
                m.insert((route, status), series.clone());
            }
            series
        });
        counter.increment(1);
        histogram.record(seconds);
    }

    /// One login attempt by outcome: `ok` or the error code the person got.
    pub fn login(&self, outcome: &str) {
        metrics::with_local_recorder(&self.recorder, || {
            metrics::counter!("brama_logins_total", "outcome" => outcome.to_string()).increment(1);
        });
    }

    /// A login let through by `soft-fail` without a revocation answer.
    pub fn revocation_soft_fail(&self) {
        metrics::with_local_recorder(&self.recorder, || {
            metrics::counter!("brama_revocation_soft_fail_total").increment(1);
        });
    }

    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Histograms hold raw samples until rendered; without a scraper they must still be
    /// folded regularly or memory grows with traffic.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}

/// The fixed route label for a path.
pub fn route_label(path: &str) -> &'static str {
    match path {
        "/auth/challenge" => "/auth/challenge",
        "/auth/login" => "/auth/login",
        "/auth/logout" => "/auth/logout",
        "/auth/me" => "/auth/me",
        "/auth/role" => "/auth/role",
        p if p.starts_with("/auth/") => "/auth/other",
        _ => "forward",
    }
}
