//! Secrets given by reference: read from a file or an environment variable
//! when needed (so a rotated secret is picked up without a restart). The
//! value never goes into an error or a log line.

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read {what} from {path}: {source}")]
    File {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("{what} is to come from the environment variable {var}, which is not set")]
    Env { what: &'static str, var: String },
    #[error("{what} from {origin} is empty")]
    Empty { what: &'static str, origin: String },
}

/// The secret from `file` or `env`, whichever is set; `None` if neither.
/// One trailing newline (as editors leave it) is not part of the secret.
pub fn read_secret(
    what: &'static str,
    file: Option<&Path>,
    env: Option<&str>,
) -> Result<Option<String>, SecretError> {
    let (value, origin) = match (file, env) {
        (Some(path), _) => (
            std::fs::read_to_string(path).map_err(|source| SecretError::File {
                what,
                path: path.display().to_string(),
                source,
            })?,
            path.display().to_string(),
        ),
        (None, Some(var)) => (
            std::env::var(var).map_err(|_| SecretError::Env {
                what,
                var: var.to_string(),
            })?,
            format!("${var}"),
        ),
        (None, None) => return Ok(None),
    };
    let value = value
        .strip_suffix('\n')
        .map(|v| v.strip_suffix('\r').unwrap_or(v))
        .unwrap_or(&value)
        .to_string();
    if value.is_empty() {
        return Err(SecretError::Empty { what, origin });
    }
    Ok(Some(value))
}
