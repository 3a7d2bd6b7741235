//! How the driver trusts a cluster's HTTPS certificate: a CA (the cluster's
//! own, or a public one), or the SHA-256 fingerprint of the server's
//! certificate (what PVE shows as `ssl_fingerprint`, the usual choice for
//! self-signed clusters). There is no "accept anything". Handshake
//! signatures are always verified, so a pinned certificate proves its key.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};

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
        PveTrust::Fingerprint(fingerprint) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedCertificate {
                fingerprint: *fingerprint,
                provider,
            }))
            .with_no_client_auth(),
    };
    Ok(config)
}

/// Accepts exactly the certificate with this SHA-256 fingerprint.
#[derive(Debug)]
struct PinnedCertificate {
    fingerprint: [u8; 32],
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let actual: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        // Compare without an early exit.
        let differs = actual
            .iter()
            .zip(self.fingerprint.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if differs == 0 {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Parses `AA:BB:...` (as PVE and `openssl x509 -fingerprint -sha256` print
/// it) or plain hex into a SHA-256 fingerprint.
pub fn parse_fingerprint(text: &str) -> Option<[u8; 32]> {
    let hex: String = text.trim().chars().filter(|c| *c != ':').collect();
    let bytes = hex::decode(hex).ok()?;
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_with_or_without_colons() {
        let colon = ["AB"; 32].join(":");
        assert_eq!(parse_fingerprint(&colon), Some([0xAB; 32]));
        assert_eq!(parse_fingerprint(&"ab".repeat(32)), Some([0xAB; 32]));
        assert_eq!(parse_fingerprint("AB:CD"), None);
        assert_eq!(parse_fingerprint("not hex"), None);
    }

    #[test]
    fn an_empty_ca_is_refused() {
        assert!(matches!(
            client_config(&PveTrust::CaPem(String::new())),
            Err(TlsSetupError::NoCa)
        ));
    }
}
