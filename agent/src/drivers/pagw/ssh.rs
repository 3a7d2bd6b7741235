//! An SSH session to one gateway: key (or password) login, the host key pinned on
//! first use, one command per exec channel. Failures say whether the
//! command could have reached the gateway, which decides how they are
//! classified.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client;
use russh::keys::{
    decode_secret_key, HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKeyOrCertificate,
};
use russh::ChannelMsg;

use crate::credentials::Secret;
use crate::drivers::host_keys::HostKeyPins;

/// How the agent proves who it is to a gateway.
#[derive(Clone)]
pub enum Credential {
    /// The agent's private key (OpenSSH format), whose public half
    /// cloud-init installs on every gateway: the normal way.
    Key(Arc<PrivateKey>),
    /// A password, for gateways made from an older template.
    Password(Secret),
}

impl Credential {
    /// Reads an OpenSSH private key (unencrypted) from its text.
    pub fn key(text: &Secret) -> Result<Self, String> {
        decode_secret_key(text.expose(), None)
            .map(|key| Self::Key(Arc::new(key)))
            .map_err(|err| format!("not an unencrypted OpenSSH private key: {err}"))
    }

    /// The public half, as `authorized_keys` and cloud-init take it.
    pub fn public_key(&self) -> Option<String> {
        match self {
            Self::Key(key) => key.public_key().to_openssh().ok(),
            Self::Password(_) => None,
        }
    }
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Key(_) => f.write_str("Key(..)"),
            Self::Password(_) => f.write_str("Password(..)"),
        }
    }
}

/// Where and as whom to log in.
pub struct Login<'a> {
    pub address: &'a str,
    pub port: u16,
    pub user: &'a str,
    pub credential: &'a Credential,
    pub pins: &'a Arc<dyn HostKeyPins>,
    pub timeout: Duration,
}

/// Why a login failed.
#[derive(Debug)]
pub enum LoginError {
    /// Unreachable, closed while booting, timed out: try again later.
    Unreachable(String),
    /// The host key, the password or the user was refused.
    Refused(String),
}

/// A command's result, as the gateway reported it.
#[derive(Debug)]
pub struct Output {
    pub status: u32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

/// Why a command has no result.
#[derive(Debug)]
pub enum ExecError {
    /// The command never reached the gateway.
    NotSent(String),
    /// The command went out, then the connection was lost: it may have run.
    Lost(String),
}

/// What the host key check saw, kept for after the handshake.
#[derive(Clone, Debug, Default)]
enum KeyCheck {
    #[default]
    NotYet,
    /// Known and matching.
    Pinned,
    /// Never seen: pin it once the login succeeds.
    New(String),
    Mismatch {
        pinned: String,
        shown: String,
    },
    StoreFailed(String),
}

pub struct Client {
    endpoint: String,
    pins: Arc<dyn HostKeyPins>,
    check: Arc<Mutex<KeyCheck>>,
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let shown = key.public_key().fingerprint(HashAlg::Sha256).to_string();
        let (verdict, accept) = match self.pins.pinned(&self.endpoint).await {
            Ok(Some(pinned)) if pinned == shown => (KeyCheck::Pinned, true),
            Ok(Some(pinned)) => (KeyCheck::Mismatch { pinned, shown }, false),
            Ok(None) => (KeyCheck::New(shown), true),
            Err(err) => (KeyCheck::StoreFailed(err.to_string()), false),
        };
        if let Ok(mut check) = self.check.lock() {
            *check = verdict;
        }
        Ok(accept)
    }
}

pub struct Session {
    handle: client::Handle<Client>,
}

impl Session {
    pub async fn open(login: Login<'_>) -> Result<Self, LoginError> {
        let endpoint = format!("{}:{}", login.address, login.port);
        let check = Arc::new(Mutex::new(KeyCheck::NotYet));
        let handler = Client {
            endpoint: endpoint.clone(),
            pins: login.pins.clone(),
            check: check.clone(),
        };
        let config = Arc::new(client::Config {
            inactivity_timeout: Some(Duration::from_secs(300)),
            ..Default::default()
        });
        let seen = || check.lock().map(|c| c.clone()).unwrap_or_default();

        let connect = client::connect(config, (login.address, login.port), handler);
        let mut handle = match tokio::time::timeout(login.timeout, connect).await {
            Err(_) => return Err(LoginError::Unreachable(format!("no SSH answer from {endpoint} within {:?}", login.timeout))),
            Ok(Ok(handle)) => handle,
            Ok(Err(err)) => {
                return Err(match seen() {
                    KeyCheck::Mismatch { pinned, shown } => LoginError::Refused(format!(
                        "{endpoint} shows host key {shown}, not the pinned {pinned}; refusing a possible impostor (if the gateway was rebuilt, run `giif-agent host-keys forget {endpoint}`)"
                    )),
                    KeyCheck::StoreFailed(reason) => LoginError::Unreachable(format!("cannot check the host key of {endpoint}: {reason}")),
                    _ => LoginError::Unreachable(format!("SSH to {endpoint} failed: {err}")),
                })
            }
        };

        let auth = async {
            match login.credential {
                Credential::Password(password) => {
                    handle
                        .authenticate_password(login.user, password.expose())
                        .await
                }
                Credential::Key(key) => {
                    let hash = handle.best_supported_rsa_hash().await?.flatten();
                    handle
                        .authenticate_publickey(
                            login.user,
                            PrivateKeyWithHashAlg::new(key.clone(), hash),
                        )
                        .await
                }
            }
        };
        let what = match login.credential {
            Credential::Key(_) => "key",
            Credential::Password(_) => "password",
        };
        match tokio::time::timeout(login.timeout, auth).await {
            Err(_) => {
                return Err(LoginError::Unreachable(format!(
                    "{endpoint} did not answer the login within {:?}",
                    login.timeout
                )))
            }
            Ok(Err(err)) => {
                return Err(LoginError::Unreachable(format!(
                    "login to {endpoint} failed: {err}"
                )))
            }
            Ok(Ok(result)) if !result.success() => {
                return Err(LoginError::Refused(format!(
                    "{endpoint} refused the {what} of {}",
                    login.user
                )))
            }
            Ok(Ok(_)) => {}
        }

        // Pin only a key that also passed the login, so a stray host on the
        // address cannot get pinned.
        if let KeyCheck::New(shown) = seen() {
            let pinned = login.pins.pin(&endpoint, &shown).await.map_err(|err| {
                LoginError::Unreachable(format!("cannot pin the host key of {endpoint}: {err}"))
            })?;
            if pinned != shown {
                return Err(LoginError::Refused(format!(
                    "{endpoint} shows host key {shown}, not the pinned {pinned}; refusing a possible impostor"
                )));
            }
            tracing::info!(endpoint = %endpoint, fingerprint = %shown, "pinned the SSH host key on first use");
        }
        Ok(Self { handle })
    }

    pub fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    /// Runs `command`, feeding it `stdin` (then EOF) when given.
    pub async fn exec(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Output, ExecError> {
        let mut channel = self
            .handle
            .channel_open_session()
            .await
            .map_err(|err| ExecError::NotSent(format!("cannot open a channel: {err}")))?;
        channel
            .exec(true, command)
            .await
            .map_err(|err| ExecError::NotSent(format!("cannot send the command: {err}")))?;
        let talk = async {
            if let Some(stdin) = stdin {
                channel
                    .data(stdin)
                    .await
                    .map_err(|err| format!("sending the input failed: {err}"))?;
            }
            channel
                .eof()
                .await
                .map_err(|err| format!("closing the input failed: {err}"))?;
            let (mut stdout, mut stderr, mut status) = (Vec::new(), Vec::new(), None);
            while let Some(message) = channel.wait().await {
                match message {
                    ChannelMsg::Data { data } => stdout.extend_from_slice(&data),
                    ChannelMsg::ExtendedData { data, ext: 1 } => stderr.extend_from_slice(&data),
                    ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
                    ChannelMsg::Failure => {
                        return Err("the gateway refused to run the command".to_string())
                    }
                    _ => {}
                }
            }
            match status {
                Some(status) => Ok(Output {
                    status,
                    stdout,
                    stderr: String::from_utf8_lossy(&stderr).trim_end().to_string(),
                }),
                None => Err("the connection closed before the command finished".to_string()),
            }
        };
        match tokio::time::timeout(timeout, talk).await {
            Ok(Ok(output)) => Ok(output),
            Ok(Err(reason)) => Err(ExecError::Lost(reason)),
            Err(_) => Err(ExecError::Lost(format!("no answer within {timeout:?}"))),
        }
    }

    pub async fn close(&self) {
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }
}
