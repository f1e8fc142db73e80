//! The queue owner behind `local-queue-http` bindings (published-3.3.49.md §3–§4, §11).
//!
//! Apps built with alien-sdk 3.3.49 reach a local queue only through its owner: every
//! operation is one `POST <endpoint>` with a JSON body and `Authorization: Bearer <token>`
//! (§4.1). This owner serves `POST /queues/{queue}` for every queue of the simulation and runs
//! each operation in the engine, as a binding-side operation with the platform profile's
//! semantics, so a send through the owner is delivered to queue-triggered workers like any
//! other.
//!
//! ```text
//! let listener = TcpListener::bind("127.0.0.1:0").await?;
//! let tokens = QueueTokens::for_stack(listener.local_addr()?, &stack)?;
//! env.insert("ALIEN_JOBS_BINDING", tokens.binding_json("jobs").unwrap().to_string());
//! serve(listener, QueueOwner::new(sim, tokens)?).await?;    // or mount router(owner)
//! ```
//!
//! Per request, in order: unknown queue → 404; missing or wrong token → 401
//! `LOCAL_QUEUE_UNAUTHORIZED`; body over 8 MiB → 413; malformed body → 400 `INVALID_INPUT`
//! naming the field; then the operation (§4.2 replies, §4.3 errors, §4.5 semantics). The
//! `Content-Type` is not checked: the published client always sends `application/json`.

mod error;
pub(crate) mod tokens;
mod wire;

use std::net::SocketAddr;
use std::sync::Arc;

use alien_providers::limits::{MAX_MESSAGE_BYTES, MAX_RECEIVE_BATCH};
use alien_providers::{ErrorKind, ProviderError};
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Request, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tokio::net::TcpListener;

use super::iam::{Iam, Operation as IamOperation};
use super::state::EngineHandle;
use crate::engine::{SendVia, Sim, SimError};
use error::{OwnerError, engine_error};
pub use tokens::{Caller, QueueTokens};
use wire::{Message, Operation, QueueAckResult, QueueRequest, QueueSendResult, Stats};

/// Largest request body the route accepts: 8 MiB (§4.1, §11). Ten maximum-size messages
/// with JSON's worst-case sixfold escaping (≈3.75 MiB) fit.
pub const BODY_LIMIT: usize = 8 * 1024 * 1024;

/// Failures setting up or running the owner (request failures are HTTP replies instead).
#[derive(Debug, thiserror::Error)]
pub enum QueueOwnerError {
    /// The owner only listens on, and only hands out endpoints for, loopback addresses.
    #[error("the queue owner must listen on a loopback address, not {0}")]
    NotLoopback(SocketAddr),
    /// The OS random number generator failed while creating a token.
    #[error("cannot generate a queue token: {0}")]
    Entropy(#[source] rand::rand_core::OsError),
    /// A token was generated for a queue the simulation does not have.
    #[error("queue '{0}' has a token but no queue in the simulation")]
    UnknownQueue(String),
    /// The listener failed.
    #[error("queue owner I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// The shared state of the owner's route: the simulation and the queue tokens.
#[derive(Clone)]
pub struct QueueOwner {
    engine: EngineHandle,
    tokens: Arc<QueueTokens>,
    iam: Option<Arc<Iam>>,
}

impl QueueOwner {
    /// Checks every workload's call against its permissions, as the platform's IAM would.
    pub fn with_iam(mut self, iam: Arc<Iam>) -> QueueOwner {
        self.iam = Some(iam);
        self
    }

    /// An owner for every queue in `tokens` over `engine` (a shared simulation, or one with
    /// a store: then each reply leaves once its change is on disk); each queue must exist.
    pub fn new(
        engine: impl Into<EngineHandle>,
        tokens: QueueTokens,
    ) -> Result<QueueOwner, QueueOwnerError> {
        let engine = engine.into();
        {
            let guard = engine.lock();
            if let Some(missing) = tokens.queues().find(|q| guard.queue_stats(q).is_err()) {
                return Err(QueueOwnerError::UnknownQueue(missing.to_owned()));
            }
        }
        Ok(QueueOwner {
            engine,
            tokens: Arc::new(tokens),
            iam: None,
        })
    }

    /// The tokens and binding JSON of the queues this owner serves.
    pub fn tokens(&self) -> &QueueTokens {
        &self.tokens
    }

    /// One request, after routing: checks, decoding, then the operation.
    async fn handle(&self, queue: &str, request: Request) -> Result<Response, OwnerError> {
        if self.tokens.token(queue).is_none() {
            return Err(OwnerError::UnknownQueue(queue.to_owned()));
        }
        let caller = bearer(request.headers())
            .and_then(|t| self.tokens.caller(queue, t))
            .ok_or(OwnerError::Unauthorized)?;
        if let Some(declared) = content_length(request.headers())
            && declared > BODY_LIMIT as u64
        {
            return Err(OwnerError::BodyTooLarge(Some(declared)));
        }
        let body = Bytes::from_request(request, &())
            .await
            .map_err(|e| match e {
                BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
                    OwnerError::BodyTooLarge(None)
                }
                other => OwnerError::Decode(other.body_text()),
            })?;
        let request = QueueRequest::decode(&body).map_err(OwnerError::Decode)?;
        if let (Some(iam), Caller::Workload(workload), Some(checked)) =
            (&self.iam, &caller, iam_operation(request.operation()))
        {
            iam.check(workload, queue, checked)
                .map_err(|denied| OwnerError::Denied {
                    operation: request.operation(),
                    denied,
                })?;
        }
        let (response, durable) = self
            .engine
            .apply_deferred(|sim| execute(sim, queue, request), false);
        // Durable before the app hears back: a send or ack survives `kill -9`.
        durable.wait().await.map_err(OwnerError::Store)?;
        response
    }
}

/// Runs one decoded request against the engine, under one lock (§4.5).
fn execute(sim: &mut Sim, queue: &str, request: QueueRequest) -> Result<Response, OwnerError> {
    let operation = request.operation();
    let fail = |e: SimError| engine_failure(queue, operation, e);
    let response = match request {
        QueueRequest::Send { message } => {
            sim.send(queue, message, SendVia::Binding).map_err(fail)?;
            Json(()).into_response()
        }
        QueueRequest::SendBatch { messages } => {
            let results = messages
                .into_iter()
                .map(|message| send_item(sim, queue, message))
                .collect::<Result<Vec<_>, _>>()?;
            Json(results).into_response()
        }
        QueueRequest::Receive { max_messages } => {
            let max = u32::try_from(max_messages)
                .map_err(|_| fail(batch_size_error(max_messages).into()))?;
            let messages: Vec<Message> = sim
                .receive(queue, max, None)
                .map_err(fail)?
                .into_iter()
                .map(|r| Message {
                    payload: r.payload,
                    receipt_handle: r.receipt,
                    attempt: r.attempt,
                })
                .collect();
            Json(messages).into_response()
        }
        QueueRequest::Ack { receipt } => {
            sim.ack(queue, &receipt).map_err(fail)?;
            Json(()).into_response()
        }
        QueueRequest::AckBatch { receipts } => {
            let results = receipts
                .iter()
                .map(|receipt| ack_item(sim, queue, receipt))
                .collect::<Result<Vec<_>, _>>()?;
            Json(results).into_response()
        }
        QueueRequest::Nack { receipt } => {
            sim.nack(queue, &receipt).map_err(fail)?;
            Json(()).into_response()
        }
        QueueRequest::Renew {
            receipt,
            duration_seconds,
        } => {
            let duration = std::time::Duration::from_secs(u64::from(duration_seconds));
            sim.renew(queue, &receipt, duration).map_err(fail)?;
            Json(()).into_response()
        }
        QueueRequest::Purge => {
            sim.purge(queue).map_err(fail)?;
            Json(()).into_response()
        }
        QueueRequest::Stats => {
            let stats = sim.queue_stats(queue).map_err(fail)?;
            let (visible, in_flight) = (stats.visible as u64, stats.in_flight as u64);
            Json(Stats {
                total: visible + in_flight,
                visible,
                in_flight,
                delayed: 0,
            })
            .into_response()
        }
    };
    Ok(response)
}

/// The identity check a queue operation needs (upstream permission sets): purge and stats
/// are owner-side tools here and not checked.
fn iam_operation(operation: Operation) -> Option<IamOperation> {
    match operation {
        Operation::Send | Operation::SendBatch => Some(IamOperation::QueueSend),
        Operation::Receive => Some(IamOperation::QueueReceive),
        Operation::Ack | Operation::AckBatch => Some(IamOperation::QueueAck),
        Operation::Nack | Operation::Renew => Some(IamOperation::QueueLease),
        Operation::Purge | Operation::Stats => None,
    }
}

/// The owner's route, `POST /queues/{queue}`, with the 8 MiB body limit, ready to serve or to
/// merge into another router.
pub fn router(owner: QueueOwner) -> Router {
    Router::new()
        .route("/queues/{queue}", post(route))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(owner)
}

/// Serves [`router`] on `listener` until the task is dropped or the listener fails.
/// `listener` must be bound to a loopback address.
pub async fn serve(listener: TcpListener, owner: QueueOwner) -> Result<(), QueueOwnerError> {
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() {
        return Err(QueueOwnerError::NotLoopback(addr));
    }
    axum::serve(listener, router(owner)).await?;
    Ok(())
}

async fn route(
    State(owner): State<QueueOwner>,
    Path(queue): Path<String>,
    request: Request,
) -> Response {
    owner
        .handle(&queue, request)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

fn engine_failure(queue: &str, operation: Operation, err: SimError) -> OwnerError {
    match err {
        SimError::UnknownResource { .. } => OwnerError::UnknownQueue(queue.to_owned()),
        other => OwnerError::Engine {
            operation,
            source: ProviderError::from(other),
        },
    }
}

/// Upstream's receive-count error for a count too large even to be a `u32` (§4.5); the
/// engine reports the same for 0 and 11..=u32::MAX.
fn batch_size_error(max_messages: u64) -> ProviderError {
    ProviderError::invalid_argument(format!(
        "Batch size {max_messages} is invalid. Must be between 1 and {MAX_RECEIVE_BATCH}"
    ))
    .with_code("BINDING_SETUP_FAILED")
}

/// One `sendBatch` item (§4.4–§4.5): outside 1..=65,536 serialized bytes → rejected with
/// `QUEUE_MESSAGE_SIZE_INVALID`; otherwise a binding send. An engine refusal of the input
/// is `rejected`, any other engine failure `unknown`.
fn send_item(
    sim: &mut Sim,
    queue: &str,
    message: alien_providers::Payload,
) -> Result<QueueSendResult, OwnerError> {
    let size = message.serialized_len();
    if !(1..=MAX_MESSAGE_BYTES).contains(&size) {
        return Ok(QueueSendResult::Rejected {
            code: "QUEUE_MESSAGE_SIZE_INVALID".to_owned(),
            message: format!("Message must contain 1 to {MAX_MESSAGE_BYTES} bytes; got {size}"),
        });
    }
    match sim.send(queue, message, SendVia::Binding) {
        Ok(_) => Ok(QueueSendResult::Sent),
        Err(e) => match engine_failure(queue, Operation::Send, e) {
            OwnerError::Engine { operation, source } => {
                let err = engine_error(operation, &source);
                Ok(match source.kind {
                    ErrorKind::PayloadTooLarge { .. } | ErrorKind::InvalidArgument => {
                        QueueSendResult::Rejected {
                            code: err.code,
                            message: err.message,
                        }
                    }
                    _ => QueueSendResult::Unknown {
                        message: err.display(),
                        code: err.code,
                    },
                })
            }
            whole_request => Err(whole_request),
        },
    }
}

/// One `ackBatch` receipt, with `ack`'s rules (§4.5): failures carry the error's
/// `"<code>: <message>"`.
fn ack_item(sim: &mut Sim, queue: &str, receipt: &str) -> Result<QueueAckResult, OwnerError> {
    match sim.ack(queue, receipt) {
        Ok(()) => Ok(QueueAckResult::Acknowledged),
        Err(e) => match engine_failure(queue, Operation::Ack, e) {
            OwnerError::Engine { operation, source } => {
                let err = engine_error(operation, &source);
                Ok(QueueAckResult::Failed {
                    message: err.display(),
                    code: err.code,
                })
            }
            whole_request => Err(whole_request),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn auth(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer(&auth("Bearer abc")), Some("abc"));
        assert_eq!(bearer(&auth("BEARER abc")), Some("abc"));
        assert_eq!(bearer(&auth("Basic abc")), None);
        assert_eq!(bearer(&auth("Bearerabc")), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }

    #[test]
    fn huge_receive_counts_get_the_batch_size_text() {
        let err = batch_size_error(5_000_000_000);
        assert_eq!(err.code(), "BINDING_SETUP_FAILED");
        assert_eq!(
            err.message,
            "Batch size 5000000000 is invalid. Must be between 1 and 10"
        );
        // The same text as the engine's own check.
        let engine = alien_providers::validate::validate_receive_batch(11).unwrap_err();
        assert_eq!(engine.message, batch_size_error(11).message);
    }
}
