//! Changes behind the API's back, as an operator or a failure would make
//! them: shared by the admin routes and [`super::PveCluster`]'s methods.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::state::{FailNextTask, Privileges, Settings, Shared, Token};
use super::vm::Running;
use super::work;
use crate::events::VmEvent;

impl Shared {
    /// A VM made by hand on `node` (an operator's, not giif's); `false`
    /// when the id is taken or the node unknown.
    pub fn oob_create(&self, vmid: u32, node: &str, config: &Map<String, Value>) -> bool {
        let mut state = self.lock();
        if state.vms.contains_key(&vmid) || !state.nodes.iter().any(|n| n.name == node) {
            return false;
        }
        let config = config
            .iter()
            .map(|(key, value)| match value {
                Value::String(text) => (key.clone(), text.clone()),
                other => (key.clone(), other.to_string()),
            })
            .collect();
        state
            .vms
            .insert(vmid, super::vm::Vm::new(vmid, node, config));
        true
    }

    /// The VM disappears (announced as deleted).
    pub fn oob_delete(&self, vmid: u32) -> bool {
        let removed = self.lock().vms.remove(&vmid).is_some();
        if removed {
            self.emit(VmEvent::Deleted { vmid });
        }
        removed
    }

    /// The VM loses power (announced as stopped).
    pub fn oob_stop(&self, vmid: u32) -> bool {
        let found = match self.lock().vms.get_mut(&vmid) {
            Some(vm) => {
                vm.running = None;
                true
            }
            None => false,
        };
        if found {
            self.emit(VmEvent::Stopped { vmid });
        }
        found
    }

    /// The VM is powered on (announced as started).
    pub fn oob_start(&self, vmid: u32) -> bool {
        let event = {
            let mut state = self.lock();
            let pid = state.pid();
            let Some(vm) = state.vms.get_mut(&vmid) else {
                return false;
            };
            vm.apply_pending();
            vm.running = Some(Running::new(pid));
            VmEvent::Started {
                node: vm.node.clone(),
                vmid,
                template: vm.cloned_from,
                config: vm.merged(),
            }
        };
        self.emit(event);
        true
    }

    /// Edits the config file: `{"key": "value" | number | null}`.
    pub fn oob_edit(&self, vmid: u32, changes: &Map<String, Value>) -> Option<Value> {
        let mut state = self.lock();
        let vm = state.vms.get_mut(&vmid)?;
        for (key, value) in changes {
            match value {
                Value::Null => {
                    vm.config.remove(key);
                }
                Value::String(text) => {
                    vm.config.insert(key.clone(), text.clone());
                }
                other => {
                    vm.config.insert(key.clone(), other.to_string());
                }
            }
        }
        Some(json!({ "config": vm.config, "digest": vm.digest() }))
    }

    /// Sets or clears the `lock` property (`backup`, `migrate`, ...).
    pub fn oob_set_lock(&self, vmid: u32, lock: Option<&str>) -> bool {
        let mut state = self.lock();
        let Some(vm) = state.vms.get_mut(&vmid) else {
            return false;
        };
        match lock {
            Some(lock) => vm.config.insert("lock".into(), lock.to_string()),
            None => vm.config.remove("lock"),
        };
        true
    }

    pub fn fail_next_task(&self, failure: FailNextTask) {
        self.lock().fail_next_task.push(failure);
    }

    pub fn set_settings(&self, settings: Settings) {
        self.lock().settings = settings;
    }

    /// A new API token; `None` privileges means all. Returns its secret.
    pub fn add_token(&self, id: &str, privileges: Option<Vec<String>>) -> Option<String> {
        let valid = id
            .split_once('!')
            .is_some_and(|(user, name)| user.contains('@') && !name.is_empty());
        if !valid {
            return None;
        }
        let secret = work::uuid();
        let privileges = match privileges {
            None => Privileges::All,
            Some(list) => Privileges::Only(list.into_iter().collect::<BTreeSet<_>>()),
        };
        let mut state = self.lock();
        state.tokens.retain(|t| t.id != id);
        state.tokens.push(Token {
            id: id.to_string(),
            secret: secret.clone(),
            privileges,
        });
        Some(secret)
    }
}
