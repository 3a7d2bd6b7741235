//! One request at a time per BMC, paced, trusted and authenticated.
//!
//! Trust: over HTTPS, the first request of an agent goes to the service
//! root, which needs no credentials; its certificate is pinned then (or
//! checked against the pin the store already holds), before any password
//! is sent. Authentication: a Redfish session (`X-Auth-Token`) where the
//! service offers one, basic authentication where it does not; a session
//! that expired is opened again once. Failures are classified: a BMC that
//! says it is busy or not ready (503, 429) is retried; a lost answer to a
//! change may have been applied; refused credentials or a certificate that
//! differs from its pin are permanent and say what to do.

use std::time::Instant;

use reqwest::header::{HeaderValue, AUTHORIZATION, ETAG, IF_MATCH, LOCATION};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::paths::{path_of, Paths};
use super::Redfish;
use crate::drivers::error::{DriverError, ErrorClass};
use crate::drivers::https::{format_fingerprint, parse_fingerprint, transport_error};
use crate::drivers::retry::retry;

/// The pin store key of a BMC certificate: `https://host:port`, apart from
/// SSH host keys' `host:port`.
pub const TLS_PIN_PREFIX: &str = "https://";

const SERVICE_ROOT: &str = "/redfish/v1/";
const AUTH_TOKEN: &str = "X-Auth-Token";

#[derive(Default)]
pub(super) struct Line {
    last_end: Option<Instant>,
    /// The service root, read once the certificate is trusted.
    root: Option<Value>,
    auth: Auth,
    pub(super) paths: Option<Paths>,
}

#[derive(Default)]
enum Auth {
    #[default]
    None,
    Session {
        token: HeaderValue,
        /// The session's own URI, deleted on a BMC restart.
        location: Option<String>,
    },
    Basic(HeaderValue),
}

/// A successful answer.
#[derive(Debug)]
pub(super) struct Reply {
    pub status: StatusCode,
    pub etag: Option<String>,
    pub location: Option<String>,
    pub body: Value,
}

impl Redfish {
    pub(super) async fn get(&self, action: &str, path: &str) -> Result<Reply, DriverError> {
        retry(self.config.retry, || {
            self.send(action, Method::GET, path, None, None)
        })
        .await
    }

    pub(super) async fn post(
        &self,
        action: &str,
        path: &str,
        body: &Value,
    ) -> Result<Reply, DriverError> {
        retry(self.config.retry, || {
            self.send(action, Method::POST, path, Some(body), None)
        })
        .await
    }

    /// A PATCH guarded by the resource's ETag where the BMC gives one; a
    /// resource changed in between (412) is read again and patched once more.
    pub(super) async fn patch(
        &self,
        action: &str,
        path: &str,
        body: &Value,
    ) -> Result<Reply, DriverError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let etag = self.get(action, path).await?.etag;
            let result = retry(self.config.retry, || {
                self.send(action, Method::PATCH, path, Some(body), etag.as_deref())
            })
            .await;
            match result {
                Err(error) if error.message.starts_with("HTTP 412") && attempts < 3 => continue,
                other => return other,
            }
        }
    }

    /// One request, in turn and paced.
    async fn send(
        &self,
        action: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Result<Reply, DriverError> {
        let mut line = self.line.lock().await;
        tracing::debug!(target_device = %self.target, action, %method, path, "redfish");
        self.exchange(&mut line, action, &method, path, body, if_match)
            .await
    }

    /// Every HTTP request, the root and the login included, waits its turn:
    /// `min_interval` after the previous answer.
    async fn wire(
        &self,
        line: &mut Line,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, reqwest::Error> {
        if let Some(end) = line.last_end {
            tokio::time::sleep_until((end + self.config.min_interval).into()).await;
        }
        let result = request.send().await;
        line.last_end = Some(Instant::now());
        result
    }

    async fn exchange(
        &self,
        line: &mut Line,
        action: &str,
        method: &Method,
        path: &str,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Result<Reply, DriverError> {
        if line.root.is_none() {
            line.root = Some(self.trusted_root(line, action).await?);
        }
        for _ in 0..2 {
            if matches!(line.auth, Auth::None) {
                line.auth = self.log_in(line, action).await?;
            }
            let mut request = self.request(method, path).header(
                match &line.auth {
                    Auth::Session { .. } => AUTH_TOKEN,
                    _ => AUTHORIZATION.as_str(),
                },
                match &line.auth {
                    Auth::Session { token, .. } => token.clone(),
                    Auth::Basic(value) => value.clone(),
                    Auth::None => HeaderValue::from_static(""),
                },
            );
            if let Some(body) = body {
                request = request.json(body);
            }
            if let Some(etag) = if_match {
                if let Ok(value) = HeaderValue::from_str(etag) {
                    request = request.header(IF_MATCH, value);
                }
            }
            let response = self
                .wire(line, request)
                .await
                .map_err(|e| self.transport(&e, *method != Method::GET, action))?;
            if response.status() == StatusCode::UNAUTHORIZED
                && matches!(line.auth, Auth::Session { .. })
            {
                // The session expired or the BMC restarted: log in again once.
                line.auth = Auth::None;
                continue;
            }
            return self.reply(action, method, response).await;
        }
        Err(DriverError::permanent(
            &self.target,
            action,
            "the BMC refused a session it had just opened",
        ))
    }

    fn request(&self, method: &Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method.clone(), format!("{}{path}", self.config.url))
            .header(reqwest::header::ACCEPT, "application/json")
    }

    /// Reads the service root without credentials. Over HTTPS this pins the
    /// certificate on first use, or proves it is the pinned one.
    async fn trusted_root(&self, line: &mut Line, action: &str) -> Result<Value, DriverError> {
        if let Some(first_use) = &self.first_use {
            if first_use.pinned().is_none() {
                let stored = self
                    .pins
                    .pinned(&self.endpoint)
                    .await
                    .map_err(|e| DriverError::transient(&self.target, action, e.message))?;
                if let Some(fingerprint) = stored.as_deref().and_then(parse_fingerprint) {
                    first_use.pin(fingerprint);
                }
            }
        }
        let response = self
            .wire(line, self.request(&Method::GET, SERVICE_ROOT))
            .await
            .map_err(|e| self.transport(&e, false, action))?;
        if let Some(first_use) = &self.first_use {
            if first_use.pinned().is_none() {
                let seen = first_use.seen().ok_or_else(|| {
                    DriverError::permanent(&self.target, action, "the BMC presented no certificate")
                })?;
                let seen_text = format_fingerprint(&seen);
                let kept = self
                    .pins
                    .pin(&self.endpoint, &seen_text)
                    .await
                    .map_err(|e| DriverError::transient(&self.target, action, e.message))?;
                if kept != seen_text {
                    return Err(self.pin_mismatch(action, &kept, &seen_text));
                }
                tracing::info!(target_device = %self.target, fingerprint = %seen_text, "BMC certificate pinned on first use");
                first_use.pin(seen);
            }
        }
        let reply = self.reply(action, &Method::GET, response).await?;
        Ok(reply.body)
    }

    /// A session where the service offers one, else basic authentication.
    async fn log_in(&self, line: &mut Line, action: &str) -> Result<Auth, DriverError> {
        let sessions = line
            .root
            .as_ref()
            .and_then(|root| root["Links"]["Sessions"]["@odata.id"].as_str())
            .map(str::to_string);
        let basic = || {
            let mut value = HeaderValue::from_str(&basic_auth(
                &self.config.user,
                self.config.password.expose(),
            ))
            .map_err(|_| {
                DriverError::permanent(&self.target, action, "the user name cannot go in a header")
            })?;
            value.set_sensitive(true);
            Ok(Auth::Basic(value))
        };
        let Some(sessions) = sessions else {
            return basic();
        };
        let login = self.request(&Method::POST, &sessions).json(&json!({
            "UserName": self.config.user,
            "Password": self.config.password.expose(),
        }));
        let response = self
            .wire(line, login)
            .await
            .map_err(|e| self.transport(&e, false, action))?;
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(self.refused(action, status));
        }
        let token = response
            .headers()
            .get(AUTH_TOKEN)
            .cloned()
            .filter(|_| status.is_success());
        match token {
            Some(mut token) => {
                token.set_sensitive(true);
                let location = header_text(response.headers().get(LOCATION)).map(|l| path_of(&l));
                tracing::debug!(target_device = %self.target, "Redfish session opened");
                Ok(Auth::Session { token, location })
            }
            None => {
                tracing::info!(target_device = %self.target, status = status.as_u16(), "no Redfish session offered; using basic authentication");
                basic()
            }
        }
    }

    /// Ends the session, if one is open (before a BMC restart, or when
    /// the driver is dropped from the site).
    pub(super) async fn log_out(&self) {
        let mut line = self.line.lock().await;
        if let Auth::Session {
            token,
            location: Some(location),
        } = std::mem::take(&mut line.auth)
        {
            let _ = self
                .request(&Method::DELETE, &location)
                .header(AUTH_TOKEN, token)
                .send()
                .await;
        }
        line.root = None;
        line.last_end = Some(Instant::now());
    }

    async fn reply(
        &self,
        action: &str,
        method: &Method,
        response: reqwest::Response,
    ) -> Result<Reply, DriverError> {
        let status = response.status();
        let etag = header_text(response.headers().get(ETAG));
        let location = header_text(response.headers().get(LOCATION)).map(|l| path_of(&l));
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport(&e, *method != Method::GET, action))?;
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            // Some BMCs give the ETag only in the body.
            let etag = etag.or_else(|| body["@odata.etag"].as_str().map(str::to_string));
            return Ok(Reply {
                status,
                etag,
                location,
                body,
            });
        }
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(self.refused(action, status));
        }
        let said = self.scrub(&device_message(&body, &bytes));
        let message = format!("HTTP {}: {said}", status.as_u16());
        let class = match status.as_u16() {
            404 => ErrorClass::NotFound,
            // Busy, starting, or asking to be left alone for a while.
            429 | 503 => ErrorClass::Transient,
            502 | 504 if *method == Method::GET => ErrorClass::Transient,
            502 | 504 => ErrorClass::MaybeApplied,
            500 if *method == Method::GET => ErrorClass::Transient,
            _ => ErrorClass::Permanent,
        };
        Err(DriverError::new(class, &self.target, action, message))
    }

    fn transport(&self, err: &reqwest::Error, mutating: bool, action: &str) -> DriverError {
        let mut error = transport_error(err, mutating, &self.target, action);
        if let Some(first_use) = &self.first_use {
            if let (Some(pinned), Some(seen)) = (first_use.pinned(), first_use.seen()) {
                if pinned != seen {
                    error = self.pin_mismatch(
                        action,
                        &format_fingerprint(&pinned),
                        &format_fingerprint(&seen),
                    );
                }
            }
        }
        error
    }

    fn pin_mismatch(&self, action: &str, pinned: &str, seen: &str) -> DriverError {
        DriverError::permanent(
            &self.target,
            action,
            format!(
                "the BMC's certificate (SHA-256 {seen}) is not the one pinned on first use ({pinned}); \
                 someone may be impersonating it. If the BMC was given a new certificate on purpose, \
                 run `giif-agent host-keys forget {}`",
                self.endpoint
            ),
        )
    }

    fn refused(&self, action: &str, status: StatusCode) -> DriverError {
        DriverError::permanent(
            &self.target,
            action,
            format!(
                "HTTP {}: the BMC refused user {:?} with the password the site file gives; \
                 check the server's bmc.user and bmc.password",
                status.as_u16(),
                self.config.user
            ),
        )
    }

    /// The message with the BMC's password cut out, should a BMC echo it.
    pub(super) fn scrub(&self, text: &str) -> String {
        let password = self.config.password.expose();
        if password.is_empty() {
            text.to_string()
        } else {
            text.replace(password, "******")
        }
    }
}

fn header_text(value: Option<&HeaderValue>) -> Option<String> {
    value
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .filter(|v| !v.is_empty())
}

fn basic_auth(user: &str, password: &str) -> String {
    use base64::Engine as _;
    let raw = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// The BMC's own words: Redfish's `error` object (its message and each
/// extended message), or the body's text.
pub(super) fn device_message(body: &Value, raw: &[u8]) -> String {
    let error = &body["error"];
    let mut parts: Vec<String> = Vec::new();
    if let Some(message) = error["message"].as_str() {
        parts.push(message.to_string());
    }
    if let Some(extended) = error["@Message.ExtendedInfo"].as_array() {
        for info in extended {
            if let Some(message) = info["Message"].as_str() {
                if !parts.iter().any(|p| p == message) {
                    parts.push(message.to_string());
                }
            }
        }
    }
    if parts.is_empty() {
        let text = String::from_utf8_lossy(raw);
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() {
            return "no explanation given".to_string();
        }
        return text.chars().take(300).collect();
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_messages_come_from_the_error_object() {
        let body = json!({"error": {"code": "Base.1.8.GeneralError",
            "message": "A general error has occurred. See ExtendedInfo for more information.",
            "@Message.ExtendedInfo": [{"MessageId": "IDRAC.2.8.VRM0012",
                "Message": "The requested operation cannot be completed because the Virtual Media device is already attached."}]}});
        assert_eq!(
            device_message(&body, b""),
            "A general error has occurred. See ExtendedInfo for more information.; \
             The requested operation cannot be completed because the Virtual Media device is already attached."
        );
        assert_eq!(
            device_message(&Value::Null, b"  Bad\n gateway "),
            "Bad gateway"
        );
        assert_eq!(device_message(&Value::Null, b""), "no explanation given");
    }
}
