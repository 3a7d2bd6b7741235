//! What a project holds besides itself, as its gateway needs to know it
//! (bridged server VLANs, floating IP rules) and as its delete checks it.

use super::Store;
use crate::error::ApiError;

impl Store {
    /// Inventory names of the servers assigned to the project.
    /// The project's servers, less those being released (whose VLAN its
    /// gateway no longer bridges).
    pub async fn servers_of_project(&self, project_id: &str) -> Result<Vec<String>, ApiError> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT bms FROM bms_assignments WHERE project_id = $1 AND status <> 'releasing' ORDER BY bms")
                .bind(project_id)
                .fetch_all(self.pool())
                .await?;
        Ok(rows.into_iter().map(|(b,)| b).collect())
    }

    /// (floating address, private target) of the project's pointed floating IPs.
    pub async fn floating_rules_of_project(
        &self,
        project_id: &str,
    ) -> Result<Vec<(String, String)>, ApiError> {
        let rows: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT address, target_ip FROM floating_ips WHERE project_id = $1 AND releasing_since IS NULL ORDER BY address",
        )
        .bind(project_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(a, t)| t.map(|t| (a, t)))
            .collect())
    }
}

/// What still belongs to the project, as readable lines; empty when it may
/// be deleted. Runs inside the delete's transaction.
pub(super) async fn holdings_of_project(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    project_id: &str,
) -> Result<Vec<String>, ApiError> {
    let mut held = Vec::new();
    let queries = [
        ("gateway", "SELECT id FROM gateways WHERE project_id = $1"),
        ("VM", "SELECT name FROM vms WHERE project_id = $1"),
        (
            "server",
            "SELECT bms FROM bms_assignments WHERE project_id = $1",
        ),
        (
            "floating IP",
            "SELECT address FROM floating_ips WHERE project_id = $1",
        ),
    ];
    for (what, query) in queries {
        let rows: Vec<(String,)> = sqlx::query_as(query)
            .bind(project_id)
            .fetch_all(&mut **tx)
            .await?;
        held.extend(rows.into_iter().map(|(name,)| format!("{what} {name}")));
    }
    Ok(held)
}
