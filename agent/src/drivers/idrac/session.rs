//! One SSH connection to an iDRAC: connect with the host key pinned on first
//! use, log in with the password, and run one command per exec channel.
//! Failures say whether the command could have reached the device.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client::{self, Handle};
use russh::keys::{HashAlg, PublicKeyOrCertificate};
use russh::ChannelMsg;

use super::IdracConfig;
use crate::drivers::error::DriverError;
use crate::drivers::host_keys::HostKeyPins;

/// What came back from one command.
#[derive(Debug)]
pub(super) struct Output {
    /// `None` when the iDRAC closed the channel without sending one.
    pub exit_status: Option<u32>,
    /// Everything printed (racadm prints its errors on stdout too).
    pub text: String,
}

/// Why a command did not complete.
#[derive(Debug)]
pub(super) enum ExecError {
    /// Nothing reached the device: safe to repeat.
    NotSent(String),
    /// The command went out, but the answer did not come back whole.
    Lost(String),
}

pub(super) struct Session {
    handle: Handle<HostKeyCheck>,
}

/// Accepts the server's key when it matches the pin, or when nothing is
/// pinned yet; remembers the fingerprint it saw either way.
struct HostKeyCheck {
    pinned: Option<String>,
    offered: Arc<Mutex<Option<String>>>,
}

impl client::Handler for HostKeyCheck {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let fingerprint = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.fingerprint(HashAlg::Sha256),
            PublicKeyOrCertificate::Certificate(cert) => {
                cert.public_key().fingerprint(HashAlg::Sha256)
            }
        }
        .to_string();
        let accepted = self
            .pinned
            .as_ref()
            .is_none_or(|pinned| *pinned == fingerprint);
        if let Ok(mut offered) = self.offered.lock() {
            *offered = Some(fingerprint);
        }
        Ok(accepted)
    }
}

/// Where errors come from and go to: the device and the action at hand.
pub(super) struct Context<'a> {
    pub config: &'a IdracConfig,
    pub target: &'a str,
    pub action: &'a str,
    /// `address:port`, the key of the host key pin.
    pub endpoint: &'a str,
    pub pins: &'a dyn HostKeyPins,
}

impl Context<'_> {
    fn transient(&self, message: String) -> DriverError {
        DriverError::transient(self.target, self.action, message)
    }
    fn permanent(&self, message: String) -> DriverError {
        DriverError::permanent(self.target, self.action, message)
    }

    fn key_changed(&self, pinned: &str, offered: &str) -> DriverError {
        self.permanent(format!(
            "the SSH host key of {endpoint} changed: pinned {pinned}, now offered {offered}. \
             Refusing to connect: this may be an impostor. If the iDRAC was replaced or its key \
             regenerated on purpose, compare the new fingerprint with the one its console shows, \
             then run `giif-agent host-keys forget {endpoint}` so the next connection pins the \
             new key",
            endpoint = self.endpoint
        ))
    }
}

impl Session {
    pub async fn open(cx: &Context<'_>) -> Result<Session, DriverError> {
        let pinned = cx.pins.pinned(cx.endpoint).await.map_err(|e| {
            cx.transient(format!(
                "cannot read the host key pin of {}: {e}",
                cx.endpoint
            ))
        })?;
        let offered = Arc::new(Mutex::new(None));
        let check = HostKeyCheck {
            pinned: pinned.clone(),
            offered: offered.clone(),
        };
        let client_config = Arc::new(client::Config {
            // Keeps a reused connection from dying quietly behind a NAT or firewall.
            keepalive_interval: Some(Duration::from_secs(30)),
            nodelay: true,
            ..Default::default()
        });
        let address = (cx.config.address.as_str(), cx.config.port);
        let connected = tokio::time::timeout(
            cx.config.command_timeout,
            client::connect(client_config, address, check),
        )
        .await;
        let seen = || offered.lock().ok().and_then(|o| o.clone());
        let mut handle = match connected {
            Ok(Ok(handle)) => handle,
            Ok(Err(error)) => {
                if let (Some(pinned), Some(seen)) = (&pinned, seen()) {
                    if *pinned != seen {
                        return Err(cx.key_changed(pinned, &seen));
                    }
                }
                return Err(cx.transient(format!("cannot open SSH to {}: {error}", cx.endpoint)));
            }
            Err(_) => {
                return Err(cx.transient(format!(
                    "no SSH connection to {} within {:?}",
                    cx.endpoint, cx.config.command_timeout
                )))
            }
        };
        let auth = tokio::time::timeout(
            cx.config.command_timeout,
            handle.authenticate_password(cx.config.user.clone(), cx.config.password.expose()),
        )
        .await
        .map_err(|_| cx.transient(format!("no answer to the SSH login on {}", cx.endpoint)))?
        .map_err(|e| cx.transient(format!("SSH login on {} failed: {e}", cx.endpoint)))?;
        if !auth.success() {
            return Err(cx.permanent(format!(
                "{} refused the password of user {:?}; check the credentials the inventory references",
                cx.endpoint, cx.config.user
            )));
        }
        if pinned.is_none() {
            let Some(seen) = seen() else {
                return Err(cx.permanent("the server showed no host key".to_string()));
            };
            let now_pinned = cx.pins.pin(cx.endpoint, &seen).await.map_err(|e| {
                cx.transient(format!("cannot pin the host key of {}: {e}", cx.endpoint))
            })?;
            if now_pinned != seen {
                // Someone pinned another key between our read and our write.
                return Err(cx.key_changed(&now_pinned, &seen));
            }
            tracing::info!(target_device = cx.target, endpoint = cx.endpoint, fingerprint = %seen, "pinned the iDRAC's SSH host key on first use");
        }
        Ok(Session { handle })
    }

    pub fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    /// Runs `wire` on a new exec channel and waits for its exit status.
    pub async fn exec(&self, wire: &str, timeout: Duration) -> Result<Output, ExecError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut channel =
            match tokio::time::timeout_at(deadline, self.handle.channel_open_session()).await {
                Ok(Ok(channel)) => channel,
                Ok(Err(error)) => {
                    return Err(ExecError::NotSent(format!(
                        "cannot open an SSH channel: {error}"
                    )))
                }
                Err(_) => {
                    return Err(ExecError::NotSent(format!(
                        "no SSH channel within {timeout:?}"
                    )))
                }
            };
        if let Err(error) = channel.exec(true, wire).await {
            return Err(ExecError::NotSent(format!(
                "cannot send the command: {error}"
            )));
        }
        let mut bytes = Vec::new();
        let mut exit_status = None;
        // The iDRAC ended the answer itself (end of file or close), as
        // opposed to the connection dropping under it.
        let mut ended = false;
        loop {
            match tokio::time::timeout_at(deadline, channel.wait()).await {
                Err(_) => return Err(ExecError::Lost(format!("no answer within {timeout:?}"))),
                Ok(None) => break,
                Ok(Some(ChannelMsg::Close)) => {
                    ended = true;
                    break;
                }
                Ok(Some(ChannelMsg::Eof)) => ended = true,
                Ok(Some(ChannelMsg::Data { data })) => bytes.extend_from_slice(&data),
                Ok(Some(ChannelMsg::ExtendedData { data, .. })) => bytes.extend_from_slice(&data),
                Ok(Some(ChannelMsg::ExitStatus {
                    exit_status: status,
                })) => exit_status = Some(status),
                Ok(Some(ChannelMsg::Failure)) => {
                    return Err(ExecError::NotSent(
                        "the iDRAC refused the exec request".to_string(),
                    ))
                }
                Ok(Some(_)) => {}
            }
        }
        if exit_status.is_none() && !ended {
            return Err(ExecError::Lost(
                "the connection ended before the command finished".to_string(),
            ));
        }
        Ok(Output {
            exit_status,
            text: String::from_utf8_lossy(&bytes).replace("\r\n", "\n"),
        })
    }

    pub async fn close(self) {
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "English")
            .await;
    }
}
