//! Peak memory: the agent's high-water mark from /proc, and the provider
//! processes' through a wrapper that Terraform starts instead of the
//! provider during one extra, untimed apply.
//!
//! The wrapper is this very binary: `dev_overrides` points Terraform at a
//! directory whose `terraform-provider-giif` links to `giif-bench`, which,
//! seeing [`WRAPPED_PROVIDER`] in its environment, runs the real provider as
//! its child (stdin, stdout and stderr inherited, so the go-plugin handshake
//! passes through untouched), waits for it, and appends the child's peak
//! resident set size (`getrusage(RUSAGE_CHILDREN).ru_maxrss`) to the file
//! named by [`MEMORY_LOG`].

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, Context, Result};

/// The real provider binary the wrapper runs.
pub const WRAPPED_PROVIDER: &str = "GIIF_BENCH_WRAPPED_PROVIDER";
/// Where the wrapper appends `<pid> <peak KiB>` lines.
pub const MEMORY_LOG: &str = "GIIF_BENCH_PROVIDER_MEMORY_LOG";

/// The wrapper's whole life: run the provider, record its peak, exit as it did.
pub fn run_as_provider_wrapper(real_provider: &str) -> Result<i32> {
    let log = std::env::var_os(MEMORY_LOG).context("GIIF_BENCH_PROVIDER_MEMORY_LOG is not set")?;
    let mut child = Command::new(real_provider)
        .args(std::env::args_os().skip(1))
        .spawn()
        .with_context(|| format!("cannot start {real_provider}"))?;
    let pid = child.id();
    let status = child.wait()?;
    // The only child this process ever had, and it has been waited for.
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)?;
    // ru_maxrss is in KiB on Linux.
    writeln!(file, "{pid} {}", usage.max_rss())?;
    Ok(status.code().unwrap_or(1))
}

/// A directory for `dev_overrides` whose provider is the wrapper, and the
/// environment that tells the wrapper what to run and where to report.
pub struct ProviderWrapper {
    pub dir: tempfile::TempDir,
    pub log: PathBuf,
}

impl ProviderWrapper {
    pub fn new() -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let me = std::env::current_exe()?;
        std::os::unix::fs::symlink(&me, dir.path().join("terraform-provider-giif"))?;
        let log = dir.path().join("provider-memory.log");
        Ok(Self { dir, log })
    }

    /// Environment for the terraform runs that should go through the wrapper.
    pub fn env(&self, real_provider: &Path) -> Vec<(String, String)> {
        vec![
            (
                WRAPPED_PROVIDER.to_string(),
                real_provider.display().to_string(),
            ),
            (MEMORY_LOG.to_string(), self.log.display().to_string()),
        ]
    }

    /// The peak resident set size (KiB) of every provider process so far.
    pub fn peaks_kib(&self) -> Result<Vec<u64>> {
        let text = std::fs::read_to_string(&self.log).with_context(|| {
            format!(
                "no provider process reported its memory in {}",
                self.log.display()
            )
        })?;
        text.lines()
            .map(|line| {
                line.split_whitespace()
                    .nth(1)
                    .and_then(|kib| kib.parse().ok())
                    .ok_or_else(|| anyhow!("unreadable memory report line {line:?}"))
            })
            .collect()
    }
}

/// A live process's peak resident set size (`VmHWM`, KiB).
pub fn peak_resident_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("process {pid} is gone"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow!("no VmHWM in /proc/{pid}/status"))
}

/// KiB as MiB with one decimal.
pub fn mebibytes(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}
