//! `[operations]` of agent.toml: this replica's name and its leases.

use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OperationSettings {
    /// This agent's name in the journal's leases. Replicas on one store
    /// need distinct names; an agent restarted under its name resumes its
    /// own operations at once instead of waiting for their leases to pass.
    /// Default: the host name.
    pub replica: Option<String>,
    /// How long a lease lasts without renewal: a killed replica's
    /// operations pass to another after at most this long.
    pub lease_seconds: u64,
    /// How often unfinished operations are looked for and resumed.
    pub resume_seconds: u64,
    /// How many times an operation that failed in a way a retry may cure
    /// (a device busy or unreachable) is retried without anyone asking.
    pub max_attempts: i64,
}

impl Default for OperationSettings {
    fn default() -> Self {
        Self {
            replica: None,
            lease_seconds: 30,
            resume_seconds: 15,
            max_attempts: 5,
        }
    }
}

impl OperationSettings {
    pub fn replica_name(&self) -> String {
        self.replica
            .clone()
            .filter(|name| !name.trim().is_empty())
            .or_else(|| {
                std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .ok()
                    .map(|name| name.trim().to_string())
                    .filter(|name| !name.is_empty())
            })
            .unwrap_or_else(|| "giif-agent".to_string())
    }

    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_seconds.max(3))
    }

    pub fn resume_every(&self) -> Duration {
        Duration::from_secs(self.resume_seconds.max(1))
    }
}
