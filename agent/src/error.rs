//! API errors: a machine-readable reason, the field at fault, and a hint
//! that says what to do. They become gRPC statuses carrying an ErrorDetail.

use giif_proto::agent::{error_detail::Reason, ErrorDetail};
use prost::Message;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub reason: Reason,
    pub message: String,
    pub field: String,
    pub hint: String,
    pub subject: String,
}

impl ApiError {
    fn new(reason: Reason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
            field: String::new(),
            hint: String::new(),
            subject: String::new(),
        }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(Reason::NotFound, message)
    }
    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(Reason::AlreadyExists, message)
    }
    pub fn pool_exhausted(message: impl Into<String>) -> Self {
        Self::new(Reason::PoolExhausted, message)
    }
    pub fn precondition(message: impl Into<String>) -> Self {
        Self::new(Reason::PreconditionFailed, message)
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(Reason::InvalidArgument, message)
    }
    pub fn transient(message: impl Into<String>) -> Self {
        Self::new(Reason::Transient, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Reason::Internal, message)
    }
    pub fn permission_denied(message: impl Into<String>) -> Self {
        Self::new(Reason::PermissionDenied, message)
    }
    pub fn quota_exceeded(message: impl Into<String>) -> Self {
        Self::new(Reason::QuotaExceeded, message)
    }
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(Reason::Unauthenticated, message)
    }
    pub fn field(mut self, field: &str) -> Self {
        self.field = field.to_string();
        self
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = hint.into();
        self
    }
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = subject.into();
        self
    }

    pub fn retryable(&self) -> bool {
        self.reason == Reason::Transient
    }

    /// The error as the operations journal keeps it.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "reason": self.reason.as_str_name(),
            "message": self.message,
            "field": self.field,
            "hint": self.hint,
            "subject": self.subject,
        })
        .to_string()
    }

    /// An error the journal kept; text that is not such JSON becomes an
    /// internal error with that text.
    pub fn from_json(text: &str) -> Self {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
            return Self::internal(text);
        };
        let get = |key: &str| value[key].as_str().unwrap_or_default().to_string();
        Self {
            reason: Reason::from_str_name(&get("reason")).unwrap_or(Reason::Internal),
            message: get("message"),
            field: get("field"),
            hint: get("hint"),
            subject: get("subject"),
        }
    }
}

impl From<ApiError> for tonic::Status {
    fn from(error: ApiError) -> Self {
        let code = match error.reason {
            Reason::NotFound => tonic::Code::NotFound,
            Reason::AlreadyExists => tonic::Code::AlreadyExists,
            Reason::PoolExhausted => tonic::Code::ResourceExhausted,
            Reason::PreconditionFailed => tonic::Code::FailedPrecondition,
            Reason::InvalidArgument => tonic::Code::InvalidArgument,
            Reason::Transient => tonic::Code::Unavailable,
            Reason::PermissionDenied => tonic::Code::PermissionDenied,
            Reason::QuotaExceeded => tonic::Code::ResourceExhausted,
            Reason::Unauthenticated => tonic::Code::Unauthenticated,
            Reason::Internal | Reason::Unspecified => tonic::Code::Internal,
        };
        let detail = ErrorDetail {
            reason: error.reason as i32,
            field: error.field.clone(),
            hint: error.hint.clone(),
            retryable: error.retryable(),
            subject: error.subject.clone(),
        };
        tonic::Status::with_details(code, error.message, detail.encode_to_vec().into())
    }
}

/// Store failures: lock contention and lost connections may pass; the rest
/// is a bug or a broken database.
impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        let transient = match &error {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => true,
            sqlx::Error::Database(db) => {
                let code = db.code().unwrap_or_default();
                // SQLITE_BUSY/LOCKED; PostgreSQL serialization failure,
                // deadlock, lock timeout.
                matches!(code.as_ref(), "5" | "6" | "40001" | "40P01" | "55P03")
            }
            _ => false,
        };
        tracing::warn!(error = %error, transient, "store error");
        if transient {
            ApiError::transient(format!("the agent's store is busy: {error}"))
                .hint("Retry; the provider does so on its own.")
        } else {
            ApiError::internal(format!("the agent's store failed: {error}"))
                .hint("See the agent's log; this is not a problem with the configuration.")
        }
    }
}
