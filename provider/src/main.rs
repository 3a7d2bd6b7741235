//! terraform-provider-giif: started by Terraform or OpenTofu, never by hand
//! (except with `--debug`).

use giif_provider::plugin::{check_magic_cookie, serve, ServeMode, MAGIC_COOKIE_KEY};
use giif_provider::server::ProviderService;

// One thread: every call is short, and a `plan` makes four per resource, so
// handing each between worker threads costs more than it saves.
#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    giif_provider::logging::init();
    let debug = std::env::args()
        .skip(1)
        .any(|a| a == "--debug" || a == "-debug");
    let mode = if debug {
        ServeMode::Debug {
            provider_address: giif_provider::PROVIDER_ADDRESS.to_string(),
        }
    } else {
        let cookie = std::env::var(MAGIC_COOKIE_KEY).ok();
        let versions = std::env::var("PLUGIN_PROTOCOL_VERSIONS").ok();
        if let Err(err) = check_magic_cookie(cookie.as_deref(), versions.as_deref()) {
            eprintln!("{err}");
            return std::process::ExitCode::FAILURE;
        }
        ServeMode::Plugin {
            client_cert_pem: std::env::var("PLUGIN_CLIENT_CERT")
                .ok()
                .filter(|c| !c.is_empty()),
        }
    };
    if !debug {
        ignore_interrupts();
    }
    match serve(ProviderService::new(), mode).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "the provider stopped");
            eprintln!("terraform-provider-giif: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Terraform forwards Ctrl-C as StopProvider; the signal itself must not
/// kill us mid-apply.
fn ignore_interrupts() {
    // Registering the handler replaces the default action (exit) at once.
    let Ok(mut interrupts) =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
    else {
        return;
    };
    tokio::spawn(async move {
        while interrupts.recv().await.is_some() {
            tracing::debug!("ignoring SIGINT; Terraform sends StopProvider instead");
        }
    });
}
