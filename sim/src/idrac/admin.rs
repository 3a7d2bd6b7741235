//! Admin routes under `/idrac`: read each iDRAC's state and change things
//! behind the drivers' backs. Paths below are relative to `/idrac`.
//!
//! - `GET /idrac` itself: every iDRAC; `GET /{name}`: one; `GET /{name}/log`: its command log.
//! - `POST /{name}/power` `{"state":"on"|"off"}`: someone pressed the power button.
//! - `POST /{name}/media` `{"image":"//host/share/x.iso"}`, `POST /{name}/media/eject`.
//! - `POST /{name}/rotate-host-key`: the board was replaced; returns the new fingerprint.
//! - `PUT /{name}/reset-duration` `{"ms":2000}`: how long `racreset` keeps SSH down.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;

use super::bmc::Bmc;
use super::device::Media;

pub(crate) type Fleet = Arc<BTreeMap<String, Arc<Bmc>>>;

type Answer = Result<Json<serde_json::Value>, (StatusCode, Json<serde_json::Value>)>;

pub(crate) fn routes(fleet: Fleet) -> Router {
    Router::new()
        .route("/", get(all))
        .route("/{name}", get(one))
        .route("/{name}/log", get(log))
        .route("/{name}/power", post(power))
        .route("/{name}/media", post(attach))
        .route("/{name}/media/eject", post(eject))
        .route("/{name}/rotate-host-key", post(rotate_host_key))
        .route("/{name}/reset-duration", put(reset_duration))
        .with_state(fleet)
}

pub(crate) fn snapshot(fleet: &Fleet) -> serde_json::Value {
    serde_json::Value::Object(
        fleet
            .iter()
            .map(|(name, bmc)| (name.clone(), bmc.to_json()))
            .collect(),
    )
}

fn find<'a>(
    fleet: &'a Fleet,
    name: &str,
) -> Result<&'a Arc<Bmc>, (StatusCode, Json<serde_json::Value>)> {
    fleet.get(name).ok_or_else(|| {
        (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({ "error": format!("no iDRAC for server {name:?}") })),
        )
    })
}

fn bad_request(message: &str) -> (StatusCode, Json<serde_json::Value>) {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({ "error": message })),
    )
}

async fn all(State(fleet): State<Fleet>) -> Json<serde_json::Value> {
    Json(snapshot(&fleet))
}

async fn one(State(fleet): State<Fleet>, Path(name): Path<String>) -> Answer {
    Ok(Json(find(&fleet, &name)?.to_json()))
}

async fn log(State(fleet): State<Fleet>, Path(name): Path<String>) -> Answer {
    let bmc = find(&fleet, &name)?;
    Ok(Json(serde_json::json!(bmc.state().log)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PowerBody {
    state: String,
}

async fn power(
    State(fleet): State<Fleet>,
    Path(name): Path<String>,
    Json(body): Json<PowerBody>,
) -> Answer {
    let bmc = find(&fleet, &name)?;
    match body.state.as_str() {
        "on" => bmc.set_power(true),
        "off" => bmc.set_power(false),
        _ => return Err(bad_request("state must be \"on\" or \"off\"")),
    }
    Ok(Json(bmc.to_json()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MediaBody {
    image: String,
}

async fn attach(
    State(fleet): State<Fleet>,
    Path(name): Path<String>,
    Json(body): Json<MediaBody>,
) -> Answer {
    let bmc = find(&fleet, &name)?;
    bmc.state().media = Some(Media {
        image: body.image,
        share_user: None,
        attached_by: "admin".to_string(),
        detach_at: None,
    });
    Ok(Json(bmc.to_json()))
}

async fn eject(State(fleet): State<Fleet>, Path(name): Path<String>) -> Answer {
    let bmc = find(&fleet, &name)?;
    bmc.state().media = None;
    Ok(Json(bmc.to_json()))
}

async fn rotate_host_key(State(fleet): State<Fleet>, Path(name): Path<String>) -> Answer {
    let bmc = find(&fleet, &name)?;
    let fingerprint = bmc.rotate_host_key();
    Ok(Json(
        serde_json::json!({ "host_key_fingerprint": fingerprint }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetBody {
    ms: u64,
}

async fn reset_duration(
    State(fleet): State<Fleet>,
    Path(name): Path<String>,
    Json(body): Json<ResetBody>,
) -> Answer {
    let bmc = find(&fleet, &name)?;
    bmc.state().reset_duration = Duration::from_millis(body.ms);
    Ok(Json(
        serde_json::json!({ "reset_duration_ms": body.ms, "resetting": bmc.state().resetting(Instant::now()) }),
    ))
}
