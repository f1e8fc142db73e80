use std::collections::BTreeMap;
use std::sync::Mutex;

use alien_providers::validate::validate_storage_key;
use alien_providers::{
    ChangeCursor, ChangePage, ListPage, ObjectMeta, ProviderError, PutObjectOptions,
    PutObjectResult, Result, StorageChange, StorageChangeKind, StorageProvider, StoredObject,
};
use chrono::{DateTime, Utc};

/// Objects listed two per page so pagination is exercised.
const PAGE: usize = 2;

#[derive(Default)]
struct State {
    objects: BTreeMap<String, StoredObject>,
    changes: Vec<StorageChange>,
    writes: u64,
}

/// Bucket in a map; the change cursor is the index into the change log.
#[derive(Default)]
pub struct MemStorage(Mutex<State>);

impl StorageProvider for MemStorage {
    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        options: PutObjectOptions,
    ) -> Result<PutObjectResult> {
        validate_storage_key(key)?;
        let mut state = super::lock(&self.0);
        state.writes += 1;
        let meta = ObjectMeta {
            key: key.to_owned(),
            size: body.len() as u64,
            etag: format!("\"w{}\"", state.writes),
            last_modified: DateTime::<Utc>::UNIX_EPOCH,
            content_type: options.content_type,
            metadata: options.metadata,
        };
        state.changes.push(StorageChange {
            event: StorageChangeKind::Created,
            key: key.to_owned(),
            size: Some(meta.size),
            etag: Some(meta.etag.clone()),
            at: meta.last_modified,
        });
        let result = PutObjectResult {
            size: meta.size,
            etag: meta.etag.clone(),
        };
        state
            .objects
            .insert(key.to_owned(), StoredObject { meta, body });
        Ok(result)
    }

    async fn get(&self, key: &str) -> Result<Option<StoredObject>> {
        Ok(super::lock(&self.0).objects.get(key).cloned())
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>> {
        Ok(super::lock(&self.0)
            .objects
            .get(key)
            .map(|o| o.meta.clone()))
    }

    async fn list(&self, prefix: &str, cursor: Option<String>) -> Result<ListPage> {
        let state = super::lock(&self.0);
        let after = cursor.unwrap_or_default();
        let mut matching = state
            .objects
            .range::<str, _>((
                std::ops::Bound::Excluded(after.as_str()),
                std::ops::Bound::Unbounded,
            ))
            .filter(|(key, _)| key.starts_with(prefix))
            .map(|(_, object)| object.meta.clone());
        let objects: Vec<_> = matching.by_ref().take(PAGE).collect();
        let more = matching.next().is_some();
        let next_cursor = more
            .then(|| objects.last().map(|m| m.key.clone()))
            .flatten();
        Ok(ListPage {
            objects,
            next_cursor,
        })
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let mut state = super::lock(&self.0);
        if state.objects.remove(key).is_some() {
            state.changes.push(StorageChange {
                event: StorageChangeKind::Deleted,
                key: key.to_owned(),
                size: None,
                etag: None,
                at: DateTime::<Utc>::UNIX_EPOCH,
            });
        }
        Ok(())
    }

    async fn changes_since(&self, cursor: Option<ChangeCursor>) -> Result<ChangePage> {
        let from = match cursor {
            None => 0,
            Some(c) => c
                .as_str()
                .parse::<usize>()
                .map_err(|_| ProviderError::invalid_argument(format!("bad cursor {c}")))?,
        };
        let state = super::lock(&self.0);
        let changes = state.changes.get(from..).unwrap_or_default().to_vec();
        Ok(ChangePage {
            changes,
            cursor: ChangeCursor::new(state.changes.len().to_string()),
        })
    }
}
