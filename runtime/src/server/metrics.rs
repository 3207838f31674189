//! Prometheus metrics: what `/metrics` serves, in the text format.
//!
//! Run, step and executor figures come from the engine's events (published
//! after each commit), counted by a task started with the server; HTTP
//! figures from a middleware around every route; the queue depth and the
//! attempts running are read when scraped.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::sync::broadcast::error::RecvError;

use crate::engine::EngineEvent;
use crate::store::RunStatus;

use super::state::AppState;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WorkflowLabels {
    workflow: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunEndLabels {
    workflow: String,
    status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginLabels {
    plugin: String,
    status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    kind: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

fn step_buckets() -> Histogram {
    // 1 ms to about 65 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

fn http_buckets() -> Histogram {
    // 0.1 ms to about 3 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

/// Every metric the server exports.
pub struct Metrics {
    registry: Registry,
    runs_started: Family<WorkflowLabels, Counter>,
    runs_finished: Family<RunEndLabels, Counter>,
    step_duration: Family<PluginLabels, Histogram>,
    executor_failures: Family<FailureLabels, Counter>,
    events_missed: Counter,
    queue_depth: Gauge,
    active_invocations: Gauge,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Family<RouteLabels, Histogram>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    /// A registry with every metric at zero.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("baton");
        let runs_started = Family::<WorkflowLabels, Counter>::default();
        registry.register(
            "runs_started",
            "Runs started (or restarted by a retry), by workflow",
            runs_started.clone(),
        );
        let runs_finished = Family::<RunEndLabels, Counter>::default();
        registry.register(
            "runs_finished",
            "Runs that ended, by workflow and final status",
            runs_finished.clone(),
        );
        let step_duration = Family::<PluginLabels, Histogram>::new_with_constructor(
            step_buckets as fn() -> Histogram,
        );
        registry.register(
            "step_duration_seconds",
            "Duration of plugin step attempts, by plugin and result",
            step_duration.clone(),
        );
        let executor_failures = Family::<FailureLabels, Counter>::default();
        registry.register(
            "executor_failures",
            "Plugin attempts that failed, by failure kind",
            executor_failures.clone(),
        );
        let events_missed = Counter::default();
        registry.register(
            "metrics_events_missed",
            "Engine events the metrics missed because they fell behind",
            events_missed.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            "queue_depth",
            "Steps ready to run and waiting for a free worker",
            queue_depth.clone(),
        );
        let active_invocations = Gauge::default();
        registry.register(
            "active_invocations",
            "Plugin attempts running in this process",
            active_invocations.clone(),
        );
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests, by method, route and status",
            http_requests.clone(),
        );
        let http_duration = Family::<RouteLabels, Histogram>::new_with_constructor(
            http_buckets as fn() -> Histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request durations, by method and route",
            http_duration.clone(),
        );
        Metrics {
            registry,
            runs_started,
            runs_finished,
            step_duration,
            executor_failures,
            events_missed,
            queue_depth,
            active_invocations,
            http_requests,
            http_duration,
        }
    }

    /// Counts one engine event.
    pub fn observe(&self, event: &EngineEvent) {
        match event {
            EngineEvent::Run {
                workflow, status, ..
            } => {
                if *status == RunStatus::Running {
                    self.runs_started
                        .get_or_create(&WorkflowLabels {
                            workflow: workflow.clone(),
                        })
                        .inc();
                } else if status.is_terminal() {
                    self.runs_finished
                        .get_or_create(&RunEndLabels {
                            workflow: workflow.clone(),
                            status: status.as_str().into(),
                        })
                        .inc();
                }
            }
            EngineEvent::Attempt {
                plugin,
                status,
                error_kind,
                duration_ms,
                ..
            } => {
                #[allow(clippy::cast_precision_loss, reason = "milliseconds as seconds")]
                let seconds = *duration_ms as f64 / 1000.0;
                self.step_duration
                    .get_or_create(&PluginLabels {
                        plugin: plugin.clone(),
                        status: status.clone(),
                    })
                    .observe(seconds);
                if let Some(kind) = error_kind {
                    self.executor_failures
                        .get_or_create(&FailureLabels { kind: kind.clone() })
                        .inc();
                }
            }
            EngineEvent::Step { .. } => {}
        }
    }

    /// Renders every metric in the Prometheus text format, after reading
    /// the gauges.
    pub fn render(&self, queue_depth: i64, active: usize) -> String {
        self.queue_depth.set(queue_depth);
        self.active_invocations
            .set(i64::try_from(active).unwrap_or(i64::MAX));
        let mut text = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!(error = %e, "cannot encode the metrics");
        }
        text
    }
}

/// Counts engine events until the engine stops.
pub async fn follow_engine(state: AppState) {
    let mut events = state.engine.subscribe();
    loop {
        match events.recv().await {
            Ok(event) => state.metrics.observe(&event),
            Err(RecvError::Lagged(missed)) => {
                state.metrics.events_missed.inc_by(missed);
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// Middleware: counts and times every request by its route pattern (not
/// its path, so ids do not explode the label set).
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let response = next.run(request).await;
    tracing::debug!(
        %method,
        %route,
        status = response.status().as_u16(),
        elapsed_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        "request"
    );
    state
        .metrics
        .http_duration
        .get_or_create(&RouteLabels {
            method: method.clone(),
            route: route.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    state
        .metrics
        .http_requests
        .get_or_create(&HttpLabels {
            method,
            route,
            status: response.status().as_u16().to_string(),
        })
        .inc();
    response
}
