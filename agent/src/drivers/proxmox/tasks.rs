//! Changes that PVE runs as worker tasks: send the request, take the UPID,
//! poll the task with backoff until it stops, and turn a failed task into
//! an error carrying its exit status and last log lines. Losing sight of a
//! started task is `MaybeApplied`: it may still finish.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

use super::classify;
use super::client::{target_of, Params, PveClient};
use super::vmconfig::encode_segment;
use super::TaskPoll;
use crate::drivers::error::{DriverError, ErrorClass};
use crate::drivers::observe::observed_change;
use crate::drivers::retry::retry;

/// How many log lines a task failure quotes.
const LOG_TAIL: usize = 5;

/// `UPID:node:pid:pstart:starttime:type:id:user:` → (node, type, id).
pub fn parse_upid(upid: &str) -> Option<(&str, &str, &str)> {
    let rest = upid.strip_prefix("UPID:")?;
    let parts: Vec<&str> = rest.split(':').collect();
    if parts.len() < 8 || parts[0].is_empty() {
        return None;
    }
    Some((parts[0], parts[4], parts[5]))
}

/// Sends a task-starting request and waits for the task; retried as a
/// whole while the request or the task fails transiently (a task that
/// failed on a lock changed nothing). Also says how many attempts it took.
pub async fn run(
    client: &PveClient,
    poll: &TaskPoll,
    method: Method,
    path: &str,
    params: &Params,
) -> (u32, Result<(), DriverError>) {
    let target = target_of(path);
    let action = format!("{method} {path}");
    let mut attempts = 0u32;
    let work = retry(client.retry, || {
        attempts += 1;
        let method = method.clone();
        async move {
            let data = client.once(&method, path, params).await?;
            let upid = data.as_str().ok_or_else(|| {
                DriverError::permanent(
                    target_of(path),
                    format!("{method} {path}"),
                    format!("expected a task id, got {data}"),
                )
            })?;
            wait(client, poll, upid, path).await
        }
    });
    let result = observed_change(&target, &action, work).await;
    (attempts, result)
}

/// Polls until the task stops: every `initial` at first, then every tenth
/// of the task's age, at most every `max`.
async fn wait(
    client: &PveClient,
    poll: &TaskPoll,
    upid: &str,
    origin: &str,
) -> Result<(), DriverError> {
    let (node, kind, id) = parse_upid(upid).ok_or_else(|| {
        DriverError::new(
            ErrorClass::MaybeApplied,
            target_of(origin),
            origin,
            format!("unreadable task id {upid:?}"),
        )
    })?;
    let status_path = format!("/nodes/{node}/tasks/{}/status", encode_segment(upid));
    let lost = |err: DriverError| {
        DriverError::new(
            ErrorClass::MaybeApplied,
            err.target,
            err.action,
            format!("lost track of task {upid}: {}", err.message),
        )
    };
    let no_params: Params = Vec::new();
    let started = Instant::now();
    let mut delay = poll.initial;
    loop {
        let status = retry(client.retry, || {
            client.once(&Method::GET, &status_path, &no_params)
        })
        .await
        .map_err(lost)?;
        if status["status"] == "stopped" {
            let exit = status["exitstatus"]
                .as_str()
                .unwrap_or("unexpected status")
                .to_string();
            if classify::task_succeeded(&exit) {
                return Ok(());
            }
            let tail = log_tail(client, node, upid).await;
            let class = classify::message_class(&exit);
            let mut message = format!("task {kind} {id} failed: {exit}");
            if !tail.is_empty() {
                message.push_str(&format!(" (last log lines: {})", tail.join(" | ")));
            }
            return Err(DriverError::new(
                class,
                format!("pve:{node}"),
                format!("task {kind} {id}"),
                message,
            ));
        }
        if started.elapsed() >= poll.timeout {
            return Err(DriverError::new(
                ErrorClass::MaybeApplied,
                format!("pve:{node}"),
                format!("task {kind} {id}"),
                format!(
                    "task {upid} still running after {}s",
                    poll.timeout.as_secs()
                ),
            ));
        }
        tokio::time::sleep(delay).await;
        delay = next_delay(poll, started.elapsed());
    }
}

/// The pause before looking at a task again: a tenth of the time it has
/// run so far, within `initial..=max`, so a finished task is noticed at
/// most ~10% (or `initial`) late. (Doubling the pause made a 2 s task take
/// 3 s.)
fn next_delay(poll: &TaskPoll, age: Duration) -> Duration {
    (age / 10).clamp(poll.initial, poll.max)
}

/// The task's last log lines; a failure to read them loses only detail.
async fn log_tail(client: &PveClient, node: &str, upid: &str) -> Vec<String> {
    let path = format!("/nodes/{node}/tasks/{}/log", encode_segment(upid));
    // limit=0: the whole log (PVE's convention), then keep the end.
    let params = vec![("limit".to_string(), "0".to_string())];
    let lines = match retry(client.retry, || client.once(&Method::GET, &path, &params)).await {
        Ok(Value::Array(lines)) => lines,
        Ok(_) => return Vec::new(),
        Err(err) => {
            tracing::debug!(upid, error = %err.message, "cannot read the task log");
            return Vec::new();
        }
    };
    let texts: Vec<String> = lines
        .iter()
        .filter_map(|l| l["t"].as_str())
        .map(str::to_string)
        .collect();
    texts[texts.len().saturating_sub(LOG_TAIL)..].to_vec()
}

impl Default for TaskPoll {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(2),
            timeout: Duration::from_secs(30 * 60),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_are_polled_every_tenth_of_their_age_within_bounds() {
        let poll = TaskPoll::default();
        let ms = Duration::from_millis;
        assert_eq!(next_delay(&poll, ms(400)), ms(200));
        assert_eq!(next_delay(&poll, ms(1_800)), ms(200));
        assert_eq!(next_delay(&poll, ms(5_000)), ms(500));
        assert_eq!(next_delay(&poll, ms(600_000)), Duration::from_secs(2));
    }

    #[test]
    fn upids_name_node_type_and_id() {
        let upid = "UPID:pve1:00001A2B:0098AB12:6650A1B2:qmclone:9000:root@pam!giif:";
        assert_eq!(parse_upid(upid), Some(("pve1", "qmclone", "9000")));
        assert_eq!(parse_upid("UPID:pve1:x"), None);
        assert_eq!(parse_upid("nonsense"), None);
    }
}
