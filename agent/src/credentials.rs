//! Credentials are referenced, never inlined: a file or an environment
//! variable. A resolved secret never prints itself.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where a secret lives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum SecretRef {
    File(PathBuf),
    Env(String),
}

/// A secret's value. `Debug` and `Display` hide it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read the secret file {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the secret environment variable {0} is not set")]
    Env(String),
    #[error("the secret in {0} is empty")]
    Empty(String),
}

impl SecretRef {
    /// Makes a relative file reference relative to `base` (the site file's directory).
    pub fn relative_to(self, base: &Path) -> Self {
        match self {
            SecretRef::File(path) if path.is_relative() => SecretRef::File(base.join(path)),
            other => other,
        }
    }

    pub fn resolve(&self) -> Result<Secret, SecretError> {
        let (value, origin) = match self {
            SecretRef::File(path) => (
                std::fs::read_to_string(path).map_err(|source| SecretError::File {
                    path: path.clone(),
                    source,
                })?,
                path.display().to_string(),
            ),
            SecretRef::Env(name) => (
                std::env::var(name).map_err(|_| SecretError::Env(name.clone()))?,
                format!("${name}"),
            ),
        };
        // Files usually end with a newline that is not part of the secret.
        let value = value.trim_end_matches(['\n', '\r']).to_string();
        if value.is_empty() {
            return Err(SecretError::Empty(origin));
        }
        Ok(Secret(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?} {secret}"), "Secret(***) ***");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn file_and_env_references() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw"), "s3cret\n").unwrap();
        let by_file = SecretRef::File("pw".into()).relative_to(dir.path());
        assert_eq!(by_file.resolve().unwrap().expose(), "s3cret");
        let missing = SecretRef::Env("GIIF_TEST_SURELY_UNSET".into())
            .resolve()
            .unwrap_err();
        assert!(missing.to_string().contains("GIIF_TEST_SURELY_UNSET"));
    }
}
