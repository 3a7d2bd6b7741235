//! Agent errors as the provider sees them: the machine-readable reason the
//! agent sent, and how to turn it into a diagnostic.

use giif_proto::agent::{error_detail, ErrorDetail};
use prost::Message;

use crate::diag::{AttrPath, Diagnostic};

pub use error_detail::Reason;

#[derive(Clone, Debug)]
pub struct AgentError {
    pub reason: Reason,
    pub message: String,
    /// The request field at fault, such as `spec.name`.
    pub field: String,
    pub hint: String,
    pub retryable: bool,
    pub subject: String,
}

impl std::fmt::Display for AgentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.message)
    }
}

/// How an answer of gRPC "unimplemented" starts: the agent predates the call.
const UNIMPLEMENTED: &str = "this giif-agent does not implement the call";

impl AgentError {
    /// An error the provider itself raises about a call, with no field or hint.
    pub fn local(reason: Reason, subject: &str, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
            field: String::new(),
            hint: String::new(),
            retryable: false,
            subject: subject.to_string(),
        }
    }

    /// Whether the status came from the connection, not from the agent's
    /// answer (no error detail): the call may or may not have been served.
    pub fn is_transport(status: &tonic::Status) -> bool {
        ErrorDetail::decode(status.details())
            .map_or(true, |detail| detail.reason == Reason::Unspecified as i32)
    }

    pub fn from_status(status: &tonic::Status) -> Self {
        if let Ok(detail) = ErrorDetail::decode(status.details()) {
            if detail.reason != Reason::Unspecified as i32 {
                return Self {
                    reason: Reason::try_from(detail.reason).unwrap_or(Reason::Internal),
                    message: status.message().to_string(),
                    field: detail.field,
                    hint: detail.hint,
                    retryable: detail.retryable,
                    subject: detail.subject,
                };
            }
        }
        if status.code() == tonic::Code::Unimplemented {
            return Self {
                reason: Reason::Internal,
                message: format!("{UNIMPLEMENTED} ({})", status.message()),
                field: String::new(),
                hint: "The agent is older than the provider. Upgrade giif-agent to the provider's version.".into(),
                retryable: false,
                subject: String::new(),
            };
        }
        // No detail: a transport or gateway failure, not the agent's answer.
        let transient = matches!(
            status.code(),
            tonic::Code::Unavailable | tonic::Code::ResourceExhausted | tonic::Code::Aborted
        );
        Self {
            reason: if transient {
                Reason::Transient
            } else {
                Reason::Internal
            },
            message: format!(
                "the agent could not be reached or failed: {}",
                status.message()
            ),
            field: String::new(),
            hint: if transient {
                "Check that giif-agent is running and reachable at the provider's endpoint.".into()
            } else {
                String::new()
            },
            retryable: transient,
            subject: String::new(),
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.reason == Reason::NotFound
    }

    /// The agent is older than the call (gRPC "unimplemented").
    pub fn is_unimplemented(&self) -> bool {
        self.reason == Reason::Internal && self.message.starts_with(UNIMPLEMENTED)
    }

    /// A diagnostic whose summary names what went wrong and whose detail
    /// says what to do; pointed at the attribute when the agent named one.
    pub fn to_diagnostic(&self, summary: impl Into<String>) -> Diagnostic {
        let mut summary = summary.into();
        // A refusal says so first: no retry or change of configuration helps,
        // only someone granting a role, a quota or a new identity.
        match self.reason {
            Reason::PermissionDenied => summary.push_str(": permission denied"),
            Reason::QuotaExceeded => summary.push_str(": quota exceeded"),
            Reason::Unauthenticated => {
                summary.push_str(": the agent does not accept this identity")
            }
            _ => {}
        }
        let mut detail = self.message.clone();
        if !self.hint.is_empty() {
            detail.push_str("\n\n");
            detail.push_str(&self.hint);
        }
        let diagnostic = Diagnostic::error(summary, detail);
        // `spec.cloud_init.ip`, `spec.parameters["color-depth"]`: the path
        // below the spec is the attribute's path.
        match self.field.strip_prefix("spec.").and_then(AttrPath::parse) {
            Some(path) => diagnostic.at(path),
            None => diagnostic,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_agent_says_so() {
        let err = AgentError::from_status(&tonic::Status::unimplemented(
            "guacamole connections are being built",
        ));
        assert!(!err.retryable);
        assert!(err.is_unimplemented());
        assert!(err.message.contains("does not implement"), "{err}");
        let diagnostic = err.to_diagnostic("Cannot create the Guacamole connection");
        assert!(diagnostic.detail.contains("Upgrade giif-agent"));
        assert_eq!(diagnostic.path, None);
    }

    #[test]
    fn a_refusal_names_the_principal_the_action_and_who_can_grant_it() {
        let detail = ErrorDetail {
            reason: Reason::PermissionDenied as i32,
            hint: "Only the project's owner, its managers and the operators may.".into(),
            ..Default::default()
        };
        let status = tonic::Status::with_details(
            tonic::Code::PermissionDenied,
            "bob (user) may not delete a VM (DeleteVm) in project prj-1 as its member",
            detail.encode_to_vec().into(),
        );
        let error = AgentError::from_status(&status);
        assert!(!error.retryable);
        let diagnostic = error.to_diagnostic("Cannot delete the VM");
        assert_eq!(
            diagnostic.summary,
            "Cannot delete the VM: permission denied"
        );
        assert!(diagnostic.detail.contains("bob (user) may not delete a VM"));
        assert!(diagnostic
            .detail
            .contains("owner, its managers and the operators"));
    }

    #[test]
    fn fields_below_the_spec_are_attribute_paths() {
        let detail = ErrorDetail {
            reason: Reason::InvalidArgument as i32,
            field: "spec.cloud_init.ip".into(),
            ..Default::default()
        };
        let status = tonic::Status::with_details(
            tonic::Code::InvalidArgument,
            "bad address",
            detail.encode_to_vec().into(),
        );
        let diagnostic = AgentError::from_status(&status).to_diagnostic("Cannot create the VM");
        assert_eq!(
            diagnostic.path,
            Some(AttrPath::attr("cloud_init").then_attr("ip"))
        );
    }
}
