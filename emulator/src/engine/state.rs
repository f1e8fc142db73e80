//! The engine's durable state: what `alien emulate` keeps across a restart (queues with their
//! messages, leases, receive counts and dead letters; objects; KV; cron last fires; the trace).
//! Processes in flight are not state: their leases stay, so an unanswered message comes back
//! when its lease runs out.

use std::collections::BTreeMap;
use std::time::Duration;

use alien_providers::Payload;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::events::StorageEvent;
use super::kv::KvRow;
use super::sim::{Body, DeadLetter, Lease, Msg, Sim, SimConfig, Timer};
use super::trace::{Kind, Trace, TraceEvent};
use crate::profile::Profile;
use crate::stack::Stack;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimState {
    pub saved_at: DateTime<Utc>,
    pub counter: u64,
    pub trace_start: DateTime<Utc>,
    pub queues: Vec<QueueState>,
    pub objects: BTreeMap<String, Vec<ObjectState>>,
    pub kv: BTreeMap<String, KvState>,
    pub crons: Vec<CronState>,
    pub trace: Vec<TraceEvent>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueState {
    pub id: String,
    pub subscriptions: Vec<SubscriptionState>,
    pub dead_letters: Vec<DeadLetterState>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionState {
    pub name: String,
    pub messages: Vec<MessageState>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageState {
    pub seq: u64,
    pub id: String,
    pub payload: Option<Payload>,
    pub storage_event: Option<StorageEvent>,
    pub enqueued_at: DateTime<Utc>,
    pub receive_count: u32,
    /// The live lease: its receipt and when it runs out.
    pub lease: Option<(u64, DateTime<Utc>)>,
    pub last_receipt: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetterState {
    pub id: String,
    pub subscription: String,
    pub receive_count: u32,
    pub at: DateTime<Utc>,
    pub payload: Option<Payload>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectState {
    pub key: String,
    pub size: u64,
    pub content_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KvState {
    pub next_version: u64,
    pub rows: BTreeMap<String, KvRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CronState {
    pub worker: String,
    pub expr: String,
    pub last_fired: Option<DateTime<Utc>>,
}

impl Sim {
    /// A change counter: it moves whenever the trace grows, which every state change does.
    pub fn version(&self) -> usize {
        self.trace.events().len()
    }

    /// Everything that must survive a restart.
    pub fn export_state(&self) -> SimState {
        let queues = self
            .queues
            .iter()
            .filter(|q| !q.internal)
            .map(|q| QueueState {
                id: q.id.clone(),
                subscriptions: q
                    .subs
                    .iter()
                    .map(|sub| SubscriptionState {
                        name: sub.name.clone(),
                        messages: sub
                            .msgs
                            .iter()
                            .map(|(seq, m)| self.message_state(*seq, m))
                            .collect(),
                    })
                    .collect(),
                dead_letters: q
                    .dead_letters
                    .iter()
                    .map(|d| DeadLetterState {
                        id: d.id.clone(),
                        subscription: d.subscription.clone(),
                        receive_count: d.receive_count,
                        at: d.at,
                        payload: d.payload.clone(),
                    })
                    .collect(),
            })
            .collect();
        SimState {
            saved_at: self.now(),
            counter: self.counter,
            trace_start: self.trace.start().unwrap_or(self.config.start),
            queues,
            objects: self
                .buckets
                .iter()
                .map(|(id, b)| {
                    let objects = b
                        .objects
                        .iter()
                        .map(|(k, o)| ObjectState {
                            key: k.clone(),
                            size: o.size,
                            content_type: o.content_type.clone(),
                        })
                        .collect();
                    (id.clone(), objects)
                })
                .collect(),
            kv: self
                .kv
                .iter()
                .map(|(id, s)| {
                    (
                        id.clone(),
                        KvState {
                            next_version: s.next_version,
                            rows: s.entries.clone(),
                        },
                    )
                })
                .collect(),
            crons: self
                .crons
                .iter()
                .map(|c| CronState {
                    worker: self.workers[c.worker].id.clone(),
                    expr: c.expr.clone(),
                    last_fired: c.last_fired,
                })
                .collect(),
            trace: self.trace.events().to_vec(),
        }
    }

    fn message_state(&self, seq: u64, m: &Msg) -> MessageState {
        let (payload, storage_event) = match &m.body {
            Body::Payload(p) => (Some(p.clone()), None),
            Body::Storage(e) => (None, Some(e.clone())),
        };
        MessageState {
            seq,
            id: m.id.clone(),
            payload,
            storage_event,
            enqueued_at: m.enqueued_at,
            receive_count: m.receive_count,
            lease: m
                .lease
                .as_ref()
                .and_then(|l| Some((l.receipt, self.clock.timers().deadline(l.timer)?))),
            last_receipt: m.last_receipt,
        }
    }

    /// A simulation of `stack` under `profile` that goes on from `state`, at `config.start`
    /// (usually later than `state.saved_at`): leases resume (an expired one fires at once),
    /// retention keeps counting from each message's enqueue time, and a cron trigger whose
    /// profile catches up fires once for slots missed while the emulator was down.
    pub fn restore(stack: &Stack, profile: Profile, config: SimConfig, state: SimState) -> Sim {
        let mut sim = Sim::new(stack, profile, config);
        sim.counter = sim.counter.max(state.counter);
        sim.trace = Trace::resume(state.trace_start, state.trace);
        let retention = sim
            .profile
            .queue
            .retention_seconds
            .value
            .map(Duration::from_secs);
        for q_state in state.queues {
            let Some(&q) = sim.queue_index.get(&q_state.id) else {
                continue;
            };
            for sub_state in q_state.subscriptions {
                let Some(s) = sim.queues[q]
                    .subs
                    .iter()
                    .position(|sub| sub.name == sub_state.name)
                else {
                    continue;
                };
                for m in sub_state.messages {
                    let body = match (m.payload, m.storage_event) {
                        (Some(p), _) => Body::Payload(p),
                        (None, Some(e)) => Body::Storage(e),
                        (None, None) => continue,
                    };
                    let lease = m.lease.map(|(receipt, until)| {
                        let timer = sim.schedule_at(
                            until,
                            Timer::LeaseExpiry {
                                queue: q,
                                sub: s,
                                msg: m.seq,
                                receipt,
                            },
                        );
                        Lease {
                            receipt,
                            timer,
                            running: false,
                        }
                    });
                    if lease.is_none() {
                        sim.queues[q].subs[s].ready.insert(m.seq);
                    }
                    if let Some(retention) = retention {
                        let at = m.enqueued_at
                            + chrono::Duration::from_std(retention)
                                .unwrap_or(chrono::TimeDelta::MAX);
                        sim.schedule_at(
                            at,
                            Timer::Retention {
                                queue: q,
                                sub: s,
                                msg: m.seq,
                            },
                        );
                    }
                    let msg = Msg {
                        id: m.id,
                        body,
                        enqueued_at: m.enqueued_at,
                        receive_count: m.receive_count,
                        lease,
                        last_receipt: m.last_receipt,
                    };
                    sim.queues[q].subs[s].msgs.insert(m.seq, msg);
                }
            }
            sim.queues[q].dead_letters = q_state
                .dead_letters
                .into_iter()
                .map(|d| DeadLetter {
                    id: d.id,
                    subscription: d.subscription,
                    receive_count: d.receive_count,
                    at: d.at,
                    payload: d.payload,
                })
                .collect();
        }
        for (bucket, objects) in state.objects {
            if let Some(b) = sim.buckets.get_mut(&bucket) {
                for o in objects {
                    b.objects.insert(
                        o.key,
                        super::storage::Object::restored(o.size, o.content_type, state.saved_at),
                    );
                }
            }
        }
        for (store, kv) in state.kv {
            if let Some(s) = sim.kv.get_mut(&store) {
                s.entries = kv.rows;
                s.next_version = kv.next_version;
            }
        }
        let now = sim.now();
        for c in state.crons {
            let Some(t) = sim
                .crons
                .iter()
                .position(|t| sim.workers[t.worker].id == c.worker && t.expr == c.expr)
            else {
                continue;
            };
            sim.crons[t].last_fired = c.last_fired;
            let missed = c
                .last_fired
                .and_then(|last| sim.crons[t].schedule.as_ref()?.next_after(last))
                .filter(|slot| *slot <= now);
            if let Some(slot) = missed {
                if sim.profile.cron.catch_up_once.value {
                    sim.catch_up(t, slot);
                } else {
                    let worker = c.worker.clone();
                    sim.record(
                        Kind::CronSkipped,
                        &worker,
                        Some(&c.expr),
                        vec![("reason", "missed while the emulator was down".into())],
                    );
                }
            }
        }
        sim
    }

    /// Hands visible messages to their consumers (after a restore, once every worker's
    /// handler or process is in place).
    pub fn resume_deliveries(&mut self) {
        for q in 0..self.queues.len() {
            self.pump_queue(q);
        }
    }
}
