//! The `[tenancy]` and `[audit]` sections of `agent.toml`.

use serde::{Deserialize, Serialize};

use super::quota::Quota;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TenancySettings {
    /// How long `giif-agent identity issue` makes a certificate valid.
    pub certificate_days: u32,
    /// How far from today a user may set a project's `expires_on`; no limit
    /// when absent. Operators may go beyond it.
    pub max_project_days: Option<u32>,
    /// Every user's quota unless `giif-agent quota set` gives one.
    pub default_quota: Quota,
}

impl Default for TenancySettings {
    fn default() -> Self {
        Self {
            certificate_days: 30,
            max_project_days: None,
            default_quota: Quota::default(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSettings {
    /// Audit records older than this are deleted at start; the request log
    /// is pruned on its own, far sooner.
    pub keep_days: u32,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self { keep_days: 400 }
    }
}
