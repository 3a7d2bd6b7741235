//! The Proxmox VE driver: the [`Hypervisor`](super::hypervisor::Hypervisor)
//! capability over PVE's REST API (`/api2/json`), authenticated with an API
//! token, trusting the cluster's certificate by CA or by fingerprint.
//!
//! - `client`: HTTPS calls, envelopes, retries; `classify`: what a failure means.
//! - `tls`: trust by CA or by certificate fingerprint.
//! - `tasks`: worker tasks (UPIDs) polled until they stop.
//! - `vmconfig`: PVE's config keys and property strings to typed values.
//! - `vm_locks`: one change at a time per VM (hot-plugs included).
//! - `validate`: values PVE would refuse, refused before sending.
//! - `driver`: the capability itself.

mod classify;
mod client;
mod driver;
mod tasks;
mod tls;
mod validate;
mod vm_locks;
mod vmconfig;

use std::time::Duration;

use reqwest::header::HeaderValue;

use crate::credentials::Secret;
use crate::drivers::retry::RetryPolicy;
use client::PveClient;
use vm_locks::VmLocks;

pub use tls::parse_fingerprint;

/// How the driver trusts the cluster's HTTPS certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PveTrust {
    /// PEM of the CA that signed the API certificate (PVE's own cluster CA
    /// is in `/etc/pve/pve-root-ca.pem`).
    CaPem(String),
    /// SHA-256 fingerprint of the API certificate itself.
    Fingerprint([u8; 32]),
}

/// How often a running task is polled, and how long a task may run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskPoll {
    /// The first delay, and the shortest.
    pub initial: Duration,
    /// The longest delay (a task is polled every tenth of its age between).
    pub max: Duration,
    /// Give up waiting (the task may still finish: `MaybeApplied`).
    pub timeout: Duration,
}

impl TaskPoll {
    /// Fast polling for tests against the simulator.
    pub fn quick() -> Self {
        Self {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(50),
            timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Clone, Debug)]
pub struct ProxmoxConfig {
    /// `https://pve.example.org:8006` (with or without `/api2/json`).
    pub api_url: String,
    /// `user@realm!tokenname`.
    pub token_id: String,
    pub token_secret: Secret,
    pub trust: PveTrust,
    pub retry: RetryPolicy,
    pub task_poll: TaskPoll,
    /// Per HTTP request.
    pub request_timeout: Duration,
}

impl ProxmoxConfig {
    pub fn new(
        api_url: impl Into<String>,
        token_id: impl Into<String>,
        token_secret: Secret,
        trust: PveTrust,
    ) -> Self {
        Self {
            api_url: api_url.into(),
            token_id: token_id.into(),
            token_secret,
            trust,
            retry: RetryPolicy::default(),
            task_poll: TaskPoll::default(),
            request_timeout: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProxmoxSetupError {
    #[error("the API URL must start with https://: {0}")]
    NotHttps(String),
    #[error("the token id must look like user@realm!name, not {0:?}")]
    BadTokenId(String),
    #[error("the token secret contains characters that cannot go in an HTTP header")]
    BadSecret,
    #[error(transparent)]
    Tls(#[from] tls::TlsSetupError),
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
}

/// The driver for one Proxmox VE cluster.
pub struct ProxmoxDriver {
    client: PveClient,
    poll: TaskPoll,
    locks: VmLocks,
}

impl std::fmt::Debug for ProxmoxDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxmoxDriver")
            .field("client", &self.client)
            .field("poll", &self.poll)
            .finish_non_exhaustive()
    }
}

impl ProxmoxDriver {
    pub fn new(config: ProxmoxConfig) -> Result<Self, ProxmoxSetupError> {
        let url = config.api_url.trim_end_matches('/');
        if !url.starts_with("https://") {
            return Err(ProxmoxSetupError::NotHttps(config.api_url.clone()));
        }
        let base = if url.ends_with("/api2/json") {
            url.to_string()
        } else {
            format!("{url}/api2/json")
        };
        let valid_id = config.token_id.split_once('!').is_some_and(|(user, name)| {
            user.contains('@') && !name.is_empty() && !name.contains('=')
        });
        if !valid_id {
            return Err(ProxmoxSetupError::BadTokenId(config.token_id.clone()));
        }
        let mut auth = HeaderValue::from_str(&format!(
            "PVEAPIToken={}={}",
            config.token_id,
            config.token_secret.expose()
        ))
        .map_err(|_| ProxmoxSetupError::BadSecret)?;
        auth.set_sensitive(true);
        let tls = tls::client_config(&config.trust)?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .timeout(config.request_timeout)
            .connect_timeout(Duration::from_secs(10))
            // pveproxy closes idle keep-alive connections after a few
            // seconds; reusing one it is closing loses the request.
            .pool_idle_timeout(Duration::from_secs(3))
            .build()
            .map_err(|e| ProxmoxSetupError::Http(e.to_string()))?;
        Ok(Self {
            client: PveClient::new(http, base, auth, config.retry),
            poll: config.task_poll,
            locks: VmLocks::default(),
        })
    }
}
