//! ValidateActionConfig, PlanAction and InvokeAction (Terraform 1.14
//! onwards). Terraform sends an action's `config` block as it is; the
//! progress the agent streams is handed on as it comes, and the end is one
//! Completed event whose diagnostics carry the device's reason.

use std::pin::Pin;
use std::time::Duration;

use giif_proto::agent as api;
use giif_proto::tfplugin6 as tf;
use tf::invoke_action::event::{Completed, Progress, Type as EventType};
use tokio::sync::mpsc;
use tokio_stream::{Stream, StreamExt};
use tonic::Status;

use super::values::decode;
use super::{unknown_type, ProviderService};
use crate::actions::ActionType;
use crate::diag::{Diagnostic, Diagnostics};
use crate::schema::validate_config;
use crate::tfvalue::Value;

pub type Events = Pin<Box<dyn Stream<Item = Result<tf::invoke_action::Event, Status>> + Send>>;

/// How long an action may run: a boot from an image waits for two power
/// changes, each up to a few minutes on slow BMCs.
const TIMEOUT: Duration = Duration::from_secs(30 * 60);

fn action_type<'a>(
    service: &'a ProviderService,
    name: &str,
) -> Result<&'a ActionType, Diagnostics> {
    service
        .registry()
        .actions
        .iter()
        .find(|a| a.type_name == name)
        .ok_or_else(|| unknown_type("action", name))
}

/// The configuration, checked against the action's schema.
fn checked_config(
    service: &ProviderService,
    name: &str,
    config: Option<&tf::DynamicValue>,
) -> Result<(Value, &'static str), Diagnostics> {
    let action = action_type(service, name)?;
    let schema: &'static crate::schema::Schema = action.schema;
    let config = decode(config, &schema.value_type(), "action configuration")?;
    let diags = validate_config(schema, &config);
    if diags.has_errors() {
        return Err(diags);
    }
    Ok((config, action.type_name))
}

/// The diagnostics of a configuration's checks.
fn diagnostics(
    service: &ProviderService,
    name: &str,
    config: Option<&tf::DynamicValue>,
) -> Vec<tf::Diagnostic> {
    checked_config(service, name, config)
        .err()
        .unwrap_or_default()
        .to_proto()
}

pub fn validate(
    service: &ProviderService,
    request: tf::validate_action_config::Request,
) -> tf::validate_action_config::Response {
    tf::validate_action_config::Response {
        diagnostics: diagnostics(service, &request.action_type, request.config.as_ref()),
    }
}

/// An action has nothing to plan but its configuration's checks; it is
/// never deferred.
pub fn plan(
    service: &ProviderService,
    request: tf::plan_action::Request,
) -> tf::plan_action::Response {
    tf::plan_action::Response {
        diagnostics: diagnostics(service, &request.action_type, request.config.as_ref()),
        deferred: None,
    }
}

pub async fn invoke(service: &ProviderService, request: tf::invoke_action::Request) -> Events {
    let (sender, receiver) = mpsc::unbounded_channel();
    let started = async {
        let (config, type_name) =
            checked_config(service, &request.action_type, request.config.as_ref())?;
        if !config.is_wholly_known() {
            return Err(Diagnostics::from(Diagnostic::error(
                "Action configuration not known",
                "An action runs only with a wholly known configuration; Terraform sent unknown values.",
            )));
        }
        let action = action_type(service, type_name)?;
        let agent = service.agent().await?;
        let request = api::RunActionRequest {
            request_id: uuid::Uuid::new_v4().to_string(),
            action: Some((action.request)(&config)),
        };
        agent
            .run_action(request, TIMEOUT)
            .await
            .map_err(|err| Diagnostics::from(err.to_diagnostic("The action was refused")))
    }
    .await;
    match started {
        Err(diags) => {
            let _ = sender.send(Ok(completed(diags)));
        }
        Ok(mut stream) => {
            tokio::spawn(async move {
                let diags = loop {
                    match stream.next().await {
                        None => break Diagnostics::default(),
                        Some(Ok(progress)) => {
                            let event = EventType::Progress(Progress {
                                message: progress.message,
                            });
                            let _ = sender.send(Ok(tf::invoke_action::Event {
                                r#type: Some(event),
                            }));
                        }
                        Some(Err(status)) => {
                            let err = crate::agent::AgentError::from_status(&status);
                            break err.to_diagnostic("The action failed").into();
                        }
                    }
                };
                let _ = sender.send(Ok(completed(diags)));
            });
        }
    }
    Box::pin(tokio_stream::wrappers::UnboundedReceiverStream::new(
        receiver,
    ))
}

fn completed(diags: Diagnostics) -> tf::invoke_action::Event {
    tf::invoke_action::Event {
        r#type: Some(EventType::Completed(Completed {
            diagnostics: diags.to_proto(),
        })),
    }
}
