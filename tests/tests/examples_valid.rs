//! Every example under `examples/` is valid Terraform for the provider of
//! this build, and every type the provider serves has its registry examples.
//!
//! Each directory holding `.tf` files is checked with the real `terraform
//! validate`, in a copy of the whole `examples/` tree (so modules referring to
//! `../modules/...` resolve), with the provider from `target/` through
//! `dev_overrides`. Modules are installed with `terraform get`, which only
//! records local module sources and never contacts a registry, so this runs
//! offline. New example directories (another resource, a module under
//! `examples/modules/`) are picked up without changing this file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use giif_provider::resources::Registry;
use giif_tests::examples::{examples_root, validate_all, REQUIRED_PROVIDERS};

/// Action blocks need Terraform 1.14: `terraform_features` validates those.
fn before_actions(dir: &Path) -> bool {
    !dir.starts_with("actions")
}

#[test]
fn every_example_passes_terraform_validate() {
    let (dirs, failures) = validate_all(&examples_root(), before_actions);
    let names: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    for expected in ["provider", "quickstart"] {
        assert!(
            names.iter().any(|n| n == expected),
            "examples/{expected} was not found among {names:?}"
        );
    }
    assert!(
        names.iter().any(|n| n.starts_with("resources/"))
            && names.iter().any(|n| n.starts_with("data-sources/")),
        "no resource or data source examples found among {names:?}"
    );
    assert!(
        failures.is_empty(),
        "{} of {} example directories are invalid:\n\n{}",
        failures.len(),
        dirs.len(),
        failures.join("\n\n")
    );
}

#[test]
fn a_broken_example_is_reported_with_its_directory_and_terraforms_words() {
    let examples = tempfile::tempdir().expect("temp dir");
    let write = |path: &str, text: &str| {
        let file = examples.path().join(path);
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(file, text).expect("write");
    };
    // The provider's own validation (a project name is a DNS label) must run,
    // which shows the real provider binary was used.
    write(
        "resources/giif_project/resource.tf",
        "resource \"giif_project\" \"bad\" {\n  name = \"not a label!\"\n}\n",
    );
    write(
        "data-sources/giif_project/data-source.tf",
        "data \"giif_project\" \"p\" {\n  name = \"physics-lab\"\n}\n",
    );
    // A module tree: the caller needs `terraform get` to validate at all.
    write(
        "modules/lab/main.tf",
        &format!("{REQUIRED_PROVIDERS}\nvariable \"name\" {{\n  type = string\n}}\n\nresource \"giif_project\" \"this\" {{\n  name = var.name\n}}\n"),
    );
    write(
        "modules/caller/main.tf",
        &format!("{REQUIRED_PROVIDERS}\nprovider \"giif\" {{}}\n\nmodule \"lab\" {{\n  source = \"../lab\"\n  name   = \"physics-lab\"\n}}\n"),
    );
    // A whole configuration without required_providers is not a snippet:
    // it must declare the provider itself.
    write(
        "undeclared/main.tf",
        "resource \"giif_project\" \"p\" {\n  name = \"physics-lab\"\n}\n",
    );
    let (dirs, failures) = validate_all(examples.path(), before_actions);
    assert_eq!(
        dirs.iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>(),
        [
            "data-sources/giif_project",
            "modules/caller",
            "modules/lab",
            "resources/giif_project",
            "undeclared"
        ]
    );
    assert_eq!(failures.len(), 2, "{failures:#?}");
    assert!(
        failures[0].starts_with("examples/resources/giif_project: terraform validate failed")
            && failures[0].contains("not a label!"),
        "{}",
        failures[0]
    );
    assert!(
        failures[1].starts_with("examples/undeclared: terraform validate failed")
            && failures[1].contains("hashicorp/giif"),
        "{}",
        failures[1]
    );
}

#[test]
fn every_type_the_provider_serves_has_its_registry_examples() {
    let root = examples_root();
    let registry = Registry::new();
    let mut missing = Vec::new();
    let mut check = |path: PathBuf| {
        let present = std::fs::read_to_string(&path).is_ok_and(|t| !t.trim().is_empty());
        if !present {
            missing.push(
                path.strip_prefix(root.join(".."))
                    .unwrap_or(&path)
                    .display()
                    .to_string(),
            );
        }
    };
    let resources: BTreeSet<&str> = registry.resources.iter().map(|r| r.type_name()).collect();
    let data_sources: BTreeSet<&str> = registry
        .data_sources
        .iter()
        .map(|d| d.type_name())
        .collect();
    for type_name in &resources {
        let dir = root.join("resources").join(type_name);
        check(dir.join("resource.tf"));
        check(dir.join("import.sh"));
    }
    for type_name in &data_sources {
        check(
            root.join("data-sources")
                .join(type_name)
                .join("data-source.tf"),
        );
    }
    for type_name in &resources {
        check(
            root.join("list-resources")
                .join(type_name)
                .join("list.tfquery.hcl"),
        );
    }
    let actions: BTreeSet<&str> = registry.actions.iter().map(|a| a.type_name).collect();
    for type_name in &actions {
        check(root.join("actions").join(type_name).join("action.tf"));
    }
    assert!(
        missing.is_empty(),
        "the provider serves these types without their registry examples (the docs are made from them): {missing:?}"
    );

    // And no example directory names a type the provider does not serve
    // (a misspelt directory would silently be left out of the docs).
    let mut strays = Vec::new();
    for (kind, served) in [
        ("resources", &resources),
        ("data-sources", &data_sources),
        ("list-resources", &resources),
        ("actions", &actions),
    ] {
        let Ok(entries) = std::fs::read_dir(root.join(kind)) else {
            continue;
        };
        for entry in entries {
            let name = entry
                .expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned();
            if !served.contains(name.as_str()) {
                strays.push(format!("examples/{kind}/{name}"));
            }
        }
    }
    assert!(
        strays.is_empty(),
        "example directories for types the provider does not serve: {strays:?}"
    );
}
