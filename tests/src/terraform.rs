//! The real `terraform` CLI in a temporary working directory, using the
//! provider binary from this build through `dev_overrides` (no `init`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::agent::TestAgent;
use crate::bin_dir;

pub struct Workspace {
    pub dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

pub struct Run {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
    /// Diagnostics with their line breaks (terraform wraps long lines and
    /// boxes them) flattened, for `contains` checks on whole sentences.
    pub fn flat(&self) -> String {
        self.all()
            .lines()
            .map(|l| l.trim_start_matches(['│', '╷', '╵', ' ']).trim())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

pub const PROVIDER_BLOCK: &str = r#"terraform {
  required_providers {
    giif = {
      source = "registry.terraform.io/giif/giif"
    }
  }
}

provider "giif" {}
"#;

/// The Terraform the tests drive: `GIIF_TERRAFORM` when it is set (another
/// release: `make test-terraform-latest` and `make test-terraform-features`
/// set it), else `terraform` on the PATH. Naming it, rather than putting it
/// first on the PATH, keeps cargo from rebuilding what depends on PATH.
pub fn program() -> PathBuf {
    std::env::var_os("GIIF_TERRAFORM")
        .filter(|p| !p.is_empty())
        .map_or_else(|| PathBuf::from("terraform"), PathBuf::from)
}

/// The release of the Terraform under test, as `("1.15.5", [1, 15, 5])`.
pub fn version() -> (String, Vec<u32>) {
    let out = Command::new(program())
        .arg("version")
        .env("TF_CLI_CONFIG_FILE", "/dev/null")
        .output()
        .expect("terraform on the PATH");
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("Terraform v"))
        .unwrap_or_else(|| panic!("`terraform version` said {text:?}"))
        .trim()
        .to_string();
    let parts = version.split('.').filter_map(|p| p.parse().ok()).collect();
    (version, parts)
}

/// Writes `dir/terraform.rc`, a CLI configuration whose `dev_overrides`
/// point Terraform at the provider binary of this build (so no `init` is
/// needed for it), and returns its path.
pub fn write_cli_config(dir: &Path) -> PathBuf {
    write_cli_config_for(dir, &bin_dir())
}

/// The same with the provider binary in `provider_dir`.
pub fn write_cli_config_for(dir: &Path, provider_dir: &Path) -> PathBuf {
    let rc = dir.join("terraform.rc");
    std::fs::write(
        &rc,
        format!(
            "provider_installation {{\n  dev_overrides {{\n    \"{}\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
            giif_provider::PROVIDER_ADDRESS,
            provider_dir.display()
        ),
    )
    .unwrap();
    rc
}

/// The environment that makes `terraform` use the CLI configuration `rc`,
/// quietly and without calling home.
pub fn cli_env(rc: &Path) -> Vec<(String, String)> {
    vec![
        ("TF_CLI_CONFIG_FILE".into(), rc.display().to_string()),
        ("TF_IN_AUTOMATION".into(), "1".into()),
        ("CHECKPOINT_DISABLE".into(), "1".into()),
    ]
}

impl Workspace {
    pub fn new(agent: &TestAgent, config: &str) -> Self {
        Self::with_env(agent.env(), config)
    }

    pub fn with_env(env: Vec<(String, String)>, config: &str) -> Self {
        Self::with_provider_dir(env, config, &bin_dir())
    }

    /// Like [`Workspace::with_env`], with `terraform-provider-giif` taken
    /// from `provider_dir` instead of this build's binary directory.
    pub fn with_provider_dir(
        mut env: Vec<(String, String)>,
        config: &str,
        provider_dir: &Path,
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        env.extend(cli_env(&write_cli_config_for(dir.path(), provider_dir)));
        let workspace = Self { dir, env };
        workspace.write(config);
        workspace
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Replaces the configuration (main.tf), keeping the provider block.
    pub fn write(&self, config: &str) {
        std::fs::write(
            self.dir.path().join("main.tf"),
            format!("{PROVIDER_BLOCK}\n{config}"),
        )
        .unwrap();
    }

    /// Replaces main.tf with exactly `main_tf` (no giif provider block), for
    /// configurations that use only Terraform's built-in resources.
    pub fn write_exact(&self, main_tf: &str) {
        std::fs::write(self.dir.path().join("main.tf"), main_tf).unwrap();
    }

    /// Starts `terraform ARGS` without waiting, its output captured: for a
    /// test that interrupts or kills something while it runs.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        let mut command = Command::new(program());
        command
            .args(args)
            .arg("-no-color")
            .current_dir(self.dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command
            .spawn()
            .expect("start terraform (is it on the PATH?)")
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(&program(), args)
    }

    /// Runs `terraform` (another release than the PATH's, say) with `args`.
    pub fn run_with(&self, terraform: &Path, args: &[&str]) -> Run {
        let mut command = Command::new(terraform);
        command
            .args(args)
            .arg("-no-color")
            .current_dir(self.dir.path());
        for (key, value) in &self.env {
            command.env(key, value);
        }
        let Output {
            status,
            stdout,
            stderr,
        } = command
            .output()
            .expect("run terraform (is it on the PATH?)");
        Run {
            success: status.success(),
            code: status.code(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }

    /// Runs and insists on success, showing everything when it fails.
    pub fn ok(&self, args: &[&str]) -> Run {
        let run = self.run(args);
        assert!(run.success, "terraform {args:?} failed:\n{}", run.all());
        run
    }

    pub fn apply(&self) -> Run {
        self.ok(&["apply", "-auto-approve", "-input=false"])
    }

    /// `plan -detailed-exitcode`: true when the plan is empty.
    pub fn plan_is_empty(&self) -> (bool, Run) {
        let run = self.run(&["plan", "-detailed-exitcode", "-input=false"]);
        assert!(
            run.code == Some(0) || run.code == Some(2),
            "plan failed:\n{}",
            run.all()
        );
        (run.code == Some(0), run)
    }

    pub fn outputs(&self) -> serde_json::Value {
        let run = self.ok(&["output", "-json"]);
        serde_json::from_str(&run.stdout).expect("terraform output -json")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}
