//! Lifecycle Controller jobs (configuration export and import, System
//! Erase): they run for a while and `racadm jobqueue view` shows them progressing to completion.

use crate::site::Firmware;
use std::time::{Duration, Instant};

use rand::Rng;
use time::OffsetDateTime;

/// How long an export or import runs unless the faults say otherwise.
pub const DEFAULT_JOB_DURATION: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobKind {
    Export,
    Import,
    SystemErase,
}

impl JobKind {
    fn name(self) -> &'static str {
        match self {
            JobKind::Export => "Export: Server Configuration Profile",
            JobKind::Import => "Configure: Import Server Configuration Profile",
            JobKind::SystemErase => "System_Erase",
        }
    }
    fn running_message(self) -> &'static str {
        match self {
            JobKind::Export => "SYS057: Exporting Server Configuration Profile.",
            JobKind::Import => "SYS058: Applying configuration changes.",
            JobKind::SystemErase => "Turning on the server to perform System Erase tasks.",
        }
    }
    fn done_message(self) -> &'static str {
        match self {
            JobKind::Export => "SYS043: Successfully exported Server Configuration Profile",
            JobKind::Import => {
                "SYS053: Successfully imported and applied Server Configuration Profile."
            }
            JobKind::SystemErase => "SYS018: Job completed successfully.",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Job {
    pub id: String,
    pub kind: JobKind,
    /// The file name given with `-f`, and the share given with `-l`, if any.
    pub file: String,
    pub share: Option<String>,
    pub created: Instant,
    pub created_wall: OffsetDateTime,
    pub duration: Duration,
}

impl Job {
    pub fn new(
        kind: JobKind,
        file: String,
        share: Option<String>,
        duration: Duration,
        now: Instant,
    ) -> Self {
        // Real job ids are JID_ and twelve digits.
        let id = format!(
            "JID_{:012}",
            rand::thread_rng().gen_range(100_000_000_000u64..1_000_000_000_000)
        );
        Self {
            id,
            kind,
            file,
            share,
            created: now,
            created_wall: OffsetDateTime::now_utc(),
            duration,
        }
    }

    fn done(&self, now: Instant) -> bool {
        now.duration_since(self.created) >= self.duration
    }

    fn percent(&self, now: Instant) -> u32 {
        if self.done(now) {
            return 100;
        }
        let part =
            now.duration_since(self.created).as_secs_f64() / self.duration.as_secs_f64().max(1e-9);
        ((part * 100.0) as u32).clamp(1, 99)
    }

    /// The block `racadm jobqueue view -i` prints: iDRAC8 names an export
    /// a "system configuration XML file" and shows no actual times.
    pub fn render(&self, now: Instant, firmware: Firmware) -> String {
        let done = self.done(now);
        let (status, message) = if done {
            ("Completed", self.kind.done_message())
        } else {
            ("Running", self.kind.running_message())
        };
        if firmware == Firmware::Idrac8 && self.kind == JobKind::Export {
            let message = if done {
                "SYS043: Successfully exported system configuration XML file."
            } else {
                "SYS057: Exporting system configuration XML file."
            };
            return format!(
                "---------------------------- JOB -------------------------\n\
                 [Job ID={id}]\n\
                 Job Name=Export: System configuration XML file\n\
                 Status={status}\n\
                 Start Time=[Not Applicable]\n\
                 Expiration Time=[Not Applicable]\n\
                 Message=[{message}]\n\
                 Percent Complete=[{percent}]\n\
                 ----------------------------------------------------------\n",
                id = self.id,
                percent = self.percent(now),
            );
        }
        let completion = if done {
            stamp(self.created_wall + self.duration)
        } else {
            "Not Applicable".to_string()
        };
        format!(
            "---------------------------- JOB -------------------------\n\
             [Job ID={id}]\n\
             Job Name={name}\n\
             Status={status}\n\
             Scheduled Start Time=[Not Applicable]\n\
             Expiration Time=[Not Applicable]\n\
             Actual Start Time=[{start}]\n\
             Actual Completion Time=[{completion}]\n\
             Message=[{message}]\n\
             Percent Complete=[{percent}]\n\
             ----------------------------------------------------------\n",
            id = self.id,
            name = self.kind.name(),
            start = stamp(self.created_wall),
            percent = self.percent(now),
        )
    }

    pub fn to_json(&self, now: Instant) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "kind": match self.kind {
                JobKind::Export => "export",
                JobKind::Import => "import",
                JobKind::SystemErase => "system_erase",
            },
            "file": self.file,
            "share": self.share,
            "status": if self.done(now) { "Completed" } else { "Running" },
            "percent": self.percent(now),
        })
    }
}

/// `Thu, 27 Mar 2025 16:44:19`, as the job queue prints times.
fn stamp(at: OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second]"
    );
    at.format(&format).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_runs_then_completes() {
        let start = Instant::now();
        let job = Job::new(
            JobKind::Export,
            "a.xml".into(),
            None,
            Duration::from_secs(10),
            start,
        );
        assert!(
            job.id.starts_with("JID_") && job.id.len() == 16,
            "{}",
            job.id
        );
        let running = job.render(start + Duration::from_secs(5), Firmware::Idrac9);
        assert!(running.contains("Status=Running"), "{running}");
        assert!(running.contains("Percent Complete=[50]"), "{running}");
        let done = job.render(start + Duration::from_secs(10), Firmware::Idrac9);
        assert!(done.contains("Status=Completed"), "{done}");
        assert!(done.contains("Message=[SYS043: "), "{done}");
        assert!(done.contains("Percent Complete=[100]"), "{done}");
    }
}
