//! Serving the provider to Terraform: in go-plugin mode (handshake line,
//! AutoMTLS) or in debug mode (plaintext, a reattach line for a debugger).

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use giif_proto::plugin::grpc_controller_server::GrpcControllerServer;
use giif_proto::plugin::grpc_stdio_server::GrpcStdioServer;
use giif_proto::tfplugin6::provider_server::{Provider, ProviderServer};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tonic::transport::Server;

use super::automtls::{AutoMtlsError, ServerIdentity, TerraformClientVerifier};
use super::controller::{Controller, Stdio};
use super::handshake::handshake_line;
use giif_proto::tls_incoming::{tls_incoming, HANDSHAKE_TIMEOUT};

/// Terraform sends whole plans and states in one message.
const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;

/// How long to wait after Shutdown for the client to close its connection.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);

pub enum ServeMode {
    /// Started by Terraform: handshake on stdout, AutoMTLS when offered.
    Plugin { client_cert_pem: Option<String> },
    /// Started by a person: plaintext, prints `TF_REATTACH_PROVIDERS`.
    Debug { provider_address: String },
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on 127.0.0.1: {0}")]
    Listen(std::io::Error),
    #[error("cannot write the handshake line to stdout: {0}")]
    Handshake(std::io::Error),
    #[error(transparent)]
    AutoMtls(#[from] AutoMtlsError),
    #[error("the gRPC server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
}

pub async fn serve<P: Provider>(provider: P, mode: ServeMode) -> Result<(), ServeError> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(ServeError::Listen)?;
    let addr = listener.local_addr().map_err(ServeError::Listen)?;
    let shutdown = Arc::new(Notify::new());

    let (mut health, health_service) = tonic_health::server::health_reporter();
    // go-plugin checks the health of the service named "plugin".
    health
        .set_service_status("plugin", tonic_health::ServingStatus::Serving)
        .await;

    let router = Server::builder()
        .add_service(health_service)
        .add_service(GrpcControllerServer::new(Controller {
            shutdown: shutdown.clone(),
        }))
        .add_service(GrpcStdioServer::new(Stdio))
        .add_service(
            ProviderServer::new(provider)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        );

    match mode {
        ServeMode::Plugin { client_cert_pem } => {
            // After Shutdown the server stops accepting and ends once
            // Terraform has its reply and closes the connection, which it
            // does at once (it waits for this process to exit before it
            // starts the next one).
            let (stopping, stopped) = tokio::sync::oneshot::channel();
            let signal = async move {
                shutdown.notified().await;
                let _ = stopping.send(());
            };
            let server = match client_cert_pem {
                Some(pem) => {
                    let identity = ServerIdentity::generate()?;
                    let verifier = Arc::new(TerraformClientVerifier::from_pem(&pem)?);
                    let config = identity.server_config(verifier)?;
                    print_line(&handshake_line(addr, Some(identity.cert_der.as_ref())))?;
                    let incoming = tls_incoming(listener, config, HANDSHAKE_TIMEOUT);
                    tokio::spawn(router.serve_with_incoming_shutdown(incoming, signal))
                }
                None => {
                    print_line(&handshake_line(addr, None))?;
                    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
                    tokio::spawn(router.serve_with_incoming_shutdown(incoming, signal))
                }
            };
            let grace_after_shutdown = async {
                match stopped.await {
                    Ok(()) => tokio::time::sleep(SHUTDOWN_GRACE).await,
                    Err(_) => std::future::pending().await,
                }
            };
            tokio::select! {
                result = server => {
                    result.unwrap_or(Ok(()))?;
                }
                // A client that keeps its connection (and the stdio stream,
                // which never ends) open: leave anyway.
                _ = grace_after_shutdown => {}
            }
        }
        ServeMode::Debug { provider_address } => {
            let reattach = serde_json::json!({
                provider_address: {
                    "Protocol": "grpc",
                    "ProtocolVersion": 6,
                    "Pid": std::process::id(),
                    "Test": true,
                    "Addr": {"Network": "tcp", "String": addr.to_string()},
                }
            });
            print_line(&format!(
                "Provider started. To attach Terraform, set this in its environment:\n\n\
                 \tTF_REATTACH_PROVIDERS='{reattach}'\n"
            ))?;
            let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
            router.serve_with_incoming(incoming).await?;
        }
    }
    Ok(())
}

/// The only place the provider writes to stdout.
#[allow(clippy::print_stdout)]
fn print_line(line: &str) -> Result<(), ServeError> {
    // One write, so a reader that stops after the line never sees a torn one.
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(format!("{line}\n").as_bytes())
        .map_err(ServeError::Handshake)?;
    stdout.flush().map_err(ServeError::Handshake)
}
