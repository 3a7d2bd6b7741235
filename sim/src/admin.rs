//! The admin API (HTTP, JSON) for tests and people: read every device's
//! state, change things out of band, and set fault knobs per endpoint.
//!
//! - `GET /state`: everything; `GET /faults`, `PUT /faults/{endpoint}`;
//!   `GET /holds`: the lines of the requests a `hold` knob holds now.
//! - `/idrac/...`, `/pve/...`, `/pagw/...`: each device family's own routes.

use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};

use crate::faults::{FaultKnobs, Faults};
use crate::idrac::IdracFleet;
use crate::pagw::PagwFleet;
use crate::pve::PveCluster;

pub struct Devices<'a> {
    pub idrac: &'a IdracFleet,
    pub pve: &'a PveCluster,
    pub pagw: &'a PagwFleet,
}

pub fn router(devices: Devices<'_>, faults: Faults) -> Router {
    let state_idrac = devices.idrac.state_json_fn();
    let state_pve = devices.pve.state_json_fn();
    let state_pagw = devices.pagw.state_json_fn();
    let state_faults = faults.clone();
    Router::new()
        .route(
            "/state",
            get(move || async move {
                Json(serde_json::json!({
                    "idrac": state_idrac(),
                    "pve": state_pve(),
                    "pagw": state_pagw(),
                    "faults": state_faults.all(),
                }))
            }),
        )
        .route("/faults", get(list_faults))
        .route("/holds", get(list_holds))
        .route("/faults/{endpoint}", put(set_faults))
        .with_state(faults)
        .nest("/idrac", devices.idrac.admin_routes())
        .nest("/pve", devices.pve.admin_routes())
        .nest("/pagw", devices.pagw.admin_routes())
}

async fn list_faults(State(faults): State<Faults>) -> Json<serde_json::Value> {
    Json(serde_json::json!(faults.all()))
}

async fn list_holds(State(faults): State<Faults>) -> Json<serde_json::Value> {
    Json(serde_json::json!(faults.held()))
}

async fn set_faults(
    State(faults): State<Faults>,
    Path(endpoint): Path<String>,
    Json(knobs): Json<FaultKnobs>,
) -> Json<FaultKnobs> {
    faults.set(&endpoint, knobs.clone());
    Json(knobs)
}
