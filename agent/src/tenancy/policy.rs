//! The one authorization policy: every RPC of `giif.agent.v1` and what its
//! caller needs. Handlers ask [`authorize`]; nothing else decides. The
//! permission matrix in `docs/design/tenancy.md` is generated from [`POLICY`]
//! (a test fails when it is stale).

use super::access::Standing;
use super::principal::Caller;
use crate::error::ApiError;

/// What a call needs from its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Any principal with a valid certificate; what it answers is filtered
    /// to what the caller may see, and creations are charged to the caller.
    SignedIn,
    /// A member of the object's project (any role): reading.
    ProjectMember,
    /// The project's owner or one of its `manager` members: changing the
    /// project's resources and members.
    ProjectManager,
    /// The project's owner: deleting the project.
    ProjectOwner,
    /// An operator: the site's inventory.
    Operator,
}

impl Need {
    /// Whether a caller of `standing` in the object's project meets the need
    /// (operators meet every need and never reach this).
    fn met_by(self, standing: Standing) -> bool {
        match self {
            Need::SignedIn => true,
            Need::ProjectMember => standing >= Standing::Member,
            Need::ProjectManager => standing >= Standing::Manager,
            Need::ProjectOwner => standing >= Standing::Owner,
            Need::Operator => false,
        }
    }

    /// Who may make such a call, for refusals and the matrix.
    pub fn granted_to(self) -> &'static str {
        match self {
            Need::SignedIn => "every principal",
            Need::ProjectMember => "the project's owner, its members and the operators",
            Need::ProjectManager => "the project's owner, its managers and the operators",
            Need::ProjectOwner => "the project's owner and the operators",
            Need::Operator => "the operators",
        }
    }
}

macro_rules! rpcs {
    ($($rpc:ident => $need:ident, $changes:literal, $what:literal;)*) => {
        /// Every RPC of the agent API.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Rpc { $($rpc),* }

        /// The policy: each RPC, what it needs, whether it changes anything
        /// (then it is audited), and what it does in words.
        pub const POLICY: &[(Rpc, Need, bool, &str)] = &[$((Rpc::$rpc, Need::$need, $changes, $what)),*];

        impl Rpc {
            pub fn name(self) -> &'static str {
                match self { $(Rpc::$rpc => stringify!($rpc)),* }
            }
        }
    };
}

rpcs! {
    GetAgentInfo => SignedIn, false, "see the agent's version and who you are";
    CreateProject => SignedIn, true, "create a project you own, within your quota";
    GetProject => ProjectMember, false, "read a project";
    GetProjects => SignedIn, false, "read projects by id (only those you may read)";
    ListProjects => SignedIn, false, "list projects (only those you may read)";
    UpdateProject => ProjectManager, true, "change a project's description, members and expiry";
    DeleteProject => ProjectOwner, true, "delete a project";
    ListVlanPools => Operator, false, "list the site's VLAN pools";
    CreateGateway => ProjectManager, true, "create a project's gateway";
    GetGateway => ProjectMember, false, "read a project's gateway";
    UpdateGateway => ProjectManager, true, "change a project's gateway";
    DeleteGateway => ProjectManager, true, "delete a project's gateway";
    CreateFloatingIp => ProjectManager, true, "take a floating IP for a project";
    GetFloatingIp => ProjectMember, false, "read a floating IP";
    UpdateFloatingIp => ProjectManager, true, "retarget a floating IP";
    DeleteFloatingIp => ProjectManager, true, "give a floating IP back";
    ListPagwSlots => SignedIn, false, "list gateway slots (holders only of projects you may read)";
    ListIsoImages => SignedIn, false, "list the ISO library";
    CreateVm => ProjectManager, true, "create a VM in a project";
    GetVm => ProjectMember, false, "read a VM";
    UpdateVm => ProjectManager, true, "change a VM";
    DeleteVm => ProjectManager, true, "delete a VM";
    CreateBmsAssignment => ProjectManager, true, "assign a bare-metal server to a project";
    GetBmsAssignment => ProjectMember, false, "read a server assignment";
    UpdateBmsAssignment => ProjectManager, true, "change or move a server assignment (rights on both projects)";
    DeleteBmsAssignment => ProjectManager, true, "release a server";
    ListBms => SignedIn, false, "list servers (free ones, and those of projects you may read)";
    CreateGuacamoleConnection => ProjectManager, true, "create a console connection to the project's own resources or subnet";
    GetGuacamoleConnection => ProjectMember, false, "read a console connection";
    UpdateGuacamoleConnection => ProjectManager, true, "change a console connection";
    DeleteGuacamoleConnection => ProjectManager, true, "delete a console connection";
    ListObjects => SignedIn, false, "list a kind of object for `terraform query` (only those of projects you may read)";
    RunAction => ProjectManager, true, "power a server or VM, boot a server from an image, re-apply a gateway";
}

impl Rpc {
    fn rule(self) -> (Need, bool, &'static str) {
        POLICY
            .iter()
            .find(|(rpc, ..)| *rpc == self)
            .map(|(_, need, changes, what)| (*need, *changes, *what))
            .unwrap_or((Need::Operator, true, "an unlisted call"))
    }

    pub fn need(self) -> Need {
        self.rule().0
    }

    /// Whether the call changes something: it is then audited.
    pub fn changes(self) -> bool {
        self.rule().1
    }
}

/// Decides one call. `standing` is the caller's standing in the object's
/// project (`None` when the call has no project). A caller who may not
/// even read the project is told it does not exist: projects of others are
/// not theirs to discover. A caller who may read it but not do this is
/// told who can grant it.
pub fn authorize(
    caller: &Caller,
    rpc: Rpc,
    project: Option<(&str, Standing)>,
) -> Result<(), ApiError> {
    if caller.is_operator() {
        return Ok(());
    }
    let need = rpc.need();
    let standing = project.map(|(_, s)| s).unwrap_or(Standing::None);
    if need.met_by(standing) {
        return Ok(());
    }
    match project {
        Some((id, Standing::None)) => Err(hidden(id)),
        Some((id, standing)) => Err(refused(
            caller,
            rpc,
            need,
            &format!("project {id}"),
            standing,
        )),
        None => Err(refused(caller, rpc, need, "the site", Standing::None)),
    }
}

/// What someone with no standing in a project hears about it.
pub fn hidden(reference: &str) -> ApiError {
    ApiError::not_found(format!(
        "no project or object {reference:?} is visible to you"
    ))
    .subject(reference)
    .hint("Check the id; a project you are not a member of does not exist for you.")
}

fn refused(caller: &Caller, rpc: Rpc, need: Need, place: &str, standing: Standing) -> ApiError {
    let as_what = match standing {
        Standing::None => String::new(),
        other => format!(" as its {}", other.as_str()),
    };
    ApiError::permission_denied(format!(
        "{caller} may not {} ({}) in {place}{as_what}",
        rpc.rule().2,
        rpc.name()
    ))
    .hint(format!(
        "Only {} may. Ask the project's owner or an operator to grant you that role.",
        need.granted_to()
    ))
}

/// `docs/design/permissions.md`: the matrix with what it means.
pub fn permissions_document() -> String {
    format!(
        "# Permissions\n\n\
         <!-- Generated from agent/src/tenancy/policy.rs by `make docs` (giif-agent permissions); do not edit. -->\n\n\
         Every call to the agent names a principal (its client certificate) and passes one table of rules. \
         *Owner* is the project's `owner`, or whoever created it when the spec names none; *manager* and \
         *member* are the project's `members` roles. \"not found\" means the project and everything in it \
         do not exist for that caller (see [tenancy](tenancy.md) for why); \"—\" is a refusal that names \
         who can grant the call. Members also use the project's consoles in Guacamole, where the agent grants \
         them READ on the project's connections.\n\n{}",
        matrix_markdown()
    )
}

/// The permission matrix as Markdown, generated from [`POLICY`].
pub fn matrix_markdown() -> String {
    let mark = |yes: bool| if yes { "yes" } else { "—" };
    let mut out = String::from(
        "| RPC | What it does | operator | owner | manager | member | anyone else |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for (rpc, need, _, what) in POLICY {
        let row = |standing: Standing| match need {
            Need::SignedIn => "yes",
            _ => mark(need.met_by(standing)),
        };
        out.push_str(&format!(
            "| `{}` | {what} | yes | {} | {} | {} | {} |\n",
            rpc.name(),
            row(Standing::Owner),
            row(Standing::Manager),
            row(Standing::Member),
            match need {
                Need::SignedIn => "yes",
                Need::Operator => "—",
                _ => "not found",
            },
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenancy::{Principal, Role};

    fn caller(role: Role) -> Caller {
        Caller {
            principal: Principal {
                name: "bob".into(),
                role,
            },
            serial: "01".into(),
            request_fingerprint: None,
        }
    }

    #[test]
    fn the_permission_matrix_in_the_docs_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/design/permissions.md");
        let written = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            written == permissions_document(),
            "docs/design/permissions.md is stale: run `make docs`"
        );
    }

    #[test]
    fn outsiders_are_told_nothing_exists_and_members_who_can_grant() {
        let user = caller(Role::User);
        let outsider = authorize(&user, Rpc::GetVm, Some(("prj-1", Standing::None))).unwrap_err();
        assert_eq!(
            outsider.reason,
            giif_proto::agent::error_detail::Reason::NotFound
        );
        assert!(!outsider.message.contains("permission"));
        let member =
            authorize(&user, Rpc::DeleteVm, Some(("prj-1", Standing::Member))).unwrap_err();
        assert_eq!(
            member.reason,
            giif_proto::agent::error_detail::Reason::PermissionDenied
        );
        assert!(
            member.message.starts_with(
                "bob (user) may not delete a VM (DeleteVm) in project prj-1 as its member"
            ),
            "{}",
            member.message
        );
        assert!(member
            .hint
            .contains("owner, its managers and the operators"));
        assert!(authorize(&user, Rpc::GetVm, Some(("prj-1", Standing::Member))).is_ok());
        assert!(authorize(&user, Rpc::DeleteVm, Some(("prj-1", Standing::Manager))).is_ok());
        assert!(authorize(
            &user,
            Rpc::DeleteProject,
            Some(("prj-1", Standing::Manager))
        )
        .is_err());
        assert!(authorize(&user, Rpc::ListVlanPools, None).is_err());
        assert!(authorize(
            &caller(Role::Operator),
            Rpc::DeleteProject,
            Some(("prj-1", Standing::None))
        )
        .is_ok());
    }

    #[test]
    fn every_rpc_of_the_api_has_exactly_one_rule() {
        let proto = include_str!("../../../proto/proto/giif/agent/v1/agent.proto");
        let rpcs: Vec<&str> = proto
            .lines()
            .filter_map(|line| line.trim().strip_prefix("rpc "))
            .filter_map(|rest| rest.split('(').next())
            .collect();
        let ruled: Vec<&str> = POLICY.iter().map(|(rpc, ..)| rpc.name()).collect();
        assert_eq!(
            rpcs, ruled,
            "the policy must list every RPC of agent.proto, in order"
        );
    }
}
