#!/usr/bin/env python3
"""Writes docs/reliability.md from the chaos suite's outcomes.

Usage: chaos-report.py OUTCOMES.jsonl ROUNDS > docs/reliability.md

Each line of OUTCOMES.jsonl is one scenario's outcome as
tests/tests/chaos.rs appends it: scenario, faults, completed, leaks.
"""

import json
import platform
import subprocess
import sys
from collections import OrderedDict


def main() -> int:
    path, rounds = sys.argv[1], sys.argv[2]
    totals = OrderedDict()
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            seen = totals.setdefault(row["scenario"], {"faults": 0, "completed": 0, "leaks": 0})
            for key in ("faults", "completed", "leaks"):
                seen[key] += row[key]
    if not totals:
        print("no outcomes in " + path, file=sys.stderr)
        return 1
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    leaks = sum(t["leaks"] for t in totals.values())
    out = [
        "# Reliability: faults injected and what survived them",
        "",
        "Written by `make chaos` (tests/tests/chaos.rs with "
        f"`GIIF_CHAOS_ROUNDS={rounds}`), commit `{commit}`, on {platform.machine()} "
        f"with {platform.system()} {platform.release()}. Do not edit by hand.",
        "",
        "| Scenario | Faults injected | Operations completed | Leaks found |",
        "|---|---:|---:|---:|",
    ]
    for scenario, seen in totals.items():
        out.append(f"| {scenario} | {seen['faults']} | {seen['completed']} | {seen['leaks']} |")
    out += [
        "",
        f"Leaks found in all: **{leaks}** (must be 0).",
        "",
        "## Method",
        "",
        "Everything runs as real processes: `giif-sim` (the simulated site), `giif-agent serve`,",
        "the real `terraform` with `terraform-provider-giif`, and a throwaway PostgreSQL for the",
        "replica scenario.",
        "",
        "- **Holding a device step.** The simulator's `hold` knob (`PUT /faults/{endpoint}` with",
        "  `{\"hold\": \"<text>\"}`) holds every request or command whose line contains the text",
        "  before the device acts: a Proxmox clone, a VM start, a VM delete, an iDRAC power-off, a",
        "  gateway configuration. `GET /holds` shows what is held, so the test kills exactly then.",
        "- **The fault.** The agent gets SIGKILL while the step is held (nothing of it runs after),",
        "  the step is let go, and the agent starts again on the same store. In the first scenario",
        "  no client calls again: the agent's reconciler must finish the operation from the",
        "  journal. With Terraform, the provider must repeat the calls whose answers were lost",
        "  under their request ids, and the apply must succeed with an empty plan after it.",
        "- **Completed** counts operations that reached their end state on the devices: a gateway",
        "  and a VM ready and running, a server released (NIC off the gateway, powered off, free in",
        "  the inventory), a floating IP's address and NAT rule gone; a whole lab applied and",
        "  destroyed.",
        "- **Leaks** counts VMs on the simulated cluster that nothing in the agent's store or the",
        "  Terraform state accounts for, plus VMs present twice; a missing VM fails the test.",
        "- **Replicas.** Two agents share one PostgreSQL store; one is killed while its operation",
        "  is held and stays down until the other has taken the operation over (its lease ran",
        "  out) and finished it. Gateway slots and NIC slots are then checked to be distinct.",
        "",
        "`make test` runs every scenario once; `make chaos` runs them "
        f"{rounds} times and writes this page.",
        "",
    ]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
