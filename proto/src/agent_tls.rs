//! The TLS client side of the agent link: what the provider needs to reach an agent.
//!
//! Shared by the provider and the agent (whose tests act as clients); it depends only on
//! rustls and small helpers.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{aws_lc_rs, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use sha2::{Digest, Sha256};

/// Everything that can go wrong while creating, loading or using certificates and keys.
///
/// Messages name the input (file, field) and hint at the fix; they never contain key bytes.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("no {expected} block found in {what}; expected a PEM file with a '-----BEGIN {expected}-----' section")]
    NoPemBlock {
        expected: &'static str,
        what: String,
    },
    #[error("malformed PEM in {what} (broken BEGIN/END lines or invalid base64); regenerate or re-copy the file")]
    BadPem { what: String },
    #[error("could not read {}: {source}", path.display())]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("could not write {}: {source}; check that the directory exists and is writable", path.display())]
    WriteFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid SHA-256 fingerprint: {reason}; expected 64 hex digits, optionally separated by colons")]
    InvalidFingerprint { reason: String },
    #[error("invalid certificate in {what}: {reason}")]
    InvalidCertificate { what: String, reason: String },
    #[error("could not create {what}: {reason}")]
    Generate { what: String, reason: String },
    #[error("could not build the TLS configuration ({what}): {source}")]
    Tls { what: String, source: rustls::Error },
    #[error("could not build the certificate verifier for {what}: {reason}")]
    Verifier { what: String, reason: String },
}

/// How the provider decides that it is talking to the right agent.
#[derive(Clone, PartialEq, Eq)]
pub enum AgentTrust {
    /// Trust exactly this CA certificate (PEM), verified the standard webpki way.
    CaPem(String),
    /// Trust whichever CA certificate the agent presents whose SHA-256 equals this pin.
    CaFingerprint([u8; 32]),
}

impl fmt::Debug for AgentTrust {
    // Show the pin as hex and keep the PEM short: this ends up in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CaPem(pem) => write!(f, "CaPem({} bytes)", pem.len()),
            Self::CaFingerprint(pin) => write!(f, "CaFingerprint({})", hex::encode(pin)),
        }
    }
}

/// SHA-256 of a DER certificate as lowercase hex without separators.
pub fn fingerprint_sha256(cert_der: &[u8]) -> String {
    hex::encode(Sha256::digest(cert_der))
}

/// Parses a SHA-256 fingerprint written as hex, with or without colons (case-insensitive).
pub fn parse_fingerprint(text: &str) -> Result<[u8; 32], PkiError> {
    let digits: String = text.trim().chars().filter(|c| *c != ':').collect();
    let bytes = hex::decode(&digits).map_err(|e| PkiError::InvalidFingerprint {
        reason: e.to_string(),
    })?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| PkiError::InvalidFingerprint {
        reason: format!("got {} bytes instead of 32", bytes.len()),
    })
}

/// All CERTIFICATE blocks of a PEM text, in order.
pub fn load_certs(pem: &str) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    load_certs_from(pem, "the supplied PEM text")
}

/// Like [`load_certs`], naming the source (a file path, a config field) in errors.
pub fn load_certs_from(pem: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    let certs = rustls_pemfile::certs(&mut pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| PkiError::BadPem {
            what: what.to_owned(),
        })?;
    if certs.is_empty() {
        return Err(PkiError::NoPemBlock {
            expected: "CERTIFICATE",
            what: what.to_owned(),
        });
    }
    Ok(certs)
}

/// The first private key (PKCS#8, SEC1 or PKCS#1) of a PEM text.
pub fn load_key(pem: &str) -> Result<PrivateKeyDer<'static>, PkiError> {
    load_key_from(pem, "the supplied PEM text")
}

/// Like [`load_key`], naming the source in errors.
pub fn load_key_from(pem: &str, what: &str) -> Result<PrivateKeyDer<'static>, PkiError> {
    // The parser's own error text may quote input bytes, so it is dropped on purpose.
    rustls_pemfile::private_key(&mut pem.as_bytes())
        .map_err(|_| PkiError::BadPem {
            what: what.to_owned(),
        })?
        .ok_or_else(|| PkiError::NoPemBlock {
            expected: "PRIVATE KEY",
            what: what.to_owned(),
        })
}

/// A root store holding exactly the given certificates.
pub fn root_store(
    certs: &[CertificateDer<'static>],
    what: &str,
) -> Result<RootCertStore, PkiError> {
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots
            .add(cert.clone())
            .map_err(|e| PkiError::InvalidCertificate {
                what: what.to_owned(),
                reason: format!("not usable as a trust anchor: {e}"),
            })?;
    }
    Ok(roots)
}

/// The crypto provider used everywhere, chosen explicitly so no process-wide default is needed.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(aws_lc_rs::default_provider())
}

/// TLS client configuration for talking gRPC (h2) to an agent, authenticating with a client cert.
pub fn client_tls_config(
    trust: &AgentTrust,
    client_cert_pem: &str,
    client_key_pem: &str,
) -> Result<ClientConfig, PkiError> {
    let provider = crypto_provider();
    let chain = load_certs_from(client_cert_pem, "client certificate")?;
    let key = load_key_from(client_key_pem, "client key")?;
    let tls_err = |source| PkiError::Tls {
        what: "client".to_owned(),
        source,
    };
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?;
    let builder = match trust {
        AgentTrust::CaPem(ca_pem) => {
            let ca = load_certs_from(ca_pem, "agent CA certificate")?;
            builder.with_root_certificates(root_store(&ca, "agent CA certificate")?)
        }
        AgentTrust::CaFingerprint(pin) => {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(PinnedCaVerifier {
                    pin: *pin,
                    provider,
                }))
        }
    };
    let mut config = builder.with_client_auth_cert(chain, key).map_err(tls_err)?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// Verifies the server against the CA certificate it presents, accepted only if it matches the pin.
///
/// This lets the provider be configured with a short fingerprint instead of a whole CA file,
/// while still doing full path, validity, usage and name checks against that CA.
#[derive(Debug)]
struct PinnedCaVerifier {
    pin: [u8; 32],
    provider: Arc<CryptoProvider>,
}

impl PinnedCaVerifier {
    /// The presented chain certificate whose SHA-256 equals the pin, if any.
    fn pinned_ca<'a>(
        &self,
        intermediates: &'a [CertificateDer<'a>],
    ) -> Option<&'a CertificateDer<'a>> {
        intermediates
            .iter()
            .find(|cert| Sha256::digest(cert.as_ref()).as_slice() == self.pin.as_slice())
    }

    fn mismatch(&self, intermediates: &[CertificateDer<'_>]) -> rustls::Error {
        let presented = intermediates
            .iter()
            .map(|c| fingerprint_sha256(c))
            .collect();
        let err = PinMismatch {
            pin: hex::encode(self.pin),
            presented,
        };
        CertificateError::Other(rustls::OtherError(Arc::new(err))).into()
    }
}

impl ServerCertVerifier for PinnedCaVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let ca = self
            .pinned_ca(intermediates)
            .ok_or_else(|| self.mismatch(intermediates))?;
        let mut roots = RootCertStore::empty();
        roots.add(ca.clone().into_owned())?;
        // A fresh standard verifier with the pinned CA as its only root does the real checks.
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                .build()
                .map_err(|e| rustls::Error::General(format!("pinned CA verifier: {e}")))?;
        verifier.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The agent presented no CA certificate matching the pin.
///
/// `Debug` prints the same text as `Display`, because rustls formats this error with `{:?}`.
struct PinMismatch {
    pin: String,
    presented: Vec<String>,
}

impl fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the agent's CA does not match the configured pin (pinned SHA-256 {}, agent presented [{}]); \
             check the CA fingerprint printed by the agent and update the provider configuration",
            self.pin,
            self.presented.join(", ")
        )
    }
}

impl fmt::Debug for PinMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for PinMismatch {}
