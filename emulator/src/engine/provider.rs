//! The provider traits implemented by the simulation, for every platform profile: the same
//! generic code that drives a real cloud adapter drives the emulator. Each handle is bound to
//! one resource, like upstream's bindings. Calls act at the simulation's current virtual time.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use alien_providers::{
    ChangeCursor, ChangePage, DaemonExit, DaemonProvider, DaemonStatus, ErrorKind, KvEntry,
    KvProvider, ListPage, MessageId, ObjectMeta, Payload, ProviderError, PutObjectOptions,
    PutObjectResult, PutOptions, QueueAttributes, QueueMessage, QueueProvider, ReceiptHandle,
    ReceiveOptions, Result, ScanResult, ScheduleId, ScheduleProvider, ScheduleRegistration,
    ScheduleTrigger, StoredObject, WorkerInvokeRequest, WorkerInvokeResponse, WorkerProvider,
};
use chrono::{DateTime, Utc};

use super::queues::SendVia;
use super::sim::{Sim, SimError};
use crate::profile::ScheduleName;

/// A simulation shared by provider handles.
pub type SharedSim = Arc<Mutex<Sim>>;

pub fn shared(sim: Sim) -> SharedSim {
    Arc::new(Mutex::new(sim))
}

fn lock(sim: &SharedSim) -> MutexGuard<'_, Sim> {
    sim.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl From<SimError> for ProviderError {
    fn from(err: SimError) -> Self {
        match err {
            SimError::Provider(e) => e,
            SimError::UnknownResource { .. } => ProviderError::not_found(err.to_string()),
            SimError::Invalid(message) => ProviderError::invalid_argument(message),
            SimError::StepLimit(message) => ProviderError::new(ErrorKind::Internal, message),
        }
    }
}

/// A queue binding.
pub struct EmulatedQueue {
    pub sim: SharedSim,
    pub queue: String,
}

impl QueueProvider for EmulatedQueue {
    async fn send(&self, payload: Payload) -> Result<MessageId> {
        Ok(MessageId::new(lock(&self.sim).send(
            &self.queue,
            payload,
            SendVia::Binding,
        )?))
    }

    async fn receive(&self, options: ReceiveOptions) -> Result<Vec<QueueMessage>> {
        let received = lock(&self.sim).receive(&self.queue, options.max_messages, options.lease)?;
        Ok(received
            .into_iter()
            .map(|r| QueueMessage {
                id: MessageId::new(r.id),
                payload: r.payload,
                receipt: ReceiptHandle::new(r.receipt),
                attempt: r.attempt,
                enqueued_at: r.enqueued_at,
                attributes: BTreeMap::new(),
            })
            .collect())
    }

    async fn ack(&self, receipt: &ReceiptHandle) -> Result<()> {
        Ok(lock(&self.sim).ack(&self.queue, receipt.as_str())?)
    }

    async fn nack(&self, receipt: &ReceiptHandle) -> Result<()> {
        Ok(lock(&self.sim).nack(&self.queue, receipt.as_str())?)
    }

    async fn change_visibility(&self, receipt: &ReceiptHandle, visible_in: Duration) -> Result<()> {
        Ok(lock(&self.sim).renew(&self.queue, receipt.as_str(), visible_in)?)
    }

    async fn purge(&self) -> Result<()> {
        Ok(lock(&self.sim).purge(&self.queue)?)
    }

    async fn attributes(&self) -> Result<QueueAttributes> {
        let sim = lock(&self.sim);
        let stats = sim.queue_stats(&self.queue)?;
        let profile = sim.profile();
        Ok(QueueAttributes {
            approximate_visible: stats.visible as u64,
            approximate_in_flight: stats.in_flight as u64,
            approximate_delayed: 0,
            visibility_timeout: sim.visibility_timeout(&self.queue)?,
            retention: profile
                .queue
                .retention_seconds
                .value
                .map(Duration::from_secs),
            max_message_bytes: profile.queue.binding_message_max_bytes.value,
            dead_letter_count: profile
                .queue
                .max_deliveries
                .value
                .map(|_| stats.dead_lettered as u64),
        })
    }
}

/// A storage binding.
pub struct EmulatedStorage {
    pub sim: SharedSim,
    pub bucket: String,
}

impl alien_providers::StorageProvider for EmulatedStorage {
    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        options: PutObjectOptions,
    ) -> Result<PutObjectResult> {
        let size = body.len() as u64;
        let content_type = options.content_type.unwrap_or_default();
        let etag = lock(&self.sim).put_object_bytes(
            &self.bucket,
            key,
            body,
            &content_type,
            options.metadata,
        )?;
        Ok(PutObjectResult { size, etag })
    }

    async fn get(&self, key: &str) -> Result<Option<StoredObject>> {
        Ok(lock(&self.sim).get_object(&self.bucket, key)?)
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>> {
        Ok(lock(&self.sim).head_object(&self.bucket, key)?)
    }

    /// Pages of 1000 keys (S3 ListObjectsV2's default page size); the cursor is the last key.
    async fn list(&self, prefix: &str, cursor: Option<String>) -> Result<ListPage> {
        const PAGE: usize = 1000;
        let all = lock(&self.sim).list_objects(&self.bucket, prefix)?;
        let rest: Vec<ObjectMeta> = all
            .into_iter()
            .filter(|o| cursor.as_ref().is_none_or(|c| o.key > *c))
            .collect();
        let next_cursor = (rest.len() > PAGE).then(|| rest[PAGE - 1].key.clone());
        Ok(ListPage {
            objects: rest.into_iter().take(PAGE).collect(),
            next_cursor,
        })
    }

    async fn delete(&self, key: &str) -> Result<()> {
        Ok(lock(&self.sim).delete_object(&self.bucket, key)?)
    }

    async fn changes_since(&self, cursor: Option<ChangeCursor>) -> Result<ChangePage> {
        let from = match &cursor {
            Some(c) => c.as_str().parse::<usize>().map_err(|_| {
                ProviderError::invalid_argument(format!("invalid change cursor '{}'", c.as_str()))
            })?,
            None => 0,
        };
        let (changes, next) = lock(&self.sim).storage_changes(&self.bucket, from)?;
        Ok(ChangePage {
            changes,
            cursor: ChangeCursor::new(next.to_string()),
        })
    }
}

/// A KV binding.
pub struct EmulatedKv {
    pub sim: SharedSim,
    pub store: String,
}

impl KvProvider for EmulatedKv {
    async fn get(&self, key: &str) -> Result<Option<KvEntry>> {
        Ok(lock(&self.sim).kv_get(&self.store, key)?)
    }

    async fn put(&self, key: &str, value: Vec<u8>, options: PutOptions) -> Result<bool> {
        Ok(lock(&self.sim).kv_put(&self.store, key, value, options.ttl, options.condition)?)
    }

    async fn delete(&self, key: &str, if_version: Option<&str>) -> Result<bool> {
        Ok(lock(&self.sim).kv_delete(&self.store, key, if_version)?)
    }

    async fn exists(&self, key: &str) -> Result<bool> {
        Ok(lock(&self.sim).kv_get(&self.store, key)?.is_some())
    }

    /// Ordered by key; the cursor is the last key returned.
    async fn scan_prefix(
        &self,
        prefix: &str,
        limit: Option<usize>,
        cursor: Option<String>,
    ) -> Result<ScanResult> {
        let limit = limit.unwrap_or(1000).max(1);
        let mut sim = lock(&self.sim);
        let keys: Vec<String> = sim
            .kv_scan(&self.store, prefix)?
            .into_iter()
            .filter(|k| cursor.as_ref().is_none_or(|c| k > c))
            .collect();
        let mut items = Vec::new();
        for key in keys.iter().take(limit) {
            if let Some(entry) = sim.kv_get(&self.store, key)? {
                items.push(entry);
            }
        }
        let next_cursor = (keys.len() > limit).then(|| keys[limit - 1].clone());
        Ok(ScanResult { items, next_cursor })
    }
}

/// Schedules compiled in the profile's cron dialect, anchored at registration time.
pub struct EmulatedSchedules {
    pub sim: SharedSim,
    registered: Mutex<BTreeMap<String, crate::cron::Schedule>>,
}

impl EmulatedSchedules {
    pub fn new(sim: SharedSim) -> EmulatedSchedules {
        EmulatedSchedules {
            sim,
            registered: Mutex::new(BTreeMap::new()),
        }
    }
}

impl ScheduleProvider for EmulatedSchedules {
    async fn register(&self, trigger: ScheduleTrigger) -> Result<ScheduleRegistration> {
        let (dialect, naming, now, stack) = {
            let sim = lock(&self.sim);
            let profile = sim.profile();
            (
                profile.cron.dialect.value,
                profile.cron.schedule_name.value,
                sim.now(),
                sim.stack_id().to_string(),
            )
        };
        let schedule = crate::cron::compile(&trigger.cron, dialect, now)
            .map_err(|e| ProviderError::invalid_argument(e.to_string()))?;
        let mut registered = self.registered.lock().unwrap_or_else(|p| p.into_inner());
        let index = registered.len();
        let id = format!("{}-cron-{index}", trigger.target);
        let schedule_name = match naming {
            ScheduleName::RuleArn => {
                format!("arn:aws:events:us-east-1:000000000000:rule/{stack}-{id}")
            }
            ScheduleName::SchedulerJobName => format!("{stack}-{id}"),
            ScheduleName::DaprComponent => format!("cron-{stack}-{}-{index}", trigger.target),
            ScheduleName::CronExpression => trigger.cron.clone(),
        };
        let expression = schedule.describe();
        registered.insert(id.clone(), schedule);
        Ok(ScheduleRegistration {
            id: ScheduleId::new(id),
            expression,
            schedule_name,
        })
    }

    async fn fire_times(
        &self,
        id: &ScheduleId,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DateTime<Utc>>> {
        let registered = self.registered.lock().unwrap_or_else(|p| p.into_inner());
        let schedule = registered
            .get(id.as_str())
            .ok_or_else(|| ProviderError::not_found(format!("no schedule '{}'", id.as_str())))?;
        let mut times = Vec::new();
        let mut t = from - chrono::Duration::milliseconds(1);
        while times.len() < limit {
            match schedule.next_after(t) {
                Some(next) if next < until => {
                    times.push(next);
                    t = next;
                }
                _ => break,
            }
        }
        Ok(times)
    }

    async fn remove(&self, id: &ScheduleId) -> Result<()> {
        let mut registered = self.registered.lock().unwrap_or_else(|p| p.into_inner());
        registered
            .remove(id.as_str())
            .map(|_| ())
            .ok_or_else(|| ProviderError::not_found(format!("no schedule '{}'", id.as_str())))
    }
}

/// Worker-to-worker calls: the simulation runs until the target answers.
pub struct EmulatedWorkers {
    pub sim: SharedSim,
}

impl WorkerProvider for EmulatedWorkers {
    async fn invoke(&self, request: WorkerInvokeRequest) -> Result<WorkerInvokeResponse> {
        let mut sim = lock(&self.sim);
        let id = sim.invoke_worker(
            &request.target_worker,
            &request.method,
            &request.path,
            request.body.len() as u64,
        )?;
        let limit = request.timeout.unwrap_or(Duration::from_secs(3600));
        match sim.wait_http(&id, limit) {
            Ok(result) => Ok(WorkerInvokeResponse {
                status: result.status,
                headers: BTreeMap::new(),
                body: result.reason.into_bytes(),
            }),
            Err(_) => Err(ProviderError::new(
                ErrorKind::Timeout,
                format!(
                    "no answer from '{}' within {limit:?}",
                    request.target_worker
                ),
            )),
        }
    }
}

/// Daemon control.
pub struct EmulatedDaemons {
    pub sim: SharedSim,
}

fn daemon_status(sim: &Sim, name: &str) -> Result<DaemonStatus> {
    let s = sim.daemon_status(name)?;
    Ok(DaemonStatus {
        name: s.daemon_name,
        running: s.running,
        restarts: s.restarts,
        last_exit: s.last_exit.map(|(at, code)| DaemonExit {
            at,
            code: (code != 137).then_some(code),
        }),
    })
}

impl DaemonProvider for EmulatedDaemons {
    async fn start(&self, name: &str) -> Result<DaemonStatus> {
        let mut sim = lock(&self.sim);
        sim.start_daemon_named(name)?;
        daemon_status(&sim, name)
    }

    async fn stop(&self, name: &str, grace: Duration) -> Result<DaemonStatus> {
        let mut sim = lock(&self.sim);
        sim.stop_daemon_with_grace(name, grace)?;
        daemon_status(&sim, name)
    }

    async fn status(&self, name: &str) -> Result<DaemonStatus> {
        daemon_status(&lock(&self.sim), name)
    }
}
