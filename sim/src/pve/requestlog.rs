//! Every API request as one JSON line `{"method","path","params"}`, so a
//! run can be checked against the real PVE API schema afterwards.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::SimError;

pub struct RequestLog {
    path: PathBuf,
    file: Mutex<File>,
}

impl RequestLog {
    pub fn open(path: &Path) -> Result<Self, SimError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| SimError::Write {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Self {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    pub fn append(&self, method: &str, path: &str, params: &BTreeMap<String, String>) {
        // A monitor command's password stays out of the log.
        let mut params = params.clone();
        if let Some(command) = params.get_mut("command") {
            if command.starts_with("set_password") {
                let kept: Vec<&str> = command.split_whitespace().take(2).collect();
                *command = format!("{} ******", kept.join(" "));
            }
        }
        // One write per line, so lines from concurrent writers never mix.
        let line = format!(
            "{}\n",
            serde_json::json!({ "method": method, "path": path, "params": params })
        );
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(err) = file.write_all(line.as_bytes()) {
            tracing::warn!(path = %self.path.display(), error = %err, "cannot append to the PVE request log");
        }
    }
}
