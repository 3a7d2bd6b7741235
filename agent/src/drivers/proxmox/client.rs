//! One HTTPS client per cluster: API-token authentication, form-encoded
//! requests, PVE's `{"data": ...}` envelope, and every failure classified.
//! The token travels only in a header marked sensitive; no message, log
//! line or `Debug` output carries it.

use reqwest::header::{HeaderValue, AUTHORIZATION};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::classify;
use crate::drivers::error::DriverError;
use crate::drivers::https::transport_error;
use crate::drivers::observe::{observed, observed_change};
use crate::drivers::retry::{retry, RetryPolicy};

pub type Params = Vec<(String, String)>;

pub struct PveClient {
    http: reqwest::Client,
    /// `https://host:port/api2/json`.
    base: String,
    auth: HeaderValue,
    pub retry: RetryPolicy,
}

impl std::fmt::Debug for PveClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PveClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// The device a path talks to: `pve:<node>`, or `pve:cluster`.
pub fn target_of(path: &str) -> String {
    let mut segments = path.trim_start_matches('/').split('/');
    match (segments.next(), segments.next()) {
        (Some("nodes"), Some(node)) if !node.is_empty() => format!("pve:{node}"),
        _ => "pve:cluster".to_string(),
    }
}

impl PveClient {
    pub fn new(http: reqwest::Client, base: String, auth: HeaderValue, retry: RetryPolicy) -> Self {
        Self {
            http,
            base,
            auth,
            retry,
        }
    }

    /// One call, retried while the failure is transient, logged as one action.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        params: &Params,
    ) -> Result<Value, DriverError> {
        let target = target_of(path);
        let action = format!("{method} {path}");
        let work = retry(self.retry, || self.once(&method, path, params));
        if method == Method::GET {
            observed(&target, &action, work).await
        } else {
            observed_change(&target, &action, work).await
        }
    }

    /// One attempt: the answer's `data`, or a classified error.
    pub async fn once(
        &self,
        method: &Method,
        path: &str,
        params: &Params,
    ) -> Result<Value, DriverError> {
        let target = target_of(path);
        let action = format!("{method} {path}");
        let mutating = *method != Method::GET;
        let url = format!("{}{path}", self.base);
        let mut request = self
            .http
            .request(method.clone(), url)
            .header(AUTHORIZATION, self.auth.clone());
        request = if *method == Method::GET || *method == Method::DELETE {
            request.query(params)
        } else {
            request.form(params)
        };
        let response = request
            .send()
            .await
            .map_err(|e| transport_error(&e, mutating, &target, &action))?;
        let status = response.status();
        let reason = reason_phrase(&response);
        let body = response
            .bytes()
            .await
            .map_err(|e| transport_error(&e, mutating, &target, &action))?;
        let json: Option<Value> = serde_json::from_slice(&body).ok();
        if status.is_success() {
            return match json {
                Some(mut envelope) => Ok(envelope["data"].take()),
                None => Err(DriverError::permanent(
                    target,
                    action,
                    format!("HTTP {}: the answer is not JSON", status.as_u16()),
                )),
            };
        }
        let message = error_message(status, reason.as_deref(), json.as_ref());
        let class = classify::http_status(status.as_u16(), &message);
        Err(DriverError::new(class, target, action, message))
    }
}

/// PVE's words for a failure: the body's `message` (or the status line's
/// reason), plus each parameter error.
fn error_message(status: StatusCode, reason: Option<&str>, json: Option<&Value>) -> String {
    let from_body = json
        .and_then(|j| j["message"].as_str())
        .map(|m| m.trim_end().to_string())
        .filter(|m| !m.is_empty());
    let mut message = from_body
        .or_else(|| reason.map(str::to_string))
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
    if let Some(errors) = json.and_then(|j| j["errors"].as_object()) {
        let details: Vec<String> = errors
            .iter()
            .map(|(param, error)| {
                let error = error
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| error.to_string());
                format!("{param}: {}", error.trim_end().replace('\n', " "))
            })
            .collect();
        if !details.is_empty() {
            message = format!("{message} ({})", details.join("; "));
        }
    }
    format!("HTTP {}: {message}", status.as_u16())
}

/// The status line's reason phrase, which PVE fills with its message.
fn reason_phrase(response: &reqwest::Response) -> Option<String> {
    let err = response.error_for_status_ref().err()?.without_url();
    // "HTTP status server error (500 VM is locked (clone))"
    let text = err.to_string();
    let inner = text.split_once(" (")?.1.strip_suffix(')')?;
    let reason = inner.split_once(' ')?.1.trim();
    (!reason.is_empty()).then(|| reason.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn targets_name_the_node() {
        assert_eq!(target_of("/nodes/pve1/qemu/101/config"), "pve:pve1");
        assert_eq!(target_of("/cluster/nextid"), "pve:cluster");
        assert_eq!(target_of("/version"), "pve:cluster");
    }

    #[test]
    fn messages_carry_pves_words_and_fields() {
        let body = json!({
            "data": null,
            "message": "Parameter verification failed.\n",
            "errors": { "net1": "invalid format - format error\nnet1.tag: value must have a maximum value of 4094\n" },
        });
        let message = error_message(StatusCode::BAD_REQUEST, None, Some(&body));
        assert_eq!(
            message,
            "HTTP 400: Parameter verification failed. (net1: invalid format - format error net1.tag: value must have a maximum value of 4094)"
        );
        let bare = error_message(
            StatusCode::UNAUTHORIZED,
            Some("Authentication failed!"),
            None,
        );
        assert_eq!(bare, "HTTP 401: Authentication failed!");
    }
}
