//! SQS: queues provisioned as upstream does on AWS, and [`QueueProvider`] over them.
//!
//! Operation mapping per published-3.3.49.md §0 ("SQS provider" row) and
//! upstream-runtime-and-bindings.md §3.4: send = `SendMessage` after upstream's 64 KiB
//! client-side check, receive = `ReceiveMessage` (attempt = `ApproximateReceiveCount`), ack =
//! `DeleteMessage`, nack = `ChangeMessageVisibility` 0, renew = `ChangeMessageVisibility` n.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, Message, MessageSystemAttributeName,
    QueueAttributeName, SendMessageBatchRequestEntry,
};
use chrono::{DateTime, Utc};

use super::clients::AwsClients;
use super::error::{map_error_code, map_sdk_error};
use super::notifications::{S3Body, classify_s3_json};
use crate::error::{ErrorKind, ProviderError, Result};
use crate::limits::MAX_MESSAGE_BYTES;
use crate::queue::{QueueAttributes, QueueMessage, QueueProvider, ReceiveOptions, SendOutcome};
use crate::types::{MessageId, Payload, ReceiptHandle};
use crate::validate::{validate_message_size, validate_receive_batch, validate_renew_duration};

/// Visibility timeout of a queue no worker consumes, and the formula's floor
/// (upstream-cloud-semantics.md, AWS queue row).
const MIN_VISIBILITY_SECONDS: u64 = 30;
/// The formula's ceiling: SQS's 12-hour maximum (same source).
const MAX_VISIBILITY_SECONDS: u64 = 43_200;
/// Multiplier applied to the longest consuming worker's timeout (same source).
const VISIBILITY_PER_WORKER_SECOND: u64 = 6;
/// Longest `WaitTimeSeconds` SQS accepts. \[platform knowledge\]
const MAX_WAIT_SECONDS: u64 = 20;
/// Most entries in one SQS batch call. \[platform knowledge\]
const BATCH_ENTRIES: usize = 10;
/// Batch payload cap: SQS's limit before the 2025 raise to 1 MiB, which peers may still
/// enforce; staying under it is valid today too. \[platform knowledge\]
const BATCH_BYTES: usize = 262_144;

/// How to provision a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    /// Queue name; upstream names it `{prefix}-{id}` (upstream-cloud-semantics.md).
    pub name: String,
    /// The queue's `VisibilityTimeout` (whole seconds).
    pub visibility_timeout: Duration,
    /// The queue's `MaximumMessageSize`; `None` keeps the SQS default.
    pub max_message_bytes: Option<u64>,
    /// With a value: a dead-letter queue `{name}-dlq` and a `RedrivePolicy` with this
    /// `maxReceiveCount` (upstream provisions none; this is for tests of redrive).
    pub max_receive_count: Option<u32>,
}

impl QueueSpec {
    /// Upstream's queue for workers with these timeouts: visibility
    /// `max(30, min(43200, 6 × longest timeout))`, 30 s when no worker consumes it
    /// (upstream-cloud-semantics.md, AWS queue row); all else at provider defaults.
    pub fn for_workers(name: &str, worker_timeouts_seconds: &[u32]) -> QueueSpec {
        let seconds =
            worker_timeouts_seconds
                .iter()
                .max()
                .map_or(MIN_VISIBILITY_SECONDS, |&longest| {
                    (VISIBILITY_PER_WORKER_SECOND * u64::from(longest))
                        .clamp(MIN_VISIBILITY_SECONDS, MAX_VISIBILITY_SECONDS)
                });
        QueueSpec {
            name: name.to_owned(),
            visibility_timeout: Duration::from_secs(seconds),
            max_message_bytes: None,
            max_receive_count: None,
        }
    }
}

/// An SQS queue, with its dead-letter queue when it was provisioned with one.
///
/// Known differences from the trait's contract, all SQS behaviour \[platform knowledge\]:
/// `DeleteMessage` with a superseded receipt succeeds without deleting, so a stale `ack` is
/// not reported; `nack` of an already deleted message fails with `StaleReceipt` instead of
/// succeeding; counts in [`QueueProvider::attributes`] are approximate and lag.
#[derive(Debug, Clone)]
pub struct AwsQueue {
    sqs: aws_sdk_sqs::Client,
    url: String,
    dead_letter_url: Option<String>,
    /// Upstream's binding checks a message against 64 KiB before it calls SQS
    /// (published-3.3.49.md §11); `None` leaves the size to the service.
    binding_limit: Option<usize>,
}

impl AwsClients {
    /// Provisions a queue as upstream does on AWS (`CreateQueue` with `VisibilityTimeout`);
    /// with `max_receive_count` first a dead-letter queue `{name}-dlq` and a `RedrivePolicy`
    /// pointing at it. Creating an existing queue with the same attributes returns it.
    pub async fn create_queue(&self, spec: &QueueSpec) -> Result<AwsQueue> {
        let mut dead_letter = None;
        let mut create = self.sqs.create_queue().queue_name(&spec.name).attributes(
            QueueAttributeName::VisibilityTimeout,
            spec.visibility_timeout.as_secs().to_string(),
        );
        if let Some(bytes) = spec.max_message_bytes {
            create = create.attributes(QueueAttributeName::MaximumMessageSize, bytes.to_string());
        }
        if let Some(max_receive_count) = spec.max_receive_count {
            let url = self
                .create_plain_queue(&format!("{}-dlq", spec.name))
                .await?;
            let policy = serde_json::json!({
                "deadLetterTargetArn": self.queue_arn(&url).await?,
                "maxReceiveCount": max_receive_count,
            });
            create = create.attributes(QueueAttributeName::RedrivePolicy, policy.to_string());
            dead_letter = Some(url);
        }
        let output = create
            .send()
            .await
            .map_err(|e| map_sdk_error("sqs:CreateQueue", None, e))?;
        Ok(AwsQueue {
            sqs: self.sqs.clone(),
            url: output.queue_url.unwrap_or_default(),
            dead_letter_url: dead_letter,
            binding_limit: Some(MAX_MESSAGE_BYTES),
        })
    }

    /// Deletes the queue and its dead-letter queue.
    pub async fn delete_queue(&self, queue: &AwsQueue) -> Result<()> {
        for url in std::iter::once(&queue.url).chain(&queue.dead_letter_url) {
            self.sqs
                .delete_queue()
                .queue_url(url)
                .send()
                .await
                .map_err(|e| map_sdk_error("sqs:DeleteQueue", None, e))?;
        }
        Ok(())
    }

    async fn create_plain_queue(&self, name: &str) -> Result<String> {
        let output = self
            .sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .map_err(|e| map_sdk_error("sqs:CreateQueue", None, e))?;
        Ok(output.queue_url.unwrap_or_default())
    }

    pub(super) async fn queue_arn(&self, url: &str) -> Result<String> {
        let output = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| map_sdk_error("sqs:GetQueueAttributes", None, e))?;
        output
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .ok_or_else(|| {
                ProviderError::new(ErrorKind::Internal, format!("queue {url} has no QueueArn"))
            })
    }
}

impl AwsQueue {
    /// The same queue reached as the SQS API is, without the binding's 64 KiB check: sizes
    /// are the service's to accept or reject (what conformance compares).
    pub fn service_api(mut self) -> AwsQueue {
        self.binding_limit = None;
        self
    }

    /// The binding's size check when there is one; the body's size either way.
    fn check_size(&self, payload: &Payload) -> Result<usize> {
        match self.binding_limit {
            Some(limit) => validate_message_size(payload, limit),
            None => Ok(payload.serialized_len()),
        }
    }

    /// The queue URL (what upstream's `sqs{queueUrl}` binding carries).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The dead-letter queue's URL, when there is one.
    pub fn dead_letter_url(&self) -> Option<&str> {
        self.dead_letter_url.as_deref()
    }

    /// The messages in the dead-letter queue, left in place: each is received, then made
    /// visible again. Empty when the queue has no dead-letter queue. `attempt` is the
    /// `ApproximateReceiveCount` this receive sees: SQS keeps the count when it moves a
    /// message and counts "the number of times a message has been received across all
    /// queues" (SQS API reference, ReceiveMessage), so it includes this receive.
    pub async fn dead_letters(&self) -> Result<Vec<QueueMessage>> {
        let Some(url) = &self.dead_letter_url else {
            return Ok(Vec::new());
        };
        let mut seen: Vec<QueueMessage> = Vec::new();
        loop {
            // A 1 s long poll asks every SQS host, so an empty answer means an empty queue.
            let options = ReceiveOptions::new(10).with_wait(Duration::from_secs(1));
            let batch = receive_from(&self.sqs, url, options).await?;
            let fresh: Vec<_> = batch
                .into_iter()
                .filter(|m| seen.iter().all(|s| s.id != m.id))
                .collect();
            if fresh.is_empty() {
                break;
            }
            seen.extend(fresh);
        }
        for chunk in seen.chunks(BATCH_ENTRIES) {
            self.release(url, chunk).await?;
        }
        Ok(seen)
    }

    /// Makes `messages` visible again. A failed entry only stays hidden until its visibility
    /// timeout ends, so entry failures are not errors.
    async fn release(&self, url: &str, messages: &[QueueMessage]) -> Result<()> {
        let mut call = self.sqs.change_message_visibility_batch().queue_url(url);
        for (index, message) in messages.iter().enumerate() {
            let entry = ChangeMessageVisibilityBatchRequestEntry::builder()
                .id(index.to_string())
                .receipt_handle(message.receipt.as_str())
                .visibility_timeout(0)
                .build()
                .map_err(|e| ProviderError::new(ErrorKind::Internal, e.to_string()))?;
            call = call.entries(entry);
        }
        call.send()
            .await
            .map_err(|e| map_sdk_error("sqs:ChangeMessageVisibility", None, e))?;
        Ok(())
    }

    /// Sends one chunk with `SendMessageBatch`, filling `outcomes` at the chunk's indices.
    async fn send_chunk(&self, chunk: &[(usize, String)], outcomes: &mut [Option<SendOutcome>]) {
        let mut call = self.sqs.send_message_batch().queue_url(&self.url);
        for (index, body) in chunk {
            match SendMessageBatchRequestEntry::builder()
                .id(index.to_string())
                .message_body(body)
                .build()
            {
                Ok(entry) => call = call.entries(entry),
                Err(e) => {
                    let err = ProviderError::new(ErrorKind::Internal, e.to_string());
                    outcomes[*index] = Some(SendOutcome::Rejected(err));
                }
            }
        }
        let output = match call.send().await {
            Ok(output) => output,
            Err(e) => {
                let bytes = chunk.iter().map(|(_, body)| body.len() as u64).sum();
                let err = map_sdk_error("sqs:SendMessage", Some(bytes), e);
                for (index, _) in chunk {
                    outcomes[*index] = Some(SendOutcome::from_send(Err(err.clone())));
                }
                return;
            }
        };
        let len = outcomes.len();
        let slot = |id: &str| id.parse::<usize>().ok().filter(|i| *i < len);
        for sent in output.successful {
            if let Some(index) = slot(&sent.id) {
                outcomes[index] = Some(SendOutcome::Sent(MessageId::new(sent.message_id)));
            }
        }
        for failed in output.failed {
            if let Some(index) = slot(&failed.id) {
                let bytes = chunk
                    .iter()
                    .find(|(i, _)| *i == index)
                    .map(|(_, body)| body.len() as u64);
                let text = failed.message.unwrap_or_default();
                let err = map_error_code("sqs:SendMessage", &failed.code, &text, bytes);
                outcomes[index] = Some(if failed.sender_fault {
                    SendOutcome::Rejected(err)
                } else {
                    SendOutcome::Unknown(err)
                });
            }
        }
    }

    async fn set_visibility(&self, receipt: &ReceiptHandle, seconds: i32) -> Result<()> {
        self.sqs
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt.as_str())
            .visibility_timeout(seconds)
            .send()
            .await
            .map_err(|e| map_sdk_error("sqs:ChangeMessageVisibility", None, e))?;
        Ok(())
    }

    async fn queue_attributes(&self, url: &str) -> Result<BTreeMap<String, String>> {
        let output = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .map_err(|e| map_sdk_error("sqs:GetQueueAttributes", None, e))?;
        Ok(output
            .attributes
            .unwrap_or_default()
            .into_iter()
            .map(|(name, value)| (name.as_str().to_owned(), value))
            .collect())
    }
}

impl QueueProvider for AwsQueue {
    /// Upstream's 64 KiB check first (upstream-cloud-semantics.md, max message size row),
    /// then `SendMessage`; the queue's own `MaximumMessageSize` still applies server-side.
    async fn send(&self, payload: Payload) -> Result<MessageId> {
        let size = self.check_size(&payload)?;
        let output = self
            .sqs
            .send_message()
            .queue_url(&self.url)
            .message_body(payload.to_body())
            .send()
            .await
            .map_err(|e| map_sdk_error("sqs:SendMessage", Some(size as u64), e))?;
        Ok(MessageId::new(output.message_id.unwrap_or_default()))
    }

    /// `SendMessageBatch` in chunks of at most 10 entries and 256 KiB; oversize payloads are
    /// rejected locally; a failed entry with `SenderFault` is `Rejected`, others `Unknown`.
    async fn send_batch(&self, payloads: Vec<Payload>) -> Result<Vec<SendOutcome>> {
        let mut outcomes: Vec<Option<SendOutcome>> = vec![None; payloads.len()];
        let mut chunk: Vec<(usize, String)> = Vec::new();
        let mut chunk_bytes = 0;
        for (index, payload) in payloads.iter().enumerate() {
            let size = match self.check_size(payload) {
                Ok(size) => size,
                Err(err) => {
                    outcomes[index] = Some(SendOutcome::Rejected(err));
                    continue;
                }
            };
            if chunk.len() == BATCH_ENTRIES || chunk_bytes + size > BATCH_BYTES {
                self.send_chunk(&chunk, &mut outcomes).await;
                chunk.clear();
                chunk_bytes = 0;
            }
            chunk.push((index, payload.to_body()));
            chunk_bytes += size;
        }
        if !chunk.is_empty() {
            self.send_chunk(&chunk, &mut outcomes).await;
        }
        Ok(outcomes
            .into_iter()
            .map(|outcome| {
                outcome.unwrap_or_else(|| {
                    SendOutcome::Unknown(ProviderError::new(
                        ErrorKind::Internal,
                        "sqs:SendMessage: SendMessageBatch did not report this entry",
                    ))
                })
            })
            .collect())
    }

    /// `ReceiveMessage`; `wait` is rounded up to whole seconds and capped at SQS's 20 s.
    /// `ReceiveMessage`, then S3 notifications normalised as upstream's SQS provider does
    /// (published-3.3.49.md §8): `s3:TestEvent` acked unseen, each record one StorageEvent
    /// message (records of one SQS message share its receipt), other bodies unchanged.
    async fn receive(&self, options: ReceiveOptions) -> Result<Vec<QueueMessage>> {
        validate_receive_batch(options.max_messages)?;
        let mut delivered = Vec::new();
        for message in receive_from(&self.sqs, &self.url, options).await? {
            // S3 notifications are JSON; a text body is never one.
            let kind = match &message.payload {
                Payload::Json(value) => classify_s3_json(value),
                Payload::Text(_) => S3Body::Other,
            };
            match kind {
                S3Body::TestEvent => self.ack(&message.receipt).await?,
                S3Body::Events(events) => {
                    delivered.extend(events.into_iter().map(|event| QueueMessage {
                        payload: Payload::Json(event),
                        ..message.clone()
                    }))
                }
                S3Body::Other => delivered.push(message),
            }
        }
        Ok(delivered)
    }

    async fn ack(&self, receipt: &ReceiptHandle) -> Result<()> {
        self.sqs
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt.as_str())
            .send()
            .await
            .map_err(|e| map_sdk_error("sqs:DeleteMessage", None, e))?;
        Ok(())
    }

    async fn nack(&self, receipt: &ReceiptHandle) -> Result<()> {
        self.set_visibility(receipt, 0).await
    }

    async fn change_visibility(&self, receipt: &ReceiptHandle, visible_in: Duration) -> Result<()> {
        validate_renew_duration(visible_in)?;
        self.set_visibility(receipt, whole_seconds(visible_in))
            .await
    }

    async fn purge(&self) -> Result<()> {
        self.sqs
            .purge_queue()
            .queue_url(&self.url)
            .send()
            .await
            .map_err(|e| map_sdk_error("sqs:PurgeQueue", None, e))?;
        Ok(())
    }

    /// `GetQueueAttributes`. `max_message_bytes` is the smaller of the queue's
    /// `MaximumMessageSize` and the 64 KiB that `send` enforces.
    async fn attributes(&self) -> Result<QueueAttributes> {
        let attributes = self.queue_attributes(&self.url).await?;
        let number = |name: &str| {
            attributes
                .get(name)
                .and_then(|value| value.parse::<u64>().ok())
        };
        let dead_letter_count = match &self.dead_letter_url {
            Some(url) => {
                let dead = self.queue_attributes(url).await?;
                let count = |name: &str| dead.get(name).and_then(|v| v.parse::<u64>().ok());
                Some(
                    count("ApproximateNumberOfMessages").unwrap_or(0)
                        + count("ApproximateNumberOfMessagesNotVisible").unwrap_or(0),
                )
            }
            None => None,
        };
        let limit = self.binding_limit.map_or(u64::MAX, |limit| limit as u64);
        Ok(QueueAttributes {
            approximate_visible: number("ApproximateNumberOfMessages").unwrap_or(0),
            approximate_in_flight: number("ApproximateNumberOfMessagesNotVisible").unwrap_or(0),
            approximate_delayed: number("ApproximateNumberOfMessagesDelayed").unwrap_or(0),
            visibility_timeout: Duration::from_secs(
                number("VisibilityTimeout").unwrap_or(MIN_VISIBILITY_SECONDS),
            ),
            retention: number("MessageRetentionPeriod").map(Duration::from_secs),
            max_message_bytes: number("MaximumMessageSize").map_or(limit, |max| max.min(limit)),
            dead_letter_count,
        })
    }
}

/// One `ReceiveMessage` call on `url` asking for the system attributes the trait reports.
async fn receive_from(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    options: ReceiveOptions,
) -> Result<Vec<QueueMessage>> {
    let wait = options
        .wait
        .map_or(0, |wait| whole_seconds(wait).min(MAX_WAIT_SECONDS as i32));
    let mut call = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(i32::try_from(options.max_messages).unwrap_or(i32::MAX))
        .wait_time_seconds(wait)
        .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
        .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp);
    if let Some(lease) = options.lease {
        call = call.visibility_timeout(whole_seconds(lease));
    }
    let output = call
        .send()
        .await
        .map_err(|e| map_sdk_error("sqs:ReceiveMessage", None, e))?;
    Ok(output
        .messages
        .unwrap_or_default()
        .into_iter()
        .map(to_queue_message)
        .collect())
}

/// `attempt` from `ApproximateReceiveCount` (1 if absent), `enqueued_at` from
/// `SentTimestamp` (epoch milliseconds; the Unix epoch if absent).
fn to_queue_message(message: Message) -> QueueMessage {
    let attributes: BTreeMap<String, String> = message
        .attributes
        .unwrap_or_default()
        .into_iter()
        .map(|(name, value)| (name.as_str().to_owned(), value))
        .collect();
    let attempt = attributes
        .get("ApproximateReceiveCount")
        .and_then(|count| count.parse().ok())
        .unwrap_or(1);
    let enqueued_at = attributes
        .get("SentTimestamp")
        .and_then(|millis| millis.parse().ok())
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    QueueMessage {
        id: MessageId::new(message.message_id.unwrap_or_default()),
        payload: Payload::from_body(message.body.as_deref().unwrap_or_default()),
        receipt: ReceiptHandle::new(message.receipt_handle.unwrap_or_default()),
        attempt,
        enqueued_at,
        attributes,
    }
}

/// `duration` in whole seconds, rounded up, as SQS's `i32` fields take it.
fn whole_seconds(duration: Duration) -> i32 {
    let seconds = duration.as_millis().div_ceil(1000);
    i32::try_from(seconds).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visibility(timeouts: &[u32]) -> u64 {
        QueueSpec::for_workers("q", timeouts)
            .visibility_timeout
            .as_secs()
    }

    // upstream-cloud-semantics.md (AWS queue row): max(30, min(43200, 6 × max timeout)).
    #[test]
    fn visibility_follows_upstreams_formula() {
        assert_eq!(visibility(&[1]), 30);
        assert_eq!(visibility(&[5]), 30);
        assert_eq!(visibility(&[180]), 1_080);
        assert_eq!(visibility(&[3_600]), 21_600);
        assert_eq!(visibility(&[7_200]), 43_200);
        assert_eq!(visibility(&[u32::MAX]), 43_200);
    }

    // Same row: the longest timeout among the consuming workers counts.
    #[test]
    fn visibility_uses_the_longest_worker_timeout() {
        assert_eq!(visibility(&[5, 180, 60]), 1_080);
    }

    // Same row: "30 if untriggered".
    #[test]
    fn queue_without_workers_gets_30_seconds() {
        let spec = QueueSpec::for_workers("jobs", &[]);
        assert_eq!(
            spec,
            QueueSpec {
                name: "jobs".into(),
                visibility_timeout: Duration::from_secs(30),
                max_message_bytes: None,
                max_receive_count: None,
            }
        );
    }

    // published-3.3.49.md §0: attempt is ApproximateReceiveCount.
    #[test]
    fn received_message_reads_system_attributes() {
        let message = Message::builder()
            .message_id("m-1")
            .receipt_handle("r-1")
            .body(r#"{"job":1}"#)
            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "3")
            .attributes(MessageSystemAttributeName::SentTimestamp, "1767225600000")
            .build();
        let received = to_queue_message(message);
        assert_eq!(received.attempt, 3);
        assert_eq!(
            received.enqueued_at.to_rfc3339(),
            "2026-01-01T00:00:00+00:00"
        );
        assert_eq!(
            received.payload,
            Payload::Json(serde_json::json!({"job": 1}))
        );
        assert_eq!(
            received
                .attributes
                .get("ApproximateReceiveCount")
                .map(String::as_str),
            Some("3")
        );
    }

    #[test]
    fn durations_round_up_to_whole_seconds() {
        assert_eq!(whole_seconds(Duration::ZERO), 0);
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds(Duration::from_secs(600)), 600);
    }
}
