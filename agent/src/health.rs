//! The observability listener, apart from the agent API (plain HTTP, meant
//! for loopback or a monitoring network; it shows counts, never secrets):
//! `/metrics` (Prometheus), `/healthz` (the process serves) and `/readyz`
//! (the store answers and the replica's operations are being resumed).

use std::net::SocketAddr;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

use crate::store::Store;

/// `[observability]` of agent.toml.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservabilitySettings {
    /// Where `/metrics`, `/healthz` and `/readyz` are served, `host:port`.
    pub listen: String,
}

/// Binds the listener; the caller serves it with [`serve`].
pub async fn bind(settings: &ObservabilitySettings) -> std::io::Result<TcpListener> {
    TcpListener::bind(&settings.listen).await
}

/// Serves until the task is dropped.
pub fn serve(listener: TcpListener, store: Store) -> tokio::task::JoinHandle<()> {
    let addr: Option<SocketAddr> = listener.local_addr().ok();
    tracing::info!(?addr, "metrics and health served");
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(store);
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::warn!(%error, "the metrics listener stopped");
        }
    })
}

async fn metrics(
    State(store): State<Store>,
) -> (StatusCode, [(&'static str, &'static str); 1], String) {
    (
        StatusCode::OK,
        [(
            "content-type",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        crate::metrics::render(&store).await,
    )
}

async fn ready(State(store): State<Store>) -> (StatusCode, String) {
    match store.ping().await {
        Ok(()) => (StatusCode::OK, "ready\n".into()),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the store does not answer: {}\n", error.message),
        ),
    }
}
