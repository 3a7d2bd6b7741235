//! Knobs for misbehaviour, per endpoint: latency, a failure rate, dropped
//! connections and task durations. Endpoint keys: `idrac:<server>`, `pve`,
//! `pagw:<public ip>`. The admin API sets them; each device consults them.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultKnobs {
    /// Added before every answer.
    pub latency_ms: u64,
    /// Share (0.0-1.0) of requests or commands that fail the way the real
    /// device fails when busy (PVE: HTTP 500/503; racadm: a transient error).
    pub failure_rate: f64,
    /// Share (0.0-1.0) of requests or commands whose connection is dropped
    /// without an answer.
    pub drop_rate: f64,
    /// Fail exactly the next N requests or commands (deterministic for tests).
    pub fail_next: u32,
    /// Drop exactly the next N connections or commands.
    pub drop_next: u32,
    /// How long a Proxmox task or an iDRAC job runs (default: device's own).
    pub task_duration_ms: Option<u64>,
}

/// What a device should do with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Serve,
    Fail,
    Drop,
}

#[derive(Clone, Default)]
pub struct Faults {
    knobs: Arc<RwLock<HashMap<String, FaultKnobs>>>,
}

impl Faults {
    pub fn get(&self, endpoint: &str) -> FaultKnobs {
        self.knobs
            .read()
            .map(|k| k.get(endpoint).cloned().unwrap_or_default())
            .unwrap_or_default()
    }

    pub fn set(&self, endpoint: &str, knobs: FaultKnobs) {
        if let Ok(mut all) = self.knobs.write() {
            all.insert(endpoint.to_string(), knobs);
        }
    }

    pub fn all(&self) -> HashMap<String, FaultKnobs> {
        self.knobs.read().map(|k| k.clone()).unwrap_or_default()
    }

    /// Waits out the latency, then decides this request's fate (consuming
    /// one `fail_next`/`drop_next` when set).
    pub async fn before(&self, endpoint: &str) -> Verdict {
        let knobs = self.get(endpoint);
        if knobs.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(knobs.latency_ms)).await;
        }
        let mut verdict = Verdict::Serve;
        if let Ok(mut all) = self.knobs.write() {
            if let Some(k) = all.get_mut(endpoint) {
                if k.drop_next > 0 {
                    k.drop_next -= 1;
                    verdict = Verdict::Drop;
                } else if k.fail_next > 0 {
                    k.fail_next -= 1;
                    verdict = Verdict::Fail;
                }
            }
        }
        if verdict == Verdict::Serve {
            let roll: f64 = rand::random();
            if roll < knobs.drop_rate {
                verdict = Verdict::Drop;
            } else if roll < knobs.drop_rate + knobs.failure_rate {
                verdict = Verdict::Fail;
            }
        }
        verdict
    }

    pub fn task_duration(&self, endpoint: &str, default: Duration) -> Duration {
        self.get(endpoint)
            .task_duration_ms
            .map(Duration::from_millis)
            .unwrap_or(default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fail_next_and_drop_next_are_consumed_in_order() {
        let faults = Faults::default();
        faults.set(
            "pve",
            FaultKnobs {
                fail_next: 1,
                drop_next: 1,
                ..Default::default()
            },
        );
        assert_eq!(faults.before("pve").await, Verdict::Drop);
        assert_eq!(faults.before("pve").await, Verdict::Fail);
        assert_eq!(faults.before("pve").await, Verdict::Serve);
        assert_eq!(faults.before("idrac:bms01").await, Verdict::Serve);
    }
}
