//! The agent's configuration file (`agent.toml`), as `giif-agent init`
//! writes it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Where the agent API listens, `host:port`.
    pub listen: String,
    /// `sqlite:///path/agent.db` or `postgres://user@host/db`. The password
    /// of a PostgreSQL URL may come from `GIIF_STORE_PASSWORD` instead.
    pub store: String,
    pub tls: TlsFiles,
    /// Certificates' lifetime, the longest project lifetime users may set,
    /// users' default quota.
    #[serde(default)]
    pub tenancy: crate::tenancy::TenancySettings,
    /// How long the audit trail is kept.
    #[serde(default)]
    pub audit: crate::tenancy::settings::AuditSettings,
    /// This replica's name and the leases of its operations.
    #[serde(default)]
    pub operations: crate::operations::OperationSettings,
    /// Where metrics and health are served; nowhere without this section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observability: Option<crate::health::ObservabilitySettings>,
    /// Project expiry notices to the operators; none without this section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notices: Option<crate::notices::NoticesConfig>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    pub ca_cert: PathBuf,
    /// The CA key issues client identities; `serve` never reads it.
    pub ca_key: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the agent configuration {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the agent configuration {path} is invalid: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("the agent configuration {path} is invalid: {source}")]
    Notices {
        path: PathBuf,
        source: crate::notices::NoticesConfigError,
    },
}

impl AgentConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config: AgentConfig =
            toml::from_str(&text).map_err(|source| ConfigError::Parse {
                path: path.to_path_buf(),
                source,
            })?;
        // Relative paths are relative to the configuration file.
        let base = path.parent().unwrap_or(Path::new("."));
        for file in [
            &mut config.tls.ca_cert,
            &mut config.tls.ca_key,
            &mut config.tls.server_cert,
            &mut config.tls.server_key,
        ] {
            if file.is_relative() {
                *file = base.join(&*file);
            }
        }
        if let Some(notices) = &mut config.notices {
            notices
                .validate(base)
                .map_err(|source| ConfigError::Notices {
                    path: path.to_path_buf(),
                    source,
                })?;
        }
        Ok(config)
    }

    /// The store URL with the password from the environment, if set there.
    pub fn store_url(&self) -> String {
        match std::env::var("GIIF_STORE_PASSWORD") {
            Ok(password) if self.store.starts_with("postgres") && !password.is_empty() => {
                match self.store.split_once("://").and_then(|(scheme, rest)| {
                    rest.split_once('@')
                        .map(|(user, host)| (scheme, user, host))
                }) {
                    Some((scheme, user, host)) if !user.contains(':') => {
                        format!("{scheme}://{user}:{password}@{host}")
                    }
                    _ => self.store.clone(),
                }
            }
            _ => self.store.clone(),
        }
    }
}
