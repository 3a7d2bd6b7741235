//! The cluster's admin routes (mounted under `/pve`): read everything and
//! change things behind the API's back, as an operator or a failure would.
//!
//! - `GET /`, `GET /state`: nodes, VMs (config, pending, status), tasks.
//! - `DELETE /vms/{vmid}`: the VM disappears.
//! - `POST /vms/{vmid}/stop`, `POST /vms/{vmid}/start`: power changes.
//! - `PUT /vms/{vmid}/config`: `{"key": "value" | null}` edits the config file.
//! - `POST /vms/{vmid}/lock` `{"lock": "backup"}`, `DELETE /vms/{vmid}/lock`.
//! - `POST /fail-next-task` `{"type": "qmclone", "message": "..."}`.
//! - `PUT /settings` `{"lock_wait_ms": 100, "hotplug_ms": null}`.
//! - `POST /tokens` `{"id": "audit@pve!ro", "privileges": ["VM.Audit"]}`:
//!   a new API token (omit privileges for an all-powerful one); answers its secret.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::state::{FailNextTask, Settings, Shared};

type Answer = Result<Json<Value>, (StatusCode, Json<Value>)>;

fn found(ok: bool, vmid: u32, answer: Value) -> Answer {
    if ok {
        Ok(Json(answer))
    } else {
        Err((
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("no VM {vmid}") })),
        ))
    }
}

pub fn routes(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(state))
        .route("/state", get(state))
        .route("/vms/{vmid}", delete(delete_vm).put(create_vm))
        .route("/vms/{vmid}/stop", post(stop_vm))
        .route("/vms/{vmid}/start", post(start_vm))
        .route("/vms/{vmid}/config", put(edit_config))
        .route("/vms/{vmid}/lock", post(set_lock).delete(clear_lock))
        .route("/fail-next-task", post(fail_next_task))
        .route("/settings", put(settings))
        .route("/tokens", post(add_token))
        .with_state(shared)
}

async fn state(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(shared.state_json())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    node: String,
    #[serde(default)]
    config: Map<String, Value>,
}

/// A VM made by hand, behind giif's back.
async fn create_vm(
    State(shared): State<Arc<Shared>>,
    Path(vmid): Path<u32>,
    Json(body): Json<CreateBody>,
) -> Answer {
    let made = shared.oob_create(vmid, &body.node, &body.config);
    let answer = json!({ "created": vmid });
    if made {
        Ok(Json(answer))
    } else {
        Err((
            StatusCode::CONFLICT,
            Json(json!({ "error": format!("VM {vmid} exists or node {} is unknown", body.node) })),
        ))
    }
}

async fn delete_vm(State(shared): State<Arc<Shared>>, Path(vmid): Path<u32>) -> Answer {
    found(shared.oob_delete(vmid), vmid, json!({ "deleted": vmid }))
}

async fn stop_vm(State(shared): State<Arc<Shared>>, Path(vmid): Path<u32>) -> Answer {
    found(shared.oob_stop(vmid), vmid, json!({ "status": "stopped" }))
}

async fn start_vm(State(shared): State<Arc<Shared>>, Path(vmid): Path<u32>) -> Answer {
    found(shared.oob_start(vmid), vmid, json!({ "status": "running" }))
}

async fn edit_config(
    State(shared): State<Arc<Shared>>,
    Path(vmid): Path<u32>,
    Json(changes): Json<Map<String, Value>>,
) -> Answer {
    match shared.oob_edit(vmid, &changes) {
        Some(answer) => found(true, vmid, answer),
        None => found(false, vmid, Value::Null),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LockBody {
    lock: String,
}

async fn set_lock(
    State(shared): State<Arc<Shared>>,
    Path(vmid): Path<u32>,
    Json(body): Json<LockBody>,
) -> Answer {
    found(
        shared.oob_set_lock(vmid, Some(&body.lock)),
        vmid,
        json!({ "lock": body.lock }),
    )
}

async fn clear_lock(State(shared): State<Arc<Shared>>, Path(vmid): Path<u32>) -> Answer {
    found(
        shared.oob_set_lock(vmid, None),
        vmid,
        json!({ "lock": null }),
    )
}

async fn fail_next_task(
    State(shared): State<Arc<Shared>>,
    Json(body): Json<FailNextTask>,
) -> Json<Value> {
    shared.fail_next_task(body);
    Json(json!({ "fail_next_task": shared.lock().fail_next_task }))
}

async fn settings(State(shared): State<Arc<Shared>>, Json(body): Json<Settings>) -> Json<Value> {
    shared.set_settings(body);
    Json(json!(shared.lock().settings))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    id: String,
    #[serde(default)]
    privileges: Option<Vec<String>>,
}

async fn add_token(State(shared): State<Arc<Shared>>, Json(body): Json<TokenBody>) -> Answer {
    match shared.add_token(&body.id, body.privileges) {
        Some(secret) => Ok(Json(json!({ "id": body.id, "secret": secret }))),
        None => Err((
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "a token id looks like user@realm!name" })),
        )),
    }
}
