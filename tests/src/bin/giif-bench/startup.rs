//! The provider's start-up time as Terraform sees it: from spawning
//! `terraform-provider-giif` with go-plugin's environment (magic cookie,
//! protocol 6, and an AutoMTLS client certificate like Terraform's) until
//! its handshake line is on stdout. Terraform starts a provider process for
//! every graph walk (3 per plan, 4 per apply), so this is paid each time.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use giif_provider::plugin::{MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE};

use crate::samples::Samples;

/// Terraform's AutoMTLS client certificate: ECDSA P-521, self-signed, CA:TRUE.
fn terraform_client_certificate() -> Result<String> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512)?;
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()])?;
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
    ];
    Ok(params.self_signed(&key)?.pem())
}

pub fn measure(provider: &Path, runs: usize) -> Result<Samples> {
    let client_certificate = terraform_client_certificate()?;
    let mut samples = Samples::default();
    for _ in 0..runs {
        let started = Instant::now();
        let mut child = Command::new(provider)
            .env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
            .env("PLUGIN_PROTOCOL_VERSIONS", "6")
            .env("PLUGIN_CLIENT_CERT", &client_certificate)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", provider.display()))?;
        let stdout = child.stdout.take().context("the provider's stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let elapsed = started.elapsed();
        let _ = child.kill();
        let _ = child.wait();
        if !line.starts_with("1|6|tcp|") {
            bail!("the provider printed {line:?} instead of its handshake line");
        }
        samples.push(elapsed);
    }
    Ok(samples)
}
