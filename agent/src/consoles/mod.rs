//! Consoles: the Guacamole tree Giif uses and the console connections of
//! every resource, kept in step with the resources.
//!
//! ```text
//! Projects/                       (root group; adopted if an operator made it)
//!   <project>/                    project/<id>
//!     Resources/                  project/<id>/resources
//!       <vm>                      vm/<id>             VNC to the VM on its node
//!       <server>/                 bms/<id>            moves with the server
//!         <server> console        bms/<id>/console    VNC to the iDRAC
//!       <explicit connection>     connection/<key>    giif_guacamole_connection
//!     Project Toolbox/            project/<id>/toolbox
//!       ARP scan, WireGuard, PPTP gateway/<id>/<tool>  SSH to the gateway
//! ```
//!
//! The right-hand column is each object's owner key (see
//! [`crate::drivers::console`]). Project members and the owner get READ on
//! every object the agent made in their project.

mod connections;
mod resources;
mod tree;

use giif_proto::status::Status;
use std::sync::Arc;

use crate::drivers::console::{ConsoleRegistry, ObjectId};
use crate::error::ApiError;
use crate::gateways::driver_error;
use crate::site_cache::SiteCache;
use crate::store::Store;

pub use connections::validate_connection_spec;
pub use resources::{fresh_vnc_password, vm_vnc_display};

/// The grant source of project membership.
const MEMBERS: &str = "members";
/// The grant source of an explicit connection's `users`/`user_groups`.
const DECLARED: &str = "connection";

/// Owner keys of the objects the agent makes.
mod owner {
    pub const ROOT: &str = "projects";
    pub fn project(id: &str) -> String {
        format!("project/{id}")
    }
    pub fn resources(id: &str) -> String {
        format!("project/{id}/resources")
    }
    pub fn toolbox(id: &str) -> String {
        format!("project/{id}/toolbox")
    }
    pub fn gateway_tool(id: &str, tool: &str) -> String {
        format!("gateway/{id}/{tool}")
    }
    pub fn vm(id: &str) -> String {
        format!("vm/{id}")
    }
    pub fn bms_group(id: &str) -> String {
        format!("bms/{id}")
    }
    pub fn bms_console(id: &str) -> String {
        format!("bms/{id}/console")
    }
    pub fn connection(key: &str) -> String {
        format!("connection/{key}")
    }
    /// The project whose Resources group this owner key names.
    pub fn project_of_resources(owner: &str) -> Option<&str> {
        owner.strip_prefix("project/")?.strip_suffix("/resources")
    }
}

/// What a resource's console looks like from the agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsoleState {
    /// The site has no Guacamole.
    Absent,
    Present {
        id: ObjectId,
        url: String,
    },
    /// Deleted or changed out of band: why.
    Drift(String),
    /// Could not be read (the registry is down): nothing is claimed.
    Unknown,
}

impl ConsoleState {
    pub fn id(&self) -> String {
        match self {
            ConsoleState::Present { id, .. } => id.to_string(),
            _ => String::new(),
        }
    }
    pub fn url(&self) -> String {
        match self {
            ConsoleState::Present { url, .. } => url.clone(),
            _ => String::new(),
        }
    }
    /// The status a ready resource reports with this console.
    pub fn status(&self) -> Status {
        match self {
            ConsoleState::Drift(_) => Status::ConsoleDrift,
            _ => Status::Ready,
        }
    }
    /// Marks a ready resource whose console drifted: `console_drift`, with
    /// why in its last error.
    pub fn mark_drift(&self, status: &mut String, last_error: &mut String) {
        if let Some(why) = self.drift() {
            *status = Status::ConsoleDrift.into();
            *last_error = why.to_string();
        }
    }

    pub fn drift(&self) -> Option<&str> {
        match self {
            ConsoleState::Drift(why) => Some(why),
            _ => None,
        }
    }
}

#[derive(Clone)]
pub struct Consoles {
    store: Store,
    site: SiteCache,
}

/// The registry and the site it belongs to.
struct Registry {
    db: Arc<dyn ConsoleRegistry>,
    guacd: Option<(String, u16)>,
}

impl Consoles {
    pub fn new(store: Store, site: SiteCache) -> Self {
        Self { store, site }
    }

    /// The registry, or `None` when the site has no Guacamole.
    async fn registry(&self) -> Result<Option<Registry>, ApiError> {
        let site = self.site.site().await?;
        Ok(site.console.as_ref().map(|console| Registry {
            db: console.registry.clone(),
            guacd: console.guacd.clone(),
        }))
    }
}

fn console_error(error: crate::drivers::DriverError) -> ApiError {
    driver_error(error)
}
