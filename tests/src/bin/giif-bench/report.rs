//! The report: one Markdown page, printed and written to docs/benchmarks.md.

use std::fmt::Write;
use std::time::Duration;

use crate::class_lab;
use crate::machine::Machine;
use crate::memory::mebibytes;
use crate::mixed::{self, Measured, REALISTIC_LATENCY};
use crate::projects::{Comparison, Side, PLANS_PER_REPETITION};
use crate::samples::{seconds, Samples};

/// A project apply or plan may take this many times its terraform_data figure.
pub const PROJECTS_LIMIT: f64 = 2.5;
/// With consoles, a project apply or plan may take this many times the same
/// without them.
pub const CONSOLES_LIMIT: f64 = 1.25;
/// giif, consoles on, may take this many times the protocol floor.
pub const FLOOR_LIMIT: f64 = 1.3;
/// The realistic-latency apply may take this many times its critical path.
pub const CRITICAL_PATH_LIMIT: f64 = 1.3;
/// The class lab's realistic apply may take this many times its bound.
pub const CLASS_LAB_LIMIT: f64 = 1.2;
/// The class lab's realistic plan may take this long.
pub const CLASS_LAB_PLAN_LIMIT: Duration = Duration::from_secs(3);

pub struct Results {
    pub machine: Machine,
    pub repetitions: usize,
    pub comparisons: Vec<Comparison>,
    pub mixed: Vec<Measured>,
    pub class_labs: Vec<class_lab::Measured>,
    /// The baseline agent's name, when the run had one.
    pub baseline: Option<String>,
    pub startup: Samples,
    /// (N, each provider process's peak in KiB) for an apply of N projects.
    pub provider_peaks_projects: Option<(usize, Vec<u64>)>,
    pub provider_peaks_mixed: Vec<u64>,
    pub load_after: String,
    pub elapsed: Duration,
}

pub struct Target {
    pub what: String,
    /// A ratio, or seconds for a target in time.
    pub ratio: f64,
    pub limit: f64,
    pub unit: &'static str,
}

impl Target {
    fn ratio(what: String, ratio: f64, limit: f64) -> Self {
        Self {
            what,
            ratio,
            limit,
            unit: "×",
        }
    }

    pub fn met(&self) -> bool {
        self.ratio <= self.limit
    }
}

fn ratio(a: Duration, b: Duration) -> f64 {
    if b.is_zero() {
        f64::INFINITY
    } else {
        a.as_secs_f64() / b.as_secs_f64()
    }
}

fn yes_no(met: bool) -> &'static str {
    if met {
        "yes"
    } else {
        "**no**"
    }
}

/// Median, and the spread of the runs when there are several.
fn cell(samples: &Samples) -> String {
    if samples.len() > 1 {
        format!(
            "{} ({}–{})",
            seconds(samples.median()),
            seconds(samples.min()),
            seconds(samples.max())
        )
    } else {
        seconds(samples.median())
    }
}

impl Results {
    pub fn targets(&self) -> Vec<Target> {
        let mut targets = Vec::new();
        for c in &self.comparisons {
            let rules = [
                (
                    Side::ConsolesPostgres,
                    Side::NoConsoles,
                    CONSOLES_LIMIT,
                    "the same without consoles",
                ),
                (
                    Side::ConsolesPostgres,
                    Side::Floor,
                    FLOOR_LIMIT,
                    "the protocol floor",
                ),
                (
                    Side::NoConsoles,
                    Side::TerraformData,
                    PROJECTS_LIMIT,
                    "terraform_data",
                ),
            ];
            for (side, base, limit, against) in rules {
                let (Some(side_cycle), Some(base_cycle)) = (c.side(side), c.side(base)) else {
                    continue;
                };
                for (step, measured, reference) in [
                    ("apply", &side_cycle.apply, &base_cycle.apply),
                    ("plan", &side_cycle.plan, &base_cycle.plan),
                ] {
                    targets.push(Target::ratio(
                        format!(
                            "`terraform {step}` of {} projects ({}) ≤ {limit} × {against}",
                            c.count,
                            side.title()
                        ),
                        ratio(measured.median(), reference.median()),
                        limit,
                    ));
                }
            }
        }
        for m in &self.mixed {
            if m.profile.name == REALISTIC_LATENCY.name {
                targets.push(Target::ratio(
                    format!(
                        "`terraform apply` of the mixed environment, realistic latency ≤ {CRITICAL_PATH_LIMIT} × critical path"
                    ),
                    ratio(
                        m.life_cycle.apply.median(),
                        mixed::critical_path(&m.profile).total,
                    ),
                    CRITICAL_PATH_LIMIT,
                ));
            }
        }
        for lab in self
            .class_labs
            .iter()
            .filter(|lab| !lab.profile.is_zero() && !lab.baseline)
        {
            targets.push(Target::ratio(
                format!(
                    "`terraform apply` of the class lab, realistic latency ≤ {CLASS_LAB_LIMIT} × its bound at parallelism {}",
                    class_lab::PARALLELISM
                ),
                ratio(
                    lab.life_cycle.apply.median(),
                    class_lab::bounds(&lab.profile).at_parallelism,
                ),
                CLASS_LAB_LIMIT,
            ));
            targets.push(Target {
                what: format!(
                    "`terraform plan` of the class lab, realistic latency ≤ {} s",
                    CLASS_LAB_PLAN_LIMIT.as_secs()
                ),
                ratio: lab.life_cycle.plan.median().as_secs_f64(),
                limit: CLASS_LAB_PLAN_LIMIT.as_secs_f64(),
                unit: "s",
            });
        }
        targets
    }

    pub fn markdown(&self) -> String {
        let mut page = String::new();
        self.write_markdown(&mut page)
            .expect("writing to a String cannot fail");
        page
    }

    fn write_markdown(&self, out: &mut String) -> std::fmt::Result {
        let m = &self.machine;
        writeln!(out, "# Benchmarks\n")?;
        writeln!(
            out,
            "Written by `make bench` (the `giif-bench` binary of the `tests` crate, release build) on {}. \
             Run it again to refresh this page; the method is at the end.\n",
            m.date
        )?;
        writeln!(out, "## Machine\n")?;
        writeln!(out, "- CPU: {}, {} cores (`nproc`)", m.cpu_model, m.cpus)?;
        writeln!(out, "- {}", m.terraform)?;
        writeln!(out, "- giif commit `{}`, release build", m.commit)?;
        writeln!(
            out,
            "- load average (1, 5, 15 min) before: {}; after: {} (the machine is shared; other work skews the numbers)",
            m.load_before, self.load_after
        )?;
        writeln!(
            out,
            "- the whole run took {:.1} min\n",
            self.elapsed.as_secs_f64() / 60.0
        )?;

        writeln!(out, "## Targets\n")?;
        writeln!(out, "| target | measured | met |")?;
        writeln!(out, "| --- | ---: | :---: |")?;
        for t in self.targets() {
            writeln!(
                out,
                "| {} | {:.2} {} | {} |",
                t.what,
                t.ratio,
                t.unit,
                yes_no(t.met())
            )?;
        }
        writeln!(out)?;

        if !self.comparisons.is_empty() {
            self.write_comparisons(out)?;
        }
        if !self.mixed.is_empty() {
            self.write_mixed(out)?;
        }
        if !self.class_labs.is_empty() {
            self.write_class_lab(out)?;
        }

        writeln!(out, "## The provider and the agent\n")?;
        writeln!(out, "| figure | value |")?;
        writeln!(out, "| --- | ---: |")?;
        writeln!(
            out,
            "| provider start-up, spawn to handshake line (median of {}; fastest–slowest) | {:.1} ms ({:.1}–{:.1}) |",
            self.startup.len(),
            self.startup.median().as_secs_f64() * 1000.0,
            self.startup.min().as_secs_f64() * 1000.0,
            self.startup.max().as_secs_f64() * 1000.0
        )?;
        if let Some((count, peaks)) = &self.provider_peaks_projects {
            writeln!(
                out,
                "| provider peak memory, `apply` of {count} projects (largest of its {} provider processes) | {} |",
                peaks.len(),
                mebibytes(peaks.iter().copied().max().unwrap_or_default())
            )?;
        }
        if !self.provider_peaks_mixed.is_empty() {
            writeln!(
                out,
                "| provider peak memory, `apply` of the mixed environment (largest of its {} provider processes) | {} |",
                self.provider_peaks_mixed.len(),
                mebibytes(self.provider_peaks_mixed.iter().copied().max().unwrap_or_default())
            )?;
        }
        for c in &self.comparisons {
            writeln!(
                out,
                "| agent peak memory, apply, plan and destroy of {} projects | {} |",
                c.count,
                mebibytes(c.agent_peak_kib)
            )?;
        }
        for measured in &self.mixed {
            writeln!(
                out,
                "| agent peak memory, mixed environment, {} | {} |",
                measured.profile.name,
                mebibytes(measured.agent_peak_kib)
            )?;
        }
        for lab in &self.class_labs {
            writeln!(
                out,
                "| agent peak memory, class lab, {} | {} |",
                lab.title(),
                mebibytes(lab.agent_peak_kib)
            )?;
        }
        writeln!(out)?;
        out.push_str(METHOD);
        Ok(())
    }

    fn write_comparisons(&self, out: &mut String) -> std::fmt::Result {
        writeln!(
            out,
            "## `giif_project` against the protocol floor and `terraform_data`\n"
        )?;
        writeln!(
            out,
            "Seconds from starting `terraform` until it exits: the median, with the fastest and the slowest run in \
             parentheses, of {} runs ({} for `plan`, which is repeated {} times per run). Default parallelism (10). \
             Each run applies every column, plans them in turns, then destroys them, so all see the same load. \
             The ratios compare the medians: consoles against none, giif with consoles (PostgreSQL) against the \
             protocol floor, and giif without consoles against `terraform_data` (the figure of earlier reports).\n",
            self.repetitions,
            self.repetitions * PLANS_PER_REPETITION,
            PLANS_PER_REPETITION
        )?;
        let baseline = self.baseline.as_deref();
        if let Some(name) = baseline {
            writeln!(
                out,
                "The baseline agent is the agent of `{name}`, run in the same run beside the current one: the \
                 figures before and after the changes since.\n"
            )?;
        }
        let ratios: Vec<(&str, Side, Side)> = baseline
            .map(|_| {
                (
                    "baseline ÷ none",
                    Side::BaselineConsolesPostgres,
                    Side::NoConsoles,
                )
            })
            .into_iter()
            .chain([
                ("consoles ÷ none", Side::ConsolesPostgres, Side::NoConsoles),
                ("giif ÷ floor", Side::ConsolesPostgres, Side::Floor),
                (
                    "none ÷ `terraform_data`",
                    Side::NoConsoles,
                    Side::TerraformData,
                ),
            ])
            .collect();
        for (n, c) in self.comparisons.iter().enumerate() {
            if n == 0 {
                let titles: Vec<&str> = c.sides.iter().map(|(s, _)| s.title()).collect();
                let ratio_titles: Vec<&str> = ratios.iter().map(|(t, _, _)| *t).collect();
                writeln!(
                    out,
                    "| resources | command | {} | {} |",
                    titles.join(" | "),
                    ratio_titles.join(" | ")
                )?;
                writeln!(
                    out,
                    "| ---: | --- |{}",
                    " ---: |".repeat(titles.len() + ratios.len())
                )?;
            }
            for (index, step) in ["apply", "plan", "destroy"].into_iter().enumerate() {
                let samples = |side: Side| c.side(side).map(|cycle| cycle.steps()[index].1);
                let cells: Vec<String> = c
                    .sides
                    .iter()
                    .map(|(_, cycle)| cell(cycle.steps()[index].1))
                    .collect();
                let versus: Vec<String> = ratios
                    .iter()
                    .map(|(_, a, b)| match (samples(*a), samples(*b)) {
                        (Some(a), Some(b)) => format!("{:.2} ×", ratio(a.median(), b.median())),
                        _ => String::new(),
                    })
                    .collect();
                writeln!(
                    out,
                    "| {} | {step} | {} | {} |",
                    c.count,
                    cells.join(" | "),
                    versus.join(" | ")
                )?;
            }
        }
        writeln!(out)?;
        Ok(())
    }

    fn write_mixed(&self, out: &mut String) -> std::fmt::Result {
        writeln!(out, "## Mixed environment on the simulated site\n")?;
        let inventory: Vec<String> = mixed::inventory()
            .iter()
            .map(|(kind, n)| format!("{n} `{kind}`"))
            .collect();
        writeln!(
            out,
            "{} (three class projects; see `tests/src/bin/giif-bench/mixed.rs`). Default parallelism; the \
             medians of {} runs, a fresh simulated site and agent for each.\n",
            inventory.join(", "),
            self.repetitions
        )?;
        writeln!(
            out,
            "| site | command | measured (s) | critical path (s) | ratio |"
        )?;
        writeln!(out, "| --- | --- | ---: | ---: | ---: |")?;
        for measured in &self.mixed {
            let path = mixed::critical_path(&measured.profile).total;
            for (step, samples) in measured.life_cycle.steps() {
                let (path_cell, ratio_cell) = if step == "apply" {
                    (
                        seconds(path),
                        format!("{:.2} ×", ratio(samples.median(), path)),
                    )
                } else {
                    ("".to_string(), "".to_string())
                };
                writeln!(
                    out,
                    "| {} | {step} | {} | {path_cell} | {ratio_cell} |",
                    measured.profile.name,
                    cell(samples)
                )?;
            }
        }
        writeln!(
            out,
            "\nThe {CRITICAL_PATH_LIMIT} × target is for the realistic site. With zero latency the critical path is \
             only the iDRAC driver's pauses, so that ratio shows the fixed costs of Terraform, the provider and the \
             agent instead.\n"
        )?;
        self.write_critical_path(out)?;
        Ok(())
    }

    fn write_class_lab(&self, out: &mut String) -> std::fmt::Result {
        writeln!(
            out,
            "## Class lab
"
        )?;
        writeln!(
            out,
            "One `giif_project` with {} members, its `giif_pagw`, {} `giif_vm`s (each with its Guacamole console, \
             which every member may open) and a `giif_floating_ip`, on a simulated site whose Guacamole database \
             is a real PostgreSQL (see `tests/src/bin/giif-bench/class_lab.rs`). Default parallelism ({}); the \
             medians of {} runs ({} for `plan`), a fresh site, database and agent for each. The realistic site's \
             Proxmox tasks take {} s, each Proxmox API call {} s more, and each Guacamole query {} ms more.\n",
            class_lab::MEMBERS,
            class_lab::SEATS,
            class_lab::PARALLELISM,
            self.repetitions,
            self.repetitions * 3,
            seconds(class_lab::PROFILES[1].proxmox_task),
            seconds(class_lab::PROFILES[1].proxmox_call),
            class_lab::PROFILES[1].guacamole_query.as_millis(),
        )?;
        writeln!(
            out,
            "| site | command | measured (s) | longest chain (s) | bound at parallelism {} (s) | ratio to the bound |",
            class_lab::PARALLELISM
        )?;
        writeln!(out, "| --- | --- | ---: | ---: | ---: | ---: |")?;
        for lab in &self.class_labs {
            let bounds = class_lab::bounds(&lab.profile);
            for (step, samples) in lab.life_cycle.steps() {
                let (chain, bound, versus) = if step == "apply" {
                    (
                        seconds(bounds.chain),
                        seconds(bounds.at_parallelism),
                        format!("{:.2} ×", ratio(samples.median(), bounds.at_parallelism)),
                    )
                } else {
                    Default::default()
                };
                writeln!(
                    out,
                    "| {} | {step} | {} | {chain} | {bound} | {versus} |",
                    lab.title(),
                    cell(samples)
                )?;
            }
        }
        writeln!(
            out,
            "\nThe longest chain is the project, then one VM: a clone, a config update, a resize and a start. \
             Terraform runs at most {} resources at once, so the {} VMs and the gateway take several rounds; the \
             bound is the shortest such schedule of the same steps (`critical_path::schedule`).\n",
            class_lab::PARALLELISM,
            class_lab::SEATS
        )?;
        Ok(())
    }

    fn write_critical_path(&self, out: &mut String) -> std::fmt::Result {
        let profile = REALISTIC_LATENCY;
        let latency = profile.latency();
        let chain = mixed::critical_path(&profile);
        writeln!(
            out,
            "Critical path with realistic latency (Proxmox tasks {} s, iDRAC commands {} s, gateway boot {} s, \
             and the iDRAC driver's own {} s pause between two commands to one BMC):\n",
            seconds(profile.proxmox_task),
            seconds(profile.idrac_command),
            seconds(profile.gateway_boot),
            seconds(latency.idrac_pause)
        )?;
        for (address, own) in &chain.links {
            let steps: Vec<String> = mixed::steps_of(address)
                .iter()
                .map(|s| format!("{s} {}", seconds(latency.of(*s))))
                .collect();
            let detail = if steps.is_empty() {
                "no device latency".to_string()
            } else {
                steps.join(" + ")
            };
            writeln!(out, "1. `{address}`: {detail} = {} s", seconds(*own))?;
        }
        writeln!(
            out,
            "\nin all {} s. The same steps done one after another, as an agent without parallelism would, \
             take {} s.\n",
            seconds(chain.total),
            seconds(mixed::serial_time(&profile))
        )?;
        Ok(())
    }
}

const METHOD: &str = r#"## Method

- **Builds.** `make bench` builds the provider, the agent, the simulator and `giif-bench` in release mode
  and runs `target/release/giif-bench`. Terraform runs the release provider through `dev_overrides`
  (no `terraform init`), the way the acceptance tests do.
- **Timing.** Each figure is the wall-clock time from spawning `terraform` until it exits: `apply
  -auto-approve` from an empty state, then `plan -detailed-exitcode` (which refreshes every resource and
  must find nothing to change), then `destroy -auto-approve`. Every run has a fresh agent (SQLite store,
  project VLAN pool large enough for the run) and fresh working directories; for the mixed environment
  also a fresh simulated site. The columns' commands alternate, so load from other work on the machine
  hits every side alike.
- **Consoles.** Sites give every project its Guacamole console tree, so the first two columns run the
  agent on a simulated site with `[guacamole]`, on a real Guacamole database (PostgreSQL, then MariaDB)
  started for the run with the official schema; the third runs it without Guacamole, as earlier reports
  measured.
- **The protocol floor** is a tfplugin6 provider inside `giif-bench` (`floor.rs`), started by Terraform as
  `terraform-provider-floor` through `dev_overrides`: one resource, `floor_project`, with `giif_project`'s
  own schema, whose every call hands Terraform's values back, decoding nothing and keeping nothing (its
  computed attributes stay null). With the same schema and configuration Terraform does the same work per
  resource on both sides, so the floor's figure is Terraform plus what the plugin protocol itself costs
  (process starts, handshake, TLS, the calls per resource), and giif ÷ floor is the price of the giif
  provider's own work, the agent and its console writes.
- **Baseline.** `make bench BASELINE=<commit>` builds that commit's agent (`scripts/baseline-agent.sh`) and
  runs it as one more column beside the current agent, same provider, same run: the figures before and
  after the changes since that commit.
- **`terraform_data`** is Terraform's built-in resource: no provider process, no network, no store. Its
  figure is what Terraform alone costs for the same number of resources.
- **Realistic latency** is set with the simulator's fault knobs (`PUT /faults/{endpoint}` on its admin
  API): `task_duration_ms` of `pve` (every Proxmox task, and a NIC hot-plug into a running VM),
  `latency_ms` of `pve` (before every Proxmox API answer; the class lab only), `latency_ms` of each
  `idrac:<server>` (before every racadm answer) and `task_duration_ms` of each `pagw:<slot>` (the gateway
  guest's boot). Zero latency sets them all to 0. The class lab's agent reaches Guacamole's database
  through a proxy in `giif-bench` (`latency.rs`) that holds every byte going to the database for the
  query latency, in order and without holding back what follows, so every round trip takes that much
  longer however many are in flight; at zero latency the proxy is there with no delay.
- **Critical path.** For every resource, the hardware steps the agent's operation has to take one after
  another (read off `agent/src/gateways/converge.rs`, `agent/src/vms/converge.rs`,
  `agent/src/bare_metal/converge.rs`, `agent/src/floating.rs` and the drivers; see
  `tests/src/bin/giif-bench/critical_path.rs`), weighted by the latency of the site; then the longest
  path through Terraform's dependency graph of the environment. A gateway is a clone task, a start task
  and the guest's boot (the NIC update is a synchronous call on a stopped VM, the configuration goes over
  SSH). A VM is a clone, a resize (its 20 GB disk is larger than the template's 10 GB) and a start task.
  A floating IP reconfigures its gateway over SSH. A bare-metal assignment waits for its gateway, then
  hot-plugs a NIC into the running gateway VM, reconfigures the gateway, and on the iDRAC reads the
  virtual media, reads it again and attaches the ISO, sets the virtual CD as the first boot device for
  one boot (two `racadm set`), and powers the server on: six commands with the driver's pause between
  them. (Reports before December 2026 left the two `set` commands out, so their bound was 3 s short.) Calls without device latency (Proxmox API reads and synchronous writes,
  SSH to gateways, the store) count as zero, so the measured/critical-path ratio includes them along
  with Terraform's and the provider's own time. A ratio close to 1 shows that the agent runs independent
  work (the three gateways, the six VMs, the two servers) at the same time. Where Proxmox API calls have
  latency (the class lab), every task counts two calls (the one that starts it and the status read that
  sees it end) and a synchronous config update one; the status reads while a task runs overlap it.
- **Class lab bound.** Terraform works on at most 10 resources at once by default, and the lab has 32
  besides its project, so its bound is not one chain: `critical_path::schedule` plays Terraform's walk
  with 10 slots, starting whenever a slot frees the waiting resource with the longest chain ahead of it,
  and takes how long the same steps need then. The 30 VMs (a clone, a config update, a resize and a
  start each) and the gateway need four rounds: no schedule of 31 such jobs on 10 slots is shorter.
- **Where the rest goes.** For every resource a `plan` makes four calls to the provider
  (`ValidateResourceConfig`, `UpgradeResourceState`, `ReadResource`, `PlanResourceChange`) and an
  `apply` one more, each a gRPC call over TLS to another process, where `terraform_data` stays inside
  Terraform; Terraform also starts three provider processes per `plan` and four per `apply`, generating
  a P-521 AutoMTLS certificate for each. Profiled on this machine with `perf`, a `plan` of 200 projects
  costs Terraform itself about 0.39 s of CPU time (0.18 s with `terraform_data`): those calls, the
  certificates, the process starts. The provider processes together take about 40 ms and the agent
  about 35 ms. The provider serves on one thread (handing short calls between worker threads cost
  more than it saved), and reads made while others are on their way go to the agent together in one
  `GetProjects` call (about 80 calls for 200 reads). Tried without a measurable effect: a Unix socket
  instead of loopback TCP between Terraform and the provider, and starting each project's read as soon
  as Terraform hands over its stored state. The first two provider processes live about 6 ms each,
  the plan walk's about 0.21 s. This fixed part weighs most at 200 resources, whose `terraform_data`
  plan takes only about 0.13 s: the `plan` target is met with little room, and other work on the
  machine moves that ratio by 0.1 to 0.2.
- **Start-up.** `terraform-provider-giif` spawned with go-plugin's environment (magic cookie, protocol 6,
  a P-521 AutoMTLS client certificate like Terraform's) until its handshake line is on stdout.
- **Peak memory.** The agent's `VmHWM` from `/proc/<pid>/status` after its runs. The provider's, in one
  extra untimed apply: `dev_overrides` points at a wrapper (`giif-bench` itself) that runs the real
  provider as its child and records `getrusage(RUSAGE_CHILDREN).ru_maxrss` when it exits, for every
  provider process Terraform starts.
- **Targets** are reported, not enforced: a missed target shows as **no** above, and `make bench` still
  exits 0 (it fails only when something does not work). Timing assertions never run in `make test`.
"#;
