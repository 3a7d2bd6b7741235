//! One fake iDRAC's state: the server's power, the virtual media, the VNC
//! server settings, the job queue, the reset window, and the command log
//! tests read to check pacing and serialization.

use std::time::{Duration, Instant};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::jobs::Job;

/// How long the iDRAC stays unreachable after `racadm racreset`, by default.
pub const DEFAULT_RESET_DURATION: Duration = Duration::from_secs(2);

/// The command log keeps this many records (a long-running sim must not grow forever).
pub const LOG_LIMIT: usize = 10_000;

/// How long `remoteimage -d` takes to take effect: the iDRAC detaches
/// asynchronously ("Disable Remote File Started").
pub const DETACH_DELAY: Duration = Duration::from_millis(300);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Power {
    On,
    Off,
}

#[derive(Clone, Debug, Serialize)]
pub struct Media {
    /// The image as given to `-l` (`//host/share/file.iso`, `host:/path`, or a URL).
    pub image: String,
    /// The share user given with `-u`, if any (never the password).
    pub share_user: Option<String>,
    /// Who attached it: `racadm (<ssh user>)` or `admin`.
    pub attached_by: String,
    #[serde(skip)]
    pub detach_at: Option<Instant>,
}

#[derive(Clone, Debug)]
pub struct Vnc {
    pub enabled: bool,
    pub port: u16,
    pub timeout_secs: u32,
    pub password: String,
    pub ssl_bits: u8,
}

impl Default for Vnc {
    fn default() -> Self {
        Self {
            enabled: false,
            port: 5901,
            timeout_secs: 300,
            password: String::new(),
            ssl_bits: 0,
        }
    }
}

/// One command as the iDRAC saw it. Times are microseconds since the fleet
/// started, on the simulator's clock.
#[derive(Clone, Debug, Serialize)]
pub struct CommandRecord {
    pub seq: u64,
    /// The SSH connection it came on (numbered per iDRAC from 1).
    pub session: u64,
    /// The command line with passwords masked.
    pub line: String,
    pub start_us: u64,
    pub end_us: Option<u64>,
    pub exit_status: Option<u32>,
    /// `ok`, `error`, `busy` (injected failure) or `dropped` (injected drop).
    pub outcome: String,
}

pub struct DeviceState {
    pub power: Power,
    /// How many times the server was powered on or reset (cycles show here).
    pub boots: u32,
    pub media: Option<Media>,
    pub vnc: Vnc,
    pub jobs: Vec<Job>,
    pub reset_until: Option<Instant>,
    pub reset_duration: Duration,
    pub resets: u32,
    pub log: Vec<CommandRecord>,
    pub last_seq: u64,
    pub in_flight: usize,
    pub max_in_flight: usize,
    pub sessions_open: usize,
    pub host_key_fingerprint: String,
    /// When racadm last changed the power, for firmware that reports the
    /// transition for a moment.
    pub power_changed_at: Option<Instant>,
    /// `getsysinfo` calls so far (iDRAC8 answers every second one with nothing).
    pub sysinfo_calls: u32,
    /// `iDRAC.ServerBoot.FirstBootDevice` and `.BootOnce`.
    pub first_boot_device: String,
    pub boot_once: bool,
    /// The device the last boot started from (`Normal`: the boot order).
    pub last_boot_device: String,
}

impl DeviceState {
    pub fn new(host_key_fingerprint: String) -> Self {
        Self {
            power: Power::Off,
            boots: 0,
            media: None,
            vnc: Vnc::default(),
            jobs: Vec::new(),
            reset_until: None,
            reset_duration: DEFAULT_RESET_DURATION,
            resets: 0,
            log: Vec::new(),
            last_seq: 0,
            in_flight: 0,
            max_in_flight: 0,
            sessions_open: 0,
            host_key_fingerprint,
            power_changed_at: None,
            sysinfo_calls: 0,
            first_boot_device: "Normal".into(),
            boot_once: false,
            last_boot_device: String::new(),
        }
    }

    pub fn resetting(&self, now: Instant) -> bool {
        self.reset_until.is_some_and(|until| now < until)
    }

    /// The attached media, after applying a detach whose time has come.
    pub fn media(&mut self, now: Instant) -> Option<&Media> {
        if self
            .media
            .as_ref()
            .and_then(|m| m.detach_at)
            .is_some_and(|at| now >= at)
        {
            self.media = None;
        }
        self.media.as_ref()
    }

    pub fn power_on(&mut self) {
        self.power = Power::On;
        self.boots += 1;
        // A one-time first boot device lasts one boot.
        self.last_boot_device = self.first_boot_device.clone();
        if self.boot_once {
            self.boot_once = false;
            self.first_boot_device = "Normal".into();
        }
    }

    pub fn snapshot(&mut self, now: Instant, epoch: Instant) -> serde_json::Value {
        let media = self.media(now).cloned();
        let detaching = media.as_ref().is_some_and(|m| m.detach_at.is_some());
        let password_sha256 = (!self.vnc.password.is_empty())
            .then(|| hex::encode(Sha256::digest(&self.vnc.password)));
        serde_json::json!({
            "power": self.power,
            "boots": self.boots,
            "media": media.map(|m| serde_json::json!({
                "image": m.image,
                "share_user": m.share_user,
                "attached_by": m.attached_by,
                "detaching": detaching,
            })),
            "vnc": {
                "enabled": self.vnc.enabled,
                "port": self.vnc.port,
                "timeout": self.vnc.timeout_secs,
                "password_set": !self.vnc.password.is_empty(),
                "password_sha256": password_sha256,
            },
            "jobs": self.jobs.iter().map(|j| j.to_json(now)).collect::<Vec<_>>(),
            "resetting": self.resetting(now),
            "resets": self.resets,
            "boot": {
                "first_device": self.first_boot_device,
                "once": self.boot_once,
                "last_device": self.last_boot_device,
            },
            "reset_duration_ms": self.reset_duration.as_millis() as u64,
            "sessions_open": self.sessions_open,
            "commands_in_flight": self.in_flight,
            "max_concurrent_commands": self.max_in_flight,
            "host_key_fingerprint": self.host_key_fingerprint,
            "uptime_us": now.duration_since(epoch).as_micros() as u64,
            "command_log": self.log,
        })
    }
}
