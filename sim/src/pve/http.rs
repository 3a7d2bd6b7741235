//! The HTTPS front: TLS on loopback, one HTTP/1.1 connection per client,
//! and per request: read the parameters (query, form or JSON body), log
//! the request, consult the fault knobs (answer "busy" or drop the
//! connection without an answer), authenticate the API token, dispatch.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::api::{self, Call};
use super::reply::{self, ApiError};
use super::state::{Shared, Token};
use crate::faults::Verdict;

const API_PREFIX: &str = "/api2/json";

/// Returned to hyper to make it close the connection without answering.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by fault injection")]
pub struct Dropped;

pub async fn serve(listener: TcpListener, acceptor: TlsAcceptor, shared: Arc<Shared>) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                tracing::warn!(error = %err, "PVE API: accept failed");
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            let tls = match acceptor.accept(tcp).await {
                Ok(tls) => tls,
                Err(err) => {
                    tracing::debug!(%peer, error = %err, "PVE API: TLS handshake failed");
                    return;
                }
            };
            let service = hyper::service::service_fn(move |req| handle(shared.clone(), req));
            if let Err(err) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .await
            {
                tracing::debug!(%peer, error = %err, "PVE API: connection ended");
            }
        });
    }
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Response<Body>, Dropped> {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(Body::new(body), 16 << 20).await {
        Ok(bytes) => bytes,
        Err(_) => return Err(Dropped),
    };
    let method = parts.method.as_str().to_ascii_uppercase();
    let path = parts.uri.path().to_string();
    let content_type = parts
        .headers
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let params = parse_params(parts.uri.query(), &content_type, &body);

    if let Some(log) = &shared.request_log {
        let logged = params.clone().unwrap_or_default();
        log.append(&method, &path, &logged);
    }
    match shared
        .faults
        .before_request("pve", &format!("{method} {path}"))
        .await
    {
        Verdict::Drop => return Err(Dropped),
        Verdict::Fail => return Ok(reply::error(&ApiError::busy())),
        Verdict::Serve => {}
    }

    let Some(rel) = path
        .strip_prefix(API_PREFIX)
        .filter(|r| r.is_empty() || r.starts_with('/'))
    else {
        return Ok(plain(501, "no such uri"));
    };
    let auth = parts
        .headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let token = match authenticate(&shared, auth.as_deref()) {
        Ok(token) => token,
        Err(err) => return Ok(reply::error(&err)),
    };
    let params = match params {
        Ok(params) => params,
        Err(err) => return Ok(reply::error(&err)),
    };
    let segments: Vec<String> = rel
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let call = Call {
        method,
        rel: format!("/{}", segments.join("/")),
        segments,
        params,
        token,
    };
    let response = match api::dispatch(&shared, &call).await {
        Ok(response) => response,
        Err(err) => reply::error(&err),
    };
    Ok(response)
}

/// A plain-text error straight from pveproxy (before any API handler).
fn plain(status: u16, message: &str) -> Response<Body> {
    let mut response = Response::new(Body::from(message.to_string()));
    *response.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::NOT_IMPLEMENTED);
    if let Ok(phrase) = hyper::ext::ReasonPhrase::try_from(message.as_bytes()) {
        response.extensions_mut().insert(phrase);
    }
    response
}

/// `Authorization: PVEAPIToken=USER@REALM!TOKENID=SECRET`.
fn authenticate(shared: &Shared, header: Option<&str>) -> Result<Token, ApiError> {
    let Some(value) = header
        .and_then(|h| h.strip_prefix("PVEAPIToken"))
        .and_then(|rest| rest.strip_prefix('=').or_else(|| rest.strip_prefix(' ')))
    else {
        return Err(ApiError::unauthorized("No ticket"));
    };
    let (id, secret) = value.trim().split_once('=').unwrap_or((value, ""));
    let state = shared.lock();
    state
        .tokens
        .iter()
        .find(|t| t.id == id && constant_time_eq(t.secret.as_bytes(), secret.as_bytes()))
        .cloned()
        .ok_or_else(|| {
            tracing::info!(token = id, "PVE API: authentication failure");
            ApiError::unauthorized("Authentication failed!")
        })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Query parameters, then the body's form or JSON fields, all as strings.
fn parse_params(
    query: Option<&str>,
    content_type: &str,
    body: &[u8],
) -> Result<BTreeMap<String, String>, ApiError> {
    let mut params = query.map(decode_form).unwrap_or_default();
    if body.is_empty() {
        return Ok(params);
    }
    if content_type.starts_with("application/json") {
        let value: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::die(format!("unable to parse JSON body - {e}")))?;
        let Some(object) = value.as_object() else {
            return Err(ApiError::die("JSON body is not an object"));
        };
        for (k, v) in object {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Bool(b) => if *b { "1" } else { "0" }.to_string(),
                serde_json::Value::Null => continue,
                other => other.to_string(),
            };
            params.insert(k.clone(), text);
        }
    } else {
        params.extend(decode_form(&String::from_utf8_lossy(body)));
    }
    Ok(params)
}

/// `application/x-www-form-urlencoded`: `+` is a space, `%XX` a byte.
pub fn decode_form(text: &str) -> BTreeMap<String, String> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(byte) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_like_browsers_send_them() {
        let form =
            decode_form("net1=virtio%2Cbridge%3Dvmbr1&sshkeys=ssh-ed25519%2520AAAA&name=a+b");
        assert_eq!(form["net1"], "virtio,bridge=vmbr1");
        // The form layer decodes once; PVE wants sshkeys encoded once more.
        assert_eq!(form["sshkeys"], "ssh-ed25519%20AAAA");
        assert_eq!(form["name"], "a b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("UPID%3Apve1%3A"), "UPID:pve1:");
    }

    #[test]
    fn json_bodies_become_strings() {
        let params = parse_params(
            Some("a=1"),
            "application/json",
            br#"{"cores":2,"full":true,"name":"x"}"#,
        )
        .unwrap();
        assert_eq!(params["a"], "1");
        assert_eq!(params["cores"], "2");
        assert_eq!(params["full"], "1");
        assert_eq!(params["name"], "x");
    }
}
