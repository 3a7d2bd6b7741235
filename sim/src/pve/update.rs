//! Writing VM options, as `PUT`/`POST /nodes/{node}/qemu/{vmid}/config`
//! and create do: MACs for new NICs, new disks allocated from
//! `STORAGE:SIZE`, `delete=` lists, the digest check, and what a running VM
//! takes at once (NICs and disks are hot-plugged; names and cloud-init
//! options are written directly) versus what waits in `[PENDING]` for the
//! next start (cores, memory, ...).

use std::collections::BTreeMap;

use super::props::{self, Drive, NetDevice};
use super::reply::ApiError;
use super::schema;
use super::state::check_lock;
use super::vm::Vm;
use crate::site::NodeSpec;

/// Options a running VM takes without a restart (PVE's "fast plug" set
/// plus the cloud-init options).
const FAST_PLUG: &[&str] = &[
    "name",
    "description",
    "onboot",
    "protection",
    "tags",
    "ciuser",
    "cipassword",
    "citype",
    "ciupgrade",
    "sshkeys",
    "searchdomain",
    "nameserver",
];

/// Parameters that steer the update rather than being options.
const CONTROL: &[&str] = &[
    "delete",
    "revert",
    "digest",
    "skiplock",
    "force",
    "background_delay",
];

#[derive(Debug, Default)]
pub struct Applied {
    /// A device was plugged into or out of a running VM.
    pub hotplugged: bool,
    /// What the task log says (`update VM 101: -net1 ...`).
    pub summary: String,
}

/// The checks PVE runs before it takes the lock and again under it.
pub fn precheck(vm: &Vm, params: &BTreeMap<String, String>) -> Result<(), ApiError> {
    if let Some(digest) = params.get("digest").filter(|d| !d.is_empty()) {
        if *digest != vm.digest() {
            return Err(ApiError::die(
                "checksum mismatch (file change by other user?)",
            ));
        }
    }
    if !skiplock(params) {
        check_lock(vm)?;
    }
    Ok(())
}

pub fn skiplock(params: &BTreeMap<String, String>) -> bool {
    params.get("skiplock").and_then(|v| props::parse_bool(v)) == Some(true)
}

/// Parameter checks that need no VM: option combinations.
pub fn check_request(params: &BTreeMap<String, String>) -> Result<(), ApiError> {
    let deletes = list(params.get("delete"));
    let reverts = list(params.get("revert"));
    let options = params
        .keys()
        .filter(|k| !CONTROL.contains(&k.as_str()))
        .count();
    if deletes.is_empty() && reverts.is_empty() && options == 0 {
        return Err(ApiError::die("no options specified"));
    }
    for opt in &reverts {
        if !option_exists(opt) {
            return Err(ApiError::param("revert", format!("unknown option '{opt}'")));
        }
        if params.contains_key(opt) {
            return Err(ApiError::param(
                "delete",
                format!("you can't use '-{opt}' and -revert {opt}' at the same time"),
            ));
        }
    }
    for opt in &deletes {
        if params.contains_key(opt) {
            return Err(ApiError::param(
                "delete",
                format!("you can't use '-{opt}' and -delete {opt}' at the same time"),
            ));
        }
        if reverts.contains(opt) {
            return Err(ApiError::param(
                "revert",
                format!("you can't use '-delete {opt}' and -revert {opt}' at the same time"),
            ));
        }
        if !option_exists(opt) {
            return Err(ApiError::param("delete", format!("unknown option '{opt}'")));
        }
    }
    Ok(())
}

fn option_exists(opt: &str) -> bool {
    if opt == "lock"
        || opt
            .strip_prefix("unused")
            .is_some_and(|n| n.parse::<u32>().is_ok())
    {
        return true;
    }
    let probe = BTreeMap::from([(opt.to_string(), String::new())]);
    // Unknown names are the only errors an empty value cannot cause alone.
    match schema::verify(&probe, &schema::config_update(false)) {
        Ok(()) => true,
        Err(err) => !err
            .errors
            .get(opt)
            .is_some_and(|e| e.starts_with("property is not defined")),
    }
}

fn list(value: Option<&String>) -> Vec<String> {
    value
        .map(|v| {
            v.split([',', ';', ' '])
                .filter(|s| !s.is_empty())
                .map(|s| {
                    if s == "cdrom" {
                        "ide2".to_string()
                    } else {
                        s.to_string()
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

fn hotplug_features(vm: &Vm) -> Vec<String> {
    let value = vm
        .merged()
        .get("hotplug")
        .cloned()
        .unwrap_or_else(|| "network,disk,usb".into());
    match value.as_str() {
        "1" => vec!["network".into(), "disk".into(), "usb".into()],
        "0" => Vec::new(),
        other => other.split(',').map(str::to_string).collect(),
    }
}

/// Applies an update to `vm` (its lock already held). Checks run again
/// here because the config may have changed while waiting for the lock.
pub fn apply(
    vm: &mut Vm,
    node: &NodeSpec,
    params: &BTreeMap<String, String>,
) -> Result<Applied, ApiError> {
    precheck(vm, params)?;
    let running = vm.running.is_some();
    let features = hotplug_features(vm);
    let takes_now = |opt: &str| {
        !running
            || FAST_PLUG.contains(&opt)
            || opt.starts_with("ipconfig")
            || (opt.starts_with("net") && features.iter().any(|f| f == "network"))
            || (props::is_drive_key(opt) && features.iter().any(|f| f == "disk"))
    };
    let mut applied = Applied::default();
    let mut summary = Vec::new();

    for opt in list(params.get("revert")) {
        vm.pending.remove(&opt);
        vm.pending_delete.remove(&opt);
        summary.push(format!("-revert {opt}"));
    }
    for opt in list(params.get("delete")) {
        summary.push(format!("-delete {opt}"));
        let present = vm.config.contains_key(&opt) || vm.pending.contains_key(&opt);
        if !present {
            continue;
        }
        vm.pending.remove(&opt);
        if takes_now(&opt) {
            vm.config.remove(&opt);
            vm.pending_delete.remove(&opt);
            applied.hotplugged |= running && (opt.starts_with("net") || props::is_drive_key(&opt));
        } else if vm.config.contains_key(&opt) {
            vm.pending_delete.insert(opt);
        }
    }
    for (opt, raw) in params
        .iter()
        .filter(|(k, _)| !CONTROL.contains(&k.as_str()))
    {
        let value = normalize(vm, node, opt, raw)?;
        summary.push(format!("-{opt} {value}"));
        vm.pending_delete.remove(opt);
        if takes_now(opt) {
            vm.pending.remove(opt);
            applied.hotplugged |= running && (opt.starts_with("net") || props::is_drive_key(opt));
            vm.config.insert(opt.clone(), value);
        } else if vm.config.get(opt) == Some(&value) {
            vm.pending.remove(opt);
        } else {
            vm.pending.insert(opt.clone(), value);
        }
    }
    if !running {
        // A stopped VM takes everything, earlier pending changes included.
        vm.apply_pending();
    }
    applied.summary = format!("update VM {}: {}", vm.vmid, summary.join(" "));
    Ok(applied)
}

/// The value PVE stores for an option: NICs get a MAC, new disks a volume.
pub fn normalize(vm: &Vm, node: &NodeSpec, opt: &str, value: &str) -> Result<String, ApiError> {
    if opt.starts_with("net") && opt[3..].parse::<u32>().is_ok() {
        let mut net = NetDevice::parse(value).map_err(|(_, m)| ApiError::param(opt, m))?;
        if net.macaddr.is_none() {
            net.macaddr = Some(props::random_mac());
        }
        return Ok(net.print());
    }
    if props::is_drive_key(opt) {
        return allocate_drive(vm, node, value);
    }
    Ok(value.to_string())
}

/// `STORAGE:SIZE` allocates a new volume, `STORAGE:cloudinit` a cloud-init
/// drive; anything else names an existing volume and is kept.
pub fn allocate_drive(vm: &Vm, node: &NodeSpec, value: &str) -> Result<String, ApiError> {
    let mut drive = Drive::parse(value).map_err(ApiError::die)?;
    let Some((storage, volume)) = drive
        .file
        .split_once(':')
        .map(|(s, v)| (s.to_string(), v.to_string()))
    else {
        return Ok(drive.print());
    };
    let new_size = volume.parse::<f64>().ok().filter(|_| !volume.is_empty());
    if new_size.is_none() && volume != "cloudinit" {
        return Ok(drive.print());
    }
    if !node.storage.contains(&storage) {
        return Err(ApiError::die(format!("storage '{storage}' does not exist")));
    }
    if volume == "cloudinit" {
        drive.file = format!("{storage}:vm-{}-cloudinit", vm.vmid);
        drive.options.insert("media".into(), "cdrom".into());
        return Ok(drive.print());
    }
    let gib = new_size.unwrap_or(0.0);
    let bytes = (gib * (1u64 << 30) as f64) as u64;
    drive.file = format!("{storage}:vm-{}-disk-{}", vm.vmid, next_disk_index(vm));
    drive
        .options
        .insert("size".into(), props::format_size(bytes));
    Ok(drive.print())
}

fn next_disk_index(vm: &Vm) -> u32 {
    let marker = format!("vm-{}-disk-", vm.vmid);
    vm.merged()
        .values()
        .filter_map(|v| {
            let at = v.find(&marker)? + marker.len();
            let digits: String = v[at..].chars().take_while(|c| c.is_ascii_digit()).collect();
            digits.parse::<u32>().ok()
        })
        .max()
        .map(|n| n + 1)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pve::vm::Running;

    fn node() -> NodeSpec {
        NodeSpec {
            name: "pve1".into(),
            storage: vec!["local-lvm".into()],
            bridges: vec!["vmbr0".into(), "vmbr1".into()],
            cores: 8,
            memory_mb: 16384,
        }
    }

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn vm() -> Vm {
        Vm::new(
            101,
            "pve1",
            params(&[
                ("cores", "1"),
                ("net0", "virtio=BC:24:11:00:00:01,bridge=vmbr1"),
            ]),
        )
    }

    #[test]
    fn a_stopped_vm_takes_everything_at_once() {
        let mut vm = vm();
        let p = params(&[
            ("cores", "4"),
            ("net1", "virtio,bridge=vmbr1,tag=13"),
            ("scsi0", "local-lvm:8"),
        ]);
        let applied = apply(&mut vm, &node(), &p).unwrap();
        assert!(!applied.hotplugged);
        assert_eq!(vm.config["cores"], "4");
        assert!(vm.config["net1"].starts_with("virtio=BC:24:11:"));
        assert!(vm.config["net1"].ends_with(",bridge=vmbr1,tag=13"));
        assert_eq!(vm.config["scsi0"], "local-lvm:vm-101-disk-0,size=8G");
    }

    #[test]
    fn a_running_vm_hotplugs_nics_and_defers_cores() {
        let mut vm = vm();
        vm.running = Some(Running::new(1));
        let p = params(&[
            ("cores", "4"),
            ("net1", "virtio,bridge=vmbr1,tag=13"),
            ("delete", "net0"),
        ]);
        let applied = apply(&mut vm, &node(), &p).unwrap();
        assert!(applied.hotplugged);
        assert_eq!(vm.config["cores"], "1");
        assert_eq!(vm.pending["cores"], "4");
        assert!(vm.config.contains_key("net1") && !vm.config.contains_key("net0"));
    }

    #[test]
    fn digest_and_lock_are_checked() {
        let mut vm = vm();
        let stale = params(&[("cores", "2"), ("digest", "0000")]);
        assert_eq!(
            apply(&mut vm, &node(), &stale).unwrap_err().message,
            "checksum mismatch (file change by other user?)\n"
        );
        vm.config.insert("lock".into(), "clone".into());
        let p = params(&[("cores", "2")]);
        assert_eq!(
            apply(&mut vm, &node(), &p).unwrap_err().message,
            "VM is locked (clone)\n"
        );
    }

    #[test]
    fn conflicting_and_empty_requests_are_refused() {
        assert_eq!(
            check_request(&params(&[])).unwrap_err().message,
            "no options specified\n"
        );
        let both = params(&[("net1", "virtio"), ("delete", "net1")]);
        assert!(check_request(&both).unwrap_err().errors["delete"].contains("at the same time"));
        let unknown = params(&[("delete", "colour")]);
        assert_eq!(
            check_request(&unknown).unwrap_err().errors["delete"],
            "unknown option 'colour'"
        );
        assert_eq!(
            check_request(&params(&[("delete", "net3,ipconfig3")])),
            Ok(())
        );
    }
}
