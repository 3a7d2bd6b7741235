//! Long actions: a BMC that answers `202 Accepted` gives a task monitor in
//! `Location`; it answers 202 while the task runs and the task's outcome
//! after (a Task resource, Dell's Job resource, or the action's own answer).
//! iDRACs before 7.10.30 drop a finished task from the TaskService within
//! seconds; Dell's job store (`Oem/Dell/Jobs/<JID>`) still has it.

use std::time::Instant;

use serde_json::Value;

use super::client::Reply;
use super::Redfish;
use crate::drivers::bmc::{JobId, JobState, JobStatus};
use crate::drivers::error::{DriverError, ErrorClass};

/// What a Task resource says of its task, if the body is one.
pub(super) fn task_state(task: &Value) -> Option<JobState> {
    let Some(task_state) = task["TaskState"].as_str() else {
        return dell_job_state(task);
    };
    let state = match task_state {
        "New" | "Pending" | "Starting" => JobState::Scheduled,
        "Running" | "Stopping" | "Suspended" | "Service" => JobState::Running,
        "Completed" if task["TaskStatus"].as_str() == Some("Critical") => JobState::Failed,
        "Completed" => JobState::Completed,
        // Exception, Killed, Cancelled, Interrupted and anything newer.
        _ => JobState::Failed,
    };
    Some(state)
}

/// What Dell's Job resource (`#DellJob`) says of its job.
fn dell_job_state(job: &Value) -> Option<JobState> {
    let state = match job["JobState"].as_str()? {
        "New" | "Scheduled" | "Scheduling" | "Waiting" | "ReadyForExecution" => JobState::Scheduled,
        "Running" | "Downloading" | "Downloaded" => JobState::Running,
        "Completed" => JobState::Completed,
        _ => JobState::Failed,
    };
    Some(state)
}

/// The task's messages, joined (a Dell job has one `Message`).
pub(super) fn task_messages(task: &Value) -> String {
    if let Some(message) = task["Message"].as_str() {
        return message.to_string();
    }
    task_messages_list(task)
}

fn task_messages_list(task: &Value) -> String {
    task["Messages"]
        .as_array()
        .map(|messages| {
            messages
                .iter()
                .filter_map(|m| m["Message"].as_str())
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default()
}

pub(super) fn job_status(id: &JobId, task: &Value) -> Option<JobStatus> {
    Some(JobStatus {
        id: id.clone(),
        name: task["Name"].as_str().unwrap_or_default().to_string(),
        state: task_state(task)?,
        percent: task["PercentComplete"].as_u64().map(|p| p.min(100) as u8),
        message_id: task["Messages"][0]["MessageId"]
            .as_str()
            .or(task["MessageId"].as_str())
            .map(str::to_string),
        message: task_messages(task),
    })
}

impl Redfish {
    /// Follows an accepted action to its end; other answers are the end.
    pub(super) async fn finish(&self, action: &str, reply: Reply) -> Result<(), DriverError> {
        if reply.status != reqwest::StatusCode::ACCEPTED {
            return self.task_outcome(action, &reply.body);
        }
        let Some(monitor) = reply.location else {
            // Accepted without a monitor: the caller checks the effect.
            return Ok(());
        };
        let started = Instant::now();
        let mut monitor = monitor;
        let mut seen = false;
        loop {
            let now = match self.get(action, &monitor).await {
                Ok(now) => now,
                Err(error) if error.class == ErrorClass::NotFound && seen => {
                    // A finished task gone from the TaskService: ask Dell's job store.
                    match self.dell_job(action, &monitor).await? {
                        Some(job) if job != monitor => {
                            monitor = job;
                            continue;
                        }
                        _ => return Err(self.monitor_lost(action, &monitor, error)),
                    }
                }
                Err(error) => return Err(error),
            };
            seen = true;
            if now.status != reqwest::StatusCode::ACCEPTED {
                match task_state(&now.body) {
                    Some(JobState::Scheduled | JobState::Running) => {}
                    _ => return self.task_outcome(action, &now.body),
                }
            }
            if started.elapsed() > self.config.task_wait {
                return Err(DriverError::maybe_applied(
                    &self.target,
                    action,
                    format!(
                        "the BMC's task {monitor} is still running after {} s; it may yet finish",
                        self.config.task_wait.as_secs()
                    ),
                ));
            }
            tokio::time::sleep(self.config.poll).await;
        }
    }

    /// Dell's job resource for a task monitor that names a `JID_`, if the
    /// system's manager is an iDRAC.
    async fn dell_job(&self, action: &str, monitor: &str) -> Result<Option<String>, DriverError> {
        let Some(id) = monitor
            .rsplit('/')
            .next()
            .filter(|id| id.starts_with("JID_"))
        else {
            return Ok(None);
        };
        let manager = self.paths(action).await?.manager;
        Ok(manager.map(|m| format!("{}/Oem/Dell/Jobs/{id}", m.trim_end_matches('/'))))
    }

    fn monitor_lost(&self, action: &str, monitor: &str, error: DriverError) -> DriverError {
        DriverError::maybe_applied(
            &self.target,
            action,
            format!(
                "the BMC's task {monitor} disappeared before it said how it ended ({}); it may have finished",
                error.message
            ),
        )
    }

    fn task_outcome(&self, action: &str, body: &Value) -> Result<(), DriverError> {
        match task_state(body) {
            Some(JobState::Failed) => Err(DriverError::permanent(
                &self.target,
                action,
                format!(
                    "the BMC's task ended {}: {}",
                    body["TaskState"]
                        .as_str()
                        .or(body["JobState"].as_str())
                        .unwrap_or("badly"),
                    self.scrub(&task_messages(body))
                ),
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn task_states_read_as_job_states() {
        let task = |state: &str, status: &str| json!({"TaskState": state, "TaskStatus": status});
        assert_eq!(task_state(&task("Running", "OK")), Some(JobState::Running));
        assert_eq!(task_state(&task("New", "OK")), Some(JobState::Scheduled));
        assert_eq!(
            task_state(&task("Completed", "OK")),
            Some(JobState::Completed)
        );
        assert_eq!(
            task_state(&task("Completed", "Critical")),
            Some(JobState::Failed)
        );
        assert_eq!(
            task_state(&task("Exception", "Critical")),
            Some(JobState::Failed)
        );
        assert_eq!(task_state(&json!({})), None);
        // Dell's job resource, where a task monitor leads to one.
        let job = json!({"JobState": "Completed", "Message": "Job completed successfully.", "MessageId": "SYS018"});
        assert_eq!(task_state(&job), Some(JobState::Completed));
        assert_eq!(
            task_state(&json!({"JobState": "Failed"})),
            Some(JobState::Failed)
        );
        assert_eq!(task_messages(&job), "Job completed successfully.");
    }
}
