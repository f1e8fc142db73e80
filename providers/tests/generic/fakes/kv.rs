use std::collections::BTreeMap;
use std::sync::Mutex;

use alien_providers::validate::{validate_kv_key, validate_kv_value};
use alien_providers::{
    KvEntry, KvProvider, ProviderError, PutCondition, PutOptions, Result, ScanResult,
};

const DEFAULT_SCAN_LIMIT: usize = 1000;

#[derive(Default)]
struct State {
    entries: BTreeMap<String, (Vec<u8>, u64)>,
    writes: u64,
}

/// Map-backed KV; versions are write counters, TTLs are ignored (time stands still), and the
/// scan cursor is `"{prefix}\n{last key}"`.
#[derive(Default)]
pub struct MemKv(Mutex<State>);

fn entry(key: &str, (value, version): &(Vec<u8>, u64)) -> KvEntry {
    KvEntry {
        key: key.to_owned(),
        value: value.clone(),
        version: version.to_string(),
    }
}

impl KvProvider for MemKv {
    async fn get(&self, key: &str) -> Result<Option<KvEntry>> {
        validate_kv_key(key)?;
        Ok(super::lock(&self.0).entries.get(key).map(|e| entry(key, e)))
    }

    async fn put(&self, key: &str, value: Vec<u8>, options: PutOptions) -> Result<bool> {
        validate_kv_key(key)?;
        validate_kv_value(&value)?;
        let mut state = super::lock(&self.0);
        let current = state
            .entries
            .get(key)
            .map(|(_, version)| version.to_string());
        let allowed = match &options.condition {
            PutCondition::None => true,
            PutCondition::Absent => current.is_none(),
            PutCondition::Version(expected) => current.as_ref() == Some(expected),
        };
        if allowed {
            state.writes += 1;
            let version = state.writes;
            state.entries.insert(key.to_owned(), (value, version));
        }
        Ok(allowed)
    }

    async fn delete(&self, key: &str, if_version: Option<&str>) -> Result<bool> {
        validate_kv_key(key)?;
        let mut state = super::lock(&self.0);
        let matches = match (state.entries.get(key), if_version) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some((_, version)), Some(expected)) => version.to_string() == expected,
        };
        if matches {
            state.entries.remove(key);
        }
        Ok(matches)
    }

    async fn exists(&self, key: &str) -> Result<bool> {
        validate_kv_key(key)?;
        Ok(super::lock(&self.0).entries.contains_key(key))
    }

    async fn scan_prefix(
        &self,
        prefix: &str,
        limit: Option<usize>,
        cursor: Option<String>,
    ) -> Result<ScanResult> {
        let after = match cursor {
            None => None,
            Some(c) => match c.split_once('\n') {
                Some((p, last)) if p == prefix => Some(last.to_owned()),
                _ => {
                    return Err(ProviderError::invalid_argument(
                        "cursor belongs to another prefix",
                    ));
                }
            },
        };
        let state = super::lock(&self.0);
        let mut matching = state
            .entries
            .iter()
            .filter(|(key, _)| key.starts_with(prefix))
            .filter(|(key, _)| after.as_deref().is_none_or(|last| key.as_str() > last))
            .map(|(key, e)| entry(key, e));
        let items: Vec<_> = matching
            .by_ref()
            .take(limit.unwrap_or(DEFAULT_SCAN_LIMIT))
            .collect();
        let next_cursor = match (matching.next(), items.last()) {
            (Some(_), Some(last)) => Some(format!("{prefix}\n{}", last.key)),
            _ => None,
        };
        Ok(ScanResult { items, next_cursor })
    }
}
