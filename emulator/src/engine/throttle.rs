//! A queue trigger at the worker's concurrency limit, as the profile says the platform does it
//! (`queue.trigger_at_limit`). Lambda's event source mapping keeps receiving while every
//! instance the reserved concurrency allows is busy: the invocation is throttled and the
//! message stays in flight until its visibility timeout, then comes back with one more receive
//! (upstream-cloud-semantics.md §4.2; AWS re:Post "lambda-sqs-scaling"; Lambda docs
//! "services-sqs-scaling": five batches at a time).

use super::duration_serde::format_duration;
use super::sim::Sim;
use super::trace::Kind;
use crate::profile::TriggerAtLimit;

impl Sim {
    /// Worker `w` is at its platform limit: a trigger that keeps receiving takes up to its
    /// pollers' worth of messages from subscription `s` of queue `q` and throttles them.
    pub(super) fn throttle_receives(&mut self, q: usize, s: usize, w: usize) {
        let TriggerAtLimit::ThrottlesUntilVisible { pollers } =
            self.profile.queue.trigger_at_limit.value
        else {
            return;
        };
        self.forget_returned_throttles(q, s);
        while (self.queues[q].subs[s].throttled.len() as u32) < pollers {
            let Some(seq) = self.queues[q].subs[s].ready.pop_first() else {
                return;
            };
            let lease = self.queues[q].subs[s].lease;
            let (receipt, attempt) = self.take_lease(q, s, seq, lease);
            self.queues[q].subs[s].throttled.insert(seq, receipt);
            let cause = format!(
                "concurrency limit {} reached: received but not invoked; visible again after {}",
                self.workers[w].max_instances,
                format_duration(lease)
            );
            let detail = vec![
                ("to", self.workers[w].id.clone()),
                ("attempt", attempt.to_string()),
                ("cause", cause),
            ];
            let queue_id = self.queues[q].id.clone();
            self.record(
                Kind::Throttled,
                &queue_id,
                Some(&format!("m-{seq}")),
                detail,
            );
        }
    }

    /// Throttled messages whose lease ran out (or that are gone) no longer hold a poller.
    fn forget_returned_throttles(&mut self, q: usize, s: usize) {
        let sub = &mut self.queues[q].subs[s];
        let msgs = &sub.msgs;
        sub.throttled.retain(|seq, receipt| {
            msgs.get(seq)
                .and_then(|m| m.lease.as_ref())
                .is_some_and(|lease| lease.receipt == *receipt)
        });
    }
}
