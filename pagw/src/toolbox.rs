//! `giif-pagw-toolbox`: what the project toolbox's Guacamole connections
//! run on the gateway, as the restricted `giif-toolbox` account (its keys
//! may run nothing else). It reads only what that account may read: the
//! stored document, the DHCP leases, the neighbour table and wg0's public
//! key, never a private key.

use crate::document::{Document, VPN_ALLOWED_IPS};

/// The commands, as Guacamole's `command` parameter names them.
pub const USAGE: &str = "giif project toolbox. Commands:\n  scan       the hosts on the project segment (DHCP leases and neighbours)\n  wireguard  the VPN's peers and a client configuration to fill in\n  pptp       whether PPTP is on\n";

/// What the toolbox reads from the gateway.
pub struct Inputs {
    pub document: Option<Document>,
    /// dnsmasq's lease file: `expiry MAC IP HOSTNAME CLIENT-ID` lines.
    pub leases: String,
    /// `ip neigh show dev br0`.
    pub neighbours: String,
    pub wireguard_public_key: Option<String>,
}

/// The answer to `command` (from `SSH_ORIGINAL_COMMAND`).
pub fn run(command: &str, inputs: &Inputs) -> String {
    match command.trim() {
        "scan" => scan(inputs),
        "wireguard" => wireguard(inputs),
        "pptp" => match inputs.document.as_ref().map(|d| d.pptp) {
            Some(true) => {
                "PPTP is on: connect to this gateway's public address, port 1723.\n".into()
            }
            _ => "PPTP is off on this gateway.\n".into(),
        },
        _ => USAGE.into(),
    }
}

fn scan(inputs: &Inputs) -> String {
    let mut out =
        String::from("Hosts on the project segment\n\nDHCP leases (address, MAC, name):\n");
    let mut any = false;
    for line in inputs.leases.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if let [_, mac, ip, name, ..] = fields.as_slice() {
            out.push_str(&format!("  {ip:<16} {mac}  {name}\n"));
            any = true;
        }
    }
    if !any {
        out.push_str("  (none)\n");
    }
    out.push_str("\nSeen on the segment (address, MAC, state):\n");
    let mut any = false;
    for line in inputs.neighbours.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // Only hosts that answered: an entry without a link-layer address
        // (FAILED, INCOMPLETE) is an address nobody has.
        let mac = fields
            .iter()
            .position(|f| *f == "lladdr")
            .and_then(|i| fields.get(i + 1));
        if let (Some(ip), Some(mac)) = (fields.first(), mac) {
            let state = fields.last().unwrap_or(&"");
            out.push_str(&format!("  {ip:<16} {mac}  {state}\n"));
            any = true;
        }
    }
    if !any {
        out.push_str("  (none)\n");
    }
    out
}

fn wireguard(inputs: &Inputs) -> String {
    let Some(doc) = &inputs.document else {
        return "This gateway is not configured yet.\n".into();
    };
    let Some(wg) = &doc.wireguard else {
        return "WireGuard is off on this gateway.\n".into();
    };
    let key = inputs
        .wireguard_public_key
        .as_deref()
        .unwrap_or("(not generated yet)");
    let mut out = format!(
        "WireGuard on {}:{}\nServer public key: {key}\n\nPeers (name, address):\n",
        doc.wan.address.address, wg.listen_port
    );
    for peer in &wg.peers {
        out.push_str(&format!("  {:<20} {}\n", peer.name, peer.address));
    }
    if wg.peers.is_empty() {
        out.push_str("  (none)\n");
    }
    out.push_str(&format!(
        "\nA client's wg-quick file (its key pair is made on the client):\n\n[Interface]\nPrivateKey = <the client's private key>\nAddress = <the peer's address>/{}\n\n[Peer]\nPublicKey = {key}\nEndpoint = {}:{}\nAllowedIPs = {VPN_ALLOWED_IPS}\nPersistentKeepalive = 25\n",
        VPN_ALLOWED_IPS.prefix, doc.wan.address.address, wg.listen_port
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::tests::document;

    fn inputs() -> Inputs {
        Inputs {
            document: Some(document()),
            leases: "1796361665 bc:24:11:aa:00:01 192.168.212.90 student-pc 01:bc:24:11:aa:00:01\n"
                .into(),
            neighbours:
                "192.168.212.130 lladdr bc:24:11:00:00:09 REACHABLE\n192.168.212.77  FAILED\n"
                    .into(),
            wireguard_public_key: Some("kRY3yZ7NRhi+p9djWWxMf14KG0iJFRQtCs7eb6m8vHc=".into()),
        }
    }

    #[test]
    fn scan_lists_leases_and_neighbours() {
        let out = run("scan", &inputs());
        assert!(
            out.contains("192.168.212.90   bc:24:11:aa:00:01  student-pc"),
            "{out}"
        );
        assert!(
            out.contains("192.168.212.130  bc:24:11:00:00:09  REACHABLE"),
            "{out}"
        );
        assert!(!out.contains("192.168.212.77"), "{out}");
    }

    #[test]
    fn wireguard_prints_a_client_configuration_without_secrets() {
        let out = run("wireguard", &inputs());
        assert!(out.contains("Endpoint = 203.0.113.10:51820"), "{out}");
        assert!(out.contains("AllowedIPs = 192.168.212.0/23"), "{out}");
        assert!(out.contains("alice"), "{out}");
        assert!(
            out.contains("PrivateKey = <the client's private key>"),
            "{out}"
        );
        assert_eq!(run("rm -rf /", &inputs()), USAGE);
    }
}
