//! Fake iDRACs: one SSH server per bare-metal server on 127.0.0.1, speaking
//! the racadm subset the Giif drivers use (power, virtual media, VNC server
//! settings, system information, iDRAC reset, configuration export/import
//! jobs) with state, and the text real iDRACs print.
//!
//! Each command first asks the fault knobs of `idrac:<server>`: an injected
//! failure answers the way a busy iDRAC does; an injected drop ends the SSH
//! connection without an answer.

mod admin;
mod argv;
mod bmc;
mod device;
mod jobs;
mod racadm;
mod ssh;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use device::{CommandRecord, DEFAULT_RESET_DURATION};

use crate::faults::Faults;
use crate::site::ServerSpec;
use crate::SimError;

/// How to reach one fake iDRAC.
#[derive(Clone, Debug)]
pub struct IdracEndpoint {
    pub server: ServerSpec,
    pub addr: SocketAddr,
    pub user: String,
    pub password: String,
    /// SHA-256 fingerprint of the SSH host key, as `ssh-keygen -l` prints it (`SHA256:...`).
    pub host_key_fingerprint: String,
}

pub struct IdracFleet {
    fleet: admin::Fleet,
    /// Ordered as the servers were given.
    order: Vec<String>,
    accept_tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl IdracFleet {
    pub async fn start(servers: Vec<ServerSpec>, faults: Faults) -> Result<Self, SimError> {
        let epoch = Instant::now();
        let mut fleet = BTreeMap::new();
        let mut order = Vec::new();
        let mut accept_tasks = Vec::new();
        for spec in servers {
            let what = format!("the iDRAC SSH port of {}", spec.name);
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
                .await
                .map_err(|source| SimError::Bind {
                    what: what.clone(),
                    source,
                })?;
            let addr = listener
                .local_addr()
                .map_err(|source| SimError::Bind { what, source })?;
            let name = spec.name.clone();
            if fleet.contains_key(&name) {
                return Err(SimError::Other(format!("server {name} is listed twice")));
            }
            let bmc = Arc::new(bmc::Bmc::new(spec, addr, faults.clone(), epoch));
            accept_tasks.push(tokio::spawn(ssh::serve(listener, bmc.clone())));
            tracing::debug!(server = %name, %addr, "iDRAC listening");
            order.push(name.clone());
            fleet.insert(name, bmc);
        }
        Ok(Self {
            fleet: Arc::new(fleet),
            order,
            accept_tasks,
        })
    }

    pub fn endpoints(&self) -> Vec<IdracEndpoint> {
        self.order
            .iter()
            .filter_map(|name| self.endpoint(name))
            .collect()
    }

    pub fn endpoint(&self, server: &str) -> Option<IdracEndpoint> {
        self.fleet.get(server).map(|bmc| bmc.endpoint())
    }

    /// Routes mounted under `/idrac` of the admin API.
    pub fn admin_routes(&self) -> axum::Router {
        admin::routes(self.fleet.clone())
    }

    pub fn state_json(&self) -> serde_json::Value {
        admin::snapshot(&self.fleet)
    }

    /// A snapshot function for the admin API's `/state`.
    pub fn state_json_fn(&self) -> impl Fn() -> serde_json::Value + Send + Sync + Clone + 'static {
        let fleet = self.fleet.clone();
        move || admin::snapshot(&fleet)
    }

    /// Every command the iDRAC of `server` has seen, passwords masked.
    pub fn command_log(&self, server: &str) -> Vec<CommandRecord> {
        self.fleet
            .get(server)
            .map(|bmc| bmc.state().log.clone())
            .unwrap_or_default()
    }

    /// The most commands that iDRAC ever ran at the same time.
    pub fn max_concurrent_commands(&self, server: &str) -> usize {
        self.fleet
            .get(server)
            .map(|bmc| bmc.state().max_in_flight)
            .unwrap_or(0)
    }

    /// Powers the server on or off behind the drivers' backs.
    pub fn set_power(&self, server: &str, on: bool) -> bool {
        self.fleet
            .get(server)
            .map(|bmc| bmc.set_power(on))
            .is_some()
    }

    /// Gives the iDRAC a new SSH host key; returns its fingerprint.
    pub fn rotate_host_key(&self, server: &str) -> Option<String> {
        self.fleet.get(server).map(|bmc| bmc.rotate_host_key())
    }

    /// How long `racadm racreset` keeps that iDRAC's SSH down.
    pub fn set_reset_duration(&self, server: &str, duration: Duration) -> bool {
        self.fleet
            .get(server)
            .map(|bmc| bmc.state().reset_duration = duration)
            .is_some()
    }
}

impl Drop for IdracFleet {
    fn drop(&mut self) {
        for task in &self.accept_tasks {
            task.abort();
        }
    }
}
