//! The BMC capability on an iDRAC: the trait's entry points, the BMC reset,
//! System Erase and configuration profile jobs. (`ObservedBmc` logs and
//! measures each action.)

use std::time::Duration;

use async_trait::async_trait;

use super::command::{check_word, Command};
use super::{parse, Idrac, Repeat};
use crate::drivers::bmc::{
    Bmc, JobId, JobState, JobStatus, MediaSource, MediaStatus, PowerAction, PowerState,
    ProfileLocation, SystemInfo, VncSettings,
};
use crate::drivers::error::DriverError;
use crate::drivers::retry::{retry, RetryPolicy};

/// How long to wait for an iDRAC to come back after a reset, at least.
const RESET_WAIT: Duration = Duration::from_secs(300);

#[async_trait]
impl Bmc for Idrac {
    fn target(&self) -> &str {
        &self.target
    }

    async fn power_state(&self) -> Result<PowerState, DriverError> {
        self.read_power("power status").await
    }

    async fn power(&self, action: PowerAction) -> Result<(), DriverError> {
        self.power_action(action.name(), action).await
    }

    async fn media_status(&self) -> Result<MediaStatus, DriverError> {
        self.read_media("media status").await
    }

    async fn attach_media(&self, source: &MediaSource) -> Result<(), DriverError> {
        self.attach(source).await
    }

    async fn detach_media(&self) -> Result<(), DriverError> {
        self.detach("detach media").await
    }

    async fn boot_once_from_media(&self) -> Result<(), DriverError> {
        self.boot_once_from_cd().await
    }

    async fn console_settings(&self) -> Result<VncSettings, DriverError> {
        self.read_vnc("console settings").await
    }

    async fn set_console_settings(&self, settings: &VncSettings) -> Result<(), DriverError> {
        self.write_vnc(settings).await
    }

    async fn system_info(&self) -> Result<SystemInfo, DriverError> {
        const ACTION: &str = "system info";
        let command = Command::racadm(["getsysinfo"]);
        let text = self.call(ACTION, &command, Repeat::Safe).await?;
        parse::sysinfo(&text).map_err(|why| self.unexpected(ACTION, &command, why, &text))
    }

    async fn reset_bmc(&self) -> Result<(), DriverError> {
        self.reset().await
    }

    async fn export_profile(&self, to: &ProfileLocation) -> Result<JobId, DriverError> {
        const ACTION: &str = "export profile";
        let command = self.profile_command(ACTION, "get", to)?;
        // A repeated export only writes the same file again.
        let text = self.call(ACTION, &command, Repeat::Safe).await?;
        parse::job_started(&text, "RAC976")
            .map_err(|why| self.unexpected(ACTION, &command, why, &text))
    }

    async fn import_profile(&self, from: &ProfileLocation) -> Result<JobId, DriverError> {
        const ACTION: &str = "import profile";
        let command = self.profile_command(ACTION, "set", from)?;
        let text = self.call(ACTION, &command, Repeat::Unsafe).await?;
        parse::job_started(&text, "RAC977")
            .map_err(|why| self.unexpected(ACTION, &command, why, &text))
    }

    async fn erase_disks(&self) -> Result<(), DriverError> {
        self.system_erase().await
    }

    async fn job_status(&self, job: &JobId) -> Result<JobStatus, DriverError> {
        const ACTION: &str = "job status";
        parse::job_id(&job.0).map_err(|why| DriverError::permanent(&self.target, ACTION, why))?;
        let command = Command::racadm(["jobqueue", "view", "-i"]).arg(&job.0);
        let text = self.call(ACTION, &command, Repeat::Safe).await?;
        parse::job(&text).map_err(|why| self.unexpected(ACTION, &command, why, &text))
    }
}

impl Idrac {
    /// System Erase of the physical disks: a cryptographic erase of every
    /// drive that can (SED, ISE), run as a job the iDRAC schedules at once;
    /// followed to its end.
    async fn system_erase(&self) -> Result<(), DriverError> {
        const ACTION: &str = "erase disks";
        let command = Command::racadm(["systemerase", "secureerasepd,overwritepd"]);
        let text = self.call(ACTION, &command, Repeat::Unsafe).await?;
        let job = parse::job_mentioned(&text)
            .map_err(|why| self.unexpected(ACTION, &command, why, &text))?;
        let started = std::time::Instant::now();
        loop {
            let status = self.job_status(&job).await?;
            match status.state {
                JobState::Completed => return Ok(()),
                JobState::Failed => {
                    return Err(DriverError::permanent(
                        &self.target,
                        ACTION,
                        format!(
                            "the System Erase job {job} failed: {} {}",
                            status.message_id.unwrap_or_default(),
                            status.message
                        ),
                    ))
                }
                JobState::Scheduled | JobState::Running => {}
            }
            if started.elapsed() > self.config.job_wait {
                return Err(DriverError::maybe_applied(
                    &self.target,
                    ACTION,
                    format!("the System Erase job {job} is still running; it may yet finish"),
                ));
            }
            tokio::time::sleep(self.config.job_poll).await;
        }
    }

    async fn reset(&self) -> Result<(), DriverError> {
        const ACTION: &str = "reset bmc";
        let command = Command::racadm(["racreset", "soft"]);
        let text = self.call(ACTION, &command, Repeat::Unsafe).await?;
        parse::reset_started(&text).map_err(|why| self.unexpected(ACTION, &command, why, &text))?;
        // The connection dies with the iDRAC; wait until it answers again,
        // which takes a real one a minute or two.
        self.disconnect().await;
        let patient = RetryPolicy {
            deadline: self.config.retry.deadline.max(RESET_WAIT),
            ..self.config.retry
        };
        let command = Command::racadm(["serveraction", "powerstatus"]);
        let back = retry(patient, || self.run(ACTION, &command, Repeat::Safe)).await;
        back.map(|_| ()).map_err(|e| {
            DriverError::new(
                e.class,
                &self.target,
                ACTION,
                format!(
                    "the reset started, but the iDRAC is not answering yet: {}",
                    e.message
                ),
            )
        })
    }

    fn profile_command(
        &self,
        action: &str,
        verb: &str,
        location: &ProfileLocation,
    ) -> Result<Command, DriverError> {
        let invalid = |why: String| DriverError::permanent(&self.target, action, why);
        check_word("profile file name", &location.file).map_err(invalid)?;
        let mut command = Command::racadm([verb, "-t", "xml", "-f"]).arg(&location.file);
        if let Some(share) = &location.share {
            check_word("share path", &share.image).map_err(invalid)?;
            command = command.arg("-l").arg(&share.image);
            if let Some(user) = &share.user {
                check_word("share user", user).map_err(invalid)?;
                command = command.arg("-u").arg(user);
            }
            if let Some(password) = &share.password {
                command = command.arg("-p").secret(password);
            }
        }
        Ok(command)
    }
}
