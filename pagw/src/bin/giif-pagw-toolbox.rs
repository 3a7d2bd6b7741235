//! `giif-pagw-toolbox`: the only program the `giif-toolbox` account's keys
//! may run (sshd's forced command); the command Guacamole asked for is in
//! `SSH_ORIGINAL_COMMAND`. See `giif_pagw::toolbox`.

use std::io::{IsTerminal as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use giif_pagw::linux::WIREGUARD_PUBLIC_KEY;
use giif_pagw::tool::CONFIG_PATH;
use giif_pagw::toolbox::{run, Inputs};
use giif_pagw::Document;

fn main() {
    let command = std::env::var("SSH_ORIGINAL_COMMAND").unwrap_or_default();
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let document = Document::parse(read(CONFIG_PATH).as_bytes()).ok();
    if command.trim() == "scan" {
        if let Some(doc) = &document {
            probe(doc.lan.address);
        }
    }
    let neighbours = Command::new("ip")
        .args(["neigh", "show", "dev", giif_pagw::observed::BRIDGE])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let inputs = Inputs {
        document,
        leases: read(giif_pagw::linux::LEASES),
        neighbours,
        wireguard_public_key: Some(read(WIREGUARD_PUBLIC_KEY).trim().to_string())
            .filter(|k| !k.is_empty()),
    };
    let mut stdout = std::io::stdout();
    let _ = stdout.write_all(run(&command, &inputs).as_bytes());
    // In Guacamole's terminal the session ends with the command: keep the
    // answer on screen until the user is done with it.
    if std::io::stdin().is_terminal() {
        let _ = stdout.write_all(b"\nPress Enter to close.");
        let _ = stdout.flush();
        let _ = std::io::stdin().read_line(&mut String::new());
    }
}

/// An active scan without privileges: a TCP connection attempt to every
/// host of the segment makes the kernel resolve its address (ARP), so the
/// neighbour table then lists every host that answered, whatever it runs.
fn probe(lan: giif_pagw::Cidr) {
    let network = u32::from(lan.network());
    let hosts: Vec<Ipv4Addr> = (1..(1u32 << (32 - u32::from(lan.prefix))) - 1)
        .map(|offset| Ipv4Addr::from(network + offset))
        .filter(|address| *address != lan.address)
        .collect();
    std::thread::scope(|scope| {
        for chunk in hosts.chunks(16) {
            scope.spawn(move || {
                for address in chunk {
                    let _ = TcpStream::connect_timeout(
                        &SocketAddr::from((*address, 9)),
                        Duration::from_millis(300),
                    );
                }
            });
        }
    });
}
