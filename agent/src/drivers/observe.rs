//! One log line per driver action: target, action, duration and outcome.
//! Callers pass descriptions, never secrets.

use std::future::Future;
use std::time::Instant;

use super::bmc::{
    Bmc, JobId, JobStatus, MediaSource, MediaStatus, PowerAction, PowerState, ProfileLocation,
    SystemInfo, VncSettings,
};
use super::error::{DriverError, ErrorClass};

pub async fn observed<T, Fut>(target: &str, action: &str, work: Fut) -> Result<T, DriverError>
where
    Fut: Future<Output = Result<T, DriverError>>,
{
    let started = Instant::now();
    let result = work.await;
    let elapsed = started.elapsed();
    let duration_ms = elapsed.as_millis() as u64;
    let outcome = match &result {
        Ok(_) => "ok",
        Err(error) if error.class == ErrorClass::NotFound => "not_found",
        Err(error) if error.class == ErrorClass::Transient => "transient",
        Err(error) if error.class == ErrorClass::MaybeApplied => "maybe_applied",
        Err(_) => "failed",
    };
    crate::metrics::device_call(target, action, outcome, elapsed);
    match &result {
        Ok(_) => tracing::info!(
            target_device = target,
            action,
            duration_ms,
            outcome = "ok",
            "driver action"
        ),
        // Looking for something that is not there is how many steps check
        // before they act: worth a line, not a warning.
        Err(error) if error.class == ErrorClass::NotFound => tracing::info!(
            target_device = target,
            action,
            duration_ms,
            outcome = "not found",
            "driver action"
        ),
        Err(error) => tracing::warn!(
            target_device = target,
            action,
            duration_ms,
            outcome = ?error.class,
            error = %error.message,
            "driver action failed"
        ),
    }
    result
}

/// The same for an action that changes the device: it also goes into the
/// audit trail of the call that caused it.
pub async fn observed_change<T, Fut>(
    target: &str,
    action: &str,
    work: Fut,
) -> Result<T, DriverError>
where
    Fut: Future<Output = Result<T, DriverError>>,
{
    let result = observed(target, action, work).await;
    let outcome = match &result {
        Ok(_) => "ok".to_string(),
        Err(error) => format!("{:?}: {}", error.class, error.message),
    };
    crate::audit::device_action(target, action, &outcome).await;
    result
}

/// Any BMC driver with each of its actions logged and measured, and its
/// changes audited: the one place that names the actions, so every driver
/// reports them alike.
pub struct ObservedBmc<B>(pub B);

#[async_trait::async_trait]
impl<B: Bmc> Bmc for ObservedBmc<B> {
    fn target(&self) -> &str {
        self.0.target()
    }

    async fn power_state(&self) -> Result<PowerState, DriverError> {
        observed(self.target(), "power status", self.0.power_state()).await
    }

    async fn power(&self, action: PowerAction) -> Result<(), DriverError> {
        observed_change(self.target(), action.name(), self.0.power(action)).await
    }

    async fn media_status(&self) -> Result<MediaStatus, DriverError> {
        observed(self.target(), "media status", self.0.media_status()).await
    }

    async fn attach_media(&self, source: &MediaSource) -> Result<(), DriverError> {
        observed_change(self.target(), "attach media", self.0.attach_media(source)).await
    }

    async fn detach_media(&self) -> Result<(), DriverError> {
        observed_change(self.target(), "detach media", self.0.detach_media()).await
    }

    async fn boot_once_from_media(&self) -> Result<(), DriverError> {
        let work = self.0.boot_once_from_media();
        observed_change(self.target(), "boot once from media", work).await
    }

    async fn console_settings(&self) -> Result<VncSettings, DriverError> {
        observed(self.target(), "console settings", self.0.console_settings()).await
    }

    async fn set_console_settings(&self, settings: &VncSettings) -> Result<(), DriverError> {
        let work = self.0.set_console_settings(settings);
        observed_change(self.target(), "set console settings", work).await
    }

    async fn system_info(&self) -> Result<SystemInfo, DriverError> {
        observed(self.target(), "system info", self.0.system_info()).await
    }

    async fn reset_bmc(&self) -> Result<(), DriverError> {
        observed_change(self.target(), "reset bmc", self.0.reset_bmc()).await
    }

    async fn export_profile(&self, to: &ProfileLocation) -> Result<JobId, DriverError> {
        observed_change(self.target(), "export profile", self.0.export_profile(to)).await
    }

    async fn import_profile(&self, from: &ProfileLocation) -> Result<JobId, DriverError> {
        observed_change(self.target(), "import profile", self.0.import_profile(from)).await
    }

    async fn job_status(&self, job: &JobId) -> Result<JobStatus, DriverError> {
        observed(self.target(), "job status", self.0.job_status(job)).await
    }

    async fn erase_disks(&self) -> Result<(), DriverError> {
        observed_change(self.target(), "erase disks", self.0.erase_disks()).await
    }
}
