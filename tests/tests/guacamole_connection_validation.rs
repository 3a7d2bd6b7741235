//! `giif_guacamole_connection` configurations checked by the real
//! terraform before anything reaches an agent: `terraform validate` and
//! `terraform plan` refuse bad ones with the attribute at fault, and accept
//! the documented example with its write-only password. No agent runs.

#![allow(clippy::unwrap_used)] // test helpers may panic: that is how a test fails

use giif_tests::terraform::Workspace;
use serde_json::Value as Json;

/// No agent: validation needs none, and a plan stops at validation.
fn workspace(config: &str) -> Workspace {
    Workspace::with_env(Vec::new(), config)
}

fn validate_json(ws: &Workspace) -> Json {
    let run = ws.run(&["validate", "-json"]);
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|err| panic!("validate -json: {err}\n{}", run.all()))
}

/// The error diagnostics of `terraform validate -json`.
fn errors(ws: &Json) -> Vec<Json> {
    ws["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["severity"] == "error")
        .cloned()
        .collect()
}

/// The one error about `address` whose summary is `summary`.
fn error_of<'a>(errors: &'a [Json], address: &str, summary: &str) -> &'a Json {
    let found: Vec<&Json> = errors
        .iter()
        .filter(|d| d["address"] == address && d["summary"] == summary)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one {summary:?} on {address}, got: {errors:#?}"
    );
    found[0]
}

/// The configuration line Terraform pointed at: proof that it resolved
/// the diagnostic's attribute path.
fn code(diagnostic: &Json) -> &str {
    diagnostic["snippet"]["code"].as_str().unwrap_or_default()
}

fn detail(diagnostic: &Json) -> &str {
    diagnostic["detail"].as_str().unwrap_or_default()
}

const BAD: &str = r#"
resource "giif_guacamole_connection" "typo" {
  name       = "desk"
  project_id = "prj-1"
  protocol   = "vnc"
  hostname   = "192.168.212.140"
  parameters = {
    "read-only"    = "true"
    "colour-depth" = "24"
    "cursor"       = "sometimes"
  }
}

resource "giif_guacamole_connection" "secrets" {
  name            = "ssh"
  parent_group_id = "7"
  protocol        = "ssh"
  hostname        = "lab.example.org"
  parameters = {
    "username"    = "student"
    "password"    = "hunter2"
    "private-key" = "-----BEGIN OPENSSH PRIVATE KEY-----"
    "port"        = "2222"
  }
}

resource "giif_guacamole_connection" "both" {
  name        = "both"
  project_id  = "prj-1"
  protocol    = "vnc"
  resource_id = "vm-1"
  hostname    = "192.168.212.140"
}

resource "giif_guacamole_connection" "neither" {
  name       = "neither"
  project_id = "prj-1"
  protocol   = "vnc"
}

resource "giif_guacamole_connection" "protocol" {
  name        = "spice"
  project_id  = "prj-1"
  protocol    = "spice"
  resource_id = "vm-1"
  parameters = {
    "color-depth" = "24"
  }
}

resource "giif_guacamole_connection" "groups" {
  name            = "two homes"
  project_id      = "prj-1"
  parent_group_id = "7"
  protocol        = "rdp"
  resource_id     = "prj-1"
}
"#;

#[test]
fn bad_configurations_are_refused_with_the_attribute_at_fault() {
    let ws = workspace(BAD);
    let report = validate_json(&ws);
    assert_eq!(report["valid"], false);
    let errors = errors(&report);

    // Unknown parameter: on its own line, with the likely name.
    let typo_errors: Vec<_> = errors
        .iter()
        .filter(|d| d["address"] == "giif_guacamole_connection.typo")
        .collect();
    assert_eq!(typo_errors.len(), 2, "{typo_errors:#?}");
    assert!(typo_errors
        .iter()
        .all(|d| d["summary"] == "Invalid Guacamole parameter"));
    let unknown = typo_errors
        .iter()
        .find(|d| code(d).contains("\"colour-depth\""))
        .unwrap_or_else(|| panic!("no error on the colour-depth line: {typo_errors:#?}"));
    assert!(
        detail(unknown).contains("`colour-depth` is not a vnc parameter"),
        "{unknown:#}"
    );
    assert!(
        detail(unknown).contains("Did you mean `color-depth`?"),
        "{unknown:#}"
    );
    let value = typo_errors
        .iter()
        .find(|d| code(d).contains("\"cursor\""))
        .unwrap_or_else(|| panic!("no error on the cursor line: {typo_errors:#?}"));
    assert!(detail(value).contains("\"local\", \"remote\""), "{value:#}");

    // Secrets and the target's address: each on its line, each with where
    // it goes instead.
    let secrets: Vec<_> = errors
        .iter()
        .filter(|d| d["address"] == "giif_guacamole_connection.secrets")
        .collect();
    assert_eq!(secrets.len(), 3, "{secrets:#?}");
    let on = |key: &str| {
        secrets
            .iter()
            .find(|d| code(d).contains(&format!("\"{key}\"")))
            .unwrap_or_else(|| panic!("no error on the {key} line: {secrets:#?}"))
    };
    assert!(
        detail(on("password")).contains("write-only `password` attribute"),
        "{:#}",
        on("password")
    );
    assert!(
        detail(on("private-key")).contains("Terraform state"),
        "{:#}",
        on("private-key")
    );
    assert!(
        detail(on("port")).contains("`port` attribute"),
        "{:#}",
        on("port")
    );

    // Both targets: pointed at the second, hostname.
    let both = error_of(
        &errors,
        "giif_guacamole_connection.both",
        "Give exactly one of resource_id and hostname",
    );
    assert!(code(both).contains("hostname"), "{both:#}");

    // Neither target.
    let neither = error_of(
        &errors,
        "giif_guacamole_connection.neither",
        "Give exactly one of resource_id and hostname",
    );
    assert!(
        detail(neither).contains("not both, not neither"),
        "{neither:#}"
    );

    // An unknown protocol: one error, on protocol, and no verdict on
    // parameters that depend on it.
    let protocol: Vec<_> = errors
        .iter()
        .filter(|d| d["address"] == "giif_guacamole_connection.protocol")
        .collect();
    assert_eq!(protocol.len(), 1, "{protocol:#?}");
    assert_eq!(protocol[0]["summary"], "Invalid value for protocol");
    assert!(code(protocol[0]).contains("\"spice\""), "{:#}", protocol[0]);
    assert!(
        detail(protocol[0]).contains("vnc, ssh, rdp, telnet, kubernetes"),
        "{:#}",
        protocol[0]
    );

    // Two parent groups, and a project's id where a VM's belongs.
    let groups = error_of(
        &errors,
        "giif_guacamole_connection.groups",
        "Give exactly one of project_id and parent_group_id",
    );
    assert!(code(groups).contains("parent_group_id"), "{groups:#}");
    let resource = error_of(
        &errors,
        "giif_guacamole_connection.groups",
        "Invalid value for resource_id",
    );
    assert!(detail(resource).contains("a project's id"), "{resource:#}");

    // Exactly these, nothing else.
    assert_eq!(errors.len(), 2 + 3 + 1 + 1 + 1 + 2, "{errors:#?}");
}

#[test]
fn plan_refuses_them_too_before_reaching_any_agent() {
    let ws = workspace(
        r#"
resource "giif_guacamole_connection" "desk" {
  name       = "desk"
  project_id = "prj-1"
  protocol   = "rdp"
  hostname   = "win.example.org"
  parameters = {
    "securty" = "nla"
  }
}
"#,
    );
    let run = ws.run(&["plan", "-input=false"]);
    assert!(!run.success, "{}", run.all());
    let text = run.flat();
    assert!(
        text.contains("Error: Invalid Guacamole parameter"),
        "{text}"
    );
    assert!(text.contains("\"securty\" = \"nla\""), "{text}");
    assert!(text.contains("Did you mean `security`?"), "{text}");
    // Validation stopped it: the provider was never configured.
    assert!(!text.contains("Cannot connect to the giif agent"), "{text}");
}

#[test]
fn the_documented_example_is_valid_with_its_write_only_password() {
    let example = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/resources/giif_guacamole_connection/resource.tf"),
    )
    .unwrap();
    let ws = workspace(&example);
    let report = validate_json(&ws);
    assert_eq!(report["valid"], true, "{report:#}");
    let warnings: Vec<_> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["summary"] != "Provider development overrides are in effect")
        .collect();
    assert!(warnings.is_empty(), "{report:#}");

    // Terraform loads the schema with `password` write-only (it would
    // refuse a write-only attribute that is also computed), and it shows
    // it as such.
    let run = ws.ok(&["providers", "schema", "-json"]);
    let schema: Json = serde_json::from_str(&run.stdout).unwrap();
    let attributes = &schema["provider_schemas"]["registry.terraform.io/giif/giif"]
        ["resource_schemas"]["giif_guacamole_connection"]["block"]["attributes"];
    assert_eq!(attributes["password"]["write_only"], true, "{attributes:#}");
    assert_eq!(attributes["password"]["sensitive"], true, "{attributes:#}");
    assert_eq!(attributes["password_version"]["write_only"], Json::Null);
}
