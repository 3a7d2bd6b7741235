//! Principals and the certificates issued to them.

use super::{now_rfc3339, Store};
use crate::error::ApiError;
use crate::tenancy::{Principal, Role};

/// A certificate as recorded, for `giif-agent identity list`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateRow {
    pub serial: String,
    pub issued_at: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
}

/// What the store says of a presented certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertificateStanding {
    Valid(Principal),
    Revoked { principal: String, at: String },
    Unknown,
}

impl Store {
    /// Records a certificate issued to `name`, making the principal with
    /// `role` if it is new. An existing principal keeps its role; asking
    /// for another is an error, not a silent change.
    pub async fn record_certificate(
        &self,
        name: &str,
        role: Role,
        serial: &str,
        expires_at: &str,
    ) -> Result<(), ApiError> {
        let mut tx = self.begin_write().await?;
        let now = now_rfc3339();
        match role_in(&mut tx, name).await? {
            Some(current) if current != role => {
                return Err(ApiError::precondition(format!(
                    "{name} is a principal with role {current}, not {role}"
                ))
                .hint(format!(
                    "Issue with --role {current}; a role is not changed by issuing a certificate."
                )));
            }
            Some(_) => {}
            None => {
                sqlx::query("INSERT INTO principals (name, role, created_at) VALUES ($1, $2, $3)")
                    .bind(name)
                    .bind(role.as_str())
                    .bind(&now)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        sqlx::query(
            "INSERT INTO certificates (serial, principal, issued_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(serial)
        .bind(name)
        .bind(&now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The role of an existing principal.
    pub async fn principal_role(&self, name: &str) -> Result<Option<Role>, ApiError> {
        let mut tx = self.pool().begin().await?;
        role_in(&mut tx, name).await
    }

    /// Who a certificate serial belongs to, and whether it still counts.
    pub async fn certificate_standing(
        &self,
        serial: &str,
    ) -> Result<CertificateStanding, ApiError> {
        let row: Option<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT p.name, p.role, c.revoked_at FROM certificates c \
             JOIN principals p ON p.name = c.principal WHERE c.serial = $1",
        )
        .bind(serial)
        .fetch_optional(self.pool())
        .await?;
        Ok(match row {
            None => CertificateStanding::Unknown,
            Some((principal, _, Some(at))) => CertificateStanding::Revoked { principal, at },
            Some((name, role, None)) => match role.parse() {
                Ok(role) => CertificateStanding::Valid(Principal { name, role }),
                Err(_) => CertificateStanding::Unknown,
            },
        })
    }

    /// Every principal with its certificates, by name.
    pub async fn principals(&self) -> Result<Vec<(Principal, Vec<CertificateRow>)>, ApiError> {
        let principals: Vec<(String, String)> =
            sqlx::query_as("SELECT name, role FROM principals ORDER BY name")
                .fetch_all(self.pool())
                .await?;
        let certificates: Vec<(String, String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT principal, serial, issued_at, expires_at, revoked_at FROM certificates ORDER BY issued_at",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(principals
            .into_iter()
            .filter_map(|(name, role)| {
                let role = role.parse().ok()?;
                let certs = certificates
                    .iter()
                    .filter(|c| c.0 == name)
                    .map(|c| CertificateRow {
                        serial: c.1.clone(),
                        issued_at: c.2.clone(),
                        expires_at: c.3.clone(),
                        revoked_at: c.4.clone(),
                    })
                    .collect();
                Some((Principal { name, role }, certs))
            })
            .collect())
    }

    /// Revokes every certificate of `name`; the number newly revoked, or
    /// `None` when there is no such principal.
    pub async fn revoke_principal(&self, name: &str) -> Result<Option<u64>, ApiError> {
        let mut tx = self.begin_write().await?;
        if role_in(&mut tx, name).await?.is_none() {
            return Ok(None);
        }
        let done = sqlx::query(
            "UPDATE certificates SET revoked_at = $1 WHERE principal = $2 AND revoked_at IS NULL",
        )
        .bind(now_rfc3339())
        .bind(name)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(done.rows_affected()))
    }
}

/// The role of the principal `name` as `tx` sees it; `None` when there is none.
pub(super) async fn role_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    name: &str,
) -> Result<Option<Role>, ApiError> {
    let row: Option<(String,)> = sqlx::query_as("SELECT role FROM principals WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.and_then(|(role,)| role.parse().ok()))
}
