//! Dead letters: a message that reached its maximum deliveries either moves to the queue its
//! redrive policy names or stays with its queue as a dead letter (SQS redrive policy, Pub/Sub
//! dead-letter topics, Service Bus MaxDeliveryCount; upstream-cloud-semantics.md §4.1).

use super::sim::{Body, DeadLetter, Msg, Sim, SimError};
use super::trace::Kind;

impl Sim {
    /// Messages on the dead-letter queue of `queue`.
    pub fn dead_letters(&self, queue: &str) -> Result<&[DeadLetter], SimError> {
        Ok(&self.queues[self.queue_idx(queue)?].dead_letters)
    }

    /// Dead-letters a message that reached the profile's maximum deliveries.
    pub(super) fn exhausted(&mut self, q: usize, s: usize, seq: u64) -> bool {
        let Some(max) = self.max_deliveries(q) else {
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
            vec![
                ("deliveries", msg.receive_count.to_string()),
                ("cause", self.dead_letter_cause(q, msg.receive_count)),
            ],
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
}
