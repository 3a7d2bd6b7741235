//! Private state carried from plan to apply: the change's request id, so
//! the agent can recognise a retried call.

use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct PlannedPrivate {
    request_id: String,
}

pub fn new_planned_private() -> Vec<u8> {
    let private = PlannedPrivate {
        request_id: uuid::Uuid::new_v4().to_string(),
    };
    serde_json::to_vec(&private).unwrap_or_default()
}

/// The plan's request id, or a fresh one when the plan carried none.
pub fn request_id(planned_private: &[u8]) -> String {
    serde_json::from_slice::<PlannedPrivate>(planned_private)
        .map(|p| p.request_id)
        .unwrap_or_else(|_| uuid::Uuid::new_v4().to_string())
}
