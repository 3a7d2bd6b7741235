//! Serving the agent API over gRPC with mTLS: a client certificate issued
//! by the agent's CA is required; anything else fails the handshake.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use giif_proto::agent::agent_server::AgentServer;
use giif_proto::tls_incoming::tls_incoming;
use tokio::net::TcpListener;

use crate::bare_metal::Servers;
use crate::config::AgentConfig;
use crate::consoles::Consoles;
use crate::drivers::retry::RetryPolicy;
use crate::floating::FloatingIps;
use crate::gateways::Gateways;
use crate::notices::Notifier;
use crate::operations::{reconciler, ObjectKind, Operations};
use crate::pki::{read_pem_file, server_tls_config, PkiError};
use crate::service::AgentService;
use crate::site_cache::SiteCache;
use crate::store::{Store, StoreError};
use crate::tenancy::Gate;
use crate::vms::Vms;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("the gRPC server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("cannot set up the expiry notices: {0}")]
    Notices(#[from] crate::notices::NoticeSetupError),
}

/// A bound, not yet serving agent: lets callers (and tests) learn the
/// address before serving starts.
pub struct BoundAgent {
    listener: TcpListener,
    tls: rustls::ServerConfig,
    store: Store,
    gate: Gate,
    notifier: Option<Notifier>,
    operations: crate::operations::OperationSettings,
    /// The metrics and health listener, when configured.
    observability: Option<TcpListener>,
}

impl BoundAgent {
    pub async fn bind(config: &AgentConfig) -> Result<Self, ServeError> {
        let tls = server_tls_config(
            &read_pem_file(&config.tls.ca_cert)?,
            &read_pem_file(&config.tls.server_cert)?,
            &read_pem_file(&config.tls.server_key)?,
        )?;
        let store = Store::open(&config.store_url())
            .await?
            .with_default_quota(config.tenancy.default_quota);
        if let Ok(pruned) = store.prune_request_log(7).await {
            tracing::debug!(pruned, "pruned the request log");
        }
        if let Ok(pruned) = store.prune_operations(30).await {
            tracing::debug!(pruned, "pruned finished operations");
        }
        if let Ok(pruned) = store.prune_audit(config.audit.keep_days).await {
            tracing::debug!(pruned, "pruned the audit trail");
        }
        let gate = Gate::new(store.clone(), config.tenancy.clone());
        let listener =
            TcpListener::bind(&config.listen)
                .await
                .map_err(|source| ServeError::Listen {
                    addr: config.listen.clone(),
                    source,
                })?;
        let notifier = match &config.notices {
            Some(notices) => Some(Notifier::new(
                store.clone(),
                notices,
                config.operations.replica_name(),
            )?),
            None => None,
        };
        let observability =
            match &config.observability {
                Some(settings) => Some(crate::health::bind(settings).await.map_err(|source| {
                    ServeError::Listen {
                        addr: settings.listen.clone(),
                        source,
                    }
                })?),
                None => None,
            };
        Ok(Self {
            listener,
            tls,
            store,
            gate,
            notifier,
            operations: config.operations.clone(),
            observability,
        })
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        let operations = Operations::new(self.store.clone(), &self.operations);
        tracing::info!(addr = ?self.local_addr(), store = self.store.backend().name(), replica = operations.replica(), "giif-agent serving");
        let site = SiteCache::new(self.store.clone(), driver_retry_policy());
        let consoles = Consoles::new(self.store.clone(), site.clone());
        let gateways = Gateways::new(
            self.store.clone(),
            site.clone(),
            consoles.clone(),
            operations.clone(),
        );
        let vms = Vms::new(
            self.store.clone(),
            site.clone(),
            consoles.clone(),
            operations.clone(),
        );
        let servers = Servers::new(
            self.store.clone(),
            site,
            gateways.clone(),
            consoles.clone(),
            operations.clone(),
        );
        operations.register(ObjectKind::Gateway, Arc::new(gateways.clone()));
        operations.register(ObjectKind::Vm, Arc::new(vms.clone()));
        operations.register(ObjectKind::Server, Arc::new(servers.clone()));
        let floating = FloatingIps::new(self.store.clone(), gateways.clone(), operations.clone());
        operations.register(ObjectKind::FloatingIp, Arc::new(floating.clone()));
        let reconciler = reconciler::spawn(operations.clone(), self.operations.resume_every());
        let health = self
            .observability
            .map(|listener| crate::health::serve(listener, self.store.clone()));
        let incoming = tls_incoming(self.listener, self.tls, handshake_timeout());
        let notices = self.notifier.map(Notifier::spawn);
        let served = tonic::transport::Server::builder()
            .http2_keepalive_interval(Some(Duration::from_secs(30)))
            // Bounds per call: no handler runs past the longest wait a
            // client may ask for, and a flood of calls queues instead of
            // exhausting the store's connections.
            .timeout(CALL_DEADLINE)
            .concurrency_limit_per_connection(CALLS_PER_CONNECTION)
            .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
                CALLS_AT_ONCE,
            ))
            .layer(crate::metrics::CountCalls)
            .add_service(AgentServer::new(AgentService::new(
                self.store.clone(),
                self.gate,
                consoles,
                gateways,
                vms,
                servers,
                floating,
            )))
            .serve_with_incoming_shutdown(incoming, shutdown)
            .await;
        reconciler.abort();
        if let Some(health) = health {
            health.abort();
        }
        if let Some(notices) = notices {
            notices.stop().await;
        }
        served?;
        Ok(())
    }
}

/// The longest a call runs on the agent: the longest wait a client may ask
/// for (an hour), and a minute to answer. A client's own deadline, when
/// shorter, applies.
const CALL_DEADLINE: Duration = Duration::from_secs(3660);

/// Calls one connection (one Terraform run) may have in flight.
const CALLS_PER_CONNECTION: usize = 64;

/// Calls served at once over all connections; more wait their turn.
const CALLS_AT_ONCE: usize = 256;

/// How long a client may take over its TLS handshake: ten seconds, or
/// `GIIF_TLS_HANDSHAKE_SECONDS` (for tests).
fn handshake_timeout() -> Duration {
    std::env::var("GIIF_TLS_HANDSHAKE_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map_or(
            giif_proto::tls_incoming::HANDSHAKE_TIMEOUT,
            Duration::from_secs,
        )
}

/// How long drivers retry transient device errors: a minute, or
/// `GIIF_DRIVER_RETRY_SECONDS` (for sites with slow devices, and tests).
fn driver_retry_policy() -> RetryPolicy {
    let mut policy = RetryPolicy::default();
    if let Some(seconds) = std::env::var("GIIF_DRIVER_RETRY_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        policy.deadline = Duration::from_secs(seconds);
    }
    policy
}
