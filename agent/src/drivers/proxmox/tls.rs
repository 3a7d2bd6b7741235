//! How the driver trusts a cluster's HTTPS certificate: a CA (the cluster's
//! own, or a public one), or the SHA-256 fingerprint of the server's
//! certificate (what PVE shows as `ssl_fingerprint`, the usual choice for
//! self-signed clusters). There is no "accept anything". Handshake
//! signatures are always verified, so a pinned certificate proves its key.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::drivers::https::{pinned_client_config, CertificatePin};

use super::PveTrust;

#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("the CA certificate is not valid PEM: {0}")]
    BadCa(String),
    #[error("the CA file holds no certificate")]
    NoCa,
    #[error("TLS setup failed: {0}")]
    Rustls(#[from] rustls::Error),
}

pub fn client_config(trust: &PveTrust) -> Result<rustls::ClientConfig, TlsSetupError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let config = match trust {
        PveTrust::CaPem(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert = cert.map_err(|e| TlsSetupError::BadCa(e.to_string()))?;
                roots.add(cert)?;
            }
            if roots.is_empty() {
                return Err(TlsSetupError::NoCa);
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        PveTrust::Fingerprint(fingerprint) => {
            pinned_client_config(CertificatePin::Fixed(*fingerprint))?
        }
    };
    Ok(config)
}

pub use crate::drivers::https::parse_fingerprint;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_ca_is_refused() {
        assert!(matches!(
            client_config(&PveTrust::CaPem(String::new())),
            Err(TlsSetupError::NoCa)
        ));
    }
}
