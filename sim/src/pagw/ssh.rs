//! The gateway's sshd: the admin user logs in with the template's password,
//! and cloud-init's user (`ciuser`, by default the admin user) with a key
//! from the VM's `sshkeys`; one command per exec channel. While the slot's VM is not up, connections are accepted
//! and closed at once, as a booting or stopped guest fails them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use giif_pagw::tool::{Output, EXIT_TEMPFAIL, MAX_CONFIG_BYTES};
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::{HashAlg, PrivateKey, PublicKey};
use russh::server::{Auth, Msg, PublicKeyOffer, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId, MethodKind, MethodSet};
use tokio::net::TcpListener;

use super::commands::Command;
use super::slot::Slot;
use crate::faults::{Faults, Verdict};

/// The ed25519 host key for `purpose` and its `SHA256:...` fingerprint.
pub fn host_key(purpose: &str) -> (PrivateKey, String) {
    let key = PrivateKey::from(Ed25519Keypair::from_seed(&crate::identity::derive(purpose)));
    let fingerprint = key.public_key().fingerprint(HashAlg::Sha256).to_string();
    (key, fingerprint)
}

pub fn server_config(key: PrivateKey) -> Arc<russh::server::Config> {
    Arc::new(russh::server::Config {
        server_id: russh::SshId::Standard("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u5".into()),
        methods: MethodSet::from(&[MethodKind::PublicKey, MethodKind::Password][..]),
        auth_rejection_time: Duration::from_millis(200),
        auth_rejection_time_initial: Some(Duration::ZERO),
        keys: vec![key],
        inactivity_timeout: Some(Duration::from_secs(600)),
        ..Default::default()
    })
}

pub fn serve(
    listener: TcpListener,
    slot: Arc<Slot>,
    config: Arc<russh::server::Config>,
    faults: Faults,
) {
    tokio::spawn(async move {
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(error = %err, ip = %slot.spec.public_ip, "PAGW accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let up = slot
                .vm()
                .as_ref()
                .is_some_and(|vm| vm.reachable(Instant::now()));
            if !up {
                // Nothing listens inside a guest that is not running yet.
                drop(stream);
                continue;
            }
            slot.count_connection();
            let handler = GuestSession {
                slot: slot.clone(),
                faults: faults.clone(),
                pending: HashMap::new(),
            };
            let config = config.clone();
            let mut power = slot.power_changes();
            tokio::spawn(async move {
                let session = match russh::server::run_stream(config, stream, handler).await {
                    Ok(session) => session,
                    Err(err) => {
                        tracing::debug!(error = %err, "PAGW SSH handshake failed");
                        return;
                    }
                };
                let handle = session.handle();
                tokio::pin!(session);
                tokio::select! {
                    result = &mut session => {
                        if let Err(err) = result {
                            tracing::debug!(error = %err, "PAGW SSH session ended");
                        }
                    }
                    _ = power.changed() => {
                        let _ = handle
                            .disconnect(russh::Disconnect::ByApplication, "the system is going down".into(), String::new())
                            .await;
                    }
                }
            });
        }
    });
}

/// A command whose stdin is still arriving.
struct Pending {
    command: Command,
    verdict: Verdict,
    stdin: Vec<u8>,
}

struct GuestSession {
    slot: Arc<Slot>,
    faults: Faults,
    pending: HashMap<ChannelId, Pending>,
}

impl GuestSession {
    /// Whether cloud-init authorized `key` for `user`.
    fn authorized(&self, user: &str, key: &PublicKey) -> bool {
        self.slot
            .vm()
            .as_ref()
            .is_some_and(|vm| vm.authorizes(user, key))
    }

    fn finish(
        &mut self,
        channel: ChannelId,
        command: &Command,
        verdict: Verdict,
        stdin: &[u8],
        session: &mut Session,
    ) -> Result<(), russh::Error> {
        let output = match verdict {
            Verdict::Fail => Output::fail(
                EXIT_TEMPFAIL,
                format!(
                    "{}: could not take /run/giif-pagw.lock: Resource temporarily unavailable (another change is running); nothing changed",
                    command.program()
                ),
            ),
            _ => match self.slot.vm().as_mut() {
                Some(vm) if vm.running => command.run(vm, stdin),
                _ => Output::fail(EXIT_TEMPFAIL, "sh: the system is going down"),
            },
        };
        if let Some(vm) = self.slot.vm().as_mut() {
            vm.commands += 1;
        }
        if !output.stdout.is_empty() {
            session.data(channel, output.stdout.into_bytes())?;
        }
        if !output.stderr.is_empty() {
            session.extended_data(channel, 1, output.stderr.into_bytes())?;
        }
        session.exit_status_request(channel, output.status)?;
        session.eof(channel)?;
        session.close(channel)
    }
}

impl russh::server::Handler for GuestSession {
    type Error = russh::Error;

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        if user == self.slot.endpoint.user && password == self.slot.endpoint.password {
            Ok(Auth::Accept)
        } else {
            Ok(Auth::reject())
        }
    }

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        // Refused before the client signs, as sshd does for unknown keys.
        match self.authorized(user, offer.public_key) {
            true => Ok(Auth::Accept),
            false => Ok(Auth::reject()),
        }
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        match self.authorized(user, key.public_key) {
            true => Ok(Auth::Accept),
            false => Ok(Auth::reject()),
        }
    }

    async fn channel_open_session(
        &mut self,
        _channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        reply.accept().await;
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let command = match std::str::from_utf8(data) {
            Ok(line) => Command::parse(line),
            Err(_) => Command::Refused(Output::fail(2, "sh: 1: the command line is not UTF-8")),
        };
        let line = String::from_utf8_lossy(data);
        let verdict = self
            .faults
            .before_request(&self.slot.fault_key(), &line)
            .await;
        if verdict == Verdict::Drop {
            tracing::info!(ip = %self.slot.spec.public_ip, "fault injection: dropping the PAGW connection");
            return Err(russh::Error::Disconnect);
        }
        session.channel_success(channel)?;
        if command.reads_stdin() {
            self.pending.insert(
                channel,
                Pending {
                    command,
                    verdict,
                    stdin: Vec::new(),
                },
            );
            return Ok(());
        }
        self.finish(channel, &command, verdict, &[], session)
    }

    async fn data(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if let Some(pending) = self.pending.get_mut(&channel) {
            // Keep one byte past the limit so the tool can tell it was exceeded.
            let room = (MAX_CONFIG_BYTES + 1).saturating_sub(pending.stdin.len());
            pending
                .stdin
                .extend_from_slice(&data[..data.len().min(room)]);
        }
        Ok(())
    }

    async fn channel_eof(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        match self.pending.remove(&channel) {
            Some(pending) => self.finish(
                channel,
                &pending.command,
                pending.verdict,
                &pending.stdin,
                session,
            ),
            None => Ok(()),
        }
    }

    async fn channel_close(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.pending.remove(&channel);
        Ok(())
    }
}
