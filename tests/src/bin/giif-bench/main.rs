//! `giif-bench` (`make bench`): measures, on this machine, `terraform apply`,
//! a following `plan` and `destroy` of N `giif_project`s (with consoles on
//! PostgreSQL and on MariaDB, and without) side by side with N of the
//! protocol floor's resources and N built-in `terraform_data`s; a mixed
//! environment and a class lab on the simulated site with zero and with
//! realistic latency against their critical paths; the provider's start-up
//! time and the peak memory of the provider and the agent. Prints a
//! Markdown report and writes it to `docs/benchmarks.md`.
//!
//! Run it from a release build (`make bench` does): it drives the binaries
//! next to itself.

mod class_lab;
mod critical_path;
mod floor;
mod latency;
mod machine;
mod memory;
mod mixed;
mod projects;
mod report;
mod samples;
mod startup;

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;
use giif_tests::binary;

#[derive(Parser)]
#[command(
    about = "Benchmarks the giif provider and agent against terraform_data and the simulated site"
)]
struct Options {
    /// How many projects (and terraform_data resources) to apply, plan and destroy.
    #[arg(long, value_delimiter = ',', default_values_t = [200, 1000])]
    sizes: Vec<usize>,
    /// Runs of every measured command; the report shows medians.
    #[arg(long, default_value_t = 5)]
    repetitions: usize,
    /// Provider start-ups to time.
    #[arg(long, default_value_t = 20)]
    startups: usize,
    /// Skip the projects against terraform_data (for a quick look at the rest).
    #[arg(long)]
    skip_projects: bool,
    /// Skip the mixed environment (for a quick look at the rest).
    #[arg(long)]
    skip_mixed: bool,
    /// Skip the class lab (for a quick look at the rest).
    #[arg(long)]
    skip_class_lab: bool,
    /// An earlier build of giif-agent to measure beside the current one
    /// (`make bench BASELINE=<commit>` builds one): the figures before and
    /// after a change, in the same run.
    #[arg(long)]
    baseline_agent: Option<PathBuf>,
    /// What the report calls the baseline agent [default: its path].
    #[arg(long)]
    baseline_name: Option<String>,
    /// Keep the agent's log of every run in this directory.
    #[arg(long)]
    keep_logs: Option<PathBuf>,
    /// Where to write the report besides stdout [default: the repository's
    /// docs/benchmarks.md, unless something is skipped]; `-` for nowhere.
    #[arg(long)]
    out: Option<PathBuf>,
}

impl Options {
    /// A partial run prints its report but does not replace the committed one.
    fn report_file(&self) -> Option<PathBuf> {
        match &self.out {
            Some(path) if path.as_os_str() == "-" => None,
            Some(path) => Some(path.clone()),
            None if self.skip_projects || self.skip_mixed || self.skip_class_lab => None,
            None => Some(PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../docs/benchmarks.md"
            ))),
        }
    }
}

fn main() {
    // Started by Terraform as the protocol floor's provider.
    if floor::is_invoked_as_floor() {
        std::process::exit(floor::serve());
    }
    // Started by Terraform as the memory-measuring provider wrapper.
    if let Some(real_provider) = std::env::var_os(memory::WRAPPED_PROVIDER) {
        let code = memory::run_as_provider_wrapper(&real_provider.to_string_lossy())
            .unwrap_or_else(|err| {
                eprintln!("giif-bench provider wrapper: {err:#}");
                1
            });
        std::process::exit(code);
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
    if let Err(err) = run(Options::parse()) {
        tracing::error!("{err:#}");
        std::process::exit(1);
    }
}

fn run(options: Options) -> Result<()> {
    let started = Instant::now();
    let machine = machine::Machine::describe();
    let provider = binary("terraform-provider-giif");
    let repetitions = options.repetitions.max(1);
    if let Some(dir) = &options.keep_logs {
        std::fs::create_dir_all(dir)?;
    }
    let logs = options.keep_logs.as_deref();

    tracing::info!(runs = options.startups, "timing the provider's start-up");
    let startup = startup::measure(&provider, options.startups)?;

    let sizes = if options.skip_projects {
        &[][..]
    } else {
        &options.sizes[..]
    };
    let baseline = options
        .baseline_agent
        .as_ref()
        .map(|agent| projects::Baseline {
            agent: agent.clone(),
            name: options
                .baseline_name
                .clone()
                .unwrap_or_else(|| agent.display().to_string()),
        });
    let sides = projects::Side::all(baseline.is_some());
    let mut comparisons: Vec<projects::Comparison> = sizes
        .iter()
        .map(|&count| projects::Comparison::new(count, &sides))
        .collect();
    let profiles = if options.skip_mixed {
        vec![]
    } else {
        vec![mixed::ZERO_LATENCY, mixed::REALISTIC_LATENCY]
    };
    let mut class_labs: Vec<class_lab::Measured> = if options.skip_class_lab {
        Vec::new()
    } else {
        let mut labs: Vec<class_lab::Measured> = class_lab::PROFILES
            .into_iter()
            .map(|profile| class_lab::Measured::new(profile, false))
            .collect();
        if baseline.is_some() {
            labs.push(class_lab::Measured::new(class_lab::PROFILES[1], true));
        }
        labs
    };
    let mut mixed_runs: Vec<mixed::Measured> = profiles
        .into_iter()
        .map(|profile| mixed::Measured {
            profile,
            life_cycle: Default::default(),
            agent_peak_kib: 0,
        })
        .collect();
    for repetition in 1..=repetitions {
        for comparison in &mut comparisons {
            tracing::info!(
                repetition,
                of = repetitions,
                count = comparison.count,
                "projects against terraform_data"
            );
            projects::run_once(comparison, logs, repetition, baseline.as_ref())
                .with_context(|| format!("{} projects", comparison.count))?;
        }
        for measured in &mut mixed_runs {
            tracing::info!(
                repetition,
                of = repetitions,
                site = measured.profile.name,
                "mixed environment"
            );
            mixed::run_once(measured, logs, repetition)
                .with_context(|| format!("the mixed environment, {}", measured.profile.name))?;
        }
        for measured in &mut class_labs {
            tracing::info!(
                repetition,
                of = repetitions,
                site = measured.title(),
                "class lab"
            );
            class_lab::run_once(measured, logs, repetition, baseline.as_ref())
                .with_context(|| format!("the class lab, {}", measured.title()))?;
        }
    }

    let provider_peaks_projects = match sizes.iter().copied().max() {
        Some(largest) => {
            tracing::info!(
                count = largest,
                "provider memory during an apply of projects"
            );
            Some((largest, projects::provider_peaks(largest, &provider)?))
        }
        None => None,
    };
    let provider_peaks_mixed = if options.skip_mixed {
        Vec::new()
    } else {
        tracing::info!("provider memory during an apply of the mixed environment");
        mixed::provider_peaks(&provider)?
    };

    let results = report::Results {
        machine,
        repetitions,
        comparisons,
        mixed: mixed_runs,
        class_labs,
        baseline: baseline.map(|b| b.name),
        startup,
        provider_peaks_projects,
        provider_peaks_mixed,
        load_after: machine::load_average(),
        elapsed: started.elapsed(),
    };
    let page = results.markdown();
    std::io::stdout().lock().write_all(page.as_bytes())?;
    if let Some(path) = options.report_file() {
        std::fs::write(&path, &page).with_context(|| format!("cannot write {}", path.display()))?;
        tracing::info!(path = %path.display(), "report written");
    }
    for target in results.targets() {
        if target.met() {
            tracing::info!(
                ratio = format!("{:.2}", target.ratio),
                "target met: {}",
                target.what
            );
        } else {
            tracing::warn!(
                ratio = format!("{:.2}", target.ratio),
                "target missed: {}",
                target.what
            );
        }
    }
    Ok(())
}
