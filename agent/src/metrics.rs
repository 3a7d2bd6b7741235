//! The agent's Prometheus metrics: operations by kind, outcome and
//! duration; device calls by device family, action, outcome and latency;
//! calls served; pool usage; stuck operations. Served on their own listener
//! ([`crate::health`]), never on the agent API's.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::store::operations::{ObjectKind, OpKind};
use crate::store::Store;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    kind: String,
    op: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeviceLabels {
    device: String,
    action: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    rpc: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    pool: String,
}

fn operation_seconds() -> Histogram {
    Histogram::new([0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 180.0, 600.0])
}

fn device_seconds() -> Histogram {
    Histogram::new([0.005, 0.02, 0.1, 0.5, 1.0, 5.0, 30.0])
}

struct Metrics {
    registry: Registry,
    operations: Family<OperationLabels, Histogram, fn() -> Histogram>,
    device_calls: Family<DeviceLabels, Histogram, fn() -> Histogram>,
    calls: Family<CallLabels, Counter>,
    pool_used: Family<PoolLabels, Gauge>,
    pool_size: Family<PoolLabels, Gauge>,
    stuck: Gauge,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("giif_agent");
    let operations = Family::new_with_constructor(operation_seconds as fn() -> Histogram);
    let device_calls = Family::new_with_constructor(device_seconds as fn() -> Histogram);
    let calls = Family::default();
    let pool_used = Family::default();
    let pool_size = Family::default();
    let stuck = Gauge::default();
    registry.register(
        "operation_seconds",
        "Long operations that ended, by object kind, operation and outcome (done, failed, lease_lost)",
        operations.clone(),
    );
    registry.register(
        "device_call_seconds",
        "Calls to devices by family (pve, idrac, pagw), action and outcome",
        device_calls.clone(),
    );
    registry.register(
        "calls",
        "Agent API calls served, by RPC and outcome (a gRPC code name)",
        calls.clone(),
    );
    registry.register("pool_used", "Allocated items per pool", pool_used.clone());
    registry.register("pool_size", "Items per pool", pool_size.clone());
    registry.register(
        "stuck_operations",
        "Operations that failed for good or whose lease passed without a replica taking them over",
        stuck.clone(),
    );
    Metrics {
        registry,
        operations,
        device_calls,
        calls,
        pool_used,
        pool_size,
        stuck,
    }
});

pub fn operation_ended(kind: ObjectKind, op: OpKind, outcome: &str, duration: Duration) {
    METRICS
        .operations
        .get_or_create(&OperationLabels {
            kind: kind.to_string(),
            op: op.to_string(),
            outcome: outcome.to_string(),
        })
        .observe(duration.as_secs_f64());
}

/// A device call; `target` is like `pve:node1` or `idrac:bms01`, of which
/// only the family is kept (one series per server would not scale).
pub fn device_call(target: &str, action: &str, outcome: &str, latency: Duration) {
    let device = target.split(':').next().unwrap_or(target);
    METRICS
        .device_calls
        .get_or_create(&DeviceLabels {
            device: device.to_string(),
            action: action_kind(action),
            outcome: outcome.to_string(),
        })
        .observe(latency.as_secs_f64());
}

/// An action without the names and numbers in it (`GET /nodes/pve1/qemu/105`
/// becomes `GET /nodes/{node}/qemu/{id}`), so series stay few.
fn action_kind(action: &str) -> String {
    let mut after_nodes = false;
    let segments: Vec<&str> = action
        .split('/')
        .map(|segment| {
            let kind = if after_nodes {
                "{node}"
            } else if !segment.is_empty() && segment.chars().all(|c| c.is_ascii_digit()) {
                "{id}"
            } else if segment.contains(':') {
                "{task}"
            } else {
                segment
            };
            after_nodes = segment == "nodes";
            kind
        })
        .collect();
    segments.join("/")
}

pub fn call_served(rpc: &str, outcome: &str) {
    METRICS
        .calls
        .get_or_create(&CallLabels {
            rpc: rpc.to_string(),
            outcome: outcome.to_string(),
        })
        .inc();
}

/// Counts the stuck operations in the journal.
pub async fn set_stuck_operations(store: &Store) {
    if let Ok(stuck) = store.stuck_operation_count().await {
        METRICS.stuck.set(stuck);
    }
}

/// Reads pool usage from the store (at every scrape: it is a few counts).
async fn refresh_pools(store: &Store) {
    if let Ok(pools) = store.pool_usage_summary().await {
        for (pool, used, size) in pools {
            let labels = PoolLabels { pool };
            METRICS.pool_used.get_or_create(&labels).set(used);
            METRICS.pool_size.get_or_create(&labels).set(size);
        }
    }
}

/// The metrics in Prometheus' text format.
pub async fn render(store: &Store) -> String {
    refresh_pools(store).await;
    set_stuck_operations(store).await;
    let mut text = String::new();
    if prometheus_client::encoding::text::encode(&mut text, &METRICS.registry).is_err() {
        text.clear();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::action_kind;

    #[test]
    fn actions_lose_their_names_and_numbers() {
        assert_eq!(
            action_kind("GET /nodes/pve1/qemu/105/status/current"),
            "GET /nodes/{node}/qemu/{id}/status/current"
        );
        assert_eq!(
            action_kind("GET /nodes/pve1/tasks/UPID:pve1:0001:x/status"),
            "GET /nodes/{node}/tasks/{task}/status"
        );
        assert_eq!(action_kind("attach media"), "attach media");
    }
}

/// A tower layer counting every agent API call by RPC and gRPC outcome.
#[derive(Clone, Copy, Default)]
pub struct CountCalls;

impl<S> tower::Layer<S> for CountCalls {
    type Service = CountedCalls<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CountedCalls(inner)
    }
}

#[derive(Clone)]
pub struct CountedCalls<S>(S);

type HttpRequest<B> = tonic::codegen::http::Request<B>;
type HttpResponse<B> = tonic::codegen::http::Response<B>;

impl<S, B, R> tower::Service<HttpRequest<B>> for CountedCalls<S>
where
    S: tower::Service<HttpRequest<B>, Response = HttpResponse<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequest<B>) -> Self::Future {
        let rpc = request
            .uri()
            .path()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let answer = self.0.call(request);
        Box::pin(async move {
            let response = answer.await;
            // An error travels in the headers ("trailers only"); a
            // success's status comes in the trailers, after the body.
            let outcome = match &response {
                Ok(response) => match response.headers().get("grpc-status") {
                    Some(code) => format!("{:?}", tonic::Code::from_bytes(code.as_bytes())),
                    None => format!("{:?}", tonic::Code::Ok),
                },
                Err(_) => "TransportError".to_string(),
            };
            call_served(&rpc, &outcome);
            response
        })
    }
}
