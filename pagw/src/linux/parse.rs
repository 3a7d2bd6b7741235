//! Reading what the kernel's tools print: `ip -j addr`, `ip -j route`,
//! `nft -j list table inet giif` and `wg show`.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde_json::Value;

use crate::document::Cidr;
use crate::observed::{ForwardRule, Link, Nat};

/// `ip -j addr show`: every link with its IPv4 addresses.
pub fn links(json: &str) -> Result<Vec<Link>, String> {
    let entries: Vec<Value> = serde_json::from_str(json).map_err(|e| format!("ip -j addr: {e}"))?;
    let mut out = Vec::new();
    for entry in entries {
        let Some(name) = entry["ifname"].as_str() else {
            continue;
        };
        if name == "lo" {
            continue;
        }
        let ether = entry["link_type"].as_str() == Some("ether");
        let flags: Vec<&str> = entry["flags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let addresses = entry["addr_info"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["family"].as_str() == Some("inet"))
            .filter_map(|a| {
                Some(Cidr::new(
                    a["local"].as_str()?.parse().ok()?,
                    a["prefixlen"].as_u64()? as u8,
                ))
            })
            .collect();
        out.push(Link {
            name: name.to_string(),
            mac: ether
                .then(|| entry["address"].as_str().and_then(|m| m.parse().ok()))
                .flatten(),
            master: entry["master"].as_str().map(str::to_string),
            up: flags.contains(&"UP"),
            addresses,
            bridge: entry["linkinfo"]["info_kind"].as_str() == Some("bridge"),
        });
    }
    Ok(out)
}

/// `ip -j route show default`: the IPv4 default route.
pub fn default_route(json: &str) -> Result<Option<(Ipv4Addr, String)>, String> {
    let routes: Vec<Value> = serde_json::from_str(json).map_err(|e| format!("ip -j route: {e}"))?;
    Ok(routes.iter().find_map(|route| {
        Some((
            route["gateway"].as_str()?.parse().ok()?,
            route["dev"].as_str()?.to_string(),
        ))
    }))
}

/// `nft -j list table inet giif`: the rules giif writes, and a line for
/// everything else.
pub fn nat(json: &str) -> Result<Nat, String> {
    let root: Value = serde_json::from_str(json).map_err(|e| format!("nft -j: {e}"))?;
    let mut nat = Nat::default();
    let mut chains = BTreeMap::new();
    for item in root["nftables"].as_array().into_iter().flatten() {
        if let Some(chain) = item.get("chain") {
            let name = chain["name"].as_str().unwrap_or_default().to_string();
            let ours = match name.as_str() {
                "prerouting" => chain_is(chain, "nat", "prerouting", -100),
                "postrouting" => chain_is(chain, "nat", "postrouting", 100),
                "forward" => chain_is(chain, "filter", "forward", 0),
                _ => false,
            };
            if !ours {
                nat.foreign.push(format!("chain {name} ({})", brief(chain)));
            }
            chains.insert(name, ours);
        } else if let Some(rule) = item.get("rule") {
            let chain = rule["chain"].as_str().unwrap_or_default();
            let expr = rule["expr"].as_array().cloned().unwrap_or_default();
            let known = chains.get(chain).copied().unwrap_or(false)
                && match chain {
                    "prerouting" => dnat_rule(&expr).map(|(p, q)| nat.dnat.insert(p, q).is_none()),
                    "forward" => forward_rule(&expr).map(|rule| {
                        nat.forward.push(rule);
                        true
                    }),
                    _ => snat_rule(&expr)
                        .map(|(q, p, via)| nat.snat.insert(q, (p, via)).is_none())
                        .or_else(|| {
                            masquerade_rule(&expr).map(|m| {
                                nat.masquerade.push(m);
                                true
                            })
                        }),
                }
                .unwrap_or(false);
            if !known {
                nat.foreign.push(format!(
                    "rule in chain {chain} ({})",
                    brief(&Value::Array(expr))
                ));
            }
        }
    }
    Ok(nat)
}

fn chain_is(chain: &Value, kind: &str, hook: &str, priority: i64) -> bool {
    chain["type"].as_str() == Some(kind)
        && chain["hook"].as_str() == Some(hook)
        && chain["prio"].as_i64() == Some(priority)
        && chain["policy"].as_str() == Some("accept")
}

fn brief(value: &Value) -> String {
    let mut text = value.to_string();
    if text.len() > 160 {
        text.truncate(157);
        text.push_str("...");
    }
    text
}

/// `{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": F}}, "right": R}}`
fn ip_match<'a>(expr: &'a Value, field: &str) -> Option<&'a Value> {
    let m = expr.get("match")?;
    (m["op"] == "=="
        && m["left"]["payload"]["protocol"] == "ip"
        && m["left"]["payload"]["field"] == field)
        .then_some(&m["right"])
}

fn oifname(expr: &Value) -> Option<String> {
    let m = expr.get("match")?;
    (m["op"] == "==" && m["left"]["meta"]["key"] == "oifname")
        .then(|| m["right"].as_str().map(str::to_string))?
}

fn addr(value: &Value) -> Option<Ipv4Addr> {
    value.as_str()?.parse().ok()
}

fn dnat_rule(expr: &[Value]) -> Option<(Ipv4Addr, Ipv4Addr)> {
    match expr {
        [daddr, dnat] if dnat["dnat"]["family"] == "ip" && dnat["dnat"].as_object()?.len() == 2 => {
            Some((
                addr(ip_match(daddr, "daddr")?)?,
                addr(&dnat["dnat"]["addr"])?,
            ))
        }
        _ => None,
    }
}

fn snat_rule(expr: &[Value]) -> Option<(Ipv4Addr, Ipv4Addr, String)> {
    match expr {
        [saddr, oif, snat]
            if snat["snat"]["family"] == "ip" && snat["snat"].as_object()?.len() == 2 =>
        {
            Some((
                addr(ip_match(saddr, "saddr")?)?,
                addr(&snat["snat"]["addr"])?,
                oifname(oif)?,
            ))
        }
        _ => None,
    }
}

fn masquerade_rule(expr: &[Value]) -> Option<(Cidr, String)> {
    match expr {
        [saddr, oif, masquerade] if masquerade.get("masquerade").is_some_and(Value::is_null) => {
            let prefix = &ip_match(saddr, "saddr")?["prefix"];
            let net = Cidr::new(addr(&prefix["addr"])?, prefix["len"].as_u64()? as u8);
            Some((net, oifname(oif)?))
        }
        _ => None,
    }
}

fn forward_rule(expr: &[Value]) -> Option<ForwardRule> {
    let [matched, verdict] = expr else {
        return None;
    };
    let m = matched.get("match")?;
    let accept = verdict.get("accept").is_some_and(Value::is_null);
    let drop = verdict.get("drop").is_some_and(Value::is_null);
    match (
        m["left"]["ct"]["key"].as_str(),
        m["left"]["meta"]["key"].as_str(),
    ) {
        (Some("state"), _)
            if accept
                && m["op"] == "in"
                && m["right"] == serde_json::json!(["established", "related"]) =>
        {
            Some(ForwardRule::Established)
        }
        (Some("status"), _) if accept && m["op"] == "in" && m["right"] == "dnat" => {
            Some(ForwardRule::Dnat)
        }
        (_, Some("iifname")) if drop && m["op"] == "==" => {
            Some(ForwardRule::DropFrom(m["right"].as_str()?.to_string()))
        }
        _ => None,
    }
}

/// `wg show wg0 allowed-ips`: one `KEY<TAB>A/N A/N` line per peer.
pub fn wireguard_peers(text: &str) -> BTreeMap<String, Vec<Cidr>> {
    text.lines()
        .filter_map(|line| {
            let (key, allowed) = line.split_once('\t')?;
            let allowed = allowed
                .split_whitespace()
                .filter_map(|a| a.parse().ok())
                .collect();
            Some((key.to_string(), allowed))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // What nft 1.0.6 (Debian 12) prints for the table nft_script writes,
    // after a hand-added rule.
    const NFT: &str = r#"{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "inet", "name": "giif", "handle": 2}}, {"chain": {"family": "inet", "table": "giif", "name": "prerouting", "handle": 1, "type": "nat", "hook": "prerouting", "prio": -100, "policy": "accept"}}, {"chain": {"family": "inet", "table": "giif", "name": "postrouting", "handle": 2, "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}}, {"rule": {"family": "inet", "table": "giif", "chain": "prerouting", "handle": 3, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "203.0.113.50"}}, {"dnat": {"family": "ip", "addr": "192.168.212.130"}}]}}, {"rule": {"family": "inet", "table": "giif", "chain": "postrouting", "handle": 4, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "192.168.212.130"}}, {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "ens19"}}, {"snat": {"family": "ip", "addr": "203.0.113.50"}}]}}, {"rule": {"family": "inet", "table": "giif", "chain": "postrouting", "handle": 5, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": {"prefix": {"addr": "192.168.212.0", "len": 24}}}}, {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "ens19"}}, {"masquerade": null}]}}, {"rule": {"family": "inet", "table": "giif", "chain": "prerouting", "handle": 6, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"accept": null}]}}, {"chain": {"family": "inet", "table": "giif", "name": "forward", "handle": 7, "type": "filter", "hook": "forward", "prio": 0, "policy": "accept"}}, {"rule": {"family": "inet", "table": "giif", "chain": "forward", "handle": 8, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"accept": null}]}}, {"rule": {"family": "inet", "table": "giif", "chain": "forward", "handle": 9, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}}, {"accept": null}]}}, {"rule": {"family": "inet", "table": "giif", "chain": "forward", "handle": 10, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "ens19"}}, {"drop": null}]}}]}"#;

    #[test]
    fn nft_json_reads_back_as_the_rules_giif_wrote_plus_the_rest() {
        let nat = nat(NFT).unwrap();
        assert_eq!(
            nat.dnat.get(&Ipv4Addr::new(203, 0, 113, 50)),
            Some(&Ipv4Addr::new(192, 168, 212, 130))
        );
        assert_eq!(
            nat.snat.get(&Ipv4Addr::new(192, 168, 212, 130)),
            Some(&(Ipv4Addr::new(203, 0, 113, 50), "ens19".to_string()))
        );
        assert_eq!(
            nat.masquerade,
            [("192.168.212.0/24".parse().unwrap(), "ens19".to_string())]
        );
        assert_eq!(
            nat.forward,
            [
                ForwardRule::Established,
                ForwardRule::Dnat,
                ForwardRule::DropFrom("ens19".into())
            ]
        );
        assert_eq!(nat.foreign.len(), 1);
        assert!(
            nat.foreign[0].starts_with("rule in chain prerouting"),
            "{:?}",
            nat.foreign
        );
    }

    #[test]
    fn ip_json_reads_links_macs_and_masters() {
        let json = r#"[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP"],"link_type":"loopback","address":"00:00:00:00:00:00","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8}]},
          {"ifindex":2,"ifname":"ens18","flags":["BROADCAST","UP"],"master":"br0","link_type":"ether","address":"bc:24:11:00:00:01","addr_info":[]},
          {"ifindex":3,"ifname":"br0","flags":["BROADCAST"],"link_type":"ether","address":"bc:24:11:00:00:01","linkinfo":{"info_kind":"bridge"},"addr_info":[{"family":"inet","local":"192.168.212.1","prefixlen":24},{"family":"inet6","local":"fe80::1","prefixlen":64}]},
          {"ifindex":4,"ifname":"wg0","flags":["POINTOPOINT","UP"],"link_type":"none","addr_info":[{"family":"inet","local":"192.168.213.1","prefixlen":24}]}]"#;
        let links = links(json).unwrap();
        assert_eq!(links.len(), 3);
        assert_eq!(links[0].master.as_deref(), Some("br0"));
        assert!(links[1].bridge && !links[1].up);
        assert_eq!(links[1].addresses, ["192.168.212.1/24".parse().unwrap()]);
        assert_eq!(links[2].mac, None);
        assert_eq!(
            default_route(
                r#"[{"dst":"default","gateway":"203.0.113.1","dev":"ens19","flags":[]}]"#
            )
            .unwrap(),
            Some((Ipv4Addr::new(203, 0, 113, 1), "ens19".to_string()))
        );
    }
}
