//! Queues: at-least-once delivery with leases (visibility timeouts) and receipts.
//!
//! Semantics follow upstream's `Queue` binding (upstream-runtime-and-bindings.md §3.3, §3.4)
//! and the 3.3.49 additions `send_batch` and renew (published-3.3.49.md §0, §4).

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{ErrorKind, ProviderError, Result};
use crate::types::{MessageId, Payload, ReceiptHandle};

/// What a `receive` call asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiveOptions {
    /// Most messages to return, 1..=10 ([`crate::validate::validate_receive_batch`]).
    pub max_messages: u32,
    /// Lease for the returned messages; `None` uses the queue's visibility timeout
    /// ([`QueueAttributes::visibility_timeout`]).
    pub lease: Option<Duration>,
    /// How long to wait for a message when none is visible; `None` returns at once.
    /// (Upstream's SQS provider long-polls 20 s, upstream-stack-and-limits.md §6.3.)
    pub wait: Option<Duration>,
}

impl ReceiveOptions {
    /// Up to `max_messages`, with the queue's lease and no waiting.
    pub fn new(max_messages: u32) -> Self {
        Self {
            max_messages,
            lease: None,
            wait: None,
        }
    }

    /// Overrides the lease for this receive.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = Some(lease);
        self
    }

    /// Waits up to `wait` for a message.
    pub fn with_wait(mut self, wait: Duration) -> Self {
        self.wait = Some(wait);
        self
    }
}

/// One delivery of a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueMessage {
    /// Stable id of the message (the same on every redelivery).
    pub id: MessageId,
    /// The body as sent.
    pub payload: Payload,
    /// Handle for this delivery; ack/nack/change_visibility take it.
    pub receipt: ReceiptHandle,
    /// Delivery count, 1-based: the first delivery is 1 (published-3.3.49.md §4.5).
    pub attempt: u32,
    /// When the message was accepted by the queue.
    pub enqueued_at: DateTime<Utc>,
    /// Provider attributes (e.g. SQS system attributes); empty when there are none.
    pub attributes: BTreeMap<String, String>,
}

/// Outcome of one entry of [`QueueProvider::send_batch`], mirroring upstream's
/// `QueueSendResult` (published-3.3.49.md §4.2).
#[derive(Debug, Clone)]
pub enum SendOutcome {
    /// Accepted by the queue.
    Sent(MessageId),
    /// Definitely not enqueued (e.g. too large).
    Rejected(ProviderError),
    /// Acceptance unknown (e.g. transport failure); the message may or may not be queued.
    Unknown(ProviderError),
}

impl SendOutcome {
    /// Classifies the result of a single send: validation failures are `Rejected`, any
    /// other failure leaves acceptance `Unknown`.
    pub fn from_send(result: Result<MessageId>) -> Self {
        match result {
            Ok(id) => Self::Sent(id),
            Err(err) => match err.kind {
                ErrorKind::PayloadTooLarge { .. } | ErrorKind::InvalidArgument => {
                    Self::Rejected(err)
                }
                _ => Self::Unknown(err),
            },
        }
    }
}

/// Queue configuration and approximate counts (SQS `GetQueueAttributes`; upstream's
/// `stats` operation, published-3.3.49.md §4.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueAttributes {
    /// Messages that a receive could return now.
    pub approximate_visible: u64,
    /// Messages leased by a receiver.
    pub approximate_in_flight: u64,
    /// Messages not yet visible for another reason (delayed sends).
    pub approximate_delayed: u64,
    /// Default lease of a receive.
    pub visibility_timeout: Duration,
    /// How long an unconsumed message is kept; `None` when kept forever (local queue).
    pub retention: Option<Duration>,
    /// Largest accepted message in bytes.
    pub max_message_bytes: u64,
    /// Messages in the dead-letter queue; `None` when the queue has none.
    pub dead_letter_count: Option<u64>,
}

/// A queue bound to one resource.
///
/// Receipts: `ack` and `nack` succeed for a receipt whose message is already gone
/// (idempotent) and fail with [`ErrorKind::StaleReceipt`] when the message was redelivered
/// under a newer receipt; `change_visibility` additionally fails once the lease has expired
/// (published-3.3.49.md §4.5).
pub trait QueueProvider: Send + Sync {
    /// Enqueues `payload`, visible immediately; returns the new message's id.
    fn send(&self, payload: Payload) -> impl Future<Output = Result<MessageId>> + Send;

    /// Enqueues several payloads; one outcome per input, in input order. The default sends
    /// them one at a time; adapters with a batch API (SQS `SendMessageBatch`) override it.
    fn send_batch(
        &self,
        payloads: Vec<Payload>,
    ) -> impl Future<Output = Result<Vec<SendOutcome>>> + Send {
        async move {
            let mut outcomes = Vec::with_capacity(payloads.len());
            for payload in payloads {
                outcomes.push(SendOutcome::from_send(self.send(payload).await));
            }
            Ok(outcomes)
        }
    }

    /// Leases up to `options.max_messages` visible messages, oldest first where the target
    /// orders them; may return fewer, or none.
    fn receive(
        &self,
        options: ReceiveOptions,
    ) -> impl Future<Output = Result<Vec<QueueMessage>>> + Send;

    /// Deletes the message of `receipt`.
    fn ack(&self, receipt: &ReceiptHandle) -> impl Future<Output = Result<()>> + Send;

    /// Ends the lease of `receipt` now: the message becomes visible again, its attempt count
    /// kept.
    fn nack(&self, receipt: &ReceiptHandle) -> impl Future<Output = Result<()>> + Send;

    /// Replaces the remaining lease of `receipt` with `visible_in` (1 s..=600 s,
    /// [`crate::validate::validate_renew_duration`]); may shorten it.
    fn change_visibility(
        &self,
        receipt: &ReceiptHandle,
        visible_in: Duration,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Deletes every message, leased or not.
    fn purge(&self) -> impl Future<Output = Result<()>> + Send;

    /// Configuration and approximate counts.
    fn attributes(&self) -> impl Future<Output = Result<QueueAttributes>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_outcome_classifies_errors() {
        let sent = SendOutcome::from_send(Ok(MessageId::from("m1")));
        assert!(matches!(sent, SendOutcome::Sent(id) if id.as_str() == "m1"));

        let too_large = ProviderError::new(ErrorKind::PayloadTooLarge { size: 2, limit: 1 }, "");
        assert!(matches!(
            SendOutcome::from_send(Err(too_large)),
            SendOutcome::Rejected(_)
        ));
        assert!(matches!(
            SendOutcome::from_send(Err(ProviderError::invalid_argument(""))),
            SendOutcome::Rejected(_)
        ));

        let transport = ProviderError::new(ErrorKind::Unavailable, "connection reset");
        assert!(matches!(
            SendOutcome::from_send(Err(transport)),
            SendOutcome::Unknown(_)
        ));
    }

    #[test]
    fn receive_options_builders() {
        let options = ReceiveOptions::new(5)
            .with_lease(Duration::from_secs(60))
            .with_wait(Duration::from_secs(1));
        assert_eq!(options.max_messages, 5);
        assert_eq!(options.lease, Some(Duration::from_secs(60)));
        assert_eq!(options.wait, Some(Duration::from_secs(1)));
    }
}
