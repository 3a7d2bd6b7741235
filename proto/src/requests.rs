//! What both sides need to know of an agent request: whether it carries a
//! request id (then a retry cannot do the work twice, so the provider may
//! retry even a call whose outcome it never heard), and its fingerprint,
//! which the agent keeps with the id so the same id with other content is
//! refused.

use prost::Message;
use sha2::{Digest, Sha256};

use crate::agent::*;

pub trait AgentRequest {
    /// The client's request id of a mutating call; `None` for reads.
    fn request_id(&self) -> Option<&str>;
    /// SHA-256 (hex) of the request without its id and its wait, which a
    /// retry may change; `None` for reads.
    fn fingerprint(&self) -> Option<String>;
}

fn digest<M: Message>(message: &M) -> String {
    hex::encode(Sha256::digest(message.encode_to_vec()))
}

macro_rules! reads {
    ($($type:ty),* $(,)?) => {
        $(impl AgentRequest for $type {
            fn request_id(&self) -> Option<&str> {
                None
            }
            fn fingerprint(&self) -> Option<String> {
                None
            }
        })*
    };
}

macro_rules! changes {
    ($($type:ty $(: $wait:ident)?),* $(,)?) => {
        $(impl AgentRequest for $type {
            fn request_id(&self) -> Option<&str> {
                Some(&self.request_id)
            }
            fn fingerprint(&self) -> Option<String> {
                let mut content = self.clone();
                content.request_id.clear();
                $(content.$wait = 0;)?
                Some(digest(&content))
            }
        })*
    };
}

reads!(
    GetAgentInfoRequest,
    GetProjectRequest,
    GetProjectsRequest,
    ListProjectsRequest,
    ListVlanPoolsRequest,
    GetGatewayRequest,
    GetFloatingIpRequest,
    GetVmRequest,
    ListPagwSlotsRequest,
    ListIsoImagesRequest,
    GetBmsAssignmentRequest,
    ListBmsRequest,
    GetGuacamoleConnectionRequest,
    ListObjectsRequest,
);

changes!(
    CreateProjectRequest,
    UpdateProjectRequest,
    DeleteProjectRequest,
    CreateGatewayRequest: wait_seconds,
    UpdateGatewayRequest: wait_seconds,
    DeleteGatewayRequest,
    CreateFloatingIpRequest,
    UpdateFloatingIpRequest,
    DeleteFloatingIpRequest,
    CreateVmRequest: wait_seconds,
    UpdateVmRequest: wait_seconds,
    DeleteVmRequest,
    CreateBmsAssignmentRequest: wait_seconds,
    UpdateBmsAssignmentRequest: wait_seconds,
    DeleteBmsAssignmentRequest,
    CreateGuacamoleConnectionRequest,
    UpdateGuacamoleConnectionRequest,
    DeleteGuacamoleConnectionRequest,
    RunActionRequest,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_ignores_the_id_and_the_wait_but_not_the_content() {
        let request = |id: &str, wait, name: &str| CreateVmRequest {
            request_id: id.into(),
            wait_seconds: wait,
            spec: Some(VmSpec {
                name: name.into(),
                ..Default::default()
            }),
        };
        let first = request("a", 30, "web").fingerprint();
        assert_eq!(first, request("b", 60, "web").fingerprint());
        assert_ne!(first, request("a", 30, "db").fingerprint());
        assert_eq!(request("a", 30, "web").request_id(), Some("a"));
        assert_eq!(GetVmRequest::default().request_id(), None);
    }
}
