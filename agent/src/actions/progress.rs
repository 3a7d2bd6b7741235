//! How an action tells its caller what it is doing.

use giif_proto::agent as api;
use tokio::sync::mpsc;

use crate::error::ApiError;

type Event = Result<api::ActionProgress, tonic::Status>;

/// The sending end of an action's stream. Messages name devices and
/// steps, never secrets.
#[derive(Clone)]
pub struct Progress(mpsc::UnboundedSender<Event>);

impl Progress {
    /// A progress sender and the stream the caller reads.
    pub fn channel() -> (Self, tokio_stream::wrappers::UnboundedReceiverStream<Event>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (
            Self(sender),
            tokio_stream::wrappers::UnboundedReceiverStream::new(receiver),
        )
    }

    pub fn say(&self, message: impl Into<String>) {
        let message = message.into();
        tracing::info!(%message, "action");
        // A caller that went away misses the rest; the action goes on.
        let _ = self.0.send(Ok(api::ActionProgress { message }));
    }

    /// Ends the stream with the action's error.
    pub fn fail(&self, error: ApiError) {
        let _ = self.0.send(Err(error.into()));
    }
}
