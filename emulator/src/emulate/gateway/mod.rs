//! The public endpoint of one worker under `alien emulate`: a reverse proxy on 127.0.0.1 in
//! front of the port the app registered, applying the platform's HTTP limits from the
//! profile.
//!
//! Decisions, in order, each reported as a [`GatewayEvent`]:
//!
//! 1. Request body over `sync_request_max_bytes` → **413**, the app is not called: checked on
//!    `Content-Length` first, then while reading (seed 001 Limits: Lambda 6 MB sync, Cloud Run
//!    32 MB).
//! 2. Reserved concurrency reached → **429** (Lambda reserved concurrency, upstream-cloud-
//!    semantics.md §3.1 "concurrencyLimit →"); max instances / max replicas make the request
//!    wait for a slot instead.
//! 3. No port registered yet → **503** with `Retry-After: 1`, "No application registered"
//!    (upstream-runtime-and-bindings.md §2.2 step 6 and §2.5 "Readiness").
//! 4. The app cannot be reached → **502** "Failed to forward request"
//!    (upstream-runtime-and-bindings.md §2.4); connect timeout 5 s (same section).
//! 5. No complete answer within the effective timeout → **504** and the app call is abandoned
//!    (upstream-cloud-semantics.md §3.2 "Effective HTTP request timeout").
//! 6. Response body over `sync_response_max_bytes` → **502**, worded like Lambda's
//!    `Function.ResponseSizeTooLarge` ("Response payload size exceeded maximum allowed payload
//!    size").
//!
//! The readiness probe ([`probe`]) follows upstream's `readiness_probe.rs`: 10 attempts, 30 s
//! per request, success = any 2xx (upstream-cloud-semantics.md §3.2 "Probe mechanics").

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode, Uri, Version};
use axum::response::Response;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

mod events;
mod limits;
mod probe;
mod upstream_port;

pub use events::{Arrival, ArrivalObserver, EventSink, GatewayEvent, Outcome};
pub use limits::{ConcurrencyPolicy, GatewayLimits};
pub use probe::{ProbePolicy, ProbeReport, probe};
pub use upstream_port::{UpstreamPort, Waker};

use crate::engine::duration_serde::format_duration;

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("the gateway of worker '{worker}' must listen on loopback, not {addr}")]
    NotLoopback { worker: String, addr: SocketAddr },
    #[error("cannot listen on {addr} for worker '{worker}': {source}")]
    Bind {
        worker: String,
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A running gateway. Dropping it stops the listener at once; [`Gateway::shutdown`] lets
/// requests in flight finish.
pub struct Gateway {
    worker: String,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    arrivals: Arc<OnceLock<ArrivalObserver>>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("worker", &self.worker)
            .field("addr", &self.addr)
            .field("observed", &self.arrivals.get().is_some())
            .finish_non_exhaustive()
    }
}

type UpstreamClient = Client<HttpConnector, Body>;

struct Shared {
    worker: String,
    limits: GatewayLimits,
    upstream: UpstreamPort,
    client: UpstreamClient,
    slots: Option<Arc<Semaphore>>,
    events: EventSink,
    arrivals: Arc<OnceLock<ArrivalObserver>>,
}

/// upstream-runtime-and-bindings.md §2.4: the runtime's forwarding client connects within 5 s.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Most of an oversize request body the gateway reads and throws away before answering 413
/// (an emulator choice: enough for any client that sends a few MiB too much).
const DRAIN_CAP: u64 = 64 * 1024 * 1024;

/// Connection-level headers a proxy does not forward (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

impl Gateway {
    /// Listens on `addr` (a loopback address; port 0 picks a free one) and proxies to the
    /// port in `upstream` under `limits`, reporting every decision to `events`.
    pub async fn bind(
        worker: impl Into<String>,
        addr: SocketAddr,
        limits: GatewayLimits,
        upstream: UpstreamPort,
        events: EventSink,
    ) -> Result<Gateway, GatewayError> {
        let worker = worker.into();
        if !addr.ip().is_loopback() {
            return Err(GatewayError::NotLoopback { worker, addr });
        }
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| GatewayError::Bind {
                worker: worker.clone(),
                addr,
                source,
            })?;
        let local = listener.local_addr().map_err(|source| GatewayError::Bind {
            worker: worker.clone(),
            addr,
            source,
        })?;
        let slots = match limits.concurrency {
            ConcurrencyPolicy::Unlimited => None,
            ConcurrencyPolicy::Throttle { limit } | ConcurrencyPolicy::Queue { limit } => {
                Some(Arc::new(Semaphore::new(limit as usize)))
            }
        };
        let arrivals = Arc::new(OnceLock::new());
        let shared = Arc::new(Shared {
            worker: worker.clone(),
            limits,
            upstream,
            client: upstream_client(),
            slots,
            events,
            arrivals: arrivals.clone(),
        });
        let app = Router::new().fallback(handle).with_state(shared);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(err) = serve.await {
                tracing::warn!(error = %err, "gateway server stopped");
            }
        });
        tracing::debug!(worker = %worker, addr = %local, "gateway listening");
        Ok(Gateway {
            worker,
            addr: local,
            stop: Some(stop),
            task,
            arrivals,
        })
    }

    /// Hands every request arriving from now on to `observer` (requests before, such as the
    /// readiness probe at start-up, are not seen). False when one was installed already.
    pub fn observe_arrivals(&self, observer: ArrivalObserver) -> bool {
        self.arrivals.set(observer).is_ok()
    }

    pub fn worker(&self) -> &str {
        &self.worker
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`, the worker's public URL under the emulator.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Runs the readiness probe against this gateway with upstream's policy.
    pub async fn probe(&self, method: Method, path: &str) -> ProbeReport {
        probe(self.addr, method, path, &ProbePolicy::default()).await
    }

    /// Stops accepting connections and waits for requests in flight.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn upstream_client() -> UpstreamClient {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new()).build(connector)
}

/// What the gateway answers when it does not pass the app's answer through.
struct Refusal {
    status: StatusCode,
    outcome: Outcome,
    reason: String,
}

impl Refusal {
    fn new(status: StatusCode, outcome: Outcome, reason: impl Into<String>) -> Refusal {
        Refusal {
            status,
            outcome,
            reason: reason.into(),
        }
    }

    fn into_response(self) -> Response {
        let body = serde_json::json!({ "message": self.reason }).to_string();
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if self.outcome == Outcome::NotRegistered {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    if let Some(observe) = shared.arrivals.get() {
        observe(Arrival {
            worker: shared.worker.clone(),
            method: method.clone(),
            path: path.clone(),
            body_bytes: announced_body_length(request.headers()),
        });
    }
    let (response, outcome, reason) = match shared.forward(peer, request, started).await {
        Ok(response) => (response, Outcome::Proxied, "ok".to_string()),
        Err(refusal) => {
            let (outcome, reason) = (refusal.outcome, refusal.reason.clone());
            (refusal.into_response(), outcome, reason)
        }
    };
    (shared.events.0)(GatewayEvent {
        worker: shared.worker.clone(),
        method,
        path,
        status: response.status().as_u16(),
        outcome,
        reason,
        duration: started.elapsed(),
    });
    response
}

impl Shared {
    async fn forward(
        &self,
        peer: SocketAddr,
        request: Request,
        started: Instant,
    ) -> Result<Response, Refusal> {
        let (parts, body) = request.into_parts();
        let request_limit = self.limits.request_max_bytes;
        if let (Some(limit), Some(length)) = (request_limit, content_length(&parts.headers))
            && length > limit
        {
            discard(body, DRAIN_CAP).await;
            return Err(request_too_large(Some(length), limit));
        }
        let throttle_permit = match (self.limits.concurrency, &self.slots) {
            (ConcurrencyPolicy::Throttle { .. }, Some(slots)) => {
                Some(slots.clone().try_acquire_owned().map_err(|_| {
                    Refusal::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        Outcome::Throttled,
                        "TooManyRequestsException: reserved concurrency reached",
                    )
                })?)
            }
            _ => None,
        };
        // With a limit the body is read whole before the app sees a byte, so an oversize
        // body never reaches it; without one it is streamed.
        let body = match request_limit {
            Some(limit) => Body::from(read_limited(body, limit).await?),
            None => body,
        };
        let deadline = started + self.limits.timeout;
        let answer = tokio::time::timeout_at(deadline, async {
            let permit = match throttle_permit {
                Some(permit) => Some(permit),
                None => self.queue_slot().await,
            };
            let port = self.upstream.wait_port().await.ok_or_else(|| {
                Refusal::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    Outcome::NotRegistered,
                    "No application registered",
                )
            })?;
            let upstream_request = upstream_request(port, peer, parts, body)?;
            let response = self.client.request(upstream_request).await.map_err(|err| {
                let outcome = if err.is_connect() {
                    Outcome::UpstreamUnreachable
                } else {
                    Outcome::UpstreamFailed
                };
                Refusal::new(
                    StatusCode::BAD_GATEWAY,
                    outcome,
                    format!(
                        "Failed to forward request: {} (127.0.0.1:{port})",
                        error_chain(&err)
                    ),
                )
            })?;
            self.pass_back(response, permit).await
        })
        .await;
        answer.unwrap_or_else(|_| {
            Err(Refusal::new(
                StatusCode::GATEWAY_TIMEOUT,
                Outcome::Timeout,
                format!(
                    "gateway timeout after {}",
                    format_duration(self.limits.timeout)
                ),
            ))
        })
    }

    /// Waits for a slot under a queueing policy (the caller bounds the wait).
    async fn queue_slot(&self) -> Option<OwnedSemaphorePermit> {
        match (&self.limits.concurrency, &self.slots) {
            (ConcurrencyPolicy::Queue { .. }, Some(slots)) => {
                slots.clone().acquire_owned().await.ok()
            }
            _ => None,
        }
    }

    /// The app's response, read whole and checked when there is a limit, else streamed with
    /// the slot held until the body is done.
    async fn pass_back(
        &self,
        response: axum::http::Response<hyper::body::Incoming>,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Result<Response, Refusal> {
        let (mut parts, body) = response.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        let body = match self.limits.response_max_bytes {
            Some(limit) => {
                if let Some(length) = content_length(&parts.headers)
                    && length > limit
                {
                    return Err(response_too_large(Some(length), limit));
                }
                let bytes = match Limited::new(body, limit as usize).collect().await {
                    Ok(collected) => collected.to_bytes(),
                    Err(err) if err.is::<LengthLimitError>() => {
                        return Err(response_too_large(None, limit));
                    }
                    Err(err) => {
                        return Err(Refusal::new(
                            StatusCode::BAD_GATEWAY,
                            Outcome::UpstreamFailed,
                            format!("Failed to forward request: the response broke off: {err}"),
                        ));
                    }
                };
                drop(permit);
                parts
                    .headers
                    .insert(header::CONTENT_LENGTH, bytes.len().into());
                Body::from(bytes)
            }
            None => Body::new(body.map_frame(move |frame| {
                let _slot = &permit;
                frame
            })),
        };
        Ok(Response::from_parts(parts, body))
    }
}

fn request_too_large(length: Option<u64>, limit: u64) -> Refusal {
    let reason = match length {
        Some(length) => format!("request body {length} bytes exceeds the {limit} byte limit"),
        None => format!("request body exceeds the {limit} byte limit"),
    };
    Refusal::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        Outcome::RequestTooLarge,
        reason,
    )
}

/// Lambda's wording for `Function.ResponseSizeTooLarge`.
fn response_too_large(length: Option<u64>, limit: u64) -> Refusal {
    let size = length.map_or_else(String::new, |l| format!(" {l} bytes"));
    Refusal::new(
        StatusCode::BAD_GATEWAY,
        Outcome::ResponseTooLarge,
        format!(
            "Response payload size{size} exceeded maximum allowed payload size ({limit} bytes)"
        ),
    )
}

/// Reads a request body of at most `limit` bytes. A longer body is refused with 413; the rest
/// of it is read and thrown away (up to [`DRAIN_CAP`]) so the client gets to read the 413.
async fn read_limited(mut body: Body, limit: u64) -> Result<Bytes, Refusal> {
    let mut buffer = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                Outcome::BadRequest,
                format!("could not read the request body: {err}"),
            )
        })?;
        if let Ok(data) = frame.into_data() {
            if (buffer.len() + data.len()) as u64 > limit {
                discard(body, DRAIN_CAP).await;
                return Err(request_too_large(None, limit));
            }
            buffer.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(buffer))
}

/// Reads and drops up to `cap` bytes of `body`, so a client still sending gets to read the
/// gateway's early answer instead of a broken pipe; past `cap` the connection is dropped.
async fn discard(mut body: Body, cap: u64) {
    let mut seen = 0u64;
    while seen <= cap {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    seen += data.len() as u64;
                }
            }
            Some(Err(_)) | None => break,
        }
    }
}

/// The body length a request head announces (RFC 9112 §6.3): its `Content-Length`; unknown
/// with a `Transfer-Encoding`; zero with neither ("the message body length is zero").
fn announced_body_length(headers: &HeaderMap) -> Option<u64> {
    match content_length(headers) {
        Some(length) => Some(length),
        None if headers.contains_key(header::TRANSFER_ENCODING) => None,
        None => Some(0),
    }
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::try_from(name.trim()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// The request to the app: same method, path, query, headers and body; `Host` kept as the
/// client sent it, `X-Forwarded-For` / `X-Forwarded-Proto` added as cloud front ends do.
fn upstream_request(
    port: u16,
    peer: SocketAddr,
    mut parts: axum::http::request::Parts,
    body: Body,
) -> Result<axum::http::Request<Body>, Refusal> {
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_string();
    let uri: Uri = format!("http://127.0.0.1:{port}{path_and_query}")
        .parse()
        .map_err(|err| {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                Outcome::BadRequest,
                format!("invalid request target '{path_and_query}': {err}"),
            )
        })?;
    strip_hop_by_hop(&mut parts.headers);
    let forwarded_for = match parts
        .headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
    {
        Some(previous) => format!("{previous}, {}", peer.ip()),
        None => peer.ip().to_string(),
    };
    if let Ok(value) = HeaderValue::try_from(forwarded_for) {
        parts.headers.insert("x-forwarded-for", value);
    }
    parts
        .headers
        .insert("x-forwarded-proto", HeaderValue::from_static("http"));
    parts.uri = uri;
    parts.version = Version::HTTP_11;
    Ok(axum::http::Request::from_parts(parts, body))
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
