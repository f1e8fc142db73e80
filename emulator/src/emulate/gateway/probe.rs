//! The readiness probe: upstream's `readiness_probe.rs` polling (10 attempts, 30 s per
//! request, success = any 2xx; upstream-cloud-semantics.md §3.2 "Probe mechanics").

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::Method;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use tokio::time::Instant;

use super::error_chain;

/// How the readiness probe polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbePolicy {
    /// `READINESS_PROBE_MAX_ATTEMPTS = 10` (upstream `worker/readiness_probe.rs` L11).
    pub max_attempts: u32,
    /// `READINESS_PROBE_REQUEST_TIMEOUT_SECONDS = 30` (L12).
    pub request_timeout: Duration,
    /// First wait between attempts; doubles after each failure.
    pub initial_backoff: Duration,
    /// Cap of the wait between attempts: the controllers' 5 s retry delay
    /// (`worker/aws.rs` L1715), well under upstream's 60 s back-off cap (L13).
    pub max_backoff: Duration,
    /// Bound on the whole probe, waits and requests included, so `alien emulate` never hangs
    /// on a worker that does not come up (an emulator choice; upstream bounds it only by the
    /// attempt count).
    pub total: Duration,
}

impl Default for ProbePolicy {
    fn default() -> Self {
        ProbePolicy {
            max_attempts: 10,
            request_timeout: Duration::from_secs(30),
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(5),
            total: Duration::from_secs(60),
        }
    }
}

/// The probe's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbeReport {
    /// A 2xx arrived.
    pub ready: bool,
    pub attempts: u32,
    pub last_status: Option<u16>,
    /// The last transport error or timeout, if the last attempt got no status.
    pub last_error: Option<String>,
    pub elapsed: Duration,
}

/// Polls `method path` on `addr` until a 2xx (success = any 2xx, upstream `readiness_probe.rs`
/// L70), at most `policy.max_attempts` times and within `policy.total`.
pub async fn probe(
    addr: SocketAddr,
    method: Method,
    path: &str,
    policy: &ProbePolicy,
) -> ProbeReport {
    let started = Instant::now();
    let deadline = started + policy.total;
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    let mut report = ProbeReport {
        ready: false,
        attempts: 0,
        last_status: None,
        last_error: None,
        elapsed: Duration::ZERO,
    };
    let mut backoff = policy.initial_backoff;
    while report.attempts < policy.max_attempts && Instant::now() < deadline {
        report.attempts += 1;
        let request = axum::http::Request::builder()
            .method(method.clone())
            .uri(format!("http://{addr}{path}"))
            .body(Full::new(Bytes::new()));
        let attempt_deadline = deadline.min(Instant::now() + policy.request_timeout);
        let outcome = match request {
            Ok(request) => tokio::time::timeout_at(attempt_deadline, client.request(request))
                .await
                .map_err(|_| "no answer within the probe request timeout".to_string())
                .and_then(|r| r.map_err(|err| error_chain(&err))),
            Err(err) => Err(format!("invalid probe path '{path}': {err}")),
        };
        match outcome {
            Ok(response) => {
                let status = response.status();
                report.last_status = Some(status.as_u16());
                report.last_error = None;
                if status.is_success() {
                    report.ready = true;
                    break;
                }
            }
            Err(err) => {
                report.last_status = None;
                report.last_error = Some(err);
            }
        }
        if report.attempts < policy.max_attempts {
            let wake = deadline.min(Instant::now() + backoff);
            tokio::time::sleep_until(wake).await;
            backoff = (backoff * 2).min(policy.max_backoff);
        }
    }
    report.elapsed = started.elapsed();
    report
}
