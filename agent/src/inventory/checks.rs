//! The checks a site file must pass before anything is imported. Each
//! problem names the line, the field and the fix.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::Path;

use toml::Spanned;

use super::model::{Bms, FloatingIps, GatewayAccess, Guacamole, IsoImage, PagwSlot, Proxmox};
use super::{Problems, ProjectVlans};
use crate::credentials::SecretRef;
use crate::store::VlanPoolSpec;

pub(super) fn project_vlans(vlans: &ProjectVlans, problems: &mut Problems) -> VlanPoolSpec {
    for (value, field) in [
        (&vlans.first, "project_vlans.first"),
        (&vlans.last, "project_vlans.last"),
    ] {
        if !(1..=4094).contains(value.get_ref()) {
            problems.add(
                &value.span(),
                field,
                format!("{} is not a usable VLAN id; use 1 to 4094", value.get_ref()),
            );
        }
    }
    if vlans.first.get_ref() > vlans.last.get_ref() {
        problems.add(
            &vlans.last.span(),
            "project_vlans.last",
            format!(
                "the range ends ({}) before it starts ({}); last must be at least first",
                vlans.last.get_ref(),
                vlans.first.get_ref()
            ),
        );
    }
    for vlan in vlans.reserved.get_ref() {
        if vlan < vlans.first.get_ref() || vlan > vlans.last.get_ref() {
            problems.add(
                &vlans.reserved.span(),
                "project_vlans.reserved",
                format!(
                    "{vlan} is outside the range {}-{}; list only VLANs of the range",
                    vlans.first.get_ref(),
                    vlans.last.get_ref()
                ),
            );
        }
    }
    if let Some(reason) = giif_proto::rules::dns_label_problem(&vlans.name) {
        problems.add(&(0..0), "project_vlans.name", reason);
    }
    VlanPoolSpec {
        name: vlans.name.clone(),
        first: *vlans.first.get_ref(),
        last: *vlans.last.get_ref(),
        reserved: vlans.reserved.get_ref().clone(),
    }
}

fn is_mac(text: &str) -> bool {
    let parts: Vec<&str> = text.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

pub(super) fn bms(servers: &[Spanned<Bms>], project_pool: &VlanPoolSpec, problems: &mut Problems) {
    let mut names = BTreeSet::new();
    let mut vlans = BTreeMap::new();
    for entry in servers {
        let (span, server) = (entry.span(), entry.get_ref());
        let field = |f: &str| format!("bms[{}].{f}", server.name);
        if let Some(reason) = giif_proto::rules::dns_label_problem(&server.name) {
            problems.add(&span, &field("name"), reason);
        }
        if !names.insert(server.name.to_lowercase()) {
            problems.add(
                &span,
                &field("name"),
                "another server has this name; names are unique regardless of case",
            );
        }
        if !(1..=4094).contains(&server.vlan) {
            problems.add(
                &span,
                &field("vlan"),
                format!("{} is not a usable VLAN id; use 1 to 4094", server.vlan),
            );
        } else if project_pool.first <= server.vlan && server.vlan <= project_pool.last {
            problems.add(
                &span,
                &field("vlan"),
                format!(
                    "VLAN {} lies in the project VLAN pool {}-{}; give servers VLANs outside it",
                    server.vlan, project_pool.first, project_pool.last
                ),
            );
        }
        if let Some(other) = vlans.insert(server.vlan, server.name.clone()) {
            problems.add(
                &span,
                &field("vlan"),
                format!("VLAN {} is already the VLAN of {other}", server.vlan),
            );
        }
        if server.macs.is_empty() {
            problems.add(
                &span,
                &field("macs"),
                "list the server's MAC addresses (aa:bb:cc:dd:ee:ff)",
            );
        }
        for mac in &server.macs {
            if !is_mac(mac) {
                problems.add(
                    &span,
                    &field("macs"),
                    format!("{mac:?} is not a MAC address of the form aa:bb:cc:dd:ee:ff"),
                );
            }
        }
        bmc_access(server, &span, problems);
    }
}

/// Exactly one of `idrac` and `bmc`, each complete.
fn bmc_access(server: &Bms, span: &std::ops::Range<usize>, problems: &mut Problems) {
    let field = |f: &str| format!("bms[{}].{f}", server.name);
    match (&server.idrac, &server.bmc) {
        (Some(idrac), None) => {
            let ssh = idrac.ssh();
            login(&ssh.address, ssh.port, &ssh.user, span, &field("idrac"), problems);
            if idrac.vnc_port == 0 {
                problems.add(
                    span,
                    &field("idrac.vnc_port"),
                    "0 is not a port; iDRACs serve VNC on 5901 by default",
                );
            }
        }
        (None, Some(bmc)) => {
            if let Some(reason) = redfish_url_problem(&bmc.url, bmc.plain_http) {
                problems.add(span, &field("bmc.url"), reason);
            }
            if bmc.user.trim().is_empty() {
                problems.add(span, &field("bmc.user"), "give the user name to log in as");
            }
            if bmc.vnc_port == 0 {
                problems.add(
                    span,
                    &field("bmc.vnc_port"),
                    "0 is not a port; leave it out for 5901",
                );
            }
        }
        (Some(_), Some(_)) => problems.add(
            span,
            &field("bmc"),
            "give either `idrac` (racadm over SSH) or `bmc` (driver = \"redfish\"), not both",
        ),
        (None, None) => problems.add(
            span,
            &field("idrac"),
            "say how to reach the server's BMC: an `idrac` table (racadm over SSH) or a `bmc` table (driver = \"redfish\")",
        ),
    }
}

/// Why a Redfish service URL cannot be used, if it cannot.
pub(crate) fn redfish_url_problem(text: &str, plain_http: bool) -> Option<String> {
    let url = match reqwest::Url::parse(text) {
        Ok(url) => url,
        Err(err) => {
            return Some(format!(
                "{text:?} is not a URL ({err}); write https://host[:port]"
            ))
        }
    };
    if url.host_str().is_none_or(str::is_empty) {
        return Some(format!("{text:?} names no host; write https://host[:port]"));
    }
    if url.path() != "/" || url.query().is_some() || !url.username().is_empty() {
        return Some(format!(
            "{text:?} has a path, query or user; give only https://host[:port] (the agent finds /redfish/v1 itself)"
        ));
    }
    match url.scheme() {
        "https" => None,
        "http" if plain_http => None,
        "http" => Some(
            "plain http would send the BMC password readable; use https, or set plain_http = true for an emulator or a lab".to_string(),
        ),
        other => Some(format!("{other}:// is not Redfish; write https://host[:port]")),
    }
}

fn gateway_access(
    access: &GatewayAccess,
    span: &std::ops::Range<usize>,
    field: &str,
    problems: &mut Problems,
) {
    login(
        &access.address,
        access.port,
        &access.user,
        span,
        field,
        problems,
    );
    match (&access.key, &access.password) {
        (Some(_), None) | (None, Some(_)) => {}
        (None, None) => problems.add(
            span,
            &format!("{field}.key"),
            "give key = { file = \"...\" }: the agent's SSH private key, whose public half cloud-init installs on the gateway (or password, for gateways made from an older template)",
        ),
        (Some(_), Some(_)) => problems.add(
            span,
            &format!("{field}.password"),
            "give key or password, not both (the agent logs in with the key)",
        ),
    }
}

/// Where and as whom to log in over SSH.
fn login(
    address: &str,
    port: u16,
    user: &str,
    span: &std::ops::Range<usize>,
    field: &str,
    problems: &mut Problems,
) {
    if address.trim().is_empty() {
        problems.add(
            span,
            &format!("{field}.address"),
            "give the host name or address",
        );
    }
    if port == 0 {
        problems.add(
            span,
            &format!("{field}.port"),
            "0 is not a port; leave it out for 22",
        );
    }
    if user.trim().is_empty() {
        problems.add(
            span,
            &format!("{field}.user"),
            "give the user name to log in as",
        );
    }
}

pub(super) fn proxmox(entry: &Spanned<Proxmox>, base: &Path, problems: &mut Problems) {
    let (span, pve) = (entry.span(), entry.get_ref());
    if !pve.api_url.starts_with("https://") {
        problems.add(
            &span,
            "proxmox.api_url",
            format!(
                "{:?} must be an https:// URL, such as https://pve1.lab:8006",
                pve.api_url
            ),
        );
    }
    if !pve.token_id.contains('@') || !pve.token_id.contains('!') {
        problems.add(
            &span,
            "proxmox.token_id",
            format!("{:?} is not of the form USER@REALM!TOKENID", pve.token_id),
        );
    }
    match (&pve.ca_cert, &pve.fingerprint) {
        (Some(_), Some(_)) | (None, None) => problems.add(
            &span,
            "proxmox.ca_cert",
            "give exactly one of ca_cert (the API certificate's CA, a PEM file) or fingerprint (SHA-256 of the API certificate)",
        ),
        (Some(path), None) => {
            let path = base.join(path);
            if let Err(err) = std::fs::read_to_string(&path) {
                problems.add(&span, "proxmox.ca_cert", format!("cannot read {}: {err}", path.display()));
            }
        }
        (None, Some(pin)) => {
            if giif_proto::agent_tls::parse_fingerprint(pin).is_err() {
                problems.add(&span, "proxmox.fingerprint", "give 64 hex digits (colons allowed), as `openssl x509 -fingerprint -sha256` prints");
            }
        }
    }
    if pve.nodes.is_empty() {
        problems.add(&span, "proxmox.nodes", "list at least one node");
    }
    if let Some([first, last]) = pve.vmids {
        if !(100..=999_999_999).contains(&first) || last < first || last > 999_999_999 {
            problems.add(
                &span,
                "proxmox.vmids",
                format!("[{first}, {last}] is not a range of Proxmox VM ids: give [first, last] with 100 <= first <= last <= 999999999"),
            );
        }
        for template in pve
            .templates
            .iter()
            .filter(|t| (first..=last).contains(&t.vmid))
        {
            problems.add(
                &span,
                "proxmox.vmids",
                format!("the template {:?} (VM id {}) lies inside [{first}, {last}]: keep giif's range for the VMs it makes", template.name, template.vmid),
            );
        }
    }
    let nodes: BTreeSet<&str> = pve.nodes.iter().map(|n| n.name.as_str()).collect();
    for template in &pve.templates {
        if !nodes.contains(template.node.as_str()) {
            problems.add(
                &span,
                &format!("proxmox.templates[{}].node", template.name),
                format!("{:?} is not one of the nodes {:?}", template.node, nodes),
            );
        }
    }
}

pub(super) fn pagw_slots(
    slots: &[Spanned<PagwSlot>],
    pve: Option<&Proxmox>,
    problems: &mut Problems,
) {
    let mut ips = BTreeSet::new();
    let mut defaults = 0;
    for entry in slots {
        let (span, slot) = (entry.span(), entry.get_ref());
        let field = |f: &str| format!("pagw_slots[{}].{f}", slot.public_ip);
        if !ips.insert(slot.public_ip) {
            problems.add(
                &span,
                &field("public_ip"),
                "another slot has this public IP",
            );
        }
        if slot.default_project {
            defaults += 1;
            if defaults > 1 {
                problems.add(
                    &span,
                    &field("default_project"),
                    "only one slot may be marked for the default project",
                );
            }
        }
        let Some(pve) = pve else {
            problems.add(
                &span,
                &field("host"),
                "PAGW slots need a [proxmox] section with the node that hosts them",
            );
            continue;
        };
        if !pve.nodes.iter().any(|n| n.name == slot.host) {
            problems.add(
                &span,
                &field("host"),
                format!("{:?} is not a node of the [proxmox] section", slot.host),
            );
        }
        if !pve
            .templates
            .iter()
            .any(|t| t.vmid == slot.template && t.pagw)
        {
            problems.add(
                &span,
                &field("template"),
                format!(
                    "{} is not a template marked pagw = true in [proxmox]",
                    slot.template
                ),
            );
        }
        if let Some(vlan) = slot.public_vlan {
            if !(1..=4094).contains(&vlan) {
                problems.add(
                    &span,
                    &field("public_vlan"),
                    format!("{vlan} is not a usable VLAN id"),
                );
            }
        }
        gateway_access(&slot.ssh, &span, &field("ssh"), problems);
    }
}

pub(super) fn floating_ips(
    entry: &Spanned<FloatingIps>,
    slots: &[Spanned<PagwSlot>],
    problems: &mut Problems,
) {
    match entry.get_ref().expand() {
        Err(reason) => problems.add(&entry.span(), "floating_ips.addresses", reason),
        Ok(addresses) => {
            let slot_ips: BTreeSet<Ipv4Addr> =
                slots.iter().map(|s| s.get_ref().public_ip).collect();
            let mut seen = BTreeSet::new();
            for address in addresses {
                if slot_ips.contains(&address) {
                    problems.add(
                        &entry.span(),
                        "floating_ips.addresses",
                        format!("{address} is also a PAGW slot's public IP"),
                    );
                }
                if !seen.insert(address) {
                    problems.add(
                        &entry.span(),
                        "floating_ips.addresses",
                        format!("{address} is listed twice"),
                    );
                }
            }
        }
    }
}

/// Each image has a unique name, at least one usable location, and share
/// credentials only for a media URL.
pub(super) fn iso_images(images: &[Spanned<IsoImage>], problems: &mut Problems) {
    let mut seen = BTreeSet::new();
    for entry in images {
        let (span, image) = (entry.span(), entry.get_ref());
        let field = |name: &str| format!("iso_images[{}].{name}", image.name);
        if let Some(reason) = giif_proto::rules::iso_image_name_problem(&image.name) {
            problems.add(&span, &field("name"), reason);
        }
        if !seen.insert(image.name.to_lowercase()) {
            problems.add(
                &span,
                &field("name"),
                format!("{:?} is listed twice (names are compared without case); give each image its own name", image.name),
            );
        }
        if image.media_url.is_none() && image.pve_volume.is_none() {
            problems.add(
                &span,
                &field("media_url"),
                "give media_url (where iDRACs mount it, for servers), pve_volume (the Proxmox ISO volume, for VMs), or both",
            );
        }
        if let Some(reason) = image
            .media_url
            .as_deref()
            .and_then(giif_proto::rules::iso_problem)
        {
            problems.add(&span, &field("media_url"), reason);
        }
        if let Some(reason) = image
            .pve_volume
            .as_deref()
            .and_then(giif_proto::rules::pve_iso_volume_problem)
        {
            problems.add(&span, &field("pve_volume"), reason);
        }
        match (&image.share_user, &image.share_password) {
            (Some(_), _) if image.media_url.is_none() => problems.add(
                &span,
                &field("share_user"),
                "share credentials are for media_url; give media_url or leave them out",
            ),
            (None, Some(_)) => problems.add(
                &span,
                &field("share_password"),
                "give share_user too: the user the iDRAC mounts the share as",
            ),
            (Some(user), _) if user.trim().is_empty() || user.contains(char::is_whitespace) => {
                problems.add(
                    &span,
                    &field("share_user"),
                    "give a user name without spaces",
                )
            }
            _ => {}
        }
    }
}

pub(super) fn resolve_iso_image(mut image: IsoImage, base: &Path) -> IsoImage {
    image.share_password = image.share_password.map(|s| s.relative_to(base));
    image
}

/// Every referenced credential must be readable now, so a typo fails the
/// import rather than the first driver call.
pub(super) fn secrets(
    servers: &[Spanned<Bms>],
    pve: Option<&Spanned<Proxmox>>,
    slots: &[Spanned<PagwSlot>],
    guacamole: Option<&Spanned<Guacamole>>,
    images: &[Spanned<IsoImage>],
    base: &Path,
    problems: &mut Problems,
) {
    let readable = |secret: &SecretRef,
                    span: &std::ops::Range<usize>,
                    field: &str,
                    problems: &mut Problems| {
        match secret.clone().relative_to(base).resolve() {
            Ok(value) => Some(value),
            Err(err) => {
                problems.add(span, field, err.to_string());
                None
            }
        }
    };
    for server in servers {
        let (span, server) = (server.span(), server.get_ref());
        let table = if server.bmc.is_some() { "bmc" } else { "idrac" };
        let field = |name: &str| format!("bms[{}].{table}.{name}", server.name);
        let password = server.idrac.as_ref().map(|i| &i.password);
        if let Some(password) = password.or(server.bmc.as_ref().map(|b| &b.password)) {
            readable(password, &span, &field("password"), problems);
        }
        if let Some(vnc) = server.vnc_password() {
            readable(vnc, &span, &field("vnc_password"), problems);
        }
    }
    if let Some(guacamole) = guacamole {
        let (span, field) = (guacamole.span(), "guacamole.database_url");
        if let Some(url) = readable(&guacamole.get_ref().database_url, &span, field, problems) {
            // The files the URL names, read as this command's user: the
            // agent's user must be able to read them too.
            if let Err(err) = crate::db_files::check_files(url.expose()) {
                problems.add(&span, field, err.to_string());
            }
        }
    }
    if let Some(pve) = pve {
        readable(
            &pve.get_ref().token_secret,
            &pve.span(),
            "proxmox.token_secret",
            problems,
        );
    }
    for slot in slots {
        let ssh = &slot.get_ref().ssh;
        let toolbox = &slot.get_ref().toolbox_key;
        for (name, secret) in [
            ("ssh.key", &ssh.key),
            ("ssh.password", &ssh.password),
            ("toolbox_key", toolbox),
        ] {
            if let Some(secret) = secret {
                let field = format!("pagw_slots[{}].{name}", slot.get_ref().public_ip);
                readable(secret, &slot.span(), &field, problems);
            }
        }
    }
    for image in images {
        if let Some(password) = &image.get_ref().share_password {
            let field = format!("iso_images[{}].share_password", image.get_ref().name);
            readable(password, &image.span(), &field, problems);
        }
    }
}

pub(super) fn resolve_bms(mut server: Bms, base: &Path) -> Bms {
    if let Some(idrac) = &mut server.idrac {
        idrac.password = idrac.password.clone().relative_to(base);
        idrac.vnc_password = idrac.vnc_password.take().map(|s| s.relative_to(base));
    }
    if let Some(bmc) = &mut server.bmc {
        bmc.password = bmc.password.clone().relative_to(base);
        bmc.vnc_password = bmc.vnc_password.take().map(|s| s.relative_to(base));
    }
    server
}

pub(super) fn guacamole(guacamole: &Spanned<Guacamole>, problems: &mut Problems) {
    let (span, g) = (guacamole.span(), guacamole.get_ref());
    let url = g.public_url.trim();
    if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() < 9 {
        problems.add(
            &span,
            "guacamole.public_url",
            format!(
                "{:?} is not an http(s) URL; give the address users open Guacamole at, \
                 such as https://console.example.org/guacamole",
                g.public_url
            ),
        );
    }
    if g.guacd_port.is_some() && g.guacd_host.is_none() {
        problems.add(
            &span,
            "guacamole.guacd_port",
            "a guacd port without guacd_host; give guacd_host too, or neither",
        );
    }
    if g.guacd_port == Some(0) {
        problems.add(
            &span,
            "guacamole.guacd_port",
            "0 is not a port; guacd listens on 4822 by default",
        );
    }
}

pub(super) fn resolve_guacamole(mut guacamole: Guacamole, base: &Path) -> Guacamole {
    guacamole.database_url = guacamole.database_url.relative_to(base);
    guacamole
}

pub(super) fn resolve_proxmox(mut pve: Proxmox, base: &Path) -> Proxmox {
    pve.token_secret = pve.token_secret.relative_to(base);
    pve.ca_cert = pve
        .ca_cert
        .map(|p| if p.is_relative() { base.join(p) } else { p });
    pve
}

pub(super) fn resolve_slot(mut slot: PagwSlot, base: &Path) -> PagwSlot {
    slot.ssh.key = slot.ssh.key.map(|key| key.relative_to(base));
    slot.ssh.password = slot.ssh.password.map(|password| password.relative_to(base));
    slot.toolbox_key = slot.toolbox_key.map(|key| key.relative_to(base));
    slot
}
