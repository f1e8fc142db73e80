//! Worker invocation cases: an unknown target, and each platform's request size limit.

use std::time::Duration;

use alien_providers::{WorkerInvokeRequest, WorkerProvider};

use super::{Outcome, kind_or, obs, setup};
use crate::Platform;
use crate::conformance::Target;
use crate::conformance::case::PLATFORMS;
use crate::conformance::case::{Case, Fact, same};

pub const MISSING_FUNCTION: Case = Case {
    name: "invoke-missing-function",
    source: "Lambda Invoke of an unknown function: ResourceNotFoundException; upstream-runtime-and-bindings.md §3.5 (an unknown target is NotFound on every platform)",
    platforms: &PLATFORMS,
    elsewhere: "",
    facts: &[same("invoke", "NotFound")],
};

/// A 7 MiB request body: over Lambda's 6 MB synchronous payload, under Cloud Run's 32 MiB.
const BODY: usize = 7 * 1024 * 1024;

pub const REQUEST_SIZE: Case = Case {
    name: "invoke-request-size",
    source: "seed 001 Limits: a 7 MiB request to a worker; Container Apps, the local proxy and Kubernetes set no request limit (seed 001 Limits; upstream-cloud-semantics.md §3.2)",
    platforms: &PLATFORMS,
    elsewhere: "",
    facts: &[Fact {
        what: "7 MiB request",
        value: "200",
        on: &[
            (
                Platform::Aws,
                "413",
                "seed 001 Limits (Lambda: 6 MB synchronous request payload)",
            ),
            (
                Platform::Gcp,
                "200",
                "seed 001 Limits (Cloud Run: 32 MB request)",
            ),
        ],
    }],
};

pub async fn missing_function<T: Target>(target: &T, run_id: &str) -> Outcome {
    let workers = setup(target.workers().await)?;
    let answer = workers
        .invoke(WorkerInvokeRequest {
            target_worker: format!("conf-{run_id}-missing"),
            method: "GET".into(),
            path: "/".into(),
            ..WorkerInvokeRequest::default()
        })
        .await;
    Ok(vec![obs("invoke", kind_or(answer, "answered"))])
}

pub async fn request_size<T: Target>(target: &T) -> Outcome {
    let (workers, name) = setup(target.deployed_worker().await)?;
    let answer = workers
        .invoke(WorkerInvokeRequest {
            target_worker: name,
            method: "POST".into(),
            path: "/upload".into(),
            body: vec![0; BODY],
            timeout: Some(Duration::from_secs(30)),
            ..WorkerInvokeRequest::default()
        })
        .await?;
    Ok(vec![obs("7 MiB request", answer.status.to_string())])
}
