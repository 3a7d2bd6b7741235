//! Value rules both sides enforce: the provider at plan time, the agent
//! because it trusts no client. Each returns the problem, or None.

/// Project names are single DNS labels: they name VLAN segments, Guacamole
/// groups and gateway hosts.
pub fn dns_label_problem(text: &str) -> Option<String> {
    let fix = "Use 1 to 63 letters, digits and hyphens, not starting or ending with a hyphen, for example \"physics-lab-2\".";
    if text.is_empty() || text.len() > 63 {
        return Some(format!("{text:?} is {} characters long. {fix}", text.len()));
    }
    if let Some(bad) = text
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && *c != '-')
    {
        return Some(format!(
            "{text:?} contains {bad:?}, which a DNS label cannot hold. {fix}"
        ));
    }
    if text.starts_with('-') || text.ends_with('-') {
        return Some(format!("{text:?} starts or ends with a hyphen. {fix}"));
    }
    None
}

/// A calendar date, YYYY-MM-DD, that exists.
pub fn date_problem(text: &str) -> Option<String> {
    let bad = || {
        Some(format!(
            "{text:?} is not a date of the form YYYY-MM-DD, such as \"2027-06-30\"."
        ))
    };
    let parts: Vec<&str> = text.split('-').collect();
    let [year, month, day] = parts.as_slice() else {
        return bad();
    };
    if year.len() != 4 || month.len() != 2 || day.len() != 2 {
        return bad();
    }
    let (Ok(year), Ok(month), Ok(day)) = (
        year.parse::<u32>(),
        month.parse::<u32>(),
        day.parse::<u32>(),
    ) else {
        return bad();
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return bad(),
    };
    if day == 0 || day > days_in_month {
        return bad();
    }
    None
}

/// The roles a project member can have.
pub const MEMBER_ROLES: [&str; 2] = ["member", "manager"];

pub fn member_role_problem(role: &str) -> Option<String> {
    (!MEMBER_ROLES.contains(&role))
        .then(|| format!("{role:?} is not a role; use \"member\" or \"manager\"."))
}

/// Whether `image` is a location the iDRAC can mount: a CIFS share
/// (`//host/share/x.iso`), an NFS export (`host:/path/x.iso`) or a URL.
pub fn iso_problem(image: &str) -> Option<&'static str> {
    let ok = if let Some(rest) = image.strip_prefix("//") {
        rest.split('/').filter(|p| !p.is_empty()).count() >= 3
    } else if let Some(rest) = image
        .strip_prefix("http://")
        .or_else(|| image.strip_prefix("https://"))
    {
        rest.contains('/') && !rest.starts_with('/')
    } else if let Some((host, path)) = image.split_once(":/") {
        !host.is_empty() && !host.contains('/') && !path.is_empty()
    } else {
        false
    };
    if !ok {
        Some(ISO_LOCATION_FORMS)
    } else if image[location_host(image)].contains('@') {
        // It would be stored, shown in plans and kept in Terraform state.
        Some("the location must not hold a user name or password; serve the image without them")
    } else if image
        .chars()
        .any(|c| c.is_whitespace() || c == '"' || c == '\'')
    {
        Some("the location must not contain spaces or quotes")
    } else {
        None
    }
}

/// Where the host (and any `user:password@`) of a location is: after `//`
/// or `://` up to the next `/`, or an NFS export's part before `:/`.
fn location_host(image: &str) -> std::ops::Range<usize> {
    let start = match image.find("//") {
        Some(at) if at == 0 || image[..at].ends_with(':') => at + 2,
        _ => 0,
    };
    let rest = &image[start..];
    let end = if start == 0 {
        rest.find(":/").unwrap_or(rest.len())
    } else {
        rest.find('/').unwrap_or(rest.len())
    };
    start..start + end
}

/// A location as messages may show it: a `user:password@` masked.
pub fn redact_location(image: &str) -> String {
    let host = location_host(image);
    match image[host.clone()].rfind('@') {
        Some(at) => format!("{}***{}", &image[..host.start], &image[host.start + at..]),
        None => image.to_string(),
    }
}

/// Whether a `boot_iso` or VM `iso` value names an image of the site's ISO
/// library rather than giving a location: names hold no `/` or `:`.
pub fn is_iso_image_name(value: &str) -> bool {
    !value.contains('/') && !value.contains(':')
}

/// An ISO library image's name: 1 to 64 letters, digits, dots, hyphens and
/// underscores, starting with a letter or digit.
pub fn iso_image_name_problem(name: &str) -> Option<String> {
    let fix = "Use 1 to 64 letters, digits, dots, hyphens and underscores, starting with a letter or digit, for example \"ubuntu-24.04\".";
    if name.is_empty() || name.len() > 64 {
        return Some(format!("{name:?} is {} characters long. {fix}", name.len()));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && !matches!(c, '.' | '-' | '_'))
    {
        return Some(format!("{name:?} contains {bad:?}. {fix}"));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Some(format!(
            "{name:?} does not start with a letter or digit. {fix}"
        ));
    }
    None
}

/// A server's `boot_iso`: the name of an image of the site's ISO library, or
/// a location the iDRAC can mount.
pub fn boot_iso_problem(value: &str) -> Option<String> {
    if is_iso_image_name(value) {
        iso_image_name_problem(value)
            .map(|problem| format!("{problem} Or, for a location, {ISO_LOCATION_FORMS}."))
    } else {
        iso_problem(value).map(str::to_string)
    }
}

const ISO_LOCATION_FORMS: &str = "give a CIFS share like \"//fileserver/isos/ubuntu.iso\", an NFS export like \"nfs1:/isos/ubuntu.iso\" or an http(s) URL";

/// A Proxmox ISO volume id: `storage:iso/file.iso` (or `.img`, which ISO
/// storage also holds).
pub fn pve_iso_volume_problem(volume: &str) -> Option<String> {
    let ok = volume.split_once(":iso/").is_some_and(|(storage, file)| {
        !storage.is_empty()
            && storage
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && [".iso", ".img"]
                .iter()
                .any(|ext| file.to_ascii_lowercase().ends_with(ext))
            && !file.contains('/')
            && !file
                .chars()
                .any(|c| c.is_whitespace() || c == '"' || c == '\'')
    });
    (!ok).then(|| {
        format!("{volume:?} is not a Proxmox ISO volume; give STORAGE:iso/FILE.iso, such as \"local:iso/ubuntu-24.04.iso\"")
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso_locations() {
        assert!(iso_problem("//fileserver/isos/ubuntu.iso").is_none());
        assert!(iso_problem("https://mirror.example/ubuntu.iso").is_none());
        assert!(iso_problem("nfs1:/isos/ubuntu.iso").is_none());
        assert!(iso_problem("ubuntu.iso").is_some());
        assert!(iso_problem("//fileserver/ubuntu.iso").is_some());
        assert!(iso_problem("//fs/isos/my iso.iso").is_some());
        let credentials =
            iso_problem("https://admin:secret@mirror.example/x.iso").expect("refused");
        assert!(
            credentials.contains("user name or password"),
            "{credentials}"
        );
    }

    use super::*;

    #[test]
    fn dns_labels() {
        for ok in ["a", "lab-1", "A9", &"x".repeat(63)] {
            assert_eq!(dns_label_problem(ok), None, "{ok}");
        }
        for bad in ["", "-a", "a-", "a_b", "a.b", &"x".repeat(64)] {
            assert!(dns_label_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn dates() {
        assert_eq!(date_problem("2028-02-29"), None);
        assert!(date_problem("2027-02-29").is_some());
        assert!(date_problem("2027-13-01").is_some());
        assert!(date_problem("27-01-01").is_some());
        assert!(date_problem("tomorrow").is_some());
    }

    #[test]
    fn iso_image_names_and_boot_isos() {
        for name in ["ubuntu-24.04", "rescue_2", "W2K22"] {
            assert!(is_iso_image_name(name));
            assert_eq!(iso_image_name_problem(name), None, "{name}");
            assert_eq!(boot_iso_problem(name), None, "{name}");
        }
        for bad in ["", "-x", ".iso", "my image", &"x".repeat(65)] {
            assert!(iso_image_name_problem(bad).is_some(), "{bad}");
        }
        // A bad name's message also says how to give a location instead.
        let problem = boot_iso_problem("my image").expect("refused");
        assert!(
            problem.contains("' '") && problem.contains("CIFS"),
            "{problem}"
        );
        // Anything with `/` or `:` is a location, checked as one.
        assert!(!is_iso_image_name("nfs1:/isos/x.iso"));
        assert_eq!(boot_iso_problem("nfs1:/isos/x.iso"), None);
        assert!(boot_iso_problem("//fileserver/x.iso").is_some());
    }

    #[test]
    fn pve_iso_volumes() {
        assert_eq!(pve_iso_volume_problem("local:iso/ubuntu-24.04.iso"), None);
        assert_eq!(pve_iso_volume_problem("cephfs_1:iso/WIN.ISO"), None);
        assert_eq!(pve_iso_volume_problem("local:iso/virtio-floppy.img"), None);
        for bad in [
            "local:iso/",
            "ubuntu.iso",
            "local:vztmpl/x.tar.gz",
            ":iso/x.iso",
            "local:iso/a b.iso",
            "local:iso/d/x.iso",
        ] {
            let problem = pve_iso_volume_problem(bad).expect(bad);
            assert!(problem.contains("STORAGE:iso/FILE.iso"), "{problem}");
        }
    }

    #[test]
    fn roles() {
        assert_eq!(member_role_problem("manager"), None);
        assert!(member_role_problem("root").is_some());
    }
}
