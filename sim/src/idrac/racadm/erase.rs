//! `racadm systemerase <component>[,<component>...]`: the Lifecycle
//! Controller's System Erase, scheduled as a job (`System_Erase`) that
//! `jobqueue view` follows. The components are those of Dell's CLI guide.

use std::time::Instant;

use super::{invalid_syntax, Reply};
use crate::idrac::bmc::Bmc;
use crate::idrac::jobs::{Job, JobKind, DEFAULT_JOB_DURATION};

const USAGE: &str = "racadm systemerase <component>[,<component>...]";

const COMPONENTS: [&str; 11] = [
    "bios",
    "diag",
    "drvpack",
    "idrac",
    "lcdata",
    "allapps",
    "secureerasepd",
    "overwritepd",
    "percnvcache",
    "vflash",
    "nvdimm",
];

pub(super) fn systemerase(bmc: &Bmc, args: &[String], now: Instant) -> Reply {
    let [components] = args else {
        return invalid_syntax(USAGE);
    };
    let list: Vec<String> = components
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    if let Some(unknown) = list.iter().find(|c| !COMPONENTS.contains(&c.as_str())) {
        return Reply::error(format!(
            "ERROR: Invalid component {unknown}. Valid components: {}.",
            COMPONENTS.join(", ")
        ));
    }
    let duration = bmc
        .faults
        .task_duration(&bmc.fault_key(), DEFAULT_JOB_DURATION);
    let job = Job::new(JobKind::SystemErase, list.join(","), None, duration, now);
    let text = format!(
        "RAC1024: Successfully scheduled a job.\n\
         Verify the job status using \"racadm jobqueue view -i {id}\" command.\n\
         Commit JID = {id}",
        id = job.id
    );
    bmc.state().jobs.push(job);
    Reply::ok(text)
}
