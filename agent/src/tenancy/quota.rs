//! Quotas: how much the projects a principal owns may hold. Limits are
//! checked in the write transaction that allocates, so parallel applies
//! never pass them together.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// One kind of thing a quota limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuotaKind {
    Projects,
    Vms,
    Vcpus,
    MemoryGb,
    Servers,
    FloatingIps,
}

impl QuotaKind {
    pub const ALL: [QuotaKind; 6] = [
        QuotaKind::Projects,
        QuotaKind::Vms,
        QuotaKind::Vcpus,
        QuotaKind::MemoryGb,
        QuotaKind::Servers,
        QuotaKind::FloatingIps,
    ];

    /// The name in `agent.toml`, the store and `giif-agent quota set --<name>`.
    pub fn name(self) -> &'static str {
        match self {
            QuotaKind::Projects => "projects",
            QuotaKind::Vms => "vms",
            QuotaKind::Vcpus => "vcpus",
            QuotaKind::MemoryGb => "memory_gb",
            QuotaKind::Servers => "servers",
            QuotaKind::FloatingIps => "floating_ips",
        }
    }
}

/// Limits; `None` is no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    pub projects: Option<u64>,
    pub vms: Option<u64>,
    pub vcpus: Option<u64>,
    pub memory_gb: Option<u64>,
    pub servers: Option<u64>,
    pub floating_ips: Option<u64>,
}

impl Quota {
    pub fn limit(&self, kind: QuotaKind) -> Option<u64> {
        match kind {
            QuotaKind::Projects => self.projects,
            QuotaKind::Vms => self.vms,
            QuotaKind::Vcpus => self.vcpus,
            QuotaKind::MemoryGb => self.memory_gb,
            QuotaKind::Servers => self.servers,
            QuotaKind::FloatingIps => self.floating_ips,
        }
    }

    /// This quota's limits where set, `defaults` elsewhere.
    pub fn or(self, defaults: Quota) -> Quota {
        Quota {
            projects: self.projects.or(defaults.projects),
            vms: self.vms.or(defaults.vms),
            vcpus: self.vcpus.or(defaults.vcpus),
            memory_gb: self.memory_gb.or(defaults.memory_gb),
            servers: self.servers.or(defaults.servers),
            floating_ips: self.floating_ips.or(defaults.floating_ips),
        }
    }
}

/// What a principal's projects hold, or what one change adds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub projects: u64,
    pub vms: u64,
    pub vcpus: u64,
    /// Memory in MiB; quotas count whole GiB, rounded up.
    pub memory_mb: u64,
    pub servers: u64,
    pub floating_ips: u64,
}

impl Usage {
    pub fn of(self, kind: QuotaKind) -> u64 {
        match kind {
            QuotaKind::Projects => self.projects,
            QuotaKind::Vms => self.vms,
            QuotaKind::Vcpus => self.vcpus,
            QuotaKind::MemoryGb => self.memory_mb.div_ceil(1024),
            QuotaKind::Servers => self.servers,
            QuotaKind::FloatingIps => self.floating_ips,
        }
    }

    pub fn plus(self, other: Usage) -> Usage {
        Usage {
            projects: self.projects + other.projects,
            vms: self.vms + other.vms,
            vcpus: self.vcpus + other.vcpus,
            memory_mb: self.memory_mb + other.memory_mb,
            servers: self.servers + other.servers,
            floating_ips: self.floating_ips + other.floating_ips,
        }
    }
}

/// Refuses `demand` when it would take `owner` past `quota` with `usage`
/// already held. Only what the change adds is checked: shrinking is always
/// allowed, even above a lowered quota.
pub fn check(owner: &str, quota: &Quota, usage: Usage, demand: Usage) -> Result<(), ApiError> {
    for kind in QuotaKind::ALL {
        let (Some(limit), wanted) = (quota.limit(kind), demand.of(kind)) else {
            continue;
        };
        let after = usage.plus(demand).of(kind);
        if wanted > 0 && after > limit {
            return Err(ApiError::quota_exceeded(format!(
                "quota {} of {owner} is {limit}; {owner}'s projects use {} and this needs {} more",
                kind.name(),
                usage.of(kind),
                after - usage.of(kind),
            ))
            .subject(owner)
            .hint(format!(
                "Free some, or ask an operator to raise it: giif-agent quota set {owner} --{} N",
                kind.name().replace('_', "-")
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_demand_past_the_limit_names_quota_usage_and_who_raises_it() {
        let quota = Quota {
            vcpus: Some(8),
            ..Quota::default()
        };
        let used = Usage {
            vcpus: 6,
            ..Usage::default()
        };
        let more = Usage {
            vms: 1,
            vcpus: 4,
            ..Usage::default()
        };
        let error = check("alice", &quota, used, more).unwrap_err();
        assert_eq!(
            error.message,
            "quota vcpus of alice is 8; alice's projects use 6 and this needs 4 more"
        );
        assert!(error.hint.contains("giif-agent quota set alice --vcpus N"));
        let fits = Usage {
            vcpus: 2,
            ..Usage::default()
        };
        assert!(check("alice", &quota, used, fits).is_ok());
    }

    #[test]
    fn memory_counts_whole_gib_and_unset_limits_are_unlimited() {
        let quota = Quota {
            memory_gb: Some(2),
            ..Quota::default()
        };
        let used = Usage {
            memory_mb: 1024,
            servers: 1000,
            ..Usage::default()
        };
        let more = |mb| Usage {
            memory_mb: mb,
            servers: 1,
            ..Usage::default()
        };
        assert!(check("bob", &quota, used, more(1024)).is_ok());
        assert!(check("bob", &quota, used, more(1025)).is_err());
    }
}
