//! Parameter verification the way PVE's JSON schema does it: unknown
//! parameters, missing ones, types, ranges, formats and property strings
//! are refused with HTTP 400 and one message per parameter, in PVE's words.
//! Only the parameters the simulator models (or stores verbatim) are known.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::props::{self, Drive, NetDevice};
use super::reply::ApiError;

#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Int {
        min: Option<i64>,
        max: Option<i64>,
    },
    Bool,
    Str {
        max_len: Option<usize>,
    },
    VmId,
    DnsName,
    /// `format => 'urlencoded'` (sshkeys): the decoded form value must
    /// itself be percent-encoded.
    Urlencoded,
    ConfigIdList,
    Net,
    IpConfig,
    Drive,
    Memory,
    Enum(&'static [&'static str]),
    /// The `size` of a resize: `\+?\d+(\.\d+)?[KMGT]?`.
    ResizeSize,
}

#[derive(Clone, Copy, Debug)]
pub struct Param {
    pub name: &'static str,
    /// For indexed parameters (`net[n]`): the highest index.
    pub max_index: Option<u32>,
    pub kind: Kind,
    pub required: bool,
}

const fn opt(name: &'static str, kind: Kind) -> Param {
    Param {
        name,
        max_index: None,
        kind,
        required: false,
    }
}

const fn req(name: &'static str, kind: Kind) -> Param {
    Param {
        name,
        max_index: None,
        kind,
        required: true,
    }
}

const fn indexed(name: &'static str, max: u32, kind: Kind) -> Param {
    Param {
        name,
        max_index: Some(max),
        kind,
        required: false,
    }
}

const POS: Kind = Kind::Int {
    min: Some(1),
    max: None,
};
const NONNEG: Kind = Kind::Int {
    min: Some(0),
    max: None,
};
const STR: Kind = Kind::Str { max_len: None };

const OSTYPES: &[&str] = &[
    "other", "wxp", "w2k", "w2k3", "w2k8", "wvista", "win7", "win8", "win10", "win11", "l24",
    "l26", "solaris",
];
const SCSIHW: &[&str] = &[
    "lsi",
    "lsi53c810",
    "virtio-scsi-pci",
    "virtio-scsi-single",
    "megasas",
    "pvscsi",
];
const DISK_SLOTS: &[&str] = &[
    "ide0",
    "ide1",
    "ide2",
    "ide3",
    "scsi0",
    "scsi1",
    "scsi2",
    "scsi3",
    "scsi4",
    "scsi5",
    "scsi6",
    "scsi7",
    "scsi8",
    "scsi9",
    "scsi10",
    "scsi11",
    "scsi12",
    "scsi13",
    "scsi14",
    "scsi15",
    "scsi16",
    "scsi17",
    "scsi18",
    "scsi19",
    "scsi20",
    "scsi21",
    "scsi22",
    "scsi23",
    "scsi24",
    "scsi25",
    "scsi26",
    "scsi27",
    "scsi28",
    "scsi29",
    "scsi30",
    "virtio0",
    "virtio1",
    "virtio2",
    "virtio3",
    "virtio4",
    "virtio5",
    "virtio6",
    "virtio7",
    "virtio8",
    "virtio9",
    "virtio10",
    "virtio11",
    "virtio12",
    "virtio13",
    "virtio14",
    "virtio15",
    "sata0",
    "sata1",
    "sata2",
    "sata3",
    "sata4",
    "sata5",
    "efidisk0",
    "tpmstate0",
];

/// The VM options the simulator knows, shared by create and config update.
const VM_OPTIONS: &[Param] = &[
    opt("name", Kind::DnsName),
    opt(
        "description",
        Kind::Str {
            max_len: Some(8192),
        },
    ),
    opt("cores", POS),
    opt("args", STR),
    opt("sockets", POS),
    opt("memory", Kind::Memory),
    opt("balloon", NONNEG),
    opt("cpu", STR),
    opt("numa", Kind::Bool),
    opt("ostype", Kind::Enum(OSTYPES)),
    opt("scsihw", Kind::Enum(SCSIHW)),
    opt("boot", STR),
    opt("bootdisk", STR),
    opt("agent", STR),
    opt("onboot", Kind::Bool),
    opt("protection", Kind::Bool),
    opt("template", Kind::Bool),
    opt("tags", STR),
    opt("vga", STR),
    opt("machine", STR),
    opt("bios", Kind::Enum(&["seabios", "ovmf"])),
    opt("hotplug", STR),
    opt("kvm", Kind::Bool),
    opt("smbios1", Kind::Str { max_len: Some(512) }),
    opt("vmgenid", STR),
    opt("ciuser", STR),
    opt("cipassword", STR),
    opt(
        "citype",
        Kind::Enum(&["configdrive2", "nocloud", "opennebula"]),
    ),
    opt("ciupgrade", Kind::Bool),
    opt("sshkeys", Kind::Urlencoded),
    opt("searchdomain", STR),
    opt("nameserver", STR),
    opt("efidisk0", Kind::Drive),
    opt("tpmstate0", Kind::Drive),
    indexed("net", 31, Kind::Net),
    indexed("ipconfig", 31, Kind::IpConfig),
    indexed("scsi", 30, Kind::Drive),
    indexed("virtio", 15, Kind::Drive),
    indexed("sata", 5, Kind::Drive),
    indexed("ide", 3, Kind::Drive),
    indexed("serial", 3, STR),
];

pub fn create() -> Vec<Param> {
    let mut params = VM_OPTIONS.to_vec();
    params.extend([
        req("vmid", Kind::VmId),
        opt("start", Kind::Bool),
        opt("storage", STR),
        opt("pool", STR),
        opt("unique", Kind::Bool),
    ]);
    params
}

pub fn config_update(async_post: bool) -> Vec<Param> {
    let mut params = VM_OPTIONS.to_vec();
    params.extend([
        opt("delete", Kind::ConfigIdList),
        opt("revert", Kind::ConfigIdList),
        opt("digest", Kind::Str { max_len: Some(40) }),
        opt("skiplock", Kind::Bool),
        opt("force", Kind::Bool),
    ]);
    if async_post {
        params.push(opt(
            "background_delay",
            Kind::Int {
                min: Some(1),
                max: Some(30),
            },
        ));
    }
    params
}

pub const CONFIG_GET: &[Param] = &[
    opt("current", Kind::Bool),
    opt("snapshot", Kind::Str { max_len: Some(40) }),
];

pub const CLONE: &[Param] = &[
    req("newid", Kind::VmId),
    opt("name", Kind::DnsName),
    opt("description", STR),
    opt("full", Kind::Bool),
    opt("target", STR),
    opt("storage", STR),
    opt("pool", STR),
    opt("format", Kind::Enum(&["raw", "qcow2", "vmdk"])),
    opt("snapname", Kind::Str { max_len: Some(40) }),
    opt("bwlimit", NONNEG),
];

pub const RESIZE: &[Param] = &[
    req("disk", Kind::Enum(DISK_SLOTS)),
    req("size", Kind::ResizeSize),
    opt("digest", Kind::Str { max_len: Some(40) }),
    opt("skiplock", Kind::Bool),
];

pub const MONITOR: &[Param] = &[req("command", Kind::Str { max_len: None })];

pub const START: &[Param] = &[
    opt("skiplock", Kind::Bool),
    opt(
        "timeout",
        Kind::Int {
            min: Some(0),
            max: Some(86400),
        },
    ),
    opt("machine", STR),
];

pub const STOP: &[Param] = &[
    opt("skiplock", Kind::Bool),
    opt("timeout", NONNEG),
    opt("keepActive", Kind::Bool),
    opt("overrule-shutdown", Kind::Bool),
];

pub const SHUTDOWN: &[Param] = &[
    opt("skiplock", Kind::Bool),
    opt("timeout", NONNEG),
    opt("forceStop", Kind::Bool),
    opt("keepActive", Kind::Bool),
];

pub const DESTROY: &[Param] = &[
    opt("purge", Kind::Bool),
    opt("destroy-unreferenced-disks", Kind::Bool),
    opt("skiplock", Kind::Bool),
];

pub const LIST: &[Param] = &[opt("full", Kind::Bool)];
pub const NEXTID: &[Param] = &[opt("vmid", Kind::VmId)];
pub const NONE: &[Param] = &[];
pub const TASK_LOG: &[Param] = &[
    opt("start", NONNEG),
    opt("limit", NONNEG),
    opt("download", Kind::Bool),
];

/// Checks every parameter against `specs`; all problems at once, like PVE.
pub fn verify(params: &BTreeMap<String, String>, specs: &[Param]) -> Result<(), ApiError> {
    let mut errors = BTreeMap::new();
    for (name, value) in params {
        match find(specs, name) {
            None => {
                errors.insert(
                    name.clone(),
                    "property is not defined in schema and the schema does not allow additional properties".to_string(),
                );
            }
            Some(spec) => {
                if let Err(message) = check(name, value, spec.kind) {
                    errors.insert(name.clone(), message);
                }
            }
        }
    }
    for spec in specs.iter().filter(|s| s.required) {
        if !params.contains_key(spec.name) {
            errors.insert(
                spec.name.to_string(),
                "property is missing and it is not optional".to_string(),
            );
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::params(errors))
    }
}

fn find<'a>(specs: &'a [Param], name: &str) -> Option<&'a Param> {
    specs.iter().find(|spec| match spec.max_index {
        None => spec.name == name,
        Some(max) => name
            .strip_prefix(spec.name)
            .filter(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit()))
            .and_then(|rest| rest.parse::<u32>().ok())
            .is_some_and(|n| n <= max),
    })
}

/// One value against its kind; the message is what PVE puts in `errors`.
pub fn check(name: &str, value: &str, kind: Kind) -> Result<(), String> {
    match kind {
        Kind::Int { min, max } => {
            let n: i64 = value
                .parse()
                .map_err(|_| format!("type check ('integer') failed - got '{value}'"))?;
            if let Some(max) = max.filter(|m| n > *m) {
                return Err(format!("value must have a maximum value of {max}"));
            }
            if let Some(min) = min.filter(|m| n < *m) {
                return Err(format!("value must have a minimum value of {min}"));
            }
            Ok(())
        }
        Kind::Bool => props::parse_bool(value)
            .map(|_| ())
            .ok_or_else(|| format!("type check ('boolean') failed - got '{value}'")),
        Kind::Str { max_len } => match max_len {
            Some(max) if value.chars().count() > max => {
                Err(format!("value may only be {max} characters long"))
            }
            _ => Ok(()),
        },
        Kind::VmId => {
            let n: i64 = value
                .parse()
                .map_err(|_| format!("type check ('integer') failed - got '{value}'"))?;
            if n > 999_999_999 {
                return Err("value must have a maximum value of 999999999".into());
            }
            if n < 100 {
                return Err("value must have a minimum value of 100".into());
            }
            Ok(())
        }
        Kind::DnsName => {
            if is_dns_name(value) {
                Ok(())
            } else {
                Err("invalid format - value does not look like a valid DNS name\n".into())
            }
        }
        Kind::Urlencoded => {
            let ok = value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-%_.!~*'()".contains(c));
            if ok {
                Ok(())
            } else {
                Err(format!(
                    "invalid format - invalid urlencoded string: {value}\n"
                ))
            }
        }
        Kind::ConfigIdList => {
            for id in value.split([',', ';', ' ']).filter(|s| !s.is_empty()) {
                let mut chars = id.chars();
                let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
                if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                    return Err(format!(
                        "invalid format - invalid configuration ID '{id}'\n"
                    ));
                }
            }
            Ok(())
        }
        Kind::Net => NetDevice::parse(value)
            .map(|_| ())
            .map_err(|(key, message)| {
                if key.is_empty() {
                    format!("invalid format - {message}\n")
                } else {
                    format!("invalid format - format error\n{name}.{key}: {message}\n")
                }
            }),
        Kind::IpConfig => check_ipconfig(value).map_err(|(key, message)| {
            if key.is_empty() {
                format!("invalid format - {message}\n")
            } else {
                format!("invalid format - format error\n{name}.{key}: {message}\n")
            }
        }),
        Kind::Drive => Drive::parse(value)
            .map(|_| ())
            .map_err(|message| format!("invalid format - {message}\n")),
        Kind::Memory => {
            let parts = props::split(value, Some("current"))
                .map_err(|m| format!("invalid format - {m}\n"))?;
            for (key, val) in parts {
                if key != "current" {
                    return Err(format!(
                        "invalid format - format error\n{name}.{key}: property is not defined in schema and the schema does not allow additional properties\n"
                    ));
                }
                check(
                    &format!("{name}.current"),
                    &val,
                    Kind::Int {
                        min: Some(16),
                        max: None,
                    },
                )
                .map_err(|m| format!("invalid format - format error\n{name}.current: {m}\n"))?;
            }
            Ok(())
        }
        Kind::Enum(values) => {
            if values.contains(&value) {
                Ok(())
            } else {
                Err(format!(
                    "value '{value}' does not have a value in the enumeration '{}'",
                    values.join(", ")
                ))
            }
        }
        Kind::ResizeSize => {
            let rest = value.strip_prefix('+').unwrap_or(value);
            let rest = rest.strip_suffix(['K', 'M', 'G', 'T']).unwrap_or(rest);
            let mut parts = rest.splitn(2, '.');
            let whole_ok = parts
                .next()
                .is_some_and(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_digit()));
            let frac_ok = parts
                .next()
                .is_none_or(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_digit()));
            if whole_ok && frac_ok {
                Ok(())
            } else {
                Err("value does not match the regex pattern".into())
            }
        }
    }
}

pub fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn check_ipconfig(value: &str) -> Result<(), (String, String)> {
    for (key, val) in props::split(value, None).map_err(|m| (String::new(), m))? {
        let ok = match key.as_str() {
            "ip" => val == "dhcp" || is_cidr4(&val),
            "gw" => val.parse::<Ipv4Addr>().is_ok(),
            "ip6" => val == "dhcp" || val == "auto" || is_cidr6(&val),
            "gw6" => val.parse::<Ipv6Addr>().is_ok(),
            _ => {
                return Err((
                    key,
                    "property is not defined in schema and the schema does not allow additional properties".into(),
                ))
            }
        };
        if !ok {
            let what = match key.as_str() {
                "ip" => "IPv4Format/CIDR",
                "gw" => "GatewayIPv4",
                "ip6" => "IPv6Format/CIDR",
                _ => "GatewayIPv6",
            };
            return Err((key, format!("value does not look like a valid {what}")));
        }
    }
    Ok(())
}

fn is_cidr4(text: &str) -> bool {
    text.split_once('/').is_some_and(|(ip, len)| {
        ip.parse::<Ipv4Addr>().is_ok() && len.parse::<u8>().is_ok_and(|l| l <= 32)
    })
}

fn is_cidr6(text: &str) -> bool {
    text.split_once('/').is_some_and(|(ip, len)| {
        ip.parse::<Ipv6Addr>().is_ok() && len.parse::<u8>().is_ok_and(|l| l <= 128)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn good_parameters_pass() {
        let p = params(&[
            ("vmid", "101"),
            ("name", "web-1"),
            ("net0", "virtio,bridge=vmbr1,tag=13"),
            ("ipconfig0", "ip=192.168.212.130/24,gw=192.168.212.1"),
            ("sshkeys", "ssh-ed25519%20AAAA%20me%40host"),
            ("memory", "2048"),
            ("scsi0", "local-lvm:32"),
        ]);
        assert_eq!(verify(&p, &create()), Ok(()));
    }

    #[test]
    fn problems_are_reported_per_parameter() {
        let p = params(&[
            ("name", "not a name"),
            ("cores", "zero"),
            ("net40", "virtio"),
            ("net1", "virtio,tag=5000"),
            ("sshkeys", "ssh-ed25519 AAAA"),
            ("colour", "red"),
        ]);
        let err = verify(&p, &create()).unwrap_err();
        assert_eq!(err.status, 400);
        assert_eq!(err.message, "Parameter verification failed.\n");
        assert_eq!(
            err.errors["cores"],
            "type check ('integer') failed - got 'zero'"
        );
        assert!(err.errors["net40"].starts_with("property is not defined in schema"));
        assert_eq!(
            err.errors["net1"],
            "invalid format - format error\nnet1.tag: value must have a maximum value of 4094\n"
        );
        assert!(err.errors["sshkeys"].contains("invalid urlencoded string"));
        assert!(err.errors["name"].contains("valid DNS name"));
        assert!(err.errors.contains_key("colour"));
        assert_eq!(
            err.errors["vmid"],
            "property is missing and it is not optional"
        );
    }

    #[test]
    fn resize_sizes_follow_the_pattern() {
        assert_eq!(check("size", "+2G", Kind::ResizeSize), Ok(()));
        assert_eq!(check("size", "40G", Kind::ResizeSize), Ok(()));
        assert_eq!(check("size", "1.5T", Kind::ResizeSize), Ok(()));
        assert!(check("size", "-2G", Kind::ResizeSize).is_err());
        assert!(check("size", "2GB", Kind::ResizeSize).is_err());
    }
}
