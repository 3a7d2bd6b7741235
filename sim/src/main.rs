//! giif-sim: the simulated site (fake iDRACs, a fake Proxmox VE cluster and
//! fake PAGW gateways on loopback). This is the skeleton the foundation
//! needs for the workspace; the endpoints arrive with the simulator issue.

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "giif-sim",
    version,
    about = "A simulated giif site on loopback"
)]
struct Cli {
    /// The site description (TOML).
    #[arg(long)]
    site: Option<std::path::PathBuf>,
}

fn main() -> std::process::ExitCode {
    let _cli = Cli::parse();
    eprintln!(
        "giif-sim: the simulated iDRAC, Proxmox VE and PAGW endpoints are not part of this build yet; \
         projects need no hardware and work without it"
    );
    std::process::ExitCode::from(2)
}
