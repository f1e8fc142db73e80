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
//! | `GET /trace?after=<seq>&wait=<seconds>` | long-poll: events with `seq > after` (`tail=<n>`: the newest `n`) |
//! | `POST /snapshots` | `{"name", "force"?}` → 201 with what the snapshot holds ([`snapshots`]) |
//! | `GET /snapshots` | every snapshot of the state directory |
//! | `GET /ui` | the web console ([`crate::console`]) |
//! | `POST /` with `X-Amz-Target: AmazonSQS.*` | the SQS JSON protocol over the queues ([`super::sqs_api`]) |
//!
//! Errors are `{"error": "<message naming the field or value>"}` with 400 (malformed JSON, a
//! bad field or value, an unsafe storage key), 404 (unknown queue, bucket, worker, trigger,
//! object or route), 405, or 413 (a message over the profile's limit).

mod client;
mod clock;
mod crons;
mod error;
mod queues;
mod snapshots;
mod status;
mod storage;
mod trace;
mod wire;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post, put};
use chrono::{DateTime, Utc};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

use crate::emulate::gateway::UpstreamPort;
use crate::emulate::record::{Input, Recorder};
use crate::emulate::state::EngineHandle;
use crate::emulate::state::objects::Objects;
use crate::emulate::state::store::TraceReader;
use crate::engine::{SharedSim, Sim, SimError};
use crate::stack::Stack;

pub use client::{ClientError, ControlClient, FetchedObject};
pub use status::{CronStatus, DaemonRow, QueueStatus, Status, WorkerStatus};
pub use trace::{MAX_TRACE_WAIT, TraceLine};

/// What the control API serves: the simulation plus what the emulator knows about each
/// worker's process and public endpoint.
#[derive(Clone)]
pub struct ControlState {
    inner: Arc<Inner>,
}

struct Inner {
    engine: EngineHandle,
    /// Where object bytes live (the bucket directories under `alien emulate`).
    objects: Objects,
    /// Trace events older than the engine's in-memory window, from the state file.
    trace_pages: Option<Arc<TraceReader>>,
    stack_id: String,
    changed: Notify,
    workers: Mutex<BTreeMap<String, WorkerEntry>>,
    daemons: Vec<String>,
    /// How `POST /clock/advance` moves time when real processes are attached.
    traveller: Mutex<Option<Traveller>>,
    /// Where accepted inputs go under `alien emulate --record`.
    recorder: Option<Recorder>,
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
    /// The state for `engine` (a shared simulation, or one with a store), simulating `stack`;
    /// objects live in the engine until [`ControlState::with_objects`] says otherwise.
    pub fn new(engine: impl Into<EngineHandle>, stack: &Stack) -> ControlState {
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
                engine: engine.into(),
                objects: Objects::Engine,
                trace_pages: None,
                stack_id: stack.id.clone(),
                changed: Notify::new(),
                workers: Mutex::new(workers),
                daemons: stack.daemons().map(|(id, _)| id.to_string()).collect(),
                traveller: Mutex::new(None),
                recorder: None,
            }),
        }
    }

    /// Objects put, read and deleted through `objects` (the bucket directories), and trace
    /// pages older than the engine's window read through `trace_pages`. Call before serving.
    pub fn with_storage(
        mut self,
        objects: Objects,
        trace_pages: Option<Arc<TraceReader>>,
    ) -> ControlState {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.objects = objects;
            inner.trace_pages = trace_pages;
        }
        self
    }

    /// Hands every input the routes accept to `recorder`. Call before serving.
    pub fn with_recorder(mut self, recorder: Recorder) -> ControlState {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.recorder = Some(recorder);
        }
        self
    }

    pub fn recorder(&self) -> Option<&Recorder> {
        self.inner.recorder.as_ref()
    }

    /// Records `input` at the engine's current instant, when recording.
    fn record_now(&self, input: impl FnOnce() -> Input) {
        if let Some(recorder) = &self.inner.recorder {
            let now = self.sim_lock().now();
            recorder.note(now, input());
        }
    }

    /// Routes `POST /clock/advance` through `traveller` instead of advancing the engine alone.
    pub fn set_traveller(&self, traveller: Traveller) {
        *lock(&self.inner.traveller) = Some(traveller);
    }

    pub fn sim(&self) -> &SharedSim {
        self.inner.engine.sim()
    }

    pub fn engine(&self) -> &EngineHandle {
        &self.inner.engine
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
        self.inner.engine.lock()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The control API's routes over `state`.
pub fn router(state: ControlState) -> Router {
    Router::new()
        .route("/status", get(status::status))
        .route(
            "/queues/{queue}/messages",
            post(queues::send).get(queues::peek),
        )
        .route("/queues/{queue}/dead-letters", get(queues::dead_letters))
        .route(
            "/storage/{bucket}/objects/{*key}",
            put(storage::put_object)
                .get(storage::get_object)
                .delete(storage::delete_object),
        )
        .route("/crons/{worker}/{index}/fire", post(crons::fire_cron))
        .route("/clock/advance", post(clock::advance))
        .route("/trace", get(trace::trace))
        .route("/snapshots", post(snapshots::save).get(snapshots::list))
        .route("/", super::sqs_api::route())
        .merge(crate::console::router())
        .fallback(error::no_route)
        .method_not_allowed_fallback(error::wrong_method)
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
