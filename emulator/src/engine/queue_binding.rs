//! The queue binding's side: what app code does through its queue binding (receive, ack, nack,
//! renew, purge), and the control API's peek.

use std::time::Duration;

use super::causes::Release;
use super::duration_serde::format_duration;

use alien_providers::Payload;

use super::sim::{Body, Sim, SimError, Timer};
use super::trace::Kind;

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
                vec![
                    ("to", "binding".into()),
                    ("attempt", attempt.to_string()),
                    ("lease", format_duration(lease)),
                ],
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
                self.redeliver(q, s, seq, Release::Nacked);
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
            lease.length = Some(d);
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
