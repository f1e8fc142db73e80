//! Queue state machine: subscriptions, leases, receive counts, redelivery, dead letters and
//! retention, all shaped by the profile's queue model (upstream-cloud-semantics.md §4).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use alien_providers::Payload;
use alien_providers::validate::validate_message_size;

use super::events::{Event, QueueMessage};
use super::sim::{Body, DeadLetter, Lease, Msg, Origin, QueueRt, Sim, SimError, Sub, Timer, Work};
use super::trace::Kind;
use crate::profile::{
    AttemptCount, ConsumerModel, DeliveryModel, Redelivery, SourceName, TriggerWiring,
};
use crate::stack::Resource;

/// Queue attributes set on the service itself, over the profile's derived ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueSettings {
    /// The lease a receive takes when it names none (SQS `VisibilityTimeout`).
    pub visibility_timeout: Option<Duration>,
    /// Largest accepted message (SQS `MaximumMessageSize`), capped by the service's limit.
    pub max_message_bytes: Option<u64>,
    /// Deliveries before the message moves to the dead-letter queue (a redrive policy's
    /// `maxReceiveCount`).
    pub max_receive_count: Option<u32>,
    /// The queue exhausted messages move to (a redrive policy's `deadLetterTargetArn`);
    /// `None`: they stay with this queue as its dead letters.
    pub dead_letter_queue: Option<String>,
}

/// Who is sending: app code through its binding (64 KiB cap) or a producer using the cloud
/// service's own API (the service's limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendVia {
    #[default]
    Binding,
    Service,
}

/// Counts for one queue (all subscriptions).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct QueueStats {
    pub visible: usize,
    pub in_flight: usize,
    pub dead_lettered: usize,
}

impl Sim {
    pub(crate) fn provision_queues(&mut self) {
        let ids: Vec<String> = self
            .stack
            .resources
            .iter()
            .filter(|(_, e)| matches!(e.config, Resource::Queue(_)))
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            let consumers: Vec<usize> =
                if self.profile.worker.triggers.queue.value == TriggerWiring::Wired {
                    self.stack
                        .workers()
                        .filter(|(_, w)| w.queue_triggers().any(|q| q.id == id))
                        .map(|(wid, _)| self.worker_index[wid])
                        .collect()
                } else {
                    Vec::new()
                };
            let subs = self.subscriptions_for(&id, &consumers);
            self.add_queue(id, false, subs);
        }
    }

    pub(crate) fn add_queue(&mut self, id: String, internal: bool, subs: Vec<Sub>) -> usize {
        let index = self.queues.len();
        self.queue_index.insert(id.clone(), index);
        self.queues.push(QueueRt {
            id,
            internal,
            subs,
            dead_letters: Vec::new(),
            settings: QueueSettings::default(),
        });
        index
    }

    /// Competing consumers share one subscription; fan-out gives each triggered worker its
    /// own push subscription plus the queue's default pull subscription.
    pub(crate) fn subscriptions_for(&self, queue: &str, consumers: &[usize]) -> Vec<Sub> {
        let sub = |name: String, consumers: Vec<usize>, lease: Duration| Sub {
            name,
            consumers,
            lease,
            msgs: BTreeMap::new(),
            ready: BTreeSet::new(),
            next_consumer: 0,
            backoff: None,
            paused_until: None,
        };
        match self.profile.queue.consumers.value {
            ConsumerModel::Competing => vec![sub(
                queue.to_string(),
                consumers.to_vec(),
                self.lease_for(consumers),
            )],
            ConsumerModel::FanOut => {
                let pull_lease = Duration::from_secs(u64::from(
                    self.profile.queue.binding_lease_seconds.value.unwrap_or(30),
                ));
                let mut subs = vec![sub(format!("{queue}-sub"), Vec::new(), pull_lease)];
                for &w in consumers {
                    subs.push(sub(
                        format!("{queue}/{}", self.workers[w].id),
                        vec![w],
                        self.lease_for(&[w]),
                    ));
                }
                subs
            }
        }
    }

    /// The lease a delivery takes: SQS visibility formula, ack deadline, lock or lease.
    fn lease_for(&self, consumers: &[usize]) -> Duration {
        let longest = consumers
            .iter()
            .map(|&w| self.workers[w].timeout.as_secs())
            .max();
        let seconds = match self.profile.queue.delivery.value {
            DeliveryModel::Visibility {
                multiplier,
                min,
                max,
                untriggered,
            } => match longest {
                Some(t) => (u64::from(multiplier) * t).clamp(u64::from(min), u64::from(max)),
                None => u64::from(untriggered),
            },
            DeliveryModel::AckDeadlinePerSubscription => longest.unwrap_or(10),
            DeliveryModel::PeekLock { lock_seconds } => u64::from(lock_seconds),
            DeliveryModel::Lease { lease_seconds } => u64::from(lease_seconds),
        };
        Duration::from_secs(seconds)
    }

    /// Applies queue-level attributes a deployment may set on the service itself (SQS
    /// `VisibilityTimeout`, `MaximumMessageSize`, a redrive policy's `maxReceiveCount`),
    /// over what the profile derives from the stack.
    pub fn set_queue_settings(
        &mut self,
        queue: &str,
        settings: QueueSettings,
    ) -> Result<(), SimError> {
        let q = self.queue_idx(queue)?;
        if let Some(visibility) = settings.visibility_timeout {
            for sub in &mut self.queues[q].subs {
                sub.lease = visibility;
            }
        }
        self.queues[q].settings = settings;
        Ok(())
    }

    /// The attributes set with [`Sim::set_queue_settings`] (defaults when none were).
    pub fn queue_settings(&self, queue: &str) -> Result<QueueSettings, SimError> {
        Ok(self.queues[self.queue_idx(queue)?].settings.clone())
    }

    /// Adds a queue the stack does not declare and no worker consumes (SQS `CreateQueue` of
    /// a new name), with `settings` applied. It lives until the process ends: a restore
    /// rebuilds only the stack's queues. Fails when the name is already taken.
    pub fn create_queue(&mut self, name: &str, settings: QueueSettings) -> Result<(), SimError> {
        if self.queue_index.contains_key(name) {
            return Err(SimError::Invalid(format!(
                "queue name '{name}' is already in use"
            )));
        }
        let subs = self.subscriptions_for(name, &[]);
        self.add_queue(name.to_string(), false, subs);
        self.set_queue_settings(name, settings)
    }

    pub(crate) fn queue_idx(&self, queue: &str) -> Result<usize, SimError> {
        self.queue_index
            .get(queue)
            .copied()
            .filter(|q| !self.queues[*q].internal)
            .ok_or_else(|| SimError::UnknownResource {
                kind: "queue",
                name: queue.into(),
            })
    }

    /// Sends a message; returns its id. Oversize messages are rejected with the binding's or
    /// the service's limit and error text.
    pub fn send(
        &mut self,
        queue: &str,
        payload: Payload,
        via: SendVia,
    ) -> Result<String, SimError> {
        let q = self.queue_idx(queue)?;
        let limit = match via {
            SendVia::Binding => self.profile.queue.binding_message_max_bytes.value,
            SendVia::Service => self.profile.queue.service_message_max_bytes.value,
        };
        // The queue's own MaximumMessageSize is enforced by the service (SQS API reference,
        // SetQueueAttributes: "MaximumMessageSize – The limit of how many bytes a message
        // can contain before Amazon SQS rejects it").
        let limit = self.queues[q]
            .settings
            .max_message_bytes
            .map_or(limit, |own| own.min(limit));
        let size = match validate_message_size(&payload, limit as usize) {
            Ok(size) => size,
            Err(err) => {
                let detail = vec![
                    ("bytes", payload.serialized_len().to_string()),
                    ("limit", limit.to_string()),
                    ("via", format!("{via:?}").to_lowercase()),
                ];
                self.record(Kind::Rejected, queue, None, detail);
                return Err(SimError::Provider(err));
            }
        };
        Ok(self.enqueue(q, Body::Payload(payload), size))
    }

    pub(crate) fn enqueue(&mut self, q: usize, body: Body, size: usize) -> String {
        let seq = self.next_id();
        let id = format!("m-{seq}");
        let now = self.now();
        let queue_id = self.queues[q].id.clone();
        if !self.queues[q].internal {
            self.record(
                Kind::Sent,
                &queue_id,
                Some(&id),
                vec![("bytes", size.to_string())],
            );
        }
        for s in 0..self.queues[q].subs.len() {
            let retention = self.retention_timer(q, s, seq, now);
            let msg = Msg {
                id: id.clone(),
                body: body.clone(),
                enqueued_at: now,
                receive_count: 0,
                lease: None,
                last_receipt: None,
                retention,
            };
            let sub = &mut self.queues[q].subs[s];
            sub.msgs.insert(seq, msg);
            sub.ready.insert(seq);
            self.mark_message(q, s, seq);
        }
        self.pump_queue(q);
        id
    }

    /// The timer that drops message `seq` once the profile's retention has passed since it
    /// was enqueued (none where the profile keeps messages for ever).
    pub(crate) fn retention_timer(
        &mut self,
        q: usize,
        s: usize,
        seq: u64,
        enqueued_at: chrono::DateTime<chrono::Utc>,
    ) -> Option<crate::clock::TimerId> {
        let retention = self.profile.queue.retention_seconds.value?;
        let at = enqueued_at + chrono::TimeDelta::seconds(i64::try_from(retention).ok()?);
        Some(self.schedule_at(
            at,
            Timer::Retention {
                queue: q,
                sub: s,
                msg: seq,
            },
        ))
    }

    /// Hands visible messages to consumers with free capacity.
    pub(crate) fn pump_queue(&mut self, q: usize) {
        if self.is_down() {
            return;
        }
        for s in 0..self.queues[q].subs.len() {
            self.pump_sub(q, s);
        }
    }

    fn pump_sub(&mut self, q: usize, s: usize) {
        let consumers = self.queues[q].subs[s].consumers.clone();
        if consumers.is_empty() || self.queues[q].subs[s].paused_until.is_some() {
            return;
        }
        let claim = self.profile.queue.trigger_claim_size.value as usize;
        let mut idle_rounds = 0;
        while !self.queues[q].subs[s].ready.is_empty() && idle_rounds < consumers.len() {
            let sub = &mut self.queues[q].subs[s];
            let w = consumers[sub.next_consumer % consumers.len()];
            sub.next_consumer = sub.next_consumer.wrapping_add(1);
            let free = self.free_slots(w);
            if free == 0 || !self.workers[w].pending.is_empty() {
                idle_rounds += 1;
                continue;
            }
            idle_rounds = 0;
            // A poller claims up to `claim` messages per free slot and runs them in turn.
            let take = if claim > 1 { claim } else { free as usize };
            for _ in 0..take {
                let Some(seq) = self.queues[q].subs[s].ready.pop_first() else {
                    break;
                };
                let work = self.lease_message(q, s, seq, w);
                self.workers[w].pending.push_back(work);
            }
            self.start_pending(w);
        }
    }

    /// Leases message `seq` for `lease`: a fresh receipt, one more delivery. Returns the
    /// receipt and the attempt number the platform reports.
    fn take_lease(&mut self, q: usize, s: usize, seq: u64, lease: Duration) -> (u64, u32) {
        let receipt = self.next_id();
        let timer = self.schedule_in(
            lease,
            Timer::LeaseExpiry {
                queue: q,
                sub: s,
                msg: seq,
                receipt,
            },
        );
        let msg = self.queues[q].subs[s]
            .msgs
            .get_mut(&seq)
            .expect("ready messages exist");
        msg.receive_count += 1;
        msg.lease = Some(Lease {
            receipt,
            timer,
            running: false,
        });
        msg.last_receipt = Some(receipt);
        // A dead-letter policy makes Pub/Sub fill `deliveryAttempt` (Pub/Sub dead-letter
        // topics docs; peers-2026.md), so the count is real wherever a policy is set.
        let dead_letter_policy = self.queues[q].settings.max_receive_count.is_some();
        let msg = self.queues[q].subs[s]
            .msgs
            .get(&seq)
            .expect("leased just now");
        let attempt = match self.profile.queue.attempt_count.value {
            AttemptCount::Real => msg.receive_count,
            AttemptCount::AlwaysOne if dead_letter_policy => msg.receive_count,
            AttemptCount::AlwaysOne => 1,
        };
        self.mark_message(q, s, seq);
        (receipt, attempt)
    }

    /// Leases a message for a consumer and builds the event the handler will see.
    fn lease_message(&mut self, q: usize, s: usize, seq: u64, w: usize) -> Work {
        let (receipt, attempt) = self.take_lease(q, s, seq, self.queues[q].subs[s].lease);
        let stable_ids = self.profile.queue.stable_message_id.value;
        let delivery_id = if stable_ids {
            None
        } else {
            Some(format!("d-{}", self.next_id()))
        };
        let source = self.source_name(q, s, w);
        let msg = &self.queues[q].subs[s].msgs[&seq];
        let event = match &msg.body {
            Body::Payload(payload) => Event::Queue(QueueMessage {
                id: delivery_id.unwrap_or_else(|| msg.id.clone()),
                payload: payload.clone(),
                receipt_handle: format!("{seq}:{receipt}"),
                source,
                attempt_count: attempt,
                timestamp: msg.enqueued_at,
                attributes: BTreeMap::new(),
            }),
            Body::Storage(event) => Event::Storage(event.clone()),
        };
        Work {
            event,
            origin: Origin::Queue {
                queue: q,
                sub: s,
                msg: seq,
                receipt,
            },
            scale_out: true,
        }
    }

    /// `QueueMessage.source` as the platform's runtime fills it (upstream-stack-and-limits.md §5.5).
    fn source_name(&self, q: usize, s: usize, w: usize) -> String {
        let queue = &self.queues[q].id;
        match self.profile.queue.source_name.value {
            SourceName::PhysicalQueue => format!("{}-{queue}", self.stack.id),
            SourceName::SubscriptionPath => format!(
                "projects/local/subscriptions/{}-{}-{queue}",
                self.stack.id, self.workers[w].id
            ),
            SourceName::DaprTopic => "unknown".to_string(),
            SourceName::LogicalId => self.queues[q].subs[s].name.clone(),
        }
    }

    /// Marks whether a handler is running on the delivery holding `receipt`.
    pub(crate) fn mark_running(&mut self, q: usize, s: usize, seq: u64, receipt: u64, on: bool) {
        let msg = self.queues[q].subs[s].msgs.get_mut(&seq);
        if let Some(lease) = msg.and_then(|m| m.lease.as_mut())
            && lease.receipt == receipt
        {
            lease.running = on;
        }
    }

    /// Takes message `seq` out of a subscription (acked, dead-lettered, expired or purged):
    /// no longer visible, its lease timer cancelled.
    fn remove_message(&mut self, q: usize, s: usize, seq: u64) -> Option<Msg> {
        let sub = &mut self.queues[q].subs[s];
        sub.ready.remove(&seq);
        let msg = sub.msgs.remove(&seq)?;
        if let Some(lease) = &msg.lease {
            self.clock.cancel(lease.timer);
        }
        if let Some(retention) = msg.retention {
            self.clock.cancel(retention);
        }
        self.mark_message(q, s, seq);
        Some(msg)
    }

    /// Called when a queue-driven invocation ends.
    pub(crate) fn settle_queue(
        &mut self,
        q: usize,
        s: usize,
        seq: u64,
        receipt: u64,
        success: bool,
        worker: &str,
    ) {
        self.mark_running(q, s, seq, receipt, false);
        self.adjust_push_backoff(q, s, seq, success);
        let queue_id = self.queues[q].id.clone();
        let Some(msg) = self.queues[q].subs[s].msgs.get(&seq) else {
            if success {
                self.record(
                    Kind::AckStale,
                    &queue_id,
                    Some(&format!("m-{seq}")),
                    vec![("reason", "message gone".into())],
                );
            }
            return;
        };
        let id = msg.id.clone();
        let holds_lease = msg.lease.as_ref().is_some_and(|l| l.receipt == receipt);
        if success {
            if !holds_lease {
                self.record(
                    Kind::AckStale,
                    &queue_id,
                    Some(&id),
                    vec![("reason", "stale receipt handle: the message was redelivered and a newer receipt supersedes this one".into())],
                );
                return;
            }
            if self
                .config
                .faults
                .strikes(super::faults::FaultKind::LostAck, &mut self.rng)
            {
                self.record(
                    Kind::Fault,
                    &queue_id,
                    Some(&id),
                    vec![("fault", "lost_ack".into())],
                );
                return;
            }
            let msg = self.remove_message(q, s, seq).expect("present");
            self.record(
                Kind::Acked,
                &queue_id,
                Some(&id),
                vec![
                    ("by", worker.to_string()),
                    ("deliveries", msg.receive_count.to_string()),
                ],
            );
            return;
        }
        if !holds_lease {
            return;
        }
        if self.exhausted(q, s, seq) {
            return;
        }
        if self.profile.queue.failure_redelivery.value == Redelivery::Immediate {
            self.release(q, s, seq, "abandoned");
        }
    }

    /// Push backoff (profile `queue.push_backoff`): a failed push pauses the subscription's
    /// deliveries, twice as long after each further failure up to the profile's maximum;
    /// a successful push ends the backoff.
    fn adjust_push_backoff(&mut self, q: usize, s: usize, seq: u64, success: bool) {
        let Some(policy) = self.profile.queue.push_backoff.value else {
            return;
        };
        let sub = &mut self.queues[q].subs[s];
        if success {
            sub.backoff = None;
            return;
        }
        let initial = Duration::from_millis(policy.initial_ms);
        let max = Duration::from_millis(policy.max_ms);
        let delay = sub.backoff.map_or(initial, |b| (b * 2).min(max));
        sub.backoff = Some(delay);
        let until =
            self.now() + chrono::Duration::from_std(delay).unwrap_or(chrono::TimeDelta::MAX);
        if self.queues[q].subs[s].paused_until.is_none() {
            self.schedule_at(until, Timer::PushResume { queue: q, sub: s });
        }
        self.queues[q].subs[s].paused_until = Some(until);
        let (queue_id, sub_name) = (
            self.queues[q].id.clone(),
            self.queues[q].subs[s].name.clone(),
        );
        let subject = self.queues[q].subs[s]
            .msgs
            .get(&seq)
            .map_or_else(|| format!("m-{seq}"), |m| m.id.clone());
        self.record(
            Kind::PushBackoff,
            &queue_id,
            Some(&subject),
            vec![
                ("delay", super::duration_serde::format_duration(delay)),
                ("subscription", sub_name),
            ],
        );
    }

    /// The end of a push backoff pause: deliveries go on.
    pub(crate) fn on_push_resume(&mut self, q: usize, s: usize) {
        let sub = &mut self.queues[q].subs[s];
        match sub.paused_until {
            Some(until) if until > self.clock.now() => {
                self.schedule_at(until, Timer::PushResume { queue: q, sub: s });
            }
            _ => {
                sub.paused_until = None;
                self.pump_queue(q);
            }
        }
    }

    /// Dead-letters a message that reached the profile's maximum deliveries.
    fn exhausted(&mut self, q: usize, s: usize, seq: u64) -> bool {
        let Some(max) = self.queues[q].settings.max_receive_count.or(self
            .profile
            .queue
            .max_deliveries
            .value)
        else {
            return false;
        };
        let msg = &self.queues[q].subs[s].msgs[&seq];
        if msg.receive_count < max {
            return false;
        }
        let msg = self.remove_message(q, s, seq).expect("present");
        if let Some(target) = self.redrive_target(q) {
            self.redrive(q, target, msg);
            return true;
        }
        let now = self.now();
        let sub_name = self.queues[q].subs[s].name.clone();
        let payload = match &msg.body {
            Body::Payload(p) => Some(p.clone()),
            Body::Storage(_) => None,
        };
        self.queues[q].dead_letters.push(DeadLetter {
            id: msg.id.clone(),
            subscription: sub_name,
            receive_count: msg.receive_count,
            at: now,
            payload,
        });
        self.mark_dead_letter(q);
        let queue_id = self.queues[q].id.clone();
        self.record(
            Kind::DeadLettered,
            &queue_id,
            Some(&msg.id),
            vec![("deliveries", msg.receive_count.to_string())],
        );
        true
    }

    /// The queue of `q`'s redrive policy, when it names one that exists.
    fn redrive_target(&self, q: usize) -> Option<usize> {
        let name = self.queues[q].settings.dead_letter_queue.as_ref()?;
        self.queue_index.get(name).copied()
    }

    /// Moves an exhausted message to queue `target`: the same message id, body, enqueue time
    /// and receive count (SQS dead-letter queues: the message keeps its MessageId and
    /// ApproximateReceiveCount, which counts receives across all queues; its retention runs
    /// from the original enqueue time).
    fn redrive(&mut self, q: usize, target: usize, msg: Msg) {
        let seq = self.next_id();
        let from = self.queues[q].id.clone();
        let to = self.queues[target].id.clone();
        for t in 0..self.queues[target].subs.len() {
            let retention = self.retention_timer(target, t, seq, msg.enqueued_at);
            let moved = Msg {
                lease: None,
                last_receipt: None,
                retention,
                ..msg.clone()
            };
            let sub = &mut self.queues[target].subs[t];
            sub.msgs.insert(seq, moved);
            sub.ready.insert(seq);
            self.mark_message(target, t, seq);
        }
        self.record(
            Kind::DeadLettered,
            &from,
            Some(&msg.id),
            vec![("deliveries", msg.receive_count.to_string()), ("to", to)],
        );
        self.pump_queue(target);
    }

    /// Makes a leased message visible again now.
    pub(crate) fn release(&mut self, q: usize, s: usize, seq: u64, why: &str) {
        let Some(msg) = self.queues[q].subs[s].msgs.get_mut(&seq) else {
            return;
        };
        let Some(lease) = msg.lease.take() else {
            return;
        };
        self.clock.cancel(lease.timer);
        let id = msg.id.clone();
        let count = msg.receive_count;
        self.queues[q].subs[s].ready.insert(seq);
        self.mark_message(q, s, seq);
        let queue_id = self.queues[q].id.clone();
        self.record(
            Kind::LeaseExpired,
            &queue_id,
            Some(&id),
            vec![
                ("reason", why.to_string()),
                ("deliveries", count.to_string()),
            ],
        );
        self.pump_queue(q);
    }

    pub(crate) fn on_lease_expiry(&mut self, q: usize, s: usize, seq: u64, receipt: u64) {
        let Some(msg) = self.queues[q].subs[s].msgs.get(&seq) else {
            return;
        };
        let Some(lease) = msg.lease.as_ref().filter(|l| l.receipt == receipt) else {
            return;
        };
        if lease.running && self.profile.queue.lease_renewed_while_running.value {
            // Dapr renews the lock while the handler runs.
            let lease_for = self.queues[q].subs[s].lease;
            let timer = self.schedule_in(
                lease_for,
                Timer::LeaseExpiry {
                    queue: q,
                    sub: s,
                    msg: seq,
                    receipt,
                },
            );
            let msg = self.queues[q].subs[s].msgs.get_mut(&seq).expect("present");
            if let Some(lease) = msg.lease.as_mut() {
                lease.timer = timer;
            }
            self.mark_message(q, s, seq);
            return;
        }
        if self.exhausted(q, s, seq) {
            return;
        }
        let reason = match self.profile.queue.delivery.value {
            DeliveryModel::Visibility { .. } => "visibility timeout",
            DeliveryModel::AckDeadlinePerSubscription => "ack deadline",
            DeliveryModel::PeekLock { .. } => "lock expired",
            DeliveryModel::Lease { .. } => "lease expired",
        };
        self.release(q, s, seq, reason);
    }

    pub(crate) fn on_retention(&mut self, q: usize, s: usize, seq: u64) {
        let Some(msg) = self.remove_message(q, s, seq) else {
            return;
        };
        let queue_id = self.queues[q].id.clone();
        let sub_name = self.queues[q].subs[s].name.clone();
        self.record(
            Kind::Expired,
            &queue_id,
            Some(&msg.id),
            vec![
                ("subscription", sub_name),
                ("deliveries", msg.receive_count.to_string()),
            ],
        );
    }

    /// Messages on the dead-letter queue of `queue`.
    pub fn dead_letters(&self, queue: &str) -> Result<&[DeadLetter], SimError> {
        Ok(&self.queues[self.queue_idx(queue)?].dead_letters)
    }

    pub fn queue_stats(&self, queue: &str) -> Result<QueueStats, SimError> {
        let q = &self.queues[self.queue_idx(queue)?];
        let mut stats = QueueStats {
            dead_lettered: q.dead_letters.len(),
            ..QueueStats::default()
        };
        for sub in &q.subs {
            stats.visible += sub.ready.len();
            stats.in_flight += sub.msgs.len() - sub.ready.len();
        }
        Ok(stats)
    }

    /// Ids of messages still held by any subscription of `queue` (for at-least-once checks).
    pub fn pending_message_ids(&self, queue: &str) -> Result<BTreeSet<String>, SimError> {
        let q = &self.queues[self.queue_idx(queue)?];
        Ok(q.subs
            .iter()
            .flat_map(|s| s.msgs.values().map(|m| m.id.clone()))
            .collect())
    }
}

/// A message handed to a binding's `receive()`.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub id: String,
    pub payload: Payload,
    pub receipt: String,
    pub attempt: u32,
    pub enqueued_at: chrono::DateTime<chrono::Utc>,
}

/// Binding-side (pull) operations: what app code does through its queue binding, competing
/// with triggers where the platform has competing consumers, reading the queue's own pull
/// subscription where it fans out (upstream-stack-and-limits.md §6.3-§6.4; published-3.3.49.md §4.5).
impl Sim {
    /// The subscription a binding reads: the one without push consumers on fan-out platforms.
    fn binding_sub(&self, q: usize) -> usize {
        self.queues[q]
            .subs
            .iter()
            .position(|s| s.consumers.is_empty())
            .unwrap_or(0)
    }

    fn parse_receipt(receipt: &str) -> Option<(u64, u64)> {
        let (seq, receipt) = receipt.split_once(':')?;
        Some((seq.parse().ok()?, receipt.parse().ok()?))
    }

    /// `receive(max)`: leases up to `max` (1..=10) visible messages, FIFO by enqueue order.
    pub fn receive(
        &mut self,
        queue: &str,
        max: u32,
        lease: Option<Duration>,
    ) -> Result<Vec<Received>, SimError> {
        alien_providers::validate::validate_receive_batch(max)?;
        let q = self.queue_idx(queue)?;
        let s = self.binding_sub(q);
        let lease = lease
            .or(self
                .profile
                .queue
                .binding_lease_seconds
                .value
                .map(|l| Duration::from_secs(u64::from(l))))
            .unwrap_or(self.queues[q].subs[s].lease);
        let mut out = Vec::new();
        for _ in 0..max {
            let Some(seq) = self.queues[q].subs[s].ready.pop_first() else {
                break;
            };
            let (receipt, attempt) = self.take_lease(q, s, seq, lease);
            let msg = &self.queues[q].subs[s].msgs[&seq];
            let payload = match &msg.body {
                Body::Payload(p) => p.clone(),
                Body::Storage(e) => Payload::Json(serde_json::to_value(e).unwrap_or_default()),
            };
            let received = Received {
                id: msg.id.clone(),
                payload,
                receipt: format!("{seq}:{receipt}"),
                attempt,
                enqueued_at: msg.enqueued_at,
            };
            self.record(
                Kind::Delivered,
                queue,
                Some(&received.id),
                vec![("to", "binding".into()), ("attempt", attempt.to_string())],
            );
            out.push(received);
        }
        Ok(out)
    }

    /// `ack(receipt)`: deletes the message. A missing message or an unparseable handle is
    /// an idempotent success; a handle superseded by a newer delivery is a stale receipt.
    pub fn ack(&mut self, queue: &str, receipt: &str) -> Result<(), SimError> {
        let q = self.queue_idx(queue)?;
        let s = self.binding_sub(q);
        let Some((seq, receipt)) = Self::parse_receipt(receipt) else {
            return Ok(());
        };
        let Some(msg) = self.queues[q].subs[s].msgs.get(&seq) else {
            return Ok(());
        };
        if msg.last_receipt != Some(receipt) {
            return Err(alien_providers::ProviderError::stale_receipt(seq).into());
        }
        // An ack after the lease ran out still succeeds if nobody re-claimed the message.
        let msg = self.remove_message(q, s, seq).expect("present");
        self.record(
            Kind::Acked,
            queue,
            Some(&msg.id),
            vec![
                ("by", "binding".into()),
                ("deliveries", msg.receive_count.to_string()),
            ],
        );
        Ok(())
    }

    /// `nack(receipt)`: visible again now, keeping the attempt count.
    pub fn nack(&mut self, queue: &str, receipt: &str) -> Result<(), SimError> {
        let q = self.queue_idx(queue)?;
        let s = self.binding_sub(q);
        let Some((seq, receipt)) = Self::parse_receipt(receipt) else {
            return Ok(());
        };
        let Some(msg) = self.queues[q].subs[s].msgs.get(&seq) else {
            return Ok(());
        };
        match &msg.lease {
            Some(lease) if lease.receipt == receipt => {
                // A nack is a failed delivery: at the maximum it dead-letters (SQS moves the
                // message on the receive past maxReceiveCount, Service Bus on the abandon that
                // reaches MaxDeliveryCount, Pub/Sub after maxDeliveryAttempts).
                if !self.exhausted(q, s, seq) {
                    self.release(q, s, seq, "nack");
                }
                Ok(())
            }
            Some(_) => Err(alien_providers::ProviderError::stale_receipt(seq).into()),
            None => Ok(()),
        }
    }

    /// `renew(receipt, d)` / ChangeMessageVisibility: the lease now ends `d` from now (1..=600 s);
    /// only a live lease with this receipt can be renewed.
    pub fn renew(&mut self, queue: &str, receipt: &str, d: Duration) -> Result<(), SimError> {
        alien_providers::validate::validate_renew_duration(d)?;
        let q = self.queue_idx(queue)?;
        let s = self.binding_sub(q);
        let parsed = Self::parse_receipt(receipt);
        let holds = parsed.and_then(|(seq, r)| {
            let lease = self.queues[q].subs[s].msgs.get(&seq)?.lease.as_ref()?;
            (lease.receipt == r).then_some((seq, r, lease.timer))
        });
        let Some((seq, r, old)) = holds else {
            return Err(alien_providers::ProviderError::stale_receipt(
                parsed.map_or(0, |(seq, _)| seq),
            )
            .into());
        };
        self.clock.cancel(old);
        let timer = self.schedule_in(
            d,
            Timer::LeaseExpiry {
                queue: q,
                sub: s,
                msg: seq,
                receipt: r,
            },
        );
        if let Some(lease) = self.queues[q].subs[s]
            .msgs
            .get_mut(&seq)
            .and_then(|m| m.lease.as_mut())
        {
            lease.timer = timer;
        }
        self.mark_message(q, s, seq);
        Ok(())
    }

    /// `purge`: deletes every message, leased or not.
    pub fn purge(&mut self, queue: &str) -> Result<(), SimError> {
        let q = self.queue_idx(queue)?;
        let mut purged = 0;
        for s in 0..self.queues[q].subs.len() {
            let seqs: Vec<u64> = self.queues[q].subs[s].msgs.keys().copied().collect();
            for seq in seqs {
                self.remove_message(q, s, seq);
                purged += 1;
            }
        }
        self.record(
            Kind::Expired,
            queue,
            None,
            vec![("reason", "purge".into()), ("messages", purged.to_string())],
        );
        Ok(())
    }

    /// Lease or visibility a delivery of `queue` takes.
    pub fn visibility_timeout(&self, queue: &str) -> Result<Duration, SimError> {
        let q = self.queue_idx(queue)?;
        Ok(self.queues[q].subs[self.binding_sub(q)].lease)
    }
}

/// A message seen without consuming it (the control API's peek).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Peeked {
    pub id: String,
    pub subscription: String,
    pub payload: Option<Payload>,
    pub receive_count: u32,
    pub enqueued_at: chrono::DateTime<chrono::Utc>,
    pub leased: bool,
}

impl Sim {
    /// Every message held by `queue`, per subscription, without leasing anything.
    pub fn peek(&self, queue: &str) -> Result<Vec<Peeked>, SimError> {
        let q = self.queue_idx(queue)?;
        Ok(self.queues[q]
            .subs
            .iter()
            .flat_map(|sub| {
                sub.msgs.values().map(move |m| Peeked {
                    id: m.id.clone(),
                    subscription: sub.name.clone(),
                    payload: match &m.body {
                        Body::Payload(p) => Some(p.clone()),
                        Body::Storage(_) => None,
                    },
                    receive_count: m.receive_count,
                    enqueued_at: m.enqueued_at,
                    leased: m.lease.is_some(),
                })
            })
            .collect())
    }

    /// Queue ids of the stack.
    pub fn queue_names(&self) -> Vec<String> {
        self.queues
            .iter()
            .filter(|q| !q.internal)
            .map(|q| q.id.clone())
            .collect()
    }
}
