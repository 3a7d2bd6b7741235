//! One fake iDRAC: who it is, how to reach it, and its state behind a lock
//! (never held across an await).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock};
use std::time::Instant;

use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::{HashAlg, PrivateKey};

use super::device::{CommandRecord, DeviceState, Power, LOG_LIMIT};
use super::IdracEndpoint;
use crate::faults::Faults;
use crate::site::ServerSpec;

pub(crate) struct Bmc {
    pub spec: ServerSpec,
    pub addr: SocketAddr,
    pub user: String,
    pub password: String,
    pub faults: Faults,
    /// The origin of the command log's timestamps.
    pub epoch: Instant,
    state: Mutex<DeviceState>,
    host_key: RwLock<PrivateKey>,
    /// Open SSH connections, so a reset can end them.
    sessions: Mutex<HashMap<u64, russh::server::Handle>>,
    next_session: AtomicU64,
}

/// An ed25519 host key for `purpose` and its `SHA256:...` fingerprint.
fn new_host_key(purpose: &str) -> (PrivateKey, String) {
    let seed = crate::identity::derive(purpose);
    let key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
    let fingerprint = key.public_key().fingerprint(HashAlg::Sha256).to_string();
    (key, fingerprint)
}

impl Bmc {
    pub fn new(spec: ServerSpec, addr: SocketAddr, faults: Faults, epoch: Instant) -> Self {
        let (key, fingerprint) = new_host_key(&format!("idrac:{}:host-key", spec.name));
        // A password per server, as an operator would set.
        let password = crate::identity::password(&format!("idrac:{}:password", spec.name));
        Self {
            spec,
            addr,
            user: "root".to_string(),
            password,
            faults,
            epoch,
            state: Mutex::new(DeviceState::new(fingerprint)),
            host_key: RwLock::new(key),
            sessions: Mutex::new(HashMap::new()),
            next_session: AtomicU64::new(1),
        }
    }

    pub fn fault_key(&self) -> String {
        format!("idrac:{}", self.spec.name)
    }

    pub fn state(&self) -> MutexGuard<'_, DeviceState> {
        // A panic elsewhere must not take the device down with it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn host_key(&self) -> PrivateKey {
        self.host_key
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the host key (as a board swap or a factory reset would) and
    /// returns the new fingerprint. Open connections keep the old key.
    pub fn rotate_host_key(&self) -> String {
        // A rotated key is new by definition: never derived.
        let (key, fingerprint) = new_host_key(&format!(
            "rotated:{}",
            hex::encode(rand::random::<[u8; 16]>())
        ));
        *self.host_key.write().unwrap_or_else(|p| p.into_inner()) = key;
        self.state().host_key_fingerprint = fingerprint.clone();
        fingerprint
    }

    pub fn endpoint(&self) -> IdracEndpoint {
        IdracEndpoint {
            server: self.spec.clone(),
            addr: self.addr,
            user: self.user.clone(),
            password: self.password.clone(),
            host_key_fingerprint: self.state().host_key_fingerprint.clone(),
        }
    }

    /// Out-of-band power change (the button, or someone else's tool).
    pub fn set_power(&self, on: bool) {
        let mut state = self.state();
        match (on, state.power) {
            (true, Power::Off) => state.power_on(),
            (false, Power::On) => state.power = Power::Off,
            _ => {}
        }
    }

    pub fn micros(&self, at: Instant) -> u64 {
        at.duration_since(self.epoch).as_micros() as u64
    }

    /// Logs a command's start; returns its sequence number.
    pub fn begin_command(&self, session: u64, line: String) -> u64 {
        let start_us = self.micros(Instant::now());
        let mut state = self.state();
        state.in_flight += 1;
        state.max_in_flight = state.max_in_flight.max(state.in_flight);
        state.last_seq += 1;
        let seq = state.last_seq;
        if state.log.len() >= LOG_LIMIT {
            state.log.drain(..LOG_LIMIT / 10);
        }
        state.log.push(CommandRecord {
            seq,
            session,
            line,
            start_us,
            end_us: None,
            exit_status: None,
            outcome: "running".to_string(),
        });
        seq
    }

    /// Logs a command's end. Called before the answer goes out, so a client
    /// that waits for answers can never see its next command logged earlier.
    pub fn end_command(&self, seq: u64, exit_status: Option<u32>, outcome: &str) {
        let end_us = self.micros(Instant::now());
        let mut state = self.state();
        state.in_flight = state.in_flight.saturating_sub(1);
        if let Some(record) = state.log.iter_mut().rev().find(|r| r.seq == seq) {
            record.end_us = Some(end_us);
            record.exit_status = exit_status;
            record.outcome = outcome.to_string();
        }
    }

    pub fn new_session_id(&self) -> u64 {
        self.next_session.fetch_add(1, Ordering::Relaxed)
    }

    pub fn register_session(&self, id: u64, handle: russh::server::Handle) {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, handle);
        self.state().sessions_open += 1;
    }

    pub fn unregister_session(&self, id: u64) {
        if self
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id)
            .is_some()
        {
            let mut state = self.state();
            state.sessions_open = state.sessions_open.saturating_sub(1);
        }
    }

    /// Ends one SSH connection without a word (an injected drop).
    pub async fn drop_session(&self, id: u64) {
        let handle = self
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        if let Some(handle) = handle {
            {
                let mut state = self.state();
                state.sessions_open = state.sessions_open.saturating_sub(1);
            }
            let _ = handle
                .disconnect(
                    russh::Disconnect::ByApplication,
                    String::new(),
                    String::new(),
                )
                .await;
        }
    }

    /// Ends every open SSH connection, as a reset of the iDRAC does.
    pub async fn drop_sessions(&self, reason: &str) {
        let handles: Vec<russh::server::Handle> = self
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .map(|(_, h)| h)
            .collect();
        {
            let mut state = self.state();
            state.sessions_open = state.sessions_open.saturating_sub(handles.len());
        }
        for handle in handles {
            let _ = handle
                .disconnect(
                    russh::Disconnect::ByApplication,
                    reason.to_string(),
                    String::new(),
                )
                .await;
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        let now = Instant::now();
        let mut json = self.state().snapshot(now, self.epoch);
        if let Some(map) = json.as_object_mut() {
            map.insert("name".into(), self.spec.name.clone().into());
            map.insert("service_tag".into(), self.spec.service_tag.clone().into());
            map.insert("model".into(), self.spec.model.clone().into());
            map.insert("vlan".into(), self.spec.vlan.into());
            map.insert("macs".into(), self.spec.macs.clone().into());
            map.insert("address".into(), self.addr.to_string().into());
            map.insert("user".into(), self.user.clone().into());
        }
        json
    }
}
