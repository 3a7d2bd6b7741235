//! Guacamole connection parameters: the names Guacamole knows for each
//! protocol giif offers, what their values may be, and which of them are
//! credentials. The provider checks `parameters` with it at plan time; the
//! agent checks again (it trusts no client) and uses [`is_secret`] to keep
//! credentials out of what it reports.
//!
//! The lists cover Guacamole 1.4.0 to 1.6.0: the fields of the web
//! application's connection forms (guacamole-client's protocol
//! descriptions) in each of those releases, plus the few parameters guacd
//! reads that the forms do not show (`autoretry`, `reverse-connect` and
//! `listen-timeout` for VNC, `enable-agent` for SSH, `disable-copy` and
//! `disable-paste` for Kubernetes). A parameter that first appeared in 1.6.0
//! says so in [`Parameter::since`]; older Guacamole servers ignore it.
//!
//! Value rules follow guacd, which parses every value itself and falls back
//! to its default for an empty one: switches are `true` or `false`, numbers
//! are whole numbers, and the few parameters guacd matches against a fixed
//! list (colour depth, RDP security mode, keyboard layout, ...) must be one
//! of that list. Where the web application offers a list but guacd accepts
//! any value (terminal font size, backspace code, colour scheme, terminal
//! type), any value of the right kind is accepted.

/// The protocols a giif Guacamole connection may use.
pub const PROTOCOLS: [&str; 5] = ["vnc", "ssh", "rdp", "telnet", "kubernetes"];

/// The longest connection name Guacamole's database holds.
pub const MAX_NAME_CHARS: usize = 128;

/// The longest parameter value Guacamole's database holds.
pub const MAX_VALUE_CHARS: usize = 4096;

/// What a parameter's value may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Any text.
    Text,
    /// A whole number, 0 or more.
    Number,
    /// A TCP or UDP port, 1 to 65535.
    Port,
    /// A switch: `true` or `false`.
    Switch,
    /// One of these values.
    Choice(&'static [&'static str]),
    /// The target's address (`hostname`, `port`): set by the connection's
    /// own attributes, never in `parameters`.
    Target,
    /// A credential: never in `parameters`, which Terraform keeps in its
    /// state in plain text.
    Secret,
}

/// One parameter Guacamole knows for a protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parameter {
    pub name: &'static str,
    pub kind: Kind,
    /// The first Guacamole release (of 1.4.0 to 1.6.0) that knows it.
    pub since: &'static str,
}

const fn p(name: &'static str, kind: Kind) -> Parameter {
    Parameter {
        name,
        kind,
        since: "1.4.0",
    }
}

/// A parameter that Guacamole 1.6.0 introduced.
const fn p16(name: &'static str, kind: Kind) -> Parameter {
    Parameter {
        name,
        kind,
        since: "1.6.0",
    }
}

use Kind::{Number, Port, Secret, Switch, Target, Text};

const LEVELS: &[&str] = &["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
const COLOR_DEPTHS: &[&str] = &["8", "16", "24", "32"];

const NETWORK: &[Parameter] = &[p("hostname", Target), p("port", Target)];

const CLIPBOARD: &[Parameter] = &[p("disable-copy", Switch), p("disable-paste", Switch)];

const RECORDING: &[Parameter] = &[
    p("recording-path", Text),
    p("create-recording-path", Switch),
    p("recording-name", Text),
    p("recording-exclude-output", Switch),
    p("recording-exclude-mouse", Switch),
    p("recording-include-keys", Switch),
    p16("recording-write-existing", Switch),
];

const TYPESCRIPT: &[Parameter] = &[
    p("typescript-path", Text),
    p("create-typescript-path", Switch),
    p("typescript-name", Text),
    p16("typescript-write-existing", Switch),
];

/// The terminal of the text protocols (SSH, telnet, Kubernetes).
const TERMINAL: &[Parameter] = &[
    // A preset name or a custom scheme: guacd parses it.
    p("color-scheme", Text),
    p("font-name", Text),
    p("font-size", Number),
    p("scrollback", Number),
    p("read-only", Switch),
    p("backspace", Number),
];

const WAKE_ON_LAN: &[Parameter] = &[
    p("wol-send-packet", Switch),
    p("wol-mac-addr", Text),
    p("wol-broadcast-addr", Text),
    p("wol-udp-port", Port),
    p("wol-wait-time", Number),
];

/// File transfer over SFTP beside a graphical session (VNC, RDP).
const SFTP: &[Parameter] = &[
    p("enable-sftp", Switch),
    p("sftp-hostname", Text),
    p("sftp-port", Port),
    p("sftp-host-key", Text),
    p("sftp-username", Text),
    p("sftp-password", Secret),
    p("sftp-private-key", Secret),
    p("sftp-passphrase", Secret),
    p16("sftp-public-key", Text),
    p("sftp-directory", Text),
    p("sftp-root-directory", Text),
    p("sftp-server-alive-interval", Number),
    p16("sftp-timeout", Number),
    p("sftp-disable-download", Switch),
    p("sftp-disable-upload", Switch),
];

const VNC: &[Parameter] = &[
    p("autoretry", Number),
    p("username", Text),
    p("password", Secret),
    p("color-depth", Kind::Choice(COLOR_DEPTHS)),
    p16("disable-server-input", Switch),
    p16("disable-display-resize", Switch),
    p("swap-red-blue", Switch),
    p("cursor", Kind::Choice(&["local", "remote"])),
    p16("encodings", Text),
    p("read-only", Switch),
    p("force-lossless", Switch),
    p16("compress-level", Kind::Choice(LEVELS)),
    p16("quality-level", Kind::Choice(LEVELS)),
    p("dest-host", Text),
    p("dest-port", Port),
    p("reverse-connect", Switch),
    p("listen-timeout", Number),
    p("enable-audio", Switch),
    p("audio-servername", Text),
    p(
        "clipboard-encoding",
        Kind::Choice(&["ISO8859-1", "UTF-8", "UTF-16", "CP1252"]),
    ),
];

const SSH: &[Parameter] = &[
    p16("timeout", Number),
    p("host-key", Text),
    p("server-alive-interval", Number),
    p("username", Text),
    p("password", Secret),
    p("private-key", Secret),
    p("passphrase", Secret),
    p16("public-key", Text),
    p("enable-agent", Switch),
    p("command", Text),
    p("locale", Text),
    p("timezone", Text),
    p("terminal-type", Text),
    p("enable-sftp", Switch),
    p("sftp-root-directory", Text),
    p("sftp-disable-download", Switch),
    p("sftp-disable-upload", Switch),
];

const KEYBOARD_LAYOUTS: &[&str] = &[
    "cs-cz-qwertz",
    "da-dk-qwerty",
    "de-ch-qwertz",
    "de-de-qwertz",
    "en-gb-qwerty",
    "en-us-qwerty",
    "es-es-qwerty",
    "es-latam-qwerty",
    "failsafe",
    "fr-be-azerty",
    "fr-ca-qwerty",
    "fr-ch-qwertz",
    "fr-fr-azerty",
    "hu-hu-qwertz",
    "it-it-qwerty",
    "ja-jp-qwerty",
    "no-no-qwerty",
    "pl-pl-qwerty",
    "pt-br-qwerty",
    "pt-pt-qwerty",
    "ro-ro-qwerty",
    "sv-se-qwerty",
    "tr-tr-qwerty",
];

const RDP: &[Parameter] = &[
    p16("timeout", Number),
    p("username", Text),
    p("password", Secret),
    p("domain", Text),
    p(
        "security",
        Kind::Choice(&["any", "nla", "nla-ext", "tls", "vmconnect", "rdp"]),
    ),
    p("disable-auth", Switch),
    p("ignore-cert", Switch),
    p16("cert-tofu", Switch),
    p16("cert-fingerprints", Text),
    p("gateway-hostname", Text),
    p("gateway-port", Port),
    p("gateway-username", Text),
    p("gateway-password", Secret),
    p("gateway-domain", Text),
    p("client-name", Text),
    p("console", Switch),
    p("initial-program", Text),
    p("server-layout", Kind::Choice(KEYBOARD_LAYOUTS)),
    p("timezone", Text),
    p("color-depth", Kind::Choice(COLOR_DEPTHS)),
    p("width", Number),
    p("height", Number),
    p("dpi", Number),
    p(
        "resize-method",
        Kind::Choice(&["display-update", "reconnect"]),
    ),
    p("read-only", Switch),
    p16("disable-gfx", Switch),
    p("force-lossless", Switch),
    p(
        "normalize-clipboard",
        Kind::Choice(&["preserve", "unix", "windows"]),
    ),
    p("console-audio", Switch),
    p("disable-audio", Switch),
    p("enable-audio-input", Switch),
    p("enable-touch", Switch),
    p("enable-printing", Switch),
    p("printer-name", Text),
    p("enable-drive", Switch),
    p("drive-name", Text),
    p("drive-path", Text),
    p("create-drive-path", Switch),
    p("disable-download", Switch),
    p("disable-upload", Switch),
    p("static-channels", Text),
    p("enable-wallpaper", Switch),
    p("enable-theming", Switch),
    p("enable-font-smoothing", Switch),
    p("enable-full-window-drag", Switch),
    p("enable-desktop-composition", Switch),
    p("enable-menu-animations", Switch),
    p("disable-bitmap-caching", Switch),
    p("disable-offscreen-caching", Switch),
    p("disable-glyph-caching", Switch),
    p("remote-app", Text),
    p("remote-app-dir", Text),
    p("remote-app-args", Text),
    p("preconnection-id", Number),
    p("preconnection-blob", Text),
    p("load-balance-info", Text),
    p("recording-exclude-touch", Switch),
];

const TELNET: &[Parameter] = &[
    p16("timeout", Number),
    p("username", Text),
    p("password", Secret),
    p("username-regex", Text),
    p("password-regex", Text),
    p("login-success-regex", Text),
    p("login-failure-regex", Text),
    p("terminal-type", Text),
];

const KUBERNETES: &[Parameter] = &[
    p("namespace", Text),
    p("pod", Text),
    p("container", Text),
    p("exec-command", Text),
    p("use-ssl", Switch),
    p("ignore-cert", Switch),
    p("ca-cert", Text),
    // A certificate is public; its key is the credential.
    p("client-cert", Text),
    p("client-key", Secret),
];

/// Every parameter of `protocol`, grouped as Guacamole's documentation
/// groups them; `None` for a protocol giif does not offer.
fn groups(protocol: &str) -> Option<&'static [&'static [Parameter]]> {
    Some(match protocol {
        "vnc" => &[NETWORK, VNC, CLIPBOARD, RECORDING, SFTP, WAKE_ON_LAN],
        "ssh" => &[
            NETWORK,
            SSH,
            TERMINAL,
            CLIPBOARD,
            RECORDING,
            TYPESCRIPT,
            WAKE_ON_LAN,
        ],
        "rdp" => &[NETWORK, RDP, CLIPBOARD, RECORDING, SFTP, WAKE_ON_LAN],
        "telnet" => &[
            NETWORK,
            TELNET,
            TERMINAL,
            CLIPBOARD,
            RECORDING,
            TYPESCRIPT,
            WAKE_ON_LAN,
        ],
        "kubernetes" => &[
            NETWORK, KUBERNETES, TERMINAL, CLIPBOARD, RECORDING, TYPESCRIPT,
        ],
        _ => return None,
    })
}

/// The parameters Guacamole knows for `protocol` (including the target's
/// address and the credentials, which `parameters` may not carry); `None`
/// for a protocol giif does not offer.
pub fn parameters(protocol: &str) -> Option<impl Iterator<Item = &'static Parameter>> {
    groups(protocol).map(|groups| groups.iter().flat_map(|group| group.iter()))
}

/// The parameter `name` of `protocol`, if Guacamole knows it.
pub fn parameter(protocol: &str, name: &str) -> Option<&'static Parameter> {
    parameters(protocol)?.find(|p| p.name == name)
}

/// The port guacd connects to when a connection names none: 22 for SSH,
/// 3389 for RDP (2179 when `security` is `vmconnect`), 23 for telnet,
/// 8080 for Kubernetes. guacd has no VNC default; 5900 (display :0) is the
/// convention, and the agent writes it.
pub fn default_port(protocol: &str) -> Option<u16> {
    match protocol {
        "vnc" => Some(5900),
        "ssh" => Some(22),
        "rdp" => Some(3389),
        "telnet" => Some(23),
        "kubernetes" => Some(8080),
        _ => None,
    }
}

/// The port a connection without one gets, given its parameters: RDP to
/// Hyper-V's console (`security = vmconnect`) is on 2179.
pub fn default_port_for<'a>(
    protocol: &str,
    mut parameters: impl Iterator<Item = (&'a String, &'a String)>,
) -> Option<u16> {
    if protocol == "rdp" && parameters.any(|(k, v)| k == "security" && v == "vmconnect") {
        return Some(2179);
    }
    default_port(protocol)
}

/// Whether `name` is a credential in any protocol: a password, a passphrase
/// or a private key. Such values never go in `parameters` and are never
/// reported back.
pub fn is_secret(name: &str) -> bool {
    PROTOCOLS
        .iter()
        .filter_map(|protocol| parameter(protocol, name))
        .any(|p| p.kind == Secret)
}

/// Why `protocol` is not one giif offers, if it is not.
pub fn protocol_problem(protocol: &str) -> Option<String> {
    if PROTOCOLS.contains(&protocol) {
        return None;
    }
    let list = PROTOCOLS.join(", ");
    Some(match nearest(protocol, PROTOCOLS.iter().copied()) {
        Some(near) => format!(
            "{protocol:?} is not a protocol of giif's Guacamole connections; did you mean `{near}`? Use one of {list}."
        ),
        None => format!(
            "{protocol:?} is not a protocol of giif's Guacamole connections; use one of {list}."
        ),
    })
}

/// Why a connection cannot have this name, if it cannot.
pub fn connection_name_problem(name: &str) -> Option<String> {
    let chars = name.chars().count();
    if name.trim().is_empty() {
        return Some("A connection needs a name that is not blank.".into());
    }
    (chars > MAX_NAME_CHARS).then(|| {
        format!("The name is {chars} characters long; Guacamole holds at most {MAX_NAME_CHARS}.")
    })
}

/// Why the parameter `name = value` cannot be given in a connection's
/// `parameters` for `protocol`, with the fix; `None` when it can.
pub fn parameter_problem(protocol: &str, name: &str, value: &str) -> Option<String> {
    if let Some(problem) = protocol_problem(protocol) {
        return Some(problem);
    }
    let Some(parameter) = parameter(protocol, name) else {
        return Some(unknown_name(protocol, name));
    };
    let value_chars = value.chars().count();
    if value_chars > MAX_VALUE_CHARS {
        return Some(format!(
            "The value of `{name}` is {value_chars} characters long; Guacamole holds at most {MAX_VALUE_CHARS}."
        ));
    }
    match parameter.kind {
        Target => Some(format!(
            "`{name}` is not set in parameters: use the connection's `{name}` attribute, or `resource_id` to have \
             the agent fill in the target from its inventory."
        )),
        Secret if name == "password" => Some(
            "`password` is a secret, and parameters are kept in Terraform state in plain text. Set it in the \
             write-only `password` attribute instead (with `password_version`), which never reaches the state."
                .into(),
        ),
        Secret => Some(format!(
            "`{name}` is a credential, and parameters are kept in Terraform state in plain text, so it would land \
             there. Use `resource_id` so the agent supplies the target's credentials, or a password in the \
             write-only `password` attribute."
        )),
        // guacd takes an empty value as "use the default".
        _ if value.is_empty() => None,
        Text => None,
        Kind::Switch => (!matches!(value, "true" | "false")).then(|| {
            format!("`{name}` is a switch: \"true\" or \"false\" (or \"\" for Guacamole's default), not {value:?}.")
        }),
        Number => whole_number(value).is_none().then(|| {
            format!("`{name}` is a whole number, 0 or more (or \"\" for Guacamole's default), not {value:?}.")
        }),
        Port => match whole_number(value) {
            Some(1..=65535) => None,
            _ => Some(format!(
                "`{name}` is a port, 1 to 65535 (or \"\" for Guacamole's default), not {value:?}."
            )),
        },
        Kind::Choice(choices) if choices.contains(&value) => None,
        Kind::Choice(choices) => {
            let list = choices
                .iter()
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(", ");
            let hint = nearest(value, choices.iter().copied())
                .map(|near| format!(" Did you mean \"{near}\"?"))
                .unwrap_or_default();
            Some(format!(
                "{value:?} is not a value of `{name}`; use one of {list} (or \"\" for Guacamole's default).{hint}"
            ))
        }
    }
}

/// A non-negative whole number as guacd parses it (decimal, fits an int).
fn whole_number(value: &str) -> Option<u32> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse::<u32>().ok().filter(|n| *n <= i32::MAX as u32)
}

fn unknown_name(protocol: &str, name: &str) -> String {
    let mut text = format!("`{name}` is not a {protocol} parameter of Guacamole (1.4 to 1.6).");
    let names = parameters(protocol)
        .into_iter()
        .flatten()
        .filter(|p| !matches!(p.kind, Target))
        .map(|p| p.name);
    if let Some(near) = nearest(name, names) {
        text.push_str(&format!(" Did you mean `{near}`?"));
    } else {
        let elsewhere: Vec<&str> = PROTOCOLS
            .iter()
            .copied()
            .filter(|other| parameter(other, name).is_some())
            .collect();
        if !elsewhere.is_empty() {
            text.push_str(&format!(
                " It is a parameter of {}, not of {protocol}.",
                elsewhere.join(", ")
            ));
        }
    }
    text
}

/// The candidate closest to `word` by edit distance (ignoring case, and
/// `_` for `-`), when it is close enough to be a likely slip.
fn nearest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let normal = |s: &str| s.to_ascii_lowercase().replace('_', "-");
    let word = normal(word);
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .map(|c| (edit_distance(&word, &normal(c)), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance: insertions, deletions and substitutions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value `kind` accepts.
    fn sample(kind: Kind) -> &'static str {
        match kind {
            Text => "some text",
            Number => "30",
            Port => "2222",
            Switch => "true",
            Kind::Choice(choices) => choices[choices.len() - 1],
            Target | Secret => "x",
        }
    }

    #[test]
    fn every_listed_parameter_is_accepted_with_a_value_of_its_kind() {
        let mut checked = 0;
        for protocol in PROTOCOLS {
            for parameter in parameters(protocol).unwrap() {
                let (name, kind) = (parameter.name, parameter.kind);
                if matches!(kind, Target | Secret) {
                    continue;
                }
                for value in [sample(kind), ""] {
                    assert_eq!(
                        parameter_problem(protocol, name, value),
                        None,
                        "{protocol} {name}={value:?}"
                    );
                }
                checked += 1;
            }
        }
        assert!(checked > 200, "only {checked} parameters");
    }

    #[test]
    fn names_are_unique_per_protocol_and_spelled_as_guacamole_spells_them() {
        for protocol in PROTOCOLS {
            let mut seen = std::collections::BTreeSet::new();
            for parameter in parameters(protocol).unwrap() {
                assert!(
                    seen.insert(parameter.name),
                    "{protocol} lists {} twice",
                    parameter.name
                );
                assert!(
                    parameter
                        .name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                    "{}",
                    parameter.name
                );
                assert!(matches!(parameter.since, "1.4.0" | "1.6.0"));
            }
        }
    }

    #[test]
    fn known_parameters_per_protocol() {
        let known = |protocol, name| parameter(protocol, name).is_some();
        assert!(known("vnc", "color-depth"));
        assert!(known("vnc", "reverse-connect"));
        assert!(known("rdp", "security"));
        assert!(known("rdp", "server-layout"));
        assert!(known("ssh", "font-size"));
        assert!(known("telnet", "login-success-regex"));
        assert!(known("kubernetes", "namespace"));
        assert!(!known("vnc", "security"));
        assert!(!known("kubernetes", "wol-send-packet"));
        assert!(!known("ftp", "port"));
        assert_eq!(parameter("rdp", "cert-tofu").unwrap().since, "1.6.0");
        assert_eq!(parameter("rdp", "console").unwrap().since, "1.4.0");
    }

    #[test]
    fn unknown_names_get_the_nearest_suggestion() {
        let problem = parameter_problem("vnc", "colour-depth", "24").unwrap();
        assert!(
            problem.contains("`colour-depth` is not a vnc parameter"),
            "{problem}"
        );
        assert!(problem.contains("Did you mean `color-depth`?"), "{problem}");
        let problem = parameter_problem("rdp", "ignore_cert", "true").unwrap();
        assert!(problem.contains("Did you mean `ignore-cert`?"), "{problem}");
        let problem = parameter_problem("ssh", "scrolback", "100").unwrap();
        assert!(problem.contains("Did you mean `scrollback`?"), "{problem}");
        // Too far from anything: no guess.
        let problem = parameter_problem("vnc", "wallpaper-url", "x").unwrap();
        assert!(!problem.contains("Did you mean"), "{problem}");
        // Known to another protocol.
        let problem = parameter_problem("vnc", "security", "nla").unwrap();
        assert!(
            problem.contains("It is a parameter of rdp, not of vnc."),
            "{problem}"
        );
    }

    #[test]
    fn unknown_protocols_are_refused() {
        let problem = parameter_problem("spice", "hostname", "x").unwrap();
        assert!(problem.contains("\"spice\" is not a protocol"), "{problem}");
        assert!(
            problem.contains("vnc, ssh, rdp, telnet, kubernetes"),
            "{problem}"
        );
        let problem = protocol_problem("VNC").unwrap();
        assert!(problem.contains("did you mean `vnc`?"), "{problem}");
        assert_eq!(protocol_problem("telnet"), None);
    }

    #[test]
    fn the_target_is_set_by_attributes() {
        for protocol in PROTOCOLS {
            for name in ["hostname", "port"] {
                let problem = parameter_problem(protocol, name, "x").unwrap();
                assert!(
                    problem.contains(&format!("`{name}` attribute")),
                    "{problem}"
                );
                assert!(problem.contains("resource_id"), "{problem}");
            }
        }
    }

    #[test]
    fn secrets_are_refused_with_where_they_go() {
        for protocol in ["vnc", "ssh", "rdp", "telnet"] {
            let problem = parameter_problem(protocol, "password", "hunter2").unwrap();
            assert!(
                problem.contains("write-only `password` attribute"),
                "{problem}"
            );
        }
        for (protocol, name) in [
            ("ssh", "private-key"),
            ("ssh", "passphrase"),
            ("rdp", "gateway-password"),
            ("vnc", "sftp-password"),
            ("rdp", "sftp-private-key"),
            ("kubernetes", "client-key"),
        ] {
            let problem = parameter_problem(protocol, name, "secret").unwrap();
            assert!(problem.contains("Terraform state"), "{problem}");
            assert!(is_secret(name), "{name}");
        }
        // Public halves and user names are not secrets.
        for name in [
            "client-cert",
            "ca-cert",
            "public-key",
            "host-key",
            "username",
            "sftp-username",
        ] {
            assert!(!is_secret(name), "{name}");
        }
        assert!(is_secret("password"));
        assert!(!is_secret("no-such-parameter"));
    }

    #[test]
    fn values_are_checked_by_kind() {
        let ok = |protocol, name, value| parameter_problem(protocol, name, value).is_none();
        assert!(ok("vnc", "color-depth", "24"));
        assert!(!ok("vnc", "color-depth", "12"));
        assert!(ok("rdp", "security", "nla-ext"));
        let problem = parameter_problem("rdp", "security", "NLA").unwrap();
        assert!(problem.contains("Did you mean \"nla\"?"), "{problem}");
        assert!(problem.contains("\"any\", \"nla\""), "{problem}");
        assert!(ok("rdp", "server-layout", "de-ch-qwertz"));
        assert!(!ok("rdp", "server-layout", "de"));
        assert!(ok("vnc", "read-only", "true"));
        assert!(ok("vnc", "read-only", "false"));
        assert!(ok("vnc", "read-only", ""));
        let problem = parameter_problem("vnc", "read-only", "yes").unwrap();
        assert!(problem.contains("is a switch"), "{problem}");
        assert!(ok("ssh", "scrollback", "1000"));
        for bad in ["-1", "1.5", "ten", "99999999999", "+3"] {
            assert!(!ok("ssh", "scrollback", bad), "{bad}");
        }
        assert!(ok("rdp", "gateway-port", "443"));
        for bad in ["0", "65536", "https"] {
            assert!(!ok("rdp", "gateway-port", bad), "{bad}");
        }
        // Font sizes and colour schemes are free beyond the web app's list.
        assert!(ok("ssh", "font-size", "13"));
        assert!(ok(
            "ssh",
            "color-scheme",
            "foreground: rgb:ff/ff/ff; background: rgb:00/00/00"
        ));
        let long = "x".repeat(MAX_VALUE_CHARS + 1);
        assert!(!ok("ssh", "command", &long));
        assert!(ok("ssh", "command", &long[1..]));
    }

    #[test]
    fn default_ports() {
        assert_eq!(default_port("vnc"), Some(5900));
        assert_eq!(default_port("ssh"), Some(22));
        assert_eq!(default_port("rdp"), Some(3389));
        assert_eq!(default_port("telnet"), Some(23));
        assert_eq!(default_port("kubernetes"), Some(8080));
        assert_eq!(default_port("spice"), None);
        for protocol in PROTOCOLS {
            assert!(default_port(protocol).is_some(), "{protocol}");
        }
    }

    #[test]
    fn connection_names() {
        assert_eq!(connection_name_problem("student01 desktop"), None);
        assert!(connection_name_problem("  ").is_some());
        assert!(connection_name_problem(&"n".repeat(129)).is_some());
        assert_eq!(connection_name_problem(&"n".repeat(128)), None);
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("color-depth", "color-depth"), 0);
        assert_eq!(edit_distance("colour-depth", "color-depth"), 1);
    }
}
