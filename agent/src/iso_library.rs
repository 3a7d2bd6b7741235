//! The site's ISO library: installer and rescue images by name. A server's
//! `boot_iso` and a VM's `iso` may name an image instead of giving its
//! location; the agent stores what the user wrote and resolves it when it
//! drives the hardware, so an operator can move an image without touching
//! any configuration.

use giif_proto::rules::{
    boot_iso_problem, is_iso_image_name, pve_iso_volume_problem, redact_location,
};

use crate::drivers::bmc::MediaSource;
use crate::error::ApiError;
use crate::inventory::IsoImage;

const LIST_HINT: &str =
    "`data \"giif_iso_images\"` lists the site's images; an operator adds one under [[iso_images]] in the site file.";

/// The imported images, in name order.
#[derive(Clone, Debug, Default)]
pub struct IsoLibrary {
    images: Vec<IsoImage>,
}

impl IsoLibrary {
    /// Sorted by name here, as databases sort text differently.
    pub fn new(mut images: Vec<IsoImage>) -> Self {
        images.sort_by_key(|image| image.name.to_lowercase());
        Self { images }
    }

    pub fn images(&self) -> &[IsoImage] {
        &self.images
    }

    /// Names are compared without case, as the site file's check does.
    fn get(&self, name: &str) -> Option<&IsoImage> {
        self.images
            .iter()
            .find(|image| image.name.eq_ignore_ascii_case(name))
    }

    /// What a server's iDRAC mounts for `boot_iso`: the named image's
    /// media URL, or the location as given.
    pub fn media_location(&self, boot_iso: &str) -> Result<String, ApiError> {
        let invalid = |message: String| ApiError::invalid(message).field("spec.boot_iso");
        if let Some(problem) = boot_iso_problem(boot_iso) {
            let shown = redact_location(boot_iso);
            return Err(invalid(format!("boot_iso {shown:?}: {problem}")));
        }
        if !is_iso_image_name(boot_iso) {
            return Ok(boot_iso.to_string());
        }
        let image = self.get(boot_iso).ok_or_else(|| {
            invalid(format!(
                "boot_iso {boot_iso:?} is not an image of the site's ISO library"
            ))
            .hint(LIST_HINT)
        })?;
        image.media_url.clone().ok_or_else(|| {
            invalid(format!(
                "the ISO library's image {:?} is for VMs only: it has no media_url for a server's iDRAC",
                image.name
            ))
            .hint(format!("Choose an image for servers. {LIST_HINT}"))
        })
    }

    /// What the iDRAC mounts for `boot_iso`, with the share credentials of
    /// a named image (their password read now).
    pub fn media_source(&self, boot_iso: &str) -> Result<MediaSource, ApiError> {
        let image = self.media_location(boot_iso)?;
        // A location never matches: names hold no `/` or `:`.
        let Some(named) = self.get(boot_iso) else {
            return Ok(MediaSource {
                image,
                user: None,
                password: None,
            });
        };
        let password = match &named.share_password {
            Some(reference) => Some(reference.resolve().map_err(|e| {
                ApiError::precondition(format!("iso image {}: {e}", named.name))
                    .hint("Make the share password the site file references readable by the agent.")
            })?),
            None => None,
        };
        Ok(MediaSource {
            image,
            user: named.share_user.clone(),
            password,
        })
    }

    /// How a read shows a server's mounted media: by the name the user gave
    /// while the image mounted is that name's, else by its location (drift).
    pub fn shown_media(&self, wanted: Option<&str>, mounted: Option<&str>) -> String {
        let Some(mounted) = mounted else {
            return String::new();
        };
        match wanted {
            Some(wanted) if self.media_location(wanted).ok().as_deref() == Some(mounted) => {
                wanted.to_string()
            }
            _ => mounted.to_string(),
        }
    }

    /// The Proxmox volume a VM's CD drive takes for `iso`: a library
    /// image's volume, a volume given as `storage:iso/file.iso`, or a file
    /// name on `local` (a name ending in `.iso` or `.img` that no image has).
    pub fn vm_volume(&self, iso: &str) -> Result<String, ApiError> {
        let invalid = |message: String| ApiError::invalid(message).field("spec.iso");
        if !is_iso_image_name(iso) {
            return match pve_iso_volume_problem(iso) {
                None => Ok(iso.to_string()),
                Some(problem) => Err(invalid(problem)),
            };
        }
        if let Some(image) = self.get(iso) {
            return image.pve_volume.clone().ok_or_else(|| {
                invalid(format!(
                    "the ISO library's image {:?} is for bare-metal servers only: it has no pve_volume for a VM",
                    image.name
                ))
                .hint(format!("Choose an image for VMs. {LIST_HINT}"))
            });
        }
        let volume = format!("local:iso/{iso}");
        match pve_iso_volume_problem(&volume) {
            None => Ok(volume),
            Some(_) => Err(invalid(format!(
                "iso {iso:?} is not an image of the site's ISO library, a Proxmox volume (STORAGE:iso/FILE.iso) or a file name ending in .iso or .img"
            ))
            .hint(LIST_HINT)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::SecretRef;

    fn library() -> IsoLibrary {
        let image = |name: &str, media: Option<&str>, volume: Option<&str>| IsoImage {
            name: name.into(),
            description: None,
            media_url: media.map(Into::into),
            pve_volume: volume.map(Into::into),
            share_user: None,
            share_password: None,
        };
        IsoLibrary::new(vec![
            image(
                "ubuntu-24.04",
                Some("//files/isos/ubuntu-24.04.iso"),
                Some("cephfs:iso/ubuntu-24.04.iso"),
            ),
            image("firmware", Some("nfs1:/isos/fw.iso"), None),
            image("windows", None, Some("local:iso/win.iso")),
        ])
    }

    #[test]
    fn a_server_mounts_the_named_images_location_or_the_location_given() {
        let library = library();
        assert_eq!(
            library.media_location("Ubuntu-24.04").expect("named"),
            "//files/isos/ubuntu-24.04.iso"
        );
        assert_eq!(
            library.media_location("nfs2:/x/y.iso").expect("location"),
            "nfs2:/x/y.iso"
        );
        let unknown = library.media_location("debian").expect_err("unknown");
        assert_eq!(unknown.field, "spec.boot_iso");
        assert!(
            unknown.message.contains("not an image"),
            "{}",
            unknown.message
        );
        assert!(unknown.hint.contains("giif_iso_images"), "{}", unknown.hint);
        let vm_only = library.media_location("windows").expect_err("for VMs");
        assert!(vm_only.message.contains("VMs only"), "{}", vm_only.message);
        let bad = library
            .media_location("//files/x.iso")
            .expect_err("bad location");
        assert_eq!(bad.field, "spec.boot_iso");
        let with_password = library
            .media_location("//me:hunter2@files/isos/x.iso")
            .expect_err("credentials");
        assert!(
            !with_password.message.contains("hunter2"),
            "{}",
            with_password.message
        );
    }

    #[test]
    fn a_named_image_mounts_with_its_share_credentials() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("share.pw"), "s3cret\n").unwrap();
        let mut images = library().images;
        images[0].share_user = Some("isoreader".into());
        images[0].share_password = Some(SecretRef::File(dir.path().join("share.pw")));
        let library = IsoLibrary::new(images);
        let source = library.media_source("firmware").expect("named");
        assert_eq!(source.image, "nfs1:/isos/fw.iso");
        assert_eq!(source.user.as_deref(), Some("isoreader"));
        assert_eq!(source.password.as_ref().map(|p| p.expose()), Some("s3cret"));
        // A location given directly carries none.
        let direct = library.media_source("nfs1:/isos/fw.iso").expect("location");
        assert_eq!((direct.user, direct.password.is_none()), (None, true));
        // An unreadable password file fails the mount, naming the image.
        std::fs::remove_file(dir.path().join("share.pw")).unwrap();
        let err = library.media_source("firmware").expect_err("unreadable");
        assert!(
            err.message.contains("iso image firmware"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_read_shows_the_name_while_its_image_is_mounted() {
        let library = library();
        let mounted = Some("//files/isos/ubuntu-24.04.iso");
        assert_eq!(
            library.shown_media(Some("ubuntu-24.04"), mounted),
            "ubuntu-24.04"
        );
        // Something else mounted out of band shows as its location: drift.
        assert_eq!(
            library.shown_media(Some("firmware"), mounted),
            "//files/isos/ubuntu-24.04.iso"
        );
        assert_eq!(library.shown_media(Some("firmware"), None), "");
        assert_eq!(
            library.shown_media(None, mounted),
            "//files/isos/ubuntu-24.04.iso"
        );
    }

    #[test]
    fn a_vm_takes_the_named_images_volume_a_volume_or_a_file_on_local() {
        let library = library();
        assert_eq!(
            library.vm_volume("ubuntu-24.04").unwrap(),
            "cephfs:iso/ubuntu-24.04.iso"
        );
        assert_eq!(library.vm_volume("nas:iso/x.iso").unwrap(), "nas:iso/x.iso");
        assert_eq!(
            library.vm_volume("debian-12.iso").unwrap(),
            "local:iso/debian-12.iso"
        );
        let server_only = library.vm_volume("firmware").expect_err("for servers");
        assert_eq!(server_only.field, "spec.iso");
        assert!(
            server_only.message.contains("servers only"),
            "{}",
            server_only.message
        );
        let unknown = library.vm_volume("debian").expect_err("unknown");
        assert!(unknown.hint.contains("giif_iso_images"), "{}", unknown.hint);
        assert!(library.vm_volume("local:vztmpl/x.tar.gz").is_err());
    }
}
