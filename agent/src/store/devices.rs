//! The imported site devices: servers, the Proxmox cluster, PAGW slots, the
//! floating IP pool and the ISO library, kept as typed documents per device.

use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::{Any, Transaction};

use super::Store;
use crate::error::ApiError;
use crate::inventory::{Bms, FloatingIps, Guacamole, Inventory, IsoImage, PagwSlot, Proxmox};
use crate::iso_library::IsoLibrary;

pub const KIND_BMS: &str = "bms";
pub const KIND_PROXMOX: &str = "proxmox";
pub const KIND_PAGW_SLOT: &str = "pagw_slot";
pub const KIND_FLOATING_IPS: &str = "floating_ips";
pub const KIND_GUACAMOLE: &str = "guacamole";
pub const KIND_ISO_IMAGE: &str = "iso_image";

impl Store {
    /// Imports a whole site file in one transaction: the project VLAN pool
    /// and every device, replacing what the previous import said.
    pub async fn import_inventory(&self, inventory: &Inventory) -> Result<(), ApiError> {
        let mut tx = self.begin_write().await?;
        super::inventory::replace_project_pool(&mut tx, &inventory.project_vlans).await?;
        sqlx::query("DELETE FROM inventory_items")
            .execute(&mut *tx)
            .await?;
        for server in &inventory.bms {
            put(&mut tx, KIND_BMS, &server.name, server).await?;
        }
        if let Some(pve) = &inventory.proxmox {
            put(&mut tx, KIND_PROXMOX, "cluster", pve).await?;
        }
        for slot in &inventory.pagw_slots {
            put(&mut tx, KIND_PAGW_SLOT, &slot.public_ip.to_string(), slot).await?;
        }
        put(&mut tx, KIND_FLOATING_IPS, "pool", &inventory.floating_ips).await?;
        if let Some(guacamole) = &inventory.guacamole {
            put(&mut tx, KIND_GUACAMOLE, "console", guacamole).await?;
        }
        for image in &inventory.iso_images {
            put(&mut tx, KIND_ISO_IMAGE, &image.name, image).await?;
        }
        let revision = revision_of(&mut tx).await?;
        sqlx::query("DELETE FROM inventory_revision")
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO inventory_revision (id, revision) VALUES (1, $1)")
            .bind(revision)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Changes whenever an import changes any device: one row, written by
    /// the import (the hash of every device as imported).
    pub async fn inventory_revision(&self) -> Result<String, ApiError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT revision FROM inventory_revision WHERE id = 1")
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(|(r,)| r).unwrap_or_default())
    }

    pub async fn bms_inventory(&self) -> Result<Vec<Bms>, ApiError> {
        self.items(KIND_BMS).await
    }

    pub async fn proxmox_inventory(&self) -> Result<Option<Proxmox>, ApiError> {
        Ok(self.items(KIND_PROXMOX).await?.into_iter().next())
    }

    pub async fn pagw_slot_inventory(&self) -> Result<Vec<PagwSlot>, ApiError> {
        self.items(KIND_PAGW_SLOT).await
    }

    pub async fn floating_ip_inventory(&self) -> Result<FloatingIps, ApiError> {
        Ok(self
            .items(KIND_FLOATING_IPS)
            .await?
            .into_iter()
            .next()
            .unwrap_or_default())
    }

    pub async fn guacamole_inventory(&self) -> Result<Option<Guacamole>, ApiError> {
        Ok(self.items(KIND_GUACAMOLE).await?.into_iter().next())
    }

    /// The site's ISO library, in name order.
    pub async fn iso_library(&self) -> Result<IsoLibrary, ApiError> {
        let images: Vec<IsoImage> = self.items(KIND_ISO_IMAGE).await?;
        Ok(IsoLibrary::new(images))
    }

    async fn items<T: DeserializeOwned>(&self, kind: &str) -> Result<Vec<T>, ApiError> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT name, spec FROM inventory_items WHERE kind = $1 ORDER BY name")
                .bind(kind)
                .fetch_all(self.pool())
                .await?;
        rows.into_iter()
            .map(|(name, spec)| {
                serde_json::from_str(&spec).map_err(|e| {
                    ApiError::internal(format!("inventory item {kind}/{name} is unreadable: {e}"))
                })
            })
            .collect()
    }
}

/// The hash of every device as stored.
async fn revision_of(tx: &mut Transaction<'static, Any>) -> Result<String, ApiError> {
    use sha2::Digest;
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT kind, name, spec FROM inventory_items ORDER BY kind, name")
            .fetch_all(&mut **tx)
            .await?;
    let mut hash = sha2::Sha256::new();
    for (kind, name, spec) in rows {
        hash.update(kind.as_bytes());
        hash.update(name.as_bytes());
        hash.update(spec.as_bytes());
    }
    Ok(hex::encode(hash.finalize()))
}

async fn put<T: Serialize>(
    tx: &mut Transaction<'static, Any>,
    kind: &str,
    name: &str,
    item: &T,
) -> Result<(), ApiError> {
    let spec = serde_json::to_string(item)
        .map_err(|e| ApiError::internal(format!("cannot encode {kind}/{name}: {e}")))?;
    sqlx::query("INSERT INTO inventory_items (kind, name, spec) VALUES ($1, $2, $3)")
        .bind(kind)
        .bind(name)
        .bind(spec)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
