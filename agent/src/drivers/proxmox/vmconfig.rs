//! Translating between PVE's VM configuration (keys such as `net0` with
//! property strings `virtio=BC:24:11:..,bridge=vmbr1,tag=13`, `ipconfig0`,
//! `sshkeys` percent-encoded, `scsi0` with `size=32G`) and the typed values
//! of [`crate::drivers::hypervisor`].

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::drivers::hypervisor::{
    CloudInit, Disk, IpConfig, MacAddr, Nic, NicModel, PowerState, VmRef, VmState, VmSummary,
    VncListen,
};

/// The NIC models PVE accepts as `model=MAC` keys.
const NIC_MODELS: &[&str] = &[
    "e1000",
    "e1000-82540em",
    "e1000-82544gc",
    "e1000-82545em",
    "e1000e",
    "i82551",
    "i82557b",
    "i82559er",
    "ne2k_isa",
    "ne2k_pci",
    "pcnet",
    "rtl8139",
    "virtio",
    "vmxnet3",
];

/// A config value as text, whether PVE sent a string or a number.
pub fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_string()),
        _ => None,
    }
}

fn pairs(value: &str) -> Vec<(&str, &str)> {
    value
        .split(',')
        .filter(|item| !item.is_empty())
        .map(|item| item.split_once('=').unwrap_or(("", item)))
        .collect()
}

/// `virtio=BC:24:11:AA:BB:CC,bridge=vmbr1,firewall=1,tag=13`.
pub fn parse_nic(value: &str) -> Option<Nic> {
    let mut model = None;
    let mut mac = None;
    let mut bridge = String::new();
    let mut vlan = None;
    let mut firewall = false;
    for (key, val) in pairs(value) {
        match key {
            "" | "model" => model = Some(val.to_string()),
            "macaddr" => mac = val.parse().ok(),
            "bridge" => bridge = val.to_string(),
            "tag" => vlan = val.parse().ok(),
            "firewall" => firewall = val == "1",
            k if NIC_MODELS.contains(&k) => {
                model = Some(k.to_string());
                mac = val.parse().ok();
            }
            _ => {}
        }
    }
    Some(Nic {
        model: NicModel::parse(&model?),
        mac,
        bridge,
        vlan,
        firewall,
    })
}

/// The `netN` value for a NIC; without a MAC, PVE picks one.
pub fn format_nic(nic: &Nic) -> String {
    let mut out = match nic.mac {
        Some(mac) => format!("{}={mac}", nic.model.as_str()),
        None => nic.model.as_str().to_string(),
    };
    out.push_str(&format!(",bridge={}", nic.bridge));
    if nic.firewall {
        out.push_str(",firewall=1");
    }
    if let Some(tag) = nic.vlan {
        out.push_str(&format!(",tag={tag}"));
    }
    out
}

/// `ip=dhcp` or `ip=192.168.212.130/24,gw=192.168.212.1`.
pub fn parse_ipconfig(value: &str) -> Option<IpConfig> {
    let mut ip = None;
    let mut gateway = None;
    for (key, val) in pairs(value) {
        match key {
            "ip" => ip = Some(val.to_string()),
            "gw" => gateway = Some(val.to_string()),
            _ => {}
        }
    }
    match ip?.as_str() {
        "dhcp" => Some(IpConfig::Dhcp),
        address => Some(IpConfig::Static {
            address: address.to_string(),
            gateway,
        }),
    }
}

pub fn format_ipconfig(ip: &IpConfig) -> String {
    match ip {
        IpConfig::Dhcp => "ip=dhcp".to_string(),
        IpConfig::Static {
            address,
            gateway: Some(gw),
        } => format!("ip={address},gw={gw}"),
        IpConfig::Static {
            address,
            gateway: None,
        } => format!("ip={address}"),
    }
}

/// PVE wants `sshkeys` percent-encoded on top of the form encoding, with
/// `%20` for spaces (a `+` is refused): encode everything but unreserved
/// characters.
pub fn encode_ssh_keys(keys: &[String]) -> String {
    let joined = keys.join("\n");
    let mut out = String::with_capacity(joined.len() * 3);
    for byte in joined.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

pub fn decode_ssh_keys(value: &str) -> Vec<String> {
    percent_decode(value)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Some(byte) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes one path segment (UPIDs carry `:`, `@` and `!`).
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `32G`, `512M`, bytes without a unit.
/// QEMU's extra arguments for a VNC console, for guacd: on one address of
/// the node, with a password. (Proxmox accepts `args` only from root@pam.)
pub fn vnc_args(listen: &VncListen) -> String {
    let password = if listen.password { ",password=on" } else { "" };
    format!("-vnc {}:{}{password}", listen.address, listen.display)
}

/// Where a VM's extra QEMU arguments serve VNC.
pub fn vnc_listen(args: &str) -> Option<VncListen> {
    let mut words = args.split_whitespace();
    while let Some(word) = words.next() {
        if word == "-vnc" {
            let mut options = words.next()?.split(',');
            let (address, display) = options.next()?.rsplit_once(':')?;
            let password = options.any(|option| option == "password=on" || option == "password");
            return Some(VncListen {
                address: address.to_string(),
                display: display.parse().ok()?,
                password,
            });
        }
    }
    None
}

pub fn parse_size(text: &str) -> Option<u64> {
    let (number, factor) = match text.chars().last()? {
        'K' => (&text[..text.len() - 1], 1u64 << 10),
        'M' => (&text[..text.len() - 1], 1 << 20),
        'G' => (&text[..text.len() - 1], 1 << 30),
        'T' => (&text[..text.len() - 1], 1 << 40),
        _ => (text, 1),
    };
    let value: f64 = number.parse().ok()?;
    Some((value * factor as f64) as u64)
}

fn is_disk_slot(key: &str) -> bool {
    let base = key.trim_end_matches(|c: char| c.is_ascii_digit());
    base.len() < key.len()
        && matches!(
            base,
            "scsi" | "virtio" | "sata" | "ide" | "efidisk" | "tpmstate"
        )
}

/// `scsi0: local-lvm:vm-101-disk-0,size=32G`; CD-ROMs are not disks.
fn parse_disk(value: &str) -> Option<Disk> {
    let items = pairs(value);
    if items.iter().any(|(k, v)| *k == "media" && *v == "cdrom") {
        return None;
    }
    let volume = items
        .iter()
        .find(|(k, _)| k.is_empty() || *k == "file")?
        .1
        .to_string();
    let size_bytes = items
        .iter()
        .find(|(k, _)| *k == "size")
        .and_then(|(_, v)| parse_size(v))
        .unwrap_or(0);
    Some(Disk { volume, size_bytes })
}

fn power(status: &Value) -> PowerState {
    let word = status["qmpstatus"]
        .as_str()
        .or(status["status"].as_str())
        .unwrap_or("");
    match word {
        "running" => PowerState::Running,
        "stopped" => PowerState::Stopped,
        "paused" | "suspended" => PowerState::Paused,
        other => PowerState::Other(other.to_string()),
    }
}

/// A VM from `GET .../config` and `GET .../status/current`.
pub fn vm_state(vm: &VmRef, config: &Value, status: &Value) -> VmState {
    let get = |key: &str| config.get(key).and_then(text);
    let number = |key: &str, default: u64| {
        get(key)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(default)
    };
    let memory_mb = get("memory")
        .and_then(|m| {
            pairs(&m)
                .into_iter()
                .find(|(k, _)| k.is_empty() || *k == "current")
                .and_then(|(_, v)| v.parse::<u64>().ok())
        })
        .unwrap_or(512);
    let mut nics = BTreeMap::new();
    let mut disks = BTreeMap::new();
    let mut cloud_init = CloudInit {
        user: get("ciuser"),
        ssh_keys: get("sshkeys")
            .map(|k| decode_ssh_keys(&k))
            .unwrap_or_default(),
        ip: BTreeMap::new(),
    };
    if let Some(object) = config.as_object() {
        for (key, value) in object {
            let Some(value) = text(value) else { continue };
            if let Some(slot) = key.strip_prefix("net").and_then(|n| n.parse::<u32>().ok()) {
                if let Some(nic) = parse_nic(&value) {
                    nics.insert(slot, nic);
                }
            } else if let Some(slot) = key
                .strip_prefix("ipconfig")
                .and_then(|n| n.parse::<u32>().ok())
            {
                if let Some(ip) = parse_ipconfig(&value) {
                    cloud_init.ip.insert(slot, ip);
                }
            } else if is_disk_slot(key) {
                if let Some(disk) = parse_disk(&value) {
                    disks.insert(key.clone(), disk);
                }
            }
        }
    }
    VmState {
        vnc: get("args").and_then(|a| vnc_listen(&a)),
        vm: vm.clone(),
        name: get("name").unwrap_or_default(),
        power: power(status),
        template: get("template").as_deref() == Some("1"),
        lock: get("lock").or_else(|| status.get("lock").and_then(text)),
        cores: number("cores", 1) as u32,
        sockets: number("sockets", 1) as u32,
        memory_mb,
        disks,
        nics,
        cloud_init,
        uptime: Duration::from_secs(status["uptime"].as_u64().unwrap_or(0)),
        revision: get("digest").unwrap_or_default(),
        description: get("description").unwrap_or_default(),
    }
}

/// One entry of `GET /nodes/{node}/qemu`.
pub fn vm_summary(node: &str, entry: &Value) -> Option<VmSummary> {
    let vmid = entry.get("vmid").and_then(text)?.parse().ok()?;
    Some(VmSummary {
        vm: VmRef::new(node, vmid),
        name: entry.get("name").and_then(text).unwrap_or_default(),
        power: power(entry),
        template: entry.get("template").and_then(text).as_deref() == Some("1"),
    })
}

/// The MAC of a NIC as configured, for callers that did not choose one.
pub fn nic_mac(config: &Value, slot: u32) -> Option<MacAddr> {
    config
        .get(format!("net{slot}"))
        .and_then(text)
        .and_then(|v| parse_nic(&v))
        .and_then(|n| n.mac)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn vnc_listens_round_trip_through_args() {
        let listen = VncListen {
            address: "10.0.0.21".into(),
            display: 104,
            password: true,
        };
        assert_eq!(vnc_args(&listen), "-vnc 10.0.0.21:104,password=on");
        assert_eq!(vnc_listen(&vnc_args(&listen)), Some(listen));
        assert_eq!(
            vnc_listen("-cpu host -vnc 0.0.0.0:7"),
            Some(VncListen {
                address: "0.0.0.0".into(),
                display: 7,
                password: false
            })
        );
        assert_eq!(vnc_listen("-cpu host"), None);
    }

    #[test]
    fn nics_round_trip() {
        let nic = parse_nic("virtio=BC:24:11:AA:BB:CC,bridge=vmbr1,firewall=1,tag=13").unwrap();
        assert_eq!(nic.model, NicModel::Virtio);
        assert_eq!(
            nic.mac.map(|m| m.to_string()).as_deref(),
            Some("BC:24:11:AA:BB:CC")
        );
        assert_eq!(
            (nic.bridge.as_str(), nic.vlan, nic.firewall),
            ("vmbr1", Some(13), true)
        );
        assert_eq!(
            format_nic(&nic),
            "virtio=BC:24:11:AA:BB:CC,bridge=vmbr1,firewall=1,tag=13"
        );
        let fresh = Nic::virtio("vmbr0", None);
        assert_eq!(format_nic(&fresh), "virtio,bridge=vmbr0");
        let old_style = parse_nic("model=e1000,macaddr=BC:24:11:00:00:01,bridge=vmbr0").unwrap();
        assert_eq!(old_style.model, NicModel::E1000);
        assert!(old_style.mac.is_some());
    }

    #[test]
    fn ip_configs_round_trip() {
        assert_eq!(parse_ipconfig("ip=dhcp"), Some(IpConfig::Dhcp));
        let fixed = IpConfig::Static {
            address: "192.168.212.130/24".into(),
            gateway: Some("192.168.212.1".into()),
        };
        assert_eq!(
            format_ipconfig(&fixed),
            "ip=192.168.212.130/24,gw=192.168.212.1"
        );
        assert_eq!(parse_ipconfig(&format_ipconfig(&fixed)), Some(fixed));
    }

    #[test]
    fn ssh_keys_are_encoded_the_way_pve_checks_them() {
        let keys = vec![
            "ssh-ed25519 AAAAC3Nz+/= me@host".to_string(),
            "ssh-rsa AAAAB3 you@there".to_string(),
        ];
        let encoded = encode_ssh_keys(&keys);
        assert!(encoded
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-%_.!~*'()".contains(c)));
        assert!(encoded.contains("%20") && !encoded.contains('+'));
        assert_eq!(decode_ssh_keys(&encoded), keys);
    }

    #[test]
    fn a_config_becomes_a_vm_state() {
        let config = json!({
            "name": "web", "cores": 2, "memory": "2048", "digest": "abc",
            "net0": "virtio=BC:24:11:00:00:01,bridge=vmbr1,tag=13",
            "ipconfig0": "ip=dhcp", "ciuser": "student", "sshkeys": "ssh-ed25519%20AAAA",
            "scsi0": "local-lvm:vm-101-disk-0,iothread=1,size=32G",
            "ide2": "local-lvm:vm-101-cloudinit,media=cdrom",
        });
        let status = json!({ "status": "running", "qmpstatus": "running", "uptime": 42 });
        let state = vm_state(&VmRef::new("pve1", 101), &config, &status);
        assert_eq!(
            (state.name.as_str(), state.cores, state.memory_mb),
            ("web", 2, 2048)
        );
        assert_eq!(state.power, PowerState::Running);
        assert_eq!(state.nics[&0].vlan, Some(13));
        assert_eq!(state.disks.len(), 1);
        assert_eq!(state.disks["scsi0"].size_gb(), 32);
        assert_eq!(state.cloud_init.ssh_keys, ["ssh-ed25519 AAAA"]);
        assert_eq!(state.cloud_init.ip[&0], IpConfig::Dhcp);
        assert_eq!(state.revision, "abc");
        assert_eq!(state.uptime, Duration::from_secs(42));
    }

    #[test]
    fn upids_are_encoded_as_one_segment() {
        assert_eq!(
            encode_segment("UPID:pve1:0000:qmstart:101:root@pam!giif:"),
            "UPID%3Apve1%3A0000%3Aqmstart%3A101%3Aroot%40pam%21giif%3A"
        );
    }
}
