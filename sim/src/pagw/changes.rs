//! What `giif-pagw-apply` reports having done: one line per service it had
//! to touch to get from the live state to the document. No line at all
//! means the gateway already ran this configuration.

use std::collections::{BTreeMap, BTreeSet};

use super::document::{Document, Peer, WireGuard};

pub fn between(live: Option<&Document>, want: &Document) -> Vec<String> {
    let mut out = Vec::new();
    let live = match live {
        Some(live) => live,
        None => {
            out.push("configured the gateway from scratch".into());
            return from_scratch(want, out);
        }
    };
    if live.wan != want.wan {
        out.push(format!(
            "ens19: address {} via {}",
            want.wan.address, want.wan.gateway
        ));
    }
    if live.lan != want.lan || live.project_vlan != want.project_vlan {
        out.push(format!(
            "br0: {} on project VLAN {}",
            want.lan.address, want.project_vlan
        ));
    }
    if live.dhcp != want.dhcp {
        out.push(dhcp_line(want));
    }
    if live.snat != want.snat {
        out.push(snat_line(want));
    }
    let (had, has): (BTreeSet<u16>, BTreeSet<u16>) = (
        live.bridge.bms_vlans.iter().copied().collect(),
        want.bridge.bms_vlans.iter().copied().collect(),
    );
    for vlan in has.difference(&had) {
        out.push(format!("br0: bridged BMS VLAN {vlan}"));
    }
    for vlan in had.difference(&has) {
        out.push(format!("br0: released BMS VLAN {vlan}"));
    }
    let rules = |doc: &Document| {
        doc.dnat
            .iter()
            .map(|r| (r.public, r.private))
            .collect::<BTreeMap<_, _>>()
    };
    let (old, new) = (rules(live), rules(want));
    for (public, private) in &new {
        match old.get(public) {
            None => out.push(format!("nftables: added DNAT {public} -> {private}")),
            Some(before) if before != private => out.push(format!(
                "nftables: re-pointed DNAT {public} from {before} to {private}"
            )),
            Some(_) => {}
        }
    }
    for (public, private) in &old {
        if !new.contains_key(public) {
            out.push(format!("nftables: removed DNAT {public} -> {private}"));
        }
    }
    wireguard(live.wireguard.as_ref(), want.wireguard.as_ref(), &mut out);
    if live.pptp != want.pptp {
        out.push(pptp_line(want));
    }
    out
}

fn from_scratch(want: &Document, mut out: Vec<String>) -> Vec<String> {
    out.push(format!(
        "ens19: address {} via {}",
        want.wan.address, want.wan.gateway
    ));
    out.push(format!(
        "br0: {} on project VLAN {}",
        want.lan.address, want.project_vlan
    ));
    out.push(dhcp_line(want));
    out.push(snat_line(want));
    for vlan in &want.bridge.bms_vlans {
        out.push(format!("br0: bridged BMS VLAN {vlan}"));
    }
    for rule in &want.dnat {
        out.push(format!(
            "nftables: added DNAT {} -> {}",
            rule.public, rule.private
        ));
    }
    wireguard(None, want.wireguard.as_ref(), &mut out);
    if want.pptp {
        out.push(pptp_line(want));
    }
    out
}

fn dhcp_line(want: &Document) -> String {
    let dns: Vec<String> = want
        .dhcp
        .dns_servers
        .iter()
        .map(|a| a.to_string())
        .collect();
    let dns = if dns.is_empty() {
        want.lan.address.address.to_string()
    } else {
        dns.join(",")
    };
    format!(
        "dnsmasq: DHCP {}-{}, DNS {dns}",
        want.dhcp.first, want.dhcp.last
    )
}

fn snat_line(want: &Document) -> String {
    match want.snat {
        true => format!(
            "nftables: SNAT {} to {}",
            super::validate::LAN,
            want.wan.address.address
        ),
        false => "nftables: no SNAT".into(),
    }
}

fn pptp_line(want: &Document) -> String {
    match want.pptp {
        true => "pptpd: started".into(),
        false => "pptpd: stopped".into(),
    }
}

fn wireguard(live: Option<&WireGuard>, want: Option<&WireGuard>, out: &mut Vec<String>) {
    let (live, want) = match (live, want) {
        (None, None) => return,
        (Some(_), None) => {
            out.push("wg0: removed".into());
            return;
        }
        (None, Some(want)) => {
            out.push(format!(
                "wg0: up, {} port {}",
                want.address, want.listen_port
            ));
            for peer in &want.peers {
                out.push(format!("wg0: added peer {} ({})", peer.name, peer.address));
            }
            return;
        }
        (Some(live), Some(want)) => (live, want),
    };
    if live.address != want.address || live.listen_port != want.listen_port {
        out.push(format!("wg0: {} port {}", want.address, want.listen_port));
    }
    let by_name = |wg: &WireGuard| {
        wg.peers
            .iter()
            .map(|p| (p.name.clone(), p.clone()))
            .collect::<BTreeMap<String, Peer>>()
    };
    let (old, new) = (by_name(live), by_name(want));
    for (name, peer) in &new {
        match old.get(name) {
            None => out.push(format!("wg0: added peer {name} ({})", peer.address)),
            Some(before) if before != peer => {
                out.push(format!("wg0: updated peer {name} ({})", peer.address))
            }
            Some(_) => {}
        }
    }
    for name in old.keys() {
        if !new.contains_key(name) {
            out.push(format!("wg0: removed peer {name}"));
        }
    }
}
