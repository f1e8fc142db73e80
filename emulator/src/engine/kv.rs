//! KV: the bindings' portable limits, lazy TTL expiry and conditional writes
//! (upstream-stack-and-limits.md §6.5; published-3.3.49.md §5.2).

use std::collections::BTreeMap;
use std::time::Duration;

use alien_providers::validate::validate_kv_key;
use alien_providers::{ErrorKind, KvEntry, ProviderError, PutCondition};
use chrono::{DateTime, Utc};

use super::sim::{Sim, SimError};
use super::trace::Kind;
use crate::stack::Resource;

#[derive(Debug, Clone, Default)]
pub(crate) struct KvStore {
    pub(crate) entries: BTreeMap<String, KvRow>,
    pub(crate) next_version: u64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KvRow {
    pub(crate) value: Vec<u8>,
    pub(crate) version: String,
    pub(crate) expires_at: Option<DateTime<Utc>>,
}

impl KvRow {
    fn live(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

impl Sim {
    pub(crate) fn provision_kv(&mut self) {
        let ids: Vec<String> = self
            .stack
            .resources
            .iter()
            .filter(|(_, e)| matches!(e.config, Resource::Kv(_)))
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            self.kv.insert(id, KvStore::default());
        }
    }

    fn kv_check(&mut self, store: &str, key: &str, value: Option<&[u8]>) -> Result<(), SimError> {
        if !self.kv.contains_key(store) {
            return Err(SimError::UnknownResource {
                kind: "kv",
                name: store.into(),
            });
        }
        let limit = self.profile.kv.max_value_bytes.value;
        let result = validate_kv_key(key).and_then(|()| match value {
            Some(v) if v.len() > limit => Err(ProviderError::new(
                ErrorKind::PayloadTooLarge {
                    size: v.len() as u64,
                    limit: limit as u64,
                },
                format!("Value exceeds {limit} bytes"),
            )),
            _ => Ok(()),
        });
        if let Err(err) = result {
            self.record(
                Kind::KvRejected,
                store,
                Some(key),
                vec![("error", err.message.clone())],
            );
            return Err(err.into());
        }
        Ok(())
    }

    /// `get`: expired keys read as absent (lazy expiry).
    pub fn kv_get(&mut self, store: &str, key: &str) -> Result<Option<KvEntry>, SimError> {
        self.kv_check(store, key, None)?;
        let now = self.now();
        let kv = self.kv.get_mut(store).expect("checked");
        match kv.entries.get(key) {
            Some(row) if row.live(now) => Ok(Some(KvEntry {
                key: key.to_string(),
                value: row.value.clone(),
                version: row.version.clone(),
            })),
            Some(_) => {
                kv.entries.remove(key);
                self.mark_kv(store, key);
                Ok(None)
            }
            None => Ok(None),
        }
    }

    /// `put` with an optional TTL and condition; false when the condition fails.
    pub fn kv_put(
        &mut self,
        store: &str,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
        condition: PutCondition,
    ) -> Result<bool, SimError> {
        self.kv_check(store, key, Some(&value))?;
        let now = self.now();
        let kv = self.kv.get_mut(store).expect("checked");
        let current = kv.entries.get(key).filter(|row| row.live(now));
        let allowed = match &condition {
            PutCondition::None => true,
            PutCondition::Absent => current.is_none(),
            PutCondition::Version(v) => current.is_some_and(|row| &row.version == v),
        };
        if !allowed {
            self.record(
                Kind::KvRejected,
                store,
                Some(key),
                vec![("error", "condition failed".into())],
            );
            return Ok(false);
        }
        kv.next_version += 1;
        let version = format!("v{}", kv.next_version);
        let expires_at =
            ttl.map(|t| now + chrono::Duration::from_std(t).unwrap_or(chrono::TimeDelta::MAX));
        let bytes = value.len();
        kv.entries.insert(
            key.to_string(),
            KvRow {
                value,
                version: version.clone(),
                expires_at,
            },
        );
        self.mark_kv(store, key);
        self.record(
            Kind::KvPut,
            store,
            Some(key),
            vec![("bytes", bytes.to_string()), ("version", version)],
        );
        Ok(true)
    }

    /// `delete`, optionally only at a version; true when a live entry was removed.
    pub fn kv_delete(
        &mut self,
        store: &str,
        key: &str,
        if_version: Option<&str>,
    ) -> Result<bool, SimError> {
        self.kv_check(store, key, None)?;
        let now = self.now();
        let kv = self.kv.get_mut(store).expect("checked");
        let matches = kv
            .entries
            .get(key)
            .filter(|row| row.live(now))
            .is_some_and(|row| if_version.is_none_or(|v| row.version == v));
        if !matches {
            return Ok(false);
        }
        kv.entries.remove(key);
        self.mark_kv(store, key);
        self.record(Kind::KvDeleted, store, Some(key), vec![]);
        Ok(true)
    }

    /// Live keys under `prefix`, in key order.
    pub fn kv_scan(&self, store: &str, prefix: &str) -> Result<Vec<String>, SimError> {
        let kv = self
            .kv
            .get(store)
            .ok_or_else(|| SimError::UnknownResource {
                kind: "kv",
                name: store.into(),
            })?;
        let now = self.now();
        Ok(kv
            .entries
            .iter()
            .filter(|(k, row)| k.starts_with(prefix) && row.live(now))
            .map(|(k, _)| k.clone())
            .collect())
    }
}
