//! The PAGW guest protocol's JSON, as the driver writes and reads it (see
//! `docs/design/gateways.md`): the configuration document is `giif-pagw`'s
//! own type, so the agent renders exactly what the gateway parses; here are
//! the conversions from and to the agent's model and the answers of
//! `giif-pagw-apply` and `giif-pagw-show`.

use giif_pagw::{
    Cidr, Dhcp, Dnat, Document, Lan, Nics, Peer, ServerNic, Toolbox, Wan, WireGuard, LAN,
};
use serde::Deserialize;

use crate::drivers::gateway::{
    netmask, prefix_len, DhcpConfig, DnatRule, GatewayConfig, GatewayNics, PublicAddress,
    WireGuardConfig, WireGuardPeer,
};

pub use giif_pagw::FORMAT;

/// What `giif-pagw-apply` prints on success. Unknown fields are ignored so
/// a newer gateway tool can say more.
#[derive(Debug, Deserialize)]
pub struct ApplyResult {
    pub format: u32,
    pub changed: bool,
    pub changes: Vec<String>,
    pub sha256: String,
    pub wireguard_public_key: Option<String>,
}

/// What `giif-pagw-show --json` prints. `live` is kept as JSON until the
/// format is known to be ours.
#[derive(Debug, Deserialize)]
pub struct Show {
    pub format: u32,
    pub config_file: Option<ConfigFile>,
    pub in_sync: bool,
    pub live: Option<serde_json::Value>,
    pub wireguard_public_key: Option<String>,
    /// What the next apply would change, in the gateway's words.
    #[serde(default)]
    pub drift: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct ConfigFile {
    pub sha256: String,
}

/// The document for `config`.
pub fn document(config: &GatewayConfig) -> Document {
    let prefix = prefix_len(config.public.netmask).unwrap_or(32);
    let nics = Nics {
        lan: config.nics.lan,
        wan: config.nics.wan,
        servers: config
            .nics
            .servers
            .iter()
            .map(|(vlan, mac)| ServerNic {
                vlan: *vlan,
                mac: *mac,
            })
            .collect(),
    };
    let wan = Wan {
        address: Cidr::new(config.public.address, prefix),
        gateway: config.public.gateway,
    };
    let mut doc = Document::new(config.project_vlan, nics, wan);
    doc.lan = Lan {
        address: Cidr::new(config.lan_address, LAN.prefix),
    };
    doc.dhcp = config.dhcp.as_ref().map(|dhcp| Dhcp {
        first: dhcp.first,
        last: dhcp.last,
        dns_servers: dhcp.dns_servers.clone(),
    });
    doc.snat = config.snat;
    doc.dnat = config
        .dnat
        .iter()
        .map(|rule| Dnat {
            public: rule.public,
            private: rule.private,
        })
        .collect();
    doc.wireguard = config.wireguard.as_ref().map(|wg| WireGuard {
        listen_port: wg.listen_port,
        address: Cidr::new(wg.address, giif_pagw::WIREGUARD.prefix),
        peers: wg
            .peers
            .iter()
            .map(|peer| Peer {
                name: peer.name.clone(),
                public_key: peer.public_key.clone(),
                address: peer.address,
            })
            .collect(),
    });
    doc.pptp = config.pptp;
    doc.toolbox = (!config.toolbox_keys.is_empty()).then(|| Toolbox {
        authorized_keys: config.toolbox_keys.clone(),
    });
    doc.canonical()
}

/// The document for `config` (already validated), in canonical order, and
/// its SHA-256 (hex).
pub fn render(config: &GatewayConfig) -> (String, String) {
    document(config).render()
}

/// The model of a document the gateway reported.
pub fn to_config(live: serde_json::Value) -> Result<GatewayConfig, String> {
    let document = Document::parse(live.to_string().as_bytes()).map_err(|e| e.to_string())?;
    let config = GatewayConfig {
        project_vlan: document.project_vlan,
        nics: GatewayNics {
            lan: document.nics.lan,
            wan: document.nics.wan,
            servers: document
                .nics
                .servers
                .iter()
                .map(|nic| (nic.vlan, nic.mac))
                .collect(),
        },
        public: PublicAddress {
            address: document.wan.address.address,
            netmask: netmask(document.wan.address.prefix),
            gateway: document.wan.gateway,
        },
        lan_address: document.lan.address.address,
        dhcp: document.dhcp.map(|dhcp| DhcpConfig {
            first: dhcp.first,
            last: dhcp.last,
            dns_servers: dhcp.dns_servers,
        }),
        snat: document.snat,
        dnat: document
            .dnat
            .iter()
            .map(|rule| DnatRule {
                public: rule.public,
                private: rule.private,
            })
            .collect(),
        wireguard: document.wireguard.map(|wg| WireGuardConfig {
            listen_port: wg.listen_port,
            address: wg.address.address,
            peers: wg
                .peers
                .into_iter()
                .map(|peer| WireGuardPeer {
                    name: peer.name,
                    public_key: peer.public_key,
                    address: peer.address,
                })
                .collect(),
        }),
        pptp: document.pptp,
        toolbox_keys: document
            .toolbox
            .map(|t| t.authorized_keys)
            .unwrap_or_default(),
    };
    Ok(config.canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::gateway::Mac;
    use std::net::Ipv4Addr;

    #[test]
    fn rendering_is_canonical_and_round_trips() {
        let nics = GatewayNics {
            lan: Mac([0xbc, 0x24, 0x11, 0, 0, 1]),
            wan: Mac([0xbc, 0x24, 0x11, 0, 0, 2]),
            servers: [(3001, Mac([0xbc, 0x24, 0x11, 0, 0, 3]))].into(),
        };
        let mut config = GatewayConfig::new(
            101,
            nics,
            PublicAddress {
                address: Ipv4Addr::new(203, 0, 113, 10),
                netmask: Ipv4Addr::new(255, 255, 255, 0),
                gateway: Ipv4Addr::new(203, 0, 113, 1),
            },
        );
        for last in [60, 50] {
            config.dnat.push(DnatRule {
                public: Ipv4Addr::new(203, 0, 113, last),
                private: Ipv4Addr::new(192, 168, 212, 80 + last),
            });
        }
        config.wireguard = Some(WireGuardConfig::default());
        let (text, sha) = render(&config);
        let mut reversed = config.clone();
        reversed.dnat.reverse();
        assert_eq!(render(&reversed), (text.clone(), sha));
        assert!(text.contains("\"address\": \"203.0.113.10/24\""), "{text}");
        assert!(text.contains("\"mac\": \"bc:24:11:00:00:03\""), "{text}");
        let live: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(to_config(live).unwrap(), config.canonical());
    }
}
