//! `giif-agent operations list|show|retry|abandon`: the journal for an
//! operator, so a stuck operation is visible and movable without SQL. A
//! retried operation is run by the serving agent's reconciler within
//! `[operations] resume_seconds`.

use std::fmt::Write;
use std::path::Path;

use anyhow::{bail, Context};
use giif_agent::config::AgentConfig;
use giif_agent::operations::{ObjectKind, OpState, OperationRow};
use giif_agent::store::operations::now_ms;
use giif_agent::store::Store;

async fn open(config: &Path) -> anyhow::Result<Store> {
    let config = AgentConfig::load(config)?;
    Ok(Store::open(&config.store_url()).await?)
}

/// `KIND/ID` as `list` prints it.
fn parse_reference(reference: &str) -> anyhow::Result<(ObjectKind, String)> {
    let (kind, id) = reference
        .split_once('/')
        .with_context(|| format!("{reference:?} is not KIND/ID as `giif-agent operations list` prints it (for example vm/vm-1234)"))?;
    let kind = ObjectKind::ALL
        .iter()
        .copied()
        .find(|k| k.as_str() == kind)
        .with_context(|| {
            let kinds: Vec<&str> = ObjectKind::ALL.iter().map(|k| k.as_str()).collect();
            format!("{kind:?} is not a kind of object; the kinds are {kinds:?}")
        })?;
    Ok((kind, id.to_string()))
}

fn lease(row: &OperationRow) -> String {
    match (&row.holder, row.lease_until_ms) {
        (Some(holder), Some(until)) if until >= now_ms() => {
            format!("{holder} ({} s left)", (until - now_ms()) / 1000)
        }
        (Some(holder), Some(_)) => format!("{holder} (passed)"),
        _ => "-".into(),
    }
}

/// `operations list [--all]`.
pub async fn list(config: &Path, all: bool) -> anyhow::Result<String> {
    let rows = open(config).await?.operations(all).await?;
    if rows.is_empty() {
        return Ok(if all {
            "The journal is empty.\n".into()
        } else {
            "No operation is queued, running or failed.\n".into()
        });
    }
    let mut out = format!(
        "{:<44} {:<9} {:<10} {:>8}  {:<40} {}\n",
        "OBJECT", "OP", "STATE", "ATTEMPTS", "STEP", "LEASE"
    );
    for row in &rows {
        let _ = writeln!(
            out,
            "{:<44} {:<9} {:<10} {:>8}  {:<40} {}",
            format!("{}/{}", row.kind, row.object_id),
            row.op,
            row.state,
            row.attempts,
            row.step,
            lease(row)
        );
    }
    Ok(out)
}

/// `operations show KIND/ID`.
pub async fn show(config: &Path, reference: &str) -> anyhow::Result<String> {
    let (kind, id) = parse_reference(reference)?;
    let Some(row) = open(config).await?.operation(kind, &id).await? else {
        bail!("the journal has no operation on {reference}");
    };
    let mut out = String::new();
    let _ = writeln!(out, "object:     {}/{}", row.kind, row.object_id);
    let _ = writeln!(out, "operation:  {}", row.op);
    let _ = writeln!(out, "state:      {}", row.state);
    let _ = writeln!(out, "step:       {}", row.step);
    let _ = writeln!(out, "attempts:   {}", row.attempts);
    let _ = writeln!(out, "lease:      {}", lease(&row));
    let _ = writeln!(out, "request id: {}", row.request_id);
    let _ = writeln!(out, "started:    {}", row.created_at);
    let _ = writeln!(out, "updated:    {}", row.updated_at);
    if let Some(at) = row.retry_at_ms {
        let _ = writeln!(out, "retried in: {} s", (at - now_ms()).max(0) / 1000);
    }
    if let Some(error) = &row.error {
        let _ = writeln!(out, "error:      {}", error.message);
        if !error.hint.is_empty() {
            let _ = writeln!(out, "hint:       {}", error.hint);
        }
    }
    if !row.note.is_empty() {
        let _ = writeln!(out, "note:       {}", row.note);
    }
    Ok(out)
}

/// `operations retry KIND/ID` and `operations abandon KIND/ID`.
pub async fn set_state(config: &Path, reference: &str, state: OpState) -> anyhow::Result<String> {
    let (kind, id) = parse_reference(reference)?;
    let store = open(config).await?;
    if store.operation(kind, &id).await?.is_none() {
        bail!("the journal has no operation on {reference}");
    }
    if !store.set_operation_state(kind, &id, state).await? {
        bail!("the operation on {reference} is running under a live lease; wait for it, or for its lease to pass");
    }
    Ok(match state {
        OpState::Abandoned => format!("Abandoned the operation on {reference}: no agent resumes it. Terraform's next apply or destroy of the object journals a new one.\n"),
        _ => format!("Queued the operation on {reference} again: the serving agent resumes it within [operations] resume_seconds.\n"),
    })
}
