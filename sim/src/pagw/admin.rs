//! Admin routes under `/pagw`: read every gateway, and change a running
//! gateway's live state behind its configuration file's back (the way an
//! operator with a root shell would), so tests can check drift handling.
//! Each change answers with the slot's state, whose `drift` and `in_sync`
//! are what `giif-pagw-show` then reports.
//!
//! - `GET /`, `GET /{public_ip}`: slots, their VMs, stored file and live state
//! - `DELETE /{public_ip}/dnat/{floating_ip}`: delete one DNAT rule and its SNAT rule
//! - `PUT /{public_ip}/dhcp` `{"first","last","dns_servers"?}`: rewrite the running dnsmasq's range
//! - `POST /{public_ip}/dnsmasq/stop`: stop dnsmasq
//! - `DELETE /{public_ip}/wireguard/peers/{name}`: `wg set wg0 peer KEY remove`,
//!   KEY being the key the stored file gives `name`
//! - `PUT /{public_ip}/snat` `{"enabled": bool}`: delete or restore the masquerade rule
//! - `PUT /{public_ip}/pptp` `{"enabled": bool}`: stop or start pptpd
//! - `POST /{public_ip}/nft/foreign` `{"rule": "..."}`: hand-add a rule to table `inet giif`
//! - `POST /{public_ip}/reboot`: the live state comes back from the stored file

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use giif_pagw::observed::Observed;
use giif_pagw::plan::{dhcp_of_conf, dnsmasq_conf, expected_nat, pptpd_conf};
use giif_pagw::tool::System as _;
use giif_pagw::{Dhcp, Document};
use serde::Deserialize;

use super::lifecycle::DEFAULT_BOOT;
use super::slot::Slot;
use crate::faults::Faults;

#[derive(Clone)]
struct Fleet {
    slots: Arc<Vec<Arc<Slot>>>,
    faults: Faults,
}

type Reply = Result<Json<serde_json::Value>, (StatusCode, String)>;

pub fn routes(slots: Arc<Vec<Arc<Slot>>>, faults: Faults) -> Router {
    Router::new()
        .route("/", get(all))
        .route("/{public_ip}", get(one))
        .route("/{public_ip}/dnat/{floating_ip}", delete(delete_dnat))
        .route("/{public_ip}/dhcp", put(put_dhcp))
        .route("/{public_ip}/dnsmasq/stop", post(stop_dnsmasq))
        .route("/{public_ip}/wireguard/peers/{name}", delete(delete_peer))
        .route("/{public_ip}/snat", put(put_snat))
        .route("/{public_ip}/pptp", put(put_pptp))
        .route("/{public_ip}/nft/foreign", post(add_foreign))
        .route("/{public_ip}/reboot", post(reboot))
        .with_state(Fleet { slots, faults })
}

pub fn state(slots: &[Arc<Slot>]) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> = slots
        .iter()
        .map(|slot| (slot.spec.public_ip.clone(), slot.state_json()))
        .collect();
    serde_json::Value::Object(map)
}

async fn all(State(fleet): State<Fleet>) -> Json<serde_json::Value> {
    Json(state(&fleet.slots))
}

fn slot(fleet: &Fleet, public_ip: &str) -> Result<Arc<Slot>, (StatusCode, String)> {
    fleet
        .slots
        .iter()
        .find(|s| s.spec.public_ip == public_ip)
        .cloned()
        .ok_or((StatusCode::NOT_FOUND, format!("no PAGW slot {public_ip}")))
}

async fn one(State(fleet): State<Fleet>, Path(public_ip): Path<String>) -> Reply {
    Ok(Json(slot(&fleet, &public_ip)?.state_json()))
}

type Refusal = (StatusCode, String);

fn not_found(message: String) -> Refusal {
    (StatusCode::NOT_FOUND, message)
}

/// Changes the live state of a running gateway that has a stored
/// configuration; `change` also gets that configuration and dnsmasq's
/// leases path.
fn change_live(
    fleet: &Fleet,
    public_ip: &str,
    change: impl FnOnce(&mut Observed, &Document, &str) -> Result<(), Refusal>,
) -> Reply {
    let slot = slot(fleet, public_ip)?;
    {
        let unconfigured = || {
            (
                StatusCode::CONFLICT,
                format!("the gateway {public_ip} is not running a configuration"),
            )
        };
        let mut vm = slot.vm();
        let system = &mut vm
            .as_mut()
            .filter(|vm| vm.running)
            .ok_or_else(unconfigured)?
            .system;
        let stored = system
            .stored
            .as_deref()
            .and_then(|text| Document::parse(text.as_bytes()).ok())
            .ok_or_else(unconfigured)?;
        let leases = system.leases_path().to_string();
        change(&mut system.live, &stored, &leases)?;
    }
    Ok(Json(slot.state_json()))
}

async fn delete_dnat(
    State(fleet): State<Fleet>,
    Path((public_ip, floating_ip)): Path<(String, Ipv4Addr)>,
) -> Reply {
    change_live(&fleet, &public_ip, |live, _, _| {
        let no_rule = || not_found(format!("no DNAT rule for {floating_ip}"));
        let nat = live.nat.as_mut().ok_or_else(no_rule)?;
        let private = nat.dnat.remove(&floating_ip).ok_or_else(no_rule)?;
        if nat
            .snat
            .get(&private)
            .is_some_and(|(public, _)| *public == floating_ip)
        {
            nat.snat.remove(&private);
        }
        Ok(())
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DhcpChange {
    first: Ipv4Addr,
    last: Ipv4Addr,
    /// Absent: the DNS servers dnsmasq hands out now.
    dns_servers: Option<Vec<Ipv4Addr>>,
}

async fn put_dhcp(
    State(fleet): State<Fleet>,
    Path(public_ip): Path<String>,
    Json(body): Json<DhcpChange>,
) -> Reply {
    change_live(&fleet, &public_ip, |live, stored, leases| {
        let now = live.dhcp.as_deref().and_then(dhcp_of_conf);
        let dns_servers = body
            .dns_servers
            .or_else(|| {
                now.or_else(|| stored.dhcp.clone())
                    .map(|dhcp| dhcp.dns_servers)
            })
            .unwrap_or_default();
        let dhcp = Dhcp {
            first: body.first,
            last: body.last,
            dns_servers,
        };
        live.dhcp = Some(dnsmasq_conf(stored, &dhcp, leases));
        Ok(())
    })
}

async fn stop_dnsmasq(State(fleet): State<Fleet>, Path(public_ip): Path<String>) -> Reply {
    change_live(&fleet, &public_ip, |live, _, _| match live.dhcp.take() {
        Some(_) => Ok(()),
        None => Err(not_found("dnsmasq is not running".into())),
    })
}

async fn delete_peer(
    State(fleet): State<Fleet>,
    Path((public_ip, name)): Path<(String, String)>,
) -> Reply {
    change_live(&fleet, &public_ip, |live, stored, _| {
        let no_peer = || not_found(format!("no WireGuard peer {name}"));
        let key = stored
            .wireguard
            .iter()
            .flat_map(|wireguard| &wireguard.peers)
            .find(|peer| peer.name == name)
            .map(|peer| peer.public_key.as_str())
            .ok_or_else(no_peer)?;
        let device = live
            .wireguard
            .as_mut()
            .ok_or_else(|| not_found("wg0 is not up".into()))?;
        match device.peers.remove(key) {
            Some(_) => Ok(()),
            None => Err(no_peer()),
        }
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Switch {
    enabled: bool,
}

async fn put_snat(
    State(fleet): State<Fleet>,
    Path(public_ip): Path<String>,
    Json(body): Json<Switch>,
) -> Reply {
    change_live(&fleet, &public_ip, |live, stored, _| {
        if !body.enabled {
            if let Some(nat) = &mut live.nat {
                nat.masquerade.clear();
            }
            return Ok(());
        }
        let wan = live
            .link_by_mac(stored.nics.wan)
            .map(|link| link.name.clone())
            .ok_or_else(|| {
                (
                    StatusCode::CONFLICT,
                    format!("no interface has the WAN MAC {}", stored.nics.wan),
                )
            })?;
        // The rule giif writes, even where the stored file turns SNAT off.
        let snat_on = Document {
            snat: true,
            ..stored.clone()
        };
        live.nat.get_or_insert_with(Default::default).masquerade =
            expected_nat(&snat_on, &wan).masquerade;
        Ok(())
    })
}

async fn put_pptp(
    State(fleet): State<Fleet>,
    Path(public_ip): Path<String>,
    Json(body): Json<Switch>,
) -> Reply {
    change_live(&fleet, &public_ip, |live, stored, _| {
        live.pptp = body.enabled.then(|| pptpd_conf(stored));
        Ok(())
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ForeignRule {
    /// How `giif-pagw-show` describes it, such as `rule in chain prerouting (tcp dport 22 accept)`.
    rule: String,
}

async fn add_foreign(
    State(fleet): State<Fleet>,
    Path(public_ip): Path<String>,
    Json(body): Json<ForeignRule>,
) -> Reply {
    if body.rule.trim().is_empty() {
        return Err((StatusCode::BAD_REQUEST, "rule: describe the rule".into()));
    }
    change_live(&fleet, &public_ip, |live, _, _| {
        live.nat
            .get_or_insert_with(Default::default)
            .foreign
            .push(body.rule);
        Ok(())
    })
}

async fn reboot(State(fleet): State<Fleet>, Path(public_ip): Path<String>) -> Reply {
    let slot = slot(&fleet, &public_ip)?;
    {
        let mut vm = slot.vm();
        let vm = vm.as_mut().filter(|vm| vm.running).ok_or((
            StatusCode::CONFLICT,
            format!("the gateway {public_ip} is not running"),
        ))?;
        let boot = fleet.faults.task_duration(&slot.fault_key(), DEFAULT_BOOT);
        vm.boot(Instant::now() + boot);
    }
    slot.cut_sessions();
    Ok(Json(slot.state_json()))
}
