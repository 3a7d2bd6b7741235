//! The typed devices of a site file. They are stored as they are (with
//! credential references, never credential values) and read back typed.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::credentials::SecretRef;

/// How the agent logs in to a device over SSH.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshAccess {
    pub address: String,
    #[serde(default = "default_ssh_port")]
    pub port: u16,
    pub user: String,
    pub password: SecretRef,
}

fn default_ssh_port() -> u16 {
    22
}

/// How the agent logs in to a project gateway: with `key`, the agent's
/// private key, whose public half cloud-init installs on every gateway it
/// makes (a template needs no password); `password` only for gateways made
/// from an older template. Exactly one of them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayAccess {
    pub address: String,
    #[serde(default = "default_ssh_port")]
    pub port: u16,
    pub user: String,
    #[serde(default)]
    pub key: Option<SecretRef>,
    #[serde(default)]
    pub password: Option<SecretRef>,
}

/// A bare-metal server and its BMC: `idrac` (racadm over SSH) or `bmc`
/// (another driver, today Redfish); exactly one of them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bms {
    pub name: String,
    pub service_tag: String,
    #[serde(default)]
    pub model: Option<String>,
    /// The server's own VLAN, bridged into a project by its gateway.
    pub vlan: u32,
    pub macs: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idrac: Option<IdracAccess>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bmc: Option<RedfishAccess>,
}

/// How a server's BMC is driven, as its site entry says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Management<'a> {
    Racadm(&'a IdracAccess),
    Redfish(&'a RedfishAccess),
}

impl Bms {
    /// The server's BMC access; `None` only for an entry the checks refuse.
    pub fn management(&self) -> Option<Management<'_>> {
        match (&self.idrac, &self.bmc) {
            (Some(idrac), None) => Some(Management::Racadm(idrac)),
            (None, Some(bmc)) => Some(Management::Redfish(bmc)),
            _ => None,
        }
    }

    /// Where consoles reach the BMC's VNC server: host and port.
    pub fn vnc_endpoint(&self) -> Option<(String, u16)> {
        match self.management()? {
            Management::Racadm(idrac) => Some((idrac.address.clone(), idrac.vnc_port)),
            Management::Redfish(bmc) => Some((bmc.host()?, bmc.vnc_port)),
        }
    }

    /// The VNC password the site file sets, if any.
    pub fn vnc_password(&self) -> Option<&SecretRef> {
        match self.management()? {
            Management::Racadm(idrac) => idrac.vnc_password.as_ref(),
            Management::Redfish(bmc) => bmc.vnc_password.as_ref(),
        }
    }

    /// How logs and listings name the BMC: `host:port` or its URL.
    pub fn bmc_address(&self) -> String {
        match self.management() {
            Some(Management::Racadm(idrac)) => format!("{}:{}", idrac.address, idrac.port),
            Some(Management::Redfish(bmc)) => bmc.url.clone(),
            None => "-".to_string(),
        }
    }
}

/// The BMC drivers a `bmc` table can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BmcDriver {
    Redfish,
}

/// A BMC driven over Redfish: its service's URL, the system it manages
/// (the only one when left out), and a user; the certificate is pinned on
/// first use. Plain `http://` only with `plain_http = true` (emulators and
/// labs: the password would cross the network readable).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedfishAccess {
    pub driver: BmcDriver,
    /// `https://host[:port]`, without a path.
    pub url: String,
    /// The system's `Id` under `/redfish/v1/Systems`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    pub user: String,
    pub password: SecretRef,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub plain_http: bool,
    /// The VNC port an iDRAC9 opens through Dell's attributes.
    #[serde(default = "default_vnc_port")]
    pub vnc_port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnc_password: Option<SecretRef>,
}

impl RedfishAccess {
    /// The URL's host, if it parses.
    pub fn host(&self) -> Option<String> {
        let url = reqwest::Url::parse(&self.url).ok()?;
        url.host_str().map(str::to_string)
    }
}

/// How the agent reaches a server's iDRAC, and how consoles reach its VNC
/// server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdracAccess {
    pub address: String,
    #[serde(default = "default_ssh_port")]
    pub port: u16,
    pub user: String,
    pub password: SecretRef,
    /// The iDRAC VNC server's port, for the console connection.
    #[serde(default = "default_vnc_port")]
    pub vnc_port: u16,
    /// The VNC password to set; absent, each assignment gets a fresh one.
    #[serde(default)]
    pub vnc_password: Option<SecretRef>,
}

impl IdracAccess {
    /// The SSH part, for the iDRAC driver.
    pub fn ssh(&self) -> SshAccess {
        SshAccess {
            address: self.address.clone(),
            port: self.port,
            user: self.user.clone(),
            password: self.password.clone(),
        }
    }
}

fn default_vnc_port() -> u16 {
    5901
}

/// Apache Guacamole: its database (the JDBC schema, MySQL/MariaDB or
/// PostgreSQL) and where users open it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guacamole {
    /// `mysql://user:password@host/db` or `postgresql://...`: a secret, as
    /// it holds the database password.
    pub database_url: SecretRef,
    /// The web app's address, for console links.
    pub public_url: String,
    /// The guacd that connections name; absent: Guacamole's own default.
    #[serde(default)]
    pub guacd_host: Option<String>,
    #[serde(default)]
    pub guacd_port: Option<u16>,
}

/// The Proxmox VE cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proxmox {
    /// `https://host:8006`; the API lives under `/api2/json`.
    pub api_url: String,
    /// `USER@REALM!TOKENID`.
    pub token_id: String,
    pub token_secret: SecretRef,
    /// The CA of the API's certificate (a PEM file)...
    #[serde(default)]
    pub ca_cert: Option<PathBuf>,
    /// ...or the SHA-256 fingerprint of the API's certificate.
    #[serde(default)]
    pub fingerprint: Option<String>,
    pub nodes: Vec<ProxmoxNode>,
    #[serde(default)]
    pub templates: Vec<Template>,
    /// The VM ids giif gives its VMs and gateways, `[first, last]`; absent:
    /// any id from Proxmox's next free one up.
    #[serde(default)]
    pub vmids: Option<[u32; 2]>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxmoxNode {
    pub name: String,
    /// The bridge VM NICs attach to (tagged with the project VLAN).
    pub vm_bridge: String,
    pub storage: String,
    /// Where guacd reaches the node's VM consoles (VNC); absent: the host
    /// of the API URL.
    #[serde(default)]
    pub console_address: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub name: String,
    pub vmid: u32,
    pub node: String,
    /// The PAGW gateway template.
    #[serde(default)]
    pub pagw: bool,
}

/// A slot for one project gateway: its public address and where it runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagwSlot {
    pub public_ip: Ipv4Addr,
    pub netmask: Ipv4Addr,
    pub gateway: Ipv4Addr,
    /// The Proxmox node that hosts the gateway VM.
    pub host: String,
    pub management_bridge: String,
    pub public_bridge: String,
    #[serde(default)]
    pub public_vlan: Option<u32>,
    pub storage: String,
    /// The PAGW template's VM id.
    pub template: u32,
    #[serde(default)]
    pub default_project: bool,
    /// How the agent reaches the gateway once it runs (usually its public
    /// IP; the port defaults to 22).
    pub ssh: GatewayAccess,
    /// The private key (OpenSSH format) the project toolbox's Guacamole
    /// connections log in with, as the gateway's restricted `giif-toolbox`
    /// account; its public half is installed on the gateway. Without it the
    /// gateway has no toolbox connections.
    #[serde(default)]
    pub toolbox_key: Option<SecretRef>,
}

/// An image of the site's ISO library: what a server's `boot_iso` or a VM's
/// `iso` can name. It is for servers when it has a `media_url`, for VMs when
/// it has a `pve_volume`, or both.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IsoImage {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Where a server's iDRAC mounts it: a CIFS share, an NFS export or an
    /// http(s) URL.
    #[serde(default)]
    pub media_url: Option<String>,
    /// The Proxmox ISO volume a VM's CD drive takes: `storage:iso/file.iso`.
    #[serde(default)]
    pub pve_volume: Option<String>,
    /// The user the iDRAC mounts `media_url` as (CIFS shares usually need
    /// one) and its password, a secret reference.
    #[serde(default)]
    pub share_user: Option<String>,
    #[serde(default)]
    pub share_password: Option<SecretRef>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FloatingIps {
    /// Single addresses or `first-last` ranges.
    #[serde(default)]
    pub addresses: Vec<String>,
}

impl FloatingIps {
    /// Every address of the pool, or the entry that is not an address or range.
    pub fn expand(&self) -> Result<Vec<Ipv4Addr>, String> {
        let mut all = Vec::new();
        for entry in &self.addresses {
            let (first, last) = match entry.split_once('-') {
                Some((a, b)) => (a.trim(), b.trim()),
                None => (entry.trim(), entry.trim()),
            };
            let parse = |s: &str| {
                s.parse::<Ipv4Addr>()
                    .map_err(|_| format!("{entry:?} is not an IPv4 address or a first-last range"))
            };
            let (first, last) = (u32::from(parse(first)?), u32::from(parse(last)?));
            if first > last {
                return Err(format!("{entry:?} ends before it starts"));
            }
            if last - first >= 65_536 {
                return Err(format!(
                    "{entry:?} is larger than a /16; list smaller ranges"
                ));
            }
            all.extend((first..=last).map(Ipv4Addr::from));
        }
        Ok(all)
    }
}
