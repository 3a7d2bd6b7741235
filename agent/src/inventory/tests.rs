use std::path::Path;

use super::*;

fn parse_here(text: &str) -> Result<Inventory, Vec<SiteFileError>> {
    parse("site.toml", text, Path::new("."))
}

#[test]
fn a_good_file() {
    let inventory =
        parse_here("[project_vlans]\nfirst = 100\nlast = 110\nreserved = [105]\n").expect("valid");
    assert_eq!(inventory.project_vlans.name, "project-segments");
    assert_eq!(inventory.project_vlans.size(), 10);
    assert!(inventory.bms.is_empty());
}

#[test]
fn errors_name_line_field_and_reason() {
    let errors = parse_here("[project_vlans]\nfirst = 200\nlast = 100\n").expect_err("invalid");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].line, 3);
    assert_eq!(errors[0].field, "project_vlans.last");
    assert!(errors[0]
        .to_string()
        .starts_with("site.toml:3: project_vlans.last: the range ends"));
}

#[test]
fn unknown_fields_are_refused_with_their_line() {
    let errors =
        parse_here("[project_vlans]\nfirst = 1\nlast = 2\nsize = 3\n").expect_err("invalid");
    assert_eq!(errors[0].line, 4);
    assert!(errors[0].reason.contains("size"), "{}", errors[0].reason);
}

#[test]
fn out_of_range_vlans() {
    let errors = parse_here("[project_vlans]\nfirst = 0\nlast = 5000\nreserved = [7000]\n")
        .expect_err("invalid");
    let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "project_vlans.first",
            "project_vlans.last",
            "project_vlans.reserved"
        ]
    );
}

const FULL: &str = r#"[project_vlans]
first = 100
last = 199

[[bms]]
name = "bms01"
service_tag = "7XK2M03"
vlan = 3001
macs = ["d0:94:66:00:00:01"]
tags = ["gpu"]
idrac = { address = "10.0.0.11", user = "root", password = { file = "idrac.pw" } }

[proxmox]
api_url = "https://pve1.lab:8006"
token_id = "giif@pve!agent"
token_secret = { env = "GIIF_TEST_PVE_TOKEN" }
fingerprint = "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff"
nodes = [{ name = "pve1", vm_bridge = "vmbr1", storage = "local-lvm" }]
templates = [{ name = "pagw", vmid = 9000, node = "pve1", pagw = true }]

[[pagw_slots]]
public_ip = "203.0.113.10"
netmask = "255.255.255.0"
gateway = "203.0.113.1"
host = "pve1"
management_bridge = "vmbr1"
public_bridge = "vmbr0"
storage = "local-lvm"
template = 9000
ssh = { address = "203.0.113.10", user = "giif", password = { file = "pagw.pw" } }

[floating_ips]
addresses = ["203.0.113.100-203.0.113.102", "203.0.113.200"]
"#;

#[test]
fn a_full_site_with_relative_credentials() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("idrac.pw"), "calvin\n").unwrap();
    std::fs::write(dir.path().join("pagw.pw"), "pw\n").unwrap();
    std::env::set_var("GIIF_TEST_PVE_TOKEN", "t");
    let inventory = parse("site.toml", FULL, dir.path()).expect("valid");
    let idrac = inventory.bms[0].idrac.as_ref().expect("an idrac table");
    assert_eq!(idrac.port, 22);
    assert_eq!(
        idrac.password,
        crate::credentials::SecretRef::File(dir.path().join("idrac.pw"))
    );
    assert_eq!(
        inventory.pagw_slots[0].public_ip.to_string(),
        "203.0.113.10"
    );
    assert_eq!(inventory.floating_ips.expand().unwrap().len(), 4);
}

#[test]
fn a_redfish_bmc_is_a_bmc_table() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("idrac.pw"), "calvin\n").unwrap();
    std::fs::write(dir.path().join("pagw.pw"), "pw\n").unwrap();
    std::env::set_var("GIIF_TEST_PVE_TOKEN", "t");
    let redfish = FULL.replace(
        r#"idrac = { address = "10.0.0.11", user = "root", password = { file = "idrac.pw" } }"#,
        r#"bmc = { driver = "redfish", url = "https://10.0.0.11", system = "System.Embedded.1", user = "root", password = { file = "idrac.pw" } }"#,
    );
    let inventory = parse("site.toml", &redfish, dir.path()).expect("valid");
    let server = &inventory.bms[0];
    assert!(server.idrac.is_none());
    let bmc = server.bmc.as_ref().expect("a bmc table");
    assert_eq!(bmc.system.as_deref(), Some("System.Embedded.1"));
    assert_eq!(
        bmc.password,
        crate::credentials::SecretRef::File(dir.path().join("idrac.pw"))
    );
    assert_eq!(server.vnc_endpoint(), Some(("10.0.0.11".to_string(), 5901)));

    let cases = [
        (
            r#"url = "http://10.0.0.11""#,
            "bms[bms01].bmc.url: plain http would send the BMC password readable",
        ),
        (
            r#"url = "https://10.0.0.11/redfish/v1""#,
            "give only https://host[:port]",
        ),
        (r#"url = "10.0.0.11""#, "is not a URL"),
    ];
    for (url, expected) in cases {
        let bad = redfish.replace(r#"url = "https://10.0.0.11""#, url);
        let errors = parse("site.toml", &bad, dir.path()).expect_err(url);
        let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert!(
            text.iter().any(|t| t.contains(expected)),
            "{url}: {text:#?}"
        );
    }
    let lab = redfish.replace(
        r#"url = "https://10.0.0.11""#,
        r#"url = "http://127.0.0.1:8000", plain_http = true"#,
    );
    parse("site.toml", &lab, dir.path()).expect("plain http when asked for");

    let both = redfish.replace(
        "bmc = {",
        r#"idrac = { address = "10.0.0.11", user = "root", password = { file = "idrac.pw" } }
bmc = {"#,
    );
    let errors = parse("site.toml", &both, dir.path()).expect_err("both");
    assert!(
        errors
            .iter()
            .any(|e| e.to_string().contains("give either `idrac`")),
        "{errors:#?}"
    );
    let unknown = redfish.replace(r#"driver = "redfish""#, r#"driver = "ipmi""#);
    let errors = parse("site.toml", &unknown, dir.path()).expect_err("unknown driver");
    assert!(
        errors.iter().any(|e| e.to_string().contains("redfish")),
        "{errors:#?}"
    );
}

#[test]
fn cross_checks_name_the_line_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    std::env::set_var("GIIF_TEST_PVE_TOKEN", "t");
    let bad = FULL
        .replace("vlan = 3001", "vlan = 150")
        .replace("host = \"pve1\"", "host = \"pve9\"")
        .replace("\"203.0.113.200\"", "\"203.0.113.10\"");
    let errors = parse("site.toml", &bad, dir.path()).expect_err("invalid");
    let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    let has = |needle: &str| text.iter().any(|t| t.contains(needle));
    assert!(
        has("site.toml:5: bms[bms01].vlan: VLAN 150 lies in the project VLAN pool 100-199"),
        "{text:#?}"
    );
    assert!(
        has("bms[bms01].idrac.password: cannot read the secret file"),
        "{text:#?}"
    );
    assert!(
        has("pagw_slots[203.0.113.10].host: \"pve9\" is not a node"),
        "{text:#?}"
    );
    assert!(
        has("floating_ips.addresses: 203.0.113.10 is also a PAGW slot's public IP"),
        "{text:#?}"
    );
}

const LIBRARY: &str = r#"[project_vlans]
first = 100
last = 199

[[iso_images]]
name = "ubuntu-24.04"
description = "Ubuntu 24.04 LTS server installer"
media_url = "//files/isos/ubuntu-24.04.iso"
pve_volume = "local:iso/ubuntu-24.04.iso"

[[iso_images]]
name = "firmware"
media_url = "https://files.lab/fw/idrac.iso"
"#;

#[test]
fn an_iso_library() {
    let inventory = parse_here(LIBRARY).expect("valid");
    let names: Vec<&str> = inventory
        .iso_images
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(names, ["ubuntu-24.04", "firmware"]);
    assert_eq!(inventory.iso_images[1].pve_volume, None);
    assert_eq!(
        inventory.iso_images[0].description.as_deref(),
        Some("Ubuntu 24.04 LTS server installer")
    );
}

#[test]
fn iso_library_problems_name_the_image_line_and_fix() {
    let bad = format!(
        "{LIBRARY}\n[[iso_images]]\nname = \"Firmware\"\n\n[[iso_images]]\nname = \"my image\"\nmedia_url = \"https://u:pw@files.lab/x.iso\"\npve_volume = \"local:vztmpl/x.tar.gz\"\n"
    );
    let errors = parse_here(&bad).expect_err("invalid");
    let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    let has = |needle: &str| text.iter().any(|t| t.contains(needle));
    assert!(
        has("site.toml:15: iso_images[Firmware].name: \"Firmware\" is listed twice"),
        "{text:#?}"
    );
    assert!(
        has("iso_images[Firmware].media_url: give media_url (where iDRACs mount it, for servers), pve_volume"),
        "{text:#?}"
    );
    assert!(
        has("iso_images[my image].name: \"my image\" contains ' '"),
        "{text:#?}"
    );
    assert!(
        has("iso_images[my image].media_url: the location must not hold a user name or password"),
        "{text:#?}"
    );
    assert!(
        has("iso_images[my image].pve_volume: \"local:vztmpl/x.tar.gz\" is not a Proxmox ISO volume"),
        "{text:#?}"
    );
    // The password of the refused URL appears in no message.
    assert!(!text.iter().any(|t| t.contains("pw@")), "{text:#?}");
}

#[test]
fn a_guacamole_database_url_naming_a_missing_ca_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("guac-url"),
        "mysql://giif:hunter2@db/guacamole_db?ssl-mode=VERIFY_IDENTITY&ssl-ca=/nonexistent/ca.pem\n",
    )
    .unwrap();
    let text = "[project_vlans]\nfirst = 1\nlast = 2\n\n[guacamole]\ndatabase_url = { file = \"guac-url\" }\npublic_url = \"https://g.lab/guacamole\"\n";
    let errors = parse("site.toml", text, dir.path()).expect_err("invalid");
    let message = errors[0].to_string();
    assert!(
        message.starts_with("site.toml:5: guacamole.database_url: the database URL's ssl-ca names /nonexistent/ca.pem, which cannot be read"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
}

#[test]
fn iso_share_credentials_are_references_checked_at_import() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("share.pw"), "s3cret\n").unwrap();
    let good = format!(
        "{LIBRARY}\n[[iso_images]]\nname = \"installers\"\nmedia_url = \"//fs/isos/i.iso\"\nshare_user = \"isoreader\"\nshare_password = {{ file = \"share.pw\" }}\n"
    );
    let inventory = parse("site.toml", &good, dir.path()).expect("valid");
    let image = &inventory.iso_images[2];
    assert_eq!(image.share_user.as_deref(), Some("isoreader"));
    assert_eq!(
        image.share_password,
        Some(crate::credentials::SecretRef::File(
            dir.path().join("share.pw")
        ))
    );

    let bad = format!(
        "{LIBRARY}\n[[iso_images]]\nname = \"a\"\npve_volume = \"local:iso/a.iso\"\nshare_user = \"u\"\n\n[[iso_images]]\nname = \"b\"\nmedia_url = \"//fs/isos/b.iso\"\nshare_password = {{ file = \"gone.pw\" }}\n"
    );
    let errors = parse("site.toml", &bad, dir.path()).expect_err("invalid");
    let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    let has = |needle: &str| text.iter().any(|t| t.contains(needle));
    assert!(
        has("iso_images[a].share_user: share credentials are for media_url"),
        "{text:#?}"
    );
    assert!(
        has("iso_images[b].share_password: give share_user too"),
        "{text:#?}"
    );
    assert!(
        has("iso_images[b].share_password: cannot read the secret file"),
        "{text:#?}"
    );
}

#[test]
fn a_vmid_range_must_be_proxmox_ids_and_leave_templates_out() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("idrac.pw"), "calvin\n").unwrap();
    std::fs::write(dir.path().join("pagw.pw"), "pw\n").unwrap();
    std::env::set_var("GIIF_TEST_PVE_TOKEN", "t");
    let with =
        |range: &str| FULL.replace("templates = [", &format!("vmids = {range}\ntemplates = ["));
    let good = parse("site.toml", &with("[1000, 1999]"), dir.path()).expect("valid");
    assert_eq!(good.proxmox.unwrap().vmids, Some([1000, 1999]));
    for (range, needle) in [
        (
            "[5, 50]",
            "proxmox.vmids: [5, 50] is not a range of Proxmox VM ids",
        ),
        ("[300, 200]", "proxmox.vmids: [300, 200] is not a range"),
        (
            "[8000, 9500]",
            "the template \"pagw\" (VM id 9000) lies inside [8000, 9500]",
        ),
    ] {
        let errors = parse("site.toml", &with(range), dir.path()).expect_err("invalid");
        let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert!(
            text.iter().any(|t| t.contains(needle)),
            "{range}: {text:#?}"
        );
    }
}
