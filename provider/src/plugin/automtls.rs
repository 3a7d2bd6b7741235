//! AutoMTLS as go-plugin does it: Terraform puts its client certificate in
//! `PLUGIN_CLIENT_CERT`, we answer with a fresh self-signed server
//! certificate in the handshake line, and each side trusts exactly the other.
//!
//! Terraform's certificate is ECDSA P-521, self-signed with CA:TRUE. The
//! stock webpki client verifier rejects such a leaf, and *ring* cannot verify
//! P-521, so we accept exactly that certificate and check the handshake
//! signature with aws-lc-rs.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

#[derive(Debug, thiserror::Error)]
pub enum AutoMtlsError {
    #[error(
        "PLUGIN_CLIENT_CERT holds no PEM certificate; Terraform sets it to its client certificate"
    )]
    NoClientCertificate,
    #[error("PLUGIN_CLIENT_CERT is not valid PEM: {0}")]
    BadPem(std::io::Error),
    #[error("generating the plugin's server certificate failed: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("building the TLS configuration failed: {0}")]
    Tls(#[from] rustls::Error),
}

pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The provider's own certificate for one process lifetime.
pub struct ServerIdentity {
    pub cert_der: CertificateDer<'static>,
    key_der: PrivatePkcs8KeyDer<'static>,
}

impl ServerIdentity {
    /// A self-signed certificate with SAN `DNS:localhost` (go-plugin's client
    /// verifies against that name) marked as a CA, since the client uses it as
    /// its only trust root.
    pub fn generate() -> Result<Self, AutoMtlsError> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()])?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "giif terraform provider");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::DigitalSignature,
            rcgen::KeyUsagePurpose::KeyEncipherment,
            rcgen::KeyUsagePurpose::KeyCertSign,
        ];
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::minutes(1);
        params.not_after = now + time::Duration::days(365);
        let cert = params.self_signed(&key)?;
        Ok(Self {
            cert_der: cert.der().clone(),
            key_der: PrivatePkcs8KeyDer::from(key.serialize_der()),
        })
    }

    /// The rustls server configuration: ALPN `h2` (grpc-go insists on it)
    /// and client authentication by [`TerraformClientVerifier`].
    pub fn server_config(
        &self,
        verifier: Arc<TerraformClientVerifier>,
    ) -> Result<rustls::ServerConfig, AutoMtlsError> {
        let mut config = rustls::ServerConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![self.cert_der.clone()],
                PrivateKeyDer::Pkcs8(self.key_der.clone_key()),
            )?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(config)
    }
}

/// Accepts exactly one client certificate: the one Terraform announced.
#[derive(Debug)]
pub struct TerraformClientVerifier {
    expected: CertificateDer<'static>,
    provider: Arc<CryptoProvider>,
}

impl TerraformClientVerifier {
    pub fn from_pem(pem: &str) -> Result<Self, AutoMtlsError> {
        let expected = rustls_pemfile::certs(&mut pem.as_bytes())
            .next()
            .ok_or(AutoMtlsError::NoClientCertificate)?
            .map_err(AutoMtlsError::BadPem)?;
        Ok(Self {
            expected,
            provider: crypto_provider(),
        })
    }
}

impl ClientCertVerifier for TerraformClientVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.expected.as_ref() {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "client certificate is not the one announced in PLUGIN_CLIENT_CERT".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
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
        verify_tls13_signature(
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
