//! [`WorkerProvider`] over Lambda `Invoke` (upstream-runtime-and-bindings.md §3.5).

use aws_sdk_lambda::config::timeout::TimeoutConfig;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;

use super::clients::AwsClients;
use super::error::map_sdk_error;
use super::lambda_payload::{decode_response, encode_request};
use crate::error::Result;
use crate::worker::{WorkerInvokeRequest, WorkerInvokeResponse, WorkerProvider};

/// Invokes Lambda functions synchronously (`RequestResponse`) with upstream's payload shape.
/// A request's `target_worker` names the function (name or ARN); empty means the bound one.
/// Its `timeout` bounds the whole call, retries included (the SDK's operation timeout).
#[derive(Debug, Clone)]
pub struct AwsWorker {
    lambda: aws_sdk_lambda::Client,
    function_name: String,
}

impl AwsClients {
    /// A worker handle bound to the Lambda function `function_name` (name or ARN).
    pub fn worker(&self, function_name: &str) -> AwsWorker {
        AwsWorker {
            lambda: self.lambda.clone(),
            function_name: function_name.to_owned(),
        }
    }
}

impl WorkerProvider for AwsWorker {
    async fn invoke(&self, request: WorkerInvokeRequest) -> Result<WorkerInvokeResponse> {
        let function = if request.target_worker.is_empty() {
            self.function_name.as_str()
        } else {
            request.target_worker.as_str()
        };
        let payload = encode_request(&request);
        let sent_bytes = payload.len() as u64;
        let mut call = self
            .lambda
            .invoke()
            .function_name(function)
            .invocation_type(InvocationType::RequestResponse)
            .payload(Blob::new(payload))
            .customize();
        if let Some(deadline) = request.timeout {
            let timeouts = TimeoutConfig::builder().operation_timeout(deadline).build();
            call = call.config_override(aws_sdk_lambda::Config::builder().timeout_config(timeouts));
        }
        let output = call
            .send()
            .await
            .map_err(|e| map_sdk_error("lambda:InvokeFunction", Some(sent_bytes), e))?;
        let payload = output.payload().map(Blob::as_ref).unwrap_or_default();
        decode_response(function, output.function_error(), payload)
    }
}
