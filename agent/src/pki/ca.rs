//! The agent's own certificate authority: creating it, reloading it, issuing leaves.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedKey, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, Ia5String, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose,
    PrintableString, SanType, SerialNumber,
};
use rustls::pki_types::CertificateDer;
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::der_parser::asn1_rs::{Any, Tag};
use x509_parser::extensions::ParsedExtension;
use x509_parser::x509::X509Name;

use super::read_pem_file;
use giif_proto::agent_tls::{fingerprint_sha256, load_certs_from, PkiError};

const CA_VALIDITY_DAYS: i64 = 10 * 365;
const SERVER_VALIDITY_DAYS: i64 = 2 * 365;
/// Tolerates modest clock skew between the agent and its peers.
const BACKDATE: Duration = Duration::hours(1);
/// Name put in the agent's server certificate subject (peers check SANs, not this).
const SERVER_COMMON_NAME: &str = "giif-agent";

/// A loaded CA able to issue certificates.
///
/// `issuer` is a re-signed copy of the CA certificate carrying the original subject and key
/// identifier; issued certificates therefore chain to the original `cert_der` on disk.
pub struct CaHandle {
    issuer: rcgen::Certificate,
    key: KeyPair,
    cert_der: CertificateDer<'static>,
    cert_pem: String,
}

impl fmt::Debug for CaHandle {
    // Never print the key; the fingerprint is what operators compare.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CaHandle(sha256={})", self.fingerprint())
    }
}

impl CaHandle {
    /// Wraps a CA freshly created by [`generate_ca`].
    pub fn from_certified(ca: CertifiedKey) -> Self {
        Self {
            cert_der: ca.cert.der().clone(),
            cert_pem: ca.cert.pem(),
            issuer: ca.cert,
            key: ca.key_pair,
        }
    }

    /// Reads the CA certificate and key PEM files written earlier.
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Self, PkiError> {
        let cert_pem = read_pem_file(cert_path)?;
        let key_pem = read_pem_file(key_path)?;
        Self::from_pem_named(
            &cert_pem,
            &key_pem,
            &cert_path.display().to_string(),
            &key_path.display().to_string(),
        )
    }

    /// Rebuilds a CA from its certificate PEM and key PEM.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, PkiError> {
        Self::from_pem_named(cert_pem, key_pem, "CA certificate", "CA key")
    }

    fn from_pem_named(
        cert_pem: &str,
        key_pem: &str,
        cert_what: &str,
        key_what: &str,
    ) -> Result<Self, PkiError> {
        let cert_der = first_cert(cert_pem, cert_what)?;
        let key = KeyPair::from_pem(key_pem).map_err(|e| PkiError::InvalidCertificate {
            what: key_what.to_owned(),
            reason: format!("not a usable private key ({e})"),
        })?;
        let params = reissue_params(&cert_der, &key, cert_what)?;
        let issuer = params
            .self_signed(&key)
            .map_err(generate_err("CA issuer"))?;
        check_same_subject(&cert_der, issuer.der(), cert_what)?;
        Ok(Self {
            issuer,
            key,
            cert_der,
            cert_pem: cert_pem.to_owned(),
        })
    }

    /// The original CA certificate (the one peers trust).
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// The original CA certificate as PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The re-signed copy used for issuance (tests compare it with the original).
    #[cfg(test)]
    pub(super) fn issuer_der(&self) -> &[u8] {
        self.issuer.der()
    }

    /// SHA-256 of the original CA certificate, the value a provider pins.
    pub fn fingerprint(&self) -> String {
        fingerprint_sha256(&self.cert_der)
    }
}

/// A self-signed ECDSA P-256 CA valid for ten years.
pub fn generate_ca(common_name: &str) -> Result<CertifiedKey, PkiError> {
    let key = new_key("CA key")?;
    let mut params = base_params(common_name, CA_VALIDITY_DAYS)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = ca_key_usages();
    let cert = params
        .self_signed(&key)
        .map_err(generate_err("CA certificate"))?;
    Ok(CertifiedKey {
        cert,
        key_pair: key,
    })
}

/// The agent's server certificate; always valid for `localhost` and `127.0.0.1` too.
pub fn issue_server_cert(ca: &CaHandle, hosts: &[String]) -> Result<CertifiedKey, PkiError> {
    let mut params = base_params(SERVER_COMMON_NAME, SERVER_VALIDITY_DAYS)?;
    params.subject_alt_names = server_sans(hosts)?;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    issue_leaf(ca, params, "server certificate")
}

/// A client certificate whose common name carries the caller's identity,
/// valid for `days` (short-lived: a lost key expires on its own too).
pub fn issue_client_cert(
    ca: &CaHandle,
    identity: &str,
    days: u32,
) -> Result<CertifiedKey, PkiError> {
    if identity.trim().is_empty() {
        return Err(PkiError::Generate {
            what: "client certificate".to_owned(),
            reason: "the identity (common name) is empty".to_owned(),
        });
    }
    let mut params = base_params(identity, i64::from(days.max(1)))?;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    issue_leaf(ca, params, "client certificate")
}

/// The common name of a (client) certificate, used as the caller's identity.
pub fn client_identity(cert_der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der).ok()?;
    let cn = cert.subject().iter_common_name().next()?;
    cn.as_str().ok().map(str::to_owned)
}

/// Signs a leaf with a fresh key: digital signatures only, explicitly not a CA.
fn issue_leaf(
    ca: &CaHandle,
    mut params: CertificateParams,
    what: &str,
) -> Result<CertifiedKey, PkiError> {
    let key = new_key(what)?;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    let cert = params
        .signed_by(&key, &ca.issuer, &ca.key)
        .map_err(generate_err(what))?;
    Ok(CertifiedKey {
        cert,
        key_pair: key,
    })
}

/// Subject, random serial and validity window shared by every certificate we make.
fn base_params(common_name: &str, days: i64) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.serial_number = Some(random_serial()?);
    let now = OffsetDateTime::now_utc();
    params.not_before = now - BACKDATE;
    params.not_after = now + Duration::days(days);
    Ok(params)
}

fn ca_key_usages() -> Vec<KeyUsagePurpose> {
    vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ]
}

fn new_key(what: &str) -> Result<KeyPair, PkiError> {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(generate_err(what))
}

/// 16 random bytes, top bit cleared so the DER INTEGER stays positive.
fn random_serial() -> Result<SerialNumber, PkiError> {
    let mut bytes = [0u8; 16];
    giif_proto::agent_tls::crypto_provider()
        .secure_random
        .fill(&mut bytes)
        .map_err(|_| PkiError::Generate {
            what: "certificate serial number".to_owned(),
            reason: "the system random number generator failed".to_owned(),
        })?;
    bytes[0] &= 0x7f;
    Ok(SerialNumber::from_slice(&bytes))
}

/// Requested hosts plus the loopback names, without duplicates; IPs become IP SANs.
fn server_sans(hosts: &[String]) -> Result<Vec<SanType>, PkiError> {
    let defaults = ["localhost".to_owned(), "127.0.0.1".to_owned()];
    let mut sans: Vec<SanType> = Vec::new();
    for host in hosts
        .iter()
        .chain(defaults.iter())
        .map(|h| h.trim())
        .filter(|h| !h.is_empty())
    {
        let san = host_san(host)?;
        if !sans.contains(&san) {
            sans.push(san);
        }
    }
    Ok(sans)
}

fn host_san(host: &str) -> Result<SanType, PkiError> {
    // Accept "[::1]" as written in URLs as well as bare addresses.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let name = Ia5String::try_from(host).map_err(|_| PkiError::Generate {
        what: "server certificate".to_owned(),
        reason: format!("host {host:?} is neither an IP address nor an ASCII DNS name"),
    })?;
    Ok(SanType::DnsName(name))
}

/// Parameters reproducing the stored CA's subject and key identifier with the loaded key.
fn reissue_params(
    cert_der: &[u8],
    key: &KeyPair,
    what: &str,
) -> Result<CertificateParams, PkiError> {
    let cert = parse_cert(cert_der, what)?;
    if cert.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
        return Err(invalid(
            what,
            "the CA key file does not belong to this CA certificate",
        ));
    }
    let mut params = CertificateParams::default();
    params.distinguished_name = dn_from_x509(cert.subject(), what)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = ca_key_usages();
    if let Some(ski) = subject_key_id(&cert) {
        // Issued certificates' authority key identifier must name the original CA.
        params.key_identifier_method = KeyIdMethod::PreSpecified(ski);
    }
    Ok(params)
}

/// The rebuilt issuer name must be byte-identical or issued certificates would not chain.
fn check_same_subject(original: &[u8], reissued: &[u8], what: &str) -> Result<(), PkiError> {
    let original = parse_cert(original, what)?;
    let reissued = parse_cert(reissued, what)?;
    if original.subject().as_raw() != reissued.subject().as_raw() {
        return Err(invalid(
            what,
            "the CA subject uses an encoding that cannot be reproduced; generate a new CA",
        ));
    }
    Ok(())
}

fn dn_from_x509(name: &X509Name<'_>, what: &str) -> Result<DistinguishedName, PkiError> {
    let mut dn = DistinguishedName::new();
    for attr in name.iter_attributes() {
        let oid: Vec<u64> = attr
            .attr_type()
            .iter()
            .ok_or_else(|| invalid(what, "subject attribute type is not a valid OID"))?
            .collect();
        dn.push(DnType::from_oid(&oid), dn_value(attr.attr_value(), what)?);
    }
    Ok(dn)
}

/// Keeps the original ASN.1 string type so the re-encoded name matches byte for byte.
fn dn_value(value: &Any<'_>, what: &str) -> Result<DnValue, PkiError> {
    let text = std::str::from_utf8(value.data)
        .map_err(|_| invalid(what, "subject attribute is not valid text"))?
        .to_owned();
    let bad = |_| invalid(what, "subject attribute does not fit its string type");
    match value.header.tag() {
        Tag::Utf8String => Ok(DnValue::Utf8String(text)),
        Tag::PrintableString => Ok(DnValue::PrintableString(
            PrintableString::try_from(text).map_err(bad)?,
        )),
        Tag::Ia5String => Ok(DnValue::Ia5String(Ia5String::try_from(text).map_err(bad)?)),
        other => Err(invalid(
            what,
            &format!("unsupported subject string type {other}"),
        )),
    }
}

fn subject_key_id(cert: &X509Certificate<'_>) -> Option<Vec<u8>> {
    cert.iter_extensions()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
            _ => None,
        })
}

fn first_cert(pem: &str, what: &str) -> Result<CertificateDer<'static>, PkiError> {
    let certs = load_certs_from(pem, what)?;
    certs
        .into_iter()
        .next()
        .ok_or_else(|| invalid(what, "no certificate present"))
}

fn parse_cert<'a>(der: &'a [u8], what: &str) -> Result<X509Certificate<'a>, PkiError> {
    x509_parser::parse_x509_certificate(der)
        .map(|(_, cert)| cert)
        .map_err(|e| invalid(what, &format!("not a valid X.509 certificate ({e})")))
}

fn invalid(what: &str, reason: &str) -> PkiError {
    PkiError::InvalidCertificate {
        what: what.to_owned(),
        reason: reason.to_owned(),
    }
}

fn generate_err(what: &str) -> impl FnOnce(rcgen::Error) -> PkiError + '_ {
    move |e| PkiError::Generate {
        what: what.to_owned(),
        reason: e.to_string(),
    }
}
