//! `--debug`: the provider serves without TLS and prints the
//! TF_REATTACH_PROVIDERS value a debugger session needs. Also exercises
//! UpgradeResourceState with stored JSON state over the real protocol.

#![allow(clippy::unwrap_used)] // test helpers may panic: that is how a test fails

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use giif_proto::tfplugin6 as tf;
use giif_provider::resources::Registry;
use giif_provider::tfvalue::{decode_msgpack, Value};
use giif_tests::binary;

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn debug_mode_prints_reattach_and_upgrades_json_state() {
    let mut child = Command::new(binary("terraform-provider-giif"))
        .arg("--debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _guard = Killed(child);
    let mut lines = BufReader::new(stdout).lines();
    let reattach = lines
        .by_ref()
        .map(|l| l.unwrap())
        .find_map(|l| {
            l.trim()
                .strip_prefix("TF_REATTACH_PROVIDERS='")
                .map(|v| v.trim_end_matches('\'').to_string())
        })
        .expect("a TF_REATTACH_PROVIDERS line");
    // Keep reading, as a terminal would, so the provider never writes into a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let reattach: serde_json::Value = serde_json::from_str(&reattach).unwrap();
    let entry = &reattach[giif_provider::PROVIDER_ADDRESS];
    assert_eq!(entry["Protocol"], "grpc");
    assert_eq!(entry["ProtocolVersion"], 6);
    assert_eq!(entry["Addr"]["Network"], "tcp");
    let addr = entry["Addr"]["String"].as_str().unwrap();

    let mut provider = tf::provider_client::ProviderClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let stored = serde_json::json!({
        "id": "prj-1",
        "name": "physics-lab",
        "description": null,
        "owner": "prof.curie",
        "vlan": 120,
        "members": [{"user": "ada", "role": "member"}],
        "an_attribute_from_an_older_version": "dropped",
    });
    let response = provider
        .upgrade_resource_state(tf::upgrade_resource_state::Request {
            type_name: "giif_project".into(),
            version: 0,
            raw_state: Some(tf::RawState {
                json: serde_json::to_vec(&stored).unwrap(),
                flatmap: Default::default(),
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        response.diagnostics.is_empty(),
        "{:?}",
        response.diagnostics
    );
    let registry = Registry::new();
    let ty = registry
        .resource("giif_project")
        .unwrap()
        .schema()
        .value_type();
    let upgraded = decode_msgpack(&response.upgraded_state.unwrap().msgpack, &ty).unwrap();
    assert_eq!(upgraded.get("name"), &Value::string("physics-lab"));
    assert_eq!(upgraded.get("vlan"), &Value::int(120));
    assert_eq!(upgraded.get("expires_on"), &Value::Null);
    assert_eq!(upgraded.get("members").elements().unwrap().len(), 1);

    // A newer schema version than ours is refused with a diagnostic.
    let response = provider
        .upgrade_resource_state(tf::upgrade_resource_state::Request {
            type_name: "giif_project".into(),
            version: 99,
            raw_state: Some(tf::RawState {
                json: b"{}".to_vec(),
                flatmap: Default::default(),
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(response.diagnostics[0]
        .detail
        .contains("Upgrade the giif provider"));
}
