//! The site: drivers built from the imported inventory, one per device,
//! behind their capability traits. This is where the site configuration
//! chooses the backend; the rest of the agent sees only the traits.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::credentials::SecretError;
use crate::drivers::bmc::Bmc;
use crate::drivers::console::ConsoleRegistry;
use crate::drivers::gateway::Gateway;
use crate::drivers::guacamole::GuacamoleDb;
use crate::drivers::host_keys::HostKeyPins;
use crate::drivers::hypervisor::Hypervisor;
use crate::drivers::idrac::{Idrac, IdracConfig};
use crate::drivers::observe::ObservedBmc;
use crate::drivers::pagw::{Credential, Pagw, PagwConfig};
use crate::drivers::proxmox::{parse_fingerprint, ProxmoxConfig, ProxmoxDriver, PveTrust};
use crate::drivers::redfish::{Redfish, RedfishConfig};
use crate::drivers::retry::RetryPolicy;
use crate::error::ApiError;
use crate::inventory::{Bms, GatewayAccess, Management};
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error(transparent)]
    Store(#[from] ApiError),
    #[error("{device}: {source}")]
    Secret { device: String, source: SecretError },
    #[error("proxmox: {0}")]
    Proxmox(String),
    #[error("guacamole: {0}")]
    Guacamole(String),
    #[error("bms {server}: the Redfish BMC: {source}")]
    Redfish {
        server: String,
        source: crate::drivers::redfish::RedfishSetupError,
    },
    #[error("bms {0}: the site file gives neither an idrac nor a bmc table")]
    NoBmc(String),
    #[error("{device}: the SSH key: {reason}")]
    Key { device: String, reason: String },
}

/// The agent's credential for one gateway slot, read from its reference.
pub fn gateway_credential(access: &GatewayAccess, device: &str) -> Result<Credential, SiteError> {
    let secret = |reference: &crate::credentials::SecretRef| {
        reference.resolve().map_err(|source| SiteError::Secret {
            device: device.to_string(),
            source,
        })
    };
    match (&access.key, &access.password) {
        (Some(key), _) => Credential::key(&secret(key)?).map_err(|reason| SiteError::Key {
            device: device.to_string(),
            reason,
        }),
        (None, Some(password)) => Ok(Credential::Password(secret(password)?)),
        (None, None) => Err(SiteError::Key {
            device: device.to_string(),
            reason: "the site file gives neither key nor password".into(),
        }),
    }
}

/// The driver a server's site entry chooses for its BMC.
fn bmc_driver(
    server: &Bms,
    pins: &Arc<dyn HostKeyPins>,
    retry: RetryPolicy,
) -> Result<Arc<dyn Bmc>, SiteError> {
    let device = format!("bms {}", server.name);
    let resolve = |reference: &crate::credentials::SecretRef| {
        reference.resolve().map_err(|source| SiteError::Secret {
            device: device.clone(),
            source,
        })
    };
    match server.management() {
        Some(Management::Racadm(idrac)) => {
            let mut config = IdracConfig::new(
                &server.name,
                &idrac.address,
                idrac.port,
                &idrac.user,
                resolve(&idrac.password)?,
            );
            config.retry = retry;
            Ok(Arc::new(ObservedBmc(Idrac::new(config, pins.clone()))))
        }
        Some(Management::Redfish(bmc)) => {
            let mut config =
                RedfishConfig::new(&server.name, &bmc.url, &bmc.user, resolve(&bmc.password)?);
            config.system = bmc.system.clone();
            config.retry = retry;
            let driver =
                Redfish::new(config, pins.clone()).map_err(|source| SiteError::Redfish {
                    server: server.name.clone(),
                    source,
                })?;
            Ok(Arc::new(ObservedBmc(driver)))
        }
        None => Err(SiteError::NoBmc(server.name.clone())),
    }
}

/// The console registry and what its connections need.
pub struct ConsoleSite {
    pub registry: Arc<dyn ConsoleRegistry>,
    /// The guacd connections name; `None` for Guacamole's default.
    pub guacd: Option<(String, u16)>,
}

/// Every device of the site, ready to drive.
pub struct Site {
    pub bmcs: BTreeMap<String, Arc<dyn Bmc>>,
    pub hypervisor: Option<Arc<dyn Hypervisor>>,
    /// Gateways by slot public IP.
    pub gateways: BTreeMap<String, Arc<dyn Gateway>>,
    /// `None` when the site has no Guacamole: resources get no consoles.
    pub console: Option<ConsoleSite>,
}

impl Site {
    /// Builds the drivers from the inventory in `store`, retrying transient
    /// failures by `retry`; SSH host keys are pinned in the store too.
    pub async fn load(store: &Store, retry: RetryPolicy) -> Result<Self, SiteError> {
        let pins: Arc<dyn HostKeyPins> = Arc::new(store.clone());
        let mut bmcs: BTreeMap<String, Arc<dyn Bmc>> = BTreeMap::new();
        for server in store.bms_inventory().await? {
            bmcs.insert(server.name.clone(), bmc_driver(&server, &pins, retry)?);
        }
        let hypervisor: Option<Arc<dyn Hypervisor>> = match store.proxmox_inventory().await? {
            None => None,
            Some(pve) => {
                let secret = pve
                    .token_secret
                    .resolve()
                    .map_err(|source| SiteError::Secret {
                        device: "proxmox".into(),
                        source,
                    })?;
                let trust = match (&pve.ca_cert, &pve.fingerprint) {
                    (Some(path), _) => {
                        PveTrust::CaPem(std::fs::read_to_string(path).map_err(|e| {
                            SiteError::Proxmox(format!(
                                "cannot read the CA {}: {e}",
                                path.display()
                            ))
                        })?)
                    }
                    (None, Some(pin)) => {
                        PveTrust::Fingerprint(parse_fingerprint(pin).ok_or_else(|| {
                            SiteError::Proxmox(format!("bad fingerprint {pin:?}"))
                        })?)
                    }
                    (None, None) => {
                        return Err(SiteError::Proxmox("no ca_cert or fingerprint".into()))
                    }
                };
                let mut config = ProxmoxConfig::new(&pve.api_url, &pve.token_id, secret, trust);
                config.retry = retry;
                let driver =
                    ProxmoxDriver::new(config).map_err(|e| SiteError::Proxmox(e.to_string()))?;
                Some(Arc::new(driver))
            }
        };
        let mut gateways: BTreeMap<String, Arc<dyn Gateway>> = BTreeMap::new();
        for slot in store.pagw_slot_inventory().await? {
            let device = format!("pagw slot {}", slot.public_ip);
            let credential = gateway_credential(&slot.ssh, &device)?;
            let mut config = PagwConfig::new(
                slot.public_ip,
                &slot.ssh.address,
                slot.ssh.port,
                &slot.ssh.user,
                credential,
            );
            config.retry = retry;
            gateways.insert(
                slot.public_ip.to_string(),
                Arc::new(Pagw::new(config, pins.clone())),
            );
        }
        let console = match store.guacamole_inventory().await? {
            None => None,
            Some(guacamole) => {
                let url = guacamole
                    .database_url
                    .resolve()
                    .map_err(|source| SiteError::Secret {
                        device: "guacamole".into(),
                        source,
                    })?;
                let db = GuacamoleDb::new(url.expose(), &guacamole.public_url)
                    .map_err(|e| SiteError::Guacamole(e.to_string()))?;
                Some(ConsoleSite {
                    registry: Arc::new(db),
                    guacd: guacamole
                        .guacd_host
                        .map(|host| (host, guacamole.guacd_port.unwrap_or(4822))),
                })
            }
        };
        Ok(Self {
            bmcs,
            hypervisor,
            gateways,
            console,
        })
    }
}
