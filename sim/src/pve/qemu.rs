//! `/nodes/{node}/qemu/...`: list, create, clone, config read and write,
//! resize, status, power and destroy. Early checks answer at once (HTTP
//! 400/403/500 like PVE); the rest happens in a worker task whose UPID is
//! returned.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use hyper::Response;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::api::Call;
use super::flock::{self, Mode};
use super::props::{self, Drive};
use super::reply::{self, ApiError};
use super::schema;
use super::state::{check_lock, Shared};
use super::tasks::{self, TaskSpec};
use super::update;
use super::vm::Vm;
use super::work::{self, Work};
use crate::events::VmEvent;

/// The `{vmid}` path parameter, checked like the schema checks it.
fn vmid(text: &str) -> Result<u32, ApiError> {
    schema::check("vmid", text, schema::Kind::VmId).map_err(|e| ApiError::param("vmid", e))?;
    text.parse::<u32>().map_err(|_| {
        ApiError::param(
            "vmid",
            format!("type check ('integer') failed - got '{text}'"),
        )
    })
}

fn upid(id: String) -> Result<Response<Body>, ApiError> {
    Ok(reply::ok(json!(id)))
}

pub fn list(shared: &Shared, call: &Call, node: &str) -> Result<Response<Body>, ApiError> {
    call.verify(schema::LIST)?;
    let state = shared.lock();
    state.check_node(node)?;
    let audit = call.token.may("VM.Audit");
    let vms: Vec<Value> = state
        .vms
        .values()
        .filter(|vm| vm.node == node && audit)
        .map(Vm::list_json)
        .collect();
    Ok(reply::ok(json!(vms)))
}

pub fn create(shared: &Arc<Shared>, call: &Call, node: &str) -> Result<Response<Body>, ApiError> {
    let id = call.params.get("vmid").cloned().unwrap_or_default();
    call.need(&format!("/vms/{id}"), "VM.Allocate")?;
    call.verify(&schema::create())?;
    let id = vmid(&id)?;
    let start = call.params.get("start").and_then(|v| props::parse_bool(v)) == Some(true);
    let task = {
        let mut state = shared.lock();
        let spec = state.check_node(node)?.clone();
        if let Some(other) = state.vms.get(&id) {
            return Err(ApiError::die(format!(
                "unable to create VM {id} - VM {id} already exists on node '{}'",
                other.node
            )));
        }
        // Build the config as the worker would write it.
        let mut draft = Vm::new(id, node, BTreeMap::new());
        for (key, value) in &call.params {
            if matches!(
                key.as_str(),
                "vmid" | "start" | "storage" | "pool" | "unique"
            ) {
                continue;
            }
            let value = update::normalize(&draft, &spec, key, value)
                .map_err(|e| ApiError::die(format!("unable to create VM {id} - {}", e.message)))?;
            draft.config.insert(key.clone(), value);
        }
        let config = with_defaults(draft.config);
        let mut placeholder = Vm::new(
            id,
            node,
            BTreeMap::from([("lock".to_string(), "create".to_string())]),
        );
        placeholder.flock.exclusive = true;
        state.vms.insert(id, placeholder);
        drop(state);
        tasks::spawn(
            shared,
            TaskSpec {
                node: node.to_string(),
                kind: "qmcreate",
                id: id.to_string(),
                user: call.token.id.clone(),
                first_lines: Vec::new(),
                work: Work::Create {
                    vmid: id,
                    config,
                    start,
                },
            },
        )
    };
    upid(task)
}

/// What PVE adds to a new VM: a SMBIOS UUID, a generation id and a boot order.
fn with_defaults(mut config: BTreeMap<String, String>) -> BTreeMap<String, String> {
    config
        .entry("smbios1".into())
        .or_insert_with(|| format!("uuid={}", work::uuid()));
    config.entry("vmgenid".into()).or_insert_with(work::uuid);
    if !config.contains_key("boot") {
        let mut order: Vec<String> = config
            .iter()
            .filter(|(k, v)| {
                props::is_drive_key(k) && Drive::parse(v).is_ok_and(|d| !d.is_cloudinit())
            })
            .map(|(k, _)| k.clone())
            .collect();
        order.extend(
            config
                .keys()
                .filter(|k| k.starts_with("net"))
                .take(1)
                .cloned(),
        );
        if !order.is_empty() {
            config.insert("boot".into(), format!("order={}", order.join(";")));
        }
    }
    config
}

pub fn clone(
    shared: &Arc<Shared>,
    call: &Call,
    node: &str,
    source: &str,
) -> Result<Response<Body>, ApiError> {
    let source = vmid(source)?;
    let newid_text = call.params.get("newid").cloned().unwrap_or_default();
    call.need(&format!("/vms/{source}"), "VM.Clone")?;
    call.need(&format!("/vms/{newid_text}"), "VM.Allocate")?;
    call.verify(schema::CLONE)?;
    let newid = vmid(&newid_text)?;
    let param = |k: &str| call.params.get(k).cloned();
    let mut state = shared.lock();
    state.check_node(node)?;
    let target = param("target").filter(|t| t != node && t != "localhost");
    if let Some(target) = &target {
        state.check_node(target)?;
    }
    let target_node = target.clone().unwrap_or_else(|| node.to_string());
    let target_storage = state.check_node(&target_node)?.storage.clone();
    if let Some(storage) = param("storage") {
        if !target_storage.contains(&storage) {
            return Err(ApiError::die(format!("storage '{storage}' does not exist")));
        }
    }
    let src = state.load(node, source)?;
    check_lock(src)?;
    let full = param("full")
        .and_then(|v| props::parse_bool(&v))
        .unwrap_or(!src.is_template());
    if !full && param("storage").is_some() {
        return Err(ApiError::die(
            "parameter 'storage' not allowed for linked clones",
        ));
    }
    if !full && param("format").is_some() {
        return Err(ApiError::die(
            "parameter 'format' not allowed for linked clones",
        ));
    }
    let disks: Vec<(String, Drive)> = src
        .config
        .iter()
        .filter(|(k, _)| props::is_drive_key(k))
        .filter_map(|(k, v)| Drive::parse(v).ok().map(|d| (k.clone(), d)))
        .filter(|(_, d)| !d.is_cdrom())
        .collect();
    if !full && !src.is_template() {
        if let Some((opt, drive)) = disks.first() {
            return Err(ApiError::die(format!(
                "Linked clone feature is not supported for '{}' ({opt})",
                drive.file
            )));
        }
    }
    if target.is_some() {
        // Storages named alike on both nodes count as one shared storage.
        let local = disks.iter().any(|(_, d)| {
            let storage =
                param("storage").unwrap_or_else(|| d.storage().unwrap_or_default().to_string());
            !target_storage.contains(&storage)
        });
        if local {
            return Err(ApiError::die(format!(
                "can't clone VM to node '{target_node}' (VM uses local storage)"
            )));
        }
    }
    if state.vms.contains_key(&newid) {
        return Err(ApiError::die(format!(
            "unable to create VM {newid}: config file already exists"
        )));
    }
    let first_lines = disks
        .iter()
        .map(|(opt, d)| {
            let kind = if full { "full" } else { "linked" };
            format!("create {kind} clone of drive {opt} ({})", d.file)
        })
        .collect();
    let mut placeholder = Vm::new(
        newid,
        node,
        BTreeMap::from([("lock".to_string(), "clone".to_string())]),
    );
    placeholder.flock.exclusive = true;
    state.vms.insert(newid, placeholder);
    drop(state);
    upid(tasks::spawn(
        shared,
        TaskSpec {
            node: node.to_string(),
            kind: "qmclone",
            id: source.to_string(),
            user: call.token.id.clone(),
            first_lines,
            work: Work::Clone {
                node: node.to_string(),
                source,
                newid,
                target: target_node,
                name: param("name"),
                description: param("description"),
                full,
                storage: param("storage"),
            },
        },
    ))
}

pub fn config(
    shared: &Shared,
    call: &Call,
    node: &str,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    let id = vmid(id)?;
    call.need(&format!("/vms/{id}"), "VM.Audit")?;
    call.verify(schema::CONFIG_GET)?;
    let state = shared.lock();
    state.check_node(node)?;
    let vm = state.load(node, id)?;
    if let Some(snapshot) = call.params.get("snapshot") {
        return Err(ApiError::die(format!(
            "snapshot '{snapshot}' does not exist"
        )));
    }
    let current = call
        .params
        .get("current")
        .and_then(|v| props::parse_bool(v))
        == Some(true);
    Ok(reply::ok(vm.config_json(current)))
}

/// The privilege PVE wants for changing one option.
fn config_privilege(opt: &str) -> &'static str {
    let base = opt.trim_end_matches(|c: char| c.is_ascii_digit());
    match base {
        "net" => "VM.Config.Network",
        "cores" | "sockets" | "cpu" | "numa" | "vcpus" | "cpuunits" => "VM.Config.CPU",
        "memory" | "balloon" => "VM.Config.Memory",
        "ipconfig" | "ciuser" | "cipassword" | "citype" | "ciupgrade" | "sshkeys"
        | "searchdomain" | "nameserver" => "VM.Config.Cloudinit",
        _ if props::is_drive_key(opt) => "VM.Config.Disk",
        _ => "VM.Config.Options",
    }
}

pub async fn update(
    shared: &Arc<Shared>,
    call: &Call,
    node: &str,
    id: &str,
    sync: bool,
) -> Result<Response<Body>, ApiError> {
    let id = vmid(id)?;
    let path = format!("/vms/{id}");
    let deleted: Vec<String> = call
        .params
        .get("delete")
        .map(|d| {
            d.split([',', ';', ' '])
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    for opt in call.params.keys().chain(deleted.iter()) {
        if !matches!(
            opt.as_str(),
            "delete" | "revert" | "digest" | "skiplock" | "force" | "background_delay"
        ) {
            call.need(&path, config_privilege(opt))?;
        }
    }
    call.verify(&schema::config_update(!sync))?;
    call.root_only("skiplock")?;
    update::check_request(&call.params)?;
    {
        let state = shared.lock();
        state.check_node(node)?;
        update::precheck(state.load(node, id)?, &call.params)?;
    }
    if !sync {
        return upid(tasks::spawn(
            shared,
            TaskSpec {
                node: node.to_string(),
                kind: "qmconfig",
                id: id.to_string(),
                user: call.token.id.clone(),
                first_lines: Vec::new(),
                work: Work::Config {
                    node: node.to_string(),
                    vmid: id,
                    params: call.params.clone(),
                },
            },
        ));
    }
    flock::acquire(shared, id, Mode::Exclusive)
        .await
        .map_err(ApiError::die)?;
    let applied = {
        let mut state = shared.lock();
        let result = state.check_node(node).cloned().and_then(|spec| {
            let vm = state.load_mut(node, id)?;
            let applied = update::apply(vm, &spec, &call.params)?;
            Ok((applied, vm.merged()))
        });
        drop(state);
        if let Ok((applied, config)) = &result {
            if applied.hotplugged {
                shared.emit(VmEvent::Reconfigured {
                    vmid: id,
                    config: config.clone(),
                });
            }
        }
        result.map(|(applied, _)| applied)
    };
    if let Ok(applied) = &applied {
        if applied.hotplugged {
            // A hot-plug talks to QEMU while holding the lock.
            tokio::time::sleep(shared.hotplug_duration()).await;
        }
    }
    flock::release(shared, id, Mode::Exclusive);
    applied.map(|_| reply::ok(Value::Null))
}

pub fn resize(
    shared: &Arc<Shared>,
    call: &Call,
    node: &str,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    let id = vmid(id)?;
    call.need(&format!("/vms/{id}"), "VM.Config.Disk")?;
    call.verify(schema::RESIZE)?;
    call.root_only("skiplock")?;
    shared.lock().check_node(node)?;
    // Like PVE, every other check happens in the worker.
    upid(tasks::spawn(
        shared,
        TaskSpec {
            node: node.to_string(),
            kind: "resize",
            id: id.to_string(),
            user: call.token.id.clone(),
            first_lines: Vec::new(),
            work: Work::Resize {
                node: node.to_string(),
                vmid: id,
                params: call.params.clone(),
            },
        },
    ))
}

pub fn status(
    shared: &Shared,
    call: &Call,
    node: &str,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    let id = vmid(id)?;
    call.need(&format!("/vms/{id}"), "VM.Audit")?;
    call.verify(schema::NONE)?;
    let state = shared.lock();
    state.check_node(node)?;
    Ok(reply::ok(state.load(node, id)?.status_json()))
}

pub fn power(
    shared: &Arc<Shared>,
    call: &Call,
    node: &str,
    id: &str,
    action: &str,
) -> Result<Response<Body>, ApiError> {
    let id = vmid(id)?;
    call.need(&format!("/vms/{id}"), "VM.PowerMgmt")?;
    let specs = match action {
        "start" => schema::START,
        "stop" => schema::STOP,
        _ => schema::SHUTDOWN,
    };
    call.verify(specs)?;
    call.root_only("skiplock")?;
    call.root_only("keepActive")?;
    shared.lock().check_node(node)?;
    let skiplock = update::skiplock(&call.params);
    let (kind, work) = match action {
        "start" => (
            "qmstart",
            Work::Start {
                node: node.to_string(),
                vmid: id,
                skiplock,
            },
        ),
        "stop" => (
            "qmstop",
            Work::Stop {
                node: node.to_string(),
                vmid: id,
                skiplock,
            },
        ),
        _ => (
            "qmshutdown",
            Work::Stop {
                node: node.to_string(),
                vmid: id,
                skiplock,
            },
        ),
    };
    upid(tasks::spawn(
        shared,
        TaskSpec {
            node: node.to_string(),
            kind,
            id: id.to_string(),
            user: call.token.id.clone(),
            first_lines: Vec::new(),
            work,
        },
    ))
}

pub fn destroy(
    shared: &Arc<Shared>,
    call: &Call,
    node: &str,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    let id = vmid(id)?;
    call.need(&format!("/vms/{id}"), "VM.Allocate")?;
    call.verify(schema::DESTROY)?;
    call.root_only("skiplock")?;
    {
        let state = shared.lock();
        state.check_node(node)?;
        let vm = state.load(node, id)?;
        if vm
            .config
            .get("protection")
            .and_then(|v| props::parse_bool(v))
            == Some(true)
        {
            return Err(ApiError::die(format!(
                "can't remove VM {id} - protection mode enabled"
            )));
        }
        if vm.running.is_some() {
            return Err(ApiError::die(format!(
                "VM {id} is running - destroy failed"
            )));
        }
    }
    upid(tasks::spawn(
        shared,
        TaskSpec {
            node: node.to_string(),
            kind: "qmdestroy",
            id: id.to_string(),
            user: call.token.id.clone(),
            first_lines: Vec::new(),
            work: Work::Destroy {
                node: node.to_string(),
                vmid: id,
                skiplock: update::skiplock(&call.params),
            },
        },
    ))
}

/// `POST .../monitor`: QEMU's human monitor, for `set_password vnc PW`
/// (which needs `Sys.Modify`; `info` and `help` need `Sys.Audit`). QEMU
/// takes a VNC password only when the VM started with `password=on` in its
/// `-vnc` argument, and forgets it when the VM stops.
pub fn monitor(
    shared: &Arc<Shared>,
    call: &Call,
    node: &str,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    let id = vmid(id)?;
    call.verify(schema::MONITOR)?;
    let command = call.params.get("command").cloned().unwrap_or_default();
    let words: Vec<&str> = command.split_whitespace().collect();
    let reads = matches!(words.first(), Some(&"info" | &"help" | &"?"));
    call.need(
        &format!("/vms/{id}"),
        if reads { "Sys.Audit" } else { "Sys.Modify" },
    )?;
    let mut state = shared.lock();
    state.check_node(node)?;
    let vm = state.load_mut(node, id)?;
    let takes_password = vm
        .config
        .get("args")
        .is_some_and(|args| args.contains("password=on"));
    let Some(running) = vm.running.as_mut() else {
        return Err(ApiError::die(format!("VM {id} not running")));
    };
    let answer = match words.as_slice() {
        ["set_password", "vnc", password, ..] if takes_password => {
            running.vnc_password_sha256 = Some(hex::encode(Sha256::digest(password.as_bytes())));
            String::new()
        }
        ["set_password", "vnc", ..] => "Could not set password".to_string(),
        [first, ..] => format!("unknown command: '{first}'"),
        [] => String::new(),
    };
    Ok(reply::ok(json!(answer)))
}
