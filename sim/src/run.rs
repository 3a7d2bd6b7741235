//! Starting a whole simulated site.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::admin;
use crate::events;
use crate::faults::Faults;
use crate::idrac::IdracFleet;
use crate::inventory_out;
use crate::pagw::PagwFleet;
use crate::pve::PveCluster;
use crate::site::SiteDescription;
use crate::SimError;

#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Where to write the agent inventory and credentials (`site.toml`,
    /// `credentials/`), if anywhere.
    pub inventory_dir: Option<PathBuf>,
    /// Every Proxmox API request as a JSON line `{"method","path","params"}`.
    pub request_log: Option<PathBuf>,
    /// The admin API's address; default an ephemeral port on 127.0.0.1.
    pub admin_addr: Option<SocketAddr>,
    /// Derive device identities (host keys, passwords) from this seed, so
    /// they survive a restart; random when absent.
    pub identity_seed: Option<[u8; 32]>,
}

pub struct RunningSite {
    pub site: SiteDescription,
    pub idrac: IdracFleet,
    pub pve: PveCluster,
    pub pagw: PagwFleet,
    pub faults: Faults,
    pub admin_addr: SocketAddr,
    /// The agent inventory file, when written.
    pub inventory_file: Option<PathBuf>,
}

pub async fn start(site: SiteDescription, options: RunOptions) -> Result<RunningSite, SimError> {
    if let Some(seed) = options.identity_seed {
        crate::identity::set_site_seed(seed);
    }
    let faults = Faults::default();
    let events = events::channel();
    // Gateways subscribe before the cluster can start any VM.
    let pagw = PagwFleet::start(
        site.pagw_slots.clone(),
        site.pagw_template().map(|t| t.vmid),
        faults.clone(),
        events.clone(),
    )
    .await?;
    let mut proxmox = site.proxmox.clone();
    proxmox
        .iso_volumes
        .extend(site.iso_images.iter().filter_map(|i| i.pve_volume.clone()));
    let pve =
        PveCluster::start(proxmox, faults.clone(), events, options.request_log.clone()).await?;
    let idrac = IdracFleet::start(site.servers.all(), faults.clone()).await?;

    let admin_addr = options
        .admin_addr
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    let listener = tokio::net::TcpListener::bind(admin_addr)
        .await
        .map_err(|source| SimError::Bind {
            what: format!("the admin API on {admin_addr}"),
            source,
        })?;
    let admin_addr = listener.local_addr().map_err(|source| SimError::Bind {
        what: "the admin API".into(),
        source,
    })?;
    let router = admin::router(
        admin::Devices {
            idrac: &idrac,
            pve: &pve,
            pagw: &pagw,
        },
        faults.clone(),
    );
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, router).await {
            tracing::error!(error = %err, "the admin API stopped");
        }
    });

    let mut running = RunningSite {
        site,
        idrac,
        pve,
        pagw,
        faults,
        admin_addr,
        inventory_file: None,
    };
    if let Some(dir) = &options.inventory_dir {
        running.inventory_file = Some(inventory_out::write(&running, dir)?);
    }
    Ok(running)
}
