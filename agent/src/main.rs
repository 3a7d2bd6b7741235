//! giif-agent: the on-site agent and its operator commands.

#![allow(clippy::print_stdout)] // a command-line tool: stdout is where its answers go

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

mod operations_cli;
mod tenancy_cli;
use giif_agent::config::AgentConfig;
use giif_agent::init::{init, InitOptions};
use giif_agent::server::BoundAgent;
use giif_agent::store::Store;
use tenancy_cli as cli;

#[derive(Parser)]
#[command(name = "giif-agent", version, about = "The giif on-site agent")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a state directory: CA, server certificate, operator identity, agent.toml.
    Init {
        /// The state directory to create: CA, keys, agent.toml (and the SQLite store unless --store).
        #[arg(long)]
        dir: PathBuf,
        /// Address the agent API will listen on.
        #[arg(long, default_value = "127.0.0.1:7443")]
        listen: String,
        /// More host names or addresses for the server certificate.
        #[arg(long = "host")]
        hosts: Vec<String>,
        /// Store URL (default: SQLite in the state directory).
        #[arg(long)]
        store: Option<String>,
    },
    /// Serve the agent API over mTLS.
    Serve {
        #[arg(long, env = "GIIF_AGENT_CONFIG")]
        config: PathBuf,
    },
    /// The site inventory.
    Inventory {
        #[command(subcommand)]
        command: InventoryCommand,
    },
    /// The site's devices.
    Site {
        #[command(subcommand)]
        command: SiteCommand,
    },
    /// SSH host keys pinned on first use.
    HostKeys {
        #[command(subcommand)]
        command: HostKeysCommand,
    },
    /// Client identities issued by the agent's CA: the principals.
    Identity {
        #[command(subcommand)]
        command: IdentityCommand,
    },
    /// Print the permission matrix (docs/design/permissions.md).
    Permissions,
    /// Principals' quotas.
    Quota {
        #[command(subcommand)]
        command: QuotaCommand,
    },
    /// The audit trail: who changed what, and what the devices were asked.
    Audit {
        /// Only this project's records (its id).
        #[arg(long)]
        project: Option<String>,
        /// Only this principal's records.
        #[arg(long)]
        principal: Option<String>,
        /// Only records at or after this time (RFC 3339, or YYYY-MM-DD).
        #[arg(long)]
        since: Option<String>,
        #[arg(long, env = "GIIF_AGENT_CONFIG")]
        config: PathBuf,
    },
    /// The operations journal: long operations, their step and lease.
    Operations {
        #[command(subcommand)]
        command: OperationsCommand,
    },
    /// Projects with an expiry date, and the expiry notices sent for them.
    Projects {
        /// Only those expiring within --days days, or already expired.
        #[arg(long)]
        expiring: bool,
        /// With --expiring: how many days ahead (default: the largest of notices.days_before, else 7).
        #[arg(long, requires = "expiring")]
        days: Option<u32>,
        #[arg(long, env = "GIIF_AGENT_CONFIG")]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum InventoryCommand {
    /// Validate a site file and load it; a bad file changes nothing.
    Import {
        file: PathBuf,
        #[arg(long, env = "GIIF_AGENT_CONFIG")]
        config: PathBuf,
    },
    /// Show the inventory and what is allocated.
    List {
        #[arg(long, env = "GIIF_AGENT_CONFIG")]
        config: PathBuf,
    },
    /// Take SERVER out of quarantine, once you have checked it: it is free again.
    Release {
        server: String,
        #[arg(long, env = "GIIF_AGENT_CONFIG")]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum SiteCommand {
    /// Ask every device of the inventory through its driver; exit 1 if any fails.
    Check {
        #[arg(long, env = "GIIF_AGENT_CONFIG")]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum HostKeysCommand {
    /// Show the pinned host keys.
    List {
        #[arg(long, env = "GIIF_AGENT_CONFIG")]
        config: PathBuf,
    },
    /// Forget the pin of ENDPOINT (host:port for an SSH host key, https://host:port for a Redfish
    /// BMC's certificate), after a device was legitimately rebuilt or re-keyed.
    Forget {
        endpoint: String,
        #[arg(long, env = "GIIF_AGENT_CONFIG")]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum IdentityCommand {
    /// Issue a client certificate and key for NAME (their Guacamole user
    /// name) into the directory OUT, making NAME a principal if new.
    Issue {
        name: String,
        #[arg(long)]
        out: PathBuf,
        /// operator or user; an existing principal keeps its role.
        #[arg(long)]
        role: Option<String>,
        /// Validity in days (default: [tenancy] certificate_days).
        #[arg(long)]
        days: Option<u32>,
        #[arg(long, env = "GIIF_AGENT_CONFIG")]
        config: PathBuf,
    },
    /// Record a certificate the CA issued before the agent kept principals
    /// (an upgraded agent refuses it until then), as NAME's, its common name.
    Adopt {
        /// The certificate's PEM file.
        cert: PathBuf,
        /// operator or user; an existing principal keeps its role.
        #[arg(long)]
        role: Option<String>,
        #[arg(long, env = "GIIF_AGENT_CONFIG")]
        config: PathBuf,
    },
    /// Show the principals and their certificates.
    List {
        #[arg(long, env = "GIIF_AGENT_CONFIG")]
        config: PathBuf,
    },
    /// Revoke every certificate of NAME: their next call is refused.
    Revoke {
        name: String,
        #[arg(long, env = "GIIF_AGENT_CONFIG")]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum OperationsCommand {
    /// Operations queued, running or failed (with --all, also done and abandoned).
    List {
        #[arg(long)]
        all: bool,
        #[arg(long, env = "GIIF_AGENT_CONFIG")]
        config: PathBuf,
    },
    /// One operation: its step, attempts, lease and last error. KIND/ID as list prints it.
    Show {
        reference: String,
        #[arg(long, env = "GIIF_AGENT_CONFIG")]
        config: PathBuf,
    },
    /// Queue a failed or stuck operation again; the serving agent resumes it.
    Retry {
        reference: String,
        #[arg(long, env = "GIIF_AGENT_CONFIG")]
        config: PathBuf,
    },
    /// Give an operation up: no agent resumes it.
    Abandon {
        reference: String,
        #[arg(long, env = "GIIF_AGENT_CONFIG")]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum QuotaCommand {
    /// Set NAME's quota; a limit left out takes [tenancy.default_quota].
    Set {
        name: String,
        #[arg(long)]
        projects: Option<u64>,
        #[arg(long)]
        vms: Option<u64>,
        #[arg(long)]
        vcpus: Option<u64>,
        #[arg(long = "memory-gb")]
        memory_gb: Option<u64>,
        #[arg(long)]
        servers: Option<u64>,
        #[arg(long = "floating-ips")]
        floating_ips: Option<u64>,
        #[arg(long, env = "GIIF_AGENT_CONFIG")]
        config: PathBuf,
    },
    /// Show NAME's quota and what their projects use.
    Show {
        name: String,
        #[arg(long, env = "GIIF_AGENT_CONFIG")]
        config: PathBuf,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_env("GIIF_LOG").unwrap_or_else(|_| "info".into())
    };
    // One JSON object per line for log collectors, with GIIF_LOG_FORMAT=json.
    if std::env::var("GIIF_LOG_FORMAT").is_ok_and(|format| format == "json") {
        tracing_subscriber::fmt()
            .json()
            .with_writer(std::io::stderr)
            .with_env_filter(filter())
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_env_filter(filter())
            .init();
    }
    match Cli::parse().command {
        Command::Init {
            dir,
            listen,
            hosts,
            store,
        } => {
            let made = init(&InitOptions {
                dir,
                listen,
                hosts,
                store,
            })
            .await?;
            println!(
                "Initialised the agent state in {}.",
                made.config_path
                    .parent()
                    .unwrap_or(&made.config_path)
                    .display()
            );
            println!(
                "Start it with: giif-agent serve --config {}",
                made.config_path.display()
            );
            println!("CA fingerprint (SHA-256): {}\n", made.ca_fingerprint);
            println!(
                "Provider configuration for the operator identity:\n\n{}",
                made.provider_block()
            );
            println!("Or as environment variables:\n\n{}", made.env_lines());
        }
        Command::Serve { config } => {
            let config = AgentConfig::load(&config)?;
            let agent = BoundAgent::bind(&config).await?;
            agent
                .serve(async {
                    shutdown_signal().await;
                    tracing::info!("shutting down");
                })
                .await?;
        }
        Command::Inventory {
            command: InventoryCommand::Import { file, config },
        } => import_inventory(&file, &config).await?,
        Command::Inventory {
            command: InventoryCommand::Release { server, config },
        } => {
            let store = Store::open(&AgentConfig::load(&config)?.store_url()).await?;
            if store.release_quarantine(&server).await? {
                println!("{server} is out of quarantine and free to assign again.");
            } else {
                anyhow::bail!("{server} is not quarantined (see `giif-agent inventory list`)");
            }
        }
        Command::Inventory {
            command: InventoryCommand::List { config },
        } => list_inventory(&config).await?,
        Command::Site {
            command: SiteCommand::Check { config },
        } => {
            let store = Store::open(&AgentConfig::load(&config)?.store_url()).await?;
            let site =
                giif_agent::site::Site::load(&store, giif_agent::check::check_retry_policy())
                    .await?;
            let checks = giif_agent::check::check_site(&site, &store).await;
            let mut failed = 0;
            for check in &checks {
                match &check.outcome {
                    Ok(text) => println!("ok    {:<24} {text}", check.device),
                    Err(err) => {
                        failed += 1;
                        println!("FAIL  {:<24} {err}", check.device);
                    }
                }
            }
            println!("{} devices, {failed} failed", checks.len());
            if failed > 0 {
                std::process::exit(1);
            }
        }
        Command::HostKeys {
            command: HostKeysCommand::List { config },
        } => {
            let store = Store::open(&AgentConfig::load(&config)?.store_url()).await?;
            for (endpoint, fingerprint, pinned_at) in store.ssh_host_keys().await? {
                println!("{endpoint:<24} {fingerprint}  pinned {pinned_at}");
            }
        }
        Command::HostKeys {
            command: HostKeysCommand::Forget { endpoint, config },
        } => {
            let store = Store::open(&AgentConfig::load(&config)?.store_url()).await?;
            if store.forget_ssh_host_key(&endpoint).await? {
                println!(
                    "Forgot the host key of {endpoint}; the next connection pins the key it shows."
                );
            } else {
                println!("No host key was pinned for {endpoint}.");
            }
        }
        Command::Projects {
            expiring,
            days,
            config,
        } => list_projects(&config, expiring, days).await?,
        Command::Identity {
            command:
                IdentityCommand::Issue {
                    name,
                    out,
                    role,
                    days,
                    config,
                },
        } => {
            let role = role
                .map(|r| r.parse())
                .transpose()
                .map_err(anyhow::Error::msg)?;
            print!("{}", cli::issue(&config, &name, role, days, &out).await?);
        }
        Command::Identity {
            command: IdentityCommand::Adopt { cert, role, config },
        } => {
            let role = role
                .map(|r| r.parse())
                .transpose()
                .map_err(anyhow::Error::msg)?;
            print!("{}", cli::adopt(&config, &cert, role).await?);
        }
        Command::Identity {
            command: IdentityCommand::List { config },
        } => print!("{}", cli::list(&config).await?),
        Command::Identity {
            command: IdentityCommand::Revoke { name, config },
        } => print!("{}", cli::revoke(&config, &name).await?),
        Command::Quota {
            command:
                QuotaCommand::Set {
                    name,
                    projects,
                    vms,
                    vcpus,
                    memory_gb,
                    servers,
                    floating_ips,
                    config,
                },
        } => {
            let quota = giif_agent::tenancy::Quota {
                projects,
                vms,
                vcpus,
                memory_gb,
                servers,
                floating_ips,
            };
            print!("{}", cli::set_quota(&config, &name, &quota).await?);
        }
        Command::Permissions => {
            print!("{}", giif_agent::tenancy::policy::permissions_document())
        }
        Command::Quota {
            command: QuotaCommand::Show { name, config },
        } => print!("{}", cli::show_quota(&config, &name).await?),
        Command::Operations { command } => {
            use giif_agent::operations::OpState;
            let text = match command {
                OperationsCommand::List { all, config } => {
                    operations_cli::list(&config, all).await?
                }
                OperationsCommand::Show { reference, config } => {
                    operations_cli::show(&config, &reference).await?
                }
                OperationsCommand::Retry { reference, config } => {
                    operations_cli::set_state(&config, &reference, OpState::Queued).await?
                }
                OperationsCommand::Abandon { reference, config } => {
                    operations_cli::set_state(&config, &reference, OpState::Abandoned).await?
                }
            };
            print!("{text}");
        }
        Command::Audit {
            project,
            principal,
            since,
            config,
        } => {
            let filter = giif_agent::store::audit::AuditFilter {
                project_id: project,
                principal,
                since,
            };
            print!("{}", cli::audit(&config, &filter).await?);
        }
    }
    Ok(())
}

async fn import_inventory(file: &std::path::Path, config: &std::path::Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let base = file
        .canonicalize()
        .ok()
        .and_then(|f| f.parent().map(|p| p.to_path_buf()))
        .unwrap_or_else(|| PathBuf::from("."));
    let inventory = match giif_agent::inventory::parse(&file.display().to_string(), &text, &base) {
        Ok(inventory) => inventory,
        Err(errors) => {
            for error in &errors {
                eprintln!("{error}");
            }
            anyhow::bail!(
                "{} problem(s) in {}; nothing was changed",
                errors.len(),
                file.display()
            );
        }
    };
    let store = Store::open(&AgentConfig::load(config)?.store_url()).await?;
    store.import_inventory(&inventory).await?;
    let pool = &inventory.project_vlans;
    println!(
        "Imported {}: project VLAN pool {:?} {}-{} ({} usable), {} bare-metal servers, {}, {} PAGW slots, {} floating IPs.",
        file.display(),
        pool.name,
        pool.first,
        pool.last,
        pool.size(),
        inventory.bms.len(),
        match &inventory.proxmox {
            Some(pve) => format!("Proxmox VE at {} with {} node(s)", pve.api_url, pve.nodes.len()),
            None => "no Proxmox VE".to_string(),
        },
        inventory.pagw_slots.len(),
        inventory.floating_ips.expand().map(|a| a.len()).unwrap_or(0),
    );
    if let Some(g) = &inventory.guacamole {
        println!("Consoles go to Guacamole at {}.", g.public_url);
    }
    if !inventory.iso_images.is_empty() {
        println!(
            "The ISO library has {} image(s).",
            inventory.iso_images.len()
        );
    }
    Ok(())
}

async fn list_projects(
    config: &std::path::Path,
    expiring: bool,
    days: Option<u32>,
) -> anyhow::Result<()> {
    let config = AgentConfig::load(config)?;
    let store = Store::open(&config.store_url()).await?;
    let within = expiring.then(|| {
        days.unwrap_or_else(|| {
            config
                .notices
                .as_ref()
                .map_or(7, |notices| notices.horizon_days())
        })
    });
    let today = giif_agent::notices::today();
    let projects = giif_agent::notices::listing::expiring_projects(&store, today, within).await?;
    if projects.is_empty() {
        match within {
            Some(days) => println!("No project expires within {days} days or has expired."),
            None => println!("No project has an expiry date."),
        }
        return Ok(());
    }
    println!(
        "{:<24} {:<38} {:<16} {:<10} WHEN",
        "PROJECT", "ID", "OWNER", "EXPIRES"
    );
    for listed in projects {
        let project = &listed.project;
        let when = match listed.days_left {
            left if left < 0 => format!("expired {} days ago", -left),
            0 => "expires today".to_string(),
            left => format!("in {left} days"),
        };
        println!(
            "{:<24} {:<38} {:<16} {:<10} {when}",
            project.name,
            project.id,
            project.owner.as_deref().unwrap_or("-"),
            project.expires_on
        );
        for notice in &listed.notices {
            println!(
                "    notice {:<20} {:<8} {:<10} {}",
                notice.event, notice.channel, notice.outcome, notice.recorded_at
            );
        }
    }
    Ok(())
}

async fn list_inventory(config: &std::path::Path) -> anyhow::Result<()> {
    let store = Store::open(&AgentConfig::load(config)?.store_url()).await?;
    let pools = store.vlan_pools().await?;
    if pools.is_empty() {
        println!("The inventory is empty: run `giif-agent inventory import <site file>`.");
        return Ok(());
    }
    println!(
        "{:<20} {:>6} {:>6} {:>7} {:>10} {:>5}  RESERVED",
        "VLAN POOL", "FIRST", "LAST", "USABLE", "ALLOCATED", "FREE"
    );
    for usage in pools {
        let spec = &usage.spec;
        println!(
            "{:<20} {:>6} {:>6} {:>7} {:>10} {:>5}  {:?}",
            spec.name,
            spec.first,
            spec.last,
            spec.size(),
            usage.allocated,
            spec.size().saturating_sub(usage.allocated),
            spec.reserved
        );
    }
    let servers = store.bms_inventory().await?;
    if !servers.is_empty() {
        println!(
            "\n{:<12} {:<12} {:<16} {:>5}  {:<24} TAGS",
            "SERVER", "SERVICE TAG", "MODEL", "VLAN", "BMC"
        );
        for s in servers {
            println!(
                "{:<12} {:<12} {:<16} {:>5}  {:<24} {}",
                s.name,
                s.service_tag,
                s.model.as_deref().unwrap_or("-"),
                s.vlan,
                s.bmc_address(),
                s.tags.join(",")
            );
        }
    }
    if let Some(pve) = store.proxmox_inventory().await? {
        println!("\nProxmox VE {} (token {})", pve.api_url, pve.token_id);
        for node in &pve.nodes {
            println!(
                "  node {:<10} bridge {:<8} storage {}",
                node.name, node.vm_bridge, node.storage
            );
        }
        for t in &pve.templates {
            println!(
                "  template {:<16} vmid {:<6} on {}{}",
                t.name,
                t.vmid,
                t.node,
                if t.pagw { " (PAGW)" } else { "" }
            );
        }
    }
    let slots = store.pagw_slot_inventory().await?;
    if !slots.is_empty() {
        println!(
            "\n{:<16} {:<16} {:<8} {:<22} DEFAULT",
            "PAGW SLOT", "GATEWAY", "HOST", "SSH"
        );
        for slot in slots {
            println!(
                "{:<16} {:<16} {:<8} {:<22} {}",
                slot.public_ip,
                slot.gateway,
                slot.host,
                format!("{}:{}", slot.ssh.address, slot.ssh.port),
                if slot.default_project { "yes" } else { "" }
            );
        }
    }
    let quarantined = store.bms_quarantine().await?;
    if !quarantined.is_empty() {
        println!("\nQUARANTINED (check, then `giif-agent inventory release <server>`):");
        for (server, reason) in quarantined {
            println!("  {server:<12} {reason}");
        }
    }
    let floating = store.floating_ip_inventory().await?;
    if !floating.addresses.is_empty() {
        println!("\nFloating IPs: {}", floating.addresses.join(", "));
    }
    match store.guacamole_inventory().await? {
        Some(g) => println!(
            "\nGuacamole at {} (guacd {})",
            g.public_url,
            match (&g.guacd_host, g.guacd_port) {
                (Some(host), port) => format!("{host}:{}", port.unwrap_or(4822)),
                _ => "Guacamole's default".to_string(),
            }
        ),
        None => println!("\nNo Guacamole: resources get no console connections."),
    }
    let library = store.iso_library().await?;
    if !library.images().is_empty() {
        println!("\n{:<20} {:<5} {:<4} DESCRIPTION", "ISO IMAGE", "BMS", "VM");
        for image in library.images() {
            let mark = |usable: bool| if usable { "yes" } else { "" };
            println!(
                "{:<20} {:<5} {:<4} {}",
                image.name,
                mark(image.media_url.is_some()),
                mark(image.pve_volume.is_some()),
                image.description.as_deref().unwrap_or("")
            );
        }
    }
    Ok(())
}

/// Ctrl-C, or SIGTERM from systemd or a container runtime: either way the
/// agent stops taking calls and ends cleanly (running operations resume
/// from their recorded step when the object is next touched).
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
