//! Storage: objects and change events. A put or delete raises an event only for storage
//! triggers whose `events` include it and only where the platform fires it, spelled the way
//! the platform's runtime spells it, retried the way the platform retries
//! (upstream-stack-and-limits.md §5.5-§5.6; upstream-cloud-semantics.md §5). A created object
//! is also announced to the queues of the Storage's `notifications` ([`notifications`]).

mod notifications;

use std::collections::BTreeMap;

use alien_providers::validate::validate_storage_key;
use alien_providers::{ObjectMeta, StorageChange, StorageChangeKind, StoredObject};
use chrono::{DateTime, Utc};

use super::events::{Event, StorageEvent};
use super::sim::{Body, Origin, Sim, SimError, Work};
use super::trace::Kind;
use crate::profile::{EventCasing, StorageRetry, TriggerEvents, TriggerWiring};
use crate::stack::{Resource, WorkerTrigger};

#[derive(Debug, Clone, Default)]
pub(crate) struct Bucket {
    pub objects: BTreeMap<String, Object>,
    /// Every put and delete, for the provider's change feed.
    pub changes: Vec<StorageChange>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Object {
    pub size: u64,
    pub content_type: String,
    /// The content, when the caller gave bytes (scenarios often give only a size).
    pub body: Option<Vec<u8>>,
    pub etag: String,
    pub last_modified: DateTime<Utc>,
    pub metadata: BTreeMap<String, String>,
}

impl Sim {
    pub(crate) fn provision_storage(&mut self) {
        let buckets: Vec<String> = self
            .stack
            .resources
            .iter()
            .filter(|(_, e)| matches!(e.config, Resource::Storage(_)))
            .map(|(id, _)| id.clone())
            .collect();
        for id in buckets {
            self.buckets.insert(id, Bucket::default());
        }
        if self.profile.worker.triggers.storage.value != TriggerWiring::Wired
            || self.profile.storage.failure_retries.value != StorageRetry::AsQueue
        {
            return;
        }
        // GCS notifications ride a Pub/Sub push subscription and Event Grid events a Service
        // Bus queue: they get that queue's delivery semantics.
        let routes: Vec<(usize, String)> = self
            .stack
            .workers()
            .flat_map(|(wid, w)| {
                w.triggers.iter().filter_map(move |t| match t {
                    WorkerTrigger::Storage { storage, .. } => {
                        Some((wid.to_string(), storage.id.clone()))
                    }
                    _ => None,
                })
            })
            .map(|(wid, bucket)| (self.worker_index[&wid], bucket))
            .collect();
        for (w, bucket) in routes {
            let name = format!("{}-storage-{bucket}", self.workers[w].id);
            let subs = self
                .subscriptions_for(&name, &[w])
                .into_iter()
                .filter(|s| s.consumers.contains(&w))
                .collect();
            let q = self.add_queue(name, true, subs);
            self.storage_routes.insert((w, bucket), q);
        }
    }

    fn bucket(&self, bucket: &str) -> Result<&Bucket, SimError> {
        self.buckets
            .get(bucket)
            .ok_or_else(|| SimError::UnknownResource {
                kind: "storage",
                name: bucket.into(),
            })
    }

    fn bucket_mut(&mut self, bucket: &str) -> Result<&mut Bucket, SimError> {
        self.buckets
            .get_mut(bucket)
            .ok_or_else(|| SimError::UnknownResource {
                kind: "storage",
                name: bucket.into(),
            })
    }

    /// Puts an object and raises `created` for matching triggers.
    pub fn put_object(
        &mut self,
        bucket: &str,
        key: &str,
        size: u64,
        content_type: &str,
    ) -> Result<(), SimError> {
        self.store_object(bucket, key, size, None, content_type, BTreeMap::new())
    }

    /// Puts an object with its content and metadata; returns its etag.
    pub fn put_object_bytes(
        &mut self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        metadata: BTreeMap<String, String>,
    ) -> Result<String, SimError> {
        let size = body.len() as u64;
        self.store_object(bucket, key, size, Some(body), content_type, metadata)?;
        Ok(self.buckets[bucket].objects[key].etag.clone())
    }

    fn store_object(
        &mut self,
        bucket: &str,
        key: &str,
        size: u64,
        body: Option<Vec<u8>>,
        content_type: &str,
        metadata: BTreeMap<String, String>,
    ) -> Result<(), SimError> {
        validate_storage_key(key)?;
        let etag = format!("\"{:016x}\"", self.next_id());
        let now = self.now();
        let b = self.bucket_mut(bucket)?;
        b.objects.insert(
            key.to_string(),
            Object {
                size,
                content_type: content_type.to_string(),
                body,
                etag: etag.clone(),
                last_modified: now,
                metadata,
            },
        );
        b.changes.push(StorageChange {
            event: StorageChangeKind::Created,
            key: key.to_string(),
            size: Some(size),
            etag: Some(etag),
            at: now,
        });
        self.record(
            Kind::ObjectPut,
            bucket,
            Some(key),
            vec![("bytes", size.to_string())],
        );
        self.raise_storage_event(bucket, key, "created", size, content_type);
        self.notify_created(bucket, key);
        Ok(())
    }

    /// Deletes an object (missing keys succeed, as on every platform) and raises `deleted`.
    pub fn delete_object(&mut self, bucket: &str, key: &str) -> Result<(), SimError> {
        validate_storage_key(key)?;
        let now = self.now();
        let b = self.bucket_mut(bucket)?;
        let existed = b.objects.remove(key).is_some();
        if existed {
            b.changes.push(StorageChange {
                event: StorageChangeKind::Deleted,
                key: key.to_string(),
                size: None,
                etag: None,
                at: now,
            });
        }
        self.record(
            Kind::ObjectDeleted,
            bucket,
            Some(key),
            vec![("existed", existed.to_string())],
        );
        if existed {
            self.raise_storage_event(bucket, key, "deleted", 0, "");
        }
        Ok(())
    }

    /// The object with its content (zeros when it was put with a size only).
    pub fn get_object(&self, bucket: &str, key: &str) -> Result<Option<StoredObject>, SimError> {
        Ok(self.head_object(bucket, key)?.map(|meta| {
            let o = &self.buckets[bucket].objects[key];
            StoredObject {
                body: o.body.clone().unwrap_or_else(|| vec![0; o.size as usize]),
                meta,
            }
        }))
    }

    pub fn head_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectMeta>, SimError> {
        let b = self.bucket(bucket)?;
        Ok(b.objects.get(key).map(|o| meta(key, o)))
    }

    /// Objects under `prefix`, in key order.
    pub fn list_objects(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectMeta>, SimError> {
        let b = self.bucket(bucket)?;
        Ok(b.objects
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, o)| meta(k, o))
            .collect())
    }

    /// Changes from position `from` on, and the position after them.
    pub fn storage_changes(
        &self,
        bucket: &str,
        from: usize,
    ) -> Result<(Vec<StorageChange>, usize), SimError> {
        let b = self.bucket(bucket)?;
        let from = from.min(b.changes.len());
        Ok((b.changes[from..].to_vec(), b.changes.len()))
    }

    pub fn object_exists(&self, bucket: &str, key: &str) -> bool {
        self.buckets
            .get(bucket)
            .is_some_and(|b| b.objects.contains_key(key))
    }

    fn raise_storage_event(
        &mut self,
        bucket: &str,
        key: &str,
        event: &str,
        size: u64,
        content_type: &str,
    ) {
        if self.profile.worker.triggers.storage.value != TriggerWiring::Wired {
            return;
        }
        if self.profile.storage.ignores_staging_keys.value && is_staging_key(key) {
            return;
        }
        if let TriggerEvents::FiresOnly { firing } = &self.profile.storage.trigger_events.value
            && !firing.contains(&event)
        {
            return;
        }
        let targets: Vec<usize> = self
            .stack
            .workers()
            .filter(|(_, w)| {
                w.triggers.iter().any(|t| {
                    matches!(t, WorkerTrigger::Storage { storage, events } if storage.id == bucket && events.iter().any(|e| e == event))
                })
            })
            .map(|(id, _)| self.worker_index[id])
            .collect();
        let event_type = match self.profile.storage.event_type_casing.value {
            EventCasing::CamelCase => event.to_string(),
            EventCasing::Capitalized => capitalize(event),
        };
        for w in targets {
            let sequence = self.next_id();
            let storage_event = StorageEvent {
                key: key.to_string(),
                event_type: event_type.clone(),
                bucket: bucket.to_string(),
                size,
                content_type: content_type.to_string(),
                timestamp: self.now(),
                sequence,
            };
            let worker_id = self.workers[w].id.clone();
            self.record(
                Kind::StorageEvent,
                bucket,
                Some(key),
                vec![("event", event_type.clone()), ("to", worker_id)],
            );
            match self.storage_routes.get(&(w, bucket.to_string())).copied() {
                Some(q) => {
                    self.enqueue(q, Body::Storage(storage_event), 0);
                }
                None => self.enqueue_work(
                    w,
                    Work {
                        event: Event::Storage(storage_event),
                        origin: Origin::Event { attempt: 1 },
                        scale_out: true,
                    },
                ),
            }
        }
    }

    /// Extra attempts after a failed storage event delivered directly (not through a queue).
    pub(crate) fn storage_async_retries(&self) -> u32 {
        match self.profile.storage.failure_retries.value {
            StorageRetry::AsyncRetries { retries } => retries,
            StorageRetry::AsQueue | StorageRetry::None => 0,
        }
    }
}

impl Object {
    /// An object known from saved state (its content lives in the storage directory).
    pub(crate) fn restored(size: u64, content_type: String, at: DateTime<Utc>) -> Object {
        Object {
            size,
            content_type,
            body: None,
            etag: String::new(),
            last_modified: at,
            metadata: BTreeMap::new(),
        }
    }
}

fn meta(key: &str, o: &Object) -> ObjectMeta {
    ObjectMeta {
        key: key.to_string(),
        size: o.size,
        etag: o.etag.clone(),
        last_modified: o.last_modified,
        content_type: (!o.content_type.is_empty()).then(|| o.content_type.clone()),
        metadata: o.metadata.clone(),
    }
}

/// object_store's local backend writes `key#N` staging files before renaming them into place.
pub fn is_staging_key(key: &str) -> bool {
    key.rsplit_once('#')
        .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// `created` → `Created`: the Rust Debug spelling the Cloud Run and Container Apps runtimes use.
fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
