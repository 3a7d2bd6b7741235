//! What the HTTPS drivers (Proxmox VE, Redfish) share: trusting a device by
//! its certificate's SHA-256 fingerprint, fixed in the site file or pinned
//! on first use, and what a failed request means for the caller. Handshake
//! signatures are always verified, so a pinned certificate proves its key.

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};

use super::error::{DriverError, ErrorClass};

pub type Fingerprint = [u8; 32];

/// Which certificate a device must present.
#[derive(Clone, Debug)]
pub enum CertificatePin {
    /// Exactly this one (the site file names it).
    Fixed(Fingerprint),
    /// The one recorded on first use; until then any, and each one seen is
    /// remembered so the caller can pin it.
    OnFirstUse(Arc<FirstUse>),
}

/// The state of a pin made on first use.
#[derive(Debug, Default)]
pub struct FirstUse(Mutex<FirstUseState>);

#[derive(Debug, Default, Clone, Copy)]
struct FirstUseState {
    pinned: Option<Fingerprint>,
    seen: Option<Fingerprint>,
}

impl FirstUse {
    pub fn pin(&self, fingerprint: Fingerprint) {
        if let Ok(mut state) = self.0.lock() {
            state.pinned = Some(fingerprint);
        }
    }
    pub fn pinned(&self) -> Option<Fingerprint> {
        self.0.lock().ok().and_then(|s| s.pinned)
    }
    /// The certificate the device presented last.
    pub fn seen(&self) -> Option<Fingerprint> {
        self.0.lock().ok().and_then(|s| s.seen)
    }
}

/// A client configuration that trusts exactly the pinned certificate.
pub fn pinned_client_config(pin: CertificatePin) -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(
        rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedCertificate { pin, provider }))
            .with_no_client_auth(),
    )
}

/// `AB:CD:...`, as `openssl x509 -fingerprint -sha256` prints it.
pub fn format_fingerprint(fingerprint: &Fingerprint) -> String {
    fingerprint
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Parses `AA:BB:...` (as PVE and `openssl x509 -fingerprint -sha256` print
/// it) or plain hex into a SHA-256 fingerprint (the agent's own TLS pins
/// are read by the same rule).
pub fn parse_fingerprint(text: &str) -> Option<Fingerprint> {
    giif_proto::agent_tls::parse_fingerprint(text).ok()
}

#[derive(Debug)]
struct PinnedCertificate {
    pin: CertificatePin,
    provider: Arc<CryptoProvider>,
}

fn same(a: &Fingerprint, b: &Fingerprint) -> bool {
    // Compare without an early exit.
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
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
        let actual: Fingerprint = Sha256::digest(end_entity.as_ref()).into();
        let expected = match &self.pin {
            CertificatePin::Fixed(fingerprint) => Some(*fingerprint),
            CertificatePin::OnFirstUse(first_use) => {
                let mut state = first_use
                    .0
                    .lock()
                    .map_err(|_| rustls::Error::General("pin state poisoned".into()))?;
                state.seen = Some(actual);
                state.pinned
            }
        };
        match expected {
            Some(expected) if !same(&expected, &actual) => Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            )),
            _ => Ok(ServerCertVerified::assertion()),
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

/// No answer: a refused connection never reached the device; a connection
/// lost after a change went out may or may not have changed something; a
/// certificate that is not trusted will not become trusted by retrying.
pub fn transport_error(
    err: &reqwest::Error,
    mutating: bool,
    target: &str,
    action: &str,
) -> DriverError {
    if let Some(tls) = tls_failure(err) {
        return DriverError::permanent(
            target,
            action,
            format!("TLS: the server is not trusted: {tls}"),
        );
    }
    let detail = describe(err);
    if err.is_connect() {
        return DriverError::transient(target, action, format!("cannot connect: {detail}"));
    }
    if mutating {
        DriverError::new(
            ErrorClass::MaybeApplied,
            target,
            action,
            format!("connection lost after the request was sent: {detail}"),
        )
    } else {
        DriverError::transient(target, action, format!("connection lost: {detail}"))
    }
}

/// The certificate check's own error, if that is why the call failed.
pub fn tls_failure(err: &reqwest::Error) -> Option<String> {
    find_rustls(err).map(|tls| tls.to_string())
}

/// Walks the causes, looking inside I/O errors too (their `source()` skips
/// the error they wrap, and hyper nests them).
fn find_rustls<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = err.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    if let Some(inner) = err
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        let inner: &(dyn std::error::Error + 'static) = inner;
        if let Some(tls) = find_rustls(inner) {
            return Some(tls);
        }
    }
    err.source().and_then(find_rustls)
}

/// The error and its causes on one line (without the URL's query).
fn describe(err: &reqwest::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = std::error::Error::source(err);
    while let Some(current) = source {
        parts.push(current.to_string());
        source = current.source();
    }
    parts.dedup();
    parts.join(": ")
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
        assert_eq!(format_fingerprint(&[0xAB; 32]), colon);
    }
}
