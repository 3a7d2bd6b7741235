//! `data "giif_iso_images"`: the site's ISO library, which `boot_iso` and a
//! VM's `iso` can name.

use std::sync::LazyLock;

use super::{Ctx, DataSource};
use crate::diag::Diagnostics;
use crate::schema::{Attribute, Nesting, Schema, Validator};
use crate::tfvalue::Value;

const USABLE_FOR: Validator = Validator {
    rule: "One of `servers`, `vms` or `any`.",
    check: |value| {
        match value.as_str() {
        None | Some("servers" | "vms" | "any") => Ok(()),
        Some(other) => Err(format!(
            "{other:?} is not a use; use \"servers\" (bare-metal boot_iso), \"vms\" (a VM's iso) or \"any\""
        )),
    }
    },
};

static ISO_IMAGES_SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema {
    version: 0,
    description: "The site's ISO library: installer and rescue images by name. A `giif_bms_assignment`'s `boot_iso` and a `giif_vm`'s `iso` can name one instead of giving its location; the operator lists them under `[[iso_images]]` in the site file.",
    attributes: vec![
        Attribute::string("usable_for")
            .default(Value::string("any"))
            .describe("Which images to list: `servers` (those a server's iDRAC can mount), `vms` (those a VM's CD drive can take) or `any`.")
            .validate(USABLE_FOR),
        Attribute::nested(
            "images",
            Nesting::List,
            vec![
                Attribute::string("name").computed().describe("The name `boot_iso` and `iso` take."),
                Attribute::string("description").computed().describe("What the image is, as the operator wrote it."),
                Attribute::string("media_url").computed().describe("Where a server's iDRAC mounts it; null when it is for VMs only."),
                Attribute::string("pve_volume").computed().describe("The Proxmox ISO volume a VM's CD drive takes; null when it is for servers only."),
            ],
        )
        .computed()
        .describe("The images, in name order."),
    ],
    blocks: vec![],
}
});

pub struct IsoImagesDataSource;

#[tonic::async_trait]
impl DataSource for IsoImagesDataSource {
    fn type_name(&self) -> &'static str {
        "giif_iso_images"
    }

    fn schema(&self) -> &Schema {
        &ISO_IMAGES_SCHEMA
    }

    async fn read(&self, ctx: &Ctx<'_>, config: &Value) -> Result<Value, Diagnostics> {
        let usable_for = config
            .get("usable_for")
            .as_str()
            .unwrap_or("any")
            .to_string();
        let images = ctx
            .agent
            .list_iso_images(ctx.timeout)
            .await
            .map_err(|err| Diagnostics::from(err.to_diagnostic("Cannot list the ISO images")))?;
        let opt = |s: &str| Value::opt_string(Some(s.to_string()).filter(|s| !s.is_empty()));
        let listed = images
            .iter()
            .filter(|image| match usable_for.as_str() {
                "servers" => !image.media_url.is_empty(),
                "vms" => !image.pve_volume.is_empty(),
                _ => true,
            })
            .map(|image| {
                Value::object([
                    ("name", Value::string(&image.name)),
                    ("description", opt(&image.description)),
                    ("media_url", opt(&image.media_url)),
                    ("pve_volume", opt(&image.pve_volume)),
                ])
            })
            .collect();
        Ok(Value::object([
            ("usable_for", Value::string(usable_for)),
            ("images", Value::List(listed)),
        ]))
    }
}
