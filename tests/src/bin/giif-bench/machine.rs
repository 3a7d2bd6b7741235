//! What the numbers were measured on.

use std::process::Command;

pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub terraform: String,
    pub commit: String,
    pub date: String,
    pub load_before: String,
}

impl Machine {
    pub fn describe() -> Self {
        Self {
            cpus: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            cpu_model: cpu_model(),
            terraform: first_line_of("terraform", &["version"]),
            commit: first_line_of("git", &["rev-parse", "--short", "HEAD"]),
            date: time::OffsetDateTime::now_utc().date().to_string(),
            load_before: load_average(),
        }
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// The 1, 5 and 15 minute load averages, as /proc/loadavg gives them.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".to_string())
}

fn first_line_of(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| {
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .next()
                .map(str::to_string)
        })
        .unwrap_or_else(|| "unknown".to_string())
}
