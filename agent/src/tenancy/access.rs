//! A caller's standing in a project, and the project-level rules that go
//! beyond the policy table: who may change the owner or a role, how far a
//! user may push a project's expiry, what a console connection may target.

use giif_proto::agent as api;

use super::principal::Caller;
use crate::error::ApiError;

/// A caller's place in one project, weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Standing {
    None,
    Member,
    Manager,
    Owner,
}

impl Standing {
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::None => "outsider",
            Standing::Member => "member",
            Standing::Manager => "manager",
            Standing::Owner => "owner",
        }
    }

    fn of_member_role(role: &str) -> Standing {
        match role {
            "manager" => Standing::Manager,
            _ => Standing::Member,
        }
    }
}

/// Who holds a project: its owner (the spec's `owner`, else whoever
/// created it) and its members.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProjectAccess {
    pub id: String,
    pub owner: Option<String>,
    pub members: Vec<(String, String)>,
}

impl ProjectAccess {
    pub fn standing(&self, name: &str) -> Standing {
        if self.owner.as_deref() == Some(name) {
            return Standing::Owner;
        }
        self.members
            .iter()
            .find(|(user, _)| user == name)
            .map(|(_, role)| Standing::of_member_role(role))
            .unwrap_or(Standing::None)
    }
}

/// The rules of a project create or update beyond "may change the
/// project": only the owner or an operator changes the owner, no one
/// raises their own role, and a user creating a project owns it.
pub fn check_project_change(
    caller: &Caller,
    before: Option<&ProjectAccess>,
    after: &api::ProjectSpec,
) -> Result<(), ApiError> {
    if caller.is_operator() {
        return Ok(());
    }
    let me = caller.name();
    let new_owner = after.owner.as_deref();
    match before {
        None => {
            if new_owner.is_some_and(|owner| owner != me) {
                return Err(ApiError::permission_denied(format!(
                    "{caller} may not create a project owned by {:?}",
                    new_owner.unwrap_or_default()
                ))
                .field("spec.owner")
                .hint("Leave owner out or set it to your own name; an operator can create projects for others."));
            }
        }
        Some(before) => {
            let old_owner = before.owner.as_deref();
            let owner_changes = new_owner.is_some_and(|new| Some(new) != old_owner);
            if owner_changes && before.standing(me) != Standing::Owner {
                return Err(ApiError::permission_denied(format!(
                    "{caller} may not change the owner of project {} (it is {:?})",
                    before.id,
                    old_owner.unwrap_or_default()
                ))
                .field("spec.owner")
                .hint("Only the project's owner or an operator changes the owner."));
            }
            let after_access = ProjectAccess {
                owner: new_owner.map(str::to_string).or(before.owner.clone()),
                members: after
                    .members
                    .iter()
                    .map(|m| (m.user.clone(), m.role.clone()))
                    .collect(),
                ..before.clone()
            };
            if after_access.standing(me) > before.standing(me) {
                return Err(ApiError::permission_denied(format!(
                    "{caller} may not raise their own role in project {} to {}",
                    before.id,
                    after_access.standing(me).as_str()
                ))
                .field("spec.members")
                .hint("Ask the project's owner or an operator to change your role."));
            }
        }
    }
    Ok(())
}

/// A user may set `expires_on` at most `max_days` from today and may not
/// leave it out; operators may do either. `before` is the current date of
/// an existing project (`None` on create); keeping it is always allowed.
pub fn check_expiry(
    caller: &Caller,
    before: Option<Option<&str>>,
    after: Option<&str>,
    max_days: Option<u32>,
    today: time::Date,
) -> Result<(), ApiError> {
    let Some(max_days) = max_days.filter(|_| !caller.is_operator()) else {
        return Ok(());
    };
    if before == Some(after) {
        return Ok(());
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let limit = today + time::Duration::days(i64::from(max_days));
    let limit_text = limit.format(&format).unwrap_or_default();
    let Some(after) = after else {
        return Err(ApiError::permission_denied(format!(
            "{caller} must give the project an expiry date (expires_on), at most {max_days} days from today ({limit_text})"
        ))
        .field("spec.expires_on")
        .hint("Set expires_on = \"YYYY-MM-DD\" and extend it later; only an operator keeps a project without one."));
    };
    let wanted = time::Date::parse(after, &format).map_err(|_| {
        ApiError::invalid(format!("expires_on {after:?} is not a date (YYYY-MM-DD)"))
            .field("spec.expires_on")
    })?;
    if wanted > limit {
        return Err(ApiError::permission_denied(format!(
            "{caller} may set expires_on at most {max_days} days from today ({limit_text}), not {after}"
        ))
        .field("spec.expires_on")
        .hint("Choose an earlier date and extend it later, or ask an operator to set a later one."));
    }
    Ok(())
}

/// Where a user's console connection may point: its own project's
/// resources, or an address in the project subnet. `resource_project` is
/// the project of `resource_id` when it names one.
pub fn check_connection_target(
    caller: &Caller,
    spec: &api::GuacamoleConnectionSpec,
    resource_project: Option<&str>,
) -> Result<(), ApiError> {
    if caller.is_operator() {
        return Ok(());
    }
    if spec.project_id.is_empty() {
        return Err(ApiError::permission_denied(format!(
            "{caller} may not place a connection in an arbitrary group ({:?})",
            spec.parent_group_id
        ))
        .field("spec.parent_group_id")
        .hint("Give project_id: the connection goes into your project's Resources group. Only operators choose another group."));
    }
    if !spec.resource_id.is_empty() && resource_project != Some(spec.project_id.as_str()) {
        return Err(ApiError::permission_denied(format!(
            "{caller} may not connect project {} to {:?}: it is not one of the project's VMs or servers",
            spec.project_id, spec.resource_id
        ))
        .field("spec.resource_id")
        .hint("Give the id of a VM or server assignment of the same project."));
    }
    if !spec.hostname.is_empty() {
        let in_subnet = spec
            .hostname
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|address| giif_pagw::LAN.contains(address));
        if !in_subnet {
            return Err(ApiError::permission_denied(format!(
                "{caller} may not connect to {:?}: users reach only addresses in the project subnet {}",
                spec.hostname,
                giif_pagw::LAN
            ))
            .field("spec.hostname")
            .hint("Give an address of the project subnet, or a resource_id; operators can target other hosts."));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenancy::{Principal, Role};

    fn caller(name: &str, role: Role) -> Caller {
        Caller {
            principal: Principal {
                name: name.into(),
                role,
            },
            serial: "01".into(),
            request_fingerprint: None,
        }
    }

    fn alpha() -> ProjectAccess {
        ProjectAccess {
            id: "prj-1".into(),
            owner: Some("alice".into()),
            members: vec![
                ("carol".into(), "member".into()),
                ("dave".into(), "manager".into()),
            ],
        }
    }

    fn spec(owner: Option<&str>, members: &[(&str, &str)]) -> api::ProjectSpec {
        api::ProjectSpec {
            name: "alpha".into(),
            owner: owner.map(str::to_string),
            members: members
                .iter()
                .map(|(user, role)| api::ProjectMember {
                    user: user.to_string(),
                    role: role.to_string(),
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_manager_adds_members_but_neither_hands_over_nor_promotes_himself() {
        let dave = caller("dave", Role::User);
        let more = spec(
            None,
            &[("carol", "member"), ("dave", "manager"), ("erin", "member")],
        );
        assert!(check_project_change(&dave, Some(&alpha()), &more).is_ok());
        let takeover = spec(Some("dave"), &[("dave", "manager")]);
        let error = check_project_change(&dave, Some(&alpha()), &takeover).unwrap_err();
        assert_eq!(error.field, "spec.owner");
        let carol = caller("carol", Role::User);
        let promoted = spec(None, &[("carol", "manager"), ("dave", "manager")]);
        let error = check_project_change(&carol, Some(&alpha()), &promoted).unwrap_err();
        assert!(
            error.message.contains("may not raise their own role"),
            "{}",
            error.message
        );
        let alice = caller("alice", Role::User);
        assert!(check_project_change(&alice, Some(&alpha()), &takeover).is_ok());
    }

    #[test]
    fn a_user_creates_projects_only_for_themselves() {
        let bob = caller("bob", Role::User);
        assert!(check_project_change(&bob, None, &spec(None, &[])).is_ok());
        assert!(check_project_change(&bob, None, &spec(Some("bob"), &[])).is_ok());
        assert!(check_project_change(&bob, None, &spec(Some("alice"), &[])).is_err());
        let operator = caller("operator", Role::Operator);
        assert!(check_project_change(&operator, None, &spec(Some("alice"), &[])).is_ok());
    }

    #[test]
    fn users_keep_projects_up_to_the_site_maximum_and_must_give_a_date() {
        let bob = caller("bob", Role::User);
        let today = time::macros::date!(2026 - 12 - 04);
        let limit = Some(30);
        assert!(check_expiry(&bob, None, Some("2027-01-03"), limit, today).is_ok());
        let late = check_expiry(&bob, None, Some("2027-01-04"), limit, today).unwrap_err();
        assert!(
            late.message
                .contains("at most 30 days from today (2027-01-03)"),
            "{}",
            late.message
        );
        assert!(check_expiry(&bob, None, None, limit, today).is_err());
        // An unchanged date was allowed when it was set; no limit, no rule.
        assert!(check_expiry(
            &bob,
            Some(Some("2030-01-01")),
            Some("2030-01-01"),
            limit,
            today
        )
        .is_ok());
        assert!(check_expiry(&bob, Some(None), None, limit, today).is_ok());
        assert!(check_expiry(&bob, None, None, None, today).is_ok());
        let operator = caller("operator", Role::Operator);
        assert!(check_expiry(&operator, None, Some("2030-01-01"), limit, today).is_ok());
    }

    #[test]
    fn a_users_connection_targets_only_its_project() {
        let bob = caller("bob", Role::User);
        let connection = |resource: &str, host: &str, group: &str| api::GuacamoleConnectionSpec {
            name: "c".into(),
            project_id: if group.is_empty() {
                "prj-2".into()
            } else {
                String::new()
            },
            parent_group_id: group.into(),
            resource_id: resource.into(),
            hostname: host.into(),
            ..Default::default()
        };
        assert!(check_connection_target(&bob, &connection("vm-1", "", ""), Some("prj-2")).is_ok());
        assert!(check_connection_target(&bob, &connection("vm-1", "", ""), Some("prj-1")).is_err());
        assert!(check_connection_target(&bob, &connection("vm-x", "", ""), None).is_err());
        assert!(check_connection_target(&bob, &connection("", "192.168.212.9", ""), None).is_ok());
        assert!(check_connection_target(&bob, &connection("", "192.168.213.9", ""), None).is_err());
        assert!(check_connection_target(&bob, &connection("", "jump.example", ""), None).is_err());
        assert!(
            check_connection_target(&bob, &connection("", "192.168.212.9", "7"), None).is_err()
        );
        let operator = caller("operator", Role::Operator);
        assert!(check_connection_target(&operator, &connection("", "10.0.0.1", "7"), None).is_ok());
    }
}
