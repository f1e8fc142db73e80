//! Message operations: SendMessage(Batch), ReceiveMessage, DeleteMessage(Batch),
//! ChangeMessageVisibility(Batch) (SQS API reference, each action's "Request Parameters",
//! "Response Elements" and "Errors").

use std::collections::BTreeSet;
use std::time::Duration;

use alien_providers::{ErrorKind, Payload};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::error::SqsError;
use super::wire::{
    Batch, ChangeVisibility, ChangeVisibilityEntry, DeleteEntry, DeleteMessage, Message,
    ReceiveMessage, SendEntry, SendMessage, md5_hex, queue_of_url,
};
use super::{MAX_VISIBILITY_SECONDS, fail, in_range, sim};
use crate::emulate::control::ControlState;
use crate::emulate::record::{Input, Recorder};
use crate::engine::{Received, SendVia, Sim, SimError};

/// How often a long-polling `ReceiveMessage` looks at the queue again.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Most entries in a batch call and messages in one receive (SQS quotas).
const MAX_BATCH: usize = 10;

/// Longest `WaitTimeSeconds` SQS accepts.
const MAX_WAIT_SECONDS: i64 = 20;

/// Sends one message as a producer using the SQS API (the service's size limit); returns
/// its id and the body's MD5. A sent message goes to `recorder` too.
fn send_one(
    sim: &mut Sim,
    queue: &str,
    message: &Message,
    recorder: Option<&Recorder>,
) -> Result<(String, String), SqsError> {
    if message.delay_seconds.is_some_and(|d| d != 0) {
        return Err(SqsError::invalid_parameter(
            "DelaySeconds is not supported by the emulator's SQS endpoint",
        ));
    }
    if message
        .message_attributes
        .as_ref()
        .is_some_and(|a| !a.is_empty())
    {
        return Err(SqsError::invalid_parameter(
            "MessageAttributes are not supported by the emulator's SQS endpoint",
        ));
    }
    let body = &message.message_body;
    let id = sim
        .send(queue, Payload::from_body(body), SendVia::Service)
        .map_err(fail(sim, queue))?;
    if let Some(recorder) = recorder {
        let (queue, payload) = (queue.to_string(), Payload::from_body(body));
        let via = SendVia::Service;
        recorder.note(
            sim.now(),
            Input::Send {
                queue,
                payload,
                via,
            },
        );
    }
    Ok((id, md5_hex(body)))
}

pub(super) fn send_message(
    sim: &mut Sim,
    req: SendMessage,
    recorder: Option<&Recorder>,
) -> Result<Value, SqsError> {
    let (id, md5) = send_one(sim, queue_of_url(&req.queue_url), &req.message, recorder)?;
    Ok(json!({ "MessageId": id, "MD5OfMessageBody": md5 }))
}

pub(super) fn send_message_batch(
    sim: &mut Sim,
    req: Batch<SendEntry>,
    recorder: Option<&Recorder>,
) -> Result<Value, SqsError> {
    let queue = queue_of_url(&req.queue_url);
    check_batch(&req.entries, |e| &e.id)?;
    // SendMessageBatch: "The maximum allowed individual message size and the maximum total
    // payload size (the sum of the individual lengths of all of the batched messages) are
    // both 1 MiB" — the service limit of the profile.
    let limit = sim.profile().queue.service_message_max_bytes.value;
    let total: u64 = req
        .entries
        .iter()
        .map(|e| e.message.message_body.len() as u64)
        .sum();
    if total > limit {
        return Err(SqsError::batch_too_long(total, limit));
    }
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for entry in &req.entries {
        match send_one(sim, queue, &entry.message, recorder) {
            Ok((id, md5)) => {
                ok.push(json!({"Id": entry.id, "MessageId": id, "MD5OfMessageBody": md5}));
            }
            Err(err) if err.shape == "QueueDoesNotExist" => return Err(err),
            Err(err) => failed.push(failed_entry(&entry.id, &err)),
        }
    }
    Ok(json!({ "Successful": ok, "Failed": failed }))
}

/// A `BatchResultErrorEntry`.
fn failed_entry(id: &str, err: &SqsError) -> Value {
    json!({"Id": id, "SenderFault": err.sender_fault, "Code": err.code, "Message": err.message})
}

/// One to ten entries with distinct ids (SQS batch actions' errors `EmptyBatchRequest`,
/// `TooManyEntriesInBatchRequest`, `BatchEntryIdsNotDistinct`).
fn check_batch<E>(entries: &[E], id: impl Fn(&E) -> &String) -> Result<(), SqsError> {
    if entries.is_empty() {
        return Err(SqsError::empty_batch());
    }
    if entries.len() > MAX_BATCH {
        return Err(SqsError::too_many_entries(entries.len()));
    }
    let mut seen = BTreeSet::new();
    for entry in entries {
        if !seen.insert(id(entry)) {
            return Err(SqsError::ids_not_distinct(id(entry)));
        }
    }
    Ok(())
}

pub(super) async fn receive_message(
    state: &ControlState,
    req: ReceiveMessage,
) -> Result<Value, SqsError> {
    let queue = queue_of_url(&req.queue_url);
    let max = in_range(
        "MaxNumberOfMessages",
        req.max_number_of_messages.unwrap_or(1),
        1..=MAX_BATCH as i64,
    )?;
    let wait = in_range(
        "WaitTimeSeconds",
        req.wait_time_seconds.unwrap_or(0),
        0..=MAX_WAIT_SECONDS,
    )?;
    let lease = req
        .visibility_timeout
        .map(|v| in_range("VisibilityTimeout", v, 0..=MAX_VISIBILITY_SECONDS))
        .transpose()?
        .map(Duration::from_secs);
    // Long polling in real time: `alien emulate` drives the virtual clock with the wall clock.
    let deadline = Instant::now() + Duration::from_secs(wait);
    let received = loop {
        let received = {
            let mut sim = sim(state);
            let lease = match lease {
                Some(lease) => lease,
                None => sim.visibility_timeout(queue).map_err(fail(&sim, queue))?,
            };
            // `max` is 1..=10 here.
            sim.receive(queue, max as u32, Some(lease))
                .map_err(fail(&sim, queue))?
        };
        if !received.is_empty() || Instant::now() >= deadline {
            break received;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    };
    let wanted: BTreeSet<&str> = req
        .attribute_names
        .iter()
        .chain(&req.message_system_attribute_names)
        .map(String::as_str)
        .collect();
    let messages: Vec<Value> = received.iter().map(|r| message_reply(r, &wanted)).collect();
    // SQS leaves `Messages` out of an empty reply.
    Ok(if messages.is_empty() {
        json!({})
    } else {
        json!({ "Messages": messages })
    })
}

/// A `Message` with the system attributes asked for (`All` or by name).
fn message_reply(received: &Received, wanted: &BTreeSet<&str>) -> Value {
    let body = received.payload.to_body();
    let mut reply = json!({
        "MessageId": received.id,
        "ReceiptHandle": received.receipt,
        "MD5OfBody": md5_hex(&body),
        "Body": body,
    });
    let all = wanted.contains("All");
    let mut attributes = serde_json::Map::new();
    if all || wanted.contains("ApproximateReceiveCount") {
        attributes.insert(
            "ApproximateReceiveCount".into(),
            json!(received.attempt.to_string()),
        );
    }
    if all || wanted.contains("SentTimestamp") {
        attributes.insert(
            "SentTimestamp".into(),
            json!(received.enqueued_at.timestamp_millis().to_string()),
        );
    }
    if !attributes.is_empty() {
        reply["Attributes"] = Value::Object(attributes);
    }
    reply
}

/// Refuses a handle this endpoint never hands out (`<seq>:<receipt>`).
fn check_receipt(handle: &str) -> Result<(), SqsError> {
    let well_formed = handle
        .split_once(':')
        .is_some_and(|(a, b)| a.parse::<u64>().is_ok() && b.parse::<u64>().is_ok());
    if well_formed {
        Ok(())
    } else {
        Err(SqsError::receipt_invalid(handle))
    }
}

/// DeleteMessage with a superseded receipt succeeds without deleting, as SQS does: "you
/// must provide the most recently received ReceiptHandle for the message (otherwise, the
/// request succeeds, but the message will not be deleted)" (SQS API reference, DeleteMessage).
fn delete_one(sim: &mut Sim, queue: &str, handle: &str) -> Result<(), SqsError> {
    check_receipt(handle)?;
    match sim.ack(queue, handle) {
        Err(SimError::Provider(e)) if e.kind == ErrorKind::StaleReceipt => Ok(()),
        other => other.map_err(fail(sim, queue)),
    }
}

pub(super) fn delete_message(sim: &mut Sim, req: DeleteMessage) -> Result<Value, SqsError> {
    delete_one(sim, queue_of_url(&req.queue_url), &req.receipt_handle)?;
    Ok(json!({}))
}

pub(super) fn delete_message_batch(
    sim: &mut Sim,
    req: Batch<DeleteEntry>,
) -> Result<Value, SqsError> {
    batch_reply(
        &req,
        |e| &e.id,
        |queue, e| delete_one(sim, queue, &e.receipt_handle),
    )
}

/// ChangeMessageVisibility: 0 makes the message visible now (a nack, keeping its receive
/// count); otherwise the lease ends that many seconds from now.
fn change_one(sim: &mut Sim, queue: &str, handle: &str, seconds: i64) -> Result<(), SqsError> {
    let seconds = in_range("VisibilityTimeout", seconds, 0..=MAX_VISIBILITY_SECONDS)?;
    check_receipt(handle)?;
    let result = if seconds == 0 {
        sim.nack(queue, handle)
    } else {
        sim.renew(queue, handle, Duration::from_secs(seconds))
    };
    result.map_err(fail(sim, queue))
}

pub(super) fn change_visibility(sim: &mut Sim, req: ChangeVisibility) -> Result<Value, SqsError> {
    let queue = queue_of_url(&req.queue_url);
    change_one(sim, queue, &req.receipt_handle, req.visibility_timeout)?;
    Ok(json!({}))
}

pub(super) fn change_visibility_batch(
    sim: &mut Sim,
    req: Batch<ChangeVisibilityEntry>,
) -> Result<Value, SqsError> {
    batch_reply(
        &req,
        |e| &e.id,
        |queue, e| change_one(sim, queue, &e.receipt_handle, e.visibility_timeout),
    )
}

/// Checks a batch, runs each entry against its queue and answers `{"Successful": [{"Id"}],
/// "Failed": [...]}` for entries that reply with only their id; an unknown queue fails the
/// whole call.
fn batch_reply<E>(
    req: &Batch<E>,
    id: impl Fn(&E) -> &String,
    mut run: impl FnMut(&str, &E) -> Result<(), SqsError>,
) -> Result<Value, SqsError> {
    let queue = queue_of_url(&req.queue_url);
    check_batch(&req.entries, &id)?;
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for entry in &req.entries {
        match run(queue, entry) {
            Ok(()) => ok.push(json!({ "Id": id(entry) })),
            Err(err) if err.shape == "QueueDoesNotExist" => return Err(err),
            Err(err) => failed.push(failed_entry(id(entry), &err)),
        }
    }
    Ok(json!({ "Successful": ok, "Failed": failed }))
}
