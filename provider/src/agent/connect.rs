//! Opening the mTLS connection to the agent. TLS is done here with rustls
//! (aws-lc-rs) rather than by tonic, so the agent's CA can be pinned.

use std::sync::Arc;
use std::time::Duration;

use giif_proto::agent_tls::{client_tls_config, AgentTrust, PkiError};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tonic::transport::{Channel, Endpoint, Uri};

/// How to reach and trust the agent; built from the provider configuration.
#[derive(Clone)]
pub struct AgentSettings {
    /// `host:port`.
    pub endpoint: String,
    pub trust: AgentTrust,
    pub client_cert_pem: String,
    pub client_key_pem: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(
        "endpoint {endpoint:?} is not of the form host:port, such as \"agent.lab.example:7443\""
    )]
    BadEndpoint { endpoint: String },
    #[error(transparent)]
    Tls(#[from] PkiError),
    #[error("cannot connect to the agent at {endpoint}: {reason}")]
    Unreachable { endpoint: String, reason: String },
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn channel(settings: &AgentSettings) -> Result<Channel, ConnectError> {
    let endpoint = settings
        .endpoint
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_string();
    let host = host_of(&endpoint).ok_or_else(|| ConnectError::BadEndpoint {
        endpoint: settings.endpoint.clone(),
    })?;
    let server_name =
        ServerName::try_from(host.clone()).map_err(|_| ConnectError::BadEndpoint {
            endpoint: settings.endpoint.clone(),
        })?;
    let config = client_tls_config(
        &settings.trust,
        &settings.client_cert_pem,
        &settings.client_key_pem,
    )?;
    let connector = TlsConnector::from(Arc::new(config));
    let address = endpoint.clone();
    let tls_connect = tower::service_fn(move |_: Uri| {
        let connector = connector.clone();
        let server_name = server_name.clone();
        let address = address.clone();
        async move {
            let tcp = TcpStream::connect(&address).await?;
            tcp.set_nodelay(true)?;
            let tls = connector.connect(server_name, tcp).await?;
            Ok::<_, std::io::Error>(TokioIo::new(tls))
        }
    });
    let unreachable = |reason: String| ConnectError::Unreachable {
        endpoint: endpoint.clone(),
        reason,
    };
    // The URI only names the authority for HTTP/2; the connector above
    // decides where and how to connect.
    Endpoint::from_shared(format!("https://{endpoint}"))
        .map_err(|e| unreachable(e.to_string()))?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .connect_with_connector(tls_connect)
        .await
        .map_err(|e| unreachable(describe_transport_error(&e)))
}

fn host_of(endpoint: &str) -> Option<String> {
    let (host, port) = endpoint.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (!host.is_empty()).then(|| host.to_string())
}

/// tonic wraps the interesting cause (a certificate error, a refused
/// connection) several layers deep.
fn describe_transport_error(error: &tonic::transport::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::host_of;

    #[test]
    fn endpoints() {
        assert_eq!(host_of("agent:7443").as_deref(), Some("agent"));
        assert_eq!(host_of("127.0.0.1:1").as_deref(), Some("127.0.0.1"));
        assert_eq!(host_of("[::1]:7443").as_deref(), Some("::1"));
        assert_eq!(host_of("agent"), None);
        assert_eq!(host_of(":7443"), None);
    }
}
