//! Storage notifications: a Storage's `notifications` rules send one StorageEvent JSON message
//! per created object to their queue (alien-core 3.3.49, published-3.3.49.md §8: cloud
//! providers normalize S3/GCS/Azure notifications into that message, and "a local host would
//! enqueue one StorageEvent JSON message per created object" [inferred]). The rule is the
//! same on every platform profile; worker storage triggers are a separate mechanism.

use alien_providers::Payload;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use super::{Object, is_staging_key};
use crate::engine::sim::{Body, Sim};
use crate::engine::trace::Kind;
use crate::stack::{NOTIFICATION_EVENT_CREATED, Resource};

impl Sim {
    /// Announces the object just created at `bucket`/`key` to the queue of every matching
    /// rule of that Storage, through the internal enqueue path (no size check: the platform,
    /// not the app, sends it). Staging keys are skipped where the profile ignores them, as
    /// for storage events.
    pub(super) fn notify_created(&mut self, bucket: &str, key: &str) {
        if self.profile.storage.ignores_staging_keys.value && is_staging_key(key) {
            return;
        }
        let Some(Resource::Storage(storage)) = self.stack.resources.get(bucket).map(|e| &e.config)
        else {
            return;
        };
        let queues: Vec<String> = storage
            .notifications
            .iter()
            .filter(|rule| rule.matches(NOTIFICATION_EVENT_CREATED, key))
            .map(|rule| rule.queue.id.clone())
            .collect();
        let Some(object) = self.buckets.get(bucket).and_then(|b| b.objects.get(key)) else {
            return;
        };
        let event = created_event(bucket, key, object, self.now());
        for queue in queues {
            // The parser guarantees the queue exists; a stack built by hand may not.
            let Ok(q) = self.queue_idx(&queue) else {
                continue;
            };
            let payload = Payload::Json(event.clone());
            let size = payload.serialized_len();
            self.record(
                Kind::StorageNotification,
                bucket,
                Some(key),
                vec![("event", NOTIFICATION_EVENT_CREATED.into()), ("to", queue)],
            );
            self.enqueue(q, Body::Payload(payload), size);
        }
    }
}

/// The `StorageEvent` JSON of a created object (published-3.3.49.md §8): `eventType`,
/// `bucketName`, `objectKey`, `timestamp` (RFC 3339 UTC), `size`, and `etag` and
/// `contentType` when the object has them. The etag is bare, as S3 event records carry it
/// (`"eTag":"0123456789abcdef0123456789abcdef"`, S3 event message structure), not quoted as
/// an HTTP `ETag` header.
fn created_event(bucket: &str, key: &str, object: &Object, now: DateTime<Utc>) -> Value {
    let mut event = Map::new();
    event.insert("eventType".into(), NOTIFICATION_EVENT_CREATED.into());
    event.insert("bucketName".into(), bucket.into());
    event.insert("objectKey".into(), key.into());
    event.insert(
        "timestamp".into(),
        now.to_rfc3339_opts(SecondsFormat::Millis, true).into(),
    );
    event.insert("size".into(), object.size.into());
    if !object.etag.is_empty() {
        event.insert("etag".into(), object.etag.trim_matches('"').into());
    }
    if !object.content_type.is_empty() {
        event.insert("contentType".into(), object.content_type.clone().into());
    }
    Value::Object(event)
}
