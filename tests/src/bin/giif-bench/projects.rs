//! N `giif_project`s as sites run them, with their Guacamole console tree
//! (on PostgreSQL and on MariaDB), and without it, side by side with N of
//! the protocol floor's `floor_thing` (a provider that hands Terraform's
//! values back: see `floor.rs`) and N of Terraform's built-in
//! `terraform_data`: the same `count`, the same terraform, default
//! parallelism. `terraform_data` needs no provider process at all; the
//! floor needs one and nothing else; the ratios say what the giif provider,
//! the agent and its console writes add on top.

use std::path::Path;

use anyhow::{Context, Result};
use giif_tests::agent::TestAgent;
use giif_tests::guacamole_db::{GuacFlavor, GuacamoleDb};
use giif_tests::site::TestSite;
use giif_tests::terraform::Workspace;

use crate::floor::FloorInstall;
use crate::memory::{peak_resident_kib, ProviderWrapper};
use crate::samples::{keep_log, timed, LifeCycle, APPLY, DESTROY, PLAN};

/// The project VLAN pool of the bench's agents: room for the largest N.
const FIRST_VLAN: u32 = 100;

/// What one column of the comparison runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// `giif_project` with consoles, Guacamole on PostgreSQL: what sites run.
    ConsolesPostgres,
    /// The same with the baseline agent (`--baseline-agent`): the figure
    /// before a change, in the same run.
    BaselineConsolesPostgres,
    ConsolesMariaDb,
    /// `giif_project` on an agent without Guacamole.
    NoConsoles,
    Floor,
    TerraformData,
}

impl Side {
    pub const ALL: [Side; 5] = [
        Side::ConsolesPostgres,
        Side::ConsolesMariaDb,
        Side::NoConsoles,
        Side::Floor,
        Side::TerraformData,
    ];

    /// The columns of a run, with the baseline's when there is one.
    pub fn all(baseline: bool) -> Vec<Side> {
        let mut sides = Side::ALL.to_vec();
        if baseline {
            sides.insert(1, Side::BaselineConsolesPostgres);
        }
        sides
    }

    pub fn title(self) -> &'static str {
        match self {
            Side::ConsolesPostgres => "giif, consoles on PostgreSQL",
            Side::BaselineConsolesPostgres => "baseline agent, consoles on PostgreSQL",
            Side::ConsolesMariaDb => "giif, consoles on MariaDB",
            Side::NoConsoles => "giif, no consoles",
            Side::Floor => "protocol floor",
            Side::TerraformData => "`terraform_data`",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Side::ConsolesPostgres => "consoles-postgres",
            Side::BaselineConsolesPostgres => "baseline-consoles-postgres",
            Side::ConsolesMariaDb => "consoles-mariadb",
            Side::NoConsoles => "no-consoles",
            Side::Floor => "floor",
            Side::TerraformData => "terraform-data",
        }
    }
}

#[derive(Debug)]
pub struct Comparison {
    pub count: usize,
    /// One life cycle per column, in the report's order.
    pub sides: Vec<(Side, LifeCycle)>,
    /// The agent's peak resident set size (KiB), the largest over the runs.
    pub agent_peak_kib: u64,
}

impl Comparison {
    pub fn new(count: usize, sides: &[Side]) -> Self {
        Self {
            count,
            sides: sides.iter().map(|s| (*s, LifeCycle::default())).collect(),
            agent_peak_kib: 0,
        }
    }

    pub fn side(&self, side: Side) -> Option<&LifeCycle> {
        self.sides
            .iter()
            .find(|(s, _)| *s == side)
            .map(|(_, cycle)| cycle)
    }
}

/// An earlier build of the agent, run beside the current one.
pub struct Baseline {
    pub agent: std::path::PathBuf,
    /// What to call it in the report, such as its commit.
    pub name: String,
}

/// Starts an agent or site with the baseline agent binary instead of the
/// workspace's (see `giif_tests::agent`).
pub fn with_agent<T>(agent: Option<&Path>, start: impl FnOnce() -> T) -> T {
    const VARIABLE: &str = "GIIF_AGENT_BINARY";
    let Some(agent) = agent else {
        return start();
    };
    // The bench starts its agents from this one thread.
    std::env::set_var(VARIABLE, agent);
    let started = start();
    std::env::remove_var(VARIABLE);
    started
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

/// An agent whose site has Guacamole on `db`, as the demo's has (the
/// simulated site needs a Proxmox node; projects use none).
fn site_with_consoles(count: usize, db: &GuacamoleDb) -> TestSite {
    let site = format!(
        "[project_vlans]\nfirst = {FIRST_VLAN}\nlast = {}\n\n[proxmox]\nnodes = [{{ name = \"pve1\" }}]\n",
        FIRST_VLAN + count as u32 + 99
    );
    TestSite::start_with_guacamole(&site, &db.url())
}

/// What one side runs on: its workspace, and the agent and database it
/// needs (dropped, so stopped, after the side's commands).
struct Running {
    workspace: Workspace,
    agent: Option<AgentOf>,
    _db: Option<GuacamoleDb>,
}

enum AgentOf {
    Plain(TestAgent),
    Site(TestSite),
}

impl AgentOf {
    fn agent(&self) -> &TestAgent {
        match self {
            AgentOf::Plain(agent) => agent,
            AgentOf::Site(site) => &site.agent,
        }
    }
}

fn start(
    side: Side,
    count: usize,
    floor: &FloorInstall,
    baseline: Option<&Baseline>,
) -> Result<Running> {
    let consoles = |flavor, agent: Option<&Path>| {
        let db = GuacamoleDb::start(flavor);
        let site = with_agent(agent, || site_with_consoles(count, &db));
        let workspace = Workspace::new(&site.agent, &giif_config(count));
        Running {
            workspace,
            agent: Some(AgentOf::Site(site)),
            _db: Some(db),
        }
    };
    Ok(match side {
        Side::ConsolesPostgres => consoles(GuacFlavor::Postgres, None),
        Side::BaselineConsolesPostgres => {
            let baseline = baseline.context("the baseline column needs --baseline-agent")?;
            consoles(GuacFlavor::Postgres, Some(&baseline.agent))
        }
        Side::ConsolesMariaDb => consoles(GuacFlavor::MariaDb, None),
        Side::NoConsoles => {
            let agent = agent_for(count);
            Running {
                workspace: Workspace::new(&agent, &giif_config(count)),
                agent: Some(AgentOf::Plain(agent)),
                _db: None,
            }
        }
        Side::Floor => {
            let workspace = Workspace::with_env(Vec::new(), "");
            floor.configure(&workspace, count)?;
            Running {
                workspace,
                agent: None,
                _db: None,
            }
        }
        Side::TerraformData => {
            let workspace = Workspace::with_env(Vec::new(), "");
            workspace.write_exact(&terraform_data_config(count));
            Running {
                workspace,
                agent: None,
                _db: None,
            }
        }
    })
}

/// Plans per repetition and side. A plan changes nothing, so it can be
/// repeated: more samples of the figure that is shortest and so the most
/// sensitive to other work on the machine.
pub const PLANS_PER_REPETITION: usize = 3;

/// One repetition of every side, interleaved command by command so that
/// all see the same load: every side's apply, then the plans in turns,
/// then every side's destroy.
pub fn run_once(
    comparison: &mut Comparison,
    logs: Option<&Path>,
    repetition: usize,
    baseline: Option<&Baseline>,
) -> Result<()> {
    let count = comparison.count;
    let floor = FloorInstall::new()?;
    let sides: Vec<Side> = comparison.sides.iter().map(|(side, _)| *side).collect();
    let running = sides
        .iter()
        .map(|side| start(*side, count, &floor, baseline))
        .collect::<Result<Vec<_>>>()?;
    let outcome = (|| {
        for (i, side) in running.iter().enumerate() {
            comparison.sides[i]
                .1
                .apply
                .push(timed(&side.workspace, APPLY, &[0])?);
        }
        for _ in 0..PLANS_PER_REPETITION {
            for (i, side) in running.iter().enumerate() {
                comparison.sides[i]
                    .1
                    .plan
                    .push(timed(&side.workspace, PLAN, &[0])?);
            }
        }
        for (i, side) in running.iter().enumerate() {
            comparison.sides[i]
                .1
                .destroy
                .push(timed(&side.workspace, DESTROY, &[0])?);
        }
        anyhow::Ok(())
    })();
    for (side, running) in sides.iter().zip(&running) {
        if let Some(agent) = &running.agent {
            let agent = agent.agent();
            keep_log(
                logs,
                &format!("projects-{count}-{}-run{repetition}-agent.log", side.name()),
                &agent.log(),
            )?;
            comparison.agent_peak_kib = comparison
                .agent_peak_kib
                .max(peak_resident_kib(agent.pid())?);
        }
    }
    outcome
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
