//! Between the API's VmSpec and the stored document, with the checks the
//! agent makes itself (it trusts no client to have made them).

use std::net::Ipv4Addr;

use giif_proto::agent as api;

use crate::error::ApiError;
use crate::store::{VmCloudInitDoc, VmDoc};

/// The project subnet's gateway, which static addresses route through.
pub const LAN_GATEWAY: &str = "192.168.212.1";

/// A static address `192.168.212.X/24` usable by a VM, or why not.
pub fn static_address(text: &str) -> Result<Ipv4Addr, String> {
    let fix = "use \"dhcp\" or an address like \"192.168.212.140/24\"";
    let (address, prefix) = text
        .split_once('/')
        .ok_or_else(|| format!("{text:?} has no /24 prefix; {fix}"))?;
    let address: Ipv4Addr = address
        .parse()
        .map_err(|_| format!("{text:?} is not an IPv4 address; {fix}"))?;
    if prefix != "24" {
        return Err(format!(
            "{text:?} must have the prefix /24 of the project subnet; {fix}"
        ));
    }
    if !giif_pagw::LAN.contains(address) {
        return Err(format!(
            "{text:?} is outside the project subnet 192.168.212.0/24; {fix}"
        ));
    }
    if matches!(address.octets()[3], 0 | 1 | 255) {
        return Err(format!(
            "{text:?} is the network, the gateway (.1) or the broadcast address; {fix}"
        ));
    }
    Ok(address)
}

/// Checks a spec and turns it into the stored document.
pub fn doc_from_spec(spec: &api::VmSpec) -> Result<VmDoc, ApiError> {
    if let Some(problem) = giif_proto::rules::dns_label_problem(&spec.name) {
        return Err(ApiError::invalid(format!("invalid VM name: {problem}")).field("spec.name"));
    }
    let template = Some(spec.template.clone()).filter(|t| !t.is_empty());
    let iso = Some(spec.iso.clone()).filter(|t| !t.is_empty());
    if template.is_some() == iso.is_some() {
        return Err(
            ApiError::invalid("give exactly one of template and iso").field("spec.template")
        );
    }
    if spec.cores == 0 || spec.memory_mb < 128 || spec.disk_gb == 0 {
        return Err(ApiError::invalid(
            "cores must be at least 1, memory_mb at least 128 and disk_gb at least 1",
        )
        .field("spec.cores"));
    }
    let power_on = match spec.power_state.as_str() {
        "on" | "" => true,
        "off" => false,
        other => {
            return Err(ApiError::invalid(format!(
                "power_state {other:?} is not \"on\" or \"off\""
            ))
            .field("spec.power_state"))
        }
    };
    let cloud_init = match &spec.cloud_init {
        None => None,
        Some(ci) => {
            let ip = if ci.ip.is_empty() {
                "dhcp".to_string()
            } else {
                ci.ip.clone()
            };
            if ip != "dhcp" {
                static_address(&ip)
                    .map_err(|e| ApiError::invalid(e).field("spec.cloud_init.ip"))?;
            }
            Some(VmCloudInitDoc {
                user: ci.user.clone(),
                ssh_keys: ci.ssh_keys.clone(),
                ip,
            })
        }
    };
    Ok(VmDoc {
        template,
        iso,
        cores: spec.cores,
        memory_mb: spec.memory_mb,
        disk_gb: spec.disk_gb,
        power_on,
        cloud_init,
    })
}

pub fn spec_from_doc(project_id: &str, name: &str, node: &str, doc: &VmDoc) -> api::VmSpec {
    api::VmSpec {
        project_id: project_id.to_string(),
        name: name.to_string(),
        node: node.to_string(),
        template: doc.template.clone().unwrap_or_default(),
        iso: doc.iso.clone().unwrap_or_default(),
        cores: doc.cores,
        memory_mb: doc.memory_mb,
        disk_gb: doc.disk_gb,
        power_state: if doc.power_on { "on" } else { "off" }.to_string(),
        cloud_init: doc.cloud_init.as_ref().map(|ci| api::VmCloudInit {
            user: ci.user.clone(),
            ssh_keys: ci.ssh_keys.clone(),
            ip: ci.ip.clone(),
        }),
    }
}

/// Refuses a static address inside the gateway's DHCP pool, which the
/// gateway could hand to another VM.
pub fn check_outside_pool(doc: &VmDoc, first: &str, last: &str) -> Result<(), ApiError> {
    let Some(ip) = doc.cloud_init.as_ref().map(|ci| ci.ip.as_str()) else {
        return Ok(());
    };
    let (Ok(address), Ok(first_ip), Ok(last_ip)) = (
        static_address(ip),
        first.parse::<Ipv4Addr>(),
        last.parse::<Ipv4Addr>(),
    ) else {
        return Ok(());
    };
    if (first_ip..=last_ip).contains(&address) {
        return Err(ApiError::invalid(format!(
            "{ip} is inside the project gateway's DHCP pool {first}-{last}"
        ))
        .field("spec.cloud_init.ip")
        .hint(
            "Pick a static address outside the pool (by convention .130-.230), or use \"dhcp\".",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_addresses_are_checked() {
        assert!(static_address("192.168.212.140/24").is_ok());
        for bad in [
            "192.168.212.140",
            "10.0.0.5/24",
            "192.168.212.1/24",
            "192.168.212.255/24",
            "192.168.212.0/24",
            "192.168.212.40/16",
            "nonsense/24",
        ] {
            assert!(static_address(bad).is_err(), "{bad}");
        }
    }
}
