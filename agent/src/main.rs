//! giif-agent: the on-site agent and its operator commands.

#![allow(clippy::print_stdout)] // a command-line tool: stdout is where its answers go

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use giif_agent::config::AgentConfig;
use giif_agent::init::{init, issue_identity, InitOptions};
use giif_agent::pki::CaHandle;
use giif_agent::server::BoundAgent;
use giif_agent::store::Store;

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
    /// Client identities issued by the agent's CA.
    Identity {
        #[command(subcommand)]
        command: IdentityCommand,
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
}

#[derive(Subcommand)]
enum IdentityCommand {
    /// Issue a client certificate and key for NAME into DIR.
    Issue {
        name: String,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, env = "GIIF_AGENT_CONFIG")]
        config: PathBuf,
    },
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
            })?;
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
                    let _ = tokio::signal::ctrl_c().await;
                    tracing::info!("shutting down");
                })
                .await?;
        }
        Command::Inventory {
            command: InventoryCommand::Import { file, config },
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let inventory = match giif_agent::inventory::parse(&file.display().to_string(), &text) {
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
            let store = Store::open(&AgentConfig::load(&config)?.store_url()).await?;
            store
                .import_project_vlan_pool(&inventory.project_vlans)
                .await?;
            let pool = &inventory.project_vlans;
            println!(
                "Imported project VLAN pool {:?}: {}-{} ({} usable).",
                pool.name,
                pool.first,
                pool.last,
                pool.size()
            );
        }
        Command::Inventory {
            command: InventoryCommand::List { config },
        } => {
            let store = Store::open(&AgentConfig::load(&config)?.store_url()).await?;
            let pools = store.vlan_pools().await?;
            if pools.is_empty() {
                println!("The inventory is empty: run `giif-agent inventory import <site file>`.");
            }
            println!(
                "{:<20} {:>6} {:>6} {:>9} {:>10} {:>5}  reserved",
                "VLAN POOL", "FIRST", "LAST", "USABLE", "ALLOCATED", "FREE"
            );
            for usage in pools {
                let spec = &usage.spec;
                println!(
                    "{:<20} {:>6} {:>6} {:>9} {:>10} {:>5}  {:?}",
                    spec.name,
                    spec.first,
                    spec.last,
                    spec.size(),
                    usage.allocated,
                    spec.size().saturating_sub(usage.allocated),
                    spec.reserved
                );
            }
        }
        Command::Identity {
            command: IdentityCommand::Issue { name, out, config },
        } => {
            let config = AgentConfig::load(&config)?;
            let ca = CaHandle::load(&config.tls.ca_cert, &config.tls.ca_key)?;
            std::fs::create_dir_all(&out)?;
            let (cert, key) = issue_identity(&ca, &name, &out)?;
            println!(
                "Issued identity {name:?}:\n  certificate: {}\n  key:         {}",
                cert.display(),
                key.display()
            );
        }
    }
    Ok(())
}
