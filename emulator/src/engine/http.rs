//! HTTP through a public endpoint: payload limits, the gateway timeout and throttling, as
//! the profile says (seed 001 Limits; upstream-cloud-semantics.md §3.2).

use std::collections::BTreeMap;

use super::events::{Event, HttpRequest};
use super::sim::{HttpResult, InvocationEnd, Origin, Sim, SimError, Work};
use super::trace::Kind;
use crate::profile::ConcurrencyModel;

impl Sim {
    /// Sends a request to `worker`'s public endpoint; returns the request id. The response
    /// (or rejection) is available from [`Sim::http_result`] once it happened.
    pub fn invoke_http(
        &mut self,
        worker: &str,
        method: &str,
        path: &str,
        body_bytes: u64,
    ) -> Result<String, SimError> {
        self.request(worker, method, path, body_bytes, true)
    }

    /// A worker-to-worker call (seed 000): private workers are reachable; the target's
    /// payload limits and concurrency still apply.
    pub fn invoke_worker(
        &mut self,
        worker: &str,
        method: &str,
        path: &str,
        body_bytes: u64,
    ) -> Result<String, SimError> {
        self.request(worker, method, path, body_bytes, false)
    }

    /// Runs the simulation until `request` has an answer (at most `limit` of virtual time).
    pub fn wait_http(
        &mut self,
        request: &str,
        limit: std::time::Duration,
    ) -> Result<HttpResult, SimError> {
        let until =
            self.now() + chrono::Duration::from_std(limit).unwrap_or(chrono::TimeDelta::MAX);
        while !self.http.contains_key(request) {
            let Some(next) = self.clock.next_deadline().filter(|d| *d <= until) else {
                break;
            };
            self.run_until(next)?;
        }
        self.http
            .get(request)
            .cloned()
            .ok_or_else(|| SimError::Invalid(format!("no answer to {request} within the limit")))
    }

    fn request(
        &mut self,
        worker: &str,
        method: &str,
        path: &str,
        body_bytes: u64,
        public: bool,
    ) -> Result<String, SimError> {
        let w = self.worker_idx(worker)?;
        let request_id = format!("r-{}", self.next_id());
        self.record(
            Kind::HttpRequest,
            worker,
            Some(&request_id),
            vec![
                ("method", method.to_string()),
                ("path", path.to_string()),
                ("bytes", body_bytes.to_string()),
            ],
        );
        if public && !self.workers[w].public {
            self.finish_http(
                &request_id,
                worker,
                404,
                "the worker has no public endpoint".into(),
            );
            return Ok(request_id);
        }
        if let Some(limit) = self
            .profile
            .worker
            .sync_request_max_bytes
            .value
            .filter(|l| body_bytes > *l)
        {
            self.finish_http(
                &request_id,
                worker,
                413,
                format!("request body {body_bytes} bytes exceeds the {limit} byte limit"),
            );
            return Ok(request_id);
        }
        let throttles = matches!(
            self.profile.worker.concurrency.value,
            ConcurrencyModel::ReservedConcurrency { .. }
        );
        if throttles && self.free_slots(w) == 0 {
            self.record(Kind::Throttled, worker, Some(&request_id), vec![]);
            self.finish_http(
                &request_id,
                worker,
                429,
                "TooManyRequestsException: reserved concurrency reached".into(),
            );
            return Ok(request_id);
        }
        let event = Event::Http(HttpRequest {
            request_id: request_id.clone(),
            method: method.to_string(),
            path: path.to_string(),
            headers: BTreeMap::new(),
            body_bytes,
        });
        self.enqueue_work(
            w,
            Work {
                event,
                origin: Origin::Http {
                    request: request_id.clone(),
                },
                scale_out: true,
            },
        );
        Ok(request_id)
    }

    /// Records that the process of a worker's instance started (`alien emulate`): its pid.
    pub fn note_process_started(&mut self, worker: &str, instance: u32, pid: u32) {
        self.record(
            Kind::ProcessStarted,
            worker,
            None,
            vec![("pid", pid.to_string()), ("instance", instance.to_string())],
        );
    }

    /// Records that the process of a worker's instance was killed past its memory, with the
    /// error the platform reports for it (e.g. Lambda's `Runtime.ExitError`).
    pub fn note_out_of_memory(
        &mut self,
        worker: &str,
        instance: u32,
        pid: u32,
        error_type: &str,
        message: &str,
    ) {
        self.record(
            Kind::OutOfMemory,
            worker,
            None,
            vec![
                ("pid", pid.to_string()),
                ("instance", instance.to_string()),
                ("error", format!("{error_type}: {message}")),
            ],
        );
    }

    /// Records that the process of a worker's instance ended, and whether the emulator ended
    /// it.
    pub fn note_process_exited(
        &mut self,
        worker: &str,
        instance: u32,
        pid: u32,
        status: &str,
        expected: bool,
    ) {
        self.record(
            Kind::ProcessExited,
            worker,
            None,
            vec![
                ("pid", pid.to_string()),
                ("instance", instance.to_string()),
                ("status", status.to_string()),
                (
                    "by",
                    if expected { "emulator" } else { "itself" }.to_string(),
                ),
            ],
        );
    }

    /// Records a request a real gateway answered (`alien emulate`), so the trace shows HTTP
    /// next to queue, storage and cron events.
    pub fn note_http(
        &mut self,
        worker: &str,
        method: &str,
        path: &str,
        status: u16,
        reason: &str,
        took: std::time::Duration,
    ) {
        let request_id = format!("r-{}", self.next_id());
        let detail = vec![
            ("method", method.to_string()),
            ("path", path.to_string()),
            ("status", status.to_string()),
            ("reason", reason.to_string()),
            ("took", super::duration_serde::format_duration(took)),
        ];
        self.record(Kind::HttpResponse, worker, Some(&request_id), detail);
    }

    pub fn http_result(&self, request_id: &str) -> Option<&HttpResult> {
        self.http.get(request_id)
    }

    /// The gateway stops waiting: 504 if the worker has not answered yet (the invocation
    /// itself runs on to its own limit).
    pub(crate) fn on_http_deadline(&mut self, w: usize, request: &str) {
        if self.http.contains_key(request) {
            return;
        }
        let worker = self.workers[w].id.clone();
        let gateway = super::duration_serde::format_duration(self.http_limit(w));
        self.finish_http(
            request,
            &worker,
            504,
            format!("gateway timeout after {gateway}"),
        );
    }

    pub(crate) fn settle_http(&mut self, w: usize, request: &str, end: &InvocationEnd) {
        if self.http.contains_key(request) {
            return;
        }
        let worker = self.workers[w].id.clone();
        let (status, reason) = match end {
            InvocationEnd::Succeeded { status, body_bytes } => {
                match self
                    .profile
                    .worker
                    .sync_response_max_bytes
                    .value
                    .filter(|l| body_bytes > l)
                {
                    Some(limit) => (
                        502,
                        format!("response body {body_bytes} bytes exceeds the {limit} byte limit"),
                    ),
                    None => (*status, "ok".to_string()),
                }
            }
            InvocationEnd::Failed(message) => (500, message.clone()),
            InvocationEnd::TimedOut(_) => (504, "the worker timed out".to_string()),
            InvocationEnd::Crashed => (502, "the worker process crashed".to_string()),
        };
        self.finish_http(request, &worker, status, reason);
    }

    fn finish_http(&mut self, request: &str, worker: &str, status: u16, reason: String) {
        let at = self.now();
        self.record(
            Kind::HttpResponse,
            worker,
            Some(request),
            vec![("status", status.to_string()), ("reason", reason.clone())],
        );
        self.http
            .insert(request.to_string(), HttpResult { status, at, reason });
    }
}
