//! Admin routes under `/pagw`: read every gateway, and change a running
//! gateway's live state behind its configuration file's back (the way an
//! operator with a root shell would), so tests can check drift handling.
//!
//! - `GET /`, `GET /{public_ip}`: slots, their VMs, stored file and live state
//! - `DELETE /{public_ip}/dnat/{floating_ip}`: flush one DNAT rule
//! - `PUT /{public_ip}/dhcp` `{"first","last","dns_servers"?}`: rewrite dnsmasq's range
//! - `DELETE /{public_ip}/wireguard/peers/{name}`: `wg set wg0 peer ... remove`
//! - `PUT /{public_ip}/snat`, `PUT /{public_ip}/pptp` `{"enabled": bool}`
//! - `POST /{public_ip}/reboot`: the live state comes back from the stored file

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;

use super::document::Document;
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
        .route("/{public_ip}/wireguard/peers/{name}", delete(delete_peer))
        .route("/{public_ip}/snat", put(put_snat))
        .route("/{public_ip}/pptp", put(put_pptp))
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

/// Changes the live state of a running, configured gateway.
fn change_live(
    fleet: &Fleet,
    public_ip: &str,
    change: impl FnOnce(&mut Document) -> Result<(), (StatusCode, String)>,
) -> Reply {
    let slot = slot(fleet, public_ip)?;
    {
        let mut vm = slot.vm();
        let live = vm
            .as_mut()
            .filter(|vm| vm.running)
            .and_then(|vm| vm.live.as_mut())
            .ok_or((
                StatusCode::CONFLICT,
                format!("the gateway {public_ip} is not running a configuration"),
            ))?;
        change(live)?;
        *live = live.clone().canonical();
    }
    Ok(Json(slot.state_json()))
}

async fn delete_dnat(
    State(fleet): State<Fleet>,
    Path((public_ip, floating_ip)): Path<(String, Ipv4Addr)>,
) -> Reply {
    change_live(&fleet, &public_ip, |live| {
        let before = live.dnat.len();
        live.dnat.retain(|rule| rule.public != floating_ip);
        match live.dnat.len() == before {
            true => Err((
                StatusCode::NOT_FOUND,
                format!("no DNAT rule for {floating_ip}"),
            )),
            false => Ok(()),
        }
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DhcpChange {
    first: Ipv4Addr,
    last: Ipv4Addr,
    dns_servers: Option<Vec<Ipv4Addr>>,
}

async fn put_dhcp(
    State(fleet): State<Fleet>,
    Path(public_ip): Path<String>,
    Json(body): Json<DhcpChange>,
) -> Reply {
    change_live(&fleet, &public_ip, |live| {
        live.dhcp.first = body.first;
        live.dhcp.last = body.last;
        if let Some(servers) = body.dns_servers {
            live.dhcp.dns_servers = servers;
        }
        Ok(())
    })
}

async fn delete_peer(
    State(fleet): State<Fleet>,
    Path((public_ip, name)): Path<(String, String)>,
) -> Reply {
    change_live(&fleet, &public_ip, |live| {
        let wireguard = live
            .wireguard
            .as_mut()
            .ok_or((StatusCode::NOT_FOUND, "wg0 is not up".to_string()))?;
        let before = wireguard.peers.len();
        wireguard.peers.retain(|peer| peer.name != name);
        match wireguard.peers.len() == before {
            true => Err((StatusCode::NOT_FOUND, format!("no WireGuard peer {name}"))),
            false => Ok(()),
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
    change_live(&fleet, &public_ip, |live| {
        live.snat = body.enabled;
        Ok(())
    })
}

async fn put_pptp(
    State(fleet): State<Fleet>,
    Path(public_ip): Path<String>,
    Json(body): Json<Switch>,
) -> Reply {
    change_live(&fleet, &public_ip, |live| {
        live.pptp = body.enabled;
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
