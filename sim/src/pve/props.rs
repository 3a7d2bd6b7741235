//! Property strings as PVE writes them in VM configs (`virtio=BC:24:11:..,
//! bridge=vmbr1,tag=13`, `local-lvm:vm-101-disk-0,size=32G`): parsing,
//! canonical printing, MAC generation and disk sizes.

use std::collections::BTreeMap;

/// The NIC models PVE knows (`net[n]` format, key `model`).
pub const NIC_MODELS: &[&str] = &[
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

/// Splits `a=1,b=2,c` into pairs; an item without `=` belongs to
/// `default_key`. Errors are PVE's words.
pub fn split(value: &str, default_key: Option<&str>) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut used_default = false;
    for item in value.split(',') {
        if item.is_empty() {
            continue;
        }
        let (key, val) = match item.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => {
                let Some(default_key) = default_key else {
                    return Err(
                        "value without key, but schema does not define a default key".into(),
                    );
                };
                if used_default {
                    return Err(format!(
                        "duplicate key in comma-separated list property: {default_key}"
                    ));
                }
                used_default = true;
                (default_key.to_string(), item.to_string())
            }
        };
        if out.iter().any(|(k, _)| *k == key) {
            return Err(format!(
                "duplicate key in comma-separated list property: {key}"
            ));
        }
        out.push((key, val));
    }
    Ok(out)
}

/// A network device (`netN`).
#[derive(Clone, Debug, PartialEq)]
pub struct NetDevice {
    pub model: String,
    pub macaddr: Option<String>,
    /// Every other key (bridge, tag, firewall, ...), printed sorted.
    pub options: BTreeMap<String, String>,
}

impl NetDevice {
    /// Parses and checks a `netN` value; errors are `(key, message)`.
    pub fn parse(value: &str) -> Result<Self, (String, String)> {
        let mut model = None;
        let mut macaddr = None;
        let mut options = BTreeMap::new();
        for (key, val) in split(value, Some("model")).map_err(|e| (String::new(), e))? {
            if NIC_MODELS.contains(&key.as_str()) {
                // `virtio=MAC`: the model as key, the MAC as value.
                if model.is_some() {
                    return Err((
                        String::new(),
                        "key alias 'model' is already defined".to_string(),
                    ));
                }
                model = Some(key);
                macaddr = Some(val);
                continue;
            }
            match key.as_str() {
                "model" => {
                    if !NIC_MODELS.contains(&val.as_str()) {
                        return Err((
                            key,
                            format!(
                                "value '{val}' does not have a value in the enumeration '{}'",
                                NIC_MODELS.join(", ")
                            ),
                        ));
                    }
                    model = Some(val);
                }
                "macaddr" => macaddr = Some(val),
                "bridge" | "trunks" => {
                    options.insert(key, val);
                }
                "tag" => {
                    check_int(&val, 1, 4094).map_err(|e| (key.clone(), e))?;
                    options.insert(key, val);
                }
                "mtu" => {
                    check_int(&val, 1, 65520).map_err(|e| (key.clone(), e))?;
                    options.insert(key, val);
                }
                "queues" => {
                    check_int(&val, 0, 64).map_err(|e| (key.clone(), e))?;
                    options.insert(key, val);
                }
                "rate" => {
                    if val.parse::<f64>().is_err() {
                        return Err((key, format!("type check ('number') failed - got '{val}'")));
                    }
                    options.insert(key, val);
                }
                "firewall" | "link_down" => {
                    let b = parse_bool(&val).ok_or_else(|| (key.clone(), format!("type check ('boolean') failed - got '{val}'")))?;
                    options.insert(key, if b { "1" } else { "0" }.to_string());
                }
                _ => {
                    return Err((
                        key,
                        "property is not defined in schema and the schema does not allow additional properties".into(),
                    ))
                }
            }
        }
        let model = model.ok_or_else(|| {
            (
                "model".to_string(),
                "property is missing and it is not optional".to_string(),
            )
        })?;
        if let Some(mac) = &macaddr {
            if !is_mac(mac) {
                return Err((
                    "macaddr".into(),
                    "value does not look like a valid MAC address".to_string(),
                ));
            }
        }
        Ok(Self {
            model,
            macaddr,
            options,
        })
    }

    /// `virtio=BC:24:11:AA:BB:CC,bridge=vmbr1,firewall=1,tag=13`.
    pub fn print(&self) -> String {
        let mut out = match &self.macaddr {
            Some(mac) => format!("{}={}", self.model, mac.to_uppercase()),
            None => self.model.clone(),
        };
        for (k, v) in &self.options {
            out.push(',');
            out.push_str(k);
            out.push('=');
            out.push_str(v);
        }
        out
    }

    pub fn bridge(&self) -> Option<&str> {
        self.options.get("bridge").map(String::as_str)
    }
}

fn check_int(val: &str, min: i64, max: i64) -> Result<(), String> {
    let n: i64 = val
        .parse()
        .map_err(|_| format!("type check ('integer') failed - got '{val}'"))?;
    if n < min {
        return Err(format!("value must have a minimum value of {min}"));
    }
    if n > max {
        return Err(format!("value must have a maximum value of {max}"));
    }
    Ok(())
}

pub fn parse_bool(val: &str) -> Option<bool> {
    match val.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

pub fn is_mac(mac: &str) -> bool {
    let parts: Vec<&str> = mac.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A random MAC in Proxmox's OUI (`BC:24:11`), as PVE assigns by default.
pub fn random_mac() -> String {
    let bytes: [u8; 3] = rand::random();
    format!(
        "BC:24:11:{:02X}:{:02X}:{:02X}",
        bytes[0], bytes[1], bytes[2]
    )
}

/// A disk (`scsiN`, `ideN`, ...): the volume, then options sorted.
#[derive(Clone, Debug, PartialEq)]
pub struct Drive {
    pub file: String,
    pub options: BTreeMap<String, String>,
}

impl Drive {
    pub fn parse(value: &str) -> Result<Self, String> {
        let mut file = None;
        let mut options = BTreeMap::new();
        for (k, v) in split(value, Some("file"))? {
            if k == "file" || k == "volume" {
                file = Some(v);
            } else {
                options.insert(k, v);
            }
        }
        let file = file.ok_or_else(|| "property is missing and it is not optional".to_string())?;
        Ok(Self { file, options })
    }

    pub fn print(&self) -> String {
        let mut out = self.file.clone();
        for (k, v) in &self.options {
            out.push(',');
            out.push_str(k);
            out.push('=');
            out.push_str(v);
        }
        out
    }

    pub fn is_cdrom(&self) -> bool {
        self.options.get("media").map(String::as_str) == Some("cdrom")
    }

    pub fn is_cloudinit(&self) -> bool {
        self.file.ends_with("-cloudinit") || self.file.ends_with(":cloudinit")
    }

    pub fn size_bytes(&self) -> Option<u64> {
        self.options.get("size").and_then(|s| parse_size(s))
    }

    /// The storage of `storage:volume`.
    pub fn storage(&self) -> Option<&str> {
        self.file.split_once(':').map(|(s, _)| s)
    }
}

/// Is this config key a disk slot?
pub fn is_drive_key(key: &str) -> bool {
    let (prefix, max) = match key.trim_end_matches(|c: char| c.is_ascii_digit()) {
        "scsi" => ("scsi", 30),
        "virtio" => ("virtio", 15),
        "sata" => ("sata", 5),
        "ide" => ("ide", 3),
        _ => return key == "efidisk0" || key == "tpmstate0",
    };
    key[prefix.len()..]
        .parse::<u32>()
        .map(|n| n <= max)
        .unwrap_or(false)
}

/// `32G`, `512M`, `+2G` (without the sign), `1.5T`, or bytes.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let (number, unit) = match text.chars().last()? {
        c @ ('K' | 'M' | 'G' | 'T') => (&text[..text.len() - 1], c),
        _ => (text, 'B'),
    };
    let value: f64 = number.parse().ok()?;
    if value < 0.0 {
        return None;
    }
    let factor: u64 = match unit {
        'K' => 1 << 10,
        'M' => 1 << 20,
        'G' => 1 << 30,
        'T' => 1 << 40,
        _ => 1,
    };
    Some((value * factor as f64) as u64)
}

/// Bytes in the largest unit that divides them exactly, as PVE prints sizes.
pub fn format_size(bytes: u64) -> String {
    for (unit, factor) in [
        ('T', 1u64 << 40),
        ('G', 1 << 30),
        ('M', 1 << 20),
        ('K', 1 << 10),
    ] {
        if bytes >= factor && bytes.checked_rem(factor) == Some(0) {
            return format!("{}{unit}", bytes / factor);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_strings_parse_and_print_canonically() {
        let net = NetDevice::parse("virtio,bridge=vmbr1,tag=13,firewall=1").unwrap();
        assert_eq!(net.model, "virtio");
        assert_eq!(net.macaddr, None);
        assert_eq!(net.print(), "virtio,bridge=vmbr1,firewall=1,tag=13");
        let net = NetDevice::parse("virtio=bc:24:11:aa:bb:cc,bridge=vmbr0").unwrap();
        assert_eq!(net.print(), "virtio=BC:24:11:AA:BB:CC,bridge=vmbr0");
        let net = NetDevice::parse("model=e1000,macaddr=BC:24:11:00:00:01,bridge=vmbr0").unwrap();
        assert_eq!(net.print(), "e1000=BC:24:11:00:00:01,bridge=vmbr0");
    }

    #[test]
    fn bad_net_strings_name_the_key() {
        assert_eq!(NetDevice::parse("virtio,tag=5000").unwrap_err().0, "tag");
        assert_eq!(
            NetDevice::parse("nic9,bridge=vmbr0").unwrap_err().0,
            "model"
        );
        assert_eq!(
            NetDevice::parse("virtio,colour=red").unwrap_err().0,
            "colour"
        );
        assert!(NetDevice::parse("virtio=zz,bridge=vmbr0").is_err());
    }

    #[test]
    fn sizes_round_trip() {
        assert_eq!(parse_size("32G"), Some(32 << 30));
        assert_eq!(parse_size("1.5T"), Some(3 << 39));
        assert_eq!(format_size(32 << 30), "32G");
        assert_eq!(format_size(1536 << 20), "1536M");
        assert_eq!(format_size(1000), "1000");
    }

    #[test]
    fn drives_keep_their_options() {
        let drive = Drive::parse("local-lvm:vm-101-disk-0,iothread=1,size=32G").unwrap();
        assert_eq!(drive.storage(), Some("local-lvm"));
        assert_eq!(drive.size_bytes(), Some(32 << 30));
        assert_eq!(drive.print(), "local-lvm:vm-101-disk-0,iothread=1,size=32G");
        assert!(
            is_drive_key("scsi0")
                && is_drive_key("ide2")
                && !is_drive_key("scsi31")
                && !is_drive_key("net0")
        );
    }

    #[test]
    fn macs_are_in_the_proxmox_range() {
        let mac = random_mac();
        assert!(mac.starts_with("BC:24:11:") && is_mac(&mac));
    }
}
