//! The Dell iDRAC driver: racadm over SSH.
//!
//! BMCs fall over when hammered, so each iDRAC gets one SSH connection,
//! reused across commands and reopened when it drops, and its commands run
//! one at a time with a quiet gap of `min_interval` between one command's
//! answer and the next command (so starts are at least that far apart too).
//! The host key is pinned on first use. Answers are parsed strictly, and
//! failures are classified: busy or unreachable is transient; a bad request
//! is permanent, in the device's own words; a command that went out but
//! whose answer was lost may have been applied, so reads are simply repeated
//! and power actions re-read the power state.

mod actions;
mod classify;
mod command;
mod media;
mod parse;
mod power;
mod session;
mod vnc;

use std::sync::Arc;
use std::time::{Duration, Instant};

use command::Command;
use session::{Context, ExecError, Session};

use super::error::DriverError;
use super::host_keys::HostKeyPins;
use super::retry::{retry, RetryPolicy};
use crate::credentials::Secret;

/// How to reach and treat one iDRAC.
#[derive(Clone, Debug)]
pub struct IdracConfig {
    /// The server's inventory name (errors and logs say `idrac:<name>`).
    pub name: String,
    pub address: String,
    pub port: u16,
    pub user: String,
    pub password: Secret,
    /// The quiet time between one command's answer and the next command.
    pub min_interval: Duration,
    /// How long one command (or one connection attempt) may take.
    pub command_timeout: Duration,
    pub retry: RetryPolicy,
    /// How often a job the agent waits for (a System Erase) is looked at,
    /// and how long it may run.
    pub job_poll: Duration,
    pub job_wait: Duration,
}

impl IdracConfig {
    pub fn new(
        name: impl Into<String>,
        address: impl Into<String>,
        port: u16,
        user: impl Into<String>,
        password: Secret,
    ) -> Self {
        Self {
            name: name.into(),
            address: address.into(),
            port,
            user: user.into(),
            password,
            min_interval: Duration::from_millis(500),
            command_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            job_poll: Duration::from_secs(5),
            job_wait: Duration::from_secs(4 * 3600),
        }
    }
}

pub struct Idrac {
    config: IdracConfig,
    target: String,
    endpoint: String,
    pins: Arc<dyn HostKeyPins>,
    /// The connection and the pacing clock; holding it serializes commands.
    line: tokio::sync::Mutex<Line>,
}

#[derive(Default)]
struct Line {
    session: Option<Session>,
    last_end: Option<Instant>,
}

impl std::fmt::Debug for Idrac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idrac")
            .field("target", &self.target)
            .field("endpoint", &self.endpoint)
            .field("user", &self.config.user)
            .finish_non_exhaustive()
    }
}

/// Whether repeating a command is harmless, which decides what a lost
/// answer means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Repeat {
    Safe,
    Unsafe,
}

impl Idrac {
    pub fn new(config: IdracConfig, pins: Arc<dyn HostKeyPins>) -> Self {
        Self {
            target: format!("idrac:{}", config.name),
            endpoint: format!("{}:{}", config.address, config.port),
            config,
            pins,
            line: tokio::sync::Mutex::new(Line::default()),
        }
    }

    /// Runs `command` with retries of transient failures; returns its output.
    async fn call(
        &self,
        action: &str,
        command: &Command,
        repeat: Repeat,
    ) -> Result<String, DriverError> {
        retry(self.config.retry, || self.run(action, command, repeat)).await
    }

    /// Runs `command` once, in turn and paced, and checks racadm's verdict.
    async fn run(
        &self,
        action: &str,
        command: &Command,
        repeat: Repeat,
    ) -> Result<String, DriverError> {
        let mut line = self.line.lock().await;
        if let Some(end) = line.last_end {
            tokio::time::sleep_until((end + self.config.min_interval).into()).await;
        }
        tracing::debug!(target_device = %self.target, action, command = %command.masked(), "racadm");
        let result = self.exec(&mut line, action, command, repeat).await;
        line.last_end = Some(Instant::now());
        result
    }

    async fn exec(
        &self,
        line: &mut Line,
        action: &str,
        command: &Command,
        repeat: Repeat,
    ) -> Result<String, DriverError> {
        let cx = Context {
            config: &self.config,
            target: &self.target,
            action,
            endpoint: &self.endpoint,
            pins: self.pins.as_ref(),
        };
        let masked = command.masked();
        // A reused connection may have died since the last command; then
        // reconnect once within this attempt.
        for _ in 0..2 {
            let reused = match line.session.take() {
                Some(session) if !session.is_closed() => {
                    line.session = Some(session);
                    true
                }
                _ => {
                    line.session = Some(Session::open(&cx).await?);
                    false
                }
            };
            let Some(session) = line.session.as_ref() else {
                continue;
            };
            match session
                .exec(&command.wire(), self.config.command_timeout)
                .await
            {
                Ok(output) => return self.verdict(action, command, output, repeat),
                Err(ExecError::NotSent(why)) => {
                    self.drop_session(line).await;
                    if !reused {
                        return Err(DriverError::transient(
                            &self.target,
                            action,
                            format!("{why} (`{masked}` was not sent)"),
                        ));
                    }
                }
                Err(ExecError::Lost(why)) => {
                    self.drop_session(line).await;
                    let message = format!("{why}; `{masked}` may or may not have been carried out");
                    return Err(match repeat {
                        Repeat::Safe => DriverError::transient(&self.target, action, message),
                        Repeat::Unsafe => DriverError::maybe_applied(&self.target, action, message),
                    });
                }
            }
        }
        Err(DriverError::transient(
            &self.target,
            action,
            format!("`{masked}` was not sent: the connection kept dropping"),
        ))
    }

    async fn drop_session(&self, line: &mut Line) {
        if let Some(session) = line.session.take() {
            session.close().await;
        }
    }

    /// racadm's verdict: its output on success, or the classified error in
    /// the device's own words (secrets scrubbed). Without an exit status
    /// (not every firmware sends one over an exec channel) the text alone
    /// decides. An answer of nothing is asked again: it did not happen for
    /// a read, and may have for a change.
    fn verdict(
        &self,
        action: &str,
        command: &Command,
        output: session::Output,
        repeat: Repeat,
    ) -> Result<String, DriverError> {
        let mut text = command.scrub(&output.text);
        if !self.config.password.expose().is_empty() {
            text = text.replace(self.config.password.expose(), "******");
        }
        let masked = command.masked();
        if output.exit_status.unwrap_or(0) == 0 && !text.contains("ERROR:") {
            if parse::is_empty_answer(&text) {
                let message = format!("`{masked}` answered nothing");
                return Err(match repeat {
                    Repeat::Safe => DriverError::transient(&self.target, action, message),
                    Repeat::Unsafe => DriverError::maybe_applied(&self.target, action, message),
                });
            }
            return Ok(text);
        }
        let said = classify::device_message(&text);
        let exited = match output.exit_status {
            Some(status) => format!("exited with {status}"),
            None => "sent no exit status".to_string(),
        };
        Err(DriverError::new(
            classify::classify(&said),
            &self.target,
            action,
            format!("{said} (`{masked}` {exited})"),
        ))
    }

    /// A parse failure: the command, what was expected and what came back.
    fn unexpected(
        &self,
        action: &str,
        command: &Command,
        why: String,
        answer: &str,
    ) -> DriverError {
        let answer = answer.split_whitespace().collect::<Vec<_>>().join(" ");
        DriverError::permanent(
            &self.target,
            action,
            format!(
                "unexpected answer to `{}`: {why}; the iDRAC said: {answer:?}",
                command.masked()
            ),
        )
    }

    /// Forgets the connection (the BMC is going away, as after a reset).
    async fn disconnect(&self) {
        let mut line = self.line.lock().await;
        self.drop_session(&mut line).await;
    }
}
