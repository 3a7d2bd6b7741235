//! The virtual CD: what it holds, inserting an image (ejecting another
//! first), ejecting, and a one-time boot from it.
//!
//! `InsertMedia` where the resource offers the action, a PATCH of `Image`
//! where it does not (older services). Some BMCs refuse the optional
//! `Inserted` and `WriteProtected` parameters: the insert is then sent
//! again without them.

use serde_json::{json, Map, Value};

use super::paths::action_target;
use super::Redfish;
use crate::drivers::bmc::{MediaSource, MediaStatus};
use crate::drivers::error::{DriverError, ErrorClass};

/// The image a virtual media resource holds, if it holds one.
pub(super) fn inserted_image(media: &Value) -> Option<String> {
    if media["Inserted"].as_bool() == Some(false) {
        return None;
    }
    media["Image"]
        .as_str()
        .filter(|image| !image.is_empty() && *image != "None")
        .map(str::to_string)
}

/// `TransferProtocolType` for a share path; URLs say their own.
fn transfer_protocol(image: &str) -> Option<&'static str> {
    if image.starts_with("//") {
        Some("CIFS")
    } else if !image.contains("://") && image.contains(":/") {
        Some("NFS")
    } else {
        None
    }
}

impl Redfish {
    async fn cd(&self, action: &str) -> Result<String, DriverError> {
        self.paths(action).await?.cd.ok_or_else(|| {
            DriverError::unsupported(
                &self.target,
                action,
                "the BMC has no virtual media device that takes CD images",
            )
        })
    }

    pub(super) async fn read_media(&self, action: &str) -> Result<MediaStatus, DriverError> {
        let cd = self.cd(action).await?;
        let media = self.get(action, &cd).await?.body;
        Ok(MediaStatus {
            image: inserted_image(&media),
        })
    }

    pub(super) async fn insert(&self, source: &MediaSource) -> Result<(), DriverError> {
        const ACTION: &str = "attach media";
        let cd = self.cd(ACTION).await?;
        let media = self.get(ACTION, &cd).await?.body;
        let current = inserted_image(&media);
        if current.as_deref() == Some(source.image.as_str()) {
            return Ok(());
        }
        if current.is_some() {
            self.eject(ACTION).await?;
        }
        let mut body = Map::new();
        body.insert("Image".into(), json!(source.image));
        if let Some(protocol) = transfer_protocol(&source.image) {
            body.insert("TransferProtocolType".into(), json!(protocol));
        }
        if let Some(user) = &source.user {
            body.insert("UserName".into(), json!(user));
        }
        if let Some(password) = &source.password {
            body.insert("Password".into(), json!(password.expose()));
        }
        let insert_target = action_target(&media, "#VirtualMedia.InsertMedia");
        let mut full = body.clone();
        full.insert("Inserted".into(), json!(true));
        full.insert("WriteProtected".into(), json!(true));
        let result = match &insert_target {
            Some(target) => match self.post(ACTION, target, &Value::Object(full)).await {
                Err(error)
                    if error.class == ErrorClass::Permanent
                        && (error.message.contains("Inserted")
                            || error.message.contains("WriteProtected")) =>
                {
                    tracing::info!(target_device = %self.target, "the BMC refuses Inserted/WriteProtected; inserting without them");
                    self.post(ACTION, target, &Value::Object(body)).await
                }
                other => other,
            },
            None => self.patch(ACTION, &cd, &Value::Object(full)).await,
        };
        // A BMC may quote the request back: the share's password stays out.
        let result = result.map_err(|mut error| {
            if let Some(password) = source.password.as_ref().map(|p| p.expose()) {
                if !password.is_empty() {
                    error.message = error.message.replace(password, "******");
                }
            }
            error
        });
        match result {
            Ok(reply) => self.finish(ACTION, reply).await,
            Err(error) if error.class == ErrorClass::MaybeApplied => {
                // The answer was lost: what the CD holds now tells.
                let now = self.read_media(ACTION).await?;
                if now.image.as_deref() == Some(source.image.as_str()) {
                    Ok(())
                } else {
                    Err(error)
                }
            }
            Err(error) => Err(error),
        }
    }

    pub(super) async fn eject(&self, action: &str) -> Result<(), DriverError> {
        let cd = self.cd(action).await?;
        let media = self.get(action, &cd).await?.body;
        if inserted_image(&media).is_none() {
            return Ok(());
        }
        let eject_target = action_target(&media, "#VirtualMedia.EjectMedia");
        let result = match eject_target {
            Some(target) => self.post(action, &target, &json!({})).await,
            None => {
                self.patch(action, &cd, &json!({"Image": null, "Inserted": false}))
                    .await
            }
        };
        match result {
            Ok(reply) => self.finish(action, reply).await,
            Err(error) if error.class == ErrorClass::MaybeApplied => {
                match self.read_media(action).await?.image {
                    None => Ok(()),
                    Some(_) => Err(error),
                }
            }
            Err(error) => Err(error),
        }
    }

    /// The next boot, and only the next, from the virtual CD.
    pub(super) async fn boot_once_from_cd(&self) -> Result<(), DriverError> {
        const ACTION: &str = "boot once from media";
        let system = self.paths(ACTION).await?.system;
        let doc = self.get(ACTION, &system).await?.body;
        let allowed = doc["Boot"]["BootSourceOverrideTarget@Redfish.AllowableValues"].as_array();
        if allowed.is_some_and(|values| !values.iter().any(|v| v.as_str() == Some("Cd"))) {
            return Err(DriverError::unsupported(&self.target,
                ACTION,
                "the BMC does not offer booting from the virtual CD (Cd is not an allowed BootSourceOverrideTarget)",
            ));
        }
        let body = json!({"Boot": {
            "BootSourceOverrideTarget": "Cd",
            "BootSourceOverrideEnabled": "Once",
        }});
        let reply = self.patch(ACTION, &system, &body).await?;
        self.finish(ACTION, reply).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_virtual_cd_holds() {
        assert_eq!(
            inserted_image(&json!({"Image": "http://x/a.iso", "Inserted": true})),
            Some("http://x/a.iso".into())
        );
        // Without Inserted (older services) the image alone tells.
        assert_eq!(
            inserted_image(&json!({"Image": "http://x/a.iso"})),
            Some("http://x/a.iso".into())
        );
        assert_eq!(
            inserted_image(&json!({"Image": "http://x/a.iso", "Inserted": false})),
            None
        );
        assert_eq!(inserted_image(&json!({"Image": ""})), None);
        assert_eq!(inserted_image(&json!({"Image": null})), None);
    }

    #[test]
    fn share_paths_name_their_protocol() {
        assert_eq!(transfer_protocol("//files/iso/a.iso"), Some("CIFS"));
        assert_eq!(transfer_protocol("files:/export/a.iso"), Some("NFS"));
        assert_eq!(transfer_protocol("https://files/a.iso"), None);
    }
}
