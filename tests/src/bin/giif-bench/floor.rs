//! The protocol floor: a tfplugin6 provider (`floor`) with one resource,
//! `floor_project`, whose schema is `giif_project`'s own, that answers
//! every call by handing Terraform's values back, decoding nothing and
//! keeping nothing (its computed attributes stay null). With the same
//! schema Terraform does the same work per resource on both sides, so what
//! remains of the floor's time is Terraform and the plugin protocol itself:
//! starting a process, the handshake, gRPC and TLS, the calls per resource.
//! `giif-bench` serves it when started under the name
//! `terraform-provider-floor`, as Terraform starts it through a
//! `dev_overrides` directory holding a link.

use std::path::PathBuf;

use giif_tests::terraform::Workspace;

use anyhow::{Context, Result};
use giif_proto::tfplugin6 as tf;
use tf::provider_server::Provider;
use tonic::{Request, Response, Status};

/// The executable name Terraform starts; `main` serves the floor under it.
pub const EXECUTABLE: &str = "terraform-provider-floor";
/// The provider's source address.
pub const ADDRESS: &str = "registry.terraform.io/giif/floor";
const TYPE: &str = "floor_project";
/// The giif resource whose schema the floor serves.
const SCHEMA_OF: &str = "giif_project";

pub fn is_invoked_as_floor() -> bool {
    std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n == EXECUTABLE))
        .unwrap_or(false)
}

/// Serves the floor to Terraform, as any provider does.
pub fn serve() -> i32 {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("{EXECUTABLE}: {err}");
            return 1;
        }
    };
    let mode = giif_provider::plugin::ServeMode::Plugin {
        client_cert_pem: std::env::var("PLUGIN_CLIENT_CERT")
            .ok()
            .filter(|c| !c.is_empty()),
    };
    match runtime.block_on(giif_provider::plugin::serve(Floor, mode)) {
        Ok(()) => 0,
        Err(err) => {
            eprintln!("{EXECUTABLE}: {err}");
            1
        }
    }
}

/// A directory holding `terraform-provider-floor`, a link to this binary.
pub struct FloorInstall {
    pub dir: tempfile::TempDir,
}

impl FloorInstall {
    pub fn new() -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let me = std::env::current_exe().context("the bench's own path")?;
        std::os::unix::fs::symlink(&me, dir.path().join(EXECUTABLE))?;
        Ok(Self { dir })
    }

    /// Points `workspace`'s CLI configuration at the floor instead of giif,
    /// and gives it `count` floor things.
    pub fn configure(&self, workspace: &Workspace, count: usize) -> Result<()> {
        let overrides = format!(
            "provider_installation {{\n  dev_overrides {{\n    \"{ADDRESS}\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
            self.dir.path().display()
        );
        std::fs::write(workspace.path().join("terraform.rc"), overrides)?;
        workspace.write_exact(&config(count));
        Ok(())
    }
}

fn config(count: usize) -> String {
    format!(
        r#"terraform {{
  required_providers {{
    floor = {{
      source = "{ADDRESS}"
    }}
  }}
}}

resource "floor_project" "p" {{
  count = {count}
  name  = "bench-${{count.index}}"
}}
"#
    )
}

struct Floor;

fn schema() -> Option<tf::Schema> {
    let service = giif_provider::server::ProviderService::new();
    service
        .registry()
        .resources
        .iter()
        .find(|r| r.type_name() == SCHEMA_OF)
        .map(|r| r.schema().to_proto())
}

fn not_served(what: &str) -> Status {
    Status::unimplemented(format!("the floor provider has no {what}"))
}

type NoEvents<T> = std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl Provider for Floor {
    async fn get_metadata(
        &self,
        _: Request<tf::get_metadata::Request>,
    ) -> Result<Response<tf::get_metadata::Response>, Status> {
        Ok(Response::new(tf::get_metadata::Response {
            server_capabilities: Some(capabilities()),
            resources: vec![tf::get_metadata::ResourceMetadata {
                type_name: TYPE.into(),
            }],
            ..Default::default()
        }))
    }

    async fn get_provider_schema(
        &self,
        _: Request<tf::get_provider_schema::Request>,
    ) -> Result<Response<tf::get_provider_schema::Response>, Status> {
        Ok(Response::new(tf::get_provider_schema::Response {
            provider: Some(tf::Schema {
                version: 0,
                block: Some(Default::default()),
            }),
            resource_schemas: [(
                TYPE.to_string(),
                schema().ok_or_else(|| {
                    Status::internal(format!("the giif provider has no {SCHEMA_OF}"))
                })?,
            )]
            .into(),
            server_capabilities: Some(capabilities()),
            ..Default::default()
        }))
    }

    async fn get_resource_identity_schemas(
        &self,
        _: Request<tf::get_resource_identity_schemas::Request>,
    ) -> Result<Response<tf::get_resource_identity_schemas::Response>, Status> {
        Ok(Response::new(Default::default()))
    }

    async fn validate_provider_config(
        &self,
        _: Request<tf::validate_provider_config::Request>,
    ) -> Result<Response<tf::validate_provider_config::Response>, Status> {
        Ok(Response::new(Default::default()))
    }

    async fn validate_resource_config(
        &self,
        _: Request<tf::validate_resource_config::Request>,
    ) -> Result<Response<tf::validate_resource_config::Response>, Status> {
        Ok(Response::new(Default::default()))
    }

    async fn validate_data_resource_config(
        &self,
        _: Request<tf::validate_data_resource_config::Request>,
    ) -> Result<Response<tf::validate_data_resource_config::Response>, Status> {
        Err(not_served("data sources"))
    }

    async fn upgrade_resource_state(
        &self,
        request: Request<tf::upgrade_resource_state::Request>,
    ) -> Result<Response<tf::upgrade_resource_state::Response>, Status> {
        let json = request.into_inner().raw_state.unwrap_or_default().json;
        Ok(Response::new(tf::upgrade_resource_state::Response {
            upgraded_state: Some(tf::DynamicValue {
                msgpack: Vec::new(),
                json,
            }),
            diagnostics: Vec::new(),
        }))
    }

    async fn upgrade_resource_identity(
        &self,
        _: Request<tf::upgrade_resource_identity::Request>,
    ) -> Result<Response<tf::upgrade_resource_identity::Response>, Status> {
        Err(not_served("identities"))
    }

    async fn configure_provider(
        &self,
        _: Request<tf::configure_provider::Request>,
    ) -> Result<Response<tf::configure_provider::Response>, Status> {
        Ok(Response::new(Default::default()))
    }

    async fn read_resource(
        &self,
        request: Request<tf::read_resource::Request>,
    ) -> Result<Response<tf::read_resource::Response>, Status> {
        let request = request.into_inner();
        Ok(Response::new(tf::read_resource::Response {
            new_state: request.current_state,
            private: request.private,
            ..Default::default()
        }))
    }

    async fn plan_resource_change(
        &self,
        request: Request<tf::plan_resource_change::Request>,
    ) -> Result<Response<tf::plan_resource_change::Response>, Status> {
        Ok(Response::new(tf::plan_resource_change::Response {
            planned_state: request.into_inner().proposed_new_state,
            ..Default::default()
        }))
    }

    async fn apply_resource_change(
        &self,
        request: Request<tf::apply_resource_change::Request>,
    ) -> Result<Response<tf::apply_resource_change::Response>, Status> {
        Ok(Response::new(tf::apply_resource_change::Response {
            new_state: request.into_inner().planned_state,
            ..Default::default()
        }))
    }

    async fn import_resource_state(
        &self,
        _: Request<tf::import_resource_state::Request>,
    ) -> Result<Response<tf::import_resource_state::Response>, Status> {
        Err(not_served("import"))
    }

    async fn read_data_source(
        &self,
        _: Request<tf::read_data_source::Request>,
    ) -> Result<Response<tf::read_data_source::Response>, Status> {
        Err(not_served("data sources"))
    }

    type ListResourceStream = NoEvents<tf::list_resource::Event>;

    async fn list_resource(
        &self,
        _: Request<tf::list_resource::Request>,
    ) -> Result<Response<Self::ListResourceStream>, Status> {
        Err(not_served("list resources"))
    }

    async fn validate_list_resource_config(
        &self,
        _: Request<tf::validate_list_resource_config::Request>,
    ) -> Result<Response<tf::validate_list_resource_config::Response>, Status> {
        Err(not_served("list resources"))
    }

    async fn validate_action_config(
        &self,
        _: Request<tf::validate_action_config::Request>,
    ) -> Result<Response<tf::validate_action_config::Response>, Status> {
        Err(not_served("actions"))
    }

    async fn plan_action(
        &self,
        _: Request<tf::plan_action::Request>,
    ) -> Result<Response<tf::plan_action::Response>, Status> {
        Err(not_served("actions"))
    }

    type InvokeActionStream = NoEvents<tf::invoke_action::Event>;

    async fn invoke_action(
        &self,
        _: Request<tf::invoke_action::Request>,
    ) -> Result<Response<Self::InvokeActionStream>, Status> {
        Err(not_served("actions"))
    }

    async fn stop_provider(
        &self,
        _: Request<tf::stop_provider::Request>,
    ) -> Result<Response<tf::stop_provider::Response>, Status> {
        Ok(Response::new(Default::default()))
    }
}

fn capabilities() -> tf::ServerCapabilities {
    tf::ServerCapabilities {
        get_provider_schema_optional: true,
        ..Default::default()
    }
}
