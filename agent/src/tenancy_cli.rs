//! The operator's tenancy commands, part of the binary (`giif-agent identity|quota|audit`):
//! each returns the text to print.

use std::fmt::Write;
use std::path::Path;

use giif_agent::config::AgentConfig;
use giif_agent::init::issue_identity;
use giif_agent::pki::CaHandle;
use giif_agent::store::audit::AuditFilter;
use giif_agent::store::{CertificateStanding, Store};
use giif_agent::tenancy::authenticate::certificate_facts;
use giif_agent::tenancy::quota::{Quota, QuotaKind};
use giif_agent::tenancy::Role;

type Result<T> = std::result::Result<T, anyhow::Error>;

async fn open(config: &Path) -> Result<(AgentConfig, Store)> {
    let config = AgentConfig::load(config)?;
    let store = Store::open(&config.store_url()).await?;
    Ok((config, store))
}

/// `identity issue`: a new principal is a `user` unless `role` says otherwise.
pub async fn issue(
    config: &Path,
    name: &str,
    role: Option<Role>,
    days: Option<u32>,
    out: &Path,
) -> Result<String> {
    let (config, store) = open(config).await?;
    let role = match (role, store.principal_role(name).await?) {
        (Some(role), _) => role,
        (None, Some(existing)) => existing,
        (None, None) => Role::User,
    };
    let ca = CaHandle::load(&config.tls.ca_cert, &config.tls.ca_key)?;
    std::fs::create_dir_all(out)?;
    let days = days.unwrap_or(config.tenancy.certificate_days);
    let issued = issue_identity(&ca, &store, name, role, days, out).await?;
    Ok(format!(
        "Issued identity {name:?} ({role}), serial {}, valid until {}:\n  certificate: {}\n  key:         {}\n",
        issued.serial,
        issued.expires_at,
        issued.cert.display(),
        issued.key.display()
    ))
}

/// `identity adopt`: records a certificate the CA issued earlier.
pub async fn adopt(config: &Path, cert: &Path, role: Option<Role>) -> Result<String> {
    let (config, store) = open(config).await?;
    let pem = giif_agent::pki::read_pem_file(cert)?;
    let ca = giif_agent::pki::read_pem_file(&config.tls.ca_cert)?;
    let der = giif_agent::pki::verify_client_cert(&ca, &pem)?;
    let facts = certificate_facts(der.as_ref()).ok_or_else(|| {
        anyhow::anyhow!("{} has no readable serial and common name", cert.display())
    })?;
    let (serial, name, expires_at) = (facts.serial, facts.name, facts.expires_at);
    if let Some(problem) = giif_agent::tenancy::principal::name_problem(&name) {
        anyhow::bail!("{}: {problem}", cert.display());
    }
    let existing = store.principal_role(&name).await?;
    let role = role.or(existing).unwrap_or(Role::User);
    match store.certificate_standing(&serial).await? {
        CertificateStanding::Valid(principal) if principal.name == name => {
            return Ok(format!(
                "{name}'s certificate {serial} is already recorded.\n"
            ));
        }
        CertificateStanding::Revoked { .. } => {
            anyhow::bail!("certificate {serial} of {name} was revoked; issue a new identity")
        }
        _ => {}
    }
    store
        .record_certificate(&name, role, &serial, &expires_at)
        .await?;
    Ok(format!(
        "Adopted {name}'s certificate {serial} ({role}, valid until {expires_at}).\n"
    ))
}

pub async fn list(config: &Path) -> Result<String> {
    let (_, store) = open(config).await?;
    let mut out = format!(
        "{:<20} {:<9} {:<34} {:<26} STATE\n",
        "PRINCIPAL", "ROLE", "CERTIFICATE SERIAL", "EXPIRES"
    );
    for (principal, certificates) in store.principals().await? {
        for cert in certificates {
            let state = match &cert.revoked_at {
                Some(at) => format!("revoked {at}"),
                None => "valid".to_string(),
            };
            writeln!(
                out,
                "{:<20} {:<9} {:<34} {:<26} {state}",
                principal.name, principal.role, cert.serial, cert.expires_at
            )?;
        }
    }
    Ok(out)
}

pub async fn revoke(config: &Path, name: &str) -> Result<String> {
    let (_, store) = open(config).await?;
    match store.revoke_principal(name).await? {
        None => anyhow::bail!("{name} is not a principal (see `giif-agent identity list`)"),
        Some(count) => Ok(format!(
            "Revoked {count} certificate(s) of {name}; their next call is refused.\n"
        )),
    }
}

pub async fn set_quota(config: &Path, name: &str, quota: &Quota) -> Result<String> {
    let (config, store) = open(config).await?;
    if !store.set_quota(name, quota).await? {
        anyhow::bail!("{name} is not a principal (see `giif-agent identity list`)");
    }
    Ok(format!(
        "Set the quota of {name}.\n{}",
        quota_table(&config, &store, name).await?
    ))
}

pub async fn show_quota(config: &Path, name: &str) -> Result<String> {
    let (config, store) = open(config).await?;
    match store.principal_role(name).await? {
        None => anyhow::bail!("{name} is not a principal (see `giif-agent identity list`)"),
        Some(Role::Operator) => Ok(format!(
            "{name} is an operator: no quota applies.\n{}",
            quota_table(&config, &store, name).await?
        )),
        Some(Role::User) => quota_table(&config, &store, name).await,
    }
}

async fn quota_table(config: &AgentConfig, store: &Store, name: &str) -> Result<String> {
    let (set, usage) = store.quota_and_usage(name).await?;
    let defaults = config.tenancy.default_quota;
    let mut out = format!("{:<14} {:>6} {:>10}  FROM\n", "QUOTA", "USED", "LIMIT");
    for kind in QuotaKind::ALL {
        let (limit, from) = match (set.limit(kind), defaults.limit(kind)) {
            (Some(limit), _) => (limit.to_string(), "set"),
            (None, Some(limit)) => (limit.to_string(), "default"),
            (None, None) => ("unlimited".to_string(), "default"),
        };
        writeln!(
            out,
            "{:<14} {:>6} {:>10}  {from}",
            kind.name(),
            usage.of(kind),
            limit
        )?;
    }
    Ok(out)
}

pub async fn audit(config: &Path, filter: &AuditFilter) -> Result<String> {
    let (_, store) = open(config).await?;
    let mut out = String::new();
    for (at, record, actions) in store.audit_records(filter).await? {
        writeln!(
            out,
            "{at}  {:<12} {:<26} {:<38} project={} request={} serial={}  {}",
            record.principal,
            record.rpc,
            record.object,
            if record.project_id.is_empty() {
                "-"
            } else {
                &record.project_id
            },
            if record.request_id.is_empty() {
                "-"
            } else {
                &record.request_id
            },
            record.serial,
            record.outcome
        )?;
        for action in actions {
            writeln!(
                out,
                "    {}  {:<24} {:<40} {}",
                action.at, action.device, action.action, action.result
            )?;
        }
    }
    Ok(out)
}
