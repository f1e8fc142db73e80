//! The processes behind a worker's instances: one app process (a [`WorkerHost`]) per instance
//! number the engine names, started on demand and stopped when the engine stops the instance
//! (scale-in, scale to zero, recycling, a crash).
//!
//! Instance 1 is the process started at launch. It also serves the worker's HTTP (the gateway
//! proxies to the port it registered), so it is parked rather than dropped when stopped, and a
//! request or the next attempt given to it starts it again. Every other instance is a process
//! of its own, logged as `worker#N`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::OnceCell;

use crate::emulate::host::{HostConfig, HostError, WorkerHost};

/// The instance started at launch.
pub(crate) const FIRST_INSTANCE: u32 = 1;

type Slot = Arc<OnceCell<Arc<WorkerHost>>>;

/// One worker's instance processes.
pub(crate) struct WorkerPool {
    /// How every instance's process is started (instance 1's config).
    template: HostConfig,
    first: Arc<WorkerHost>,
    others: Mutex<BTreeMap<u32, Slot>>,
}

impl WorkerPool {
    pub fn new(template: HostConfig, first: Arc<WorkerHost>) -> WorkerPool {
        WorkerPool {
            template,
            first,
            others: Mutex::new(BTreeMap::new()),
        }
    }

    /// The process of `instance`, started now if it is new (its cold start in real time; the
    /// platform's latency was already waited for in the clock's time).
    pub async fn host(&self, instance: Option<u32>) -> Result<Arc<WorkerHost>, HostError> {
        let n = instance.unwrap_or(FIRST_INSTANCE);
        if n == FIRST_INSTANCE {
            return Ok(self.first.clone());
        }
        let slot = self.slot(n);
        let host = slot
            .get_or_try_init(|| async {
                let mut config = self.template.clone();
                config.instance = n;
                WorkerHost::start(config).await.map(Arc::new)
            })
            .await?;
        Ok(host.clone())
    }

    fn slot(&self, n: u32) -> Slot {
        let mut others = self.others.lock().unwrap_or_else(PoisonError::into_inner);
        others.entry(n).or_default().clone()
    }

    /// The engine stopped `instance`: its process stops gracefully (instance 1 is parked).
    pub async fn stop(&self, instance: u32) {
        if instance == FIRST_INSTANCE {
            let _ = self.first.park().await;
            return;
        }
        let slot = self
            .others
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&instance);
        if let Some(host) = slot.and_then(|s| s.get().cloned()) {
            let _ = host.stop(self.template.stop_grace).await;
        }
    }

    /// Every instance's process stops (the emulator is stopping).
    pub async fn stop_all(&self, grace: Duration) {
        let others: Vec<Slot> =
            std::mem::take(&mut *self.others.lock().unwrap_or_else(PoisonError::into_inner))
                .into_values()
                .collect();
        let _ = self.first.stop(grace).await;
        for host in others.iter().filter_map(|s| s.get()) {
            let _ = host.stop(grace).await;
        }
    }
}
