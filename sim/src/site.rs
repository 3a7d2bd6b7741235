//! The site description `giif-sim` reads (TOML): the bare-metal servers, the
//! Proxmox nodes with their storage and templates, the PAGW slots, the
//! floating IP pool and the ISO images its file server and storage hold.

use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteDescription {
    /// Project segment VLANs, passed through to the agent inventory.
    #[serde(default = "default_project_vlans")]
    pub project_vlans: VlanRange,
    #[serde(default)]
    pub servers: ServerSet,
    pub proxmox: ProxmoxSpec,
    #[serde(default)]
    pub pagw_slots: Vec<SlotSpec>,
    #[serde(default)]
    pub floating_ips: FloatingPool,
    /// The site's ISO library, passed through to the agent inventory.
    #[serde(default)]
    pub iso_images: Vec<IsoImageSpec>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VlanRange {
    pub first: u32,
    pub last: u32,
    #[serde(default)]
    pub reserved: Vec<u32>,
}

fn default_project_vlans() -> VlanRange {
    VlanRange {
        first: 100,
        last: 399,
        reserved: vec![],
    }
}

/// Bare-metal servers: `count` generated ones (`bms01`, ... with VLANs from
/// `first_vlan`), plus any listed explicitly.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSet {
    #[serde(default)]
    pub count: u32,
    #[serde(default = "default_first_bms_vlan")]
    pub first_vlan: u32,
    #[serde(default = "default_model")]
    pub model: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// The iDRAC firmware the generated servers play.
    #[serde(default)]
    pub firmware: Firmware,
    #[serde(default)]
    pub list: Vec<ServerSpec>,
}

fn default_first_bms_vlan() -> u32 {
    3001
}

fn default_model() -> String {
    "PowerEdge R640".to_string()
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServerSpec {
    pub name: String,
    pub service_tag: String,
    pub vlan: u32,
    pub macs: Vec<String>,
    #[serde(default = "default_model")]
    pub model: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// `idrac9` (the default) or `idrac8`: what the iDRAC prints, as that
    /// firmware does (sim/src/idrac/racadm/profile.rs).
    #[serde(default)]
    pub firmware: Firmware,
}

/// The iDRAC firmware generation a simulated server plays.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Firmware {
    Idrac8,
    #[default]
    Idrac9,
}

impl ServerSet {
    /// Every server: the listed ones, then the generated ones.
    pub fn all(&self) -> Vec<ServerSpec> {
        let mut servers = self.list.clone();
        for i in 1..=self.count {
            servers.push(ServerSpec {
                name: format!("bms{i:02}"),
                service_tag: format!("SIM{i:04}"),
                vlan: self.first_vlan + i - 1,
                macs: vec![
                    format!("d0:94:66:00:{:02x}:{:02x}", i / 256, i % 256),
                    format!("d0:94:66:01:{:02x}:{:02x}", i / 256, i % 256),
                ],
                model: self.model.clone(),
                tags: self.tags.clone(),
                firmware: self.firmware,
            });
        }
        servers
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxmoxSpec {
    pub nodes: Vec<NodeSpec>,
    #[serde(default)]
    pub templates: Vec<TemplateSpec>,
    /// How long a task (clone, start, ...) runs, by default.
    #[serde(default = "default_task_ms")]
    pub task_duration_ms: u64,
    /// ISO files on the cluster's storage, as volume ids
    /// (`local:iso/x.iso`); every `[[iso_images]]` `pve_volume` is there too.
    #[serde(default)]
    pub iso_volumes: Vec<String>,
}

fn default_task_ms() -> u64 {
    300
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    pub name: String,
    #[serde(default = "default_storage")]
    pub storage: Vec<String>,
    #[serde(default = "default_bridges")]
    pub bridges: Vec<String>,
    #[serde(default = "default_cores")]
    pub cores: u32,
    #[serde(default = "default_memory")]
    pub memory_mb: u64,
}

fn default_storage() -> Vec<String> {
    vec!["local-lvm".to_string()]
}

fn default_bridges() -> Vec<String> {
    vec!["vmbr0".to_string(), "vmbr1".to_string()]
}

fn default_cores() -> u32 {
    64
}

fn default_memory() -> u64 {
    262_144
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSpec {
    pub vmid: u32,
    pub name: String,
    pub node: String,
    /// The PAGW template: VMs cloned from it become gateways.
    #[serde(default)]
    pub pagw: bool,
    #[serde(default = "default_disk")]
    pub disk_gb: u32,
}

fn default_disk() -> u32 {
    10
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotSpec {
    pub public_ip: String,
    #[serde(default = "default_netmask")]
    pub netmask: String,
    pub gateway: String,
    /// The Proxmox node that hosts this slot's gateway VM.
    pub host: String,
    #[serde(default)]
    pub default_project: bool,
}

fn default_netmask() -> String {
    "255.255.255.0".to_string()
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FloatingPool {
    /// Single addresses or `first-last` ranges.
    #[serde(default)]
    pub addresses: Vec<String>,
}

/// An installer or rescue image: where iDRACs mount it (as which share
/// user), and the Proxmox volume VMs take it from.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IsoImageSpec {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub media_url: Option<String>,
    #[serde(default)]
    pub pve_volume: Option<String>,
    #[serde(default)]
    pub share_user: Option<String>,
    /// Written to a credential file of the inventory, as device passwords.
    #[serde(default)]
    pub share_password: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("{file}: {reason}")]
pub struct SiteError {
    pub file: String,
    pub reason: String,
}

impl SiteDescription {
    pub fn parse(file: &str, text: &str) -> Result<Self, SiteError> {
        let site: SiteDescription = toml::from_str(text).map_err(|e| SiteError {
            file: file.to_string(),
            reason: e.to_string(),
        })?;
        site.check().map_err(|reason| SiteError {
            file: file.to_string(),
            reason,
        })?;
        Ok(site)
    }

    fn check(&self) -> Result<(), String> {
        let nodes: Vec<&str> = self.proxmox.nodes.iter().map(|n| n.name.as_str()).collect();
        if nodes.is_empty() {
            return Err("proxmox.nodes: list at least one node".into());
        }
        for template in &self.proxmox.templates {
            if !nodes.contains(&template.node.as_str()) {
                return Err(format!(
                    "template {} is on unknown node {:?}",
                    template.name, template.node
                ));
            }
        }
        for slot in &self.pagw_slots {
            if !nodes.contains(&slot.host.as_str()) {
                return Err(format!(
                    "PAGW slot {} is on unknown node {:?}",
                    slot.public_ip, slot.host
                ));
            }
        }
        if !self.pagw_slots.is_empty() && !self.proxmox.templates.iter().any(|t| t.pagw) {
            return Err("PAGW slots need a template with pagw = true".into());
        }
        let mut names = std::collections::BTreeSet::new();
        for server in self.servers.all() {
            if !names.insert(server.name.clone()) {
                return Err(format!("server {} is listed twice", server.name));
            }
        }
        Ok(())
    }

    /// The PAGW template, if the site has one.
    pub fn pagw_template(&self) -> Option<&TemplateSpec> {
        self.proxmox.templates.iter().find(|t| t.pagw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: &str = r#"
[servers]
count = 3
first_vlan = 3001

[proxmox]
nodes = [{ name = "pve1" }]
templates = [{ vmid = 9000, name = "pagw", node = "pve1", pagw = true }]

[[pagw_slots]]
public_ip = "203.0.113.10"
gateway = "203.0.113.1"
host = "pve1"
"#;

    #[test]
    fn generated_servers_have_distinct_names_vlans_and_macs() {
        let site = SiteDescription::parse("site.toml", SITE).expect("valid");
        let servers = site.servers.all();
        assert_eq!(servers.len(), 3);
        assert_eq!(servers[2].name, "bms03");
        assert_eq!(servers[2].vlan, 3003);
        assert_ne!(servers[0].macs, servers[1].macs);
        assert_eq!(site.pagw_template().map(|t| t.vmid), Some(9000));
    }

    #[test]
    fn slots_must_sit_on_known_nodes() {
        let bad = SITE.replace("host = \"pve1\"", "host = \"pve7\"");
        let err = SiteDescription::parse("site.toml", &bad).expect_err("invalid");
        assert!(err.to_string().contains("unknown node \"pve7\""), "{err}");
    }
}
