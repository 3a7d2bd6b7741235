//! The PAGW guest protocol's JSON, as the driver writes and reads it (see
//! the protocol in [`crate::drivers::gateway`]): rendering the configuration
//! document, and parsing what `giif-pagw-apply` and `giif-pagw-show` print.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::drivers::gateway::{
    netmask, prefix_len, DhcpConfig, DnatRule, GatewayConfig, PublicAddress, WireGuardConfig,
    WireGuardPeer, LAN_PREFIX, WIREGUARD_PREFIX,
};

pub const FORMAT: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
pub struct Document {
    pub format: u32,
    pub project_vlan: u16,
    pub wan: Wan,
    pub lan: Lan,
    pub dhcp: Dhcp,
    pub snat: bool,
    pub bridge: Bridge,
    pub dnat: Vec<Dnat>,
    pub wireguard: Option<WireGuard>,
    pub pptp: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Wan {
    pub address: String,
    pub gateway: Ipv4Addr,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Lan {
    pub address: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Dhcp {
    pub first: Ipv4Addr,
    pub last: Ipv4Addr,
    pub dns_servers: Vec<Ipv4Addr>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Bridge {
    pub bms_vlans: Vec<u16>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Dnat {
    pub public: Ipv4Addr,
    pub private: Ipv4Addr,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct WireGuard {
    pub listen_port: u16,
    pub address: String,
    pub peers: Vec<Peer>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Peer {
    pub name: String,
    pub public_key: String,
    pub address: Ipv4Addr,
}

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

#[derive(Debug, Deserialize)]
pub struct Show {
    pub format: u32,
    pub config_file: Option<ConfigFile>,
    pub in_sync: bool,
    pub live: Option<Document>,
    pub wireguard_public_key: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ConfigFile {
    pub sha256: String,
}

/// The document for `config` (already validated), in canonical order, and
/// its SHA-256 (hex).
pub fn render(config: &GatewayConfig) -> (String, String) {
    let config = config.clone().canonical();
    let prefix = prefix_len(config.public.netmask).unwrap_or(32);
    let document = Document {
        format: FORMAT,
        project_vlan: config.project_vlan,
        wan: Wan {
            address: format!("{}/{prefix}", config.public.address),
            gateway: config.public.gateway,
        },
        lan: Lan {
            address: format!("{}/{LAN_PREFIX}", config.lan_address),
        },
        dhcp: Dhcp {
            first: config.dhcp.first,
            last: config.dhcp.last,
            dns_servers: config.dhcp.dns_servers.clone(),
        },
        snat: config.snat,
        bridge: Bridge {
            bms_vlans: config.bms_vlans.iter().copied().collect(),
        },
        dnat: config
            .dnat
            .iter()
            .map(|rule| Dnat {
                public: rule.public,
                private: rule.private,
            })
            .collect(),
        wireguard: config.wireguard.as_ref().map(|wg| WireGuard {
            listen_port: wg.listen_port,
            address: format!("{}/{WIREGUARD_PREFIX}", wg.address),
            peers: wg
                .peers
                .iter()
                .map(|peer| Peer {
                    name: peer.name.clone(),
                    public_key: peer.public_key.clone(),
                    address: peer.address,
                })
                .collect(),
        }),
        pptp: config.pptp,
    };
    // Plain data always serializes.
    let text = serde_json::to_string_pretty(&document).unwrap_or_default() + "\n";
    let sha256 = hex::encode(Sha256::digest(text.as_bytes()));
    (text, sha256)
}

/// The model of a document the gateway reported.
pub fn to_config(document: Document) -> Result<GatewayConfig, String> {
    if document.format != FORMAT {
        return Err(format!(
            "the gateway reports format {}, this agent reads format {FORMAT}",
            document.format
        ));
    }
    let (wan, prefix) = cidr(&document.wan.address, "wan.address")?;
    let (lan, _) = cidr(&document.lan.address, "lan.address")?;
    let wireguard = match document.wireguard {
        None => None,
        Some(wg) => Some(WireGuardConfig {
            listen_port: wg.listen_port,
            address: cidr(&wg.address, "wireguard.address")?.0,
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
    };
    let config = GatewayConfig {
        project_vlan: document.project_vlan,
        public: PublicAddress {
            address: wan,
            netmask: netmask(prefix),
            gateway: document.wan.gateway,
        },
        lan_address: lan,
        dhcp: DhcpConfig {
            first: document.dhcp.first,
            last: document.dhcp.last,
            dns_servers: document.dhcp.dns_servers,
        },
        snat: document.snat,
        bms_vlans: document.bridge.bms_vlans.into_iter().collect(),
        dnat: document
            .dnat
            .into_iter()
            .map(|rule| DnatRule {
                public: rule.public,
                private: rule.private,
            })
            .collect(),
        wireguard,
        pptp: document.pptp,
    };
    Ok(config.canonical())
}

fn cidr(text: &str, field: &str) -> Result<(Ipv4Addr, u8), String> {
    let bad = || format!("{field}: {text:?} is not an address with a prefix length");
    let (address, prefix) = text.split_once('/').ok_or_else(bad)?;
    let address = address.parse().map_err(|_| bad())?;
    let prefix: u8 = prefix.parse().map_err(|_| bad())?;
    if prefix > 32 {
        return Err(bad());
    }
    Ok((address, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendering_is_canonical_and_round_trips() {
        let mut config = GatewayConfig::new(
            101,
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
        let document: Document = serde_json::from_str(&text).unwrap();
        assert_eq!(to_config(document).unwrap(), config.canonical());
    }
}
