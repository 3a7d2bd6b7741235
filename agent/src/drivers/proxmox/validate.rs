//! Checks made before a request goes out, for values PVE would refuse
//! anyway: the caller gets the same kind of answer (`Permanent`) without a
//! round trip, and the cluster never sees a malformed request.

use crate::drivers::error::DriverError;
use crate::drivers::hypervisor::Nic;

/// PVE's `tag` range for a NIC's VLAN.
const VLAN_RANGE: std::ops::RangeInclusive<u16> = 1..=4094;

pub fn nic(nic: &Nic, target: &str, action: &str) -> Result<(), DriverError> {
    if let Some(tag) = nic.vlan.filter(|t| !VLAN_RANGE.contains(t)) {
        return Err(DriverError::permanent(
            target,
            action,
            format!("VLAN tag {tag} is outside 1-4094"),
        ));
    }
    if nic.bridge.is_empty() {
        return Err(DriverError::permanent(
            target,
            action,
            "a NIC needs a bridge",
        ));
    }
    Ok(())
}

/// PVE's `dns-name` format for VM names.
pub fn name(name: &str, target: &str, action: &str) -> Result<(), DriverError> {
    let valid = !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if valid {
        Ok(())
    } else {
        Err(DriverError::permanent(
            target,
            action,
            format!("VM name {name:?} is not a valid DNS name"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vlans_and_names() {
        assert!(nic(&Nic::virtio("vmbr1", Some(4094)), "t", "a").is_ok());
        assert!(nic(&Nic::virtio("vmbr1", Some(0)), "t", "a").is_err());
        assert!(nic(&Nic::virtio("vmbr1", Some(5000)), "t", "a").is_err());
        assert!(nic(&Nic::virtio("", None), "t", "a").is_err());
        assert!(name("web-1.lab", "t", "a").is_ok());
        assert!(name("web_1", "t", "a").is_err());
        assert!(name("-web", "t", "a").is_err());
    }
}
