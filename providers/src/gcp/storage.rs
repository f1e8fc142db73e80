//! [`StorageProvider`] over one Cloud Storage bucket.
//!
//! Media reads go through google-cloud-storage 1.21's JSON API client
//! (`Storage::read_object` → `GET /storage/v1/b/{bucket}/o/{object}?alt=media`). The rest
//! uses the JSON API directly ([`super::gcs_json`]): the crate offers bucket creation,
//! object metadata, listings and deletes only over gRPC (`StorageControl`,
//! `google.storage.v2`), which fake-gcs-server does not serve, and its uploads send the
//! content type in a way fake-gcs-server ignores (see [`GcpStorage::put`]).

use std::sync::Arc;

use google_cloud_storage::client::Storage;

use super::config::GcpClients;
use super::error::map_gcp_error;
use super::gcs_error::canonical_crate_error;
use super::gcs_json::{GcsJson, ObjectResource};
use super::notifications::ChangeFeed;
use super::queue::GcpQueue;
use crate::error::{ErrorKind, ProviderError, Result};
use crate::storage::{
    ChangePage, ListPage, ObjectMeta, PutObjectOptions, PutObjectResult, StorageProvider,
    StoredObject,
};
use crate::types::ChangeCursor;
use crate::validate::validate_storage_key;

/// How often [`GcpStorage::get`] retries when the object is replaced between reading its
/// metadata and its content.
const GET_ATTEMPTS: usize = 3;

/// An attempt of [`GcpStorage::get`]: the object, or `Err(None)` to try again.
type Attempt = std::result::Result<Option<StoredObject>, Option<ProviderError>>;

/// Objects in one bucket. Keys pass [`validate_storage_key`] first, as on the AWS adapter.
/// `changes_since` reads the bucket's Pub/Sub notifications from the queue given to
/// [`GcpStorage::with_changes`]; without one it is [`ErrorKind::Unsupported`].
#[derive(Debug, Clone)]
pub struct GcpStorage {
    objects: Storage,
    json: GcsJson,
    /// `projects/_/buckets/{name}`, the form google-cloud-storage takes.
    bucket: String,
    name: String,
    page_size: Option<u32>,
    changes: Option<Arc<ChangeFeed>>,
}

impl GcpClients {
    /// Creates bucket `name` in the project (JSON API `buckets.insert`). An existing bucket
    /// is `AlreadyExists`.
    pub async fn create_bucket(&self, name: &str) -> Result<GcpStorage> {
        let storage = self.bucket(name)?;
        storage.json.create_bucket(&self.project, name).await?;
        Ok(storage)
    }

    /// A handle on the existing bucket `name`; nothing is contacted.
    pub fn bucket(&self, name: &str) -> Result<GcpStorage> {
        let clients = self.storage()?;
        Ok(GcpStorage {
            objects: clients.objects.clone(),
            json: clients.json.clone(),
            bucket: format!("projects/_/buckets/{name}"),
            name: name.to_owned(),
            page_size: None,
            changes: None,
        })
    }
}

impl GcpStorage {
    /// The bucket name (what upstream's GCS binding carries).
    pub fn bucket_name(&self) -> &str {
        &self.name
    }

    /// Listings return at most `n` objects per page (`maxResults`; the service default is
    /// 1000).
    pub fn with_page_size(mut self, n: u32) -> Self {
        self.page_size = Some(n);
        self
    }

    /// `changes_since` receives the bucket's change notifications from `queue`: a pull
    /// subscription on the topic a notification configuration
    /// ([`GcpClients::create_notification`]) or fake-gcs-server's `-event.*` flags publish
    /// to (a topic this adapter did not create: [`GcpClients::subscribe_topic`]).
    ///
    /// A page is what one receive returns (up to 10 messages, listening 1 s), in Pub/Sub
    /// publish order. Its cursor is a page number issued by this handle (and its clones):
    /// presenting it acks the messages of that page and of every earlier one; `None` nacks
    /// every unacknowledged page, so its changes come again. Receipts live in this process
    /// (see [`GcpQueue`]), so cursors do too; a cursor this handle did not issue is
    /// `InvalidArgument`. Messages of other buckets, other event types
    /// (`OBJECT_METADATA_UPDATE`, `OBJECT_ARCHIVE`) and the `OBJECT_DELETE` of an overwritten
    /// generation are acked without becoming changes. A page whose lease ran out before its
    /// cursor came back is redelivered: at least once, as the trait allows.
    pub fn with_changes(mut self, queue: GcpQueue) -> Self {
        self.changes = Some(Arc::new(ChangeFeed::new(queue, self.name.clone())));
        self
    }

    pub(super) fn json(&self) -> &GcsJson {
        &self.json
    }

    /// One attempt of [`StorageProvider::get`]: the metadata, then the content of that
    /// generation. `Err(None)` when the generation was gone by the time of the read.
    async fn get_once(&self, key: &str) -> Attempt {
        let Some(object) = self.json.object(&self.name, key, None).await? else {
            return Ok(None);
        };
        let generation: i64 = object.generation.parse().map_err(|_| {
            ProviderError::new(
                ErrorKind::Internal,
                format!(
                    "storage.objects.get: generation '{}' is not a number",
                    object.generation
                ),
            )
        })?;
        let read = self
            .objects
            .read_object(&self.bucket, key)
            .set_generation(generation)
            .send()
            .await;
        let mut response = match read {
            Ok(response) => response,
            Err(e) => {
                let e = read_error(e);
                return Err((e.kind != ErrorKind::NotFound).then_some(e));
            }
        };
        let mut body = Vec::new();
        while let Some(chunk) = response.next().await {
            body.extend_from_slice(&chunk.map_err(read_error)?);
        }
        Ok(Some(StoredObject {
            meta: object.into_meta(),
            body,
        }))
    }
}

impl StorageProvider for GcpStorage {
    /// A multipart upload with the JSON API ([`GcsJson::upload`]): google-cloud-storage's
    /// upload leaves the media part untyped, and fake-gcs-server then drops the content type.
    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        options: PutObjectOptions,
    ) -> Result<PutObjectResult> {
        validate_storage_key(key)?;
        let object = self
            .json
            .upload(
                &self.name,
                key,
                body,
                options.content_type.as_deref(),
                &options.metadata,
            )
            .await?;
        let meta = object.into_meta();
        Ok(PutObjectResult {
            size: meta.size,
            etag: meta.etag,
        })
    }

    /// `objects.get` for the metadata (the media read carries no update time), then
    /// `read_object` of that generation, so both describe the same write; a generation
    /// replaced in between starts over (up to 3 attempts).
    async fn get(&self, key: &str) -> Result<Option<StoredObject>> {
        validate_storage_key(key)?;
        for _ in 0..GET_ATTEMPTS {
            match self.get_once(key).await {
                Ok(found) => return Ok(found),
                Err(Some(e)) => return Err(e),
                Err(None) => {}
            }
        }
        Err(ProviderError::new(
            ErrorKind::Unavailable,
            format!(
                "storage.objects.get: '{key}' was replaced during each of {GET_ATTEMPTS} reads"
            ),
        ))
    }

    /// `objects.get` (JSON API); 404 is `None`.
    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>> {
        validate_storage_key(key)?;
        let object = self.json.object(&self.name, key, None).await?;
        Ok(object.map(ObjectResource::into_meta))
    }

    /// `objects.list` (JSON API) with `prefix`, the cursor as `pageToken` and the page size
    /// as `maxResults`; items carry content type and metadata.
    async fn list(&self, prefix: &str, cursor: Option<String>) -> Result<ListPage> {
        let (objects, next_cursor) = self
            .json
            .list(&self.name, prefix, cursor.as_deref(), self.page_size)
            .await?;
        Ok(ListPage {
            objects: objects.into_iter().map(ObjectResource::into_meta).collect(),
            next_cursor,
        })
    }

    /// `objects.delete` (JSON API); a missing object is success.
    async fn delete(&self, key: &str) -> Result<()> {
        validate_storage_key(key)?;
        self.json.delete(&self.name, key).await?;
        Ok(())
    }

    async fn changes_since(&self, cursor: Option<ChangeCursor>) -> Result<ChangePage> {
        match &self.changes {
            Some(feed) => feed.changes_since(cursor).await,
            None => Err(ProviderError::unsupported(
                "this GcpStorage has no change feed: GCS reports changes only as Pub/Sub \
                 notifications; bind their subscription with GcpStorage::with_changes",
            )),
        }
    }
}

/// A failed media read through [`super::map_gcp_error`].
fn read_error(e: google_cloud_storage::Error) -> ProviderError {
    map_gcp_error("storage.objects.get", None, canonical_crate_error(e))
}
