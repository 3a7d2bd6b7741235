//! The real project gateway (the giif-pagw package on a Debian host in
//! network namespaces), configured by the agent's real PAGW driver over the
//! gateway's real sshd, proven with real packets: DHCP, SNAT, floating IPs
//! both ways, WireGuard, idempotence, drift and its repair, removal, and
//! refusals that change nothing. See `giif_tests::gateway_lab` for the
//! topology. `make test-gateway` runs these alone.

#![allow(clippy::unwrap_used)]

use std::net::Ipv4Addr;
use std::time::Duration;

use giif_agent::drivers::gateway::{DnatRule, Gateway, WireGuardConfig, WireGuardPeer};
use giif_agent::drivers::ErrorClass;
use giif_tests::gateway_lab::*;

const FLOATING_IP: &str = "203.0.113.50";

fn floating_rule() -> DnatRule {
    DnatRule {
        public: FLOATING_IP.parse().unwrap(),
        private: SERVER_IP.parse().unwrap(),
    }
}

fn in_dhcp_range(address: Ipv4Addr) -> bool {
    (Ipv4Addr::new(192, 168, 212, 20)..=Ipv4Addr::new(192, 168, 212, 120)).contains(&address)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dhcp_snat_and_a_floating_ip_carry_packets_until_it_is_removed() {
    let Some(lab) = GatewayLab::start().await else {
        return;
    };
    let gateway = lab.driver();
    let mut config = lab.config();
    config.dnat.push(floating_rule());
    let first = gateway
        .apply(&config)
        .await
        .expect("the gateway takes the configuration");
    assert!(first.changed, "{first:?}");

    // A LAN host gets a lease inside the range, from the gateway.
    let lease = lab
        .dhcp_lease(&lab.lan)
        .expect("a DHCP lease on the project NIC");
    assert!(in_dhcp_range(lease), "{lease}");
    // The server's segment (another NIC, bridged) gets DHCP too.
    let server_lease = lab
        .dhcp_lease(&lab.server)
        .expect("a DHCP lease on the server segment");
    assert!(in_dhcp_range(server_lease), "{server_lease}");

    // SNAT: the far host sees the gateway's public address.
    let seen = lab.who_am_i(&lab.lan, FAR_SERVICE.0, FAR_SERVICE.1);
    assert_eq!(
        seen.as_deref(),
        Some(PUBLIC_IP),
        "the LAN host reaches the far host from the WAN address"
    );
    // DNAT: the far side reaches the server behind the floating IP ...
    let seen = lab.who_am_i(&lab.vpn, FLOATING_IP, SERVER_PORT);
    assert_eq!(
        seen.as_deref(),
        Some("198.51.100.2"),
        "the floating IP leads to the server"
    );
    // ... and the server's own traffic leaves as the floating IP.
    let seen = lab.who_am_i(&lab.server, FAR_SERVICE.0, FAR_SERVICE.1);
    assert_eq!(
        seen.as_deref(),
        Some(FLOATING_IP),
        "the server's traffic leaves as its floating IP"
    );

    // The WAN reaches the project only through floating IPs: a router that
    // routes the project subnet to the gateway gets nowhere.
    lab.lab.sh(
        &lab.internet,
        &format!("ip route add 192.168.212.0/24 via {PUBLIC_IP}"),
    );
    assert_eq!(
        lab.who_am_i(&lab.internet, SERVER_IP, SERVER_PORT),
        None,
        "no way in but floating IPs"
    );
    assert_eq!(
        lab.who_am_i(&lab.internet, FLOATING_IP, SERVER_PORT)
            .as_deref(),
        Some("203.0.113.1")
    );

    // The same document again changes nothing, and the live state is the same.
    let before = gateway.read().await.unwrap();
    let again = gateway.apply(&config).await.unwrap();
    assert!(!again.changed, "a second apply changed {:?}", again.changes);
    let after = gateway.read().await.unwrap();
    assert_eq!(before, after);
    assert!(after.matches_stored && after.drift.is_empty(), "{after:?}");
    assert_eq!(after.config, Some(config.clone().canonical()));

    // Removing the floating IP stops its packets, both ways, and forgets
    // its tracked connections.
    let tracked = |lab: &GatewayLab| {
        lab.lab.sh(
            &lab.gateway,
            &format!("conntrack -L --orig-dst {FLOATING_IP} 2>/dev/null"),
        )
    };
    assert!(
        tracked(&lab).contains(SERVER_IP),
        "the floating IP's connections are tracked"
    );
    config.dnat.clear();
    let removed = gateway.apply(&config).await.unwrap();
    assert!(
        removed
            .changes
            .iter()
            .any(|c| c.contains("removed DNAT 203.0.113.50")),
        "{removed:?}"
    );
    assert_eq!(
        lab.who_am_i(&lab.vpn, FLOATING_IP, SERVER_PORT),
        None,
        "the floating IP no longer leads anywhere"
    );
    assert!(!tracked(&lab).contains(SERVER_IP), "{}", tracked(&lab));
    let seen = lab.who_am_i(&lab.server, FAR_SERVICE.0, FAR_SERVICE.1);
    assert_eq!(
        seen.as_deref(),
        Some(PUBLIC_IP),
        "the server now leaves by the gateway's own address"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wireguard_client_reaches_the_project_until_its_peer_is_removed() {
    let Some(lab) = GatewayLab::start().await else {
        return;
    };
    let gateway = lab.driver();
    let mut config = lab.config();
    config.wireguard = Some(WireGuardConfig::default());
    let report = gateway.apply(&config).await.unwrap();
    let server_key = report
        .wireguard_public_key
        .expect("the gateway made its key pair");
    assert!(!lab
        .lab
        .sh(&lab.gateway, "cat /etc/giif/wg0.key")
        .contains(&server_key));

    let client_key = lab.start_vpn_client(&server_key, "192.168.213.2");
    config.wireguard = Some(WireGuardConfig {
        peers: vec![WireGuardPeer {
            name: "student01".into(),
            public_key: client_key,
            address: "192.168.213.2".parse().unwrap(),
        }],
        ..WireGuardConfig::default()
    });
    let added = gateway.apply(&config).await.unwrap();
    assert_eq!(
        added.wireguard_public_key.as_deref(),
        Some(server_key.as_str()),
        "the key pair is kept"
    );
    assert!(
        lab.wait_for_vpn_handshake(Duration::from_secs(15)).await,
        "the client completes a handshake"
    );
    let seen = lab.who_am_i(&lab.vpn, SERVER_IP, SERVER_PORT);
    assert_eq!(
        seen.as_deref(),
        Some("192.168.213.2"),
        "the VPN client reaches the project segment"
    );
    let live = gateway.read().await.unwrap().config.unwrap();
    assert_eq!(live.wireguard, config.clone().canonical().wireguard);

    // The peer removed, its packets stop.
    config.wireguard = Some(WireGuardConfig::default());
    let removed = gateway.apply(&config).await.unwrap();
    assert!(
        removed.changes.iter().any(|c| c.contains("removed peer")),
        "{removed:?}"
    );
    assert_eq!(
        lab.who_am_i(&lab.vpn, SERVER_IP, SERVER_PORT),
        None,
        "a removed peer reaches nothing"
    );

    // PPTP on: pptpd listens on 1723 with giif's configuration; off: it stops.
    let listening = |lab: &GatewayLab| {
        lab.lab
            .sh(&lab.gateway, "ss -Hltn 'sport = :1723'")
            .contains("1723")
    };
    config.pptp = true;
    let on = gateway.apply(&config).await.unwrap();
    assert!(on.changes.iter().any(|c| c.starts_with("pptpd:")), "{on:?}");
    assert!(listening(&lab), "pptpd listens");
    assert!(gateway.read().await.unwrap().config.unwrap().pptp);
    config.pptp = false;
    gateway.apply(&config).await.unwrap();
    assert!(!listening(&lab), "pptpd stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_edits_are_drift_the_next_apply_repairs_them_and_refusals_change_nothing() {
    let Some(lab) = GatewayLab::start().await else {
        return;
    };
    let gateway = lab.driver();
    let mut config = lab.config();
    config.dnat.push(floating_rule());
    config.toolbox_keys = vec![lab.toolbox_public_key()];
    gateway.apply(&config).await.unwrap();

    // Someone with a root shell adds a rule and stops dnsmasq.
    lab.lab.sh(&lab.gateway, "nft add rule inet giif prerouting tcp dport 2222 dnat ip to 192.168.212.140 && kill $(cat /run/giif/dnsmasq.pid)");
    let drifted = gateway.read().await.unwrap();
    assert!(!drifted.matches_stored);
    let lines = drifted.drift.join("\n");
    assert!(
        lines.contains("(not written by giif)") && lines.contains("dnsmasq"),
        "{lines}"
    );
    let live = drifted.config.unwrap();
    assert_eq!(live.dhcp, None, "a stopped dnsmasq reads as no DHCP");
    assert!(giif_agent::drivers::gateway::drift(&config, Some(&live))
        .iter()
        .any(|d| d.field == "dhcp.range"));
    assert_eq!(
        lab.dhcp_lease(&lab.lan),
        None,
        "no DHCP while dnsmasq is down"
    );

    // The next apply of the same document repairs both.
    let repaired = gateway.apply(&config).await.unwrap();
    assert!(repaired.changed, "{repaired:?}");
    let after = gateway.read().await.unwrap();
    assert!(after.matches_stored && after.drift.is_empty(), "{after:?}");
    assert!(!lab
        .lab
        .sh(&lab.gateway, "nft list table inet giif")
        .contains("2222"));
    assert!(lab.dhcp_lease(&lab.lan).is_some(), "DHCP is back");

    // A document the gateway refuses changes nothing.
    let rules_before = lab.lab.sh(
        &lab.gateway,
        "nft list table inet giif; ip -br addr; cat /etc/giif/pagw.json",
    );
    let mut foreign = config.clone();
    foreign.public.address = "203.0.113.11".parse().unwrap();
    let err = gateway.apply(&foreign).await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent, "{err}");
    assert!(
        err.message
            .contains("is not this gateway's address 203.0.113.10/24"),
        "{err}"
    );
    let rules_after = lab.lab.sh(
        &lab.gateway,
        "nft list table inet giif; ip -br addr; cat /etc/giif/pagw.json",
    );
    assert_eq!(rules_before, rules_after);

    // A reboot: the kernel forgets everything; the boot unit's command
    // brings back the stored document.
    lab.lab.sh(
        &lab.gateway,
        "kill $(cat /run/giif/dnsmasq.pid); nft delete table inet giif; ip link del br0; ip addr flush dev ens19 scope global; ip addr add 203.0.113.10/24 dev ens19",
    );
    assert!(!gateway.read().await.unwrap().matches_stored);
    lab.lab
        .sh(&lab.gateway, "giif-pagw-apply /etc/giif/pagw.json");
    let rebooted = gateway.read().await.unwrap();
    assert!(
        rebooted.matches_stored && rebooted.drift.is_empty(),
        "{rebooted:?}"
    );
    assert_eq!(rebooted.config, Some(config.clone().canonical()));

    // The toolbox account runs the toolbox and nothing else.
    let key = lab.toolbox_key.display().to_string();
    let ssh = |command: &str| {
        std::process::Command::new("ssh")
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "LogLevel=error",
                "-o",
                "BatchMode=yes",
            ])
            .args([
                "-i",
                &key,
                "-p",
                &lab.ssh.port().to_string(),
                &format!("{}@127.0.0.1", giif_pagw::TOOLBOX_USER),
                command,
            ])
            .output()
            .unwrap()
    };
    let scan = tokio::task::block_in_place(|| ssh("scan"));
    let scan_text = String::from_utf8_lossy(&scan.stdout);
    assert!(
        scan.status.success() && scan_text.contains("DHCP leases"),
        "{scan:?}"
    );
    // The scan probes the segment: the server, which never spoke first, answers.
    assert!(scan_text.contains(SERVER_IP), "{scan_text}");
    let escape = tokio::task::block_in_place(|| ssh("cat /etc/giif/wg0.key; id"));
    assert_eq!(
        String::from_utf8_lossy(&escape.stdout),
        giif_pagw::toolbox::USAGE
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_with_an_older_package_is_named_as_such() {
    let Some(lab) = GatewayLab::start().await else {
        return;
    };
    // What the gateway tool of document format 1 answers (its parser
    // checks fields before the format).
    lab.lab.sh(
        &lab.gateway,
        r#"cat > /usr/sbin/giif-pagw-apply <<'OLD'
#!/bin/sh
cat >/dev/null
echo 'giif-pagw-apply: invalid configuration: unknown field `nics`, expected one of `format`, `project_vlan`, `wan`, `lan`, `dhcp`, `snat`, `bridge`, `dnat`, `wireguard`, `pptp` at line 4 column 8; nothing changed' >&2
exit 2
OLD
cat > /usr/sbin/giif-pagw-show <<'OLD'
#!/bin/sh
echo '{"format":1,"hostname":"pagw","config_file":null,"in_sync":false,"live":null,"wireguard_public_key":null,"interfaces":[]}'
OLD"#,
    );
    let gateway = lab.driver();
    for error in [
        gateway.apply(&lab.config()).await.unwrap_err(),
        gateway.read().await.unwrap_err(),
    ] {
        assert_eq!(error.class, ErrorClass::Permanent, "{error}");
        assert!(
            error
                .message
                .contains("does not speak this agent's document format 2")
                && error
                    .message
                    .contains("install the giif-pagw package of this release"),
            "{error}"
        );
    }
}
