//! The control API of `alien emulate`: JSON over HTTP on 127.0.0.1, over the shared
//! simulation. The CLI's verbs (`alien emulate send|peek|put|fire|advance|trace …`) go
//! through [`ControlClient`].
//!
//! | Route | Does |
//! |---|---|
//! | `GET /status` | platform, virtual now, queues, crons, workers |
//! | `POST /queues/{q}/messages` | `{"json": …}` or `{"text": "…"}` (optional `"via": "binding"\|"service"`) → `{"id"}` |
//! | `GET /queues/{q}/messages` | every held message, without leasing |
//! | `GET /queues/{q}/dead-letters` | the dead-letter queue |
//! | `PUT /storage/{bucket}/objects/{*key}` | raw body, `Content-Type` kept → `{"etag", "size"}` |
//! | `GET` / `DELETE` the same | the object / 204 |
//! | `POST /crons/{worker}/{index}/fire` | fires schedule trigger `index` of `worker` now |
//! | `POST /clock/advance` | `{"by": "1h30m"}` → `{"now"}` |
//! | `GET /trace?after=<seq>&wait=<seconds>` | long-poll: events with `seq > after` |
//! | `POST /` with `X-Amz-Target: AmazonSQS.*` | the SQS JSON protocol over the queues ([`super::sqs_api`]) |
//!
//! Errors are `{"error": "<message naming the field or value>"}` with 400 (malformed JSON, a
//! bad field or value, an unsafe storage key), 404 (unknown queue, bucket, worker, trigger,
//! object or route), 405, or 413 (a message over the profile's limit).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use alien_providers::validate::validate_storage_key;
use alien_providers::{ErrorKind, Payload, ProviderError};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::emulate::gateway::UpstreamPort;
use crate::engine::duration_serde::parse_duration;
use crate::engine::{SendVia, SharedSim, Sim, SimError};
use crate::stack::Stack;

/// Longest `wait` a trace long-poll may ask for; longer values are cut to it so a client
/// never holds a connection for ever.
pub const MAX_TRACE_WAIT: Duration = Duration::from_secs(60);

/// How often a waiting long-poll looks at the trace when nobody calls
/// [`ControlState::notify_trace`] (the real-time driver records events on its own).
const TRACE_POLL_INTERVAL: Duration = Duration::from_millis(50);

/// What the control API serves: the simulation plus what the emulator knows about each
/// worker's process and public endpoint.
#[derive(Clone)]
pub struct ControlState {
    inner: Arc<Inner>,
}

struct Inner {
    sim: SharedSim,
    stack_id: String,
    changed: Notify,
    workers: Mutex<BTreeMap<String, WorkerEntry>>,
    daemons: Vec<String>,
    /// How `POST /clock/advance` moves time when real processes are attached.
    traveller: Mutex<Option<Traveller>>,
}

/// Moves the clock forward by a duration and resolves to the new time; `alien emulate`
/// installs one that lets real processes answer each attempt along the way.
pub type Traveller = Arc<
    dyn Fn(
            Duration,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<DateTime<Utc>, SimError>> + Send>,
        > + Send
        + Sync,
>;

struct WorkerEntry {
    public: bool,
    timeout_seconds: u32,
    concurrency_limit: Option<u32>,
    upstream: Option<UpstreamPort>,
    gateway: Option<SocketAddr>,
}

impl ControlState {
    /// The state for `sim`, simulating `stack`.
    pub fn new(sim: SharedSim, stack: &Stack) -> ControlState {
        let workers = stack
            .workers()
            .map(|(id, w)| {
                (
                    id.to_string(),
                    WorkerEntry {
                        public: w.is_public(),
                        timeout_seconds: w.timeout_seconds,
                        concurrency_limit: w.concurrency_limit,
                        upstream: None,
                        gateway: None,
                    },
                )
            })
            .collect();
        ControlState {
            inner: Arc::new(Inner {
                sim,
                stack_id: stack.id.clone(),
                changed: Notify::new(),
                workers: Mutex::new(workers),
                daemons: stack.daemons().map(|(id, _)| id.to_string()).collect(),
                traveller: Mutex::new(None),
            }),
        }
    }

    /// Routes `POST /clock/advance` through `traveller` instead of advancing the engine alone.
    pub fn set_traveller(&self, traveller: Traveller) {
        *lock(&self.inner.traveller) = Some(traveller);
    }

    pub fn sim(&self) -> &SharedSim {
        &self.inner.sim
    }

    /// Records where `worker`'s app listens (the live handle the worker host updates) and its
    /// gateway address, for `GET /status`. False when the stack has no such worker.
    pub fn attach_worker(
        &self,
        worker: &str,
        upstream: UpstreamPort,
        gateway: Option<SocketAddr>,
    ) -> bool {
        match lock(&self.inner.workers).get_mut(worker) {
            Some(entry) => {
                entry.upstream = Some(upstream);
                entry.gateway = gateway;
                true
            }
            None => false,
        }
    }

    /// Wakes trace long-polls at once (otherwise they look every 50 ms).
    pub fn notify_trace(&self) {
        self.inner.changed.notify_waiters();
    }

    fn sim_lock(&self) -> MutexGuard<'_, Sim> {
        lock(&self.inner.sim)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The control API's routes over `state`.
pub fn router(state: ControlState) -> Router {
    Router::new()
        .route("/status", get(status))
        .route("/queues/{queue}/messages", post(send).get(peek))
        .route("/queues/{queue}/dead-letters", get(dead_letters))
        .route(
            "/storage/{bucket}/objects/{*key}",
            put(put_object).get(get_object).delete(delete_object),
        )
        .route("/crons/{worker}/{index}/fire", post(fire_cron))
        .route("/clock/advance", post(advance))
        .route("/trace", get(trace))
        .route("/", super::sqs_api::route())
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .with_state(state)
}

/// The control API listening on loopback.
#[derive(Debug)]
pub struct ControlServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl ControlServer {
    /// Serves [`router`] on `addr` (loopback only; port 0 picks a free one).
    pub async fn bind(addr: SocketAddr, state: ControlState) -> Result<ControlServer, ServeError> {
        if !addr.ip().is_loopback() {
            return Err(ServeError::NotLoopback(addr));
        }
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| ServeError::Bind { addr, source })?;
        let (stop, stopped) = oneshot::channel::<()>();
        let app = router(state);
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(err) = serve.await {
                tracing::warn!(error = %err, "control API stopped");
            }
        });
        Ok(ControlServer {
            addr: local,
            stop: Some(stop),
            task,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections and lets requests in flight finish (long-polls included,
    /// up to their `wait`).
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("the control API must listen on loopback, not {0}")]
    NotLoopback(SocketAddr),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A 4xx/5xx answer with `{"error": message}` (and the provider's `code` when there is one).
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
    code: Option<&'static str>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            code: None,
        }
    }

    fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
}

impl From<SimError> for ApiError {
    fn from(err: SimError) -> ApiError {
        match err {
            SimError::UnknownResource { .. } => ApiError::not_found(err.to_string()),
            SimError::Provider(e) => ApiError::from(e),
            SimError::Invalid(message) => ApiError::bad_request(message),
            SimError::StepLimit(_) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, err.to_string())
            }
        }
    }
}

impl From<ProviderError> for ApiError {
    fn from(err: ProviderError) -> ApiError {
        let status = match err.kind {
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::InvalidArgument | ErrorKind::Unsupported => StatusCode::BAD_REQUEST,
            ErrorKind::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ErrorKind::AlreadyExists | ErrorKind::StaleReceipt => StatusCode::CONFLICT,
            ErrorKind::Throttled => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::PermissionDenied { .. } => StatusCode::FORBIDDEN,
            ErrorKind::Timeout | ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError {
            status,
            code: Some(err.code()),
            message: err.message,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.message });
        if let Some(code) = self.code {
            body["code"] = json!(code);
        }
        (self.status, axum::Json(body)).into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;

fn path_params<T>(path: Result<Path<T>, PathRejection>) -> ApiResult<T> {
    path.map(|Path(p)| p).map_err(|rejection| {
        ApiError::bad_request(format!("invalid path: {}", rejection.body_text()))
    })
}

/// Parses a JSON body into `T`, naming what is wrong.
fn json_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> ApiResult<T> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("malformed JSON body: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::bad_request(format!(
            "the request body must be a JSON object, not {value}"
        )));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        ApiError::bad_request(if path == "." {
            format!("invalid request body: {inner}")
        } else {
            format!("invalid request body: field \"{path}\": {inner}")
        })
    })
}

async fn no_route(request: Request) -> ApiError {
    ApiError::not_found(format!(
        "no route for {} {}",
        request.method(),
        request.uri().path()
    ))
}

async fn wrong_method(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "method {} is not allowed on {}",
            request.method(),
            request.uri().path()
        ),
    )
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueStatus {
    pub name: String,
    pub visible: usize,
    pub in_flight: usize,
    pub dead_lettered: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CronStatus {
    pub worker: String,
    /// Position among the worker's schedule triggers (the `index` of the fire route).
    pub index: usize,
    pub expr: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerStatus {
    pub id: String,
    pub public: bool,
    pub timeout_seconds: u32,
    pub concurrency_limit: Option<u32>,
    /// The port the app registered (None before registration or after a crash).
    pub port: Option<u16>,
    /// The gateway's URL when the worker has one.
    pub gateway: Option<String>,
}

/// A daemon as the seeds' outputs name it (`daemonName`, `running`), plus the supervisor's
/// state and counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DaemonRow {
    pub daemon_name: String,
    pub running: bool,
    pub state: String,
    pub restarts: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub platform: String,
    pub as_of: String,
    pub stack: String,
    pub now: DateTime<Utc>,
    pub queues: Vec<QueueStatus>,
    pub crons: Vec<CronStatus>,
    pub workers: Vec<WorkerStatus>,
    #[serde(default)]
    pub daemons: Vec<DaemonRow>,
}

async fn status(State(state): State<ControlState>) -> ApiResult<axum::Json<Status>> {
    let (platform, as_of, now, queues, crons, daemons) = {
        let sim = state.sim_lock();
        let queues = sim
            .queue_names()
            .into_iter()
            .map(|name| {
                let stats = sim.queue_stats(&name)?;
                Ok(QueueStatus {
                    name,
                    visible: stats.visible,
                    in_flight: stats.in_flight,
                    dead_lettered: stats.dead_lettered,
                })
            })
            .collect::<Result<Vec<_>, SimError>>()?;
        let mut per_worker: BTreeMap<String, usize> = BTreeMap::new();
        let crons = sim
            .cron_triggers()
            .into_iter()
            .map(|(worker, expr)| {
                let slot = per_worker.entry(worker.clone()).or_default();
                let index = *slot;
                *slot += 1;
                CronStatus {
                    worker,
                    index,
                    expr,
                }
            })
            .collect();
        let profile = sim.profile();
        let daemons = state
            .inner
            .daemons
            .iter()
            .filter_map(|id| sim.daemon_status(id).ok())
            .map(|d| DaemonRow {
                daemon_name: d.daemon_name,
                running: d.running,
                state: serde_json::to_value(d.state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                restarts: d.restarts,
            })
            .collect();
        (
            profile.platform.to_string(),
            profile.as_of.to_string(),
            sim.now(),
            queues,
            crons,
            daemons,
        )
    };
    let workers = lock(&state.inner.workers)
        .iter()
        .map(|(id, w)| WorkerStatus {
            id: id.clone(),
            public: w.public,
            timeout_seconds: w.timeout_seconds,
            concurrency_limit: w.concurrency_limit,
            port: w.upstream.as_ref().and_then(UpstreamPort::get),
            gateway: w.gateway.map(|a| format!("http://{a}")),
        })
        .collect();
    Ok(axum::Json(Status {
        platform,
        as_of,
        stack: state.inner.stack_id.clone(),
        now,
        queues,
        crons,
        workers,
        daemons,
    }))
}

/// `POST /queues/{q}/messages` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SendBody {
    json: Option<Value>,
    text: Option<String>,
    #[serde(default)]
    via: SendVia,
}

async fn send(
    State(state): State<ControlState>,
    path: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    let queue = path_params(path)?;
    let body: SendBody = json_body(&body)?;
    // `{"json": null}` is a JSON null payload: tell it apart from a missing field.
    let payload = match (body.json, body.text) {
        (Some(value), None) => Payload::Json(value),
        (None, Some(text)) => Payload::Text(text),
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "give only one of \"json\" or \"text\", not both",
            ));
        }
        (None, None) => {
            return Err(ApiError::bad_request(
                "missing message: give {\"json\": <value>} or {\"text\": \"<string>\"}",
            ));
        }
    };
    let id = state.sim_lock().send(&queue, payload, body.via)?;
    state.notify_trace();
    Ok((StatusCode::CREATED, axum::Json(json!({ "id": id }))))
}

async fn peek(
    State(state): State<ControlState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let queue = path_params(path)?;
    let peeked = state.sim_lock().peek(&queue)?;
    Ok(axum::Json(peeked).into_response())
}

async fn dead_letters(
    State(state): State<ControlState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let queue = path_params(path)?;
    let sim = state.sim_lock();
    let dead = sim.dead_letters(&queue)?;
    Ok(axum::Json(dead).into_response())
}

/// The storage key of a request, refused when unsafe. Axum has already percent-decoded it
/// once; a key that still holds `%` escapes is decoded once more and checked again, so
/// `%252e%252e` cannot become `..` in a layer that decodes again (the emulator mirrors buckets
/// into directories).
fn storage_key(path: Result<Path<(String, String)>, PathRejection>) -> ApiResult<(String, String)> {
    let (bucket, key) = path_params(path)?;
    let refuse = |e: ProviderError| {
        ApiError::bad_request(format!("invalid storage key {key:?}: {}", e.message))
    };
    validate_storage_key(&key).map_err(refuse)?;
    if key.contains('%')
        && let Some(decoded) = percent_decode(&key)
        && decoded != key
    {
        validate_storage_key(&decoded).map_err(|e| {
            ApiError::bad_request(format!(
                "invalid storage key {key:?} (decodes to {decoded:?}): {}",
                e.message
            ))
        })?;
    }
    Ok((bucket, key))
}

/// `%XX` decoding; None when the result is not UTF-8 (such a key is left as written).
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

async fn put_object(
    State(state): State<ControlState>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<axum::Json<Value>> {
    let (bucket, key) = storage_key(path)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    let size = body.len();
    let etag = state.sim_lock().put_object_bytes(
        &bucket,
        &key,
        body.to_vec(),
        &content_type,
        BTreeMap::new(),
    )?;
    state.notify_trace();
    Ok(axum::Json(json!({ "etag": etag, "size": size })))
}

async fn get_object(
    State(state): State<ControlState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Response> {
    let (bucket, key) = storage_key(path)?;
    let object = state
        .sim_lock()
        .get_object(&bucket, &key)?
        .ok_or_else(|| ApiError::not_found(format!("no object '{key}' in storage '{bucket}'")))?;
    let mut response = Response::new(Body::from(object.body));
    let headers = response.headers_mut();
    let content_type = object
        .meta
        .content_type
        .as_deref()
        .unwrap_or("application/octet-stream");
    for (name, value) in [
        (header::CONTENT_TYPE, content_type),
        (header::ETAG, object.meta.etag.as_str()),
    ] {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
    if let Ok(value) = HeaderValue::from_str(&object.meta.last_modified.to_rfc2822()) {
        headers.insert(header::LAST_MODIFIED, value);
    }
    Ok(response)
}

async fn delete_object(
    State(state): State<ControlState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<StatusCode> {
    let (bucket, key) = storage_key(path)?;
    state.sim_lock().delete_object(&bucket, &key)?;
    state.notify_trace();
    Ok(StatusCode::NO_CONTENT)
}

async fn fire_cron(
    State(state): State<ControlState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<axum::Json<Value>> {
    let (worker, index) = path_params(path)?;
    let index: usize = index.parse().map_err(|_| {
        ApiError::bad_request(format!("cron index '{index}' is not a non-negative number"))
    })?;
    {
        let mut sim = state.sim_lock();
        let triggers = sim.cron_triggers();
        let count = triggers.iter().filter(|(w, _)| *w == worker).count();
        if index >= count {
            let known = lock(&state.inner.workers).contains_key(&worker);
            return Err(ApiError::not_found(if known {
                format!("worker '{worker}' has no schedule trigger #{index} (it has {count})")
            } else {
                format!("no worker named '{worker}' in the stack")
            }));
        }
        sim.fire_cron_now(&worker, index)?;
    }
    state.notify_trace();
    Ok(axum::Json(json!({ "worker": worker, "index": index })))
}

/// `POST /clock/advance` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvanceBody {
    by: String,
}

async fn advance(State(state): State<ControlState>, body: Bytes) -> ApiResult<axum::Json<Value>> {
    let body: AdvanceBody = json_body(&body)?;
    let by = parse_duration(&body.by)
        .map_err(|e| ApiError::bad_request(format!("invalid \"by\": {e}")))?;
    let traveller = lock(&state.inner.traveller).clone();
    if let Some(travel) = traveller {
        let now = travel(by).await?;
        state.notify_trace();
        return Ok(axum::Json(json!({ "now": now })));
    }
    let sim = state.inner.sim.clone();
    // Advancing runs every timer due: off the async workers.
    let now = tokio::task::spawn_blocking(move || {
        let mut sim = lock(&sim);
        sim.advance(by).map(|()| sim.now())
    })
    .await
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("advance failed: {e}"),
        )
    })??;
    state.notify_trace();
    Ok(axum::Json(json!({ "now": now })))
}

/// `GET /trace` query.
#[derive(Debug, Default, PartialEq)]
struct TraceQuery {
    after: Option<u64>,
    wait: Duration,
}

fn trace_query(raw: Option<&str>) -> ApiResult<TraceQuery> {
    let mut query = TraceQuery::default();
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value).unwrap_or_else(|| value.to_string());
        match name {
            "after" => {
                query.after = Some(value.parse().map_err(|_| {
                    ApiError::bad_request(format!(
                        "invalid \"after\" '{value}': expected a trace sequence number"
                    ))
                })?);
            }
            "wait" => {
                let seconds: f64 = value
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s >= 0.0)
                    .ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "invalid \"wait\" '{value}': expected a non-negative number of seconds"
                        ))
                    })?;
                query.wait = Duration::from_secs_f64(seconds.min(MAX_TRACE_WAIT.as_secs_f64()));
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter '{other}': expected \"after\" or \"wait\""
                )));
            }
        }
    }
    Ok(query)
}

async fn trace(State(state): State<ControlState>, RawQuery(raw): RawQuery) -> ApiResult<Response> {
    let query = trace_query(raw.as_deref())?;
    let first = query.after.map_or(0, |after| after.saturating_add(1));
    let deadline = Instant::now() + query.wait;
    loop {
        // Registered before looking, so a notification between the look and the wait is kept.
        let changed = state.inner.changed.notified();
        let events = {
            let sim = state.sim_lock();
            let all = sim.trace().events();
            let start = all.partition_point(|e| e.seq < first);
            all[start..].to_vec()
        };
        if !events.is_empty() || Instant::now() >= deadline {
            return Ok(axum::Json(events).into_response());
        }
        let wake = deadline.min(Instant::now() + TRACE_POLL_INTERVAL);
        tokio::select! {
            () = changed => {}
            () = tokio::time::sleep_until(wake) => {}
        }
    }
}

/// One trace event as the control API sends it (the JSON of `TraceEvent`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TraceLine {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub t_ms: i64,
    pub kind: String,
    pub resource: String,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub detail: Vec<(String, String)>,
}

/// An object fetched through the control API.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchedObject {
    pub body: Vec<u8>,
    pub content_type: String,
    pub etag: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the control API at {url}: {source}")]
    Transport { url: String, source: reqwest::Error },
    #[error("the control API answered {status}: {message}")]
    Api { status: u16, message: String },
    #[error("unexpected answer from {url}: {detail}")]
    Decode { url: String, detail: String },
    #[error("invalid storage key {key:?}: {message}")]
    InvalidKey { key: String, message: String },
}

/// The CLI's client of the control API.
#[derive(Debug, Clone)]
pub struct ControlClient {
    base: String,
    http: reqwest::Client,
}

impl ControlClient {
    /// A client of the API at `base` (e.g. `http://127.0.0.1:7070`).
    pub fn new(base: impl Into<String>) -> ControlClient {
        ControlClient {
            base: base.into().trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
        }
    }

    pub async fn status(&self) -> Result<Value, ClientError> {
        self.json(self.http.get(self.url("/status"))).await
    }

    /// `GET path` (relative to the API root) as JSON.
    pub async fn get_json(&self, path: &str) -> Result<Value, ClientError> {
        self.json(self.http.get(self.url(path))).await
    }

    /// `POST path` with a JSON body, answered with JSON.
    pub async fn post_json(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        self.json(self.http.post(self.url(path)).json(body)).await
    }

    /// Sends a message; returns its id.
    pub async fn send(&self, queue: &str, payload: &Payload) -> Result<String, ClientError> {
        let body = match payload {
            Payload::Json(value) => json!({ "json": value }),
            Payload::Text(text) => json!({ "text": text }),
        };
        let url = self.url(&format!("/queues/{}/messages", encode_segment(queue)));
        let reply = self.json(self.http.post(&url).json(&body)).await?;
        string_field(&reply, "id", &url)
    }

    /// Every message held by `queue`, without consuming.
    pub async fn peek(&self, queue: &str) -> Result<Vec<Value>, ClientError> {
        let url = self.url(&format!("/queues/{}/messages", encode_segment(queue)));
        self.json(self.http.get(url)).await
    }

    pub async fn dead_letters(&self, queue: &str) -> Result<Vec<Value>, ClientError> {
        let url = self.url(&format!("/queues/{}/dead-letters", encode_segment(queue)));
        self.json(self.http.get(url)).await
    }

    /// Puts an object; returns its etag. Unsafe keys are refused here: an HTTP client
    /// resolves `..` segments before sending, so they would reach another key.
    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<String, ClientError> {
        let url = self.object_url(bucket, key)?;
        let reply: Value = self
            .json(
                self.http
                    .put(&url)
                    .header(header::CONTENT_TYPE, content_type)
                    .body(body),
            )
            .await?;
        string_field(&reply, "etag", &url)
    }

    /// The object, or None when the bucket has no such key.
    pub async fn get_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<FetchedObject>, ClientError> {
        let url = self.object_url(bucket, key)?;
        let response = self.call(self.http.get(&url), &url).await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            // A missing object and a missing bucket are both 404: only the object is None.
            let message = api_message(response).await;
            if message.starts_with("no object ") {
                return Ok(None);
            }
            return Err(ClientError::Api {
                status: 404,
                message,
            });
        }
        let response = check(response).await?;
        let header_text = |name: header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let content_type = header_text(header::CONTENT_TYPE);
        let etag = header_text(header::ETAG);
        let body = response
            .bytes()
            .await
            .map_err(|source| ClientError::Transport {
                url: url.clone(),
                source,
            })?
            .to_vec();
        Ok(Some(FetchedObject {
            body,
            content_type,
            etag,
        }))
    }

    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), ClientError> {
        let url = self.object_url(bucket, key)?;
        let response = self.call(self.http.delete(&url), &url).await?;
        check(response).await.map(drop)
    }

    /// Fires schedule trigger `index` of `worker` now.
    pub async fn fire_cron(&self, worker: &str, index: usize) -> Result<(), ClientError> {
        let url = self.url(&format!("/crons/{}/{index}/fire", encode_segment(worker)));
        self.json::<Value>(self.http.post(url)).await.map(drop)
    }

    /// Advances the virtual clock by `by` (`1h30m`, `45s`); returns the new time.
    pub async fn advance(&self, by: &str) -> Result<DateTime<Utc>, ClientError> {
        let url = self.url("/clock/advance");
        let reply: Value = self
            .json(self.http.post(&url).json(&json!({ "by": by })))
            .await?;
        let now = string_field(&reply, "now", &url)?;
        now.parse().map_err(|e| ClientError::Decode {
            url,
            detail: format!("\"now\" is not a time: {e}"),
        })
    }

    /// Trace events with `seq > after` (all when None), waiting up to `wait` for the first.
    pub async fn trace_after(
        &self,
        after: Option<u64>,
        wait: Duration,
    ) -> Result<Vec<TraceLine>, ClientError> {
        let mut url = self.url(&format!("/trace?wait={}", wait.as_secs_f64()));
        if let Some(after) = after {
            url.push_str(&format!("&after={after}"));
        }
        self.json(self.http.get(url)).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn object_url(&self, bucket: &str, key: &str) -> Result<String, ClientError> {
        validate_storage_key(key).map_err(|e| ClientError::InvalidKey {
            key: key.to_string(),
            message: e.message,
        })?;
        let key = key
            .split('/')
            .map(encode_segment)
            .collect::<Vec<_>>()
            .join("/");
        Ok(self.url(&format!(
            "/storage/{}/objects/{key}",
            encode_segment(bucket)
        )))
    }

    async fn call(
        &self,
        request: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<reqwest::Response, ClientError> {
        request
            .send()
            .await
            .map_err(|source| ClientError::Transport {
                url: url.to_string(),
                source,
            })
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, ClientError> {
        let response = request
            .send()
            .await
            .map_err(|source| ClientError::Transport {
                url: source.url().map(ToString::to_string).unwrap_or_default(),
                source,
            })?;
        let url = response.url().to_string();
        let response = check(response).await?;
        let text = response
            .text()
            .await
            .map_err(|source| ClientError::Transport {
                url: url.clone(),
                source,
            })?;
        serde_json::from_str(&text).map_err(|e| ClientError::Decode {
            url,
            detail: e.to_string(),
        })
    }
}

async fn check(response: reqwest::Response) -> Result<reqwest::Response, ClientError> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status().as_u16();
    Err(ClientError::Api {
        status,
        message: api_message(response).await,
    })
}

async fn api_message(response: reqwest::Response) -> String {
    let text = response.text().await.unwrap_or_default();
    serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or(text)
}

fn string_field(reply: &Value, field: &str, url: &str) -> Result<String, ClientError> {
    reply[field]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| ClientError::Decode {
            url: url.to_string(),
            detail: format!("no string \"{field}\" in {reply}"),
        })
}

/// Percent-encodes one path segment (everything but RFC 3986 unreserved characters).
fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("%2e%2E/a%20b").as_deref(), Some("../a b"));
        assert_eq!(percent_decode("100%").as_deref(), Some("100%"));
        assert_eq!(percent_decode("%zz%4").as_deref(), Some("%zz%4"));
        assert_eq!(percent_decode("%ff"), None);
    }

    #[test]
    fn trace_query_parsing() {
        assert_eq!(trace_query(None).unwrap(), TraceQuery::default());
        let q = trace_query(Some("after=4&wait=1.5")).unwrap();
        assert_eq!(q.after, Some(4));
        assert_eq!(q.wait, Duration::from_millis(1500));
        assert_eq!(trace_query(Some("wait=3600")).unwrap().wait, MAX_TRACE_WAIT);
        assert!(trace_query(Some("after=-1")).is_err());
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(encode_segment("a b?c#d"), "a%20b%3Fc%23d");
        assert_eq!(encode_segment("ok-._~9"), "ok-._~9");
    }
}
