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
use super::state::ObjectState;
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
    /// The content, when the caller gave bytes (scenarios often give only a size; under
    /// `alien emulate` the bytes live in the bucket directory, not here).
    pub body: Option<Vec<u8>>,
    pub etag: String,
    pub last_modified: DateTime<Utc>,
    pub metadata: BTreeMap<String, String>,
    /// See [`FileObject::stamp`].
    pub file_stamp: Option<String>,
}

/// An object whose bytes live in a file (the bucket directory the app's `local-storage`
/// binding reads and writes): the engine keeps only its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileObject {
    pub size: u64,
    pub content_type: String,
    /// S3's ETag of a single-part object: the MD5 of the bytes, hex, in double quotes.
    pub etag: String,
    /// What the file looked like when it was recorded (size, modification time, inode), so
    /// a directory watcher can tell a file it has already seen from a new write.
    pub stamp: String,
}

/// S3's ETag of a single-part upload: the hex MD5 of the content, quoted (S3 API reference,
/// "Common Response Headers": ETag).
pub fn etag_of(body: &[u8]) -> String {
    use md5::{Digest, Md5};
    let digest = Md5::digest(body);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
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

    /// Puts an object known by its size only (a scenario's put) and raises `created` for
    /// matching triggers. Its ETag is a per-put counter, since there are no bytes to hash.
    pub fn put_object(
        &mut self,
        bucket: &str,
        key: &str,
        size: u64,
        content_type: &str,
    ) -> Result<(), SimError> {
        let object = Object {
            size,
            content_type: content_type.to_string(),
            body: None,
            etag: format!("\"{:016x}\"", self.next_id()),
            last_modified: self.now(),
            metadata: BTreeMap::new(),
            file_stamp: None,
        };
        self.store_object(bucket, key, object)
    }

    /// Puts an object with its content and metadata; returns its etag (the content's MD5).
    pub fn put_object_bytes(
        &mut self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        metadata: BTreeMap<String, String>,
    ) -> Result<String, SimError> {
        let object = Object {
            size: body.len() as u64,
            content_type: content_type.to_string(),
            etag: etag_of(&body),
            body: Some(body),
            last_modified: self.now(),
            metadata,
            file_stamp: None,
        };
        let etag = object.etag.clone();
        self.store_object(bucket, key, object)?;
        Ok(etag)
    }

    /// Records an object whose bytes were written to its file (the bucket directory is their
    /// one source of truth) and raises `created`, as a put does.
    pub fn put_file_object(
        &mut self,
        bucket: &str,
        key: &str,
        file: FileObject,
    ) -> Result<(), SimError> {
        let object = Object {
            size: file.size,
            content_type: file.content_type,
            body: None,
            etag: file.etag,
            last_modified: self.now(),
            metadata: BTreeMap::new(),
            file_stamp: Some(file.stamp),
        };
        self.store_object(bucket, key, object)
    }

    /// Records the file of an object known from before files had stamps (same metadata, no
    /// event): its ETag and stamp as the file has them.
    pub fn adopt_file_stamp(
        &mut self,
        bucket: &str,
        key: &str,
        file: FileObject,
    ) -> Result<(), SimError> {
        let object = self
            .bucket_mut(bucket)?
            .objects
            .get_mut(key)
            .ok_or_else(|| SimError::Invalid(format!("no object '{key}' in storage '{bucket}'")))?;
        object.etag = file.etag;
        object.file_stamp = Some(file.stamp);
        self.mark_object(bucket, key);
        Ok(())
    }

    /// The recorded file stamp of an object ([`FileObject::stamp`]), None when the bucket has
    /// no such key (or it was put without a file).
    pub fn object_file_stamp(&self, bucket: &str, key: &str) -> Option<&str> {
        self.buckets
            .get(bucket)?
            .objects
            .get(key)?
            .file_stamp
            .as_deref()
    }

    /// Keys of every object in `bucket` (for reconciling a bucket directory).
    pub fn object_keys(&self, bucket: &str) -> Result<Vec<String>, SimError> {
        Ok(self.bucket(bucket)?.objects.keys().cloned().collect())
    }

    fn store_object(&mut self, bucket: &str, key: &str, object: Object) -> Result<(), SimError> {
        validate_storage_key(key)?;
        let now = self.now();
        let (size, etag) = (object.size, object.etag.clone());
        let content_type = object.content_type.clone();
        let b = self.bucket_mut(bucket)?;
        b.objects.insert(key.to_string(), object);
        b.changes.push(StorageChange {
            event: StorageChangeKind::Created,
            key: key.to_string(),
            size: Some(size),
            etag: Some(etag),
            at: now,
        });
        self.mark_object(bucket, key);
        self.record(
            Kind::ObjectPut,
            bucket,
            Some(key),
            vec![("bytes", size.to_string())],
        );
        self.raise_storage_event(bucket, key, "created", size, &content_type);
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
            self.mark_object(bucket, key);
        }
        let b = self.bucket_mut(bucket)?;
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

    /// The object with its content. An object recorded without bytes (a scenario's put by
    /// size, or a file in a bucket directory, which is read from there) is an error: the
    /// engine never makes bytes up.
    pub fn get_object(&self, bucket: &str, key: &str) -> Result<Option<StoredObject>, SimError> {
        let Some(meta) = self.head_object(bucket, key)? else {
            return Ok(None);
        };
        match &self.buckets[bucket].objects[key].body {
            Some(body) => Ok(Some(StoredObject {
                body: body.clone(),
                meta,
            })),
            None => Err(SimError::Invalid(format!(
                "object '{key}' in storage '{bucket}' was recorded by its size ({} bytes) only: the engine holds no bytes for it",
                meta.size
            ))),
        }
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
    pub(crate) fn restored(state: ObjectState, at: DateTime<Utc>) -> Object {
        Object {
            size: state.size,
            content_type: state.content_type,
            body: None,
            etag: state.etag,
            last_modified: at,
            metadata: BTreeMap::new(),
            file_stamp: state.file_stamp,
        }
    }

    /// The stored form of the object (its metadata).
    pub(crate) fn state(&self, key: &str) -> ObjectState {
        ObjectState {
            key: key.to_string(),
            size: self.size,
            content_type: self.content_type.clone(),
            etag: self.etag.clone(),
            last_modified: Some(self.last_modified),
            file_stamp: self.file_stamp.clone(),
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
