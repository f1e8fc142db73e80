//! The emulator as a conformance target: the AWS profile (limits as of `as_of`), one
//! simulation per resource, all advanced together by [`Target::sleep`] in virtual time.
//! Queues are reached as the SQS API is (the service's limits, not the binding's 64 KiB).

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use alien_providers::{
    MessageId, Payload, QueueAttributes, QueueMessage, QueueProvider, ReceiptHandle,
    ReceiveOptions, Result, SendOutcome,
};
use chrono::{NaiveDate, Utc};
use serde_json::json;

use super::{KeyRule, QueueSetup, Target};
use crate::Platform;
use crate::engine::{
    EmulatedQueue, EmulatedSchedules, EmulatedStorage, EmulatedWorkers, QueueSettings, SendVia,
    SharedSim, Sim, SimConfig, shared,
};
use crate::profile::Profile;
use crate::stack::parse_stack_json;

pub struct EmulatorTarget {
    as_of: NaiveDate,
    sims: Mutex<Vec<SharedSim>>,
}

impl EmulatorTarget {
    pub fn new(as_of: NaiveDate) -> EmulatorTarget {
        EmulatorTarget {
            as_of,
            sims: Mutex::new(Vec::new()),
        }
    }

    /// A fresh simulation of a stack holding `resources`.
    fn sim(&self, resources: serde_json::Value) -> Result<SharedSim> {
        let doc = json!({"id": "conformance", "resources": resources});
        let stack = parse_stack_json(&doc.to_string(), Path::new("conformance.json"))
            .map_err(|e| alien_providers::ProviderError::invalid_argument(e.to_string()))?;
        let profile = Profile::new(Platform::Aws, self.as_of).ok_or_else(|| {
            alien_providers::ProviderError::invalid_argument(format!(
                "no AWS profile for {}",
                self.as_of
            ))
        })?;
        let sim = shared(Sim::new(&stack, profile, SimConfig::new(1, Utc::now())));
        self.sims
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(sim.clone());
        Ok(sim)
    }
}

fn resource(kind: &str, id: &str) -> serde_json::Value {
    json!({id: {"config": {"type": kind, "id": id}, "lifecycle": "frozen", "dependencies": []}})
}

/// Queue `id` of `sim` with the case's SQS attributes, reached as the service API is.
fn service_queue(sim: SharedSim, id: &str, setup: &QueueSetup) -> Result<ServiceQueue> {
    sim.lock()
        .unwrap_or_else(|p| p.into_inner())
        .set_queue_settings(
            id,
            QueueSettings {
                visibility_timeout: Some(setup.visibility_timeout),
                max_message_bytes: setup.max_message_bytes,
                max_receive_count: setup.max_receive_count,
            },
        )?;
    Ok(ServiceQueue(EmulatedQueue {
        sim,
        queue: id.into(),
    }))
}

/// A queue reached through the service API: sends are checked against SQS's own limits.
pub struct ServiceQueue(EmulatedQueue);

impl QueueProvider for ServiceQueue {
    async fn send(&self, payload: Payload) -> Result<MessageId> {
        let mut sim = self.0.sim.lock().unwrap_or_else(|p| p.into_inner());
        Ok(MessageId::new(sim.send(
            &self.0.queue,
            payload,
            SendVia::Service,
        )?))
    }

    async fn send_batch(&self, payloads: Vec<Payload>) -> Result<Vec<SendOutcome>> {
        let mut outcomes = Vec::new();
        for payload in payloads {
            outcomes.push(SendOutcome::from_send(self.send(payload).await));
        }
        Ok(outcomes)
    }

    async fn receive(&self, options: ReceiveOptions) -> Result<Vec<QueueMessage>> {
        self.0.receive(options).await
    }

    async fn ack(&self, receipt: &ReceiptHandle) -> Result<()> {
        self.0.ack(receipt).await
    }

    async fn nack(&self, receipt: &ReceiptHandle) -> Result<()> {
        self.0.nack(receipt).await
    }

    async fn change_visibility(&self, receipt: &ReceiptHandle, visible_in: Duration) -> Result<()> {
        self.0.change_visibility(receipt, visible_in).await
    }

    async fn purge(&self) -> Result<()> {
        self.0.purge().await
    }

    async fn attributes(&self) -> Result<QueueAttributes> {
        self.0.attributes().await
    }
}

impl Target for EmulatorTarget {
    type Queue = ServiceQueue;
    type Storage = EmulatedStorage;
    type Schedules = EmulatedSchedules;
    type Workers = EmulatedWorkers;

    fn name(&self) -> &str {
        "emulator"
    }

    async fn queue(&self, setup: &QueueSetup) -> Result<ServiceQueue> {
        let sim = self.sim(resource("queue", "q"))?;
        service_queue(sim, "q", setup)
    }

    /// One simulation holding the bucket (its id = `name`, so events name it) with the rule
    /// in its `notifications`, and the queue.
    async fn notifying_storage(
        &self,
        name: &str,
        queue: &QueueSetup,
        rule: &KeyRule,
    ) -> Result<(EmulatedStorage, ServiceQueue)> {
        let mut notification = json!({"queue": {"type": "queue", "id": "q"}});
        if let Some(prefix) = &rule.prefix {
            notification["prefix"] = json!(prefix);
        }
        if let Some(suffix) = &rule.suffix {
            notification["suffix"] = json!(suffix);
        }
        let mut resources = resource("queue", "q");
        resources[name] = json!({
            "config": {"type": "storage", "id": name, "notifications": [notification]},
            "lifecycle": "frozen",
            "dependencies": [],
        });
        let sim = self.sim(resources)?;
        let storage = EmulatedStorage {
            sim: sim.clone(),
            bucket: name.to_string(),
        };
        Ok((storage, service_queue(sim, "q", queue)?))
    }

    /// The dead letters as a first receive from an SQS dead-letter queue shows them: the
    /// count kept from the source queue plus that receive ("received across all queues",
    /// SQS API reference, `ApproximateReceiveCount`).
    async fn dead_letters(&self, queue: &ServiceQueue) -> Result<Vec<QueueMessage>> {
        let sim = queue.0.sim.lock().unwrap_or_else(|p| p.into_inner());
        Ok(sim
            .dead_letters(&queue.0.queue)?
            .iter()
            .map(|d| QueueMessage {
                id: MessageId::new(d.id.clone()),
                payload: d.payload.clone().unwrap_or(Payload::Text(String::new())),
                receipt: ReceiptHandle::new(String::new()),
                attempt: d.receive_count + 1,
                enqueued_at: d.at,
                attributes: Default::default(),
            })
            .collect())
    }

    async fn storage(&self, _name: &str) -> Result<EmulatedStorage> {
        Ok(EmulatedStorage {
            sim: self.sim(resource("storage", "b"))?,
            bucket: "b".into(),
        })
    }

    async fn schedules(&self) -> Result<EmulatedSchedules> {
        Ok(EmulatedSchedules::new(self.sim(json!({}))?))
    }

    async fn workers(&self) -> Result<EmulatedWorkers> {
        Ok(EmulatedWorkers {
            sim: self.sim(json!({}))?,
        })
    }

    async fn sleep(&self, d: Duration) {
        let sims = self.sims.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for sim in sims {
            let _ = sim.lock().unwrap_or_else(|p| p.into_inner()).advance(d);
        }
    }
}
