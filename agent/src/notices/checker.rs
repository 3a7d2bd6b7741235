//! The check the agent runs while serving: at start and every
//! `check_interval_seconds`, each project's due notice goes to each channel
//! that has not taken it yet. The agent does nothing else to the project.
//!
//! A notice is recorded only after its channel accepted it, so a failure
//! is retried at the next check and a restart repeats nothing. The one gap
//! is a crash between a channel's acceptance and the record: that notice
//! is sent again (at least once, never lost).

use std::time::Duration;

use time::Date;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::channel::Channel;
use super::config::NoticesConfig;
use super::ledger::{self, Outcome};
use super::notice::{Notice, NoticeProject};
use super::schedule::{days_left, due_notices, parse_date};
use crate::error::ApiError;
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("cannot read the projects: {0}")]
    Projects(#[from] ApiError),
    #[error("cannot read or record expiry notices: {0}")]
    Store(#[from] sqlx::Error),
}

/// The task lease the expiry notice check runs under.
const NOTICES_TASK: &str = "expiry-notices";

/// What one check did, for logs and tests.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CheckSummary {
    pub sent: usize,
    pub failed: usize,
    pub superseded: usize,
}

pub struct Notifier {
    store: Store,
    /// This agent's replica name: one replica checks at a time, so a
    /// notice is sent once however many agents serve the site.
    replica: String,
    days_before: Vec<u32>,
    interval: Duration,
    channels: Vec<Channel>,
}

impl Notifier {
    pub fn new(
        store: Store,
        config: &NoticesConfig,
        replica: String,
    ) -> Result<Self, super::NoticeSetupError> {
        Ok(Self {
            store,
            replica,
            days_before: config.days_before.clone(),
            interval: Duration::from_secs(config.check_interval_seconds),
            channels: Channel::from_config(config)?,
        })
    }

    /// Sends every notice due on `today` that is not recorded yet.
    pub async fn check(&self, today: Date) -> Result<CheckSummary, CheckError> {
        let pruned = ledger::prune_deleted_projects(&self.store).await?;
        if pruned > 0 {
            tracing::debug!(pruned, "forgot the expiry notices of deleted projects");
        }
        let mut summary = CheckSummary::default();
        for project in self.store.list_projects().await? {
            let Some(spec) = &project.spec else { continue };
            let Some(expires_text) = spec.expires_on.as_deref().filter(|s| !s.is_empty()) else {
                continue;
            };
            let Some(expires_on) = parse_date(expires_text) else {
                tracing::warn!(project = %spec.name, expires_on = expires_text,
                    "cannot read the project's expires_on as YYYY-MM-DD: no expiry notice");
                continue;
            };
            let Some(due) = due_notices(expires_on, today, &self.days_before) else {
                continue;
            };
            let recorded = ledger::recorded(&self.store, &project.id, expires_text).await?;
            let notice = Notice {
                event: due.current,
                project: NoticeProject {
                    id: project.id.clone(),
                    name: spec.name.clone(),
                    owner: spec.owner.clone().filter(|o| !o.is_empty()),
                    expires_on: expires_text.to_string(),
                },
                days_left: days_left(expires_on, today),
            };
            for channel in &self.channels {
                let is_recorded =
                    |key: &str| recorded.contains(&(key.to_string(), channel.name().to_string()));
                for event in &due.superseded {
                    if !is_recorded(&event.key()) {
                        ledger::record(
                            &self.store,
                            &project.id,
                            &event.key(),
                            expires_text,
                            channel.name(),
                            Outcome::Superseded,
                        )
                        .await?;
                        summary.superseded += 1;
                    }
                }
                let event = due.current.key();
                if is_recorded(&event) {
                    continue;
                }
                match channel.send(&notice).await {
                    Ok(()) => {
                        ledger::record(
                            &self.store,
                            &project.id,
                            &event,
                            expires_text,
                            channel.name(),
                            Outcome::Sent,
                        )
                        .await?;
                        summary.sent += 1;
                        tracing::info!(project = %spec.name, event, channel = channel.name(),
                            "expiry notice sent");
                    }
                    Err(error) => {
                        summary.failed += 1;
                        tracing::warn!(project = %spec.name, event, channel = channel.name(),
                            %error, "expiry notice not sent; retrying at the next check");
                    }
                }
            }
        }
        Ok(summary)
    }

    /// Checks now and every interval until `stop` says so; a check under
    /// way finishes first, so no accepted notice goes unrecorded.
    async fn run(self, mut stop: watch::Receiver<bool>) {
        // Held for two intervals: a replica that dies hands the checks on.
        let lease_ms = (self.interval.as_millis() as i64)
            .saturating_mul(2)
            .max(60_000);
        loop {
            let held = self
                .store
                .hold_task(NOTICES_TASK, &self.replica, lease_ms)
                .await;
            let outcome = match held {
                Ok(true) => self.check(today()).await,
                Ok(false) => {
                    tracing::debug!("another replica checks the expiry notices");
                    Ok(CheckSummary::default())
                }
                Err(error) => Err(CheckError::from(error)),
            };
            match outcome {
                Ok(summary) if summary != CheckSummary::default() => {
                    tracing::info!(?summary, "expiry notices checked");
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "the expiry notice check failed; retrying at the next")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(self.interval) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Runs the checks in a task of their own, until [`NoticesTask::stop`].
    pub fn spawn(self) -> NoticesTask {
        let (stop, stopped) = watch::channel(false);
        NoticesTask {
            stop,
            handle: tokio::spawn(self.run(stopped)),
        }
    }
}

/// The running checks. Dropping it aborts them.
pub struct NoticesTask {
    stop: watch::Sender<bool>,
    handle: JoinHandle<()>,
}

impl NoticesTask {
    /// Lets a check under way finish (within a bound), then ends the task.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(Duration::from_secs(10), &mut self.handle)
            .await
            .is_err()
        {
            tracing::warn!("the expiry notice check did not finish in 10 s; stopped it");
        }
    }
}

impl Drop for NoticesTask {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// Today's date in UTC: the day an `expires_on` is compared with.
pub fn today() -> Date {
    time::OffsetDateTime::now_utc().date()
}
