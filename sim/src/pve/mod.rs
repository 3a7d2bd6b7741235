//! A fake Proxmox VE cluster: the REST API under `/api2/json` over HTTPS on
//! loopback, with API-token authentication, PVE's envelopes, error shapes
//! and status codes, VM configs with `netN` property strings, worker tasks
//! with real-format UPIDs that progress over time, config locks, and fault
//! knobs (endpoint `pve`). VM starts, stops and deletions are announced on
//! the site's [`VmEvents`] channel.
//!
//! Deliberate differences from a real cluster, for tests' sake: the config
//! digest is 40 hex digits of SHA-256 (PVE: SHA-1); a writer waits 100 ms
//! for a VM's lock file (PVE: 10 s; see `PveCluster::set_lock_timing`); failed
//! logins are not delayed by 3 s; storages with the same name on several
//! nodes count as shared.

mod admin;
mod api;
mod flock;
mod http;
mod oob;
mod props;
mod qemu;
mod reply;
mod requestlog;
mod schema;
mod state;
mod tasks;
mod update;
mod vm;
mod work;

// The PAGW guests read their VM's config the way Proxmox wrote it.
pub(crate) use http::percent_decode;
pub(crate) use props::NetDevice;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

use crate::events::VmEvents;
use crate::faults::Faults;
use crate::site::{NodeSpec, ProxmoxSpec, TemplateSpec};
use crate::SimError;
use requestlog::RequestLog;
use state::{Privileges, Shared, State, Token};
use vm::Vm;

/// The token the simulated cluster issues at start (root's, privilege
/// separation off).
const TOKEN_ID: &str = "root@pam!giif";

pub struct PveCluster {
    shared: Arc<Shared>,
    api_url: String,
    token_secret: String,
    ca_pem: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for PveCluster {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl PveCluster {
    pub async fn start(
        spec: ProxmoxSpec,
        faults: Faults,
        events: VmEvents,
        request_log: Option<PathBuf>,
    ) -> Result<Self, SimError> {
        let certs =
            crate::tls::generate(&["localhost"]).map_err(|e| SimError::Tls(e.to_string()))?;
        let cert = CertificateDer::from_pem_slice(certs.server_cert_pem.as_bytes())
            .map_err(|e| SimError::Tls(format!("server certificate: {e}")))?;
        let key = PrivateKeyDer::from_pem_slice(certs.server_key_pem.as_bytes())
            .map_err(|e| SimError::Tls(format!("server key: {e}")))?;
        let fingerprint = colon_hex(&Sha256::digest(cert.as_ref()));
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| SimError::Tls(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .map_err(|e| SimError::Tls(e.to_string()))?;

        let token = Token {
            id: TOKEN_ID.to_string(),
            secret: work::uuid(),
            privileges: Privileges::All,
        };
        let token_secret = token.secret.clone();
        let iso_volumes = spec.iso_volumes.iter().cloned().collect();
        let mut state = State::new(spec.nodes.clone(), iso_volumes, token);
        for template in &spec.templates {
            let node = spec.nodes.iter().find(|n| n.name == template.node);
            if let Some(node) = node {
                state.vms.insert(
                    template.vmid,
                    Vm::new(template.vmid, &node.name, template_config(template, node)),
                );
            }
        }
        let request_log = request_log.as_deref().map(RequestLog::open).transpose()?;
        let shared = Arc::new(Shared::new(
            spec,
            faults,
            events,
            request_log,
            fingerprint,
            state,
        ));

        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|source| SimError::Bind {
                what: "the Proxmox VE API".into(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            what: "the Proxmox VE API".into(),
            source,
        })?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let server = tokio::spawn(http::serve(listener, acceptor, shared.clone()));
        tracing::info!(%addr, "fake Proxmox VE API listening");
        Ok(Self {
            shared,
            api_url: format!("https://{addr}"),
            token_secret,
            ca_pem: certs.ca_pem,
            server,
        })
    }

    /// `https://127.0.0.1:PORT` (the API is under `/api2/json`).
    pub fn api_url(&self) -> String {
        self.api_url.clone()
    }

    /// `USER@REALM!TOKENID`.
    pub fn token_id(&self) -> String {
        TOKEN_ID.to_string()
    }

    pub fn token_secret(&self) -> String {
        self.token_secret.clone()
    }

    /// The CA that signed the API's certificate.
    pub fn ca_pem(&self) -> String {
        self.ca_pem.clone()
    }

    /// SHA-256 fingerprint of the API's certificate, `AA:BB:...` (what
    /// `GET /nodes` reports as `ssl_fingerprint`).
    pub fn ssl_fingerprint(&self) -> String {
        self.shared.ssl_fingerprint.clone()
    }

    /// Makes the next task of `kind` (`qmclone`, `qmstart`, ...) fail with
    /// `message` as its exit status.
    pub fn fail_next_task(&self, kind: &str, message: &str) {
        self.shared.fail_next_task(state::FailNextTask {
            kind: kind.to_string(),
            message: message.to_string(),
        });
    }

    /// Deletes a VM behind the API's back; false if there was none.
    pub fn delete_vm(&self, vmid: u32) -> bool {
        self.shared.oob_delete(vmid)
    }

    /// Powers a VM off behind the API's back; false if there was none.
    pub fn stop_vm(&self, vmid: u32) -> bool {
        self.shared.oob_stop(vmid)
    }

    /// Sets (or clears) a VM's `lock` property; false if there was no VM.
    pub fn set_vm_lock(&self, vmid: u32, lock: Option<&str>) -> bool {
        self.shared.oob_set_lock(vmid, lock)
    }

    /// How long writers wait for a VM's lock file, and how long a hot-plug
    /// holds it (`None`: the task duration).
    pub fn set_lock_timing(&self, lock_wait_ms: u64, hotplug_ms: Option<u64>) {
        self.shared.set_settings(state::Settings {
            lock_wait_ms,
            hotplug_ms,
        });
    }

    /// Issues another API token (`user@realm!name`) with only the listed
    /// privileges (`None`: all); returns its secret.
    pub fn add_token(&self, id: &str, privileges: Option<Vec<String>>) -> Option<String> {
        self.shared.add_token(id, privileges)
    }

    /// Routes mounted under `/pve` of the admin API.
    pub fn admin_routes(&self) -> axum::Router {
        admin::routes(self.shared.clone())
    }

    pub fn state_json(&self) -> serde_json::Value {
        self.shared.state_json()
    }

    /// A snapshot function for the admin API's `/state`.
    pub fn state_json_fn(&self) -> impl Fn() -> serde_json::Value + Send + Sync + Clone + 'static {
        let shared = self.shared.clone();
        move || shared.state_json()
    }
}

/// A template as an installer leaves it: one disk on the node's first
/// storage, a cloud-init drive, one NIC on the VM bridge, `template: 1`.
fn template_config(template: &TemplateSpec, node: &NodeSpec) -> BTreeMap<String, String> {
    let storage = node
        .storage
        .first()
        .cloned()
        .unwrap_or_else(|| "local-lvm".into());
    let bridge = node
        .bridges
        .get(1)
        .or(node.bridges.first())
        .cloned()
        .unwrap_or_else(|| "vmbr0".into());
    let vmid = template.vmid;
    let pairs = [
        ("name", template.name.clone()),
        ("template", "1".into()),
        ("cores", "1".into()),
        ("sockets", "1".into()),
        ("memory", "1024".into()),
        ("ostype", "l26".into()),
        ("scsihw", "virtio-scsi-single".into()),
        (
            "scsi0",
            format!(
                "{storage}:base-{vmid}-disk-0,iothread=1,size={}G",
                template.disk_gb
            ),
        ),
        ("ide2", format!("{storage}:vm-{vmid}-cloudinit,media=cdrom")),
        (
            "net0",
            format!("virtio={},bridge={bridge}", props::random_mac()),
        ),
        ("boot", "order=scsi0;net0".into()),
        ("serial0", "socket".into()),
        ("smbios1", format!("uuid={}", work::uuid())),
        ("vmgenid", work::uuid()),
    ];
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}
