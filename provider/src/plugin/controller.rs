//! go-plugin's controller (Shutdown) and stdio services.

use std::pin::Pin;
use std::sync::Arc;

use giif_proto::plugin::grpc_controller_server::GrpcController;
use giif_proto::plugin::grpc_stdio_server::GrpcStdio;
use giif_proto::plugin::{Empty, StdioData};
use tokio::sync::Notify;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

/// Ends the process's serving when Terraform says it is done with us.
pub struct Controller {
    pub shutdown: Arc<Notify>,
}

#[tonic::async_trait]
impl GrpcController for Controller {
    async fn shutdown(&self, _request: Request<Empty>) -> Result<Response<Empty>, Status> {
        tracing::debug!("Terraform asked the provider to shut down");
        self.shutdown.notify_one();
        Ok(Response::new(Empty {}))
    }
}

/// Logs go to stderr directly, so this stream never carries anything; it
/// stays open until the process ends, as go-plugin expects.
pub struct Stdio;

#[tonic::async_trait]
impl GrpcStdio for Stdio {
    type StreamStdioStream = Pin<Box<dyn Stream<Item = Result<StdioData, Status>> + Send>>;

    async fn stream_stdio(
        &self,
        _request: Request<()>,
    ) -> Result<Response<Self::StreamStdioStream>, Status> {
        Ok(Response::new(Box::pin(tokio_stream::pending())))
    }
}
