//! Worker tasks: a UPID in PVE's format
//! (`UPID:node:PID:PSTART:STARTTIME:type:id:user@realm!token:`), a log that
//! grows while the task runs, and an exit status (`OK` or the error text)
//! once it stops. A task holds its VM's lock file while it runs.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::flock;
use super::state::Shared;
use super::work::Work;

#[derive(Clone, Debug)]
pub struct Task {
    pub upid: String,
    pub node: String,
    pub pid: u32,
    pub pstart: u64,
    pub starttime: u64,
    pub kind: String,
    pub id: String,
    pub user: String,
    pub log: Vec<String>,
    /// `None` while running; then `OK` or the error.
    pub exitstatus: Option<String>,
}

impl Task {
    fn new(node: &str, pid: u32, kind: &str, id: &str, user: &str) -> Self {
        let starttime = time::OffsetDateTime::now_utc().unix_timestamp().max(0) as u64;
        // Process start in clock ticks since boot, as /proc/<pid>/stat has it.
        let pstart = 10_000_000 + rand::random::<u32>() as u64 % 90_000_000;
        let upid =
            format!("UPID:{node}:{pid:08X}:{pstart:08X}:{starttime:08X}:{kind}:{id}:{user}:");
        Self {
            upid,
            node: node.to_string(),
            pid,
            pstart,
            starttime,
            kind: kind.to_string(),
            id: id.to_string(),
            user: user.to_string(),
            log: Vec::new(),
            exitstatus: None,
        }
    }

    /// `GET /nodes/{node}/tasks/{upid}/status`; a token's task shows the
    /// user and the token name apart, as PVE does.
    pub fn status_json(&self) -> Value {
        let (user, tokenid) = match self.user.split_once('!') {
            Some((user, token)) => (user.to_string(), Some(token.to_string())),
            None => (self.user.clone(), None),
        };
        let mut out = json!({
            "upid": self.upid,
            "node": self.node,
            "pid": self.pid,
            "pstart": self.pstart,
            "starttime": self.starttime,
            "type": self.kind,
            "id": self.id,
            "user": user,
            "status": if self.exitstatus.is_some() { "stopped" } else { "running" },
        });
        if let Some(token) = tokenid {
            out["tokenid"] = json!(token);
        }
        if let Some(exit) = &self.exitstatus {
            out["exitstatus"] = json!(exit);
        }
        out
    }

    /// `GET .../log`: lines `{n, t}` from `start`, at most `limit` (0 = all).
    pub fn log_json(&self, start: usize, limit: usize) -> (Value, usize) {
        let total = self.log.len();
        let take = if limit == 0 { usize::MAX } else { limit };
        let mut lines: Vec<Value> = self
            .log
            .iter()
            .enumerate()
            .skip(start)
            .take(take)
            .map(|(i, t)| json!({ "n": i + 1, "t": t }))
            .collect();
        if total == 0 {
            // PVE never answers an empty array here.
            lines.push(json!({ "n": 1, "t": "no content" }));
            return (json!(lines), 1);
        }
        (json!(lines), total)
    }

    pub fn admin_json(&self) -> Value {
        let mut out = self.status_json();
        out["log"] = json!(self.log);
        out
    }
}

/// Checks a UPID's shape as `PVE::UPID::decode` does; returns its node.
pub fn upid_node(upid: &str) -> Option<&str> {
    let rest = upid.strip_prefix("UPID:")?.strip_suffix(':')?;
    let parts: Vec<&str> = rest.split(':').collect();
    if parts.len() != 7 {
        return None;
    }
    let hex = |s: &str, min: usize, max: usize| {
        (min..=max).contains(&s.len()) && s.chars().all(|c| c.is_ascii_hexdigit())
    };
    let node_ok = !parts[0].is_empty()
        && parts[0]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    let ok = node_ok
        && hex(parts[1], 8, 8)
        && hex(parts[2], 8, 9)
        && hex(parts[3], 8, 8)
        && !parts[4].is_empty()
        && !parts[6].is_empty();
    ok.then_some(parts[0])
}

/// What to start: the task's identity, its first log lines, and the work.
pub struct TaskSpec {
    pub node: String,
    pub kind: &'static str,
    pub id: String,
    pub user: String,
    pub first_lines: Vec<String>,
    pub work: Work,
}

/// Registers the task and runs it in the background; returns its UPID.
pub fn spawn(shared: &Arc<Shared>, spec: TaskSpec) -> String {
    let duration = shared.task_duration();
    let (upid, injected) = {
        let mut state = shared.lock();
        let pid = state.pid();
        let mut task = Task::new(&spec.node, pid, spec.kind, &spec.id, &spec.user);
        task.log = spec.first_lines;
        let upid = task.upid.clone();
        let injected = state.take_task_failure(spec.kind);
        state.tasks.push(task);
        (upid, injected)
    };
    tracing::debug!(%upid, "PVE task started");
    tokio::spawn(run(
        shared.clone(),
        upid.clone(),
        spec.work,
        duration,
        injected,
    ));
    upid
}

async fn run(
    shared: Arc<Shared>,
    upid: String,
    work: Work,
    duration: Duration,
    injected: Option<String>,
) {
    let mut held = Vec::new();
    for (vmid, mode) in work.locks() {
        match flock::acquire(&shared, vmid, mode).await {
            Ok(()) => held.push((vmid, mode)),
            Err(message) => {
                {
                    let mut state = shared.lock();
                    work.undo(&mut state);
                }
                release(&shared, &work, &held);
                finish(&shared, &upid, Vec::new(), Err(message));
                return;
            }
        }
    }
    // Long tasks report progress half way, as disk copies do.
    if let Some(line) = work.progress_line() {
        tokio::time::sleep(duration / 2).await;
        if let Some(task) = shared.lock().task_mut(&upid) {
            task.log.push(line);
        }
        tokio::time::sleep(duration - duration / 2).await;
    } else {
        tokio::time::sleep(duration).await;
    }
    let outcome = {
        let mut state = shared.lock();
        match injected {
            Some(message) => {
                work.undo(&mut state);
                Err(message)
            }
            None => work.apply(&mut state),
        }
    };
    release(&shared, &work, &held);
    match outcome {
        Ok(done) => {
            finish(&shared, &upid, done.lines, Ok(()));
            for event in done.events {
                shared.emit(event);
            }
        }
        Err(message) => finish(&shared, &upid, Vec::new(), Err(message)),
    }
}

fn release(shared: &Shared, work: &Work, held: &[(u32, flock::Mode)]) {
    for (vmid, mode) in held {
        flock::release(shared, *vmid, *mode);
    }
    if let Some(vmid) = work.prelocked() {
        flock::release(shared, vmid, flock::Mode::Exclusive);
    }
}

fn finish(shared: &Shared, upid: &str, lines: Vec<String>, result: Result<(), String>) {
    let mut state = shared.lock();
    if let Some(task) = state.task_mut(upid) {
        task.log.extend(lines);
        match result {
            Ok(()) => {
                task.log.push("TASK OK".into());
                task.exitstatus = Some("OK".into());
            }
            Err(message) => {
                // Earlier lines of a multi-line error are log output; the
                // last one is what PVE reads back as the exit status.
                let mut lines: Vec<&str> = message.trim_end().lines().collect();
                let last = lines.pop().unwrap_or_default().to_string();
                task.log.extend(lines.into_iter().map(str::to_string));
                task.log.push(format!("TASK ERROR: {last}"));
                task.exitstatus = Some(last);
            }
        }
        tracing::debug!(upid, exitstatus = ?task.exitstatus, "PVE task stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upids_have_pves_shape() {
        let task = Task::new("pve1", 0x1234, "qmclone", "9000", "root@pam!giif");
        assert!(task.upid.starts_with("UPID:pve1:00001234:"));
        assert!(task.upid.ends_with(":qmclone:9000:root@pam!giif:"));
        assert_eq!(upid_node(&task.upid), Some("pve1"));
        assert_eq!(upid_node("UPID:pve1:nothex:0:0:x:1:u:"), None);
        assert_eq!(upid_node("not a upid"), None);
        let status = task.status_json();
        assert_eq!(status["user"], "root@pam");
        assert_eq!(status["tokenid"], "giif");
        assert_eq!(status["status"], "running");
    }

    #[test]
    fn logs_page_like_pve() {
        let mut task = Task::new("pve1", 1, "qmstart", "101", "root@pam");
        let (lines, total) = task.log_json(0, 50);
        assert_eq!((lines[0]["t"].as_str(), total), (Some("no content"), 1));
        task.log = vec!["a".into(), "b".into(), "TASK OK".into()];
        let (lines, total) = task.log_json(1, 1);
        assert_eq!(total, 3);
        assert_eq!(lines, json!([{ "n": 2, "t": "b" }]));
    }
}
