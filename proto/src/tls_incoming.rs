//! Serving gRPC over TLS with our own rustls configuration (the provider's
//! AutoMTLS, the agent's mTLS): accepts TCP connections and finishes their
//! TLS handshakes off the accept loop, so one slow or failed handshake never
//! blocks the next connection.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Connected;

/// A TLS connection tonic can serve.
pub struct TlsConnection(TlsStream<TcpStream>);

/// What a handler can learn about the caller: the certificate chain it
/// authenticated with (`request.extensions().get::<PeerCertificates>()`).
#[derive(Clone, Debug, Default)]
pub struct PeerCertificates(pub Vec<rustls::pki_types::CertificateDer<'static>>);

impl Connected for TlsConnection {
    type ConnectInfo = PeerCertificates;
    fn connect_info(&self) -> Self::ConnectInfo {
        let (_, session) = self.0.get_ref();
        PeerCertificates(
            session
                .peer_certificates()
                .map(|c| c.to_vec())
                .unwrap_or_default(),
        )
    }
}

impl AsyncRead for TlsConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// How long a connection may take to finish its TLS handshake before it is
/// closed: a peer that connects and says nothing holds no task for ever.
pub const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Streams finished TLS connections from `listener`; a handshake not done
/// within `handshake_timeout` is dropped.
pub fn tls_incoming(
    listener: TcpListener,
    config: rustls::ServerConfig,
    handshake_timeout: std::time::Duration,
) -> ReceiverStream<Result<TlsConnection, std::io::Error>> {
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            let (tcp, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(error = %err, "accepting a connection failed");
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => {
                        let _ = tx.send(Ok(TlsConnection(tls))).await;
                    }
                    Ok(Err(err)) => {
                        tracing::warn!(%peer, error = %err, "TLS handshake failed");
                    }
                    Err(_) => {
                        tracing::warn!(%peer, seconds = handshake_timeout.as_secs(), "TLS handshake not finished in time; connection closed");
                    }
                }
            });
        }
    });
    ReceiverStream::new(rx)
}
