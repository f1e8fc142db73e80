use alien_providers::{
    ProviderError, Result, WorkerInvokeRequest, WorkerInvokeResponse, WorkerProvider,
};

/// The only worker is `echo`: it answers 200 with `"{method} {path}"` followed by the body,
/// and returns the request headers.
pub struct EchoWorker;

impl WorkerProvider for EchoWorker {
    async fn invoke(&self, request: WorkerInvokeRequest) -> Result<WorkerInvokeResponse> {
        if request.target_worker != "echo" {
            return Err(ProviderError::not_found(format!(
                "worker '{}' does not exist",
                request.target_worker
            )));
        }
        let mut body = format!("{} {}\n", request.method, request.path).into_bytes();
        body.extend_from_slice(&request.body);
        Ok(WorkerInvokeResponse {
            status: 200,
            headers: request.headers,
            body,
        })
    }
}
