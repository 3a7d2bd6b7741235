//! The resources the driver works on, found by following the service's
//! links: the system (the configured `Id`, or the only one), the manager
//! that manages it, and the virtual CD under the manager or the system
//! (iDRACs moved it from one to the other between firmware releases).

use serde_json::Value;

use super::Redfish;
use crate::drivers::error::DriverError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Paths {
    pub system: String,
    pub manager: Option<String>,
    /// The virtual media resource that takes CD images.
    pub cd: Option<String>,
}

/// The `@odata.id` of each member of a collection.
pub(super) fn members(collection: &Value) -> Vec<String> {
    collection["Members"]
        .as_array()
        .map(|members| {
            members
                .iter()
                .filter_map(|m| m["@odata.id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The path an action of `resource` is posted to (`#ComputerSystem.Reset`,
/// `#VirtualMedia.InsertMedia`...), if the resource offers the action.
pub(super) fn action_target(resource: &Value, action: &str) -> Option<String> {
    resource["Actions"][action]["target"].as_str().map(path_of)
}

/// The path of a URI the BMC gave (absolute or not).
pub(super) fn path_of(uri: &str) -> String {
    match reqwest::Url::parse(uri) {
        Ok(url) => url.path().to_string(),
        Err(_) => uri.to_string(),
    }
}

pub(super) fn link(resource: &Value, name: &str) -> Option<String> {
    resource[name]["@odata.id"].as_str().map(str::to_string)
}

impl Redfish {
    /// The paths, found once per driver and then kept.
    pub(super) async fn paths(&self, action: &str) -> Result<Paths, DriverError> {
        if let Some(paths) = self.line.lock().await.paths.clone() {
            return Ok(paths);
        }
        let paths = self.discover(action).await?;
        self.line.lock().await.paths = Some(paths.clone());
        Ok(paths)
    }

    async fn discover(&self, action: &str) -> Result<Paths, DriverError> {
        let root = self.get(action, "/redfish/v1/").await?.body;
        let systems = link(&root, "Systems").ok_or_else(|| {
            DriverError::permanent(&self.target, action, "the service root lists no Systems")
        })?;
        let systems = members(&self.get(action, &systems).await?.body);
        let system = match &self.config.system {
            Some(id) => systems
                .iter()
                .find(|path| path.trim_end_matches('/').rsplit('/').next() == Some(id.as_str()))
                .cloned()
                .ok_or_else(|| {
                    DriverError::permanent(
                        &self.target,
                        action,
                        format!(
                            "the BMC has no system {id:?}; it has {}: fix bmc.system",
                            ids(&systems)
                        ),
                    )
                })?,
            None => match systems.as_slice() {
                [only] => only.clone(),
                [] => {
                    return Err(DriverError::permanent(
                        &self.target,
                        action,
                        "the BMC manages no system",
                    ))
                }
                _ => {
                    return Err(DriverError::permanent(
                        &self.target,
                        action,
                        format!(
                            "the BMC manages several systems ({}); name one in bmc.system",
                            ids(&systems)
                        ),
                    ))
                }
            },
        };
        let system_doc = self.get(action, &system).await?.body;
        let manager = system_doc["Links"]["ManagedBy"]
            .as_array()
            .and_then(|managers| managers.first())
            .and_then(|m| m["@odata.id"].as_str())
            .map(str::to_string);
        let mut collections = Vec::new();
        if let Some(manager) = &manager {
            if let Some(media) = link(&self.get(action, manager).await?.body, "VirtualMedia") {
                collections.push(media);
            }
        }
        if let Some(media) = link(&system_doc, "VirtualMedia") {
            if !collections.contains(&media) {
                collections.push(media);
            }
        }
        let mut cd = None;
        'found: for collection in collections {
            for member in members(&self.get(action, &collection).await?.body) {
                let device = self.get(action, &member).await?.body;
                let takes_cd = device["MediaTypes"].as_array().is_some_and(|types| {
                    types
                        .iter()
                        .any(|t| matches!(t.as_str(), Some("CD" | "DVD")))
                });
                if takes_cd {
                    cd = Some(member);
                    break 'found;
                }
            }
        }
        Ok(Paths {
            system,
            manager,
            cd,
        })
    }
}

fn ids(paths: &[String]) -> String {
    paths
        .iter()
        .filter_map(|p| p.trim_end_matches('/').rsplit('/').next())
        .collect::<Vec<_>>()
        .join(", ")
}
