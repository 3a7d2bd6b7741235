//! `giif_guacamole_connection` through the real terraform and the real
//! provider binary, against an in-process stand-in for the agent that keeps
//! connections in memory as the agent contract describes them (the real
//! agent's Guacamole driver is built separately). It checks the provider's
//! half: what reaches the agent (the write-only password on create and
//! only on a `password_version` change, sorted users, port 0 for the
//! default), that plans are empty after apply, that the password never
//! reaches the state, drift, re-creation, moves, import and error paths.

#![allow(clippy::unwrap_used)] // test helpers may panic: that is how a test fails

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use giif_agent::error::ApiError;
use giif_agent::init::{init, InitOptions};
use giif_agent::pki::{read_pem_file, server_tls_config};
use giif_proto::agent as api;
use giif_proto::agent::agent_server::{Agent, AgentServer};
use giif_proto::tls_incoming::tls_incoming;
use giif_tests::free_port;
use giif_tests::terraform::Workspace;
use tonic::{Request, Response, Status};

#[derive(Default)]
struct Connections {
    next_id: u64,
    /// By id: the spec as stored (no password) and the password.
    stored: BTreeMap<String, (api::GuacamoleConnectionSpec, Option<String>)>,
    creates: Vec<api::CreateGuacamoleConnectionRequest>,
    updates: Vec<api::UpdateGuacamoleConnectionRequest>,
}

#[derive(Clone, Default)]
struct FakeAgent {
    connections: Arc<Mutex<Connections>>,
}

fn answer(id: &str, spec: &api::GuacamoleConnectionSpec) -> api::GuacamoleConnection {
    api::GuacamoleConnection {
        id: id.to_string(),
        spec: Some(spec.clone()),
        client_url: format!("https://guacamole.test/#/client/{id}"),
        parent_group_id: if spec.project_id.is_empty() {
            spec.parent_group_id.clone()
        } else {
            "3".into()
        },
    }
}

/// What the agent keeps: the password apart, users sorted, and the
/// protocol's port written out (as an agent writing VNC connections does).
fn stored(
    mut spec: api::GuacamoleConnectionSpec,
) -> Result<api::GuacamoleConnectionSpec, ApiError> {
    if let Some(ghost) = spec.users.iter().find(|u| u.starts_with("ghost")) {
        return Err(
            ApiError::not_found(format!("Guacamole has no user {ghost:?}"))
                .field("spec.users")
                .subject(ghost.clone())
                .hint("Create the user in Guacamole, or remove it from users."),
        );
    }
    spec.password = None;
    spec.users.sort();
    spec.user_groups.sort();
    if spec.port == 0 && spec.resource_id.is_empty() {
        spec.port = u32::from(giif_proto::guacamole::default_port(&spec.protocol).unwrap());
    }
    Ok(spec)
}

/// The agent API, with every call but the Guacamole connections' refused.
macro_rules! agent_impl {
    (unimplemented { $($name:ident($request:ty) -> $response:ty;)* } $($implemented:item)*) => {
        #[tonic::async_trait]
        impl Agent for FakeAgent {
            $(
                async fn $name(&self, _: Request<$request>) -> Result<Response<$response>, Status> {
                    Err(Status::unimplemented(stringify!($name)))
                }
            )*
            $($implemented)*
        }
    };
}

agent_impl! {
    unimplemented {
        get_agent_info(api::GetAgentInfoRequest) -> api::AgentInfo;
        create_project(api::CreateProjectRequest) -> api::Project;
        get_project(api::GetProjectRequest) -> api::Project;
        get_projects(api::GetProjectsRequest) -> api::GetProjectsResponse;
        list_projects(api::ListProjectsRequest) -> api::ListProjectsResponse;
        list_objects(api::ListObjectsRequest) -> api::ListObjectsResponse;
        update_project(api::UpdateProjectRequest) -> api::Project;
        delete_project(api::DeleteProjectRequest) -> api::DeleteProjectResponse;
        list_vlan_pools(api::ListVlanPoolsRequest) -> api::ListVlanPoolsResponse;
        create_gateway(api::CreateGatewayRequest) -> api::Gateway;
        get_gateway(api::GetGatewayRequest) -> api::Gateway;
        update_gateway(api::UpdateGatewayRequest) -> api::Gateway;
        delete_gateway(api::DeleteGatewayRequest) -> api::DeleteGatewayResponse;
        create_floating_ip(api::CreateFloatingIpRequest) -> api::FloatingIp;
        get_floating_ip(api::GetFloatingIpRequest) -> api::FloatingIp;
        update_floating_ip(api::UpdateFloatingIpRequest) -> api::FloatingIp;
        delete_floating_ip(api::DeleteFloatingIpRequest) -> api::DeleteFloatingIpResponse;
        list_pagw_slots(api::ListPagwSlotsRequest) -> api::ListPagwSlotsResponse;
        list_iso_images(api::ListIsoImagesRequest) -> api::ListIsoImagesResponse;
        create_vm(api::CreateVmRequest) -> api::Vm;
        get_vm(api::GetVmRequest) -> api::Vm;
        update_vm(api::UpdateVmRequest) -> api::Vm;
        delete_vm(api::DeleteVmRequest) -> api::DeleteVmResponse;
        create_bms_assignment(api::CreateBmsAssignmentRequest) -> api::BmsAssignment;
        get_bms_assignment(api::GetBmsAssignmentRequest) -> api::BmsAssignment;
        update_bms_assignment(api::UpdateBmsAssignmentRequest) -> api::BmsAssignment;
        delete_bms_assignment(api::DeleteBmsAssignmentRequest) -> api::DeleteBmsAssignmentResponse;
        list_bms(api::ListBmsRequest) -> api::ListBmsResponse;
    }

    type RunActionStream = std::pin::Pin<
        Box<dyn tokio_stream::Stream<Item = Result<api::ActionProgress, Status>> + Send>,
    >;

    async fn run_action(
        &self,
        _: Request<api::RunActionRequest>,
    ) -> Result<Response<Self::RunActionStream>, Status> {
        Err(Status::unimplemented("run_action"))
    }

    async fn create_guacamole_connection(
        &self,
        request: Request<api::CreateGuacamoleConnectionRequest>,
    ) -> Result<Response<api::GuacamoleConnection>, Status> {
        let request = request.into_inner();
        let mut connections = self.connections.lock().unwrap();
        connections.creates.push(request.clone());
        let spec = request.spec.unwrap_or_default();
        let password = spec.password.clone();
        let spec = stored(spec)?;
        connections.next_id += 1;
        let id = (41 + connections.next_id).to_string();
        connections.stored.insert(id.clone(), (spec.clone(), password));
        Ok(Response::new(answer(&id, &spec)))
    }

    async fn get_guacamole_connection(
        &self,
        request: Request<api::GetGuacamoleConnectionRequest>,
    ) -> Result<Response<api::GuacamoleConnection>, Status> {
        let id = request.into_inner().id;
        let connections = self.connections.lock().unwrap();
        match connections.stored.get(&id) {
            Some((spec, _)) => Ok(Response::new(answer(&id, spec))),
            None => Err(ApiError::not_found(format!("no Guacamole connection {id}")).into()),
        }
    }

    async fn update_guacamole_connection(
        &self,
        request: Request<api::UpdateGuacamoleConnectionRequest>,
    ) -> Result<Response<api::GuacamoleConnection>, Status> {
        let request = request.into_inner();
        let mut connections = self.connections.lock().unwrap();
        connections.updates.push(request.clone());
        let spec = request.spec.unwrap_or_default();
        let new_password = spec.password.clone();
        let spec = stored(spec)?;
        let Some((kept, password)) = connections.stored.get_mut(&request.id) else {
            return Err(ApiError::not_found(format!("no Guacamole connection {}", request.id)).into());
        };
        *kept = spec.clone();
        if request.set_password {
            *password = new_password;
        }
        Ok(Response::new(answer(&request.id, &spec)))
    }

    async fn delete_guacamole_connection(
        &self,
        request: Request<api::DeleteGuacamoleConnectionRequest>,
    ) -> Result<Response<api::DeleteGuacamoleConnectionResponse>, Status> {
        let id = request.into_inner().id;
        let existed = self.connections.lock().unwrap().stored.remove(&id).is_some();
        Ok(Response::new(api::DeleteGuacamoleConnectionResponse { existed }))
    }
}

impl FakeAgent {
    fn with<T>(&self, f: impl FnOnce(&mut Connections) -> T) -> T {
        f(&mut self.connections.lock().unwrap())
    }
}

/// Serves the fake agent over the agent's own mTLS; returns terraform's
/// environment for it (and the directory holding its certificates).
async fn serve(fake: FakeAgent) -> (Vec<(String, String)>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let made = init(&InitOptions {
        dir: dir.path().join("agent"),
        listen: format!("127.0.0.1:{}", free_port()),
        hosts: vec![],
        store: None,
    })
    .await
    .unwrap();
    let config = giif_agent::config::AgentConfig::load(&made.config_path).unwrap();
    let tls = server_tls_config(
        &read_pem_file(&config.tls.ca_cert).unwrap(),
        &read_pem_file(&config.tls.server_cert).unwrap(),
        &read_pem_file(&config.tls.server_key).unwrap(),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind(&made.endpoint).await.unwrap();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(AgentServer::new(fake))
            .serve_with_incoming(tls_incoming(
                listener,
                tls,
                giif_proto::tls_incoming::HANDSHAKE_TIMEOUT,
            ))
            .await
    });
    let path = |p: &std::path::Path| p.display().to_string();
    let env = vec![
        ("GIIF_ENDPOINT".to_string(), made.endpoint.clone()),
        ("GIIF_CA_CERT".to_string(), path(&made.ca_cert)),
        ("GIIF_CLIENT_CERT".to_string(), path(&made.client_cert)),
        ("GIIF_CLIENT_KEY".to_string(), path(&made.client_key)),
    ];
    (env, dir)
}

/// The connection, with the password given by an ephemeral variable (set
/// in terraform.tfvars) and the other settings as given.
fn config(group: &str, version: u32, parameters: &str, users: &str) -> String {
    format!(
        r#"
variable "console_password" {{
  type      = string
  sensitive = true
  ephemeral = true
}}

resource "giif_guacamole_connection" "desk" {{
  name             = "student01 desktop"
  {group}
  protocol         = "vnc"
  hostname         = "192.168.212.140"
  parameters       = {{ {parameters} }}
  password         = var.console_password
  password_version = {version}
  users            = [{users}]
}}

output "id" {{
  value = giif_guacamole_connection.desk.id
}}

output "client_url" {{
  value = giif_guacamole_connection.desk.client_url
}}
"#
    )
}

fn set_password(ws: &Workspace, password: &str) {
    std::fs::write(
        ws.path().join("terraform.tfvars"),
        format!("console_password = \"{password}\"\n"),
    )
    .unwrap();
}

fn output(ws: &Workspace, name: &str) -> String {
    ws.outputs()[name]["value"].as_str().unwrap().to_string()
}

fn state_text(ws: &Workspace) -> String {
    std::fs::read_to_string(ws.path().join("terraform.tfstate")).unwrap()
}

const PROJECT: &str = "project_id       = \"prj-1\"";
const COLOR: &str = "\"color-depth\" = \"24\"";

#[tokio::test(flavor = "multi_thread")]
async fn create_update_password_move_drift_recreate_import_destroy() {
    let fake = FakeAgent::default();
    let (env, _certs) = serve(fake.clone()).await;
    let ws = Workspace::with_env(env, &config(PROJECT, 1, COLOR, "\"zed\", \"amy\""));
    set_password(&ws, "s3cret-1");

    // Create: the password from the configuration, a null port as 0,
    // users sorted; the plan never shows the password.
    let run = ws.ok(&["plan", "-input=false"]);
    assert!(
        run.stdout
            .contains("password         = (write-only attribute)"),
        "{}",
        run.stdout
    );
    ws.apply();
    let id = output(&ws, "id");
    assert_eq!(
        output(&ws, "client_url"),
        format!("https://guacamole.test/#/client/{id}")
    );
    let create = fake.with(|c| c.creates.last().cloned().unwrap());
    let spec = create.spec.unwrap();
    assert_eq!(spec.password.as_deref(), Some("s3cret-1"));
    assert_eq!(spec.port, 0);
    assert_eq!(spec.users, ["amy", "zed"]);
    assert_eq!(spec.project_id, "prj-1");
    assert_eq!(spec.parameters["color-depth"], "24");
    assert!(!create.request_id.is_empty());
    // The password is nowhere in the state; the agent's 5900 reads as the
    // default the configuration asked for.
    let state = state_text(&ws);
    assert!(!state.contains("s3cret"), "{state}");
    let (empty, run) = ws.plan_is_empty();
    assert!(empty, "plan after apply is not empty:\n{}", run.all());

    // A new password alone changes nothing: write-only values have no diff.
    set_password(&ws, "s3cret-2");
    assert!(ws.plan_is_empty().0);

    // A new password_version sends it.
    ws.write(&config(PROJECT, 2, COLOR, "\"zed\", \"amy\""));
    let (empty, run) = ws.plan_is_empty();
    assert!(
        !empty && run.stdout.contains("update in-place"),
        "{}",
        run.stdout
    );
    ws.apply();
    let update = fake.with(|c| c.updates.last().cloned().unwrap());
    assert!(update.set_password);
    assert_eq!(update.id, id);
    assert_eq!(update.spec.unwrap().password.as_deref(), Some("s3cret-2"));
    assert_eq!(
        fake.with(|c| c.stored[&id].1.clone()).as_deref(),
        Some("s3cret-2")
    );
    assert!(ws.plan_is_empty().0);

    // Other changes leave the password alone.
    let parameters = format!("{COLOR}, \"read-only\" = \"true\"");
    ws.write(&config(PROJECT, 2, &parameters, "\"zed\", \"amy\""));
    ws.apply();
    let update = fake.with(|c| c.updates.last().cloned().unwrap());
    assert!(!update.set_password);
    assert_eq!(update.spec.unwrap().password, None);
    assert_eq!(
        fake.with(|c| c.stored[&id].1.clone()).as_deref(),
        Some("s3cret-2")
    );
    assert!(ws.plan_is_empty().0);

    // Moving to an explicit group is in place: same id.
    let group = "parent_group_id  = \"7\"";
    ws.write(&config(group, 2, &parameters, "\"zed\", \"amy\""));
    let (_, run) = ws.plan_is_empty();
    assert!(run.stdout.contains("update in-place"), "{}", run.stdout);
    assert!(!run.stdout.contains("forces replacement"), "{}", run.stdout);
    ws.apply();
    assert_eq!(output(&ws, "id"), id);
    let moved = fake.with(|c| c.stored[&id].0.clone());
    assert_eq!(
        (moved.project_id.as_str(), moved.parent_group_id.as_str()),
        ("", "7")
    );
    assert!(ws.plan_is_empty().0);

    // Edited in the Guacamole UI: the refresh shows it, apply puts it back.
    fake.with(|c| {
        let spec = &mut c.stored.get_mut(&id).unwrap().0;
        spec.parameters.insert("color-depth".into(), "16".into());
        spec.port = 5901;
    });
    let (empty, run) = ws.plan_is_empty();
    assert!(!empty, "{}", run.stdout);
    assert!(run.stdout.contains("\"16\" -> \"24\""), "{}", run.stdout);
    assert!(run.stdout.contains("5901 -> null"), "{}", run.stdout);
    ws.apply();
    assert_eq!(fake.with(|c| c.stored[&id].0.port), 5900);
    assert!(ws.plan_is_empty().0);

    // Deleted in the Guacamole UI: a clean re-create, password included.
    fake.with(|c| c.stored.remove(&id));
    let (_, run) = ws.plan_is_empty();
    assert!(
        run.stdout
            .contains("Plan: 1 to add, 0 to change, 0 to destroy"),
        "{}",
        run.stdout
    );
    ws.apply();
    let new_id = output(&ws, "id");
    assert_ne!(new_id, id);
    assert_eq!(
        fake.with(|c| c.stored[&new_id].1.clone()).as_deref(),
        Some("s3cret-2")
    );
    assert!(ws.plan_is_empty().0);

    // Import by id: everything but the password comes back; the version,
    // which the agent does not keep, makes one update that sends it.
    ws.ok(&["state", "rm", "giif_guacamole_connection.desk"]);
    ws.ok(&[
        "import",
        "-input=false",
        "giif_guacamole_connection.desk",
        &new_id,
    ]);
    let (empty, run) = ws.plan_is_empty();
    assert!(!empty, "{}", run.stdout);
    assert!(
        run.stdout.contains("+ password_version = 2"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("1 to change"), "{}", run.stdout);
    ws.apply();
    assert!(fake.with(|c| c.updates.last().unwrap().set_password));
    assert!(ws.plan_is_empty().0);
    assert!(!state_text(&ws).contains("s3cret"));

    // Destroy.
    ws.ok(&["destroy", "-auto-approve", "-input=false"]);
    assert!(fake.with(|c| c.stored.is_empty()));
}

#[tokio::test(flavor = "multi_thread")]
async fn agent_errors_point_at_the_attribute_and_gone_ids_do_not_import() {
    let fake = FakeAgent::default();
    let (env, _certs) = serve(fake.clone()).await;
    let ws = Workspace::with_env(env, &config(PROJECT, 1, COLOR, "\"ghost01\""));
    set_password(&ws, "s3cret-1");
    let run = ws.run(&["apply", "-auto-approve", "-input=false"]);
    assert!(!run.success, "{}", run.all());
    let text = run.flat();
    assert!(
        text.contains("Error: Cannot create the Guacamole connection"),
        "{text}"
    );
    assert!(text.contains("Guacamole has no user \"ghost01\""), "{text}");
    assert!(text.contains("Create the user in Guacamole"), "{text}");
    // Terraform shows the line of the attribute the agent named.
    assert!(text.contains("users            = [\"ghost01\"]"), "{text}");
    assert!(fake.with(|c| c.stored.is_empty()));

    let run = ws.run(&[
        "import",
        "-input=false",
        "giif_guacamole_connection.desk",
        "999",
    ]);
    assert!(!run.success);
    let text = run.flat();
    assert!(
        text.contains("Guacamole has no connection with the id \"999\""),
        "{text}"
    );
}
