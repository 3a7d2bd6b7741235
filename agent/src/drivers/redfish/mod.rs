//! The Redfish driver: the [`Bmc`](super::bmc::Bmc) capability over DMTF
//! Redfish, for any vendor's BMC.
//!
//! - `client`: one request at a time per BMC, paced; the certificate pinned
//!   on first use (in the pin store SSH host keys use); a session login
//!   with a fallback to basic authentication; every failure classified.
//! - `paths`: the system, its manager and its virtual CD, found by
//!   following links from `/redfish/v1/`, never guessed.
//! - `tasks`: `202 Accepted` with a task monitor, polled to its end.
//! - `actions`: the capability: power, virtual media, a one-time boot from
//!   the virtual CD, the VNC console through Dell's attributes where the
//!   BMC has them, system facts, a BMC restart and drive erasure.

mod actions;
mod client;
mod console;
mod media;
mod paths;
mod tasks;

use std::sync::Arc;
use std::time::Duration;

use super::host_keys::HostKeyPins;
use super::https::{pinned_client_config, CertificatePin, FirstUse};
use super::retry::RetryPolicy;
use crate::credentials::Secret;

pub use client::TLS_PIN_PREFIX;

/// How to reach and treat one Redfish service.
#[derive(Clone, Debug)]
pub struct RedfishConfig {
    /// The server's inventory name (errors and logs say `redfish:<name>`).
    pub name: String,
    /// `https://host[:port]`.
    pub url: String,
    /// The system's `Id`; `None` when the service manages exactly one.
    pub system: Option<String>,
    pub user: String,
    pub password: Secret,
    /// The quiet time between one answer and the next request.
    pub min_interval: Duration,
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    /// How long a power action may take to show in `PowerState`.
    pub power_wait: Duration,
    /// How long a task (such as an erase) may run.
    pub task_wait: Duration,
    /// How often a task monitor or a power state is looked at.
    pub poll: Duration,
}

impl RedfishConfig {
    pub fn new(
        name: impl Into<String>,
        url: impl Into<String>,
        user: impl Into<String>,
        password: Secret,
    ) -> Self {
        Self {
            name: name.into(),
            url: url.into().trim_end_matches('/').to_string(),
            system: None,
            user: user.into(),
            password,
            min_interval: Duration::from_millis(200),
            request_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            power_wait: Duration::from_secs(180),
            task_wait: Duration::from_secs(4 * 3600),
            poll: Duration::from_secs(2),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RedfishSetupError {
    #[error("{0:?} is not an http(s) URL")]
    Url(String),
    #[error("TLS setup failed: {0}")]
    Tls(#[from] rustls::Error),
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

pub struct Redfish {
    config: RedfishConfig,
    target: String,
    /// `https://host:port`: the key of the certificate's pin.
    endpoint: String,
    http: reqwest::Client,
    /// `None` on plain HTTP.
    first_use: Option<Arc<FirstUse>>,
    pins: Arc<dyn HostKeyPins>,
    /// Holding it serializes requests; it keeps the session and the paths.
    line: tokio::sync::Mutex<client::Line>,
}

impl std::fmt::Debug for Redfish {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redfish")
            .field("target", &self.target)
            .field("endpoint", &self.endpoint)
            .field("user", &self.config.user)
            .finish_non_exhaustive()
    }
}

impl Redfish {
    pub fn new(
        config: RedfishConfig,
        pins: Arc<dyn HostKeyPins>,
    ) -> Result<Self, RedfishSetupError> {
        let url = reqwest::Url::parse(&config.url)
            .map_err(|_| RedfishSetupError::Url(config.url.clone()))?;
        let host = url
            .host_str()
            .ok_or_else(|| RedfishSetupError::Url(config.url.clone()))?;
        let port = url
            .port_or_known_default()
            .ok_or_else(|| RedfishSetupError::Url(config.url.clone()))?;
        let builder = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none());
        let first_use = Arc::new(FirstUse::default());
        let tls = pinned_client_config(CertificatePin::OnFirstUse(first_use.clone()))?;
        let http = builder.use_preconfigured_tls(tls).build()?;
        let first_use = match url.scheme() {
            "https" => Some(first_use),
            "http" => None,
            _ => return Err(RedfishSetupError::Url(config.url.clone())),
        };
        Ok(Self {
            target: format!("redfish:{}", config.name),
            endpoint: format!("{}://{host}:{port}", url.scheme()),
            config,
            http,
            first_use,
            pins,
            line: tokio::sync::Mutex::new(client::Line::default()),
        })
    }
}
