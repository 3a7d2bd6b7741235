//! The provider block: where the agent is and how to trust it. Every
//! setting can also come from a `GIIF_*` environment variable.

use std::sync::LazyLock;

use giif_proto::agent_tls::{parse_fingerprint, AgentTrust};

use crate::agent::AgentSettings;
use crate::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::schema::{Attribute, Schema};
use crate::tfvalue::Value;

pub static PROVIDER_SCHEMA: LazyLock<Schema> =
    LazyLock::new(|| Schema {
        version: 0,
        description: "The giif provider talks to a giif agent on site over mutual TLS. \
        `giif-agent init` prints a provider block with all of these set.",
        attributes: vec![
        Attribute::string("endpoint").optional().describe(
            "The agent's address as `host:port`. Environment: `GIIF_ENDPOINT`.",
        ),
        Attribute::string("ca_cert").optional().describe(
            "The agent's CA certificate, as PEM text or a path to a PEM file. The provider \
             refuses an agent whose certificate does not chain to it. Environment: `GIIF_CA_CERT`.",
        ),
        Attribute::string("ca_fingerprint").optional().describe(
            "Instead of `ca_cert`: the SHA-256 fingerprint (hex) of the agent's CA certificate. \
             Environment: `GIIF_CA_FINGERPRINT`.",
        ),
        Attribute::string("client_cert").optional().describe(
            "This client's certificate, issued by the agent's CA, as PEM text or a path. \
             Environment: `GIIF_CLIENT_CERT`.",
        ),
        Attribute::string("client_key").optional().sensitive().describe(
            "The private key of `client_cert`, as PEM text or a path. \
             Environment: `GIIF_CLIENT_KEY`.",
        ),
    ],
        blocks: vec![],
    });

/// Resolves the configuration (and the environment) into agent settings,
/// with a diagnostic per missing or unreadable setting.
pub fn resolve(config: &Value) -> Result<AgentSettings, Diagnostics> {
    let mut diags = Diagnostics::default();
    let endpoint = setting(config, "endpoint", "GIIF_ENDPOINT", &mut diags);
    let ca_cert = optional_setting(config, "ca_cert", "GIIF_CA_CERT");
    let ca_fingerprint = optional_setting(config, "ca_fingerprint", "GIIF_CA_FINGERPRINT");
    let client_cert = setting(config, "client_cert", "GIIF_CLIENT_CERT", &mut diags)
        .and_then(|v| pem_or_file(&v, "client_cert", &mut diags));
    let client_key = setting(config, "client_key", "GIIF_CLIENT_KEY", &mut diags)
        .and_then(|v| pem_or_file(&v, "client_key", &mut diags));
    let trust = match (ca_cert, ca_fingerprint) {
        (Some(pem), _) => pem_or_file(&pem, "ca_cert", &mut diags).map(AgentTrust::CaPem),
        (None, Some(pin)) => match parse_fingerprint(&pin) {
            Ok(bytes) => Some(AgentTrust::CaFingerprint(bytes)),
            Err(_) => {
                diags.push(
                    Diagnostic::error(
                        "Invalid ca_fingerprint",
                        "ca_fingerprint must be the SHA-256 of the agent's CA certificate: 64 hex \
                         digits, colons allowed. `giif-agent init` prints it.",
                    )
                    .at(AttrPath::attr("ca_fingerprint")),
                );
                None
            }
        },
        (None, None) => {
            diags.push(
                Diagnostic::error(
                    "The agent's CA is not configured",
                    "Set ca_cert (or GIIF_CA_CERT) to the agent's CA certificate, or ca_fingerprint \
                     (GIIF_CA_FINGERPRINT) to its SHA-256, so the provider can tell the real agent \
                     from an impostor. `giif-agent init` prints both.",
                )
                .at(AttrPath::attr("ca_cert")),
            );
            None
        }
    };
    match (endpoint, trust, client_cert, client_key) {
        (Some(endpoint), Some(trust), Some(client_cert_pem), Some(client_key_pem))
            if !diags.has_errors() =>
        {
            Ok(AgentSettings {
                endpoint,
                trust,
                client_cert_pem,
                client_key_pem,
            })
        }
        _ => Err(diags),
    }
}

fn optional_setting(config: &Value, name: &str, env: &str) -> Option<String> {
    config
        .get(name)
        .as_str()
        .map(str::to_string)
        .or_else(|| std::env::var(env).ok().filter(|v| !v.is_empty()))
}

fn setting(config: &Value, name: &str, env: &str, diags: &mut Diagnostics) -> Option<String> {
    let value = optional_setting(config, name, env);
    if value.is_none() {
        diags.push(
            Diagnostic::error(
                format!("Missing provider setting {name}"),
                format!(
                    "Set {name} in the provider block or the {env} environment variable. \
                     `giif-agent init` prints a complete provider block."
                ),
            )
            .at(AttrPath::attr(name)),
        );
    }
    value
}

/// PEM given inline, or a path to a PEM file.
fn pem_or_file(value: &str, name: &str, diags: &mut Diagnostics) -> Option<String> {
    if value.trim_start().starts_with("-----BEGIN") {
        return Some(value.to_string());
    }
    match std::fs::read_to_string(value) {
        Ok(text) => Some(text),
        Err(err) => {
            // Never echo what might be key material.
            let shown = if name == "client_key" {
                "(value hidden)"
            } else {
                value
            };
            diags.push(
                Diagnostic::error(
                    format!("Cannot read {name}"),
                    format!(
                        "{name} is neither PEM text nor a readable file: {shown}: {err}. \
                         Give the PEM text itself or the path of the file holding it."
                    ),
                )
                .at(AttrPath::attr(name)),
            );
            None
        }
    }
}
