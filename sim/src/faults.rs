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
    /// Holds every request or command whose line contains this text
    /// (`POST /api2/json/nodes/pve1/qemu/9000/clone`, `racadm serveraction
    /// powerdown`) until the knob changes, before the device acts: a test
    /// kills the agent while a step is in flight. `GET /holds` counts the
    /// requests held.
    pub hold: Option<String>,
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
    /// The lines of the requests held now, per endpoint.
    held: Arc<RwLock<HashMap<String, Vec<String>>>>,
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

    /// The lines of the requests held now, per endpoint (those with none
    /// left out).
    pub fn held(&self) -> HashMap<String, Vec<String>> {
        self.held
            .read()
            .map(|held| {
                held.iter()
                    .filter(|(_, lines)| !lines.is_empty())
                    .map(|(k, lines)| (k.clone(), lines.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn mark_held(&self, endpoint: &str, line: &str, held: bool) {
        if let Ok(mut all) = self.held.write() {
            let lines = all.entry(endpoint.to_string()).or_default();
            if held {
                lines.push(line.to_string());
            } else if let Some(at) = lines.iter().position(|l| l == line) {
                lines.remove(at);
            }
        }
    }

    /// Holds the request `line` while the endpoint's `hold` matches it,
    /// then decides its fate as [`Faults::before`] does.
    pub async fn before_request(&self, endpoint: &str, line: &str) -> Verdict {
        let holds = |knobs: &FaultKnobs| knobs.hold.as_deref().is_some_and(|h| line.contains(h));
        if holds(&self.get(endpoint)) {
            tracing::info!(endpoint, line, "fault injection: holding the request");
            // Counted until let go, or until its connection drops (the
            // server then drops this future).
            struct Held<'a>(&'a Faults, &'a str, &'a str);
            impl Drop for Held<'_> {
                fn drop(&mut self) {
                    self.0.mark_held(self.1, self.2, false);
                }
            }
            self.mark_held(endpoint, line, true);
            let _held = Held(self, endpoint, line);
            while holds(&self.get(endpoint)) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            tracing::info!(endpoint, line, "fault injection: request let go");
        }
        self.before(endpoint).await
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
