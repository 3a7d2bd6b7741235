//! What each kind of task does to the cluster when its time is up, and
//! which lock files it holds meanwhile. Errors are PVE's task error texts.

use std::collections::BTreeMap;

use super::flock::Mode;
use super::props::{self, Drive, NetDevice};
use super::state::{check_lock, State};
use super::update;
use super::vm::{Running, Vm};
use crate::events::VmEvent;

pub enum Work {
    Create {
        vmid: u32,
        config: BTreeMap<String, String>,
        start: bool,
    },
    Clone {
        node: String,
        source: u32,
        newid: u32,
        target: String,
        name: Option<String>,
        description: Option<String>,
        full: bool,
        storage: Option<String>,
    },
    Start {
        node: String,
        vmid: u32,
        skiplock: bool,
    },
    Stop {
        node: String,
        vmid: u32,
        skiplock: bool,
    },
    Destroy {
        node: String,
        vmid: u32,
        skiplock: bool,
    },
    Resize {
        node: String,
        vmid: u32,
        params: BTreeMap<String, String>,
    },
    Config {
        node: String,
        vmid: u32,
        params: BTreeMap<String, String>,
    },
}

/// A finished task's extra log lines and the events it announces.
#[derive(Default)]
pub struct Done {
    pub lines: Vec<String>,
    pub events: Vec<VmEvent>,
}

impl Work {
    /// Locks taken when the task starts (waiting like `lock_config`).
    pub fn locks(&self) -> Vec<(u32, Mode)> {
        match self {
            Work::Create { .. } => Vec::new(),
            // A stopped source is only read: a shared lock suffices.
            Work::Clone { source, .. } => vec![(*source, Mode::Shared)],
            Work::Start { vmid, .. }
            | Work::Stop { vmid, .. }
            | Work::Destroy { vmid, .. }
            | Work::Resize { vmid, .. }
            | Work::Config { vmid, .. } => vec![(*vmid, Mode::Exclusive)],
        }
    }

    /// The new VM whose lock the request already took.
    pub fn prelocked(&self) -> Option<u32> {
        match self {
            Work::Create { vmid, .. } => Some(*vmid),
            Work::Clone { newid, .. } => Some(*newid),
            _ => None,
        }
    }

    pub fn progress_line(&self) -> Option<String> {
        match self {
            Work::Clone { full: true, .. } => {
                Some("transferred 5.0 GiB of 10.0 GiB (50.00%)".into())
            }
            _ => None,
        }
    }

    /// A failed task leaves no half-made VM behind.
    pub fn undo(&self, state: &mut State) {
        if let Work::Create { vmid, .. } | Work::Clone { newid: vmid, .. } = self {
            state.vms.remove(vmid);
        }
    }

    pub fn apply(&self, state: &mut State) -> Result<Done, String> {
        match self {
            Work::Create {
                vmid,
                config,
                start,
            } => {
                let vm = state
                    .vms
                    .get_mut(vmid)
                    .ok_or_else(|| format!("unable to create VM {vmid} - gone"))?;
                vm.config = config.clone();
                let mut done = Done::default();
                for (key, value) in config.iter().filter(|(k, _)| props::is_drive_key(k)) {
                    if let Ok(drive) = Drive::parse(value) {
                        if !drive.is_cdrom() {
                            let volume = drive.file.split(':').nth(1).unwrap_or_default();
                            done.lines
                                .push(format!("  Logical volume \"{volume}\" created."));
                            done.lines
                                .push(format!("{key}: successfully created disk '{value}'"));
                        }
                    }
                }
                if *start {
                    let pid = state.pid();
                    if let Some(vm) = state.vms.get_mut(vmid) {
                        vm.running = Some(Running::new(pid));
                        done.lines.push("Execute autostart".into());
                        done.events.push(started(vm));
                    }
                }
                Ok(done)
            }
            Work::Clone {
                node,
                source,
                newid,
                target,
                name,
                description,
                full,
                storage,
            } => {
                let result = clone_config(
                    state,
                    node,
                    *source,
                    *newid,
                    name,
                    description,
                    *full,
                    storage.as_deref(),
                );
                match result {
                    Ok(config) => {
                        let vm = state
                            .vms
                            .get_mut(newid)
                            .ok_or_else(|| format!("clone failed: VM {newid} vanished"))?;
                        vm.config = config;
                        vm.node = target.clone();
                        vm.cloned_from = Some(*source);
                        Ok(Done::default())
                    }
                    Err(message) => {
                        state.vms.remove(newid);
                        Err(format!("clone failed: {message}"))
                    }
                }
            }
            Work::Start {
                node,
                vmid,
                skiplock,
            } => {
                let pid = state.pid();
                let bridges = state
                    .node(node)
                    .map(|n| n.bridges.clone())
                    .unwrap_or_default();
                let iso_volumes = state.iso_volumes.clone();
                let vm = state.load_mut(node, *vmid).map_err(|e| e.message)?;
                if !skiplock {
                    check_lock(vm).map_err(|e| e.message)?;
                }
                if vm.running.is_some() {
                    return Err(format!("VM {vmid} already running"));
                }
                if vm.is_template() {
                    return Err("you can't start a vm if it's a template".into());
                }
                vm.apply_pending();
                // PVE activates every volume before QEMU runs.
                if let Some(missing) = vm
                    .config
                    .iter()
                    .filter(|(k, _)| props::is_drive_key(k))
                    .filter_map(|(_, v)| Drive::parse(v).ok())
                    .find(|d| {
                        d.is_cdrom() && d.file.contains(":iso/") && !iso_volumes.contains(&d.file)
                    })
                {
                    return Err(format!("volume '{}' does not exist", missing.file));
                }
                for (key, value) in vm.config.iter().filter(|(k, _)| k.starts_with("net")) {
                    let Ok(net) = NetDevice::parse(value) else {
                        continue;
                    };
                    if let Some(bridge) = net.bridge().filter(|b| !bridges.iter().any(|x| x == b)) {
                        let index = &key[3..];
                        return Err(format!(
                            "bridge '{bridge}' does not exist\nkvm: -netdev type=tap,id={key},ifname=tap{vmid}i{index}: network script /usr/libexec/qemu-server/pve-bridge failed with status 512\nstart failed: QEMU exited with code 1"
                        ));
                    }
                }
                vm.running = Some(Running::new(pid));
                Ok(Done {
                    lines: Vec::new(),
                    events: vec![started(vm)],
                })
            }
            Work::Stop {
                node,
                vmid,
                skiplock,
            } => {
                let vm = state
                    .vms
                    .get_mut(vmid)
                    .filter(|vm| vm.node == *node)
                    .ok_or_else(|| {
                        format!("unable to find configuration file for VM {vmid} on node '{node}'")
                    })?;
                if vm.running.is_none() {
                    return Ok(Done::default());
                }
                if !skiplock {
                    check_lock(vm).map_err(|e| e.message)?;
                }
                vm.running = None;
                Ok(Done {
                    lines: Vec::new(),
                    events: vec![VmEvent::Stopped { vmid: *vmid }],
                })
            }
            Work::Destroy {
                node,
                vmid,
                skiplock,
            } => {
                let vm = state.load(node, *vmid).map_err(|e| e.message)?;
                if vm
                    .config
                    .get("protection")
                    .and_then(|v| props::parse_bool(v))
                    == Some(true)
                {
                    return Err(format!("can't remove VM {vmid} - protection mode enabled"));
                }
                if vm.running.is_some() {
                    return Err(format!("VM {vmid} is running - destroy failed"));
                }
                if !skiplock {
                    check_lock(vm).map_err(|e| e.message)?;
                }
                let lines = vm
                    .merged()
                    .iter()
                    .filter(|(k, _)| props::is_drive_key(k))
                    .filter_map(|(_, v)| Drive::parse(v).ok())
                    .filter(|d| !d.is_cdrom() || d.is_cloudinit())
                    .map(|d| {
                        let volume = d.file.split(':').nth(1).unwrap_or_default().to_string();
                        format!("  Logical volume \"{volume}\" successfully removed.")
                    })
                    .collect();
                state.vms.remove(vmid);
                Ok(Done {
                    lines,
                    events: vec![VmEvent::Deleted { vmid: *vmid }],
                })
            }
            Work::Resize { node, vmid, params } => resize(state, node, *vmid, params),
            Work::Config { node, vmid, params } => {
                let spec = state.check_node(node).map_err(|e| e.message)?.clone();
                let vm = state.load_mut(node, *vmid).map_err(|e| e.message)?;
                let applied = update::apply(vm, &spec, params).map_err(|e| {
                    let mut text = e.message;
                    for (param, error) in e.errors {
                        text.push_str(&format!("{param}: {error}\n"));
                    }
                    text
                })?;
                let events = if applied.hotplugged {
                    vec![VmEvent::Reconfigured {
                        vmid: *vmid,
                        config: vm.merged(),
                    }]
                } else {
                    Vec::new()
                };
                Ok(Done {
                    lines: vec![applied.summary],
                    events,
                })
            }
        }
    }
}

/// The announcement the PAGW fleet waits for.
fn started(vm: &Vm) -> VmEvent {
    VmEvent::Started {
        node: vm.node.clone(),
        vmid: vm.vmid,
        template: vm.cloned_from,
        config: vm.merged(),
    }
}

#[allow(clippy::too_many_arguments)]
fn clone_config(
    state: &State,
    node: &str,
    source: u32,
    newid: u32,
    name: &Option<String>,
    description: &Option<String>,
    full: bool,
    storage: Option<&str>,
) -> Result<BTreeMap<String, String>, String> {
    let old = state
        .load(node, source)
        .map_err(|e| e.message.trim_end().to_string())?;
    let mut new = BTreeMap::new();
    let mut disk_index = 0;
    for (opt, value) in &old.config {
        match opt.as_str() {
            "template" | "lock" | "parent" | "snaptime" | "vmstate" | "snapstate"
            | "runningcpu" | "runningmachine" => continue,
            o if o.starts_with("unused") => continue,
            o if o.starts_with("net") => {
                // A clone always gets new MACs.
                let mut net = NetDevice::parse(value).map_err(|(_, m)| m)?;
                net.macaddr = Some(props::random_mac());
                new.insert(opt.clone(), net.print());
            }
            o if props::is_drive_key(o) => {
                let mut drive = Drive::parse(value)?;
                let from = drive.storage().unwrap_or("local-lvm").to_string();
                if drive.is_cloudinit() {
                    drive.file = format!("{}:vm-{newid}-cloudinit", storage.unwrap_or(&from));
                } else if !drive.is_cdrom() {
                    let volume = drive.file.split(':').nth(1).unwrap_or_default().to_string();
                    drive.file = if full {
                        format!("{}:vm-{newid}-disk-{disk_index}", storage.unwrap_or(&from))
                    } else {
                        format!("{from}:{volume}/vm-{newid}-disk-{disk_index}")
                    };
                    disk_index += 1;
                }
                new.insert(opt.clone(), drive.print());
            }
            "smbios1" => {
                new.insert(opt.clone(), format!("uuid={}", uuid()));
            }
            "vmgenid" => {
                new.insert(opt.clone(), uuid());
            }
            _ => {
                new.insert(opt.clone(), value.clone());
            }
        }
    }
    let name = name.clone().unwrap_or_else(|| {
        format!(
            "Copy-of-VM-{}",
            old.config
                .get("name")
                .cloned()
                .unwrap_or(source.to_string())
        )
    });
    new.insert("name".into(), name);
    if let Some(description) = description {
        new.insert("description".into(), description.clone());
    }
    Ok(new)
}

fn resize(
    state: &mut State,
    node: &str,
    vmid: u32,
    params: &BTreeMap<String, String>,
) -> Result<Done, String> {
    let vm = state.load_mut(node, vmid).map_err(|e| e.message)?;
    if let Some(digest) = params.get("digest").filter(|d| !d.is_empty()) {
        if *digest != vm.digest() {
            return Err("checksum mismatch (file change by other user?)".into());
        }
    }
    if !update::skiplock(params) {
        check_lock(vm).map_err(|e| e.message)?;
    }
    let disk = params.get("disk").cloned().unwrap_or_default();
    let Some(value) = vm.config.get(&disk) else {
        return Err(format!("disk '{disk}' does not exist"));
    };
    let mut drive = Drive::parse(value)?;
    if drive.is_cdrom() {
        return Err("you can't resize a cdrom".into());
    }
    let size = drive.size_bytes().ok_or_else(|| {
        format!(
            "Could not determine current size of volume '{}'",
            drive.file
        )
    })?;
    let text = params.get("size").cloned().unwrap_or_default();
    let (relative, amount) = match text.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let amount = props::parse_size(amount).ok_or_else(|| "internal error".to_string())?;
    let new_size = if relative { size + amount } else { amount };
    if new_size < size {
        return Err("shrinking disks is not supported".into());
    }
    if new_size == size {
        return Ok(Done::default());
    }
    drive
        .options
        .insert("size".into(), props::format_size(new_size));
    vm.config.insert(disk.clone(), drive.print());
    Ok(Done {
        lines: vec![format!(
            "  Size of logical volume \"{}\" changed.",
            drive.file
        )],
        events: Vec::new(),
    })
}

/// A random RFC 4122 version 4 UUID, for `smbios1` and `vmgenid`.
pub fn uuid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
