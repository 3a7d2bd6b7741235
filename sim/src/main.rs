//! giif-sim: runs a simulated site until interrupted.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use giif_sim::site::SiteDescription;
use giif_sim::{start, RunOptions};

#[derive(Parser)]
#[command(
    name = "giif-sim",
    version,
    about = "A simulated giif site on loopback: fake iDRACs, Proxmox VE and PAGW gateways"
)]
struct Cli {
    /// The site description (TOML).
    #[arg(long)]
    site: PathBuf,
    /// Write the matching agent inventory and credentials here.
    #[arg(long)]
    inventory_dir: Option<PathBuf>,
    /// Log every Proxmox API request as a JSON line to this file.
    #[arg(long)]
    request_log: Option<PathBuf>,
    /// Address of the admin API (default: an ephemeral port on 127.0.0.1).
    #[arg(long)]
    admin: Option<std::net::SocketAddr>,
    /// Write the admin API's address to this file once serving.
    #[arg(long)]
    admin_addr_file: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GIIF_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    let text = std::fs::read_to_string(&cli.site)
        .with_context(|| format!("cannot read {}", cli.site.display()))?;
    let site = SiteDescription::parse(&cli.site.display().to_string(), &text)?;
    // With an inventory directory, identities persist there across restarts.
    let identity_seed = match &cli.inventory_dir {
        Some(dir) => Some(
            giif_sim::identity::load_or_create_seed(dir)
                .with_context(|| format!("cannot keep the site seed in {}", dir.display()))?,
        ),
        None => None,
    };
    let running = start(
        site,
        RunOptions {
            inventory_dir: cli.inventory_dir,
            request_log: cli.request_log,
            admin_addr: cli.admin,
            identity_seed,
        },
    )
    .await?;
    if let Some(file) = &cli.admin_addr_file {
        // Written aside and renamed into place: whoever waits for the file
        // never reads it half written.
        let partial = file.with_extension("partial");
        std::fs::write(&partial, running.admin_addr.to_string())?;
        std::fs::rename(&partial, file)?;
    }
    eprintln!("giif-sim: admin API on http://{}", running.admin_addr);
    eprintln!("giif-sim: Proxmox VE API at {}", running.pve.api_url());
    for idrac in running.idrac.endpoints() {
        eprintln!(
            "giif-sim: iDRAC of {} at ssh://{}",
            idrac.server.name, idrac.addr
        );
    }
    if let Some(file) = &running.inventory_file {
        eprintln!("giif-sim: agent inventory written to {}", file.display());
    }
    tokio::signal::ctrl_c().await?;
    Ok(())
}
