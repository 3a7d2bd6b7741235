//! Fake PAGW guests: SSH endpoints that appear when gateway VMs start.
//! (Placeholder interface; the gateway implementation replaces this.)

use std::net::SocketAddr;

use crate::events::VmEvents;
use crate::faults::Faults;
use crate::site::SlotSpec;
use crate::SimError;

#[derive(Clone, Debug)]
pub struct PagwEndpoint {
    pub public_ip: String,
    /// Where the gateway's SSH server answers on loopback.
    pub addr: SocketAddr,
    pub user: String,
    pub password: String,
}

pub struct PagwFleet {
    endpoints: Vec<PagwEndpoint>,
}

impl PagwFleet {
    pub async fn start(
        slots: Vec<SlotSpec>,
        pagw_template: Option<u32>,
        faults: Faults,
        events: VmEvents,
    ) -> Result<Self, SimError> {
        let _ = (slots, pagw_template, faults, events);
        Ok(Self { endpoints: Vec::new() })
    }
    pub fn endpoints(&self) -> Vec<PagwEndpoint> {
        self.endpoints.clone()
    }
    /// Routes mounted under `/pagw` of the admin API.
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
