//! One simulated VM: its configuration file (current values plus the
//! `[PENDING]` section), power state, the `lock` property and the flock
//! (`/var/lock/qemu-server/lock-<vmid>.conf`) that tasks and config
//! writes hold.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::props::{self, Drive};

/// Config keys PVE returns as JSON numbers rather than strings.
const NUMERIC_KEYS: &[&str] = &[
    "cores",
    "sockets",
    "template",
    "onboot",
    "numa",
    "balloon",
    "protection",
    "kvm",
    "ciupgrade",
    "vcpus",
    "cpuunits",
];

#[derive(Clone, Debug)]
pub struct Running {
    pub since: Instant,
    pub pid: u32,
    /// The VNC password set through the monitor (its SHA-256), which QEMU
    /// forgets when the VM stops.
    pub vnc_password_sha256: Option<String>,
}

impl Running {
    pub fn new(pid: u32) -> Self {
        Self {
            since: Instant::now(),
            pid,
            vnc_password_sha256: None,
        }
    }
}

/// Who holds the VM's lock file: one writer, or any number of readers
/// (a clone holds its source shared).
#[derive(Clone, Debug, Default)]
pub struct Flock {
    pub exclusive: bool,
    pub shared: u32,
}

#[derive(Clone, Debug)]
pub struct Vm {
    pub vmid: u32,
    pub node: String,
    pub config: BTreeMap<String, String>,
    pub pending: BTreeMap<String, String>,
    pub pending_delete: BTreeSet<String>,
    pub running: Option<Running>,
    /// The template this VM was cloned from.
    pub cloned_from: Option<u32>,
    pub flock: Flock,
}

impl Vm {
    pub fn new(vmid: u32, node: &str, config: BTreeMap<String, String>) -> Self {
        Self {
            vmid,
            node: node.to_string(),
            config,
            pending: BTreeMap::new(),
            pending_delete: BTreeSet::new(),
            running: None,
            cloned_from: None,
            flock: Flock::default(),
        }
    }

    pub fn is_template(&self) -> bool {
        self.config
            .get("template")
            .and_then(|v| props::parse_bool(v))
            == Some(true)
    }

    pub fn lock(&self) -> Option<&str> {
        self.config.get("lock").map(String::as_str)
    }

    pub fn name(&self) -> String {
        self.config
            .get("name")
            .cloned()
            .unwrap_or_else(|| format!("VM {}", self.vmid))
    }

    /// The configuration with pending changes applied (what the next start
    /// will run, and what `GET config` shows by default).
    pub fn merged(&self) -> BTreeMap<String, String> {
        let mut merged = self.config.clone();
        for key in &self.pending_delete {
            merged.remove(key);
        }
        merged.extend(self.pending.clone());
        merged
    }

    /// Moves `[PENDING]` into the configuration (at start, or when stopped).
    pub fn apply_pending(&mut self) {
        self.config = self.merged();
        self.pending.clear();
        self.pending_delete.clear();
    }

    /// The config file's text, as PVE writes `<vmid>.conf`.
    pub fn file_text(&self) -> String {
        let mut text = String::new();
        for (k, v) in &self.config {
            text.push_str(&format!("{k}: {v}\n"));
        }
        if !self.pending.is_empty() || !self.pending_delete.is_empty() {
            text.push_str("\n[PENDING]\n");
            if !self.pending_delete.is_empty() {
                let list: Vec<&str> = self.pending_delete.iter().map(String::as_str).collect();
                text.push_str(&format!("delete: {}\n", list.join(",")));
            }
            for (k, v) in &self.pending {
                text.push_str(&format!("{k}: {v}\n"));
            }
        }
        text
    }

    /// The config digest (PVE uses 40 hex digits of SHA-1 over the file;
    /// the simulator takes 40 hex digits of SHA-256: same shape, same use).
    pub fn digest(&self) -> String {
        let hash = Sha256::digest(self.file_text().as_bytes());
        hex::encode(hash)[..40].to_string()
    }

    /// `GET .../config`: every key, numbers where PVE gives numbers, and the digest.
    pub fn config_json(&self, current: bool) -> Value {
        let config = if current {
            self.config.clone()
        } else {
            self.merged()
        };
        let mut out = Map::new();
        for (k, v) in config {
            out.insert(k.clone(), typed(&k, &v));
        }
        out.insert("digest".into(), json!(self.digest()));
        Value::Object(out)
    }

    pub fn uptime(&self) -> u64 {
        self.running
            .as_ref()
            .map(|r| r.since.elapsed().as_secs())
            .unwrap_or(0)
    }

    pub fn max_mem_bytes(&self) -> u64 {
        let memory = self
            .config
            .get("memory")
            .cloned()
            .unwrap_or_else(|| "512".into());
        let mb = memory
            .trim_start_matches("current=")
            .split(',')
            .next()
            .and_then(|m| m.parse::<u64>().ok())
            .unwrap_or(512);
        mb << 20
    }

    pub fn cpus(&self) -> u64 {
        let get = |k: &str| {
            self.config
                .get(k)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(1)
        };
        get("cores") * get("sockets")
    }

    /// The size of the boot disk (the first disk that is not a CD-ROM).
    pub fn max_disk_bytes(&self) -> u64 {
        self.config
            .iter()
            .filter(|(k, _)| props::is_drive_key(k))
            .filter_map(|(_, v)| Drive::parse(v).ok())
            .filter(|d| !d.is_cdrom())
            .find_map(|d| d.size_bytes())
            .unwrap_or(0)
    }

    pub fn status_word(&self) -> &'static str {
        if self.running.is_some() {
            "running"
        } else {
            "stopped"
        }
    }

    /// `GET .../status/current`.
    pub fn status_json(&self) -> Value {
        let mut status = json!({
            "vmid": self.vmid,
            "name": self.name(),
            "status": self.status_word(),
            "qmpstatus": self.status_word(),
            "uptime": self.uptime(),
            "cpus": self.cpus(),
            "cpu": if self.running.is_some() { 0.01 } else { 0.0 },
            "maxmem": self.max_mem_bytes(),
            "mem": if self.running.is_some() { self.max_mem_bytes() / 4 } else { 0 },
            "maxdisk": self.max_disk_bytes(),
            "disk": 0,
            "diskread": 0,
            "diskwrite": 0,
            "netin": 0,
            "netout": 0,
            "ha": { "managed": 0 },
        });
        if let Some(running) = &self.running {
            status["pid"] = json!(running.pid);
            status["running-qemu"] = json!("9.2.0");
            status["running-machine"] = json!("pc-i440fx-9.2+pve1");
        }
        if let Some(lock) = self.lock() {
            status["lock"] = json!(lock);
        }
        if self.is_template() {
            status["template"] = json!(1);
        }
        if let Some(tags) = self.config.get("tags") {
            status["tags"] = json!(tags);
        }
        status
    }

    /// One entry of `GET /nodes/{node}/qemu`.
    pub fn list_json(&self) -> Value {
        let mut entry = self.status_json();
        if let Some(obj) = entry.as_object_mut() {
            obj.remove("ha");
            obj.remove("qmpstatus");
            obj.remove("running-qemu");
            obj.remove("running-machine");
        }
        entry
    }
}

fn typed(key: &str, value: &str) -> Value {
    if NUMERIC_KEYS.contains(&key) {
        if let Ok(n) = value.parse::<i64>() {
            return json!(n);
        }
    }
    json!(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vm() -> Vm {
        let config = BTreeMap::from([
            ("name".to_string(), "web".to_string()),
            ("cores".to_string(), "2".to_string()),
            ("memory".to_string(), "2048".to_string()),
            (
                "scsi0".to_string(),
                "local-lvm:vm-101-disk-0,size=32G".to_string(),
            ),
        ]);
        Vm::new(101, "pve1", config)
    }

    #[test]
    fn pending_changes_show_by_default_and_change_the_digest() {
        let mut vm = vm();
        let before = vm.digest();
        vm.pending.insert("cores".into(), "4".into());
        assert_ne!(vm.digest(), before);
        assert_eq!(vm.config_json(false)["cores"], json!(4));
        assert_eq!(vm.config_json(true)["cores"], json!(2));
        vm.apply_pending();
        assert_eq!(vm.config["cores"], "4");
        assert_eq!(vm.digest().len(), 40);
    }

    #[test]
    fn status_reports_sizes_in_bytes() {
        let vm = vm();
        let status = vm.status_json();
        assert_eq!(status["status"], "stopped");
        assert_eq!(status["maxmem"], json!(2048u64 << 20));
        assert_eq!(status["maxdisk"], json!(32u64 << 30));
    }
}
