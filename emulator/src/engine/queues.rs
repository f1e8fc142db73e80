//! Queue state machine: subscriptions, leases, receive counts, redelivery and retention, all
//! shaped by the profile's queue model (upstream-cloud-semantics.md §4); dead letters, push
//! backoff, settings and the binding's operations are in their own modules.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use alien_providers::Payload;
use alien_providers::validate::validate_message_size;

use super::causes::Release;
use super::events::{Event, QueueMessage};
use super::queue_settings::QueueSettings;
use super::sim::{
    Body, Lease, Msg, Origin, QueueRt, Sim, SimError, Sub, TRACED_PAYLOAD_CHARS, Timer, Work,
};
use super::trace::Kind;
use crate::profile::{
    AttemptCount, ConsumerModel, DeliveryModel, Redelivery, SourceName, TriggerWiring,
};
use crate::stack::Resource;

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
            throttled: BTreeMap::new(),
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
            let mut detail = vec![("bytes", size.to_string())];
            if let (true, Body::Payload(payload)) = (self.config.trace_payloads, &body) {
                detail.push(("payload", traced_payload(payload)));
            }
            self.record(Kind::Sent, &queue_id, Some(&id), detail);
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
                if free == 0 && self.at_platform_limit(w) {
                    self.throttle_receives(q, s, w);
                }
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
    pub(super) fn take_lease(
        &mut self,
        q: usize,
        s: usize,
        seq: u64,
        lease: Duration,
    ) -> (u64, u32) {
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
            length: Some(lease),
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
    pub(super) fn remove_message(&mut self, q: usize, s: usize, seq: u64) -> Option<Msg> {
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
            self.release(q, s, seq, Release::Abandoned);
        }
    }

    /// Makes a leased message visible again now, recording why in words.
    pub(crate) fn release(&mut self, q: usize, s: usize, seq: u64, why: Release) {
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
        let cause = self.release_cause(q, s, why, lease.length, count);
        let reason = why.reason(self.profile.queue.delivery.value);
        self.record(
            Kind::LeaseExpired,
            &queue_id,
            Some(&id),
            vec![
                ("reason", reason.to_string()),
                ("deliveries", count.to_string()),
                ("cause", cause),
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
        self.redeliver(q, s, seq, Release::LeaseRanOut);
    }

    /// A leased message comes back: dead-lettered at its maximum deliveries, else visible
    /// again now.
    pub(crate) fn redeliver(&mut self, q: usize, s: usize, seq: u64, why: Release) {
        if !self.exhausted(q, s, seq) {
            self.release(q, s, seq, why);
        }
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

    /// Counts for `queue` over all its subscriptions.
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

/// The payload's body for a `sent` event: whole up to [`TRACED_PAYLOAD_CHARS`] characters,
/// else cut there and marked with its real size.
fn traced_payload(payload: &Payload) -> String {
    let body = payload.to_body();
    match body.char_indices().nth(TRACED_PAYLOAD_CHARS) {
        None => body,
        Some((cut, _)) => format!("{}… ({} bytes in all)", &body[..cut], body.len()),
    }
}
