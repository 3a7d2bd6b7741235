//! One PAGW slot: its fixed SSH endpoint, and the gateway VM that currently
//! claims the slot's public IP, if any.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use serde_json::json;
use tokio::sync::watch;

use super::guest::GuestVm;
use super::PagwEndpoint;
use crate::site::SlotSpec;

pub struct Slot {
    pub spec: SlotSpec,
    pub endpoint: PagwEndpoint,
    vm: Mutex<Option<GuestVm>>,
    /// Bumped when the VM stops, reboots or goes away: open SSH sessions
    /// end, as they would when the guest's sshd dies.
    power: watch::Sender<u64>,
    /// SSH connections the guest's sshd took (lets tests see reuse).
    connections: AtomicU64,
}

impl Slot {
    pub fn new(spec: SlotSpec, endpoint: PagwEndpoint) -> Self {
        Self {
            spec,
            endpoint,
            vm: Mutex::new(None),
            power: watch::channel(0).0,
            connections: AtomicU64::new(0),
        }
    }

    /// The fault-knob endpoint key.
    pub fn fault_key(&self) -> String {
        format!("pagw:{}", self.spec.public_ip)
    }

    /// The VM, locked; the lock is never held across an await.
    pub fn vm(&self) -> MutexGuard<'_, Option<GuestVm>> {
        // A panic elsewhere leaves plain data behind; keep serving it.
        self.vm
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn count_connection(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    pub fn cut_sessions(&self) {
        self.power.send_modify(|generation| *generation += 1);
    }

    pub fn power_changes(&self) -> watch::Receiver<u64> {
        self.power.subscribe()
    }

    /// The slot, and its gateway as `giif-pagw-show --json` reports it
    /// plus the VM's side (vmid, node, power, `netN`, cloud-init).
    pub fn state_json(&self) -> serde_json::Value {
        let mut vm = self.vm();
        let gateway = vm.as_mut().map(|vm| {
            let mut show = vm.show_json();
            if let Some(fields) = show.as_object_mut() {
                fields.insert("vmid".into(), json!(vm.vmid));
                fields.insert("node".into(), json!(vm.node));
                fields.insert("running".into(), json!(vm.running));
                fields.insert("boots".into(), json!(vm.boots));
                fields.insert("commands".into(), json!(vm.commands));
                fields.insert("net".into(), json!(vm.nets));
                fields.insert(
                    "cloud_init_wan".into(),
                    json!(vm.cloud_init.wan.to_string()),
                );
            }
            show
        });
        json!({
            "public_ip": self.spec.public_ip,
            "host": self.spec.host,
            "default_project": self.spec.default_project,
            "ssh": self.endpoint.addr.to_string(),
            "host_key_fingerprint": self.endpoint.host_key_fingerprint,
            "ssh_connections": self.connections.load(Ordering::Relaxed),
            "gateway": gateway,
        })
    }
}
