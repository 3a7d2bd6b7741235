//! A class lab as sites run them: one project with 30 members, its
//! gateway, 30 VMs (each with its Guacamole console, which every member
//! may open) and a floating IP, on a simulated site whose Guacamole
//! database is a real PostgreSQL. Measured with every device answering at
//! once, and with a realistic site: Proxmox tasks about 2 s, every
//! Proxmox API call about 30 ms, every Guacamole query about 2 ms.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use giif_tests::guacamole_db::{GuacFlavor, GuacamoleDb};
use giif_tests::site::{pagw_slots, TestSite};
use giif_tests::terraform::Workspace;

use crate::critical_path::{longest_chain, schedule, steps, Resource};
use crate::latency::{DelayProxy, Profile, REALISTIC_CALLS, ZERO_LATENCY};
use crate::projects::{with_agent, Baseline};
use crate::samples::{keep_agent, timed, LifeCycle, APPLY, DESTROY, PLAN};

pub const SEATS: usize = 30;
pub const MEMBERS: usize = 30;
/// Terraform's default `-parallelism`.
pub const PARALLELISM: usize = 10;
pub const PROFILES: [Profile; 2] = [ZERO_LATENCY, REALISTIC_CALLS];
const SLOT: &str = "203.0.113.10";

fn site_file() -> String {
    format!(
        r#"
[project_vlans]
first = 100
last = 199

[proxmox]
nodes = [{{ name = "pve1" }}, {{ name = "pve2" }}]
templates = [
  {{ vmid = 9000, name = "pagw-template", node = "pve1", pagw = true }},
  {{ vmid = 9001, name = "debian-12", node = "pve1", disk_gb = 10 }},
]

[floating_ips]
addresses = ["203.0.113.100-203.0.113.149"]
{}"#,
        pagw_slots(1)
    )
}

fn student(n: usize) -> String {
    format!("student{n:02}")
}

pub fn config() -> String {
    let members: Vec<String> = (1..=MEMBERS)
        .map(|n| format!("    {{ user = \"{}\", role = \"member\" }},\n", student(n)))
        .collect();
    format!(
        r#"
resource "giif_project" "lab" {{
  name    = "class-lab"
  members = [
{}  ]
}}

resource "giif_pagw" "lab" {{
  project_id = giif_project.lab.id
}}

# disk_gb keeps its default (20), larger than the template's 10: a resize.
resource "giif_vm" "seat" {{
  count      = {SEATS}
  project_id = giif_project.lab.id
  name       = "seat-${{count.index}}"
  template   = "debian-12"
  cores      = 1
  memory_mb  = 1024
  cloud_init = {{
    user = "student"
    ip   = "192.168.212.${{150 + count.index}}/24"
  }}
}}

resource "giif_floating_ip" "lab" {{
  project_id = giif_project.lab.id
  target_ip  = "192.168.212.150"
  depends_on = [giif_pagw.lab, giif_vm.seat]
}}
"#,
        members.concat()
    )
}

/// The resources as Terraform's graph has them, with the agent's steps.
fn resources() -> Vec<Resource> {
    let project = "giif_project.lab".to_string();
    let mut all = vec![
        Resource {
            address: project.clone(),
            steps: steps::PROJECT,
            after: vec![],
        },
        Resource {
            address: "giif_pagw.lab".into(),
            steps: steps::GATEWAY,
            after: vec![project.clone()],
        },
    ];
    let seats: Vec<String> = (0..SEATS).map(|n| format!("giif_vm.seat[{n}]")).collect();
    for seat in &seats {
        all.push(Resource {
            address: seat.clone(),
            steps: steps::VM_GROWN_FROM_TEMPLATE,
            after: vec![project.clone()],
        });
    }
    let mut fip_after = vec![project, "giif_pagw.lab".into()];
    fip_after.extend(seats);
    all.push(Resource {
        address: "giif_floating_ip.lab".into(),
        steps: steps::FLOATING_IP,
        after: fip_after,
    });
    all
}

/// What the lab's apply cannot beat: its longest dependency chain, and the
/// shortest schedule of its steps at Terraform's default parallelism.
pub struct Bounds {
    pub chain: Duration,
    pub at_parallelism: Duration,
}

pub fn bounds(profile: &Profile) -> Bounds {
    let latency = profile.latency();
    Bounds {
        chain: longest_chain(&resources(), &latency).total,
        at_parallelism: schedule(&resources(), &latency, PARALLELISM),
    }
}

#[derive(Debug)]
pub struct Measured {
    pub profile: Profile,
    /// Run with the baseline agent (`--baseline-agent`).
    pub baseline: bool,
    pub life_cycle: LifeCycle,
    pub agent_peak_kib: u64,
}

/// Plans per repetition: see `projects::PLANS_PER_REPETITION`.
const PLANS: usize = 3;

impl Measured {
    pub fn new(profile: Profile, baseline: bool) -> Self {
        Self {
            profile,
            baseline,
            life_cycle: LifeCycle::default(),
            agent_peak_kib: 0,
        }
    }

    /// The site's name in the report.
    pub fn title(&self) -> String {
        if self.baseline {
            format!("{}, baseline agent", self.profile.name)
        } else {
            self.profile.name.to_string()
        }
    }
}

pub fn run_once(
    measured: &mut Measured,
    logs: Option<&Path>,
    repetition: usize,
    baseline: Option<&Baseline>,
) -> Result<()> {
    let profile = measured.profile;
    let db = GuacamoleDb::start(GuacFlavor::Postgres);
    for n in 1..=MEMBERS {
        db.add_user(&student(n));
    }
    // Every query goes through the proxy, also at zero latency, so the
    // two sites differ only in the delays.
    let proxy = DelayProxy::start(DelayProxy::server_of(&db.url())?, profile.guacamole_query)?;
    let url = proxy.url_through(&db.url())?;
    let agent = match (measured.baseline, baseline) {
        (true, Some(baseline)) => Some(baseline.agent.as_path()),
        (true, None) => anyhow::bail!("a baseline class lab needs --baseline-agent"),
        (false, _) => None,
    };
    let site = with_agent(agent, || TestSite::start_with_guacamole(&site_file(), &url));
    profile.apply_to(&site, 0, &[SLOT.to_string()])?;
    let ws = Workspace::new(&site.agent, &config());
    let outcome = (|| {
        measured.life_cycle.apply.push(timed(&ws, APPLY, &[0])?);
        for _ in 0..PLANS {
            measured.life_cycle.plan.push(timed(&ws, PLAN, &[0])?);
        }
        measured.life_cycle.destroy.push(timed(&ws, DESTROY, &[0])?);
        anyhow::Ok(())
    })();
    let name = format!(
        "class-lab-{}-run{repetition}-agent.log",
        measured.title().replace([' ', ','], "-")
    );
    keep_agent(logs, &name, &site.agent, &mut measured.agent_peak_kib)?;
    outcome
}
