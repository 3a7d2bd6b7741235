//! Routing `/api2/json/...` calls to their handlers, plus the small
//! cluster-wide endpoints (version, nodes, next free VM id, tasks).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use hyper::Response;
use serde_json::{json, Value};

use super::qemu;
use super::reply::{self, ApiError};
use super::schema;
use super::state::{Shared, Token};
use super::tasks;

/// One authenticated API call.
pub struct Call {
    pub method: String,
    /// The path below `/api2/json`, as PVE names it in errors.
    pub rel: String,
    /// Its segments, percent-decoded.
    pub segments: Vec<String>,
    pub params: BTreeMap<String, String>,
    pub token: Token,
}

impl Call {
    /// `raise_perm_exc` unless the token holds `privilege` (on `path`).
    pub fn need(&self, path: &str, privilege: &str) -> Result<(), ApiError> {
        if self.token.may(privilege) {
            Ok(())
        } else {
            Err(ApiError::permission(&format!("{path}, {privilege}")))
        }
    }

    /// `skiplock` and friends: "Only root may use this option."
    pub fn root_only(&self, param: &str) -> Result<(), ApiError> {
        let set = self
            .params
            .get(param)
            .and_then(|v| super::props::parse_bool(v))
            == Some(true);
        if set && self.token.id != "root@pam" {
            return Err(ApiError::param(param, "Only root may use this option."));
        }
        Ok(())
    }

    pub fn verify(&self, specs: &[schema::Param]) -> Result<(), ApiError> {
        schema::verify(&self.params, specs)
    }
}

pub async fn dispatch(shared: &Arc<Shared>, call: &Call) -> Result<Response<Body>, ApiError> {
    let seg: Vec<&str> = call.segments.iter().map(String::as_str).collect();
    match (call.method.as_str(), seg.as_slice()) {
        ("GET", ["version"]) => version(call),
        ("GET", ["nodes"]) => nodes(shared, call),
        ("GET", ["cluster", "nextid"]) => nextid(shared, call),
        ("GET", ["nodes", node, "qemu"]) => qemu::list(shared, call, node),
        ("POST", ["nodes", node, "qemu"]) => qemu::create(shared, call, node),
        ("DELETE", ["nodes", node, "qemu", vmid]) => qemu::destroy(shared, call, node, vmid),
        ("POST", ["nodes", node, "qemu", vmid, "clone"]) => qemu::clone(shared, call, node, vmid),
        ("GET", ["nodes", node, "qemu", vmid, "config"]) => qemu::config(shared, call, node, vmid),
        ("PUT", ["nodes", node, "qemu", vmid, "config"]) => {
            qemu::update(shared, call, node, vmid, true).await
        }
        ("POST", ["nodes", node, "qemu", vmid, "config"]) => {
            qemu::update(shared, call, node, vmid, false).await
        }
        ("PUT", ["nodes", node, "qemu", vmid, "resize"]) => qemu::resize(shared, call, node, vmid),
        ("POST", ["nodes", node, "qemu", vmid, "monitor"]) => {
            qemu::monitor(shared, call, node, vmid)
        }
        ("GET", ["nodes", node, "qemu", vmid, "status", "current"]) => {
            qemu::status(shared, call, node, vmid)
        }
        (
            "POST",
            ["nodes", node, "qemu", vmid, "status", action @ ("start" | "stop" | "shutdown")],
        ) => qemu::power(shared, call, node, vmid, action),
        ("GET", ["nodes", node, "tasks", upid, "status"]) => task_status(shared, call, node, upid),
        ("GET", ["nodes", node, "tasks", upid, "log"]) => task_log(shared, call, node, upid),
        _ => Err(ApiError::not_implemented(&call.method, &call.rel)),
    }
}

fn version(call: &Call) -> Result<Response<Body>, ApiError> {
    call.verify(schema::NONE)?;
    Ok(reply::ok(json!({
        "version": "9.1.1",
        "release": "9.1",
        "repoid": "a0b1c2d3e4f5a6b7",
        "console": "xtermjs",
    })))
}

fn nodes(shared: &Shared, call: &Call) -> Result<Response<Body>, ApiError> {
    call.verify(schema::NONE)?;
    let uptime = shared.started.elapsed().as_secs() + 86_400;
    let state = shared.lock();
    let list: Vec<Value> = state
        .nodes
        .iter()
        .map(|n| {
            let running_mem: u64 = state
                .vms
                .values()
                .filter(|vm| vm.node == n.name && vm.running.is_some())
                .map(|vm| vm.max_mem_bytes())
                .sum();
            json!({
                "node": n.name,
                "id": format!("node/{}", n.name),
                "type": "node",
                "status": "online",
                "level": "",
                "cpu": 0.03,
                "maxcpu": n.cores,
                "mem": (2u64 << 30) + running_mem,
                "maxmem": n.memory_mb << 20,
                "disk": 8u64 << 30,
                "maxdisk": 100u64 << 30,
                "uptime": uptime,
                "ssl_fingerprint": shared.ssl_fingerprint,
            })
        })
        .collect();
    Ok(reply::ok(json!(list)))
}

fn nextid(shared: &Shared, call: &Call) -> Result<Response<Body>, ApiError> {
    call.verify(schema::NEXTID)?;
    let state = shared.lock();
    if let Some(vmid) = call.params.get("vmid") {
        if vmid
            .parse::<u32>()
            .is_ok_and(|id| state.vms.contains_key(&id))
        {
            return Err(ApiError::param("vmid", format!("VM {vmid} already exists")));
        }
        return Ok(reply::ok(json!(vmid)));
    }
    let free = (100u32..1_000_000).find(|id| !state.vms.contains_key(id));
    match free {
        // PVE's answer is a JSON string here (the id was used as a hash key).
        Some(id) => Ok(reply::ok(json!(id.to_string()))),
        None => Err(ApiError::die(
            "unable to get any free VMID in range [100, 1000000]",
        )),
    }
}

fn find_task(shared: &Shared, node: &str, upid: &str) -> Result<tasks::Task, ApiError> {
    if tasks::upid_node(upid).is_none() {
        return Err(ApiError::param("upid", "unable to parse worker upid"));
    }
    let state = shared.lock();
    state.check_node(node)?;
    state
        .task(upid)
        .filter(|t| t.node == node)
        .cloned()
        .ok_or_else(|| ApiError::param("upid", "no such task"))
}

fn task_status(
    shared: &Shared,
    call: &Call,
    node: &str,
    upid: &str,
) -> Result<Response<Body>, ApiError> {
    call.verify(schema::NONE)?;
    let task = find_task(shared, node, upid)?;
    Ok(reply::ok(task.status_json()))
}

fn task_log(
    shared: &Shared,
    call: &Call,
    node: &str,
    upid: &str,
) -> Result<Response<Body>, ApiError> {
    call.verify(schema::TASK_LOG)?;
    let task = find_task(shared, node, upid)?;
    let number = |key: &str, default: usize| {
        call.params
            .get(key)
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(default)
    };
    let (lines, total) = task.log_json(number("start", 0), number("limit", 50));
    Ok(reply::ok_with_total(lines, total))
}
