//! The cluster's state: nodes, VMs, tasks, API tokens and the knobs tests
//! turn through the admin API. One mutex guards it; nobody awaits while
//! holding it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::reply::ApiError;
use super::requestlog::RequestLog;
use super::tasks::Task;
use super::vm::Vm;
use crate::events::{VmEvent, VmEvents};
use crate::faults::Faults;
use crate::site::{NodeSpec, ProxmoxSpec};

/// What a token may do: everything (root's own token, privilege separation
/// off), or the listed privileges (`VM.Audit`, `VM.Config.Network`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Privileges {
    All,
    Only(BTreeSet<String>),
}

#[derive(Clone, Debug)]
pub struct Token {
    /// `user@realm!name`.
    pub id: String,
    pub secret: String,
    pub privileges: Privileges,
}

impl Token {
    pub fn may(&self, privilege: &str) -> bool {
        match &self.privileges {
            Privileges::All => true,
            Privileges::Only(set) => set.contains(privilege),
        }
    }
}

/// Timing of locks. PVE waits up to 10 s for a VM's lock file; the
/// simulator waits much less by default so that lock contention between
/// concurrent writers shows up in tests instead of being waited out.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub lock_wait_ms: u64,
    /// How long a hot-plug into a running VM holds the lock; default: the
    /// task duration.
    pub hotplug_ms: Option<u64>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            lock_wait_ms: 100,
            hotplug_ms: None,
        }
    }
}

/// "Make the next task of this type fail with this message."
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailNextTask {
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
}

pub struct State {
    pub nodes: Vec<NodeSpec>,
    /// The ISO volumes the cluster's storage holds; a VM whose CD drive
    /// names another does not start.
    pub iso_volumes: BTreeSet<String>,
    pub vms: BTreeMap<u32, Vm>,
    pub tasks: Vec<Task>,
    pub tokens: Vec<Token>,
    pub fail_next_task: Vec<FailNextTask>,
    pub settings: Settings,
    /// How often a writer gave up waiting for a VM's lock file.
    pub lock_timeouts: u64,
    next_pid: u32,
}

impl State {
    pub fn new(nodes: Vec<NodeSpec>, iso_volumes: BTreeSet<String>, token: Token) -> Self {
        Self {
            nodes,
            iso_volumes,
            vms: BTreeMap::new(),
            tasks: Vec::new(),
            tokens: vec![token],
            fail_next_task: Vec::new(),
            settings: Settings::default(),
            lock_timeouts: 0,
            next_pid: 4000 + rand::random::<u16>() as u32,
        }
    }

    pub fn node(&self, name: &str) -> Option<&NodeSpec> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// `PVE::Cluster::check_node_exists`.
    pub fn check_node(&self, name: &str) -> Result<&NodeSpec, ApiError> {
        self.node(name)
            .ok_or_else(|| ApiError::die(format!("no such cluster node '{name}'")))
    }

    pub fn pid(&mut self) -> u32 {
        self.next_pid += 1 + rand::random::<u8>() as u32 % 7;
        self.next_pid
    }

    /// `PVE::QemuConfig->load_config($vmid)` on `node`.
    pub fn load(&self, node: &str, vmid: u32) -> Result<&Vm, ApiError> {
        self.vms
            .get(&vmid)
            .filter(|vm| vm.node == node)
            .ok_or_else(|| config_missing(node, vmid))
    }

    pub fn load_mut(&mut self, node: &str, vmid: u32) -> Result<&mut Vm, ApiError> {
        self.vms
            .get_mut(&vmid)
            .filter(|vm| vm.node == node)
            .ok_or_else(|| config_missing(node, vmid))
    }

    /// Takes the injected failure for the next task of `kind`, if any.
    pub fn take_task_failure(&mut self, kind: &str) -> Option<String> {
        let index = self.fail_next_task.iter().position(|f| f.kind == kind)?;
        Some(self.fail_next_task.remove(index).message)
    }

    pub fn task(&self, upid: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.upid == upid)
    }

    pub fn task_mut(&mut self, upid: &str) -> Option<&mut Task> {
        self.tasks.iter_mut().find(|t| t.upid == upid)
    }
}

/// `load_config`'s error: the file is looked up on the node in the path.
pub fn config_missing(node: &str, vmid: u32) -> ApiError {
    ApiError::die(format!(
        "Configuration file 'nodes/{node}/qemu-server/{vmid}.conf' does not exist"
    ))
}

/// `check_lock`: a `lock` property refuses changes.
pub fn check_lock(vm: &Vm) -> Result<(), ApiError> {
    match vm.lock() {
        Some(lock) => Err(ApiError::die(format!("VM is locked ({lock})"))),
        None => Ok(()),
    }
}

/// Everything the running cluster shares between connections and tasks.
pub struct Shared {
    pub spec: ProxmoxSpec,
    pub faults: Faults,
    pub events: VmEvents,
    pub request_log: Option<RequestLog>,
    /// SHA-256 of the API certificate, `AA:BB:...`, as `GET /nodes` shows it.
    pub ssl_fingerprint: String,
    pub started: Instant,
    state: Mutex<State>,
}

impl Shared {
    pub fn new(
        spec: ProxmoxSpec,
        faults: Faults,
        events: VmEvents,
        request_log: Option<RequestLog>,
        ssl_fingerprint: String,
        state: State,
    ) -> Self {
        Self {
            spec,
            faults,
            events,
            request_log,
            ssl_fingerprint,
            started: Instant::now(),
            state: Mutex::new(state),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn task_duration(&self) -> Duration {
        self.faults
            .task_duration("pve", Duration::from_millis(self.spec.task_duration_ms))
    }

    pub fn hotplug_duration(&self) -> Duration {
        let configured = self.lock().settings.hotplug_ms;
        configured
            .map(Duration::from_millis)
            .unwrap_or_else(|| self.task_duration())
    }

    pub fn emit(&self, event: VmEvent) {
        // Nobody listening is fine: the PAGW fleet may not subscribe.
        let _ = self.events.send(event);
    }

    /// The admin API's view: nodes, VMs (config, pending, status), tasks.
    pub fn state_json(&self) -> Value {
        let state = self.lock();
        let nodes: Vec<Value> = state
            .nodes
            .iter()
            .map(|n| {
                json!({
                    "node": n.name,
                    "storage": n.storage,
                    "bridges": n.bridges,
                    "cores": n.cores,
                    "memory_mb": n.memory_mb,
                })
            })
            .collect();
        let vms: Vec<Value> = state
            .vms
            .values()
            .map(|vm| {
                json!({
                    "vmid": vm.vmid,
                    "node": vm.node,
                    "name": vm.name(),
                    "status": vm.status_word(),
                    "uptime": vm.uptime(),
                    "template": vm.is_template(),
                    "cloned_from": vm.cloned_from,
                    "lock": vm.lock(),
                    "config": vm.config,
                    "pending": vm.pending,
                    "pending_delete": vm.pending_delete,
                    "digest": vm.digest(),
                    "vnc_password_sha256": vm.running.as_ref().and_then(|r| r.vnc_password_sha256.clone()),
                })
            })
            .collect();
        let tasks: Vec<Value> = state.tasks.iter().map(Task::admin_json).collect();
        json!({
            "nodes": nodes,
            "vms": vms,
            "tasks": tasks,
            "tokens": state.tokens.iter().map(|t| t.id.clone()).collect::<Vec<_>>(),
            "settings": state.settings,
            "fail_next_task": state.fail_next_task,
            "lock_timeouts": state.lock_timeouts,
        })
    }
}
