//! [`QueueProvider`] over a Pub/Sub topic and its pull subscription `{topic}-sub`.
//!
//! send = `Publish` after upstream's 64 KiB check (upstream-cloud-semantics.md §4.1, max
//! message size row); receive = the crate's `StreamingPull` (it has no unary `Pull`, see
//! [`super::receiver`]); ack = the handler's `Acknowledge`; nack = the handler's
//! `ModifyAckDeadline` 0 (§4.1, nack row); purge = `Seek` to now.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use google_cloud_pubsub::client::{Publisher, SubscriptionAdmin};
use google_cloud_pubsub::error::PublishError;
use google_cloud_pubsub::model::{Message, SeekRequest};
use tokio::sync::Mutex;

use super::config::PubSubClients;
use super::error::map_gcp_error;
use super::receiver::{NO_WAIT_WINDOW, Receiver};
use crate::error::{ErrorKind, ProviderError, Result};
use crate::queue::{QueueAttributes, QueueMessage, QueueProvider, ReceiveOptions, SendOutcome};
use crate::types::{MessageId, Payload, ReceiptHandle};
use crate::validate::{validate_message_size, validate_receive_batch, validate_renew_duration};

/// How long [`GcpQueue::dead_letters`] listens for the first dead letter.
const DEAD_LETTER_WAIT: Duration = Duration::from_secs(2);

/// A Pub/Sub topic with its pull subscription (and dead-letter subscription, if any).
///
/// Differences from the trait's contract, each forced by Pub/Sub or by google-cloud-pubsub
/// 1.7, which only offers streaming pull:
/// - **Receipts live in this process.** A receipt names an in-process handler of the
///   streaming subscriber; another process (or a clone of the clients) cannot ack it.
///   Clones of one `GcpQueue` share the receipts.
/// - **Leases are extended automatically.** The subscriber's lease loop keeps extending
///   the ack deadline of every message it holds until the stream's lease (`receive`'s
///   `lease`, default the subscription's ack deadline) has passed since the message
///   arrived; the server then redelivers it once the last extension runs out, so a lease
///   ends between `lease` and `lease` + max(10 s, `lease`) (extensions are clamped to
///   10..=600 s). The stream may also hold up to 10 messages it has not returned yet,
///   leased the same way.
/// - `wait: None` listens for [`NO_WAIT_WINDOW`] (1 s): a stream needs that long to
///   deliver what is already there.
/// - `change_visibility` is [`ErrorKind::Unsupported`]: the crate has no per-message
///   `ModifyAckDeadline`.
/// - `attributes` is [`ErrorKind::Unsupported`]: Pub/Sub has no message-count API (only
///   Cloud Monitoring's `num_undelivered_messages`, absent from the emulator).
/// - `attempt` is `deliveryAttempt` when the subscription has a dead-letter policy (the
///   only case where Pub/Sub fills it, Subscription reference), else 1, as upstream's
///   Pub/Sub binding reports (upstream-cloud-semantics.md §4.1).
/// - A stale `ack` is only detected for a receipt superseded by a redelivery this queue
///   received; the service's answer to an expired ack id is not visible through the
///   streaming subscriber (it sends acks in the background and drops their results).
#[derive(Debug, Clone)]
pub struct GcpQueue {
    topic: String,
    subscription: String,
    dead_letter_subscription: Option<String>,
    ack_deadline: Duration,
    publisher: Publisher,
    admin: SubscriptionAdmin,
    subscriber: google_cloud_pubsub::client::Subscriber,
    receiver: Arc<Mutex<Receiver>>,
    /// Upstream's binding checks a message against 64 KiB before it publishes
    /// (upstream-cloud-semantics.md §4.1); `None` leaves the size to the service (10 MB).
    binding_limit: Option<usize>,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}

impl GcpQueue {
    pub(super) fn new(
        pubsub: &PubSubClients,
        topic: String,
        subscription: String,
        dead_letter_subscription: Option<String>,
        ack_deadline: Duration,
        binding_limit: Option<usize>,
    ) -> Self {
        let receiver = Receiver::new(pubsub.subscriber.clone(), subscription.clone());
        GcpQueue {
            publisher: pubsub.publishers.publisher(topic.clone()).build(),
            admin: pubsub.subscriptions.clone(),
            subscriber: pubsub.subscriber.clone(),
            receiver: Arc::new(Mutex::new(receiver)),
            topic,
            subscription,
            dead_letter_subscription,
            ack_deadline,
            binding_limit,
        }
    }

    /// The same queue reached as the Pub/Sub API is, without the binding's 64 KiB check:
    /// sizes are the service's to accept or reject (10 MB per publish request).
    pub fn service_api(mut self) -> GcpQueue {
        self.binding_limit = None;
        self
    }

    /// `projects/{p}/topics/{name}`.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// `projects/{p}/subscriptions/{name}-sub`.
    pub fn subscription(&self) -> &str {
        &self.subscription
    }

    /// `projects/{p}/subscriptions/{name}-dlq-sub`, when the queue has a dead-letter topic.
    pub fn dead_letter_subscription(&self) -> Option<&str> {
        self.dead_letter_subscription.as_deref()
    }

    /// The messages on the dead-letter subscription, left there: each is received on a
    /// short-lived stream, then nacked. Empty when the queue has no dead-letter topic.
    /// `attempt` is 1: the dead-letter subscription has no dead-letter policy of its own;
    /// the delivery count at the time of dead-lettering is in the attribute
    /// `CloudPubSubDeadLetterSourceDeliveryCount` when the service sets it.
    pub async fn dead_letters(&self) -> Result<Vec<QueueMessage>> {
        let Some(subscription) = &self.dead_letter_subscription else {
            return Ok(Vec::new());
        };
        let mut receiver = Receiver::new(self.subscriber.clone(), subscription.clone());
        let mut seen: Vec<QueueMessage> = Vec::new();
        loop {
            let batch = receiver
                .receive(10, self.ack_deadline, DEAD_LETTER_WAIT)
                .await?;
            let fresh: Vec<_> = batch
                .into_iter()
                .filter(|m| seen.iter().all(|s| s.id != m.id))
                .collect();
            if fresh.is_empty() {
                break;
            }
            seen.extend(fresh);
        }
        for message in &seen {
            receiver.settle(&message.receipt, false)?;
        }
        Ok(seen)
    }

    fn check_size(&self, payload: &Payload) -> Result<usize> {
        match self.binding_limit {
            Some(limit) => validate_message_size(payload, limit),
            None => Ok(payload.serialized_len()),
        }
    }

    async fn publish(&self, payload: &Payload) -> Result<MessageId> {
        let size = self.check_size(payload)?;
        let message = Message::new().set_data(payload.to_body().into_bytes());
        self.publisher
            .publish(message)
            .await
            .map(MessageId::new)
            .map_err(|e| map_publish_error(e, size))
    }
}

impl QueueProvider for GcpQueue {
    async fn send(&self, payload: Payload) -> Result<MessageId> {
        self.publish(&payload).await
    }

    /// Publishes every payload at once; the publisher batches them into `Publish` calls.
    async fn send_batch(&self, payloads: Vec<Payload>) -> Result<Vec<SendOutcome>> {
        let results = join_all(payloads.iter().map(|payload| self.publish(payload))).await;
        Ok(results.into_iter().map(SendOutcome::from_send).collect())
    }

    async fn receive(&self, options: ReceiveOptions) -> Result<Vec<QueueMessage>> {
        validate_receive_batch(options.max_messages)?;
        let lease = options.lease.unwrap_or(self.ack_deadline);
        let wait = options.wait.unwrap_or(NO_WAIT_WINDOW);
        self.receiver
            .lock()
            .await
            .receive(options.max_messages, lease, wait)
            .await
    }

    async fn ack(&self, receipt: &ReceiptHandle) -> Result<()> {
        self.receiver.lock().await.settle(receipt, true)
    }

    async fn nack(&self, receipt: &ReceiptHandle) -> Result<()> {
        self.receiver.lock().await.settle(receipt, false)
    }

    async fn change_visibility(
        &self,
        _receipt: &ReceiptHandle,
        visible_in: Duration,
    ) -> Result<()> {
        validate_renew_duration(visible_in)?;
        Err(ProviderError::unsupported(
            "google-cloud-pubsub 1.7 has no per-message ModifyAckDeadline: its streaming \
             subscriber extends every held message's lease automatically until the stream's \
             max lease",
        ))
    }

    /// `Seek` the pull subscription to now (every message published before is acked); the
    /// stream's buffered messages from before are acked unseen.
    async fn purge(&self) -> Result<()> {
        let now = chrono::Utc::now();
        let request: SeekRequest = serde_json::from_value(serde_json::json!({
            "subscription": self.subscription,
            "time": now.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        }))
        .map_err(|e| ProviderError::new(ErrorKind::Internal, format!("SeekRequest: {e}")))?;
        self.admin
            .seek()
            .with_request(request)
            .send()
            .await
            .map_err(|e| map_gcp_error("pubsub.subscriptions.consume", None, e))?;
        self.receiver.lock().await.purged(now);
        Ok(())
    }

    async fn attributes(&self) -> Result<QueueAttributes> {
        Err(ProviderError::unsupported(
            "Pub/Sub has no API for message counts (only the Cloud Monitoring metric \
             subscription/num_undelivered_messages, which the emulator lacks)",
        ))
    }
}

/// A failed publish: the RPC's error through [`map_gcp_error`], or the publisher's own
/// state (shut down, ordering key paused) as `Unavailable`.
fn map_publish_error(err: PublishError, size: usize) -> ProviderError {
    match err {
        PublishError::Rpc(inner) => {
            map_gcp_error("pubsub.topics.publish", Some(size as u64), inner)
        }
        other => ProviderError::new(
            ErrorKind::Unavailable,
            format!("pubsub.topics.publish: {other}"),
        )
        .with_source(other),
    }
}
