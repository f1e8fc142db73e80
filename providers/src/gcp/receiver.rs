//! Receipts over the crate's streaming subscriber.
//!
//! google-cloud-pubsub 1.7 offers no unary `Pull`, `Acknowledge` or `ModifyAckDeadline`:
//! its only receive path is `StreamingPull` (`Subscriber::subscribe`), whose messages come
//! with an in-process `Handler` (ack/nack) while a background lease loop extends every held
//! message's ack deadline every few seconds until `max_lease` has passed since it arrived.
//! A [`Receiver`] turns that into receipts: each delivered message gets a receipt naming
//! its handler, valid only inside this process.
//!
//! `MessageStream::next` is not cancel-safe: a `next` dropped while it opens the gRPC
//! stream drops a stream the server already leases messages to, and those stay invisible
//! until their ack deadline passes. So a [`Feed`] task owns the stream and calls `next`
//! to completion; a receive with a deadline waits on the feed's channel, which is.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};
use google_cloud_pubsub::client::Subscriber;
use google_cloud_pubsub::model::Message;
use google_cloud_pubsub::subscriber::handler::Handler;
use google_cloud_pubsub::subscriber::{MessageStream, ShutdownBehavior};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::error::map_gcp_error;
use crate::error::{ProviderError, Result};
use crate::limits::MAX_RECEIVE_BATCH;
use crate::queue::QueueMessage;
use crate::types::{MessageId, Payload, ReceiptHandle};

/// How long a receive without `wait` listens: opening a stream and getting its first
/// response takes a few hundred milliseconds on the emulator.
pub(super) const NO_WAIT_WINDOW: Duration = Duration::from_secs(1);
/// After the first message, how long to wait for more to fill the batch.
const GATHER_WINDOW: Duration = Duration::from_millis(100);
/// Superseded receipts remembered to answer `StaleReceipt`.
const REMEMBERED_STALE: usize = 4096;

/// What a streaming-pull session yields: a delivery with its handler, or the stream's error.
type Delivery = google_cloud_pubsub::Result<(Message, Handler)>;

/// A task that owns a [`MessageStream`] and forwards its deliveries; aborted (closing the
/// stream, which nacks what it still holds) when dropped.
struct Feed {
    deliveries: mpsc::Receiver<Delivery>,
    lease: Duration,
    task: JoinHandle<()>,
}

impl Feed {
    fn start(mut stream: MessageStream, lease: Duration) -> Self {
        let (tx, deliveries) = mpsc::channel(MAX_RECEIVE_BATCH as usize);
        let task = tokio::spawn(async move {
            while let Some(delivery) = stream.next().await {
                if tx.send(delivery).await.is_err() {
                    break;
                }
            }
        });
        Feed {
            deliveries,
            lease,
            task,
        }
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One streaming-pull session and the handlers of the messages it delivered.
pub(super) struct Receiver {
    subscriber: Subscriber,
    subscription: String,
    stream: Option<Feed>,
    held: HashMap<String, (MessageId, Handler)>,
    stale: HashSet<String>,
    stale_order: VecDeque<String>,
    next_receipt: u64,
    /// Messages published before this were purged (`Seek`); the stream may still hold some.
    purged_before: Option<DateTime<Utc>>,
}

impl Receiver {
    pub(super) fn new(subscriber: Subscriber, subscription: String) -> Self {
        Receiver {
            subscriber,
            subscription,
            stream: None,
            held: HashMap::new(),
            stale: HashSet::new(),
            stale_order: VecDeque::new(),
            next_receipt: 0,
            purged_before: None,
        }
    }

    /// Up to `max` messages, listening up to `wait` for the first one. `lease` is the
    /// stream's `max_lease` (and, clamped to 10..=600 s, its ack deadline extension): a
    /// stream's lease is fixed when it opens, so another lease reopens it, which is only
    /// possible while no receipt of the old stream is outstanding.
    pub(super) async fn receive(
        &mut self,
        max: u32,
        lease: Duration,
        wait: Duration,
    ) -> Result<Vec<QueueMessage>> {
        let purged_before = self.purged_before;
        let stream = self.stream_with(lease)?;
        let mut batch = Vec::new();
        let deadline = tokio::time::Instant::now() + wait;
        while batch.len() < max as usize {
            let until = if batch.is_empty() {
                deadline
            } else {
                tokio::time::Instant::now() + GATHER_WINDOW
            };
            match tokio::time::timeout_at(until, stream.deliveries.recv()).await {
                Err(_) => break,
                Ok(Some(Ok((message, handler))))
                    if purged_before.is_some_and(|at| publish_time(&message) < at) =>
                {
                    handler.ack()
                }
                Ok(Some(Ok(delivery))) => batch.push(delivery),
                Ok(Some(Err(e))) => {
                    self.stream = None;
                    return Err(map_gcp_error("pubsub.subscriptions.consume", None, e));
                }
                Ok(None) => {
                    self.stream = None;
                    break;
                }
            }
        }
        Ok(batch
            .into_iter()
            .map(|(message, handler)| self.hold(message, handler))
            .collect())
    }

    /// Acks (`ack`) or nacks the message of `receipt`. An unknown receipt is one whose
    /// message was already acked or nacked: success, as the trait asks. A receipt superseded
    /// by a redelivery is `StaleReceipt`.
    pub(super) fn settle(&mut self, receipt: &ReceiptHandle, ack: bool) -> Result<()> {
        match self.held.remove(receipt.as_str()) {
            Some((_, handler)) if ack => handler.ack(),
            Some((_, handler)) => handler.nack(),
            None if self.stale.contains(receipt.as_str()) => {
                return Err(ProviderError::stale_receipt(message_of(receipt)));
            }
            None => {}
        }
        Ok(())
    }

    /// After a `Seek` to `at`: forgets every receipt and acks, unseen, whatever the open
    /// stream had already buffered from before `at`. The stream stays open: a closing
    /// stream's messages stay leased by the server until their ack deadline passes.
    pub(super) fn purged(&mut self, at: DateTime<Utc>) {
        self.held.clear();
        self.purged_before = Some(at);
    }

    fn stream_with(&mut self, lease: Duration) -> Result<&mut Feed> {
        if self.stream.as_ref().is_some_and(|feed| feed.lease != lease) {
            if !self.held.is_empty() {
                return Err(ProviderError::unsupported(format!(
                    "the Pub/Sub streaming subscriber fixes the lease per stream: this queue's \
                     stream leases for {} s and {} receipt(s) of it are outstanding; ack or \
                     nack them before receiving with another lease",
                    self.stream.as_ref().map_or(0, |feed| feed.lease.as_secs()),
                    self.held.len()
                )));
            }
            self.stream = None;
        }
        Ok(self.stream.get_or_insert_with(|| {
            let stream = self
                .subscriber
                .subscribe(self.subscription.clone())
                .set_max_lease(lease)
                .set_max_lease_extension(lease)
                .set_max_outstanding_messages(i64::from(MAX_RECEIVE_BATCH))
                .set_shutdown_behavior(ShutdownBehavior::NackImmediately)
                .build();
            Feed::start(stream, lease)
        }))
    }

    /// Issues a receipt for a delivery; earlier receipts of the same message become stale.
    fn hold(&mut self, message: Message, handler: Handler) -> QueueMessage {
        let id = MessageId::new(message.message_id.clone());
        let superseded: Vec<String> = self
            .held
            .iter()
            .filter(|(_, (held, _))| *held == id)
            .map(|(receipt, _)| receipt.clone())
            .collect();
        for receipt in superseded {
            self.held.remove(&receipt);
            self.remember_stale(receipt);
        }
        self.next_receipt += 1;
        let receipt = format!("{}#{}", message.message_id, self.next_receipt);
        let attempt = handler
            .delivery_attempt()
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(1);
        self.held.insert(receipt.clone(), (id, handler));
        to_queue_message(message, ReceiptHandle::new(receipt), attempt)
    }

    fn remember_stale(&mut self, receipt: String) {
        if self.stale_order.len() == REMEMBERED_STALE
            && let Some(oldest) = self.stale_order.pop_front()
        {
            self.stale.remove(&oldest);
        }
        self.stale.insert(receipt.clone());
        self.stale_order.push_back(receipt);
    }
}

/// The message id inside a receipt `{message_id}#{n}`.
fn message_of(receipt: &ReceiptHandle) -> &str {
    receipt
        .as_str()
        .rsplit_once('#')
        .map_or(receipt.as_str(), |(id, _)| id)
}

/// `data` as a payload (JSON if it parses, else text; not UTF-8 → text with U+FFFD),
/// `publish_time` as `enqueued_at` (the Unix epoch when absent), the message attributes.
pub(super) fn to_queue_message(
    message: Message,
    receipt: ReceiptHandle,
    attempt: u32,
) -> QueueMessage {
    let enqueued_at = publish_time(&message);
    QueueMessage {
        id: MessageId::new(message.message_id),
        payload: Payload::from_body(&String::from_utf8_lossy(&message.data)),
        receipt,
        attempt,
        enqueued_at,
        attributes: message.attributes.into_iter().collect(),
    }
}

/// The message's publish time; the Unix epoch when absent.
fn publish_time(message: &Message) -> DateTime<Utc> {
    message
        .publish_time
        .as_ref()
        .and_then(|t| DateTime::<Utc>::from_timestamp(t.seconds(), t.nanos().max(0) as u32))
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    // upstream-cloud-semantics.md §4.1: Pub/Sub's binding reports attempt 1; the
    // publish time is when the topic accepted the message (PubsubMessage reference).
    #[test]
    fn message_fields_map_to_the_queue_message() {
        let message: Message = serde_json::from_value(serde_json::json!({
            "data": "eyJqb2IiOjF9",
            "attributes": {"k": "v"},
            "messageId": "42",
            "publishTime": "2026-01-01T00:00:00.5Z"
        }))
        .expect("a valid PubsubMessage");
        let queued = to_queue_message(message, ReceiptHandle::new("42#1"), 1);
        assert_eq!(queued.id.as_str(), "42");
        assert_eq!(queued.payload, Payload::Json(serde_json::json!({"job": 1})));
        assert_eq!(queued.attempt, 1);
        assert_eq!(
            queued.enqueued_at.to_rfc3339(),
            "2026-01-01T00:00:00.500+00:00"
        );
        assert_eq!(queued.attributes.get("k").map(String::as_str), Some("v"));
    }

    #[test]
    fn receipt_names_its_message() {
        assert_eq!(message_of(&ReceiptHandle::new("17#3")), "17");
        assert_eq!(message_of(&ReceiptHandle::new("odd")), "odd");
    }
}
