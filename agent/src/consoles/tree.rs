//! The project part of the tree: `Projects/<name>` with its `Resources` and
//! `Project Toolbox` groups, and the members' READ grants on all of it.

use giif_proto::agent as api;

use super::{console_error, owner, ConsoleState, Consoles, Registry, MEMBERS};
use std::collections::BTreeMap;

use crate::drivers::console::{
    Grants, GroupTree, LiveGroup, ObjectId, ObjectRef, OwnedGroup, Parent, Principals,
};
use crate::error::ApiError;

pub(super) const PROJECTS: &str = "Projects";
pub(super) const RESOURCES: &str = "Resources";
pub(super) const TOOLBOX: &str = "Project Toolbox";

/// The groups of one project.
pub(super) struct ProjectGroups {
    pub project: ObjectId,
    pub resources: ObjectId,
    pub toolbox: ObjectId,
}

/// Who may see a project's consoles: its members and its owner.
pub(super) fn project_principals(spec: &api::ProjectSpec) -> Principals {
    let mut principals = Principals::default();
    principals
        .users
        .extend(spec.members.iter().map(|m| m.user.clone()));
    if let Some(owner) = spec.owner.as_ref().filter(|o| !o.is_empty()) {
        principals.users.insert(owner.clone());
    }
    principals
}

impl Consoles {
    /// Refuses a project whose owner or members Guacamole does not know:
    /// permission rows are only made for users that exist.
    pub async fn check_project_users(&self, spec: &api::ProjectSpec) -> Result<(), ApiError> {
        let Some(registry) = self.registry().await? else {
            return Ok(());
        };
        let missing = registry
            .db
            .missing(&project_principals(spec))
            .await
            .map_err(console_error)?;
        if let Some(user) = missing.users.iter().next() {
            let field = if spec.owner.as_deref() == Some(user.as_str()) {
                "spec.owner"
            } else {
                "spec.members"
            };
            let all: Vec<&str> = missing.users.iter().map(String::as_str).collect();
            return Err(ApiError::invalid(format!(
                "Guacamole has no user {}",
                all.iter()
                    .map(|u| format!("{u:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .field(field)
            .hint("Create the user in Guacamole first, or leave it out of the project."));
        }
        Ok(())
    }

    /// Makes the project's groups and grants match the project. Returns
    /// its console state: the group, or why it could not be made.
    pub async fn ensure_project(&self, project: &api::Project) -> ConsoleState {
        match self.try_ensure_project(project).await {
            Ok(None) => ConsoleState::Absent,
            Ok(Some((registry, groups))) => ConsoleState::Present {
                id: groups.project,
                url: registry.db.client_url(ObjectRef::group(groups.project)),
            },
            Err(err) => {
                tracing::warn!(project = %project.id, error = %err, "the project's Guacamole group could not be made");
                ConsoleState::Drift(err.message)
            }
        }
    }

    async fn try_ensure_project(
        &self,
        project: &api::Project,
    ) -> Result<Option<(Registry, ProjectGroups)>, ApiError> {
        let Some(registry) = self.registry().await? else {
            return Ok(None);
        };
        // The groups and every member's grant on all the project holds, in
        // one transaction per version of the project.
        let groups = settle(
            project,
            |p| self.reread(p),
            |p| {
                let registry = &registry;
                async move {
                    let principals = project_principals(&p.spec.clone().unwrap_or_default());
                    let grants = Grants {
                        source: MEMBERS,
                        wanted: &principals,
                    };
                    project_tree(registry, &p, Some(grants)).await
                }
            },
        )
        .await?;
        Ok(Some((registry, groups)))
    }

    /// The project's groups, made if missing (no grants).
    pub(super) async fn project_groups(
        &self,
        registry: &Registry,
        project: &api::Project,
    ) -> Result<ProjectGroups, ApiError> {
        project_tree(registry, project, None).await
    }

    /// Gives objects in `project` its members' grants, as the project's
    /// members are when they are written (see [`settle`]).
    pub(super) async fn grant_members(
        &self,
        registry: &Registry,
        project: &api::Project,
        objects: &[ObjectRef],
    ) -> Result<(), ApiError> {
        settle(
            project,
            |p| self.reread(p),
            |p| async move {
                let principals = project_principals(&p.spec.unwrap_or_default());
                for object in objects {
                    registry
                        .db
                        .set_grants(*object, MEMBERS, &principals)
                        .await
                        .map_err(console_error)?;
                }
                Ok(())
            },
        )
        .await
    }

    /// The project as the store holds it now; `None` once it is deleted.
    async fn reread(&self, project: api::Project) -> Result<Option<api::Project>, ApiError> {
        match self.store.project_by_id(&project.id).await {
            Ok(now) => Ok(Some(now)),
            Err(err) if err.reason == giif_proto::agent::error_detail::Reason::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// The project's group as Guacamole holds it now.
    pub async fn project_state(&self, project: &api::Project) -> ConsoleState {
        self.project_states(std::slice::from_ref(project))
            .await
            .pop()
            .unwrap_or(ConsoleState::Unknown)
    }

    /// The same for many projects, finding Guacamole's database once.
    pub async fn project_states(&self, projects: &[api::Project]) -> Vec<ConsoleState> {
        let registry = match self.registry().await {
            Ok(Some(registry)) => registry,
            Ok(None) => return projects.iter().map(|_| ConsoleState::Absent).collect(),
            Err(err) => {
                tracing::warn!(error = %err, "the console registry could not be set up");
                return projects.iter().map(|_| ConsoleState::Unknown).collect();
            }
        };
        // Every project's three groups in one query: a refresh of many
        // projects costs one round trip, and an unreachable database one wait.
        let owners: Vec<String> = projects
            .iter()
            .flat_map(|project| group_owners(&project.id))
            .collect();
        match registry.db.owned_groups(&owners).await {
            Ok(found) => projects
                .iter()
                .map(|project| project_state_in(&registry, project, &found))
                .collect(),
            Err(err) => {
                tracing::warn!(error = %err, "the projects' console groups could not be read");
                projects.iter().map(|_| ConsoleState::Unknown).collect()
            }
        }
    }

    /// Removes the project's groups (and the agent's objects in them).
    pub async fn remove_project(&self, project_id: &str) -> Result<(), ApiError> {
        let Some(registry) = self.registry().await? else {
            return Ok(());
        };
        registry
            .db
            .delete_owned(&owner::project(project_id))
            .await
            .map_err(console_error)?;
        Ok(())
    }
}

/// Makes the project's groups (and with `grants`, its members' grants) in
/// one transaction; an unchanged tree without grants is only read.
async fn project_tree(
    registry: &Registry,
    project: &api::Project,
    grants: Option<Grants<'_>>,
) -> Result<ProjectGroups, ApiError> {
    let db = &registry.db;
    let root = db
        .root_group(owner::ROOT, PROJECTS)
        .await
        .map_err(console_error)?;
    let group = |owner: String, name: &str| OwnedGroup {
        owner,
        name: name.to_string(),
    };
    let tree = GroupTree {
        parent: Parent::Group(root),
        top: group(owner::project(&project.id), project_name(project)),
        children: vec![
            group(owner::resources(&project.id), RESOURCES),
            group(owner::toolbox(&project.id), TOOLBOX),
        ],
    };
    match db.ensure_tree(&tree, grants).await.map_err(console_error)?[..] {
        [project, resources, toolbox] => Ok(ProjectGroups {
            project,
            resources,
            toolbox,
        }),
        _ => Err(ApiError::internal(
            "the console registry answered a project tree without its three groups",
        )),
    }
}

/// The owner marks of a project's groups: its own, `Resources` and
/// `Project Toolbox`.
fn group_owners(project_id: &str) -> [String; 3] {
    [
        owner::project(project_id),
        owner::resources(project_id),
        owner::toolbox(project_id),
    ]
}

/// The project's console state, from the groups `found` by owner.
fn project_state_in(
    registry: &Registry,
    project: &api::Project,
    found: &BTreeMap<String, LiveGroup>,
) -> ConsoleState {
    let name = project_name(project);
    let [top, resources, toolbox] = group_owners(&project.id);
    let Some(group) = found.get(&top) else {
        return ConsoleState::Drift(format!("the Guacamole group {PROJECTS}/{name} is missing"));
    };
    if group.name != name {
        return ConsoleState::Drift(format!(
            "the Guacamole group of project {name} was renamed to {:?}",
            group.name
        ));
    }
    for (key, label) in [(resources, RESOURCES), (toolbox, TOOLBOX)] {
        if !found.contains_key(&key) {
            return ConsoleState::Drift(format!(
                "the Guacamole group {PROJECTS}/{name}/{label} is missing"
            ));
        }
    }
    let group = ObjectRef::group(group.id);
    ConsoleState::Present {
        id: group.id,
        url: registry.db.client_url(group),
    }
}

fn project_name(project: &api::Project) -> &str {
    project
        .spec
        .as_ref()
        .map(|s| s.name.as_str())
        .unwrap_or_default()
}

/// How many times a write follows a project that keeps changing under it;
/// after that the latest change's own write is still to come.
const SETTLE_ROUNDS: usize = 4;

/// Writes what `project` asks of Guacamole, then reads the project again
/// and, when it changed meanwhile (its owner or members; a name never
/// changes in place), writes again from the new version. Whoever commits a project change writes to
/// Guacamole after its commit, so the last write to each object is always
/// from the latest version, also when several agents share the store; a
/// converge that read the project before a change can no longer undo it.
async fn settle<T, Fut, Reread, Write, WriteFut>(
    project: &api::Project,
    reread: Reread,
    write: Write,
) -> Result<T, ApiError>
where
    Reread: Fn(api::Project) -> Fut,
    Fut: std::future::Future<Output = Result<Option<api::Project>, ApiError>>,
    Write: Fn(api::Project) -> WriteFut,
    WriteFut: std::future::Future<Output = Result<T, ApiError>>,
{
    let mut current = project.clone();
    let mut rounds = 0;
    loop {
        let written = write(current.clone()).await?;
        rounds += 1;
        match reread(current.clone()).await? {
            Some(latest) if latest.spec != current.spec && rounds < SETTLE_ROUNDS => {
                current = latest;
            }
            _ => return Ok(written),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    fn named(name: &str) -> api::Project {
        api::Project {
            id: "prj-1".into(),
            spec: Some(api::ProjectSpec {
                name: name.into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// Runs `settle` against a store whose rereads answer `versions` in turn
    /// (then the last again); the names written, in order.
    async fn written(versions: Vec<Option<&str>>) -> (Vec<String>, String) {
        let answers = Mutex::new(
            versions
                .into_iter()
                .map(|v| v.map(named))
                .collect::<Vec<_>>(),
        );
        let writes = Mutex::new(Vec::new());
        let result = settle(
            &named("v1"),
            |_| {
                let mut answers = answers.lock().unwrap();
                let next = if answers.len() > 1 {
                    answers.remove(0)
                } else {
                    answers[0].clone()
                };
                async move { Ok(next) }
            },
            |p| {
                let name = project_name(&p).to_string();
                writes.lock().unwrap().push(name.clone());
                async move { Ok(name) }
            },
        )
        .await
        .unwrap();
        (writes.into_inner().unwrap(), result)
    }

    #[tokio::test]
    async fn a_change_made_during_the_write_is_written_after_it() {
        // Renamed to v2 while v1 was being written: v2 is written last.
        let (writes, last) = written(vec![Some("v2"), Some("v2")]).await;
        assert_eq!(writes, ["v1", "v2"]);
        assert_eq!(last, "v2");
    }

    #[tokio::test]
    async fn an_unchanged_or_deleted_project_is_written_once() {
        assert_eq!(written(vec![Some("v1")]).await.0, ["v1"]);
        assert_eq!(written(vec![None]).await.0, ["v1"]);
    }

    #[tokio::test]
    async fn a_project_that_keeps_changing_is_followed_a_few_times() {
        let (writes, _) = written(vec![
            Some("v2"),
            Some("v3"),
            Some("v4"),
            Some("v5"),
            Some("v6"),
        ])
        .await;
        assert_eq!(writes.len(), SETTLE_ROUNDS, "{writes:?}");
        assert_eq!(writes, ["v1", "v2", "v3", "v4"]);
    }
}
