//! Cloud Storage change notifications over Pub/Sub: the bucket's notification
//! configuration, and [`GcpStorage`]'s change feed read from its subscription.
//!
//! A notification message carries the attributes `bucketId`, `objectId`, `eventType`,
//! `eventTime`, `payloadFormat` (and `overwrittenByGeneration` on the `OBJECT_DELETE` of an
//! overwritten generation); with payload `JSON_API_V1` the body is the object resource
//! (cloud.google.com/storage/docs/pubsub-notifications). `OBJECT_FINALIZE` → created,
//! `OBJECT_DELETE` → deleted (upstream-cloud-semantics.md §5.2).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::config::GcpClients;
use super::gcs_json::encode;
use super::queue::GcpQueue;
use super::storage::GcpStorage;
use crate::error::{ErrorKind, ProviderError, Result};
use crate::limits::MAX_RECEIVE_BATCH;
use crate::queue::{QueueMessage, QueueProvider, ReceiveOptions};
use crate::storage::{ChangePage, StorageChange, StorageChangeKind};
use crate::types::{ChangeCursor, Payload, ReceiptHandle};

/// The event types the change feed turns into changes.
pub const NOTIFIED_EVENT_TYPES: [&str; 2] = ["OBJECT_FINALIZE", "OBJECT_DELETE"];

/// Ack deadline of a subscription made by [`GcpClients::subscribe_topic`] (Pub/Sub's
/// default, Subscription reference).
const SUBSCRIPTION_ACK_DEADLINE: Duration = Duration::from_secs(10);

impl GcpClients {
    /// Makes `storage`'s bucket publish `OBJECT_FINALIZE` and `OBJECT_DELETE` events of
    /// objects under `prefix` (all objects when `None`) to `queue`'s topic, payload
    /// `JSON_API_V1` (JSON API `notifications.insert`, `POST
    /// /storage/v1/b/{bucket}/notificationConfigs`). On real GCP the bucket's service agent
    /// needs `roles/pubsub.publisher` on the topic first (upstream grants it,
    /// upstream-cloud-semantics.md §5.1). fake-gcs-server has no such endpoint (404, so
    /// `NotFound`); it publishes through its `-event.*` flags instead.
    pub async fn create_notification(
        &self,
        storage: &GcpStorage,
        queue: &GcpQueue,
        prefix: Option<&str>,
    ) -> Result<()> {
        let mut body = json!({
            "topic": format!("//pubsub.googleapis.com/{}", queue.topic()),
            "payload_format": "JSON_API_V1",
            "event_types": NOTIFIED_EVENT_TYPES,
        });
        if let Some(prefix) = prefix {
            body["object_name_prefix"] = Value::from(prefix);
        }
        let path = format!(
            "/storage/v1/b/{}/notificationConfigs",
            encode(storage.bucket_name())
        );
        storage
            .json()
            .post("storage.buckets.update", &path, &body)
            .await?;
        Ok(())
    }

    /// A new pull subscription `subscription` on the existing topic `topic` (ids, not
    /// paths), as a queue: how to read notifications published to a topic this adapter did
    /// not create (e.g. fake-gcs-server's `-event.pubsub-topic`). Ack deadline 10 s.
    pub async fn subscribe_topic(&self, topic: &str, subscription: &str) -> Result<GcpQueue> {
        let pubsub = self.pubsub()?;
        let topic = self.topic_path(topic);
        let subscription = self.subscription_path(subscription);
        self.create_pull_subscription(&subscription, &topic, Some(SUBSCRIPTION_ACK_DEADLINE))
            .await?;
        Ok(GcpQueue::new(
            pubsub,
            topic,
            subscription,
            None,
            SUBSCRIPTION_ACK_DEADLINE,
            None,
        ))
    }
}

/// A bucket's change feed over a notification subscription; its semantics are documented
/// on [`GcpStorage::with_changes`].
#[derive(Debug)]
pub(super) struct ChangeFeed {
    queue: GcpQueue,
    bucket: String,
    pages: Mutex<Pages>,
}

#[derive(Debug, Default)]
struct Pages {
    issued: u64,
    unacked: BTreeMap<u64, Vec<ReceiptHandle>>,
}

impl ChangeFeed {
    pub(super) fn new(queue: GcpQueue, bucket: String) -> Self {
        ChangeFeed {
            queue,
            bucket,
            pages: Mutex::new(Pages::default()),
        }
    }

    pub(super) async fn changes_since(&self, cursor: Option<ChangeCursor>) -> Result<ChangePage> {
        let mut pages = self.pages.lock().await;
        let position = match &cursor {
            None => {
                for receipt in std::mem::take(&mut pages.unacked).into_values().flatten() {
                    settled(self.queue.nack(&receipt).await)?;
                }
                pages.issued
            }
            Some(cursor) => {
                let page = cursor
                    .as_str()
                    .parse::<u64>()
                    .ok()
                    .filter(|page| *page <= pages.issued)
                    .ok_or_else(|| {
                        ProviderError::invalid_argument(format!(
                            "change cursor '{cursor}' was not issued by this feed"
                        ))
                    })?;
                let later = pages.unacked.split_off(&(page + 1));
                for receipt in std::mem::replace(&mut pages.unacked, later)
                    .into_values()
                    .flatten()
                {
                    settled(self.queue.ack(&receipt).await)?;
                }
                page
            }
        };
        let messages = self
            .queue
            .receive(ReceiveOptions::new(MAX_RECEIVE_BATCH))
            .await?;
        let mut changes = Vec::new();
        let mut receipts = Vec::new();
        for message in messages {
            match storage_change(&message, &self.bucket) {
                Some(change) => {
                    changes.push((message.enqueued_at, change));
                    receipts.push(message.receipt);
                }
                None => settled(self.queue.ack(&message.receipt).await)?,
            }
        }
        if changes.is_empty() {
            return Ok(ChangePage {
                changes: Vec::new(),
                cursor: ChangeCursor::new(position.to_string()),
            });
        }
        // Publish order: event times may be coarser (fake-gcs-server's are whole seconds).
        changes.sort_by_key(|(published, _)| *published);
        pages.issued += 1;
        let issued = pages.issued;
        pages.unacked.insert(issued, receipts);
        Ok(ChangePage {
            changes: changes.into_iter().map(|(_, change)| change).collect(),
            cursor: ChangeCursor::new(issued.to_string()),
        })
    }
}

/// Settling a receipt a redelivery superseded is fine: the redelivery comes back.
fn settled(result: Result<()>) -> Result<()> {
    match result {
        Err(e) if e.kind == ErrorKind::StaleReceipt => Ok(()),
        other => other,
    }
}

/// The change a notification of `bucket` reports, if any. Created: size, etag and time
/// (`updated`) from the object resource; deleted: the `eventTime` attribute. Without a time
/// in the message, the publish time.
pub(super) fn storage_change(message: &QueueMessage, bucket: &str) -> Option<StorageChange> {
    let attribute = |name: &str| message.attributes.get(name).map(String::as_str);
    if attribute("bucketId") != Some(bucket) {
        return None;
    }
    let key = attribute("objectId")?.to_owned();
    let object = match &message.payload {
        Payload::Json(value) => value,
        Payload::Text(_) => &Value::Null,
    };
    let event_time = attribute("eventTime").and_then(rfc3339);
    match attribute("eventType")? {
        "OBJECT_FINALIZE" => Some(StorageChange {
            event: StorageChangeKind::Created,
            key,
            size: match &object["size"] {
                Value::String(text) => text.parse().ok(),
                other => other.as_u64(),
            },
            etag: object["etag"].as_str().map(str::to_owned),
            at: object["updated"]
                .as_str()
                .and_then(rfc3339)
                .or(event_time)
                .unwrap_or(message.enqueued_at),
        }),
        "OBJECT_DELETE" if attribute("overwrittenByGeneration").is_none() => Some(StorageChange {
            event: StorageChangeKind::Deleted,
            key,
            size: None,
            etag: None,
            at: event_time.unwrap_or(message.enqueued_at),
        }),
        _ => None,
    }
}

fn rfc3339(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::MessageId;

    fn message(attributes: &[(&str, &str)], body: Value) -> QueueMessage {
        QueueMessage {
            id: MessageId::new("1"),
            payload: Payload::Json(body),
            receipt: ReceiptHandle::new("1#1"),
            attempt: 1,
            enqueued_at: DateTime::<Utc>::UNIX_EPOCH,
            attributes: attributes
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    // pubsub-notifications docs (attributes, JSON_API_V1 body) as fake-gcs-server sends
    // them; upstream-cloud-semantics.md §5.2: OBJECT_FINALIZE → created.
    #[test]
    fn finalize_is_created_with_size_etag_and_update_time() {
        let finalize = message(
            &[
                ("bucketId", "b"),
                ("objectId", "dir/a.txt"),
                ("eventType", "OBJECT_FINALIZE"),
                ("eventTime", "2026-12-06T20:39:20Z"),
                ("payloadFormat", "JSON_API_V1"),
            ],
            json!({"kind": "storage#object", "name": "dir/a.txt", "bucket": "b",
                   "size": "5", "etag": "CJ+l", "updated": "2026-12-06T20:39:20.12347Z"}),
        );
        let change = storage_change(&finalize, "b").expect("a change");
        assert_eq!(change.event, StorageChangeKind::Created);
        assert_eq!(change.key, "dir/a.txt");
        assert_eq!(change.size, Some(5));
        assert_eq!(change.etag.as_deref(), Some("CJ+l"));
        assert_eq!(change.at.to_rfc3339(), "2026-12-06T20:39:20.123470+00:00");
        assert_eq!(storage_change(&finalize, "other"), None);
    }

    // §5.2: OBJECT_DELETE → deleted, at the event time; the delete of an overwritten
    // generation (overwrittenByGeneration, pubsub-notifications docs) is no deletion.
    #[test]
    fn delete_is_deleted_unless_overwritten() {
        let attributes = [
            ("bucketId", "b"),
            ("objectId", "k"),
            ("eventType", "OBJECT_DELETE"),
            ("eventTime", "2026-12-06T20:39:21Z"),
        ];
        let change =
            storage_change(&message(&attributes, json!({"size": "0"})), "b").expect("a change");
        assert_eq!(change.event, StorageChangeKind::Deleted);
        assert_eq!((change.size, change.etag), (None, None));
        assert_eq!(change.at.to_rfc3339(), "2026-12-06T20:39:21+00:00");
        let mut overwritten = attributes.to_vec();
        overwritten.push(("overwrittenByGeneration", "2"));
        assert_eq!(storage_change(&message(&overwritten, json!({})), "b"), None);
    }

    // §5.2 lists ARCHIVE and METADATA_UPDATE too; the feed has no kind for them.
    #[test]
    fn other_event_types_are_no_change() {
        let update = [
            ("bucketId", "b"),
            ("objectId", "k"),
            ("eventType", "OBJECT_METADATA_UPDATE"),
        ];
        assert_eq!(storage_change(&message(&update, json!({})), "b"), None);
    }
}
