//! `giif-pagw-toolbox`: the only program the `giif-toolbox` account's keys
//! may run (sshd's forced command); the command Guacamole asked for is in
//! `SSH_ORIGINAL_COMMAND`. See `giif_pagw::toolbox`.

use std::io::Write as _;
use std::process::Command;

use giif_pagw::linux::WIREGUARD_PUBLIC_KEY;
use giif_pagw::tool::CONFIG_PATH;
use giif_pagw::toolbox::{run, Inputs};
use giif_pagw::Document;

fn main() {
    let command = std::env::var("SSH_ORIGINAL_COMMAND").unwrap_or_default();
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let neighbours = Command::new("ip")
        .args(["neigh", "show", "dev", giif_pagw::observed::BRIDGE])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let inputs = Inputs {
        document: Document::parse(read(CONFIG_PATH).as_bytes()).ok(),
        leases: read(giif_pagw::linux::LEASES),
        neighbours,
        wireguard_public_key: Some(read(WIREGUARD_PUBLIC_KEY).trim().to_string())
            .filter(|k| !k.is_empty()),
    };
    let _ = std::io::stdout().write_all(run(&command, &inputs).as_bytes());
}
