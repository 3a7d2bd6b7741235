//! Writes the agent inventory (`site.toml`) and credential files that
//! match the running simulated site, so `giif-agent inventory import` points
//! the agent at it in one step. Secrets go in files of their own (0600); the
//! inventory only references them.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::run::RunningSite;
use crate::SimError;

#[derive(Serialize)]
struct Inventory {
    project_vlans: ProjectVlans,
    bms: Vec<Bms>,
    proxmox: Proxmox,
    pagw_slots: Vec<Slot>,
    floating_ips: Floating,
    iso_images: Vec<IsoImage>,
}

#[derive(Serialize)]
struct ProjectVlans {
    name: String,
    first: u32,
    last: u32,
    reserved: Vec<u32>,
}

#[derive(Serialize)]
struct SecretFile {
    file: String,
}

#[derive(Serialize)]
struct SshAccess {
    address: String,
    port: u16,
    user: String,
    password: SecretFile,
}

/// How the agent logs in to a gateway: with its key, which cloud-init
/// installs on every gateway VM.
#[derive(Serialize)]
struct GatewayLogin {
    address: String,
    port: u16,
    user: String,
    key: SecretFile,
}

#[derive(Serialize)]
struct Bms {
    name: String,
    service_tag: String,
    model: String,
    vlan: u32,
    macs: Vec<String>,
    tags: Vec<String>,
    idrac: SshAccess,
}

#[derive(Serialize)]
struct Proxmox {
    api_url: String,
    token_id: String,
    token_secret: SecretFile,
    ca_cert: String,
    nodes: Vec<Node>,
    templates: Vec<Template>,
}

#[derive(Serialize)]
struct Node {
    name: String,
    vm_bridge: String,
    storage: String,
}

#[derive(Serialize)]
struct Template {
    name: String,
    vmid: u32,
    node: String,
    pagw: bool,
}

#[derive(Serialize)]
struct Slot {
    public_ip: String,
    netmask: String,
    gateway: String,
    host: String,
    management_bridge: String,
    public_bridge: String,
    storage: String,
    template: u32,
    default_project: bool,
    ssh: GatewayLogin,
    toolbox_key: SecretFile,
}

#[derive(Serialize)]
struct Floating {
    addresses: Vec<String>,
}

#[derive(Serialize)]
struct IsoImage {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    media_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pve_volume: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    share_user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    share_password: Option<SecretFile>,
}

/// Writes `dir/site.toml` and `dir/credentials/*`; returns the site file.
pub fn write(site: &RunningSite, dir: &Path) -> Result<PathBuf, SimError> {
    let credentials = dir.join("credentials");
    std::fs::create_dir_all(&credentials).map_err(|source| SimError::Write {
        path: credentials.clone(),
        source,
    })?;
    let secret = |name: &str, value: &str| -> Result<SecretFile, SimError> {
        write_private(&credentials.join(name), value)?;
        Ok(SecretFile {
            file: format!("credentials/{name}"),
        })
    };

    let bms = site
        .idrac
        .endpoints()
        .into_iter()
        .map(|e| {
            Ok(Bms {
                name: e.server.name.clone(),
                service_tag: e.server.service_tag.clone(),
                model: e.server.model.clone(),
                vlan: e.server.vlan,
                macs: e.server.macs.clone(),
                tags: e.server.tags.clone(),
                idrac: SshAccess {
                    address: e.addr.ip().to_string(),
                    port: e.addr.port(),
                    user: e.user.clone(),
                    password: secret(&format!("idrac-{}.password", e.server.name), &e.password)?,
                },
            })
        })
        .collect::<Result<Vec<_>, SimError>>()?;

    let spec = &site.site.proxmox;
    write_public(&credentials.join("pve-ca.pem"), &site.pve.ca_pem())?;
    let first_storage =
        |node: &crate::site::NodeSpec| node.storage.first().cloned().unwrap_or_default();
    let proxmox = Proxmox {
        api_url: site.pve.api_url(),
        token_id: site.pve.token_id(),
        token_secret: secret("pve-token.secret", &site.pve.token_secret())?,
        ca_cert: "credentials/pve-ca.pem".into(),
        nodes: spec
            .nodes
            .iter()
            .map(|n| Node {
                name: n.name.clone(),
                vm_bridge: n
                    .bridges
                    .get(1)
                    .or(n.bridges.first())
                    .cloned()
                    .unwrap_or_default(),
                storage: first_storage(n),
            })
            .collect(),
        templates: spec
            .templates
            .iter()
            .map(|t| Template {
                name: t.name.clone(),
                vmid: t.vmid,
                node: t.node.clone(),
                pagw: t.pagw,
            })
            .collect(),
    };

    let endpoints = site.pagw.endpoints();
    let pagw_template = site
        .site
        .pagw_template()
        .map(|t| t.vmid)
        .unwrap_or_default();
    let pagw_slots = site
        .site
        .pagw_slots
        .iter()
        .filter_map(|slot| {
            let endpoint = endpoints.iter().find(|e| e.public_ip == slot.public_ip)?;
            let node = spec.nodes.iter().find(|n| n.name == slot.host)?;
            Some((slot, endpoint, node))
        })
        .map(|(slot, endpoint, node)| {
            Ok(Slot {
                public_ip: slot.public_ip.clone(),
                netmask: slot.netmask.clone(),
                gateway: slot.gateway.clone(),
                host: slot.host.clone(),
                management_bridge: node
                    .bridges
                    .get(1)
                    .or(node.bridges.first())
                    .cloned()
                    .unwrap_or_default(),
                public_bridge: node.bridges.first().cloned().unwrap_or_default(),
                storage: first_storage(node),
                template: pagw_template,
                default_project: slot.default_project,
                ssh: GatewayLogin {
                    address: endpoint.addr.ip().to_string(),
                    port: endpoint.addr.port(),
                    user: endpoint.user.clone(),
                    key: secret("pagw-agent.key", &endpoint.agent_key)?,
                },
                toolbox_key: secret("pagw-toolbox.key", &endpoint.toolbox_key)?,
            })
        })
        .collect::<Result<Vec<_>, SimError>>()?;

    let iso_images = site
        .site
        .iso_images
        .iter()
        .map(|image| {
            Ok(IsoImage {
                name: image.name.clone(),
                description: image.description.clone(),
                media_url: image.media_url.clone(),
                pve_volume: image.pve_volume.clone(),
                share_user: image.share_user.clone(),
                share_password: image
                    .share_password
                    .as_deref()
                    .map(|password| secret(&format!("iso-{}.password", image.name), password))
                    .transpose()?,
            })
        })
        .collect::<Result<Vec<_>, SimError>>()?;

    let vlans = &site.site.project_vlans;
    let inventory = Inventory {
        project_vlans: ProjectVlans {
            name: "project-segments".into(),
            first: vlans.first,
            last: vlans.last,
            reserved: vlans.reserved.clone(),
        },
        bms,
        proxmox,
        pagw_slots,
        floating_ips: Floating {
            addresses: site.site.floating_ips.addresses.clone(),
        },
        iso_images,
    };
    let text = toml::to_string_pretty(&inventory).map_err(|e| SimError::Other(e.to_string()))?;
    let file = dir.join("site.toml");
    write_public(
        &file,
        &format!("# The agent inventory of a giif-sim site. Import it with `giif-agent inventory import`.\n\n{text}"),
    )?;
    Ok(file)
}

fn write_private(path: &Path, contents: &str) -> Result<(), SimError> {
    let err = |source| SimError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(err)?;
    file.write_all(contents.as_bytes()).map_err(err)
}

fn write_public(path: &Path, contents: &str) -> Result<(), SimError> {
    std::fs::write(path, contents).map_err(|source| SimError::Write {
        path: path.to_path_buf(),
        source,
    })
}
