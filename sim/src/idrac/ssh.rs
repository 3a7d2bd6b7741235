//! The iDRAC's SSH service: password login, one exec request per command,
//! output on the channel and the exit status through the `exit-status`
//! channel request. During a reset it refuses connections.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use russh::server::{Auth, Msg, Session};
use russh::{Channel, ChannelId, MethodKind, MethodSet, SshId};
use tokio::net::{TcpListener, TcpStream};

use super::argv;
use super::bmc::Bmc;
use super::racadm::{self, Effect, Reply};
use crate::faults::Verdict;

fn config(bmc: &Bmc) -> russh::server::Config {
    russh::server::Config {
        server_id: SshId::Standard(Cow::Borrowed("SSH-2.0-OpenSSH_8.8")),
        methods: MethodSet::from(&[MethodKind::Password][..]),
        auth_rejection_time: Duration::from_millis(200),
        auth_rejection_time_initial: Some(Duration::ZERO),
        keys: vec![bmc.host_key()],
        // iDRACs end idle SSH sessions after 30 minutes by default.
        inactivity_timeout: Some(Duration::from_secs(1800)),
        nodelay: true,
        ..Default::default()
    }
}

/// Accepts connections until the task is aborted.
pub(crate) async fn serve(listener: TcpListener, bmc: Arc<Bmc>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _peer)) => stream,
            Err(error) => {
                tracing::warn!(server = %bmc.spec.name, %error, "iDRAC SSH accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if bmc.state().resetting(Instant::now()) {
            // Rebooting: close at once, before any SSH banner.
            drop(stream);
            continue;
        }
        tokio::spawn(serve_connection(bmc.clone(), stream));
    }
}

async fn serve_connection(bmc: Arc<Bmc>, stream: TcpStream) {
    let id = bmc.new_session_id();
    let handler = Connection {
        bmc: bmc.clone(),
        session: id,
        user: None,
    };
    let running = match russh::server::run_stream(Arc::new(config(&bmc)), stream, handler).await {
        Ok(running) => running,
        Err(error) => {
            tracing::debug!(server = %bmc.spec.name, ?error, "iDRAC SSH handshake failed");
            return;
        }
    };
    bmc.register_session(id, running.handle());
    if let Err(error) = running.await {
        tracing::debug!(server = %bmc.spec.name, ?error, "iDRAC SSH session ended with an error");
    }
    bmc.unregister_session(id);
}

struct Connection {
    bmc: Arc<Bmc>,
    session: u64,
    user: Option<String>,
}

impl russh::server::Handler for Connection {
    type Error = russh::Error;

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        if user == self.bmc.user && password == self.bmc.password {
            self.user = Some(user.to_string());
            Ok(Auth::Accept)
        } else {
            Ok(Auth::reject())
        }
    }

    async fn channel_open_session(
        &mut self,
        _channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if self.bmc.state().resetting(Instant::now()) {
            reply.reject(russh::ChannelOpenFailure::ConnectFailed).await;
        } else {
            reply.accept().await;
        }
        Ok(())
    }

    /// An interactive shell is not offered: the drivers use exec only.
    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_failure(channel)?;
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)?;
        let line = String::from_utf8_lossy(data).into_owned();
        let user = self.user.clone().unwrap_or_default();
        // Commands run in their own task, so the session keeps reading and
        // overlapping commands really overlap (and show in the log).
        tokio::spawn(execute(
            self.bmc.clone(),
            self.session,
            user,
            session.handle(),
            channel,
            line,
        ));
        Ok(())
    }
}

async fn execute(
    bmc: Arc<Bmc>,
    session: u64,
    user: String,
    handle: russh::server::Handle,
    channel: ChannelId,
    line: String,
) {
    let seq = bmc.begin_command(session, argv::masked_line(&line));
    let masked = argv::masked_line(&line);
    let reply = match bmc.faults.before_request(&bmc.fault_key(), &masked).await {
        Verdict::Drop => {
            bmc.end_command(seq, None, "dropped");
            bmc.drop_session(session).await;
            return;
        }
        Verdict::Fail => (Reply::busy(), "busy"),
        Verdict::Serve if bmc.state().resetting(Instant::now()) => {
            // Caught by a reset between accept and exec: the line goes dead.
            bmc.end_command(seq, None, "dropped");
            bmc.drop_session(session).await;
            return;
        }
        Verdict::Serve => {
            let reply = racadm::run(&bmc, &user, &line);
            let outcome = if reply.exit == 0 { "ok" } else { "error" };
            (reply, outcome)
        }
    };
    let (reply, outcome) = reply;
    bmc.end_command(seq, Some(reply.exit), outcome);
    let _ = handle.data(channel, reply.text.into_bytes()).await;
    if bmc.spec.firmware.sends_exit_status() {
        let _ = handle.exit_status_request(channel, reply.exit).await;
    }
    let _ = handle.eof(channel).await;
    let _ = handle.close(channel).await;
    if reply.effect == Some(Effect::Reset) {
        // Let the answer leave before the line goes down.
        tokio::time::sleep(Duration::from_millis(20)).await;
        bmc.drop_sessions("iDRAC reset").await;
    }
}
