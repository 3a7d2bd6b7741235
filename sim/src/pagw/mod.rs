//! Fake PAGW guests: one SSH endpoint per PAGW slot, on loopback. A slot's
//! gateway "boots" when a VM cloned from the PAGW template starts with the
//! slot's public IP in its cloud-init `ipconfig1`, and accepts the PAGW
//! driver's commands (`giif-pagw-apply`, `giif-pagw-show`; see
//! [`commands`]). Those are the gateway's own tools from giif-pagw, run
//! against an in-memory system ([`guest`]): the stored configuration and
//! the live state (links, br0, dnsmasq, nftables SNAT/DNAT, wg0, pptpd) stay
//! apart, so drift is visible, and the simulator plans exactly as a real
//! gateway does. Faults (`pagw:<public ip>`) apply per command; the
//! endpoint's `task_duration_ms` knob is the guest's boot time.

mod admin;
pub mod commands;
pub mod guest;
mod lifecycle;
mod slot;
mod ssh;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use crate::events::VmEvents;
use crate::faults::Faults;
use crate::site::SlotSpec;
use crate::SimError;
use slot::Slot;

#[derive(Clone, Debug)]
pub struct PagwEndpoint {
    pub public_ip: String,
    /// Where the gateway's SSH server answers on loopback.
    pub addr: SocketAddr,
    pub user: String,
    pub password: String,
    /// SHA-256 fingerprint of the SSH host key, as `ssh-keygen -l` prints it (`SHA256:...`).
    pub host_key_fingerprint: String,
    /// The agent's private key (OpenSSH) for the site file; the guest
    /// accepts it once cloud-init installs its public half.
    pub agent_key: String,
    /// The toolbox's private key (OpenSSH) for the site file.
    pub toolbox_key: String,
}

pub struct PagwFleet {
    slots: Arc<Vec<Arc<Slot>>>,
    faults: Faults,
}

/// A private key (OpenSSH format) for the site file: the agent's login
/// (`agent`) or the toolbox's (`toolbox`). Derived from the site's seed
/// when it has one (a site file written twice names the same keys).
fn login_key(purpose: &str) -> String {
    let seed = crate::identity::derive(&format!("pagw:{purpose}-key"));
    let key = russh::keys::PrivateKey::from(
        russh::keys::ssh_key::private::Ed25519Keypair::from_seed(&seed),
    );
    key.to_openssh(russh::keys::ssh_key::LineEnding::LF)
        .map(|text| text.to_string())
        .unwrap_or_default()
}

/// The admin user the PAGW template ships with.
const ADMIN_USER: &str = "giif";

impl PagwFleet {
    pub async fn start(
        slots: Vec<SlotSpec>,
        pagw_template: Option<u32>,
        faults: Faults,
        events: VmEvents,
    ) -> Result<Self, SimError> {
        // Subscribe first: a VM may start as soon as this returns.
        let receiver = events.subscribe();
        let (agent_key, toolbox_key) = (login_key("agent"), login_key("toolbox"));
        let mut started = Vec::new();
        for spec in slots {
            if spec.public_ip.parse::<Ipv4Addr>().is_err() {
                return Err(SimError::Other(format!(
                    "PAGW slot {:?} is not an IPv4 address",
                    spec.public_ip
                )));
            }
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
                .await
                .map_err(|source| SimError::Bind {
                    what: format!("the PAGW {} SSH endpoint", spec.public_ip),
                    source,
                })?;
            let addr = listener.local_addr().map_err(|source| SimError::Bind {
                what: format!("the PAGW {} SSH endpoint", spec.public_ip),
                source,
            })?;
            let (key, host_key_fingerprint) =
                ssh::host_key(&format!("pagw:{}:host-key", spec.public_ip));
            let endpoint = PagwEndpoint {
                public_ip: spec.public_ip.clone(),
                addr,
                user: ADMIN_USER.to_string(),
                password: crate::identity::password(&format!("pagw:{}:password", spec.public_ip)),
                host_key_fingerprint,
                agent_key: agent_key.clone(),
                toolbox_key: toolbox_key.clone(),
            };
            let slot = Arc::new(Slot::new(spec, endpoint));
            ssh::serve(
                listener,
                slot.clone(),
                ssh::server_config(key),
                faults.clone(),
            );
            started.push(slot);
        }
        let slots = Arc::new(started);
        lifecycle::spawn(slots.clone(), pagw_template, faults.clone(), receiver);
        Ok(Self { slots, faults })
    }

    pub fn endpoints(&self) -> Vec<PagwEndpoint> {
        self.slots
            .iter()
            .map(|slot| slot.endpoint.clone())
            .collect()
    }

    /// Routes mounted under `/pagw` of the admin API.
    pub fn admin_routes(&self) -> axum::Router {
        admin::routes(self.slots.clone(), self.faults.clone())
    }

    /// Serves only the `/pagw` admin routes on an ephemeral loopback port
    /// and returns their base URL (`http://127.0.0.1:PORT/pagw`), for tests
    /// that run the gateways without a whole site.
    pub async fn serve_admin(&self) -> Result<String, SimError> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|source| SimError::Bind {
                what: "the PAGW admin routes".into(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            what: "the PAGW admin routes".into(),
            source,
        })?;
        let router = axum::Router::new().nest("/pagw", self.admin_routes());
        tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, router).await {
                tracing::error!(error = %err, "the PAGW admin routes stopped");
            }
        });
        Ok(format!("http://{addr}/pagw"))
    }

    pub fn state_json(&self) -> serde_json::Value {
        admin::state(&self.slots)
    }

    /// A snapshot function for the admin API's `/state`.
    pub fn state_json_fn(&self) -> impl Fn() -> serde_json::Value + Send + Sync + Clone + 'static {
        let slots = self.slots.clone();
        move || admin::state(&slots)
    }
}
