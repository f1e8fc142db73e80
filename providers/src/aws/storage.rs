//! [`StorageProvider`] over one S3 bucket.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, Delete, ObjectIdentifier,
};
use chrono::{DateTime, Utc};

use super::clients::AwsClients;
use super::error::{map_error_code, map_sdk_error};
use crate::error::{ErrorKind, ProviderError, Result};
use crate::storage::{
    ChangePage, ListPage, ObjectMeta, PutObjectOptions, PutObjectResult, StorageProvider,
    StoredObject,
};
use crate::types::ChangeCursor;
use crate::validate::validate_storage_key;

/// The region where `CreateBucket` takes no `LocationConstraint`. \[platform knowledge\]
const DEFAULT_BUCKET_REGION: &str = "us-east-1";

/// Objects in one S3 bucket. Keys pass [`validate_storage_key`] first, so the same keys are
/// refused here as on the filesystem-backed emulator. `changes_since` is
/// [`ErrorKind::Unsupported`]: S3 reports changes only as bucket notifications, which
/// [`AwsClients::put_bucket_notifications`] sends to a queue or a function.
#[derive(Debug, Clone)]
pub struct AwsStorage {
    s3: aws_sdk_s3::Client,
    bucket: String,
}

impl AwsClients {
    /// Creates bucket `name` in the clients' region.
    pub async fn create_bucket(&self, name: &str) -> Result<AwsStorage> {
        let mut create = self.s3.create_bucket().bucket(name);
        if let Some(region) = self.s3.config().region().map(|r| r.as_ref().to_owned())
            && region != DEFAULT_BUCKET_REGION
        {
            create = create.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region.as_str()))
                    .build(),
            );
        }
        create
            .send()
            .await
            .map_err(|e| map_sdk_error("s3:CreateBucket", None, e))?;
        Ok(AwsStorage {
            s3: self.s3.clone(),
            bucket: name.to_owned(),
        })
    }

    /// Deletes every object of the bucket, then the bucket.
    pub async fn delete_bucket(&self, storage: &AwsStorage) -> Result<()> {
        loop {
            let page = self
                .s3
                .list_objects_v2()
                .bucket(&storage.bucket)
                .send()
                .await
                .map_err(|e| map_sdk_error("s3:ListBucket", None, e))?;
            let keys: Vec<ObjectIdentifier> = page
                .contents()
                .iter()
                .filter_map(|object| object.key())
                .filter_map(|key| ObjectIdentifier::builder().key(key).build().ok())
                .collect();
            if keys.is_empty() {
                break;
            }
            let delete = Delete::builder()
                .set_objects(Some(keys))
                .quiet(true)
                .build()
                .map_err(|e| ProviderError::new(ErrorKind::Internal, e.to_string()))?;
            let output = self
                .s3
                .delete_objects()
                .bucket(&storage.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| map_sdk_error("s3:DeleteObject", None, e))?;
            if let Some(failed) = output.errors().first() {
                return Err(map_error_code(
                    "s3:DeleteObject",
                    failed.code().unwrap_or_default(),
                    failed.message().unwrap_or_default(),
                    None,
                ));
            }
        }
        self.s3
            .delete_bucket()
            .bucket(&storage.bucket)
            .send()
            .await
            .map_err(|e| map_sdk_error("s3:DeleteBucket", None, e))?;
        Ok(())
    }
}

impl AwsStorage {
    /// The bucket name (what upstream's `s3{bucketName}` binding carries).
    pub fn bucket(&self) -> &str {
        &self.bucket
    }
}

impl StorageProvider for AwsStorage {
    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        options: PutObjectOptions,
    ) -> Result<PutObjectResult> {
        validate_storage_key(key)?;
        let size = body.len() as u64;
        let output = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body))
            .set_content_type(options.content_type)
            .set_metadata(Some(options.metadata.into_iter().collect()))
            .send()
            .await
            .map_err(|e| map_sdk_error("s3:PutObject", Some(size), e))?;
        Ok(PutObjectResult {
            size,
            etag: output.e_tag.unwrap_or_default(),
        })
    }

    /// `GetObject`; `NoSuchKey` is `None`.
    async fn get(&self, key: &str) -> Result<Option<StoredObject>> {
        validate_storage_key(key)?;
        let output = match self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(output) => output,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Ok(None);
            }
            Err(e) => return Err(map_sdk_error("s3:GetObject", None, e)),
        };
        let meta = object_meta(
            key,
            output.content_length,
            output.e_tag,
            output.last_modified.as_ref(),
            output.content_type,
            output.metadata,
        );
        let body = output.body.collect().await.map_err(|e| {
            ProviderError::new(
                ErrorKind::Unavailable,
                format!("s3:GetObject: reading the body of '{key}' failed"),
            )
            .with_source(e)
        })?;
        Ok(Some(StoredObject {
            meta,
            body: body.into_bytes().to_vec(),
        }))
    }

    /// `HeadObject`; 404 is `None`.
    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>> {
        validate_storage_key(key)?;
        let output = match self
            .s3
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(output) => output,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => {
                return Ok(None);
            }
            Err(e) => return Err(map_sdk_error("s3:GetObject", None, e)),
        };
        Ok(Some(object_meta(
            key,
            output.content_length,
            output.e_tag,
            output.last_modified.as_ref(),
            output.content_type,
            output.metadata,
        )))
    }

    /// `ListObjectsV2` with the cursor as `ContinuationToken`; listings carry no content
    /// type or metadata.
    async fn list(&self, prefix: &str, cursor: Option<String>) -> Result<ListPage> {
        let output = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .set_continuation_token(cursor)
            .send()
            .await
            .map_err(|e| map_sdk_error("s3:ListBucket", None, e))?;
        let objects = output
            .contents()
            .iter()
            .map(|object| ObjectMeta {
                key: object.key().unwrap_or_default().to_owned(),
                size: object.size().map_or(0, |n| n.max(0) as u64),
                etag: object.e_tag().unwrap_or_default().to_owned(),
                last_modified: to_chrono(object.last_modified()),
                content_type: None,
                metadata: Default::default(),
            })
            .collect();
        let next_cursor = output
            .is_truncated()
            .unwrap_or(false)
            .then(|| output.next_continuation_token().map(str::to_owned))
            .flatten();
        Ok(ListPage {
            objects,
            next_cursor,
        })
    }

    async fn delete(&self, key: &str) -> Result<()> {
        validate_storage_key(key)?;
        self.s3
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| map_sdk_error("s3:DeleteObject", None, e))?;
        Ok(())
    }

    async fn changes_since(&self, _cursor: Option<ChangeCursor>) -> Result<ChangePage> {
        Err(ProviderError::unsupported(
            "the AWS adapter has no change feed: S3 reports changes only as bucket \
             notifications (AwsClients::put_bucket_notifications)",
        ))
    }
}

/// The object metadata `GetObject` and `HeadObject` answer with.
fn object_meta(
    key: &str,
    content_length: Option<i64>,
    etag: Option<String>,
    last_modified: Option<&aws_sdk_s3::primitives::DateTime>,
    content_type: Option<String>,
    metadata: Option<std::collections::HashMap<String, String>>,
) -> ObjectMeta {
    ObjectMeta {
        key: key.to_owned(),
        size: content_length.map_or(0, |n| n.max(0) as u64),
        etag: etag.unwrap_or_default(),
        last_modified: to_chrono(last_modified),
        content_type,
        metadata: metadata.unwrap_or_default().into_iter().collect(),
    }
}

/// An S3 timestamp as chrono; the Unix epoch when S3 sent none.
fn to_chrono(time: Option<&aws_sdk_s3::primitives::DateTime>) -> DateTime<Utc> {
    time.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}
