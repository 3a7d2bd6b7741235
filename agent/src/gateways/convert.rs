//! Between the API's GatewaySpec, the stored document and the driver's
//! GatewayConfig.

use std::net::Ipv4Addr;

use giif_proto::agent as api;

use crate::drivers::gateway::{
    DhcpConfig, GatewayConfig, GatewayNics, PublicAddress, WireGuardConfig, WireGuardPeer,
    DEFAULT_DHCP_FIRST, DEFAULT_DHCP_LAST,
};
use crate::error::ApiError;
use crate::inventory::PagwSlot;
use crate::store::GatewayDoc;

fn address(text: &str, field: &str) -> Result<Ipv4Addr, ApiError> {
    text.parse()
        .map_err(|_| ApiError::invalid(format!("{text:?} is not an IPv4 address")).field(field))
}

/// Checks a spec and turns it into the stored document (defaults filled in).
pub fn doc_from_spec(spec: &api::GatewaySpec) -> Result<GatewayDoc, ApiError> {
    let first = if spec.dhcp_first.is_empty() {
        DEFAULT_DHCP_FIRST.to_string()
    } else {
        spec.dhcp_first.clone()
    };
    let last = if spec.dhcp_last.is_empty() {
        DEFAULT_DHCP_LAST.to_string()
    } else {
        spec.dhcp_last.clone()
    };
    address(&first, "spec.dhcp_first")?;
    address(&last, "spec.dhcp_last")?;
    for dns in &spec.dns_servers {
        address(dns, "spec.dns_servers")?;
    }
    for peer in &spec.wireguard_peers {
        address(&peer.address, "spec.wireguard_peers")?;
    }
    if !spec.public_ip.is_empty() {
        address(&spec.public_ip, "spec.public_ip")?;
    }
    Ok(GatewayDoc {
        requested_ip: Some(spec.public_ip.clone()).filter(|ip| !ip.is_empty()),
        dhcp_first: first,
        dhcp_last: last,
        dns_servers: spec.dns_servers.clone(),
        wireguard: spec.wireguard,
        peers: spec
            .wireguard_peers
            .iter()
            .map(|p| (p.name.clone(), p.public_key.clone(), p.address.clone()))
            .collect(),
        pptp: spec.pptp,
    })
}

pub fn spec_from_doc(project_id: &str, doc: &GatewayDoc) -> api::GatewaySpec {
    api::GatewaySpec {
        project_id: project_id.to_string(),
        public_ip: doc.requested_ip.clone().unwrap_or_default(),
        dhcp_first: doc.dhcp_first.clone(),
        dhcp_last: doc.dhcp_last.clone(),
        dns_servers: doc.dns_servers.clone(),
        wireguard: doc.wireguard,
        wireguard_peers: doc
            .peers
            .iter()
            .map(|(name, public_key, address)| api::WireguardPeer {
                name: name.clone(),
                public_key: public_key.clone(),
                address: address.clone(),
            })
            .collect(),
        pptp: doc.pptp,
    }
}

/// The live configuration as a document, for drift in GetGateway.
pub fn doc_from_config(requested_ip: Option<String>, config: &GatewayConfig) -> GatewayDoc {
    GatewayDoc {
        requested_ip,
        // No DHCP server running reads as an empty range, which differs
        // from any desired one: the plan shows it and the apply restarts it.
        dhcp_first: config
            .dhcp
            .as_ref()
            .map(|d| d.first.to_string())
            .unwrap_or_default(),
        dhcp_last: config
            .dhcp
            .as_ref()
            .map(|d| d.last.to_string())
            .unwrap_or_default(),
        dns_servers: config
            .dhcp
            .iter()
            .flat_map(|d| d.dns_servers.iter())
            .map(|d| d.to_string())
            .collect(),
        wireguard: config.wireguard.is_some(),
        peers: config
            .wireguard
            .iter()
            .flat_map(|w| w.peers.iter())
            .map(|p| (p.name.clone(), p.public_key.clone(), p.address.to_string()))
            .collect(),
        pptp: config.pptp,
    }
}

/// What else the project holds that its gateway serves.
#[derive(Clone, Debug)]
pub struct ProjectExtras {
    /// The gateway VM's NICs: the project and public ones, and the plugged
    /// NICs of the project's bare-metal servers (by VLAN).
    pub nics: GatewayNics,
    /// (floating public IP, private target) 1-to-1 NAT rules.
    pub dnat: Vec<(Ipv4Addr, Ipv4Addr)>,
    /// The public half of the slot's toolbox key, if it has one.
    pub toolbox_key: Option<String>,
}

/// The whole desired configuration of the gateway in `slot` for `vlan`.
pub fn desired_config(
    doc: &GatewayDoc,
    slot: &PagwSlot,
    vlan: u16,
    extras: &ProjectExtras,
) -> Result<GatewayConfig, ApiError> {
    let mut config = GatewayConfig::new(
        vlan,
        extras.nics.clone(),
        PublicAddress {
            address: slot.public_ip,
            netmask: slot.netmask,
            gateway: slot.gateway,
        },
    );
    config.dhcp = Some(DhcpConfig {
        first: address(&doc.dhcp_first, "spec.dhcp_first")?,
        last: address(&doc.dhcp_last, "spec.dhcp_last")?,
        dns_servers: doc
            .dns_servers
            .iter()
            .map(|d| address(d, "spec.dns_servers"))
            .collect::<Result<_, _>>()?,
    });
    config.pptp = doc.pptp;
    config.toolbox_keys = extras.toolbox_key.iter().cloned().collect();
    config.dnat = extras
        .dnat
        .iter()
        .map(|(public, private)| crate::drivers::gateway::DnatRule {
            public: *public,
            private: *private,
        })
        .collect();
    if doc.wireguard || !doc.peers.is_empty() {
        let mut wireguard = WireGuardConfig::default();
        for (name, public_key, peer_address) in &doc.peers {
            wireguard.peers.push(WireGuardPeer {
                name: name.clone(),
                public_key: public_key.clone(),
                address: address(peer_address, "spec.wireguard_peers")?,
            });
        }
        config.wireguard = Some(wireguard);
    }
    if let Err(invalid) = config.validate() {
        let first = invalid
            .problems
            .first()
            .map(|p| (p.field.clone(), p.message.clone()))
            .unwrap_or_default();
        return Err(
            ApiError::invalid(invalid.to_string()).field(&format!("spec.{}", map_field(&first.0)))
        );
    }
    Ok(config.canonical())
}

/// The driver's field names, as the API spells them.
fn map_field(field: &str) -> String {
    let head = field.split(['.', '[']).next().unwrap_or(field);
    match head {
        "dhcp" if field.contains("dns") => "dns_servers".into(),
        "dhcp" => "dhcp_first".into(),
        "wireguard" => "wireguard_peers".into(),
        "wan" | "nics" | "project_vlan" => "public_ip".into(),
        other => other.to_string(),
    }
}
