//! A worker's public-endpoint limits, from its platform profile: request and response sizes,
//! the effective timeout, and what happens past its concurrency.

use std::time::Duration;

use serde::Serialize;

use crate::profile::{ConcurrencyModel, HttpTimeout, Profile};
use crate::stack::Worker;

/// What happens to requests past a worker's concurrency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum ConcurrencyPolicy {
    /// No limit the gateway enforces.
    Unlimited,
    /// Requests past `limit` in flight are refused with 429 (Lambda reserved concurrency).
    Throttle { limit: u32 },
    /// Requests past `limit` in flight wait for a slot, within the timeout (Cloud Run max
    /// instances, Container Apps max replicas).
    Queue { limit: u32 },
}

/// The HTTP limits of one worker's public endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GatewayLimits {
    /// Largest request body accepted, in bytes (`None` = no limit).
    pub request_max_bytes: Option<u64>,
    /// Largest response body passed back, in bytes (`None` = no limit, streamed).
    pub response_max_bytes: Option<u64>,
    /// How long the gateway waits for the answer, slot wait included: the whole body when
    /// there is a response limit (it is buffered, as Lambda's buffered mode does), the
    /// response head otherwise (the body is then streamed, as upstream's runtime proxy does,
    /// upstream-runtime-and-bindings.md §2.4).
    pub timeout: Duration,
    pub concurrency: ConcurrencyPolicy,
}

impl GatewayLimits {
    /// The limits `profile` applies to `worker`'s public endpoint:
    ///
    /// - body limits: `worker.sync_request_max_bytes` / `sync_response_max_bytes`;
    /// - timeout: `worker.http_timeout` (a fixed gateway timeout or the worker's
    ///   `timeoutSeconds`), and never more than `timeoutSeconds` where the platform itself stops
    ///   the invocation there (`worker.timeout_enforced`: a 10 s Lambda behind API Gateway's
    ///   30 s answers 504 at 10 s, as the engine's `InvocationEnd::TimedOut` does);
    /// - concurrency, only when `concurrencyLimit` is set (upstream-cloud-semantics.md §3.1):
    ///   reserved concurrency throttles at the limit; Cloud Run queues past
    ///   `limit × per-instance concurrency`; Container Apps queues past `limit` replicas (the
    ///   profile has no per-replica request figure, so one request per replica is assumed);
    ///   fixed replicas and a single local process ignore the setting.
    pub fn from_profile(profile: &Profile, worker: &Worker) -> GatewayLimits {
        let w = &profile.worker;
        let worker_timeout = Duration::from_secs(u64::from(worker.timeout_seconds));
        let gateway_timeout = match w.http_timeout.value {
            HttpTimeout::Fixed(seconds) => Duration::from_secs(u64::from(seconds)),
            HttpTimeout::WorkerTimeout => worker_timeout,
        };
        let timeout = if w.timeout_enforced.value {
            gateway_timeout.min(worker_timeout)
        } else {
            gateway_timeout
        };
        let concurrency = match (w.concurrency.value, worker.concurrency_limit) {
            (ConcurrencyModel::ReservedConcurrency { .. }, Some(limit)) => {
                ConcurrencyPolicy::Throttle { limit }
            }
            (ConcurrencyModel::MaxInstances { per_instance, .. }, Some(limit)) => {
                ConcurrencyPolicy::Queue {
                    limit: limit.saturating_mul(per_instance.max(1)),
                }
            }
            (ConcurrencyModel::MaxReplicas { .. }, Some(limit)) => {
                ConcurrencyPolicy::Queue { limit }
            }
            _ => ConcurrencyPolicy::Unlimited,
        };
        GatewayLimits {
            request_max_bytes: w.sync_request_max_bytes.value,
            response_max_bytes: w.sync_response_max_bytes.value,
            timeout,
            concurrency,
        }
    }
}
