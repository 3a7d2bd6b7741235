//! The agent's TLS server configuration: mutual TLS against the agent's own CA.

use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::ServerConfig;

use giif_proto::agent_tls::{
    crypto_provider, load_certs_from, load_key_from, root_store, PkiError,
};

/// Server config for gRPC (h2) that only accepts clients holding a certificate from the CA.
///
/// The chain sent is `[leaf, CA]` so pinning clients can find the CA certificate in it.
pub fn server_tls_config(
    ca_cert_pem: &str,
    server_cert_pem: &str,
    server_key_pem: &str,
) -> Result<ServerConfig, PkiError> {
    let provider = crypto_provider();
    let ca_certs = load_certs_from(ca_cert_pem, "CA certificate")?;
    let roots = Arc::new(root_store(&ca_certs, "CA certificate")?);
    // build() without allow_unauthenticated(): a client certificate is mandatory.
    let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|e| PkiError::Verifier {
            what: "client certificates".to_owned(),
            reason: e.to_string(),
        })?;

    let mut chain = load_certs_from(server_cert_pem, "server certificate")?;
    for ca in ca_certs {
        // The server PEM may already carry the CA; do not send it twice.
        if !chain.contains(&ca) {
            chain.push(ca);
        }
    }
    let key = load_key_from(server_key_pem, "server key")?;

    let tls_err = |source| PkiError::Tls {
        what: "server".to_owned(),
        source,
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(tls_err)?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// Whether `cert_pem` is a client certificate the CA issued and still valid
/// now: the same check the TLS handshake makes. Its DER on success.
pub fn verify_client_cert(
    ca_cert_pem: &str,
    cert_pem: &str,
) -> Result<rustls::pki_types::CertificateDer<'static>, PkiError> {
    let ca_certs = load_certs_from(ca_cert_pem, "CA certificate")?;
    let roots = Arc::new(root_store(&ca_certs, "CA certificate")?);
    let verifier = WebPkiClientVerifier::builder_with_provider(roots, crypto_provider())
        .build()
        .map_err(|e| PkiError::Verifier {
            what: "client certificates".to_owned(),
            reason: e.to_string(),
        })?;
    let cert = load_certs_from(cert_pem, "client certificate")?
        .into_iter()
        .next()
        .ok_or_else(|| PkiError::Verifier {
            what: "client certificate".to_owned(),
            reason: "the file holds no certificate".to_owned(),
        })?;
    verifier
        .verify_client_cert(&cert, &[], rustls::pki_types::UnixTime::now())
        .map_err(|e| PkiError::Verifier {
            what: "client certificate".to_owned(),
            reason: format!("it is not a valid client certificate of this agent's CA: {e}"),
        })?;
    Ok(cert)
}
