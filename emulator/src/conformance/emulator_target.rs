//! The engine as a conformance target, one per platform profile: one simulation per resource
//! the case asks for, all advanced together by [`Target::sleep`] in virtual time. Queues are
//! reached as the platform's service API is (its own size limit, not the binding's 64 KiB).

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use alien_providers::{ErrorKind, Payload, ProviderError, QueueMessage, Result};
use chrono::{NaiveDate, Utc};
use serde_json::json;

use super::service_queue::{ServiceQueue, dead_letters, service_queue};
use super::{KeyRule, PushSeen, QueueSetup, Receiver, Target};
use crate::Platform;
use crate::engine::{
    Behaviour, EmulatedDaemons, EmulatedKv, EmulatedSchedules, EmulatedStorage, EmulatedWorkers,
    Kind, Mode, Scripted, SendVia, SharedSim, Sim, SimConfig, shared,
};
use crate::profile::{AttemptCount, Profile};
use crate::stack::parse_stack_json;

pub struct EmulatorTarget {
    name: String,
    platform: Platform,
    as_of: NaiveDate,
    sims: Mutex<Vec<SharedSim>>,
}

impl EmulatorTarget {
    /// The engine under `platform`'s profile as of `as_of`.
    pub fn new(platform: Platform, as_of: NaiveDate) -> EmulatorTarget {
        EmulatorTarget {
            name: format!("emulator-{platform}"),
            platform,
            as_of,
            sims: Mutex::new(Vec::new()),
        }
    }

    /// A fresh simulation of a stack holding `resources`.
    fn sim(&self, resources: serde_json::Value) -> Result<SharedSim> {
        let doc = json!({"id": "conformance", "resources": resources});
        let stack = parse_stack_json(&doc.to_string(), Path::new("conformance.json"))
            .map_err(|e| ProviderError::invalid_argument(e.to_string()))?;
        let profile = Profile::new(self.platform, self.as_of).ok_or_else(|| {
            ProviderError::invalid_argument(format!(
                "no {} profile for {}",
                self.platform, self.as_of
            ))
        })?;
        let mut config = SimConfig::new(1, Utc::now());
        config.cold_starts = false;
        let sim = shared(Sim::new(&stack, profile, config));
        self.sims
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(sim.clone());
        Ok(sim)
    }

    fn storage_sim(&self) -> Result<EmulatedStorage> {
        Ok(EmulatedStorage {
            sim: self.sim(resource("storage", "b"))?,
            bucket: "b".into(),
        })
    }
}

fn resource(kind: &str, id: &str) -> serde_json::Value {
    json!({id: {"config": {"type": kind, "id": id}, "lifecycle": "frozen", "dependencies": []}})
}

/// A worker resource with `triggers`, 10 s timeout.
fn worker(id: &str, triggers: serde_json::Value) -> serde_json::Value {
    json!({"config": {"type": "worker", "id": id, "links": [], "triggers": triggers,
        "permissions": "execution", "code": {"type": "image", "image": "conformance:1"},
        "memoryMb": 1024, "timeoutSeconds": 10}, "lifecycle": "live", "dependencies": []})
}

impl Target for EmulatorTarget {
    type Queue = ServiceQueue;
    type Storage = EmulatedStorage;
    type Schedules = EmulatedSchedules;
    type Workers = EmulatedWorkers;
    type Kv = EmulatedKv;
    type Daemons = EmulatedDaemons;

    fn name(&self) -> &str {
        &self.name
    }

    fn platform(&self) -> Platform {
        self.platform
    }

    async fn queue(&self, setup: &QueueSetup) -> Result<ServiceQueue> {
        let sim = self.sim(resource("queue", "q"))?;
        service_queue(sim, "q", setup)
    }

    async fn dead_letters(&self, queue: &ServiceQueue) -> Result<Vec<QueueMessage>> {
        dead_letters(queue)
    }

    async fn storage(&self, _name: &str) -> Result<EmulatedStorage> {
        self.storage_sim()
    }

    async fn changing_storage(&self, _name: &str) -> Result<EmulatedStorage> {
        self.storage_sim()
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

    async fn schedules(&self) -> Result<EmulatedSchedules> {
        Ok(EmulatedSchedules::new(self.sim(json!({}))?))
    }

    async fn workers(&self) -> Result<EmulatedWorkers> {
        Ok(EmulatedWorkers {
            sim: self.sim(json!({}))?,
        })
    }

    async fn deployed_worker(&self) -> Result<(EmulatedWorkers, String)> {
        let sim = self.sim(json!({"backend": worker("backend", json!([]))}))?;
        Ok((EmulatedWorkers { sim }, "backend".into()))
    }

    async fn kv(&self, _name: &str) -> Result<EmulatedKv> {
        Ok(EmulatedKv {
            sim: self.sim(resource("kv", "cache"))?,
            store: "cache".into(),
        })
    }

    async fn daemons(&self) -> Result<(EmulatedDaemons, String)> {
        let agent = json!({"config": {"type": "daemon", "id": "agent", "links": [],
            "permissions": "execution", "code": {"type": "image", "image": "conformance:1"}},
            "lifecycle": "live", "dependencies": []});
        let sim = self.sim(json!({"agent": agent}))?;
        Ok((EmulatedDaemons { sim }, "agent".into()))
    }

    /// The queue's worker trigger answers as `receiver` says (a failure, or success after the
    /// handler runs that long, the worker timeout being the 10 s ack deadline); the pushes are
    /// the trace's deliveries of the message. The push carries no delivery count where the
    /// profile says the platform reports none (Pub/Sub push: upstream-cloud-semantics.md §4.2).
    async fn push(
        &self,
        _run_id: &str,
        receiver: Receiver,
        window: Duration,
    ) -> Result<Vec<PushSeen>> {
        let trigger = json!([{"type": "queue", "queue": {"id": "jobs", "type": "queue"}}]);
        let mut resources = resource("queue", "jobs");
        resources["receiver"] = worker("receiver", trigger);
        let sim = self.sim(resources)?;
        let mut sim = sim.lock().unwrap_or_else(|p| p.into_inner());
        let behaviour = match receiver {
            Receiver::Fails => Behaviour {
                mode: Mode::FailAlways,
                ..Behaviour::default()
            },
            Receiver::AnswersAfter(hold) => Behaviour {
                duration: hold,
                ..Behaviour::default()
            },
        };
        sim.set_handler("receiver", Box::new(Scripted::new(behaviour)))?;
        let id = sim.send("jobs", Payload::Text("push".into()), SendVia::Binding)?;
        sim.advance(window)?;
        let counted = sim.profile().queue.attempt_count.value == AttemptCount::Real;
        let events = sim.trace().events();
        let sent = events
            .iter()
            .find(|e| e.kind == Kind::Sent && e.subject.as_deref() == Some(&id))
            .map(|e| e.at)
            .ok_or_else(|| ProviderError::new(ErrorKind::Internal, "no send in the trace"))?;
        Ok(events
            .iter()
            .filter(|e| e.kind == Kind::Delivered && e.subject.as_deref() == Some(&id))
            .enumerate()
            .map(|(n, e)| PushSeen {
                after: (e.at - sent).to_std().unwrap_or_default(),
                message_id: id.clone(),
                delivery_attempt: counted.then_some(n as u32 + 1),
            })
            .collect())
    }

    async fn sleep(&self, d: Duration) {
        let sims = self.sims.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for sim in sims {
            let _ = sim.lock().unwrap_or_else(|p| p.into_inner()).advance(d);
        }
    }
}
