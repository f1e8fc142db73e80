//! The engine's durable state: what `alien emulate` keeps across a restart (queues with their
//! messages, leases, receive counts and dead letters; objects; KV; cron last fires; the trace).
//! Processes in flight are not state: their leases stay, so an unanswered message comes back
//! when its lease runs out.

use alien_providers::Payload;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::commands::CommandRecord;
use super::events::StorageEvent;
use super::kv::KvRow;
use super::sim::{Body, DeadLetter, Lease, Msg, Sim, SimConfig, Timer};
use super::trace::{Kind, Trace, TraceEvent};
use crate::profile::Profile;
use crate::stack::Stack;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimState {
    /// The engine's instant when the state was last written.
    pub saved_at: DateTime<Utc>,
    pub counter: u64,
    pub trace_start: DateTime<Utc>,
    pub queues: Vec<QueueState>,
    pub objects: BTreeMap<String, Vec<ObjectState>>,
    pub kv: BTreeMap<String, KvState>,
    pub crons: Vec<CronState>,
    #[serde(default)]
    pub commands: Vec<CommandRecord>,
    /// The newest trace events, oldest first (a store keeps the older ones).
    pub trace: Vec<TraceEvent>,
    /// The sequence number of the next trace event.
    #[serde(default)]
    pub trace_next_seq: u64,
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
    #[serde(default)]
    pub etag: String,
    #[serde(default)]
    pub last_modified: Option<DateTime<Utc>>,
    /// What the object's file looked like when it was recorded ([`FileObject::stamp`](super::storage::FileObject::stamp)).
    #[serde(default)]
    pub file_stamp: Option<String>,
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
        self.trace.next_seq() as usize
    }

    /// Everything that must survive a restart, in one value (a store writes it as rows through
    /// [`Sim::take_changes`]; tests compare what a store loads with this).
    pub fn export_state(&self) -> SimState {
        let queues = self
            .queues
            .iter()
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
                dead_letters: q.dead_letters.iter().map(dead_letter_state).collect(),
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
                    let objects = b.objects.iter().map(|(k, o)| o.state(k)).collect();
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
            crons: (0..self.crons.len()).map(|t| self.cron_state(t)).collect(),
            commands: (0..self.commands.len())
                .map(|c| self.command_record(c))
                .collect(),
            trace: self.trace.events().to_vec(),
            trace_next_seq: self.trace.next_seq(),
        }
    }

    pub(crate) fn cron_state(&self, t: usize) -> CronState {
        let c = &self.crons[t];
        CronState {
            worker: self.workers[c.worker].id.clone(),
            expr: c.expr.clone(),
            last_fired: c.last_fired,
        }
    }

    pub(crate) fn message_state(&self, seq: u64, m: &Msg) -> MessageState {
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
    /// retention keeps counting from each message's enqueue time, commands keep their state,
    /// and a cron trigger whose profile catches up fires once for slots missed while the
    /// emulator was down.
    pub fn restore(stack: &Stack, profile: Profile, config: SimConfig, state: SimState) -> Sim {
        let mut sim = Sim::new(stack, profile, config);
        sim.counter = sim.counter.max(state.counter);
        sim.trace = Trace::resume(state.trace_start, state.trace, state.trace_next_seq);
        for q_state in state.queues {
            sim.restore_queue(q_state);
        }
        for (bucket, objects) in state.objects {
            if let Some(b) = sim.buckets.get_mut(&bucket) {
                for o in objects {
                    let at = o.last_modified.unwrap_or(state.saved_at);
                    b.objects
                        .insert(o.key.clone(), super::storage::Object::restored(o, at));
                }
            }
        }
        for (store, kv) in state.kv {
            if let Some(s) = sim.kv.get_mut(&store) {
                s.entries = kv.rows;
                s.next_version = kv.next_version;
            }
        }
        sim.restore_commands(state.commands);
        for c in state.crons {
            sim.restore_cron(c);
        }
        sim
    }

    /// Puts back one queue's messages (with their lease and retention timers) and dead letters.
    fn restore_queue(&mut self, q_state: QueueState) {
        let Some(&q) = self.queue_index.get(&q_state.id) else {
            return;
        };
        for sub_state in q_state.subscriptions {
            let Some(s) = self.queues[q]
                .subs
                .iter()
                .position(|sub| sub.name == sub_state.name)
            else {
                continue;
            };
            for m in sub_state.messages {
                self.restore_message(q, s, m);
            }
        }
        self.queues[q].dead_letters = q_state
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

    fn restore_message(&mut self, q: usize, s: usize, m: MessageState) {
        let body = match (m.payload, m.storage_event) {
            (Some(p), _) => Body::Payload(p),
            (None, Some(e)) => Body::Storage(e),
            (None, None) => return,
        };
        let lease = m.lease.map(|(receipt, until)| {
            let timer = self.schedule_at(
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
                length: None,
                running: false,
            }
        });
        if lease.is_none() {
            self.queues[q].subs[s].ready.insert(m.seq);
        }
        let retention = self.retention_timer(q, s, m.seq, m.enqueued_at);
        let msg = Msg {
            id: m.id,
            body,
            enqueued_at: m.enqueued_at,
            receive_count: m.receive_count,
            lease,
            last_receipt: m.last_receipt,
            retention,
        };
        self.queues[q].subs[s].msgs.insert(m.seq, msg);
    }

    /// Puts back a cron trigger's last fire; a slot missed while down is caught up once where
    /// the profile does (upstream-stack-and-limits.md §4.3) and recorded as skipped elsewhere.
    fn restore_cron(&mut self, c: CronState) {
        let Some(t) = self
            .crons
            .iter()
            .position(|t| self.workers[t.worker].id == c.worker && t.expr == c.expr)
        else {
            return;
        };
        self.crons[t].last_fired = c.last_fired;
        let now = self.now();
        let missed = c
            .last_fired
            .and_then(|last| self.crons[t].schedule.as_ref()?.next_after(last))
            .filter(|slot| *slot <= now);
        let Some(slot) = missed else {
            return;
        };
        if self.profile.cron.catch_up_once.value {
            self.resume_crons.push((t, slot));
        } else {
            self.record(
                Kind::CronSkipped,
                &c.worker,
                Some(&c.expr),
                vec![("reason", "missed while the emulator was down".into())],
            );
        }
    }

    /// After a restore, once every worker's handler or process is in place: fires the cron
    /// catch-ups, pushes worker commands whose attempt died with the previous process again,
    /// and hands visible messages to their consumers.
    pub fn resume_deliveries(&mut self) {
        for (t, slot) in std::mem::take(&mut self.resume_crons) {
            self.catch_up(t, slot);
        }
        self.redispatch_restored_commands();
        for q in 0..self.queues.len() {
            self.pump_queue(q);
        }
    }
}

/// The stored form of a dead letter.
pub(crate) fn dead_letter_state(d: &DeadLetter) -> DeadLetterState {
    DeadLetterState {
        id: d.id.clone(),
        subscription: d.subscription.clone(),
        receive_count: d.receive_count,
        at: d.at,
        payload: d.payload.clone(),
    }
}
