//! `racadm remoteimage`: attach (`-c`), detach (`-d`) and show (`-s`) the
//! remote image the server sees as a virtual CD.

use std::time::Instant;

use super::{check_share_credentials, invalid_syntax, share_kind, Opts, Reply};
use crate::idrac::bmc::Bmc;
use crate::idrac::device::{Media, DETACH_DELAY};

const USAGE: &str = "racadm remoteimage -c -u <user> -p <password> -l <image path>\n\
     \x20      racadm remoteimage -d\n\
     \x20      racadm remoteimage -s";

pub(super) fn remoteimage(bmc: &Bmc, ssh_user: &str, args: &[String], now: Instant) -> Reply {
    let opts = match Opts::parse(args, &["-c", "-d", "-s"], &["-u", "-p", "-l"]) {
        Ok(opts) => opts,
        Err(reply) => return reply,
    };
    let modes = ["-c", "-d", "-s"].iter().filter(|m| opts.flag(m)).count();
    if modes != 1 || !opts.positional.is_empty() {
        return invalid_syntax(USAGE);
    }
    if opts.flag("-c") {
        connect(bmc, ssh_user, &opts, now)
    } else if opts.flag("-d") {
        disconnect(bmc, now)
    } else {
        status(bmc, now)
    }
}

fn connect(bmc: &Bmc, ssh_user: &str, opts: &Opts, now: Instant) -> Reply {
    let Some(image) = opts.value("-l") else {
        return Reply::error("ERROR: The -c option requires -l to also be specified.");
    };
    let Some(kind) = share_kind(image) else {
        return Reply::error(format!(
            "ERROR: Invalid share path specified: {image}\n\
             Use //<host>/<share>/<file> (CIFS), <host>:/<path>/<file> (NFS) or an http(s) URL."
        ));
    };
    if let Err(reply) = check_share_credentials(kind, opts, "-c") {
        return reply;
    }
    let lower = image.to_ascii_lowercase();
    if !(lower.ends_with(".iso") || lower.ends_with(".img")) {
        return Reply::error(
            "ERROR: Invalid image file type. Only .iso and .img files are supported.",
        );
    }
    let mut state = bmc.state();
    if state.media(now).is_some() {
        return Reply::error(
            "ERROR: A remote image is already connected.\n\
             Disconnect it with \"racadm remoteimage -d\" and retry the operation.",
        );
    }
    state.media = Some(Media {
        image: image.to_string(),
        share_user: opts.value("-u").map(str::to_string),
        attached_by: format!("racadm ({ssh_user})"),
        detach_at: None,
    });
    Reply::ok(bmc.spec.firmware.media_configured())
}

fn disconnect(bmc: &Bmc, now: Instant) -> Reply {
    let mut state = bmc.state();
    // The iDRAC detaches in the background; `-s` shows it a moment later.
    if state.media(now).is_some() {
        if let Some(media) = state.media.as_mut() {
            media.detach_at.get_or_insert(now + DETACH_DELAY);
        }
    }
    Reply::ok(bmc.spec.firmware.media_detach_started())
}

fn status(bmc: &Bmc, now: Instant) -> Reply {
    let mut state = bmc.state();
    match state.media(now) {
        // Real iDRACs leave the user and password lines blank.
        Some(media) => Reply::ok(format!(
            "Remote File Share is Enabled\nUserName \nPassword \nShareName {}",
            media.image
        )),
        None => Reply::ok("Remote File Share is Disabled\nUserName \nPassword \nShareName "),
    }
}
