//! The giif on-site agent: inventory, allocations and the hardware
//! drivers, behind the agent API served over mTLS.

pub mod actions;
pub mod audit;
pub mod bare_metal;
pub mod check;
pub mod config;
pub mod consoles;
pub mod credentials;
pub mod db_files;
pub mod drivers;
pub mod error;
pub mod floating;
pub mod gateways;
pub mod health;
pub mod init;
pub mod inventory;
pub mod iso_library;
pub mod listing;
pub mod metrics;
pub mod notices;
pub mod operations;
pub mod ownership;
pub mod pki;
pub mod server;
pub mod service;
pub mod site;
pub mod site_cache;
pub mod store;
pub mod tenancy;
pub mod vms;
