use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use alien_providers::{DaemonExit, DaemonProvider, DaemonStatus, ProviderError, Result};
use chrono::{DateTime, Utc};

/// Daemons that start and stop instantly; a stop records exit code 0.
pub struct MemDaemons(Mutex<BTreeMap<String, DaemonStatus>>);

impl MemDaemons {
    /// Knows the daemons `names`, all stopped.
    pub fn with(names: &[&str]) -> Self {
        let statuses = names.iter().map(|name| {
            let status = DaemonStatus {
                name: (*name).to_owned(),
                running: false,
                restarts: 0,
                last_exit: None,
            };
            ((*name).to_owned(), status)
        });
        Self(Mutex::new(statuses.collect()))
    }

    fn update(&self, name: &str, change: impl FnOnce(&mut DaemonStatus)) -> Result<DaemonStatus> {
        let mut daemons = super::lock(&self.0);
        let status = daemons
            .get_mut(name)
            .ok_or_else(|| ProviderError::not_found(format!("daemon '{name}'")))?;
        change(status);
        Ok(status.clone())
    }
}

impl DaemonProvider for MemDaemons {
    async fn start(&self, name: &str) -> Result<DaemonStatus> {
        self.update(name, |status| status.running = true)
    }

    async fn stop(&self, name: &str, _grace: Duration) -> Result<DaemonStatus> {
        self.update(name, |status| {
            if status.running {
                status.running = false;
                status.last_exit = Some(DaemonExit {
                    at: DateTime::<Utc>::UNIX_EPOCH,
                    code: Some(0),
                });
            }
        })
    }

    async fn status(&self, name: &str) -> Result<DaemonStatus> {
        self.update(name, |_| ())
    }
}
