//! An SQS-compatible endpoint on `POST /` of the control API, so code written for AWS
//! (aws-sdk-rust and our `alien_providers::aws` adapter, boto3, the aws CLI) runs against
//! the emulator's queues unchanged: point its endpoint at `http://127.0.0.1:<port>`.
//!
//! The protocol is AWS JSON 1.0 (SQS API reference, "Making API requests"): the operation in
//! `X-Amz-Target: AmazonSQS.<Operation>`, the input as a JSON object, replies and errors
//! shaped as the SQS developer guide's JSON API responses. A SigV4 `Authorization` header is
//! accepted and not checked (any credentials work, as with moto): like the rest of the control
//! API, the endpoint listens on loopback only. Queue URLs are
//! `http://<Host>/000000000000/<name>`; any URL whose last path segment names a queue is
//! accepted. A reply leaves once what the call changed is on disk; like
//! `POST /queues/{q}/messages`, a call wakes trace long-polls, and the driver's next tick
//! hands deliveries to workers.
//!
//! Operations: CreateQueue, GetQueueUrl, ListQueues, SendMessage, SendMessageBatch,
//! ReceiveMessage (long-polls in real time up to `WaitTimeSeconds`), DeleteMessage,
//! DeleteMessageBatch, ChangeMessageVisibility, ChangeMessageVisibilityBatch,
//! GetQueueAttributes, PurgeQueue. Each runs in the engine as a service-side operation
//! with the platform profile's semantics (its size limit, its receive counts). A
//! `RedrivePolicy` moves a message received `maxReceiveCount` times to its dead-letter queue,
//! keeping its id and receive count. Not emulated, refused with a 400 naming them: FIFO
//! queues, `DelaySeconds`, message attributes. JSON
//! bodies are held parsed (what workers receive, published-3.3.49.md §4.5), so a receive
//! returns them compacted, key order kept. Queues made by `CreateQueue` last until the
//! emulator stops.
mod error;
mod messages;
mod queues;
mod wire;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{MutexGuard, PoisonError};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any};
use serde_json::{Value, json};

use super::control::ControlState;
use crate::engine::{Sim, SimError};
use error::SqsError;
use wire::parse;

/// Largest request body: 8 MiB, room for a 1 MiB batch with JSON's worst-case escaping.
const BODY_LIMIT: usize = 8 * 1024 * 1024;

/// Longest `VisibilityTimeout` SQS accepts (12 hours).
const MAX_VISIBILITY_SECONDS: i64 = 43_200;

/// The route `POST /` with an `AmazonSQS.*` target; every other request to `/` is the control
/// API's 404.
pub fn route() -> MethodRouter<ControlState> {
    any(handle).layer(DefaultBodyLimit::max(BODY_LIMIT))
}

async fn handle(
    State(state): State<ControlState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let operation = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("AmazonSQS."));
    let Some(operation) = operation.filter(|_| method == Method::POST) else {
        let message = format!("no route for {method} {}", uri.path());
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({ "error": message })),
        )
            .into_response();
    };
    let host = host(&headers);
    let answered = match call(&state, &host, operation, &body).await {
        // Whatever the call changed (a failed call may have changed nothing) is on disk first.
        Ok(reply) => match state.engine().apply(|_| ()).await {
            Ok(()) => Ok(reply),
            Err(err) => Err(SqsError::not_saved(&err)),
        },
        Err(err) => Err(err),
    };
    match answered {
        Ok(reply) => {
            state.notify_trace();
            let mut response = (StatusCode::OK, reply.to_string()).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(wire::CONTENT_TYPE),
            );
            if let Ok(id) = HeaderValue::from_str(&request_id()) {
                response.headers_mut().insert("x-amzn-requestid", id);
            }
            response
        }
        Err(err) => err.into_response(),
    }
}

/// The `Host` the client used (for queue URLs), when it is a plain host and port.
fn host(headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("127.0.0.1")
        .to_string()
}

/// A distinct id per reply, shaped like the UUIDs SQS sends.
fn request_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("00000000-0000-4000-8000-{n:012x}")
}

async fn call(
    state: &ControlState,
    host: &str,
    operation: &str,
    body: &Bytes,
) -> Result<Value, SqsError> {
    match operation {
        "CreateQueue" => queues::create_queue(&mut sim(state), host, parse(body)?),
        "GetQueueUrl" => queues::get_queue_url(&sim(state), host, parse(body)?),
        "ListQueues" => Ok(queues::list_queues(&sim(state), host, parse(body)?)),
        "SendMessage" => messages::send_message(&mut sim(state), parse(body)?, state.recorder()),
        "SendMessageBatch" => {
            messages::send_message_batch(&mut sim(state), parse(body)?, state.recorder())
        }
        "ReceiveMessage" => messages::receive_message(state, parse(body)?).await,
        "DeleteMessage" => messages::delete_message(&mut sim(state), parse(body)?),
        "DeleteMessageBatch" => messages::delete_message_batch(&mut sim(state), parse(body)?),
        "ChangeMessageVisibility" => messages::change_visibility(&mut sim(state), parse(body)?),
        "ChangeMessageVisibilityBatch" => {
            messages::change_visibility_batch(&mut sim(state), parse(body)?)
        }
        "GetQueueAttributes" => queues::get_queue_attributes(&sim(state), parse(body)?),
        "PurgeQueue" => queues::purge_queue(&mut sim(state), parse(body)?),
        other => Err(SqsError::unknown_operation(other)),
    }
}

fn sim(state: &ControlState) -> MutexGuard<'_, Sim> {
    state.sim().lock().unwrap_or_else(PoisonError::into_inner)
}

/// Maps an engine failure on `queue`.
fn fail<'a>(sim: &'a Sim, queue: &'a str) -> impl FnOnce(SimError) -> SqsError + 'a {
    move |err| SqsError::from_sim(err, queue, &sim.queue_names())
}

/// `value` when it lies in `range`, else SQS's InvalidParameterValue for `parameter`.
fn in_range(
    parameter: &str,
    value: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<u64, SqsError> {
    if range.contains(&value) {
        Ok(value.unsigned_abs())
    } else {
        Err(SqsError::invalid_parameter(format!(
            "Value {value} for parameter {parameter} is invalid. Reason: Must be between {} \
             and {}, if provided.",
            range.start(),
            range.end()
        )))
    }
}
