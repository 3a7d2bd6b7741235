//! Allocation under parallel Terraform: 50 projects at once get 50 distinct
//! VLANs, two applies at once never share one, and an exhausted pool is a
//! diagnostic that names it.

#![allow(clippy::unwrap_used)] // test helpers may panic: that is how a test fails

use std::collections::BTreeSet;

use giif_tests::agent::TestAgent;
use giif_tests::terraform::Workspace;

fn projects(prefix: &str, count: usize) -> String {
    format!(
        r#"
resource "giif_project" "p" {{
  count = {count}
  name  = "{prefix}-${{count.index}}"
}}

output "vlans" {{
  value = giif_project.p[*].vlan
}}
"#
    )
}

fn vlans(ws: &Workspace) -> Vec<u64> {
    ws.outputs()["vlans"]["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_projects_in_parallel_then_pool_exhaustion() {
    let agent = TestAgent::start(1000, 1049, None);
    let ws = Workspace::new(&agent, &projects("class", 50));
    ws.ok(&["apply", "-auto-approve", "-parallelism=50"]);
    let got = vlans(&ws);
    let distinct: BTreeSet<u64> = got.iter().copied().collect();
    assert_eq!(distinct.len(), 50, "VLANs handed out twice: {got:?}");
    assert!(distinct.iter().all(|v| (1000..=1049).contains(v)));
    assert!(ws.plan_is_empty().0);

    // The pool holds 50: the 51st project fails and names the pool.
    ws.write(&projects("class", 51));
    let run = ws.run(&["apply", "-auto-approve", "-parallelism=50"]);
    assert!(
        !run.success,
        "the 51st project should not fit:\n{}",
        run.all()
    );
    let text = run.flat();
    assert!(
        text.contains("No free VLAN in pool \"test-pool\""),
        "{text}"
    );
    assert!(
        text.contains("VLAN pool \"test-pool\" is exhausted: all 50 VLANs"),
        "{text}"
    );
    assert!(
        text.contains("giif-agent inventory import"),
        "the fix should be named: {text}"
    );
    ws.ok(&["destroy", "-auto-approve", "-parallelism=50"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_concurrent_applies_share_no_vlan() {
    let agent = TestAgent::start(2000, 2099, None);
    let a = Workspace::new(&agent, &projects("alpha", 25));
    let b = Workspace::new(&agent, &projects("beta", 25));
    let (run_a, run_b) = std::thread::scope(|scope| {
        let first = scope.spawn(|| a.run(&["apply", "-auto-approve", "-parallelism=25"]));
        let second = scope.spawn(|| b.run(&["apply", "-auto-approve", "-parallelism=25"]));
        (first.join().unwrap(), second.join().unwrap())
    });
    assert!(run_a.success, "{}", run_a.all());
    assert!(run_b.success, "{}", run_b.all());
    let mut all: Vec<u64> = vlans(&a);
    all.extend(vlans(&b));
    let distinct: BTreeSet<u64> = all.iter().copied().collect();
    assert_eq!(distinct.len(), 50, "two applies shared a VLAN: {all:?}");
}
