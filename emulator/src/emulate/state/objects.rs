//! Objects as the control API puts, gets and deletes them. Under `alien emulate` the bytes go
//! to the bucket directory and the engine records their metadata ([`Objects::Dirs`]); an
//! engine without a state directory keeps bytes in memory ([`Objects::Engine`]). Either way
//! an answer leaves once the change is on disk, and the file work runs off the async runtime.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::EngineHandle;
use super::buckets::{BucketDirs, BucketError};
use super::store::StoreError;
use crate::engine::{SimError, etag_of};

/// Where object bytes live.
#[derive(Clone)]
pub enum Objects {
    Engine,
    Dirs(Arc<BucketDirs>),
}

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error(transparent)]
    Engine(#[from] SimError),
    #[error(transparent)]
    Bucket(#[from] BucketError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("storage task failed: {0}")]
    Task(String),
}

/// An object read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    /// The MD5 of exactly these bytes.
    pub etag: String,
    pub last_modified: Option<DateTime<Utc>>,
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ObjectError> + Send + 'static,
) -> Result<T, ObjectError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ObjectError::Task(e.to_string()))?
}

impl Objects {
    /// Puts `body` as `key`; returns its ETag.
    pub async fn put(
        &self,
        engine: &EngineHandle,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<String, ObjectError> {
        let (bucket, key, content_type) = (
            bucket.to_string(),
            key.to_string(),
            content_type.to_string(),
        );
        match self {
            Objects::Engine => Ok(engine
                .apply(|sim| {
                    sim.put_object_bytes(&bucket, &key, body, &content_type, BTreeMap::new())
                })
                .await??),
            Objects::Dirs(dirs) => {
                let (dirs, engine) = (dirs.clone(), engine.clone());
                blocking(move || {
                    let (recorded, ticket) = {
                        let _writing = dirs.writing();
                        let file = dirs.write(&bucket, &key, &body, &content_type)?;
                        let etag = file.etag.clone();
                        let (recorded, ticket) = engine
                            .apply_deferred(|sim| sim.put_file_object(&bucket, &key, file), false);
                        (recorded.map(|()| etag), ticket)
                    };
                    ticket.wait_blocking()?;
                    Ok(recorded?)
                })
                .await
            }
        }
    }

    /// The object, None when there is none.
    pub async fn get(
        &self,
        engine: &EngineHandle,
        bucket: &str,
        key: &str,
    ) -> Result<Option<Fetched>, ObjectError> {
        match self {
            Objects::Engine => {
                let stored = engine.lock().get_object(bucket, key)?;
                Ok(stored.map(|o| Fetched {
                    etag: etag_of(&o.body),
                    body: o.body,
                    content_type: o.meta.content_type,
                    last_modified: Some(o.meta.last_modified),
                }))
            }
            Objects::Dirs(dirs) => {
                // The metadata first: an unknown bucket is the engine's 404.
                let meta = engine.lock().head_object(bucket, key)?;
                let (dirs, bucket, key) = (dirs.clone(), bucket.to_string(), key.to_string());
                let body = blocking(move || Ok(dirs.read(&bucket, &key)?)).await?;
                Ok(body.map(|body| Fetched {
                    etag: etag_of(&body),
                    body,
                    content_type: meta.as_ref().and_then(|m| m.content_type.clone()),
                    last_modified: meta.map(|m| m.last_modified),
                }))
            }
        }
    }

    /// Deletes `key` (a missing key is fine).
    pub async fn delete(
        &self,
        engine: &EngineHandle,
        bucket: &str,
        key: &str,
    ) -> Result<(), ObjectError> {
        let (bucket, key) = (bucket.to_string(), key.to_string());
        match self {
            Objects::Engine => Ok(engine
                .apply(|sim| sim.delete_object(&bucket, &key))
                .await??),
            Objects::Dirs(dirs) => {
                let (dirs, engine) = (dirs.clone(), engine.clone());
                blocking(move || {
                    let (deleted, ticket) = {
                        let _writing = dirs.writing();
                        dirs.remove(&bucket, &key)?;
                        engine.apply_deferred(|sim| sim.delete_object(&bucket, &key), false)
                    };
                    ticket.wait_blocking()?;
                    Ok(deleted?)
                })
                .await
            }
        }
    }
}
