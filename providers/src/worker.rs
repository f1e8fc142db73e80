//! Direct worker invocation, with upstream's request and response shapes
//! (upstream-runtime-and-bindings.md §3.3 `Worker`, §3.5).

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Result;

/// An HTTP-style request to a worker.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerInvokeRequest {
    /// Worker to call; an empty string means the provider's bound worker.
    pub target_worker: String,
    /// HTTP method, e.g. `GET`.
    pub method: String,
    /// Request path, e.g. `/jobs/7`.
    pub path: String,
    /// Request headers.
    pub headers: BTreeMap<String, String>,
    /// Request body.
    pub body: Vec<u8>,
    /// Deadline for the whole call; on expiry the call fails with `Timeout`.
    pub timeout: Option<Duration>,
}

/// The worker's answer. Any status, 4xx and 5xx included, is a successful invocation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerInvokeResponse {
    /// HTTP status code.
    pub status: u16,
    /// Response headers.
    pub headers: BTreeMap<String, String>,
    /// Response body.
    pub body: Vec<u8>,
}

/// Calls workers synchronously.
pub trait WorkerProvider: Send + Sync {
    /// Sends `request` and waits for the response. An unknown target is `NotFound`; a
    /// failure inside the platform (e.g. Lambda `FunctionError`) is `Internal`.
    fn invoke(
        &self,
        request: WorkerInvokeRequest,
    ) -> impl Future<Output = Result<WorkerInvokeResponse>> + Send;
}
