//! The site inventory file (TOML) that `giif-agent inventory import` loads.
//! A bad file is refused whole, with the line, the field and the reason.

mod checks;
pub mod model;

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::store::VlanPoolSpec;
pub use model::{
    BmcDriver, Bms, FloatingIps, GatewayAccess, Guacamole, IdracAccess, IsoImage, Management,
    PagwSlot, Proxmox, ProxmoxNode, RedfishAccess, SshAccess, Template,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteFile {
    project_vlans: ProjectVlans,
    #[serde(default)]
    bms: Vec<Spanned<Bms>>,
    #[serde(default)]
    proxmox: Option<Spanned<Proxmox>>,
    #[serde(default)]
    pagw_slots: Vec<Spanned<PagwSlot>>,
    #[serde(default)]
    floating_ips: Option<Spanned<FloatingIps>>,
    #[serde(default)]
    guacamole: Option<Spanned<Guacamole>>,
    #[serde(default)]
    iso_images: Vec<Spanned<IsoImage>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectVlans {
    #[serde(default = "default_pool_name")]
    name: String,
    first: Spanned<u32>,
    last: Spanned<u32>,
    #[serde(default = "no_reserved")]
    reserved: Spanned<Vec<u32>>,
}

fn no_reserved() -> Spanned<Vec<u32>> {
    Spanned::new(0..0, Vec::new())
}

fn default_pool_name() -> String {
    "project-segments".to_string()
}

/// One problem in the site file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {field}: {reason}")]
pub struct SiteFileError {
    pub file: String,
    pub line: usize,
    pub field: String,
    pub reason: String,
}

/// The inventory a valid site file describes. Relative paths (credential
/// files, the Proxmox CA) are resolved against the site file's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    pub project_vlans: VlanPoolSpec,
    pub bms: Vec<Bms>,
    pub proxmox: Option<Proxmox>,
    pub pagw_slots: Vec<PagwSlot>,
    pub floating_ips: FloatingIps,
    pub guacamole: Option<Guacamole>,
    pub iso_images: Vec<IsoImage>,
}

/// Collects problems with the line they are on.
pub(crate) struct Problems<'a> {
    file: &'a str,
    text: &'a str,
    pub(crate) found: Vec<SiteFileError>,
}

impl<'a> Problems<'a> {
    pub(crate) fn add(
        &mut self,
        span: &std::ops::Range<usize>,
        field: &str,
        reason: impl Into<String>,
    ) {
        let line = self.text[..span.start.min(self.text.len())]
            .matches('\n')
            .count()
            + 1;
        self.found.push(SiteFileError {
            file: self.file.to_string(),
            line,
            field: field.to_string(),
            reason: reason.into(),
        });
    }
}

/// Parses and checks a site file; `base` is the directory it lives in.
pub fn parse(file: &str, text: &str, base: &Path) -> Result<Inventory, Vec<SiteFileError>> {
    let mut problems = Problems {
        file,
        text,
        found: Vec::new(),
    };
    let site: SiteFile = match toml::from_str(text) {
        Ok(site) => site,
        Err(err) => {
            let span = err.span().unwrap_or(0..0);
            problems.add(&span, "(syntax)", err.message());
            return Err(problems.found);
        }
    };
    let project_vlans = checks::project_vlans(&site.project_vlans, &mut problems);
    checks::bms(&site.bms, &project_vlans, &mut problems);
    if let Some(proxmox) = &site.proxmox {
        checks::proxmox(proxmox, base, &mut problems);
    }
    checks::pagw_slots(
        &site.pagw_slots,
        site.proxmox.as_ref().map(|p| p.get_ref()),
        &mut problems,
    );
    if let Some(floating) = &site.floating_ips {
        checks::floating_ips(floating, &site.pagw_slots, &mut problems);
    }
    if let Some(guacamole) = &site.guacamole {
        checks::guacamole(guacamole, &mut problems);
    }
    checks::iso_images(&site.iso_images, &mut problems);
    checks::secrets(
        &site.bms,
        site.proxmox.as_ref(),
        &site.pagw_slots,
        site.guacamole.as_ref(),
        &site.iso_images,
        base,
        &mut problems,
    );
    if !problems.found.is_empty() {
        return Err(problems.found);
    }
    Ok(Inventory {
        project_vlans,
        bms: site
            .bms
            .into_iter()
            .map(|b| checks::resolve_bms(b.into_inner(), base))
            .collect(),
        proxmox: site
            .proxmox
            .map(|p| checks::resolve_proxmox(p.into_inner(), base)),
        pagw_slots: site
            .pagw_slots
            .into_iter()
            .map(|s| checks::resolve_slot(s.into_inner(), base))
            .collect(),
        floating_ips: site
            .floating_ips
            .map(|f| f.into_inner())
            .unwrap_or_default(),
        guacamole: site
            .guacamole
            .map(|g| checks::resolve_guacamole(g.into_inner(), base)),
        iso_images: site
            .iso_images
            .into_iter()
            .map(|i| checks::resolve_iso_image(i.into_inner(), base))
            .collect(),
    })
}

#[cfg(test)]
mod tests;
