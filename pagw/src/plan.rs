//! From what runs to what the document says: the steps that close the gap,
//! each described for the apply report, and the way back (the live state
//! as a document). An empty plan means the gateway already runs the
//! document; that is what "no change" and "in sync" are.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use crate::document::*;
use crate::observed::*;

/// One change to the running system. Steps run in plan order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    IpForward,
    SetUp {
        link: String,
    },
    CreateBridge,
    Enslave {
        link: String,
        role: String,
    },
    Release {
        link: String,
    },
    Addresses {
        link: String,
        add: Vec<Cidr>,
        remove: Vec<Cidr>,
    },
    DefaultRoute {
        via: Ipv4Addr,
        link: String,
    },
    /// Replace table `inet giif` (atomically) with `nat`.
    Nat {
        nat: Nat,
        changes: Vec<String>,
        /// Floating IPs whose rules went or changed: their tracked
        /// connections are forgotten, so no old flow keeps its old NAT.
        forget: Vec<Ipv4Addr>,
    },
    /// (Re)start dnsmasq with this configuration.
    StartDhcp {
        conf: String,
    },
    StopDhcp,
    /// Make wg0 exist with its key pair, this port, address and peers.
    WireGuard {
        config: WireGuard,
        remove_peers: Vec<String>,
        changes: Vec<String>,
    },
    RemoveWireGuard,
    StartPptp {
        conf: String,
    },
    StopPptp,
    /// Write the toolbox account's `authorized_keys` (`None`: remove it).
    Toolbox {
        authorized_keys: Option<String>,
    },
}

impl Step {
    /// The line the apply report prints for this step.
    pub fn describe(&self) -> Vec<String> {
        match self {
            Self::IpForward => vec!["sysctl: enabled IPv4 forwarding".into()],
            Self::SetUp { link } => vec![format!("{link}: set up")],
            Self::CreateBridge => vec![format!("{BRIDGE}: created the LAN bridge")],
            Self::Enslave { link, role } => vec![format!("{link}: enslaved to {BRIDGE} ({role})")],
            Self::Release { link } => vec![format!("{link}: released from {BRIDGE}")],
            Self::Addresses { link, add, remove } => add
                .iter()
                .map(|a| format!("{link}: added address {a}"))
                .chain(
                    remove
                        .iter()
                        .map(|a| format!("{link}: removed address {a}")),
                )
                .collect(),
            Self::DefaultRoute { via, link } => {
                vec![format!("route: default via {via} dev {link}")]
            }
            Self::Nat { changes, .. } | Self::WireGuard { changes, .. } => changes.clone(),
            Self::StartDhcp { .. } => {
                vec!["dnsmasq: (re)started with the DHCP range and DNS servers".into()]
            }
            Self::StopDhcp => vec!["dnsmasq: stopped (DHCP off)".into()],
            Self::RemoveWireGuard => vec![format!("{WIREGUARD_DEVICE}: removed (WireGuard off)")],
            Self::StartPptp { .. } => vec!["pptpd: (re)started".into()],
            Self::StopPptp => vec!["pptpd: stopped (PPTP off)".into()],
            Self::Toolbox {
                authorized_keys: Some(_),
            } => vec![format!("{TOOLBOX_USER}: wrote the toolbox keys")],
            Self::Toolbox {
                authorized_keys: None,
            } => vec![format!("{TOOLBOX_USER}: removed the toolbox keys")],
        }
    }
}

/// Why a document cannot be planned on this gateway right now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanError {
    /// The document is not for this gateway: refuse for good.
    Refused(Vec<String>),
    /// A NIC it names is not (yet) there, as right after a hot-plug: try again.
    NotYet(String),
}

/// The dnsmasq configuration for a document's DHCP settings.
pub fn dnsmasq_conf(doc: &Document, dhcp: &Dhcp, leases: &str) -> String {
    let lan = doc.lan.address;
    // Without a dns-server option dnsmasq hands out itself, and forwards.
    let dns = match dhcp.dns_servers.is_empty() {
        true => String::new(),
        false => format!(
            "dhcp-option=option:dns-server,{}\n",
            dhcp.dns_servers
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        ),
    };
    format!(
        "# Written by giif-pagw-apply from /etc/giif/pagw.json; edits are drift.\n\
         interface={BRIDGE}\n\
         bind-interfaces\n\
         dhcp-authoritative\n\
         dhcp-range={},{},{},12h\n\
         dhcp-option=option:router,{}\n\
         {dns}\
         dhcp-leasefile={leases}\n",
        dhcp.first,
        dhcp.last,
        lan.netmask(),
        lan.address,
    )
}

/// The DHCP settings of a dnsmasq configuration this tool wrote.
pub fn dhcp_of_conf(conf: &str) -> Option<Dhcp> {
    let mut range = None;
    let mut dns_servers = Vec::new();
    for line in conf.lines() {
        if let Some(value) = line.strip_prefix("dhcp-range=") {
            let mut parts = value.split(',');
            let first = parts.next()?.parse().ok()?;
            let last = parts.next()?.parse().ok()?;
            range = Some((first, last));
        } else if let Some(value) = line.strip_prefix("dhcp-option=option:dns-server,") {
            dns_servers = value.split(',').filter_map(|a| a.parse().ok()).collect();
        }
    }
    let (first, last) = range?;
    Some(Dhcp {
        first,
        last,
        dns_servers,
    })
}

/// Where the toolbox account's keys may only run the toolbox.
pub const TOOLBOX_COMMAND: &str = "/usr/sbin/giif-pagw-toolbox";

/// The toolbox account's `authorized_keys`: every key restricted to the
/// toolbox command (no forwarding, no other command).
pub fn toolbox_authorized_keys(toolbox: &Toolbox) -> String {
    let mut text =
        String::from("# Written by giif-pagw-apply from /etc/giif/pagw.json; edits are drift.\n");
    for key in &toolbox.authorized_keys {
        text.push_str(&format!(
            "restrict,pty,command=\"{TOOLBOX_COMMAND}\" {key}\n"
        ));
    }
    text
}

/// The pptpd configuration for a gateway.
pub fn pptpd_conf(doc: &Document) -> String {
    format!(
        "# Written by giif-pagw-apply from /etc/giif/pagw.json; edits are drift.\n\
         option /etc/ppp/pptpd-options\n\
         localip {}\n\
         remoteip {}-{}\n",
        doc.lan.address.address,
        PPTP_FIRST,
        PPTP_LAST.octets()[3],
    )
}

/// Table `inet giif` as a document wants it, `wan` being the WAN link.
pub fn expected_nat(doc: &Document, wan: &str) -> Nat {
    let lan = Cidr::new(doc.lan.address.network(), doc.lan.address.prefix);
    Nat {
        masquerade: match doc.snat {
            true => vec![(lan, wan.to_string())],
            false => Vec::new(),
        },
        dnat: doc.dnat.iter().map(|r| (r.public, r.private)).collect(),
        snat: doc
            .dnat
            .iter()
            .map(|r| (r.private, (r.public, wan.to_string())))
            .collect(),
        forward: vec![
            ForwardRule::Established,
            ForwardRule::Dnat,
            ForwardRule::DropFrom(wan.to_string()),
        ],
        foreign: Vec::new(),
    }
}

/// The nft script that replaces table `inet giif` with `nat` in one
/// transaction. Declaring the table first makes the delete succeed when
/// there is none; deleting (not flushing) drops every chain and rule
/// someone else added.
pub fn nft_script(nat: &Nat) -> String {
    let mut prerouting = String::new();
    for (public, private) in &nat.dnat {
        prerouting.push_str(&format!("    ip daddr {public} dnat ip to {private}\n"));
    }
    let mut postrouting = String::new();
    for (private, (public, wan)) in &nat.snat {
        postrouting.push_str(&format!(
            "    ip saddr {private} oifname \"{wan}\" snat ip to {public}\n"
        ));
    }
    for (net, wan) in &nat.masquerade {
        postrouting.push_str(&format!(
            "    ip saddr {net} oifname \"{wan}\" masquerade\n"
        ));
    }
    let mut forward = String::new();
    for rule in &nat.forward {
        forward.push_str(&match rule {
            ForwardRule::Established => "    ct state established,related accept\n".to_string(),
            ForwardRule::Dnat => "    ct status dnat accept\n".to_string(),
            ForwardRule::DropFrom(wan) => format!("    iifname \"{wan}\" drop\n"),
        });
    }
    format!(
        "table inet giif\n\
         delete table inet giif\n\
         table inet giif {{\n\
         \x20 chain prerouting {{\n    type nat hook prerouting priority dstnat; policy accept;\n{prerouting}  }}\n\
         \x20 chain postrouting {{\n    type nat hook postrouting priority srcnat; policy accept;\n{postrouting}  }}\n\
         \x20 chain forward {{\n    type filter hook forward priority filter; policy accept;\n{forward}  }}\n\
         }}\n"
    )
}

fn nat_changes(live: Option<&Nat>, want: &Nat) -> Vec<String> {
    let empty = Nat::default();
    let had = live.unwrap_or(&empty);
    let mut out = Vec::new();
    if live.is_none() {
        out.push("nftables: created table inet giif".into());
    }
    if had.forward != want.forward {
        out.push("nftables: the WAN reaches the project only through floating IPs".into());
    }
    if had.masquerade != want.masquerade {
        out.push(match want.masquerade.is_empty() {
            true => "nftables: SNAT (masquerade) off".into(),
            false => format!(
                "nftables: masquerade {} behind the WAN address",
                want.masquerade[0].0
            ),
        });
    }
    for (public, private) in &want.dnat {
        match had.dnat.get(public) {
            None => out.push(format!("nftables: added DNAT {public} -> {private}")),
            Some(before) if before != private => out.push(format!(
                "nftables: re-pointed DNAT {public} from {before} to {private}"
            )),
            Some(_) if had.snat.get(private) != want.snat.get(private) => {
                out.push(format!("nftables: restored SNAT {private} -> {public}"))
            }
            Some(_) => {}
        }
    }
    for public in had.dnat.keys().filter(|p| !want.dnat.contains_key(p)) {
        out.push(format!("nftables: removed DNAT {public}"));
    }
    for foreign in &had.foreign {
        out.push(format!("nftables: removed {foreign} (not written by giif)"));
    }
    if out.is_empty() {
        out.push("nftables: rewrote table inet giif".into());
    }
    out
}

/// The steps from `live` to `want` (a validated document), in order.
/// `previous`, the stored document, only names what is being removed.
pub fn plan(
    live: &Observed,
    want: &Document,
    previous: Option<&Document>,
    leases: &str,
) -> Result<Vec<Step>, PlanError> {
    let mut steps = Vec::new();
    let name_of = |mac: Mac, field: String| {
        live.link_by_mac(mac)
            .map(|link| link.name.clone())
            .ok_or_else(|| PlanError::NotYet(format!("{field}: no interface has MAC {mac} (yet)")))
    };
    let wan = name_of(want.nics.wan, "nics.wan".into())?;
    let lan = name_of(want.nics.lan, "nics.lan".into())?;
    let mut members = vec![(lan, "lan".to_string())];
    for nic in &want.nics.servers {
        let name = name_of(nic.mac, format!("nics.servers[{}]", nic.vlan))?;
        members.push((name, format!("server segment, VLAN {}", nic.vlan)));
    }
    if let Some(ours) = live.identity(want.nics.wan) {
        if ours != want.wan.address {
            return Err(PlanError::Refused(vec![format!(
                "wan.address: {} is not this gateway's address {ours} (set by cloud-init); refusing a configuration meant for another gateway",
                want.wan.address
            )]));
        }
    }

    if !live.ip_forward {
        steps.push(Step::IpForward);
    }
    let up = |steps: &mut Vec<Step>, name: &str| {
        if live.link(name).is_some_and(|link| !link.up) {
            steps.push(Step::SetUp {
                link: name.to_string(),
            });
        }
    };
    up(&mut steps, &wan);

    // The LAN bridge and its members.
    let bridge = live.link(BRIDGE);
    if bridge.is_none() {
        steps.push(Step::CreateBridge);
    }
    push_addresses(
        &mut steps,
        BRIDGE,
        bridge.map(|b| b.addresses.as_slice()).unwrap_or(&[]),
        &[want.lan.address],
    );
    if bridge.is_none_or(|b| !b.up) {
        steps.push(Step::SetUp {
            link: BRIDGE.into(),
        });
    }
    let member_names: BTreeSet<&str> = members.iter().map(|(name, _)| name.as_str()).collect();
    for (name, role) in &members {
        let link = live.link(name);
        if link.and_then(|l| l.master.as_deref()) != Some(BRIDGE) || link.is_some_and(|l| !l.up) {
            steps.push(Step::Enslave {
                link: name.clone(),
                role: role.clone(),
            });
        }
    }
    // A bridge port carries no address of its own (cloud-init may have put
    // one there at boot); the bridge has the LAN address.
    for (name, _) in &members {
        if let Some(link) = live.link(name).filter(|l| !l.addresses.is_empty()) {
            push_addresses(&mut steps, name, &link.addresses, &[]);
        }
    }
    for link in &live.links {
        if link.master.as_deref() == Some(BRIDGE) && !member_names.contains(link.name.as_str()) {
            steps.push(Step::Release {
                link: link.name.clone(),
            });
        }
    }

    // The WAN side: its address, the floating IPs, the default route.
    let mut wan_want = vec![want.wan.address];
    wan_want.extend(want.dnat.iter().map(|rule| Cidr::new(rule.public, 32)));
    let wan_has = live
        .link(&wan)
        .map(|l| l.addresses.clone())
        .unwrap_or_default();
    push_addresses(&mut steps, &wan, &wan_has, &wan_want);
    if live.default_route != Some((want.wan.gateway, wan.clone())) {
        steps.push(Step::DefaultRoute {
            via: want.wan.gateway,
            link: wan.clone(),
        });
    }

    let nat = expected_nat(want, &wan);
    if live.nat.as_ref() != Some(&nat) {
        let changes = nat_changes(live.nat.as_ref(), &nat);
        let had = live
            .nat
            .as_ref()
            .map(|n| n.dnat.clone())
            .unwrap_or_default();
        let forget = had
            .iter()
            .filter(|(public, private)| nat.dnat.get(public) != Some(private))
            .map(|(public, _)| *public)
            .collect();
        steps.push(Step::Nat {
            nat,
            changes,
            forget,
        });
    }

    match (&want.dhcp, &live.dhcp) {
        (Some(dhcp), running) => {
            let conf = dnsmasq_conf(want, dhcp, leases);
            // dnsmasq stays bound to a br0 that was deleted and made again.
            let new_bridge = steps.contains(&Step::CreateBridge);
            if running.as_ref() != Some(&conf) || new_bridge {
                steps.push(Step::StartDhcp { conf });
            }
        }
        (None, Some(_)) => steps.push(Step::StopDhcp),
        (None, None) => {}
    }

    match (&want.wireguard, &live.wireguard) {
        (Some(config), device) => {
            if let Some(step) = wireguard_step(live, config, device.as_ref(), previous) {
                steps.push(step);
            }
        }
        (None, Some(_)) => steps.push(Step::RemoveWireGuard),
        (None, None) => {}
    }

    match (want.pptp, &live.pptp) {
        (true, running) => {
            let conf = pptpd_conf(want);
            if running.as_ref() != Some(&conf) {
                steps.push(Step::StartPptp { conf });
            }
        }
        (false, Some(_)) => steps.push(Step::StopPptp),
        (false, None) => {}
    }

    let keys = want.toolbox.as_ref().map(toolbox_authorized_keys);
    if keys != live.toolbox {
        steps.push(Step::Toolbox {
            authorized_keys: keys,
        });
    }
    Ok(steps)
}

fn push_addresses(steps: &mut Vec<Step>, link: &str, has: &[Cidr], want: &[Cidr]) {
    let add: Vec<Cidr> = want.iter().filter(|a| !has.contains(a)).copied().collect();
    let remove: Vec<Cidr> = has.iter().filter(|a| !want.contains(a)).copied().collect();
    if !add.is_empty() || !remove.is_empty() {
        steps.push(Step::Addresses {
            link: link.to_string(),
            add,
            remove,
        });
    }
}

fn wireguard_step(
    live: &Observed,
    config: &WireGuard,
    device: Option<&WireGuardDevice>,
    previous: Option<&Document>,
) -> Option<Step> {
    let mut changes = Vec::new();
    let address = live
        .link(WIREGUARD_DEVICE)
        .map(|l| l.addresses.clone())
        .unwrap_or_default();
    let up = live.link(WIREGUARD_DEVICE).is_some_and(|l| l.up);
    match device {
        None => changes.push(format!(
            "{WIREGUARD_DEVICE}: created, listening on {}",
            config.listen_port
        )),
        Some(device) => {
            if device.listen_port != config.listen_port {
                changes.push(format!(
                    "{WIREGUARD_DEVICE}: listening on {}",
                    config.listen_port
                ));
            }
            if device.public_key.is_none() {
                changes.push(format!("{WIREGUARD_DEVICE}: set its private key"));
            }
        }
    }
    if device.is_some() && (address != [config.address] || !up) {
        changes.push(format!("{WIREGUARD_DEVICE}: address {}", config.address));
    }
    let had = device.map(|d| d.peers.clone()).unwrap_or_default();
    let want: BTreeMap<&str, Vec<Cidr>> = config
        .peers
        .iter()
        .map(|p| (p.public_key.as_str(), vec![Cidr::new(p.address, 32)]))
        .collect();
    for peer in &config.peers {
        match had.get(&peer.public_key) {
            None => changes.push(format!(
                "{WIREGUARD_DEVICE}: added peer {} ({})",
                peer.name, peer.address
            )),
            Some(allowed) if *allowed != want[peer.public_key.as_str()] => changes.push(format!(
                "{WIREGUARD_DEVICE}: peer {} now at {}",
                peer.name, peer.address
            )),
            Some(_) => {}
        }
    }
    let remove_peers: Vec<String> = had
        .keys()
        .filter(|k| !want.contains_key(k.as_str()))
        .cloned()
        .collect();
    let known = previous
        .and_then(|doc| doc.wireguard.as_ref())
        .map(|wg| wg.peers.as_slice())
        .unwrap_or_default();
    for key in &remove_peers {
        let name = known
            .iter()
            .find(|p| &p.public_key == key)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| short_key(key));
        changes.push(format!("{WIREGUARD_DEVICE}: removed peer {name}"));
    }
    (!changes.is_empty()).then(|| Step::WireGuard {
        config: config.clone(),
        remove_peers,
        changes,
    })
}

fn short_key(key: &str) -> String {
    format!("{}...", key.chars().take(8).collect::<String>())
}

/// The live state as a document, framed by the stored one: what carries
/// packets (addresses, routes, NAT, DHCP, WireGuard, PPTP) is read live;
/// what the guest cannot see (VLAN ids, peer names) comes from the frame.
/// A server NIC that is not enslaved is left out; a peer the frame does
/// not know is named after its key.
pub fn live_document(live: &Observed, frame: &Document) -> Document {
    let mut doc = frame.clone();
    doc.nics.servers.retain(|nic| {
        live.link_by_mac(nic.mac)
            .is_some_and(|link| link.master.as_deref() == Some(BRIDGE))
    });
    let wan = live.link_by_mac(frame.nics.wan);
    if let Some(identity) = live.identity(frame.nics.wan) {
        doc.wan.address = identity;
    }
    if let Some((via, _)) = &live.default_route {
        doc.wan.gateway = *via;
    }
    if let Some(address) = live.link(BRIDGE).and_then(|b| b.addresses.first()) {
        doc.lan.address = *address;
    }
    doc.dhcp = live.dhcp.as_deref().and_then(dhcp_of_conf);
    let wan_name = wan.map(|l| l.name.as_str()).unwrap_or_default();
    let lan_net = Cidr::new(doc.lan.address.network(), doc.lan.address.prefix);
    let nat = live.nat.clone().unwrap_or_default();
    doc.snat = nat
        .masquerade
        .iter()
        .any(|(net, via)| *net == lan_net && via == wan_name);
    // A floating IP works only with its DNAT rule, its SNAT rule and its
    // address on the WAN NIC.
    let on_wan =
        |public: Ipv4Addr| wan.is_some_and(|l| l.addresses.contains(&Cidr::new(public, 32)));
    doc.dnat = nat
        .dnat
        .iter()
        .filter(|(public, private)| {
            nat.snat
                .get(private)
                .is_some_and(|(p, via)| p == *public && via == wan_name)
                && on_wan(**public)
        })
        .map(|(public, private)| Dnat {
            public: *public,
            private: *private,
        })
        .collect();
    doc.wireguard = live.wireguard.as_ref().map(|device| {
        let names: BTreeMap<&str, &str> = frame
            .wireguard
            .iter()
            .flat_map(|wg| wg.peers.iter())
            .map(|p| (p.public_key.as_str(), p.name.as_str()))
            .collect();
        WireGuard {
            listen_port: device.listen_port,
            address: live
                .link(WIREGUARD_DEVICE)
                .and_then(|l| l.addresses.first().copied())
                .unwrap_or(Cidr::new(Ipv4Addr::UNSPECIFIED, 0)),
            peers: device
                .peers
                .iter()
                .map(|(key, allowed)| Peer {
                    name: names
                        .get(key.as_str())
                        .map(|n| n.to_string())
                        .unwrap_or_else(|| {
                            format!(
                                "unknown-{}",
                                key.chars()
                                    .filter(|c| c.is_ascii_alphanumeric())
                                    .take(8)
                                    .collect::<String>()
                            )
                        }),
                    public_key: key.clone(),
                    address: allowed
                        .first()
                        .map(|a| a.address)
                        .unwrap_or(Ipv4Addr::UNSPECIFIED),
                })
                .collect(),
        }
    });
    doc.pptp = live.pptp.is_some();
    doc.toolbox = live.toolbox.as_deref().map(|text| Toolbox {
        authorized_keys: text
            .lines()
            .filter_map(|line| {
                line.strip_prefix(&format!("restrict,pty,command=\"{TOOLBOX_COMMAND}\" "))
            })
            .map(str::to_string)
            .collect(),
    });
    doc.canonical()
}
