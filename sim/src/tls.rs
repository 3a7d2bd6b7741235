//! The simulated Proxmox cluster serves HTTPS with a certificate from its
//! own CA, so the agent's driver verifies it as it would a real cluster's.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};

pub struct SimCertificates {
    pub ca_pem: String,
    pub ca_der: Vec<u8>,
    pub server_cert_pem: String,
    pub server_key_pem: String,
}

pub fn generate(hosts: &[&str]) -> Result<SimCertificates, rcgen::Error> {
    let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "giif-sim Proxmox VE CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params.self_signed(&ca_key)?;

    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut names: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
    names.extend(["localhost".to_string(), "127.0.0.1".to_string()]);
    let mut params = CertificateParams::new(names)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "pve.giif-sim");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &ca, &ca_key)?;
    Ok(SimCertificates {
        ca_pem: ca.pem(),
        ca_der: ca.der().to_vec(),
        server_cert_pem: cert.pem(),
        server_key_pem: key.serialize_pem(),
    })
}
