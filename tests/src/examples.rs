//! The example tree under `examples/`, checked with the real `terraform
//! validate`: used by `examples_valid` (every Terraform) and by
//! `terraform_features` (the action examples, which need Terraform 1.14).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::terraform::{cli_env, write_cli_config};

pub fn examples_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// Directories under `root` (relative to it, sorted) with `.tf` files in them.
fn example_dirs(root: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, found: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
            .map(|e| e.expect("directory entry").path())
            .collect();
        entries.sort();
        if entries
            .iter()
            .any(|p| p.is_file() && p.extension().is_some_and(|e| e == "tf"))
        {
            found.push(dir.strip_prefix(root).expect("under root").to_path_buf());
        }
        for entry in entries {
            let hidden = entry
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if entry.is_dir() && !hidden {
                walk(root, &entry, found);
            }
        }
    }
    let mut found = Vec::new();
    walk(root, root, &mut found);
    found
}

/// Copies the example tree, leaving out what a local `terraform` run leaves
/// behind (`.terraform/`, lock files, state).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy");
    for entry in std::fs::read_dir(from).expect("read the examples") {
        let entry = entry.expect("directory entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(".terraform") || name.contains(".tfstate") {
            continue;
        }
        let (source, target) = (entry.path(), to.join(&name));
        if source.is_dir() {
            copy_tree(&source, &target);
        } else {
            std::fs::copy(&source, &target).expect("copy an example file");
        }
    }
}

/// The registry-layout snippets (`examples/resources/<type>/resource.tf`,
/// `examples/data-sources/<type>/data-source.tf`) leave out the
/// `required_providers` block, as registry examples do; without it Terraform
/// would look for `hashicorp/giif`. Every other example must declare it.
fn is_snippet(dir: &Path) -> bool {
    ["resources", "data-sources", "actions"]
        .iter()
        .any(|kind| dir.starts_with(kind))
}

pub const REQUIRED_PROVIDERS: &str = "terraform {\n  required_providers {\n    giif = {\n      source = \"registry.terraform.io/giif/giif\"\n    }\n  }\n}\n";

fn declares_required_providers(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .expect("read an example")
        .any(|entry| {
            let path = entry.expect("directory entry").path();
            path.extension().is_some_and(|e| e == "tf")
                && std::fs::read_to_string(&path)
                    .unwrap_or_default()
                    .contains("required_providers")
        })
}

fn terraform(dir: &Path, env: &[(String, String)], args: &[&str]) -> (bool, String) {
    let output = Command::new(crate::terraform::program())
        .args(args)
        .arg("-no-color")
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env_remove("TF_LOG")
        .output()
        .expect("run terraform (is it on the PATH?)");
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// Validates the example directories of `examples` (an `examples/` tree)
/// that `only` keeps;
/// returns one message per directory that fails, naming it and quoting
/// Terraform.
pub fn validate_all(examples: &Path, only: impl Fn(&Path) -> bool) -> (Vec<PathBuf>, Vec<String>) {
    crate::binary("terraform-provider-giif");
    let scratch = tempfile::tempdir().expect("temp dir");
    let copy = scratch.path().join("examples");
    copy_tree(examples, &copy);
    let env = cli_env(&write_cli_config(scratch.path()));
    let dirs: Vec<PathBuf> = example_dirs(&copy)
        .into_iter()
        .filter(|d| only(d))
        .collect();
    let mut failures = Vec::new();
    for dir in &dirs {
        let path = copy.join(dir);
        let shown = Path::new("examples").join(dir);
        if is_snippet(dir) && !declares_required_providers(&path) {
            std::fs::write(path.join("giif_example_providers.tf"), REQUIRED_PROVIDERS)
                .expect("write the required_providers block");
        }
        let (got, output) = terraform(&path, &env, &["get"]);
        if !got {
            failures.push(format!(
                "{}: terraform get (installing its local modules) failed:\n{output}",
                shown.display()
            ));
            continue;
        }
        let (valid, output) = terraform(&path, &env, &["validate"]);
        if !valid {
            failures.push(format!(
                "{}: terraform validate failed:\n{output}",
                shown.display()
            ));
        }
    }
    (dirs, failures)
}
