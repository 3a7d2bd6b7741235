//! A mixed environment on the simulated site: three class projects, each
//! with its gateway, a web server VM and a desktop VM, a floating IP NATed
//! to the web server, and for two of them a bare-metal server booted from
//! an ISO. Measured with every device answering at once and with realistic
//! latency (iDRAC commands about 1 s, Proxmox tasks about 2 s), set through
//! the simulator's fault knobs.

use std::path::Path;
use std::sync::LazyLock;
use std::time::Duration;

use anyhow::Result;
use giif_tests::site::{pagw_slots, TestSite};
use giif_tests::terraform::Workspace;

use crate::critical_path::{self, longest_chain, steps, Chain, Resource, Step};
pub use crate::latency::{Profile, REALISTIC_LATENCY, ZERO_LATENCY};
use crate::memory::ProviderWrapper;
use crate::samples::{apply_plan_destroy, keep_agent, timed, LifeCycle, APPLY};

const PROJECTS: usize = 3;
/// Projects 0..SERVERS get a bare-metal server each.
const SERVERS: usize = 2;
const SLOTS: [&str; PROJECTS] = ["203.0.113.10", "203.0.113.11", "203.0.113.12"];

static SITE: LazyLock<String> = LazyLock::new(|| {
    r#"
[project_vlans]
first = 100
last = 399

[servers]
count = 2

[proxmox]
nodes = [{ name = "pve1" }, { name = "pve2" }]
templates = [
  { vmid = 9000, name = "pagw-template", node = "pve1", pagw = true },
  { vmid = 9001, name = "debian-12", node = "pve1", disk_gb = 10 },
]

[floating_ips]
addresses = ["203.0.113.100-203.0.113.149"]
"#
    .to_string()
        + &pagw_slots(3)
});

/// One resource of the environment: its HCL and what the agent does for it.
struct Planned {
    kind: &'static str,
    name: String,
    body: String,
    steps: &'static [Step],
    after: Vec<String>,
}

impl Planned {
    fn address(&self) -> String {
        format!("{}.{}", self.kind, self.name)
    }
}

fn environment() -> Vec<Planned> {
    let mut all = Vec::new();
    for p in 0..PROJECTS {
        let lab = format!("lab{p}");
        let project = format!("giif_project.{lab}");
        let gateway = format!("giif_pagw.{lab}");
        let web = format!("giif_vm.{lab}_web");
        all.push(Planned {
            kind: "giif_project",
            name: lab.clone(),
            body: format!("  name = \"{lab}\"\n"),
            steps: steps::PROJECT,
            after: vec![],
        });
        all.push(Planned {
            kind: "giif_pagw",
            name: lab.clone(),
            body: format!("  project_id = {project}.id\n"),
            steps: steps::GATEWAY,
            after: vec![project.clone()],
        });
        for (vm, ip) in [("web", "192.168.212.140/24"), ("desktop", "dhcp")] {
            all.push(Planned {
                kind: "giif_vm",
                name: format!("{lab}_{vm}"),
                // disk_gb keeps its default (20), larger than the template's 10.
                body: format!(
                    "  project_id = {project}.id\n  name       = \"{vm}\"\n  template   = \"debian-12\"\n  \
                     cores      = 1\n  memory_mb  = 1024\n  cloud_init = {{\n    user = \"ops\"\n    ip   = \"{ip}\"\n  }}\n"
                ),
                steps: steps::VM_GROWN_FROM_TEMPLATE,
                after: vec![project.clone()],
            });
        }
        all.push(Planned {
            kind: "giif_floating_ip",
            name: format!("{lab}_web"),
            body: format!(
                "  project_id = {project}.id\n  target_ip  = \"192.168.212.140\"\n  depends_on = [{gateway}, {web}]\n"
            ),
            steps: steps::FLOATING_IP,
            after: vec![project.clone(), gateway.clone(), web.clone()],
        });
        if p < SERVERS {
            all.push(Planned {
                kind: "giif_bms_assignment",
                name: lab.clone(),
                body: format!(
                    "  project_id  = {project}.id\n  bms         = \"bms{:02}\"\n  power_state = \"on\"\n  \
                     boot_iso    = \"http://isos.lab.example/debian-12.iso\"\n  depends_on  = [{gateway}]\n",
                    p + 1
                ),
                steps: steps::SERVER_WITH_IMAGE_POWERED_ON,
                after: vec![project.clone(), gateway.clone()],
            });
        }
    }
    all
}

pub fn config() -> String {
    environment()
        .iter()
        .map(|r| format!("resource \"{}\" \"{}\" {{\n{}}}\n", r.kind, r.name, r.body))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What the environment holds, for the report: resource kind and count.
pub fn inventory() -> Vec<(&'static str, usize)> {
    let mut counts: Vec<(&'static str, usize)> = Vec::new();
    for resource in environment() {
        match counts.iter_mut().find(|(kind, _)| *kind == resource.kind) {
            Some((_, n)) => *n += 1,
            None => counts.push((resource.kind, 1)),
        }
    }
    counts
}

fn resources() -> Vec<Resource> {
    environment()
        .iter()
        .map(|r| Resource {
            address: r.address(),
            steps: r.steps,
            after: r.after.clone(),
        })
        .collect()
}

/// The critical path of an apply under `profile`.
pub fn critical_path(profile: &Profile) -> Chain {
    longest_chain(&resources(), &profile.latency())
}

/// Every step of every resource, one after another: what an agent that ran
/// nothing in parallel would need at least.
pub fn serial_time(profile: &Profile) -> Duration {
    let latency = profile.latency();
    resources().iter().map(|r| latency.total(r.steps)).sum()
}

/// The steps of the critical path's resources, for the report.
pub fn steps_of(address: &str) -> &'static [Step] {
    resources()
        .iter()
        .find(|r| r.address == address)
        .map(|r| r.steps)
        .unwrap_or(critical_path::steps::PROJECT)
}

#[derive(Debug)]
pub struct Measured {
    pub profile: Profile,
    pub life_cycle: LifeCycle,
    pub agent_peak_kib: u64,
}

fn site(profile: &Profile) -> Result<TestSite> {
    let site = TestSite::start(&SITE);
    let slots: Vec<String> = SLOTS.iter().map(|s| s.to_string()).collect();
    profile.apply_to(&site, SERVERS, &slots)?;
    Ok(site)
}

pub fn run_once(measured: &mut Measured, logs: Option<&Path>, repetition: usize) -> Result<()> {
    let site = site(&measured.profile)?;
    let ws = Workspace::new(&site.agent, &config());
    let outcome = apply_plan_destroy(&ws, &mut measured.life_cycle);
    let name = format!(
        "mixed-{}-run{repetition}-agent.log",
        measured.profile.name.replace(' ', "-")
    );
    keep_agent(logs, &name, &site.agent, &mut measured.agent_peak_kib)?;
    outcome
}

/// One untimed apply with every provider process run through the
/// memory-measuring wrapper; the peak of each process (KiB).
pub fn provider_peaks(real_provider: &Path) -> Result<Vec<u64>> {
    let site = site(&ZERO_LATENCY)?;
    let wrapper = ProviderWrapper::new()?;
    let mut env = site.agent.env();
    env.extend(wrapper.env(real_provider));
    let ws = Workspace::with_provider_dir(env, &config(), wrapper.dir.path());
    timed(&ws, APPLY, &[0])?;
    wrapper.peaks_kib()
}
