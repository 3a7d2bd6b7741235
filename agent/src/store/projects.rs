//! Projects and their VLANs. Create, update and delete each run in one
//! write transaction together with the request log, so a project, its VLAN
//! and the record of the call that made them appear (or vanish) together.

use giif_proto::agent as api;
use serde::{Deserialize, Serialize};
use sqlx::{Any, Transaction};

use super::inventory::{pool_from_row, PROJECT_POOL_PURPOSE};
use super::requests::{record, replay};
use super::{is_unique_violation, now_rfc3339, Store};
use crate::error::ApiError;

/// Under PostgreSQL two transactions can pick the same free VLAN; the loser
/// hits the unique key and tries again with a fresh view.
const CONFLICT_RETRIES: usize = 8;

#[derive(Serialize, Deserialize)]
struct Member {
    user: String,
    role: String,
}

type ProjectRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
    i64,
    Option<String>,
    String,
);

const PROJECT_COLUMNS: &str = "id, name, description, owner, expires_on, members, vlan_pool, vlan, connection_group_id, created_at";

fn project_from_row(row: ProjectRow) -> api::Project {
    let (id, name, description, owner, expires_on, members, vlan_pool, vlan, group, created_at) =
        row;
    let members: Vec<Member> = serde_json::from_str(&members).unwrap_or_default();
    api::Project {
        id,
        spec: Some(api::ProjectSpec {
            name,
            description,
            owner,
            expires_on,
            members: members
                .into_iter()
                .map(|m| api::ProjectMember {
                    user: m.user,
                    role: m.role,
                })
                .collect(),
        }),
        vlan: vlan as u32,
        vlan_pool,
        connection_group_id: group.unwrap_or_default(),
        created_at,
        status: giif_proto::status::Status::Ready.into(),
        last_error: String::new(),
    }
}

fn members_json(spec: &api::ProjectSpec) -> String {
    let mut members: Vec<Member> = spec
        .members
        .iter()
        .map(|m| Member {
            user: m.user.clone(),
            role: m.role.clone(),
        })
        .collect();
    members.sort_by(|a, b| a.user.cmp(&b.user));
    serde_json::to_string(&members).unwrap_or_else(|_| "[]".into())
}

impl Store {
    /// Creates a project made by the principal `created_by`, who owns it
    /// unless the spec names another owner; its owner's quota counts it.
    pub async fn create_project(
        &self,
        request_id: &str,
        spec: &api::ProjectSpec,
        created_by: &str,
    ) -> Result<api::Project, ApiError> {
        let mut attempt = 0;
        loop {
            match self.try_create_project(request_id, spec, created_by).await {
                Err(Conflict::Retry) if attempt < CONFLICT_RETRIES => attempt += 1,
                Err(Conflict::Retry) => {
                    return Err(
                        ApiError::transient("too many concurrent project creations").hint("Retry.")
                    )
                }
                Err(Conflict::Fail(error)) => return Err(error),
                Ok(project) => return Ok(project),
            }
        }
    }

    async fn try_create_project(
        &self,
        request_id: &str,
        spec: &api::ProjectSpec,
        created_by: &str,
    ) -> Result<api::Project, Conflict> {
        let mut tx = self.begin_write().await?;
        if let Some(done) = replay::<api::Project>(&mut tx, request_id, "CreateProject").await? {
            return Ok(done);
        }
        if let Some(existing) = project_by_name(&mut tx, &spec.name).await? {
            return Err(Conflict::Fail(already_exists(&existing)));
        }
        let one = crate::tenancy::Usage {
            projects: 1,
            ..Default::default()
        };
        let owner = spec.owner.as_deref().unwrap_or(created_by);
        super::quotas::enforce_on_owner(self, &mut tx, owner, one).await?;
        let (pool, vlan) = allocate_project_vlan(&mut tx).await?;
        let id = format!("prj-{}", uuid::Uuid::new_v4().simple());
        let now = now_rfc3339();
        sqlx::query("INSERT INTO vlan_allocations (vlan, pool, owner_kind, owner_id) VALUES ($1, $2, 'project', $3)")
            .bind(i64::from(vlan))
            .bind(&pool)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO projects (id, name, name_key, description, owner, expires_on, members, vlan_pool, vlan, connection_group_id, created_at, updated_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10, $11, $12)",
        )
        .bind(&id)
        .bind(&spec.name)
        .bind(spec.name.to_lowercase())
        .bind(&spec.description)
        .bind(&spec.owner)
        .bind(&spec.expires_on)
        .bind(members_json(spec))
        .bind(&pool)
        .bind(i64::from(vlan))
        .bind(&now)
        .bind(&now)
        .bind(created_by)
        .execute(&mut *tx)
        .await?;
        let project = api::Project {
            id,
            spec: Some(normalized(spec)),
            vlan,
            vlan_pool: pool,
            connection_group_id: String::new(),
            created_at: now,
            status: giif_proto::status::Status::Ready.into(),
            last_error: String::new(),
        };
        record(&mut tx, request_id, "CreateProject", &project).await?;
        tx.commit().await?;
        tracing::info!(project = %project.id, name = %spec.name, vlan, "project created");
        Ok(project)
    }

    pub async fn project_by_id(&self, id: &str) -> Result<api::Project, ApiError> {
        let row: Option<ProjectRow> = sqlx::query_as(&format!(
            "SELECT {PROJECT_COLUMNS} FROM projects WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.map(project_from_row)
            .ok_or_else(|| ApiError::not_found(format!("no project has id {id:?}")).subject(id))
    }

    /// The projects among `ids` that exist, in one query.
    pub async fn projects_by_ids(&self, ids: &[String]) -> Result<Vec<api::Project>, ApiError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders = (1..=ids.len())
            .map(|n| format!("${n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!("SELECT {PROJECT_COLUMNS} FROM projects WHERE id IN ({placeholders})");
        let mut query = sqlx::query_as::<_, ProjectRow>(&sql);
        for id in ids {
            query = query.bind(id);
        }
        let rows = query.fetch_all(self.pool()).await?;
        Ok(rows.into_iter().map(project_from_row).collect())
    }

    pub async fn project_by_name(&self, name: &str) -> Result<api::Project, ApiError> {
        let row: Option<ProjectRow> = sqlx::query_as(&format!(
            "SELECT {PROJECT_COLUMNS} FROM projects WHERE name_key = $1"
        ))
        .bind(name.to_lowercase())
        .fetch_optional(self.pool())
        .await?;
        row.map(project_from_row).ok_or_else(|| {
            ApiError::not_found(format!("no project is named {name:?}")).subject(name)
        })
    }

    pub async fn list_projects(&self) -> Result<Vec<api::Project>, ApiError> {
        let rows: Vec<ProjectRow> = sqlx::query_as(&format!(
            "SELECT {PROJECT_COLUMNS} FROM projects ORDER BY name_key"
        ))
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(project_from_row).collect())
    }

    pub async fn update_project(
        &self,
        request_id: &str,
        id: &str,
        spec: &api::ProjectSpec,
    ) -> Result<api::Project, ApiError> {
        let mut tx = self.begin_write().await?;
        if let Some(done) = replay::<api::Project>(&mut tx, request_id, "UpdateProject").await? {
            return Ok(done);
        }
        let row: Option<ProjectRow> = sqlx::query_as(&format!(
            "SELECT {PROJECT_COLUMNS} FROM projects WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let current = row
            .map(project_from_row)
            .ok_or_else(|| ApiError::not_found(format!("no project has id {id:?}")).subject(id))?;
        let current_name = current
            .spec
            .as_ref()
            .map(|s| s.name.clone())
            .unwrap_or_default();
        if current_name != spec.name {
            return Err(ApiError::invalid(format!(
                "project {id} is named {current_name:?}; a project cannot be renamed in place"
            ))
            .field("spec.name")
            .hint("Renaming replaces the project: Terraform plans that on its own."));
        }
        sqlx::query(
            "UPDATE projects SET description = $1, owner = $2, expires_on = $3, members = $4, updated_at = $5 WHERE id = $6",
        )
        .bind(&spec.description)
        .bind(&spec.owner)
        .bind(&spec.expires_on)
        .bind(members_json(spec))
        .bind(now_rfc3339())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let project = api::Project {
            spec: Some(normalized(spec)),
            ..current
        };
        record(&mut tx, request_id, "UpdateProject", &project).await?;
        tx.commit().await?;
        tracing::info!(project = %id, "project updated");
        Ok(project)
    }

    /// Deletes the project and frees its VLAN. `Ok(false)` when it was
    /// already gone.
    pub async fn delete_project(&self, request_id: &str, id: &str) -> Result<bool, ApiError> {
        let mut tx = self.begin_write().await?;
        if let Some(done) =
            replay::<api::DeleteProjectResponse>(&mut tx, request_id, "DeleteProject").await?
        {
            return Ok(done.existed);
        }
        let held = super::project_resources::holdings_of_project(&mut tx, id).await?;
        if !held.is_empty() {
            return Err(ApiError::precondition(format!(
                "project {id} still holds: {}",
                held.join(", ")
            ))
            .subject(id)
            .hint("Destroy the project's resources first; Terraform does, in dependency order."));
        }
        let deleted = sqlx::query("DELETE FROM projects WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM vlan_allocations WHERE owner_kind = 'project' AND owner_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let existed = deleted.rows_affected() > 0;
        record(
            &mut tx,
            request_id,
            "DeleteProject",
            &api::DeleteProjectResponse { existed },
        )
        .await?;
        tx.commit().await?;
        if existed {
            tracing::info!(project = %id, "project deleted; its VLAN is free");
        }
        Ok(existed)
    }
}

/// The spec as stored: members sorted, so reads compare equal.
fn normalized(spec: &api::ProjectSpec) -> api::ProjectSpec {
    let mut spec = spec.clone();
    spec.members.sort_by(|a, b| a.user.cmp(&b.user));
    spec
}

async fn project_by_name(
    tx: &mut Transaction<'static, Any>,
    name: &str,
) -> Result<Option<api::Project>, ApiError> {
    let row: Option<ProjectRow> = sqlx::query_as(&format!(
        "SELECT {PROJECT_COLUMNS} FROM projects WHERE name_key = $1"
    ))
    .bind(name.to_lowercase())
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(project_from_row))
}

fn already_exists(existing: &api::Project) -> ApiError {
    let name = existing
        .spec
        .as_ref()
        .map(|s| s.name.as_str())
        .unwrap_or_default();
    ApiError::already_exists(format!(
        "a project named {name:?} already exists (id {}); project names are unique regardless of case",
        existing.id
    ))
    .field("spec.name")
    .subject(&existing.id)
    .hint(format!(
        "To manage the existing project with Terraform, import it: `terraform import <resource address> {}` \
         (or an `import` block with id = \"{}\"). Otherwise choose another name.",
        existing.id, existing.id
    ))
}

/// The lowest free VLAN of the project pool.
async fn allocate_project_vlan(
    tx: &mut Transaction<'static, Any>,
) -> Result<(String, u32), ApiError> {
    let row: Option<(String, i64, i64, String)> = sqlx::query_as(
        "SELECT name, first_vlan, last_vlan, reserved FROM vlan_pools WHERE purpose = $1",
    )
    .bind(PROJECT_POOL_PURPOSE)
    .fetch_optional(&mut **tx)
    .await?;
    let pool = row.map(pool_from_row).ok_or_else(|| {
        ApiError::precondition("the site inventory has no project VLAN pool")
            .hint("Add a [project_vlans] section to the site file and run `giif-agent inventory import <file>`.")
    })?;
    let used: Vec<(i64,)> =
        sqlx::query_as("SELECT vlan FROM vlan_allocations WHERE vlan >= $1 AND vlan <= $2")
            .bind(i64::from(pool.first))
            .bind(i64::from(pool.last))
            .fetch_all(&mut **tx)
            .await?;
    let used: std::collections::HashSet<u32> = used.into_iter().map(|(v,)| v as u32).collect();
    match (pool.first..=pool.last).find(|v| pool.contains(*v) && !used.contains(v)) {
        Some(vlan) => Ok((pool.name, vlan)),
        None => Err(ApiError::pool_exhausted(format!(
            "VLAN pool {:?} is exhausted: all {} VLANs of {}-{} (minus {} reserved) are allocated",
            pool.name,
            pool.size(),
            pool.first,
            pool.last,
            pool.reserved.len()
        ))
        .subject(&pool.name)
        .hint(format!(
            "Destroy projects you no longer need, or widen pool {:?} in the site inventory and run \
             `giif-agent inventory import <file>`.",
            pool.name
        ))),
    }
}

/// Why a create attempt stopped: a race worth retrying, or a real error.
enum Conflict {
    Retry,
    Fail(ApiError),
}

impl From<ApiError> for Conflict {
    fn from(error: ApiError) -> Self {
        Conflict::Fail(error)
    }
}

impl From<sqlx::Error> for Conflict {
    fn from(error: sqlx::Error) -> Self {
        if is_unique_violation(&error) {
            Conflict::Retry
        } else {
            Conflict::Fail(error.into())
        }
    }
}

/// Who holds which project, for authorization.
impl Store {
    /// The project's owner and members; `None` when there is no such project.
    pub async fn project_access(
        &self,
        id: &str,
    ) -> Result<Option<crate::tenancy::ProjectAccess>, ApiError> {
        let row: Option<(String, Option<String>, Option<String>, String)> =
            sqlx::query_as("SELECT id, owner, created_by, members FROM projects WHERE id = $1")
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(access_from_row))
    }

    /// Every project's owner and members.
    pub async fn project_accesses(&self) -> Result<Vec<crate::tenancy::ProjectAccess>, ApiError> {
        let rows: Vec<(String, Option<String>, Option<String>, String)> =
            sqlx::query_as("SELECT id, owner, created_by, members FROM projects")
                .fetch_all(self.pool())
                .await?;
        Ok(rows.into_iter().map(access_from_row).collect())
    }
}

fn access_from_row(
    (id, owner, created_by, members): (String, Option<String>, Option<String>, String),
) -> crate::tenancy::ProjectAccess {
    let members: Vec<Member> = serde_json::from_str(&members).unwrap_or_default();
    crate::tenancy::ProjectAccess {
        id,
        owner: owner.or(created_by),
        members: members.into_iter().map(|m| (m.user, m.role)).collect(),
    }
}
