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
