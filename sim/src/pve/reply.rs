//! Answers in Proxmox VE's shapes: a `{"data": ...}` envelope on success;
//! on failure the HTTP status with the message as the reason phrase, and a
//! body of `{"data":null,"message":"...\n"}` plus `"errors"` for parameter
//! verification failures (pve-http-server's JSON formatter).

use std::collections::BTreeMap;

use axum::body::Body;
use hyper::{Response, StatusCode};
use serde_json::{json, Value};

/// A failed API call, as PVE reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub status: u16,
    /// The message; PVE messages end with a newline, which the body keeps
    /// and the reason phrase drops.
    pub message: String,
    /// Per-parameter errors (HTTP 400 "Parameter verification failed.").
    pub errors: BTreeMap<String, String>,
    /// Some answers (401) carry no body at all.
    pub no_body: bool,
}

impl ApiError {
    /// A plain `die "...\n"` inside a handler: HTTP 500 with the text.
    pub fn die(message: impl Into<String>) -> Self {
        let mut message = message.into();
        if !message.ends_with('\n') {
            message.push('\n');
        }
        Self {
            status: 500,
            message,
            errors: BTreeMap::new(),
            no_body: false,
        }
    }

    /// `raise_param_exc`: HTTP 400 with one error per parameter.
    pub fn params(errors: BTreeMap<String, String>) -> Self {
        Self {
            status: 400,
            message: "Parameter verification failed.\n".into(),
            errors,
            no_body: false,
        }
    }

    pub fn param(name: &str, error: impl Into<String>) -> Self {
        Self::params(BTreeMap::from([(name.to_string(), error.into())]))
    }

    /// `raise_perm_exc`: HTTP 403.
    pub fn permission(what: &str) -> Self {
        Self {
            status: 403,
            message: format!("Permission check failed ({what})\n"),
            errors: BTreeMap::new(),
            no_body: false,
        }
    }

    /// Authentication failures come from pveproxy itself: no body.
    pub fn unauthorized(message: &str) -> Self {
        Self {
            status: 401,
            message: message.to_string(),
            errors: BTreeMap::new(),
            no_body: true,
        }
    }

    /// No API method at this path: HTTP 501.
    pub fn not_implemented(method: &str, rel_path: &str) -> Self {
        Self {
            status: 501,
            message: format!("Method '{method} {rel_path}' not implemented"),
            errors: BTreeMap::new(),
            no_body: false,
        }
    }

    /// What pveproxy answers when its backend daemon does not answer in
    /// time (AnyEvent::HTTP's pseudo status 596): the simulator's "busy".
    pub fn busy() -> Self {
        Self {
            status: 596,
            message: "Connection timed out".into(),
            errors: BTreeMap::new(),
            no_body: false,
        }
    }
}

/// `{"data": value}` with HTTP 200.
pub fn ok(data: Value) -> Response<Body> {
    envelope(StatusCode::OK, None, json!({ "data": data }))
}

/// `{"data": value, "total": n}`, as the task log answers.
pub fn ok_with_total(data: Value, total: usize) -> Response<Body> {
    envelope(
        StatusCode::OK,
        None,
        json!({ "data": data, "total": total }),
    )
}

pub fn error(err: &ApiError) -> Response<Body> {
    let status = StatusCode::from_u16(err.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let reason = err.message.trim_end().replace(['\r', '\n'], " ");
    if err.no_body {
        return with_reason(base(status).body(Body::empty()), &reason);
    }
    let mut body = json!({ "data": null, "message": err.message });
    if !err.errors.is_empty() {
        body["errors"] = json!(err.errors);
    }
    envelope(status, Some(&reason), body)
}

fn base(status: StatusCode) -> hyper::http::response::Builder {
    Response::builder()
        .status(status)
        .header("Server", "pve-api-daemon/3.0")
        .header("Cache-Control", "max-age=0")
        .header("Pragma", "no-cache")
}

fn envelope(status: StatusCode, reason: Option<&str>, body: Value) -> Response<Body> {
    let built = base(status)
        .header("Content-Type", "application/json;charset=UTF-8")
        .body(Body::from(body.to_string()));
    match reason {
        Some(reason) => with_reason(built, reason),
        None => built.unwrap_or_else(|_| fallback()),
    }
}

/// PVE puts the error message in the HTTP status line.
fn with_reason(built: Result<Response<Body>, hyper::http::Error>, reason: &str) -> Response<Body> {
    let mut response = built.unwrap_or_else(|_| fallback());
    if let Ok(phrase) = hyper::ext::ReasonPhrase::try_from(reason.as_bytes()) {
        response.extensions_mut().insert(phrase);
    }
    response
}

fn fallback() -> Response<Body> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}
