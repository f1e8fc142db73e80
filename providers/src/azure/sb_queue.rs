//! [`QueueProvider`] over one Service Bus queue with peek-lock receives.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use azure_core::http::Method;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::clients::ServiceBusHandle;
use super::sb_admin::{MANAGEMENT_API_VERSION, QueueDescription};
use super::sb_error::ServiceBusOp;
use super::sb_rest::SbResponse;
use crate::error::{ProviderError, Result};
use crate::limits::MAX_MESSAGE_BYTES;
use crate::queue::{QueueAttributes, QueueMessage, QueueProvider, ReceiveOptions};
use crate::types::{MessageId, Payload, ReceiptHandle};
use crate::validate::{validate_message_size, validate_receive_batch, validate_renew_duration};

/// Most dead-lettered messages [`ServiceBusQueue::dead_letters`] reads in one call.
const MAX_DEAD_LETTERS: usize = 1000;

/// A Service Bus queue. `receive` peek-locks one message per REST call (the REST API has no
/// batch receive); the receipt is the lock URI from the answer's `Location` header, so
/// `ack` = Delete Message (complete), `nack` = Unlock Message (abandon, as upstream's binding
/// does, upstream-cloud-semantics.md §4.1) and `change_visibility` = Renew-Lock.
///
/// Deviations, all from Service Bus itself: a lock always lasts the queue's `LockDuration`,
/// so a receive `lease` or a `change_visibility` duration other than that is
/// [`crate::ErrorKind::Unsupported`]; a settled or expired lock answers 404, which is
/// [`crate::ErrorKind::StaleReceipt`] for ack and nack alike (Service Bus cannot tell "already
/// completed" from "lock lost").
#[derive(Clone)]
pub struct ServiceBusQueue {
    sb: ServiceBusHandle,
    name: String,
    lock_duration: Duration,
}

/// The `BrokerProperties` header of a peek-locked message ("Peek-Lock Message", Microsoft
/// Learn): JSON with `DeliveryCount`, `LockToken`, `SequenceNumber`, `MessageId`,
/// `EnqueuedTimeUtc` and `LockedUntilUtc` (RFC 1123 dates).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BrokerProperties {
    delivery_count: u32,
    lock_token: String,
    sequence_number: i64,
    message_id: Option<String>,
    enqueued_time_utc: Option<String>,
    locked_until_utc: Option<String>,
}

impl ServiceBusQueue {
    pub(super) fn new(sb: ServiceBusHandle, name: &str, lock_duration: Duration) -> Self {
        ServiceBusQueue {
            sb,
            name: name.to_owned(),
            lock_duration,
        }
    }

    /// The queue name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The lock duration every receive gets.
    pub fn lock_duration(&self) -> Duration {
        self.lock_duration
    }

    /// The messages in `{queue}/$DeadLetterQueue` (at most 1000). Service Bus REST has no
    /// browse, so each is peek-locked once and then unlocked again: the messages stay in the
    /// dead-letter queue and the returned receipts are already released.
    pub async fn dead_letters(&self) -> Result<Vec<QueueMessage>> {
        let path = format!("{}/$DeadLetterQueue", self.name);
        let mut messages = Vec::new();
        while messages.len() < MAX_DEAD_LETTERS {
            match self.peek_lock(&path, 0).await? {
                Some(message) => messages.push(message),
                None => break,
            }
        }
        for message in &messages {
            self.settle("UnlockMessage", Method::Put, &message.receipt)
                .await?;
        }
        Ok(messages)
    }

    /// Get Entity on the management API.
    pub(super) async fn describe_with(
        sb: &ServiceBusHandle,
        name: &str,
    ) -> Result<QueueDescription> {
        let url = sb.url(name, &[("api-version", MANAGEMENT_API_VERSION)])?;
        let response = sb
            .call(
                "GetQueue",
                &ServiceBusOp::Manage,
                Method::Get,
                url,
                &[],
                None,
            )
            .await?;
        Ok(QueueDescription::parse(&String::from_utf8_lossy(
            &response.body,
        )))
    }

    /// One Peek-Lock Message on `path` waiting up to `timeout_secs`; `None` on 204.
    async fn peek_lock(&self, path: &str, timeout_secs: u64) -> Result<Option<QueueMessage>> {
        let timeout = timeout_secs.to_string();
        let url = self
            .sb
            .url(&format!("{path}/messages/head"), &[("timeout", &timeout)])?;
        let response = self
            .sb
            .call(
                "PeekLockMessage",
                &ServiceBusOp::Receive,
                Method::Post,
                url,
                &[],
                None,
            )
            .await?;
        if response.status == 204 {
            return Ok(None);
        }
        self.to_message(path, response).map(Some)
    }

    fn to_message(&self, path: &str, response: SbResponse) -> Result<QueueMessage> {
        let header = |name| {
            response
                .headers
                .get_optional_str(&azure_core::http::headers::HeaderName::from_static(name))
                .map(str::to_owned)
        };
        let raw = header("brokerproperties").ok_or_else(|| {
            ProviderError::new(
                crate::ErrorKind::Internal,
                "PeekLockMessage: answer has no BrokerProperties",
            )
        })?;
        let props: BrokerProperties = serde_json::from_str(&raw).map_err(|e| {
            ProviderError::new(
                crate::ErrorKind::Internal,
                "PeekLockMessage: unreadable BrokerProperties",
            )
            .with_source(e)
        })?;
        let receipt = header("location").unwrap_or_else(|| {
            format!(
                "{}/{path}/messages/{}/{}",
                self.sb.config.endpoint, props.sequence_number, props.lock_token
            )
        });
        let mut attributes = BTreeMap::from([
            ("DeliveryCount".to_owned(), props.delivery_count.to_string()),
            ("LockToken".to_owned(), props.lock_token.clone()),
            (
                "SequenceNumber".to_owned(),
                props.sequence_number.to_string(),
            ),
        ]);
        if let Some(until) = &props.locked_until_utc {
            attributes.insert("LockedUntilUtc".to_owned(), until.clone());
        }
        Ok(QueueMessage {
            id: MessageId::new(
                props
                    .message_id
                    .unwrap_or_else(|| props.sequence_number.to_string()),
            ),
            payload: Payload::from_body(&String::from_utf8_lossy(&response.body)),
            receipt: ReceiptHandle::new(receipt),
            attempt: props.delivery_count.max(1),
            enqueued_at: props
                .enqueued_time_utc
                .and_then(|t| DateTime::parse_from_rfc2822(&t).ok())
                .map_or(DateTime::<Utc>::UNIX_EPOCH, |t| t.with_timezone(&Utc)),
            attributes,
        })
    }

    /// Sends `method` to the lock URI of `receipt` after checking it belongs to this queue
    /// (so the SAS token never goes to another host).
    async fn settle(&self, action: &str, method: Method, receipt: &ReceiptHandle) -> Result<()> {
        let prefix = format!("{}/{}/", self.sb.config.endpoint, self.name).to_ascii_lowercase();
        let lock = receipt.as_str();
        if !lock.to_ascii_lowercase().starts_with(&prefix) {
            return Err(ProviderError::invalid_argument(format!(
                "receipt '{lock}' is not a lock URI of queue '{}'",
                self.name
            )));
        }
        let url = azure_core::http::Url::parse(lock).map_err(|e| {
            ProviderError::invalid_argument(format!("receipt '{lock}' is not a URI")).with_source(e)
        })?;
        let message = lock.rsplit('/').nth(1).unwrap_or_default().to_owned();
        self.sb
            .call(
                action,
                &ServiceBusOp::Settle { message },
                method,
                url,
                &[],
                None,
            )
            .await
            .map(drop)
    }
}

impl QueueProvider for ServiceBusQueue {
    /// Send Message with a client-generated `MessageId` in `BrokerProperties` (the REST answer
    /// carries none); the payload is capped at upstream's 64 KiB first.
    async fn send(&self, payload: Payload) -> Result<MessageId> {
        let bytes = validate_message_size(&payload, MAX_MESSAGE_BYTES)? as u64;
        let id = new_message_id();
        let content_type = match payload {
            Payload::Json(_) => "application/json",
            Payload::Text(_) => "text/plain;charset=utf-8",
        };
        let headers = [
            ("content-type", content_type.to_owned()),
            (
                "brokerproperties",
                serde_json::json!({ "MessageId": id }).to_string(),
            ),
        ];
        let url = self.sb.url(&format!("{}/messages", self.name), &[])?;
        self.sb
            .call(
                "SendMessage",
                &ServiceBusOp::Send { bytes },
                Method::Post,
                url,
                &headers,
                Some(payload.to_body().into_bytes()),
            )
            .await?;
        Ok(MessageId::new(id))
    }

    /// Up to `max_messages` Peek-Lock calls; the first waits `options.wait` (whole seconds,
    /// rounded up), the others return at once; stops at the first 204.
    async fn receive(&self, options: ReceiveOptions) -> Result<Vec<QueueMessage>> {
        validate_receive_batch(options.max_messages)?;
        if let Some(lease) = options.lease.filter(|l| *l != self.lock_duration) {
            return Err(ProviderError::unsupported(format!(
                "Service Bus locks a message for the queue's LockDuration ({} s); a lease of \
                 {} s cannot be requested per receive",
                self.lock_duration.as_secs_f64(),
                lease.as_secs_f64()
            )));
        }
        let mut wait = options
            .wait
            .map_or(0, |w| w.as_secs() + u64::from(w.subsec_nanos() > 0));
        let mut messages = Vec::new();
        while messages.len() < options.max_messages as usize {
            match self.peek_lock(&self.name, wait).await? {
                Some(message) => messages.push(message),
                None => break,
            }
            wait = 0;
        }
        Ok(messages)
    }

    /// Delete Message (complete) on the lock URI.
    async fn ack(&self, receipt: &ReceiptHandle) -> Result<()> {
        self.settle("DeleteMessage", Method::Delete, receipt).await
    }

    /// Unlock Message (abandon): visible again, DeliveryCount kept incremented.
    async fn nack(&self, receipt: &ReceiptHandle) -> Result<()> {
        self.settle("UnlockMessage", Method::Put, receipt).await
    }

    /// Renew-Lock when `visible_in` equals the queue's lock duration (a renewal always grants
    /// exactly that); any other duration is `Unsupported`.
    async fn change_visibility(&self, receipt: &ReceiptHandle, visible_in: Duration) -> Result<()> {
        validate_renew_duration(visible_in)?;
        if visible_in != self.lock_duration {
            return Err(ProviderError::unsupported(format!(
                "Service Bus renews a lock for the queue's LockDuration ({} s) only, not {} s",
                self.lock_duration.as_secs_f64(),
                visible_in.as_secs_f64()
            )));
        }
        self.settle("RenewLock", Method::Post, receipt).await
    }

    /// Receive and Delete Message until the queue answers 204. Locked messages are not
    /// visible to it, so they survive until their lock expires.
    async fn purge(&self) -> Result<()> {
        loop {
            let url = self
                .sb
                .url(&format!("{}/messages/head", self.name), &[("timeout", "0")])?;
            let response = self
                .sb
                .call(
                    "ReceiveAndDeleteMessage",
                    &ServiceBusOp::Receive,
                    Method::Delete,
                    url,
                    &[],
                    None,
                )
                .await?;
            if response.status == 204 {
                return Ok(());
            }
        }
    }

    /// Get Entity: `ActiveMessageCount` (locked messages included: Service Bus does not count
    /// them apart, so `approximate_in_flight` is 0), `ScheduledMessageCount`,
    /// `DeadLetterMessageCount`, `LockDuration`, `DefaultMessageTimeToLive`.
    async fn attributes(&self) -> Result<QueueAttributes> {
        let d = Self::describe_with(&self.sb, &self.name).await?;
        Ok(QueueAttributes {
            approximate_visible: d.active,
            approximate_in_flight: 0,
            approximate_delayed: d.scheduled,
            visibility_timeout: d.lock_duration,
            retention: d.default_ttl,
            max_message_bytes: d.max_message_bytes,
            dead_letter_count: Some(d.dead_letter),
        })
    }
}

impl std::fmt::Debug for ServiceBusQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceBusQueue")
            .field("endpoint", &self.sb.config.endpoint)
            .field("name", &self.name)
            .field("lock_duration", &self.lock_duration)
            .finish()
    }
}

/// A process-unique message id: time, process id and a counter.
fn new_message_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    format!(
        "{nanos:x}-{:x}-{:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}
