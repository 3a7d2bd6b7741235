//! The site's ISO library with the real terraform against giif-sim: `data
//! "giif_iso_images"` lists it, a server's `boot_iso` and a VM's `iso` name
//! its images (in any case), the iDRAC mounts the image's media URL and the
//! VM's CD drive takes its Proxmox volume, the plan stays empty while the
//! named image is mounted, other media mounted out of band shows as drift,
//! an image the operator moves is mounted from its new place, and names that
//! do not fit are refused with the fix.

#![allow(clippy::unwrap_used)] // test helpers may panic: that is how a test fails

use giif_tests::site::{pagw_slots, TestSite};
use giif_tests::terraform::Workspace;
use std::sync::LazyLock;

const UBUNTU_MEDIA: &str = "http://fileserver/isos/ubuntu-24.04.iso";
const RESCUE_MEDIA: &str = "http://fileserver/isos/rescue.iso";

static SITE: LazyLock<String> = LazyLock::new(|| {
    r#"
[servers]
count = 2

[proxmox]
task_duration_ms = 30
nodes = [{ name = "pve1" }, { name = "pve2" }]
templates = [{ vmid = 9000, name = "pagw-template", node = "pve1", pagw = true }]

[[iso_images]]
name = "ubuntu-24.04"
description = "Ubuntu 24.04 LTS server installer"
media_url = "http://fileserver/isos/ubuntu-24.04.iso"
pve_volume = "local:iso/ubuntu-24.04.iso"

[[iso_images]]
name = "rescue"
description = "A rescue system"
media_url = "http://fileserver/isos/rescue.iso"

[[iso_images]]
name = "windows-2022"
pve_volume = "local:iso/win2022.iso"

[[iso_images]]
name = "installers"
media_url = "//fileserver/isos/installers.iso"
share_user = "isoreader"
share_password = "Sh4re-Secret"

"#
    .to_string()
        + &pagw_slots(1)
});

/// A project with its gateway, server bms01 booting `boot_iso`, and a VM
/// made from `vm_iso`.
fn config(boot_iso: &str, vm_iso: &str) -> String {
    format!(
        r#"
resource "giif_project" "a" {{
  name = "alpha"
}}

resource "giif_pagw" "a" {{
  project_id = giif_project.a.id
}}

resource "giif_bms_assignment" "s" {{
  project_id  = giif_project.a.id
  bms         = "bms01"
  power_state = "on"
  boot_iso    = "{boot_iso}"
  depends_on  = [giif_pagw.a]
}}

resource "giif_vm" "installer" {{
  project_id = giif_project.a.id
  name       = "installer"
  iso        = "{vm_iso}"
}}

data "giif_iso_images" "servers" {{
  usable_for = "servers"
}}

data "giif_iso_images" "vms" {{
  usable_for = "vms"
}}

data "giif_iso_images" "all" {{}}

output "server_images" {{
  value = data.giif_iso_images.servers.images[*].name
}}

output "vm_images" {{
  value = data.giif_iso_images.vms.images[*].name
}}

output "all_images" {{
  value = data.giif_iso_images.all.images
}}

output "s" {{
  value = giif_bms_assignment.s
}}

output "vmid" {{
  value = giif_vm.installer.vmid
}}
"#
    )
}

fn mounted(site: &TestSite) -> serde_json::Value {
    let (status, body) = site.admin("GET", "/idrac/bms01", None);
    assert_eq!(status, 200, "{body}");
    let idrac: serde_json::Value = serde_json::from_str(&body).unwrap();
    idrac["media"]["image"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn servers_and_vms_boot_library_images_by_name() {
    let site = TestSite::start(&SITE);
    let ws = Workspace::new(&site.agent, &config("ubuntu-24.04", "ubuntu-24.04"));
    ws.apply();

    // The data source lists the library, filtered by use, in name order.
    let outputs = ws.outputs();
    assert_eq!(
        outputs["server_images"]["value"],
        serde_json::json!(["installers", "rescue", "ubuntu-24.04"])
    );
    assert_eq!(
        outputs["vm_images"]["value"],
        serde_json::json!(["ubuntu-24.04", "windows-2022"])
    );
    let all = &outputs["all_images"]["value"];
    assert_eq!(all.as_array().unwrap().len(), 4, "{all}");
    assert_eq!(all[2]["description"], "Ubuntu 24.04 LTS server installer");
    assert_eq!(all[2]["pve_volume"], "local:iso/ubuntu-24.04.iso");
    assert!(all[3]["media_url"].is_null(), "{all}");

    // The server mounts the image's media URL, the VM's CD drive takes its
    // volume, and the state keeps the name the configuration gave.
    assert_eq!(mounted(&site), UBUNTU_MEDIA);
    let vmid = outputs["vmid"]["value"].as_u64().unwrap();
    let vm = site.vm_config(vmid).expect("the VM in the simulator");
    assert!(
        vm.contains("local:iso/ubuntu-24.04.iso,media=cdrom"),
        "{vm}"
    );
    assert_eq!(outputs["s"]["value"]["boot_iso"], "ubuntu-24.04");
    let (empty, run) = ws.plan_is_empty();
    assert!(empty, "plan after apply is not empty:\n{}", run.all());

    // Another image, named in another case (names ignore case): an
    // in-place update that mounts it, and the state keeps the spelling.
    ws.write(&config("Rescue", "ubuntu-24.04"));
    let (_, run) = ws.plan_is_empty();
    assert!(run.stdout.contains("update in-place"), "{}", run.stdout);
    ws.apply();
    assert_eq!(mounted(&site), RESCUE_MEDIA);
    assert_eq!(ws.outputs()["s"]["value"]["boot_iso"], "Rescue");
    assert!(ws.plan_is_empty().0);

    // Other media mounted out of band shows by its location; apply puts the
    // named image back.
    let other = r#"{"image":"http://elsewhere/isos/other.iso"}"#;
    let (status, body) = site.admin("POST", "/idrac/bms01/media", Some(other));
    assert_eq!(status, 200, "{body}");
    let (empty, run) = ws.plan_is_empty();
    assert!(!empty, "{}", run.all());
    assert!(
        run.stdout
            .contains(r#""http://elsewhere/isos/other.iso" -> "Rescue""#),
        "{}",
        run.stdout
    );
    ws.apply();
    assert_eq!(mounted(&site), RESCUE_MEDIA);
    assert!(ws.plan_is_empty().0);

    // The operator moves the image and imports the site file again: the
    // server still has the old location, which the plan shows; apply
    // mounts the new one, and the configuration did not change.
    const MOVED: &str = "http://fileserver/isos/rescue-2.iso";
    site.reimport(|text| text.replace(RESCUE_MEDIA, MOVED));
    let (empty, run) = ws.plan_is_empty();
    assert!(!empty, "{}", run.all());
    assert!(
        run.stdout
            .contains(&format!(r#""{RESCUE_MEDIA}" -> "Rescue""#)),
        "{}",
        run.stdout
    );
    ws.apply();
    assert_eq!(mounted(&site), MOVED);
    assert!(ws.plan_is_empty().0);
    ws.ok(&["destroy", "-auto-approve"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn names_that_do_not_fit_are_refused_with_the_fix() {
    let site = TestSite::start(&SITE);

    // Caught at plan time: not a name and not a location; an unknown use.
    let ws = Workspace::new(&site.agent, &config("my image", "ubuntu-24.04"));
    let text = ws.run(&["plan"]).flat();
    assert!(text.contains("boot_iso"), "{text}");
    assert!(text.contains("contains ' '"), "{text}");
    assert!(
        text.contains("CIFS share"),
        "the other form is named: {text}"
    );
    ws.write(&format!(
        "{}\ndata \"giif_iso_images\" \"bad\" {{\n  usable_for = \"disks\"\n}}\n",
        config("rescue", "ubuntu-24.04")
    ));
    let text = ws.run(&["plan"]).flat();
    assert!(text.contains("usable_for"), "{text}");
    assert!(text.contains("is not a use"), "{text}");

    // Caught by the agent, which knows the library: each points at the
    // attribute, names what is wrong and where the images are listed;
    // nothing is mounted.
    let refused = |boot_iso: &str, vm_iso: &str, attribute: &str, expected: &str| {
        ws.write(&config(boot_iso, vm_iso));
        let run = ws.run(&["apply", "-auto-approve"]);
        assert!(!run.success, "{boot_iso}/{vm_iso} applied");
        let text = run.flat();
        assert!(text.contains(expected), "{boot_iso}/{vm_iso}: {text}");
        assert!(text.contains(attribute), "{boot_iso}/{vm_iso}: {text}");
        assert!(
            text.contains("giif_iso_images"),
            "{boot_iso}/{vm_iso}: {text}"
        );
    };
    let not_in_library = "is not an image of the site's ISO library";
    refused(
        "debian",
        "ubuntu-24.04",
        r#"boot_iso    = "debian""#,
        not_in_library,
    );
    refused(
        "windows-2022",
        "ubuntu-24.04",
        r#"boot_iso    = "windows-2022""#,
        "is for VMs only",
    );
    assert!(mounted(&site).is_null(), "nothing was mounted");
    refused(
        "rescue",
        "rescue",
        r#"iso        = "rescue""#,
        "is for bare-metal servers only",
    );
    refused(
        "rescue",
        "debian",
        r#"iso        = "debian""#,
        not_in_library,
    );
    ws.ok(&["destroy", "-auto-approve"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn share_credentials_reach_the_idrac_and_nowhere_else() {
    const PASSWORD: &str = "Sh4re-Secret";
    let site = TestSite::start(&SITE);
    let ws = Workspace::new(&site.agent, &config("installers", "ubuntu-24.04"));
    ws.apply();
    let (status, body) = site.admin("GET", "/idrac/bms01", None);
    assert_eq!(status, 200, "{body}");
    let idrac: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(idrac["media"]["image"], "//fileserver/isos/installers.iso");
    assert_eq!(idrac["media"]["share_user"], "isoreader");
    let mount = idrac["command_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["line"].as_str().unwrap_or_default())
        .find(|line| line.starts_with("racadm remoteimage -c"))
        .unwrap_or_else(|| panic!("no mount in {body}"));
    assert!(mount.contains("-u isoreader -p "), "{mount}");

    // The password went to the iDRAC, but into no output, state, log or
    // answer of the data source.
    assert!(ws.plan_is_empty().0);
    let state = std::fs::read_to_string(ws.path().join("terraform.tfstate")).unwrap();
    assert!(state.contains("installers") && !state.contains(PASSWORD));
    assert!(!ws.outputs().to_string().contains(PASSWORD));
    assert!(!site.agent.log().contains(PASSWORD));
    ws.ok(&["destroy", "-auto-approve"]);
}
