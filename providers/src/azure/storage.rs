//! [`StorageProvider`] over one Blob Storage container (block blobs).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use azure_core::error::ErrorKind as CoreKind;
use azure_core::http::RequestContent;
use azure_storage_blob::BlobContainerClient;
use azure_storage_blob::models::{
    BlobClientGetPropertiesResultHeaders, BlobContainerClientListBlobsOptions,
    BlockBlobClientUploadOptions, ListBlobsIncludeItem, StorageErrorCode,
};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;

use super::blob_error::map_blob_error;
use super::clients::AzureClients;
use crate::error::{ProviderError, Result};
use crate::storage::{
    ChangePage, ListPage, ObjectMeta, PutObjectOptions, PutObjectResult, StorageProvider,
    StoredObject,
};
use crate::types::ChangeCursor;
use crate::validate::validate_storage_key;

/// Objects in one container. Keys pass [`validate_storage_key`] first, as on the emulator.
/// `changes_since` is [`crate::ErrorKind::Unsupported`]: Azure reports blob changes through
/// Event Grid into a Service Bus queue (upstream-cloud-semantics.md §5.1), which no local peer
/// emulates and this adapter does not subscribe to.
#[derive(Clone)]
pub struct AzureStorage {
    container: Arc<BlobContainerClient>,
    name: String,
    page_size: Option<u32>,
}

impl AzureClients {
    /// Creates container `name` (private access); an existing container is fine
    /// (`ContainerAlreadyExists`).
    pub async fn create_container(&self, name: &str) -> Result<AzureStorage> {
        let storage = self.container(name)?;
        match storage.container.create(None).await {
            Ok(_) => Ok(storage),
            Err(e) if error_code(&e) == Some(StorageErrorCode::ContainerAlreadyExists) => {
                Ok(storage)
            }
            Err(e) => Err(map_blob_error("CreateContainer", None, e)),
        }
    }

    /// Binds an existing container without calling the service.
    pub fn container(&self, name: &str) -> Result<AzureStorage> {
        Ok(AzureStorage {
            container: Arc::new(self.container_client(name)?),
            name: name.to_owned(),
            page_size: None,
        })
    }

    /// Deletes container `name` with its blobs; a missing container is fine.
    pub async fn delete_container(&self, name: &str) -> Result<()> {
        match self.container_client(name)?.delete(None).await {
            Ok(_) => Ok(()),
            Err(e) if error_code(&e) == Some(StorageErrorCode::ContainerNotFound) => Ok(()),
            Err(e) => Err(map_blob_error("DeleteContainer", None, e)),
        }
    }
}

impl fmt::Debug for AzureStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureStorage")
            .field("container", &self.name)
            .field("page_size", &self.page_size)
            .finish()
    }
}

impl AzureStorage {
    /// The container name.
    pub fn container_name(&self) -> &str {
        &self.name
    }

    /// Caps each `list` page at `size` blobs (`maxresults`; the service default is 5000).
    pub fn with_page_size(mut self, size: u32) -> Self {
        self.page_size = Some(size);
        self
    }
}

impl StorageProvider for AzureStorage {
    /// `Put Blob` with `x-ms-blob-content-type` and `x-ms-meta-*`.
    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        options: PutObjectOptions,
    ) -> Result<PutObjectResult> {
        validate_storage_key(key)?;
        let size = body.len() as u64;
        let upload = BlockBlobClientUploadOptions {
            blob_content_type: options.content_type,
            metadata: Some(options.metadata.into_iter().collect()),
            ..Default::default()
        };
        let result = self
            .container
            .blob_client(key)
            .upload(RequestContent::from(body), Some(upload))
            .await
            .map_err(|e| map_blob_error("PutBlob", Some(size), e))?;
        Ok(PutObjectResult {
            size,
            etag: result.etag.map(|e| e.to_string()).unwrap_or_default(),
        })
    }

    /// `Get Blob`; `BlobNotFound` is `None` (a missing container stays an error).
    async fn get(&self, key: &str) -> Result<Option<StoredObject>> {
        validate_storage_key(key)?;
        let result = match self.container.blob_client(key).download(None).await {
            Ok(result) => result,
            Err(e) if error_code(&e) == Some(StorageErrorCode::BlobNotFound) => return Ok(None),
            Err(e) => return Err(map_blob_error("GetBlob", None, e)),
        };
        let props = result.properties;
        let body = result
            .body
            .collect()
            .await
            .map_err(|e| map_blob_error("GetBlob", None, e))?;
        let meta = ObjectMeta {
            key: key.to_owned(),
            size: body.len() as u64,
            etag: props.etag.map(|e| e.to_string()).unwrap_or_default(),
            last_modified: to_chrono(props.last_modified),
            content_type: props.content_type,
            metadata: props.metadata.into_iter().collect(),
        };
        Ok(Some(StoredObject {
            meta,
            body: body.to_vec(),
        }))
    }

    /// `Get Blob Properties`; a 404 other than `ContainerNotFound` is `None` (HEAD answers
    /// carry the code only in `x-ms-error-code`).
    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>> {
        validate_storage_key(key)?;
        let response = match self.container.blob_client(key).get_properties(None).await {
            Ok(response) => response,
            Err(e)
                if e.http_status().map(u16::from) == Some(404)
                    && error_code(&e) != Some(StorageErrorCode::ContainerNotFound) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(map_blob_error("GetBlobProperties", None, e)),
        };
        let header = |e| map_blob_error("GetBlobProperties", None, e);
        Ok(Some(ObjectMeta {
            key: key.to_owned(),
            size: response.content_length().map_err(header)?.unwrap_or(0),
            etag: response
                .etag()
                .map_err(header)?
                .map(|e| e.to_string())
                .unwrap_or_default(),
            last_modified: to_chrono(response.last_modified().map_err(header)?),
            content_type: response.content_type().map_err(header)?,
            metadata: response.metadata().map_err(header)?.into_iter().collect(),
        }))
    }

    /// `List Blobs` (flat, `include=metadata`) with `prefix`; the cursor is the service's
    /// `NextMarker`.
    async fn list(&self, prefix: &str, cursor: Option<String>) -> Result<ListPage> {
        let options = BlobContainerClientListBlobsOptions {
            include: Some(vec![ListBlobsIncludeItem::Metadata]),
            marker: cursor,
            maxresults: self.page_size.map(|n| n.min(i32::MAX as u32) as i32),
            prefix: (!prefix.is_empty()).then(|| prefix.to_owned()),
            ..Default::default()
        };
        let mut pages = self
            .container
            .list_blobs(Some(options))
            .map_err(|e| map_blob_error("ListBlobs", None, e))?
            .into_pages();
        let Some(page) = pages
            .try_next()
            .await
            .map_err(|e| map_blob_error("ListBlobs", None, e))?
        else {
            return Ok(ListPage {
                objects: Vec::new(),
                next_cursor: None,
            });
        };
        let page = page
            .into_model()
            .map_err(|e| map_blob_error("ListBlobs", None, e))?;
        let objects = page
            .blob_items
            .into_iter()
            .map(|item| {
                let props = item.properties.unwrap_or_default();
                ObjectMeta {
                    key: item.name.unwrap_or_default(),
                    size: props.content_length.unwrap_or(0),
                    etag: props.etag.map(|e| e.to_string()).unwrap_or_default(),
                    last_modified: to_chrono(props.last_modified),
                    content_type: props.content_type,
                    metadata: item
                        .metadata
                        .and_then(|m| m.values)
                        .map(|values| values.into_iter().collect())
                        .unwrap_or_else(BTreeMap::new),
                }
            })
            .collect();
        Ok(ListPage {
            objects,
            next_cursor: page.next_marker.filter(|m| !m.is_empty()),
        })
    }

    /// `Delete Blob`; `BlobNotFound` succeeds (the trait's S3 semantics).
    async fn delete(&self, key: &str) -> Result<()> {
        validate_storage_key(key)?;
        match self.container.blob_client(key).delete(None).await {
            Ok(_) => Ok(()),
            Err(e) if error_code(&e) == Some(StorageErrorCode::BlobNotFound) => Ok(()),
            Err(e) => Err(map_blob_error("DeleteBlob", None, e)),
        }
    }

    async fn changes_since(&self, _cursor: Option<ChangeCursor>) -> Result<ChangePage> {
        Err(ProviderError::unsupported(
            "the Azure adapter has no change feed: Azure delivers blob events through an \
             Event Grid subscription into a Service Bus queue (upstream-cloud-semantics.md \
             §5.1), which no local peer emulates",
        ))
    }
}

/// The `x-ms-error-code` of a failed call, if the service sent one.
fn error_code(err: &azure_core::Error) -> Option<StorageErrorCode> {
    match err.kind() {
        CoreKind::HttpResponse {
            raw_response: Some(raw),
            error_code,
            ..
        } => raw
            .headers()
            .get_optional_string(&azure_core::http::headers::HeaderName::from_static(
                "x-ms-error-code",
            ))
            .or_else(|| error_code.clone())
            .and_then(|code| code.parse().ok()),
        CoreKind::HttpResponse { error_code, .. } => {
            error_code.as_ref().and_then(|code| code.parse().ok())
        }
        _ => None,
    }
}

/// A service timestamp as chrono; the Unix epoch when none was sent.
fn to_chrono(time: Option<time::OffsetDateTime>) -> DateTime<Utc> {
    time.and_then(|t| DateTime::from_timestamp(t.unix_timestamp(), t.nanosecond()))
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}
