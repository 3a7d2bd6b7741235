//! Fake iDRACs: one SSH server per bare-metal server, speaking racadm.
//! (Placeholder interface; the racadm implementation replaces this.)

use std::net::SocketAddr;

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
    endpoints: Vec<IdracEndpoint>,
}

impl IdracFleet {
    pub async fn start(servers: Vec<ServerSpec>, faults: Faults) -> Result<Self, SimError> {
        let _ = (servers, faults);
        Ok(Self { endpoints: Vec::new() })
    }
    pub fn endpoints(&self) -> Vec<IdracEndpoint> {
        self.endpoints.clone()
    }
    /// Routes mounted under `/idrac` of the admin API.
    pub fn admin_routes(&self) -> axum::Router {
        axum::Router::new()
    }
    pub fn state_json(&self) -> serde_json::Value {
        serde_json::json!({})
    }
    /// A snapshot function for the admin API's `/state`.
    pub fn state_json_fn(&self) -> impl Fn() -> serde_json::Value + Send + Sync + Clone + 'static {
        || serde_json::json!({})
    }
}
