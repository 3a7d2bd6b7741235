//! giif-sim: a simulated giif site on loopback, speaking the real protocols:
//! fake iDRACs (SSH, racadm), a fake Proxmox VE cluster (HTTPS REST API) and
//! fake PAGW gateways (SSH). Tests, the demo and users' CI drive the agent's
//! real drivers against it; nothing in the agent knows it is simulated.

pub mod admin;
pub mod error;
pub mod events;
pub mod faults;
pub mod identity;
pub mod idrac;
pub mod inventory_out;
pub mod pagw;
pub mod pve;
pub mod site;
pub mod tls;

mod run;

pub use error::SimError;
pub use run::{start, RunOptions, RunningSite};
