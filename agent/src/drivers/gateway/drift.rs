//! Where a gateway's live state differs from what it should run, one
//! readable line per field, for logs, operations and Terraform's Read.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;

use super::model::{DhcpConfig, GatewayConfig, WireGuardConfig, WireGuardPeer};

/// One field that differs. `None` on a side: absent there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// Such as `dnat[203.0.113.50].private`.
    pub field: String,
    pub desired: Option<String>,
    pub live: Option<String>,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.desired, &self.live) {
            (Some(desired), Some(live)) => write!(
                f,
                "{}: should be {desired}, the gateway has {live}",
                self.field
            ),
            (Some(desired), None) => write!(
                f,
                "{}: missing on the gateway (should be {desired})",
                self.field
            ),
            (None, Some(live)) => {
                write!(f, "{}: on the gateway ({live}) but not desired", self.field)
            }
            (None, None) => write!(f, "{}: differs", self.field),
        }
    }
}

/// Every difference between `desired` and the gateway's `live`
/// configuration (`None`: the gateway runs no configuration at all).
pub fn drift(desired: &GatewayConfig, live: Option<&GatewayConfig>) -> Vec<Difference> {
    let Some(live) = live else {
        return vec![Difference {
            field: "configuration".into(),
            desired: Some("in force".into()),
            live: Some("none (nothing applied since boot)".into()),
        }];
    };
    let mut out = Vec::new();
    let mut field = |name: &str, desired: String, live: String| {
        if desired != live {
            out.push(Difference {
                field: name.into(),
                desired: Some(desired),
                live: Some(live),
            });
        }
    };
    field(
        "project_vlan",
        desired.project_vlan.to_string(),
        live.project_vlan.to_string(),
    );
    field(
        "public.address",
        desired.public.address.to_string(),
        live.public.address.to_string(),
    );
    field(
        "public.netmask",
        desired.public.netmask.to_string(),
        live.public.netmask.to_string(),
    );
    field(
        "public.gateway",
        desired.public.gateway.to_string(),
        live.public.gateway.to_string(),
    );
    field(
        "lan_address",
        desired.lan_address.to_string(),
        live.lan_address.to_string(),
    );
    let range = |dhcp: Option<&DhcpConfig>| match dhcp {
        Some(dhcp) => format!("{}-{}", dhcp.first, dhcp.last),
        None => "off (no DHCP server running)".into(),
    };
    field(
        "dhcp.range",
        range(desired.dhcp.as_ref()),
        range(live.dhcp.as_ref()),
    );
    if let (Some(want), Some(has)) = (&desired.dhcp, &live.dhcp) {
        field(
            "dhcp.dns_servers",
            list(&want.dns_servers),
            list(&has.dns_servers),
        );
    }
    field("snat", desired.snat.to_string(), live.snat.to_string());
    field("pptp", desired.pptp.to_string(), live.pptp.to_string());
    field(
        "toolbox_keys",
        format!("{} key(s)", desired.toolbox_keys.len()),
        match desired.toolbox_keys == live.toolbox_keys {
            true => format!("{} key(s)", desired.toolbox_keys.len()),
            false => format!("{} other key(s)", live.toolbox_keys.len()),
        },
    );

    maps(
        "nics.servers",
        " (MAC)",
        &desired.nics.servers,
        &live.nics.servers,
        &mut out,
    );

    let rules = |config: &GatewayConfig| {
        config
            .dnat
            .iter()
            .map(|r| (r.public, r.private))
            .collect::<BTreeMap<Ipv4Addr, Ipv4Addr>>()
    };
    maps("dnat", ".private", &rules(desired), &rules(live), &mut out);

    wireguard(
        desired.wireguard.as_ref(),
        live.wireguard.as_ref(),
        &mut out,
    );
    out
}

fn list(addresses: &[Ipv4Addr]) -> String {
    match addresses.is_empty() {
        true => "[] (the gateway itself)".into(),
        false => format!(
            "[{}]",
            addresses
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Keyed entries: missing, extra, or with a different value.
fn maps<K: Ord + fmt::Display, V: PartialEq + fmt::Display>(
    name: &str,
    suffix: &str,
    desired: &BTreeMap<K, V>,
    live: &BTreeMap<K, V>,
    out: &mut Vec<Difference>,
) {
    for (key, want) in desired {
        match live.get(key) {
            None => out.push(Difference {
                field: format!("{name}[{key}]"),
                desired: Some(want.to_string()),
                live: None,
            }),
            Some(has) if has != want => out.push(Difference {
                field: format!("{name}[{key}]{suffix}"),
                desired: Some(want.to_string()),
                live: Some(has.to_string()),
            }),
            Some(_) => {}
        }
    }
    for (key, has) in live {
        if !desired.contains_key(key) {
            out.push(Difference {
                field: format!("{name}[{key}]"),
                desired: None,
                live: Some(has.to_string()),
            });
        }
    }
}

fn wireguard(
    desired: Option<&WireGuardConfig>,
    live: Option<&WireGuardConfig>,
    out: &mut Vec<Difference>,
) {
    let (desired, live) = match (desired, live) {
        (None, None) => return,
        (Some(_), None) => {
            out.push(Difference {
                field: "wireguard".into(),
                desired: Some("enabled".into()),
                live: None,
            });
            return;
        }
        (None, Some(_)) => {
            out.push(Difference {
                field: "wireguard".into(),
                desired: None,
                live: Some("enabled".into()),
            });
            return;
        }
        (Some(desired), Some(live)) => (desired, live),
    };
    for (name, want, has) in [
        (
            "wireguard.listen_port",
            desired.listen_port.to_string(),
            live.listen_port.to_string(),
        ),
        (
            "wireguard.address",
            desired.address.to_string(),
            live.address.to_string(),
        ),
    ] {
        if want != has {
            out.push(Difference {
                field: name.into(),
                desired: Some(want),
                live: Some(has),
            });
        }
    }
    let peers = |config: &WireGuardConfig| {
        config
            .peers
            .iter()
            .map(|p| (p.name.clone(), Peer(p.clone())))
            .collect::<BTreeMap<_, _>>()
    };
    maps("wireguard.peers", "", &peers(desired), &peers(live), out);
}

/// A peer as drift shows it: its address and key.
#[derive(PartialEq)]
struct Peer(WireGuardPeer);

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} key {}", self.0.address, self.0.public_key)
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::*;
    use super::*;

    fn config() -> GatewayConfig {
        let nics = GatewayNics {
            lan: Mac([0xbc, 0x24, 0x11, 0, 0, 1]),
            wan: Mac([0xbc, 0x24, 0x11, 0, 0, 2]),
            servers: BTreeMap::new(),
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
        config.dnat.push(DnatRule {
            public: Ipv4Addr::new(203, 0, 113, 50),
            private: Ipv4Addr::new(192, 168, 212, 130),
        });
        config
    }

    #[test]
    fn equal_configurations_do_not_drift() {
        assert!(drift(&config(), Some(&config())).is_empty());
    }

    #[test]
    fn differences_read_well() {
        let desired = config();
        let mut live = config();
        live.dnat[0].private = Ipv4Addr::new(192, 168, 212, 131);
        live.dnat.push(DnatRule {
            public: Ipv4Addr::new(203, 0, 113, 60),
            private: Ipv4Addr::new(192, 168, 212, 140),
        });
        if let Some(dhcp) = &mut live.dhcp {
            dhcp.last = Ipv4Addr::new(192, 168, 212, 100);
        }
        live.nics
            .servers
            .insert(3001, Mac([0xbc, 0x24, 0x11, 0, 0, 3]));
        let lines: Vec<String> = drift(&desired, Some(&live))
            .iter()
            .map(|d| d.to_string())
            .collect();
        assert_eq!(
            lines,
            [
                "dhcp.range: should be 192.168.212.20-192.168.212.120, the gateway has 192.168.212.20-192.168.212.100",
                "nics.servers[3001]: on the gateway (bc:24:11:00:00:03) but not desired",
                "dnat[203.0.113.50].private: should be 192.168.212.130, the gateway has 192.168.212.131",
                "dnat[203.0.113.60]: on the gateway (192.168.212.140) but not desired",
            ]
        );
        live.dhcp = None;
        assert!(drift(&desired, Some(&live))[0]
            .to_string()
            .contains("the gateway has off (no DHCP server running)"));
        assert_eq!(
            drift(&desired, None)[0].to_string(),
            "configuration: should be in force, the gateway has none (nothing applied since boot)"
        );
    }
}
