//! Virtual media: attach an image (replacing another), detach it and wait
//! until the iDRAC has let go, and read what is attached.

use std::time::{Duration, Instant};

use super::command::{check_word, Command};
use super::{parse, Idrac, Repeat};
use crate::drivers::bmc::{MediaSource, MediaStatus};
use crate::drivers::error::{DriverError, ErrorClass};

/// How often to look whether a detach has taken effect.
const DETACH_POLL: Duration = Duration::from_millis(200);

impl Idrac {
    pub(super) async fn read_media(&self, action: &str) -> Result<MediaStatus, DriverError> {
        let command = Command::racadm(["remoteimage", "-s"]);
        let text = self.call(action, &command, Repeat::Safe).await?;
        parse::media_status(&text).map_err(|why| self.unexpected(action, &command, why, &text))
    }

    pub(super) async fn attach(&self, source: &MediaSource) -> Result<(), DriverError> {
        const ACTION: &str = "attach media";
        let invalid = |why: String| DriverError::permanent(&self.target, ACTION, why);
        check_word("image path", &source.image).map_err(invalid)?;
        let mut command = Command::racadm(["remoteimage", "-c"]);
        if let Some(user) = &source.user {
            check_word("share user", user).map_err(invalid)?;
            command = command.arg("-u").arg(user);
        }
        if let Some(password) = &source.password {
            command = command.arg("-p").secret(password);
        }
        let command = command.arg("-l").arg(&source.image);
        let wanted = Some(source.image.as_str());
        let current = self.read_media(ACTION).await?;
        if current.image.as_deref() == wanted {
            return Ok(());
        }
        if current.image.is_some() {
            self.detach(ACTION).await?;
        }
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.call(ACTION, &command, Repeat::Unsafe).await {
                Ok(text) => {
                    return parse::media_configured(&text)
                        .map_err(|why| self.unexpected(ACTION, &command, why, &text))
                }
                Err(error) if error.class == ErrorClass::MaybeApplied => {
                    let now = self.read_media(ACTION).await?;
                    if now.image.as_deref() == wanted {
                        return Ok(());
                    }
                    // Nothing attached means the command did not take.
                    if now.image.is_some() || attempts >= 3 {
                        return Err(error);
                    }
                }
                Err(error) => return Err(error),
            }
        }
    }

    pub(super) async fn detach(&self, action: &str) -> Result<(), DriverError> {
        let command = Command::racadm(["remoteimage", "-d"]);
        let text = self.call(action, &command, Repeat::Safe).await?;
        parse::media_detach_started(&text)
            .map_err(|why| self.unexpected(action, &command, why, &text))?;
        // The iDRAC detaches in the background; wait until it says so.
        let deadline = Instant::now() + self.config.command_timeout;
        loop {
            if self.read_media(action).await?.image.is_none() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(DriverError::transient(
                    &self.target,
                    action,
                    format!(
                        "the image is still attached {:?} after detaching it",
                        self.config.command_timeout
                    ),
                ));
            }
            tokio::time::sleep(DETACH_POLL).await;
        }
    }
}

impl Idrac {
    /// The next boot from the virtual CD: the first boot device, for one
    /// boot only (the iDRAC clears `BootOnce` after it).
    pub(super) async fn boot_once_from_cd(&self) -> Result<(), DriverError> {
        const ACTION: &str = "boot once from media";
        for (attribute, value) in [
            ("iDRAC.ServerBoot.FirstBootDevice", "VCD-DVD"),
            ("iDRAC.ServerBoot.BootOnce", "Enabled"),
        ] {
            let command = Command::racadm(["set", attribute, value]);
            // Setting a value twice is harmless.
            let text = self.call(ACTION, &command, Repeat::Safe).await?;
            parse::object_modified(&text)
                .map_err(|why| self.unexpected(ACTION, &command, why, &text))?;
        }
        Ok(())
    }
}
