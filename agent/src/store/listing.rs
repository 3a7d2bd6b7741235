//! What the site holds of one kind, for Terraform's list resources: ids and
//! names only; the objects are read with their kind's own calls.

use giif_proto::agent::{ListedObject, ObjectKind};

use super::Store;
use crate::error::ApiError;

/// The (id, name, project id, project name) rows of a kind the store keeps.
/// Floating IPs being released are on their way out, and so are not listed.
fn query(kind: ObjectKind) -> Option<&'static str> {
    Some(match kind {
        ObjectKind::Project => "SELECT id, name, id, name FROM projects",
        ObjectKind::Gateway => {
            "SELECT o.id, p.name, o.project_id, p.name FROM gateways o JOIN projects p ON p.id = o.project_id"
        }
        ObjectKind::Vm => {
            "SELECT o.id, o.name, o.project_id, p.name FROM vms o JOIN projects p ON p.id = o.project_id"
        }
        ObjectKind::BmsAssignment => {
            "SELECT o.id, o.bms, o.project_id, p.name FROM bms_assignments o JOIN projects p ON p.id = o.project_id"
        }
        ObjectKind::FloatingIp => {
            "SELECT o.id, o.address, o.project_id, p.name FROM floating_ips o JOIN projects p ON p.id = o.project_id \
             WHERE o.releasing_since IS NULL"
        }
        ObjectKind::GuacamoleConnection | ObjectKind::Unspecified => return None,
    })
}

impl Store {
    /// Every object of `kind` the store keeps, ordered by project name then
    /// name. Guacamole connections live in Guacamole's database, not here.
    pub async fn listed_objects(&self, kind: ObjectKind) -> Result<Vec<ListedObject>, ApiError> {
        let Some(query) = query(kind) else {
            return Err(ApiError::invalid(format!(
                "the store does not keep objects of kind {}",
                kind.as_str_name()
            ))
            .field("kind"));
        };
        let rows: Vec<(String, String, String, String)> =
            sqlx::query_as(&format!("{query} ORDER BY 4, 2"))
                .fetch_all(self.pool())
                .await?;
        Ok(rows
            .into_iter()
            .map(|(id, name, project_id, project_name)| ListedObject {
                id,
                name,
                project_id,
                project_name,
            })
            .collect())
    }
}
