//! The critical path of an environment: the longest chain of hardware steps
//! that must happen one after another, given Terraform's dependencies
//! between resources and, within each resource, the steps the agent's
//! operation takes in sequence. No amount of parallelism in the agent can
//! make an apply shorter than that; an agent that ran independent work one
//! piece at a time would take the sum of all steps instead.
//!
//! Each resource's steps are read off the agent's code:
//!
//! - `giif_project`: store writes only.
//! - `giif_pagw` (`agent/src/gateways/converge.rs`): the clone task; the NIC
//!   and cloud-init update (a synchronous `PUT /config` on a stopped VM, no
//!   task); the start task; the guest booting until it answers over SSH;
//!   the configuration applied over SSH (no device latency).
//! - `giif_vm` from a template (`agent/src/vms/converge.rs`): the clone task;
//!   the config update (synchronous); the resize task when `disk_gb` is
//!   larger than the template's disk; the start task.
//! - `giif_floating_ip` with a target (`agent/src/floating.rs`): the gateway
//!   reconfigured over SSH (no device latency).
//! - `giif_bms_assignment` (`agent/src/bare_metal/converge.rs`): the NIC
//!   hot-plugged into the running gateway VM (Proxmox holds the VM's lock
//!   while QEMU plugs it; the simulator takes a task's duration); the gateway
//!   reconfigured over SSH; then on the iDRAC, one command at a time with
//!   the driver's pause between commands (`agent/src/drivers/idrac`): read
//!   the virtual media, read it again and attach the image
//!   (`attach_media`), make the virtual CD the next boot's first device,
//!   once (`boot_once_from_media`: two `racadm set`), power on.
//!
//! Every Proxmox task also costs two API calls on the path (the request that
//! starts it and the status read that sees it end), a hot-plug and a
//! synchronous config update one. Status reads while a task runs overlap
//! the task; SSH to the gateways, Guacamole queries and store writes count
//! as zero.
//!
//! With more resources than Terraform runs at once (its `-parallelism`,
//! 10 by default), the bound is no longer one chain: [`schedule`] finds
//! how long the steps take when at most that many resources are under way.

use std::collections::BTreeMap;
use std::time::Duration;

/// One step the agent has to wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// A Proxmox worker task (clone, resize, start), waited for.
    ProxmoxTask(&'static str),
    /// A NIC hot-plugged into a running VM.
    ProxmoxHotplug,
    /// A synchronous Proxmox API call (a config update of a stopped VM).
    ProxmoxCall(&'static str),
    /// A gateway guest booting until it answers over SSH.
    GatewayBoot,
    /// One racadm command on an iDRAC.
    IdracCommand(&'static str),
    /// The iDRAC driver's quiet time between two commands to one BMC.
    IdracPause,
}

/// How long each kind of step takes on the site being measured.
#[derive(Clone, Copy, Debug)]
pub struct Latency {
    pub proxmox_task: Duration,
    pub proxmox_call: Duration,
    pub idrac_command: Duration,
    pub gateway_boot: Duration,
    pub idrac_pause: Duration,
}

impl Latency {
    pub fn of(&self, step: Step) -> Duration {
        match step {
            Step::ProxmoxTask(_) => self.proxmox_task + 2 * self.proxmox_call,
            Step::ProxmoxHotplug => self.proxmox_task + self.proxmox_call,
            Step::ProxmoxCall(_) => self.proxmox_call,
            Step::GatewayBoot => self.gateway_boot,
            Step::IdracCommand(_) => self.idrac_command,
            Step::IdracPause => self.idrac_pause,
        }
    }

    pub fn total(&self, steps: &[Step]) -> Duration {
        steps.iter().map(|s| self.of(*s)).sum()
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::ProxmoxTask(kind) => write!(f, "Proxmox {kind} task"),
            Step::ProxmoxHotplug => write!(f, "Proxmox NIC hot-plug"),
            Step::ProxmoxCall(what) => write!(f, "Proxmox {what} call"),
            Step::GatewayBoot => write!(f, "gateway boot"),
            Step::IdracCommand(command) => write!(f, "racadm {command}"),
            Step::IdracPause => write!(f, "iDRAC pause"),
        }
    }
}

/// The steps of each resource kind, as the agent's operations take them.
pub mod steps {
    use super::Step::{self, *};

    pub const PROJECT: &[Step] = &[];
    pub const GATEWAY: &[Step] = &[
        ProxmoxTask("clone"),
        ProxmoxCall("config"),
        ProxmoxTask("start"),
        GatewayBoot,
    ];
    pub const VM_GROWN_FROM_TEMPLATE: &[Step] = &[
        ProxmoxTask("clone"),
        ProxmoxCall("config"),
        ProxmoxTask("resize"),
        ProxmoxTask("start"),
    ];
    pub const FLOATING_IP: &[Step] = &[];
    pub const SERVER_WITH_IMAGE_POWERED_ON: &[Step] = &[
        ProxmoxHotplug,
        IdracCommand("remoteimage -s"),
        IdracPause,
        IdracCommand("remoteimage -s"),
        IdracPause,
        IdracCommand("remoteimage -c"),
        IdracPause,
        IdracCommand("set iDRAC.ServerBoot.FirstBootDevice"),
        IdracPause,
        IdracCommand("set iDRAC.ServerBoot.BootOnce"),
        IdracPause,
        IdracCommand("serveraction powerup"),
    ];
}

/// A resource of the environment: its own steps and what it waits for.
#[derive(Clone, Debug)]
pub struct Resource {
    pub address: String,
    pub steps: &'static [Step],
    pub after: Vec<String>,
}

/// The longest chain: its resources (address, own time) and its length.
#[derive(Clone, Debug)]
pub struct Chain {
    pub links: Vec<(String, Duration)>,
    pub total: Duration,
}

/// The longest path through the resources' dependency graph, weighting
/// each resource by the time of its own steps.
pub fn longest_chain(resources: &[Resource], latency: &Latency) -> Chain {
    let by_address: BTreeMap<&str, &Resource> =
        resources.iter().map(|r| (r.address.as_str(), r)).collect();
    let mut memo: BTreeMap<String, Chain> = BTreeMap::new();
    let mut best = Chain {
        links: Vec::new(),
        total: Duration::ZERO,
    };
    for resource in resources {
        let chain = chain_ending_at(resource, &by_address, latency, &mut memo);
        if chain.total > best.total || best.links.is_empty() {
            best = chain;
        }
    }
    best
}

fn chain_ending_at(
    resource: &Resource,
    by_address: &BTreeMap<&str, &Resource>,
    latency: &Latency,
    memo: &mut BTreeMap<String, Chain>,
) -> Chain {
    if let Some(done) = memo.get(&resource.address) {
        return done.clone();
    }
    let mut before = Chain {
        links: Vec::new(),
        total: Duration::ZERO,
    };
    for dependency in &resource.after {
        if let Some(dep) = by_address.get(dependency.as_str()) {
            let chain = chain_ending_at(dep, by_address, latency, memo);
            if chain.total > before.total || before.links.is_empty() {
                before = chain;
            }
        }
    }
    let own = latency.total(resource.steps);
    let mut chain = before;
    chain.links.push((resource.address.clone(), own));
    chain.total += own;
    memo.insert(resource.address.clone(), chain.clone());
    chain
}

/// How long the resources' steps take when Terraform keeps at most
/// `parallelism` resources under way: whenever one ends, the waiting
/// resource with the longest chain still ahead of it starts (a list
/// schedule; for resources of a few lengths it is the shortest there is).
pub fn schedule(resources: &[Resource], latency: &Latency, parallelism: usize) -> Duration {
    let own: Vec<Duration> = resources.iter().map(|r| latency.total(r.steps)).collect();
    let index: BTreeMap<&str, usize> = resources
        .iter()
        .enumerate()
        .map(|(i, r)| (r.address.as_str(), i))
        .collect();
    let after: Vec<Vec<usize>> = resources
        .iter()
        .map(|r| {
            r.after
                .iter()
                .filter_map(|a| index.get(a.as_str()).copied())
                .collect()
        })
        .collect();
    // The longest chain from each resource to the end, its own time included.
    let mut ahead = own.clone();
    for _ in 0..resources.len() {
        for (i, deps) in after.iter().enumerate() {
            for &d in deps {
                ahead[d] = ahead[d].max(own[d] + ahead[i]);
            }
        }
    }
    let mut finished: Vec<Option<Duration>> = vec![None; resources.len()];
    let mut started = vec![false; resources.len()];
    let mut running: Vec<(Duration, usize)> = Vec::new();
    let mut now = Duration::ZERO;
    loop {
        let mut ready: Vec<usize> = (0..resources.len())
            .filter(|&i| !started[i] && after[i].iter().all(|&d| finished[d].is_some()))
            .collect();
        ready.sort_by_key(|&i| std::cmp::Reverse(ahead[i]));
        for i in ready
            .into_iter()
            .take(parallelism.max(1).saturating_sub(running.len()))
        {
            started[i] = true;
            running.push((now + own[i], i));
        }
        let Some(next) = running.iter().map(|(end, _)| *end).min() else {
            return now;
        };
        now = next;
        running.retain(|&(end, i)| {
            let done = end <= now;
            if done {
                finished[i] = Some(end);
            }
            !done
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(address: &str, steps: &'static [Step], after: &[&str]) -> Resource {
        Resource {
            address: address.into(),
            steps,
            after: after.iter().map(|a| a.to_string()).collect(),
        }
    }

    #[test]
    fn the_longest_dependent_chain_wins_over_the_biggest_resource() {
        let latency = Latency {
            proxmox_task: Duration::from_secs(2),
            proxmox_call: Duration::ZERO,
            idrac_command: Duration::from_secs(1),
            gateway_boot: Duration::from_millis(250),
            idrac_pause: Duration::from_millis(500),
        };
        let resources = [
            resource("project", steps::PROJECT, &[]),
            resource("gateway", steps::GATEWAY, &["project"]),
            resource("vm", steps::VM_GROWN_FROM_TEMPLATE, &["project"]),
            resource("fip", steps::FLOATING_IP, &["gateway", "vm"]),
            resource("server", steps::SERVER_WITH_IMAGE_POWERED_ON, &["gateway"]),
        ];
        let chain = longest_chain(&resources, &latency);
        let addresses: Vec<&str> = chain.links.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(addresses, ["project", "gateway", "server"]);
        // 2 + 2 + 0.25, then 2 + 6 x 1 + 5 x 0.5.
        assert_eq!(chain.total, Duration::from_millis(14_750));
    }

    #[test]
    fn a_schedule_runs_at_most_parallelism_resources_at_once() {
        let latency = Latency {
            proxmox_task: Duration::from_secs(2),
            proxmox_call: Duration::from_millis(30),
            idrac_command: Duration::ZERO,
            gateway_boot: Duration::from_millis(250),
            idrac_pause: Duration::ZERO,
        };
        let mut resources = vec![resource("project", steps::PROJECT, &[])];
        for n in 0..25 {
            resources.push(Resource {
                address: format!("vm{n}"),
                steps: steps::VM_GROWN_FROM_TEMPLATE,
                after: vec!["project".into()],
            });
        }
        // A VM: three tasks of 2 s with two calls each, and one call.
        let vm = Duration::from_millis(3 * 2060 + 30);
        assert_eq!(longest_chain(&resources, &latency).total, vm);
        // 25 VMs ten at a time: three rounds.
        assert_eq!(schedule(&resources, &latency, 10), 3 * vm);
        assert_eq!(schedule(&resources, &latency, 25), vm);
    }
}
