//! A fake Proxmox VE cluster: the REST API over HTTPS.
//! (Placeholder interface; the API implementation replaces this.)

use std::path::PathBuf;

use crate::events::VmEvents;
use crate::faults::Faults;
use crate::site::ProxmoxSpec;
use crate::SimError;

pub struct PveCluster {
    api_url: String,
}

impl PveCluster {
    pub async fn start(
        spec: ProxmoxSpec,
        faults: Faults,
        events: VmEvents,
        request_log: Option<PathBuf>,
    ) -> Result<Self, SimError> {
        let _ = (spec, faults, events, request_log);
        Ok(Self { api_url: String::new() })
    }
    /// `https://127.0.0.1:PORT` (the API is under `/api2/json`).
    pub fn api_url(&self) -> String {
        self.api_url.clone()
    }
    /// `USER@REALM!TOKENID`.
    pub fn token_id(&self) -> String {
        String::new()
    }
    pub fn token_secret(&self) -> String {
        String::new()
    }
    /// The CA that signed the API's certificate.
    pub fn ca_pem(&self) -> String {
        String::new()
    }
    /// Routes mounted under `/pve` of the admin API.
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
