//! ListObjects: what a site holds of one kind, for Terraform's list
//! resources. Only objects of projects the caller may read are listed; a
//! connection placed outside any project only to operators.

use giif_proto::agent::{ListObjectsRequest, ListedObject, ObjectKind};

use crate::consoles::Consoles;
use crate::error::ApiError;
use crate::store::Store;
use crate::tenancy::gate::Visible;

pub async fn list(
    store: &Store,
    consoles: &Consoles,
    visible: &Visible,
    request: &ListObjectsRequest,
) -> Result<Vec<ListedObject>, ApiError> {
    let kind = ObjectKind::try_from(request.kind)
        .ok()
        .filter(|kind| *kind != ObjectKind::Unspecified)
        .ok_or_else(|| {
            ApiError::invalid(format!("kind {} names no kind of object", request.kind))
                .field("kind")
        })?;
    let projects = store.listed_objects(ObjectKind::Project).await?;
    let mut objects = match kind {
        ObjectKind::Project => projects.clone(),
        ObjectKind::GuacamoleConnection => {
            with_project_names(&projects, consoles.listed_connections().await?)
        }
        kind => store.listed_objects(kind).await?,
    };
    objects.retain(|object| visible.contains(&object.project_id));

    let project = request.project.trim();
    if !project.is_empty() {
        let Some(wanted) = projects
            .iter()
            .filter(|p| visible.contains(&p.id))
            .find(|p| p.id == project || p.name.eq_ignore_ascii_case(project))
        else {
            // The same answer for a project that does not exist and one the
            // caller may not read.
            return Err(ApiError::not_found(format!(
                "no project you may read has the id or name {project:?}"
            ))
            .field("project"));
        };
        objects.retain(|object| object.project_id == wanted.id);
    }
    let name = request.name.trim();
    if !name.is_empty() {
        objects.retain(|object| object.name.eq_ignore_ascii_case(name));
    }
    Ok(objects)
}

/// Connections come from Guacamole's database: their project names from
/// the store's `projects`, and the listing's order.
fn with_project_names(
    projects: &[ListedObject],
    mut connections: Vec<ListedObject>,
) -> Vec<ListedObject> {
    for connection in &mut connections {
        if let Some(project) = projects.iter().find(|p| p.id == connection.project_id) {
            connection.project_name.clone_from(&project.name);
        }
    }
    connections.sort_by(|a, b| (&a.project_name, &a.name).cmp(&(&b.project_name, &b.name)));
    connections
}
