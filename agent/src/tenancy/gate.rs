//! The door every call passes: who is calling, whether the policy lets
//! them, and for a change, its audit record.

use std::collections::BTreeSet;
use std::future::Future;

use super::access::{check_expiry, ProjectAccess, Standing};
use super::authenticate::caller_of;
use super::policy::{authorize, hidden, Rpc};
use super::principal::Caller;
use super::settings::TenancySettings;
use crate::audit::AuditScope;
use crate::error::ApiError;
use crate::store::audit::AuditRecord;
use crate::store::Store;
use giif_proto::requests::AgentRequest;

#[derive(Clone)]
pub struct Gate {
    store: Store,
    settings: TenancySettings,
}

/// The projects a caller may see: all of them for an operator.
pub enum Visible {
    All,
    Only(BTreeSet<String>),
}

impl Visible {
    pub fn contains(&self, project_id: &str) -> bool {
        match self {
            Visible::All => true,
            Visible::Only(ids) => ids.contains(project_id),
        }
    }
}

/// What an audited call made or touched, for its record.
pub trait AuditedOutcome {
    /// The object's id when the answer carries one.
    fn object_id(&self) -> Option<String> {
        None
    }
}

impl Gate {
    pub fn new(store: Store, settings: TenancySettings) -> Self {
        Self { store, settings }
    }

    pub fn settings(&self) -> &TenancySettings {
        &self.settings
    }

    /// The principal behind a request's certificate.
    pub async fn caller<T: AgentRequest>(
        &self,
        request: &tonic::Request<T>,
    ) -> Result<Caller, ApiError> {
        let caller = caller_of(&self.store, request.extensions()).await;
        match caller {
            Ok(mut caller) => {
                caller.request_fingerprint = request.get_ref().fingerprint();
                Ok(caller)
            }
            Err(error) => {
                tracing::warn!(error = %error.message, "call refused: unauthenticated");
                Err(error)
            }
        }
    }

    /// A call about the site, not one project.
    pub fn on_site(&self, caller: &Caller, rpc: Rpc) -> Result<(), ApiError> {
        authorize(caller, rpc, None)
    }

    /// A call about project `project_id`: its owner and members when the
    /// caller may make it. A project that does not exist is "not found"
    /// for an operator's call too; the domain says so in its own words.
    pub async fn on_project(
        &self,
        caller: &Caller,
        rpc: Rpc,
        project_id: &str,
    ) -> Result<Option<ProjectAccess>, ApiError> {
        if project_id.is_empty() {
            // An object outside projects (a connection in an explicit group).
            return authorize(caller, rpc, None).map(|()| None);
        }
        let access = self.store.project_access(project_id).await?;
        match &access {
            Some(access) => authorize(
                caller,
                rpc,
                Some((&access.id, access.standing(caller.name()))),
            )?,
            None if caller.is_operator() => {}
            None => return Err(hidden(project_id)),
        }
        Ok(access)
    }

    /// The same for each project an update touches: its current one and,
    /// when it moves, the new one.
    pub async fn on_projects(
        &self,
        caller: &Caller,
        rpc: Rpc,
        current: &str,
        wanted: &str,
    ) -> Result<(), ApiError> {
        self.on_project(caller, rpc, current).await?;
        if !wanted.is_empty() && wanted != current {
            self.on_project(caller, rpc, wanted).await?;
        }
        Ok(())
    }

    /// Hides `reference` from a caller who may not read `project_id`.
    pub async fn readable(
        &self,
        caller: &Caller,
        rpc: Rpc,
        project_id: &str,
        reference: &str,
    ) -> Result<(), ApiError> {
        match self.on_project(caller, rpc, project_id).await {
            Err(error) => Err(hide_not_found(error, reference)),
            Ok(_) => Ok(()),
        }
    }

    pub async fn visible(&self, caller: &Caller) -> Result<Visible, ApiError> {
        if caller.is_operator() {
            return Ok(Visible::All);
        }
        Ok(Visible::Only(
            self.store
                .project_accesses()
                .await?
                .into_iter()
                .filter(|access| access.standing(caller.name()) > Standing::None)
                .map(|access| access.id)
                .collect(),
        ))
    }

    /// The expiry rule for a create (`before` = `None`) or an update.
    pub fn expiry(
        &self,
        caller: &Caller,
        before: Option<Option<&str>>,
        after: Option<&str>,
    ) -> Result<(), ApiError> {
        let today = time::OffsetDateTime::now_utc().date();
        check_expiry(caller, before, after, self.settings.max_project_days, today)
    }

    /// Runs a change as `caller` and appends its audit record: who, with
    /// which certificate, which call on what, and how it ended. Device
    /// actions the change causes, now or in the background, are written
    /// beside it.
    pub async fn audited<T: AuditedOutcome>(
        &self,
        caller: &Caller,
        rpc: Rpc,
        request_id: &str,
        project_id: &str,
        object: &str,
        change: impl Future<Output = Result<T, ApiError>>,
    ) -> Result<T, ApiError> {
        let scope = AuditScope::new(self.store.clone());
        let fingerprint = caller.request_fingerprint.clone();
        let change = crate::store::requests::with_fingerprint(fingerprint, change);
        let result = scope.clone().run(change).await;
        let outcome = match &result {
            Ok(_) => "ok".to_string(),
            Err(error) => match error.reason {
                giif_proto::agent::error_detail::Reason::PermissionDenied
                | giif_proto::agent::error_detail::Reason::NotFound
                | giif_proto::agent::error_detail::Reason::QuotaExceeded => {
                    format!("refused: {}", error.message)
                }
                _ => format!("failed: {}", error.message),
            },
        };
        let made = result.as_ref().ok().and_then(AuditedOutcome::object_id);
        // A new project is its own project.
        let project_id = match (&made, rpc) {
            (Some(id), Rpc::CreateProject) => id.clone(),
            _ => project_id.to_string(),
        };
        let record = AuditRecord {
            principal: caller.name().to_string(),
            serial: caller.serial.clone(),
            rpc: rpc.name().to_string(),
            object: made.unwrap_or_else(|| object.to_string()),
            project_id,
            request_id: request_id.to_string(),
            outcome,
        };
        match self.store.append_audit(&record).await {
            Ok(id) => scope.attach(id).await,
            Err(error) => {
                tracing::error!(error = %error.message, rpc = rpc.name(), "cannot append the audit record")
            }
        }
        result
    }
}

/// An object of a project, as the API answers it.
pub trait ProjectObject {
    fn object_id(&self) -> &str;
    fn project_id(&self) -> &str;
}

impl Gate {
    /// Reads an object by `reference` for a caller who may read its
    /// project; to anyone else it does not exist. With `live` a second read
    /// asks the devices, only once the caller passed.
    pub async fn read<T, Get, Fut>(
        &self,
        caller: &Caller,
        rpc: Rpc,
        reference: &str,
        live: bool,
        get: Get,
    ) -> Result<T, ApiError>
    where
        T: ProjectObject,
        Get: Fn(String, bool) -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let stored = get(reference.to_string(), false)
            .await
            .map_err(|error| hide_not_found(error, reference))?;
        self.readable(caller, rpc, stored.project_id(), reference)
            .await?;
        match live {
            true => get(stored.object_id().to_string(), true).await,
            false => Ok(stored),
        }
    }

    /// Runs a create or update of an object of `project` (moving it to
    /// `wanted`, when that is another project), audited, for a caller who
    /// may make the change in both.
    #[allow(clippy::too_many_arguments)]
    pub async fn change<T: AuditedOutcome>(
        &self,
        caller: &Caller,
        rpc: Rpc,
        request_id: &str,
        project: &str,
        wanted: &str,
        object: &str,
        work: impl Future<Output = Result<T, ApiError>>,
    ) -> Result<T, ApiError> {
        self.audited(caller, rpc, request_id, project, object, async {
            self.on_projects(caller, rpc, project, wanted).await?;
            work.await
        })
        .await
    }

    /// Deletes the object `id`, audited, for a caller who may change its
    /// project. `None` when it was already gone.
    pub async fn delete<T, R, Get, GetFut>(
        &self,
        caller: &Caller,
        rpc: Rpc,
        request_id: &str,
        id: &str,
        get: Get,
        delete: impl Future<Output = Result<R, ApiError>>,
    ) -> Result<Option<R>, ApiError>
    where
        T: ProjectObject,
        R: AuditedOutcome,
        Get: FnOnce(String) -> GetFut,
        GetFut: Future<Output = Result<T, ApiError>>,
    {
        let project = match get(id.to_string()).await {
            Ok(current) => current.project_id().to_string(),
            Err(error) if is_not_found(&error) => return Ok(None),
            Err(error) => return Err(error),
        };
        self.change(caller, rpc, request_id, &project, "", id, delete)
            .await
            .map(Some)
    }
}

fn is_not_found(error: &ApiError) -> bool {
    error.reason == giif_proto::agent::error_detail::Reason::NotFound
}

/// "Not found" in the words an outsider hears; other failures as they are
/// (a busy store must not read as a deleted object).
pub fn hide_not_found(error: ApiError, reference: &str) -> ApiError {
    if is_not_found(&error) {
        hidden(reference)
    } else {
        error
    }
}

macro_rules! in_project_by_spec {
    ($($type:ty),*) => {
        $(impl ProjectObject for $type {
            fn object_id(&self) -> &str {
                &self.id
            }
            fn project_id(&self) -> &str {
                self.spec.as_ref().map_or("", |spec| spec.project_id.as_str())
            }
        })*
    };
}

in_project_by_spec!(
    giif_proto::agent::Gateway,
    giif_proto::agent::Vm,
    giif_proto::agent::BmsAssignment,
    giif_proto::agent::GuacamoleConnection
);

impl ProjectObject for giif_proto::agent::FloatingIp {
    fn object_id(&self) -> &str {
        &self.id
    }
    fn project_id(&self) -> &str {
        &self.project_id
    }
}

macro_rules! outcome_with_id {
    ($($type:ty),*) => {
        $(impl AuditedOutcome for $type {
            fn object_id(&self) -> Option<String> {
                Some(self.id.clone())
            }
        })*
    };
}

outcome_with_id!(
    giif_proto::agent::Project,
    giif_proto::agent::Gateway,
    giif_proto::agent::FloatingIp,
    giif_proto::agent::Vm,
    giif_proto::agent::BmsAssignment,
    giif_proto::agent::GuacamoleConnection
);

impl AuditedOutcome for () {}
impl AuditedOutcome for bool {}
impl AuditedOutcome for (bool, String) {}
