//! `giif_project` end to end: the real terraform, the real provider binary,
//! a real agent on SQLite.

#![allow(clippy::unwrap_used)] // test helpers may panic: that is how a test fails

use giif_proto::agent as api;
use giif_tests::agent::TestAgent;
use giif_tests::terraform::Workspace;

fn project(name: &str, description: &str) -> String {
    format!(
        r#"
resource "giif_project" "lab" {{
  name        = "{name}"
  description = "{description}"
  owner       = "prof.curie"
  expires_on  = "2027-06-30"
  members = [
    {{ user = "prof.curie", role = "manager" }},
    {{ user = "student01", role = "member" }},
  ]
}}

output "id" {{
  value = giif_project.lab.id
}}

output "vlan" {{
  value = giif_project.lab.vlan
}}
"#
    )
}

fn output(ws: &Workspace, name: &str) -> serde_json::Value {
    ws.outputs()[name]["value"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn create_update_replace_import_drift_destroy() {
    let agent = TestAgent::start(100, 199, None);
    let ws = Workspace::new(&agent, &project("physics-lab", "Physics 101"));

    // Create.
    ws.apply();
    let id = output(&ws, "id").as_str().unwrap().to_string();
    assert!(id.starts_with("prj-"), "{id}");
    assert_eq!(output(&ws, "vlan"), 100);
    let client = agent.client().await;
    let stored = client
        .get_project(
            api::get_project_request::Key::Id(id.clone()),
            std::time::Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(
        stored.spec.unwrap().description.as_deref(),
        Some("Physics 101")
    );

    // The plan after apply is empty.
    let (empty, run) = ws.plan_is_empty();
    assert!(empty, "plan after apply is not empty:\n{}", run.all());

    // An in-place update keeps the id and the VLAN.
    ws.write(&project("physics-lab", "Physics 102"));
    let (empty, run) = ws.plan_is_empty();
    assert!(!empty);
    assert!(run.stdout.contains("update in-place"), "{}", run.stdout);
    ws.apply();
    assert_eq!(output(&ws, "id"), id.as_str());
    assert_eq!(output(&ws, "vlan"), 100);
    assert!(ws.plan_is_empty().0);

    // Renaming forces a replacement: a new id, the old project gone.
    ws.write(&project("physics-lab-2", "Physics 102"));
    let (_, run) = ws.plan_is_empty();
    assert!(
        run.stdout.contains("# forces replacement"),
        "{}",
        run.stdout
    );
    ws.apply();
    let new_id = output(&ws, "id").as_str().unwrap().to_string();
    assert_ne!(new_id, id);
    let old = client
        .get_project(
            api::get_project_request::Key::Id(id.clone()),
            std::time::Duration::from_secs(5),
        )
        .await;
    assert!(old.unwrap_err().is_not_found());
    assert!(ws.plan_is_empty().0);

    // Import by name, then by id: both give a state with an empty plan.
    for reference in ["physics-lab-2", new_id.as_str()] {
        ws.ok(&["state", "rm", "giif_project.lab"]);
        ws.ok(&["import", "giif_project.lab", reference]);
        let (empty, run) = ws.plan_is_empty();
        assert!(
            empty,
            "plan after import of {reference} is not empty:\n{}",
            run.all()
        );
    }

    // Deleted out of band: the refresh drops it and the plan re-creates it.
    client
        .delete_project(
            api::DeleteProjectRequest {
                request_id: "out-of-band".into(),
                id: new_id.clone(),
            },
            std::time::Duration::from_secs(5),
        )
        .await
        .unwrap();
    let (empty, run) = ws.plan_is_empty();
    assert!(!empty);
    assert!(
        run.stdout
            .contains("Plan: 1 to add, 0 to change, 0 to destroy"),
        "{}",
        run.stdout
    );
    ws.apply();

    // Destroy leaves the agent as it was: no project, no VLAN allocated.
    ws.ok(&["destroy", "-auto-approve"]);
    let config = giif_agent::config::AgentConfig::load(&agent.made.config_path).unwrap();
    let store = giif_agent::store::Store::open(&config.store_url())
        .await
        .unwrap();
    assert!(store.list_projects().await.unwrap().is_empty());
    assert_eq!(store.vlan_pools().await.unwrap()[0].allocated, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicate_name_says_how_to_import() {
    let agent = TestAgent::start(100, 199, None);
    let client = agent.client().await;
    let existing = client
        .create_project(
            api::CreateProjectRequest {
                request_id: "made-elsewhere".into(),
                spec: Some(api::ProjectSpec {
                    name: "Shared-Lab".into(),
                    ..Default::default()
                }),
            },
            std::time::Duration::from_secs(5),
        )
        .await
        .unwrap();
    let ws = Workspace::new(
        &agent,
        "resource \"giif_project\" \"lab\" {\n  name = \"shared-lab\"\n}\n",
    );
    let run = ws.run(&["apply", "-auto-approve"]);
    assert!(!run.success);
    let text = run.flat();
    assert!(
        text.contains("Project \"shared-lab\" already exists"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "terraform import <resource address> {}",
            existing.id
        )),
        "{text}"
    );
    assert!(
        text.contains("with giif_project.lab"),
        "diagnostic should point at the resource: {text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_values_are_refused_at_plan_time_with_their_attribute() {
    let agent = TestAgent::start(100, 199, None);
    let ws = Workspace::new(
        &agent,
        r#"
resource "giif_project" "bad" {
  name       = "Physics_Lab"
  expires_on = "2027-02-30"
  members    = [{ user = "x", role = "root" }]
}
"#,
    );
    let run = ws.run(&["plan"]);
    assert!(!run.success);
    let text = run.flat();
    assert!(text.contains("Invalid value for name"), "{text}");
    assert!(
        text.contains("contains '_', which a DNS label cannot hold"),
        "{text}"
    );
    assert!(text.contains("Invalid value for expires_on"), "{text}");
    assert!(text.contains("\"root\" is not a role"), "{text}");
    assert!(
        text.contains("on main.tf line"),
        "diagnostics should point at the configuration: {text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn data_source_finds_a_project_by_name() {
    let agent = TestAgent::start(300, 310, None);
    let ws = Workspace::new(
        &agent,
        r#"
resource "giif_project" "lab" {
  name = "Robotics"
}

data "giif_project" "by_name" {
  name       = "robotics"
  depends_on = [giif_project.lab]
}

output "found" {
  value = data.giif_project.by_name.id == giif_project.lab.id
}

output "vlan" {
  value = data.giif_project.by_name.vlan
}
"#,
    );
    ws.apply();
    let outputs = ws.outputs();
    assert_eq!(outputs["found"]["value"], true);
    assert_eq!(outputs["vlan"]["value"], 300);
}

/// What a plan's refresh of many projects asks for: GetProjects answers the
/// projects that exist, as GetProject shows them, and reads made at once
/// through the provider's client each get their own project.
#[tokio::test(flavor = "multi_thread")]
async fn many_projects_read_at_once() {
    let agent = TestAgent::start(300, 399, None);
    let client = agent.client().await;
    let deadline = std::time::Duration::from_secs(5);
    let mut ids = Vec::new();
    for n in 0..20 {
        let project = client
            .create_project(
                api::CreateProjectRequest {
                    request_id: format!("create-{n}"),
                    spec: Some(api::ProjectSpec {
                        name: format!("batch-{n}"),
                        ..Default::default()
                    }),
                },
                deadline,
            )
            .await
            .unwrap();
        ids.push(project.id);
    }

    let asked = vec![ids[3].clone(), "prj-missing".into(), ids[7].clone()];
    let mut found = client
        .get_projects(api::GetProjectsRequest { ids: asked }, deadline)
        .await
        .unwrap()
        .projects;
    found.sort_by(|a, b| a.id.cmp(&b.id));
    let mut expected = Vec::new();
    for id in [&ids[3], &ids[7]] {
        let one = client
            .get_project(api::get_project_request::Key::Id(id.clone()), deadline)
            .await
            .unwrap();
        assert_eq!(one.status, "ready");
        expected.push(one);
    }
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(found, expected, "GetProjects shows each as GetProject does");

    let too_many = client
        .get_projects(
            api::GetProjectsRequest {
                ids: (0..1001).map(|n| format!("prj-{n}")).collect(),
            },
            deadline,
        )
        .await
        .unwrap_err();
    assert_eq!(
        too_many.reason,
        giif_provider::agent::Reason::InvalidArgument
    );
    assert_eq!(too_many.field, "ids");
    assert!(
        too_many.message.contains("at most 1000"),
        "{}",
        too_many.message
    );

    // Twenty reads and five of ids that name nothing, all at once.
    let mut reads = tokio::task::JoinSet::new();
    let gone: Vec<String> = (0..5).map(|n| format!("prj-gone-{n}")).collect();
    for id in ids.iter().chain(&gone) {
        let (client, id) = (client.clone(), id.clone());
        reads.spawn(async move { (id.clone(), client.read_project(&id, deadline).await) });
    }
    let mut answered = 0;
    while let Some(joined) = reads.join_next().await {
        let (id, answer) = joined.unwrap();
        match answer.unwrap() {
            Some(project) => {
                assert_eq!(project.id, id);
                assert!(ids.contains(&id));
            }
            None => assert!(gone.contains(&id), "{id} exists but read as gone"),
        }
        answered += 1;
    }
    assert_eq!(answered, 25);
}
