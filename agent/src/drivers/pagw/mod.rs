//! The PAGW driver: configures a project gateway VM over SSH with the
//! protocol documented in [`crate::drivers::gateway`]. It renders the whole
//! desired configuration, has the gateway apply it idempotently, and reads
//! the live state back for drift.
//!
//! One session per gateway, reused and reopened when lost; one action at a
//! time per gateway. Connection failures before a command went out are
//! transient (a booting gateway refuses or drops connections); a lost
//! connection after an apply went out is "maybe applied" and is settled by
//! re-reading the gateway; the gateway refusing a configuration is
//! permanent and carries its message.

mod ssh;
pub(crate) mod wire;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;

use crate::drivers::error::{DriverError, ErrorClass};
use crate::drivers::gateway::{ApplyReport, Gateway, GatewayConfig, LiveGateway};
use crate::drivers::host_keys::HostKeyPins;
use crate::drivers::observe::{observed, observed_change};
use crate::drivers::retry::{retry, RetryPolicy};
pub use ssh::Credential;

/// How to reach one gateway.
#[derive(Clone, Debug)]
pub struct PagwConfig {
    /// The slot's public IP: the gateway's identity in logs and errors.
    pub public_ip: Ipv4Addr,
    /// Where its SSH server answers (usually the public IP).
    pub address: String,
    pub port: u16,
    pub user: String,
    pub credential: Credential,
    pub retry: RetryPolicy,
    /// For the TCP connection, the handshake and the login, each.
    pub connect_timeout: Duration,
    /// For one command, from sending it to its exit status.
    pub command_timeout: Duration,
}

impl PagwConfig {
    pub fn new(
        public_ip: Ipv4Addr,
        address: impl Into<String>,
        port: u16,
        user: impl Into<String>,
        credential: Credential,
    ) -> Self {
        Self {
            public_ip,
            address: address.into(),
            port,
            user: user.into(),
            credential,
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(10),
            command_timeout: Duration::from_secs(120),
        }
    }
}

/// The error for a gateway whose giif-pagw speaks another document format.
fn old_gateway(said: &str) -> String {
    format!(
        "the gateway's giif-pagw does not speak this agent's document format {}: {said}; install the giif-pagw package of this release in the PAGW template (docs/gateway-template.md), then re-create the gateway or upgrade the package on it",
        wire::FORMAT
    )
}

/// How often a lost apply is re-read and sent again before giving up.
const MAX_LOST_APPLIES: u32 = 3;

const APPLY: &str = "apply configuration";
const READ: &str = "read live state";

/// Whether a command changes the gateway (decides what a lost reply means).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Effect {
    Reads,
    Changes,
}

pub struct Pagw {
    config: PagwConfig,
    target: String,
    pins: Arc<dyn HostKeyPins>,
    /// One action at a time per gateway.
    action: Mutex<()>,
    session: Mutex<Option<ssh::Session>>,
}

impl std::fmt::Debug for Pagw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pagw")
            .field("target", &self.target)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Pagw {
    pub fn new(config: PagwConfig, pins: Arc<dyn HostKeyPins>) -> Self {
        Self {
            target: format!("pagw:{}", config.public_ip),
            config,
            pins,
            action: Mutex::new(()),
            session: Mutex::new(None),
        }
    }

    /// Runs one command on the gateway, (re)connecting as needed.
    async fn run(
        &self,
        action: &str,
        command: &str,
        stdin: Option<&[u8]>,
        effect: Effect,
    ) -> Result<ssh::Output, DriverError> {
        let mut session = self.session.lock().await;
        if session.as_ref().is_none_or(|s| s.is_closed()) {
            *session = None;
            let login = ssh::Login {
                address: &self.config.address,
                port: self.config.port,
                user: &self.config.user,
                credential: &self.config.credential,
                pins: &self.pins,
                timeout: self.config.connect_timeout,
            };
            let opened = ssh::Session::open(login).await.map_err(|err| match err {
                ssh::LoginError::Unreachable(message) => {
                    DriverError::transient(&self.target, action, message)
                }
                ssh::LoginError::Refused(message) => {
                    DriverError::permanent(&self.target, action, message)
                }
            })?;
            *session = Some(opened);
        }
        let Some(open) = session.as_ref() else {
            return Err(DriverError::transient(
                &self.target,
                action,
                "no SSH session",
            ));
        };
        match open.exec(command, stdin, self.config.command_timeout).await {
            Ok(output) => Ok(output),
            Err(err) => {
                // Whatever broke, the next command starts a fresh session.
                if let Some(broken) = session.take() {
                    broken.close().await;
                }
                Err(match (err, effect) {
                    (ssh::ExecError::NotSent(message), _) => {
                        DriverError::transient(&self.target, action, message)
                    }
                    (ssh::ExecError::Lost(message), Effect::Reads) => {
                        DriverError::transient(&self.target, action, message)
                    }
                    (ssh::ExecError::Lost(message), Effect::Changes) => {
                        DriverError::maybe_applied(&self.target, action, message)
                    }
                })
            }
        }
    }

    /// An exit status other than 0 as a classified error.
    fn failed(&self, action: &str, output: &ssh::Output) -> DriverError {
        let message = match output.stderr.is_empty() {
            true => format!("exit status {}", output.status),
            false => output.stderr.clone(),
        };
        // A gateway of another format refuses by the format, or (format 1,
        // which checks fields first) by the field format 2 added.
        if message.contains("is not supported (this gateway reads format")
            || message.contains("unknown field `nics`")
        {
            return DriverError::permanent(&self.target, action, old_gateway(&message));
        }
        match output.status {
            // EX_TEMPFAIL: busy or a NIC not there yet, nothing changed.
            75 => DriverError::transient(&self.target, action, message),
            _ => DriverError::permanent(&self.target, action, message),
        }
    }

    async fn apply_once(&self, command: &str, document: &str) -> Result<ApplyReport, DriverError> {
        let output = self
            .run(APPLY, command, Some(document.as_bytes()), Effect::Changes)
            .await?;
        if output.status != 0 {
            return Err(self.failed(APPLY, &output));
        }
        // It ran; an answer we cannot read is settled by a re-read.
        let result: wire::ApplyResult = serde_json::from_slice(&output.stdout).map_err(|err| {
            DriverError::maybe_applied(
                &self.target,
                APPLY,
                format!("unreadable answer from giif-pagw-apply: {err}"),
            )
        })?;
        if result.format != wire::FORMAT {
            return Err(DriverError::maybe_applied(
                &self.target,
                APPLY,
                format!("giif-pagw-apply answered in format {}", result.format),
            ));
        }
        Ok(ApplyReport {
            changed: result.changed,
            changes: result.changes,
            revision: result.sha256,
            wireguard_public_key: result.wireguard_public_key,
        })
    }

    async fn read_once(&self) -> Result<LiveGateway, DriverError> {
        let output = self
            .run(READ, "sudo giif-pagw-show --json", None, Effect::Reads)
            .await?;
        if output.status != 0 {
            return Err(self.failed(READ, &output));
        }
        let unreadable = |reason: String| {
            DriverError::permanent(
                &self.target,
                READ,
                format!("unreadable answer from giif-pagw-show: {reason}"),
            )
        };
        let show: wire::Show =
            serde_json::from_slice(&output.stdout).map_err(|err| unreadable(err.to_string()))?;
        if show.format != wire::FORMAT {
            return Err(DriverError::permanent(
                &self.target,
                READ,
                old_gateway(&format!("giif-pagw-show speaks format {}", show.format)),
            ));
        }
        let config = show
            .live
            .map(wire::to_config)
            .transpose()
            .map_err(unreadable)?;
        Ok(LiveGateway {
            config,
            wireguard_public_key: show.wireguard_public_key,
            revision: show.config_file.map(|file| file.sha256),
            matches_stored: show.in_sync,
            drift: show.drift,
        })
    }

    async fn apply_settled(&self, desired: &GatewayConfig) -> Result<ApplyReport, DriverError> {
        desired
            .validate()
            .map_err(|err| DriverError::permanent(&self.target, APPLY, err.to_string()))?;
        let desired = desired.clone().canonical();
        let (document, sha256) = wire::render(&desired);
        let command = format!("sudo giif-pagw-apply --sha256 {sha256} -");
        let mut lost = 0;
        loop {
            let error =
                match retry(self.config.retry, || self.apply_once(&command, &document)).await {
                    Ok(report) => return Ok(report),
                    Err(error)
                        if error.class == ErrorClass::MaybeApplied && lost < MAX_LOST_APPLIES =>
                    {
                        error
                    }
                    Err(error) => return Err(error),
                };
            lost += 1;
            tracing::warn!(target_device = %self.target, error = %error.message, "the apply may or may not have run; re-reading the gateway");
            let live = retry(self.config.retry, || self.read_once()).await?;
            if live.revision.as_deref() == Some(sha256.as_str())
                && live.config.as_ref() == Some(&desired)
            {
                return Ok(ApplyReport {
                    changed: true,
                    changes: vec!["the connection was lost after the configuration was sent; a re-read shows it in force".into()],
                    revision: sha256,
                    wireguard_public_key: live.wireguard_public_key,
                });
            }
            // Not in force: sending it again is safe, the apply is idempotent.
        }
    }
}

#[async_trait::async_trait]
impl Gateway for Pagw {
    fn target(&self) -> &str {
        &self.target
    }

    async fn wait_until_reachable(&self, timeout: Duration) -> Result<LiveGateway, DriverError> {
        observed(&self.target, "wait until reachable", async {
            let _action = self.action.lock().await;
            let policy = RetryPolicy {
                deadline: timeout,
                ..self.config.retry
            };
            retry(policy, || self.read_once())
                .await
                .map_err(|err| match err.class {
                    ErrorClass::Transient => DriverError::transient(
                        &self.target,
                        "wait until reachable",
                        format!("not reachable within {timeout:?}: {}", err.message),
                    ),
                    _ => err,
                })
        })
        .await
    }

    async fn apply(&self, desired: &GatewayConfig) -> Result<ApplyReport, DriverError> {
        observed_change(&self.target, APPLY, async {
            let _action = self.action.lock().await;
            self.apply_settled(desired).await
        })
        .await
    }

    async fn read(&self) -> Result<LiveGateway, DriverError> {
        observed(&self.target, READ, async {
            let _action = self.action.lock().await;
            retry(self.config.retry, || self.read_once()).await
        })
        .await
    }
}
