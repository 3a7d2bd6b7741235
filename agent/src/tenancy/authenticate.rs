//! From a call's client certificate to its principal. The TLS handshake
//! already proved the certificate is the agent CA's and unexpired; here the
//! store says whether it was issued to someone and not revoked since.

use giif_proto::tls_incoming::PeerCertificates;

use super::principal::Caller;
use crate::error::ApiError;
use crate::store::{CertificateStanding, Store};

/// What the registry records of a certificate.
pub struct CertificateFacts {
    /// Lower-case hex.
    pub serial: String,
    /// The common name: the principal's name.
    pub name: String,
    /// `not_after`, RFC 3339.
    pub expires_at: String,
}

/// The serial, common name and end of validity of a certificate.
pub fn certificate_facts(cert_der: &[u8]) -> Option<CertificateFacts> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der).ok()?;
    let name = cert.subject().iter_common_name().next()?.as_str().ok()?;
    let expires_at = cert
        .validity()
        .not_after
        .to_datetime()
        .format(&time::format_description::well_known::Rfc3339)
        .ok()?;
    Some(CertificateFacts {
        serial: hex::encode(cert.raw_serial()),
        name: name.to_string(),
        expires_at,
    })
}

/// The serial (lower-case hex) and common name of a certificate.
pub fn serial_and_name(cert_der: &[u8]) -> Option<(String, String)> {
    certificate_facts(cert_der).map(|facts| (facts.serial, facts.name))
}

/// The caller of a request, or why it is refused.
pub async fn caller_of(store: &Store, extensions: &tonic::Extensions) -> Result<Caller, ApiError> {
    let (serial, name) = extensions
        .get::<PeerCertificates>()
        .and_then(|certs| certs.0.first())
        .and_then(|cert| serial_and_name(cert.as_ref()))
        .ok_or_else(|| {
            ApiError::unauthenticated("the call carries no readable client certificate")
                .hint("Configure the provider with a certificate from `giif-agent identity issue`.")
        })?;
    match store.certificate_standing(&serial).await? {
        CertificateStanding::Valid(principal) if principal.name == name => Ok(Caller {
            principal,
            serial,
            request_fingerprint: None,
        }),
        CertificateStanding::Valid(principal) => Err(ApiError::unauthenticated(format!(
            "certificate {serial} names {name:?} but was recorded for {:?}",
            principal.name
        ))
        .hint("Use the certificate and key `giif-agent identity issue` wrote, unchanged.")),
        CertificateStanding::Revoked { principal, at } => Err(ApiError::unauthenticated(format!(
            "the certificate of {principal} (serial {serial}) was revoked at {at}"
        ))
        .hint("Ask an operator for a new identity: giif-agent identity issue NAME --out DIR.")),
        CertificateStanding::Unknown => Err(ApiError::unauthenticated(format!(
            "certificate {serial} of {name:?} was not issued by this agent's identity registry"
        ))
        .hint("Ask an operator for an identity: giif-agent identity issue NAME --out DIR.")),
    }
}
