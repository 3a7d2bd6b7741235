//! Repeated measurements of one figure, and running a timed terraform
//! command that must succeed.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use giif_tests::terraform::{Run, Workspace};

/// The measurements of one figure, in the order they were taken.
#[derive(Clone, Debug, Default)]
pub struct Samples(Vec<Duration>);

impl Samples {
    pub fn push(&mut self, sample: Duration) {
        self.0.push(sample);
    }

    /// The median (the mean of the two middle values for an even count).
    pub fn median(&self) -> Duration {
        let mut sorted = self.0.clone();
        sorted.sort();
        match sorted.len() {
            0 => Duration::ZERO,
            n if n % 2 == 1 => sorted[n / 2],
            n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
        }
    }

    pub fn min(&self) -> Duration {
        self.0.iter().copied().min().unwrap_or_default()
    }

    pub fn max(&self) -> Duration {
        self.0.iter().copied().max().unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// The three figures of one environment's life cycle.
#[derive(Clone, Debug, Default)]
pub struct LifeCycle {
    pub apply: Samples,
    pub plan: Samples,
    pub destroy: Samples,
}

impl LifeCycle {
    pub fn steps(&self) -> [(&'static str, &Samples); 3] {
        [
            ("apply", &self.apply),
            ("plan", &self.plan),
            ("destroy", &self.destroy),
        ]
    }
}

pub const APPLY: &[&str] = &["apply", "-auto-approve", "-input=false"];
/// A plan after apply must find nothing to change: exit code 0.
pub const PLAN: &[&str] = &["plan", "-input=false", "-detailed-exitcode"];
pub const DESTROY: &[&str] = &["destroy", "-auto-approve", "-input=false"];

/// `terraform apply`, then a `plan` that must find nothing to change, then
/// `destroy`, each timed from spawning terraform until it exits.
pub fn apply_plan_destroy(ws: &Workspace, into: &mut LifeCycle) -> Result<()> {
    into.apply.push(timed(ws, APPLY, &[0])?);
    into.plan.push(timed(ws, PLAN, &[0])?);
    into.destroy.push(timed(ws, DESTROY, &[0])?);
    Ok(())
}

/// Runs terraform and insists on one of the `expected` exit codes (a plan
/// after apply must exit 0: no changes).
pub fn timed(ws: &Workspace, args: &[&str], expected: &[i32]) -> Result<Duration> {
    let started = Instant::now();
    let run = ws.run(args);
    let elapsed = started.elapsed();
    check(&run, args, expected)?;
    Ok(elapsed)
}

fn check(run: &Run, args: &[&str], expected: &[i32]) -> Result<()> {
    if run.code.is_some_and(|code| expected.contains(&code)) {
        return Ok(());
    }
    let output = run.all();
    let tail: Vec<&str> = output.lines().rev().take(60).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    bail!(
        "terraform {} exited with {:?} (expected {expected:?}); the end of its output:\n{}",
        args.join(" "),
        run.code,
        tail.join("\n")
    )
}

/// Copies an agent's log into `dir` (when the run was asked to keep logs).
pub fn keep_log(dir: Option<&std::path::Path>, name: &str, log: &str) -> Result<()> {
    if let Some(dir) = dir {
        std::fs::write(dir.join(name), log)?;
    }
    Ok(())
}

/// After a run: keeps its agent's log as `name` (see [`keep_log`]) and
/// raises `peak_kib` to the agent's peak resident set size.
pub fn keep_agent(
    logs: Option<&std::path::Path>,
    name: &str,
    agent: &giif_tests::agent::TestAgent,
    peak_kib: &mut u64,
) -> Result<()> {
    keep_log(logs, name, &agent.log())?;
    *peak_kib = (*peak_kib).max(crate::memory::peak_resident_kib(agent.pid())?);
    Ok(())
}

/// Seconds with two decimals, as the tables show them.
pub fn seconds(duration: Duration) -> String {
    format!("{:.2}", duration.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        let mut samples = Samples::default();
        for ms in [30, 10, 20] {
            samples.push(Duration::from_millis(ms));
        }
        assert_eq!(samples.median(), Duration::from_millis(20));
        samples.push(Duration::from_millis(40));
        assert_eq!(samples.median(), Duration::from_millis(25));
        assert_eq!(samples.min(), Duration::from_millis(10));
        assert_eq!(samples.max(), Duration::from_millis(40));
    }
}
