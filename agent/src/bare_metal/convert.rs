//! Between the API's BmsAssignmentSpec and the stored document.

use giif_proto::agent as api;

use crate::error::ApiError;
use crate::store::{BmsDoc, ReleaseDoc};

use giif_proto::rules::{boot_iso_problem, redact_location};

/// Checks a spec and turns it into the stored document.
pub fn doc_from_spec(spec: &api::BmsAssignmentSpec) -> Result<BmsDoc, ApiError> {
    let power_state = match spec.power_state.as_str() {
        "" => None,
        "on" | "off" => Some(spec.power_state.clone()),
        other => {
            return Err(ApiError::invalid(format!(
                "power_state {other:?} is not \"on\" or \"off\""
            ))
            .field("spec.power_state"))
        }
    };
    let boot_iso = Some(spec.boot_iso.trim().to_string()).filter(|i| !i.is_empty());
    if let Some(problem) = boot_iso.as_deref().and_then(boot_iso_problem) {
        return Err(ApiError::invalid(format!(
            "boot_iso {:?}: {problem}",
            redact_location(&spec.boot_iso)
        ))
        .field("spec.boot_iso"));
    }
    let release = match &spec.release {
        None => ReleaseDoc::default(),
        Some(r) => {
            let reset = if r.reset.is_empty() {
                "none"
            } else {
                r.reset.as_str()
            };
            if !matches!(reset, "none" | "bmc") {
                return Err(ApiError::invalid(format!(
                    "release reset {reset:?} is not \"none\" or \"bmc\""
                ))
                .field("spec.release.reset"));
            }
            ReleaseDoc {
                power_off: r.power_off,
                eject_media: r.eject_media,
                reset: reset.to_string(),
                erase: r.erase,
            }
        }
    };
    Ok(BmsDoc {
        power_state,
        boot_iso,
        release,
    })
}

pub fn spec_from_doc(project_id: &str, bms: &str, doc: &BmsDoc) -> api::BmsAssignmentSpec {
    api::BmsAssignmentSpec {
        project_id: project_id.to_string(),
        bms: bms.to_string(),
        power_state: doc.power_state.clone().unwrap_or_default(),
        boot_iso: doc.boot_iso.clone().unwrap_or_default(),
        release: Some(api::BmsRelease {
            power_off: doc.release.power_off,
            eject_media: doc.release.eject_media,
            reset: doc.release.reset.clone(),
            erase: doc.release.erase,
        }),
    }
}

pub fn nic_name(slot: Option<u32>) -> String {
    slot.map(|n| format!("net{n}")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_power_and_reset_name_their_field() {
        let spec = api::BmsAssignmentSpec {
            power_state: "maybe".into(),
            ..Default::default()
        };
        assert_eq!(doc_from_spec(&spec).unwrap_err().field, "spec.power_state");
        let spec = api::BmsAssignmentSpec {
            release: Some(api::BmsRelease {
                reset: "factory".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            doc_from_spec(&spec).unwrap_err().field,
            "spec.release.reset"
        );
    }

    #[test]
    fn a_location_with_a_password_is_refused_without_repeating_it() {
        let spec = api::BmsAssignmentSpec {
            boot_iso: "https://admin:hunter2@mirror.example/x.iso".into(),
            ..Default::default()
        };
        let err = doc_from_spec(&spec).unwrap_err();
        assert_eq!(err.field, "spec.boot_iso");
        assert!(
            err.message.contains("user name or password"),
            "{}",
            err.message
        );
        assert!(!err.message.contains("hunter2"), "{}", err.message);
        assert!(
            err.message.contains("https://***@mirror.example/x.iso"),
            "{}",
            err.message
        );
    }
}
