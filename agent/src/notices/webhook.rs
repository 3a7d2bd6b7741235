//! Notices as a JSON POST to the operators' webhook, over HTTPS with the
//! system's roots (or plain HTTP where the URL says so). Any 2xx answer
//! means the notice arrived.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderValue, AUTHORIZATION};

use super::config::WebhookConfig;
use super::notice::Notice;
use super::secret::{read_secret, SecretError};

const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("cannot set up the webhook client: {0}")]
    Setup(String),
    #[error("the webhook bearer token is not a valid HTTP header value")]
    BadToken,
    #[error("the webhook {url} failed: {reason}")]
    Post { url: String, reason: String },
}

pub struct WebhookSender {
    config: WebhookConfig,
    http: reqwest::Client,
}

impl WebhookSender {
    pub fn new(config: WebhookConfig) -> Result<Self, WebhookError> {
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(client_tls()?)
            .timeout(WEBHOOK_TIMEOUT)
            .build()
            .map_err(|e| WebhookError::Setup(e.to_string()))?;
        Ok(Self { config, http })
    }

    pub async fn send(&self, notice: &Notice) -> Result<(), WebhookError> {
        let mut request = self
            .http
            .post(&self.config.url)
            .json(&notice.webhook_body());
        if let Some(token) = read_secret(
            "the webhook bearer token",
            self.config.bearer_token_file.as_deref(),
            self.config.bearer_token_env.as_deref(),
        )? {
            let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| WebhookError::BadToken)?;
            value.set_sensitive(true);
            request = request.header(AUTHORIZATION, value);
        }
        let failed = |reason: String| WebhookError::Post {
            url: self.config.url.clone(),
            reason,
        };
        // Without the URL in reqwest's message: it is in ours already.
        let response = request
            .send()
            .await
            .map_err(|e| failed(e.without_url().to_string()))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(failed(format!("it answered {status}")))
        }
    }
}

fn client_tls() -> Result<rustls::ClientConfig, WebhookError> {
    let mut roots = rustls::RootCertStore::empty();
    // Unreadable system certificates are skipped: the rest still verify.
    let (_added, _ignored) =
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| WebhookError::Setup(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
