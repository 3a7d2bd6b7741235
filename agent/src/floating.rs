//! Floating IPs: an address from the site's pool, held by a project, and
//! when it has a target, NATed 1-to-1 by the project's gateway (DNAT in,
//! SNAT out). The gateway's whole configuration is re-applied on every
//! change, so a rule is never appended or left behind.

use std::net::Ipv4Addr;

use giif_proto::agent as api;

use crate::error::ApiError;
use crate::gateways::Gateways;
use crate::operations::{step, LongObject, ObjectKind, Operations};
use crate::store::{FloatingRow, Store};

#[derive(Clone)]
pub struct FloatingIps {
    store: Store,
    gateways: Gateways,
    operations: Operations,
}

/// A private target: inside 192.168.212.0/24, not the network, the gateway
/// or the broadcast address. (The gateway refuses one in its DHCP pool.)
fn check_target(target: &str) -> Result<Ipv4Addr, ApiError> {
    let bad = || {
        ApiError::invalid(format!("{target:?} is not a host address of the project subnet 192.168.212.0/24 (the gateway is .1)"))
            .field("spec.target_ip")
            .hint("Point it at a static address of the project, by convention 192.168.212.130-230.")
    };
    let address: Ipv4Addr = target.parse().map_err(|_| bad())?;
    if !giif_pagw::LAN.host(address) || address == giif_pagw::DEFAULT_LAN_ADDRESS {
        return Err(bad());
    }
    Ok(address)
}

impl FloatingIps {
    pub fn new(store: Store, gateways: Gateways, operations: Operations) -> Self {
        Self {
            store,
            gateways,
            operations,
        }
    }

    async fn describe(&self, row: &FloatingRow, live: bool) -> Result<api::FloatingIp, ApiError> {
        let gateway = self.store.gateway_of_project(&row.project_id).await?;
        let mut target_ip = row.target_ip.clone();
        if live {
            if let Some(rules) = self.gateways.live_dnat(&row.project_id).await? {
                target_ip = rules
                    .iter()
                    .find(|(public, _)| public.to_string() == row.address)
                    .map(|(_, p)| p.to_string());
            }
        }
        Ok(api::FloatingIp {
            id: row.id.clone(),
            project_id: row.project_id.clone(),
            address: row.address.clone(),
            target_ip,
            gateway_public_ip: gateway.map(|g| g.slot_ip).unwrap_or_default(),
        })
    }

    pub async fn create(
        &self,
        request_id: &str,
        spec: &api::FloatingIpSpec,
    ) -> Result<api::FloatingIp, ApiError> {
        self.store
            .project_by_id(&spec.project_id)
            .await
            .map_err(|e| e.field("spec.project_id"))?;
        let target = spec.target_ip.as_deref().map(check_target).transpose()?;
        if target.is_some()
            && self
                .store
                .gateway_of_project(&spec.project_id)
                .await?
                .is_none()
        {
            return Err(ApiError::precondition(format!("project {} has no gateway (PAGW) to NAT the floating IP", spec.project_id))
                .field("spec.project_id")
                .hint("Add a giif_pagw for the project (and let the floating IP depend on it), or leave target_ip out."));
        }
        let requested = match spec.address.as_str() {
            "" => None,
            text => Some(text.parse::<Ipv4Addr>().map_err(|_| {
                ApiError::invalid(format!("{text:?} is not an IPv4 address")).field("spec.address")
            })?),
        };
        let pool = self
            .store
            .floating_ip_inventory()
            .await?
            .expand()
            .map_err(|e| {
                ApiError::precondition(format!("the inventory's floating IP pool is invalid: {e}"))
            })?;
        let row = self
            .store
            .allocate_floating_ip(
                request_id,
                &spec.project_id,
                requested,
                spec.target_ip.as_deref(),
                &pool,
            )
            .await?;
        if target.is_some() {
            if let Err(err) = self.gateways.reconfigure(&row.project_id).await {
                // A rule the gateway refuses (a target in its DHCP pool) is
                // the caller's error: it applied nothing, so the address
                // goes straight back.
                if err.reason == giif_proto::agent::error_detail::Reason::InvalidArgument {
                    self.store.finish_floating_release(&row.id).await?;
                    return Err(err.field("spec.target_ip"));
                }
                return Err(err);
            }
        }
        self.describe(&row, false).await
    }

    pub async fn get(&self, reference: &str, live: bool) -> Result<api::FloatingIp, ApiError> {
        let row = self.store.floating_ip(reference).await?.ok_or_else(|| {
            ApiError::not_found(format!(
                "no floating IP has the id or address {reference:?}"
            ))
            .subject(reference)
        })?;
        self.describe(&row, live).await
    }

    /// Re-points (or un-points) the floating IP, in place.
    pub async fn update(
        &self,
        id: &str,
        spec: &api::FloatingIpSpec,
    ) -> Result<api::FloatingIp, ApiError> {
        let row = self.store.floating_ip(id).await?.ok_or_else(|| {
            ApiError::not_found(format!("no floating IP has id {id:?}")).subject(id)
        })?;
        if spec.target_ip.is_some()
            && self
                .store
                .gateway_of_project(&row.project_id)
                .await?
                .is_none()
        {
            return Err(ApiError::precondition(format!(
                "project {} has no gateway (PAGW) to NAT the floating IP",
                row.project_id
            ))
            .field("spec.target_ip")
            .hint("Add a giif_pagw for the project, or leave target_ip out."));
        }
        spec.target_ip.as_deref().map(check_target).transpose()?;
        let previous = row.target_ip.clone();
        self.store
            .set_floating_target(&row.id, spec.target_ip.as_deref())
            .await?;
        if spec.target_ip.is_some() || previous.is_some() {
            if let Err(err) = self.gateways.reconfigure(&row.project_id).await {
                if err.reason == giif_proto::agent::error_detail::Reason::InvalidArgument {
                    self.store
                        .set_floating_target(&row.id, previous.as_deref())
                        .await?;
                    return Err(err.field("spec.target_ip"));
                }
                return Err(err);
            }
        }
        self.get(id, false).await
    }

    /// Gives the floating IP back, through the journal: `false` when there
    /// was none.
    pub async fn delete(&self, request_id: &str, id: &str) -> Result<bool, ApiError> {
        let removed = self
            .operations
            .remove(ObjectKind::FloatingIp, id, request_id)
            .await?;
        Ok(removed.is_some())
    }

    /// The release: the address returns to the pool only once the project's
    /// gateway applied a configuration without it; until then it stays held
    /// (and its project undeletable), and the operation is resumed.
    async fn release(&self, id: &str) -> Result<(), ApiError> {
        let Some(row) = self.store.floating_ip(id).await? else {
            return Ok(());
        };
        step("gateway without the floating IP's rules").await?;
        if row.target_ip.is_some()
            && self
                .store
                .gateway_of_project(&row.project_id)
                .await?
                .is_some()
        {
            self.gateways.reconfigure(&row.project_id).await?;
        }
        self.store.finish_floating_release(id).await?;
        tracing::info!(address = %row.address, project = %row.project_id, "floating IP released");
        Ok(())
    }
}

#[async_trait::async_trait]
impl LongObject for FloatingIps {
    /// A floating IP is made and re-pointed within its call; only its
    /// release is journalled.
    async fn converge(&self, id: &str) -> Result<(), ApiError> {
        let Some(row) = self.store.floating_ip(id).await? else {
            return Ok(());
        };
        self.gateways.reconfigure(&row.project_id).await
    }

    async fn remove(&self, id: &str) -> Result<String, ApiError> {
        self.release(id).await.map(|()| String::new())
    }
}

#[cfg(test)]
mod tests {
    use super::check_target;

    #[test]
    fn targets_must_be_hosts_of_the_project_subnet() {
        assert!(check_target("192.168.212.140").is_ok());
        for bad in [
            "192.168.212.1",
            "192.168.212.0",
            "192.168.212.255",
            "10.0.0.5",
            "nonsense",
        ] {
            assert!(check_target(bad).is_err(), "{bad}");
        }
    }
}
