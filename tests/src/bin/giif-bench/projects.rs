//! N `giif_project`s against N of Terraform's built-in `terraform_data`:
//! the same `count`, the same terraform, the same CLI configuration, default
//! parallelism. `terraform_data` needs no provider process and no network,
//! so it is the floor Terraform itself sets; the ratio is what the giif
//! provider and agent add on top.

use std::path::Path;

use anyhow::Result;
use giif_tests::agent::TestAgent;
use giif_tests::terraform::Workspace;

use crate::memory::{peak_resident_kib, ProviderWrapper};
use crate::samples::{keep_log, timed, LifeCycle, APPLY, DESTROY, PLAN};

/// The project VLAN pool of the bench's agents: room for the largest N.
const FIRST_VLAN: u32 = 100;

#[derive(Debug, Default)]
pub struct Comparison {
    pub count: usize,
    pub giif: LifeCycle,
    pub terraform_data: LifeCycle,
    /// The agent's peak resident set size (KiB), the largest over the runs.
    pub agent_peak_kib: u64,
}

fn giif_config(count: usize) -> String {
    format!(
        r#"
resource "giif_project" "p" {{
  count = {count}
  name  = "bench-${{count.index}}"
}}
"#
    )
}

fn terraform_data_config(count: usize) -> String {
    format!(
        r#"
resource "terraform_data" "p" {{
  count = {count}
  input = "bench-${{count.index}}"
}}
"#
    )
}

fn agent_for(count: usize) -> TestAgent {
    TestAgent::start(FIRST_VLAN, FIRST_VLAN + count as u32 + 99, None)
}

/// Plans per repetition and side. A plan changes nothing, so it can be
/// repeated: more samples of the figure that is shortest and so the most
/// sensitive to other work on the machine.
pub const PLANS_PER_REPETITION: usize = 3;

/// One repetition of both sides, interleaved command by command so that
/// both see the same load: apply giif, apply terraform_data, then the plans
/// alternating, then destroy giif, destroy terraform_data.
pub fn run_once(comparison: &mut Comparison, logs: Option<&Path>, repetition: usize) -> Result<()> {
    let count = comparison.count;
    let agent = agent_for(count);
    let giif = Workspace::new(&agent, &giif_config(count));
    let data = Workspace::with_env(Vec::new(), "");
    data.write_exact(&terraform_data_config(count));
    let outcome = (|| {
        comparison.giif.apply.push(timed(&giif, APPLY, &[0])?);
        comparison
            .terraform_data
            .apply
            .push(timed(&data, APPLY, &[0])?);
        for _ in 0..PLANS_PER_REPETITION {
            comparison.giif.plan.push(timed(&giif, PLAN, &[0])?);
            comparison
                .terraform_data
                .plan
                .push(timed(&data, PLAN, &[0])?);
        }
        comparison.giif.destroy.push(timed(&giif, DESTROY, &[0])?);
        comparison
            .terraform_data
            .destroy
            .push(timed(&data, DESTROY, &[0])?);
        anyhow::Ok(())
    })();
    keep_log(
        logs,
        &format!("projects-{count}-run{repetition}-agent.log"),
        &agent.log(),
    )?;
    outcome?;
    comparison.agent_peak_kib = comparison
        .agent_peak_kib
        .max(peak_resident_kib(agent.pid())?);
    Ok(())
}

/// One untimed apply of `count` projects with every provider process run
/// through the memory-measuring wrapper; the peak of each process (KiB).
pub fn provider_peaks(count: usize, real_provider: &Path) -> Result<Vec<u64>> {
    let agent = agent_for(count);
    let wrapper = ProviderWrapper::new()?;
    let mut env = agent.env();
    env.extend(wrapper.env(real_provider));
    let ws = Workspace::with_provider_dir(env, &giif_config(count), wrapper.dir.path());
    timed(&ws, APPLY, &[0])?;
    wrapper.peaks_kib()
}
